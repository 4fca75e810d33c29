/* [limits] on NVMe/TCP connections: stage and PDU deadlines, and the data a connection may keep
 * buffered. Nothing here reads the clock or takes a lock per I/O.
 *
 * Deadlines: each reactor has one coarse tick (a quarter of the shortest timeout, at most
 * TCP_TICK_MAX_MS) that walks its connections and ends those that overstayed a stage:
 *   accept -> ICReq (TLS handshake included)  icreq_timeout_ms    plain close (no ICResp yet)
 *   ICResp -> successful Fabrics Connect       connect_timeout_ms  plain close
 *   a PDU whose first byte came, unfinished    pdu_timeout_ms      C2HTermReq
 *   R2T queued -> all of its H2CData in        pdu_timeout_ms      C2HTermReq
 * A stalled PDU is told by the PDU counter: unchanged over pdu_timeout_ms while bytes of an
 * unfinished PDU sit in the receive state. NVMe/TCP has no FES for a timeout; the host broke the
 * PDU sequence it started (or an R2T asked for), so the C2HTermReq says PDU Sequence Error.
 *
 * Buffered data: a transfer that needs more than its slot's own buffer counts the buffer it
 * takes against conn_buffer_mib (connection, reactor-local) and buffer_mib (all connections, one
 * atomic counter) until its response is sent. A request that does not fit waits, in arrival
 * order, in WAIT_BUF (its queue slot is its ceiling) until buffers come back: from this
 * connection (a message after the release) or from any other (the tick retries). One larger
 * than conn_buffer_mib could never run and fails with Invalid Field in Command, as a transfer
 * beyond MDTS would. While a connection is at its limit and owes no H2CData, its next PDU is
 * left unparsed and EPOLLIN is off, so a host that does not take its read data stops being read
 * (back-pressure through TCP's window) instead of growing our memory. */
#include <endian.h>

#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

#define TCP_TICK_MAX_MS 100u
#define MS_NS 1000000ull

void tcp_limits_init(const struct hnvmf_conf_limits *l)
{
	tcp_g.icreq_timeout_ms = l->icreq_timeout_ms;
	tcp_g.connect_timeout_ms = l->connect_timeout_ms;
	tcp_g.pdu_timeout_ms = l->pdu_timeout_ms;
	tcp_g.icreq_timeout_ns = l->icreq_timeout_ms * MS_NS;
	tcp_g.connect_timeout_ns = l->connect_timeout_ms * MS_NS;
	tcp_g.pdu_timeout_ns = l->pdu_timeout_ms * MS_NS;
	unsigned shortest = l->icreq_timeout_ms;
	if (l->connect_timeout_ms < shortest)
		shortest = l->connect_timeout_ms;
	if (l->pdu_timeout_ms < shortest)
		shortest = l->pdu_timeout_ms;
	tcp_g.tick_ms = shortest / 4 < TCP_TICK_MAX_MS ? shortest / 4 : TCP_TICK_MAX_MS;
	if (tcp_g.tick_ms == 0)
		tcp_g.tick_ms = 1;
	tcp_g.conn_buf_limit = (uint64_t)l->conn_buffer_mib << 20;
	tcp_g.buf_limit = (uint64_t)l->buffer_mib << 20;
	atomic_init(&tcp_g.buffered, 0);
	hnvmf_conn_limits_init(l);
}

static bool conn_running(const struct tcp_conn *c)
{
	return c->state == TCP_CONN_LIVE || c->state == TCP_CONN_DRAINING;
}

/* ---- buffered data ---------------------------------------------------------------------- */

/* Counts size bytes for c: false when the connection or the global pool has no room. */
static bool reserve(struct tcp_conn *c, uint64_t size)
{
	if (c->buffered + size > tcp_g.conn_buf_limit)
		return false;
	uint64_t before = atomic_fetch_add_explicit(&tcp_g.buffered, size, memory_order_relaxed);
	if (before + size > tcp_g.buf_limit) {
		atomic_fetch_sub_explicit(&tcp_g.buffered, size, memory_order_relaxed);
		return false;
	}
	c->buffered += size;
	return true;
}

