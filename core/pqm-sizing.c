/* PQM epoch sizing: service-rate bookkeeping per c, the μ(c) regression, the W(c) optimiser,
 * hysteresis and exploration. See pqm-sizing.h for the contract and docs/pqm.md for the why. */
#include "core/pqm-sizing.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/erlang.h"

/* A c's service rate is the plain mean of its first EWMA_DEPTH epochs, then an exponentially
 * weighted average with weight 1/EWMA_DEPTH: steady data converges like a mean, and a drifting
 * workload is followed within a few dozen epochs. */
#define EWMA_DEPTH 8
/* The regression line may cross zero past the measured c's; a non-positive rate has no meaning,
 * so μ(c) is floored at this fraction of the smallest measured rate (such a c then looks
 * hopelessly slow, which is the line's message). */
#define MU_FLOOR_FRACTION 1e-3

struct rate_bin {
	double mu;           /* per-server service rate, 1/s */
	unsigned samples;    /* epochs averaged in (capped at EWMA_DEPTH) */
	uint64_t last_epoch; /* epoch of the latest sample */
};

struct hnvmf_pqm_sizing {
	struct hnvmf_pqm_sizing_opts o;
	unsigned c;
	uint64_t epoch;        /* epochs filed so far */
	unsigned since_change; /* epochs completed since c last changed */
	unsigned home;         /* while probing a neighbour: the c we came from; else 0 */
	unsigned idle;         /* epochs in a row with no arrivals and no completions */
	struct rate_bin bins[HNVMF_PQM_CMAX_LIMIT + 1]; /* indexed by c; [0] unused */
};

struct rate_model {
	unsigned points; /* distinct c's behind the model; 0: none */
	double alpha, beta, floor;
};

void hnvmf_pqm_sizing_opts_default(struct hnvmf_pqm_sizing_opts *o, unsigned cmax)
{
	*o = (struct hnvmf_pqm_sizing_opts){
		.cmax = cmax,
		.c_initial = 1,
		.hold_epochs = 4,
		.explore_epochs = 16,
		.stale_epochs = 1024,
		.min_completions = 8,
		.margin = 0.05,
		.explore_down_rho = 0.8,
		.idle_epochs = 3,
	};
}

const char *hnvmf_pqm_reason_name(enum hnvmf_pqm_reason r)
{
	switch (r) {
	case HNVMF_PQM_NO_ARRIVALS: return "no-arrivals";
	case HNVMF_PQM_NO_MODEL: return "no-model";
	case HNVMF_PQM_OPTIMAL: return "optimal";
	case HNVMF_PQM_MARGIN: return "margin";
	case HNVMF_PQM_HOLD: return "hold";
	case HNVMF_PQM_ALL_UNSTABLE: return "all-unstable";
	case HNVMF_PQM_EXPLORE: return "explore";
	case HNVMF_PQM_FORCED: return "forced";
	}
	return "?";
}

int hnvmf_pqm_sizing_create(const struct hnvmf_pqm_sizing_opts *o, struct hnvmf_pqm_sizing **out)
{
	struct hnvmf_pqm_sizing *s;

	if (o->cmax < 1 || o->cmax > HNVMF_PQM_CMAX_LIMIT || o->c_initial < 1 ||
	    o->c_initial > o->cmax || o->hold_epochs < 1 || o->explore_epochs < 1 ||
	    o->stale_epochs < 1 || !(o->margin >= 0.0 && o->margin < 1.0) ||
	    !(o->explore_down_rho > 0.0 && o->explore_down_rho < 1.0) || o->idle_epochs < 1)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	s->c = o->c_initial;
	/* The start is not a change: the first epoch may already move c. */
	s->since_change = o->hold_epochs;
	*out = s;
	return 0;
}

void hnvmf_pqm_sizing_destroy(struct hnvmf_pqm_sizing *s)
{
	free(s);
}

unsigned hnvmf_pqm_sizing_current(const struct hnvmf_pqm_sizing *s)
{
	return s->c;
}

int hnvmf_pqm_linear_fit(const double *x, const double *y, size_t n, double *alpha, double *beta)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0;

	if (n < 2)
		return -EINVAL;
	/* Centred sums: no cancellation between large Σx² and (Σx)²/n. */
	for (size_t i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	if (!(sxx > 0.0))
		return -EINVAL; /* all x equal: no slope to speak of */
	*beta = sxy / sxx;
	*alpha = my - *beta * mx;
	return 0;
}

unsigned hnvmf_pqm_argmax_capacity(const double *mu, unsigned cmax)
{
	unsigned best = 1;
	for (unsigned c = 2; c <= cmax; c++)
		if (c * mu[c - 1] > best * mu[best - 1])
			best = c;
	return best;
}

unsigned hnvmf_pqm_argmin_w(double lambda, const double *mu, unsigned cmax, double *w_best)
{
	unsigned best = 0;
	double wb = INFINITY, w;

	for (unsigned c = 1; c <= cmax; c++) {
		if (hnvmf_mmc_response_time(c, lambda, mu[c - 1], &w) == 0 && w < wb) {
			wb = w;
			best = c;
		}
	}
	*w_best = wb;
	return best;
}

