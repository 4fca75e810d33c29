/* PQM, Parallel Queue Mode: the reactor hands each io at once to a lock-free device subqueue of an
 * I/O server and is free again (the intake slot's "early completion"; the host's CQE still waits
 * for io->done, which runs only after the backend completed). A pool of cmax servers exists; c of
 * them receive work. Jobs go to idle servers, round-robin among the idle ones (callIOServ); when
 * none is idle, to the next in turn. Every epoch a thread measures the arrival rate λ and the
 * servers' service rates and asks the sizing logic (core/pqm-sizing.c) for the next c; servers
 * beyond c are parked, not destroyed: they get no new work, drain their subqueue and sleep. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ioserver.h"
#include "core/log.h"
#include "core/path.h"
#include "core/pqm-sizing.h"
#include "core/pqm.h"
#include "core/qos.h"
#include "core/sched.h"
#include "core/strbuf.h"
#include "core/thread.h"

#define TRACE_LEN 256

struct pqm_chan {
	struct hnvmf_chan *ch;
	struct pqm_pool *pool;
	struct hnvmf_tenant *tenant;    /* NULL: fifo, ios go straight to the subqueues */
	unsigned rr;                    /* this channel's round-robin cursor */
	struct pqm_chan *next;
};

struct pqm_pool {
	struct hnvmf_ioserver *servers[HNVMF_PQM_CMAX_LIMIT];
	struct hnvmf_engine *eng;
	unsigned cmax;
	unsigned tq_depth; /* each tenant's queue at each server */
	atomic_bool overcommitted; /* the reservations exceed the capacity measured so far */
	atomic_uint c;
	atomic_uint forced_c; /* 0: the sizing decides */
	struct hnvmf_pqm_sizing *sizing;
	unsigned epoch_ms;
	pthread_t epoch_thread;
	pthread_mutex_t lock; /* channel list, retired counters, last decision, trace */
	pthread_cond_t stop_cond;
	bool stop;
	struct pqm_chan *chans;
	uint64_t retired_arrivals;
	/* previous epoch's totals */
	uint64_t prev_arrivals, prev_completed, prev_busy, prev_response;
	struct hnvmf_pqm_decision last;
	uint64_t epochs;
	struct hnvmf_pqm_trace_point trace[TRACE_LEN];
	unsigned ntrace;
};

static uint64_t sum_arrivals_locked(struct pqm_pool *p)
{
	uint64_t a = p->retired_arrivals;
	for (struct pqm_chan *pc = p->chans; pc; pc = pc->next)
		a += atomic_load_explicit(&pc->ch->arrivals, memory_order_relaxed);
	return a;
}

static void server_totals(struct pqm_pool *p, uint64_t *completed, uint64_t *busy, uint64_t *response)
{
	*completed = *busy = *response = 0;
	for (unsigned i = 0; i < p->cmax; i++) {
		const struct hnvmf_ioserver_stats *st = hnvmf_ioserver_stats(p->servers[i]);
		*completed += atomic_load_explicit(&st->completed, memory_order_relaxed);
		*busy += atomic_load_explicit(&st->busy_ns, memory_order_relaxed);
		*response += atomic_load_explicit(&st->response_ns, memory_order_relaxed);
	}
}

/* The most the pool completes per second by the model: max over c of c·μ(c); 0 before one. */
static double capacity(struct pqm_pool *p)
{
	double best = 0;
	pthread_mutex_lock(&p->lock);
	for (unsigned c = 1; c <= p->cmax; c++) {
		double cap = c * hnvmf_pqm_sizing_mu(p->sizing, c);
		if (cap > best)
			best = cap;
	}
	pthread_mutex_unlock(&p->lock);
	return best;
}

/* Reservations are promised only within the capacity: a set that exceeds what was measured so
 * far is logged (not refused: capacity is only known under load). always: log the verdict even
 * when it did not change (a reload). */
static void reservations_check(struct pqm_pool *p, bool always)
{
	uint64_t reserved = hnvmf_tenants_reserved(p->eng);
	double cap = capacity(p);
	bool over = cap > 0 && (double)reserved > cap;
	bool was = atomic_exchange(&p->overcommitted, over);
	if (over && (always || !was))
		log_notice("pqm: reservations overcommitted: %" PRIu64 " IOPS reserved, measured capacity %.0f IOPS",
			   reserved, cap);
	else if (!over && was)
		log_notice("pqm: reservations fit again: %" PRIu64 " IOPS reserved, measured capacity %.0f IOPS",
			   reserved, cap);
	else if (always && reserved)
		log_info("pqm: %" PRIu64 " IOPS reserved, capacity %s", reserved, cap > 0 ? "fits" : "not measured yet");
}

