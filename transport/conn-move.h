/* Moving a connection (one NVMe queue) from one reactor to another between commands: a queue
 * granted DAM goes to its DAM reactor, and back to the shared reactor that accepted it when the
 * grant is revoked (hnvmf_sq_ops.move, target/tenant.c). The protocol is the same for every
 * transport; what "between commands" means and how a connection leaves and joins a reactor is
 * the transport's (hnvmf_conn_move_ops):
 *
 *   1. hnvmf_conn_move_request records where to go. From then the transport takes no new
 *      command (TCP stops reading before the next PDU header; RDMA keeps the receive
 *      completions that arrive, in order, for later) and the commands still executing
 *      complete as usual. After each step that may have made the connection movable the
 *      transport calls hnvmf_conn_move_try;
 *   2. once ops->movable says nothing executes and nothing waits on the old reactor, a message
 *      on that reactor takes the connection out: ops->leave (off the old reactor's lists and
 *      event loop), then hnvmf_sq_move_out (the target closes the queue's channels, which have
 *      nothing in flight, and sq->reactor becomes the new one), then a message to the new one;
 *   3. there hnvmf_sq_move_in, then ops->arrive: on the new reactor's lists and loop, and the
 *      commands received meanwhile are taken in the order they came.
 *
 * While in transit (moving) neither reactor touches the connection and it must not be
 * destroyed. A move asked for again while one is under way ends where the last request says.
 * Reactor threads only: the current reactor (sq->reactor) owns the state. */
#ifndef HNVMF_CONN_MOVE_H
#define HNVMF_CONN_MOVE_H

#include <stdbool.h>

#include "core/reactor.h"
#include "target/nvmf.h"

struct hnvmf_conn_move;

struct hnvmf_conn_move_ops {
	/* Between commands: nothing executes, nothing waits on the current reactor. */
	bool (*movable)(struct hnvmf_conn_move *m);
	/* On the old reactor: off its lists, counts and event loop; the transport's own notion
	 * of the connection's reactor becomes to. false: it cannot go (logged), it stays here
	 * and the request is dropped; the transport resumes it itself. */
	bool (*leave)(struct hnvmf_conn_move *m, struct hnvmf_reactor *to);
	/* On the new reactor (sq->reactor): on its lists and loop, and resume. */
	void (*arrive)(struct hnvmf_conn_move *m);
};

struct hnvmf_conn_move {
	const struct hnvmf_conn_move_ops *ops;
	struct hnvmf_sq *sq;
	struct hnvmf_reactor *to; /* asked for; NULL when none or arrived */
	bool queued;              /* out_msg sent to the current reactor */
	bool moving;              /* in transit: on neither reactor */
	struct hnvmf_msg out_msg, in_msg;
	unsigned long moves;      /* completed moves (tests, debug log) */
};

void hnvmf_conn_move_init(struct hnvmf_conn_move *m, const struct hnvmf_conn_move_ops *ops,
			  struct hnvmf_sq *sq);
/* Asks for a move to reactor to (to == the current reactor cancels a pending one). */
void hnvmf_conn_move_request(struct hnvmf_conn_move *m, struct hnvmf_reactor *to);
/* A step finished that may have made the connection movable: starts the move if it can. */
void hnvmf_conn_move_try(struct hnvmf_conn_move *m);
/* A move is asked for or under way: take no new command. */
static inline bool hnvmf_conn_move_pending(const struct hnvmf_conn_move *m)
{
	return m->to != NULL || m->moving;
}

#endif
