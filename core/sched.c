/* Deficit round robin over a PQM server's tenant queues (core/sched.h). */
#include "core/sched.h"

#include <stdlib.h>

struct hnvmf_tq *hnvmf_tq_create(struct hnvmf_tenant *t, unsigned depth)
{
	struct hnvmf_tq *tq = calloc(1, sizeof(*tq));
	size_t cap = 2;
	while (cap < depth)
		cap <<= 1;
	if (!tq || !(tq->ring = hnvmf_mpsc_create(cap))) {
		free(tq);
		return NULL;
	}
	tq->tenant = t;
	return tq;
}

void hnvmf_tq_destroy(struct hnvmf_tq *tq)
{
	if (!tq)
		return;
	hnvmf_mpsc_destroy(tq->ring);
	free(tq);
}

bool hnvmf_tq_push(struct hnvmf_tq *tq, struct hnvmf_io *io, bool *notify)
{
	if (!hnvmf_mpsc_push(tq->ring, io))
		return false;
	/* Fence against the server's fence in leave() (store false, fence, look at the ring):
	 * whichever fence comes first, either the server sees this io or we see active == false
	 * and send a notice. */
	atomic_thread_fence(memory_order_seq_cst);
	*notify = !atomic_exchange(&tq->active, true);
	return true;
}

uint64_t hnvmf_sched_cost(const struct hnvmf_io *io)
{
	return io->bio.len > HNVMF_DRR_MIN_COST ? io->bio.len : HNVMF_DRR_MIN_COST;
}

void hnvmf_sched_activate(struct hnvmf_sched *s, struct hnvmf_tq *tq)
{
	tq->next = NULL;
	tq->deficit = 0;
	tq->turn = false;
	if (s->tail)
		s->tail->next = tq;
	else
		s->head = tq;
	s->tail = tq;
	s->nactive++;
	if (!tq->on_resv && atomic_load_explicit(&tq->tenant->reserved_iops, memory_order_relaxed)) {
		tq->on_resv = true;
		tq->resv_next = s->resv;
		s->resv = tq;
	}
}

static struct hnvmf_io *peek(struct hnvmf_tq *tq)
{
	if (!tq->held)
		tq->held = hnvmf_mpsc_pop(tq->ring);
	return tq->held;
}

static void pop_head(struct hnvmf_sched *s)
{
	struct hnvmf_tq *tq = s->head;
	s->head = tq->next;
	if (!s->head)
		s->tail = NULL;
	tq->next = NULL;
	s->nactive--;
}

static void rotate(struct hnvmf_sched *s)
{
	if (s->head == s->tail)
		return;
	struct hnvmf_tq *tq = s->head;
	pop_head(s);
	s->nactive++;
	s->tail->next = tq;
	s->tail = tq;
}

/* The head queue looked empty: it leaves the list unless an io arrived meanwhile. */
static bool leave(struct hnvmf_sched *s)
{
	struct hnvmf_tq *tq = s->head;
	atomic_store(&tq->active, false);
	atomic_thread_fence(memory_order_seq_cst);
	if (hnvmf_mpsc_count(tq->ring) && !atomic_exchange(&tq->active, true))
		return false; /* still ours: a producer saw active == true and sent no notice */
	pop_head(s);      /* empty, or a producer re-activated it and its notice re-adds it */
	return true;
}

static void wake_min(uint64_t *wake_at, uint64_t t)
{
	if (wake_at && (!*wake_at || t < *wake_at))
		*wake_at = t;
}

static struct hnvmf_io *take(struct hnvmf_tq *tq, uint64_t now)
{
	struct hnvmf_io *io = tq->held;
	tq->held = NULL;
	hnvmf_qos_served(tq->tenant, now);
	return io;
}

/* Reserved tenants behind their reservation go first, outside the round (their DRR credit is
 * not charged): a scan of the reserved tenants' queues, usually few. */
/* A limit held tq's next io back: counted once per io, however often the server looks again. */
static void note_throttled(struct hnvmf_tq *tq)
{
	if (tq->counted == tq->held)
		return;
	tq->counted = tq->held;
	atomic_fetch_add_explicit(&tq->tenant->throttled, 1, memory_order_relaxed);
}

static struct hnvmf_io *reserved_next(struct hnvmf_sched *s, uint64_t now, uint64_t *wake_at)
{
	for (struct hnvmf_tq *tq = s->resv; tq; tq = tq->resv_next) {
		uint64_t wait;
		if (!hnvmf_qos_behind(tq->tenant, now) || !peek(tq))
			continue;
		if (hnvmf_qos_admit(tq->tenant, tq->held, now, &wait))
			return take(tq, now);
		note_throttled(tq);
		wake_min(wake_at, now + wait);
	}
	return NULL;
}

struct hnvmf_io *hnvmf_sched_next(struct hnvmf_sched *s, uint64_t now, uint64_t *wake_at)
{
	if (wake_at)
		*wake_at = 0;
	struct hnvmf_io *io = s->resv ? reserved_next(s, now, wake_at) : NULL;
	if (io)
		return io;
	/* Every visit serves, removes a queue, or ends a queue's turn; a queue whose turn ends
	 * with no credit gets a quantum on its next, so this ends. held counts visits in a row
	 * that found a queue held by its limits or not yet published: all of them means none can
	 * go now. */
	unsigned held = 0;
	while (s->head && held < s->nactive) {
		struct hnvmf_tq *tq = s->head;
		struct hnvmf_tenant *t = tq->tenant;
		if (!peek(tq)) {
			if (!leave(s)) {
				rotate(s); /* a push claimed a cell and has not published it yet */
				held++;
			}
			continue;
		}
		int64_t quantum = (int64_t)HNVMF_DRR_QUANTUM * atomic_load_explicit(&t->weight, memory_order_relaxed);
		if (!tq->turn) {
			tq->deficit += quantum;
			tq->turn = true;
		}
		uint64_t wait;
		if (tq->deficit <= 0 || !hnvmf_qos_admit(t, tq->held, now, &wait)) {
			if (tq->deficit > 0) {
				/* Held by its limits: it keeps at most one quantum of credit, so
				 * waiting does not build a burst beyond its share. */
				note_throttled(tq);
				wake_min(wake_at, now + wait);
				if (tq->deficit > quantum)
					tq->deficit = quantum;
				held++;
			} else {
				held = 0;
			}
			tq->turn = false;
			rotate(s);
			continue;
		}
		tq->deficit -= (int64_t)hnvmf_sched_cost(tq->held);
		return take(tq, now);
	}
	return NULL;
}
