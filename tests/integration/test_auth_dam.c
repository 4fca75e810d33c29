/* DH-HMAC-CHAP and DAM admission through the daemon, with the initiator library as the host:
 * a DAM tenant whose permission level is whitelisted authenticates every queue with its secret
 * and gets dedicated queues (`dam+auth` in the control socket's state) that carry correct data;
 * a wrong secret, no secret and a wrong controller secret are each refused, with the reason on
 * the side that detects it; every hash with the null / ffdhe2048 / ffdhe4096 groups, and the
 * larger groups with SHA-512, work; re-authentication of a live queue; a PQM tenant and a DAM
 * tenant verify data side by side; hnvmf-perf with secrets. Secrets are random for each run, written in
 * the DHHC-1 interchange format by proto/keyfmt's formatter. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:auth"
#define HOST_ONEWAY "nqn.2026-01.io.hnvmf.test:dam-oneway"
#define HOST_BIDI "nqn.2026-01.io.hnvmf.test:dam-bidi"
#define HOST_PQM "nqn.2026-01.io.hnvmf.test:pqm"
#define HOST_NARROW "nqn.2026-01.io.hnvmf.test:narrow"

static const char conf_template[] =
	"[global]\n"
	"default_mode = pqm\n"
	"dam_whitelist = 1, 2\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	"[pqm]\n"
	"cmax = 2\n"
	"epoch_ms = 20\n"
	HNVMF_CONF_IO_RAM0("64M", SUBNQN);

static struct hnvmf_harness H;
/* The tenants' secrets, and a few the target does not know. */
static char key_oneway[HNVMF_KEY_STR_MAX], key_bidi[HNVMF_KEY_STR_MAX], key_ctrl[HNVMF_KEY_STR_MAX];
static char key_other[HNVMF_KEY_STR_MAX], key_other_ctrl[HNVMF_KEY_STR_MAX];

static int setup(void **state)
{
	(void)state;
	hnvmf_harness_gen_key(false, 1, 32, key_oneway);
	hnvmf_harness_gen_key(false, 2, 48, key_bidi);
	hnvmf_harness_gen_key(false, 3, 64, key_ctrl);
	hnvmf_harness_gen_key(false, 1, 32, key_other);
	hnvmf_harness_gen_key(false, 0, 32, key_other_ctrl);
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	char file[1024];
	snprintf(file, sizeof(file),
		 "[tenant]\nhostnqn = " HOST_ONEWAY "\nsubsystems = " SUBNQN "\nmode = dam\n"
		 "permission_level = 1\ndhchap_secret = %s\n", key_oneway);
	if (hnvmf_harness_write_file(&H, "tenants/oneway.conf", file) != 0)
		return -1;
	snprintf(file, sizeof(file),
		 "[tenant]\nhostnqn = " HOST_BIDI "\nsubsystems = " SUBNQN "\nmode = dam\n"
		 "permission_level = 2\ndhchap_secret = %s\ndhchap_ctrl_secret = %s\n", key_bidi, key_ctrl);
	if (hnvmf_harness_write_file(&H, "tenants/bidi.conf", file) != 0)
		return -1;
	snprintf(file, sizeof(file),
		 "[tenant]\nhostnqn = " HOST_NARROW "\nsubsystems = " SUBNQN "\nmode = pqm\n"
		 "dhchap_secret = %s\ndhchap_hashes = sha256\ndhchap_dhgroups = ffdhe2048, null\n", key_oneway);
	if (hnvmf_harness_write_file(&H, "tenants/narrow.conf", file) != 0)
		return -1;
	if (hnvmf_harness_write_file(&H, "tenants/pqm.conf",
				     "[tenant]\nhostnqn = " HOST_PQM "\nsubsystems = " SUBNQN "\nmode = pqm\n") != 0)
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* Connects host with the given secrets (NULL = none) and I/O queues; the reason of a failure
 * into err. */
static int connect_host(const char *host, const char *secret, const char *ctrl_secret,
			unsigned nr_io, struct hnvmf_ini_ctrl **c, char *err, size_t errlen)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nr_io;
	o.io_depth = 32;
	o.dhchap_secret = secret;
	o.dhchap_ctrl_secret = ctrl_secret;
	o.err = err;
	o.err_len = errlen;
	err[0] = '\0';
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, host, &o, c);
}

