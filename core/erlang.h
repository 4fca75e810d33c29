/* Erlang-C and the M/M/c mean response time: the queueing model PQM sizes its I/O server pool
 * with (docs/pqm.md). Rates are in any one unit of 1/time (the caller's: PQM uses 1/s); times
 * come back in the reciprocal unit.
 *
 * An M/M/c queue with arrival rate λ, c servers of service rate μ each and offered load
 * a = λ/μ is stable only when a < c (utilisation ρ = a/c < 1). */
#ifndef HNVMF_ERLANG_H
#define HNVMF_ERLANG_H

#include <stdbool.h>

/* Erlang-B blocking probability B(c, a) of an M/M/c/c loss system. a >= 0. */
double hnvmf_erlang_b(unsigned c, double a);

/* Erlang-C probability that an arrival has to wait, C(c, a), in [0, 1]. Returns 1.0 when the
 * queue is unstable (a >= c, which includes c = 0): every arrival waits, for ever. */
double hnvmf_erlang_c(unsigned c, double a);

/* True when c servers of rate mu keep up with arrivals at rate lambda: c*mu > lambda. */
bool hnvmf_mmc_stable(unsigned c, double lambda, double mu);

/* Mean response time (waiting + service) of M/M/c:
 *     W(c) = C(c, λ/μ) / (c·μ − λ) + 1/μ.
 * Returns 0 and sets *w, or -ERANGE when the queue is unstable (c·μ <= λ) or mu <= 0, or
 * -EINVAL for lambda < 0 or a non-finite argument. */
int hnvmf_mmc_response_time(unsigned c, double lambda, double mu, double *w);

#endif
