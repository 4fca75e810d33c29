/* SLA monitoring (see target/sla.h). Off the I/O path: one thread, once per epoch, reads the
 * statistics under their registry lock and the goals under tgt->lock. */
#include "target/sla.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "target/stats.h"

#define SLA_MAX_TENANTS 1024 /* hosts tracked; a host inventing NQNs cannot grow this further */

struct sla_tenant {
	struct hnvmf_sla_result r;
	/* totals at the end of the previous epoch */
	uint64_t cmds, arrivals, bytes[2], hist[HNVMF_LAT_BUCKETS + 1];
	/* Violation start/end lines: the state last logged per goal, and a limiter per goal. A
	 * change held back by the limiter is logged at a later epoch, so the log always catches
	 * up with the state and a flapping goal costs at most a line a second. */
	bool logged_missed[HNVMF_SLA_NKINDS];
	struct hnvmf_ratelimit rl[HNVMF_SLA_NKINDS];
};

struct hnvmf_sla {
	struct hnvmf_tgt *tgt;
	unsigned epoch_ms;
	pthread_t thread;
	pthread_mutex_t lock; /* tenants, stop */
	pthread_cond_t cond;
	bool stop;
	struct sla_tenant *t;
	size_t n;
	uint64_t epochs;
	bool full_logged;
};

const char *hnvmf_sla_verdict_name(enum hnvmf_sla_verdict v)
{
	return v == HNVMF_SLA_MET ? "met" : v == HNVMF_SLA_MISSED ? "missed" : "-";
}

void hnvmf_sla_judge(struct hnvmf_sla_result *r)
{
	enum hnvmf_sla_verdict *v = r->verdict;
	v[HNVMF_SLA_RESERVATION] = HNVMF_SLA_NONE;
	if (r->reserved_iops) {
		bool asked = r->arrivals_per_s >= (double)r->reserved_iops;
		v[HNVMF_SLA_RESERVATION] = asked && r->iops < (double)r->reserved_iops ? HNVMF_SLA_MISSED : HNVMF_SLA_MET;
	}
	v[HNVMF_SLA_LATENCY] = HNVMF_SLA_NONE;
	if (r->latency_target_us && r->completions)
		v[HNVMF_SLA_LATENCY] = r->p99_us > (double)r->latency_target_us ? HNVMF_SLA_MISSED : HNVMF_SLA_MET;
}

static struct sla_tenant *tenant_get(struct hnvmf_sla *s, const char *hostnqn)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->t[i].r.hostnqn, hostnqn) == 0)
			return &s->t[i];
	if (s->n == SLA_MAX_TENANTS) {
		if (!s->full_logged)
			log_warn("sla: more than %u hosts; further hosts are not monitored", SLA_MAX_TENANTS);
		s->full_logged = true;
		return NULL;
	}
	if (s->n % 16 == 0) {
		void *p = realloc(s->t, (s->n + 16) * sizeof(*s->t));
		if (!p)
			return NULL;
		s->t = p;
	}
	struct sla_tenant *t = &s->t[s->n++];
	memset(t, 0, sizeof(*t));
	snprintf(t->r.hostnqn, sizeof(t->r.hostnqn), "%s", hostnqn);
	for (unsigned k = 0; k < HNVMF_SLA_NKINDS; k++)
		t->rl[k] = (struct hnvmf_ratelimit)HNVMF_RATELIMIT_INIT(1000);
	return t;
}

/* The epoch's figures from the totals now (sum) and at the previous epoch (t). */
static void measure(struct sla_tenant *t, const struct hnvmf_stats_snap *sum, double secs)
{
	uint64_t cmds = 0, hist[HNVMF_LAT_BUCKETS + 1];
	for (unsigned op = 0; op < HNVMF_STATS_NOPS; op++)
		cmds += sum->v[HNVMF_ST_CMDS + op];
	for (unsigned b = 0; b <= HNVMF_LAT_BUCKETS; b++) {
		hist[b] = sum->v[HNVMF_ST_HIST + b] - t->hist[b];
		t->hist[b] = sum->v[HNVMF_ST_HIST + b];
	}
	struct hnvmf_sla_result *r = &t->r;
	r->seconds = secs;
	r->completions = cmds - t->cmds;
	r->iops = (double)r->completions / secs;
	r->arrivals_per_s = (double)(sum->v[HNVMF_ST_ARRIVALS] - t->arrivals) / secs;
	r->read_bytes_per_s = (double)(sum->v[HNVMF_ST_BYTES + HNVMF_STATS_READ] - t->bytes[0]) / secs;
	r->write_bytes_per_s = (double)(sum->v[HNVMF_ST_BYTES + HNVMF_STATS_WRITE] - t->bytes[1]) / secs;
	r->p50_us = hnvmf_lat_quantile_us(hist, 0.5);
	r->p99_us = hnvmf_lat_quantile_us(hist, 0.99);
	t->cmds = cmds;
	t->arrivals = sum->v[HNVMF_ST_ARRIVALS];
	t->bytes[0] = sum->v[HNVMF_ST_BYTES + HNVMF_STATS_READ];
	t->bytes[1] = sum->v[HNVMF_ST_BYTES + HNVMF_STATS_WRITE];
}

