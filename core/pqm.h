/* PQM control and statistics, for the daemon's control socket, tests and benchmarks. */
#ifndef HNVMF_PQM_H
#define HNVMF_PQM_H

#include <stddef.h>
#include <stdint.h>

#include "core/io.h"
#include "core/pqm-sizing.h"

struct hnvmf_pqm_trace_point {
	uint64_t epoch;
	uint64_t t_ns; /* hnvmf_now_ns() when the epoch ended: epochs run late on a starved CPU */
	unsigned c;
	double lambda;
	double mu; /* the model's μ(c) for this c, 1/s (0: no model yet) */
	double w;  /* predicted M/M/c response time W(c), seconds (INFINITY: unstable or unknown) */
	double w_measured; /* the epoch's mean response time, arrival to backend completion, seconds
			    * (NAN: nothing completed) */
	enum hnvmf_pqm_reason reason;
};

/* Pins the pool size to c (1..cmax) regardless of the sizing; 0 hands control back to it.
 * Starts the pool if needed. Returns 0 or -errno. */
int hnvmf_pqm_force_c(struct hnvmf_engine *e, unsigned c);
/* After the tenants' shares changed (a reload): logs, at notice level, when the sum of the
 * reservations exceeds the capacity the pool measured so far (c·μ(c) at its best c). */
void hnvmf_pqm_check_reservations(struct hnvmf_engine *e);
/* Servers currently receiving work; 0 when the pool has not started. */
unsigned hnvmf_pqm_current_c(struct hnvmf_engine *e);
/* The last decisions, oldest first; returns how many were copied. */
size_t hnvmf_pqm_trace(struct hnvmf_engine *e, struct hnvmf_pqm_trace_point *out, size_t max);
/* Text: c, the last decision and its reason, per-server and per-tenant counters. */
size_t hnvmf_pqm_describe(struct hnvmf_engine *e, char *buf, size_t len);

#endif
