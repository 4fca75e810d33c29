/* hnvmf-perf end to end against a running hnvmfd, as a user would run it: identify, discover,
 * write/read, verify, perf with two tenants, and each perf option that changes what a run does
 * (--number-ios, --rate, --warmup, --continue-on-error against a target that fails commands, -L,
 * a target killed in the middle of a run, the progress line on a terminal). JSON output is
 * parsed back with json-c. Skipped (not failed) when the hnvmf-perf binary was not built in
 * this build tree. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "tests/integration/harness.h"

#define PERF HNVMF_BINARY_DIR "/tools/hnvmf-perf"

static struct hnvmf_harness H;
static char out[65536];

HNVMF_HARNESS_GROUP_FIXTURES(H, NULL)

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

/* The JSON document in out (stderr lines may come first); freed by the caller. */
static json_object *json_out(void)
{
	char *p = out;
	while (*p && *p != '{') {
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	json_object *j = p ? json_tokener_parse(p) : NULL;
	if (!j)
		fail_msg("no JSON document in:\n%s", out);
	return j;
}

static json_object *get(json_object *j, const char *path)
{
	char p[128];
	snprintf(p, sizeof(p), "%s", path);
	char *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		json_object *n = NULL;
		if (!json_object_object_get_ex(j, k, &n))
			fail_msg("no '%s' (%s) in:\n%s", k, path, out);
		j = n;
	}
	return j;
}

static uint64_t get_u64(json_object *j, const char *path)
{
	return (uint64_t)json_object_get_int64(get(j, path));
}

static double get_dbl(json_object *j, const char *path)
{
	return json_object_get_double(get(j, path));
}

static void test_identify_discover(void **state)
{
	(void)state;
	assert_int_equal(run("identify -s %u", H.port), 0);
	expect_out("subnqn   : " HNVMF_HARNESS_SUBNQN);
	expect_out("nsid 1: 131072 blocks of 512 bytes");
	expect_out("nsid 2: 4096 blocks of 4096 bytes");
	assert_int_equal(run("discover -t tcp -a 127.0.0.1 -s %u", H.disc_port), 0);
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
	assert_int_equal(run("write -s %u -N 2 --slba 5 -c 2 --pattern 0x5a", H.port), 0);
	assert_int_equal(run("read --trsvcid %u --nsid 2 --slba 5 -c 2 -d %s", H.port, path), 0);
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
	assert_int_equal(run("verify -s %u -i 2 -Q 8 -z 12k -c 2048 -g -G", H.port), 0);
	expect_out("nsid 1: lba 0+2048");
	expect_out("nsid 2: lba 0+2048");
	expect_out("verify: OK");
	/* more than MDTS is refused before any I/O */
	assert_int_equal(run("verify -s %u -N 1 -z 1g", H.port), 1);
	expect_out("MDTS");
}

static void test_perf_json_two_tenants(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u --time 1 -Q 8 -z 4k --rw randrw -M 50 -i 2 --connections 2 "
			     "-q nqn.2026-01.io.hnvmf.test:t1 -q nqn.2026-01.io.hnvmf.test:t2 -o json",
			     H.port),
			 0);
	json_object *j = json_out();
	assert_int_equal(get_u64(j, "errors"), 0);
	json_object *t = get(j, "tenants");
	assert_int_equal(json_object_array_length(t), 2);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(t, 0), "hostnqn")),
			    "nqn.2026-01.io.hnvmf.test:t1");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(t, 1), "hostnqn")),
			    "nqn.2026-01.io.hnvmf.test:t2");
	/* reads and writes, each with its own latencies */
	assert_true(get_u64(j, "reads") > 0 && get_u64(j, "writes") > 0);
	assert_int_equal(get_u64(j, "read.ios"), get_u64(j, "reads"));
	assert_int_equal(get_u64(j, "write.ios"), get_u64(j, "writes"));
	assert_true(get_dbl(j, "read.lat_us.p99") > 0 && get_dbl(j, "write.lat_us.p99") > 0);
	assert_true(get_dbl(j, "read.lat_us.p50") <= get_dbl(j, "read.lat_us.p99"));
	assert_true(get_dbl(j, "read.lat_us.p99") <= get_dbl(j, "read.lat_us.p99_9"));
	assert_true(get_dbl(j, "read.lat_us.p99_9") <= get_dbl(j, "read.lat_us.max"));
	json_object_put(j);
}

