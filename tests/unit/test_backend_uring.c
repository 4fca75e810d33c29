/* File / block device backend through io_uring, on real files under /tmp (ext4 here: O_DIRECT
 * works) and /dev/shm (tmpfs: no ZERO_RANGE), and on a loop device when the test runs as root.
 * What the backend wrote is checked with pread on the file itself, not only read back through
 * the backend. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/backend/backend-file.h"
#include "core/backend/backend.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static char tmp_dir[64], shm_dir[64];

static int group_setup(void **state)
{
	(void)state;
	strcpy(tmp_dir, "/tmp/hnvmf-backend-XXXXXX");
	strcpy(shm_dir, "/dev/shm/hnvmf-backend-XXXXXX");
	if (!mkdtemp(tmp_dir))
		return -1;
	if (!mkdtemp(shm_dir))
		shm_dir[0] = 0; /* no /dev/shm: those cases are skipped */
	return 0;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int group_teardown(void **state)
{
	(void)state;
	remove_dir(tmp_dir);
	if (shm_dir[0])
		remove_dir(shm_dir);
	return 0;
}

/* A sparse file of the given size; returns its path in a static buffer per slot. */
static const char *make_file(const char *dir, const char *name, uint64_t size)
{
	static char paths[4][256];
	static int next;
	char *path = paths[next++ % 4];
	int fd;

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
	return path;
}

static int open_file(const char *path, uint64_t size, bool direct, bool readonly,
		     struct hnvmf_backend **be, char *err, size_t errlen)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_FILE, .path = path, .size = size,
					  .block_size = 512, .readonly = readonly,
					  .direct = direct };

	return hnvmf_backend_open(&p, be, err, errlen);
}

static struct hnvmf_backend *must_open(const char *path, uint64_t size, bool direct)
{
	struct hnvmf_backend *be = NULL;
	char err[256] = "";
	int rc = open_file(path, size, direct, false, &be, err, sizeof(err));

	if (rc)
		print_error("open %s: %s\n", path, err);
	assert_int_equal(rc, 0);
	return be;
}

static int run(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct hnvmf_bio *done[1];
	int rc = hnvmf_bqp_submit(qp, bio);

	if (rc < 0)
		return rc;
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_wait(qp, done, 1, 10000), 1);
	assert_ptr_equal(done[0], bio);
	return bio->result;
}

static int rw(struct hnvmf_bqp *qp, uint8_t op, uint8_t flags, uint64_t off, void *buf,
	      size_t len)
{
	struct iovec iov = { buf, len };
	struct hnvmf_bio bio = { .op = op, .flags = flags, .offset = off, .len = len, .iov = &iov,
				 .iovcnt = 1 };

	return run(qp, &bio);
}

