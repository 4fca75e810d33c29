/* SLA monitoring per tenant (target/sla.c): every epoch ([metrics] sla_epoch_ms, 1 s by default)
 * a thread sums the statistics (target/stats.h) by host NQN and measures, over the epoch: IOPS,
 * bytes, arrivals, target-side latency p50 and p99 (capsule received -> response queued); then
 * judges the tenant file's reserved_iops and latency_target_us. A violation's start and end are
 * logged at notice level, rate-limited per tenant. */
#ifndef HNVMF_TARGET_SLA_H
#define HNVMF_TARGET_SLA_H

#include <stddef.h>
#include <stdint.h>

#include "target/nvmf.h"

enum hnvmf_sla_verdict {
	HNVMF_SLA_NONE,   /* no goal, or nothing to judge (no I/O completed for a latency goal) */
	HNVMF_SLA_MET,
	HNVMF_SLA_MISSED,
};
const char *hnvmf_sla_verdict_name(enum hnvmf_sla_verdict v);

enum { HNVMF_SLA_RESERVATION, HNVMF_SLA_LATENCY, HNVMF_SLA_NKINDS };

/* One tenant's last epoch. */
struct hnvmf_sla_result {
	char hostnqn[HNVMF_NQN_MAX];
	uint64_t epoch;            /* epochs measured so far */
	double seconds;            /* the epoch's length */
	double iops, arrivals_per_s, read_bytes_per_s, write_bytes_per_s;
	double p50_us, p99_us;     /* 0 without completions */
	uint64_t completions;
	uint64_t reserved_iops, latency_target_us; /* the goals in force (0: none) */
	enum hnvmf_sla_verdict verdict[HNVMF_SLA_NKINDS];
	uint64_t missed_epochs[HNVMF_SLA_NKINDS];  /* since start */
};

/* The judgement, pure: a reservation is missed only when the tenant asked for at least that much
 * (arrivals_per_s >= reserved) and got less (iops < reserved); the latency goal is missed when
 * the p99 is above it. */
void hnvmf_sla_judge(struct hnvmf_sla_result *r);

struct hnvmf_sla;
/* Starts the epoch thread for tgt (its stats and tenants). 0 or -errno. */
int hnvmf_sla_start(struct hnvmf_tgt *tgt, unsigned epoch_ms, struct hnvmf_sla **out);
void hnvmf_sla_stop(struct hnvmf_sla *s); /* NULL is allowed */
/* The last epoch of every tenant seen so far (malloc'ed, free()); the count or -ENOMEM. */
int hnvmf_sla_results(struct hnvmf_sla *s, struct hnvmf_sla_result **out);

#endif
