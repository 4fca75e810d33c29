/* A connection's life, on its reactor's thread:
 *
 *   WAIT_ICREQ --ICReq--> LIVE --shutdown--> DRAINING --idle--> CLOSED --no request--> destroyed
 *        |                  |-- fatal PDU error, PDU timeout --> TERMINATING --sent--> CLOSED
 *        '-- stage timeout (tcp-limits.c), EOF, error, disconnect op (any state) ----> CLOSED
 *
 * CLOSED: the socket is shut down and closed, queued PDUs are dropped, requests waiting for
 * H2CData are completed (their responses dropped); requests the target still executes come
 * back through queue_response and are released. When no slot is busy the queue is destroyed
 * (hnvmf_sq_destroy) from a message, never from inside a target callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

static void conn_timer_fired(struct hnvmf_timer *t);
static void conn_event(struct hnvmf_event *ev, uint32_t revents);
static void conn_destroy_msg(struct hnvmf_msg *m);
/* c joins rt's connections (at start, or arriving by a move): the reactor's send flusher and
 * tick run while it has connections. */
void tcp_reactor_adopt(struct tcp_reactor *rt, struct tcp_conn *c)
{
	hnvmf_list_add_tail(&rt->conns, &c->link);
	rt->nconns++;
	if (!rt->poller_on) {
		/* First in the iteration: a turn starts with what last turn's budgets left. */
		rt->turn_poller.fn = tcp_turn_poller;
		hnvmf_reactor_add_poller(rt->r, &rt->turn_poller);
		rt->poller.fn = tcp_send_poller;
		/* Last in the iteration: responses the engine completed in it leave at once. */
		hnvmf_reactor_add_flusher(rt->r, &rt->poller);
		rt->poller_on = true;
	}
	tcp_tick_start(rt);
}

static void conn_start_msg(struct hnvmf_msg *m);

static void tcp_sq_disconnect(struct hnvmf_sq *sq)
{
	struct tcp_conn *c = container_of(sq, struct tcp_conn, sq);
	tcp_conn_close(c, "disconnected by the target");
}

static void tcp_sq_drain(struct hnvmf_sq *sq)
{
	tcp_conn_drain(container_of(sq, struct tcp_conn, sq));
}

const struct hnvmf_sq_ops tcp_sq_ops = {
	.queue_response = tcp_queue_response,
	.disconnect = tcp_sq_disconnect,
	.drain = tcp_sq_drain,
	.move = tcp_sq_move,
	.name = "tcp",
};

static void term_sent(struct tcp_send *s, bool dropped)
{
	struct tcp_conn *c = container_of(s, struct tcp_conn, term_snd);
	if (!dropped)
		tcp_conn_close(c, "C2HTermReq sent");
}

struct tcp_conn *tcp_conn_create(struct tcp_reactor *rt, struct hnvmf_port *port, int fd,
				 const char *peer)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->rxbuf = malloc(TCP_RX_BUF_SIZE);
	if (!c->rxbuf) {
		free(c);
		return NULL;
	}
	c->rt = rt;
	c->port = port;
	c->fd = fd;
	c->state = TCP_CONN_WAIT_ICREQ;
	c->rx_state = TCP_RX_HDR;
	c->ev.fd = fd;
	c->ev.cb = conn_event;
	c->timer.cb = conn_timer_fired;
	hnvmf_list_init(&c->timer.link);
	c->start_msg.fn = conn_start_msg;
	c->destroy_msg.fn = conn_destroy_msg;
	c->kick_msg.fn = tcp_conn_kick;
	hnvmf_conn_move_init(&c->mv, &tcp_move_ops, &c->sq);
	hnvmf_list_init(&c->buf_wait);
	hnvmf_list_init(&c->h2c_wait);
	hnvmf_list_init(&c->link);
	hnvmf_list_init(&c->sendq);
	hnvmf_list_init(&c->tailq);
	hnvmf_list_init(&c->flush_link);
	hnvmf_list_init(&c->more_link);
	snprintf(c->sq.peer, sizeof(c->sq.peer), "%s", peer);
	atomic_fetch_add(&tcp_g.nconns, 1);
	return c;
}

static void conn_start_msg(struct hnvmf_msg *m)
{
	tcp_conn_start(container_of(m, struct tcp_conn, start_msg));
}

