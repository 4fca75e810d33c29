/* Queue teardown at daemon stop: see target/teardown.h. */
#include "target/teardown.h"

#include <stdint.h>
#include <time.h>

#include "core/log.h"
#include "core/reactor.h"
#include "target/nvmf.h"

bool hnvmf_sq_in_drain(const struct hnvmf_sq *sq, enum hnvmf_drain which)
{
	return which == HNVMF_DRAIN_ALL || !(sq->ctrl && sq->qid == 0);
}

/* The transports and the reactors their connections live on. */
struct teardown {
	const struct hnvmf_queue_teardown_ops *const *t;
	unsigned n;
	struct hnvmf_reactor *const *reactors;
	unsigned nreactors;
};

/* One walk of one transport's queues, reactor by reactor: fn on each queue of which. */
struct walk {
	const struct hnvmf_queue_teardown_ops *t;
	unsigned reactor;
	void (*fn)(struct hnvmf_sq *sq, void *arg);
	enum hnvmf_drain which;
	unsigned n; /* count_queue's sum */
};

static void drain_queue(struct hnvmf_sq *sq, void *arg)
{
	struct walk *w = arg;
	if (hnvmf_sq_in_drain(sq, w->which))
		sq->ops->drain(sq);
}

static void count_queue(struct hnvmf_sq *sq, void *arg)
{
	struct walk *w = arg;
	w->n += hnvmf_sq_in_drain(sq, w->which);
}

/* After the graceful time: the forced close. It is the target's own disconnect of a queue
 * (keep-alive expiry, controller deletion): the transport closes the connection at once, the
 * requests in flight complete unanswered, then hnvmf_sq_destroy. Only the transport's debug
 * line reads "disconnected by the target"; the teardown's warning names the timeout. */
static void disconnect_queue(struct hnvmf_sq *sq, void *arg)
{
	(void)arg;
	sq->ops->disconnect(sq);
}

static void walk_on_reactor(void *arg)
{
	struct walk *w = arg;
	w->t->each_queue(w->reactor, w->fn, w);
}

/* A connection's list is its reactor's alone: each reactor walks its own, one after the
 * other, while the stopping thread waits (hnvmf_reactor_call_sync). Returns count_queue's sum. */
static unsigned walk(const struct teardown *td, const struct hnvmf_queue_teardown_ops *t,
		     void (*fn)(struct hnvmf_sq *sq, void *arg), enum hnvmf_drain which)
{
	struct walk w = {.t = t, .fn = fn, .which = which};
	for (w.reactor = 0; w.reactor < td->nreactors; w.reactor++)
		hnvmf_reactor_call_sync(td->reactors[w.reactor], walk_on_reactor, &w);
	return w.n;
}

/* Every connection counts from the transport's own total: one accepted but not yet listed on
 * a reactor is not in any walk. The I/O queues are known only by walking. */
static unsigned count(const struct teardown *td, const struct hnvmf_queue_teardown_ops *t,
		      enum hnvmf_drain which)
{
	if (which == HNVMF_DRAIN_ALL)
		return t->nconns();
	return walk(td, t, count_queue, which);
}

static unsigned count_all(const struct teardown *td, enum hnvmf_drain which)
{
	unsigned c = 0;
	for (unsigned i = 0; i < td->n; i++)
		c += count(td, td->t[i], which);
	return c;
}

/* Polls (the connections close on their reactors) until none of which is left or deadline. */
static bool wait_queues(const struct teardown *td, enum hnvmf_drain which, uint64_t deadline)
{
	while (count_all(td, which) > 0) {
		if (hnvmf_now_ns() >= deadline)
			return false;
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
	}
	return true;
}

void hnvmf_queues_teardown(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			   struct hnvmf_reactor *const *reactors, unsigned nreactors,
			   unsigned timeout_ms)
{
	const struct teardown td = {t, n, reactors, nreactors};
	uint64_t tmo_ns = (uint64_t)timeout_ms * 1000000u;
	uint64_t deadline = hnvmf_now_ns() + tmo_ns;
	for (unsigned i = 0; i < n; i++) {
		t[i]->stop_accepting(); /* first: a connection accepted later would miss the walk */
		walk(&td, t[i], drain_queue, HNVMF_DRAIN_IO);
	}
	wait_queues(&td, HNVMF_DRAIN_IO, deadline);
	for (unsigned i = 0; i < n; i++)
		walk(&td, t[i], drain_queue, HNVMF_DRAIN_ALL);
	if (wait_queues(&td, HNVMF_DRAIN_ALL, deadline))
		return;
	for (unsigned i = 0; i < n; i++) {
		unsigned left = t[i]->nconns();
		if (left)
			log_warn("%s: %u connections still busy after %u ms: closing them", t[i]->name,
				 left, timeout_ms);
		walk(&td, t[i], disconnect_queue, HNVMF_DRAIN_ALL);
	}
	if (!wait_queues(&td, HNVMF_DRAIN_ALL, hnvmf_now_ns() + tmo_ns))
		for (unsigned i = 0; i < n; i++)
			if (t[i]->nconns())
				log_err("%s: %u connections never finished their I/O", t[i]->name,
					t[i]->nconns());
}