/* --busy-poll: the same load with a spinning event loop; it must still see every completion. */
static void test_perf_busy_poll(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u --number-ios 2000 -Q 1 --busy-poll --json", H.port), 0);
	json_object *j = json_out();
	assert_int_equal(get_u64(j, "errors"), 0);
	assert_int_equal(get_u64(j, "reads"), 2000);
	json_object_put(j);
}

/* --number-ios: exactly that many I/Os are counted, over every thread, without a time limit. */
static void test_perf_number_ios(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u --number-ios 3001 -Q 16 --connections 2 --threads 2 --rw randrw -o json",
			     H.port),
			 0);
	json_object *j = json_out();
	assert_int_equal(get_u64(j, "ios"), 3001);
	assert_int_equal(get_u64(j, "reads") + get_u64(j, "writes"), 3001);
	json_object_put(j);
}

/* --rate: the I/Os issued follow the schedule, not the target's speed. Whatever the load on the
 * machine, the I/Os counted never exceed the offered rate over the measured time (I/O k is due at
 * k / rate, so at most floor(seconds x rate) + 1 were issued by each thread), and every I/O that came due was
 * counted, was still in flight at the end (at most the queues' depth) or is in the reported
 * backlog. A run that ignored --rate (a closed loop at QD8 x 2 queues) does thousands a second. */
static void test_perf_rate(void **state)
{
	(void)state;
	const unsigned rate = 400, depth = 8 * 2;
	assert_int_equal(run("perf -s %u --rate %u --time 2 -Q 8 -i 2 --json", H.port, rate), 0);
	json_object *j = json_out();
	uint64_t ios = get_u64(j, "ios"), backlog = get_u64(j, "rate_backlog");
	double due = get_dbl(j, "seconds") * rate;
	assert_int_equal(get_u64(j, "rate"), rate);
	if ((double)ios > due + (double)get_u64(j, "threads") + 1e-6)
		fail_msg("%llu I/Os, more than the %.1f offered at %u IOPS:\n%s", (unsigned long long)ios, due,
			 rate, out);
	if ((double)(ios + backlog + depth) < due - 1.0)
		fail_msg("%llu I/Os + %llu backlog + %u in flight < %.1f due at %u IOPS:\n%s",
			 (unsigned long long)ios, (unsigned long long)backlog, depth, due, rate, out);
	assert_true(ios > 0);
	json_object_put(j);
}

/* --warmup: the warm-up's I/Os and time are not in the result. */
static void test_perf_warmup(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u --warmup 1 --time 1 -Q 4 --json", H.port), 0);
	json_object *j = json_out();
	double s = get_dbl(j, "seconds");
	if (s < 1.0 || s >= 1.9)
		fail_msg("measured %.3f s of a 1 s run after a 1 s warm-up:\n%s", s, out);
	assert_int_equal(get_u64(j, "warmup"), 1);
	json_object_put(j);
}

/* Namespace 2 has 4096 blocks: a range of 8192 makes about half the reads fail with LBA Out of
 * Range. By default the run stops at the first failure and says which; with
 * --continue-on-error it counts them by name and goes on. */
static void test_perf_errors(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u -N 2 --range 8192 --time 5 -Q 4", H.port), 1);
	expect_out("stopped at the first error (--continue-on-error goes on): LBA Out of Range (SCT 0x0 SC 0x80, DNR)");
	expect_out("x LBA Out of Range (SCT 0x0 SC 0x80, DNR)\n");

	assert_int_equal(run("perf -s %u -N 2 --range 8192 --number-ios 2000 -Q 4 --continue-on-error --json", H.port), 0);
	json_object *j = json_out();
	assert_int_equal(get_u64(j, "reads"), 2000);
	assert_true(get_u64(j, "errors") > 100);
	json_object *e = get(j, "errors_by_status");
	assert_int_equal(json_object_array_length(e), 1);
	json_object *e0 = json_object_array_get_idx(e, 0);
	assert_string_equal(json_object_get_string(get(e0, "name")), "LBA Out of Range");
	assert_int_equal(get_u64(e0, "count"), get_u64(j, "errors"));
	json_object_put(j);
}

