/* target/teardown.c: the order of the daemon's queue teardown over several transports and the
 * walks over the reactors, with transports whose queues only record what they were asked, on
 * two real reactors (the real TCP transport is driven through it by test_tcp_conn's
 * shutdown_drains). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/reactor.h"
#include "target/nvmf.h"
#include "target/teardown.h"

#define NREACTORS 2
#define MAXQ 8

struct fake;

struct fake_queue {
	struct hnvmf_sq sq;
	struct fake *f;
	unsigned reactor;
	bool listed;   /* on its reactor's list: not yet destroyed */
	bool draining;
};

struct fake {
	struct hnvmf_queue_teardown_ops ops;
	char letter;
	struct fake_queue q[MAXQ];
	unsigned nq;
	unsigned pending; /* accepted, not yet on a reactor: only nconns sees them */
	bool accepting, stuck;
};

static struct hnvmf_reactor *R[NREACTORS];
static struct fake F[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* F and events: reactors and main */
static char events[512];
/* Found on a reactor thread, asserted on the test's (a cmocka failure must not jump there). */
static bool wrong_thread, admin_before_io, drained_while_accepting;
static int fake_ctrl;

static void note(char letter, const char *what)
{
	char e[8];
	snprintf(e, sizeof(e), "%c%s ", letter, what);
	strncat(events, e, sizeof(events) - strlen(events) - 1);
}

static bool is_admin(const struct fake_queue *q)
{
	return q->sq.ctrl && q->sq.qid == 0;
}

/* A draining queue closes at the next look (its in-flight commands answered), unless stuck;
 * one accepted before stop_accepting reaches its reactor and drains at once. */
static void settle(struct fake *f)
{
	for (unsigned i = 0; i < f->nq; i++)
		if (f->q[i].draining && !f->stuck)
			f->q[i].listed = false;
	if (!f->accepting && f->pending && !f->stuck)
		f->pending--;
}

static void fake_drain(struct hnvmf_sq *sq)
{
	struct fake_queue *q = container_of(sq, struct fake_queue, sq);
	pthread_mutex_lock(&lock);
	if (hnvmf_reactor_self() != R[q->reactor])
		wrong_thread = true;
	if (q->f->accepting)
		drained_while_accepting = true;
	/* Nothing may cut an I/O queue off: every transport's are gone already (unless the
	 * graceful time ran out). */
	if (is_admin(q) && !F[0].stuck && !F[1].stuck)
		for (int t = 0; t < 2; t++)
			for (unsigned i = 0; i < F[t].nq; i++)
				if (F[t].q[i].listed && !is_admin(&F[t].q[i]))
					admin_before_io = true;
	q->draining = true;
	note(q->f->letter, is_admin(q) ? "A" : "i");
	pthread_mutex_unlock(&lock);
}

static void fake_disconnect(struct hnvmf_sq *sq)
{
	struct fake_queue *q = container_of(sq, struct fake_queue, sq);
	pthread_mutex_lock(&lock);
	if (hnvmf_reactor_self() != R[q->reactor])
		wrong_thread = true;
	q->listed = false; /* destroyed while the walk is on it */
	note(q->f->letter, "x");
	pthread_mutex_unlock(&lock);
}

static const struct hnvmf_sq_ops fake_sq_ops = {
	.disconnect = fake_disconnect, .drain = fake_drain, .name = "fake"};

static void stop_accepting(struct fake *f)
{
	pthread_mutex_lock(&lock);
	f->accepting = false;
	note(f->letter, "S");
	pthread_mutex_unlock(&lock);
}

static void each_queue(struct fake *f, unsigned ri, void (*fn)(struct hnvmf_sq *, void *),
		       void *arg)
{
	pthread_mutex_lock(&lock);
	if (ri >= NREACTORS || hnvmf_reactor_self() != R[ri])
		wrong_thread = true;
	settle(f);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < f->nq; i++) /* fn takes the lock itself */
		if (f->q[i].reactor == ri && f->q[i].listed)
			fn(&f->q[i].sq, arg);
}

static unsigned nconns(struct fake *f)
{
	pthread_mutex_lock(&lock);
	settle(f);
	unsigned n = f->pending;
	for (unsigned i = 0; i < f->nq; i++)
		n += f->q[i].listed;
	pthread_mutex_unlock(&lock);
	return n;
}