static void epoch(struct pqm_pool *p, uint64_t now_ns, uint64_t length_ns)
{
	pthread_mutex_lock(&p->lock);
	uint64_t arrivals = sum_arrivals_locked(p), completed, busy, response;
	server_totals(p, &completed, &busy, &response);
	double w_measured = completed > p->prev_completed
				    ? (double)(response - p->prev_response) / (double)(completed - p->prev_completed) / 1e9
				    : NAN;
	struct hnvmf_pqm_epoch e = {
		.servers = atomic_load(&p->c),
		.arrivals = arrivals - p->prev_arrivals,
		.completions = completed - p->prev_completed,
		.busy_ns = busy - p->prev_busy,
		.length_ns = length_ns,
	};
	p->prev_arrivals = arrivals;
	p->prev_completed = completed;
	p->prev_busy = busy;
	p->prev_response = response;
	struct hnvmf_pqm_decision d;
	unsigned forced = atomic_load(&p->forced_c);
	if (hnvmf_pqm_sizing_epoch(p->sizing, &e, &d) != 0) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	unsigned next = forced ? forced : d.c;
	if (forced) {
		snprintf(d.why, sizeof(d.why), "forced to %u", forced);
		d.reason = HNVMF_PQM_FORCED;
	}
	if (next != e.servers)
		log_ratelimited(HNVMF_LOG_INFO, "pqm: c %u -> %u (%s: %s) lambda %.0f/s", e.servers, next,
				hnvmf_pqm_reason_name(d.reason), d.why, d.lambda);
	atomic_store(&p->c, next);
	d.c = next;
	p->last = d;
	p->epochs++;
	struct hnvmf_pqm_trace_point *t = &p->trace[p->ntrace++ % TRACE_LEN];
	t->epoch = p->epochs;
	t->t_ns = now_ns;
	t->c = next;
	t->lambda = d.lambda;
	t->mu = d.mu;
	t->w = d.w;
	t->w_measured = w_measured;
	t->reason = d.reason;
	pthread_mutex_unlock(&p->lock);
	reservations_check(p, false);
}

static void *epoch_thread(void *arg)
{
	struct pqm_pool *p = arg;
	pthread_setname_np(pthread_self(), "hnvmf-pqm-epoch");
	uint64_t prev = hnvmf_now_ns();
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)p->epoch_ms * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&p->stop_cond, &p->lock, &ts);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		uint64_t now = hnvmf_now_ns();
		epoch(p, now, now - prev);
		prev = now;
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;

static int pool_get(struct hnvmf_engine *e, struct pqm_pool **out)
{
	pthread_mutex_lock(&create_lock);
	struct pqm_pool *p = e->pqm;
	if (p) {
		pthread_mutex_unlock(&create_lock);
		*out = p;
		return 0;
	}
	int rc = -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->cmax = e->opts.pqm_cmax ? e->opts.pqm_cmax : 4;
	if (p->cmax > HNVMF_PQM_CMAX_LIMIT)
		p->cmax = HNVMF_PQM_CMAX_LIMIT;
	p->epoch_ms = e->opts.pqm_epoch_ms ? e->opts.pqm_epoch_ms : 100;
	p->eng = e;
	unsigned depth = e->opts.subqueue_depth ? e->opts.subqueue_depth : 1024;
	p->tq_depth = depth;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->stop_cond, NULL);
	struct hnvmf_pqm_sizing_opts so;
	hnvmf_pqm_sizing_opts_default(&so, p->cmax);
	rc = hnvmf_pqm_sizing_create(&so, &p->sizing);
	if (rc)
		goto fail;
	atomic_init(&p->c, hnvmf_pqm_sizing_current(p->sizing));
	for (unsigned i = 0; i < p->cmax; i++) {
		char name[32];
		snprintf(name, sizeof(name), "hnvmf-pqm%u", i);
		/* With the scheduler the subqueue carries activation notices, at most one per
		 * tenant at a time (core/ioserver.c). */
		struct hnvmf_ioserver_opts o = {.name = name,
						.subqueue_depth = e->opts.pqm_fifo || depth > HNVMF_MAX_TENANTS
									  ? depth
									  : HNVMF_MAX_TENANTS + 1,
						.backend_depth = e->opts.backend_depth, .spin_us = e->opts.idle_spin_us,
						.cpu = hnvmf_engine_server_cpu_at(e, i)};
		rc = hnvmf_ioserver_start(&o, &p->servers[i]);
		if (rc)
			goto fail;
	}
	rc = pthread_create(&p->epoch_thread, NULL, epoch_thread, p);
	if (rc) {
		rc = -rc;
		goto fail;
	}
	e->pqm = p;
	pthread_mutex_unlock(&create_lock);
	log_info("pqm: pool of %u I/O servers, epoch %u ms, c starts at %u, %s", p->cmax, p->epoch_ms,
		 atomic_load(&p->c), e->opts.pqm_fifo ? "fifo (no per-tenant scheduling)" : "per-tenant DRR");
	*out = p;
	return 0;
