/* Latency histogram (see perf.h): bucket i < 32 holds the value i; above, each power of two
 * [2^k, 2^(k+1)) is split into 32 equal buckets. */
#include <string.h>

#include "tools/perf/perf.h"

void perf_hist_init(struct perf_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t perf_hist_bucket_low(unsigned i)
{
	if (i < PERF_HIST_SUB)
		return i;
	unsigned shift = i / PERF_HIST_SUB - 1, sub = i % PERF_HIST_SUB;
	return (uint64_t)(PERF_HIST_SUB + sub) << shift;
}

uint64_t perf_hist_bucket_high(unsigned i)
{
	if (i < PERF_HIST_SUB)
		return i;
	unsigned shift = i / PERF_HIST_SUB - 1;
	return perf_hist_bucket_low(i) + ((1ull << shift) - 1);
}

void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src)
{
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t perf_hist_percentile(const struct perf_hist *h, double p)
{
	if (!h->count)
		return 0;
	/* the rank of the sample at percentile p, 1-based, rounded up */
	double r = p / 100.0 * (double)h->count;
	uint64_t rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = perf_hist_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}
