/* Per-tenant limits and reservations (core/qos.h): lock-free token buckets every server of the
 * tenant draws on, and the engine's list of tenant objects. */
#include "core/qos.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/path.h"
#include "core/sched.h"

/* cost tokens at rate per second, in ns of the bucket's virtual time (128-bit: a byte costs
 * under a nanosecond at high rates, and cost · 10^9 overflows 64 bits for large costs). */
static uint64_t cost_ns(uint64_t cost, uint64_t rate)
{
	return (uint64_t)(((unsigned __int128)cost * 1000000000u + rate - 1) / rate);
}

/* The bucket's virtual time clamped to a full bucket, and the ns worth of tokens needed. */
static bool bucket_check(struct hnvmf_bucket *b, uint64_t cost, uint64_t now, uint64_t rate, uint64_t *base,
			 uint64_t *need, uint64_t *wait_ns)
{
	uint64_t e = atomic_load_explicit(&b->empty_at_ns, memory_order_relaxed);
	uint64_t full = now > HNVMF_BUCKET_NS ? now - HNVMF_BUCKET_NS : 0;
	*base = e > full ? e : full;
	*need = cost_ns(cost, rate);
	uint64_t want = *need < HNVMF_BUCKET_NS ? *need : HNVMF_BUCKET_NS;
	if (*base + want <= now)
		return true;
	*wait_ns = *base + want - now;
	return false;
}

bool hnvmf_bucket_ready(struct hnvmf_bucket *b, uint64_t cost, uint64_t now, uint64_t *wait_ns)
{
	uint64_t rate = atomic_load_explicit(&b->rate, memory_order_relaxed), base, need;
	return !rate || bucket_check(b, cost, now, rate, &base, &need, wait_ns);
}