fail:
	if (p) {
		for (unsigned i = 0; i < p->cmax; i++)
			hnvmf_ioserver_stop(p->servers[i]);
		hnvmf_pqm_sizing_destroy(p->sizing);
		free(p);
	}
	pthread_mutex_unlock(&create_lock);
	return rc;
}

void hnvmf_pqm_forget(struct hnvmf_engine *e, struct hnvmf_backend *be)
{
	pthread_mutex_lock(&create_lock); /* e->pqm is set under it, once */
	struct pqm_pool *p = e->pqm;
	pthread_mutex_unlock(&create_lock);
	for (unsigned i = 0; p && i < p->cmax; i++)
		hnvmf_ioserver_forget(p->servers[i], be);
}

void hnvmf_pqm_engine_stop(struct hnvmf_engine *e)
{
	struct pqm_pool *p = e->pqm;
	if (!p)
		return;
	hnvmf_thread_request_stop(&p->lock, &p->stop_cond, &p->stop);
	pthread_join(p->epoch_thread, NULL);
	for (unsigned i = 0; i < p->cmax; i++)
		hnvmf_ioserver_stop(p->servers[i]);
	hnvmf_pqm_sizing_destroy(p->sizing);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->stop_cond);
	free(p);
	e->pqm = NULL;
}

/* The tenant's queue at server k, made on first use (two reactors may race: one keeps its). */
static struct hnvmf_tq *tenant_queue(struct pqm_chan *pc, unsigned k)
{
	_Atomic(struct hnvmf_tq *) *slot = &pc->tenant->tq[k];
	struct hnvmf_tq *tq = atomic_load_explicit(slot, memory_order_acquire);
	if (tq)
		return tq;
	struct hnvmf_tq *mine = hnvmf_tq_create(pc->tenant, pc->pool->tq_depth);
	if (!mine)
		return NULL;
	if (atomic_compare_exchange_strong(slot, &tq, mine))
		return mine;
	hnvmf_tq_destroy(mine);
	return tq;
}

static bool push_to(struct pqm_chan *pc, unsigned k, struct hnvmf_io *io)
{
	struct hnvmf_ioserver *s = pc->pool->servers[k];
	if (!pc->tenant)
		return hnvmf_ioserver_push(s, io);
	struct hnvmf_tq *tq = tenant_queue(pc, k);
	return tq && hnvmf_ioserver_push_tenant(s, tq, io);
}

/* callIOServ: an idle server among the c active ones, round-robin; else the next in turn; a full
 * subqueue is skipped. false only when every active subqueue is full: then the io waits in the
 * channel, in FIFO order (back-pressure). */
bool hnvmf_pqm_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct pqm_chan *pc = ch->priv;
	struct pqm_pool *p = pc->pool;
	unsigned c = atomic_load_explicit(&p->c, memory_order_relaxed);
	unsigned start = pc->rr++;
	for (unsigned i = 0; i < c; i++) {
		unsigned k = (start + i) % c;
		if (hnvmf_ioserver_idle(p->servers[k]) && push_to(pc, k, io))
			return true;
	}
	for (unsigned i = 0; i < c; i++)
		if (push_to(pc, (start + i) % c, io))
			return true;
	return false;
}

int hnvmf_pqm_open(struct hnvmf_chan *ch)
{
	struct pqm_pool *p;
	int rc = pool_get(ch->eng, &p);
	if (rc)
		return rc;
	struct pqm_chan *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	pc->ch = ch;
	pc->pool = p;
	pc->tenant = ch->eng->opts.pqm_fifo ? NULL : ch->sched_tenant;
	pthread_mutex_lock(&p->lock);
	pc->next = p->chans;
	p->chans = pc;
	pthread_mutex_unlock(&p->lock);
	ch->priv = pc;
	return 0;
}