/* Write-then-verify of blocks [slba, slba + nblocks) over every I/O queue of c. */
static void verify_range(struct hnvmf_ini_ctrl *c, uint64_t slba, uint64_t nblocks, uint64_t seed)
{
	hnvmf_harness_verify(c, slba, nblocks, 8192, seed);
}

static void test_dam_tenant_authenticates_and_gets_dam(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char err[256], line[1024];
	int r = connect_host(HOST_ONEWAY, key_oneway, NULL, 2, &c, err, sizeof(err));
	if (r)
		fail_msg("connect: %d %s", r, err);
	/* Every queue authenticated on its own and the I/O queues were admitted to DAM. */
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_ONEWAY, line, sizeof(line)));
	if (!strstr(line, "q1:dam+auth") || !strstr(line, "q2:dam+auth"))
		fail_msg("state: %s", line);
	char needle[256];
	snprintf(needle, sizeof(needle), "host %s (ctrl %u): authenticated", HOST_ONEWAY, c->cntlid);
	assert_true(hnvmf_harness_log_wait(&H, needle, 2000));
	verify_range(c, 0, 2048, 11);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_wrong_or_no_secret_is_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char err[256];
	/* A secret the target does not know: the controller answers the Reply with Failure1. */
	int r = connect_host(HOST_ONEWAY, key_other, NULL, 1, &c, err, sizeof(err));
	assert_int_equal(r, -EKEYREJECTED);
	assert_null(c);
	assert_non_null(strstr(err, "Failure1"));
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_ONEWAY " qid 0: DH-HMAC-CHAP transaction", 2000));
	assert_true(hnvmf_harness_log_wait(&H, "does not match its secret", 2000));

	/* No secret at all: the Connect says ATR and the host cannot go on. */
	r = connect_host(HOST_ONEWAY, NULL, NULL, 1, &c, err, sizeof(err));
	assert_int_equal(r, -EACCES);
	assert_non_null(strstr(err, "requires authentication"));

	/* A host that ignores ATR gets nothing but Authentication Send/Receive until it
	 * authenticates: not even Property Get/Set (tests/integration/test_auth_dos.c). */
	struct hnvmf_ini_queue_opts qo = { .depth = 4 };
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	uint8_t hostid[16];
	hnvmf_ini_hostid_from_nqn(HOST_ONEWAY, hostid);
	uint16_t cntlid = 0;
	assert_int_equal(hnvmf_ini_fabrics_connect(q, 0, 31, 10000, 0xFFFF, SUBNQN, HOST_ONEWAY,
						   hostid, &cntlid, 5000), -EACCES);
	static struct nvme_id_ctrl id;
	struct hnvmf_ini_io io = { .data = &id, .len = sizeof(id), .dir = HNVMF_INI_FROM_CTRL };
	hnvmf_sqe_identify(&io.sqe, NVME_IDENTIFY_CNS_CTRL, 0, 0);
	assert_int_equal(hnvmf_ini_exec(q, &io, 5000),
			 hnvmf_status(NVME_SCT_CMD_SPECIFIC, NVME_SC_AUTH_REQUIRED, 1));
	/* ... and the same queue authenticates late, then works. */
	struct hnvmf_ini_auth a;
	assert_int_equal(hnvmf_ini_auth_init(&a, key_oneway, NULL, NULL, 0, NULL, 0, HOST_ONEWAY,
					     SUBNQN, 7), 0);
	r = hnvmf_ini_auth_queue(q, &a, 5000);
	hnvmf_ini_auth_clear(&a);
	if (r) {
		hnvmf_ini_queue_close(q);
		fail_msg("auth: %d %s", r, a.why);
	}
	assert_int_equal(hnvmf_ini_prop_set(q, NVME_REG_CC, 4, (6u << 16) | (4u << 20) | 1u, 5000), 0);
	for (int i = 0; i < 100; i++) {
		uint64_t csts = 0;
		assert_int_equal(hnvmf_ini_prop_get(q, NVME_REG_CSTS, 4, &csts, 5000), 0);
		if (csts & 1)
			break;
		usleep(10000);
	}
	memset(&io, 0, sizeof(io));
	io.data = &id;
	io.len = sizeof(id);
	io.dir = HNVMF_INI_FROM_CTRL;
	hnvmf_sqe_identify(&io.sqe, NVME_IDENTIFY_CNS_CTRL, 0, 0);
	r = hnvmf_ini_exec(q, &io, 5000);
	hnvmf_ini_queue_close(q);
	assert_int_equal(r, 0);
	assert_memory_equal(id.subnqn, SUBNQN, strlen(SUBNQN));
}

