/* Erlang-C without factorials. The textbook sum Σ a^k/k! overflows a double near c = 170 and
 * loses precision much earlier when a is large; the Erlang-B recursion below only ever holds a
 * probability in [0, 1], so it is exact to rounding for any c we will meet. */
#include "core/erlang.h"

#include <errno.h>
#include <math.h>

double hnvmf_erlang_b(unsigned c, double a)
{
	/* B(0) = 1; B(k) = a·B(k-1) / (k + a·B(k-1)). Each step is a ratio of positive terms. */
	double b = 1.0;

	for (unsigned k = 1; k <= c; k++)
		b = a * b / ((double)k + a * b);
	return b;
}

double hnvmf_erlang_c(unsigned c, double a)
{
	if (!(a < (double)c)) /* also catches a = NaN */
		return 1.0;
	if (a <= 0.0)
		return 0.0;
	/* C = c·B / (c − a·(1 − B)). With a < c the denominator is > c − a > 0, so C is in [0, 1):
	 * the clamp below only guards against the last bit of rounding. */
	double b = hnvmf_erlang_b(c, a);
	double cc = (double)c * b / ((double)c - a * (1.0 - b));

	return cc > 1.0 ? 1.0 : cc;
}

bool hnvmf_mmc_stable(unsigned c, double lambda, double mu)
{
	return mu > 0.0 && (double)c * mu > lambda;
}

int hnvmf_mmc_response_time(unsigned c, double lambda, double mu, double *w)
{
	if (!isfinite(lambda) || !isfinite(mu) || lambda < 0.0)
		return -EINVAL;
	if (!hnvmf_mmc_stable(c, lambda, mu))
		return -ERANGE;
	/* Waiting time: an arrival waits with probability C, and then (memoryless service) for the
	 * queue ahead of it to drain at the spare rate c·μ − λ. */
	*w = hnvmf_erlang_c(c, lambda / mu) / ((double)c * mu - lambda) + 1.0 / mu;
	return 0;
}
