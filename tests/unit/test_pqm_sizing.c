/* PQM epoch sizing: the μ(c) regression, the W(c) optimiser on synthetic tables (with and
 * without contention), and the decision loop driven by a simulated pool: convergence, hold,
 * margin, "no arrivals", "all unstable" and exploration. Expected optima were worked out
 * independently from the factorial form of Erlang-C (see the table in each test). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/erlang.h"
#include "core/pqm-sizing.h"

#define EPOCH_NS 10000000ull /* 10 ms */

static void assert_close(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.10g, want %.10g (tolerance %.3g)", got, want, tol);
}

/* Deterministic noise: xorshift64*, uniform in [-1, 1). */
static double noise(uint64_t *st)
{
	*st ^= *st >> 12;
	*st ^= *st << 25;
	*st ^= *st >> 27;
	return (double)((*st * 0x2545F4914F6CDD1Dull) >> 11) / (double)(1ull << 52) - 1.0;
}

/* One epoch of a simulated pool of c servers whose true per-server rate is mu, fed at lambda:
 * in a stable epoch everything that arrived completes; an overloaded pool completes at its
 * capacity with every server busy all the time. */
static struct hnvmf_pqm_epoch sim_epoch(unsigned c, double lambda, double mu)
{
	double t = (double)EPOCH_NS * 1e-9;
	double done = c * mu > lambda ? lambda * t : c * mu * t;

	return (struct hnvmf_pqm_epoch){
		.servers = c,
		.arrivals = (uint64_t)llround(lambda * t),
		.completions = (uint64_t)llround(done),
		.busy_ns = (uint64_t)llround(done / mu * 1e9),
		.length_ns = EPOCH_NS,
	};
}

/* The contention system: μ(c) = 100k − 10k·c per second. */
static double mu_contended(unsigned c)
{
	return 100000.0 - 10000.0 * c;
}

static struct hnvmf_pqm_sizing *make(unsigned cmax, unsigned c0, unsigned hold, unsigned explore)
{
	struct hnvmf_pqm_sizing_opts o;
	struct hnvmf_pqm_sizing *s = NULL;

	hnvmf_pqm_sizing_opts_default(&o, cmax);
	o.c_initial = c0;
	o.hold_epochs = hold;
	o.explore_epochs = explore;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), 0);
	return s;
}

static struct hnvmf_pqm_decision step(struct hnvmf_pqm_sizing *s, double lambda,
				      double (*mu)(unsigned c))
{
	struct hnvmf_pqm_decision d;
	unsigned c = hnvmf_pqm_sizing_current(s);
	struct hnvmf_pqm_epoch e = sim_epoch(c, lambda, mu(c));

	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
	assert_int_equal(d.prev_c, c);
	assert_int_equal(d.c, hnvmf_pqm_sizing_current(s));
	assert_true(d.why[0] != '\0');
	return d;
}

static void test_linear_fit(void **state)
{
	(void)state;
	double x[] = { 1, 2, 3, 4, 5 }, y[5], a, b;

	for (int i = 0; i < 5; i++)
		y[i] = 3.0 + 2.0 * x[i];
	assert_int_equal(hnvmf_pqm_linear_fit(x, y, 5, &a, &b), 0);
	assert_close(a, 3.0, 1e-12);
	assert_close(b, 2.0, 1e-12);
	/* Symmetric scatter around a line keeps the line. */
	double x2[] = { 1, 1, 4, 4 }, y2[] = { 9, 11, 3, 5 };
	assert_int_equal(hnvmf_pqm_linear_fit(x2, y2, 4, &a, &b), 0);
	assert_close(b, -2.0, 1e-12);
	assert_close(a, 12.0, 1e-12);
	/* No slope without two distinct x. */
	double x3[] = { 2, 2, 2 };
	assert_int_equal(hnvmf_pqm_linear_fit(x3, y, 3, &a, &b), -EINVAL);
	assert_int_equal(hnvmf_pqm_linear_fit(x, y, 1, &a, &b), -EINVAL);
}

