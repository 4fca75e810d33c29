/* An owner of a backend queue pair (the reactor on the direct path, the I/O server of PQM and DAM,
 * the baseline's polling server) with ios in flight sleeps on the fd hnvmf_bqp_arm gives it, and
 * the completion wakes it. The device here is a fake: it holds every bio until the test releases
 * them, then writes its eventfd (as librbd writes an RBD image's). An owner that polled instead of
 * sleeping would call reap thousands of times while the bios are held; one that sleeps calls it a
 * handful of times (its idle spin, a reactor's timer wake-up). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/backend/backend-impl.h"
#include "core/io.h"

#define BS 4096
#define NIO 4
#define HELD_MAX 64

/* ---------------------------------------------------------------- a device that notifies */

struct held {
	struct hnvmf_bqp *qp;
	struct hnvmf_bio *bio;
};

struct evdev {
	pthread_mutex_t m;
	bool released;
	struct held held[HELD_MAX];
	unsigned nheld;
	int efd; /* written once when the bios are released */
	atomic_uint reaps;
};

static int ev_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct evdev *d = qp->be->priv;
	pthread_mutex_lock(&d->m);
	assert_true(d->nheld < HELD_MAX);
	d->held[d->nheld++] = (struct held){qp, bio};
	pthread_mutex_unlock(&d->m);
	return 0;
}

