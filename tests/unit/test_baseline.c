/* The baseline path is a fair conventional stack: up to its depth of ios at the device at once
 * (a backend whose completions are held back by a gate shows how many it was given), one adapter
 * per backend (a stalled device does not hold up another namespace), and under several reactors,
 * servers and backends every io completes exactly once, on its reactor, with its data intact;
 * the engine then stops cleanly. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/backend/backend-impl.h"
#include "core/io.h"

#define BS 4096

/* ---------------------------------------------------------------- a device with a gate */

#define GATE_MAX 256

/* Accepts every bio and completes none until the gate opens. */
struct gate {
	pthread_mutex_t m;
	bool open;
	struct hnvmf_bio *pending[GATE_MAX];
	unsigned npending, max_pending;
};

static int gate_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct gate *g = qp->be->priv;
	pthread_mutex_lock(&g->m);
	assert_true(g->npending < GATE_MAX);
	g->pending[g->npending++] = bio;
	if (g->npending > g->max_pending)
		g->max_pending = g->npending;
	pthread_mutex_unlock(&g->m);
	return 0;
}

static void gate_reap(struct hnvmf_bqp *qp)
{
	struct gate *g = qp->be->priv;
	pthread_mutex_lock(&g->m);
	if (g->open) {
		for (unsigned i = 0; i < g->npending; i++)
			hnvmf_bqp_complete(qp, g->pending[i], 0);
		g->npending = 0;
	}
	pthread_mutex_unlock(&g->m);
}

static const struct hnvmf_backend_ops gate_ops = {.submit = gate_submit, .reap = gate_reap};

static void gate_init(struct gate *g, struct hnvmf_backend *be)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->m, NULL);
	*be = (struct hnvmf_backend){.ops = &gate_ops, .type = HNVMF_BACKEND_NULL, .size = 1 << 20,
				     .block_size = 512, .priv = g};
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->open = true;
	pthread_mutex_unlock(&g->m);
}

static unsigned gate_count(struct gate *g, bool max)
{
	pthread_mutex_lock(&g->m);
	unsigned n = max ? g->max_pending : g->npending;
	pthread_mutex_unlock(&g->m);
	return n;
}

/* Waits up to 5 s for want bios to be pending at the device; returns how many are. */
static unsigned wait_for(struct gate *g, unsigned want)
{
	unsigned n = 0;
	for (int t = 0; t < 5000 && (n = gate_count(g, false)) < want; t++)
		usleep(1000);
	return n;
}

/* ---------------------------------------------------------------- ios on one reactor */

#define NJOBS 64

struct job {
	struct hnvmf_io io;
	struct iovec iov;
	uint8_t buf[BS];
	int done_count;
	bool on_reactor;
};

struct fixture {
	struct hnvmf_reactor *r;
	struct hnvmf_engine *e;
	struct hnvmf_chan *ch[2];
	struct hnvmf_backend *be[2];
	struct job jobs[NJOBS];
	atomic_int completed;
	int rc;
};

static struct fixture *fx;

static void job_done(struct hnvmf_io *io)
{
	struct job *j = container_of(io, struct job, io);
	j->done_count++;
	j->on_reactor = hnvmf_reactor_self() == fx->r;
	atomic_fetch_add(&fx->completed, 1);
}

static void open_chans(void *arg)
{
	struct fixture *f = arg;
	struct hnvmf_chan_opts o = {.mode = HNVMF_PATH_BASELINE, .tenant = "nqn.test"};
	f->rc = hnvmf_chan_open(f->e, f->r, f->be[0], &o, &f->ch[0]);
	if (!f->rc && f->be[1])
		f->rc = hnvmf_chan_open(f->e, f->r, f->be[1], &o, &f->ch[1]);
}

static void close_chans(void *arg)
{
	struct fixture *f = arg;
	for (int i = 0; i < 2; i++)
		if (f->ch[i])
			hnvmf_chan_close(f->ch[i]);
}

struct batch {
	struct fixture *f;
	int chan, first, n;
};

static void submit_jobs(void *arg)
{
	struct batch *b = arg;
	for (int i = b->first; i < b->first + b->n; i++) {
		struct job *j = &b->f->jobs[i];
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = HNVMF_BIO_WRITE, .offset = (uint64_t)i * BS, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = job_done;
		hnvmf_chan_submit(b->f->ch[b->chan], &j->io);
	}
	free(b);
}

