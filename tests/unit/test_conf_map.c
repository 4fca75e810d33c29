/* target/conf-map.c: the configuration's own enums map to the engine's by name, and a backend's
 * open parameters carry a path only for type = file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/conf-map.h"

static void test_modes(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_conf_map_mode(HNVMF_CONF_MODE_DIRECT), HNVMF_PATH_DIRECT);
	assert_int_equal(hnvmf_conf_map_mode(HNVMF_CONF_MODE_PQM), HNVMF_PATH_PQM);
	assert_int_equal(hnvmf_conf_map_mode(HNVMF_CONF_MODE_DAM), HNVMF_PATH_DAM);
	assert_int_equal(hnvmf_conf_map_mode(HNVMF_CONF_MODE_BASELINE), HNVMF_PATH_BASELINE);
}

static void test_backends(void **state)
{
	(void)state;
	struct hnvmf_conf_backend b = {.type = HNVMF_CONF_BACKEND_FILE, .size = 4096,
				       .block_size = 4096, .readonly = true, .direct = true};
	strcpy(b.path, "/dev/null");
	struct hnvmf_backend_params p = hnvmf_conf_map_backend(&b);
	assert_int_equal(p.type, HNVMF_BACKEND_FILE);
	assert_ptr_equal(p.path, b.path);
	assert_int_equal(p.size, 4096);
	assert_int_equal(p.block_size, 4096);
	assert_true(p.readonly);
	assert_true(p.direct);

	b = (struct hnvmf_conf_backend){.type = HNVMF_CONF_BACKEND_RAM, .size = 1 << 20,
					.block_size = 512};
	p = hnvmf_conf_map_backend(&b);
	assert_int_equal(p.type, HNVMF_BACKEND_RAM);
	assert_null(p.path);
	assert_false(p.readonly);
	b.type = HNVMF_CONF_BACKEND_NULL;
	assert_int_equal(hnvmf_conf_map_backend(&b).type, HNVMF_BACKEND_NULL);

	b = (struct hnvmf_conf_backend){.type = HNVMF_CONF_BACKEND_RBD, .block_size = 512, .rbd_timeout_s = 7};
	strcpy(b.ceph_conf, "/etc/ceph/ceph.conf");
	strcpy(b.client, "gw1");
	strcpy(b.pool, "rbd");
	strcpy(b.image, "vol0");
	strcpy(b.rados_namespace, "ns");
	p = hnvmf_conf_map_backend(&b);
	assert_int_equal(p.type, HNVMF_BACKEND_RBD);
	assert_null(p.path);
	assert_string_equal(p.rbd.ceph_conf, "/etc/ceph/ceph.conf");
	assert_string_equal(p.rbd.client, "gw1");
	assert_string_equal(p.rbd.pool, "rbd");
	assert_string_equal(p.rbd.image, "vol0");
	assert_string_equal(p.rbd.rados_namespace, "ns");
	assert_int_equal(p.rbd.timeout_s, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_backends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