static void test_bidirectional(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char err[256], line[1024];
	int r = connect_host(HOST_BIDI, key_bidi, key_ctrl, 2, &c, err, sizeof(err));
	if (r)
		fail_msg("connect: %d %s", r, err);
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_BIDI, line, sizeof(line)));
	if (!strstr(line, "q1:dam+auth") || !strstr(line, "q2:dam+auth"))
		fail_msg("state: %s", line);
	char needle[256];
	snprintf(needle, sizeof(needle), "host %s (ctrl %u): authenticated", HOST_BIDI, c->cntlid);
	assert_true(hnvmf_harness_log_wait(&H, needle, 2000));
	assert_true(hnvmf_harness_log_wait(&H, "controller authenticated too", 2000));
	verify_range(c, 4096, 1024, 12);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);

	/* The host expects another controller secret: R2 does not match, the host says Failure2. */
	r = connect_host(HOST_BIDI, key_bidi, key_other_ctrl, 1, &c, err, sizeof(err));
	assert_int_equal(r, -EBADE);
	assert_non_null(strstr(err, "R2"));
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_BIDI " qid 0: the host abandoned", 2000));

	/* Bidirectional with a tenant that has no controller secret: the controller refuses. */
	r = connect_host(HOST_ONEWAY, key_oneway, key_other_ctrl, 1, &c, err, sizeof(err));
	assert_int_equal(r, -EKEYREJECTED);
	assert_true(hnvmf_harness_log_wait(&H, "tenant has no dhchap_ctrl_secret", 2000));

	/* A host with secrets whose tenant asks for none is not challenged (no ATR), as with Linux. */
	r = connect_host(HOST_PQM, key_other, key_other_ctrl, 1, &c, err, sizeof(err));
	if (r)
		fail_msg("connect: %d %s", r, err);
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_PQM, line, sizeof(line)));
	assert_non_null(strstr(line, "q1:pqm"));
	assert_null(strstr(line, "+auth"));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_every_hash_and_group(void **state)
{
	(void)state;
	static const char *const hashes[] = { "sha256", "sha384", "sha512" };
	static const char *const groups[] = { "null", "ffdhe2048", "ffdhe4096", "ffdhe3072", "ffdhe6144",
					      "ffdhe8192" };
	for (unsigned h = 0; h < 3; h++) {
		/* The larger groups once, with SHA-512. */
		for (unsigned g = 0; g < (h == 2 ? 6u : 3u); g++) {
			struct hnvmf_ini_ctrl_opts o;
			hnvmf_ini_ctrl_opts_default(&o);
			o.nr_io_queues = 1;
			o.io_depth = 8;
			o.dhchap_secret = key_bidi;
			o.dhchap_ctrl_secret = key_ctrl;
			/* Offering one of each forces the controller's choice. */
			o.dhchap_hashes[0] = (uint8_t)hnvmf_ini_auth_hash_id(hashes[h]);
			o.nr_dhchap_hashes = 1;
			o.dhchap_groups[0] = (uint8_t)hnvmf_ini_auth_group_id(groups[g]);
			o.nr_dhchap_groups = 1;
			char err[256] = "";
			o.err = err;
			o.err_len = sizeof(err);
			struct hnvmf_ini_ctrl *c = NULL;
			int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, HOST_BIDI, &o, &c);
			if (r)
				fail_msg("%s %s: connect %d %s", hashes[h], groups[g], r, err);
			char needle[256];
			snprintf(needle, sizeof(needle), "host %s (ctrl %u): authenticated (%s, %s, controller",
				 HOST_BIDI, c->cntlid, hashes[h], groups[g]);
			if (!hnvmf_harness_log_wait(&H, needle, 2000))
				fail_msg("not in the log: %s", needle);
			char line[1024];
			assert_true(hnvmf_harness_ctrl_line(&H, HOST_BIDI, line, sizeof(line)));
			assert_non_null(strstr(line, "q1:dam+auth"));
			verify_range(c, 8192 + (h * 3 + g) * 64, 64, 100 + h * 3 + g);
			assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
		}
	}
}