static struct fixture *fixture_open(struct hnvmf_backend *a, struct hnvmf_backend *b, unsigned backend_depth,
				    unsigned baseline_depth)
{
	struct fixture *f = calloc(1, sizeof(*f));
	fx = f;
	f->be[0] = a;
	f->be[1] = b;
	assert_int_equal(hnvmf_reactor_create("test", &f->r), 0);
	assert_int_equal(hnvmf_reactor_start(f->r, -1), 0);
	struct hnvmf_engine_opts eo = {.pqm_cmax = 2, .subqueue_depth = 64, .backend_depth = backend_depth,
				       .baseline_servers = 3, .baseline_depth = baseline_depth};
	assert_int_equal(hnvmf_engine_create(&eo, &f->e), 0);
	hnvmf_reactor_call_sync(f->r, open_chans, f);
	assert_int_equal(f->rc, 0);
	return f;
}

/* Not waited for: a path whose push blocks the reactor must fail the test, not hang it. */
static void submit(struct fixture *f, int chan, int first, int n)
{
	struct batch *b = malloc(sizeof(*b));
	assert_non_null(b);
	*b = (struct batch){f, chan, first, n};
	assert_int_equal(hnvmf_reactor_call(f->r, submit_jobs, b), 0);
}

static void wait_completed(struct fixture *f, int first, int n, int total)
{
	for (int t = 0; t < 10000 && atomic_load(&f->completed) < total; t++)
		usleep(1000);
	assert_int_equal(atomic_load(&f->completed), total);
	for (int i = first; i < first + n; i++) {
		assert_int_equal(f->jobs[i].done_count, 1);
		assert_true(f->jobs[i].on_reactor);
		assert_int_equal(f->jobs[i].io.bio.result, 0);
	}
}

static void fixture_close(struct fixture *f)
{
	hnvmf_reactor_call_sync(f->r, close_chans, f);
	hnvmf_reactor_stop(f->r);
	hnvmf_reactor_destroy(f->r);
	hnvmf_engine_destroy(f->e);
	free(f);
}

/* With nothing completing, the servers give the device exactly depth ios, not one, and not more;
 * once the device completes, the rest follow. */
static void check_depth(unsigned backend_depth, unsigned baseline_depth, unsigned depth)
{
	struct gate g;
	struct hnvmf_backend be;
	gate_init(&g, &be);
	struct fixture *f = fixture_open(&be, NULL, backend_depth, baseline_depth);
	submit(f, 0, 0, NJOBS);
	assert_int_equal(wait_for(&g, depth), depth);
	usleep(20000); /* room for a wrong implementation to submit more */
	assert_int_equal(gate_count(&g, true), depth);
	assert_int_equal(atomic_load(&f->completed), 0); /* nothing completes before the device */
	gate_open(&g);
	wait_completed(f, 0, NJOBS, NJOBS);
	fixture_close(f);
	pthread_mutex_destroy(&g.m);
}

static void test_depth_is_backend_depth(void **state)
{
	(void)state;
	check_depth(8, 0, 8);
}

static void test_depth_is_baseline_depth(void **state)
{
	(void)state;
	check_depth(64, 5, 5);
}

/* One adapter per backend: a device that completes nothing holds up only its own namespace. */
static void test_adapter_per_backend(void **state)
{
	(void)state;
	struct gate ga, gb;
	struct hnvmf_backend a, b;
	gate_init(&ga, &a);
	gate_init(&gb, &b);
	gate_open(&gb);
	struct fixture *f = fixture_open(&a, &b, 4, 0);
	submit(f, 0, 0, 8); /* fills a's device, the rest waits in a's adapter queue */
	assert_int_equal(wait_for(&ga, 4), 4);
	submit(f, 1, 8, 16);
	wait_completed(f, 8, 16, 16);
	gate_open(&ga);
	wait_completed(f, 0, 8, 24);
	fixture_close(f);
	pthread_mutex_destroy(&ga.m);
	pthread_mutex_destroy(&gb.m);
}

/* ---------------------------------------------------------------- many reactors, no io lost */

#define NREACTORS 2
#define NBACKENDS 2
#define NCHANS 8 /* spread over reactors and backends */
#define NIO 48   /* in flight per channel: more than the depth, so ios wait for room */
#define ROUNDS 30
#define DEPTH 16

struct chan_ctx;

struct sjob {
	struct hnvmf_io io;
	struct iovec iov;
	uint8_t buf[BS];
	struct chan_ctx *cc;
	int idx, done_count;
};

struct chan_ctx {
	struct hnvmf_reactor *r;
	struct hnvmf_backend *be;
	struct hnvmf_chan *ch;
	struct sjob jobs[NIO];
	uint64_t base;
	int round, outstanding;
	bool reading;
	atomic_int finished, errors;
};

static struct hnvmf_engine *s_eng;
static struct chan_ctx s_chans[NCHANS];

static uint8_t pattern(int ch, int round, int idx, int k) { return (uint8_t)(ch * 29 + round * 5 + idx * 3 + k); }

