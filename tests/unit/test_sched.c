/* PQM per-tenant scheduling (core/sched.c) and QoS (core/qos.c), driven like a server would be
 * but with a fake clock and a fake capacity: the test decides how many ios the "server" takes per
 * tick. Asserts service order and counts, never time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/qos.h"
#include "core/sched.h"

#define T0 1000000000000ull /* a monotonic clock well past its start */
#define MS 1000000ull

struct fake {
	struct hnvmf_sched s;
	struct hnvmf_tenant *t[2];
	struct hnvmf_tq *tq[2];
	struct hnvmf_io *ios;
	size_t nios, used;
	uint64_t served[2];
};

static struct hnvmf_tenant *tenant(const struct hnvmf_tenant_qos *q)
{
	struct hnvmf_tenant *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	hnvmf_qos_set(t, q);
	return t;
}

static struct fake *fake_new(const struct hnvmf_tenant_qos *a, const struct hnvmf_tenant_qos *b)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const struct hnvmf_tenant_qos *q[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		f->t[i] = tenant(q[i]);
		f->tq[i] = hnvmf_tq_create(f->t[i], 1 << 16);
		assert_non_null(f->tq[i]);
	}
	f->nios = 1 << 17;
	f->ios = calloc(f->nios, sizeof(*f->ios));
	assert_non_null(f->ios);
	return f;
}

static void fake_free(struct fake *f)
{
	for (int i = 0; i < 2; i++) {
		hnvmf_tq_destroy(f->tq[i]);
		free(f->t[i]);
	}
	free(f->ios);
	free(f);
}

/* What a reactor does: push, and hand an idle queue to the server (here at once). */
static void push(struct fake *f, int who, uint8_t op, uint64_t len)
{
	assert_true(f->used < f->nios);
	struct hnvmf_io *io = &f->ios[f->used++];
	io->bio.op = op;
	io->bio.len = len;
	io->bio.priv = (void *)(uintptr_t)who;
	bool notify;
	assert_true(hnvmf_tq_push(f->tq[who], io, &notify));
	if (notify)
		hnvmf_sched_activate(&f->s, f->tq[who]);
}

static void backlog(struct fake *f, int who, unsigned n, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		push(f, who, HNVMF_BIO_READ, len);
}

/* What the server does: the next io, by whom; -1 for none. */
static int next(struct fake *f, uint64_t now, uint64_t *wake_at)
{
	struct hnvmf_io *io = hnvmf_sched_next(&f->s, now, wake_at);
	if (!io)
		return -1;
	int who = (int)(uintptr_t)io->bio.priv;
	f->served[who]++;
	return who;
}

static const struct hnvmf_tenant_qos W1 = {.weight = 1};

/* A queue is handed to the server once while it has work: the second push sends no notice; once
 * the server found it empty, the next push does again. */
static void test_activation_once(void **state)
{
	(void)state;
	struct fake *f = fake_new(&W1, &W1);
	bool notify;
	struct hnvmf_io a = {.bio.len = 4096}, b = {.bio.len = 4096};
	assert_true(hnvmf_tq_push(f->tq[0], &a, &notify));
	assert_true(notify);
	hnvmf_sched_activate(&f->s, f->tq[0]);
	assert_true(hnvmf_tq_push(f->tq[0], &b, &notify));
	assert_false(notify);
	assert_ptr_equal(hnvmf_sched_next(&f->s, T0, NULL), &a);
	assert_ptr_equal(hnvmf_sched_next(&f->s, T0, NULL), &b);
	assert_null(hnvmf_sched_next(&f->s, T0, NULL));
	assert_false(hnvmf_sched_pending(&f->s));
	assert_true(hnvmf_tq_push(f->tq[0], &a, &notify));
	assert_true(notify);
	fake_free(f);
}

