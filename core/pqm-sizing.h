/* PQM epoch sizing: how many I/O servers the Parallel Queue Mode pool runs in the next epoch.
 * Pure decision logic (no threads, no clock): the engine measures an epoch, hands the counts to
 * hnvmf_pqm_sizing_epoch and applies the c it gets back. docs/pqm.md has the model.
 *
 * Each epoch: the measured per-server service rate μ is filed under the c the epoch ran with; a
 * least-squares line μ(c) = α + β·c through those per-c rates models contention (β < 0 when
 * servers slow each other down); c in [1, cmax] is chosen to minimise the M/M/c mean response
 * time W(c) at the measured arrival rate λ, never an unstable c (c·μ(c) <= λ). Hysteresis: a
 * relative margin a new c must beat, and a hold of some epochs after each change. Exploration:
 * after a steady spell, a neighbouring c that has no (fresh) data is tried once so the
 * regression gets points. */
#ifndef HNVMF_PQM_SIZING_H
#define HNVMF_PQM_SIZING_H

#include <stddef.h>
#include <stdint.h>

#define HNVMF_PQM_CMAX_LIMIT 64

/* What the pool measured over one epoch. */
struct hnvmf_pqm_epoch {
	unsigned servers;     /* I/O servers that ran this epoch: the c these counts belong to */
	uint64_t arrivals;    /* I/Os handed to the subqueues */
	uint64_t completions; /* I/Os the servers finished */
	uint64_t busy_ns;     /* sum over the servers of the time spent serving, not idle polling */
	uint64_t length_ns;   /* the epoch's wall-clock length */
};

struct hnvmf_pqm_sizing_opts {
	unsigned cmax;            /* most servers, in [1, HNVMF_PQM_CMAX_LIMIT] */
	unsigned c_initial;       /* in [1, cmax] */
	unsigned hold_epochs;     /* after a change, c stays for at least this many epochs (>= 1) */
	unsigned explore_epochs;  /* steady epochs before a neighbour without data is tried */
	unsigned stale_epochs;    /* service rates older than this many epochs are forgotten */
	uint64_t min_completions; /* an epoch with fewer completions says nothing about μ */
	double margin;            /* leave a stable c only for W(new) < (1 - margin)·W(c) */
	double explore_down_rho;  /* try c-1 only if the model predicts utilisation <= this */
	unsigned idle_epochs;     /* epochs in a row with neither arrivals nor completions before c
				   * drops to 1 (>= 1): one empty epoch is more often a starved
				   * reactor than a load that went away */
};

/* Fills o with the defaults for cmax servers (c_initial 1, hold 4, explore 16, stale 1024,
 * min_completions 8, margin 0.05, explore_down_rho 0.8, idle_epochs 3). */
void hnvmf_pqm_sizing_opts_default(struct hnvmf_pqm_sizing_opts *o, unsigned cmax);

enum hnvmf_pqm_reason {
	HNVMF_PQM_NO_ARRIVALS,  /* λ = 0: one server is enough once the pool stayed idle */
	HNVMF_PQM_NO_MODEL,     /* no service-rate data yet: keep c */
	HNVMF_PQM_OPTIMAL,      /* the argmin of W (changed to it, or already there) */
	HNVMF_PQM_MARGIN,       /* a better c exists, but by less than the margin: keep c */
	HNVMF_PQM_HOLD,         /* a change is wanted but the previous one is too recent */
	HNVMF_PQM_ALL_UNSTABLE, /* no c in [1, cmax] keeps up with λ: the largest c·μ(c) */
	HNVMF_PQM_EXPLORE,      /* trying a neighbouring c to measure it */
	HNVMF_PQM_FORCED,       /* set by the operator (hnvmfctl pqm-c N), not by the sizing */
};
const char *hnvmf_pqm_reason_name(enum hnvmf_pqm_reason r);

struct hnvmf_pqm_decision {
	unsigned c;      /* servers for the next epoch */
	unsigned prev_c; /* servers in the epoch just measured */
	enum hnvmf_pqm_reason reason;
	double lambda;   /* measured arrival rate, 1/s */
	double mu;       /* model μ(c) for the chosen c, 1/s; 0 without a model */
	double w;        /* predicted W(c) in seconds; INFINITY when unstable or unknown */
	char why[160];   /* e.g. "W(3)=12.1us < W(2)=15.0us" */
};

struct hnvmf_pqm_sizing;

/* Returns 0, -EINVAL for bad options, -ENOMEM. */
int hnvmf_pqm_sizing_create(const struct hnvmf_pqm_sizing_opts *o, struct hnvmf_pqm_sizing **out);
void hnvmf_pqm_sizing_destroy(struct hnvmf_pqm_sizing *s);
unsigned hnvmf_pqm_sizing_current(const struct hnvmf_pqm_sizing *s);

/* Files one epoch's measurements and decides the c of the next epoch (also returned in d->c
 * and by hnvmf_pqm_sizing_current). Returns 0, or -EINVAL (servers outside [1, cmax] or
 * length_ns == 0; nothing changes). */
int hnvmf_pqm_sizing_epoch(struct hnvmf_pqm_sizing *s, const struct hnvmf_pqm_epoch *e,
			   struct hnvmf_pqm_decision *d);

/* The current service-rate model μ(c) = α + β·c (β = 0 with data at one c only). Returns the
 * number of distinct c's with fresh data behind it; 0 means no model (α = β = 0). */
unsigned hnvmf_pqm_sizing_model(const struct hnvmf_pqm_sizing *s, double *alpha, double *beta);
/* The model's μ(c), clamped to a small positive floor; 0 without a model. */
double hnvmf_pqm_sizing_mu(const struct hnvmf_pqm_sizing *s, unsigned c);

/* Building blocks, exposed for tests. */

/* Least-squares line y = α + β·x through n points. Returns 0, or -EINVAL with fewer than two
 * distinct x. */
int hnvmf_pqm_linear_fit(const double *x, const double *y, size_t n, double *alpha, double *beta);

/* The c in [1, cmax] minimising W(c) for arrival rate lambda with per-server rates mu[c - 1];
 * ties go to the smaller c. Returns 0 when every c is unstable. *w_best gets W of the answer. */
unsigned hnvmf_pqm_argmin_w(double lambda, const double *mu, unsigned cmax, double *w_best);
/* The c in [1, cmax] with the largest predicted capacity c·μ(c) (mu[c-1] = μ(c)), the smallest
 * such c on a tie: the pool size when no c keeps up with λ. */
unsigned hnvmf_pqm_argmax_capacity(const double *mu, unsigned cmax);

#endif