static int zero_op(struct hnvmf_bqp *qp, uint8_t op, uint8_t flags, uint64_t off, uint64_t len)
{
	struct hnvmf_bio bio = { .op = op, .flags = flags, .offset = off, .len = len };

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

static void *aligned(size_t len)
{
	void *p = NULL;

	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

/* What the file holds, read with plain pread. */
static void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void round_trip(const char *dir, bool direct)
{
	const char *path = make_file(dir, "rt.img", 4 * MIB);
	struct hnvmf_backend *be = must_open(path, 0, direct);
	struct hnvmf_bqp *qp;
	uint8_t *src = aligned(32 * KIB), *dst = aligned(32 * KIB), *chk = malloc(32 * KIB);

	fill(src, 32 * KIB, direct);
	assert_int_equal(hnvmf_backend_size(be), 4 * MIB); /* size 0: the file's size */
	assert_int_equal(hnvmf_bqp_open(be, 8, &qp), 0);

	/* Aligned buffers and range: the O_DIRECT descriptor when there is one. */
	struct iovec wio[3] = { { src, 4 * KIB }, { src + 4 * KIB, 8 * KIB }, { src + 12 * KIB, 4 * KIB } };
	struct iovec rio[2] = { { dst, 8 * KIB }, { dst + 8 * KIB, 8 * KIB } };
	struct hnvmf_bio w = { .op = HNVMF_BIO_WRITE, .offset = 64 * KIB, .len = 16 * KIB,
			       .iov = wio, .iovcnt = 3 };
	struct hnvmf_bio r = { .op = HNVMF_BIO_READ, .offset = 64 * KIB, .len = 16 * KIB,
			       .iov = rio, .iovcnt = 2 };
	assert_int_equal(run(qp, &w), 0);
	assert_int_equal(run(qp, &r), 0);
	assert_memory_equal(dst, src, 16 * KIB);
	file_read(path, 64 * KIB, chk, 16 * KIB);
	assert_memory_equal(chk, src, 16 * KIB);

	/* Odd addresses, odd segment lengths, an offset that is no block multiple: O_DIRECT
	 * cannot take it, the bio must work all the same. */
	struct iovec uw[3] = { { src + 1, 1000 }, { src + 1001, 7 }, { src + 1008, 3089 } };
	struct iovec ur[2] = { { dst + 3, 2048 }, { dst + 2051, 2048 } };
	struct hnvmf_bio w2 = { .op = HNVMF_BIO_WRITE, .offset = 777, .len = 4096, .iov = uw,
				.iovcnt = 3 };
	struct hnvmf_bio r2 = { .op = HNVMF_BIO_READ, .offset = 777, .len = 4096, .iov = ur,
				.iovcnt = 2 };
	assert_int_equal(run(qp, &w2), 0);
	assert_int_equal(run(qp, &r2), 0);
	assert_memory_equal(dst + 3, src + 1, 4096);
	file_read(path, 777, chk, 4096);
	assert_memory_equal(chk, src + 1, 4096);

	/* Aligned addresses, unaligned length split: 512-byte pieces of a 4 KiB block. */
	struct iovec sw[2] = { { src + 4096, 512 }, { src + 8192, 3584 } };
	struct hnvmf_bio w3 = { .op = HNVMF_BIO_WRITE, .offset = 8192, .len = 4096, .iov = sw,
				.iovcnt = 2 };
	assert_int_equal(run(qp, &w3), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 8192, dst, 4096), 0);
	assert_memory_equal(dst, src + 4096, 512);
	assert_memory_equal(dst + 512, src + 8192, 3584);

	/* Mixed descriptors stay coherent: a buffered write then an aligned (direct) read. */
	file_read(path, 8192, chk, 4096);
	assert_memory_equal(chk, dst, 4096);

	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(src);
	free(dst);
	free(chk);
}

static void test_round_trip_tmp_direct(void **state)
{
	struct hnvmf_backend *be;

	(void)state;
	round_trip(tmp_dir, true);
	/* ext4 takes O_DIRECT: the direct descriptor is really in use. */
	be = must_open(make_file(tmp_dir, "d.img", MIB), 0, true);
	assert_true(hnvmf_file_backend_is_direct(be));
	hnvmf_backend_close(be);
	be = must_open(make_file(tmp_dir, "d.img", MIB), 0, false);
	assert_false(hnvmf_file_backend_is_direct(be));
	hnvmf_backend_close(be);
}

/* When the alignment O_DIRECT needs was misjudged, the kernel's refusal is not the caller's
 * problem: the bio is retried buffered. */
static void test_direct_refusal_retried_buffered(void **state)
{
	const char *path = make_file(tmp_dir, "retry.img", MIB);
	struct hnvmf_backend *be = must_open(path, 0, true);
	struct hnvmf_bqp *qp;
	uint8_t *src = aligned(8192), *dst = aligned(8192), chk[4096];

	(void)state;
	assert_true(hnvmf_file_backend_is_direct(be));
	hnvmf_file_backend_trust_any_alignment(be);
	fill(src, 8192, 77);
	assert_int_equal(hnvmf_bqp_open(be, 2, &qp), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, 333, src + 5, 3000), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 333, dst + 7, 3000), 0);
	assert_memory_equal(dst + 7, src + 5, 3000);
	file_read(path, 333, chk, 3000);
	assert_memory_equal(chk, src + 5, 3000);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(src);
	free(dst);
}

static void test_round_trip_tmp_buffered(void **state)
{
	(void)state;
	round_trip(tmp_dir, false);
}

static void test_round_trip_shm(void **state)
{
	(void)state;
	if (!shm_dir[0])
		skip();
	round_trip(shm_dir, true);
	round_trip(shm_dir, false);
}

