/* PQM under churn: several reactors, many channels (tenants), every io written then read back
 * and compared, while the pool size is forced up and down during the run. No completion may be
 * lost or duplicated, none may arrive on a foreign thread, and no data may differ. */
#include <ctype.h>
#include <dirent.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/io.h"
#include "core/pqm.h"

#define NREACTORS 2
#define NCHANS 8     /* tenants, spread over the reactors */
#define NIO 64       /* in flight per channel */
#define ROUNDS 40    /* write+read rounds per channel */
#define BS 4096
#define CMAX 4

struct chan_ctx;

struct job {
	struct hnvmf_io io;
	struct iovec iov;
	uint8_t *buf;
	struct chan_ctx *cc;
	int idx;
	int done_count;
};

struct chan_ctx {
	struct hnvmf_reactor *r;
	struct hnvmf_chan *ch;
	struct job jobs[NIO];
	int round;
	bool reading;
	int outstanding;
	atomic_int finished;
	atomic_int errors;
	uint64_t base;
};

static struct hnvmf_engine *eng;
static struct hnvmf_backend *be;
static struct chan_ctx chans[NCHANS];

static uint8_t pattern(int ch, int round, int idx, int k) { return (uint8_t)(ch * 31 + round * 7 + idx * 3 + k); }

static void start_round(struct chan_ctx *cc);

static void job_done(struct hnvmf_io *io)
{
	struct job *j = container_of(io, struct job, io);
	struct chan_ctx *cc = j->cc;
	int ch = (int)(cc - chans);
	j->done_count++;
	if (hnvmf_reactor_self() != cc->r || io->bio.result != 0 || j->done_count != 1)
		atomic_fetch_add(&cc->errors, 1);
	if (cc->reading)
		for (int k = 0; k < BS; k += 97)
			if (j->buf[k] != pattern(ch, cc->round, j->idx, k)) {
				atomic_fetch_add(&cc->errors, 1);
				break;
			}
	if (--cc->outstanding)
		return;
	if (!cc->reading) {
		cc->reading = true;
	} else {
		cc->reading = false;
		cc->round++;
	}
	if (cc->round == ROUNDS) {
		atomic_store(&cc->finished, 1);
		return;
	}
	start_round(cc);
}

static void start_round(struct chan_ctx *cc)
{
	int ch = (int)(cc - chans);
	cc->outstanding = NIO;
	for (int i = 0; i < NIO; i++) {
		struct job *j = &cc->jobs[i];
		j->done_count = 0;
		if (cc->reading)
			memset(j->buf, 0, BS);
		else
			for (int k = 0; k < BS; k++)
				j->buf[k] = pattern(ch, cc->round, i, k);
		j->iov = (struct iovec){j->buf, BS};
		j->io.bio = (struct hnvmf_bio){.op = cc->reading ? HNVMF_BIO_READ : HNVMF_BIO_WRITE,
					       .offset = cc->base + (uint64_t)i * BS, .len = BS,
					       .iov = &j->iov, .iovcnt = 1};
		j->io.done = job_done;
		hnvmf_chan_submit(cc->ch, &j->io);
	}
}

static void open_and_start(void *arg)
{
	struct chan_ctx *cc = arg;
	char tenant[64];
	snprintf(tenant, sizeof(tenant), "nqn.2026-01.io.hnvmf:tenant%d", (int)(cc - chans));
	/* Every fourth channel is a host without a tenant file (the shared default tenant); the
	 * others are tenants of their own with weights 1..3, and channel 1 is held by a limit, so
	 * the per-tenant queues, their activation and the limits' sleeps all run under the churn. */
	int idx = (int)(cc - chans);
	struct hnvmf_tenant_qos share = {.weight = 1 + (unsigned)idx % 3, .max_iops = idx == 1 ? 20000 : 0};
	struct hnvmf_chan_opts o = {.mode = HNVMF_PATH_PQM, .tenant = tenant, .qos = idx % 4 ? &share : NULL};
	assert_int_equal(hnvmf_chan_open(eng, cc->r, be, &o, &cc->ch), 0);
	start_round(cc);
}

static void close_chan(void *arg) { hnvmf_chan_close(((struct chan_ctx *)arg)->ch); }

/* How many of this process's PQM server threads ("hnvmf-pqmN") may run on CPU cpu only. */
static int pinned_servers(int cpu)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[300], comm[32] = "";
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "hnvmf-pqm", 9) || !isdigit((unsigned char)comm[9]))
			continue;
		cpu_set_t set;
		assert_int_equal(sched_getaffinity((pid_t)atoi(de->d_name), sizeof(set), &set), 0);
		if (CPU_COUNT(&set) == 1 && CPU_ISSET(cpu, &set))
			n++;
	}
	closedir(d);
	return n;
}

