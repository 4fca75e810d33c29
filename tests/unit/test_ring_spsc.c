/* The SPSC ring: single-thread semantics (capacity, FIFO, wrap, batches), layout (indices on
 * separate cache lines), and a two-thread run of millions of items checked for loss,
 * duplication and order. HNVMF_RING_ITEMS overrides the item count (the TSan run uses fewer). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/ring.h"

#define P(v) ((void *)(uintptr_t)(v))
#define V(p) ((uint64_t)(uintptr_t)(p))

static uint64_t items_to_move(uint64_t dflt)
{
	const char *s = getenv("HNVMF_RING_ITEMS");

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void test_create_checks_capacity(void **state)
{
	(void)state;
	struct hnvmf_spsc_ring *r;

	assert_null(hnvmf_spsc_create(0));
	assert_null(hnvmf_spsc_create(1));
	assert_null(hnvmf_spsc_create(3));
	assert_null(hnvmf_spsc_create(1000));
	r = hnvmf_spsc_create(1024);
	assert_non_null(r);
	assert_int_equal(hnvmf_spsc_capacity(r), 1024);
	assert_int_equal((uintptr_t)r % HNVMF_CACHE_LINE, 0);
	/* The two sides' indices must not share a cache line. */
	assert_true(offsetof(struct hnvmf_spsc_ring, tail) - offsetof(struct hnvmf_spsc_ring, head) >=
		    HNVMF_CACHE_LINE);
	assert_true(offsetof(struct hnvmf_spsc_ring, mask) - offsetof(struct hnvmf_spsc_ring, tail) >=
		    HNVMF_CACHE_LINE);
	hnvmf_spsc_destroy(r);
}

static void test_fifo_full_empty(void **state)
{
	(void)state;
	struct hnvmf_spsc_ring *r = hnvmf_spsc_create(8);

	assert_null(hnvmf_spsc_pop(r));
	assert_int_equal(hnvmf_spsc_count(r), 0);
	for (uint64_t i = 1; i <= 8; i++)
		assert_true(hnvmf_spsc_push(r, P(i)));
	assert_false(hnvmf_spsc_push(r, P(99)));
	assert_int_equal(hnvmf_spsc_count(r), 8);
	for (uint64_t i = 1; i <= 8; i++)
		assert_int_equal(V(hnvmf_spsc_pop(r)), i);
	assert_null(hnvmf_spsc_pop(r));
	/* Wrap around the slots many times with the ring never more than 3 deep. */
	uint64_t next_in = 1, next_out = 1;
	for (int round = 0; round < 1000; round++) {
		for (int k = 0; k < 3; k++)
			assert_true(hnvmf_spsc_push(r, P(next_in++)));
		for (int k = 0; k < 3; k++)
			assert_int_equal(V(hnvmf_spsc_pop(r)), next_out++);
	}
	assert_null(hnvmf_spsc_pop(r));
	hnvmf_spsc_destroy(r);
}

static void test_batches_partial(void **state)
{
	(void)state;
	struct hnvmf_spsc_ring *r = hnvmf_spsc_create(8);
	void *in[10], *out[16];

	for (int i = 0; i < 10; i++)
		in[i] = P(100 + i);
	assert_int_equal(hnvmf_spsc_push_batch(r, in, 5), 5);
	assert_int_equal(hnvmf_spsc_push_batch(r, in + 5, 5), 3); /* room for 3 only */
	assert_int_equal(hnvmf_spsc_push_batch(r, in + 8, 2), 0);
	assert_int_equal(hnvmf_spsc_pop_batch(r, out, 2), 2);
	assert_int_equal(V(out[0]), 100);
	assert_int_equal(V(out[1]), 101);
	assert_int_equal(hnvmf_spsc_pop_batch(r, out, 16), 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(V(out[i]), 102 + i);
	assert_int_equal(hnvmf_spsc_pop_batch(r, out, 16), 0);
	/* A batch that straddles the end of the slot array. */
	assert_int_equal(hnvmf_spsc_push_batch(r, in, 7), 7);
	assert_int_equal(hnvmf_spsc_pop_batch(r, out, 7), 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(V(out[i]), 100 + i);
	hnvmf_spsc_destroy(r);
}

struct run {
	struct hnvmf_spsc_ring *r;
	uint64_t n;
};

/* Pushes 1..n, alternating single pushes and batches of 1..17. */
static void *producer(void *arg)
{
	struct run *run = arg;
	uint64_t next = 1;
	void *batch[17];

	while (next <= run->n) {
		size_t want = (size_t)(next % 17) + 1;

		if (want > run->n - next + 1)
			want = (size_t)(run->n - next + 1);
		if (next & 1) {
			if (hnvmf_spsc_push(run->r, P(next)))
				next++;
			else
				sched_yield();
			continue;
		}
		for (size_t i = 0; i < want; i++)
			batch[i] = P(next + i);
		size_t pushed = hnvmf_spsc_push_batch(run->r, batch, want);

		next += pushed;
		if (pushed == 0)
			sched_yield();
	}
	return NULL;
}

static void run_two_threads(size_t capacity, uint64_t n)
{
	struct run run = { .r = hnvmf_spsc_create(capacity), .n = n };
	pthread_t t;
	uint64_t expect = 1, sum = 0;
	void *out[32];

	assert_non_null(run.r);
	assert_int_equal(pthread_create(&t, NULL, producer, &run), 0);
	while (expect <= n) {
		size_t got = (expect & 2) ? hnvmf_spsc_pop_batch(run.r, out, 1 + expect % 32)
					  : (out[0] = hnvmf_spsc_pop(run.r)) != NULL;

		if (got == 0) {
			sched_yield();
			continue;
		}
		for (size_t i = 0; i < got; i++) {
			/* Strict order: catches loss, duplication and reordering at once. */
			if (V(out[i]) != expect)
				fail_msg("popped %llu, expected %llu", (unsigned long long)V(out[i]),
					 (unsigned long long)expect);
			sum += V(out[i]);
			expect++;
		}
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_null(hnvmf_spsc_pop(run.r)); /* nothing extra */
	assert_true(sum == n * (n + 1) / 2);
	hnvmf_spsc_destroy(run.r);
}

static void test_two_threads_millions(void **state)
{
	(void)state;
	run_two_threads(1024, items_to_move(2000000));
}

/* A tiny ring keeps both sides on the full/empty edges all the time. */
static void test_two_threads_tiny_ring(void **state)
{
	(void)state;
	run_two_threads(2, items_to_move(2000000) / 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_checks_capacity),
		cmocka_unit_test(test_fifo_full_empty),
		cmocka_unit_test(test_batches_partial),
		cmocka_unit_test(test_two_threads_millions),
		cmocka_unit_test(test_two_threads_tiny_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