/* Fills a file through the backend, clears [off, off+len) and checks the file. */
static void check_zeroing(const char *dir, bool direct, bool no_fallocate, uint8_t op,
			  uint8_t flags, uint64_t size, uint64_t off, uint64_t len)
{
	const char *path = make_file(dir, "z.img", size);
	struct hnvmf_backend *be = must_open(path, 0, direct);
	struct hnvmf_bqp *qp;
	const size_t chunk = 4 * MIB;
	uint8_t *pat = aligned(chunk), *back = malloc(chunk);

	if (no_fallocate)
		hnvmf_file_backend_forget_fallocate(be);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	fill(pat, chunk, 5);
	for (uint64_t o = 0; o < size; o += chunk)
		assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, o, pat, chunk), 0);
	assert_int_equal(zero_op(qp, op, flags, off, len), 0);

	for (uint64_t o = 0; o < size; o += chunk) {
		file_read(path, o, back, chunk);
		for (uint64_t i = 0; i < chunk; i++) {
			bool cleared = o + i >= off && o + i < off + len;

			if (cleared ? back[i] != 0 : back[i] != pat[i])
				fail_msg("byte %llu: %u (range %llu+%llu)", (unsigned long long)(o + i),
					 back[i], (unsigned long long)off, (unsigned long long)len);
		}
	}
	/* And through the backend. */
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, off, back, len < chunk ? len : chunk), 0);
	assert_true(all_zero(back, len < chunk ? len : chunk));
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(pat);
	free(back);
}

static void test_write_zeroes_and_discard_fallocate(void **state)
{
	(void)state;
	check_zeroing(tmp_dir, true, false, HNVMF_BIO_WRITE_ZEROES, 0, 8 * MIB, 4096, 3 * MIB);
	check_zeroing(tmp_dir, true, false, HNVMF_BIO_DISCARD, 0, 8 * MIB, MIB, 5 * MIB);
	/* Unaligned range: file systems zero the partial blocks themselves. */
	check_zeroing(tmp_dir, false, false, HNVMF_BIO_DISCARD, 0, 8 * MIB, 1000, 70000);
	check_zeroing(tmp_dir, true, false, HNVMF_BIO_WRITE_ZEROES, HNVMF_BIO_FUA, 8 * MIB, 512,
		      512 * 9);
	if (shm_dir[0]) { /* tmpfs refuses ZERO_RANGE: write-zeroes falls back */
		check_zeroing(shm_dir, false, false, HNVMF_BIO_WRITE_ZEROES, 0, 8 * MIB, 4096, MIB);
		check_zeroing(shm_dir, false, false, HNVMF_BIO_DISCARD, 0, 8 * MIB, 100, MIB);
	}
}

/* Without fallocate the range is written with zeroes, 64 MiB per step: 70 MiB takes two. */
static void test_write_zeroes_and_discard_by_writing(void **state)
{
	(void)state;
	check_zeroing(tmp_dir, true, true, HNVMF_BIO_WRITE_ZEROES, 0, 8 * MIB, 4096 + 3, 100000);
	check_zeroing(tmp_dir, true, true, HNVMF_BIO_DISCARD, HNVMF_BIO_FUA, 8 * MIB, 0, 8 * MIB);
	check_zeroing(tmp_dir, false, true, HNVMF_BIO_WRITE_ZEROES, 0, 76 * MIB, 512,
		      70 * MIB + 4096 + 512);
}

static void test_flush_and_fua(void **state)
{
	const char *path = make_file(tmp_dir, "f.img", MIB);
	struct hnvmf_backend *be = must_open(path, 0, true);
	struct hnvmf_bqp *qp;
	uint8_t *buf = aligned(8192), chk[8192];

	(void)state;
	fill(buf, 8192, 9);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, HNVMF_BIO_FUA, 4096, buf, 4096), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, HNVMF_BIO_FUA, 8193, buf + 4096, 100), 0);
	assert_int_equal(zero_op(qp, HNVMF_BIO_FLUSH, 0, 0, 0), 0);
	file_read(path, 4096, chk, 4096);
	assert_memory_equal(chk, buf, 4096);
	file_read(path, 8193, chk, 100);
	assert_memory_equal(chk, buf + 4096, 100);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	free(buf);
}

