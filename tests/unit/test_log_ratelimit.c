/* The log rate limiter (core/log.c): the first line passes, lines within the interval are held
 * back and counted, the next line after it carries the count; threads racing for one slot let
 * exactly one line through. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/log.h"

static void first_passes_then_counts(void **state)
{
	(void)state;
	struct hnvmf_ratelimit rl = HNVMF_RATELIMIT_INIT(50);
	unsigned n = 99;
	assert_true(hnvmf_ratelimit_pass(&rl, &n));
	assert_int_equal(n, 0);
	for (int i = 0; i < 5; i++)
		assert_false(hnvmf_ratelimit_pass(&rl, &n));
	nanosleep(&(struct timespec){ .tv_nsec = 60 * 1000 * 1000 }, NULL);
	assert_true(hnvmf_ratelimit_pass(&rl, &n));
	assert_int_equal(n, 5);
	assert_false(hnvmf_ratelimit_pass(&rl, &n));
}

static struct hnvmf_ratelimit shared = HNVMF_RATELIMIT_INIT(60000);
static _Atomic int passed;

static void *racer(void *arg)
{
	(void)arg;
	unsigned n;
	for (int i = 0; i < 1000; i++)
		if (hnvmf_ratelimit_pass(&shared, &n))
			passed++;
	return NULL;
}

static void racing_threads_let_one_through(void **state)
{
	(void)state;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(passed, 1);
	assert_int_equal(shared.suppressed, 3999);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_passes_then_counts),
		cmocka_unit_test(racing_threads_let_one_through),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