void tcp_conn_start(struct tcp_conn *c)
{
	struct tcp_reactor *rt = c->rt;
	char peer[sizeof(c->sq.peer)];
	memcpy(peer, c->sq.peer, sizeof(peer));
	hnvmf_sq_init(&c->sq, tcp_g.env.tgt, c->port, rt->r, &tcp_sq_ops);
	memcpy(c->sq.peer, peer, sizeof(peer));
	tcp_reactor_adopt(rt, c);
	c->stage_deadline_ns = hnvmf_now_ns() + tcp_g.icreq_timeout_ns;
	if (c->port && c->port->conf.tls && tcp_tls_conn_start(c) < 0) {
		log_err("tcp %s: cannot set up TLS", c->sq.peer);
		tcp_conn_close(c, "TLS setup failed");
		return;
	}
	c->ev_mask = EPOLLIN;
	if (hnvmf_reactor_add_fd(rt->r, &c->ev, c->ev_mask) < 0) {
		log_err("tcp %s: cannot watch the socket", c->sq.peer);
		c->ev_mask = 0;
		tcp_conn_close(c, "epoll failed");
		return;
	}
	log_debug("tcp %s: connected on %s", c->sq.peer, hnvmf_reactor_name(rt->r));
	if (atomic_load(&tcp_g.shutting_down))
		tcp_conn_drain(c);
}

int tcp_conn_alloc_reqs(struct tcp_conn *c)
{
	unsigned n = tcp_g.queue_slots;
	size_t icd = tcp_g.icd_size;
	c->reqs = calloc(n, sizeof(*c->reqs));
	c->icd_mem = aligned_alloc(4096, icd * n);
	if (!c->reqs || !c->icd_mem) {
		free(c->reqs);
		free(c->icd_mem);
		c->reqs = NULL;
		c->icd_mem = NULL;
		return -ENOMEM;
	}
	c->nreqs = n;
	c->icd_size = (uint32_t)icd;
	c->free_reqs = NULL;
	for (unsigned i = n; i-- > 0;) {
		struct tcp_req *t = &c->reqs[i];
		t->conn = c;
		t->ttag = (uint16_t)i;
		t->icd = c->icd_mem + icd * i;
		t->state = TCP_REQ_FREE; /* a new slot: not a state change, nothing to count */
		hnvmf_list_init(&t->snd.link);
		hnvmf_list_init(&t->tail_snd.link);
		t->next_free = c->free_reqs;
		c->free_reqs = t;
	}
	return 0;
}

/* Reads while the connection still accepts PDUs; EPOLLOUT while the socket is full. */
void tcp_conn_set_events(struct tcp_conn *c)
{
	if (c->fd < 0)
		return;
	uint32_t mask = 0;
	if ((c->state == TCP_CONN_TLS_HANDSHAKE || c->state == TCP_CONN_WAIT_ICREQ ||
	     c->state == TCP_CONN_LIVE || c->state == TCP_CONN_DRAINING) && !c->rx_paused)
		mask |= EPOLLIN;
	if (c->want_out)
		mask |= EPOLLOUT;
	if (mask == c->ev_mask)
		return;
	c->ev_mask = mask;
	hnvmf_reactor_mod_fd(c->rt->r, &c->ev, mask);
}

/* Ends every request that waits on the connection rather than on the target. */
static void end_waiting_requests(struct tcp_conn *c)
{
	if (c->rx_req && c->rx_req->state == TCP_REQ_CAPSULE_DATA)
		tcp_req_release(c->rx_req);
	c->rx_req = NULL;
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state == TCP_REQ_WAIT_H2C || c->reqs[i].state == TCP_REQ_WAIT_BUF)
			tcp_req_abort(&c->reqs[i]);
}

void tcp_conn_terminate(struct tcp_conn *c, enum hnvmf_tcp_fes fes, uint32_t fei,
			const void *hdr, size_t hdr_len)
{
	if (c->state == TCP_CONN_TERMINATING || c->state == TCP_CONN_CLOSED)
		return;
	log_warn("tcp %s: fatal transport error (FES %u, FEI %u): terminating the connection",
		 c->sq.peer, (unsigned)fes, fei);
	c->state = TCP_CONN_TERMINATING;
	c->rx_state = TCP_RX_STOPPED;
	tcp_conn_set_events(c);
	/* Nothing queued matters to a peer about to be cut off, but a PDU already partly on
	 * the wire must be finished so that the C2HTermReq is framed. */
	tcp_send_drop_all(c, true);
	if (!tcp_send_prepare(c, &c->term_snd, term_sent))
		return;

	if (hdr_len > HNVMF_TCP_TERM_MAX_DATA)
		hdr_len = HNVMF_TCP_TERM_MAX_DATA;
	struct hnvmf_tcp_term *t = (struct hnvmf_tcp_term *)c->term_pdu;
	memset(c->term_pdu, 0, sizeof(c->term_pdu));
	t->hdr.type = HNVMF_TCP_C2H_TERM;
	t->hdr.hlen = sizeof(*t);
	t->hdr.plen = htole32((uint32_t)(sizeof(*t) + hdr_len));
	t->fes = htole16((uint16_t)fes);
	t->fei = htole32(fei);
	memcpy(c->term_pdu + sizeof(*t), hdr, hdr_len);
	tcp_send_add(&c->term_snd, c->term_pdu, sizeof(*t) + hdr_len);
	tcp_send_queue(c, &c->term_snd);

	end_waiting_requests(c);
	hnvmf_timer_arm(c->rt->r, &c->timer, TCP_TERM_LINGER_MS);
}

