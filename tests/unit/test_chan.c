/* Every engine path (direct, baseline, and PQM/DAM when linked) must deliver each io exactly
 * once, on the submitting reactor's thread, after the backend did the work; data written through a
 * channel reads back identical. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/io.h"

#define NIO 512
#define BS 4096

struct job {
	struct hnvmf_io io;
	struct iovec iov;
	uint8_t *buf;
	int done_count;
	bool on_reactor;
};

struct ctx {
	struct hnvmf_reactor *r;
	struct hnvmf_engine *e;
	struct hnvmf_backend *be;
	struct hnvmf_chan *ch;
	enum hnvmf_path_mode mode;
	struct job jobs[NIO];
	atomic_int completed;
	int rc;
};

static struct ctx *g;

static void job_done(struct hnvmf_io *io)
{
	struct job *j = container_of(io, struct job, io);
	j->done_count++;
	j->on_reactor = hnvmf_reactor_self() == g->r;
	atomic_fetch_add(&g->completed, 1);
}

static void open_chan(void *arg)
{
	struct ctx *c = arg;
	struct hnvmf_chan_opts o = {.mode = c->mode, .tenant = "nqn.test"};
	c->rc = hnvmf_chan_open(c->e, c->r, c->be, &o, &c->ch);
}

static void close_chan(void *arg)
{
	struct ctx *c = arg;
	hnvmf_chan_close(c->ch);
}

static enum hnvmf_bio_op phase_op;

static void submit_all(void *arg)
{
	struct ctx *c = arg;
	for (int i = 0; i < NIO; i++) {
		struct job *j = &c->jobs[i];
		j->done_count = 0;
		j->on_reactor = false;
		if (phase_op == HNVMF_BIO_READ)
			memset(j->buf, 0, BS);
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = (uint8_t)phase_op, .offset = (uint64_t)i * BS, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = job_done;
		hnvmf_chan_submit(c->ch, &j->io);
		/* Never completed inside submit. */
		assert_int_equal(j->done_count, 0);
	}
}

static void wait_all(struct ctx *c)
{
	for (int t = 0; t < 10000 && atomic_load(&c->completed) < NIO; t++)
		usleep(1000);
	assert_int_equal(atomic_load(&c->completed), NIO);
	for (int i = 0; i < NIO; i++) {
		assert_int_equal(c->jobs[i].done_count, 1);
		assert_true(c->jobs[i].on_reactor);
		assert_int_equal(c->jobs[i].io.bio.result, 0);
	}
}

/* A reactor, an engine, a RAM backend of NIO blocks and a channel in mode on them; NIO buffers. */
static struct ctx *ctx_open(enum hnvmf_path_mode mode, unsigned backend_depth)
{
	struct ctx *c = calloc(1, sizeof(*c));
	g = c;
	c->mode = mode;
	assert_int_equal(hnvmf_reactor_create("test", &c->r), 0);
	assert_int_equal(hnvmf_reactor_start(c->r, -1), 0);
	struct hnvmf_engine_opts eo = {.pqm_cmax = 2, .pqm_epoch_ms = 20, .subqueue_depth = 256,
				       .backend_depth = backend_depth};
	assert_int_equal(hnvmf_engine_create(&eo, &c->e), 0);
	struct hnvmf_backend_params p = {.type = HNVMF_BACKEND_RAM, .size = (uint64_t)NIO * BS, .block_size = 512};
	char msg[128];
	assert_int_equal(hnvmf_backend_open(&p, &c->be, msg, sizeof(msg)), 0);
	hnvmf_reactor_call_sync(c->r, open_chan, c);
	assert_int_equal(c->rc, 0);
	for (int i = 0; i < NIO; i++)
		c->jobs[i].buf = calloc(1, BS);
	return c;
}

static void ctx_close(struct ctx *c)
{
	hnvmf_reactor_call_sync(c->r, close_chan, c);
	hnvmf_reactor_stop(c->r);
	hnvmf_reactor_destroy(c->r);
	hnvmf_engine_destroy(c->e);
	hnvmf_backend_close(c->be);
	for (int i = 0; i < NIO; i++)
		free(c->jobs[i].buf);
	free(c);
}

static void run_mode(enum hnvmf_path_mode mode, bool must_be_exact)
{
	struct ctx *c = ctx_open(mode, 64);
	if (must_be_exact)
		assert_int_equal(hnvmf_chan_mode(c->ch), mode);

	phase_op = HNVMF_BIO_WRITE;
	for (int i = 0; i < NIO; i++)
		for (int k = 0; k < BS; k++)
			c->jobs[i].buf[k] = (uint8_t)(i * 7 + k * 13 + mode);
	hnvmf_reactor_call_sync(c->r, submit_all, c);
	wait_all(c);

	atomic_store(&c->completed, 0);
	phase_op = HNVMF_BIO_READ;
	hnvmf_reactor_call_sync(c->r, submit_all, c);
	wait_all(c);
	for (int i = 0; i < NIO; i++)
		for (int k = 0; k < BS; k++)
			assert_int_equal(c->jobs[i].buf[k], (uint8_t)(i * 7 + k * 13 + mode));
	ctx_close(c);
}

static void test_direct(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_DIRECT, true);
}

static void test_baseline(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_BASELINE, true);
}

static void test_pqm(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_PQM, true);
}

static void test_dam(void **state)
{
	(void)state;
	run_mode(HNVMF_PATH_DAM, true);
}

/* The direct path: ios waiting for room in a full backend queue pair keep their order, and one
 * of them refused by the backend (here: beyond its end) is answered with its error without
 * dropping the ios queued behind it. */
#define WAIT_DEPTH 2
#define WAIT_NIO 5
#define WAIT_BAD 3 /* the first two fill the queue pair, the next ones wait */

static void submit_wait_jobs(void *arg)
{
	struct ctx *c = arg;
	for (int i = 0; i < WAIT_NIO; i++) {
		struct job *j = &c->jobs[i];
		uint64_t offset = i == WAIT_BAD ? (uint64_t)NIO * BS : (uint64_t)i * BS;
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = HNVMF_BIO_WRITE, .offset = offset, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = job_done;
		hnvmf_chan_submit(c->ch, &j->io);
	}
}

static void test_direct_refused_while_waiting(void **state)
{
	(void)state;
	struct ctx *c = ctx_open(HNVMF_PATH_DIRECT, WAIT_DEPTH);
	hnvmf_reactor_call_sync(c->r, submit_wait_jobs, c);
	for (int t = 0; t < 5000 && atomic_load(&c->completed) < WAIT_NIO; t++)
		usleep(1000);
	assert_int_equal(atomic_load(&c->completed), WAIT_NIO);
	for (int i = 0; i < WAIT_NIO; i++) {
		assert_int_equal(c->jobs[i].done_count, 1);
		assert_true(c->jobs[i].on_reactor);
		assert_int_equal(c->jobs[i].io.bio.result, i == WAIT_BAD ? -EINVAL : 0);
	}
	ctx_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_pqm),
		cmocka_unit_test(test_dam),
		cmocka_unit_test(test_direct_refused_while_waiting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
