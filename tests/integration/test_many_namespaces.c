/* An I/O server serves any number of namespaces: 64 namespaces on one subsystem and 16 on
 * another, each written and read back by three tenants at once, one in each engine mode that
 * runs on I/O servers - PQM (a pool of 2 servers, each seeing all 80 backends), DAM (granted to an
 * authenticated tenant whose permission level is whitelisted) and baseline (one adapter per
 * namespace). Every block must read back as written and the daemon must stop cleanly. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUB_A "nqn.2026-01.io.hnvmf:many-a"
#define SUB_B "nqn.2026-01.io.hnvmf:many-b"
#define NS_A 64
#define NS_B 16
#define NTENANTS 3
#define BLOCKS_PER_TENANT 512 /* of 512 bytes, in each 1 MiB namespace */

static struct hnvmf_harness H;
static char dam_secret[HNVMF_KEY_STR_MAX];

struct tenant {
	const char *mode, *want; /* the tenant file's mode; what `state` shows for its queues */
	char hostnqn[128];
	const char *secret;
	pthread_t thread;
	char why[256]; /* empty: no failure */
	unsigned verified; /* namespaces */
};

static struct tenant tenants[NTENANTS] = {
	{.mode = "pqm", .want = "q1:pqm"},
	{.mode = "dam", .want = "q1:dam+auth"},
	{.mode = "baseline", .want = "q1:baseline"},
};

/* Connects to subnqn, checks the queues' mode, write-then-verifies the tenant's range of every
 * namespace 1..nns. false with t->why set on the first failure. */
static bool run_subsystem(struct tenant *t, const char *subnqn, unsigned nns)
{
	int idx = (int)(t - tenants);
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 2;
	o.io_depth = 16;
	o.dhchap_secret = t->secret;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, subnqn, t->hostnqn, &o, &c);
	if (r) {
		snprintf(t->why, sizeof(t->why), "%s: connect: %d", subnqn, r);
		return false;
	}
	char line[1024];
	if (!hnvmf_harness_ctrl_line(&H, t->hostnqn, line, sizeof(line)) || !strstr(line, t->want))
		snprintf(t->why, sizeof(t->why), "%s: queues not in %s: %s", subnqn, t->want, line);
	for (unsigned nsid = 1; nsid <= nns && !t->why[0]; nsid++) {
		struct hnvmf_ini_ns_info ns;
		if (hnvmf_ini_ns_info(c, nsid, &ns) != 0) {
			snprintf(t->why, sizeof(t->why), "%s ns %u: no namespace", subnqn, nsid);
			break;
		}
		struct hnvmf_ini_verify_opts v = {.nsid = nsid, .slba = (uint64_t)idx * BLOCKS_PER_TENANT,
						  .nblocks = BLOCKS_PER_TENANT, .lba_size = ns.lba_size,
						  .io_size = 4096, .qd = 4, .seed = nsid * 10u + (unsigned)idx + 1,
						  .write = true, .read = true};
		struct hnvmf_ini_verify_result res = {0};
		if (hnvmf_ini_verify(c, &v, &res) != 0 || !res.writes || !res.reads)
			snprintf(t->why, sizeof(t->why), "%s ns %u: %llu bad blocks, status %d", subnqn, nsid,
				 (unsigned long long)res.bad_blocks, res.status);
		else
			t->verified++;
	}
	if (hnvmf_ini_ctrl_disconnect(c) != 0 && !t->why[0])
		snprintf(t->why, sizeof(t->why), "%s: disconnect", subnqn);
	return !t->why[0];
}

static void *tenant_run(void *arg)
{
	struct tenant *t = arg;
	if (run_subsystem(t, SUB_A, NS_A))
		run_subsystem(t, SUB_B, NS_B);
	return NULL;
}

static void append(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len - used);
}

static void test_many_namespaces_in_every_mode(void **state)
{
	(void)state;
	struct hnvmf_key k = {.len = 32, .hmac = 1};
	assert_int_equal(RAND_bytes(k.data, (int)k.len), 1);
	assert_int_equal(hnvmf_dhchap_key_format(&k, dam_secret, sizeof(dam_secret)), 0);
	hnvmf_key_wipe(&k);

	static char conf[32768];
	conf[0] = '\0';
	append(conf, sizeof(conf),
	       "[global]\ndefault_mode = pqm\ndam_whitelist = 1\ntenants_dir = tenants\n"
	       "control_socket = @DIR@/ctl.sock\n"
	       "[pqm]\ncmax = 2\nbaseline_servers = 1\n"
	       "[listener io]\ntransport = tcp\naddress = 127.0.0.1\nport = @PORT@\n");
	for (int i = 0; i < NS_A + NS_B; i++)
		append(conf, sizeof(conf), "[backend r%d]\ntype = ram\nsize = 1M\n", i);
	append(conf, sizeof(conf), "[subsystem " SUB_A "]\n");
	for (int i = 0; i < NS_A; i++)
		append(conf, sizeof(conf), "namespace = %d:r%d\n", i + 1, i);
	append(conf, sizeof(conf), "[subsystem " SUB_B "]\n");
	for (int i = 0; i < NS_B; i++)
		append(conf, sizeof(conf), "namespace = %d:r%d\n", i + 1, NS_A + i);

	assert_int_equal(hnvmf_harness_prepare(&H), 0);
	for (int i = 0; i < NTENANTS; i++) {
		struct tenant *t = &tenants[i];
		snprintf(t->hostnqn, sizeof(t->hostnqn), "nqn.2026-01.io.hnvmf.test:many-%s", t->mode);
		t->secret = strcmp(t->mode, "dam") == 0 ? dam_secret : NULL;
		char file[512], rel[64];
		snprintf(file, sizeof(file), "[tenant]\nhostnqn = %s\nsubsystems = " SUB_A ", " SUB_B "\nmode = %s\n%s%s%s",
			 t->hostnqn, t->mode, t->secret ? "permission_level = 1\ndhchap_secret = " : "",
			 t->secret ? t->secret : "", t->secret ? "\n" : "");
		snprintf(rel, sizeof(rel), "tenants/%s.conf", t->mode);
		assert_int_equal(hnvmf_harness_write_file(&H, rel, file), 0);
	}
	assert_int_equal(hnvmf_harness_start(&H, conf), 0);
	for (int i = 0; i < NTENANTS; i++)
		assert_int_equal(pthread_create(&tenants[i].thread, NULL, tenant_run, &tenants[i]), 0);
	for (int i = 0; i < NTENANTS; i++)
		pthread_join(tenants[i].thread, NULL);
	for (int i = 0; i < NTENANTS; i++) {
		if (tenants[i].why[0])
			fail_msg("%s tenant: %s", tenants[i].mode, tenants[i].why);
		assert_int_equal(tenants[i].verified, NS_A + NS_B);
	}
	assert_int_equal(hnvmf_harness_stop(&H), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_many_namespaces_in_every_mode)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
