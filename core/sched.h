/* Per-tenant scheduling at a PQM I/O server: deficit round robin (DRR) over the tenants that have
 * work, weighted by the tenant's weight, subject to its limits, with priority to a tenant behind
 * its reservation.
 *
 * Intake stays lock-free: each (tenant, server) pair has its own queue (struct hnvmf_tq), a
 * lock-free MPSC ring that the tenant's reactors push into. The first io pushed into an idle
 * queue marks it active and sends one activation notice through the server's subqueue; the
 * server appends the queue to its active list (server-private, O(1)) and takes ios from the list
 * in DRR order; a queue found empty leaves the list and clears its mark. So each io costs its
 * ring push and pop, and each visit of the round is O(1) (DRR with quantum >= cost, or debt paid
 * back over later rounds). Pure logic over a caller's clock: tests/unit/test_sched.c drives it
 * with a fake one. */
#ifndef HNVMF_SCHED_H
#define HNVMF_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"
#include "core/qos.h"
#include "core/ring.h"

/* Credit per round per unit of weight, in bytes; an io costs its length, at least one 4 KiB
 * block, so small ios do not ride for free. */
#define HNVMF_DRR_QUANTUM 32768
#define HNVMF_DRR_MIN_COST 4096

struct hnvmf_tq {
	struct hnvmf_mpsc_ring *ring; /* reactors push, the server pops */
	atomic_bool active;           /* on the server's list, or its notice is on the way */
	struct hnvmf_tenant *tenant;
	/* server-private */
	struct hnvmf_io *held; /* popped but not yet allowed by the limits */
	const struct hnvmf_io *counted; /* the held io already counted as throttled */
	int64_t deficit;
	bool turn; /* its turn of the round has started (the quantum was added) */
	bool on_resv;
	struct hnvmf_tq *next, *resv_next;
};

struct hnvmf_sched {
	struct hnvmf_tq *head, *tail; /* active list, in round order */
	unsigned nactive;
	struct hnvmf_tq *resv; /* queues of tenants that had a reservation when activated */
};

struct hnvmf_tq *hnvmf_tq_create(struct hnvmf_tenant *t, unsigned depth);
void hnvmf_tq_destroy(struct hnvmf_tq *tq);
/* Producer (any thread): false when the ring is full. *notify: the queue was idle, the caller
 * must hand it to the server (hnvmf_sched_activate, through the server's subqueue). */
bool hnvmf_tq_push(struct hnvmf_tq *tq, struct hnvmf_io *io, bool *notify);

/* Server only. */
void hnvmf_sched_activate(struct hnvmf_sched *s, struct hnvmf_tq *tq);
/* The next io to serve, or NULL: nothing queued, or every queue with work is held by its limits
 * (then *wake_at, if not 0, is the earliest time one may pass). */
struct hnvmf_io *hnvmf_sched_next(struct hnvmf_sched *s, uint64_t now, uint64_t *wake_at);
static inline bool hnvmf_sched_pending(const struct hnvmf_sched *s) { return s->nactive != 0; }
/* Cost of an io in DRR credit. */
uint64_t hnvmf_sched_cost(const struct hnvmf_io *io);

#endif