bool hnvmf_bucket_take(struct hnvmf_bucket *b, uint64_t cost, uint64_t now, uint64_t *wait_ns)
{
	uint64_t rate = atomic_load_explicit(&b->rate, memory_order_relaxed);
	if (!rate)
		return true;
	for (;;) {
		uint64_t e = atomic_load_explicit(&b->empty_at_ns, memory_order_relaxed), base, need;
		if (!bucket_check(b, cost, now, rate, &base, &need, wait_ns))
			return false;
		/* Another server took tokens since the load: check again against its time. */
		if (atomic_compare_exchange_weak_explicit(&b->empty_at_ns, &e, base + need, memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}

/* Taken unconditionally (after every bucket said ready): a race with another server can leave
 * this one in debt by that server's io, which later ios pay back. */
static void bucket_charge(struct hnvmf_bucket *b, uint64_t cost, uint64_t now)
{
	uint64_t rate = atomic_load_explicit(&b->rate, memory_order_relaxed), wait;
	if (!rate || hnvmf_bucket_take(b, cost, now, &wait))
		return;
	uint64_t need = cost_ns(cost, rate);
	atomic_fetch_add_explicit(&b->empty_at_ns, need, memory_order_relaxed);
}

void hnvmf_qos_set(struct hnvmf_tenant *t, const struct hnvmf_tenant_qos *q)
{
	atomic_store(&t->weight, q->weight ? q->weight : 1);
	atomic_store(&t->reserved_iops, q->reserved_iops);
	atomic_store(&t->iops.rate, q->max_iops);
	atomic_store(&t->read_bytes.rate, q->max_read_bps);
	atomic_store(&t->write_bytes.rate, q->max_write_bps);
	atomic_store(&t->bytes.rate, q->max_bps);
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

bool hnvmf_qos_admit(struct hnvmf_tenant *t, const struct hnvmf_io *io, uint64_t now, uint64_t *wait_ns)
{
	/* Only Reads and Writes move data the byte limits count (Write Zeroes, Flush, Deallocate
	 * count as ios only). */
	uint64_t len = io->bio.len;
	struct hnvmf_bucket *dir = io->bio.op == HNVMF_BIO_READ	 ? &t->read_bytes
				   : io->bio.op == HNVMF_BIO_WRITE ? &t->write_bytes
								   : NULL;
	if (!dir)
		len = 0;
	uint64_t w = 0, wi = 0, wd = 0, wb = 0;
	bool ok = hnvmf_bucket_ready(&t->iops, 1, now, &wi);
	if (len) {
		ok &= hnvmf_bucket_ready(dir, len, now, &wd);
		ok &= hnvmf_bucket_ready(&t->bytes, len, now, &wb);
	}
	if (!ok) {
		w = max_u64(wi, max_u64(wd, wb));
		*wait_ns = w ? w : 1;
		return false;
	}
	bucket_charge(&t->iops, 1, now);
	if (len) {
		bucket_charge(dir, len, now);
		bucket_charge(&t->bytes, len, now);
	}
	return true;
}

/* The window's count, reset when now is in a later window. Two servers may both reset: the
 * count then misses what one served in between (the reservation errs toward the tenant). */
static uint64_t resv_count(struct hnvmf_tenant *t, uint64_t now)
{
	uint64_t w = now / HNVMF_RESV_WINDOW_NS, cur = atomic_load_explicit(&t->resv_window, memory_order_relaxed);
	if (cur != w && atomic_compare_exchange_strong(&t->resv_window, &cur, w))
		atomic_store_explicit(&t->resv_served, 0, memory_order_relaxed);
	return atomic_load_explicit(&t->resv_served, memory_order_relaxed);
}

bool hnvmf_qos_behind(struct hnvmf_tenant *t, uint64_t now)
{
	uint64_t r = atomic_load_explicit(&t->reserved_iops, memory_order_relaxed);
	if (!r)
		return false;
	uint64_t served = resv_count(t, now);
	uint64_t into = now % HNVMF_RESV_WINDOW_NS;
	/* owed so far in this window, rounded up: the window's first io is always owed */
	uint64_t owed = (uint64_t)(((unsigned __int128)r * into + 999999999u) / 1000000000u);
	return served < (owed ? owed : 1);
}

void hnvmf_qos_served(struct hnvmf_tenant *t, uint64_t now)
{
	if (!atomic_load_explicit(&t->reserved_iops, memory_order_relaxed))
		return;
	resv_count(t, now);
	atomic_fetch_add_explicit(&t->resv_served, 1, memory_order_relaxed);
}

struct hnvmf_tenant *hnvmf_tenant_get(struct hnvmf_engine *e, const char *name)
{
	pthread_mutex_lock(&e->tenants_lock);
	struct hnvmf_tenant *t = e->tenants;
	while (t && strcmp(t->name, name) != 0)
		t = t->next;
	if (!t && e->ntenants < HNVMF_MAX_TENANTS && (t = calloc(1, sizeof(*t)))) {
		snprintf(t->name, sizeof(t->name), "%s", name);
		atomic_init(&t->weight, 1);
		t->next = e->tenants;
		e->tenants = t;
		e->ntenants++;
	}
	pthread_mutex_unlock(&e->tenants_lock);
	return t;
}

int hnvmf_engine_set_tenant_qos(struct hnvmf_engine *e, const char *tenant, const struct hnvmf_tenant_qos *q)
{
	struct hnvmf_tenant *t = hnvmf_tenant_get(e, tenant);
	if (!t)
		return -ENOMEM;
	hnvmf_qos_set(t, q);
	return 0;
}

uint64_t hnvmf_tenants_reserved(struct hnvmf_engine *e)
{
	uint64_t sum = 0;
	pthread_mutex_lock(&e->tenants_lock);
	for (struct hnvmf_tenant *t = e->tenants; t; t = t->next)
		sum += atomic_load(&t->reserved_iops);
	pthread_mutex_unlock(&e->tenants_lock);
	return sum;
}

void hnvmf_engine_each_tenant(struct hnvmf_engine *e,
			      void (*fn)(void *arg, const char *tenant, uint64_t throttled), void *arg)
{
	pthread_mutex_lock(&e->tenants_lock);
	for (struct hnvmf_tenant *t = e->tenants; t; t = t->next)
		fn(arg, t->name, atomic_load_explicit(&t->throttled, memory_order_relaxed));
	pthread_mutex_unlock(&e->tenants_lock);
}

void hnvmf_tenants_free(struct hnvmf_engine *e)
{
	while (e->tenants) {
		struct hnvmf_tenant *t = e->tenants;
		e->tenants = t->next;
		for (unsigned i = 0; i < HNVMF_PQM_CMAX_LIMIT; i++)
			hnvmf_tq_destroy(atomic_load(&t->tq[i]));
		free(t);
	}
	e->ntenants = 0;
}
