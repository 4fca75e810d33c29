/* I/O statistics of the target (target/stats.c): per subsystem, namespace, host (tenant) and
 * controller, read/write/other commands, bytes, errors by status and a latency histogram (capsule
 * received -> response queued), plus the control-path counters (authentication outcomes, DAM
 * grants) the metrics endpoint exports.
 *
 * Hot path: a queue keeps one record per namespace it used (sq->stats[nsid], opened on first use)
 * and only the queue's reactor writes it, with relaxed loads and stores (no locked instruction,
 * no shared cache line between reactors). Readers (SLA epochs, the metrics endpoint, the SMART
 * log) take the registry lock and sum. A queue's records are folded into per (subsystem,
 * namespace, host, mode) totals when it goes, so the sums never step back. */
#ifndef HNVMF_TARGET_STATS_H
#define HNVMF_TARGET_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/nvmf.h"

/* Latency buckets, upper bounds in µs: 1, 2, 3, 4, 6, 8, 12, 16, ... (two per octave) up to
 * 2^23 µs (8.4 s), then +Inf. Fine enough for a p99 against a goal, few enough to export. */
#define HNVMF_LAT_BUCKETS 46 /* finite bounds; index HNVMF_LAT_BUCKETS is +Inf */
#define HNVMF_STATS_ERR_SLOTS 8 /* distinct error statuses kept apart; the rest share the last */
#define HNVMF_STATS_ERR_OTHER 0xffffu

enum hnvmf_stats_op { HNVMF_STATS_READ, HNVMF_STATS_WRITE, HNVMF_STATS_OTHER, HNVMF_STATS_NOPS };

/* Counter indexes of a record: one flat array, so a snapshot and a fold are one loop. */
enum {
	HNVMF_ST_CMDS,                                   /* + op: completed commands */
	HNVMF_ST_BYTES = HNVMF_ST_CMDS + HNVMF_STATS_NOPS, /* + op (read, write): data moved */
	HNVMF_ST_ARRIVALS = HNVMF_ST_BYTES + 2,          /* commands received */
	HNVMF_ST_LAT_SUM_NS,
	HNVMF_ST_HIST,                                   /* + bucket, HNVMF_LAT_BUCKETS + 1 of them */
	HNVMF_ST_ERRS = HNVMF_ST_HIST + HNVMF_LAT_BUCKETS + 1, /* + slot */
	HNVMF_ST_N = HNVMF_ST_ERRS + HNVMF_STATS_ERR_SLOTS,
};

struct hnvmf_stats_key {
	char subnqn[HNVMF_NQN_MAX];
	char hostnqn[HNVMF_NQN_MAX];
	uint32_t nsid;   /* 0: commands naming no namespace of the subsystem */
	uint16_t cntlid; /* 0: controllers that are gone */
	uint8_t mode;    /* enum hnvmf_path_mode of the queue */
	char transport[8];
};

struct hnvmf_stats_snap {
	struct hnvmf_stats_key key;
	uint64_t v[HNVMF_ST_N];
	uint16_t err_status[HNVMF_STATS_ERR_SLOTS]; /* 0: slot unused; HNVMF_STATS_ERR_OTHER */
};

/* Control-path outcomes, counted with atomics (rare). Authentication failures by the Failure1
 * explanation (1..7) and the ways an exchange ends without one. */
enum hnvmf_auth_outcome {
	HNVMF_AUTH_OK,
	HNVMF_AUTH_FAILED = 1, /* 1..7: HNVMF_AUTH_FAIL_* (proto/auth-msg.h) */
	HNVMF_AUTH_BACKOFF = 8, /* refused at once: the host or address is backing off */
	HNVMF_AUTH_TIMEOUT,     /* not authenticated within auth_timeout_ms */
	HNVMF_AUTH_ABANDONED,   /* a Challenge computed and never answered, or the host's Failure2 */
	HNVMF_AUTH_NOUTCOMES,
};
const char *hnvmf_auth_outcome_name(unsigned o);

struct hnvmf_stats_rec;
struct hnvmf_stats;

int hnvmf_stats_create(struct hnvmf_stats **out);
void hnvmf_stats_destroy(struct hnvmf_stats *s);

/* The two hooks of a request (target/req.c): when hnvmf_req_init starts, and when the response
 * is queued (complete_here). Only I/O queues are counted. */
void hnvmf_stats_start(struct hnvmf_req *req);
void hnvmf_stats_complete(struct hnvmf_req *req);
/* The queue goes (hnvmf_sq_destroy): its records are folded into the totals. */
void hnvmf_stats_sq_release(struct hnvmf_sq *sq);

/* Every record summed by key (a controller's queues are one), the gone controllers' totals
 * with cntlid 0. *out is malloc'ed (free()); returns the count, or -ENOMEM. */
int hnvmf_stats_collect(struct hnvmf_stats *s, struct hnvmf_stats_snap **out);
/* Adds b into a (same key or not): counters, and the error slots by status. */
void hnvmf_stats_snap_add(struct hnvmf_stats_snap *a, const struct hnvmf_stats_snap *b);

void hnvmf_stats_count_auth(struct hnvmf_stats *s, unsigned outcome);
uint64_t hnvmf_stats_auth(struct hnvmf_stats *s, unsigned outcome);
void hnvmf_stats_count_dam(struct hnvmf_stats *s, bool grant);
uint64_t hnvmf_stats_dam(struct hnvmf_stats *s, bool grant);

/* Histogram arithmetic, exposed for tests: the bucket of a latency, a bucket's upper bound in µs
 * (+Inf for the last), and the q-quantile (0 < q < 1) in µs of the counts hist[0..HNVMF_LAT_BUCKETS],
 * interpolated linearly inside its bucket as Prometheus' histogram_quantile does; 0 when empty. */
unsigned hnvmf_lat_bucket(uint64_t ns);
double hnvmf_lat_bound_us(unsigned bucket);
double hnvmf_lat_quantile_us(const uint64_t *hist, double q);

#endif