/* A tenant whose file narrows the controller's choice (dhchap_hashes = sha256, dhchap_dhgroups =
 * ffdhe2048, null) gets exactly the strongest allowed pair though the host offers everything, as
 * the Linux host does; a host that offers only what the tenant does not allow is refused. */
static void test_tenant_narrows_the_choice(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char err[256], needle[256];
	int r = connect_host(HOST_NARROW, key_oneway, NULL, 1, &c, err, sizeof(err));
	if (r)
		fail_msg("connect: %d %s", r, err);
	snprintf(needle, sizeof(needle), "host %s (ctrl %u): authenticated (sha256, ffdhe2048)", HOST_NARROW,
		 c->cntlid);
	if (!hnvmf_harness_log_wait(&H, needle, 2000))
		fail_msg("not in the log: %s", needle);
	verify_range(c, 12288, 64, 77);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);

	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.dhchap_secret = key_oneway;
	o.dhchap_hashes[0] = (uint8_t)hnvmf_ini_auth_hash_id("sha512");
	o.nr_dhchap_hashes = 1;
	c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, HOST_NARROW, &o, &c), -EKEYREJECTED);
	assert_null(c);
}

/* Re-authentication on a live I/O queue, as Linux does when told to (sysfs): a new Negotiate
 * on an authenticated queue succeeds and I/O goes on; a failed one takes the authentication
 * away (I/O refused with Authentication Required) until a good one gives it back. */
static void test_reauthentication(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char err[256], line[1024];
	int r = connect_host(HOST_ONEWAY, key_oneway, NULL, 1, &c, err, sizeof(err));
	if (r)
		fail_msg("connect: %d %s", r, err);
	static uint8_t buf[4096];
	const char *keys[] = { key_oneway, key_other, key_oneway };
	const int want[] = { 0, -EKEYREJECTED, 0 };
	for (int i = 0; i < 3; i++) {
		struct hnvmf_ini_auth a;
		assert_int_equal(hnvmf_ini_auth_init(&a, keys[i], NULL, NULL, 0, NULL, 0, HOST_ONEWAY, SUBNQN,
						     c->auth_tid++), 0);
		r = hnvmf_ini_auth_queue(c->io[0], &a, 5000);
		hnvmf_ini_auth_clear(&a);
		if (r != want[i])
			fail_msg("re-authentication %d: %d, expected %d (%s)", i, r, want[i], a.why);
		r = hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf));
		if (want[i] == 0)
			assert_int_equal(r, 0);
		else
			assert_int_equal(r, hnvmf_status(NVME_SCT_CMD_SPECIFIC, NVME_SC_AUTH_REQUIRED, 1));
		/* The path chosen at the first authentication stays; only "+auth" follows. */
		assert_true(hnvmf_harness_ctrl_line(&H, HOST_ONEWAY, line, sizeof(line)));
		assert_non_null(strstr(line, want[i] == 0 ? "q1:dam+auth" : "q1:dam"));
		if (want[i] != 0)
			assert_null(strstr(line, "q1:dam+auth"));
	}
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

struct runner {
	const char *host, *secret;
	uint64_t slba;
	int rounds;
	struct hnvmf_ini_ctrl *c;
	char why[256];
	int failed;
	pthread_barrier_t *connected, *checked;
};

static void *run_verify(void *arg)
{
	struct runner *t = arg;
	int r = connect_host(t->host, t->secret, NULL, 2, &t->c, t->why, sizeof(t->why));
	if (r) {
		t->failed = 1;
		snprintf(t->why + strlen(t->why), sizeof(t->why) - strlen(t->why), " (connect %d)", r);
	}
	pthread_barrier_wait(t->connected);
	pthread_barrier_wait(t->checked); /* the main thread has seen both in `state` */
	struct hnvmf_ini_ns_info ns = { 0 };
	if (!t->failed && hnvmf_ini_ns_info(t->c, 1, &ns) != 0) {
		t->failed = 1;
		snprintf(t->why, sizeof(t->why), "ns info");
	}
	for (int round = 0; round < t->rounds && !t->failed; round++) {
		struct hnvmf_ini_verify_opts v = { .nsid = 1, .slba = t->slba, .nblocks = 8192,
						   .lba_size = ns.lba_size, .io_size = 4096, .qd = 16,
						   .seed = t->slba + (uint64_t)round, .write = true,
						   .read = true };
		struct hnvmf_ini_verify_result res = { 0 };
		if (hnvmf_ini_verify(t->c, &v, &res) != 0) {
			t->failed = 1;
			snprintf(t->why, sizeof(t->why), "round %d: %llu bad blocks, status %d", round,
				 (unsigned long long)res.bad_blocks, res.status);
		}
	}
	if (t->c && hnvmf_ini_ctrl_disconnect(t->c) != 0 && !t->failed) {
		t->failed = 1;
		snprintf(t->why, sizeof(t->why), "disconnect");
	}
	return NULL;
}

