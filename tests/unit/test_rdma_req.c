/* Work requests of an RDMA connection that fail or come back late:
 *   - a response that waited for room on the send queue, then fails to post (the QP went to
 *     the error state): the connection closes, and the request must be released exactly once.
 *     It used to be released twice, once by the close (which took it for a request still
 *     waiting) and once by the failed post: the free list then pointed to itself and the busy
 *     count wrapped around;
 *   - completions arriving after the flush timeout gave up on the connection's WRs must not be
 *     counted again (the counts wrapped and the connection was never destroyed).
 *   - a move to another reactor (DAM) holds the commands that arrive while one executes, and
 *     starts them on the new reactor, in order, once the old one has nothing of the connection.
 * No device: the QP and CQ are stand-ins whose calls fail or succeed on demand, the reactor
 * and the target are the fakes of test_tcp_fakes.h. */
/* The fakes' TCP host fixtures are not used here. */
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "test_tcp_fakes.h"

#include "transport/rdma/rdma-internal.h"

static bool fail_send, fail_recv;
static int sends, recvs;

static int fake_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	(void)qp;
	sends++;
	*bad = wr;
	return fail_send ? EINVAL : 0;
}

static int fake_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	(void)qp;
	recvs++;
	*bad = wr;
	return fail_recv ? EINVAL : 0;
}

/* librdmacm's would talk to the kernel about a CM id that does not exist here. */
int rdma_disconnect(struct rdma_cm_id *id)
{
	(void)id;
	return 0;
}

static struct ibv_context ctx;
static struct ibv_qp qp;
static struct rdma_reactor rt;
static struct rdma_slab_obj capsule;
static uint8_t capsule_mem[64];

static struct rdma_conn *make_conn(void)
{
	memset(&ctx, 0, sizeof(ctx));
	ctx.ops.post_send = fake_post_send;
	ctx.ops.post_recv = fake_post_recv;
	qp.context = &ctx;
	rt.r = R(0);
	capsule.addr = capsule_mem;
	struct rdma_conn *c = calloc(1, sizeof(*c));
	c->ctx_kind = RDMA_CTX_CONN;
	c->rt = &rt;
	c->qp = &qp;
	c->state = RDMA_CONN_LIVE;
	c->send_depth = 2;
	c->posted_recv = 1; /* the connection's other receive buffers */
	sends = recvs = 0;
	hnvmf_list_init(&c->wr_waiters);
	hnvmf_list_init(&c->timer.link);
	snprintf(c->sq.peer, sizeof(c->sq.peer), "fake");
	c->nreqs = 2;
	c->reqs = calloc(c->nreqs, sizeof(*c->reqs));
	for (unsigned i = c->nreqs; i-- > 0;) {
		c->reqs[i].conn = c;
		c->reqs[i].next_free = c->free_reqs;
		c->free_reqs = &c->reqs[i];
	}
	return c;
}

/* A command without data that the target answers while the send queue is full. */
static struct rdma_req *response_waiting_for_room(struct rdma_conn *c)
{
	struct rdma_req *t = c->free_reqs;
	c->free_reqs = t->next_free;
	c->nbusy++;
	t->capsule = &capsule;
	t->state = RDMA_REQ_EXECUTING;
	t->req.dir = HNVMF_DIR_NONE;
	c->posted_send = c->send_depth;
	rdma_queue_response(&t->req);
	assert_int_equal(t->state, RDMA_REQ_WAIT_RSP_WR);
	return t;
}

static void check_released_once(struct rdma_conn *c, struct rdma_req *t)
{
	assert_int_equal(c->state, RDMA_CONN_CLOSING);
	assert_int_equal(c->nbusy, 0);
	assert_int_equal(t->state, RDMA_REQ_FREE);
	/* Both slots on the free list, each once. */
	assert_ptr_equal(c->free_reqs, t);
	assert_ptr_not_equal(t->next_free, t);
	assert_non_null(t->next_free);
	assert_null(t->next_free->next_free);
	free(c->reqs);
	free(c);
}

static void resumed_response_post_send_fails(void **state)
{
	(void)state;
	fail_send = true;
	fail_recv = false;
	struct rdma_conn *c = make_conn();
	struct rdma_req *t = response_waiting_for_room(c);
	c->posted_send = 0; /* completions made room */
	rdma_conn_kick_wr_waiters(c);
	assert_int_equal(sends, 1);
	check_released_once(c, t);
}

