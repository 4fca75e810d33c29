/* hnvmf-perf's latency histogram: bucket boundaries and percentiles against exact values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

/* hnvmf-perf is an executable: compile the unit under test in. */

static void test_buckets_cover_and_bound(void **state)
{
	(void)state;
	/* every bucket's range is contiguous with the next; values map into their bucket */
	for (unsigned i = 0; i + 1 < PERF_HIST_BUCKETS; i++) {
		assert_true(perf_hist_bucket_low(i) <= perf_hist_bucket_high(i));
		assert_int_equal(perf_hist_bucket_high(i) + 1, perf_hist_bucket_low(i + 1));
		assert_int_equal(perf_hist_index(perf_hist_bucket_low(i)), i);
		assert_int_equal(perf_hist_index(perf_hist_bucket_high(i)), i);
	}
	assert_int_equal(perf_hist_index(UINT64_MAX), PERF_HIST_BUCKETS - 1);
	assert_int_equal(perf_hist_bucket_high(PERF_HIST_BUCKETS - 1), UINT64_MAX);
	/* small values are exact */
	for (uint64_t v = 0; v < 64; v++)
		assert_int_equal(perf_hist_bucket_high(perf_hist_index(v)) - perf_hist_bucket_low(perf_hist_index(v)),
				 v < 32 ? 0 : (v < 64 ? 0 : 1));
	/* relative width at most 1/32 */
	for (unsigned i = PERF_HIST_SUB; i < PERF_HIST_BUCKETS; i++) {
		uint64_t lo = perf_hist_bucket_low(i), w = perf_hist_bucket_high(i) - lo + 1;
		assert_true(w * 32 <= lo);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_percentiles_match_exact(void **state)
{
	(void)state;
	enum { N = 100000 };
	uint64_t *v = malloc(N * sizeof(*v));
	struct perf_hist *h = malloc(sizeof(*h));
	perf_hist_init(h);
	uint64_t x = 88172645463325252ull, sum = 0;
	for (unsigned i = 0; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* log-uniform-ish latencies between ~1 us and ~10 ms, in ns */
		v[i] = 1000 + (x % 1000) * (1ull << (x >> 60) % 14);
		sum += v[i];
		perf_hist_add(h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	assert_int_equal(h->count, N);
	assert_int_equal(h->sum, sum);
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[N - 1]);
	const double ps[] = { 1, 50, 90, 99, 99.9, 99.99, 100 };
	for (unsigned k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		uint64_t rank = (uint64_t)(ps[k] / 100.0 * N + 0.999999);
		uint64_t exact = v[rank - 1], got = perf_hist_percentile(h, ps[k]);
		/* never below the exact value, above it by at most one bucket width (1/32) */
		assert_true(got >= exact);
		assert_true((double)got <= (double)exact * (1.0 + 1.0 / 32) + 1);
	}
	assert_int_equal(perf_hist_percentile(h, 100), v[N - 1]);
	free(v);
	free(h);
}

static void test_empty_single_merge(void **state)
{
	(void)state;
	struct perf_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	perf_hist_init(a);
	perf_hist_init(b);
	assert_int_equal(perf_hist_percentile(a, 99), 0);
	perf_hist_add(a, 12345);
	assert_int_equal(perf_hist_percentile(a, 50), 12345); /* clamped to max = min */
	for (unsigned i = 0; i < 99; i++)
		perf_hist_add(b, 10);
	perf_hist_merge(b, a);
	assert_int_equal(b->count, 100);
	assert_int_equal(b->min, 10);
	assert_int_equal(b->max, 12345);
	assert_int_equal(perf_hist_percentile(b, 99), 10);
	assert_int_equal(perf_hist_percentile(b, 99.5), 12345);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_cover_and_bound),
		cmocka_unit_test(test_percentiles_match_exact),
		cmocka_unit_test(test_empty_single_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
