/* A connection's life:
 *
 *   CONNECT_REQUEST (reactors[0]) --bad private data--> rejected with its NVMe/RDMA status
 *        | pick a reactor, migrate the CM id to its event channel
 *        v
 *   SETUP: group, QP, receive buffers posted, accept --ESTABLISHED--> LIVE
 *        |                                                             |-- shutdown --> DRAINING
 *        '-- DISCONNECTED, error completion, bad SGL, disconnect op, drained ------> CLOSING
 *
 * CLOSING: rdma_disconnect moves the QP to the error state, so every posted WR comes back
 * flushed; requests waiting for a buffer or for send queue room end at once, those the target
 * executes come back through queue_response. When no request is busy and no WR is posted, the
 * QP, the CM id and the queue are destroyed (hnvmf_sq_destroy), from a message, never from
 * inside a completion handler. If the flushes never come (RDMA_FLUSH_TIMEOUT_MS), the posted
 * WRs are forgotten and the QP destroyed anyway; stray completions are then ignored because
 * completions are matched to live connections by qp_num. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

static void conn_setup_msg(struct hnvmf_msg *m);
static void conn_destroy_msg(struct hnvmf_msg *m);
static void conn_timer_fired(struct hnvmf_timer *t);

static void rdma_sq_disconnect(struct hnvmf_sq *sq)
{
	rdma_conn_close(container_of(sq, struct rdma_conn, sq), "disconnected by the target");
}

static void rdma_sq_drain(struct hnvmf_sq *sq)
{
	rdma_conn_drain(container_of(sq, struct rdma_conn, sq));
}

const struct hnvmf_sq_ops rdma_sq_ops = {
	.queue_response = rdma_queue_response,
	.disconnect = rdma_sq_disconnect,
	.drain = rdma_sq_drain,
	.move = rdma_sq_move,
	.name = "rdma",
};

static void format_peer(struct rdma_cm_id *id, char *buf, size_t len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);
	char addr[INET6_ADDRSTRLEN] = "?";
	if (sa && sa->sa_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s->sin_addr, addr, sizeof(addr));
		snprintf(buf, len, "%s:%u", addr, ntohs(s->sin_port));
	} else if (sa && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, addr, sizeof(addr));
		snprintf(buf, len, "[%s]:%u", addr, ntohs(s->sin6_port));
	} else {
		snprintf(buf, len, "unknown");
	}
}

static void reject(struct rdma_cm_id *id, enum rdma_cm_sts sts)
{
	struct rdma_cm_rej_pd rej = { .recfmt = 0, .sts = htole16((uint16_t)sts) };
	if (rdma_reject(id, &rej, sizeof(rej)) != 0)
		log_warn("rdma: rdma_reject failed: %m");
}

void rdma_conn_request(struct rdma_listener *l, struct rdma_cm_event *ev)
{
	struct rdma_cm_id *id = ev->id;
	char peer[64];
	format_peer(id, peer, sizeof(peer));
	struct rdma_cm_params p;
	struct hnvmf_conn_ticket ticket;
	if (!hnvmf_conn_admit(rdma_get_peer_addr(id), &ticket)) {
		reject(id, RDMA_CM_NO_RSC); /* the refusal itself was logged, rate-limited */
		rdma_ack_cm_event(ev);
		rdma_destroy_id(id);
		return;
	}
	enum rdma_cm_sts sts = rdma_cm_parse_req(ev->param.conn.private_data,
						 ev->param.conn.private_data_len,
						 HNVMF_ADMIN_QUEUE_DEPTH, rdma_g.io_depth,
						 rdma_g.max_qid, &p);
	if (sts == RDMA_CM_OK && atomic_load(&rdma_g.shutting_down))
		sts = RDMA_CM_NO_RSC;
	struct rdma_conn *c = NULL;
	if (sts == RDMA_CM_OK && !(c = calloc(1, sizeof(*c))))
		sts = RDMA_CM_NO_RSC;
	if (sts != RDMA_CM_OK) {
		log_info("rdma %s: connection request rejected: %s", peer, rdma_cm_sts_str(sts));
		hnvmf_conn_release(&ticket);
		reject(id, sts);
		rdma_ack_cm_event(ev);
		rdma_destroy_id(id);
		return;
	}
	c->ctx_kind = RDMA_CTX_CONN;
	c->ticket = ticket;
	c->id = id;
	c->port = l->port;
	c->cm = p;
	/* Our initiator depth (RDMA READs in flight): the CM reports the host's responder
	 * resources here; capped by our device at setup. */
	c->ord = ev->param.conn.initiator_depth;
	c->rt = &rdma_g.rts[rdma_g.next_rt++ % hnvmf_transport_naccept(&rdma_g.env)];
	c->state = RDMA_CONN_SETUP;
	c->icd_limit = p.qid == 0 ? RDMA_ADMIN_ICD_SIZE : rdma_g.io_icd_limit;
	c->setup_msg.fn = conn_setup_msg;
	c->destroy_msg.fn = conn_destroy_msg;
	c->timer.cb = conn_timer_fired;
	hnvmf_list_init(&c->timer.link);
	hnvmf_list_init(&c->link);
	hnvmf_list_init(&c->active_link);
	hnvmf_list_init(&c->wr_waiters);
	hnvmf_conn_move_init(&c->mv, &rdma_move_ops, &c->sq);
	snprintf(c->sq.peer, sizeof(c->sq.peer), "%s", peer);
	id->context = c;
	log_debug("rdma %s: connection request qid %u hsqsize %u hrqsize %u ird %u ord %u -> %s",
		  peer, p.qid, p.recv_depth - 1u, p.hrqsize, ev->param.conn.responder_resources,
		  ev->param.conn.initiator_depth, hnvmf_reactor_name(c->rt->r));
	atomic_fetch_add(&rdma_g.nconns, 1);
	/* The event must be acknowledged before the id can move to another channel. */
	rdma_ack_cm_event(ev);
	if (c->rt == &rdma_g.rts[0])
		conn_setup_msg(&c->setup_msg);
	else
		hnvmf_reactor_send(c->rt->r, &c->setup_msg);
}

