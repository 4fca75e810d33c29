/* hnvmf-perf end to end against a running hnvmfd: identify, discover, write/read, verify and a
 * short perf run with two tenants, as a user would run them. Skipped (not failed) when the
 * hnvmf-perf binary was not built in this build tree. */
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


static struct hnvmf_harness H;
static char out[65536];

static int setup(void **state)
{
	(void)state;
	return hnvmf_harness_start(&H, NULL);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* hnvmf-perf with args (printf-style), its output into out; the test is skipped when it was
 * not built. */
static int perf_or_skip(int rc)
{
	if (rc == -2)
		skip();
	return rc;
}
#define run(...) perf_or_skip(hnvmf_harness_perf(out, sizeof(out), __VA_ARGS__))

static void expect_out(const char *needle)
{
	if (!strstr(out, needle))
		fail_msg("'%s' not in output:\n%s", needle, out);
}

static void test_identify_discover(void **state)
{
	(void)state;
	assert_int_equal(run("identify -p %u", H.port), 0);
	expect_out("subnqn   : " HNVMF_HARNESS_SUBNQN);
	expect_out("nsid 1: 131072 blocks of 512 bytes");
	expect_out("nsid 2: 4096 blocks of 4096 bytes");
	assert_int_equal(run("discover -p %u", H.disc_port), 0);
	char svc[32];
	snprintf(svc, sizeof(svc), "trsvcid: %u\n", H.port);
	expect_out(svc);
	expect_out("subnqn:  " HNVMF_HARNESS_SUBNQN);
}

static void test_write_read_file(void **state)
{
	(void)state;
	char path[] = "/tmp/hnvmf-perf-cli-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(run("write -p %u -n 2 --slba 5 -c 2 --pattern 0x5a", H.port), 0);
	assert_int_equal(run("read -p %u -n 2 --slba 5 -c 2 -d %s", H.port, path), 0);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static unsigned char b[8192 + 1];
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	unlink(path);
	assert_int_equal(n, 8192);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b[i], 0x5a);
}

static void test_verify(void **state)
{
	(void)state;
	assert_int_equal(run("verify -p %u --queues 2 -q 8 -o 12k -c 2048 --hdgst --ddgst", H.port), 0);
	expect_out("nsid 1: lba 0+2048");
	expect_out("nsid 2: lba 0+2048");
	expect_out("verify: OK");
	/* more than MDTS is refused before any I/O */
	assert_int_equal(run("verify -p %u -n 1 -o 1g", H.port), 1);
	expect_out("MDTS");
}

static void test_perf_json_two_tenants(void **state)
{
	(void)state;
	assert_int_equal(run("perf -p %u -t 1 -q 8 -o 4k -w randrw -M 50 --queues 2 --connections 2 "
			     "-H nqn.2026-01.io.hnvmf.test:t1 -H nqn.2026-01.io.hnvmf.test:t2 --json",
			     H.port),
			 0);
	expect_out("\"errors\":0");
	expect_out("\"hostnqn\":\"nqn.2026-01.io.hnvmf.test:t1\"");
	expect_out("\"hostnqn\":\"nqn.2026-01.io.hnvmf.test:t2\"");
	const char *p = strstr(out, "\"iops\":");
	assert_non_null(p);
	assert_true(strtod(p + 7, NULL) > 100.0);
	p = strstr(out, "\"reads\":");
	assert_non_null(p);
	assert_true(strtoull(p + 8, NULL, 10) > 0);
	p = strstr(out, "\"writes\":");
	assert_non_null(p);
	assert_true(strtoull(p + 9, NULL, 10) > 0);
}

/* --busy-poll: the same load with a spinning event loop; it must still see every completion. */
static void test_perf_busy_poll(void **state)
{
	(void)state;
	assert_int_equal(run("perf -p %u -t 1 -q 1 -o 4k -w randread --busy-poll --json", H.port), 0);
	expect_out("\"errors\":0");
	const char *p = strstr(out, "\"iops\":");
	assert_non_null(p);
	assert_true(strtod(p + 7, NULL) > 100.0);
}

static void test_usage_errors(void **state)
{
	(void)state;
	assert_int_equal(run("perf -w sideways"), 2);
	expect_out("--workload");
	assert_int_equal(run("--help"), 0);
	expect_out("usage: hnvmf-perf");
	/* nothing listens there: a connection failure, exit 1 */
	assert_int_equal(run("identify -p %u --timeout 2000", hnvmf_harness_free_port()), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_discover),
		cmocka_unit_test(test_write_read_file),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_perf_json_two_tenants),
		cmocka_unit_test(test_perf_busy_poll),
		cmocka_unit_test(test_usage_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
