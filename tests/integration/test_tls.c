/* NVMe/TCP TLS through the daemon, with the initiator library as the host: a tenant with a
 * tls_psk connects over a `tls = yes` listener (identity versions 0 and 1) and its data reads
 * back as written; the discovery log gives the port TREQ "required" and sectype TLS 1.3 (read
 * in plain text from the discovery listener, and over TLS with hnvmf-perf discover); a wrong
 * key, plain text on the TLS port and a Connect naming another host than the TLS identity are
 * each refused; a DAM tenant proven by TLS alone gets dedicated queues. Keys are random for
 * each run, formatted by proto/keyfmt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:tls"
#define HOST_A "nqn.2026-01.io.hnvmf.test:tls-a"
#define HOST_B "nqn.2026-01.io.hnvmf.test:tls-b"
#define HOST_DAM "nqn.2026-01.io.hnvmf.test:tls-dam"

static const char conf_template[] =
	HNVMF_CONF_PQM_TENANTS
	"epoch_ms = 20\n"
	"[listener secure]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"tls = yes\n"
	"[listener disc]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n"
	"discovery = yes\n"
	HNVMF_CONF_RAM("ram0", "64M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN);

static struct hnvmf_harness H;
static char key_a[HNVMF_KEY_STR_MAX], key_b[HNVMF_KEY_STR_MAX], key_dam[HNVMF_KEY_STR_MAX];
static char key_other[HNVMF_KEY_STR_MAX];

static int write_tenant(const char *file, const char *host, const char *mode, const char *key)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\nmode = %s\npermission_level = 1\n"
		 "tls_psk = %s\n", host, mode, key);
	return hnvmf_harness_write_file(&H, file, text);
}

static int setup(void **state)
{
	(void)state;
	hnvmf_harness_gen_key(true, 1, 32, key_a);
	hnvmf_harness_gen_key(true, 2, 48, key_b);
	hnvmf_harness_gen_key(true, 1, 32, key_dam);
	hnvmf_harness_gen_key(true, 1, 32, key_other);
	if (hnvmf_harness_prepare(&H) != 0 || write_tenant("tenants/a.conf", HOST_A, "pqm", key_a) ||
	    write_tenant("tenants/b.conf", HOST_B, "pqm", key_b) ||
	    write_tenant("tenants/dam.conf", HOST_DAM, "dam", key_dam))
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static int connect_tls(const char *host, const char *subnqn, uint16_t port, const char *key,
		       int identity, unsigned nr_io, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nr_io;
	o.io_depth = 32;
	o.tls_key = key;
	o.tls_identity = identity;
	return hnvmf_ini_ctrl_connect("127.0.0.1", port, subnqn, host, &o, c);
}

static void test_tenant_over_tls(void **state)
{
	(void)state;
	/* v0 identity with a SHA-256 key; v1 with a SHA-384 key (TLS_AES_256_GCM_SHA384) */
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_tls(HOST_A, SUBNQN, H.port, key_a, 0, 2, &c), 0);
	hnvmf_harness_verify(c, 0, 4096, 4096, 21);        /* 4 KiB I/O, in-capsule writes */
	hnvmf_harness_verify(c, 8192, 8192, 256 * 1024, 22); /* 256 KiB: R2T, several records per PDU */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_true(hnvmf_harness_log_wait(&H, "TLS secured (TLS_AES_128_GCM_SHA256, host " HOST_A,
					   2000));

	assert_int_equal(connect_tls(HOST_B, SUBNQN, H.port, key_b, 1, 1, &c), 0);
	hnvmf_harness_verify(c, 20000, 2048, 128 * 1024, 23);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_true(hnvmf_harness_log_wait(&H, "TLS secured (TLS_AES_256_GCM_SHA384, host " HOST_B,
					   2000));
}