static void log_change(struct sla_tenant *t, unsigned kind)
{
	const struct hnvmf_sla_result *r = &t->r;
	bool start = r->verdict[kind] == HNVMF_SLA_MISSED;
	if (start == t->logged_missed[kind])
		return;
	unsigned held;
	if (!hnvmf_ratelimit_pass(&t->rl[kind], &held))
		return;
	t->logged_missed[kind] = start;
	if (kind == HNVMF_SLA_RESERVATION)
		log_notice("sla: host %s: reservation violation %s: %.0f IOPS of %" PRIu64 " reserved (asked %.0f/s)"
			   " (%u changes not logged)", r->hostnqn, start ? "started" : "ended", r->iops,
			   r->reserved_iops, r->arrivals_per_s, held);
	else
		log_notice("sla: host %s: latency violation %s: p99 %.0f us, target %" PRIu64 " us (%u changes not logged)",
			   r->hostnqn, start ? "started" : "ended", r->p99_us, r->latency_target_us, held);
}

static void epoch(struct hnvmf_sla *s, double secs)
{
	struct hnvmf_stats_snap *snaps;
	int n = hnvmf_stats_collect(s->tgt->stats, &snaps);
	if (n < 0)
		return;
	pthread_mutex_lock(&s->lock);
	s->epochs++;
	/* Totals by host: collect sorts by subsystem first, so sum each host over all entries. */
	for (int i = 0; i < n; i++) {
		if (!snaps[i].key.hostnqn[0])
			continue; /* the overflow entry of gone controllers belongs to no one host */
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(snaps[j].key.hostnqn, snaps[i].key.hostnqn) == 0;
		if (seen)
			continue;
		struct hnvmf_stats_snap sum;
		memset(&sum, 0, sizeof(sum));
		for (int j = i; j < n; j++)
			if (strcmp(snaps[j].key.hostnqn, snaps[i].key.hostnqn) == 0)
				hnvmf_stats_snap_add(&sum, &snaps[j]);
		struct sla_tenant *t = tenant_get(s, snaps[i].key.hostnqn);
		if (t)
			measure(t, &sum, secs);
	}
	pthread_mutex_lock(&s->tgt->lock);
	for (size_t i = 0; i < s->n; i++) {
		struct hnvmf_sla_result *r = &s->t[i].r;
		const struct hnvmf_conf_tenant *ct =
			hnvmf_conf_find_tenant(s->tgt->tenants, s->tgt->ntenants, r->hostnqn);
		r->reserved_iops = ct ? ct->reserved_iops : 0;
		r->latency_target_us = ct ? ct->latency_target_us : 0;
	}
	pthread_mutex_unlock(&s->tgt->lock);
	for (size_t i = 0; i < s->n; i++) {
		struct sla_tenant *t = &s->t[i];
		t->r.epoch = s->epochs;
		hnvmf_sla_judge(&t->r);
		for (unsigned k = 0; k < HNVMF_SLA_NKINDS; k++) {
			t->r.missed_epochs[k] += t->r.verdict[k] == HNVMF_SLA_MISSED;
			log_change(t, k);
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(snaps);
}

static void *sla_thread(void *arg)
{
	struct hnvmf_sla *s = arg;
	pthread_setname_np(pthread_self(), "hnvmf-sla");
	uint64_t prev = hnvmf_now_ns();
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)s->epoch_ms * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT || s->stop)
			continue;
		pthread_mutex_unlock(&s->lock);
		/* The epoch's real length: a starved thread wakes late, and rates must not jump. */
		uint64_t now = hnvmf_now_ns();
		epoch(s, (double)(now - prev) / 1e9);
		prev = now;
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int hnvmf_sla_start(struct hnvmf_tgt *tgt, unsigned epoch_ms, struct hnvmf_sla **out)
{
	struct hnvmf_sla *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->tgt = tgt;
	s->epoch_ms = epoch_ms ? epoch_ms : 1000;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&s->thread, NULL, sla_thread, s);
	if (rc) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -rc;
	}
	*out = s;
	return 0;
}

void hnvmf_sla_stop(struct hnvmf_sla *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->t);
	free(s);
}

int hnvmf_sla_results(struct hnvmf_sla *s, struct hnvmf_sla_result **out)
{
	pthread_mutex_lock(&s->lock);
	struct hnvmf_sla_result *a = malloc((s->n ? s->n : 1) * sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++)
		a[i] = s->t[i].r;
	int n = (int)s->n;
	pthread_mutex_unlock(&s->lock);
	*out = a;
	return n;
}
