/* RAM backend: data round trips through scattered, unaligned iovecs; write-zeroes and discard
 * read back zeroes without disturbing neighbours; memory is only spent where written and is
 * given back by a large discard; two threads on two queue pairs share the namespace. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/backend/backend.h"

#define MIB (1024u * 1024u)

static struct hnvmf_backend *open_ram(uint64_t size)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_RAM, .size = size, .block_size = 512 };
	struct hnvmf_backend *be = NULL;
	char err[128];

	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), 0);
	return be;
}

/* Submits one bio and returns its result once it is handed back. */
static int run(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct hnvmf_bio *done[1];
	int rc = hnvmf_bqp_submit(qp, bio);

	if (rc < 0)
		return rc;
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_wait(qp, done, 1, 5000), 1);
	assert_ptr_equal(done[0], bio);
	return bio->result;
}

static int rw(struct hnvmf_bqp *qp, uint8_t op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct hnvmf_bio bio = { .op = op, .offset = off, .len = len, .iov = &iov, .iovcnt = 1 };

	return run(qp, &bio);
}

static int zero_op(struct hnvmf_bqp *qp, uint8_t op, uint64_t off, uint64_t len)
{
	struct hnvmf_bio bio = { .op = op, .offset = off, .len = len };

	return run(qp, &bio);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) | 1); /* never 0 */
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_scattered_unaligned_round_trip(void **state)
{
	struct hnvmf_backend *be = open_ram(4 * MIB);
	struct hnvmf_bqp *qp;
	uint8_t *src = malloc(8192 + 3), *dst = calloc(1, 8192 + 3);
	/* Segment sizes and addresses deliberately odd; the read splits differently. */
	struct iovec wio[3] = { { src + 1, 1000 }, { src + 1001, 7 }, { src + 1008, 3089 } };
	struct iovec rio[2] = { { dst + 3, 2048 }, { dst + 2051, 2048 } };
	struct hnvmf_bio w = { .op = HNVMF_BIO_WRITE, .offset = 12345, .len = 4096, .iov = wio,
			       .iovcnt = 3 };
	struct hnvmf_bio r = { .op = HNVMF_BIO_READ, .offset = 12345, .len = 4096, .iov = rio,
			       .iovcnt = 2 };

	(void)state;
	fill(src, 8192 + 3, 1);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(run(qp, &w), 0);
	assert_int_equal(run(qp, &r), 0);
	assert_memory_equal(dst + 3, src + 1, 4096);

	/* Bytes around the written range were never written: zeroes. */
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 12345 - 100, dst, 100), 0);
	assert_true(all_zero(dst, 100));
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 12345 + 4096, dst, 100), 0);
	assert_true(all_zero(dst, 100));

	struct hnvmf_bio f = { .op = HNVMF_BIO_FLUSH };
	assert_int_equal(run(qp, &f), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(src);
	free(dst);
}

/* Small ranges are cleared by hand, large page-aligned middles by madvise: both must read back
 * zeroes and leave the bytes on either side untouched. */
static void check_zeroing(uint8_t op, uint64_t off, uint64_t len)
{
	const size_t size = 8 * MIB;
	struct hnvmf_backend *be = open_ram(size);
	struct hnvmf_bqp *qp;
	uint8_t *pat = malloc(size), *back = malloc(size);

	fill(pat, size, 3);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, pat, size), 0);
	assert_int_equal(zero_op(qp, op, off, len), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, back, size), 0);
	assert_memory_equal(back, pat, off);
	assert_true(all_zero(back + off, len));
	assert_memory_equal(back + off + len, pat + off + len, size - off - len);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(pat);
	free(back);
}

static void test_write_zeroes_small(void **state)
{
	(void)state;
	check_zeroing(HNVMF_BIO_WRITE_ZEROES, 513, 3000);
}

static void test_discard_large_unaligned_edges(void **state)
{
	(void)state;
	check_zeroing(HNVMF_BIO_DISCARD, 4096 + 7, 3 * MIB + 100);
}

static void test_write_zeroes_large_aligned(void **state)
{
	(void)state;
	check_zeroing(HNVMF_BIO_WRITE_ZEROES, MIB, 4 * MIB);
}

static long resident_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &resident), 2);
	fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A 1 GiB namespace costs what is written to it, and a large discard gives memory back. */
