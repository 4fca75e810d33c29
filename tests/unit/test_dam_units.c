/* DAM's units and reserved CPUs in the engine (core/path-dam.c): the capacity each
 * configuration gives, units taken and returned, grants spread over the reserved CPUs, and the
 * CPU mask that keeps every other thread off them. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/io.h"

static struct hnvmf_engine *engine(const struct hnvmf_engine_opts *o)
{
	struct hnvmf_engine *e;
	assert_int_equal(hnvmf_engine_create(o, &e), 0);
	return e;
}

static void test_capacity_from_reserved_cpus(void **state)
{
	(void)state;
	struct hnvmf_engine_opts o = {.dam_cpus = {0, 1}, .ndam_cpus = 2, .dam_queues_per_cpu = 2};
	struct hnvmf_engine *e = engine(&o);
	assert_int_equal(hnvmf_dam_usage(e).capacity, 4);
	/* The lowest free unit: units 0, 1 are on CPUs 0, 1, then 2, 3 again on 0, 1. */
	for (int u = 0; u < 4; u++)
		assert_int_equal(hnvmf_dam_unit_get(e), u);
	assert_int_equal(hnvmf_dam_unit_get(e), -ENOSPC);
	assert_int_equal(hnvmf_dam_usage(e).used, 4);
	hnvmf_dam_unit_put(e, 1);
	assert_int_equal(hnvmf_dam_usage(e).used, 3);
	assert_int_equal(hnvmf_dam_unit_get(e), 1);
	hnvmf_dam_unit_put(e, 1);
	hnvmf_dam_unit_put(e, 1); /* a unit returned twice is counted once */
	assert_int_equal(hnvmf_dam_usage(e).used, 3);
	hnvmf_engine_destroy(e);
}

static void test_capacity_without_reserved_cpus(void **state)
{
	(void)state;
	struct hnvmf_engine_opts o = {.dam_max_queues = 2};
	struct hnvmf_engine *e = engine(&o);
	assert_int_equal(hnvmf_dam_usage(e).capacity, 2);
	assert_true(hnvmf_dam_unit_get(e) >= 0);
	assert_true(hnvmf_dam_unit_get(e) >= 0);
	assert_int_equal(hnvmf_dam_unit_get(e), -ENOSPC);
	hnvmf_engine_destroy(e);

	/* Neither: unlimited, counted. */
	struct hnvmf_engine_opts none = {0};
	e = engine(&none);
	assert_int_equal(hnvmf_dam_usage(e).capacity, 0);
	int u[3];
	for (int i = 0; i < 3; i++)
		assert_true((u[i] = hnvmf_dam_unit_get(e)) >= 0);
	assert_int_equal(hnvmf_dam_usage(e).used, 3);
	for (int i = 0; i < 3; i++)
		hnvmf_dam_unit_put(e, u[i]);
	assert_int_equal(hnvmf_dam_usage(e).used, 0);
	assert_int_equal(hnvmf_dam_usage(e).unit_iops, 0); /* nothing measured yet */
	hnvmf_engine_destroy(e);
}

struct mask_case {
	struct hnvmf_engine *e;
	int rc;
	cpu_set_t own, child;
	char why[256];
};

static void *child(void *arg)
{
	struct mask_case *m = arg;
	sched_getaffinity(0, sizeof(m->child), &m->child);
	return NULL;
}

/* In a thread of its own, so that the test's main thread keeps its mask. */
static void *reserve(void *arg)
{
	struct mask_case *m = arg;
	m->rc = hnvmf_engine_reserve_dam_cpus(m->e, m->why, sizeof(m->why));
	sched_getaffinity(0, sizeof(m->own), &m->own);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, child, m), 0);
	pthread_join(t, NULL);
	return NULL;
}

static void run_reserve(struct mask_case *m)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, reserve, m), 0);
	pthread_join(t, NULL);
}

static void test_reserved_cpus_leave_the_mask(void **state)
{
	(void)state;
	cpu_set_t all;
	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	if (CPU_COUNT(&all) < 2)
		skip();
	int last = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all))
			last = c;
	struct hnvmf_engine_opts o = {.dam_cpus = {last}, .ndam_cpus = 1};
	struct mask_case m = {.e = engine(&o)};
	run_reserve(&m);
	assert_int_equal(m.rc, 0);
	assert_false(CPU_ISSET(last, &m.own));
	assert_false(CPU_ISSET(last, &m.child)); /* inherited by threads created afterwards */
	assert_int_equal(CPU_COUNT(&m.child), CPU_COUNT(&all) - 1);
	hnvmf_engine_destroy(m.e);

	/* Every CPU reserved: nothing left for the rest, refused. */
	struct hnvmf_engine_opts every = {0};
	for (int c = 0; c < CPU_SETSIZE && every.ndam_cpus < HNVMF_MAX_SERVER_CPUS; c++)
		if (CPU_ISSET(c, &all))
			every.dam_cpus[every.ndam_cpus++] = c;
	if (every.ndam_cpus < (unsigned)CPU_COUNT(&all))
		return; /* more CPUs than a list holds */
	struct mask_case none = {.e = engine(&every)};
	run_reserve(&none);
	assert_int_equal(none.rc, -EINVAL);
	assert_non_null(strstr(none.why, "no CPU"));
	hnvmf_engine_destroy(none.e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capacity_from_reserved_cpus),
		cmocka_unit_test(test_capacity_without_reserved_cpus),
		cmocka_unit_test(test_reserved_cpus_leave_the_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
