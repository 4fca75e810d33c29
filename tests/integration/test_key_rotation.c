/* Key rotation with a grace period (docs/auth.md, "Key rotation"), against the daemon with the
 * initiator library as the host. A reload that replaces a tenant's DH-HMAC-CHAP pair or TLS PSK
 * keeps the replaced one accepted for key_grace_s: during it both keys authenticate (and the
 * previous host secret gets the previous controller secret, never a mix); with grace 0, or after
 * the period, only the new one; a key whose tenant turned authentication off, or whose tenant file
 * was removed, gets no grace when it comes back. The control socket's state counts the
 * authentications made with a previous key. Keys are random for each run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:keys"
#define HOST_DH "nqn.2026-01.io.hnvmf.test:keys-dh"
#define HOST_TLS "nqn.2026-01.io.hnvmf.test:keys-tls"
#define LONG_GRACE 600 /* seconds: longer than any test step, however loaded the machine */

/* The plain listener (@PORT@) for DH-HMAC-CHAP, a TLS one (@DISC_PORT@) for the PSK tenant, the
 * metrics endpoint on metrics_port; no back-off: the tests fail authentications on purpose. */
static const char conf_template[] =
	"[global]\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	"[metrics]\n"
	"listen = 127.0.0.1:%u\n"
	"[limits]\n"
	"auth_max_failures = 1000000\n"
	HNVMF_CONF_LISTENER_IO
	"[listener secure]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n"
	"tls = yes\n"
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN);

static struct hnvmf_harness H;
static uint16_t metrics_port;

/* Generations of keys: host secret, controller secret, TLS PSK. */
#define GENS 8
static char dh[GENS][HNVMF_KEY_STR_MAX], dc[GENS][HNVMF_KEY_STR_MAX], psk[GENS][HNVMF_KEY_STR_MAX];

/* The DH-HMAC-CHAP tenant with generation g of its pair (g < 0: authentication turned off). */
static void write_dh_tenant(int g, unsigned grace)
{
	char text[1024];
	int n = snprintf(text, sizeof(text), "[tenant]\nhostnqn = " HOST_DH "\nsubsystems = " SUBNQN "\n"
			 "key_grace_s = %u\n", grace);
	if (g >= 0)
		snprintf(text + n, sizeof(text) - (size_t)n, "dhchap_secret = %s\ndhchap_ctrl_secret = %s\n", dh[g],
			 dc[g]);
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/dh.conf", text), 0);
}

static void write_tls_tenant(int g, unsigned grace)
{
	char text[1024];
	snprintf(text, sizeof(text), "[tenant]\nhostnqn = " HOST_TLS "\nsubsystems = " SUBNQN "\n"
		 "key_grace_s = %u\ntls_psk = %s\n", grace, psk[g]);
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/tls.conf", text), 0);
}

static void reload(void)
{
	char out[1024];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
}

/* Connects (bidirectional when ctrl is given), writes and reads back a block, disconnects:
 * 0, or the connect's error. */
static int dh_session(const char *host_secret, const char *ctrl_secret)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.dhchap_secret = host_secret;
	o.dhchap_ctrl_secret = ctrl_secret;
	/* the cheapest exchange: the keys are the subject, not the DH */
	o.dhchap_hashes[0] = (uint8_t)hnvmf_ini_auth_hash_id("sha256");
	o.nr_dhchap_hashes = 1;
	o.dhchap_groups[0] = (uint8_t)hnvmf_ini_auth_group_id("null");
	o.nr_dhchap_groups = 1;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, HOST_DH, &o, &c);
	if (r < 0)
		return r;
	hnvmf_harness_verify(c, 0, 8, 4096, 5);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	return 0;
}

static int tls_session(const char *key, int identity)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.tls_key = key;
	o.tls_identity = identity;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port, SUBNQN, HOST_TLS, &o, &c);
	if (r < 0)
		return r;
	hnvmf_harness_verify(c, 64, 8, 4096, 6);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	return 0;
}

/* nvmf_get_stats' auth.key_rotation: hosts in grace, authentications with a previous key. */
static void keys_state(unsigned *in_grace, unsigned *dh_used, unsigned *tls_used)
{
	static char out[1 << 20];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_stats", NULL, out, sizeof(out)), 0);
	const char *l = strstr(out, "\"key_rotation\":");
	assert_non_null(l);
	assert_int_equal(sscanf(l, "\"key_rotation\":{\"hosts_in_grace\":%u,\"previous_used_dhchap\":%u,\"previous_used_tls\":%u",
				in_grace, dh_used, tls_used),
			 3);
}

