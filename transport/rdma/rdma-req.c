/* A request's life on a connection (the states of enum rdma_req_state, rdma-internal.h):
 *
 *   receive completion -> NEW: SGL parsed -> hnvmf_req_init
 *     no data / in-capsule data ------------------------------------------> EXECUTING
 *     keyed -> [WAIT_BUF] -> buffer -> H2C: [WAIT_READ_WR] -> READING -----> EXECUTING
 *                                   -> C2H: ------------------------------> EXECUTING
 *   queue_response: receive buffer reposted -> [WAIT_RSP_WR] -> SENDING (WRITE + SEND)
 *     -> every WR completed -> FREE
 *
 * The SQE stays in its receive buffer until the response: the buffer is reposted just before
 * the response is sent, so the host, which may send its next command as soon as it has the
 * CQE, always finds a receive posted. In-capsule data is used where it lies. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

static bool status_ok(const struct hnvmf_req *req)
{
	return req->status == 0;
}

#define S(x) (1u << RDMA_REQ_##x)
#define ANSWER (S(WAIT_RSP_WR) | S(SENDING) | S(FREE))
/* Per state: the states it may move to (see enum rdma_req_state). */
static const unsigned allowed_next[RDMA_REQ_NSTATES] = {
	[RDMA_REQ_FREE] = S(NEW),
	[RDMA_REQ_NEW] = S(WAIT_BUF) | S(WAIT_READ_WR) | S(READING) | S(EXECUTING) | ANSWER,
	[RDMA_REQ_WAIT_BUF] = S(WAIT_READ_WR) | S(READING) | S(EXECUTING) | ANSWER,
	[RDMA_REQ_WAIT_READ_WR] = S(READING) | ANSWER,
	[RDMA_REQ_READING] = S(EXECUTING) | ANSWER,
	[RDMA_REQ_EXECUTING] = ANSWER,
	[RDMA_REQ_WAIT_RSP_WR] = S(SENDING) | S(FREE),
	[RDMA_REQ_SENDING] = S(FREE),
};
#undef ANSWER
#undef S

bool rdma_req_state_allowed(enum rdma_req_state from, enum rdma_req_state to)
{
	return from < RDMA_REQ_NSTATES && to < RDMA_REQ_NSTATES && (allowed_next[from] >> to & 1u);
}

/* The reactor's per-state counts have one writer: plain increments, no locked instruction. */
static void count(_Atomic uint32_t *n, int delta)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (uint32_t)delta,
			      memory_order_relaxed);
}

void rdma_req_set_state(struct rdma_req *t, enum rdma_req_state to)
{
	struct rdma_conn *c = t->conn;
	enum rdma_req_state from = t->state;
	bool ok = rdma_req_state_allowed(from, to);
	assert(ok && "rdma request: state change not in the table");
	if (from != RDMA_REQ_FREE)
		count(&c->rt->nreqs[from], -1);
	if (to != RDMA_REQ_FREE)
		count(&c->rt->nreqs[to], 1);
	t->state = to;
	if (!ok) {
		/* A bug, not the host's doing: this connection's requests can no longer be trusted. */
		atomic_fetch_add_explicit(&c->rt->bad_transitions, 1, memory_order_relaxed);
		log_err("rdma %s: request cid %u: state %d -> %d is not allowed", c->sq.peer,
			le16toh(t->req.cqe.cid), (int)from, (int)to);
		rdma_conn_close(c, "request state");
	}
}

static struct rdma_req *req_get(struct rdma_conn *c)
{
	struct rdma_req *t = c->free_reqs;
	if (!t)
		return NULL;
	c->free_reqs = t->next_free;
	c->nbusy++;
	t->buf = NULL;
	t->heap = NULL;
	t->heap_mr = NULL;
	t->wr_pending = 0;
	t->capsule = NULL;
	rdma_req_set_state(t, RDMA_REQ_NEW);
	return t;
}

static void req_release(struct rdma_req *t)
{
	struct rdma_conn *c = t->conn;
	if (t->buf) {
		/* Requests waiting for a buffer are resumed after the completion burst
		 * (rdma-group.c), not from here, so releases never nest. */
		rdma_slab_put(t->buf);
		t->buf = NULL;
	}
	if (t->heap_mr)
		ibv_dereg_mr(t->heap_mr);
	free(t->heap);
	t->heap = NULL;
	t->heap_mr = NULL;
	/* A receive buffer not reposted (the connection is closing) stays on the connection's
	 * list and goes back to the pool with the others. */
	t->capsule = NULL;
	rdma_req_set_state(t, RDMA_REQ_FREE);
	t->next_free = c->free_reqs;
	c->free_reqs = t;
	c->nbusy--;
	rdma_conn_check_idle(c);
}

static void complete(struct rdma_req *t, uint16_t status)
{
	hnvmf_req_complete(&t->req, status);
}