static void resumed_response_post_recv_fails(void **state)
{
	(void)state;
	fail_send = false;
	fail_recv = true;
	struct rdma_conn *c = make_conn();
	struct rdma_req *t = response_waiting_for_room(c);
	c->posted_send = 0;
	rdma_conn_kick_wr_waiters(c);
	assert_int_equal(recvs, 1);
	check_released_once(c, t);
}

/* Completions that come back after the flush timeout gave up on them (the connection's WRs
 * were abandoned while the target still held a request) must not be counted again: the
 * connection would never look idle and never be destroyed. */
static struct ibv_wc late[2];
static int nlate;

static int fake_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	(void)cq;
	int k = nlate < n ? nlate : n;
	memcpy(wc, late, (size_t)k * sizeof(*wc));
	nlate = 0;
	return k;
}

static int fake_req_notify_cq(struct ibv_cq *cq, int solicited_only)
{
	(void)cq;
	(void)solicited_only;
	return 0;
}

static void late_completions_after_abandon(void **state)
{
	(void)state;
	struct rdma_conn *c = make_conn();
	ctx.ops.poll_cq = fake_poll_cq;
	ctx.ops.req_notify_cq = fake_req_notify_cq;
	struct ibv_cq cq = { .context = &ctx };
	struct rdma_group g = { .rt = &rt };
	hnvmf_list_init(&g.buf_waiters);
	rt.groups = &g;
	c->grp = &g;
	c->cq = &cq;
	c->qp_num = 7;
	/* its own CQ, on the reactor's active list (rdma-cq.c) */
	hnvmf_list_init(&rt.active);
	c->cq_ev_on = true;
	c->active = true;
	hnvmf_list_add_tail(&rt.active, &c->active_link);

	/* The target executes one request; another's SEND is posted; a receive is posted. */
	struct rdma_req *held = c->free_reqs;
	c->free_reqs = held->next_free;
	struct rdma_req *sending = c->free_reqs;
	c->free_reqs = sending->next_free;
	c->nbusy = 2;
	held->state = RDMA_REQ_EXECUTING;
	held->req.dir = HNVMF_DIR_NONE;
	held->req.sq = &c->sq;
	atomic_init(&c->sq.inflight, 1);
	c->sq.ops = &rdma_sq_ops;
	sending->wr_kind = RDMA_WR_REQ;
	sending->state = RDMA_REQ_SENDING;
	sending->wr_pending = 1;
	c->posted_send = 1;
	capsule.wr_kind = RDMA_WR_RECV;
	rdma_conn_close(c, "test");
	rdma_req_abandon_wrs(c); /* what the flush timeout does */
	assert_int_equal(c->nbusy, 1);

	late[0] = (struct ibv_wc){ .wr_id = (uintptr_t)sending, .status = IBV_WC_WR_FLUSH_ERR,
				   .qp_num = 7 };
	late[1] = (struct ibv_wc){ .wr_id = (uintptr_t)&capsule, .status = IBV_WC_WR_FLUSH_ERR,
				   .qp_num = 7 };
	nlate = 2;
	struct hnvmf_poller *p = &rt.poller;
	rdma_reactor_poll(p);
	assert_int_equal(c->posted_send, 0);
	assert_int_equal(c->posted_recv, 0);

	/* The target answers the last request: now the connection is destroyed. */
	hnvmf_req_complete(&held->req, 0);
	assert_int_equal(c->nbusy, 0);
	assert_true(c->destroy_queued);
	rt.groups = NULL;
	free(c->reqs);
	free(c);
	msg_head = msg_tail = NULL; /* its destroy message: the QP and CM id are stand-ins */
}

/* A move to another reactor (DAM, rdma-move.c) asked for while a command executes: the commands
 * that arrive meanwhile are held, not started; the move waits for the executing one to be
 * answered and its SEND to complete; on the new reactor the held commands start, in the order
 * they came, and are answered from there. */
static struct ibv_wc cq_wcs[8];
static int ncq_wcs;
static uint16_t sent_cids[16];
static int nsent_cids;

static int queue_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	(void)cq;
	int k = ncq_wcs < n ? ncq_wcs : n;
	memcpy(wc, cq_wcs, (size_t)k * sizeof(*wc));
	memmove(cq_wcs, cq_wcs + k, (size_t)(ncq_wcs - k) * sizeof(*wc));
	ncq_wcs -= k;
	return k;
}

static int record_post_send(struct ibv_qp *q, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	(void)q;
	(void)bad;
	for (; wr; wr = wr->next)
		if (wr->opcode == IBV_WR_SEND || wr->opcode == IBV_WR_SEND_WITH_INV)
			sent_cids[nsent_cids++] = le16toh(((struct hnvmf_cqe *)(uintptr_t)wr->sg_list->addr)->cid);
	return 0;
}