/* The value of the metrics endpoint's hnvmf_auth_previous_key_total{kind="kind"}. */
static unsigned metric_previous_key(const char *kind)
{
	char out[256];
	int r = hnvmf_harness_sh(out, sizeof(out),
				 "curl -sf --max-time 5 http://127.0.0.1:%u/metrics | "
				 "sed -n 's/^hnvmf_auth_previous_key_total{kind=\"%s\"} //p'",
				 metrics_port, kind);
	assert_int_equal(r, 0);
	unsigned v;
	if (sscanf(out, "%u", &v) != 1)
		fail_msg("no hnvmf_auth_previous_key_total{kind=\"%s\"}: '%s'", kind, out);
	return v;
}

static void wait_grace_over(void)
{
	unsigned g = 1, d, t;
	for (int i = 0; i < 3000 && g; i++) {
		keys_state(&g, &d, &t);
		if (g)
			usleep(10000);
	}
	assert_int_equal(g, 0);
}

static void test_dhchap_both_keys_during_grace(void **state)
{
	(void)state;
	write_dh_tenant(0, LONG_GRACE);
	reload();
	assert_int_equal(dh_session(dh[0], dc[0]), 0);
	unsigned g0, d0, t0, g, d, t;
	keys_state(&g0, &d0, &t0);

	write_dh_tenant(1, LONG_GRACE);
	reload();
	assert_int_equal(dh_session(dh[1], dc[1]), 0); /* the new pair */
	assert_int_equal(dh_session(dh[1], NULL), 0);
	keys_state(&g, &d, &t);
	assert_int_equal(d, d0); /* the new key is not counted as the previous one */
	assert_int_equal(dh_session(dh[0], dc[0]), 0); /* the previous pair, bidirectional */
	assert_int_equal(dh_session(dh[0], NULL), 0);
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_DH ": authenticated with its previous DH-HMAC-CHAP secret",
					   2000));
	keys_state(&g, &d, &t);
	assert_int_equal(d, d0 + 4); /* two sessions of two queues, each queue authenticates */
	assert_true(g >= 1);
	assert_int_equal(metric_previous_key("dhchap"), d);
	/* Never a mix: the previous host secret is answered with the previous controller secret,
	 * which a host holding the new one refuses (and the other way round). */
	assert_true(dh_session(dh[0], dc[1]) < 0);
	assert_true(dh_session(dh[1], dc[0]) < 0);
	assert_true(dh_session(dh[2], NULL) < 0); /* a key of neither generation */
	/* An unrelated reload (the file rewritten unchanged) keeps the period running. */
	write_dh_tenant(1, LONG_GRACE);
	reload();
	assert_int_equal(dh_session(dh[0], dc[0]), 0);
}

/* The same rotation through the control API: hnvmf_host_set_key with key_grace_s writes the new
 * pair and the period into the tenant file and reloads; both pairs authenticate after it. */
static void test_api_rotation_with_grace(void **state)
{
	(void)state;
	write_dh_tenant(4, 0);
	reload();
	assert_int_equal(dh_session(dh[4], dc[4]), 0);
	char params[1024], out[4096];
	snprintf(params, sizeof(params),
		 "{\"hostnqn\":\"" HOST_DH "\",\"dhchap_secret\":\"%s\",\"dhchap_ctrl_secret\":\"%s\",\"key_grace_s\":%u}",
		 dh[5], dc[5], LONG_GRACE);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_host_set_key", params, out, sizeof(out)), 0);
	assert_int_equal(dh_session(dh[5], dc[5]), 0); /* the new pair */
	assert_int_equal(dh_session(dh[4], dc[4]), 0); /* the replaced pair, in its grace period */
	/* a grace period alone is not a key change */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_host_set_key", "{\"hostnqn\":\"" HOST_DH "\",\"key_grace_s\":5}",
					   out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "which key?"));
}