int tcp_req_buffer(struct tcp_req *t)
{
	struct tcp_conn *c = t->conn;
	if (t->req.data_len <= c->icd_size)
		return 1; /* the slot's own buffer, allocated with the connection */
	uint64_t size = tcp_buf_footprint(&c->rt->cache, t->req.data_len);
	if (size > tcp_g.conn_buf_limit)
		return -1;
	if (!hnvmf_list_empty(&c->buf_wait) || !reserve(c, size)) {
		tcp_req_set_state(t, TCP_REQ_WAIT_BUF);
		hnvmf_list_add_tail(&c->buf_wait, &t->wait_link);
		return 0;
	}
	t->buffered = size;
	return 1;
}

/* Runs the waiting requests that fit now, oldest first. */
static void grant(struct tcp_conn *c)
{
	while (!hnvmf_list_empty(&c->buf_wait) && conn_running(c)) {
		struct tcp_req *t = container_of(c->buf_wait.next, struct tcp_req, wait_link);
		uint64_t size = tcp_buf_footprint(&c->rt->cache, t->req.data_len);
		if (!reserve(c, size))
			return;
		hnvmf_list_del(&t->wait_link);
		t->buffered = size;
		tcp_req_buffer_ready(t);
	}
}

static void resume(struct tcp_conn *c)
{
	c->rx_paused = false;
	tcp_conn_set_events(c);
	tcp_rx_process(c); /* the PDUs already in rxbuf */
	/* Bytes TLS already decrypted get no readiness event. */
	if (!c->rx_paused && c->rx_state != TCP_RX_STOPPED && c->ssl)
		tcp_conn_readable(c);
}

bool tcp_rx_should_pause(struct tcp_conn *c)
{
	/* Owed H2CData may sit behind the next PDU: reading on is what frees those buffers. */
	if (!hnvmf_list_empty(&c->h2c_wait))
		return false;
	/* A move waits for a point between PDUs: no new command starts here (tcp-move.c). */
	if (c->mv.to)
		hnvmf_conn_move_try(&c->mv);
	else if (c->buffered < tcp_g.conn_buf_limit && hnvmf_list_empty(&c->buf_wait))
		return false;
	if (!c->rx_paused) {
		c->rx_paused = true;
		tcp_conn_set_events(c);
	}
	return true;
}

/* Grants what fits, then reads on if the connection may: a write just granted needs its
 * H2CData read. */
static void grant_and_resume(struct tcp_conn *c)
{
	grant(c);
	if (c->rx_paused && conn_running(c) && !tcp_rx_should_pause(c))
		resume(c);
}

void tcp_conn_resume(struct tcp_conn *c)
{
	c->rx_paused = true; /* whether it paused or not: resume reads what is already here */
	grant_and_resume(c);
}

/* After a release, outside the send and receive paths that released. */
void tcp_conn_kick(struct hnvmf_msg *m)
{
	struct tcp_conn *c = container_of(m, struct tcp_conn, kick_msg);
	c->kick_queued = false;
	if (!conn_running(c)) {
		tcp_conn_check_idle(c); /* a closed connection waited for this message to go */
		return;
	}
	grant_and_resume(c);
}

void tcp_req_unbuffer(struct tcp_req *t)
{
	struct tcp_conn *c = t->conn;
	if (!t->buffered)
		return;
	c->buffered -= t->buffered;
	atomic_fetch_sub_explicit(&tcp_g.buffered, t->buffered, memory_order_relaxed);
	t->buffered = 0;
	if (!c->kick_queued && conn_running(c) &&
	    (c->rx_paused || !hnvmf_list_empty(&c->buf_wait))) {
		c->kick_queued = true;
		hnvmf_reactor_send(c->rt->r, &c->kick_msg);
	}
}

/* ---- deadlines ---------------------------------------------------------------------------- */

void tcp_h2c_wait_add(struct tcp_req *t)
{
	t->r2t_ns = t->conn->rt->now_ns;
	hnvmf_list_add_tail(&t->conn->h2c_wait, &t->wait_link);
}

void tcp_h2c_wait_del(struct tcp_req *t)
{
	hnvmf_list_del(&t->wait_link);
}