static void test_pqm_churn(void **state)
{
	(void)state;
	struct hnvmf_reactor *rs[NREACTORS];
	for (int i = 0; i < NREACTORS; i++) {
		assert_int_equal(hnvmf_reactor_create("stress", &rs[i]), 0);
		assert_int_equal(hnvmf_reactor_start(rs[i], -1), 0);
	}
	uint64_t t_begin = hnvmf_now_ns(); /* before the pool exists */
	/* servers pinned to CPU 0 (every machine has it): checked below */
	struct hnvmf_engine_opts eo = {.pqm_cmax = CMAX, .pqm_epoch_ms = 5, .subqueue_depth = 64, .backend_depth = 64,
				       .server_cpus = {0}, .nserver_cpus = 1};
	assert_int_equal(hnvmf_engine_create(&eo, &eng), 0);
	struct hnvmf_backend_params p = {.type = HNVMF_BACKEND_RAM, .size = (uint64_t)NCHANS * NIO * BS, .block_size = 512};
	char msg[128];
	assert_int_equal(hnvmf_backend_open(&p, &be, msg, sizeof(msg)), 0);
	for (int i = 0; i < NCHANS; i++) {
		chans[i].r = rs[i % NREACTORS];
		chans[i].base = (uint64_t)i * NIO * BS;
		for (int k = 0; k < NIO; k++) {
			chans[i].jobs[k].buf = malloc(BS);
			chans[i].jobs[k].cc = &chans[i];
			chans[i].jobs[k].idx = k;
		}
		hnvmf_reactor_call_sync(chans[i].r, open_and_start, &chans[i]);
	}
	/* Churn the pool size while the channels run. */
	unsigned seen_c[CMAX + 1] = {0};
	int all_done = 0;
	for (int t = 0; t < 20000 && !all_done; t++) {
		unsigned c = 1 + (unsigned)(t / 3) % CMAX;
		assert_int_equal(hnvmf_pqm_force_c(eng, c), 0);
		seen_c[hnvmf_pqm_current_c(eng)]++;
		usleep(1000);
		all_done = 1;
		for (int i = 0; i < NCHANS; i++)
			all_done &= atomic_load(&chans[i].finished);
	}
	assert_true(all_done);
	for (unsigned c = 1; c <= CMAX; c++)
		assert_true(seen_c[c] > 0);
	for (int i = 0; i < NCHANS; i++) {
		assert_int_equal(atomic_load(&chans[i].errors), 0);
		assert_int_equal(chans[i].round, ROUNDS);
	}
	/* Hand control back to the sizing logic; it must still pick a c in range. */
	assert_int_equal(hnvmf_pqm_force_c(eng, 0), 0);
	usleep(20000);
	unsigned c = hnvmf_pqm_current_c(eng);
	assert_true(c >= 1 && c <= CMAX);
	char desc[4096];
	assert_true(hnvmf_pqm_describe(eng, desc, sizeof(desc)) > 0);
	/* one line per tenant, its queues summed */
	const char *t7 = strstr(desc, "pqm tenant nqn.2026-01.io.hnvmf:tenant7 arrivals ");
	assert_non_null(t7);
	assert_null(strstr(t7 + 1, "pqm tenant nqn.2026-01.io.hnvmf:tenant7 "));
	assert_int_equal(pinned_servers(0), CMAX);
	/* The trace: consecutive epochs, stamped in order, within the test's time. */
	struct hnvmf_pqm_trace_point tp[64];
	size_t nt = hnvmf_pqm_trace(eng, tp, 64);
	uint64_t t_end = hnvmf_now_ns();
	assert_true(nt >= 2);
	/* The measured W beside the predicted one: a mean of real response times where ios
	 * completed in the epoch (the I/O ended within the last few epochs), NaN where none did. */
	size_t measured = 0;
	for (size_t i = 0; i < nt; i++) {
		if (isnan(tp[i].w_measured))
			continue;
		assert_true(tp[i].w_measured > 0 && tp[i].w_measured * 1e9 < (double)(t_end - t_begin));
		measured++;
	}
	assert_true(measured > 0);
	for (size_t i = 0; i < nt; i++) {
		assert_true(tp[i].t_ns >= t_begin && tp[i].t_ns <= t_end);
		assert_true(tp[i].c >= 1 && tp[i].c <= CMAX);
		if (i) {
			assert_int_equal(tp[i].epoch, tp[i - 1].epoch + 1);
			assert_true(tp[i].t_ns >= tp[i - 1].t_ns);
		}
	}

	for (int i = 0; i < NCHANS; i++) {
		hnvmf_reactor_call_sync(chans[i].r, close_chan, &chans[i]);
		for (int k = 0; k < NIO; k++)
			free(chans[i].jobs[k].buf);
	}
	for (int i = 0; i < NREACTORS; i++) {
		hnvmf_reactor_stop(rs[i]);
		hnvmf_reactor_destroy(rs[i]);
	}
	hnvmf_engine_destroy(eng);
	hnvmf_backend_close(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_pqm_churn)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