static void stop0(void) { stop_accepting(&F[0]); }
static void stop1(void) { stop_accepting(&F[1]); }
static void each0(unsigned ri, void (*fn)(struct hnvmf_sq *, void *), void *arg) { each_queue(&F[0], ri, fn, arg); }
static void each1(unsigned ri, void (*fn)(struct hnvmf_sq *, void *), void *arg) { each_queue(&F[1], ri, fn, arg); }
static unsigned nconns0(void) { return nconns(&F[0]); }
static unsigned nconns1(void) { return nconns(&F[1]); }

enum kind { IO, ADMIN, UNCONNECTED };

static void add_queue(struct fake *f, unsigned reactor, enum kind k)
{
	struct fake_queue *q = &f->q[f->nq++];
	q->f = f;
	q->reactor = reactor;
	q->listed = true;
	q->sq.ops = &fake_sq_ops;
	q->sq.ctrl = k == UNCONNECTED ? NULL : (struct hnvmf_ctrl *)&fake_ctrl;
	q->sq.qid = k == IO ? 1 : 0;
}

static unsigned open_queues(void)
{
	return nconns(&F[0]) + nconns(&F[1]);
}

static int setup(void **state)
{
	(void)state;
	memset(F, 0, sizeof(F));
	events[0] = '\0';
	wrong_thread = admin_before_io = drained_while_accepting = false;
	F[0].ops = (struct hnvmf_queue_teardown_ops){"a", stop0, each0, nconns0};
	F[1].ops = (struct hnvmf_queue_teardown_ops){"b", stop1, each1, nconns1};
	F[0].letter = 'a';
	F[1].letter = 'b';
	F[0].accepting = F[1].accepting = true;
	/* a: reactor 0 serves two I/O queues and an admin queue, reactor 1 an I/O queue and one
	 * not yet connected (it drains with the I/O queues). */
	add_queue(&F[0], 0, IO);
	add_queue(&F[0], 0, IO);
	add_queue(&F[0], 0, ADMIN);
	add_queue(&F[0], 1, IO);
	add_queue(&F[0], 1, UNCONNECTED);
	/* b: an admin and an I/O queue on each reactor, and one not yet on a reactor. */
	add_queue(&F[1], 0, ADMIN);
	add_queue(&F[1], 0, IO);
	add_queue(&F[1], 1, IO);
	add_queue(&F[1], 1, ADMIN);
	F[1].pending = 1;
	for (int i = 0; i < NREACTORS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "teardown%d", i);
		assert_int_equal(hnvmf_reactor_create(name, &R[i]), 0);
		assert_int_equal(hnvmf_reactor_start(R[i], -1), 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NREACTORS; i++) {
		hnvmf_reactor_stop(R[i]);
		hnvmf_reactor_destroy(R[i]);
	}
	return 0;
}

static void io_queues_of_every_transport_first(void **state)
{
	(void)state;
	const struct hnvmf_queue_teardown_ops *t[] = {&F[0].ops, &F[1].ops};
	hnvmf_queues_teardown(t, 2, R, NREACTORS, 5000);
	/* Each transport stops accepting before its queues drain, reactor by reactor; the
	 * admin queues of every transport only once no I/O queue is left anywhere. */
	assert_string_equal(events, "aS ai ai ai ai bS bi bi aA bA bA ");
	assert_false(wrong_thread);
	assert_false(admin_before_io);
	assert_false(drained_while_accepting);
	assert_int_equal(open_queues(), 0);
}

static void stuck_queues_are_closed_after_the_timeout(void **state)
{
	(void)state;
	F[1].stuck = true;
	const struct hnvmf_queue_teardown_ops *t[] = {&F[0].ops, &F[1].ops};
	hnvmf_queues_teardown(t, 2, R, NREACTORS, 50);
	/* b's queues never finish: after the graceful time every one still listed is
	 * disconnected (a's, drained, are gone by then); b's connection that never reached a
	 * reactor is left to the second wait, which gives up. */
	assert_string_equal(events, "aS ai ai ai ai bS bi bi aA bA bi bi bA bx bx bx bx ");
	assert_false(wrong_thread);
	assert_false(drained_while_accepting);
	assert_int_equal(nconns(&F[0]), 0);
	assert_int_equal(nconns(&F[1]), 1); /* the pending one */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(io_queues_of_every_transport_first, setup, teardown),
		cmocka_unit_test_setup_teardown(stuck_queues_are_closed_after_the_timeout, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
