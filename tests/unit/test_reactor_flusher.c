/* A reactor's flushers run after its pollers, inbox and timers in the same iteration, whatever
 * the order they were added in: the TCP transport's send poller is added with the first
 * connection, before the direct path's poller (first I/O), and must still send in the iteration
 * that reaped the completions. Run on the calling thread (hnvmf_reactor_run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/reactor.h"

static struct hnvmf_reactor *R;
static int produced;      /* "completions" the poller made */
static int poller_calls;
static int flushed_seen[4]; /* per flusher call: how many the poller had made by then */
static int flusher_calls;

static int engine_poll(struct hnvmf_poller *p)
{
	(void)p;
	poller_calls++;
	produced++;
	return 1;
}

static int send_flush(struct hnvmf_poller *p)
{
	(void)p;
	flushed_seen[flusher_calls++] = produced;
	if (flusher_calls == 4)
		hnvmf_reactor_stop(R);
	return 1;
}

static void msg_fn(struct hnvmf_msg *m)
{
	(void)m;
	produced += 100; /* a completion handed back through the inbox */
}

static void test_flusher_runs_last(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_reactor_create("flush", &R), 0);
	struct hnvmf_poller send = { .fn = send_flush };
	struct hnvmf_poller engine = { .fn = engine_poll };
	struct hnvmf_msg m = { .fn = msg_fn };
	hnvmf_reactor_add_flusher(R, &send);  /* the transport's, added first */
	hnvmf_reactor_add_poller(R, &engine); /* the engine's, added later */
	hnvmf_reactor_send(R, &m);
	hnvmf_reactor_run(R);
	assert_int_equal(flusher_calls, 4);
	/* Iteration i's flusher saw iteration i's poller work (i + 1) and the inbox's. */
	assert_int_equal(flushed_seen[0], 101);
	for (int i = 1; i < 4; i++)
		assert_int_equal(flushed_seen[i], 101 + i);
	assert_int_equal(poller_calls, 4);
	hnvmf_reactor_del_poller(R, &engine);
	hnvmf_reactor_del_poller(R, &send);
	hnvmf_reactor_destroy(R);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flusher_runs_last),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
