/* The send queue's entries (struct tcp_send) against early data and reuse, with the reactor and
 * the target replaced by the fakes of test_tcp_fakes.h:
 *   - H2CData for a Write whose R2T still waits on the send queue (the socket is full behind a
 *     large read) ends the connection with FES 0x02 after the read's PDUs, with and without
 *     digests;
 *   - a response built over an entry that is still queued (a bug of ours) never corrupts the
 *     queue: a debug build stops on the assertion, a release build fails that connection. */
#include <signal.h>
#include <sys/wait.h>

#include "test_tcp_fakes.h"

/* setup / teardown: the TCP transport over the fakes (test_tcp_fakes.h). */

static void h2c_before_r2t_sent_terminates(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		h2c_before_r2t_sent(&h);
	}
}

/* The target answering the Write while its R2T is queued: what early H2CData led to before
 * it was refused, done directly (the data taken, the Write executed, its response queued). */
static void response_over_queued_r2t(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct tcp_req *t = r2t_behind_full_socket(&h);
#ifdef NDEBUG
	int destroyed = ft.destroyed;
	t->state = TCP_REQ_EXECUTING;
	hnvmf_req_complete(&t->req, 0);
	assert_int_equal(h.c->state, TCP_CONN_CLOSED);
	assert_true(hnvmf_list_empty(&h.c->sendq));
	assert_int_equal(t->state, TCP_REQ_FREE);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	close(h.fd);
#else
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t->state = TCP_REQ_EXECUTING;
		hnvmf_req_complete(&t->req, 0);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	close_host(&h); /* here the Write still waits for its data: the close aborts it */
#endif
}

int main(void)
{
	alarm(120); /* a corrupted send queue loops forever: fail instead */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(h2c_before_r2t_sent_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(response_over_queued_r2t, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
