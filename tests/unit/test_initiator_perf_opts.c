/* hnvmf-perf's command line: defaults per subcommand, every option (nvme-cli's names and the old
 * long ones), and the refusals. The report's formatters are in test_initiator_perf_report.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

/* hnvmf-perf is an executable: compile the units under test in. */

static struct perf_opts o;
static char err[256];

#define PARSE(...)                                                                                 \
	({                                                                                         \
		char *argv[] = { "hnvmf-perf", __VA_ARGS__, NULL };                                \
		perf_parse_args((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, &o, err, sizeof(err)); \
	})

static void test_defaults(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf"), 0);
	assert_int_equal(o.cmd, PERF_PERF);
	assert_string_equal(o.addr, "127.0.0.1");
	assert_int_equal(o.port, 4420);
	assert_string_equal(o.subnqn, "nqn.2026-01.io.hnvmf:default");
	assert_int_equal(o.nhostnqn, 1);
	assert_memory_equal(o.hostnqn[0], "nqn.", 4);
	assert_int_equal(o.qd, 32);
	assert_int_equal(o.io_size, 4096);
	assert_int_equal(o.wl, PERF_W_RANDREAD);
	assert_int_equal(o.read_pct, 50);
	assert_int_equal(o.seconds, 10);
	assert_int_equal(o.nsid, 1);
	assert_false(o.hdgst || o.ddgst || o.json || o.busy_poll);

	assert_int_equal(PARSE("discover"), 0);
	assert_int_equal(o.port, 8009);
	assert_string_equal(o.subnqn, "nqn.2014-08.org.nvmexpress.discovery");
	assert_int_equal(PARSE("verify"), 0);
	assert_int_equal(o.nsid, 0); /* every namespace */
	assert_int_equal(o.qd, 8);
	assert_int_equal(PARSE("read"), 0);
	assert_int_equal(o.count, 1);
}

static void test_all_options(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf", "-t", "tcp", "-a", "10.0.0.1", "-s", "4421", "-n", "nqn.x", "-q", "nqn.h1",
			       "-H", "nqn.h2", "-g", "-G", "-N", "3", "-Q", "128", "-z", "128k", "--rw", "randrw",
			       "-M", "70", "--time", "5", "-i", "4", "--connections", "8", "--threads", "2",
			       "--cpu", "2,3", "--busy-poll", "--range", "1m", "-o", "json", "--kato", "0",
			       "--timeout", "3000", "--slba", "0x100", "-v", "-I",
			       "01234567-89ab-cdef-0123-456789abcdef", "--warmup", "2", "--number-ios", "1m",
			       "--rate", "50k", "--continue-on-error", "-L"),
			 0);
	assert_string_equal(o.addr, "10.0.0.1");
	assert_int_equal(o.port, 4421);
	assert_string_equal(o.subnqn, "nqn.x");
	assert_int_equal(o.nhostnqn, 2);
	assert_string_equal(o.hostnqn[0], "nqn.h1");
	assert_string_equal(o.hostnqn[1], "nqn.h2");
	assert_true(o.hdgst && o.ddgst && o.json && o.verbose);
	assert_int_equal(o.nsid, 3);
	assert_int_equal(o.qd, 128);
	assert_int_equal(o.io_size, 131072);
	assert_int_equal(o.wl, PERF_W_RANDRW);
	assert_int_equal(o.read_pct, 70);
	assert_int_equal(o.seconds, 5);
	assert_int_equal(o.queues, 4);
	assert_int_equal(o.connections, 8);
	assert_int_equal(o.threads, 2);
	assert_int_equal(o.ncpus, 2);
	assert_int_equal(o.cpus[0], 2);
	assert_int_equal(o.cpus[1], 3);
	assert_true(o.busy_poll);
	assert_int_equal(o.range, 1u << 20);
	assert_int_equal(o.kato_ms, 0);
	assert_int_equal(o.timeout_ms, 3000);
	assert_int_equal(o.slba, 0x100);
	const uint8_t hostid[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				     0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	assert_memory_equal(o.hostid, hostid, 16);
	assert_int_equal(o.warmup, 2);
	assert_int_equal(o.number_ios, 1u << 20);
	assert_int_equal(o.rate, 50u << 10);
	assert_true(o.continue_on_error && o.histogram);

	assert_int_equal(PARSE("write", "--slba", "7", "-c", "4", "--pattern", "0xab", "-d", "/tmp/x"), 0);
	assert_int_equal(o.cmd, PERF_WRITE);
	assert_int_equal(o.count, 4);
	assert_int_equal(o.pattern, 0xab);
	assert_string_equal(o.data_file, "/tmp/x");
	assert_int_equal(PARSE("verify", "--seed", "99", "-z", "8k", "--nr-io-queues", "3"), 0);
	assert_int_equal(o.seed, 99);
	assert_int_equal(o.io_size, 8192);
	assert_int_equal(o.queues, 3);
}

