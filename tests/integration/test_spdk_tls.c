/* NVMe/TCP TLS against the reference implementation, both ways, when an SPDK build tree is
 * named by the environment variable HNVMF_SPDK_DIR (ctest passes it through; cmake
 * -DHNVMF_SPDK_DIR=... sets it for the test), else skipped:
 *  - SPDK's initiator `spdk_nvme_perf -S ssl --psk-path` (version 0 identity, RFC 8446 HkdfLabel)
 *    against hnvmfd with two TLS tenants (an hh 01 and an hh 02 key: both cipher suites): it
 *    completes I/O, and hnvmfd logs the suite and the encoding it found;
 *  - hnvmf-perf against SPDK's `nvmf_tgt` with a secure-channel listener (configured with
 *    scripts/rpc.py as SPDK's test/nvmf/target/tls.sh does): --tls-psk-encoding rfc8446
 *    completes I/O; libnvme-compat is refused, as SPDK derives only the RFC 8446 way.
 * Both SPDK programs run without hugepages (--no-huge -s 1024), on loopback ports the harness
 * picks. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:spdk-tls"
#define HOST_256 "nqn.2026-01.io.hnvmf.test:spdk-sha256"
#define HOST_384 "nqn.2026-01.io.hnvmf.test:spdk-sha384"

static const char conf_template[] =
	"[global]\n"
	"default_mode = direct\n"
	"tenants_dir = tenants\n"
	"[listener secure]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"tls = yes\n"
	HNVMF_CONF_RAM("ram0", "64M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN);

static struct hnvmf_harness H;
static char spdk[512]; /* the SPDK tree, "" when absent */
/* One host per TLS cipher suite: a configured PSK with hh 01 (32 bytes, TLS_AES_128_GCM_SHA256)
 * and one with hh 02 (48 bytes, TLS_AES_256_GCM_SHA384). The PSK files are DIR/psk0, DIR/psk1. */
static struct {
	const char *host;
	int hh;
	size_t len;
	char key[HNVMF_KEY_STR_MAX];
} hosts[] = { { HOST_256, 1, 32, "" }, { HOST_384, 2, 48, "" } };

static bool have(const char *bin)
{
	char path[768];
	snprintf(path, sizeof(path), "%s/build/bin/%s", spdk, bin);
	return spdk[0] && access(path, X_OK) == 0;
}

static int setup(void **state)
{
	(void)state;
	const char *d = getenv("HNVMF_SPDK_DIR");
	snprintf(spdk, sizeof(spdk), "%s", d ? d : "");
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		/* SPDK and hnvmfd read the same interchange string. */
		hnvmf_harness_gen_key(true, hosts[i].hh, hosts[i].len, hosts[i].key);
		char tenant[1024], name[64];
		snprintf(tenant, sizeof(tenant), "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN
			 "\ntls_psk = %s\n", hosts[i].host, hosts[i].key);
		snprintf(name, sizeof(name), "tenants/spdk%d.conf", i);
		if (hnvmf_harness_write_file(&H, name, tenant))
			return -1;
		/* SPDK's keyring takes only a 0600 file; no newline after the key. */
		snprintf(name, sizeof(name), "psk%d", i);
		if (hnvmf_harness_write_file(&H, name, hosts[i].key))
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1; /* also when it never started */
}

/* The IOPS of spdk_nvme_perf's "Total" line, -1 without one. */
static double total_iops(const char *out)
{
	const char *t = strstr(out, "\nTotal");
	const char *colon = t ? strchr(t, ':') : NULL;
	return colon ? strtod(colon + 1, NULL) : -1;
}

static void test_spdk_nvme_perf_to_hnvmfd(void **state)
{
	(void)state;
	if (!have("spdk_nvme_perf"))
		skip();
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);
	static char out[65536];
	for (int i = 0; i < 2; i++) {
		int rc = hnvmf_harness_sh(out, sizeof(out),
					  "%s/build/bin/spdk_nvme_perf --no-huge -s 1024 -c 0x2 -S ssl "
					  "--psk-path %s/psk%d -r 'trtype:TCP adrfam:IPv4 traddr:127.0.0.1 "
					  "trsvcid:%u subnqn:" SUBNQN " hostnqn:%s' -q 1 -o 4096 -w randread -t 2",
					  spdk, H.dir, i, H.port, hosts[i].host);
		if (rc != 0 || !(total_iops(out) > 0))
			fail_msg("spdk_nvme_perf as %s: exit %d, total IOPS %.0f:\n%s", hosts[i].host,
				 rc, total_iops(out), out);
		char needle[256];
		snprintf(needle, sizeof(needle), "(%s, host %s, PSK derived rfc8446)",
			 i ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256", hosts[i].host);
		assert_true(hnvmf_harness_log_wait(&H, needle, 2000));
	}
}

