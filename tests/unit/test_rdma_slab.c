/* NVMe/RDMA registered pools, run without a device (pd NULL: plain memory): growth by chunks,
 * the cap that turns into back-pressure, reuse, alignment, and a clean free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/rdma/rdma-slab.h"

static void grows_to_cap_then_dry(void **state)
{
	(void)state;
	struct rdma_slab s;
	rdma_slab_init(&s, "test", NULL, 0, 5000, 3, 2);
	assert_int_equal(s.obj_size, 8192); /* rounded to pages */
	struct rdma_slab_obj *o[6];
	for (int i = 0; i < 6; i++) {
		o[i] = rdma_slab_get(&s);
		assert_non_null(o[i]);
		assert_int_equal((uintptr_t)o[i]->addr % 4096, 0);
		memset(o[i]->addr, i, s.obj_size); /* each object is its own memory */
	}
	assert_int_equal(s.nchunks, 2);
	assert_int_equal(rdma_slab_busy(&s), 6);
	assert_null(rdma_slab_get(&s)); /* at the cap: the caller waits */
	for (int i = 0; i < 6; i++)
		for (int j = i + 1; j < 6; j++)
			assert_ptr_not_equal(o[i]->addr, o[j]->addr);
	for (int i = 0; i < 6; i++)
		assert_int_equal(o[i]->addr[s.obj_size - 1], i);
	rdma_slab_put(o[4]);
	struct rdma_slab_obj *again = rdma_slab_get(&s);
	assert_ptr_equal(again, o[4]); /* reused, no new chunk */
	assert_int_equal(s.nchunks, 2);
	for (int i = 0; i < 6; i++)
		rdma_slab_put(o[i]);
	assert_int_equal(rdma_slab_busy(&s), 0);
	rdma_slab_fini(&s);
	assert_int_equal(s.nchunks, 0);
}

static void lazy_growth(void **state)
{
	(void)state;
	struct rdma_slab s;
	rdma_slab_init(&s, "lazy", NULL, 0, 16384, 4, 8);
	assert_int_equal(s.nchunks, 0); /* nothing until first use */
	struct rdma_slab_obj *a = rdma_slab_get(&s);
	assert_non_null(a);
	assert_int_equal(s.nchunks, 1);
	assert_int_equal(a->size, 16384);
	assert_ptr_equal(a->slab, &s);
	rdma_slab_put(a);
	rdma_slab_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grows_to_cap_then_dry),
		cmocka_unit_test(lazy_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
