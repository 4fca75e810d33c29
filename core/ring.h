/* The lock-free bounded ring of pointers of an I/O server's subqueue (core/ioserver.c): several
 * producers (the reactors that submit to it), one consumer (the server). Dmitry Vyukov's bounded
 * queue: a sequence number per cell, producers claim cells with one compare-and-swap. No mutex: a
 * full ring refuses a push and an empty ring returns NULL, and the caller decides whether to
 * retry, spill or sleep.
 *
 * Items are non-NULL pointers (NULL is the "empty" answer). Capacities are powers of two >= 2,
 * so an index maps to a cell with a mask and the free-running 64-bit indices never wrap in
 * practice (2^64 I/Os at 10^9 per second is 584 years; unsigned arithmetic is correct across a
 * wrap anyway).
 *
 * The ring is allocated with create() (cache-line aligned, one allocation including the cells)
 * and the hot functions are inline. */
#ifndef HNVMF_RING_H
#define HNVMF_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HNVMF_CACHE_LINE 64

/* ---------------------------------------------------------------------------------------- */
/* MPSC (Vyukov's bounded queue, single-consumer variant)
 *
 * Cell i of round k (index pos = k·cap + i) has seq == pos when free for the producer that
 * claims pos, and seq == pos + 1 once that producer published it; the consumer, after taking
 * the item, sets seq = pos + cap: free for index pos + cap, one round later.
 *
 * Producers: load enqueue_pos (relaxed: it is only a hint, the CAS validates it), load the
 * cell's seq with ACQUIRE (so the consumer's read of the previous item in that cell
 * happens-before our overwrite), and claim pos with a CAS on enqueue_pos. Winning the CAS gives
 * exclusive ownership of the cell: no other producer can claim the same pos, and the consumer
 * does not touch it until seq says so. The CAS itself can be relaxed because the cell's seq,
 * not enqueue_pos, carries all the data hand-off. Write the item, then store seq = pos + 1 with
 * RELEASE: the item write happens-before the consumer's ACQUIRE load that sees pos + 1.
 *
 * Consumer: load the cell's seq with ACQUIRE; pos + 1 means published; read the item; store
 * seq = pos + cap with RELEASE (publishing "free" to the producer of the next round); advance
 * dequeue_pos, which only the consumer writes.
 *
 * Progress: producers are lock-free (a failed CAS means another producer succeeded). The
 * consumer can see "empty" while a producer that claimed a cell has not yet published it even if
 * later cells are published; it just finds them on a later poll. Per producer, FIFO order holds:
 * one producer claims increasing positions and the consumer takes positions in order. */
struct hnvmf_mpsc_cell {
	_Atomic uint64_t seq;
	void *item;
};

struct hnvmf_mpsc_ring {
	_Alignas(HNVMF_CACHE_LINE) _Atomic uint64_t enqueue_pos; /* producers' line */
	_Alignas(HNVMF_CACHE_LINE) _Atomic uint64_t dequeue_pos; /* consumer's line */
	_Alignas(HNVMF_CACHE_LINE) uint64_t mask;
	struct hnvmf_mpsc_cell cells[];
};

/* Returns NULL when capacity is not a power of two >= 2 or on allocation failure. */
struct hnvmf_mpsc_ring *hnvmf_mpsc_create(size_t capacity);
void hnvmf_mpsc_destroy(struct hnvmf_mpsc_ring *r);

static inline size_t hnvmf_mpsc_capacity(const struct hnvmf_mpsc_ring *r) { return r->mask + 1; }

/* Any producer thread. false when full. */
static inline bool hnvmf_mpsc_push(struct hnvmf_mpsc_ring *r, void *item)
{
	uint64_t pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
	struct hnvmf_mpsc_cell *cell;

	assert(item != NULL);
	for (;;) {
		cell = &r->cells[pos & r->mask];
		uint64_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - pos);

		if (dif == 0) {
			/* On failure the CAS reloads pos and we retry with the new value. */
			if (atomic_compare_exchange_weak_explicit(&r->enqueue_pos, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			/* The cell still holds the item of the previous round: full. */
			return false;
		} else {
			/* Another producer claimed pos and moved on; catch up. */
			pos = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);
		}
	}
	cell->item = item;
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
	return true;
}

/* Consumer only. Pops up to n items; stops at the first cell not yet published. */
static inline size_t hnvmf_mpsc_pop_batch(struct hnvmf_mpsc_ring *r, void **items, size_t n)
{
	uint64_t pos = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
	size_t got = 0;

	while (got < n) {
		struct hnvmf_mpsc_cell *cell = &r->cells[pos & r->mask];

		if (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos + 1)
			break;
		items[got++] = cell->item;
		atomic_store_explicit(&cell->seq, pos + r->mask + 1, memory_order_release);
		pos++;
	}
	if (got)
		atomic_store_explicit(&r->dequeue_pos, pos, memory_order_relaxed);
	return got;
}

/* Consumer only. NULL when empty (or when the oldest claimed cell is not yet published). */
static inline void *hnvmf_mpsc_pop(struct hnvmf_mpsc_ring *r)
{
	void *item;

	return hnvmf_mpsc_pop_batch(r, &item, 1) == 1 ? item : NULL;
}

/* Any thread: a snapshot (claimed minus consumed; includes cells claimed but not published). */
static inline size_t hnvmf_mpsc_count(struct hnvmf_mpsc_ring *r)
{
	uint64_t d = atomic_load_explicit(&r->dequeue_pos, memory_order_relaxed);
	uint64_t e = atomic_load_explicit(&r->enqueue_pos, memory_order_relaxed);

	return e - d > r->mask + 1 ? (size_t)(r->mask + 1) : (size_t)(e - d);
}

#endif
