/* I/O statistics (see target/stats.h): records written by one reactor each, summed on read. */
#include "target/stats.h"

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Retired totals kept apart by key; past this, further keys (a host inventing NQNs) share one
 * entry with empty labels, so memory stays bounded. */
#define STATS_MAX_RETIRED 4096

struct hnvmf_stats_rec {
	struct hnvmf_stats_key key;
	_Atomic uint64_t v[HNVMF_ST_N];
	_Atomic uint16_t err_status[HNVMF_STATS_ERR_SLOTS];
	struct hnvmf_list link;
};

struct hnvmf_stats {
	pthread_mutex_t lock; /* live list, retired array */
	struct hnvmf_list live;
	struct hnvmf_stats_snap *retired;
	size_t nretired, capretired;
	_Atomic uint64_t auth[HNVMF_AUTH_NOUTCOMES];
	_Atomic uint64_t dam[2]; /* revocations, grants */
};

static const char *const auth_names[HNVMF_AUTH_NOUTCOMES] = {
	[HNVMF_AUTH_OK] = "success",
	[1] = "failed",
	[2] = "protocol_not_usable",
	[3] = "concat_mismatch",
	[4] = "hash_unusable",
	[5] = "dhgroup_unusable",
	[6] = "incorrect_payload",
	[7] = "incorrect_message",
	[HNVMF_AUTH_BACKOFF] = "backoff",
	[HNVMF_AUTH_TIMEOUT] = "timeout",
	[HNVMF_AUTH_ABANDONED] = "abandoned",
};

const char *hnvmf_auth_outcome_name(unsigned o) { return o < HNVMF_AUTH_NOUTCOMES ? auth_names[o] : "?"; }

int hnvmf_stats_create(struct hnvmf_stats **out)
{
	struct hnvmf_stats *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	hnvmf_list_init(&s->live);
	*out = s;
	return 0;
}

void hnvmf_stats_destroy(struct hnvmf_stats *s)
{
	if (!s)
		return;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &s->live) /* none once every queue is gone */
		free(container_of(pos, struct hnvmf_stats_rec, link));
	pthread_mutex_destroy(&s->lock);
	free(s->retired);
	free(s);
}

/* ---- histogram ---- */

unsigned hnvmf_lat_bucket(uint64_t ns)
{
	uint64_t us = (ns + 999) / 1000;
	if (us <= 1)
		return 0;
	/* 2^e <= us - 1 < 2^(e+1): the candidates are 3·2^(e-1) (index 2e) and 2^(e+1) (2e + 1). */
	unsigned e = 63u - (unsigned)__builtin_clzll(us - 1);
	unsigned i = (e >= 1 && us <= 3ull << (e - 1)) ? 2 * e : 2 * e + 1;
	return i < HNVMF_LAT_BUCKETS ? i : HNVMF_LAT_BUCKETS;
}

double hnvmf_lat_bound_us(unsigned i)
{
	if (i >= HNVMF_LAT_BUCKETS)
		return INFINITY;
	if (i == 0)
		return 1;
	return i % 2 ? ldexp(1, (int)(i + 1) / 2) : 3 * ldexp(1, (int)i / 2 - 1);
}

double hnvmf_lat_quantile_us(const uint64_t *hist, double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i <= HNVMF_LAT_BUCKETS; i++)
		total += hist[i];
	if (!total)
		return 0;
	double rank = q * (double)total, seen = 0;
	for (unsigned i = 0; i <= HNVMF_LAT_BUCKETS; i++) {
		if (!hist[i] || seen + (double)hist[i] < rank) {
			seen += (double)hist[i];
			continue;
		}
		double lo = i ? hnvmf_lat_bound_us(i - 1) : 0;
		if (i == HNVMF_LAT_BUCKETS)
			return lo; /* beyond the last bound: all that can be said */
		return lo + (hnvmf_lat_bound_us(i) - lo) * (rank - seen) / (double)hist[i];
	}
	return hnvmf_lat_bound_us(HNVMF_LAT_BUCKETS - 1);
}

/* ---- the hooks: the queue's reactor only ---- */

/* Single writer: a plain add, published with a relaxed store (no locked instruction). */
static inline void bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static struct hnvmf_stats_rec *rec_open(struct hnvmf_sq *sq, uint32_t nsid)
{
	struct hnvmf_stats *s = sq->tgt->stats;
	struct hnvmf_stats_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL; /* statistics are lossy under memory pressure; the I/O is not */
	struct hnvmf_ctrl *c = sq->ctrl;
	snprintf(r->key.subnqn, sizeof(r->key.subnqn), "%s", c->subsys->nqn);
	snprintf(r->key.hostnqn, sizeof(r->key.hostnqn), "%s", c->hostnqn);
	snprintf(r->key.transport, sizeof(r->key.transport), "%s", sq->ops->name ? sq->ops->name : "");
	r->key.nsid = nsid;
	r->key.cntlid = c->cntlid;
	r->key.mode = (uint8_t)sq->mode;
	pthread_mutex_lock(&s->lock);
	hnvmf_list_add_tail(&s->live, &r->link);
	pthread_mutex_unlock(&s->lock);
	sq->stats[nsid] = r;
	return r;
}