/* Optimum for μ(c) = 100k − 10k·c, W in µs (∞: unstable), computed independently:
 *   λ=50k : 25.0  13.85 14.53 16.72 20.02 ...        -> 2
 *   λ=100k: ∞     20.51 16.21 17.40 20.40 ...        -> 3
 *   λ=150k: ∞     103.2 22.84 20.22 22.36 27.53 ...  -> 4
 *   λ=220k: ∞ ∞ ∞ 57.75 43.95 64.05 ∞ ∞              -> 5  (contention makes 7 and 8 unstable) */
static void test_argmin_with_contention(void **state)
{
	(void)state;
	double mu[8], w, wc;
	const struct { double lambda; unsigned best; } cases[] = {
		{ 50000, 2 }, { 100000, 3 }, { 150000, 4 }, { 220000, 5 },
	};

	for (unsigned c = 1; c <= 8; c++)
		mu[c - 1] = mu_contended(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned best = hnvmf_pqm_argmin_w(cases[i].lambda, mu, 8, &w);

		assert_int_equal(best, cases[i].best);
		assert_int_equal(hnvmf_mmc_response_time(best, cases[i].lambda, mu[best - 1], &wc), 0);
		assert_close(w, wc, 0);
		for (unsigned c = 1; c <= 8; c++)
			if (hnvmf_mmc_response_time(c, cases[i].lambda, mu[c - 1], &wc) == 0)
				assert_true(w <= wc);
	}
	assert_close(hnvmf_pqm_argmin_w(150000, mu, 8, &w) ? w * 1e6 : 0, 20.22, 0.01);
}

static void test_argmin_flat_and_unstable(void **state)
{
	(void)state;
	double mu[6] = { 1000, 1000, 1000, 1000, 1000, 1000 }, w;

	/* No contention: more servers only ever help, so cmax. */
	assert_int_equal(hnvmf_pqm_argmin_w(2500, mu, 6, &w), 6);
	assert_int_equal(hnvmf_pqm_argmin_w(2500, mu, 4, &w), 4);
	/* Nobody keeps up. */
	assert_int_equal(hnvmf_pqm_argmin_w(6000, mu, 6, &w), 0);
	assert_true(isinf(w));
	/* c·μ == λ exactly is unstable too. */
	assert_int_equal(hnvmf_pqm_argmin_w(4000, mu, 4, &w), 0);
}

/* Noisy epochs at c = 1..8 around μ(c) = 90000 − 7500·c: the model recovers α and β. */
static void test_regression_recovers_noisy_line(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 1, 4, 1000);
	struct hnvmf_pqm_decision d;
	uint64_t rng = 0x9E3779B97F4A7C15ull;
	double alpha, beta;

	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 0);
	assert_close(hnvmf_pqm_sizing_mu(s, 3), 0.0, 0);
	for (int round = 0; round < 8; round++) {
		for (unsigned c = 1; c <= 8; c++) {
			double mu = (90000.0 - 7500.0 * c) * (1.0 + 0.05 * noise(&rng));
			struct hnvmf_pqm_epoch e = sim_epoch(c, 0.5 * c * mu, mu);

			assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
		}
	}
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 8);
	assert_close(alpha, 90000.0, 0.02 * 90000.0);
	assert_close(beta, -7500.0, 0.05 * 7500.0);
	assert_close(hnvmf_pqm_sizing_mu(s, 4), 60000.0, 0.02 * 60000.0);
	/* Far past the measured c's the line goes negative; the model clamps to a positive floor. */
	hnvmf_pqm_sizing_destroy(s);

	struct hnvmf_pqm_sizing_opts o;
	hnvmf_pqm_sizing_opts_default(&o, 64);
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), 0);
	for (unsigned c = 1; c <= 2; c++) {
		struct hnvmf_pqm_epoch e = sim_epoch(c, 1000.0, 10000.0 - 2000.0 * c);
		assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
	}
	assert_close(hnvmf_pqm_sizing_mu(s, 2), 6000.0, 1.0);
	assert_true(hnvmf_pqm_sizing_mu(s, 40) > 0.0);
	assert_true(hnvmf_pqm_sizing_mu(s, 40) < 10.0);
	hnvmf_pqm_sizing_destroy(s);
}