/* -L: the histograms' buckets add up to the I/Os counted and end at 100 %. */
static void test_perf_histogram(void **state)
{
	(void)state;
	assert_int_equal(run("perf -s %u --number-ios 1000 --rw randrw -L --json", H.port), 0);
	json_object *j = json_out();
	const char *dirs[] = { "read", "write" };
	for (int d = 0; d < 2; d++) {
		char path[32];
		snprintf(path, sizeof(path), "histogram.%s", dirs[d]);
		json_object *h = get(j, path);
		size_t n = json_object_array_length(h);
		assert_true(n > 0);
		uint64_t sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += get_u64(json_object_array_get_idx(h, i), "count");
		snprintf(path, sizeof(path), "%ss", dirs[d]);
		assert_int_equal(sum, get_u64(j, path));
		assert_true(get_dbl(json_object_array_get_idx(h, n - 1), "cumulative_pct") == 100.0);
	}
	json_object_put(j);
	assert_int_equal(run("perf -s %u --number-ios 100 -L", H.port), 0);
	expect_out("latency histogram, reads (100 I/Os):");
	expect_out("100.0000%");
}

/* Starts hnvmf-perf with args in the background, stdout and stderr into path. */
static pid_t perf_spawn(const char *path, char *const args[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(PERF, args);
		_exit(127);
	}
	return pid;
}

static void read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
}

/* The target dies 1 s into a 20 s run: hnvmf-perf reports the time it actually ran, why it
 * ended, and exits 1. */
static void test_perf_target_killed(void **state)
{
	(void)state;
	if (access(PERF, X_OK))
		skip();
	struct hnvmf_harness h2 = { 0 };
	assert_int_equal(hnvmf_harness_start(&h2, NULL), 0);
	char port[16], path[300];
	snprintf(port, sizeof(port), "%u", h2.port);
	snprintf(path, sizeof(path), "%s/perf.out", H.dir);
	char *args[] = { PERF, "perf", "-s", port, "--time", "20", "-Q", "8", "--json", NULL };
	pid_t pid = perf_spawn(path, args);
	assert_true(pid > 0);
	struct timespec ts = { 1, 0 };
	nanosleep(&ts, NULL);
	hnvmf_harness_signal(&h2, SIGKILL);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	hnvmf_harness_stop(&h2);
	read_file(path);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	json_object *j = json_out();
	double s = get_dbl(j, "seconds");
	if (s < 0.5 || s > 10)
		fail_msg("ran %.3f s of 20 s, the target killed after 1 s:\n%s", s, out);
	assert_true(get_u64(j, "reads") > 0);
	assert_non_null(strstr(json_object_get_string(get(j, "error")), "failed"));
	json_object_put(j);
}

/* On a terminal, a progress line each second (on stderr, rewritten in place); the result
 * follows it on a line of its own. */
static void test_perf_progress_on_terminal(void **state)
{
	(void)state;
	if (access(PERF, X_OK))
		skip();
	char port[16];
	snprintf(port, sizeof(port), "%u", H.port);
	int master;
	pid_t pid = forkpty(&master, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		char *args[] = { PERF, "perf", "-s", port, "--time", "3", "-Q", "4", NULL };
		execv(PERF, args);
		_exit(127);
	}
	size_t n = 0;
	for (;;) {
		struct pollfd pf = { .fd = master, .events = POLLIN };
		if (poll(&pf, 1, 30000) <= 0)
			break;
		ssize_t r = read(master, out + n, sizeof(out) - 1 - n);
		if (r <= 0)
			break; /* EIO once the child closed the terminal */
		n += (size_t)r;
	}
	out[n] = 0;
	close(master);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	expect_out("\r[1/3 s] ");
	expect_out("\r[2/3 s] ");
	expect_out(" IOPS, ");
	expect_out("\nhnvmf-perf: randread 4096 B");
}

static void test_usage_errors(void **state)
{
	(void)state;
	assert_int_equal(run("perf --workload sideways"), 2);
	expect_out("--workload");
	assert_int_equal(run("--help"), 0);
	expect_out("usage: hnvmf-perf");
	/* nothing listens there: a connection failure, exit 1 */
	assert_int_equal(run("identify -s %u --timeout 2000", hnvmf_harness_free_port()), 1);
	/* a subsystem that does not exist: the Connect's status by name */
	assert_int_equal(run("identify -s %u -n nqn.2026-01.io.hnvmf:nosuch", H.port), 1);
	expect_out("Connect Invalid Parameters (SCT 0x1 SC 0x82");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify_discover),
		cmocka_unit_test(test_write_read_file),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_perf_json_two_tenants),
		cmocka_unit_test(test_perf_busy_poll),
		cmocka_unit_test(test_perf_number_ios),
		cmocka_unit_test(test_perf_rate),
		cmocka_unit_test(test_perf_warmup),
		cmocka_unit_test(test_perf_errors),
		cmocka_unit_test(test_perf_histogram),
		cmocka_unit_test(test_perf_target_killed),
		cmocka_unit_test(test_perf_progress_on_terminal),
		cmocka_unit_test(test_usage_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
