/* Moving an NVMe/TCP connection to another reactor (hnvmf_sq_ops.move): the TCP side of the
 * protocol in transport/conn-move.h.
 *
 * Between commands means between PDUs: tcp_rx_should_pause stops the receive path before the
 * next PDU header while a move is asked for, unless H2CData is owed (then it reads on: that data
 * may sit behind the next command), and every request still executing completes as usual.
 * Requests whose responses are queued (SENDING) move with the send queue. Leaving takes the
 * socket off the old reactor's epoll, lists and per-state counts; arriving puts it on the new
 * one's and resumes reading with the bytes already received (rxbuf, and under TLS what OpenSSL
 * holds, whose state moves with the SSL object); queued responses are sent from there. */
#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

static struct tcp_reactor *reactor_of(struct hnvmf_reactor *r)
{
	int i = hnvmf_transport_reactor_index(&tcp_g.env, r);
	return i < 0 ? NULL : &tcp_g.rts[i];
}

/* Between PDUs, nothing executing, nothing waiting on the connection or its reactor. */
static bool movable(struct hnvmf_conn_move *m)
{
	const struct tcp_conn *c = container_of(m, struct tcp_conn, mv);
	if (c->state != TCP_CONN_LIVE || c->rx_state != TCP_RX_HDR || c->kick_queued ||
	    c->destroy_queued || !hnvmf_list_empty(&c->h2c_wait) || !hnvmf_list_empty(&c->buf_wait) ||
	    !reactor_of(m->to))
		return false;
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state != TCP_REQ_FREE && c->reqs[i].state != TCP_REQ_SENDING)
			return false;
	return true;
}

static bool leave(struct hnvmf_conn_move *m, struct hnvmf_reactor *to)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, mv);
	struct tcp_reactor *rt = c->rt;
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
	c->rt = reactor_of(to);
	return true;
}

static void arrive(struct hnvmf_conn_move *m)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, mv);
	struct tcp_reactor *rt = c->rt;
	tcp_reactor_adopt(rt, c);
	for (int s = TCP_REQ_NEW; s < TCP_REQ_NSTATES; s++)
		atomic_store_explicit(&rt->nreqs[s],
				      atomic_load_explicit(&rt->nreqs[s], memory_order_relaxed) + c->moved_reqs[s],
				      memory_order_relaxed);
	if (c->fd >= 0 && hnvmf_reactor_add_fd(rt->r, &c->ev, c->ev_mask) < 0) {
		log_err("tcp %s: cannot watch the socket on %s", c->sq.peer, hnvmf_reactor_name(rt->r));
		tcp_conn_close(c, "epoll failed");
		return;
	}
	if (c->state == TCP_CONN_CLOSED) { /* disconnected while in transit */
		tcp_conn_check_idle(c);
		return;
	}
	if (!hnvmf_list_empty(&c->sendq) || !hnvmf_list_empty(&c->tailq))
		tcp_send_schedule(c);
	tcp_conn_resume(c);
}

const struct hnvmf_conn_move_ops tcp_move_ops = {.movable = movable, .leave = leave, .arrive = arrive};

void tcp_sq_move(struct hnvmf_sq *sq, struct hnvmf_reactor *to)
{
	struct tcp_conn *c = container_of(sq, struct tcp_conn, sq);
	if (reactor_of(to))
		hnvmf_conn_move_request(&c->mv, to);
}