void hnvmf_stats_start(struct hnvmf_req *req)
{
	struct hnvmf_sq *sq = req->sq;
	req->stats_rec = NULL;
	if (sq->qid == 0 || !sq->ctrl || !sq->tgt->stats)
		return;
	/* The host's NSID picks the record only when it names a namespace: invented NSIDs all
	 * count under 0, so a host cannot make us allocate per value. */
	uint32_t nsid = le32toh(req->cmd->common.nsid);
	if (!hnvmf_subsys_ns(sq->ctrl->subsys, nsid))
		nsid = 0;
	struct hnvmf_stats_rec *r = sq->stats[nsid];
	if (!r && !(r = rec_open(sq, nsid)))
		return;
	uint8_t opc = req->cmd->common.opcode;
	req->stats_op = opc == nvme_cmd_read ? HNVMF_STATS_READ : opc == nvme_cmd_write ? HNVMF_STATS_WRITE
											  : HNVMF_STATS_OTHER;
	req->stats_rec = r;
	req->t0_ns = hnvmf_now_ns();
	bump(&r->v[HNVMF_ST_ARRIVALS], 1);
}

static void count_error(struct hnvmf_stats_rec *r, uint16_t status)
{
	unsigned i;
	for (i = 0; i < HNVMF_STATS_ERR_SLOTS - 1; i++) {
		uint16_t have = atomic_load_explicit(&r->err_status[i], memory_order_relaxed);
		if (have == status)
			break;
		if (have == 0) { /* the slot's status is published before its count can be read */
			atomic_store_explicit(&r->err_status[i], status, memory_order_release);
			break;
		}
	}
	if (i == HNVMF_STATS_ERR_SLOTS - 1)
		atomic_store_explicit(&r->err_status[i], HNVMF_STATS_ERR_OTHER, memory_order_release);
	bump(&r->v[HNVMF_ST_ERRS + i], 1);
}

void hnvmf_stats_complete(struct hnvmf_req *req)
{
	struct hnvmf_stats_rec *r = req->stats_rec;
	if (!r)
		return;
	uint64_t ns = hnvmf_now_ns() - req->t0_ns;
	bump(&r->v[HNVMF_ST_CMDS + req->stats_op], 1);
	bump(&r->v[HNVMF_ST_LAT_SUM_NS], ns);
	bump(&r->v[HNVMF_ST_HIST + hnvmf_lat_bucket(ns)], 1);
	if (req->status)
		count_error(r, req->status);
	else if (req->stats_op == HNVMF_STATS_READ)
		bump(&r->v[HNVMF_ST_BYTES + HNVMF_STATS_READ], req->xfer_len);
	else if (req->stats_op == HNVMF_STATS_WRITE)
		bump(&r->v[HNVMF_ST_BYTES + HNVMF_STATS_WRITE], req->data_len);
}

/* ---- readers ---- */

static void snap_rec(const struct hnvmf_stats_rec *r, struct hnvmf_stats_snap *out)
{
	out->key = r->key;
	for (unsigned i = 0; i < HNVMF_STATS_ERR_SLOTS; i++)
		out->err_status[i] = atomic_load_explicit(&r->err_status[i], memory_order_acquire);
	for (unsigned i = 0; i < HNVMF_ST_N; i++)
		out->v[i] = atomic_load_explicit(&r->v[i], memory_order_relaxed);
}

void hnvmf_stats_snap_add(struct hnvmf_stats_snap *a, const struct hnvmf_stats_snap *b)
{
	for (unsigned i = 0; i < HNVMF_ST_ERRS; i++)
		a->v[i] += b->v[i];
	for (unsigned j = 0; j < HNVMF_STATS_ERR_SLOTS; j++) {
		if (!b->err_status[j] || !b->v[HNVMF_ST_ERRS + j])
			continue;
		unsigned i;
		for (i = 0; i < HNVMF_STATS_ERR_SLOTS - 1; i++)
			if (a->err_status[i] == b->err_status[j] || a->err_status[i] == 0)
				break;
		if (i == HNVMF_STATS_ERR_SLOTS - 1 && a->err_status[i] != b->err_status[j])
			a->err_status[i] = HNVMF_STATS_ERR_OTHER;
		else
			a->err_status[i] = b->err_status[j];
		a->v[HNVMF_ST_ERRS + i] += b->v[HNVMF_ST_ERRS + j];
	}
}