/* One measured c: every c is assumed to run at that rate. */
static void test_single_point_model(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 3, 4, 1000);
	struct hnvmf_pqm_epoch e = sim_epoch(3, 1000.0, 5000.0);
	struct hnvmf_pqm_decision d;
	double alpha, beta;

	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 1);
	assert_close(alpha, 5000.0, 1.0);
	assert_close(beta, 0.0, 0);
	assert_close(hnvmf_pqm_sizing_mu(s, 7), 5000.0, 1.0);
	hnvmf_pqm_sizing_destroy(s);
}

/* From c = 1 at λ = 150k on the contended system: c = 1 is overloaded, the one-point model
 * (flat μ) points at cmax, cmax's measurement gives the line, which points at 4. Afterwards
 * the pool stays at 4 except for exploration probes, each of which returns to 4. */
static void test_converges_under_contention(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 1, 4, 16);
	struct hnvmf_pqm_decision d;
	unsigned at4 = 0, probes = 0;
	double alpha, beta;

	d = step(s, 150000, mu_contended);
	assert_int_equal(d.c, 8);
	assert_int_equal(d.reason, HNVMF_PQM_OPTIMAL);
	assert_non_null(strstr(d.why, "1 unstable"));
	for (int i = 0; i < 3; i++)
		assert_int_equal(step(s, 150000, mu_contended).reason, HNVMF_PQM_HOLD);
	d = step(s, 150000, mu_contended);
	assert_int_equal(d.c, 4);
	assert_int_equal(d.reason, HNVMF_PQM_OPTIMAL);
	assert_string_equal(d.why, "W(4)=20.2us < W(8)=130.7us");
	assert_close(d.w * 1e6, 20.22, 0.01);
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 2);
	assert_close(alpha, 100000.0, 1.0);
	assert_close(beta, -10000.0, 1.0);

	for (int i = 0; i < 200; i++) {
		d = step(s, 150000, mu_contended);
		if (d.c == 4)
			at4++;
		else if (d.reason == HNVMF_PQM_EXPLORE)
			probes++;
		else
			assert_int_equal(d.reason, HNVMF_PQM_HOLD); /* waiting to return from a probe */
	}
	/* Probes of 5 and then 3 (ρ(3) = 150k / 210k ≤ 0.8), then none: both neighbours fresh. */
	assert_int_equal(probes, 2);
	assert_true(at4 >= 200 - 2 * 4);
	assert_int_equal(d.c, 4);
	hnvmf_pqm_sizing_destroy(s);
}

/* No contention: 100k/s per server at any c (10 µs service time). */
static double mu_flat(unsigned c)
{
	(void)c;
	return 100000.0;
}

static void test_no_arrivals_goes_to_one(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(5, 5, 1, 1000);
	struct hnvmf_pqm_decision d = step(s, 300000, mu_flat);

	assert_int_equal(d.c, 5);
	assert_int_equal(d.reason, HNVMF_PQM_OPTIMAL);
	/* one or two empty epochs may be starved reactors: c stays */
	d = step(s, 0, mu_flat);
	assert_int_equal(d.c, 5);
	assert_int_equal(d.reason, HNVMF_PQM_NO_ARRIVALS);
	assert_string_equal(d.why, "no arrivals for 1 of 3 epochs -> keep 5");
	d = step(s, 0, mu_flat);
	assert_int_equal(d.c, 5);
	assert_string_equal(d.why, "no arrivals for 2 of 3 epochs -> keep 5");
	d = step(s, 0, mu_flat);
	assert_int_equal(d.c, 1);
	assert_int_equal(d.reason, HNVMF_PQM_NO_ARRIVALS);
	assert_string_equal(d.why, "no arrivals for 3 epochs -> 1");
	hnvmf_pqm_sizing_destroy(s);
}

