/* A request's life on a connection (the states of enum tcp_req_state, tcp-internal.h):
 *
 *   FREE -> NEW -> [CAPSULE_DATA] -> hnvmf_req_init -> [WAIT_BUF] -> [WAIT_H2C: R2T, H2CData]
 *        -> EXECUTING -> queue_response -> SENDING (C2HData + CapsuleResp queued) -> FREE
 *
 * Data buffers: a transfer that fits the slot's in-capsule buffer uses it; a larger one takes
 * a buffer from the reactor's cache until its response is sent, counted against [limits]
 * (tcp-limits.c), and may wait for room in WAIT_BUF first. Read data is sent straight from that
 * buffer (the iovecs point into it), never copied. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proto/tcp-digest.h"
#include "transport/tcp/tcp-internal.h"

static const uint8_t zero_pad[TCP_MAX_PDO_PAD];

#define S(x) (1u << TCP_REQ_##x)
/* Per state: the states it may move to (see enum tcp_req_state). */
static const unsigned allowed_next[TCP_REQ_NSTATES] = {
	[TCP_REQ_FREE] = S(NEW),
	[TCP_REQ_NEW] = S(CAPSULE_DATA) | S(WAIT_BUF) | S(WAIT_H2C) | S(EXECUTING) | S(SENDING) | S(FREE),
	[TCP_REQ_CAPSULE_DATA] = S(WAIT_BUF) | S(WAIT_H2C) | S(EXECUTING) | S(SENDING) | S(FREE),
	[TCP_REQ_WAIT_BUF] = S(WAIT_H2C) | S(EXECUTING) | S(SENDING) | S(FREE),
	[TCP_REQ_WAIT_H2C] = S(EXECUTING) | S(SENDING) | S(FREE),
	[TCP_REQ_EXECUTING] = S(SENDING) | S(FREE),
	[TCP_REQ_SENDING] = S(FREE),
};
#undef S

bool tcp_req_state_allowed(enum tcp_req_state from, enum tcp_req_state to)
{
	return from < TCP_REQ_NSTATES && to < TCP_REQ_NSTATES && (allowed_next[from] >> to & 1u);
}

/* The reactor's per-state counts have one writer: plain increments, no locked instruction. */
static void count(_Atomic uint32_t *n, int delta)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (uint32_t)delta,
			      memory_order_relaxed);
}

void tcp_req_set_state(struct tcp_req *t, enum tcp_req_state to)
{
	struct tcp_conn *c = t->conn;
	enum tcp_req_state from = t->state;
	bool ok = tcp_req_state_allowed(from, to);
	assert(ok && "tcp request: state change not in the table");
	if (from != TCP_REQ_FREE)
		count(&c->rt->nreqs[from], -1);
	if (to != TCP_REQ_FREE)
		count(&c->rt->nreqs[to], 1);
	t->state = to;
	if (!ok) {
		/* A bug, not the host's doing: this connection's requests can no longer be trusted. */
		atomic_fetch_add_explicit(&c->rt->bad_transitions, 1, memory_order_relaxed);
		log_err("tcp %s: request cid %u: state %d -> %d is not allowed", c->sq.peer,
			le16toh(t->sqe.common.cid), (int)from, (int)to);
		tcp_conn_close(c, "request state");
	}
}

struct tcp_req *tcp_req_get(struct tcp_conn *c)
{
	struct tcp_req *t = c->free_reqs;
	if (!t)
		return NULL;
	c->free_reqs = t->next_free;
	if (++c->nbusy > c->nbusy_max)
		c->nbusy_max = c->nbusy;
	t->ddgst_error = false;
	t->release_when_sent = false;
	t->icd_len = 0;
	t->h2c_done = 0;
	t->data = NULL;
	t->buf_class = TCP_BUF_NONE;
	tcp_req_set_state(t, TCP_REQ_NEW);
	return t;
}

