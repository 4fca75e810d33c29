/* The MPSC ring (Vyukov's bounded queue): single-thread semantics, then 2 and 3 producer
 * threads against one consumer moving millions of items, checked per producer for order, with
 * a bitmap for duplicates and a sum for loss. HNVMF_RING_ITEMS overrides the item count. */
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
#define MAX_PRODUCERS 3
/* An item is (producer + 1) << SEQ_BITS | seq: never NULL, and it names its producer. */
#define SEQ_BITS 40
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)

static uint64_t items_to_move(uint64_t dflt)
{
	const char *s = getenv("HNVMF_RING_ITEMS");

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void test_create_checks_capacity(void **state)
{
	(void)state;
	struct hnvmf_mpsc_ring *r;

	assert_null(hnvmf_mpsc_create(0));
	assert_null(hnvmf_mpsc_create(1));
	assert_null(hnvmf_mpsc_create(12));
	r = hnvmf_mpsc_create(64);
	assert_non_null(r);
	assert_int_equal(hnvmf_mpsc_capacity(r), 64);
	assert_int_equal((uintptr_t)r % HNVMF_CACHE_LINE, 0);
	assert_true(offsetof(struct hnvmf_mpsc_ring, dequeue_pos) -
			    offsetof(struct hnvmf_mpsc_ring, enqueue_pos) >=
		    HNVMF_CACHE_LINE);
	hnvmf_mpsc_destroy(r);
}

static void test_fifo_full_empty_wrap(void **state)
{
	(void)state;
	struct hnvmf_mpsc_ring *r = hnvmf_mpsc_create(4);
	void *out[8];

	assert_null(hnvmf_mpsc_pop(r));
	for (uint64_t i = 1; i <= 4; i++)
		assert_true(hnvmf_mpsc_push(r, P(i)));
	assert_false(hnvmf_mpsc_push(r, P(5)));
	assert_int_equal(hnvmf_mpsc_count(r), 4);
	assert_int_equal(V(hnvmf_mpsc_pop(r)), 1);
	assert_true(hnvmf_mpsc_push(r, P(5))); /* the freed cell, one round later */
	assert_int_equal(hnvmf_mpsc_pop_batch(r, out, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(V(out[i]), 2 + i);
	assert_null(hnvmf_mpsc_pop(r));
	assert_int_equal(hnvmf_mpsc_count(r), 0);
	uint64_t next_in = 1, next_out = 1;
	for (int round = 0; round < 1000; round++) {
		for (int k = 0; k < 3; k++)
			assert_true(hnvmf_mpsc_push(r, P(next_in++)));
		assert_int_equal(hnvmf_mpsc_pop_batch(r, out, 2), 2);
		assert_int_equal(V(out[0]), next_out++);
		assert_int_equal(V(out[1]), next_out++);
		assert_int_equal(V(hnvmf_mpsc_pop(r)), next_out++);
	}
	hnvmf_mpsc_destroy(r);
}

struct producer {
	pthread_t thread;
	struct hnvmf_mpsc_ring *r;
	unsigned id;
	uint64_t n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t tag = (uint64_t)(p->id + 1) << SEQ_BITS;

	for (uint64_t seq = 0; seq < p->n;) {
		if (hnvmf_mpsc_push(p->r, P(tag | seq)))
			seq++;
		else
			sched_yield();
	}
	return NULL;
}

static void run_producers(unsigned nprod, size_t capacity, uint64_t per_producer)
{
	struct hnvmf_mpsc_ring *r = hnvmf_mpsc_create(capacity);
	struct producer prod[MAX_PRODUCERS];
	uint64_t next[MAX_PRODUCERS] = { 0 }, sum = 0, got_total = 0, total = nprod * per_producer;
	uint8_t *seen[MAX_PRODUCERS];
	void *out[16];

	assert_non_null(r);
	for (unsigned i = 0; i < nprod; i++) {
		seen[i] = calloc((per_producer + 7) / 8, 1);
		assert_non_null(seen[i]);
		prod[i] = (struct producer){ .r = r, .id = i, .n = per_producer };
		assert_int_equal(pthread_create(&prod[i].thread, NULL, produce, &prod[i]), 0);
	}
	while (got_total < total) {
		size_t got = hnvmf_mpsc_pop_batch(r, out, 1 + got_total % 16);

		if (got == 0) {
			sched_yield();
			continue;
		}
		for (size_t k = 0; k < got; k++) {
			uint64_t v = V(out[k]), id = (v >> SEQ_BITS) - 1, seq = v & SEQ_MASK;

			if (id >= nprod || seq >= per_producer)
				fail_msg("garbage item %#llx", (unsigned long long)v);
			if (seen[id][seq / 8] & (1u << (seq % 8)))
				fail_msg("duplicate: producer %llu seq %llu", (unsigned long long)id,
					 (unsigned long long)seq);
			seen[id][seq / 8] |= (uint8_t)(1u << (seq % 8));
			/* One producer's items come out in the order it pushed them. */
			if (seq != next[id])
				fail_msg("producer %llu: seq %llu, expected %llu", (unsigned long long)id,
					 (unsigned long long)seq, (unsigned long long)next[id]);
			next[id]++;
			sum += seq;
		}
		got_total += got;
	}
	for (unsigned i = 0; i < nprod; i++)
		assert_int_equal(pthread_join(prod[i].thread, NULL), 0);
	assert_null(hnvmf_mpsc_pop(r));
	assert_true(sum == nprod * (per_producer * (per_producer - 1) / 2));
	for (unsigned i = 0; i < nprod; i++) {
		assert_true(next[i] == per_producer);
		for (uint64_t b = 0; b < per_producer / 8; b++)
			assert_int_equal(seen[i][b], 0xff);
		free(seen[i]);
	}
	hnvmf_mpsc_destroy(r);
}

static void test_two_producers(void **state)
{
	(void)state;
	run_producers(2, 1024, items_to_move(2000000) / 2);
}

static void test_three_producers(void **state)
{
	(void)state;
	run_producers(3, 1024, items_to_move(2000000) / 3);
}

/* Capacity 2: producers collide on every cell and find the ring full most of the time. */
static void test_three_producers_tiny_ring(void **state)
{
	(void)state;
	run_producers(3, 2, items_to_move(2000000) / 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_checks_capacity),
		cmocka_unit_test(test_fifo_full_empty_wrap),
		cmocka_unit_test(test_two_producers),
		cmocka_unit_test(test_three_producers),
		cmocka_unit_test(test_three_producers_tiny_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