static void test_refuses_beyond_end_and_readonly(void **state)
{
	const char *path = make_file(tmp_dir, "ro.img", MIB);
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	uint8_t buf[4096];
	char err[256];

	(void)state;
	be = must_open(path, 0, false);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, MIB - 4096, buf, 4096), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB - 2048, buf, 4096), -EINVAL);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, MIB, buf, 512), -EINVAL);
	assert_int_equal(zero_op(qp, HNVMF_BIO_DISCARD, 0, 4096, MIB), -EINVAL);
	assert_int_equal(hnvmf_bqp_inflight(qp), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);

	assert_int_equal(open_file(path, 0, true, true, &be, err, sizeof(err)), 0);
	assert_true(hnvmf_backend_readonly(be));
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, 0, buf, 4096), -EROFS);
	assert_int_equal(zero_op(qp, HNVMF_BIO_WRITE_ZEROES, 0, 0, 4096), -EROFS);
	assert_int_equal(zero_op(qp, HNVMF_BIO_DISCARD, 0, 0, 4096), -EROFS);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB - 4096, buf, 4096), 0);
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(buf[4095], 0x77);
	assert_int_equal(zero_op(qp, HNVMF_BIO_FLUSH, 0, 0, 0), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

static void test_open_errors_are_clear(void **state)
{
	struct hnvmf_backend *be = NULL;
	char err[256], missing[128];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/does-not-exist.img", tmp_dir);
	assert_int_equal(open_file(missing, 0, true, false, &be, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file"));

	assert_int_equal(open_file(tmp_dir, 0, false, false, &be, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, tmp_dir));
	assert_int_equal(open_file(tmp_dir, 0, false, true, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "neither a regular file nor a block device"));

	assert_int_equal(open_file(NULL, 0, false, false, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs a path"));

	/* A file smaller than the configured size is refused, not extended. */
	const char *small = make_file(tmp_dir, "small.img", MIB);
	assert_int_equal(open_file(small, 2 * MIB, false, false, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, small));
	assert_non_null(strstr(err, "smaller than the configured size"));
	struct stat st;
	assert_int_equal(stat(small, &st), 0);
	assert_int_equal(st.st_size, MIB);
	assert_null(be);

	/* A configured size below the file's: only that much is exposed. */
	assert_int_equal(open_file(small, 64 * KIB, false, false, &be, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_backend_size(be), 64 * KIB);
	hnvmf_backend_close(be);
	/* A file that is not whole blocks: the tail is not addressable. */
	const char *odd = make_file(tmp_dir, "odd.img", 64 * KIB + 100);
	assert_int_equal(open_file(odd, 0, false, false, &be, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_backend_size(be), 64 * KIB);
	hnvmf_backend_close(be);
	const char *tiny = make_file(tmp_dir, "tiny.img", 100);
	assert_int_equal(open_file(tiny, 0, false, false, &be, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, tiny));
}

struct worker {
	struct hnvmf_backend *be;
	uint64_t base, span;
	unsigned seed;
	int failures;
};

static void *worker_main(void *arg)
{
	enum { BLK = 4096, BATCH = 8 };
	struct worker *w = arg;
	struct hnvmf_bqp *qp;
	uint8_t *src = aligned(BLK * BATCH), *dst = aligned(BLK * BATCH);
	struct iovec iov[BATCH];
	struct hnvmf_bio bios[BATCH], *done[BATCH];

	if (hnvmf_bqp_open(w->be, BATCH, &qp) < 0) {
		w->failures++;
		goto out;
	}
	for (unsigned round = 0; round < 40; round++) {
		for (uint8_t op = HNVMF_BIO_WRITE;; op = HNVMF_BIO_READ) {
			for (int i = 0; i < BATCH; i++) {
				uint8_t *p = (op == HNVMF_BIO_WRITE ? src : dst) + i * BLK;

				if (op == HNVMF_BIO_WRITE)
					fill(p, BLK, w->seed + round * BATCH + i);
				/* Every third block misaligned: both descriptors in play. */
				iov[i] = (struct iovec){ p + (i % 3 == 2), BLK - (i % 3 == 2) * 512 };
				bios[i] = (struct hnvmf_bio){
					.op = op, .iov = &iov[i], .iovcnt = 1, .len = iov[i].iov_len,
					.offset = w->base + ((round * 7 + i * 13) % (w->span / BLK)) * BLK,
				};
				if (hnvmf_bqp_submit(qp, &bios[i]) < 0)
					w->failures++;
			}
			hnvmf_bqp_kick(qp);
			for (int got = 0; got < BATCH;) {
				int n = hnvmf_bqp_wait(qp, done, BATCH, 10000);

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
		for (int i = 0; i < BATCH; i++) {
			size_t skew = (size_t)(i % 3 == 2);

			if (memcmp(src + i * BLK + skew, dst + i * BLK + skew, bios[i].len))
				w->failures++;
		}
	}
	hnvmf_bqp_close(qp);
out:
	free(src);
	free(dst);
	return NULL;
}

static void test_two_threads_disjoint_ranges(void **state)
{
	struct hnvmf_backend *be = must_open(make_file(tmp_dir, "mt.img", 16 * MIB), 0, true);
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

static void test_eagain_when_full_then_progress(void **state)
{
	struct hnvmf_backend *be = must_open(make_file(tmp_dir, "q.img", MIB), 0, false);
	struct hnvmf_bqp *qp;
	uint8_t buf[5][512];
	struct iovec iov[5];
	struct hnvmf_bio bios[5], *done[8];
	int got = 0;

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	for (int i = 0; i < 5; i++) {
		iov[i] = (struct iovec){ buf[i], 512 };
		bios[i] = (struct hnvmf_bio){ .op = HNVMF_BIO_READ, .offset = i * 512u, .len = 512,
					      .iov = &iov[i], .iovcnt = 1 };
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(hnvmf_bqp_submit(qp, &bios[i]), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[4]), -EAGAIN);
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[4]), -EAGAIN); /* sent, not reaped */
	while (got < 1) {
		int n = hnvmf_bqp_wait(qp, done, 1, 10000);

		assert_true(n >= 0);
		got += n;
	}
	assert_int_equal(hnvmf_bqp_inflight(qp), 3);
	assert_int_equal(hnvmf_bqp_submit(qp, &bios[4]), 0);
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	while (got < 5) {
		int n = hnvmf_bqp_wait(qp, done, 8, 10000);

		assert_true(n > 0);
		for (int i = 0; i < n; i++)
			assert_int_equal(done[i]->result, 0);
		got += n;
	}
	assert_int_equal(hnvmf_bqp_inflight(qp), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

/* hnvmf_bqp_arm: a thread that sleeps in poll() on the queue pair's fd is woken by the completion
 * alone (nobody else writes it), and then finds it to reap: an I/O server or a reactor need not
 * poll while the device works. The fd is the same on every arm, and an arm with the completion
 * already there says so instead of handing out an fd to sleep on. */
static void test_arm_wakes_a_sleeper(void **state)
{
	struct hnvmf_backend *be = must_open(make_file(tmp_dir, "n.img", MIB), 0, false);
	struct hnvmf_bqp *qp;
	uint8_t buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct hnvmf_bio bio = { .op = HNVMF_BIO_READ, .offset = 4096, .len = 512, .iov = &iov, .iovcnt = 1 },
			 *done[2];
	int fd = -1, fd2 = -1, rc;

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
	/* Not kicked: arm sends it (sleeping on an SQE nobody sent would be forever). */
	rc = hnvmf_bqp_arm(qp, &fd);
	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 10000), 1);
	}
	/* Completed now: arm does not let the owner sleep on it. */
	assert_int_equal(hnvmf_bqp_arm(qp, &fd2), 1);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 2), 1);
	assert_ptr_equal(done[0], &bio);
	assert_int_equal(bio.result, 0);
	/* Again, armed before the kick this time the fd is the same and the wake-up the same. */
	bio.result = -1;
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
	rc = hnvmf_bqp_arm(qp, &fd2);
	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		struct pollfd pfd = { .fd = fd2, .events = POLLIN };
		if (fd >= 0)
			assert_int_equal(fd2, fd);
		assert_int_equal(poll(&pfd, 1, 10000), 1);
	}
	assert_int_equal(hnvmf_bqp_poll(qp, done, 2), 1);
	assert_int_equal(bio.result, 0);
	/* Nothing in flight, fd drained by the arm: it would not wake a sleeper. */
	if (hnvmf_bqp_arm(qp, &fd2) == 0) {
		struct pollfd pfd = { .fd = fd2, .events = POLLIN };
		assert_int_equal(poll(&pfd, 1, 0), 0);
	}
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

/* Synchronous backends complete inside submit: nothing to wait for, and they say so; a bio
 * completed and not yet reaped is reported as ready. */
static void test_arm_refused_by_sync_backends(void **state)
{
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_NULL, .size = MIB, .block_size = 512 };
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	struct hnvmf_bio bio = { .op = HNVMF_BIO_FLUSH }, *done[1];
	int fd;

	(void)state;
	assert_int_equal(hnvmf_backend_open(&p, &be, NULL, 0), 0);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	assert_int_equal(hnvmf_bqp_arm(qp, &fd), -EOPNOTSUPP);
	assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
	assert_int_equal(hnvmf_bqp_arm(qp, &fd), 1);
	assert_int_equal(hnvmf_bqp_poll(qp, done, 1), 1);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

/* Close waits for what the kernel holds: when it returns, the writes are in the file and the
 * buffers are the caller's again (scribbling over them changes nothing on disk). Prepared but
 * unkicked bios are sent too. Large FUA direct writes keep the device busy long enough that a
 * close which did not wait would be caught. */
static void test_close_waits_for_in_flight(void **state)
{
	enum { N = 16, LEN = 1 * MIB };
	const char *path = make_file(tmp_dir, "c.img", N * 2ull * LEN);
	struct hnvmf_backend *be = must_open(path, 0, true);
	struct hnvmf_bqp *qp;
	uint8_t *buf = aligned(N * LEN), *want = malloc(N * LEN), *chk = malloc(LEN);
	struct iovec iov[N];
	struct hnvmf_bio bios[N];

	(void)state;
	assert_int_equal(hnvmf_bqp_open(be, N, &qp), 0);
	for (int i = 0; i < N; i++) {
		fill(buf + i * LEN, LEN, 20 + i);
		/* Odd ones misaligned: buffered FUA writes, copied from the buffer by an io_uring
		 * worker some time after submit. */
		iov[i] = (struct iovec){ buf + i * LEN + (i & 1), LEN - (i & 1) * 512 };
		bios[i] = (struct hnvmf_bio){ .op = HNVMF_BIO_WRITE, .flags = HNVMF_BIO_FUA,
					      .offset = i * 2ull * LEN, .len = iov[i].iov_len,
					      .iov = &iov[i], .iovcnt = 1 };
		assert_int_equal(hnvmf_bqp_submit(qp, &bios[i]), 0);
		if (i == N - 3)
			assert_int_equal(hnvmf_bqp_kick(qp), 0);
	}
	memcpy(want, buf, N * LEN);
	hnvmf_bqp_close(qp);
	memset(buf, 0, N * LEN);
	for (int i = 0; i < N; i++) {
		file_read(path, i * 2ull * LEN, chk, iov[i].iov_len);
		assert_memory_equal(chk, want + i * LEN + (i & 1), iov[i].iov_len);
	}
	hnvmf_backend_close(be);
	free(buf);
	free(want);
	free(chk);
}

/* A write the file system can take only part of: the kernel writes what fits and returns the
 * short count; asked for the rest, it says why not. The host must hear ENOSPC (Capacity
 * Exceeded), not a media error. The file system is a 64 KiB tmpfs in a mount namespace of this
 * process only (root, or a kernel that lets us have one). */
static void test_short_write_on_full_fs_reports_enospc(void **state)
{
	char dir[128];
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	uint8_t *src = aligned(192 * KIB), *dst = aligned(64 * KIB);

	(void)state;
	snprintf(dir, sizeof(dir), "%s/small", tmp_dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k")) {
		free(src);
		free(dst);
		skip();
	}
	be = must_open(make_file(dir, "full.img", MIB), 0, false);
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	fill(src, 192 * KIB, 5);
	struct iovec wio[3] = { { src, 48 * KIB }, { src + 48 * KIB, 100 * KIB }, { src + 148 * KIB, 44 * KIB } };
	struct hnvmf_bio w = { .op = HNVMF_BIO_WRITE, .offset = 0, .len = 192 * KIB, .iov = wio, .iovcnt = 3 };
	assert_int_equal(run(qp, &w), -ENOSPC);
	/* What did fit is there, nothing else was disturbed. */
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 0, dst, 32 * KIB), 0);
	assert_memory_equal(dst, src, 32 * KIB);
	/* A whole write that cannot start at all fails with ENOSPC as well. */
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, 512 * KIB, src, 4 * KIB), -ENOSPC);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	umount2(dir, MNT_DETACH);
	free(src);
	free(dst);
}

/* A loop device over a file in tmp_dir, detached automatically on last close. Returns the
 * loop device's fd (kept open so it stays attached) or -1 when loop devices are unavailable. */
static int attach_loop(const char *backing, char *dev, size_t devlen)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int bfd = open(backing, O_RDWR | O_CLOEXEC), lfd = -1;

	for (int attempt = 0; ctl >= 0 && bfd >= 0 && attempt < 5 && lfd < 0; attempt++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		struct loop_config cfg = { .fd = (unsigned)bfd, .block_size = 512 };

		if (n < 0)
			break;
		snprintf(dev, devlen, "/dev/loop%d", n);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			break;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
			close(lfd); /* raced with another user of that device: try another */
			lfd = -1;
		}
	}
	if (ctl >= 0)
		close(ctl);
	if (bfd >= 0)
		close(bfd);
	return lfd;
}

