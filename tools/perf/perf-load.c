/* The load generator: every connection is a controller with --queues I/O queues kept at -q
 * commands each; one event loop per thread (one thread by default) processes all its queues
 * without blocking and resubmits from the completion callback. Nothing is allocated per I/O;
 * read data is discarded by the initiator straight out of its receive buffer. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/perf/perf.h"

static volatile sig_atomic_t interrupted;

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
	unsigned inflight;
	uint64_t seq_next; /* sequential workloads: next block offset in the range */
	bool dead;
};

struct pthr {
	const struct perf_opts *o;
	unsigned idx;
	struct pqueue **queues;
	unsigned nq;
	struct pconn **conns;
	unsigned nc;
	uint64_t rng;
	bool stopping;
	uint64_t t_start, t_end;
	/* results */
	struct perf_hist hist;
	uint64_t reads, writes, bytes, errors;
	uint64_t *tenant_ios;
	int first_error;
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

static int job_submit(struct pjob *j)
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
	j->io.t_submit_ns = hnvmf_ini_now_ns();
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
	pq->inflight--;
	if (io->status) {
		th->errors++;
		if (!th->first_error)
			th->first_error = io->status;
	} else if (!th->stopping) {
		perf_hist_add(&th->hist, hnvmf_ini_now_ns() - io->t_submit_ns);
		if (io->dir == HNVMF_INI_TO_CTRL)
			th->writes++;
		else
			th->reads++;
		th->bytes += io->len;
		th->tenant_ios[pq->conn->tenant]++;
	}
	if (!th->stopping && !pq->dead && !interrupted)
		job_submit(j);
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
	if (!pf)
		return NULL;
	th->t_start = hnvmf_ini_now_ns();
	uint64_t end = th->t_start + (uint64_t)o->seconds * 1000000000ull, drain_end = 0;
	for (unsigned i = 0; i < th->nq; i++)
		for (unsigned k = 0; k < o->qd; k++)
			if (job_submit(&th->queues[i]->jobs[k]))
				break;
	th->t_end = end;
	for (;;) {
		int work = 0;
		for (unsigned i = 0; i < th->nq; i++) {
			struct pqueue *pq = th->queues[i];
			if (pq->dead)
				continue;
			int r = hnvmf_ini_queue_process(pq->q);
			if (r < 0) {
				pq->dead = true;
				fprintf(stderr, "hnvmf-perf: queue %u of %s failed: %s\n",
					hnvmf_ini_queue_qid(pq->q), pq->conn->ctrl->hostnqn,
					hnvmf_ini_queue_error_str(pq->q));
				if (!th->first_error)
					th->first_error = r;
				continue;
			}
			work += r;
		}
		uint64_t now = hnvmf_ini_now_ns();
		if (!th->stopping && (now >= end || interrupted)) {
			th->stopping = true;
			th->t_end = now;
			drain_end = now + 5000000000ull;
		}
		if (th->stopping && (!total_inflight(th) || now > drain_end))
			break;
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
			if (!n)
				break;
			poll(pf, n, 1);
		}
	}
	free(pf);
	return NULL;
}

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void print_result(const struct perf_opts *o, struct pthr *th, unsigned nth, struct pconn *conns,
			 unsigned nconn)
{
	struct perf_hist *h = malloc(sizeof(*h));
	if (!h)
		return;
	perf_hist_init(h);
	uint64_t reads = 0, writes = 0, bytes = 0, errors = 0;
	uint64_t *tenant = calloc(o->nhostnqn, sizeof(*tenant));
	double secs = 0;
	for (unsigned t = 0; t < nth; t++) {
		perf_hist_merge(h, &th[t].hist);
		reads += th[t].reads;
		writes += th[t].writes;
		bytes += th[t].bytes;
		errors += th[t].errors;
		double s = (double)(th[t].t_end - th[t].t_start) / 1e9;
		if (s > secs)
			secs = s;
		for (unsigned k = 0; tenant && k < o->nhostnqn; k++)
			tenant[k] += th[t].tenant_ios[k];
	}
	if (secs <= 0)
		secs = 1e-9;
	double iops = (double)(reads + writes) / secs, mbps = (double)bytes / secs / 1e6;
	double avg = h->count ? (double)h->sum / (double)h->count / 1e3 : 0;
	double p50 = (double)perf_hist_percentile(h, 50) / 1e3, p99 = (double)perf_hist_percentile(h, 99) / 1e3;
	double p999 = (double)perf_hist_percentile(h, 99.9) / 1e3, mx = (double)h->max / 1e3;
	double mn = h->count ? (double)h->min / 1e3 : 0;
	if (o->json) {
		printf("{\"workload\":\"%s\",\"io_size\":%u,\"qd\":%u,\"read_pct\":%u,\"connections\":%u,"
		       "\"queues\":%u,\"threads\":%u,\"hdgst\":%s,\"ddgst\":%s,\"seconds\":%.3f,"
		       "\"ios\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"iops\":%.1f,\"mbps\":%.2f,\"lat_us\":{\"min\":%.2f,\"avg\":%.2f,\"p50\":%.2f,"
		       "\"p99\":%.2f,\"p99_9\":%.2f,\"max\":%.2f},\"tenants\":[",
		       perf_workload_name(o->wl), o->io_size, o->qd, o->read_pct, nconn, o->queues, nth,
		       o->hdgst ? "true" : "false", o->ddgst ? "true" : "false", secs, reads + writes,
		       reads, writes, errors, iops, mbps, mn, avg, p50, p99, p999, mx);
		for (unsigned k = 0; tenant && k < o->nhostnqn; k++)
			printf("%s{\"hostnqn\":\"%s\",\"iops\":%.1f}", k ? "," : "", o->hostnqn[k],
			       (double)tenant[k] / secs);
		printf("]}\n");
	} else {
		printf("hnvmf-perf: %s %u B, qd %u x %u queue(s) x %u connection(s), %u thread(s), %.2f s%s%s\n",
		       perf_workload_name(o->wl), o->io_size, o->qd, o->queues, nconn, nth, secs,
		       o->hdgst ? ", hdgst" : "", o->ddgst ? ", ddgst" : "");
		printf("%12s %10s %9s %9s %9s %9s %9s\n", "IOPS", "MB/s", "avg(us)", "p50(us)", "p99(us)",
		       "p99.9(us)", "max(us)");
		printf("%12.0f %10.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", iops, mbps, avg, p50, p99, p999, mx);
		printf("reads %" PRIu64 ", writes %" PRIu64 ", errors %" PRIu64 "\n", reads, writes, errors);
		if (o->nhostnqn > 1 && tenant)
			for (unsigned k = 0; k < o->nhostnqn; k++)
				printf("  tenant %s: %.0f IOPS\n", o->hostnqn[k], (double)tenant[k] / secs);
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
	free(tenant);
	free(h);
}

int perf_cmd_perf(const struct perf_opts *o)
{
	unsigned nconn = o->connections, nth = o->threads;
	struct pconn *conns = calloc(nconn, sizeof(*conns));
	struct pthr *th = calloc(nth, sizeof(*th));
	struct pqueue *pqs = NULL;
	unsigned npq = 0;
	int ret = 1;
	char sb[96];
	if (!conns || !th)
		goto out;
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
			c->blocks = c->ns.nsze - o->slba;
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
		th[t].idx = t;
		th[t].rng = 0x9E3779B97F4A7C15ull * (t + 1) + o->seed;
		perf_hist_init(&th[t].hist);
		th[t].tenant_ios = calloc(o->nhostnqn, sizeof(uint64_t));
		th[t].queues = calloc(npq, sizeof(struct pqueue *));
		th[t].conns = calloc(nconn, sizeof(struct pconn *));
		if (!th[t].tenant_ios || !th[t].queues || !th[t].conns)
			goto out;
	}
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
			if (!pq->jobs)
				goto out;
			for (unsigned j = 0; j < o->qd; j++) {
				pq->jobs[j].pq = pq;
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
	print_result(o, th, nth, conns, nconn);
	ret = 0;
	for (unsigned t = 0; t < nth; t++) {
		if (th[t].first_error) {
			fprintf(stderr, "hnvmf-perf: first error: %s\n",
				hnvmf_ini_status_str(th[t].first_error, sb, sizeof(sb)));
			ret = 1;
		}
	}
out:
	/* Disconnect before the jobs go: closing fails whatever is still in flight. */
	for (unsigned i = 0; conns && i < nconn; i++)
		if (conns[i].ctrl && perf_disconnect(conns[i].ctrl))
			ret = 1;
	for (unsigned i = 0; pqs && i < npq; i++) {
		for (unsigned j = 0; pqs[i].jobs && j < o->qd; j++)
			free(pqs[i].jobs[j].buf);
		free(pqs[i].jobs);
	}
	for (unsigned t = 0; th && t < nth; t++) {
		free(th[t].tenant_ios);
		free(th[t].queues);
		free(th[t].conns);
	}
	free(pqs);
	free(th);
	free(conns);
	return ret;
}
