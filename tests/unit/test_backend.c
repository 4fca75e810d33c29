/* The backend layer's common behaviour (core/backend/backend.c), shown through the ram and null
 * backends: parameter checks, range and iovec checks, read-only refusal, queue-pair depth and
 * the completion list. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/backend/backend.h"

static struct hnvmf_backend *open_ram(uint64_t size, bool readonly)
{
	struct hnvmf_backend_params p = {
		.type = HNVMF_BACKEND_RAM, .size = size, .block_size = 512, .readonly = readonly,
	};
	struct hnvmf_backend *be = NULL;
	char err[128];

	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), 0);
	return be;
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(hnvmf_backend_type_name(HNVMF_BACKEND_RAM), "ram");
	assert_string_equal(hnvmf_backend_type_name(HNVMF_BACKEND_NULL), "null");
	assert_string_equal(hnvmf_backend_type_name(HNVMF_BACKEND_FILE), "file");
	assert_string_equal(hnvmf_backend_type_name((enum hnvmf_backend_type)42), "unknown");
}

static void test_open_refuses_bad_params(void **state)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_RAM, .size = 1 << 20 };
	struct hnvmf_backend *be = NULL;
	char err[128];

	(void)state;
	p.type = (enum hnvmf_backend_type)7;
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown backend type"));

	p.type = HNVMF_BACKEND_RAM;
	p.block_size = 1000;
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "1000"));
	p.block_size = 8192;
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);

	p.block_size = 4096;
	p.size = 0;
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "size"));

	p.size = 4095; /* not one whole block */
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "smaller than one 4096-byte block"));

	p.type = HNVMF_BACKEND_NULL;
	p.size = 0;
	assert_int_equal(hnvmf_backend_open(&p, &be, NULL, 0), -EINVAL); /* no errmsg: fine */
	assert_null(be);
}

static void test_size_and_block_size(void **state)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_RAM, .size = 10 * 4096 + 100,
					  .block_size = 4096 };
	struct hnvmf_backend *be;

	(void)state;
	assert_int_equal(hnvmf_backend_open(&p, &be, NULL, 0), 0);
	assert_int_equal(hnvmf_backend_size(be), 10 * 4096); /* partial tail block dropped */
	assert_int_equal(hnvmf_backend_block_size(be), 4096);
	assert_false(hnvmf_backend_readonly(be));
	hnvmf_backend_close(be);

	p.block_size = 0; /* default */
	p.readonly = true;
	assert_int_equal(hnvmf_backend_open(&p, &be, NULL, 0), 0);
	assert_int_equal(hnvmf_backend_block_size(be), 512);
	assert_int_equal(hnvmf_backend_size(be), 10 * 4096 + 0);
	assert_true(hnvmf_backend_readonly(be));
	hnvmf_backend_close(be);
}

static void test_range_and_iov_checks(void **state)
{
	struct hnvmf_backend *be = open_ram(1 << 20, false);
	struct hnvmf_bqp *qp;
	char a[512], b[512];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct hnvmf_bio bio = { .op = HNVMF_BIO_WRITE, .iov = iov, .iovcnt = 2, .len = 1024 };

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 0, &qp), -EINVAL);
	assert_int_equal(hnvmf_bqp_open(be, 8, &qp), 0);

	bio.offset = (1 << 20) - 1024; /* the last 1024 bytes: fine */
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
	bio.offset = (1 << 20) - 512; /* runs 512 bytes past the end */
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.offset = 1 << 20;
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.offset = UINT64_MAX - 100; /* offset + len wraps around */
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);

	bio.offset = 0;
	bio.len = 1000; /* iov total 1024 != len */
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.len = 2048; /* iov total 1024 != len */
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.len = 1024;
	bio.iovcnt = -1;
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.iovcnt = IOV_MAX + 1;
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);
	bio.iovcnt = 2;
	bio.op = 99;
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), -EINVAL);

	/* Write-zeroes and discard are range-checked too, without iovecs. */
	struct hnvmf_bio wz = { .op = HNVMF_BIO_WRITE_ZEROES, .offset = 4096, .len = 1 << 20 };
	assert_int_equal(hnvmf_bqp_submit(qp, &wz), -EINVAL);
	wz.op = HNVMF_BIO_DISCARD;
	assert_int_equal(hnvmf_bqp_submit(qp, &wz), -EINVAL);

	/* Only the first submit was accepted. */
	assert_int_equal(hnvmf_bqp_inflight(qp), 1);
	struct hnvmf_bio *done[4];
	assert_int_equal(hnvmf_bqp_poll(qp, done, 4), 1);
	assert_ptr_equal(done[0], &bio);
	assert_int_equal(hnvmf_bqp_inflight(qp), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

static void test_readonly_refuses_writes(void **state)
{
	struct hnvmf_backend *be = open_ram(1 << 20, true);
	struct hnvmf_bqp *qp;
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct hnvmf_bio w = { .op = HNVMF_BIO_WRITE, .iov = &iov, .iovcnt = 1, .len = 512 };
	struct hnvmf_bio z = { .op = HNVMF_BIO_WRITE_ZEROES, .len = 512 };
	struct hnvmf_bio d = { .op = HNVMF_BIO_DISCARD, .len = 512 };
	struct hnvmf_bio r = { .op = HNVMF_BIO_READ, .iov = &iov, .iovcnt = 1, .len = 512 };
	struct hnvmf_bio f = { .op = HNVMF_BIO_FLUSH };
	struct hnvmf_bio *done[4];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &w), -EROFS);
	assert_int_equal(hnvmf_bqp_submit(qp, &z), -EROFS);
	assert_int_equal(hnvmf_bqp_submit(qp, &d), -EROFS);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(hnvmf_bqp_submit(qp, &r), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &f), 0);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 4), 2);
	assert_int_equal(r.result, 0);
	assert_int_equal(f.result, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0); /* never written: zeroes */
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

