/* Per-tenant QoS state shared by all of a tenant's channels, reactors and I/O servers: the
 * scheduling weight, token buckets for the limits (max_iops, bytes per second read / written /
 * both) and the reservation count. Everything here is lock-free (atomics); the time is passed in,
 * so the logic runs against a fake clock in tests (tests/unit/test_sched.c). docs/pqm.md has the
 * model and what it guarantees. */
#ifndef HNVMF_QOS_H
#define HNVMF_QOS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"
#include "core/pqm-sizing.h"

/* A bucket holds this much time's worth of its rate: the burst a limited tenant may take after a
 * quiet spell, and the "one bucket" a run may exceed its limit by. */
#define HNVMF_BUCKET_NS 10000000ull /* 10 ms */
/* Reservations are accounted over windows of this length (a tenant that fell behind in one
 * window is not owed the difference in the next). */
#define HNVMF_RESV_WINDOW_NS 100000000ull /* 100 ms */
/* Most tenant objects an engine holds: every I/O server's subqueue has room for one activation
 * notice per tenant (core/ioserver.c). */
#define HNVMF_MAX_TENANTS 4096

/* A token bucket as a virtual time (GCRA): empty_at is when the bucket was (or will be) empty;
 * at time now it holds min(now - empty_at, HNVMF_BUCKET_NS) worth of tokens. Taking cost tokens
 * moves empty_at forward by cost / rate. rate 0: no limit. */
struct hnvmf_bucket {
	_Atomic uint64_t empty_at_ns;
	_Atomic uint64_t rate; /* tokens per second */
};

/* Lets cost pass when the bucket holds min(cost, a full bucket) (so an io larger than the bucket
 * passes once the bucket is full, leaving it in debt); then takes cost. When it does not pass,
 * *wait_ns is how long until it would. */
bool hnvmf_bucket_take(struct hnvmf_bucket *b, uint64_t cost, uint64_t now, uint64_t *wait_ns);
/* Would take succeed now? (Nothing is taken.) */
bool hnvmf_bucket_ready(struct hnvmf_bucket *b, uint64_t cost, uint64_t now, uint64_t *wait_ns);

struct hnvmf_tq;

struct hnvmf_tenant {
	char name[224]; /* host NQN; "" for the hosts without a tenant file, which share one */
	struct hnvmf_tenant *next; /* the engine's list */
	_Atomic unsigned weight;
	_Atomic uint64_t reserved_iops;
	struct hnvmf_bucket iops, read_bytes, write_bytes, bytes;
	_Atomic uint64_t resv_window; /* index of the current reservation window */
	_Atomic uint64_t resv_served; /* ios served in it */
	_Atomic uint64_t throttled;   /* ios a limit held back at least once (for the metrics) */
	/* Its queue at each PQM server (by pool index), made on first use (core/sched.c). */
	_Atomic(struct hnvmf_tq *) tq[HNVMF_PQM_CMAX_LIMIT];
};

void hnvmf_qos_set(struct hnvmf_tenant *t, const struct hnvmf_tenant_qos *q);
/* The limits: true and the tokens taken when io may go now; else false and *wait_ns. */
bool hnvmf_qos_admit(struct hnvmf_tenant *t, const struct hnvmf_io *io, uint64_t now, uint64_t *wait_ns);
/* A reserved tenant has been served less than its reservation so far in this window. */
bool hnvmf_qos_behind(struct hnvmf_tenant *t, uint64_t now);
/* Counts one io served toward the reservation (only reserved tenants count). */
void hnvmf_qos_served(struct hnvmf_tenant *t, uint64_t now);

/* The engine's tenant objects, by name (core/path.h holds the list): made on first use, kept
 * until the engine is destroyed. NULL when out of memory or beyond HNVMF_MAX_TENANTS. */
struct hnvmf_tenant *hnvmf_tenant_get(struct hnvmf_engine *e, const char *name);
/* The sum of the reservations of the engine's tenants. */
uint64_t hnvmf_tenants_reserved(struct hnvmf_engine *e);
/* After the I/O servers stopped. */
void hnvmf_tenants_free(struct hnvmf_engine *e);

#endif