/* The receive buffers back to the group they came from, whichever reactor runs this (the
 * connection may have moved since its setup). */
static void capsules_put(struct rdma_conn *c)
{
	if (!c->capsules)
		return;
	pthread_mutex_lock(&c->cap_grp->capsule_lock);
	while (c->capsules) {
		struct rdma_slab_obj *o = c->capsules;
		c->capsules = o->next;
		rdma_slab_put(o);
	}
	pthread_mutex_unlock(&c->cap_grp->capsule_lock);
}

/* Failure before accept: reject, free everything, the id included. */
static void setup_failed(struct rdma_conn *c, const char *why)
{
	log_err("rdma %s: cannot set up the queue: %s", c->sq.peer, why);
	reject(c->id, RDMA_CM_NO_RSC);
	if (c->qp)
		rdma_destroy_qp(c->id);
	rdma_cq_close(c);
	capsules_put(c);
	rdma_destroy_id(c->id);
	free(c->reqs);
	hnvmf_conn_release(&c->ticket);
	free(c);
	atomic_fetch_sub(&rdma_g.nconns, 1);
}

static int alloc_reqs(struct rdma_conn *c)
{
	/* Twice the receive depth: a response's SEND may still await its completion when the
	 * host, which already has the CQE, sends the next command into the reposted buffer. */
	unsigned n = 2u * c->cm.recv_depth;
	c->reqs = calloc(n, sizeof(*c->reqs));
	if (!c->reqs)
		return -ENOMEM;
	c->nreqs = n;
	for (unsigned i = n; i-- > 0;) {
		struct rdma_req *t = &c->reqs[i];
		t->wr_kind = RDMA_WR_REQ;
		t->conn = c;
		t->state = RDMA_REQ_FREE; /* a new slot: not a state change, nothing to count */
		hnvmf_list_init(&t->wait_link);
		t->next_free = c->free_reqs;
		c->free_reqs = t;
	}
	return 0;
}