/* The I/O port's entry of a discovery log. */
static const struct nvmf_disc_log_entry *find_port(const struct nvmf_discovery_log *log,
						   uint16_t port, const char *subnqn)
{
	char svc[16];
	snprintf(svc, sizeof(svc), "%u", port);
	for (uint64_t i = 0; i < le64toh(log->numrec); i++) {
		const struct nvmf_disc_log_entry *e = &log->entries[i];
		if (!strncmp(e->trsvcid, svc, sizeof(e->trsvcid)) &&
		    !strncmp(e->subnqn, subnqn, sizeof(e->subnqn)))
			return e;
	}
	return NULL;
}

static void test_discovery_log_says_tls(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0;
	o.kato_ms = 0;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port,
						"nqn.2014-08.org.nvmexpress.discovery", HOST_A, &o,
						&c), 0);
	struct nvmf_discovery_log *log = NULL;
	assert_int_equal(hnvmf_ini_discovery_log(c, &log), 0);
	const struct nvmf_disc_log_entry *e = find_port(log, H.port, SUBNQN);
	assert_non_null(e);
	assert_int_equal(e->trtype, NVMF_TRTYPE_TCP);
	assert_int_equal(e->treq & 0x3, NVMF_TREQ_REQUIRED);
	assert_int_equal(e->tsas.tcp.sectype, NVMF_TCP_SECTYPE_TLS13);
	free(log);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);

	/* The same over TLS on the secure port, from the command line. */
	char out[8192];
	if (hnvmf_harness_perf(out, sizeof(out), "discover -s %u -q %s --tls-key '%s'", H.port, HOST_A, key_a))
		fail_msg("hnvmf-perf discover -s %u -q %s --tls-key: %s", H.port, HOST_A, out);
	char want[128];
	snprintf(want, sizeof(want), "treq:    0x1\nportid:  1\ntrsvcid: %u\nsubnqn:  " SUBNQN, H.port);
	if (!strstr(out, want) || !strstr(out, "sectype: 2"))
		fail_msg("discover over TLS: %s", out);
}

static void test_wrong_key_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_tls(HOST_A, SUBNQN, H.port, key_other, 0, 1, &c), -EKEYREJECTED);
	/* another tenant's key under this host's name is just as wrong */
	assert_int_equal(connect_tls(HOST_A, SUBNQN, H.port, key_dam, 1, 1, &c), -EKEYREJECTED);
	assert_true(hnvmf_harness_log_wait(&H, "does not match its configured PSK", 2000));
	/* a host without a tenant file has no PSK at all */
	assert_int_equal(connect_tls("nqn.2026-01.io.hnvmf.test:nobody", SUBNQN, H.port, key_a, 0,
				     1, &c), -EKEYREJECTED);
	assert_true(hnvmf_harness_log_wait(&H, "no PSK configured for host", 2000));
}

static void test_plain_text_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	assert_true(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, HOST_A, &o, &c) < 0);
	/* By hand: an ICReq is not a ClientHello; the connection is closed, nothing comes back. */
	int fd = hnvmf_raw_connect("127.0.0.1", H.port, 2000);
	assert_true(fd >= 0);
	struct hnvmf_tcp_icreq req;
	hnvmf_pdu_icreq(&req, false, false);
	assert_int_equal(hnvmf_raw_send(fd, &req, sizeof(req), 2000), 0);
	assert_int_equal(hnvmf_raw_wait_closed(fd, 5000), 0);
	close(fd);
}

static void test_connect_must_match_identity(void **state)
{
	(void)state;
	/* TLS as HOST_A (its key), then a Connect that names HOST_B. */
	struct hnvmf_ini_queue_opts qo = { .depth = 32, .timeout_ms = 5000, .tls_key = key_a,
					   .tls_hostnqn = HOST_A, .tls_subnqn = SUBNQN };
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	uint8_t hostid[16];
	hnvmf_ini_hostid_from_nqn(HOST_B, hostid);
	uint16_t cntlid = 0;
	int r = hnvmf_ini_fabrics_connect(q, 0, 31, 10000, 0xFFFF, SUBNQN, HOST_B, hostid, &cntlid,
					  5000);
	assert_true(r > 0);
	assert_int_equal(hnvmf_status_sct((uint16_t)r), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(hnvmf_status_sc((uint16_t)r), NVME_SC_CONNECT_INVALID_HOST);
	hnvmf_ini_queue_close(q);
	assert_true(hnvmf_harness_log_wait(&H, "does not match the TLS identity", 2000));

	/* and the matching Connect on a fresh connection succeeds */
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	hnvmf_ini_hostid_from_nqn(HOST_A, hostid);
	assert_int_equal(hnvmf_ini_fabrics_connect(q, 0, 31, 10000, 0xFFFF, SUBNQN, HOST_A, hostid,
						   &cntlid, 5000), 0);
	hnvmf_ini_queue_close(q);
}

/* How often needle is in hnvmfd's log so far. */
static int log_count(const char *needle)
{
	char *log = hnvmf_harness_log(&H);
	int n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p++)
		n++;
	free(log);
	return n;
}