static bool bin_fresh(const struct hnvmf_pqm_sizing *s, unsigned c)
{
	const struct rate_bin *b = &s->bins[c];

	return b->samples > 0 && s->epoch - b->last_epoch <= s->o.stale_epochs;
}

static void file_service_rate(struct hnvmf_pqm_sizing *s, const struct hnvmf_pqm_epoch *e)
{
	struct rate_bin *b = &s->bins[e->servers];

	/* Too few completions (or an idle pool) measure noise, not the service rate. */
	if (e->completions < s->o.min_completions || e->completions == 0 || e->busy_ns == 0)
		return;
	double mu = (double)e->completions / ((double)e->busy_ns * 1e-9);

	if (!bin_fresh(s, e->servers))
		b->samples = 0; /* old data describes another workload: start over */
	if (b->samples < EWMA_DEPTH)
		b->samples++;
	b->mu += (mu - b->mu) / (double)b->samples;
	b->last_epoch = s->epoch;
}

static struct rate_model build_model(const struct hnvmf_pqm_sizing *s)
{
	struct rate_model m = { 0 };
	double x[HNVMF_PQM_CMAX_LIMIT], y[HNVMF_PQM_CMAX_LIMIT], lowest = INFINITY;

	for (unsigned c = 1; c <= s->o.cmax; c++) {
		if (!bin_fresh(s, c))
			continue;
		x[m.points] = c;
		y[m.points] = s->bins[c].mu;
		lowest = fmin(lowest, s->bins[c].mu);
		m.points++;
	}
	if (m.points == 0)
		return m;
	m.floor = lowest * MU_FLOOR_FRACTION;
	/* One measured c: the best guess for every other c is the same rate (no contention known). */
	if (m.points == 1 || hnvmf_pqm_linear_fit(x, y, m.points, &m.alpha, &m.beta) != 0) {
		m.alpha = y[0];
		m.beta = 0.0;
	}
	return m;
}

static double model_mu(const struct rate_model *m, unsigned c)
{
	if (m->points == 0)
		return 0.0;
	return fmax(m->alpha + m->beta * (double)c, m->floor);
}

unsigned hnvmf_pqm_sizing_model(const struct hnvmf_pqm_sizing *s, double *alpha, double *beta)
{
	struct rate_model m = build_model(s);

	*alpha = m.alpha;
	*beta = m.beta;
	return m.points;
}

double hnvmf_pqm_sizing_mu(const struct hnvmf_pqm_sizing *s, unsigned c)
{
	struct rate_model m = build_model(s);

	return model_mu(&m, c);
}

static double predicted_w(double lambda, double mu, unsigned c)
{
	double w;

	return hnvmf_mmc_response_time(c, lambda, mu, &w) == 0 ? w : INFINITY;
}

/* The exploration rule (docs/pqm.md): only when the optimiser is content to keep c, no probe
 * is under way and c has been steady for explore_epochs; c+1 first (more servers never hurts
 * stability), c-1 only when the model says c-1 servers would run at utilisation <=
 * explore_down_rho. Returns the c to probe, or 0. */
static unsigned explore_neighbour(const struct hnvmf_pqm_sizing *s, const struct rate_model *m,
				  double lambda)
{
	unsigned c = s->c;

	if (s->home || s->since_change < s->o.explore_epochs)
		return 0;
	if (c + 1 <= s->o.cmax && !bin_fresh(s, c + 1))
		return c + 1;
	if (c > 1 && !bin_fresh(s, c - 1)) {
		double capacity = (double)(c - 1) * model_mu(m, c - 1);

		if (capacity > 0.0 && lambda / capacity <= s->o.explore_down_rho)
			return c - 1;
	}
	return 0;
}

#define US(w) ((w) * 1e6)