/* No arrivals while the servers still complete work: the intake was starved (or a backlog
 * drains), the load did not go away. c stays, and the idle count starts over. */
static void test_no_arrivals_with_backlog_keeps_c(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(5, 5, 1, 1000);
	struct hnvmf_pqm_decision d = step(s, 300000, mu_flat);
	struct hnvmf_pqm_epoch e = sim_epoch(5, 300000, mu_flat(5));

	assert_int_equal(d.c, 5);
	d = step(s, 0, mu_flat);
	d = step(s, 0, mu_flat); /* two idle epochs */
	assert_int_equal(d.c, 5);
	e.arrivals = 0; /* a third epoch without arrivals, but with completions */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
		assert_int_equal(d.reason, HNVMF_PQM_NO_ARRIVALS);
		assert_int_equal(d.c, 5);
		assert_non_null(strstr(d.why, "a backlog drains) -> keep 5"));
	}
	d = step(s, 0, mu_flat); /* idle again: counted from 1 */
	assert_int_equal(d.c, 5);
	assert_string_equal(d.why, "no arrivals for 1 of 3 epochs -> keep 5");
	hnvmf_pqm_sizing_destroy(s);
}

static void test_all_unstable_flat_mu_goes_to_cmax(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(6, 2, 1, 1000);
	struct hnvmf_pqm_decision d = step(s, 1000000, mu_flat);

	/* μ does not fall with c: cmax has the largest capacity. */
	assert_int_equal(d.c, 6);
	assert_int_equal(d.reason, HNVMF_PQM_ALL_UNSTABLE);
	assert_non_null(strstr(d.why, "-> 6, the largest c*mu(c)"));
	assert_true(isinf(d.w));
	hnvmf_pqm_sizing_destroy(s);
}

/* The synthetic contention: μ(c) = 100k − 10k·c per server, so capacity c·μ(c) peaks at
 * c = 5 (250k/s). Below it the M/M/c optimum is taken; at and above it nothing is stable and the
 * pool takes the largest capacity, not cmax. */
static double mu_falling(unsigned c) { return 100000.0 - 10000.0 * c; }

static void test_sizing_with_falling_mu(void **state)
{
	(void)state;
	double mu[8], w;
	for (unsigned c = 1; c <= 8; c++)
		mu[c - 1] = mu_falling(c);
	assert_int_equal(hnvmf_pqm_argmax_capacity(mu, 8), 5);
	assert_int_equal(hnvmf_pqm_argmax_capacity(mu, 3), 3);
	static const struct { double lambda; unsigned c; } cases[] = {
		{ 50000, 2 }, { 150000, 4 }, { 250000, 5 }, { 400000, 5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned best = hnvmf_pqm_argmin_w(cases[i].lambda, mu, 8, &w);
		unsigned c = best ? best : hnvmf_pqm_argmax_capacity(mu, 8);
		if (c != cases[i].c)
			fail_msg("lambda %.0f: c %u, want %u", cases[i].lambda, c, cases[i].c);
	}
	/* The same through the sizing loop, with the rates measured epoch by epoch. */
	struct hnvmf_pqm_sizing *s = make(8, 2, 1, 1000);
	struct hnvmf_pqm_decision d;
	for (int i = 0; i < 40; i++)
		d = step(s, 400000, mu_falling);
	assert_int_equal(d.reason, HNVMF_PQM_ALL_UNSTABLE);
	assert_int_equal(d.c, 5);
	hnvmf_pqm_sizing_destroy(s);
}

static void test_no_service_data_keeps_c(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 3, 1, 1000);
	struct hnvmf_pqm_epoch e = { .servers = 3, .arrivals = 100, .completions = 0,
				     .busy_ns = 0, .length_ns = EPOCH_NS };
	struct hnvmf_pqm_decision d;

	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
	assert_int_equal(d.c, 3);
	assert_int_equal(d.reason, HNVMF_PQM_NO_MODEL);
	/* Malformed epochs are refused and change nothing. */
	e.servers = 9;
	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), -EINVAL);
	e.servers = 0;
	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), -EINVAL);
	e.servers = 3;
	e.length_ns = 0;
	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), -EINVAL);
	assert_int_equal(hnvmf_pqm_sizing_current(s), 3);
	hnvmf_pqm_sizing_destroy(s);
}

