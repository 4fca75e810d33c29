/* target/teardown.c: the order of the daemon's queue teardown over several transports, with
 * transports that only record what they were asked (the real TCP one is driven through it by
 * test_tcp_conn's shutdown_drains). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/teardown.h"

struct fake {
	struct hnvmf_queue_teardown_ops ops;
	unsigned io, admin;     /* connections open */
	bool io_draining, all_draining, stuck;
	int closed_all;
};

static struct fake F[2];
static char events[256];

static void note(const char *what)
{
	strncat(events, what, sizeof(events) - strlen(events) - 1);
}

/* A draining queue closes at the next look (its in-flight commands answered), unless stuck. */
static void settle(struct fake *f)
{
	if (f->io_draining && f->io && !f->stuck)
		f->io--;
	if (f->all_draining && f->admin && !f->stuck)
		f->admin--;
}

static void drain(struct fake *f, enum hnvmf_drain which)
{
	if (which == HNVMF_DRAIN_IO) {
		f->io_draining = true;
		note("io ");
	} else {
		/* Nothing may cut an I/O queue off: every transport's are gone already (unless
		 * the graceful time ran out). */
		if (!F[0].stuck && !F[1].stuck)
			assert_int_equal(F[0].io + F[1].io, 0);
		f->all_draining = true;
		note("all ");
	}
}

static unsigned count(struct fake *f, enum hnvmf_drain which)
{
	settle(f);
	return which == HNVMF_DRAIN_IO ? f->io : f->io + f->admin;
}

static void close_all(struct fake *f)
{
	f->closed_all++;
	f->io = f->admin = 0;
	note("close ");
}

static void drain0(enum hnvmf_drain w) { drain(&F[0], w); }
static void drain1(enum hnvmf_drain w) { drain(&F[1], w); }
static unsigned count0(enum hnvmf_drain w) { return count(&F[0], w); }
static unsigned count1(enum hnvmf_drain w) { return count(&F[1], w); }
static void close0(void) { close_all(&F[0]); }
static void close1(void) { close_all(&F[1]); }

static int setup(void **state)
{
	(void)state;
	memset(F, 0, sizeof(F));
	events[0] = '\0';
	F[0].ops = (struct hnvmf_queue_teardown_ops){"a", drain0, count0, close0};
	F[1].ops = (struct hnvmf_queue_teardown_ops){"b", drain1, count1, close1};
	F[0].io = 3;
	F[0].admin = 1;
	F[1].io = 2;
	F[1].admin = 2;
	return 0;
}

static void io_queues_of_every_transport_first(void **state)
{
	(void)state;
	const struct hnvmf_queue_teardown_ops *t[] = {&F[0].ops, &F[1].ops};
	hnvmf_queues_teardown(t, 2, 5000);
	assert_string_equal(events, "io io all all ");
	assert_int_equal(F[0].io + F[0].admin + F[1].io + F[1].admin, 0);
	assert_int_equal(F[0].closed_all + F[1].closed_all, 0);
}

static void stuck_queues_are_closed_after_the_timeout(void **state)
{
	(void)state;
	F[1].stuck = true;
	const struct hnvmf_queue_teardown_ops *t[] = {&F[0].ops, &F[1].ops};
	hnvmf_queues_teardown(t, 2, 50);
	assert_string_equal(events, "io io all all close close ");
	assert_int_equal(F[1].closed_all, 1);
	assert_int_equal(F[0].io + F[0].admin + F[1].io + F[1].admin, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(io_queues_of_every_transport_first, setup),
		cmocka_unit_test_setup(stuck_queues_are_closed_after_the_timeout, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
