/* The adaptive idle spin's policy (core/spin.h), pure logic: a sequence of idle periods that
 * ended within the window (hits) or after it (misses) -> which periods spin and which sleep at
 * once, the re-probe while sleeping, and the return to spinning when the load rises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/spin.h"

#define WIN 10000ull      /* a 10 us window */
#define HIT (WIN / 2)     /* an idle period that ended within it */
#define MISS (WIN * 5)    /* one that ended long after it */

/* One idle period: whether it spins, then how long it lasted. */
static bool period(struct hnvmf_spin *sp, uint64_t gap)
{
	bool spun = hnvmf_spin_begin(sp);
	hnvmf_spin_end(sp, gap);
	return spun;
}

static void fresh_spins_while_hits(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, WIN);
	for (int i = 0; i < 100; i++)
		assert_true(period(&sp, HIT));
}

static void zero_window_never_spins(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, 0);
	for (int i = 0; i < 100; i++)
		assert_false(period(&sp, i % 2 ? 0 : MISS)); /* no probe either */
}

/* From all hits, misses turn the spin off once fewer than HNVMF_SPIN_MIN_HITS of the last 8
 * hit: with 4 of 8 needed, the 5th miss in a row is the last period that spins. */
static void misses_stop_spinning(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, WIN);
	for (int i = 0; i < 5; i++)
		assert_true(period(&sp, MISS));
	assert_false(hnvmf_spin_paying(&sp));
	assert_false(period(&sp, MISS));
}

/* While sleeping at once, one idle period in HNVMF_SPIN_PROBE spins (a probe), exactly. */
static void probes_while_sleeping(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, WIN);
	for (int i = 0; i < 8; i++)
		period(&sp, MISS); /* history all misses */
	int spun = 0, last = -1;
	for (int i = 0; i < 10 * HNVMF_SPIN_PROBE; i++) {
		if (period(&sp, MISS)) {
			if (last >= 0)
				assert_int_equal(i - last, HNVMF_SPIN_PROBE);
			last = i;
			spun++;
		}
	}
	assert_int_equal(spun, 10);
}

/* Slept periods are not recorded (a slept period's length includes the wake-up): at a rising
 * load the probes' hits alone bring the spin back, after HNVMF_SPIN_MIN_HITS probes, i.e. within
 * HNVMF_SPIN_MIN_HITS * HNVMF_SPIN_PROBE idle periods. */
static void probes_recover(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, WIN);
	for (int i = 0; i < 8; i++)
		period(&sp, MISS);
	int probes = 0, i;
	for (i = 0; i < 100 && !hnvmf_spin_paying(&sp); i++) {
		/* The load rose: a spin would catch the next work; a slept period ends within the
		 * window too (it is not recorded all the same). */
		probes += period(&sp, HIT);
	}
	assert_int_equal(probes, HNVMF_SPIN_MIN_HITS);
	assert_true(i <= HNVMF_SPIN_MIN_HITS * HNVMF_SPIN_PROBE);
	assert_true(i > (HNVMF_SPIN_MIN_HITS - 1) * HNVMF_SPIN_PROBE);
	for (i = 0; i < 20; i++)
		assert_true(period(&sp, HIT));
}

/* Mixed: half hits keeps spinning (4 of 8); three in eight does not, apart from the probes. */
static void threshold(void **state)
{
	(void)state;
	struct hnvmf_spin sp;
	hnvmf_spin_init(&sp, WIN);
	for (int i = 0; i < 64; i++)
		assert_true(period(&sp, i % 2 ? HIT : MISS));
	hnvmf_spin_init(&sp, WIN);
	int spun = 0;
	for (int i = 0; i < 64; i++) {
		/* hit, miss, miss, hit, miss, miss, hit, miss: 3 in 8 */
		static const bool pat[8] = {1, 0, 0, 1, 0, 0, 1, 0};
		bool s = hnvmf_spin_begin(&sp);
		hnvmf_spin_end(&sp, pat[i % 8] ? HIT : MISS);
		if (i >= 32)
			spun += s;
	}
	assert_true(spun <= 32 / HNVMF_SPIN_PROBE + 1); /* sleeping at once but for the probes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_spins_while_hits), cmocka_unit_test(zero_window_never_spins),
		cmocka_unit_test(misses_stop_spinning),	  cmocka_unit_test(probes_while_sleeping),
		cmocka_unit_test(probes_recover),	  cmocka_unit_test(threshold),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