static void test_eagain_when_full_then_progress(void **state)
{
	struct hnvmf_backend *be = open_ram(1 << 20, false);
	struct hnvmf_bqp *qp;
	struct hnvmf_bio bios[4], *done[8];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 3, &qp), 0);
	for (int i = 0; i < 4; i++)
		bios[i] = (struct hnvmf_bio){ .op = HNVMF_BIO_FLUSH, .result = 1 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(hnvmf_bqp_submit(qp, &bios[i]), 0);
	assert_int_equal(hnvmf_bqp_inflight(qp), 3);
	/* Completed but not reaped still counts: the caller still owns nothing back. */
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[3]), -EAGAIN);
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[3]), -EAGAIN);

	/* Poll respects max and hands bios back in completion order. */
	assert_int_equal(hnvmf_bqp_poll(qp, done, 1), 1);
	assert_ptr_equal(done[0], &bios[0]);
	assert_int_equal(bios[0].result, 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[3]), 0);
	assert_int_equal(hnvmf_bqp_wait(qp, done, 8, 1000), 3);
	assert_ptr_equal(done[0], &bios[1]);
	assert_ptr_equal(done[1], &bios[2]);
	assert_ptr_equal(done[2], &bios[3]);
	assert_int_equal(hnvmf_bqp_inflight(qp), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

/* With nothing in flight nothing can complete: wait must not sleep, even "forever". */
static void test_wait_with_nothing_in_flight_returns(void **state)
{
	struct hnvmf_backend *be = open_ram(1 << 20, false);
	struct hnvmf_bqp *qp;
	struct hnvmf_bio *done[2];
	struct timespec t0, t1;

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 2, &qp), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(hnvmf_bqp_wait(qp, done, 2, -1), 0);
	assert_int_equal(hnvmf_bqp_wait(qp, done, 2, 500), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 400);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

static void test_zero_length_and_unreaped_close(void **state)
{
	struct hnvmf_backend *be = open_ram(1 << 20, false);
	struct hnvmf_bqp *qp;
	struct hnvmf_bio d = { .op = HNVMF_BIO_DISCARD, .offset = 1 << 20, .len = 0, .result = 7 };
	struct hnvmf_bio r = { .op = HNVMF_BIO_READ, .offset = 0, .len = 0, .result = 7 };
	struct hnvmf_bio *done[2];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 2, &qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &d), 0); /* empty range at the very end: allowed */
	assert_int_equal(hnvmf_bqp_poll(qp, done, 2), 1);
	assert_int_equal(d.result, 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &r), 0);
	/* Closing with a completed, unreaped bio: it is dropped, nothing leaks (ASan checks). */
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_open_refuses_bad_params),
		cmocka_unit_test(test_size_and_block_size),
		cmocka_unit_test(test_range_and_iov_checks),
		cmocka_unit_test(test_readonly_refuses_writes),
		cmocka_unit_test(test_eagain_when_full_then_progress),
		cmocka_unit_test(test_wait_with_nothing_in_flight_returns),
		cmocka_unit_test(test_zero_length_and_unreaped_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