/* Completes the released bios of this queue pair (they may be spread over several). */
static void ev_reap(struct hnvmf_bqp *qp)
{
	struct evdev *d = qp->be->priv;
	atomic_fetch_add(&d->reaps, 1);
	pthread_mutex_lock(&d->m);
	for (unsigned i = 0; d->released && i < d->nheld;) {
		if (d->held[i].qp == qp) {
			hnvmf_bqp_complete(qp, d->held[i].bio, 0);
			d->held[i] = d->held[--d->nheld];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&d->m);
}

static bool ev_ready(struct evdev *d, struct hnvmf_bqp *qp)
{
	bool ready = false;
	pthread_mutex_lock(&d->m);
	for (unsigned i = 0; d->released && i < d->nheld; i++)
		ready |= d->held[i].qp == qp;
	pthread_mutex_unlock(&d->m);
	return ready;
}

/* Drain, then look (the order hnvmf_bqp_arm promises). */
static int ev_arm(struct hnvmf_bqp *qp, int *fd)
{
	struct evdev *d = qp->be->priv;
	uint64_t v;
	(void)!read(d->efd, &v, sizeof(v));
	if (ev_ready(d, qp))
		return 1;
	*fd = d->efd;
	return 0;
}

static const struct hnvmf_backend_ops ev_ops = {.submit = ev_submit, .reap = ev_reap, .arm = ev_arm};

static void ev_release(struct evdev *d)
{
	uint64_t one = 1;
	pthread_mutex_lock(&d->m);
	d->released = true;
	pthread_mutex_unlock(&d->m);
	assert_int_equal(write(d->efd, &one, sizeof(one)), (ssize_t)sizeof(one));
}

static unsigned ev_held(struct evdev *d)
{
	pthread_mutex_lock(&d->m);
	unsigned n = d->nheld;
	pthread_mutex_unlock(&d->m);
	return n;
}

/* ---------------------------------------------------------------- one channel on it */

struct job {
	struct hnvmf_io io;
	struct iovec iov;
	uint8_t buf[BS];
	int done_count;
};

struct ctx {
	struct hnvmf_reactor *r;
	struct hnvmf_engine *e;
	struct hnvmf_backend be;
	struct evdev dev;
	struct hnvmf_chan *ch;
	enum hnvmf_path_mode mode;
	struct job jobs[NIO];
	atomic_int completed;
	int rc;
};

static struct ctx *g; /* the test's, for job_done */

static void job_done(struct hnvmf_io *io)
{
	struct job *j = container_of(io, struct job, io);
	j->done_count++;
	atomic_fetch_add(&g->completed, 1);
}

static void open_chan(void *arg)
{
	struct ctx *c = arg;
	struct hnvmf_chan_opts o = {.mode = c->mode, .tenant = "nqn.test"};
	c->rc = hnvmf_chan_open(c->e, c->r, &c->be, &o, &c->ch);
}

static void close_chan(void *arg)
{
	struct ctx *c = arg;
	hnvmf_chan_close(c->ch);
}

static void submit_all(void *arg)
{
	struct ctx *c = arg;
	for (int i = 0; i < NIO; i++) {
		struct job *j = &c->jobs[i];
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = HNVMF_BIO_WRITE, .offset = (uint64_t)i * BS, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = job_done;
		hnvmf_chan_submit(c->ch, &j->io);
	}
}

static void run_mode(enum hnvmf_path_mode mode)
{
	struct ctx *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	g = c;
	c->mode = mode;
	pthread_mutex_init(&c->dev.m, NULL);
	c->dev.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(c->dev.efd >= 0);
	c->be = (struct hnvmf_backend){.ops = &ev_ops, .type = HNVMF_BACKEND_NULL, .size = 1 << 20,
				       .block_size = 512, .priv = &c->dev};
	assert_int_equal(hnvmf_reactor_create("test", &c->r), 0);
	assert_int_equal(hnvmf_reactor_start(c->r, -1), 0);
	struct hnvmf_engine_opts eo = {.pqm_cmax = 2, .pqm_epoch_ms = 20, .subqueue_depth = 256, .backend_depth = 16,
				       .baseline_servers = 2, .baseline_depth = 16};
	assert_int_equal(hnvmf_engine_create(&eo, &c->e), 0);
	hnvmf_reactor_call_sync(c->r, open_chan, c);
	assert_int_equal(c->rc, 0);
	assert_int_equal(hnvmf_chan_mode(c->ch), mode);

	hnvmf_reactor_call_sync(c->r, submit_all, c);
	for (int t = 0; t < 5000 && ev_held(&c->dev) < NIO; t++)
		usleep(1000);
	assert_int_equal(ev_held(&c->dev), NIO);
	/* The owner polls for its idle spin after the last submit (DAM's server: 200 us, reaping
	 * each turn), then sleeps: counted from 100 ms on, when any spin is long over, for 300 ms. */
	usleep(100 * 1000);
	unsigned r0 = atomic_load(&c->dev.reaps);
	usleep(300 * 1000);
	unsigned polls = atomic_load(&c->dev.reaps) - r0;
	print_message("%s: %u reaps in 300 ms with %d ios held\n", hnvmf_path_mode_name(mode), polls, NIO);
	assert_true(polls < 50);
	assert_int_equal(atomic_load(&c->completed), 0);

	/* The completion alone (the eventfd write) wakes it. */
	ev_release(&c->dev);
	for (int t = 0; t < 5000 && atomic_load(&c->completed) < NIO; t++)
		usleep(1000);
	assert_int_equal(atomic_load(&c->completed), NIO);
	for (int i = 0; i < NIO; i++) {
		assert_int_equal(c->jobs[i].done_count, 1);
		assert_int_equal(c->jobs[i].io.bio.result, 0);
	}

	hnvmf_reactor_call_sync(c->r, close_chan, c);
	hnvmf_reactor_stop(c->r);
	hnvmf_reactor_destroy(c->r);
	hnvmf_engine_destroy(c->e);
	close(c->dev.efd);
	pthread_mutex_destroy(&c->dev.m);
	free(c);
}

static void test_direct_sleeps(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_DIRECT);
}

static void test_pqm_server_sleeps(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_PQM);
}

static void test_dam_server_sleeps(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_DAM);
}

static void test_baseline_server_sleeps(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_BASELINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_sleeps),
		cmocka_unit_test(test_pqm_server_sleeps),
		cmocka_unit_test(test_dam_server_sleeps),
		cmocka_unit_test(test_baseline_server_sleeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