void hnvmf_pqm_close(struct hnvmf_chan *ch)
{
	struct pqm_chan *pc = ch->priv;
	struct pqm_pool *p = pc->pool;
	pthread_mutex_lock(&p->lock);
	for (struct pqm_chan **pp = &p->chans; *pp; pp = &(*pp)->next) {
		if (*pp == pc) {
			*pp = pc->next;
			break;
		}
	}
	p->retired_arrivals += atomic_load(&ch->arrivals);
	pthread_mutex_unlock(&p->lock);
	free(pc);
}

/* ---- control and statistics (core/pqm.h) ---- */

int hnvmf_pqm_force_c(struct hnvmf_engine *e, unsigned c)
{
	struct pqm_pool *p;
	int rc = pool_get(e, &p);
	if (rc)
		return rc;
	if (c > p->cmax)
		return -EINVAL;
	atomic_store(&p->forced_c, c);
	if (c)
		atomic_store(&p->c, c);
	return 0;
}

void hnvmf_pqm_check_reservations(struct hnvmf_engine *e)
{
	struct pqm_pool *p = e->pqm;
	uint64_t reserved = hnvmf_tenants_reserved(e);
	if (p)
		reservations_check(p, true);
	else if (reserved)
		log_info("pqm: %" PRIu64 " IOPS reserved, capacity not measured yet", reserved);
}

unsigned hnvmf_pqm_current_c(struct hnvmf_engine *e)
{
	struct pqm_pool *p = e->pqm;
	return p ? atomic_load(&p->c) : 0;
}

size_t hnvmf_pqm_trace(struct hnvmf_engine *e, struct hnvmf_pqm_trace_point *out, size_t max)
{
	struct pqm_pool *p = e->pqm;
	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	size_t n = p->ntrace < TRACE_LEN ? p->ntrace : TRACE_LEN;
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = p->trace[(p->ntrace - n + i) % TRACE_LEN];
	pthread_mutex_unlock(&p->lock);
	return n;
}

size_t hnvmf_pqm_describe(struct hnvmf_engine *e, char *buf, size_t len)
{
	struct pqm_pool *p = e->pqm;
	struct hnvmf_strbuf sb = hnvmf_strbuf(buf, len);
#define PUT(...) hnvmf_strbuf_printf(&sb, __VA_ARGS__)
	if (!p) {
		PUT("pqm: not started\n");
		return sb.len;
	}
	pthread_mutex_lock(&p->lock);
	PUT("pqm c %u cmax %u epochs %" PRIu64 " lambda %.0f/s last \"%s\" (%s)\n", atomic_load(&p->c), p->cmax,
	    p->epochs, p->last.lambda, p->epochs ? p->last.why : "no epoch measured yet",
	    p->epochs ? hnvmf_pqm_reason_name(p->last.reason) : "none");
	for (unsigned i = 0; i < p->cmax; i++) {
		const struct hnvmf_ioserver_stats *st = hnvmf_ioserver_stats(p->servers[i]);
		uint64_t done = atomic_load(&st->completed);
		uint64_t svc = atomic_load(&st->service_ns);
		PUT("pqm server %u %s completed %" PRIu64 " queue %u mean_service_us %.1f busy_ms %" PRIu64 "\n", i,
		    i < atomic_load(&p->c) ? "active" : "parked", done, hnvmf_ioserver_load(p->servers[i]),
		    done ? (double)svc / (double)done / 1000.0 : 0.0, atomic_load(&st->busy_ns) / 1000000);
	}
	/* One line per tenant, summed over its queues (channels): the first channel of each
	 * tenant in the list speaks for all of them. */
	for (struct pqm_chan *pc = p->chans; pc; pc = pc->next) {
		bool first = true;
		for (struct pqm_chan *q = p->chans; q != pc && first; q = q->next)
			first = strcmp(q->ch->tenant, pc->ch->tenant) != 0;
		if (!first)
			continue;
		uint64_t arrivals = 0;
		unsigned queues = 0;
		for (struct pqm_chan *q = pc; q; q = q->next)
			if (strcmp(q->ch->tenant, pc->ch->tenant) == 0) {
				arrivals += atomic_load(&q->ch->arrivals);
				queues++;
			}
		PUT("pqm tenant %s arrivals %" PRIu64 " queues %u\n", pc->ch->tenant[0] ? pc->ch->tenant : "-",
		    arrivals, queues);
	}
	pthread_mutex_unlock(&p->lock);
#undef PUT
	return sb.len;
}