static void execute(struct rdma_req *t)
{
	rdma_req_set_state(t, RDMA_REQ_EXECUTING);
	hnvmf_req_execute(&t->req);
}

static bool conn_usable(const struct rdma_conn *c)
{
	return c->state != RDMA_CONN_CLOSING;
}

/* A registered buffer of data_len bytes in req->iov; false: none free now (wait). */
static int map_buffer(struct rdma_req *t)
{
	struct rdma_conn *c = t->conn;
	struct hnvmf_req *req = &t->req;
	uint32_t len = req->data_len;
	uint8_t *addr;
	if (len <= c->grp->bufs[c->grp->nbufs - 1].obj_size) {
		/* Wait behind earlier waiters, so they are served in order. */
		if (!hnvmf_list_empty(&c->grp->buf_waiters) && t->state != RDMA_REQ_WAIT_BUF)
			return 0;
		t->buf = rdma_group_buf_get(c->grp, len);
		if (!t->buf)
			return 0;
		addr = t->buf->addr;
	} else {
		/* Beyond every pool (no MDTS configured): the slow path, registered for this
		 * request only. */
		t->heap = aligned_alloc(4096, (len + 4095u) / 4096u * 4096u);
		if (t->heap)
			t->heap_mr = ibv_reg_mr(c->grp->dev->pd, t->heap, len,
						IBV_ACCESS_LOCAL_WRITE);
		if (!t->heap_mr) {
			log_err("rdma %s: cannot register a %u-byte buffer", c->sq.peer, len);
			free(t->heap);
			t->heap = NULL;
			return -1;
		}
		addr = t->heap;
	}
	req->iov[0].iov_base = addr;
	req->iov[0].iov_len = len;
	req->iovcnt = 1;
	return 1;
}

static uint32_t data_lkey(const struct rdma_req *t)
{
	return t->buf ? t->buf->lkey : t->heap_mr->lkey;
}

static bool sq_room(struct rdma_conn *c, unsigned n)
{
	return c->posted_send + n <= c->send_depth;
}

/* resumed: the request comes off wr_waiters; otherwise it queues behind any waiter. */
static void post_read(struct rdma_req *t, bool resumed)
{
	struct rdma_conn *c = t->conn;
	if (!sq_room(c, 1) || (!resumed && !hnvmf_list_empty(&c->wr_waiters))) {
		rdma_req_set_state(t, RDMA_REQ_WAIT_READ_WR);
		c->stats.wr_waits++;
		hnvmf_list_add_tail(&c->wr_waiters, &t->wait_link);
		return;
	}
	struct ibv_sge sge = { .addr = (uintptr_t)t->req.iov[0].iov_base,
			       .length = t->req.data_len, .lkey = data_lkey(t) };
	struct ibv_send_wr wr = {
		.wr_id = (uintptr_t)t,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IBV_WR_RDMA_READ,
		.send_flags = IBV_SEND_SIGNALED,
	};
	wr.wr.rdma.remote_addr = t->sgl.addr;
	wr.wr.rdma.rkey = t->sgl.key;
	struct ibv_send_wr *bad;
	int rc = ibv_post_send(c->qp, &wr, &bad);
	if (rc) {
		log_err("rdma %s: posting an RDMA READ failed: %s", c->sq.peer, strerror(rc));
		complete(t, HNVMF_SC_GENERIC(NVME_SC_DATA_XFER_ERROR));
		rdma_conn_close(c, "cannot post an RDMA READ");
		return;
	}
	rdma_req_set_state(t, RDMA_REQ_READING);
	t->wr_pending++;
	c->posted_send++;
	c->stats.reads += t->req.data_len;
}

/* The data buffer is there (or not needed): READ the host's data or execute. */
static void start_data(struct rdma_req *t)
{
	if (t->req.dir == HNVMF_DIR_H2C) {
		post_read(t, false);
		return;
	}
	execute(t);
}

