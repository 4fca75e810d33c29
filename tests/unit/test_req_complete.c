/* hnvmf_req_complete from a thread other than the queue's reactor (an AEN raised by the control
 * path, a completion from an I/O server): the response must still be queued on the queue's own
 * reactor, even when memory is short. This program is linked with
 * -Wl,--wrap=hnvmf_reactor_call (tests/CMakeLists.txt) so that the allocating call fails. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "target/nvmf.h"

int __real_hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg);
int __wrap_hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg);

static atomic_bool no_memory;

/* The reactor's allocating call, failing as malloc does when no_memory is set. */
int __wrap_hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	if (atomic_load(&no_memory))
		return -ENOMEM;
	return __real_hnvmf_reactor_call(r, fn, arg);
}

static struct hnvmf_reactor *_Atomic responded_on;
static atomic_int responses;

static void record_response(struct hnvmf_req *req)
{
	(void)req;
	atomic_store(&responded_on, hnvmf_reactor_self());
	atomic_fetch_add(&responses, 1);
}

static void no_disconnect(struct hnvmf_sq *sq) { (void)sq; }
static const struct hnvmf_sq_ops ops = {
	.queue_response = record_response, .disconnect = no_disconnect, .name = "test"};

static void wait_responses(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&responses) < n; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

static void completes_on_owner_without_memory(void **state)
{
	(void)state;
	struct hnvmf_reactor *r;
	assert_int_equal(hnvmf_reactor_create("owner", &r), 0);
	assert_int_equal(hnvmf_reactor_start(r, -1), 0);

	struct hnvmf_sq sq;
	hnvmf_sq_init(&sq, NULL, NULL, r, &ops);
	sq.qid = 1;
	union hnvmf_sqe cmd;
	memset(&cmd, 0, sizeof(cmd));
	struct hnvmf_req req;
	memset(&req, 0, sizeof(req));
	req.cmd = &cmd;
	req.sq = &sq;
	atomic_store(&sq.inflight, 1);

	atomic_store(&no_memory, true);
	hnvmf_req_complete(&req, HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
	wait_responses(1);
	atomic_store(&no_memory, false);

	assert_int_equal(atomic_load(&responses), 1);
	if (atomic_load(&responded_on) != r)
		fail_msg("response queued on %s, not on the queue's reactor",
			 atomic_load(&responded_on) ? "another reactor" : "a foreign thread");
	assert_int_equal(req.status, HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
	assert_int_equal(le16toh(req.cqe.status) >> 1, HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
	assert_int_equal(atomic_load(&sq.inflight), 0);
	hnvmf_reactor_stop(r);
	hnvmf_reactor_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(completes_on_owner_without_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
