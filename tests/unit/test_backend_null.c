/* Null backend: the size comes from the parameters, every bio completes at once with success,
 * reads return zeroes (in the caller's buffers, or, when it allows it, by pointing its iovecs at
 * shared zeroes without writing its buffers), and the common checks still apply. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/backend/backend.h"

static struct hnvmf_backend *open_null(uint64_t size, uint32_t bs)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_NULL, .size = size, .block_size = bs };
	struct hnvmf_backend *be = NULL;
	char err[128];

	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), 0);
	return be;
}

static void test_size_from_params(void **state)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_NULL };
	struct hnvmf_backend *be = open_null(1ull << 40, 4096);
	char err[128];

	(void)state;
	assert_int_equal(hnvmf_backend_size(be), 1ull << 40); /* 1 TiB costs nothing */
	assert_int_equal(hnvmf_backend_block_size(be), 4096);
	hnvmf_backend_close(be);
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "null backend needs a size"));
}

static void test_everything_completes_reads_zeroed(void **state)
{
	struct hnvmf_backend *be = open_null(1 << 30, 512);
	struct hnvmf_bqp *qp;
	char buf[4096], rbuf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct iovec riov[2] = { { rbuf, 1024 }, { rbuf + 1024, 3072 } };
	struct hnvmf_bio bios[5] = {
		{ .op = HNVMF_BIO_WRITE, .offset = 0, .len = 4096, .iov = &iov, .iovcnt = 1 },
		{ .op = HNVMF_BIO_READ, .offset = 0, .len = 4096, .iov = riov, .iovcnt = 2 },
		{ .op = HNVMF_BIO_FLUSH },
		{ .op = HNVMF_BIO_WRITE_ZEROES, .offset = 4096, .len = 1 << 20 },
		{ .op = HNVMF_BIO_DISCARD, .offset = 0, .len = 1 << 30 },
	};
	struct hnvmf_bio *done[8];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 8, &qp), 0);
	memset(buf, 0xab, sizeof(buf));
	memset(rbuf, 0xcd, sizeof(rbuf)); /* what an earlier user of a reused buffer left there */
	for (int i = 0; i < 5; i++) {
		bios[i].result = -1;
		assert_int_equal(hnvmf_bqp_submit(qp, &bios[i]), 0);
	}
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 8), 5);
	for (int i = 0; i < 5; i++) {
		assert_ptr_equal(done[i], &bios[i]);
		assert_int_equal(bios[i].result, 0);
	}
	for (size_t i = 0; i < sizeof(buf); i++) {
		assert_int_equal((unsigned char)buf[i], 0xab); /* the write moved no data */
		assert_int_equal((unsigned char)rbuf[i], 0);   /* the read returned zeroes, every iovec */
	}
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

/* HNVMF_BIO_IOV_REPLACEABLE: the iovecs now point at zeroes, the caller's buffer is untouched (no
 * memset of the transfer); an iovec longer than the shared area is still zeroed in place. */
static void test_replaceable_read_points_at_zeroes(void **state)
{
	struct hnvmf_backend *be = open_null(1ull << 30, 512);
	struct hnvmf_bqp *qp;
	static char big[(2u << 20) + 4096];
	char buf[8192];
	struct iovec iov[3] = { { buf, 4096 }, { buf + 4096, 4096 }, { big, sizeof(big) } };
	struct hnvmf_bio bio = { .op = HNVMF_BIO_READ, .flags = HNVMF_BIO_IOV_REPLACEABLE,
				 .offset = 0, .len = 8192 + sizeof(big), .iov = iov, .iovcnt = 3,
				 .result = -1 };
	struct hnvmf_bio *done[1];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 8, &qp), 0);
	memset(buf, 0xcd, sizeof(buf));
	memset(big, 0xcd, sizeof(big));
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 1), 1);
	assert_int_equal(bio.result, 0);
	for (int k = 0; k < 2; k++) {
		const unsigned char *p = iov[k].iov_base;
		assert_ptr_not_equal(p, buf + 4096 * k); /* pointed elsewhere ... */
		assert_int_equal(iov[k].iov_len, 4096);
		for (size_t i = 0; i < 4096; i++)
			assert_int_equal(p[i], 0); /* ... at zeroes */
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], 0xcd); /* not written */
	assert_ptr_equal(iov[2].iov_base, big); /* too long for the shared area: zeroed in place */
	for (size_t i = 0; i < sizeof(big); i++)
		assert_int_equal((unsigned char)big[i], 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

static void test_common_checks_apply(void **state)
{
	struct hnvmf_backend *be = open_null(1 << 20, 512);
	struct hnvmf_bqp *qp;
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct hnvmf_bio r = { .op = HNVMF_BIO_READ, .offset = 1 << 20, .len = 512, .iov = &iov,
			       .iovcnt = 1 };
	struct hnvmf_bio f[3] = { { .op = HNVMF_BIO_FLUSH }, { .op = HNVMF_BIO_FLUSH },
				  { .op = HNVMF_BIO_FLUSH } };
	struct hnvmf_bio *done[4];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 2, &qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &r), -EINVAL); /* beyond the end */
	assert_int_equal(hnvmf_bqp_submit(qp, &f[0]), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &f[1]), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &f[2]), -EAGAIN);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 4), 2);
	assert_int_equal(hnvmf_bqp_submit(qp, &f[2]), 0);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 4), 1);
	assert_ptr_equal(done[0], &f[2]);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_from_params),
		cmocka_unit_test(test_everything_completes_reads_zeroed),
		cmocka_unit_test(test_replaceable_read_points_at_zeroes),
		cmocka_unit_test(test_common_checks_apply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
