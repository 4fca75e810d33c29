/* hnvmf-perf's command line: defaults per subcommand, every option, and the refusals. */
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
	assert_int_equal(PARSE("perf", "-a", "10.0.0.1", "-p", "4421", "-s", "nqn.x", "-H", "nqn.h1",
			       "--hostnqn", "nqn.h2", "--hdgst", "--ddgst", "-n", "3", "-q", "128",
			       "-o", "128k", "-w", "randrw", "-M", "70", "-t", "5", "--queues", "4",
			       "--connections", "8", "-T", "2", "--cpu", "2,3", "--busy-poll", "--range", "1m",
			       "--json", "--kato", "0", "--timeout", "3000", "--slba", "0x100", "-v"),
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

	assert_int_equal(PARSE("write", "--slba", "7", "-c", "4", "--pattern", "0xab", "-d", "/tmp/x"), 0);
	assert_int_equal(o.cmd, PERF_WRITE);
	assert_int_equal(o.count, 4);
	assert_int_equal(o.pattern, 0xab);
	assert_string_equal(o.data_file, "/tmp/x");
	assert_int_equal(PARSE("verify", "--seed", "99", "-o", "8k", "--queues", "3"), 0);
	assert_int_equal(o.seed, 99);
	assert_int_equal(o.io_size, 8192);
}

static void test_workload_names(void **state)
{
	(void)state;
	const char *names[] = { "randread", "randwrite", "read", "write", "rw", "randrw" };
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(PARSE("perf", "-w", (char *)names[i]), 0);
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
	expect_error(PARSE("perf", "-w", "sideways"), "--workload");
	expect_error(PARSE("perf", "-M", "101"), "--read-pct");
	expect_error(PARSE("perf", "-q", "0"), "--qd");
	expect_error(PARSE("perf", "-q", "5000"), "--qd");
	expect_error(PARSE("perf", "-o", "1000"), "--io-size");
	expect_error(PARSE("perf", "-o", "4x"), "--io-size");
	expect_error(PARSE("perf", "-p", "70000"), "--port");
	expect_error(PARSE("perf", "-p", "-1"), "--port");
	expect_error(PARSE("perf", "-t", "0"), "--time");
	expect_error(PARSE("perf", "--cpu", "1,x"), "--cpu");
	expect_error(PARSE("perf", "-T", "2", "--cpu", "1"), "--cpu");
	expect_error(PARSE("perf", "-T", "4", "--connections", "2"), "--threads");
	expect_error(PARSE("perf", "-n", "0"), "--nsid");
	expect_error(PARSE("perf", "--bogus"), "unknown option");
	expect_error(PARSE("perf", "-q"), "needs a value");
	expect_error(PARSE("perf", "extra"), "unexpected argument");
	char longnqn[300];
	memset(longnqn, 'n', sizeof(longnqn) - 1);
	longnqn[sizeof(longnqn) - 1] = 0;
	expect_error(PARSE("perf", "-H", longnqn), "--hostnqn");
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
		cmocka_unit_test(test_workload_names),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_hostid_from_nqn),
		cmocka_unit_test(test_tls_psk_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