static int migrations;
int rdma_migrate_id(struct rdma_cm_id *id, struct rdma_event_channel *channel)
{
	(void)id;
	(void)channel;
	migrations++;
	return 0;
}

static struct rdma_slab_obj caps[4];
static uint8_t caps_mem[4][128];

static void host_sends(uint16_t cid, int slot)
{
	memset(caps_mem[slot], 0, sizeof(caps_mem[slot]));
	union hnvmf_sqe *sqe = (union hnvmf_sqe *)caps_mem[slot];
	sqe->common.opcode = 0; /* Flush: no data */
	sqe->common.cid = htole16(cid);
	cq_wcs[ncq_wcs++] = (struct ibv_wc){ .wr_id = (uintptr_t)&caps[slot], .status = IBV_WC_SUCCESS,
					     .opcode = IBV_WC_RECV, .byte_len = 64 };
}

static void send_completes(struct rdma_req *t)
{
	cq_wcs[ncq_wcs++] = (struct ibv_wc){ .wr_id = (uintptr_t)t, .status = IBV_WC_SUCCESS };
}

static void move_holds_commands_and_starts_them_in_order(void **state)
{
	(void)state;
	static struct ibv_device dev_fake = { .name = "fake0" };
	memset(&ctx, 0, sizeof(ctx));
	ctx.device = &dev_fake;
	ctx.ops.poll_cq = queue_poll_cq;
	ctx.ops.req_notify_cq = fake_req_notify_cq;
	ctx.ops.post_send = record_post_send;
	ctx.ops.post_recv = fake_post_recv;
	qp.context = &ctx;
	struct ibv_cq cq = { .context = &ctx };
	struct rdma_device dev = { .ctx = &ctx };
	fail_send = fail_recv = false;
	ncq_wcs = nsent_cids = migrations = 0;
	memset(&ft, 0, sizeof(ft));

	static struct hnvmf_reactor *rs[2];
	rs[0] = R(0);
	rs[1] = R(1);
	memset(&rdma_g, 0, sizeof(rdma_g));
	rdma_g.env.reactors = rs;
	rdma_g.env.nreactors = 2;
	rdma_g.capsule_size = 128;
	rdma_g.io_depth = 4;
	rdma_g.buf_large = RDMA_BUF_MEDIUM;
	struct rdma_reactor rts[2];
	memset(rts, 0, sizeof(rts));
	rdma_g.rts = rts;
	for (int i = 0; i < 2; i++) {
		rts[i].r = rs[i];
		hnvmf_list_init(&rts[i].conns);
		hnvmf_list_init(&rts[i].active);
		hnvmf_list_init(&rts[i].poller.link);
	}

	struct rdma_conn *c = calloc(1, sizeof(*c));
	c->ctx_kind = RDMA_CTX_CONN;
	c->rt = &rts[0];
	c->dev = &dev;
	c->grp = c->cap_grp = rdma_group_get(&rts[0], &dev);
	assert_non_null(c->grp);
	c->qp = &qp;
	c->cq = &cq;
	c->cq_ev.fd = -1;
	c->state = RDMA_CONN_LIVE;
	c->cm.recv_depth = 4;
	c->icd_limit = 0;
	c->send_depth = 9;
	c->held = calloc(4, sizeof(*c->held));
	hnvmf_list_init(&c->wr_waiters);
	hnvmf_list_init(&c->timer.link);
	hnvmf_list_init(&c->active_link);
	hnvmf_list_add_tail(&rts[0].conns, &c->link);
	rts[0].nconns = 1;
	hnvmf_conn_move_init(&c->mv, &rdma_move_ops, &c->sq);
	hnvmf_sq_init(&c->sq, &tgt, &port, R(0), &rdma_sq_ops);
	snprintf(c->sq.peer, sizeof(c->sq.peer), "fake");
	c->nreqs = 8;
	c->reqs = calloc(c->nreqs, sizeof(*c->reqs));
	for (unsigned i = c->nreqs; i-- > 0;) {
		c->reqs[i].wr_kind = RDMA_WR_REQ;
		c->reqs[i].conn = c;
		c->reqs[i].next_free = c->free_reqs;
		c->free_reqs = &c->reqs[i];
	}
	for (int i = 0; i < 4; i++) {
		caps[i] = (struct rdma_slab_obj){ .wr_kind = RDMA_WR_RECV, .addr = caps_mem[i], .size = 128 };
		c->posted_recv++;
	}
	assert_int_equal(rdma_cq_attach(c), 0);

	/* command 1 executes (the target holds it); then the move is asked for */
	ft.hold = true;
	host_sends(1, 0);
	rdma_reactor_poll(&rts[0].poller);
	assert_int_equal(ft.nheld, 1);
	c->sq.ops->move(&c->sq, R(1));
	/* 2 and 3 arrive: held, not started */
	host_sends(2, 1);
	host_sends(3, 2);
	rdma_reactor_poll(&rts[0].poller);
	assert_int_equal(ft.executed, 1);
	assert_int_equal(c->nheld, 2);
	run_msgs();
	assert_ptr_equal(c->rt, &rts[0]); /* command 1 still busy */
	/* 1 is answered; its SEND completes: now it moves */
	ft.hold = false;
	fake_finish(ft.held[0]);
	assert_int_equal(nsent_cids, 1);
	struct rdma_req *t1 = NULL;
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state == RDMA_REQ_SENDING)
			t1 = &c->reqs[i];
	assert_non_null(t1);
	send_completes(t1);
	rdma_reactor_poll(&rts[0].poller);
	assert_int_equal(c->nbusy, 0);
	run_msgs(); /* out on reactor 0, in on reactor 1 */
	assert_int_equal(migrations, 1);
	assert_ptr_equal(c->rt, &rts[1]);
	assert_ptr_equal(c->sq.reactor, R(1));
	assert_int_equal(rts[0].nconns, 0);
	assert_int_equal(rts[1].nconns, 1);
	assert_true(hnvmf_list_empty(&rts[0].active));
	assert_int_equal(c->mv.moves, 1);
	assert_null(c->mv.to);
	assert_ptr_equal(c->grp->rt, &rts[1]); /* data buffers from the new reactor's pools */
	assert_ptr_equal(c->cap_grp->rt, &rts[0]);
	assert_int_equal(ft.executed, 1);
	/* the new reactor's poller starts the held commands, in order, then polls the CQ */
	host_sends(4, 3);
	rdma_reactor_poll(&rts[1].poller);
	assert_int_equal(ft.executed, 4);
	assert_int_equal(c->nheld, 0);
	assert_int_equal(nsent_cids, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sent_cids[i], i + 1);
	rdma_reactor_poll(&rts[0].poller); /* the old reactor has nothing of it */
	assert_int_equal(ft.executed, 4);

	rdma_cq_detach(c);
	free(c->held);
	free(c->reqs);
	free(c);
	for (int i = 0; i < 2; i++)
		while (rts[i].groups) {
			struct rdma_group *g = rts[i].groups;
			rts[i].groups = g->next;
			rdma_group_free(g);
		}
	rdma_g.rts = NULL;
	memset(pollers, 0, sizeof(pollers));
	msg_head = msg_tail = NULL;
}

