/* Revoking a DAM grant by editing the tenant's file and reloading, while the tenant does I/O:
 * with dam_fallback = pqm the queues drain their dedicated queue pairs and continue through PQM,
 * and every block written before, during and after the change reads back as written; with
 * dam_fallback = refuse the queues are disconnected. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:revoke"
#define HOST_PQM_FB "nqn.2026-01.io.hnvmf.test:dam-fallback-pqm"
#define HOST_REFUSE "nqn.2026-01.io.hnvmf.test:dam-fallback-refuse"

static const char conf_template[] =
	HNVMF_CONF_PQM_TENANTS
	HNVMF_CONF_IO_RAM0("32M", SUBNQN);

static struct hnvmf_harness H;
static char key_a[HNVMF_KEY_STR_MAX], key_b[HNVMF_KEY_STR_MAX];

static void write_tenant(const char *file, const char *host, const char *key, const char *mode, int level,
			 const char *fallback)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\nmode = %s\npermission_level = %d\n"
		 "dam_fallback = %s\ndhchap_secret = %s\n",
		 host, mode, level, fallback, key);
	assert_int_equal(hnvmf_harness_write_file(&H, file, text), 0);
}

static int setup(void **state)
{
	(void)state;
	hnvmf_harness_gen_key(false, 1, 32, key_a);
	hnvmf_harness_gen_key(false, 1, 32, key_b);
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	write_tenant("tenants/a.conf", HOST_PQM_FB, key_a, "dam", 1, "pqm");
	write_tenant("tenants/b.conf", HOST_REFUSE, key_b, "dam", 1, "refuse");
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

struct load {
	struct hnvmf_ini_ctrl *c;
	atomic_bool stop;
	int rounds, failures;
	char why[128];
};

/* Write-then-verify rounds over the first 8 MiB until told to stop. */
static void *load_run(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(&l->stop) && !l->failures) {
		struct hnvmf_ini_verify_opts v = {.nsid = 1, .slba = 0, .nblocks = 16384, .lba_size = 512,
						  .io_size = 4096, .qd = 16, .seed = (uint64_t)l->rounds + 7,
						  .write = true, .read = true};
		struct hnvmf_ini_verify_result res = {0};
		if (hnvmf_ini_verify(l->c, &v, &res) != 0) {
			snprintf(l->why, sizeof(l->why), "round %d: %llu bad blocks, status %d", l->rounds,
				 (unsigned long long)res.bad_blocks, res.status);
			l->failures++;
		}
		l->rounds++;
	}
	return NULL;
}

/* The DAM units the queues hold (hnvmf_dam_get); each grant is listed with its queue. */
static unsigned dam_units_used(void)
{
	char out[16384];
	unsigned used, cap;
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_dam_get", NULL, out, sizeof(out)), 0);
	if (sscanf(out, "{\"capacity\":%u,\"used\":%u", &cap, &used) != 2)
		fail_msg("no capacity, used in hnvmf_dam_get: %s", out);
	unsigned grants = 0;
	for (const char *p = strstr(out, "\"unit\":"); p; p = strstr(p + 1, "\"unit\":"))
		grants++;
	assert_int_equal(grants, used);
	return used;
}

static void test_revoke_to_pqm_under_load(void **state)
{
	(void)state;
	struct load l = {.c = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_PQM_FB, 2, key_a)};
	char line[1024], out[256];
	hnvmf_harness_ctrl_line(&H, HOST_PQM_FB, line, sizeof(line));
	assert_non_null(strstr(line, "q1:dam+auth q2:dam+auth"));
	assert_int_equal(dam_units_used(), 2); /* one per queue */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, load_run, &l), 0);
	while (l.rounds < 2 && !l.failures)
		usleep(5000);

	/* The tenant's file no longer asks for DAM. */
	write_tenant("tenants/a.conf", HOST_PQM_FB, key_a, "pqm", 1, "pqm");
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	for (int i = 0; i < 200 && !strstr(line, "q1:pqm+auth q2:pqm+auth"); i++) {
		usleep(10000);
		hnvmf_harness_ctrl_line(&H, HOST_PQM_FB, line, sizeof(line));
	}
	assert_non_null(strstr(line, "q1:pqm+auth q2:pqm+auth"));
	assert_int_equal(dam_units_used(), 0); /* the revoked grants returned their units */
	int at_change = l.rounds;
	while (l.rounds < at_change + 2 && !l.failures)
		usleep(5000);
	atomic_store(&l.stop, true);
	pthread_join(t, NULL);
	if (l.failures)
		fail_msg("%s", l.why);
	assert_true(hnvmf_harness_log_wait(&H, "DAM grant revoked by reload: draining", 1000));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(l.c), 0);
}

static void test_revoke_with_refuse_disconnects(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_REFUSE, 2, key_b);
	char line[1024], out[256];
	hnvmf_harness_ctrl_line(&H, HOST_REFUSE, line, sizeof(line));
	assert_non_null(strstr(line, "q1:dam+auth"));
	uint8_t buf[4096];
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);

	/* Its permission level leaves the whitelist; its policy refuses anything but DAM. */
	write_tenant("tenants/b.conf", HOST_REFUSE, key_b, "dam", 5, "refuse");
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	assert_true(hnvmf_harness_log_wait(&H, "dam_fallback = refuse: disconnecting", 2000));
	for (int i = 0; i < 200 && strstr(line, "q1:"); i++) {
		usleep(10000);
		hnvmf_harness_ctrl_line(&H, HOST_REFUSE, line, sizeof(line));
	}
	assert_null(strstr(line, "q1:"));
	assert_true(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)) != 0);
	hnvmf_ini_ctrl_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revoke_to_pqm_under_load),
		cmocka_unit_test(test_revoke_with_refuse_disconnects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
