/* Work requests of an RDMA connection that fail or come back late:
 *   - a response that waited for room on the send queue, then fails to post (the QP went to
 *     the error state): the connection closes, and the request must be released exactly once.
 *     It used to be released twice, once by the close (which took it for a request still
 *     waiting) and once by the failed post: the free list then pointed to itself and the busy
 *     count wrapped around;
 *   - completions arriving after the flush timeout gave up on the connection's WRs must not be
 *     counted again (the counts wrapped and the connection was never destroyed).
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