/* The table of rdma-internal.h: a request executes only once its data is in (READ done), and a
 * response goes out once. */
static void request_state_table(void **state)
{
	(void)state;
	assert_true(rdma_req_state_allowed(RDMA_REQ_FREE, RDMA_REQ_NEW));
	assert_false(rdma_req_state_allowed(RDMA_REQ_FREE, RDMA_REQ_EXECUTING));
	assert_true(rdma_req_state_allowed(RDMA_REQ_READING, RDMA_REQ_EXECUTING));
	assert_false(rdma_req_state_allowed(RDMA_REQ_WAIT_READ_WR, RDMA_REQ_EXECUTING));
	assert_false(rdma_req_state_allowed(RDMA_REQ_EXECUTING, RDMA_REQ_READING));
	assert_true(rdma_req_state_allowed(RDMA_REQ_WAIT_RSP_WR, RDMA_REQ_SENDING));
	assert_false(rdma_req_state_allowed(RDMA_REQ_SENDING, RDMA_REQ_WAIT_RSP_WR));
	for (enum rdma_req_state s = RDMA_REQ_NEW; s < RDMA_REQ_NSTATES; s++)
		assert_true(rdma_req_state_allowed(s, RDMA_REQ_FREE));
}

int main(void)
{
	pump_thread = pthread_self();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resumed_response_post_send_fails),
		cmocka_unit_test(resumed_response_post_recv_fails),
		cmocka_unit_test(late_completions_after_abandon),
		cmocka_unit_test(request_state_table),
		cmocka_unit_test(move_holds_commands_and_starts_them_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
