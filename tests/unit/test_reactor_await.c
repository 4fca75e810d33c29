/* hnvmf_reactor_await: a loop whose turn asked to await an answer polls on (runs its pollers
 * again and again) for that long before it sleeps, even with the idle spin off; without it, the
 * same loop sleeps in epoll_wait at once. Run on the calling thread (hnvmf_reactor_run); a
 * 40 ms timer ends each run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/reactor.h"

static struct hnvmf_reactor *R;
static uint64_t await_ns;  /* asked by the first poller call */
static int calls;          /* poller calls after the first */
static uint64_t prev_call, last_call; /* when the last two of them ran */

static int poll_fn(struct hnvmf_poller *p)
{
	(void)p;
	if (calls++ == 0) {
		if (await_ns)
			hnvmf_reactor_await(R, await_ns);
		return 1; /* the turn's work, which sent something the peer answers */
	}
	prev_call = last_call;
	last_call = hnvmf_now_ns();
	return 0;
}

static void stop_fn(struct hnvmf_timer *t)
{
	(void)t;
	hnvmf_reactor_stop(R);
}

/* Runs the loop until the 40 ms timer; returns how long after its start the poller ran for
 * the second last time, in ns (the last is the timer's turn). */
static uint64_t run_once(uint64_t ns)
{
	assert_int_equal(hnvmf_reactor_create("await", &R), 0);
	hnvmf_reactor_set_idle_spin(R, 0); /* never spin: only the await polls */
	struct hnvmf_poller p = { .fn = poll_fn };
	struct hnvmf_timer stop = { .cb = stop_fn };
	await_ns = ns;
	calls = 0;
	hnvmf_reactor_add_poller(R, &p);
	uint64_t t0 = hnvmf_now_ns();
	prev_call = last_call = t0;
	hnvmf_timer_arm(R, &stop, 40);
	hnvmf_reactor_run(R);
	hnvmf_reactor_del_poller(R, &p);
	hnvmf_reactor_destroy(R);
	return prev_call - t0;
}

static void test_await_polls_then_sleeps(void **state)
{
	(void)state;
	/* Awaiting 20 ms: the poller keeps running for 20 ms (thousands of turns), then the
	 * loop sleeps until the timer's turn, which runs it once more. */
	uint64_t polled = run_once(20 * 1000 * 1000ull);
	assert_true(calls > 100);
	assert_true(polled >= 20 * 1000 * 1000ull);
	assert_true(last_call - prev_call >= 10 * 1000 * 1000ull); /* then it slept */
	int awaited_calls = calls;
	/* Not awaiting: the loop sleeps after the first turn; the timer's wake-up runs the
	 * poller once or twice more. */
	run_once(0);
	assert_true(calls < 10);
	assert_true(awaited_calls > 10 * calls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_await_polls_then_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