bool rdma_conn_post_recv(struct rdma_conn *c, struct rdma_slab_obj *o)
{
	struct ibv_sge sge = { .addr = (uintptr_t)o->addr, .length = rdma_g.capsule_size,
			       .lkey = o->lkey };
	struct ibv_recv_wr wr = { .wr_id = (uintptr_t)o, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;
	o->wr_kind = RDMA_WR_RECV;
	int rc = ibv_post_recv(c->qp, &wr, &bad);
	if (rc) {
		log_err("rdma %s: ibv_post_recv failed: %s", c->sq.peer, strerror(rc));
		rdma_conn_close(c, "cannot post a receive");
		return false;
	}
	c->posted_recv++;
	return true;
}

static void conn_setup_msg(struct hnvmf_msg *m)
{
	struct rdma_conn *c = container_of(m, struct rdma_conn, setup_msg);
	struct rdma_reactor *rt = c->rt;
	if (c->rt != &rdma_g.rts[0] && rdma_migrate_id(c->id, rt->ch) != 0) {
		setup_failed(c, "rdma_migrate_id failed");
		return;
	}
	struct rdma_device *dev = rdma_device_get(c->id->verbs);
	if (!dev) {
		setup_failed(c, "no protection domain");
		return;
	}
	if (c->ord > dev->attr.max_qp_init_rd_atom)
		c->ord = (uint8_t)dev->attr.max_qp_init_rd_atom;
	c->dev = dev;
	c->grp = rdma_group_get(rt, dev);
	if (!c->grp) {
		setup_failed(c, "no buffer pools");
		return;
	}
	struct rdma_group *g = c->grp;
	c->cap_grp = g;
	/* Send queue: a READ per request waiting for data, WRITE + SEND per response; requests
	 * that find it full wait (wr_waiters). */
	c->send_depth = 2u * c->cm.recv_depth + 1u;
	if (c->send_depth > (unsigned)dev->attr.max_qp_wr)
		c->send_depth = (unsigned)dev->attr.max_qp_wr;
	/* Its own CQ (rdma-cq.c): every receive and every send WR may complete at once. */
	if (rdma_cq_open(c, (int)(c->cm.recv_depth + c->send_depth)) < 0) {
		setup_failed(c, "cannot make its completion queue");
		return;
	}
	if (rdma_cq_attach(c) < 0) {
		setup_failed(c, "cannot watch its completion channel");
		return;
	}
	if (alloc_reqs(c) < 0) {
		setup_failed(c, "out of memory");
		return;
	}
	struct ibv_qp_init_attr qa = {
		.send_cq = c->cq,
		.recv_cq = c->cq,
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = c->send_depth, .max_recv_wr = c->cm.recv_depth,
			 .max_send_sge = 1, .max_recv_sge = 1,
			 .max_inline_data = sizeof(struct hnvmf_cqe) },
	};
	if (rdma_create_qp(c->id, dev->pd, &qa) != 0) {
		setup_failed(c, "rdma_create_qp failed");
		return;
	}
	c->qp = c->id->qp;
	c->qp_num = c->qp->qp_num;
	pthread_mutex_lock(&g->capsule_lock);
	for (unsigned i = 0; i < c->cm.recv_depth; i++) {
		struct rdma_slab_obj *o = rdma_slab_get(&g->capsules);
		if (!o)
			break;
		o->next = c->capsules;
		c->capsules = o;
		c->ncapsules++;
	}
	pthread_mutex_unlock(&g->capsule_lock);
	if (c->ncapsules < c->cm.recv_depth) {
		setup_failed(c, "no receive buffers");
		return;
	}
	char peer[sizeof(c->sq.peer)];
	memcpy(peer, c->sq.peer, sizeof(peer));
	hnvmf_sq_init(&c->sq, rdma_g.env.tgt, c->port, rt->r, &rdma_sq_ops);
	memcpy(c->sq.peer, peer, sizeof(peer));
	for (struct rdma_slab_obj *o = c->capsules; o; o = o->next) {
		struct ibv_sge sge = { .addr = (uintptr_t)o->addr, .length = rdma_g.capsule_size,
				       .lkey = o->lkey };
		struct ibv_recv_wr wr = { .wr_id = (uintptr_t)o, .sg_list = &sge, .num_sge = 1 };
		struct ibv_recv_wr *bad;
		o->wr_kind = RDMA_WR_RECV;
		if (ibv_post_recv(c->qp, &wr, &bad) != 0) {
			/* Nothing can have completed yet: the host is not connected. */
			c->posted_recv = 0;
			setup_failed(c, "ibv_post_recv failed");
			return;
		}
		c->posted_recv++;
	}
	struct rdma_cm_rep_pd rep = { .recfmt = 0, .crqsize = htole16(c->cm.recv_depth) };
	struct rdma_conn_param cp = {
		.private_data = &rep,
		.private_data_len = sizeof(rep),
		.initiator_depth = c->ord,
		.responder_resources = 0, /* the host never reads from us */
		.flow_control = 1,
		.rnr_retry_count = 7,
	};
	if (rdma_accept(c->id, &cp) != 0) {
		c->posted_recv = 0;
		setup_failed(c, "rdma_accept failed");
		return;
	}
	hnvmf_list_add_tail(&rt->conns, &c->link);
	rt->nconns++;
	log_debug("rdma %s: accepted qid %u on %s: %u receive buffers of %u bytes, send queue %u, "
		  "ORD %u", c->sq.peer, c->cm.qid, hnvmf_reactor_name(rt->r), c->cm.recv_depth,
		  rdma_g.capsule_size, c->send_depth, c->ord);
	if (atomic_load(&rdma_g.shutting_down))
		rdma_conn_drain(c);
}

