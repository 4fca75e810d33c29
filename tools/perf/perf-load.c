/* The load generator: every connection is a controller with --nr-io-queues I/O queues of -Q
 * commands each; one event loop per thread (one thread by default) processes all its queues
 * without blocking. Closed loop (default): a completion resubmits its slot at once. Open loop
 * (--rate): I/Os are issued at times fixed by a schedule, whatever the target does, and each
 * latency runs from the I/O's scheduled time, so time spent waiting for a free slot (the target
 * fell behind) is counted rather than hidden (coordinated omission). Nothing is allocated per
 * I/O; read data is discarded by the initiator straight out of its receive buffer. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/perf/perf.h"

static volatile sig_atomic_t interrupted;

/* Shared by the threads of one run: the first failure stops them all (unless
 * --continue-on-error and the failure was a command's status). */
struct prun {
	atomic_bool stop;
	atomic_flag error_taken;
	char error[320];
};

struct pjob {
	struct hnvmf_ini_io io;
	struct pqueue *pq;
	void *buf; /* write data (reads pass NULL: discarded) */
};

struct pconn {
	struct hnvmf_ini_ctrl *ctrl;
	unsigned tenant;
	struct hnvmf_ini_ns_info ns;
	uint64_t start, blocks; /* addressed range */
	struct hnvmf_ini_io ka;
	bool ka_busy;
	uint64_t ka_last_ns;
};

struct pqueue {
	struct hnvmf_ini_queue *q;
	struct pconn *conn;
	struct pthr *th;
	struct pjob *jobs;
	struct pjob **free; /* --rate: slots not in flight */
	unsigned nfree;
	unsigned inflight;
	uint64_t seq_next; /* sequential workloads: next block offset in the range */
	bool dead;
};

struct pthr {
	const struct perf_opts *o;
	struct prun *run;
	unsigned idx;
	struct pqueue **queues;
	unsigned nq;
	struct pconn **conns;
	unsigned nc;
	uint64_t rng;
	bool stopping;
	uint64_t t_start, t_measure, t_end; /* t_measure: the end of the warm-up */
	uint64_t quota;       /* I/Os to count (--number-ios share), UINT64_MAX = no limit */
	/* --rate: I/O k is due at t_start + k * period_ns */
	double period_ns;
	uint64_t sched_k;
	unsigned rr;          /* next queue tried for a scheduled I/O */
	/* results */
	struct perf_hist hist_r, hist_w;
	uint64_t reads, writes, bytes_r, bytes_w;
	struct perf_errs errs;
	uint64_t *tenant_ios;
	/* published for the progress line, relaxed: a glance, not a result */
	_Atomic uint64_t pub_ios, pub_bytes, pub_errors;
	uint64_t next_pub;
	struct progress *prog; /* thread 0 only, when stderr is a terminal */
	pthread_t tid;
};

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void job_done(struct hnvmf_ini_io *io);

/* Records why the run failed (the first reason only; read once the threads are joined) and,
 * when stop, ends every thread's run. */