/* Decides without hysteresis: the c wanted and why. */
static unsigned want_c(struct hnvmf_pqm_sizing *s, const struct hnvmf_pqm_epoch *e,
		       const struct rate_model *m, double lambda, struct hnvmf_pqm_decision *d)
{
	double mu[HNVMF_PQM_CMAX_LIMIT], w_best, w_anchor;
	unsigned cmax = s->o.cmax, c = s->c, best, probe, anchor;

	if (e->arrivals == 0) {
		/* Nothing arrived: the load went away, or the reactors that hand the jobs over did
		 * not get the CPU this epoch. Servers still completing a backlog say the latter;
		 * so does a quiet spell shorter than idle_epochs. Only a pool that stayed idle
		 * shrinks to one server. */
		d->reason = HNVMF_PQM_NO_ARRIVALS;
		if (e->completions > 0) {
			snprintf(d->why, sizeof(d->why),
				 "no arrivals, %llu completions (a backlog drains) -> keep %u",
				 (unsigned long long)e->completions, c);
			return c;
		}
		if (s->idle < s->o.idle_epochs) {
			snprintf(d->why, sizeof(d->why), "no arrivals for %u of %u epochs -> keep %u",
				 s->idle, s->o.idle_epochs, c);
			return c;
		}
		snprintf(d->why, sizeof(d->why), "no arrivals for %u epochs -> 1", s->idle);
		return 1;
	}
	if (m->points == 0) {
		d->reason = HNVMF_PQM_NO_MODEL;
		snprintf(d->why, sizeof(d->why), "no service data -> keep %u", c);
		return c;
	}
	for (unsigned k = 1; k <= cmax; k++)
		mu[k - 1] = model_mu(m, k);
	best = hnvmf_pqm_argmin_w(lambda, mu, cmax, &w_best);
	if (best == 0) {
		/* Overloaded at every size: the most servers are not the most throughput when μ falls
		 * with c (contention), so take the size that completes the most. */
		unsigned cap = hnvmf_pqm_argmax_capacity(mu, cmax);
		d->reason = HNVMF_PQM_ALL_UNSTABLE;
		snprintf(d->why, sizeof(d->why),
			 "all unstable (lambda=%.0f/s >= c*mu(c)) -> %u, the largest c*mu(c) (%.0f/s)", lambda,
			 cap, cap * mu[cap - 1]);
		return cap;
	}
	/* A probe is measured, not adopted: the margin is judged against the c it came from. */
	anchor = s->home ? s->home : c;
	w_anchor = predicted_w(lambda, mu[anchor - 1], anchor);
	if (best != anchor && isfinite(w_anchor) && !(w_best < (1.0 - s->o.margin) * w_anchor)) {
		d->reason = HNVMF_PQM_MARGIN;
		snprintf(d->why, sizeof(d->why), "W(%u)=%.1fus not %.0f%% below W(%u)=%.1fus -> %s %u",
			 best, US(w_best), s->o.margin * 100, anchor, US(w_anchor),
			 anchor == c ? "keep" : "back to", anchor);
	} else if (best != anchor) {
		d->reason = HNVMF_PQM_OPTIMAL;
		if (isfinite(w_anchor))
			snprintf(d->why, sizeof(d->why), "W(%u)=%.1fus < W(%u)=%.1fus", best,
				 US(w_best), anchor, US(w_anchor));
		else
			snprintf(d->why, sizeof(d->why), "W(%u)=%.1fus, %u unstable", best,
				 US(w_best), anchor);
		return best;
	} else {
		d->reason = HNVMF_PQM_OPTIMAL;
		snprintf(d->why, sizeof(d->why), "W(%u)=%.1fus is the minimum", anchor, US(w_anchor));
	}
	if (anchor != c)
		return anchor;
	/* Content with c: maybe measure a neighbour. */
	probe = explore_neighbour(s, m, lambda);
	if (probe) {
		d->reason = HNVMF_PQM_EXPLORE;
		snprintf(d->why, sizeof(d->why), "explore %u (no data; steady %u epochs at %u)", probe,
			 s->since_change, c);
		return probe;
	}
	return c;
}

int hnvmf_pqm_sizing_epoch(struct hnvmf_pqm_sizing *s, const struct hnvmf_pqm_epoch *e,
			   struct hnvmf_pqm_decision *d)
{
	struct rate_model m;
	double lambda;
	unsigned want;

	if (e->servers < 1 || e->servers > s->o.cmax || e->length_ns == 0)
		return -EINVAL;
	s->epoch++;
	if (s->since_change < UINT_MAX)
		s->since_change++;
	file_service_rate(s, e);
	s->idle = e->arrivals == 0 && e->completions == 0 ? s->idle + (s->idle < UINT_MAX) : 0;
	m = build_model(s);
	lambda = (double)e->arrivals / ((double)e->length_ns * 1e-9);

	*d = (struct hnvmf_pqm_decision){ .prev_c = s->c, .lambda = lambda };
	want = want_c(s, e, &m, lambda, d);
	if (want != s->c && s->since_change < s->o.hold_epochs) {
		char wanted[sizeof(d->why)];

		snprintf(wanted, sizeof(wanted), "%s", d->why);
		snprintf(d->why, sizeof(d->why), "hold %u (changed %u epochs ago; wanted %u: %.100s)",
			 s->c, s->since_change, want, wanted);
		d->reason = HNVMF_PQM_HOLD;
		want = s->c;
	}
	if (d->reason != HNVMF_PQM_HOLD) {
		/* A decision was taken: a probe either ends here (kept or left) or starts here. */
		s->home = d->reason == HNVMF_PQM_EXPLORE ? s->c : 0;
		if (want != s->c) {
			s->c = want;
			s->since_change = 0;
		}
	}
	d->c = s->c;
	d->mu = model_mu(&m, s->c);
	d->w = m.points ? predicted_w(lambda, d->mu, s->c) : INFINITY;
	return 0;
}
