/* DAM run to completion, against the real daemon with [pqm] dam_cpus = 1 (this machine's CPU 1,
 * two units on it). A DAM tenant authenticates with DH-HMAC-CHAP; a host without a tenant file
 * is served through PQM. Asserted through hnvmfctl state's per-queue line (the reactor the queue
 * runs on, its ios and the thread hand-offs they took) and the data the host reads back:
 *   - a DAM queue moves onto the DAM reactor (hnvmf-dam-r0) and its ios take no hand-off; a PQM
 *     queue stays on its shared reactor and each io takes two (to an I/O server and back);
 *   - reloads that revoke and grant DAM while the tenant writes and verifies move the queues
 *     back and forth under load: every block reads back as written, and each queue ends where
 *     its grant says;
 *   - a DAM queue on its DAM reactor measures what one unit sustains (hnvmf_dam_get unit_iops,
 *     while the queue runs), and a reload giving the tenant a reserved_iops above it is logged
 *     once, with both numbers. */
#include <inttypes.h>
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

#define SUBNQN "nqn.2026-01.io.hnvmf:damreactor"
#define HOST_DAM "nqn.2026-01.io.hnvmf.test:dam-reactor"
#define HOST_SHARED "nqn.2026-01.io.hnvmf.test:shared"
#define DAM_REACTOR "hnvmf-dam-r0"

static const char conf_template[] =
	HNVMF_CONF_PQM_TENANTS
	"dam_cpus = 1\n"
	"dam_queues_per_cpu = 2\n"
	HNVMF_CONF_IO_RAM0("64M", SUBNQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;
static char key[HNVMF_KEY_STR_MAX];

static void write_tenant_reserving(const char *mode, uint64_t reserved_iops)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "[tenant]\nhostnqn = " HOST_DAM "\nsubsystems = " SUBNQN "\nmode = %s\npermission_level = 1\n"
		 "dam_fallback = pqm\ndhchap_secret = %s\nreserved_iops = %" PRIu64 "\n",
		 mode, key, reserved_iops);
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/dam.conf", text), 0);
}

static void write_tenant(const char *mode) { write_tenant_reserving(mode, 0); }

static int setup(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0; /* every test skips */
	hnvmf_harness_gen_key(false, 1, 32, key);
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	write_tenant("dam");
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static struct hnvmf_harness_queue queue(const char *host, unsigned qid)
{
	struct hnvmf_harness_queue q;
	if (!hnvmf_harness_queue_info(&H, host, qid, &q))
		fail_msg("no queue %u of %s in state", qid, host);
	return q;
}

/* Waits until I/O queue qid of host runs on reactor (the move happens between PDUs). */
static void wait_on(const char *host, unsigned qid, const char *reactor)
{
	struct hnvmf_harness_queue q = queue(host, qid);
	for (int i = 0; i < 500 && strcmp(q.reactor, reactor) != 0; i++) {
		usleep(10000);
		q = queue(host, qid);
	}
	if (strcmp(q.reactor, reactor) != 0)
		fail_msg("%s q%u runs on %s, not %s", host, qid, q.reactor, reactor);
}

static void test_dam_queue_runs_on_its_dam_reactor(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	struct hnvmf_ini_ctrl *dam = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_DAM, 2, key),
			      *pqm = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_SHARED, 2, NULL);
	char line[1024];
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_DAM, line, sizeof(line)));
	if (!strstr(line, "q1:dam+auth q2:dam+auth"))
		fail_msg("state: %s", line);
	wait_on(HOST_DAM, 1, DAM_REACTOR);
	wait_on(HOST_DAM, 2, DAM_REACTOR);
	hnvmf_harness_verify(dam, 0, 2048, 4096, 11);
	hnvmf_harness_verify(pqm, 4096, 2048, 4096, 12);
	for (unsigned qid = 1; qid <= 2; qid++) {
		struct hnvmf_harness_queue d = queue(HOST_DAM, qid), p = queue(HOST_SHARED, qid);
		/* run to completion: the DAM reactor received, submitted, reaped and answered */
		assert_true(d.ios > 0);
		assert_int_equal(d.hops, 0);
		assert_string_equal(d.reactor, DAM_REACTOR);
		/* PQM: reactor -> I/O server -> reactor, for every io */
		assert_true(p.ios > 0);
		assert_int_equal(p.hops, 2 * p.ios);
		assert_string_equal(p.reactor, "hnvmf-r0");
	}
	assert_int_equal(hnvmf_ini_ctrl_disconnect(dam), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(pqm), 0);
}

struct load {
	struct hnvmf_ini_ctrl *c;
	atomic_bool stop;
	atomic_int rounds;
	int failures;
	char why[128];
};

/* Write-then-verify rounds over the first 8 MiB, each with new data, until told to stop. */
static void *load_run(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(&l->stop) && !l->failures) {
		struct hnvmf_ini_verify_opts v = {.nsid = 1, .slba = 0, .nblocks = 16384, .lba_size = 512,
						  .io_size = 4096, .qd = 16, .seed = (uint64_t)atomic_load(&l->rounds) + 101,
						  .write = true, .read = true};
		struct hnvmf_ini_verify_result res = {0};
		if (hnvmf_ini_verify(l->c, &v, &res) != 0) {
			snprintf(l->why, sizeof(l->why), "round %d: %llu bad blocks, status %d", atomic_load(&l->rounds),
				 (unsigned long long)res.bad_blocks, res.status);
			l->failures++;
		}
		atomic_fetch_add(&l->rounds, 1);
	}
	return NULL;
}