/* Weights 1:3 over a backlog of 4 KiB ios: service 1:3, within one round's credit. */
static void test_weights_1_3(void **state)
{
	(void)state;
	struct hnvmf_tenant_qos w3 = {.weight = 3};
	struct fake *f = fake_new(&W1, &w3);
	backlog(f, 0, 4000, 4096);
	backlog(f, 1, 4000, 4096);
	for (int i = 0; i < 3000; i++)
		assert_int_not_equal(next(f, T0, NULL), -1);
	uint64_t round = 4 * HNVMF_DRR_QUANTUM / 4096; /* ios in one round of both */
	uint64_t a = f->served[0], b = f->served[1];
	assert_true(a + b == 3000);
	assert_true(3 * a <= b + round && b <= 3 * a + round);
	fake_free(f);
}

/* The quiet tenant (QD1: one io at a time, the next after the previous was served) beside one
 * that floods with 128 KiB writes and 4 KiB reads: each quiet io waits behind at most one turn of
 * the flooder's credit, not behind its backlog. */
static void test_quiet_interleaves(void **state)
{
	(void)state;
	struct fake *f = fake_new(&W1, &W1);
	for (int i = 0; i < 2000; i++)
		push(f, 0, i % 4 ? HNVMF_BIO_READ : HNVMF_BIO_WRITE, i % 4 ? 4096 : 131072);
	uint64_t worst = 0;
	for (int q = 0; q < 50; q++) {
		push(f, 1, HNVMF_BIO_READ, 4096);
		uint64_t before = f->served[0];
		int who;
		while ((who = next(f, T0, NULL)) == 0)
			;
		assert_int_equal(who, 1);
		if (f->served[0] - before > worst)
			worst = f->served[0] - before;
	}
	/* one turn of weight 1: a quantum, plus the io that overdraws it */
	assert_true(worst <= HNVMF_DRR_QUANTUM / 4096 + 1);
	assert_true(f->served[0] < 2000); /* the flooder still has a backlog: this was contention */
	fake_free(f);
}

/* Runs the server for ms milliseconds of fake time, taking up to per_ms ios each millisecond
 * (its capacity) from the scheduler. */
static void run(struct fake *f, uint64_t *now, unsigned ms, unsigned per_ms)
{
	for (unsigned t = 0; t < ms; t++, *now += MS)
		for (unsigned k = 0; k < per_ms && next(f, *now, NULL) != -1; k++)
			;
}

/* max_iops N over a run of T seconds: at most N·T + one bucket (HNVMF_BUCKET_NS of tokens) + one
 * io; and the limit is a rate, not a stop: the tenant gets close to it. While held, the scheduler
 * says when the next io may pass. */
static void test_iops_limit(void **state)
{
	(void)state;
	struct hnvmf_tenant_qos lim = {.weight = 1, .max_iops = 2000};
	struct fake *f = fake_new(&lim, &W1);
	backlog(f, 0, 20000, 4096);
	uint64_t now = T0;
	run(f, &now, 2000, 100); /* capacity 100k/s, 2 s */
	uint64_t bucket = 2000 * HNVMF_BUCKET_NS / 1000000000ull;
	assert_true(f->served[0] <= 2000 * 2 + bucket + 1);
	assert_true(f->served[0] >= 2000 * 2 - bucket);
	uint64_t wake_at;
	while (next(f, now, &wake_at) != -1)
		; /* what the last millisecond refilled */
	assert_true(wake_at > now && wake_at <= now + 1000000000ull / 2000);
	/* A reload raises the limit: the same queue gets more at once. */
	lim.max_iops = 10000;
	hnvmf_qos_set(f->t[0], &lim);
	uint64_t before = f->served[0];
	run(f, &now, 1000, 100);
	assert_true(f->served[0] - before > 2000 + bucket + 1);
	assert_true(f->served[0] - before <= 10000 + 10000 * HNVMF_BUCKET_NS / 1000000000ull + 1);
	fake_free(f);
}

/* A held tenant does not hold the other back: the unlimited one takes the rest of the capacity. */
static void test_limit_does_not_block_others(void **state)
{
	(void)state;
	struct hnvmf_tenant_qos lim = {.weight = 1, .max_iops = 1000};
	struct fake *f = fake_new(&lim, &W1);
	backlog(f, 0, 5000, 4096);
	backlog(f, 1, 5000, 4096);
	uint64_t now = T0;
	run(f, &now, 1000, 5);
	assert_true(f->served[0] <= 1000 + 1000 * HNVMF_BUCKET_NS / 1000000000ull + 1);
	assert_true(f->served[0] + f->served[1] == 5000); /* every tick used its whole capacity */
	/* The metrics' throttle count: once per io held back (not per look), only the limited one. */
	uint64_t throttled = atomic_load(&f->t[0]->throttled);
	assert_true(throttled > 0 && throttled <= f->served[0] + 1);
	assert_int_equal(atomic_load(&f->t[1]->throttled), 0);
	fake_free(f);
}