/* nvme-cli's long names, and the old long names that still work. */
static void test_long_names(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf", "--transport", "tcp", "--traddr", "::1", "--trsvcid", "4500", "--nqn",
			       "nqn.a", "--hostnqn", "nqn.h", "--hostid", "0123456789abcdef0123456789abcdef",
			       "--nr-io-queues", "2", "--hdr-digest", "--data-digest", "--queue-size", "7",
			       "--io-size", "8k", "--output-format", "json", "--latency-histogram", "--runtime",
			       "3", "--workload", "rw"),
			 0);
	assert_string_equal(o.addr, "::1");
	assert_int_equal(o.port, 4500);
	assert_string_equal(o.subnqn, "nqn.a");
	assert_string_equal(o.hostnqn[0], "nqn.h");
	assert_int_equal(o.hostid[15], 0xef);
	assert_int_equal(o.queues, 2);
	assert_true(o.hdgst && o.ddgst && o.json && o.histogram);
	assert_int_equal(o.qd, 7);
	assert_int_equal(o.io_size, 8192);
	assert_int_equal(o.seconds, 3);
	assert_int_equal(o.wl, PERF_W_RW);
	assert_int_equal(PARSE("perf", "--addr", "10.1.1.1", "--port", "4501", "--subnqn", "nqn.b", "--hdgst",
			       "--ddgst", "--queues", "3", "--qd", "9", "--io-depth", "10", "--data-size", "16k",
			       "--time", "4", "--json", "--nsid", "2", "--threads", "1"),
			 0);
	assert_string_equal(o.addr, "10.1.1.1");
	assert_int_equal(o.port, 4501);
	assert_string_equal(o.subnqn, "nqn.b");
	assert_true(o.hdgst && o.ddgst && o.json);
	assert_int_equal(o.queues, 3);
	assert_int_equal(o.qd, 10);
	assert_int_equal(o.io_size, 16384);
	assert_int_equal(o.seconds, 4);
	assert_int_equal(o.nsid, 2);
	assert_int_equal(PARSE("perf", "-o", "normal", "--json", "-o", "normal"), 0);
	assert_false(o.json);
}

/* The README's own example, which used to fail with "--nsid: 'nqn...' is not a namespace ID". */
static void test_readme_example(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf", "-a", "127.0.0.1", "-s", "4420", "-n", "nqn.2026-01.io.hnvmf:default",
			       "-Q", "32", "-z", "4096", "--workload", "randread", "--time", "10"),
			 0);
	assert_int_equal(o.port, 4420);
	assert_string_equal(o.subnqn, "nqn.2026-01.io.hnvmf:default");
	assert_int_equal(o.nsid, 1);
}

/* --number-ios without --time has no time limit; with it, whichever comes first. */
static void test_limits(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf", "--number-ios", "1000"), 0);
	assert_int_equal(o.seconds, 0);
	assert_int_equal(o.number_ios, 1000);
	assert_int_equal(PARSE("perf", "--number-ios", "1000", "--time", "3"), 0);
	assert_int_equal(o.seconds, 3);
	assert_int_equal(PARSE("perf", "--warmup", "0"), 0);
	assert_int_equal(o.warmup, 0);
	assert_int_equal(o.rate, 0);
	assert_false(o.continue_on_error);
}

static void test_workload_names(void **state)
{
	(void)state;
	const char *names[] = { "randread", "randwrite", "read", "write", "rw", "randrw" };
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(PARSE("perf", "--workload", (char *)names[i]), 0);
		assert_int_equal(o.wl, i);
		assert_string_equal(perf_workload_name(o.wl), names[i]);
	}
}