void rdma_conn_cm_event(struct rdma_conn *c, struct rdma_cm_event *ev)
{
	if (c->mv.moving) {
		/* The id reached this reactor's channel before the connection (rdma-move.c): an
		 * event that ends it is acted on at arrival. */
		if (ev->event != RDMA_CM_EVENT_TIMEWAIT_EXIT && ev->event != RDMA_CM_EVENT_ESTABLISHED &&
		    !c->cm_close_why)
			c->cm_close_why = ev->event == RDMA_CM_EVENT_DISCONNECTED ? "disconnected by the host"
										     : rdma_event_str(ev->event);
		return;
	}
	switch (ev->event) {
	case RDMA_CM_EVENT_ESTABLISHED:
		if (c->state == RDMA_CONN_SETUP)
			c->state = RDMA_CONN_LIVE;
		log_debug("rdma %s: established", c->sq.peer);
		hnvmf_conn_move_try(&c->mv); /* a move asked for at Connect waits for this */
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		rdma_conn_close(c, "disconnected by the host");
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		break;
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
		rdma_conn_close(c, rdma_event_str(ev->event));
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
	case RDMA_CM_EVENT_ADDR_CHANGE:
		rdma_conn_close(c, rdma_event_str(ev->event));
		break;
	default:
		log_debug("rdma %s: CM event %s ignored", c->sq.peer, rdma_event_str(ev->event));
		break;
	}
}

static void quiesce(struct rdma_conn *c)
{
	if (c->quiesced)
		return;
	c->quiesced = true;
	hnvmf_sq_quiesce(&c->sq);
}

void rdma_conn_close(struct rdma_conn *c, const char *why)
{
	if (c->state == RDMA_CONN_CLOSING)
		return;
	log_debug("rdma %s: closing qid %u: %s", c->sq.peer, c->cm.qid, why);
	c->state = RDMA_CONN_CLOSING;
	/* Moves the QP to the error state: every posted WR completes as flushed. */
	if (rdma_disconnect(c->id) != 0)
		log_debug("rdma %s: rdma_disconnect: %m", c->sq.peer);
	/* Armed first: ending requests below may already queue the destroy, which cancels it. */
	hnvmf_timer_arm(c->rt->r, &c->timer, RDMA_FLUSH_TIMEOUT_MS);
	rdma_req_abort_waiting(c);
	quiesce(c);
	rdma_conn_check_idle(c);
}

