/* transport/conn-move.c, the move protocol both transports use (TCP and RDMA), with a fake
 * transport: a connection that "receives" numbered commands, holds them while a move is asked
 * for, and starts them where it is once the move is over. Asserted: the move waits until the
 * connection is movable (between commands), leaves the old reactor before the queue is handed
 * over and arrives on the new one after; the held commands start after the arrival, all of them,
 * in order; a request for the current reactor cancels a pending one; a request made in transit
 * is taken up after the arrival; a transport that refuses to leave keeps the connection and
 * drops the request. The reactor and target are the fakes of test_tcp_fakes.h (one thread; the
 * fake hnvmf_sq_move_out sets sq->reactor). */
#pragma GCC diagnostic ignored "-Wunused-variable"
#include "test_tcp_fakes.h"

#include "transport/conn-move.h"

#define NCMDS 16

struct fconn {
	struct hnvmf_sq sq;
	struct hnvmf_conn_move mv;
	struct hnvmf_reactor *on; /* where the transport thinks it is; NULL in transit */
	int busy;                 /* commands executing: not movable */
	bool refuse;              /* leave fails */
	int held[NCMDS], nheld;   /* received while a move was asked for */
	int started[NCMDS], nstarted;
	struct hnvmf_reactor *started_on[NCMDS];
	char trace[64];           /* L(eave), O(ut: sq handed over), A(rrive) */
};

static void trace(struct fconn *f, char c)
{
	size_t n = strlen(f->trace);
	if (n + 1 < sizeof(f->trace))
		f->trace[n] = c;
}

static void start(struct fconn *f, int cmd)
{
	f->started_on[f->nstarted] = f->on;
	f->started[f->nstarted++] = cmd;
}

/* A command arrives: held while a move is asked for or others are held, as RDMA does. */
static void receive(struct fconn *f, int cmd)
{
	if (f->mv.to || f->mv.moving || f->nheld)
		f->held[f->nheld++] = cmd;
	else
		start(f, cmd);
}

static void start_held(struct fconn *f)
{
	int i = 0;
	while (i < f->nheld && !f->mv.to)
		start(f, f->held[i++]);
	memmove(f->held, f->held + i, (size_t)(f->nheld - i) * sizeof(int));
	f->nheld -= i;
}

static bool f_movable(struct hnvmf_conn_move *m)
{
	struct fconn *f = container_of(m, struct fconn, mv);
	return f->busy == 0;
}

static bool f_leave(struct hnvmf_conn_move *m, struct hnvmf_reactor *to)
{
	struct fconn *f = container_of(m, struct fconn, mv);
	assert_ptr_equal(f->sq.reactor, f->on); /* the queue is handed over after this */
	assert_non_null(to);
	if (f->refuse)
		return false;
	trace(f, 'L');
	f->on = NULL;
	return true;
}

static void f_arrive(struct hnvmf_conn_move *m)
{
	struct fconn *f = container_of(m, struct fconn, mv);
	assert_false(m->moving);
	trace(f, 'A');
	f->on = f->sq.reactor;
	start_held(f);
}

static const struct hnvmf_conn_move_ops fops = {.movable = f_movable, .leave = f_leave, .arrive = f_arrive};
static const struct hnvmf_sq_ops fsq_ops = {.name = "fake"};

static struct fconn *make(void)
{
	struct fconn *f = calloc(1, sizeof(*f));
	f->sq.reactor = R(0);
	f->sq.ops = &fsq_ops;
	f->on = R(0);
	hnvmf_conn_move_init(&f->mv, &fops, &f->sq);
	return f;
}

static int setup(void **state)
{
	(void)state;
	msg_head = msg_tail = NULL;
	pump_thread = pthread_self();
	return 0;
}