static void expect_error(int r, const char *needle)
{
	assert_int_equal(r, -1);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_error(PARSE("frobnicate"), "unknown command");
	expect_error(PARSE("perf", "--workload", "sideways"), "--workload");
	expect_error(PARSE("perf", "-M", "101"), "--read-pct");
	expect_error(PARSE("perf", "-Q", "0"), "--queue-size");
	expect_error(PARSE("perf", "-Q", "5000"), "--queue-size");
	expect_error(PARSE("perf", "-z", "1000"), "--io-size");
	expect_error(PARSE("perf", "-z", "4x"), "--io-size");
	expect_error(PARSE("perf", "-s", "70000"), "--trsvcid");
	expect_error(PARSE("perf", "-s", "-1"), "--trsvcid");
	expect_error(PARSE("perf", "--time", "0"), "--time");
	expect_error(PARSE("perf", "--cpu", "1,x"), "--cpu");
	expect_error(PARSE("perf", "--threads", "2", "--cpu", "1"), "--cpu");
	expect_error(PARSE("perf", "--threads", "4", "--connections", "2"), "--threads");
	expect_error(PARSE("perf", "-N", "0"), "--nsid");
	expect_error(PARSE("perf", "--bogus"), "unknown option");
	expect_error(PARSE("perf", "-Q"), "needs a value");
	expect_error(PARSE("perf", "extra"), "unexpected argument");
	expect_error(PARSE("perf", "-t", "rdma"), "--transport");
	expect_error(PARSE("perf", "-I", "0123"), "--hostid");
	expect_error(PARSE("perf", "-I", "0123456789abcdef0123456789abcdefff"), "--hostid");
	expect_error(PARSE("perf", "-o", "xml"), "--output-format");
	expect_error(PARSE("perf", "--warmup", "x"), "--warmup");
	expect_error(PARSE("perf", "--number-ios", "0"), "--number-ios");
	expect_error(PARSE("perf", "--rate", "0"), "--rate");
	/* the old short letters that nvme-cli gives another meaning are gone, not reinterpreted
	 * silently: -p and -w and -T no longer exist */
	expect_error(PARSE("perf", "-p", "4420"), "unknown option");
	expect_error(PARSE("perf", "-w", "randread"), "unknown option");
	expect_error(PARSE("perf", "-T", "2"), "unknown option");
	char longnqn[300];
	memset(longnqn, 'n', sizeof(longnqn) - 1);
	longnqn[sizeof(longnqn) - 1] = 0;
	expect_error(PARSE("perf", "-q", longnqn), "--hostnqn");
	expect_error(PARSE("perf", "-n", longnqn), "--nqn");
	char *argv[] = { "hnvmf-perf", NULL };
	expect_error(perf_parse_args(1, argv, &o, err, sizeof(err)), "missing command");
}

static void test_hostid_from_nqn(void **state)
{
	(void)state;
	uint8_t id[16], id2[16];
	hnvmf_ini_hostid_from_nqn("nqn.2014-08.org.nvmexpress:uuid:01234567-89ab-cdef-0123-456789abcdef", id);
	const uint8_t want[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	assert_memory_equal(id, want, 16);
	hnvmf_ini_hostid_from_nqn("nqn.2026-01.example:host-a", id);
	hnvmf_ini_hostid_from_nqn("nqn.2026-01.example:host-a", id2);
	assert_memory_equal(id, id2, 16); /* stable */
	hnvmf_ini_hostid_from_nqn("nqn.2026-01.example:host-b", id2);
	assert_memory_not_equal(id, id2, 16);
}

/* --tls-psk-encoding picks the HkdfLabel of the host's PSK derivation; the default stays the
 * encoding nvme-cli 2.x put into hosts' keyrings. */
static void test_tls_psk_encoding(void **state)
{
	(void)state;
	assert_int_equal(PARSE("perf"), 0);
	assert_false(o.tls_rfc8446);
	assert_int_equal(PARSE("perf", "--tls-psk-encoding", "rfc8446"), 0);
	assert_true(o.tls_rfc8446);
	assert_int_equal(PARSE("perf", "--tls-psk-encoding", "libnvme-compat"), 0);
	assert_false(o.tls_rfc8446);
	expect_error(PARSE("perf", "--tls-psk-encoding", "rfc"), "--tls-psk-encoding");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_readme_example),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_workload_names),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_hostid_from_nqn),
		cmocka_unit_test(test_tls_psk_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