void rdma_conn_drain(struct rdma_conn *c)
{
	switch (c->state) {
	case RDMA_CONN_SETUP:
	case RDMA_CONN_LIVE:
		c->state = RDMA_CONN_DRAINING;
		quiesce(c); /* held AERs complete now, so the queue can become idle */
		rdma_conn_check_idle(c);
		return;
	default:
		return;
	}
}

void rdma_conn_check_idle(struct rdma_conn *c)
{
	if (c->state == RDMA_CONN_DRAINING && c->nbusy == 0) {
		rdma_conn_close(c, "drained");
		return;
	}
	if (c->mv.to)
		hnvmf_conn_move_try(&c->mv); /* a request finished: it may be movable now */
	if (c->state != RDMA_CONN_CLOSING || c->nbusy > 0 || c->posted_recv > 0 ||
	    c->posted_send > 0 || c->destroy_queued || c->mv.moving)
		return;
	c->destroy_queued = true;
	hnvmf_timer_cancel(c->rt->r, &c->timer);
	hnvmf_reactor_send(c->rt->r, &c->destroy_msg);
}

static void conn_timer_fired(struct hnvmf_timer *t)
{
	struct rdma_conn *c = container_of(t, struct rdma_conn, timer);
	if (c->state != RDMA_CONN_CLOSING || c->destroy_queued)
		return;
	if (c->posted_recv || c->posted_send) {
		log_warn("rdma %s: %u receives and %u sends not flushed %u ms after the "
			 "disconnect: destroying the QP anyway", c->sq.peer, c->posted_recv,
			 c->posted_send, RDMA_FLUSH_TIMEOUT_MS);
		rdma_req_abandon_wrs(c);
	}
	if (c->nbusy > 0) /* the target still executes some: look again later */
		hnvmf_timer_arm(c->rt->r, &c->timer, RDMA_FLUSH_TIMEOUT_MS);
	rdma_conn_check_idle(c);
}

static void conn_destroy_msg(struct hnvmf_msg *m)
{
	struct rdma_conn *c = container_of(m, struct rdma_conn, destroy_msg);
	struct rdma_reactor *rt = c->rt;
	unsigned inflight = atomic_load(&c->sq.inflight);
	if (inflight != 0)
		log_warn("rdma %s: %u requests still counted in flight at destroy", c->sq.peer,
			 inflight);
	log_debug("rdma %s: qid %u destroyed (%llu commands, %llu bytes read, %llu written, %llu "
		  "in-capsule, %llu sent with invalidate, %llu errors, %llu buffer waits, %llu send "
		  "queue waits)", c->sq.peer, c->cm.qid, (unsigned long long)c->stats.cmds,
		  (unsigned long long)c->stats.reads, (unsigned long long)c->stats.writes,
		  (unsigned long long)c->stats.icd, (unsigned long long)c->stats.invalidations,
		  (unsigned long long)c->stats.errors,
		  (unsigned long long)c->stats.buf_waits, (unsigned long long)c->stats.wr_waits);
	hnvmf_timer_cancel(rt->r, &c->timer);
	hnvmf_sq_destroy(&c->sq);
	hnvmf_list_del(&c->link);
	rt->nconns--;
	rdma_destroy_qp(c->id);
	rdma_cq_close(c); /* after the QP: a CQ still used by a QP cannot be destroyed */
	capsules_put(c);
	rdma_destroy_id(c->id);
	free(c->reqs);
	hnvmf_conn_release(&c->ticket);
	free(c);
	atomic_fetch_sub(&rdma_g.nconns, 1);
}