static void test_dhchap_grace_zero_refuses_old_key(void **state)
{
	(void)state;
	write_dh_tenant(2, 0);
	reload();
	assert_int_equal(dh_session(dh[2], dc[2]), 0);
	assert_true(dh_session(dh[1], dc[1]) < 0);
	assert_true(dh_session(dh[1], NULL) < 0);
}

/* Authentication turned off, then on again with a new key: the key in force before is not
 * accepted, though a grace period was asked (it was removed on purpose). Likewise for a tenant
 * file removed and written again. */
static void test_removed_key_gets_no_grace(void **state)
{
	(void)state;
	write_dh_tenant(3, LONG_GRACE);
	reload();
	write_dh_tenant(-1, LONG_GRACE);
	reload();
	write_dh_tenant(4, LONG_GRACE);
	reload();
	assert_int_equal(dh_session(dh[4], dc[4]), 0);
	assert_true(dh_session(dh[3], dc[3]) < 0);

	char path[600];
	snprintf(path, sizeof(path), "%s/tenants/dh.conf", H.dir);
	assert_int_equal(unlink(path), 0);
	reload();
	write_dh_tenant(5, LONG_GRACE);
	reload();
	assert_int_equal(dh_session(dh[5], dc[5]), 0);
	assert_true(dh_session(dh[4], dc[4]) < 0);
}

static void test_tls_both_psks_during_grace(void **state)
{
	(void)state;
	unsigned g, d, t0, t;
	keys_state(&g, &d, &t0);
	write_tls_tenant(1, LONG_GRACE);
	reload();
	assert_int_equal(tls_session(psk[1], 0), 0);
	assert_int_equal(tls_session(psk[1], 1), 0);
	keys_state(&g, &d, &t);
	assert_int_equal(t, t0);
	assert_int_equal(tls_session(psk[0], 0), 0); /* identity v0: the binder tells */
	assert_int_equal(tls_session(psk[0], 1), 0); /* identity v1: its digest tells */
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_TLS ": authenticated with its previous TLS PSK", 2000));
	keys_state(&g, &d, &t);
	assert_int_equal(t, t0 + 4); /* two sessions of two queues, each queue a TLS connection */
	assert_int_equal(metric_previous_key("tls"), t);
	assert_true(tls_session(psk[2], 0) < 0);

	write_tls_tenant(2, 0); /* grace 0: the previous PSK goes at once */
	reload();
	assert_int_equal(tls_session(psk[2], 0), 0);
	assert_true(tls_session(psk[1], 0) < 0);
	assert_true(tls_session(psk[1], 1) < 0);
}

/* A short period, for both kinds of key: once it is over only the new keys authenticate. */
static void test_after_grace_only_new_key(void **state)
{
	(void)state;
	write_dh_tenant(6, 1);
	write_tls_tenant(6, 1);
	reload();
	write_dh_tenant(7, 1);
	write_tls_tenant(7, 1);
	reload();
	wait_grace_over();
	assert_true(dh_session(dh[6], dc[6]) < 0);
	assert_true(dh_session(dh[6], NULL) < 0);
	assert_true(tls_session(psk[6], 0) < 0);
	assert_int_equal(dh_session(dh[7], dc[7]), 0);
	assert_int_equal(tls_session(psk[7], 1), 0);
}

static int setup(void **state)
{
	(void)state;
	for (int g = 0; g < GENS; g++) {
		hnvmf_harness_gen_key(false, 1, 32, dh[g]);
		hnvmf_harness_gen_key(false, 2, 48, dc[g]);
		hnvmf_harness_gen_key(true, 1, 32, psk[g]);
	}
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	write_dh_tenant(0, LONG_GRACE);
	write_tls_tenant(0, LONG_GRACE);
	metrics_port = hnvmf_harness_free_port();
	static char conf[4096];
	snprintf(conf, sizeof(conf), conf_template, metrics_port);
	/* The I/O port accepts before the control socket listens: "ready" comes after both. */
	if (hnvmf_harness_start(&H, conf) != 0 || !hnvmf_harness_log_wait(&H, "ready (", 10000))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dhchap_both_keys_during_grace),
		cmocka_unit_test(test_api_rotation_with_grace),
		cmocka_unit_test(test_dhchap_grace_zero_refuses_old_key),
		cmocka_unit_test(test_removed_key_gets_no_grace),
		cmocka_unit_test(test_tls_both_psks_during_grace),
		cmocka_unit_test(test_after_grace_only_new_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
