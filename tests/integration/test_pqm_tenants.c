/* PQM through the daemon: several tenants (host NQNs with tenant files), each with several I/O
 * queues, write-then-verify their own ranges at once while the PQM pool size is forced up and
 * down over the control socket; one tenant runs in baseline mode beside them. Every block must
 * read back as written, every command must succeed, the daemon's statistics must show the
 * tenants' queues in the modes their files give and I/O through the pool, and the daemon must
 * stop cleanly. */
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

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define NTENANTS 4
#define ROUNDS 3
#define SUBNQN "nqn.2026-01.io.hnvmf:pqm"

static const char conf_template[] =
	"[global]\n"
	"default_mode = pqm\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	"[pqm]\n"
	"cmax = 4\n"
	"epoch_ms = 20\n"
	HNVMF_CONF_IO_RAM0("64M", SUBNQN);

static struct hnvmf_harness H;

struct tenant {
	char hostnqn[128];
	pthread_t thread;
	int failures;
	uint64_t ios;
	char why[256];
};

static struct tenant tenants[NTENANTS];
static atomic_int running;
static atomic_int stats_taken; /* tenants stay connected until the statistics are read */

static void *tenant_run(void *arg)
{
	struct tenant *t = arg;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 2;
	o.io_depth = 32;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, t->hostnqn, &o, &c);
	if (r) {
		snprintf(t->why, sizeof(t->why), "connect: %d", r);
		t->failures++;
		atomic_fetch_sub(&running, 1);
		return NULL;
	}
	struct hnvmf_ini_ns_info ns;
	if (hnvmf_ini_ns_info(c, 1, &ns) != 0) {
		snprintf(t->why, sizeof(t->why), "ns info");
		t->failures++;
	}
	int idx = (int)(t - tenants);
	uint64_t per = ns.nsze / NTENANTS;
	for (int round = 0; round < ROUNDS && !t->failures; round++) {
		struct hnvmf_ini_verify_opts v = {.nsid = 1, .slba = per * (uint64_t)idx, .nblocks = per,
						  .lba_size = ns.lba_size, .io_size = 4096, .qd = 16,
						  .seed = (uint64_t)(idx * 100 + round + 1), .write = true,
						  .read = true};
		struct hnvmf_ini_verify_result res = {0};
		if (hnvmf_ini_verify(c, &v, &res) != 0) {
			snprintf(t->why, sizeof(t->why), "round %d: %llu bad blocks, status %d", round,
				 (unsigned long long)res.bad_blocks, res.status);
			t->failures++;
		}
		t->ios += res.writes + res.reads;
	}
	atomic_fetch_sub(&running, 1);
	/* Stay connected until every tenant is done, so the statistics see all of them. */
	while (!atomic_load(&stats_taken))
		usleep(10000);
	if (hnvmf_ini_ctrl_disconnect(c) != 0) {
		snprintf(t->why, sizeof(t->why), "disconnect");
		t->failures++;
	}
	return NULL;
}

static void test_tenants_with_churning_pool(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_harness_prepare(&H), 0);
	char file[512];
	for (int i = 0; i < NTENANTS; i++) {
		snprintf(tenants[i].hostnqn, sizeof(tenants[i].hostnqn), "nqn.2026-01.io.hnvmf.test:tenant-%d", i);
		snprintf(file, sizeof(file), "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\nmode = %s\n",
			 tenants[i].hostnqn, i == NTENANTS - 1 ? "baseline" : "pqm");
		char rel[64];
		snprintf(rel, sizeof(rel), "tenants/t%d.conf", i);
		assert_int_equal(hnvmf_harness_write_file(&H, rel, file), 0);
	}
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);

	atomic_store(&running, NTENANTS);
	for (int i = 0; i < NTENANTS; i++)
		assert_int_equal(pthread_create(&tenants[i].thread, NULL, tenant_run, &tenants[i]), 0);

	/* Force the pool size through 1..4 while the tenants run. */
	char out[8192];
	int changes = 0;
	bool modes_seen = false;
	for (unsigned k = 0; atomic_load(&running) > 0 && k < 3000; k++) {
		char params[32];
		snprintf(params, sizeof(params), "{\"c\":%u}", 1 + k % 4);
		assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_pqm_set_c", params, out, sizeof(out)), 0);
		assert_string_equal(out, "true");
		changes++;
		if (!modes_seen) {
			/* Once the tenants' I/O queues are up, they are in the modes the files give. */
			assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_get_qpairs", NULL, out, sizeof(out)), 0);
			modes_seen = strstr(out, "\"qid\":1,") && strstr(out, "\"mode\":\"pqm\"") &&
				     strstr(out, "\"mode\":\"baseline\"");
		}
		usleep(5000);
	}
	assert_true(changes >= 4);
	assert_true(modes_seen);
	usleep(3 * 20 * 1000); /* a few 20 ms epochs under the last forced c */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_pqm_get", NULL, out, sizeof(out)), 0);
	/* the last decision says who made it */
	assert_non_null(strstr(out, "\\\"forced to "));
	assert_non_null(strstr(out, "(forced)"));
	atomic_store(&stats_taken, 1);
	for (int i = 0; i < NTENANTS; i++) {
		pthread_join(tenants[i].thread, NULL);
		if (tenants[i].failures)
			fail_msg("tenant %d: %s", i, tenants[i].why);
		assert_true(tenants[i].ios > 0);
	}
	/* The pool served the PQM tenants: its statistics name them. */
	for (int i = 0; i < NTENANTS - 1; i++) {
		/* one line per tenant, with both of its I/O queues counted */
		char line[256];
		snprintf(line, sizeof(line), "pqm tenant %s arrivals ", tenants[i].hostnqn);
		const char *l = strstr(out, line);
		assert_non_null(l);
		assert_null(strstr(l + 1, line));
		const char *nl = strchr(l, '"'); /* the report's line ends its string */
		assert_non_null(nl);
		assert_true(nl - l > 9 && strncmp(nl - 9, " queues 2", 9) == 0);
	}
	assert_null(strstr(out, tenants[NTENANTS - 1].hostnqn)); /* baseline is not in the pool */
	assert_non_null(strstr(out, "pqm server 3"));

	/* Back to automatic sizing; then the daemon stops cleanly with nothing left behind. */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_pqm_set_c", "{\"c\":0}", out, sizeof(out)), 0);
	/* Controllers go away as their admin queues close: give that a moment. */
	for (int t = 0; t < 200; t++) {
		assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_get_controllers", NULL, out, sizeof(out)), 0);
		if (strcmp(out, "[]") == 0)
			break;
		usleep(10000);
	}
	assert_string_equal(out, "[]");
	assert_int_equal(hnvmf_harness_stop(&H), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_tenants_with_churning_pool)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