void tcp_req_release(struct tcp_req *t)
{
	struct tcp_conn *c = t->conn;
	if (t->snd.queued || t->tail_snd.queued) {
		/* Its PDU is still queued (partly on the wire): free it once it is gone. */
		t->release_when_sent = true;
		return;
	}
	if (t->buf_class != TCP_BUF_NONE && t->buf_class != TCP_BUF_SLOT)
		tcp_buf_put(&c->rt->cache, t->data, t->buf_class);
	tcp_req_unbuffer(t);
	t->data = NULL;
	t->buf_class = TCP_BUF_NONE;
	tcp_req_set_state(t, TCP_REQ_FREE);
	t->next_free = c->free_reqs;
	c->free_reqs = t;
	c->nbusy--;
	tcp_conn_check_idle(c);
}

static bool status_ok(const struct hnvmf_req *req)
{
	return req->status == 0;
}

static void complete(struct tcp_req *t, uint16_t status)
{
	hnvmf_req_complete(&t->req, status);
}

static void execute(struct tcp_req *t)
{
	tcp_req_set_state(t, TCP_REQ_EXECUTING);
	hnvmf_req_execute(&t->req);
}

/* A buffer for data_len bytes, in req->iov. */
static bool map_buffer(struct tcp_req *t)
{
	struct hnvmf_req *req = &t->req;
	uint32_t len = req->data_len;
	if (len <= t->conn->icd_size) {
		t->data = t->icd;
		t->buf_class = TCP_BUF_SLOT;
	} else {
		t->data = tcp_buf_get(&t->conn->rt->cache, len, &t->buf_class);
		if (!t->data) {
			t->buf_class = TCP_BUF_NONE;
			return false;
		}
	}
	req->iov[0].iov_base = t->data;
	req->iov[0].iov_len = len;
	req->iovcnt = 1;
	req->iov_replaceable = true; /* C2HData is sent from req->iov; t->data is what we free */
	return true;
}

/* An R2T, or a read's C2HData whose CapsuleResp follows (tail_snd), has left the queue. */
static void part_sent(struct tcp_send *s, bool dropped)
{
	struct tcp_req *t = container_of(s, struct tcp_req, snd);
	(void)dropped;
	if (t->release_when_sent)
		tcp_req_release(t);
}

/* One R2T for the whole transfer: the host splits it into H2CData PDUs of at most
 * MAXH2CDATA, and one outstanding R2T per command is within any MAXR2T. */
static void send_r2t(struct tcp_req *t)
{
	struct tcp_conn *c = t->conn;
	tcp_req_set_state(t, TCP_REQ_WAIT_H2C); /* refused: the close aborts it as a waiting request */
	if (!tcp_send_prepare(c, &t->snd, part_sent))
		return;
	struct hnvmf_tcp_r2t *r = (struct hnvmf_tcp_r2t *)t->hdr;
	memset(r, 0, sizeof(*r));
	r->hdr.type = HNVMF_TCP_R2T;
	r->hdr.flags = c->hdgst ? HNVMF_TCP_F_HDGST : 0;
	r->hdr.hlen = sizeof(*r);
	r->hdr.plen = htole32(sizeof(*r) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0));
	r->cid = t->sqe.common.cid;
	r->ttag = htole16(t->ttag);
	r->offset = 0;
	r->length = htole32(t->req.data_len);
	if (c->hdgst)
		tcp_digest_append(r, sizeof(*r));
	tcp_send_add(&t->snd, r, sizeof(*r) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0));
	tcp_h2c_wait_add(t); /* pdu_timeout_ms runs from here */
	tcp_send_queue(c, &t->snd);
}

/* SGL of the command: its data length for hnvmf_req_init, or a status to fail it with. */
static uint16_t parse_sgl(struct tcp_req *t, uint32_t *len)
{
	const struct hnvmf_sgl *sgl = &t->sqe.common.dptr;
	*len = le32toh(sgl->length);
	t->sgl_type = sgl->type;
	switch (sgl->type) {
	case HNVMF_SGL_DATA_BLOCK_OFFSET:
		if (le64toh(sgl->addr) != 0)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_OFFSET);
		if (*len != t->icd_len)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
		return 0;
	case HNVMF_SGL_TRANSPORT_DATA:
		if (t->icd_len)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
		return 0;
	default:
		if (*len == 0 && t->icd_len == 0)
			return 0; /* no data: the descriptor's type does not matter */
		return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE);
	}
}