/* The tenant's file asks for mode; after the reload both queues show it and run on reactor. */
static void switch_to(const char *mode, const char *want, const char *reactor)
{
	char out[256], line[1024];
	write_tenant(mode);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	line[0] = '\0';
	for (int i = 0; i < 500 && !strstr(line, want); i++) {
		usleep(10000);
		hnvmf_harness_ctrl_line(&H, HOST_DAM, line, sizeof(line));
	}
	if (!strstr(line, want))
		fail_msg("after the reload to %s: %s", mode, line);
	wait_on(HOST_DAM, 1, reactor);
	wait_on(HOST_DAM, 2, reactor);
}

static void test_moves_under_load_lose_nothing(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	struct load l = {.c = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_DAM, 2, key)};
	wait_on(HOST_DAM, 1, DAM_REACTOR);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, load_run, &l), 0);
	for (int i = 0; i < 4 && !l.failures; i++) {
		int at = atomic_load(&l.rounds);
		switch_to("pqm", "q1:pqm+auth q2:pqm+auth", "hnvmf-r0");
		switch_to("dam", "q1:dam+auth q2:dam+auth", DAM_REACTOR);
		while (atomic_load(&l.rounds) < at + 1 && !l.failures)
			usleep(5000); /* a whole round between two changes */
	}
	atomic_store(&l.stop, true);
	pthread_join(t, NULL);
	if (l.failures)
		fail_msg("%s", l.why);
	assert_true(atomic_load(&l.rounds) >= 4);
	assert_true(queue(HOST_DAM, 1).ios > 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(l.c), 0);
}

/* A number of hnvmf_dam_get's answer: unit_iops (what one DAM unit was measured to sustain, 0:
 * not yet), used (units held). */
static uint64_t dam_get(const char *key)
{
	char out[4096], k[64];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_dam_get", NULL, out, sizeof(out)), 0);
	snprintf(k, sizeof(k), "\"%s\"", key);
	const char *p = strstr(out, k);
	if (!p)
		fail_msg("no %s in hnvmf_dam_get: %s", key, out);
	p = strchr(p, ':');
	return strtoull(p + 1, NULL, 10);
}

static uint64_t unit_iops(void) { return dam_get("unit_iops"); }

static void test_reservation_above_the_unit_is_logged(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	write_tenant("dam");
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect_key(H.port, SUBNQN, HOST_DAM, 2, key);
	wait_on(HOST_DAM, 1, DAM_REACTOR);
	wait_on(HOST_DAM, 2, DAM_REACTOR);
	/* 64 MiB written and read in 4 KiB ios: over 4096 completions on each queue, after which a
	 * running queue hands its rate to DAM */
	hnvmf_harness_verify(c, 0, 131072, 4096, 21);
	uint64_t unit = unit_iops();
	assert_true(unit > 0);
	/* dam_poll = auto (the default) on a RAM namespace: nothing to poll */
	assert_int_equal(dam_get("polled_queues"), 0);
	assert_int_equal(dam_get("polled_ios"), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	/* units go back once the queues' channels closed, and closing measured them once more */
	for (int i = 0; i < 500 && dam_get("used") > 0; i++)
		usleep(10000);
	assert_int_equal(dam_get("used"), 0);
	unit = unit_iops(); /* nothing runs any more: it stays */
	print_message("one DAM unit measured at %" PRIu64 " IOPS (ram namespace)\n", unit);

	char out[256], needle[512];
	uint64_t resv = unit * 2 + 1000;
	write_tenant_reserving("dam", resv);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	snprintf(needle, sizeof(needle),
		 "tenant " HOST_DAM ": reserved_iops %" PRIu64 " exceeds what one DAM unit was measured to "
		 "sustain (%" PRIu64 " IOPS)", resv, unit);
	if (!hnvmf_harness_log_wait(&H, needle, 5000))
		fail_msg("no \"%s\" in the log", needle);
	/* once: the same file again says nothing more */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	usleep(200000);
	char *log = hnvmf_harness_log(&H);
	const char *first = strstr(log, needle);
	assert_non_null(first);
	assert_null(strstr(first + 1, needle));
	free(log);
	/* a reservation the unit sustains is not logged */
	write_tenant_reserving("dam", unit / 2);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	usleep(200000);
	log = hnvmf_harness_log(&H);
	snprintf(needle, sizeof(needle), "reserved_iops %" PRIu64 " exceeds", unit / 2);
	assert_null(strstr(log, needle));
	free(log);
	write_tenant("dam");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dam_queue_runs_on_its_dam_reactor),
		cmocka_unit_test(test_moves_under_load_lose_nothing),
		cmocka_unit_test(test_reservation_above_the_unit_is_logged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