/* Byte limits: max_read_bps in 64 KiB reads, max_bps over reads and writes together. */
static void test_byte_limits(void **state)
{
	(void)state;
	uint64_t rate = 8ull << 20; /* 8 MiB/s = 128 ios of 64 KiB per second */
	struct hnvmf_tenant_qos rd = {.weight = 1, .max_read_bps = rate};
	struct fake *f = fake_new(&rd, &W1);
	backlog(f, 0, 3000, 65536);
	uint64_t now = T0;
	run(f, &now, 4000, 10);
	uint64_t bucket_ios = rate * HNVMF_BUCKET_NS / 1000000000ull / 65536;
	assert_true(f->served[0] <= 128 * 4 + bucket_ios + 1);
	assert_true(f->served[0] >= 128 * 4 - bucket_ios - 1);
	fake_free(f);

	struct hnvmf_tenant_qos all = {.weight = 1, .max_bps = rate};
	f = fake_new(&all, &W1);
	for (int i = 0; i < 3000; i++)
		push(f, 0, i % 2 ? HNVMF_BIO_READ : HNVMF_BIO_WRITE, 65536);
	now = T0;
	run(f, &now, 4000, 10);
	assert_true(f->served[0] <= 128 * 4 + bucket_ios + 1);
	assert_true(f->served[0] >= 128 * 4 - bucket_ios - 1);
	fake_free(f);
}

/* An io larger than the bucket still passes (once the bucket is full), leaving it in debt: a
 * byte limit below one io's size per bucket slows a tenant, it never stalls it. */
static void test_bucket_large_io(void **state)
{
	(void)state;
	struct hnvmf_bucket b = {0};
	atomic_store(&b.rate, 1000000); /* 1 MB/s: a bucket is 10 KB */
	uint64_t now = T0, wait = 0;
	assert_true(hnvmf_bucket_take(&b, 131072, now, &wait));
	assert_false(hnvmf_bucket_take(&b, 131072, now, &wait));
	/* the debt: 131072 bytes at 1 MB/s, back to a full bucket */
	assert_true(wait >= 131072000ull - HNVMF_BUCKET_NS && wait <= 131072000ull + 1);
	assert_true(hnvmf_bucket_take(&b, 131072, now + wait, &wait));
}

/* Reservation under contention: two backlogged tenants of equal weight share a server of
 * capacity 1000 IOPS; DRR alone gives each half. With 800 IOPS reserved, the reserved tenant gets
 * at least that; without, half. */
static void test_reservation(void **state)
{
	(void)state;
	struct hnvmf_tenant_qos resv = {.weight = 1, .reserved_iops = 800};
	for (int reserved = 0; reserved < 2; reserved++) {
		struct fake *f = fake_new(reserved ? &resv : &W1, &W1);
		backlog(f, 0, 5000, 4096);
		backlog(f, 1, 5000, 4096);
		uint64_t now = T0;
		run(f, &now, 2000, 1);
		assert_int_equal(f->served[0] + f->served[1], 2000);
		if (reserved) /* one io per window may be lost to the rounding of the window's start */
			assert_true(f->served[0] >= 800 * 2 - 2000 / (HNVMF_RESV_WINDOW_NS / MS));
		else
			assert_true(f->served[0] >= 999 && f->served[0] <= 1001);
		fake_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activation_once),	  cmocka_unit_test(test_weights_1_3),
		cmocka_unit_test(test_quiet_interleaves),  cmocka_unit_test(test_iops_limit),
		cmocka_unit_test(test_limit_does_not_block_others), cmocka_unit_test(test_byte_limits),
		cmocka_unit_test(test_bucket_large_io),	  cmocka_unit_test(test_reservation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
