/* The transport-independent part of a connection's move between reactors (conn-move.h):
 * asking, the two messages, and the hand-over of the queue (hnvmf_sq_move_out / _in). */
#include "transport/conn-move.h"

#include "core/log.h"

static void move_out(struct hnvmf_msg *msg);
static void move_in(struct hnvmf_msg *msg);

void hnvmf_conn_move_init(struct hnvmf_conn_move *m, const struct hnvmf_conn_move_ops *ops,
			  struct hnvmf_sq *sq)
{
	*m = (struct hnvmf_conn_move){.ops = ops, .sq = sq, .out_msg.fn = move_out, .in_msg.fn = move_in};
}

void hnvmf_conn_move_try(struct hnvmf_conn_move *m)
{
	if (!m->to || m->queued || m->moving || !m->ops->movable(m))
		return;
	/* From a message, not from here: the caller may be deep in a completion or a parse. */
	m->queued = true;
	hnvmf_reactor_send(m->sq->reactor, &m->out_msg);
}

void hnvmf_conn_move_request(struct hnvmf_conn_move *m, struct hnvmf_reactor *to)
{
	/* In transit, sq->reactor is already the destination: a request to go back is kept and
	 * taken up on arrival. */
	m->to = to == m->sq->reactor && !m->moving ? NULL : to;
	hnvmf_conn_move_try(m);
}

/* On the old reactor. */
static void move_out(struct hnvmf_msg *msg)
{
	struct hnvmf_conn_move *m = container_of(msg, struct hnvmf_conn_move, out_msg);
	m->queued = false;
	struct hnvmf_reactor *to = m->to;
	if (!to || m->moving || !m->ops->movable(m))
		return; /* it changed meanwhile: the next finished step tries again */
	/* In transit from before leave: once an RDMA CM id is migrated, the new reactor may see
	 * its events while this one still finishes here (rdma_conn_cm_event defers them). */
	m->moving = true;
	if (!m->ops->leave(m, to)) {
		m->moving = false;
		m->to = NULL;
		return;
	}
	/* Last: from here calls for the queue go to the new reactor, behind in_msg or before it
	 * (a disconnect then finds it in transit and its destroy waits for the arrival). */
	hnvmf_sq_move_out(m->sq, to);
	hnvmf_reactor_send(to, &m->in_msg);
}

/* On the new reactor. */
static void move_in(struct hnvmf_msg *msg)
{
	struct hnvmf_conn_move *m = container_of(msg, struct hnvmf_conn_move, in_msg);
	m->moving = false;
	m->moves++;
	if (m->to == m->sq->reactor)
		m->to = NULL;
	hnvmf_sq_move_in(m->sq);
	log_debug("%s %s: qid %u now on %s", m->sq->ops->name, m->sq->peer, m->sq->qid,
		  hnvmf_reactor_name(m->sq->reactor));
	m->ops->arrive(m);
	/* Asked to go elsewhere while in transit: on from here once movable. */
	hnvmf_conn_move_try(m);
}