static void test_block_device(void **state)
{
	const char *backing = make_file(tmp_dir, "loop.img", 8 * MIB);
	char dev[32], err[256];
	int lfd = attach_loop(backing, dev, sizeof(dev));
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	uint8_t *src = aligned(64 * KIB), *dst = aligned(64 * KIB);
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_FILE, .path = dev, .size = MIB,
					  .direct = true };

	(void)state;
	if (lfd < 0) {
		free(src);
		free(dst);
		skip(); /* not root, or no loop driver */
	}
	assert_int_equal(hnvmf_backend_open(&p, &be, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_backend_size(be), 8 * MIB); /* the device's own size wins */
	assert_int_equal(hnvmf_backend_block_size(be), 512); /* its logical block size */
	assert_true(hnvmf_file_backend_is_direct(be));
	assert_int_equal(hnvmf_bqp_open(be, 8, &qp), 0);

	fill(src, 64 * KIB, 42);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, MIB, src, 64 * KIB), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, HNVMF_BIO_FUA, 3 * MIB + 5, src + 1, 1000), 0);
	assert_int_equal(zero_op(qp, HNVMF_BIO_FLUSH, 0, 0, 0), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB, dst, 64 * KIB), 0);
	assert_memory_equal(dst, src, 64 * KIB);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 3 * MIB + 5, dst + 1, 1000), 0);
	assert_memory_equal(dst + 1, src + 1, 1000);

	assert_int_equal(zero_op(qp, HNVMF_BIO_WRITE_ZEROES, 0, MIB + 4096, 8192), 0);
	assert_int_equal(zero_op(qp, HNVMF_BIO_DISCARD, 0, MIB + 32 * KIB, 16 * KIB), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB, dst, 64 * KIB), 0);
	for (size_t i = 0; i < 64 * KIB; i++) {
		bool cleared = (i >= 4096 && i < 12288) || (i >= 32 * KIB && i < 48 * KIB);

		assert_int_equal(dst[i], cleared ? 0 : src[i]);
	}
	hnvmf_file_backend_forget_fallocate(be); /* the zero-writing path on a device */
	assert_int_equal(zero_op(qp, HNVMF_BIO_WRITE_ZEROES, 0, MIB, 4096), 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB, dst, 4096), 0);
	assert_true(all_zero(dst, 4096));
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 8 * MIB - 512, dst, 1024), -EINVAL);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
	close(lfd);
	free(src);
	free(dst);
}