void tcp_req_capsule_ready(struct tcp_req *t)
{
	struct tcp_conn *c = t->conn;
	struct hnvmf_req *req = &t->req;
	uint32_t len;
	uint16_t st = parse_sgl(t, &len);

	c->stats.cmds++;
	memset(req, 0, sizeof(*req));
	req->sgl_len = st ? 0 : len;
	req->sgl_status = st; /* the target answers with it (hnvmf_req_check_data) */
	if (!hnvmf_req_init(req, &c->sq, &t->sqe))
		return; /* already completed: its response is queued */
	if (t->ddgst_error) {
		complete(t, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
		return;
	}
	if (req->data_len == 0) {
		execute(t);
		return;
	}
	if (req->dir == HNVMF_DIR_H2C && t->sgl_type == HNVMF_SGL_DATA_BLOCK_OFFSET) {
		if (req->data_len > t->icd_len) {
			complete(t, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA));
			return;
		}
		t->data = t->icd;
		t->buf_class = TCP_BUF_SLOT;
		req->iov[0].iov_base = t->icd;
		req->iov[0].iov_len = req->data_len;
		req->iovcnt = 1;
		execute(t);
		return;
	}
	if (t->sgl_type != HNVMF_SGL_TRANSPORT_DATA) {
		complete(t, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE));
		return;
	}
	int room = tcp_req_buffer(t);
	if (room < 0) {
		/* More than a connection may ever buffer: like a transfer beyond MDTS. */
		complete(t, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
		return;
	}
	if (room > 0)
		tcp_req_buffer_ready(t);
}