static void run_fail(struct prun *run, bool stop, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void run_fail(struct prun *run, bool stop, const char *fmt, ...)
{
	if (!atomic_flag_test_and_set(&run->error_taken)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(run->error, sizeof(run->error), fmt, ap);
		va_end(ap);
	}
	if (stop)
		atomic_store_explicit(&run->stop, true, memory_order_relaxed);
}

/* t_submit is the time the latency runs from: now (closed loop) or the scheduled time. */
static int job_submit(struct pjob *j, uint64_t t_submit)
{
	struct pqueue *pq = j->pq;
	struct pthr *th = pq->th;
	const struct perf_opts *o = th->o;
	struct pconn *c = pq->conn;
	uint32_t nlb = o->io_size / c->ns.lba_size;
	uint64_t slots = c->blocks / nlb;
	bool write;
	switch (o->wl) {
	case PERF_W_RANDREAD:
	case PERF_W_READ:
		write = false;
		break;
	case PERF_W_RANDWRITE:
	case PERF_W_WRITE:
		write = true;
		break;
	default:
		write = xorshift64(&th->rng) % 100 >= o->read_pct;
	}
	uint64_t slot;
	if (o->wl == PERF_W_READ || o->wl == PERF_W_WRITE || o->wl == PERF_W_RW) {
		slot = pq->seq_next;
		pq->seq_next = (pq->seq_next + 1) % slots;
	} else {
		slot = xorshift64(&th->rng) % slots;
	}
	hnvmf_sqe_rw(&j->io.sqe, write, c->ns.nsid, c->start + slot * nlb, nlb);
	j->io.data = write ? j->buf : NULL;
	j->io.len = o->io_size;
	j->io.dir = write ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL;
	j->io.done = job_done;
	j->io.arg = j;
	j->io.t_submit_ns = t_submit;
	int r = hnvmf_ini_submit(pq->q, &j->io);
	if (!r)
		pq->inflight++;
	return r;
}

static void job_done(struct hnvmf_ini_io *io)
{
	struct pjob *j = io->arg;
	struct pqueue *pq = j->pq;
	struct pthr *th = pq->th;
	uint64_t now = hnvmf_ini_now_ns();
	pq->inflight--;
	if (io->status) {
		perf_errs_add(&th->errs, io->status, 1);
		/* a queue failure is reported by the event loop, with its reason */
		if (io->status > 0 && !th->o->continue_on_error) {
			char sb[128];
			run_fail(th->run, true, "stopped at the first error (--continue-on-error goes on): %s",
				 hnvmf_ini_status_str(io->status, sb, sizeof(sb)));
		}
	} else if (!th->stopping && now >= th->t_measure) {
		if (io->dir == HNVMF_INI_TO_CTRL) {
			perf_hist_add(&th->hist_w, now - io->t_submit_ns);
			th->writes++;
			th->bytes_w += io->len;
		} else {
			perf_hist_add(&th->hist_r, now - io->t_submit_ns);
			th->reads++;
			th->bytes_r += io->len;
		}
		th->tenant_ios[pq->conn->tenant]++;
		if (th->reads + th->writes >= th->quota) {
			th->stopping = true;
			th->t_end = now;
		}
	}
	if (th->period_ns > 0)
		pq->free[pq->nfree++] = j;
	else if (!th->stopping && !pq->dead && !interrupted)
		job_submit(j, now);
}

static void ka_done(struct hnvmf_ini_io *io)
{
	struct pconn *c = io->arg;
	c->ka_busy = false;
	if (io->status)
		fprintf(stderr, "hnvmf-perf: keep alive failed on %s\n", c->ctrl->hostnqn);
}

/* Keep Alive on the admin queues, every KATO/2, asynchronously. */
static void keep_alive(struct pthr *th, uint64_t now)
{
	const struct perf_opts *o = th->o;
	if (!o->kato_ms)
		return;
	for (unsigned i = 0; i < th->nc; i++) {
		struct pconn *c = th->conns[i];
		if (!c->ka_busy && now - c->ka_last_ns > (uint64_t)o->kato_ms * 500000ull) {
			memset(&c->ka, 0, sizeof(c->ka));
			hnvmf_sqe_keep_alive(&c->ka.sqe);
			c->ka.done = ka_done;
			c->ka.arg = c;
			if (!hnvmf_ini_submit(c->ctrl->admin, &c->ka)) {
				c->ka_busy = true;
				c->ka_last_ns = now;
			}
		}
		if (c->ka_busy)
			hnvmf_ini_queue_process(c->ctrl->admin);
	}
}

static unsigned total_inflight(const struct pthr *th)
{
	unsigned n = 0;
	for (unsigned i = 0; i < th->nq; i++)
		n += th->queues[i]->inflight;
	return n;
}

static uint64_t sched_time(const struct pthr *th, uint64_t k)
{
	return th->t_start + (uint64_t)((double)k * th->period_ns);
}

/* --rate: issues every I/O whose time has come, each on the next live queue with a free slot;
 * when none has one the I/O stays due (it is late, and its latency will say so). */
static void issue_scheduled(struct pthr *th, uint64_t now)
{
	for (uint64_t due = sched_time(th, th->sched_k); due <= now; due = sched_time(th, th->sched_k)) {
		struct pqueue *pq = NULL;
		for (unsigned n = 0; n < th->nq && !pq; n++) {
			unsigned i = (th->rr + n) % th->nq;
			if (!th->queues[i]->dead && th->queues[i]->nfree) {
				pq = th->queues[i];
				th->rr = i + 1;
			}
		}
		if (!pq)
			return;
		struct pjob *j = pq->free[--pq->nfree];
		if (job_submit(j, due)) {
			pq->free[pq->nfree++] = j; /* the queue failed: the loop reports it */
			return;
		}
		th->sched_k++;
	}
}

static void publish(struct pthr *th)
{
	atomic_store_explicit(&th->pub_ios, th->reads + th->writes, memory_order_relaxed);
	atomic_store_explicit(&th->pub_bytes, th->bytes_r + th->bytes_w, memory_order_relaxed);
	atomic_store_explicit(&th->pub_errors, th->errs.total, memory_order_relaxed);
}

/* Thread 0 prints the line for all threads, once a second, on stderr (a terminal). */
struct progress {
	bool on;
	struct pthr *all;
	unsigned nth;
	uint64_t next, last_t, last_ios, last_bytes;
	bool printed;
};

static void progress_tick(struct progress *p, const struct pthr *th, uint64_t now)
{
	uint64_t ios = 0, bytes = 0, errors = 0;
	for (unsigned t = 0; t < p->nth; t++) {
		ios += atomic_load_explicit(&p->all[t].pub_ios, memory_order_relaxed);
		bytes += atomic_load_explicit(&p->all[t].pub_bytes, memory_order_relaxed);
		errors += atomic_load_explicit(&p->all[t].pub_errors, memory_order_relaxed);
	}
	bool warm = now < th->t_measure;
	double el = (double)(now - (warm ? th->t_start : th->t_measure)) / 1e9;
	double total = warm ? th->o->warmup : th->o->seconds;
	char line[160];
	perf_progress_format(line, sizeof(line), warm, el, total, ios - p->last_ios, bytes - p->last_bytes,
			     (double)(now - p->last_t) / 1e9, errors);
	fprintf(stderr, "\r%s\033[K", line);
	p->printed = true;
	p->last_t = now;
	p->last_ios = ios;
	p->last_bytes = bytes;
	p->next = now + 1000000000ull;
}

static void *thread_main(void *arg)
{
	struct pthr *th = arg;
	const struct perf_opts *o = th->o;
	if (o->ncpus) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o->cpus[th->idx % o->ncpus], &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
			fprintf(stderr, "hnvmf-perf: thread %u: cannot pin to CPU %d\n", th->idx,
				o->cpus[th->idx % o->ncpus]);
	}
	struct pollfd *pf = calloc(th->nq, sizeof(*pf));
	if (!pf) {
		run_fail(th->run, true, "out of memory");
		return NULL;
	}
	th->t_start = hnvmf_ini_now_ns();
	th->t_measure = th->t_start + (uint64_t)o->warmup * 1000000000ull;
	uint64_t end = o->seconds ? th->t_measure + (uint64_t)o->seconds * 1000000000ull : UINT64_MAX;
	uint64_t drain_end = 0;
	if (th->prog) {
		th->prog->last_t = th->t_start;
		th->prog->next = th->t_start + 1000000000ull;
	}
	if (th->period_ns <= 0)
		for (unsigned i = 0; i < th->nq; i++)
			for (unsigned k = 0; k < o->qd; k++)
				if (job_submit(&th->queues[i]->jobs[k], th->t_start))
					break;
	for (;;) {
		int work = 0;
		unsigned alive = 0;
		for (unsigned i = 0; i < th->nq; i++) {
			struct pqueue *pq = th->queues[i];
			if (pq->dead)
				continue;
			int r = hnvmf_ini_queue_process(pq->q);
			if (r < 0) {
				/* the target went away or broke the protocol: the run failed, whatever
				 * --continue-on-error says; the other queues go on only with it */
				pq->dead = true;
				char msg[256];
				snprintf(msg, sizeof(msg), "queue %u of %s failed: %s", hnvmf_ini_queue_qid(pq->q),
					 pq->conn->ctrl->hostnqn, hnvmf_ini_queue_error_str(pq->q));
				fprintf(stderr, "hnvmf-perf: %s\n", msg);
				run_fail(th->run, !o->continue_on_error, "%s", msg);
				continue;
			}
			alive++;
			work += r;
		}
		uint64_t now = hnvmf_ini_now_ns();
		if (!th->stopping && (now >= end || interrupted || !alive ||
				      atomic_load_explicit(&th->run->stop, memory_order_relaxed))) {
			th->stopping = true;
			th->t_end = now;
		}
		if (th->stopping && !drain_end)
			drain_end = now + 5000000000ull;
		if (th->stopping && (!total_inflight(th) || now > drain_end))
			break;
		if (th->period_ns > 0 && !th->stopping)
			issue_scheduled(th, now);
		if (now >= th->next_pub) {
			publish(th);
			th->next_pub = now + 250000000ull;
		}
		if (th->prog && now >= th->prog->next)
			progress_tick(th->prog, th, now);
		keep_alive(th, now);
		/* Sleeping in poll() costs a wake-up per completion at low queue depth: a
		 * busy-polling thread trades its CPU for that latency, as SPDK's perf does. */
		if (!work && !o->busy_poll) {
			unsigned n = 0;
			for (unsigned i = 0; i < th->nq; i++) {
				if (th->queues[i]->dead)
					continue;
				pf[n].fd = hnvmf_ini_queue_fd(th->queues[i]->q);
				pf[n].events = POLLIN | (hnvmf_ini_queue_send_pending(th->queues[i]->q) ? POLLOUT : 0);
				n++;
			}
			/* at most 1 ms, and no later than the next scheduled I/O */
			struct timespec ts = { 0, 1000000 };
			if (th->period_ns > 0 && !th->stopping) {
				uint64_t due = sched_time(th, th->sched_k);
				ts.tv_nsec = due <= now ? 0 : due - now < 1000000 ? (long)(due - now) : 1000000;
			}
			ppoll(pf, n, &ts, NULL);
		}
	}
	if (th->t_end < th->t_measure)
		th->t_end = th->t_measure; /* ended during the warm-up: nothing measured */
	publish(th);
	free(pf);
	return NULL;
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Adds up the threads and prints the report; returns the exit status. */
static int report(const struct perf_opts *o, struct pthr *th, unsigned nth, struct pconn *conns,
		  unsigned nconn, struct prun *run)
{
	struct perf_hist *h = malloc(2 * sizeof(*h));
	uint64_t *tenant = calloc(o->nhostnqn, sizeof(*tenant));
	if (!h || !tenant) {
		free(h);
		free(tenant);
		fprintf(stderr, "hnvmf-perf: out of memory\n");
		return 1;
	}
	struct perf_result r = { .connections = nconn, .threads = nth, .lat_read = &h[0],
				 .lat_write = &h[1], .tenant_ios = tenant };
	perf_hist_init(&h[0]);
	perf_hist_init(&h[1]);
	for (unsigned t = 0; t < nth; t++) {
		perf_hist_merge(&h[0], &th[t].hist_r);
		perf_hist_merge(&h[1], &th[t].hist_w);
		r.reads += th[t].reads;
		r.writes += th[t].writes;
		r.bytes_read += th[t].bytes_r;
		r.bytes_written += th[t].bytes_w;
		perf_errs_merge(&r.errs, &th[t].errs);
		/* the time it actually ran: a target that died ends the run early */
		double s = (double)(th[t].t_end - th[t].t_measure) / 1e9;
		if (s > r.seconds)
			r.seconds = s;
		for (unsigned k = 0; k < o->nhostnqn; k++)
			tenant[k] += th[t].tenant_ios[k];
		if (th[t].period_ns > 0) {
			uint64_t due = (uint64_t)((double)(th[t].t_end - th[t].t_start) / th[t].period_ns);
			if (due > th[t].sched_k)
				r.rate_backlog += due - th[t].sched_k;
		}
	}
	if (run->error[0])
		r.error = run->error;
	if (o->json) {
		char *js = perf_report_json(o, &r);
		if (js)
			puts(js);
		else
			fprintf(stderr, "hnvmf-perf: out of memory\n");
		free(js);
	} else {
		perf_report_text(stdout, o, &r);
		if (o->verbose) {
			for (unsigned i = 0; i < nconn; i++) {
				for (unsigned q = 0; q < conns[i].ctrl->nr_io; q++) {
					struct hnvmf_ini_queue_stats s;
					hnvmf_ini_queue_stats(conns[i].ctrl->io[q], &s);
					printf("  conn %u qid %u: sendmsg %" PRIu64 ", recv %" PRIu64
					       ", in-capsule %" PRIu64 ", r2t %" PRIu64 ", h2c %" PRIu64
					       ", c2h %" PRIu64 "\n", i, q + 1, s.sendmsgs, s.recvs,
					       s.icd_writes, s.r2ts, s.h2c_pdus, s.c2h_pdus);
				}
			}
		}
	}
	fflush(stdout);
	int ret = 0;
	if (r.error) {
		fprintf(stderr, "hnvmf-perf: %s\n", r.error);
		ret = 1;
	}
	free(tenant);
	free(h);
	return ret;
}

int perf_cmd_perf(const struct perf_opts *o)
{
	unsigned nconn = o->connections, nth = o->threads;
	struct pconn *conns = calloc(nconn, sizeof(*conns));
	struct pthr *th = calloc(nth, sizeof(*th));
	struct prun *run = calloc(1, sizeof(*run));
	struct progress prog = { .on = isatty(STDERR_FILENO) == 1, .all = th, .nth = nth };
	struct pqueue *pqs = NULL;
	unsigned npq = 0;
	int ret = 1;
	char sb[128];
	if (!conns || !th || !run)
		goto out;
	atomic_flag_clear(&run->error_taken);
	for (unsigned i = 0; i < nconn; i++) {
		conns[i].tenant = i % o->nhostnqn;
		if (perf_connect(o, conns[i].tenant, o->subnqn, o->queues, o->qd, &conns[i].ctrl))
			goto out;
		struct pconn *c = &conns[i];
		int r = hnvmf_ini_ns_info(c->ctrl, o->nsid, &c->ns);
		if (r) {
			fprintf(stderr, "hnvmf-perf: namespace %u: %s\n", o->nsid, hnvmf_ini_status_str(r, sb, sizeof(sb)));
			goto out;
		}
		if (o->io_size % c->ns.lba_size || o->slba >= c->ns.nsze) {
			fprintf(stderr, "hnvmf-perf: --io-size must be a multiple of the %u-byte block and --slba below %" PRIu64 "\n",
				c->ns.lba_size, c->ns.nsze);
			goto out;
		}
		uint64_t mdts = hnvmf_ini_max_transfer(c->ctrl);
		if (mdts && o->io_size > mdts) {
			fprintf(stderr, "hnvmf-perf: --io-size %u exceeds the controller's largest transfer (%" PRIu64 " bytes, MDTS)\n",
				o->io_size, mdts);
			goto out;
		}
		c->start = o->slba;
		c->blocks = o->range ? o->range : c->ns.nsze - o->slba;
		if (c->blocks > c->ns.nsze - o->slba)
			fprintf(stderr, "hnvmf-perf: --range ends %" PRIu64 " blocks beyond namespace %u: "
				"I/O there fails (LBA Out of Range)\n", c->blocks - (c->ns.nsze - o->slba), o->nsid);
		if (c->blocks < o->io_size / c->ns.lba_size) {
			fprintf(stderr, "hnvmf-perf: the range is smaller than one I/O\n");
			goto out;
		}
		c->ka_last_ns = hnvmf_ini_now_ns();
		if (!c->ctrl->nr_io) {
			fprintf(stderr, "hnvmf-perf: no I/O queue granted\n");
			goto out;
		}
		npq += c->ctrl->nr_io;
		if (c->ctrl->nr_io < o->queues)
			fprintf(stderr, "hnvmf-perf: %u of %u I/O queues granted\n", c->ctrl->nr_io, o->queues);
	}
	pqs = calloc(npq, sizeof(*pqs));
	if (!pqs)
		goto out;
	for (unsigned t = 0; t < nth; t++) {
		th[t].o = o;
		th[t].run = run;
		th[t].idx = t;
		th[t].rng = 0x9E3779B97F4A7C15ull * (t + 1) + o->seed;
		th[t].quota = o->number_ios ? o->number_ios / nth + (t < o->number_ios % nth) : UINT64_MAX;
		perf_hist_init(&th[t].hist_r);
		perf_hist_init(&th[t].hist_w);
		th[t].tenant_ios = calloc(o->nhostnqn, sizeof(uint64_t));
		th[t].queues = calloc(npq, sizeof(struct pqueue *));
		th[t].conns = calloc(nconn, sizeof(struct pconn *));
		if (!th[t].tenant_ios || !th[t].queues || !th[t].conns)
			goto out;
	}
	if (prog.on)
		th[0].prog = &prog;
	bool writes = o->wl != PERF_W_RANDREAD && o->wl != PERF_W_READ;
	unsigned k = 0;
	for (unsigned i = 0; i < nconn; i++) {
		struct pthr *t = &th[i % nth];
		t->conns[t->nc++] = &conns[i];
		for (unsigned q = 0; q < conns[i].ctrl->nr_io; q++, k++) {
			struct pqueue *pq = &pqs[k];
			pq->q = conns[i].ctrl->io[q];
			pq->conn = &conns[i];
			pq->th = t;
			uint64_t slots = conns[i].blocks / (o->io_size / conns[i].ns.lba_size);
			pq->seq_next = slots * q / conns[i].ctrl->nr_io;
			pq->jobs = calloc(o->qd, sizeof(struct pjob));
			pq->free = calloc(o->qd, sizeof(struct pjob *));
			if (!pq->jobs || !pq->free)
				goto out;
			for (unsigned j = 0; j < o->qd; j++) {
				pq->jobs[j].pq = pq;
				pq->free[pq->nfree++] = &pq->jobs[o->qd - 1 - j];
				if (writes) {
					pq->jobs[j].buf = aligned_alloc(4096, (o->io_size + 4095) / 4096 * 4096);
					if (!pq->jobs[j].buf)
						goto out;
					memset(pq->jobs[j].buf, (int)(0x5a + j), o->io_size);
				}
			}
			t->queues[t->nq++] = pq;
		}
	}
	/* --rate: each thread offers its queues' share of the rate */
	for (unsigned t = 0; o->rate && t < nth; t++)
		th[t].period_ns = 1e9 * (double)npq / ((double)o->rate * th[t].nq);

	struct sigaction sa = { .sa_handler = on_sigint };
	sigaction(SIGINT, &sa, NULL);
	if (nth == 1) {
		thread_main(&th[0]);
	} else {
		for (unsigned t = 0; t < nth; t++)
			pthread_create(&th[t].tid, NULL, thread_main, &th[t]);
		for (unsigned t = 0; t < nth; t++)
			pthread_join(th[t].tid, NULL);
	}
	if (prog.printed)
		fputc('\n', stderr);
	ret = report(o, th, nth, conns, nconn, run);
out:
	/* Disconnect before the jobs go: closing fails whatever is still in flight. A controller
	 * whose target died cannot shut down cleanly: that is already the run's error. */
	for (unsigned i = 0; conns && i < nconn; i++)
		if (conns[i].ctrl && perf_disconnect(conns[i].ctrl))
			ret = 1;
	for (unsigned i = 0; pqs && i < npq; i++) {
		for (unsigned j = 0; pqs[i].jobs && j < o->qd; j++)
			free(pqs[i].jobs[j].buf);
		free(pqs[i].jobs);
		free(pqs[i].free);
	}
	for (unsigned t = 0; th && t < nth; t++) {
		free(th[t].tenant_ios);
		free(th[t].queues);
		free(th[t].conns);
	}
	free(pqs);
	free(th);
	free(run);
	free(conns);
	return ret;
}
