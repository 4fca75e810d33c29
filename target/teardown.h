/* Queue teardown at daemon stop, written once for every transport (nvmet's nvmet_sq_destroy
 * plays this part per queue): the order, the waiting and the walks over the reactors are the
 * target's; a transport only stops accepting, lists the queues each reactor serves, and says
 * how many connections it still has. What happens to one queue goes through its own ops
 * (struct hnvmf_sq_ops: drain, disconnect), as every other per-queue action does.
 *
 *   1. every transport stops accepting and drains its I/O queues: no new command is read, the
 *      in-flight ones are answered, then the connection closes (hnvmf_sq_destroy);
 *   2. once no I/O queue is left, the admin queues (and queues never connected) drain alike:
 *      closing an admin queue ends its controller, which would cut I/O queues off mid-command;
 *   3. after timeout_ms, whatever is still open is disconnected: its commands complete,
 *      unanswered. */
#ifndef HNVMF_TEARDOWN_H
#define HNVMF_TEARDOWN_H

#include <stdbool.h>

#define HNVMF_SHUTDOWN_TIMEOUT_MS 10000 /* graceful drain bound at daemon stop */

enum hnvmf_drain {
	HNVMF_DRAIN_IO,  /* the I/O queues (every queue but a controller's admin queue) */
	HNVMF_DRAIN_ALL, /* every queue */
};

struct hnvmf_sq;
struct hnvmf_reactor;

/* What only a transport can do for the teardown. */
struct hnvmf_queue_teardown_ops {
	const char *name;
	/* From the stopping thread, once, before any walk: closes the listeners and refuses new
	 * connections; one accepted earlier but not yet on its reactor drains when it gets there
	 * (so the walks, which see only listed connections, miss nothing). */
	void (*stop_accepting)(void);
	/* On the thread of reactors[reactor_index] (the env's array, given to every transport):
	 * fn on each connection that reactor serves. fn may close or destroy the connection it is
	 * given, so the walk must survive its removal from the list. */
	void (*each_queue)(unsigned reactor_index, void (*fn)(struct hnvmf_sq *sq, void *arg),
			   void *arg);
	/* From any thread: the connections not yet destroyed, including those accepted and not
	 * yet listed on a reactor (which no walk can count). */
	unsigned (*nconns)(void);
};

/* Whether the drain or count of which takes sq: an I/O queue is any queue but a controller's
 * admin queue (one not yet connected drains with the I/O queues). */
bool hnvmf_sq_in_drain(const struct hnvmf_sq *sq, enum hnvmf_drain which);

/* Steps 1 to 3 over n transports at once, walking the nreactors reactors the transports were
 * given (struct hnvmf_transport_env) with hnvmf_reactor_call_sync; returns when every
 * connection is destroyed or, after a second timeout_ms, gives up logging how many never
 * finished. */
void hnvmf_queues_teardown(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			   struct hnvmf_reactor *const *reactors, unsigned nreactors,
			   unsigned timeout_ms);

#endif