void tcp_req_buffer_ready(struct tcp_req *t)
{
	struct hnvmf_req *req = &t->req;
	if (!map_buffer(t)) {
		log_err("tcp %s: no memory for a %u-byte transfer", t->conn->sq.peer, req->data_len);
		complete(t, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	if (req->dir == HNVMF_DIR_H2C) {
		send_r2t(t);
		return;
	}
	execute(t);
}

void tcp_req_h2c_done(struct tcp_req *t)
{
	tcp_h2c_wait_del(t);
	if (t->ddgst_error) {
		complete(t, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
		return;
	}
	execute(t);
}

void tcp_req_abort(struct tcp_req *t)
{
	hnvmf_list_del(&t->wait_link); /* from h2c_wait or buf_wait */
	complete(t, HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
}

static void response_sent(struct tcp_send *s, bool dropped)
{
	(void)dropped;
	tcp_req_release(container_of(s, struct tcp_req, snd));
}

static void tail_sent(struct tcp_send *s, bool dropped)
{
	(void)dropped;
	tcp_req_release(container_of(s, struct tcp_req, tail_snd));
}

/* Adds the C2HData PDU: header, padding to PDO, the data from req->iov, data digest. */
static bool add_c2h_data(struct tcp_req *t, uint32_t len)
{
	struct tcp_conn *c = t->conn;
	struct hnvmf_req *req = &t->req;
	struct tcp_send *s = &t->snd;
	uint32_t hd = c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0;
	uint32_t dd = c->ddgst ? HNVMF_TCP_DIGEST_LEN : 0;
	/* SUCCESS spares the CapsuleResp, but then no SQ head reaches the host: only when SQ
	 * flow control is off (as nvmet does), and only for a plain success. */
	bool success = c->sq.sqfc_disabled && req->cqe.result == 0;

	struct hnvmf_tcp_data *h = (struct hnvmf_tcp_data *)t->hdr;
	memset(h, 0, sizeof(*h));
	h->hdr.type = HNVMF_TCP_C2H_DATA;
	h->hdr.flags = HNVMF_TCP_F_DATA_LAST | (success ? HNVMF_TCP_F_DATA_SUCCESS : 0) |
		       (hd ? HNVMF_TCP_F_HDGST : 0) | (dd ? HNVMF_TCP_F_DDGST : 0);
	h->hdr.hlen = sizeof(*h);
	h->hdr.pdo = c->c2h_pdo;
	h->hdr.plen = htole32(c->c2h_pdo + len + dd);
	h->cid = t->sqe.common.cid;
	h->offset = 0;
	h->length = htole32(len);
	if (hd)
		tcp_digest_append(h, sizeof(*h));
	tcp_send_add(s, h, sizeof(*h) + hd);
	if (c->c2h_pdo > sizeof(*h) + hd)
		tcp_send_add(s, zero_pad, c->c2h_pdo - sizeof(*h) - hd);

	uint32_t crc = TCP_CRC_SEED, left = len;
	for (int i = 0; i < req->iovcnt && left; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		tcp_send_add(s, req->iov[i].iov_base, n);
		if (dd)
			crc = tcp_crc_update(crc, req->iov[i].iov_base, n);
		left -= (uint32_t)n;
	}
	if (dd) {
		t->ddgst = htole32(tcp_crc_final(crc));
		tcp_send_add(s, &t->ddgst, sizeof(t->ddgst));
	}
	return success;
}

void tcp_queue_response(struct hnvmf_req *req)
{
	struct tcp_req *t = container_of(req, struct tcp_req, req);
	struct tcp_conn *c = t->conn;
	if (!status_ok(req))
		c->stats.errors++;
	else if (c->stage_deadline_ns && t->sqe.common.opcode == nvme_admin_fabrics &&
		 t->sqe.fabrics.fctype == nvme_fabrics_type_connect)
		c->stage_deadline_ns = 0; /* Connected: the connect_timeout_ms stage is over */
	if (c->state == TCP_CONN_CLOSED || c->state == TCP_CONN_TERMINATING) {
		tcp_req_release(t); /* nobody to send it to */
		return;
	}
	struct tcp_send *s = &t->snd;
	if (!tcp_send_prepare(c, s, response_sent)) {
		if (t->state != TCP_REQ_FREE)
			tcp_req_release(t); /* dropping the queue did not free it */
		return;
	}
	s->rsp = true;
	tcp_req_set_state(t, TCP_REQ_SENDING);
	bool success = false;
	if (req->dir == HNVMF_DIR_C2H && req->xfer_len > 0 && status_ok(req) && req->iovcnt > 0) {
		uint32_t len = req->xfer_len < req->data_len ? req->xfer_len : req->data_len;
		success = add_c2h_data(t, len);
	}
	if (!success && s->iovcnt > 0) {
		/* A read's CapsuleResp goes behind the data of every response queued with it
		 * (tcp-send.c, "The data first"): its C2HData leaves without releasing the slot. */
		s->sent = part_sent;
		s->follow = &t->tail_snd;
		tcp_send_queue(c, s);
		s = &t->tail_snd;
		if (!tcp_send_prepare(c, s, tail_sent)) {
			if (t->state != TCP_REQ_FREE)
				tcp_req_release(t); /* closed: its C2HData was dropped */
			return;
		}
		s->tail = true;
		s->lead = &t->snd;
	}
	if (!success) {
		struct hnvmf_tcp_rsp *r = (struct hnvmf_tcp_rsp *)t->rsp;
		r->hdr.type = HNVMF_TCP_RSP;
		r->hdr.flags = c->hdgst ? HNVMF_TCP_F_HDGST : 0;
		r->hdr.hlen = sizeof(*r);
		r->hdr.pdo = 0;
		r->hdr.plen = htole32(sizeof(*r) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0));
		r->cqe = req->cqe;
		if (c->hdgst)
			tcp_digest_append(r, sizeof(*r));
		tcp_send_add(s, r, sizeof(*r) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0));
	}
	tcp_send_queue(c, s);
}