static void assert_started_in_order(struct fconn *f, int n)
{
	assert_int_equal(f->nstarted, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(f->started[i], i + 1);
}

/* A command executes when the move is asked for: nothing moves until it is done; the commands
 * that came meanwhile start on the new reactor, in order, after the arrival. */
static void waits_for_commands_then_moves_in_order(void **state)
{
	(void)state;
	struct fconn *f = make();
	receive(f, 1);
	f->busy = 1;
	hnvmf_conn_move_request(&f->mv, R(1));
	for (int c = 2; c <= 6; c++)
		receive(f, c);
	run_msgs();
	assert_ptr_equal(f->sq.reactor, R(0));
	assert_string_equal(f->trace, "");
	assert_int_equal(f->nheld, 5);
	f->busy = 0; /* command 1 done */
	hnvmf_conn_move_try(&f->mv);
	receive(f, 7); /* after the move started: still held, still in order */
	run_msgs();
	assert_string_equal(f->trace, "LA");
	assert_ptr_equal(f->sq.reactor, R(1));
	assert_ptr_equal(f->on, R(1));
	assert_null(f->mv.to);
	assert_false(f->mv.moving);
	assert_int_equal(f->mv.moves, 1);
	assert_started_in_order(f, 7);
	assert_ptr_equal(f->started_on[0], R(0));
	for (int i = 1; i < 7; i++)
		assert_ptr_equal(f->started_on[i], R(1));
	receive(f, 8); /* no move pending: at once */
	assert_started_in_order(f, 8);
	free(f);
}

/* A request for the reactor it is on cancels a pending move. */
static void request_for_current_reactor_cancels(void **state)
{
	(void)state;
	struct fconn *f = make();
	f->busy = 1;
	hnvmf_conn_move_request(&f->mv, R(1));
	assert_ptr_equal(f->mv.to, R(1));
	hnvmf_conn_move_request(&f->mv, R(0));
	assert_null(f->mv.to);
	f->busy = 0;
	hnvmf_conn_move_try(&f->mv);
	run_msgs();
	assert_string_equal(f->trace, "");
	assert_ptr_equal(f->sq.reactor, R(0));
	assert_int_equal(f->mv.moves, 0);
	free(f);
}

/* Asked to go back while in transit (a grant revoked just after it was given): it arrives,
 * then moves back, and every command still starts once, in order. */
static void request_in_transit_taken_up_after_arrival(void **state)
{
	(void)state;
	struct fconn *f = make();
	hnvmf_conn_move_request(&f->mv, R(1));
	receive(f, 1);
	/* Run only the move-out: the connection is in transit, the move-in not yet run. */
	struct hnvmf_msg *m = msg_head;
	assert_non_null(m);
	msg_head = m->next;
	if (!msg_head)
		msg_tail = NULL;
	m->fn(m);
	assert_true(f->mv.moving);
	assert_ptr_equal(f->sq.reactor, R(1));
	assert_null(f->on);
	hnvmf_conn_move_request(&f->mv, R(0));
	assert_ptr_equal(f->mv.to, R(0)); /* kept: sq->reactor is the destination already */
	receive(f, 2);
	run_msgs();
	assert_string_equal(f->trace, "LALA");
	assert_ptr_equal(f->sq.reactor, R(0));
	assert_null(f->mv.to);
	assert_int_equal(f->mv.moves, 2);
	assert_started_in_order(f, 2);
	assert_ptr_equal(f->started_on[0], R(0));
	free(f);
}

/* The transport cannot leave (RDMA: the CM id would not migrate): it stays, the request is
 * dropped, nothing is handed over. */
static void refused_leave_keeps_the_connection(void **state)
{
	(void)state;
	struct fconn *f = make();
	f->refuse = true;
	hnvmf_conn_move_request(&f->mv, R(1));
	run_msgs();
	assert_string_equal(f->trace, "");
	assert_ptr_equal(f->sq.reactor, R(0));
	assert_ptr_equal(f->on, R(0));
	assert_null(f->mv.to);
	assert_false(f->mv.moving);
	assert_int_equal(f->mv.moves, 0);
	free(f);
}

/* Several finished steps each try: one move-out message at a time. */
static void one_message_for_many_tries(void **state)
{
	(void)state;
	struct fconn *f = make();
	hnvmf_conn_move_request(&f->mv, R(1));
	hnvmf_conn_move_try(&f->mv);
	hnvmf_conn_move_try(&f->mv);
	assert_true(f->mv.queued);
	assert_int_equal(run_msgs(), 2); /* out, in */
	assert_int_equal(f->mv.moves, 1);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(waits_for_commands_then_moves_in_order, setup),
		cmocka_unit_test_setup(request_for_current_reactor_cancels, setup),
		cmocka_unit_test_setup(request_in_transit_taken_up_after_arrival, setup),
		cmocka_unit_test_setup(refused_leave_keeps_the_connection, setup),
		cmocka_unit_test_setup(one_message_for_many_tries, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