static void stage_expired(struct tcp_conn *c)
{
	if (conn_running(c)) {
		log_info("tcp %s: no Fabrics Connect within %u ms of the ICResp: closing", c->sq.peer,
			 tcp_g.connect_timeout_ms);
		tcp_conn_close(c, "Connect timeout");
		return;
	}
	log_info("tcp %s: no %s within %u ms: closing", c->sq.peer,
		 c->state == TCP_CONN_WAIT_ICREQ ? "ICReq" : "TLS handshake", tcp_g.icreq_timeout_ms);
	tcp_conn_close(c, "ICReq timeout");
}

/* Bytes of a PDU are in and the rest is not (a paused connection's next PDU is ours to wait).
 * Under TLS they may still sit in OpenSSL, in a record not complete yet. */
static bool rx_unfinished(const struct tcp_conn *c)
{
	if (c->rx_paused)
		return false;
	if (c->rx_state == TCP_RX_HDR)
		return c->rx_end > c->rx_start || tcp_tls_partial_record(c);
	return c->rx_state != TCP_RX_STOPPED;
}

static void check_rx(struct tcp_conn *c, uint64_t now)
{
	if (!rx_unfinished(c)) {
		c->rx_stalled = false;
		return;
	}
	if (!c->rx_stalled || c->rx_pdus_seen != c->rx_pdus) {
		c->rx_stalled = true;
		c->rx_pdus_seen = c->rx_pdus;
		c->rx_stall_ns = now;
		return;
	}
	if (now - c->rx_stall_ns < tcp_g.pdu_timeout_ns)
		return;
	log_info("tcp %s: PDU not complete within %u ms: terminating", c->sq.peer,
		 tcp_g.pdu_timeout_ms);
	tcp_conn_terminate(c, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, c->rx_pdu, 0);
}

static void check_h2c(struct tcp_conn *c, uint64_t now)
{
	if (hnvmf_list_empty(&c->h2c_wait))
		return;
	struct tcp_req *t = container_of(c->h2c_wait.next, struct tcp_req, wait_link);
	/* r2t_ns is the tick before the R2T: up to one tick early. */
	if (now - t->r2t_ns < tcp_g.pdu_timeout_ns + tcp_g.tick_ms * MS_NS)
		return;
	log_info("tcp %s: no H2CData within %u ms of the R2T (cid %u): terminating", c->sq.peer,
		 tcp_g.pdu_timeout_ms, le16toh(t->sqe.common.cid));
	tcp_conn_terminate(c, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, c->rx_pdu, 0);
}

static void conn_tick(struct tcp_conn *c, uint64_t now)
{
	switch (c->state) {
	case TCP_CONN_TLS_HANDSHAKE:
	case TCP_CONN_WAIT_ICREQ:
		if (now >= c->stage_deadline_ns)
			stage_expired(c);
		return;
	case TCP_CONN_LIVE:
	case TCP_CONN_DRAINING:
		if (c->stage_deadline_ns && now >= c->stage_deadline_ns) {
			stage_expired(c);
			return;
		}
		check_rx(c, now);
		if (conn_running(c))
			check_h2c(c, now);
		if (conn_running(c))
			grant_and_resume(c); /* room other connections gave back */
		return;
	default:
		return;
	}
}

static void tick(struct hnvmf_timer *tm)
{
	struct tcp_reactor *rt = container_of(tm, struct tcp_reactor, tick);
	uint64_t now = hnvmf_now_ns();
	rt->now_ns = now;
	struct hnvmf_list *pos, *tmp;
	/* Ending a connection here only closes it; it leaves rt->conns later, from a message. */
	hnvmf_list_for_each_safe(pos, tmp, &rt->conns)
		conn_tick(container_of(pos, struct tcp_conn, link), now);
	hnvmf_timer_arm(rt->r, &rt->tick, tcp_g.tick_ms);
}

void tcp_tick_start(struct tcp_reactor *rt)
{
	if (rt->tick_on)
		return;
	rt->tick.cb = tick;
	hnvmf_list_init(&rt->tick.link);
	rt->now_ns = hnvmf_now_ns();
	hnvmf_timer_arm(rt->r, &rt->tick, tcp_g.tick_ms);
	rt->tick_on = true;
}

void tcp_tick_stop(struct tcp_reactor *rt)
{
	if (rt->tick_on)
		hnvmf_timer_cancel(rt->r, &rt->tick);
	rt->tick_on = false;
}