static void need_buffer(struct rdma_req *t)
{
	struct rdma_conn *c = t->conn;
	int rc = map_buffer(t);
	if (rc < 0) {
		complete(t, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	if (rc == 0) {
		c->stats.buf_waits++;
		rdma_req_set_state(t, RDMA_REQ_WAIT_BUF);
		/* A request put back by rdma_group_kick_waiters keeps its place at the head. */
		hnvmf_list_add_tail(&c->grp->buf_waiters, &t->wait_link);
		return;
	}
	start_data(t);
}

void rdma_req_recv(struct rdma_conn *c, struct rdma_slab_obj *capsule, const struct ibv_wc *wc)
{
	if (wc->status != IBV_WC_SUCCESS) {
		if (wc->status != IBV_WC_WR_FLUSH_ERR) {
			log_warn("rdma %s: receive failed: %s", c->sq.peer,
				 ibv_wc_status_str(wc->status));
			rdma_conn_close(c, "receive error");
		}
		return;
	}
	if (c->state == RDMA_CONN_CLOSING || c->state == RDMA_CONN_DRAINING)
		return; /* no new command: the buffer stays unposted until the queue goes */
	if (wc->byte_len < sizeof(union hnvmf_sqe)) {
		log_warn("rdma %s: capsule of %u bytes, shorter than an SQE", c->sq.peer,
			 wc->byte_len);
		rdma_conn_close(c, "short capsule");
		return;
	}
	struct rdma_req *t = req_get(c);
	if (!t) {
		log_warn("rdma %s: more commands than the queue holds", c->sq.peer);
		rdma_conn_close(c, "queue overrun");
		return;
	}
	c->stats.cmds++;
	t->capsule = capsule;
	union hnvmf_sqe *sqe = (union hnvmf_sqe *)capsule->addr;
	uint32_t icd_len = wc->byte_len - (uint32_t)sizeof(*sqe);
	uint16_t st = rdma_sgl_parse(sqe, icd_len, c->icd_limit, &t->sgl);
	struct hnvmf_req *req = &t->req;
	memset(req, 0, sizeof(*req));
	req->sgl_len = st ? 0 : t->sgl.len;
	req->sgl_status = st; /* the target answers with it (hnvmf_req_check_data) */
	if (!hnvmf_req_init(req, &c->sq, sqe))
		return; /* already completed: its response is on its way */
	if (req->data_len == 0) {
		execute(t);
		return;
	}
	if (t->sgl.kind == RDMA_SGL_INLINE) {
		if (req->dir != HNVMF_DIR_H2C) {
			/* In-capsule data goes only from host to controller. */
			complete(t, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
			return;
		}
		req->iov[0].iov_base = capsule->addr + sizeof(*sqe) + t->sgl.addr;
		req->iov[0].iov_len = req->data_len;
		req->iovcnt = 1;
		c->stats.icd += req->data_len;
		execute(t);
		return;
	}
	need_buffer(t);
}

static void send_response(struct rdma_req *t, bool resumed);

void rdma_req_continue(struct rdma_req *t)
{
	struct rdma_conn *c = t->conn;
	switch (t->state) {
	case RDMA_REQ_WAIT_BUF: {
		int rc = map_buffer(t);
		if (rc < 0) {
			complete(t, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		} else if (rc == 0) {
			/* Still none: back to the head of the queue. */
			struct hnvmf_list *head = &c->grp->buf_waiters;
			t->wait_link.next = head->next;
			t->wait_link.prev = head;
			head->next->prev = &t->wait_link;
			head->next = &t->wait_link;
		} else {
			start_data(t);
		}
		return;
	}
	case RDMA_REQ_WAIT_READ_WR:
		post_read(t, true);
		return;
	case RDMA_REQ_WAIT_RSP_WR:
		send_response(t, true);
		return;
	default:
		return;
	}
}

void rdma_conn_kick_wr_waiters(struct rdma_conn *c)
{
	while (!hnvmf_list_empty(&c->wr_waiters) && c->state != RDMA_CONN_CLOSING) {
		struct rdma_req *t = container_of(c->wr_waiters.next, struct rdma_req, wait_link);
		unsigned need = t->state == RDMA_REQ_WAIT_RSP_WR ? 2 : 1;
		if (!sq_room(c, need))
			return;
		hnvmf_list_del(&t->wait_link);
		rdma_req_continue(t);
	}
}

void rdma_req_wr_done(struct rdma_req *t, const struct ibv_wc *wc)
{
	struct rdma_conn *c = t->conn;
	if (t->state == RDMA_REQ_FREE || t->wr_pending == 0)
		return; /* abandoned after a flush timeout */
	t->wr_pending--;
	bool ok = wc->status == IBV_WC_SUCCESS;
	if (!ok && wc->status != IBV_WC_WR_FLUSH_ERR) {
		/* A bad key or address (remote access error) and the like: the QP is dead. */
		log_warn("rdma %s: %s for cid %u failed: %s", c->sq.peer,
			 t->state == RDMA_REQ_READING ? "RDMA READ" : "RDMA WRITE/SEND",
			 le16toh(t->req.cqe.cid), ibv_wc_status_str(wc->status));
		c->stats.errors++;
		rdma_conn_close(c, "work request failed");
	}
	if (t->state == RDMA_REQ_READING) {
		if (!ok) {
			complete(t, HNVMF_SC_GENERIC(NVME_SC_DATA_XFER_ERROR));
			return;
		}
		execute(t);
		return;
	}
	if (t->state == RDMA_REQ_SENDING && t->wr_pending == 0)
		req_release(t);
}

void rdma_req_abort_waiting(struct rdma_conn *c)
{
	for (unsigned i = 0; i < c->nreqs; i++) {
		struct rdma_req *t = &c->reqs[i];
		switch (t->state) {
		case RDMA_REQ_WAIT_BUF:
		case RDMA_REQ_WAIT_READ_WR:
			hnvmf_list_del(&t->wait_link);
			complete(t, HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
			break;
		case RDMA_REQ_WAIT_RSP_WR:
			hnvmf_list_del(&t->wait_link);
			req_release(t);
			break;
		default:
			break;
		}
	}
}

void rdma_req_abandon_wrs(struct rdma_conn *c)
{
	c->wrs_abandoned = true;
	c->posted_recv = 0;
	c->posted_send = 0;
	for (unsigned i = 0; i < c->nreqs; i++) {
		struct rdma_req *t = &c->reqs[i];
		if (t->wr_pending == 0)
			continue;
		t->wr_pending = 0;
		if (t->state == RDMA_REQ_READING)
			complete(t, HNVMF_SC_GENERIC(NVME_SC_DATA_XFER_ERROR));
		else if (t->state == RDMA_REQ_SENDING)
			req_release(t);
	}
}

void rdma_queue_response(struct hnvmf_req *req)
{
	struct rdma_req *t = container_of(req, struct rdma_req, req);
	if (!status_ok(req))
		t->conn->stats.errors++;
	send_response(t, false);
}

/* C2H data by RDMA WRITE, then the CQE by SEND (with Invalidate when the host asked), chained
 * in one post. */
static void send_response(struct rdma_req *t, bool resumed)
{
	struct rdma_conn *c = t->conn;
	struct hnvmf_req *req = &t->req;
	if (!conn_usable(c)) {
		req_release(t); /* nobody to send it to */
		return;
	}
	bool write = req->dir == HNVMF_DIR_C2H && req->xfer_len > 0 && status_ok(req) &&
		     t->sgl.kind == RDMA_SGL_KEYED;
	unsigned need = write ? 2 : 1;
	if (!sq_room(c, need) || (!resumed && !hnvmf_list_empty(&c->wr_waiters))) {
		rdma_req_set_state(t, RDMA_REQ_WAIT_RSP_WR);
		c->stats.wr_waits++;
		hnvmf_list_add_tail(&c->wr_waiters, &t->wait_link);
		return;
	}
	/* No longer waiting (a resumed request is already off wr_waiters): if a post below fails,
	 * the close must not release it as a waiter too; this function releases it. */
	rdma_req_set_state(t, RDMA_REQ_SENDING);
	/* Repost the receive buffer first: the host may answer the CQE with a new command. */
	if (t->capsule) {
		struct rdma_slab_obj *capsule = t->capsule;
		t->capsule = NULL;
		if (!rdma_conn_post_recv(c, capsule)) {
			req_release(t);
			return;
		}
	}
	struct ibv_sge dsge, csge = { .addr = (uintptr_t)&req->cqe, .length = sizeof(req->cqe) };
	struct ibv_send_wr wwr, swr = {
		.wr_id = (uintptr_t)t,
		.sg_list = &csge,
		.num_sge = 1,
		.opcode = t->sgl.invalidate ? IBV_WR_SEND_WITH_INV : IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE,
	};
	if (t->sgl.invalidate)
		swr.invalidate_rkey = t->sgl.key;
	struct ibv_send_wr *first = &swr;
	uint32_t len = 0;
	if (write) {
		len = req->xfer_len < req->data_len ? req->xfer_len : req->data_len;
		dsge = (struct ibv_sge){ .addr = (uintptr_t)req->iov[0].iov_base, .length = len,
					 .lkey = data_lkey(t) };
		wwr = (struct ibv_send_wr){
			.wr_id = (uintptr_t)t,
			.next = &swr,
			.sg_list = &dsge,
			.num_sge = 1,
			.opcode = IBV_WR_RDMA_WRITE,
			.send_flags = IBV_SEND_SIGNALED,
		};
		wwr.wr.rdma.remote_addr = t->sgl.addr;
		wwr.wr.rdma.rkey = t->sgl.key;
		first = &wwr;
	}
	struct ibv_send_wr *bad;
	int rc = ibv_post_send(c->qp, first, &bad);
	if (rc) {
		log_err("rdma %s: posting the response failed: %s", c->sq.peer, strerror(rc));
		/* A WRITE that went out completes later; only what was posted counts. */
		if (write && bad == &swr) {
			t->wr_pending++;
			c->posted_send++;
			rdma_conn_close(c, "cannot post a response");
			return;
		}
		rdma_conn_close(c, "cannot post a response");
		req_release(t);
		return;
	}
	t->wr_pending += need;
	c->posted_send += need;
	c->stats.writes += len;
	c->stats.invalidations += t->sgl.invalidate;
}