static void test_memory_is_lazy_and_discard_frees_it(void **state)
{
	const size_t written = 32 * MIB;
	long before, opened, filled, discarded;
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	uint8_t *buf = malloc(MIB), probe[4096];

	(void)state;
	memset(buf, 0xee, MIB);
	before = resident_kib();
	be = open_ram(1024ull * MIB);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	/* Reading untouched space maps nothing new either. */
	for (uint64_t off = 0; off < 1024ull * MIB; off += 64 * MIB)
		assert_int_equal(rw(qp, HNVMF_BIO_READ, off, probe, sizeof(probe)), 0);
	opened = resident_kib();
	assert_true(opened - before < 8 * 1024);

	for (uint64_t off = 0; off < written; off += MIB)
		assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 512ull * MIB + off, buf, MIB), 0);
	filled = resident_kib();
	assert_true(filled - opened >= (long)(written / 1024) * 3 / 4);

	assert_int_equal(zero_op(qp, HNVMF_BIO_DISCARD, 512ull * MIB, written), 0);
	discarded = resident_kib();
	assert_true(filled - discarded >= (long)(written / 1024) * 3 / 4);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 512ull * MIB + 5 * MIB, probe, sizeof(probe)), 0);
	assert_true(all_zero(probe, sizeof(probe)));

	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(buf);
}

struct worker {
	struct hnvmf_backend *be;
	uint64_t base, span;
	unsigned seed;
	int failures;
};

/* Each thread owns a queue pair and a disjoint range: writes batches of scattered blocks,
 * then reads them all back and compares. */
static void *worker_main(void *arg)
{
	enum { BLK = 4096, BATCH = 8 };
	struct worker *w = arg;
	struct hnvmf_bqp *qp;
	uint8_t *src = malloc(BLK * BATCH), *dst = malloc(BLK * BATCH);
	struct iovec iov[BATCH];
	struct hnvmf_bio bios[BATCH], *done[BATCH];

	if (hnvmf_bqp_open(w->be, BATCH, &qp) < 0) {
		w->failures++;
		goto out;
	}
	for (unsigned round = 0; round < 50; round++) {
		for (uint8_t op = HNVMF_BIO_WRITE;; op = HNVMF_BIO_READ) {
			for (int i = 0; i < BATCH; i++) {
				uint8_t *p = (op == HNVMF_BIO_WRITE ? src : dst) + i * BLK;

				if (op == HNVMF_BIO_WRITE)
					fill(p, BLK, w->seed + round * BATCH + i);
				iov[i] = (struct iovec){ p, BLK };
				bios[i] = (struct hnvmf_bio){
					.op = op, .iov = &iov[i], .iovcnt = 1, .len = BLK,
					.offset = w->base + ((round * 7 + i * 13) % (w->span / BLK)) * BLK,
				};
				if (hnvmf_bqp_submit(qp, &bios[i]) < 0)
					w->failures++;
			}
			hnvmf_bqp_kick(qp);
			for (int got = 0; got < BATCH;) {
				int n = hnvmf_bqp_wait(qp, done, BATCH, 5000);

				if (n <= 0) {
					w->failures++;
					break;
				}
				for (int i = 0; i < n; i++)
					w->failures += done[i]->result != 0;
				got += n;
			}
			if (op == HNVMF_BIO_READ)
				break;
		}
		/* Offsets within one round are distinct, so each block holds this round's data. */
		if (memcmp(src, dst, BLK * BATCH))
			w->failures++;
	}
	hnvmf_bqp_close(qp);
out:
	free(src);
	free(dst);
	return NULL;
}

static void test_two_threads_disjoint_ranges(void **state)
{
	struct hnvmf_backend *be = open_ram(16 * MIB);
	struct worker w[2] = { { be, 0, 8 * MIB, 1, 0 }, { be, 8 * MIB, 8 * MIB, 1000, 0 } };
	pthread_t t[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(w[0].failures, 0);
	assert_int_equal(w[1].failures, 0);
	hnvmf_backend_close(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scattered_unaligned_round_trip),
		cmocka_unit_test(test_write_zeroes_small),
		cmocka_unit_test(test_discard_large_unaligned_edges),
		cmocka_unit_test(test_write_zeroes_large_aligned),
		cmocka_unit_test(test_memory_is_lazy_and_discard_frees_it),
		cmocka_unit_test(test_two_threads_disjoint_ranges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
