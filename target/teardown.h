/* Queue teardown at daemon stop, written once for every transport (nvmet's nvmet_sq_destroy
 * plays this part per queue): the order and the waiting are the target's; a transport only
 * stops its queues reading, counts them, and closes its own resources (socket, QP, buffers).
 *
 *   1. every transport drains its I/O queues: no new command is read, the in-flight ones are
 *      answered, then the connection closes (hnvmf_sq_destroy);
 *   2. once no I/O queue is left, the admin queues (and queues never connected) drain alike:
 *      closing an admin queue ends its controller, which would cut I/O queues off mid-command;
 *   3. after timeout_ms, whatever is still open is closed: its commands complete, unanswered. */
#ifndef HNVMF_TEARDOWN_H
#define HNVMF_TEARDOWN_H

#include <stdbool.h>

#define HNVMF_SHUTDOWN_TIMEOUT_MS 10000 /* graceful drain bound at daemon stop */

enum hnvmf_drain {
	HNVMF_DRAIN_IO,  /* the I/O queues (every queue but a controller's admin queue) */
	HNVMF_DRAIN_ALL, /* every queue */
};

/* What the teardown needs from a transport; each call from the stopping thread. */
struct hnvmf_queue_teardown_ops {
	const char *name;
	/* No new connection; on every reactor, the queues of which read no new command and close
	 * once their in-flight commands are answered. */
	void (*drain)(enum hnvmf_drain which);
	/* The connections of which not yet destroyed. */
	unsigned (*count)(enum hnvmf_drain which);
	/* Closes every connection now. */
	void (*close_all)(void);
};

struct hnvmf_sq;

/* Whether a transport's drain or count of which takes the connection of sq: an I/O queue is any
 * queue but a controller's admin queue (one not yet connected drains with the I/O queues). */
bool hnvmf_sq_in_drain(const struct hnvmf_sq *sq, enum hnvmf_drain which);

/* Steps 1 to 3 over n transports at once; returns when every connection is destroyed or, after
 * a second timeout_ms, gives up logging how many never finished. */
void hnvmf_queues_teardown(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			   unsigned timeout_ms);

#endif