static void test_pqm_and_dam_side_by_side(void **state)
{
	(void)state;
	pthread_barrier_t connected, checked;
	pthread_barrier_init(&connected, NULL, 3);
	pthread_barrier_init(&checked, NULL, 3);
	struct runner t[2] = {
		{ .host = HOST_PQM, .secret = NULL, .slba = 32768, .rounds = 3 },
		{ .host = HOST_ONEWAY, .secret = key_oneway, .slba = 65536, .rounds = 3 },
	};
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		t[i].connected = &connected;
		t[i].checked = &checked;
		assert_int_equal(pthread_create(&th[i], NULL, run_verify, &t[i]), 0);
	}
	pthread_barrier_wait(&connected);
	char pqm_line[1024] = "", dam_line[1024] = "";
	bool seen_pqm = hnvmf_harness_ctrl_line(&H, HOST_PQM, pqm_line, sizeof(pqm_line));
	bool seen_dam = hnvmf_harness_ctrl_line(&H, HOST_ONEWAY, dam_line, sizeof(dam_line));
	pthread_barrier_wait(&checked);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&connected);
	pthread_barrier_destroy(&checked);
	for (int i = 0; i < 2; i++)
		if (t[i].failed)
			fail_msg("%s: %s", t[i].host, t[i].why);
	assert_true(seen_pqm && seen_dam);
	if (!strstr(pqm_line, "q1:pqm") || strstr(pqm_line, "+auth"))
		fail_msg("PQM tenant: %s", pqm_line);
	if (!strstr(dam_line, "q1:dam+auth") || !strstr(dam_line, "q2:dam+auth"))
		fail_msg("DAM tenant: %s", dam_line);
}

static void test_perf_cli_with_secrets(void **state)
{
	(void)state;
	static char out[65536];
	int r = hnvmf_harness_perf(out, sizeof(out),
			 "verify -s %u -n " SUBNQN " -q " HOST_BIDI " --dhchap-secret %s --dhchap-ctrl-secret %s"
			 " --dhchap-hash sha256 --dhchap-group ffdhe2048 --slba 16384 -c 2048 -i 2",
			 H.port, key_bidi, key_ctrl);
	if (r != 0)
		fail_msg("hnvmf-perf verify: exit %d\n%s", r, out);
	assert_true(hnvmf_harness_log_wait(&H, "(sha256, ffdhe2048, controller authenticated too)", 2000));
	/* Without the secret, and with a wrong one: a failed connect that says why. */
	r = hnvmf_harness_perf(out, sizeof(out), "identify -s %u -n " SUBNQN " -q " HOST_BIDI, H.port);
	assert_int_not_equal(r, 0);
	if (!strstr(out, "requires authentication"))
		fail_msg("no reason given:\n%s", out);
	r = hnvmf_harness_perf(out, sizeof(out), "identify -s %u -n " SUBNQN " -q " HOST_BIDI " --dhchap-secret %s",
		     H.port, key_other);
	assert_int_not_equal(r, 0);
	if (!strstr(out, "Failure1"))
		fail_msg("no reason given:\n%s", out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dam_tenant_authenticates_and_gets_dam),
		cmocka_unit_test(test_wrong_or_no_secret_is_refused),
		cmocka_unit_test(test_bidirectional),
		cmocka_unit_test(test_every_hash_and_group),
		cmocka_unit_test(test_tenant_narrows_the_choice),
		cmocka_unit_test(test_reauthentication),
		cmocka_unit_test(test_pqm_and_dam_side_by_side),
		cmocka_unit_test(test_perf_cli_with_secrets),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