/* After a change, c holds for hold_epochs epochs: at most one change per window. */
static void test_hold_after_change(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 2, 5, 1000);
	struct hnvmf_pqm_decision d;

	d = step(s, 100000, mu_contended); /* flat one-point model: W(8) beats overloaded... */
	assert_int_equal(d.c, 8);
	/* λ drops to nothing: after idle_epochs (3) one server is wanted, but the change is
	 * only 3..4 epochs old. */
	for (unsigned i = 1; i <= 4; i++) {
		d = step(s, 0, mu_contended);
		assert_int_equal(d.reason, i < 3 ? HNVMF_PQM_NO_ARRIVALS : HNVMF_PQM_HOLD);
		assert_int_equal(d.c, 8);
		if (i >= 3)
			assert_non_null(strstr(d.why, "wanted 1"));
	}
	d = step(s, 0, mu_contended);
	assert_int_equal(d.reason, HNVMF_PQM_NO_ARRIVALS);
	assert_int_equal(d.c, 1);
	hnvmf_pqm_sizing_destroy(s);
}

/* Flat μ at low load: more servers shave < 5 % off W, so c stays (margin). */
static void test_margin_keeps_c(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 2, 1, 1000);
	struct hnvmf_pqm_decision d;

	for (int i = 0; i < 20; i++) {
		d = step(s, 10000, mu_flat);
		assert_int_equal(d.c, 2);
		assert_int_equal(d.reason, HNVMF_PQM_MARGIN);
	}
	assert_non_null(strstr(d.why, "-> keep 2"));
	/* The same system at c = 1 and λ = 50k: W(1) = 20 µs, W(2) = 10.7 µs, a real gain. */
	hnvmf_pqm_sizing_destroy(s);
	s = make(2, 1, 1, 1000);
	d = step(s, 50000, mu_flat);
	assert_int_equal(d.c, 2);
	assert_string_equal(d.why, "W(2)=10.7us < W(1)=20.0us");
	hnvmf_pqm_sizing_destroy(s);
}

/* Exploration: steady for explore_epochs at c with no data at c+1 -> probe c+1 for the hold,
 * return; later probe c-1 (safe at low load), return; then no more probes. */
static void test_exploration_probes_neighbours_and_returns(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(8, 2, 4, 16);
	struct hnvmf_pqm_decision d;
	int epoch = 0, explore_at[2] = { 0, 0 }, n_explore = 0;
	unsigned probed[2] = { 0, 0 };
	double alpha, beta;

	for (epoch = 1; epoch <= 300; epoch++) {
		d = step(s, 10000, mu_flat);
		if (d.reason == HNVMF_PQM_EXPLORE) {
			assert_true(n_explore < 2);
			explore_at[n_explore] = epoch;
			probed[n_explore++] = d.c;
		}
	}
	assert_int_equal(n_explore, 2);
	/* The start counts as settled by hold (4), so the first probe comes 12 epochs in. */
	assert_int_equal(explore_at[0], 12);
	assert_int_equal(probed[0], 3);
	/* Held 3 epochs at 3, back to 2 at epoch 16, steady again 16 epochs later. */
	assert_int_equal(explore_at[1], 32);
	assert_int_equal(probed[1], 1);
	assert_int_equal(d.c, 2);
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 3);
	assert_close(beta, 0.0, 1e-6);
	hnvmf_pqm_sizing_destroy(s);
}

