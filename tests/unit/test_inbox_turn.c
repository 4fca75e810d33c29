/* The reactor's inbox bound (core/reactor.c): one loop iteration runs at most
 * HNVMF_REACTOR_INBOX_TURN messages; the rest run in the next iterations, oldest first, and a
 * message sent meanwhile (here by one of the messages) runs after all of them. Run on the calling
 * thread (hnvmf_reactor_run); a poller counts the iterations, which it runs first in each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/reactor.h"

enum { N = 200, T = HNVMF_REACTOR_INBOX_TURN };

static struct hnvmf_reactor *R;
static int turn;
static int ran;             /* messages run so far */
static int order[N + 1];    /* order[k]: index of the k-th message run */
static int ran_in_turn[N + 1];

struct tmsg {
	struct hnvmf_msg msg;
	int idx;
};
static struct tmsg msgs[N + 1];

static void tmsg_run(struct hnvmf_msg *m)
{
	struct tmsg *t = (struct tmsg *)m;
	ran_in_turn[t->idx] = turn;
	order[ran++] = t->idx;
	if (t->idx == 0) /* sent while the other 199 wait: runs after them */
		hnvmf_reactor_send(R, &msgs[N].msg);
}

static int count_turns(struct hnvmf_poller *p)
{
	(void)p;
	if (++turn > 6)
		hnvmf_reactor_stop(R);
	return 0;
}

static void test_inbox_turn(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_reactor_create("inbox", &R), 0);
	struct hnvmf_poller turns = { .fn = count_turns };
	hnvmf_reactor_add_poller(R, &turns);
	for (int i = 0; i <= N; i++) {
		msgs[i].msg.fn = tmsg_run;
		msgs[i].idx = i;
	}
	for (int i = 0; i < N; i++)
		hnvmf_reactor_send(R, &msgs[i].msg);
	hnvmf_reactor_run(R);
	assert_int_equal(ran, N + 1);
	for (int k = 0; k <= N; k++)
		assert_int_equal(order[k], k); /* in sending order, the late one last */
	int per_turn[8] = {0};
	for (int i = 0; i <= N; i++) {
		assert_true(ran_in_turn[i] >= 1 && ran_in_turn[i] <= 7);
		per_turn[ran_in_turn[i]]++;
	}
	for (int t = 1; t < 8; t++)
		assert_true(per_turn[t] <= T);
	/* Full turns while the backlog lasts: 200 + 1 messages in ceil(201 / 64) turns. */
	for (int i = 0; i < N; i++)
		assert_int_equal(ran_in_turn[i], 1 + i / T);
	assert_int_equal(ran_in_turn[N], 1 + N / T);
	hnvmf_reactor_del_poller(R, &turns);
	hnvmf_reactor_destroy(R);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inbox_turn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
