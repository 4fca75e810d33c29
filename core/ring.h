/* Lock-free bounded rings of pointers for the I/O path (PQM device subqueues, completion
 * hand-off). No mutex anywhere: a full ring refuses a push and an empty ring returns NULL, and
 * the caller decides whether to retry, spill or sleep.
 *
 *   hnvmf_spsc_ring  one producer thread, one consumer thread (a reactor feeding its own
 *                    subqueue). Two indices, each written by one side only.
 *   hnvmf_mpsc_ring  several producers, one consumer (several reactors feeding one I/O
 *                    server's subqueue). Dmitry Vyukov's bounded queue: a sequence number per
 *                    cell, producers claim cells with one compare-and-swap.
 *
 * Items are non-NULL pointers (NULL is the "empty" answer). Capacities are powers of two >= 2,
 * so an index maps to a slot with a mask and the free-running 64-bit indices never wrap in
 * practice (2^64 I/Os at 10^9 per second is 584 years; unsigned arithmetic is correct across a
 * wrap anyway).
 *
 * The rings are allocated with create() (cache-line aligned, one allocation including the
 * slots) and the hot functions are inline. */
#ifndef HNVMF_RING_H
#define HNVMF_RING_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HNVMF_CACHE_LINE 64

/* ---------------------------------------------------------------------------------------- */
/* SPSC
 *
 * Memory ordering. The producer writes slots[tail & mask], then stores tail+1 with RELEASE; the
 * consumer loads tail with ACQUIRE, so the slot write happens-before the consumer's read of the
 * slot. Symmetrically the consumer reads the slot, then stores head+1 with RELEASE; the producer
 * loads head with ACQUIRE before it overwrites that slot, so the consumer's read of the old
 * value happens-before the overwrite. Each side loads its OWN index relaxed: only it writes it.
 *
 * False sharing. head (consumer-written) and tail (producer-written) live on separate cache
 * lines, each next to the owner's private cached copy of the other side's index: the producer
 * re-reads head (a cache miss on a line the consumer keeps writing) only when its cached view
 * says the ring is full, and the consumer re-reads tail only when its view says empty. */
struct hnvmf_spsc_ring {
	/* Consumer's line. */
	_Alignas(HNVMF_CACHE_LINE) _Atomic uint64_t head; /* next index to pop */
	uint64_t tail_cache;                             /* consumer's last view of tail */
	/* Producer's line. */
	_Alignas(HNVMF_CACHE_LINE) _Atomic uint64_t tail; /* next index to push */
	uint64_t head_cache;                             /* producer's last view of head */
	/* Read-only after create: shared clean by both sides. */
	_Alignas(HNVMF_CACHE_LINE) uint64_t mask;
	void *slots[];
};

/* Returns NULL when capacity is not a power of two >= 2 or on allocation failure. */
struct hnvmf_spsc_ring *hnvmf_spsc_create(size_t capacity);
void hnvmf_spsc_destroy(struct hnvmf_spsc_ring *r);

static inline size_t hnvmf_spsc_capacity(const struct hnvmf_spsc_ring *r) { return r->mask + 1; }

/* Producer only. Pushes up to n items in order; returns how many (0 when full). One RELEASE
 * store publishes the whole batch. */
static inline size_t hnvmf_spsc_push_batch(struct hnvmf_spsc_ring *r, void *const *items, size_t n)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t room = r->mask + 1 - (tail - r->head_cache);

	if (room < n) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		room = r->mask + 1 - (tail - r->head_cache);
		if (room < n)
			n = room;
	}
	for (size_t i = 0; i < n; i++) {
		assert(items[i] != NULL);
		r->slots[(tail + i) & r->mask] = items[i];
	}
	if (n)
		atomic_store_explicit(&r->tail, tail + n, memory_order_release);
	return n;
}

/* Producer only. false when full. */
static inline bool hnvmf_spsc_push(struct hnvmf_spsc_ring *r, void *item)
{
	return hnvmf_spsc_push_batch(r, &item, 1) == 1;
}

/* Consumer only. Pops up to n items in FIFO order into items[]; returns how many. */
static inline size_t hnvmf_spsc_pop_batch(struct hnvmf_spsc_ring *r, void **items, size_t n)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t avail = r->tail_cache - head;

	if (avail < n) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		avail = r->tail_cache - head;
		if (avail < n)
			n = avail;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = r->slots[(head + i) & r->mask];
	if (n)
		atomic_store_explicit(&r->head, head + n, memory_order_release);
	return n;
}

/* Consumer only. NULL when empty. */
static inline void *hnvmf_spsc_pop(struct hnvmf_spsc_ring *r)
{
	void *item;

	return hnvmf_spsc_pop_batch(r, &item, 1) == 1 ? item : NULL;
}

/* Any thread: a snapshot that may be stale by the time it is used (statistics, wake-up hints). */
static inline size_t hnvmf_spsc_count(struct hnvmf_spsc_ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	/* head is read first, so tail - head >= 0; it can exceed the capacity when the two loads
	 * straddle pops and pushes, hence the clamp. */
	return tail - head > r->mask + 1 ? (size_t)(r->mask + 1) : (size_t)(tail - head);
}

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