/* hnvmf-perf with a version 0 identity (what the reference initiator and nvme-cli send), its
 * TLS PSK derived with either HkdfLabel encoding: hnvmfd tells them apart by the ClientHello's
 * binder and completes I/O for both, SHA-256 and SHA-384 keys alike. */
static void test_perf_either_psk_encoding(void **state)
{
	(void)state;
	const char *encs[] = { "rfc8446", "libnvme-compat" };
	const struct {
		const char *host, *key;
	} tenants[] = { { HOST_A, key_a }, { HOST_B, key_b } };
	for (int t = 0; t < 2; t++) {
		for (int e = 0; e < 2; e++) {
			char needle[256], out[8192];
			snprintf(needle, sizeof(needle), "host %s, PSK derived %s)", tenants[t].host,
				 encs[e]);
			int before = log_count(needle);
			int rc = hnvmf_harness_perf(out, sizeof(out),
						    "perf -s %u -n " SUBNQN " -q %s --tls-key '%s' "
						    "--tls-psk-encoding %s --time 1 -Q 4 -z 4k --json",
						    H.port, tenants[t].host, tenants[t].key, encs[e]);
			if (rc == -2)
				skip();
			if (rc || !strstr(out, "\"errors\":0"))
				fail_msg("hnvmf-perf --tls-psk-encoding %s as %s: rc %d: %s", encs[e],
					 tenants[t].host, rc, out);
			const char *p = strstr(out, "\"reads\":");
			assert_non_null(p);
			assert_true(strtoull(p + 8, NULL, 10) > 0);
			/* the daemon logged the encoding it found (the admin and the I/O queue) */
			for (int ms = 0; ms < 2000 && log_count(needle) < before + 2; ms += 10)
				usleep(10000);
			if (log_count(needle) < before + 2)
				fail_msg("hnvmfd did not log '%s' twice", needle);
		}
	}
}

/* TLS proves the host's identity, so a whitelisted DAM tenant without DH-HMAC-CHAP gets
 * dedicated queues, run to completion on a DAM reactor. */
static void test_dam_over_tls(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_tls(HOST_DAM, SUBNQN, H.port, key_dam, 1, 2, &c), 0);
	char line[1024];
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_DAM, line, sizeof(line)));
	if (!strstr(line, "q1:dam") || !strstr(line, "q2:dam"))
		fail_msg("DAM tenant over TLS not in DAM: %s", line);
	hnvmf_harness_verify(c, 40000, 4096, 64 * 1024, 24);
	/* Each queue moved, TLS state and all, onto a DAM reactor (without dam_cpus: beside the
	 * shared one), which ran its ios to completion. */
	for (unsigned qid = 1; qid <= 2; qid++) {
		struct hnvmf_harness_queue q;
		assert_true(hnvmf_harness_queue_info(&H, HOST_DAM, qid, &q));
		assert_string_equal(q.reactor, "hnvmf-dam-r0");
		assert_true(q.ios > 0);
		assert_int_equal(q.hops, 0);
	}
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_over_tls),
		cmocka_unit_test(test_discovery_log_says_tls),
		cmocka_unit_test(test_wrong_key_refused),
		cmocka_unit_test(test_plain_text_refused),
		cmocka_unit_test(test_connect_must_match_identity),
		cmocka_unit_test(test_dam_over_tls),
		cmocka_unit_test(test_perf_either_psk_encoding),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
