/* Erlang-B / Erlang-C and the M/M/c mean response time against textbook values and closed
 * forms (M/M/1, M/M/2), plus the shape the PQM optimiser relies on: C grows with the load and
 * shrinks with the number of servers, and an unstable queue is refused. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/erlang.h"

static void assert_close(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.10g, want %.10g (tolerance %.3g)", got, want, tol);
}

static void test_erlang_b_small_cases(void **state)
{
	(void)state;
	assert_close(hnvmf_erlang_b(0, 3.0), 1.0, 0);
	/* B(1, a) = a / (1 + a); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2. */
	assert_close(hnvmf_erlang_b(1, 2.0), 2.0 / 3.0, 1e-15);
	assert_close(hnvmf_erlang_b(2, 1.0), 0.2, 1e-15);
}

static void test_erlang_c_textbook(void **state)
{
	(void)state;
	assert_close(hnvmf_erlang_c(2, 1.0), 1.0 / 3.0, 1e-12);
	assert_close(hnvmf_erlang_c(5, 4.0), 0.5541, 5e-5);
	/* Its exact rational value, from the factorial formula: 128/231. */
	assert_close(hnvmf_erlang_c(5, 4.0), 128.0 / 231.0, 1e-12);
}

static void test_erlang_c_mm1_is_rho(void **state)
{
	(void)state;
	for (double a = 0.0; a < 1.0; a += 0.05)
		assert_close(hnvmf_erlang_c(1, a), a, 1e-12);
}

/* Large c, where the factorial form overflows a double: C(200, 190) must still be a
 * probability, agree with the recursion's own invariants, and sit between its neighbours. */
static void test_erlang_c_large_c_is_stable(void **state)
{
	(void)state;
	double c200 = hnvmf_erlang_c(200, 190.0);

	assert_true(isfinite(c200));
	assert_true(c200 > 0.0 && c200 < 1.0);
	assert_true(hnvmf_erlang_c(199, 190.0) > c200);
	assert_true(hnvmf_erlang_c(201, 190.0) < c200);
	/* C(100, 90) from the factorial formula evaluated in exact rational arithmetic. */
	assert_close(hnvmf_erlang_c(100, 90.0), 0.2169404809, 1e-9);
}

static void test_erlang_c_monotone_in_load(void **state)
{
	(void)state;
	for (unsigned c = 1; c <= 16; c++) {
		double prev = hnvmf_erlang_c(c, 0.0);

		assert_close(prev, 0.0, 0);
		for (double a = 0.01; a < (double)c; a += 0.01 * c) {
			double cur = hnvmf_erlang_c(c, a);

			if (!(cur > prev))
				fail_msg("C(%u, %g) = %g not above C at lower load %g", c, a, cur, prev);
			prev = cur;
		}
	}
}

static void test_erlang_c_monotone_in_servers(void **state)
{
	(void)state;
	for (double a = 0.5; a < 12.0; a += 0.5) {
		unsigned first = (unsigned)floor(a) + 1; /* smallest stable c */
		double prev = hnvmf_erlang_c(first, a);

		for (unsigned c = first + 1; c <= 40; c++) {
			double cur = hnvmf_erlang_c(c, a);

			if (!(cur < prev))
				fail_msg("C(%u, %g) = %g not below C(%u) = %g", c, a, cur, c - 1, prev);
			prev = cur;
		}
	}
}

static void test_unstable_refused(void **state)
{
	(void)state;
	double w = -1.0;

	assert_close(hnvmf_erlang_c(2, 2.0), 1.0, 0);
	assert_close(hnvmf_erlang_c(2, 5.0), 1.0, 0);
	assert_close(hnvmf_erlang_c(0, 0.5), 1.0, 0);
	assert_false(hnvmf_mmc_stable(2, 200.0, 100.0));
	assert_true(hnvmf_mmc_stable(3, 200.0, 100.0));
	assert_int_equal(hnvmf_mmc_response_time(2, 200.0, 100.0, &w), -ERANGE); /* c·μ = λ */
	assert_int_equal(hnvmf_mmc_response_time(1, 150.0, 100.0, &w), -ERANGE);
	assert_int_equal(hnvmf_mmc_response_time(4, 1.0, 0.0, &w), -ERANGE);
	assert_int_equal(hnvmf_mmc_response_time(0, 1.0, 10.0, &w), -ERANGE);
	assert_int_equal(hnvmf_mmc_response_time(4, -1.0, 10.0, &w), -EINVAL);
	assert_int_equal(hnvmf_mmc_response_time(4, NAN, 10.0, &w), -EINVAL);
	assert_close(w, -1.0, 0); /* untouched on error */
}

static void test_response_time_closed_forms(void **state)
{
	(void)state;
	double w;

	/* M/M/1: W = 1 / (μ − λ). */
	assert_int_equal(hnvmf_mmc_response_time(1, 80.0, 100.0, &w), 0);
	assert_close(w, 1.0 / 20.0, 1e-12);
	/* M/M/2: W = 1 / (μ (1 − ρ²)), ρ = λ / 2μ. */
	for (double lambda = 10.0; lambda < 200.0; lambda += 10.0) {
		double rho = lambda / 200.0;

		assert_int_equal(hnvmf_mmc_response_time(2, lambda, 100.0, &w), 0);
		assert_close(w, 1.0 / (100.0 * (1.0 - rho * rho)), 1e-12);
	}
	/* No arrivals: no waiting, W = 1/μ. */
	assert_int_equal(hnvmf_mmc_response_time(3, 0.0, 50.0, &w), 0);
	assert_close(w, 1.0 / 50.0, 1e-15);
	/* c = 5, a = 4, μ = 1: W = C / (5 − 4) + 1. */
	assert_int_equal(hnvmf_mmc_response_time(5, 4.0, 1.0, &w), 0);
	assert_close(w, 128.0 / 231.0 + 1.0, 1e-12);
}

static void test_response_time_falls_with_servers_at_fixed_mu(void **state)
{
	(void)state;
	double prev, w;

	assert_int_equal(hnvmf_mmc_response_time(4, 350.0, 100.0, &prev), 0);
	/* Strictly falling while the waiting term is still visible next to 1/μ in a double. */
	for (unsigned c = 5; c <= 12; c++) {
		assert_int_equal(hnvmf_mmc_response_time(c, 350.0, 100.0, &w), 0);
		assert_true(w < prev);
		assert_true(w >= 1.0 / 100.0); /* never below the bare service time */
		prev = w;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_erlang_b_small_cases),
		cmocka_unit_test(test_erlang_c_textbook),
		cmocka_unit_test(test_erlang_c_mm1_is_rho),
		cmocka_unit_test(test_erlang_c_large_c_is_stable),
		cmocka_unit_test(test_erlang_c_monotone_in_load),
		cmocka_unit_test(test_erlang_c_monotone_in_servers),
		cmocka_unit_test(test_unstable_refused),
		cmocka_unit_test(test_response_time_closed_forms),
		cmocka_unit_test(test_response_time_falls_with_servers_at_fixed_mu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
