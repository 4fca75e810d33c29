/* Allocation of the lock-free ring; the push/pop paths are inline in ring.h. */
#include "core/ring.h"

#include <stdlib.h>
#include <string.h>

static bool ring_capacity_ok(size_t capacity)
{
	return capacity >= 2 && (capacity & (capacity - 1)) == 0 && capacity <= ((size_t)1 << 30);
}

/* aligned_alloc wants a size that is a multiple of the alignment. */
static void *alloc_cache_aligned(size_t size)
{
	size_t rounded = (size + HNVMF_CACHE_LINE - 1) & ~(size_t)(HNVMF_CACHE_LINE - 1);
	void *p = aligned_alloc(HNVMF_CACHE_LINE, rounded);

	if (p)
		memset(p, 0, rounded);
	return p;
}

struct hnvmf_mpsc_ring *hnvmf_mpsc_create(size_t capacity)
{
	struct hnvmf_mpsc_ring *r;

	if (!ring_capacity_ok(capacity))
		return NULL;
	r = alloc_cache_aligned(sizeof(*r) + capacity * sizeof(r->cells[0]));
	if (!r)
		return NULL;
	atomic_init(&r->enqueue_pos, 0);
	atomic_init(&r->dequeue_pos, 0);
	r->mask = capacity - 1;
	/* Cell i is free for index i of round 0. */
	for (size_t i = 0; i < capacity; i++)
		atomic_init(&r->cells[i].seq, i);
	return r;
}

void hnvmf_mpsc_destroy(struct hnvmf_mpsc_ring *r)
{
	free(r);
}