static int key_cmp(const struct hnvmf_stats_key *a, const struct hnvmf_stats_key *b)
{
	int c = strcmp(a->subnqn, b->subnqn);
	if (!c)
		c = strcmp(a->hostnqn, b->hostnqn);
	if (!c)
		c = a->nsid < b->nsid ? -1 : a->nsid > b->nsid;
	if (!c)
		c = a->cntlid < b->cntlid ? -1 : a->cntlid > b->cntlid;
	if (!c)
		c = a->mode < b->mode ? -1 : a->mode > b->mode;
	if (!c)
		c = strcmp(a->transport, b->transport);
	return c;
}

static int snap_cmp(const void *a, const void *b)
{
	return key_cmp(&((const struct hnvmf_stats_snap *)a)->key, &((const struct hnvmf_stats_snap *)b)->key);
}

void hnvmf_stats_sq_release(struct hnvmf_sq *sq)
{
	struct hnvmf_stats *s = sq->tgt->stats;
	if (!s)
		return;
	for (uint32_t nsid = 0; nsid <= HNVMF_MAX_NSID; nsid++) {
		struct hnvmf_stats_rec *r = sq->stats[nsid];
		if (!r)
			continue;
		sq->stats[nsid] = NULL;
		struct hnvmf_stats_snap snap;
		snap_rec(r, &snap);
		snap.key.cntlid = 0;
		pthread_mutex_lock(&s->lock);
		hnvmf_list_del(&r->link);
		size_t i;
		for (i = 0; i < s->nretired; i++)
			if (key_cmp(&s->retired[i].key, &snap.key) == 0)
				break;
		if (i == s->nretired && s->nretired == STATS_MAX_RETIRED) {
			memset(&snap.key, 0, sizeof(snap.key)); /* the shared overflow entry */
			for (i = 0; i < s->nretired; i++)
				if (key_cmp(&s->retired[i].key, &snap.key) == 0)
					break;
		}
		if (i == s->nretired && i == s->capretired) {
			size_t cap = s->capretired ? s->capretired * 2 : 16;
			void *p = realloc(s->retired, cap * sizeof(*s->retired));
			if (!p) {
				pthread_mutex_unlock(&s->lock);
				free(r);
				continue; /* the totals lose this queue's share */
			}
			s->retired = p;
			s->capretired = cap;
		}
		if (i == s->nretired) {
			memset(&s->retired[i], 0, sizeof(s->retired[i]));
			s->retired[i].key = snap.key;
			s->nretired++;
		}
		hnvmf_stats_snap_add(&s->retired[i], &snap);
		pthread_mutex_unlock(&s->lock);
		free(r);
	}
}

int hnvmf_stats_collect(struct hnvmf_stats *s, struct hnvmf_stats_snap **out)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->nretired;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &s->live)
		n++;
	struct hnvmf_stats_snap *a = malloc((n ? n : 1) * sizeof(*a));
	if (!a) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	if (s->nretired)
		memcpy(a, s->retired, s->nretired * sizeof(*a));
	size_t k = s->nretired;
	hnvmf_list_for_each_safe(pos, tmp, &s->live)
		snap_rec(container_of(pos, struct hnvmf_stats_rec, link), &a[k++]);
	pthread_mutex_unlock(&s->lock);
	/* A controller's queues have one key: sorted, they are neighbours to merge. */
	qsort(a, k, sizeof(*a), snap_cmp);
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m && key_cmp(&a[m - 1].key, &a[i].key) == 0)
			hnvmf_stats_snap_add(&a[m - 1], &a[i]);
		else if (m++ != i)
			a[m - 1] = a[i];
	}
	*out = a;
	return (int)m;
}

void hnvmf_stats_count_auth(struct hnvmf_stats *s, unsigned o)
{
	if (s && o < HNVMF_AUTH_NOUTCOMES)
		atomic_fetch_add_explicit(&s->auth[o], 1, memory_order_relaxed);
}

uint64_t hnvmf_stats_auth(struct hnvmf_stats *s, unsigned o)
{
	return o < HNVMF_AUTH_NOUTCOMES ? atomic_load_explicit(&s->auth[o], memory_order_relaxed) : 0;
}

void hnvmf_stats_count_dam(struct hnvmf_stats *s, bool grant)
{
	if (s)
		atomic_fetch_add_explicit(&s->dam[grant], 1, memory_order_relaxed);
}

uint64_t hnvmf_stats_dam(struct hnvmf_stats *s, bool grant) { return atomic_load_explicit(&s->dam[grant], memory_order_relaxed); }
