/* DH-HMAC-CHAP's worker pool (target/auth-worker.c): jobs run on the workers, never on the
 * reactor; their completions run on the submitting reactor; the queue of waiting jobs is bounded
 * (a full queue refuses at once). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/list.h"
#include "target/auth-worker.h"

#define NJOBS (1 + HNVMF_AUTH_JOBS_PER_WORKER) /* one running, the queue full behind it */

static struct hnvmf_reactor *reactor;
static atomic_bool release, running;
static atomic_int completed, on_reactor;

struct test_job {
	struct hnvmf_auth_job base;
	pthread_t worker;
};

static void work(struct hnvmf_auth_job *j)
{
	struct test_job *t = container_of(j, struct test_job, base);
	t->worker = pthread_self();
	atomic_store(&running, true);
	while (!atomic_load(&release))
		usleep(1000);
}

static void done(struct hnvmf_msg *m)
{
	struct test_job *t = container_of(m, struct test_job, base.msg);
	if (hnvmf_reactor_self() == reactor && !pthread_equal(t->worker, pthread_self()))
		atomic_fetch_add(&on_reactor, 1);
	atomic_fetch_add(&completed, 1);
}

struct submit_args {
	struct hnvmf_auth_pool *pool;
	struct test_job *jobs;
	int first, n;
	int rc[NJOBS + 1];
};

static void submit_on_reactor(void *arg)
{
	struct submit_args *a = arg;
	for (int i = a->first; i < a->first + a->n; i++) {
		a->jobs[i].base.work = work;
		a->jobs[i].base.msg.fn = done;
		a->jobs[i].base.reactor = reactor;
		a->rc[i] = hnvmf_auth_pool_submit(a->pool, &a->jobs[i].base);
	}
}

static void test_bounded_queue_and_completions(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_reactor_create("auth-worker-test", &reactor), 0);
	assert_int_equal(hnvmf_reactor_start(reactor, -1), 0);
	struct hnvmf_auth_pool *pool = NULL;
	assert_int_equal(hnvmf_auth_pool_create(1, &pool), 0);
	assert_int_equal(hnvmf_auth_pool_workers(pool), 1);

	static struct test_job jobs[NJOBS + 1];
	struct submit_args a = { .pool = pool, .jobs = jobs, .first = 0, .n = 1 };
	assert_int_equal(hnvmf_reactor_call_sync(reactor, submit_on_reactor, &a), 0);
	while (!atomic_load(&running)) /* the worker holds the first job: the queue is empty */
		usleep(1000);
	a.first = 1;
	a.n = NJOBS;
	assert_int_equal(hnvmf_reactor_call_sync(reactor, submit_on_reactor, &a), 0);
	for (int i = 0; i < NJOBS; i++)
		assert_int_equal(a.rc[i], 0);
	assert_int_equal(a.rc[NJOBS], -EBUSY);
	assert_int_equal(hnvmf_auth_pool_jobs_refused(pool), 1);

	atomic_store(&release, true);
	for (int i = 0; i < 5000 && atomic_load(&completed) < NJOBS; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&completed), NJOBS);
	assert_int_equal(atomic_load(&on_reactor), NJOBS);
	assert_int_equal(hnvmf_auth_pool_jobs_done(pool), NJOBS);
	hnvmf_auth_pool_destroy(pool);
	hnvmf_reactor_stop(reactor);
	hnvmf_reactor_destroy(reactor);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_queue_and_completions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
