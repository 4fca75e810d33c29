/* Connect admission of a TLS-only tenant (a tenant whose credential is a tls_psk) on a subsystem
 * exported on a plain and a TLS listener: over plain TCP its admin Connect is refused, and so is a
 * plain I/O queue Connect to its live TLS controller; a TLS connection whose PSK identity is another
 * tenant's is refused on the admin and on the I/O queue; `hnvmfd --check` warns about the plain
 * listener. Raw NVMe/TCP queues from the initiator library play the host. */
#include <errno.h>
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

#define SUBNQN "nqn.2026-01.io.hnvmf:adm"
#define HOST_A "nqn.2026-01.io.hnvmf.test:adm-a"
#define HOST_B "nqn.2026-01.io.hnvmf.test:adm-b"

/* Both listeners export the subsystem (no "listeners ="), as in conf/examples/hnvmf.conf. */
static const char conf_fmt[] =
	"[global]\n"
	"tenants_dir = %s/tenants\n"
	"[listener plain]\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"[listener secure]\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n" /* the harness's second port */
	"tls = yes\n"
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN);

static struct hnvmf_harness H;
static char conf_text[2048];
static uint16_t tls_port;
static char key_a[HNVMF_KEY_STR_MAX], key_b[HNVMF_KEY_STR_MAX];

static int write_tenant(const char *file, const char *host, const char *key)
{
	char text[1024];
	snprintf(text, sizeof(text), "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\ntls_psk = %s\n", host, key);
	return hnvmf_harness_write_file(&H, file, text);
}

static int setup(void **state)
{
	(void)state;
	hnvmf_harness_gen_key(true, 1, 32, key_a);
	hnvmf_harness_gen_key(true, 1, 32, key_b);
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	tls_port = H.disc_port;
	snprintf(conf_text, sizeof(conf_text), conf_fmt, H.dir);
	if (write_tenant("tenants/a.conf", HOST_A, key_a) || write_tenant("tenants/b.conf", HOST_B, key_b) ||
	    hnvmf_harness_start(&H, conf_text))
		return -1;
	/* The harness waits for the first listener only. */
	for (int i = 0; i < 500; i++) {
		int fd = hnvmf_raw_connect("127.0.0.1", tls_port, 1000);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	char *log = hnvmf_harness_log(&H);
	fprintf(stderr, "the TLS listener on port %u does not accept; hnvmfd's log:\n%s\n", tls_port, log ? log : "");
	free(log);
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* One queue: TLS with host's identity and key when key is not NULL, plain TCP otherwise. */
static struct hnvmf_ini_queue *open_queue(uint16_t port, const char *key, const char *id_host)
{
	struct hnvmf_ini_queue_opts qo = { .depth = 32, .timeout_ms = 5000, .tls_key = key,
					   .tls_hostnqn = id_host, .tls_subnqn = SUBNQN };
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", port, &qo, &q), 0);
	return q;
}

/* Fabrics Connect of qid on q as host; returns the NVMe status (0 = connected). */
static int connect_queue(struct hnvmf_ini_queue *q, uint16_t qid, uint16_t cntlid, const char *host)
{
	uint8_t hostid[16];
	hnvmf_ini_hostid_from_nqn(host, hostid);
	uint16_t got = 0;
	return hnvmf_ini_fabrics_connect(q, qid, 31, qid ? 0 : 10000, cntlid, SUBNQN, host, hostid,
					 &got, 5000);
}

static void assert_invalid_host(int st)
{
	if (st <= 0)
		fail_msg("Connect answered %d, expected Connect Invalid Host", st);
	assert_int_equal(hnvmf_status_sct((uint16_t)st), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_CONNECT_INVALID_HOST);
}

/* A controller of HOST_A over TLS, no I/O queues yet (max_io_queues 8 are allowed). */
static struct hnvmf_ini_ctrl *tls_ctrl(void)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0;
	o.tls_key = key_a;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", tls_port, SUBNQN, HOST_A, &o, &c), 0);
	return c;
}

static void test_plain_admin_connect_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_queue *q = open_queue(H.port, NULL, NULL);
	assert_invalid_host(connect_queue(q, 0, 0xFFFF, HOST_A));
	hnvmf_ini_queue_close(q);
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_A " has a TLS PSK: refused on a connection without TLS",
					   2000));
}

static void test_plain_io_queue_to_tls_ctrl_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = tls_ctrl();
	struct hnvmf_ini_queue *q = open_queue(H.port, NULL, NULL);
	assert_invalid_host(connect_queue(q, 1, c->cntlid, HOST_A));
	hnvmf_ini_queue_close(q);
	/* The same I/O queue over TLS with the tenant's own identity is welcome. */
	q = open_queue(tls_port, key_a, HOST_A);
	assert_int_equal(connect_queue(q, 1, c->cntlid, HOST_A), 0);
	hnvmf_ini_queue_close(q);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_other_tenant_identity_refused(void **state)
{
	(void)state;
	/* HOST_B's key and identity, HOST_A's name in the Connect: admin queue ... */
	struct hnvmf_ini_queue *q = open_queue(tls_port, key_b, HOST_B);
	assert_invalid_host(connect_queue(q, 0, 0xFFFF, HOST_A));
	hnvmf_ini_queue_close(q);
	assert_true(hnvmf_harness_log_wait(&H, "does not match the TLS identity", 2000));
	/* ... and an I/O queue of HOST_A's live controller. */
	struct hnvmf_ini_ctrl *c = tls_ctrl();
	q = open_queue(tls_port, key_b, HOST_B);
	assert_invalid_host(connect_queue(q, 1, c->cntlid, HOST_A));
	hnvmf_ini_queue_close(q);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_check_warns_plain_listener(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(hnvmf_harness_check(conf_text, &out), 0);
	assert_non_null(out);
	if (!strstr(out, "a.conf: warning: tenant " HOST_A " has a tls_psk, but subsystem " SUBNQN
			 " is exported on listener plain without TLS"))
		fail_msg("--check said: %s", out);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_admin_connect_refused),
		cmocka_unit_test(test_plain_io_queue_to_tls_ctrl_refused),
		cmocka_unit_test(test_other_tenant_identity_refused),
		cmocka_unit_test(test_check_warns_plain_listener),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