/* Requests the target holds without a deadline (AERs) are completed once teardown starts. */
static void quiesce(struct tcp_conn *c)
{
	if (c->quiesced)
		return;
	c->quiesced = true;
	hnvmf_sq_quiesce(&c->sq);
}

static void conn_maybe_destroy(struct tcp_conn *c)
{
	if (c->state != TCP_CONN_CLOSED || c->nbusy > 0 || c->destroy_queued || c->kick_queued || c->mv.moving)
		return;
	c->destroy_queued = true;
	hnvmf_reactor_send(c->rt->r, &c->destroy_msg);
}

void tcp_conn_close(struct tcp_conn *c, const char *why)
{
	if (c->state == TCP_CONN_CLOSED)
		return;
	log_debug("tcp %s: closing: %s", c->sq.peer, why);
	c->state = TCP_CONN_CLOSED;
	c->rx_state = TCP_RX_STOPPED;
	hnvmf_timer_cancel(c->rt->r, &c->timer);
	if (c->flush_queued) {
		hnvmf_list_del(&c->flush_link);
		c->flush_queued = false;
	}
	tcp_turn_forget(c);
	if (c->fd >= 0) {
		hnvmf_reactor_del_fd(c->rt->r, &c->ev);
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
		c->fd = -1;
	}
	tcp_send_drop_all(c, false);
	end_waiting_requests(c);
	quiesce(c);
	conn_maybe_destroy(c);
}

void tcp_conn_drain(struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_CONN_TLS_HANDSHAKE:
	case TCP_CONN_WAIT_ICREQ:
		tcp_conn_close(c, "shutdown");
		return;
	case TCP_CONN_LIVE:
		c->state = TCP_CONN_DRAINING;
		quiesce(c); /* held AERs complete now, so the queue can become idle */
		tcp_conn_check_idle(c);
		return;
	default:
		return;
	}
}

void tcp_conn_check_idle(struct tcp_conn *c)
{
	if (c->state == TCP_CONN_CLOSED) {
		conn_maybe_destroy(c);
		return;
	}
	if (c->state == TCP_CONN_DRAINING && c->nbusy == 0 && hnvmf_list_empty(&c->sendq))
		tcp_conn_close(c, "drained");
	else
		hnvmf_conn_move_try(&c->mv); /* a request or send finished: it may be movable now */
}

static void conn_timer_fired(struct hnvmf_timer *t)
{
	struct tcp_conn *c = container_of(t, struct tcp_conn, timer);
	if (c->state == TCP_CONN_TERMINATING)
		tcp_conn_close(c, "C2HTermReq not sent in time");
}

static void conn_event(struct hnvmf_event *ev, uint32_t revents)
{
	struct tcp_conn *c = container_of(ev, struct tcp_conn, ev);
	if (c->state == TCP_CONN_TLS_HANDSHAKE) {
		if (revents & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_tls_handshake(c);
		return;
	}
	if (revents & EPOLLIN)
		tcp_conn_readable(c);
	if ((revents & EPOLLOUT) && c->state != TCP_CONN_CLOSED)
		tcp_send_flush(c);
	if ((revents & (EPOLLERR | EPOLLHUP)) && c->state != TCP_CONN_CLOSED &&
	    !(revents & EPOLLIN))
		tcp_conn_close(c, "socket error or hang-up");
}

static void conn_destroy_msg(struct hnvmf_msg *m)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, destroy_msg);
	struct tcp_reactor *rt = c->rt;
	unsigned inflight = atomic_load(&c->sq.inflight);
	if (inflight != 0)
		log_warn("tcp %s: %u requests still counted in flight at destroy", c->sq.peer,
			 inflight);
	log_debug("tcp %s: destroyed (%llu commands, %llu bytes in, %llu out, %llu errors, "
		  "%llu recv/send calls, %llu data bytes copied from the receive buffer, "
		  "%llu response windows, %llu timed out, %llu flushes in halves)", c->sq.peer,
		  (unsigned long long)c->stats.cmds, (unsigned long long)c->stats.rx_bytes,
		  (unsigned long long)c->stats.tx_bytes, (unsigned long long)c->stats.errors,
		  (unsigned long long)c->stats.syscalls, (unsigned long long)c->stats.rx_copied,
		  (unsigned long long)c->stats.holds, (unsigned long long)c->stats.hold_timeouts,
		  (unsigned long long)c->stats.halves);
	hnvmf_sq_destroy(&c->sq);
	hnvmf_list_del(&c->link);
	rt->nconns--;
	tcp_tls_free(c);
	free(c->reqs);
	free(c->icd_mem);
	free(c->rxbuf);
	hnvmf_conn_release(&c->ticket);
	free(c);
	atomic_fetch_sub(&tcp_g.nconns, 1);
}