static void start_round(struct chan_ctx *cc);

static void sjob_done(struct hnvmf_io *io)
{
	struct sjob *j = container_of(io, struct sjob, io);
	struct chan_ctx *cc = j->cc;
	int ch = (int)(cc - s_chans);
	if (++j->done_count != 1 || hnvmf_reactor_self() != cc->r || io->bio.result != 0)
		atomic_fetch_add(&cc->errors, 1);
	if (cc->reading)
		for (int k = 0; k < BS; k += 61)
			if (j->buf[k] != pattern(ch, cc->round, j->idx, k)) {
				atomic_fetch_add(&cc->errors, 1);
				break;
			}
	if (--cc->outstanding)
		return;
	if (cc->reading)
		cc->round++;
	cc->reading = !cc->reading;
	if (cc->round == ROUNDS)
		atomic_store(&cc->finished, 1);
	else
		start_round(cc);
}

static void start_round(struct chan_ctx *cc)
{
	int ch = (int)(cc - s_chans);
	cc->outstanding = NIO;
	for (int i = 0; i < NIO; i++) {
		struct sjob *j = &cc->jobs[i];
		j->done_count = 0;
		for (int k = 0; k < BS; k++)
			j->buf[k] = cc->reading ? 0 : pattern(ch, cc->round, i, k);
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = cc->reading ? HNVMF_BIO_READ : HNVMF_BIO_WRITE,
					       .offset = cc->base + (uint64_t)i * BS, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = sjob_done;
		hnvmf_chan_submit(cc->ch, &j->io);
	}
}

static void open_and_start(void *arg)
{
	struct chan_ctx *cc = arg;
	struct hnvmf_chan_opts o = {.mode = HNVMF_PATH_BASELINE, .tenant = "nqn.test"};
	assert_int_equal(hnvmf_chan_open(s_eng, cc->r, cc->be, &o, &cc->ch), 0);
	start_round(cc);
}

static void close_one(void *arg) { hnvmf_chan_close(((struct chan_ctx *)arg)->ch); }

static void test_no_io_lost(void **state)
{
	(void)state;
	struct hnvmf_reactor *rs[NREACTORS];
	struct hnvmf_backend *bes[NBACKENDS];
	for (int i = 0; i < NREACTORS; i++) {
		assert_int_equal(hnvmf_reactor_create("stress", &rs[i]), 0);
		assert_int_equal(hnvmf_reactor_start(rs[i], -1), 0);
	}
	struct hnvmf_engine_opts eo = {.pqm_cmax = 2, .backend_depth = 64, .baseline_servers = 3,
				       .baseline_depth = DEPTH};
	assert_int_equal(hnvmf_engine_create(&eo, &s_eng), 0);
	struct hnvmf_backend_params p = {.type = HNVMF_BACKEND_RAM, .size = (uint64_t)NCHANS * NIO * BS,
					 .block_size = 512};
	char msg[128];
	for (int i = 0; i < NBACKENDS; i++)
		assert_int_equal(hnvmf_backend_open(&p, &bes[i], msg, sizeof(msg)), 0);
	for (int i = 0; i < NCHANS; i++) {
		struct chan_ctx *cc = &s_chans[i];
		cc->r = rs[i % NREACTORS];
		cc->be = bes[(i / NREACTORS) % NBACKENDS];
		cc->base = (uint64_t)i * NIO * BS;
		for (int k = 0; k < NIO; k++) {
			cc->jobs[k].cc = cc;
			cc->jobs[k].idx = k;
		}
		hnvmf_reactor_call_sync(cc->r, open_and_start, cc);
	}
	int all = 0;
	for (int t = 0; t < 20000 && !all; t++) {
		usleep(1000);
		all = 1;
		for (int i = 0; i < NCHANS; i++)
			all &= atomic_load(&s_chans[i].finished);
	}
	assert_true(all);
	for (int i = 0; i < NCHANS; i++) {
		assert_int_equal(atomic_load(&s_chans[i].errors), 0);
		assert_int_equal(s_chans[i].round, ROUNDS);
		hnvmf_reactor_call_sync(s_chans[i].r, close_one, &s_chans[i]);
	}
	for (int i = 0; i < NREACTORS; i++) {
		hnvmf_reactor_stop(rs[i]);
		hnvmf_reactor_destroy(rs[i]);
	}
	hnvmf_engine_destroy(s_eng); /* joins every server: a hang here is a server that never stops */
	for (int i = 0; i < NBACKENDS; i++)
		hnvmf_backend_close(bes[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depth_is_backend_depth),
		cmocka_unit_test(test_depth_is_baseline_depth),
		cmocka_unit_test(test_adapter_per_backend),
		cmocka_unit_test(test_no_io_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