/* Runs SPDK's scripts/rpc.py on the target's socket. */
static int rpc(const char *sock, const char *fmt, ...)
{
	char args[1024], out[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	int rc = hnvmf_harness_sh(out, sizeof(out), "/usr/bin/python3 %s/scripts/rpc.py -s %s -t 30 %s", spdk,
				  sock, args);
	if (rc)
		print_message("rpc.py %s: exit %d: %s\n", args, rc, out);
	return rc;
}

static pid_t start_nvmf_tgt(const char *sock, const char *log)
{
	char bin[768];
	snprintf(bin, sizeof(bin), "%s/build/bin/nvmf_tgt", spdk);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* No core lock: another SPDK application on this machine may hold core 0's. */
		execl(bin, bin, "--no-huge", "-s", "1024", "-m", "0x1", "--disable-cpumask-locks",
		      "-r", sock, (char *)NULL);
		_exit(127);
	}
	/* Up when its RPC socket is there (SPDK creates it once the app has started). */
	for (int i = 0; pid > 0 && i < 600; i++) {
		if (access(sock, F_OK) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	return pid;
}

static void test_hnvmf_perf_to_nvmf_tgt(void **state)
{
	(void)state;
	if (!have("nvmf_tgt") || access(HNVMF_BINARY_DIR "/tools/hnvmf-perf", X_OK) != 0)
		skip();
	char sock[400], log[400];
	snprintf(sock, sizeof(sock), "%s/spdk.sock", H.dir);
	snprintf(log, sizeof(log), "%s/nvmf_tgt.log", H.dir);
	uint16_t port = hnvmf_harness_free_port();
	pid_t pid = start_nvmf_tgt(sock, log);
	assert_true(pid > 0);
	int bad = rpc(sock, "nvmf_create_transport -t tcp") ||
		  rpc(sock, "nvmf_create_subsystem " SUBNQN " -s SPDK00000000000001 -m 10") ||
		  rpc(sock, "nvmf_subsystem_add_listener " SUBNQN " -t tcp -a 127.0.0.1 -s %u -k",
		      port) ||
		  rpc(sock, "bdev_malloc_create 32 4096 -b malloc0") ||
		  rpc(sock, "nvmf_subsystem_add_ns " SUBNQN " malloc0 -n 1") ||
		  rpc(sock, "keyring_file_add_key key0 %s/psk0", H.dir) ||
		  rpc(sock, "keyring_file_add_key key1 %s/psk1", H.dir) ||
		  rpc(sock, "nvmf_subsystem_add_host " SUBNQN " " HOST_256 " --psk key0") ||
		  rpc(sock, "nvmf_subsystem_add_host " SUBNQN " " HOST_384 " --psk key1");
	static char out[16384];
	bool rfc_ok = !bad, compat_refused = !bad;
	for (int i = 0; !bad && i < 2; i++) {
		int rc = hnvmf_harness_perf(out, sizeof(out),
					    "perf -s %u -n " SUBNQN " -q %s --tls-key '%s' "
					    "--tls-psk-encoding rfc8446 --time 1 -Q 4 -z 4k --json",
					    port, hosts[i].host, hosts[i].key);
		const char *reads = strstr(out, "\"reads\":");
		if (rc || !strstr(out, "\"errors\":0") || !reads ||
		    strtoull(reads + 8, NULL, 10) == 0) {
			print_message("hnvmf-perf --tls-psk-encoding rfc8446 as %s: exit %d: %s\n",
				      hosts[i].host, rc, out);
			rfc_ok = false;
		}
		rc = hnvmf_harness_perf(out, sizeof(out),
					"perf -s %u -n " SUBNQN " -q %s --tls-key '%s' "
					"--tls-psk-encoding libnvme-compat --time 1",
					port, hosts[i].host, hosts[i].key);
		compat_refused &= rc != 0;
	}
	kill(pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	assert_false(bad);
	assert_true(rfc_ok);
	assert_true(compat_refused);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spdk_nvme_perf_to_hnvmfd),
		cmocka_unit_test(test_hnvmf_perf_to_nvmf_tgt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
