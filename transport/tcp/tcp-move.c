/* Moving a connection to another reactor (hnvmf_sq_ops.move): a queue granted DAM goes to its DAM
 * reactor, and back to the shared reactor that accepted it when the grant is revoked.
 *
 * The move happens between PDUs with no command of the queue executing, so that nothing is lost
 * or reordered and no completion is on its way to the old reactor:
 *   1. tcp_sq_move records where to go; the receive path stops before the next PDU header
 *      (tcp_rx_should_pause), unless H2CData is owed (then it reads on: that data may sit behind
 *      the next command), and every request still executing completes as usual;
 *   2. once the connection is movable (tcp_conn_try_move, after each such step) a message on the
 *      old reactor takes it out: the target closes the queue's channels, the socket leaves that
 *      reactor's epoll, lists and per-state counts, and the queue's reactor becomes the new one;
 *   3. a message on the new reactor takes it in: lists, counts, epoll, and reading resumes with
 *      the bytes already received (rxbuf, and under TLS what OpenSSL holds, whose state moves
 *      with the SSL object); queued responses are sent from there.
 * While in transit (c->moving) neither reactor touches it, and it is not destroyed. */
#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

static struct tcp_reactor *reactor_of(struct hnvmf_reactor *r)
{
	for (unsigned i = 0; i < tcp_g.env.nreactors; i++)
		if (tcp_g.rts[i].r == r)
			return &tcp_g.rts[i];
	return NULL;
}

/* Between PDUs, nothing executing, nothing waiting on the connection or its reactor. Requests
 * whose responses are queued (SENDING) move with the send queue. */
static bool movable(const struct tcp_conn *c)
{
	if (!c->move_to || c->moving || c->state != TCP_CONN_LIVE || c->rx_state != TCP_RX_HDR ||
	    c->kick_queued || c->destroy_queued || !hnvmf_list_empty(&c->h2c_wait) ||
	    !hnvmf_list_empty(&c->buf_wait))
		return false;
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state != TCP_REQ_FREE && c->reqs[i].state != TCP_REQ_SENDING)
			return false;
	return true;
}

void tcp_conn_move_in(struct hnvmf_msg *m)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, move_in_msg);
	struct tcp_reactor *rt = c->rt;
	tcp_reactor_adopt(rt, c);
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		atomic_store_explicit(&rt->nreqs[s],
				      atomic_load_explicit(&rt->nreqs[s], memory_order_relaxed) + c->moved_reqs[s],
				      memory_order_relaxed);
	c->moving = false;
	if (c->move_to == rt->r)
		c->move_to = NULL;
	hnvmf_sq_move_in(&c->sq);
	log_debug("tcp %s: qid %u now on %s", c->sq.peer, c->sq.qid, hnvmf_reactor_name(rt->r));
	if (c->fd >= 0 && hnvmf_reactor_add_fd(rt->r, &c->ev, c->ev_mask) < 0) {
		log_err("tcp %s: cannot watch the socket on %s", c->sq.peer, hnvmf_reactor_name(rt->r));
		tcp_conn_close(c, "epoll failed");
		return;
	}
	if (c->state == TCP_CONN_CLOSED) { /* disconnected while in transit */
		tcp_conn_check_idle(c);
		return;
	}
	if (!hnvmf_list_empty(&c->sendq))
		tcp_send_schedule(c);
	tcp_conn_resume(c);
}

void tcp_conn_move_out(struct hnvmf_msg *m)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, move_out_msg);
	c->move_queued = false;
	struct tcp_reactor *to = movable(c) ? reactor_of(c->move_to) : NULL;
	if (!to)
		return; /* it changed meanwhile: the next finished step tries again */
	struct tcp_reactor *rt = c->rt;
	c->moving = true;
	hnvmf_reactor_del_fd(rt->r, &c->ev);
	hnvmf_list_del(&c->link);
	rt->nconns--;
	if (c->flush_queued) {
		hnvmf_list_del(&c->flush_link);
		c->flush_queued = false;
	}
	tcp_turn_forget(c); /* the PDUs in rxbuf are parsed on arrival (tcp_conn_resume) */
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		c->moved_reqs[s] = 0;
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state != TCP_REQ_FREE)
			c->moved_reqs[c->reqs[i].state]++;
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		atomic_store_explicit(&rt->nreqs[s],
				      atomic_load_explicit(&rt->nreqs[s], memory_order_relaxed) - c->moved_reqs[s],
				      memory_order_relaxed);
	c->rt = to;
	/* Last: from here calls for the queue go to the new reactor, behind move_in or before it
	 * (a disconnect then finds it in transit and its destroy waits for move_in). */
	hnvmf_sq_move_out(&c->sq, to->r);
	hnvmf_reactor_send(to->r, &c->move_in_msg);
}

void tcp_conn_try_move(struct tcp_conn *c)
{
	if (c->move_queued || !movable(c))
		return;
	c->move_queued = true;
	hnvmf_reactor_send(c->rt->r, &c->move_out_msg);
}

void tcp_sq_move(struct hnvmf_sq *sq, struct hnvmf_reactor *to)
{
	struct tcp_conn *c = container_of(sq, struct tcp_conn, sq);
	if (!reactor_of(to))
		return;
	c->move_to = to == c->rt->r && !c->moving ? NULL : to;
	tcp_conn_try_move(c);
}