/* [pqm] dam_poll on what cannot poll: no never asks for IOPOLL, auto quietly does without it, yes
 * is refused with the reason. A regular file never polls, whatever its file system. */
static void test_poll_modes_on_a_file(void **state)
{
	const char *path = make_file(tmp_dir, "poll.img", MIB);
	struct hnvmf_backend *be = must_open(path, MIB, true);
	struct hnvmf_bqp *qp = NULL;
	char why[160] = "";

	(void)state;
	assert_false(hnvmf_backend_can_poll(be, why, sizeof(why)));
	assert_non_null(strstr(why, "is not a block device"));
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_NO, &qp, NULL, 0), 0);
	assert_false(hnvmf_bqp_polled(qp));
	hnvmf_bqp_close(qp);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_AUTO, &qp, NULL, 0), 0);
	assert_false(hnvmf_bqp_polled(qp));
	hnvmf_bqp_close(qp);
	qp = NULL;
	why[0] = '\0';
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_YES, &qp, why, sizeof(why)), -EOPNOTSUPP);
	assert_null(qp);
	assert_non_null(strstr(why, "poll.img is not a block device"));
	hnvmf_backend_close(be);

	/* ram: no device at all */
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_RAM, .size = MIB, .block_size = 512 };
	assert_int_equal(hnvmf_backend_open(&p, &be, NULL, 0), 0);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_YES, &qp, why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "no device queue to poll"));
	hnvmf_backend_close(be);
}