/* Probing c-1 is refused when the model says c-1 would run hotter than explore_down_rho. */
static void test_exploration_down_needs_headroom(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing *s = make(2, 2, 1, 4);
	struct hnvmf_pqm_decision d;

	for (int i = 0; i < 100; i++) {
		d = step(s, 90000, mu_flat); /* ρ(1) = 0.9 */
		assert_int_equal(d.c, 2);
		assert_true(d.reason != HNVMF_PQM_EXPLORE);
	}
	hnvmf_pqm_sizing_destroy(s);
}

/* Data older than stale_epochs is forgotten: the model empties and the c counts as unexplored. */
static void test_stale_data_forgotten(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing_opts o;
	struct hnvmf_pqm_sizing *s;
	struct hnvmf_pqm_decision d;
	double alpha, beta;

	hnvmf_pqm_sizing_opts_default(&o, 4);
	o.stale_epochs = 5;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), 0);
	step(s, 10000, mu_flat);
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 1);
	for (int i = 0; i < 5; i++)
		step(s, 0, mu_flat); /* idle epochs measure nothing */
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 1);
	step(s, 0, mu_flat);
	assert_int_equal(hnvmf_pqm_sizing_model(s, &alpha, &beta), 0);
	/* Arrivals again, none completed yet: no service data, so c stays whatever it is. */
	struct hnvmf_pqm_epoch e = { .servers = hnvmf_pqm_sizing_current(s), .arrivals = 50,
				     .length_ns = EPOCH_NS };
	assert_int_equal(hnvmf_pqm_sizing_epoch(s, &e, &d), 0);
	assert_int_equal(d.reason, HNVMF_PQM_NO_MODEL);
	assert_int_equal(d.c, e.servers);
	hnvmf_pqm_sizing_destroy(s);
}

static void test_bad_options_refused(void **state)
{
	(void)state;
	struct hnvmf_pqm_sizing_opts o;
	struct hnvmf_pqm_sizing *s = NULL;

	hnvmf_pqm_sizing_opts_default(&o, 0);
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	hnvmf_pqm_sizing_opts_default(&o, HNVMF_PQM_CMAX_LIMIT + 1);
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	hnvmf_pqm_sizing_opts_default(&o, 4);
	o.c_initial = 5;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	hnvmf_pqm_sizing_opts_default(&o, 4);
	o.margin = 1.0;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	hnvmf_pqm_sizing_opts_default(&o, 4);
	o.hold_epochs = 0;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	hnvmf_pqm_sizing_opts_default(&o, 4);
	o.idle_epochs = 0;
	assert_int_equal(hnvmf_pqm_sizing_create(&o, &s), -EINVAL);
	assert_null(s);
	assert_string_equal(hnvmf_pqm_reason_name(HNVMF_PQM_EXPLORE), "explore");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_fit),
		cmocka_unit_test(test_argmin_with_contention),
		cmocka_unit_test(test_argmin_flat_and_unstable),
		cmocka_unit_test(test_regression_recovers_noisy_line),
		cmocka_unit_test(test_single_point_model),
		cmocka_unit_test(test_converges_under_contention),
		cmocka_unit_test(test_no_arrivals_goes_to_one),
		cmocka_unit_test(test_no_arrivals_with_backlog_keeps_c),
		cmocka_unit_test(test_all_unstable_flat_mu_goes_to_cmax),
		cmocka_unit_test(test_sizing_with_falling_mu),
		cmocka_unit_test(test_no_service_data_keeps_c),
		cmocka_unit_test(test_hold_after_change),
		cmocka_unit_test(test_margin_keeps_c),
		cmocka_unit_test(test_exploration_probes_neighbours_and_returns),
		cmocka_unit_test(test_exploration_down_needs_headroom),
		cmocka_unit_test(test_stale_data_forgotten),
		cmocka_unit_test(test_bad_options_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