/* A loop device: its queue does not poll (auto: not polled, yes: refused, naming io_poll). Taken
 * as one that does, the queue pair's first O_DIRECT write goes to the IOPOLL ring. A kernel that
 * refuses polled I/O to a queue that cannot poll (-EOPNOTSUPP: this machine's 6.18 does) makes
 * the queue pair stop polling, and the write goes again on the ordinary ring; a kernel that
 * completes it unpolled leaves it polling, and the ring finds it done when polled. Either way every byte reads back as written, what
 * IOPOLL cannot do (flush, misaligned buffered I/O, write-zeroes) takes the ordinary ring, and
 * close waits for what is in flight on both. The real polled path: interop case dam-iopoll. */
static void test_poll_on_block_device(void **state)
{
	const char *backing = make_file(tmp_dir, "pollloop.img", 8 * MIB);
	char dev[32], why[160] = "";
	int lfd = attach_loop(backing, dev, sizeof(dev));
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp = NULL;
	uint8_t *src = aligned(64 * KIB), *dst = aligned(64 * KIB);
	struct hnvmf_backend_params p = { .type = HNVMF_BACKEND_FILE, .path = dev, .direct = true };

	(void)state;
	if (lfd < 0) {
		free(src);
		free(dst);
		skip(); /* not root, or no loop driver */
	}
	assert_int_equal(hnvmf_backend_open(&p, &be, why, sizeof(why)), 0);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_AUTO, &qp, NULL, 0), 0);
	assert_false(hnvmf_bqp_polled(qp));
	hnvmf_bqp_close(qp);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_YES, &qp, why, sizeof(why)), -EOPNOTSUPP);
	assert_non_null(strstr(why, "queue/io_poll"));

	hnvmf_file_backend_assume_polling(be);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_NO, &qp, NULL, 0), 0);
	assert_false(hnvmf_bqp_polled(qp)); /* no means no */
	hnvmf_bqp_close(qp);
	assert_int_equal(hnvmf_bqp_open_poll(be, 8, HNVMF_POLL_YES, &qp, why, sizeof(why)), 0);
	assert_true(hnvmf_bqp_polled(qp));
	fill(src, 64 * KIB, 7);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, MIB, src, 64 * KIB), 0);
	bool polls = hnvmf_bqp_polled(qp);
	print_message("loop device with IOPOLL: %s\n", polls ? "completed by polling" : "refused, fell back");
	assert_int_equal(hnvmf_bqp_polled_done(qp), polls ? 1 : 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, HNVMF_BIO_FUA, 2 * MIB, src, 4096), 0);
	assert_int_equal(hnvmf_bqp_polled_done(qp), polls ? 2 : 0);
	assert_int_equal(rw(qp, HNVMF_BIO_WRITE, 0, 3 * MIB + 5, src + 1, 1000), 0); /* buffered */
	assert_int_equal(zero_op(qp, HNVMF_BIO_FLUSH, 0, 0, 0), 0);
	assert_int_equal(zero_op(qp, HNVMF_BIO_WRITE_ZEROES, 0, MIB + 4096, 4096), 0);
	assert_int_equal(hnvmf_bqp_polled_done(qp), polls ? 2 : 0);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, MIB, dst, 64 * KIB), 0);
	assert_int_equal(hnvmf_bqp_polled_done(qp), polls ? 3 : 0);
	for (size_t i = 0; i < 64 * KIB; i++)
		assert_int_equal(dst[i], i >= 4096 && i < 8192 ? 0 : src[i]);
	assert_int_equal(rw(qp, HNVMF_BIO_READ, 0, 3 * MIB + 5, dst + 1, 1000), 0);
	assert_memory_equal(dst + 1, src + 1, 1000);

	/* ios in flight on both rings at close: close polls until the device finished them */
	struct iovec iov[4];
	struct hnvmf_bio bios[4];
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ src + i * 4096, 4096 };
		bios[i] = (struct hnvmf_bio){ .op = HNVMF_BIO_WRITE, .offset = 4 * MIB + (uint64_t)i * 4096,
					      .len = 4096, .iov = &iov[i], .iovcnt = 1 };
		assert_int_equal(hnvmf_bqp_submit(qp, &bios[i]), 0);
	}
	struct hnvmf_bio flush = { .op = HNVMF_BIO_FLUSH };
	assert_int_equal(hnvmf_bqp_submit(qp, &flush), 0);
	assert_int_equal(hnvmf_bqp_kick(qp), 0);
	hnvmf_bqp_close(qp);
	file_read(backing, 4 * MIB, dst, 16 * KIB);
	assert_memory_equal(dst, src, 16 * KIB);
	hnvmf_backend_close(be);
	close(lfd);
	free(src);
	free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_tmp_direct),
		cmocka_unit_test(test_direct_refusal_retried_buffered),
		cmocka_unit_test(test_round_trip_tmp_buffered),
		cmocka_unit_test(test_round_trip_shm),
		cmocka_unit_test(test_write_zeroes_and_discard_fallocate),
		cmocka_unit_test(test_write_zeroes_and_discard_by_writing),
		cmocka_unit_test(test_flush_and_fua),
		cmocka_unit_test(test_refuses_beyond_end_and_readonly),
		cmocka_unit_test(test_open_errors_are_clear),
		cmocka_unit_test(test_two_threads_disjoint_ranges),
		cmocka_unit_test(test_eagain_when_full_then_progress),
		cmocka_unit_test(test_arm_wakes_a_sleeper),
		cmocka_unit_test(test_arm_refused_by_sync_backends),
		cmocka_unit_test(test_close_waits_for_in_flight),
		cmocka_unit_test(test_block_device),
		cmocka_unit_test(test_poll_modes_on_a_file),
		cmocka_unit_test(test_poll_on_block_device),
		cmocka_unit_test(test_short_write_on_full_fs_reports_enospc),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
