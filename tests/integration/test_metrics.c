/* Statistics, metrics, SLA and logs against a running hnvmfd: I/O through the initiator, then
 * the Prometheus endpoint scraped with curl and parsed by the Prometheus client's own parser
 * (tests/integration/check_metrics.py) whose counters must match the I/O done, before and
 * after the controller disconnects, and which has every metric the Grafana dashboard uses; the SMART / Health log's counters; `hnvmfctl sla` and the
 * violation's start and end in the log; the log level changed through the control socket; the
 * log's timestamped lines. */
#include <endian.h>
#include <stdbool.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define HOST "nqn.2026-01.io.hnvmf.test:metrics"
#define WRITES 16
#define READS 10

static struct hnvmf_harness H;
static uint16_t metrics_port;
static char conf[2048];

static int setup(void **state)
{
	(void)state;
	metrics_port = hnvmf_harness_free_port();
	snprintf(conf, sizeof(conf),
		 "[global]\n"
		 "control_socket = @DIR@/ctl.sock\n"
		 "tenants_dir = @DIR@/tenants\n"
		 "[metrics]\n"
		 "listen = 127.0.0.1:%u\n"
		 "sla_epoch_ms = 200\n"
		 HNVMF_CONF_IO_RAM0("16M", HNVMF_HARNESS_SUBNQN)
		 "allow_any_host = yes\n",
		 metrics_port);
	if (hnvmf_harness_prepare(&H) ||
	    hnvmf_harness_write_file(&H, "tenants/m.conf",
				     "[tenant]\nhostnqn = " HOST "\nsubsystems = " HNVMF_HARNESS_SUBNQN "\n"
				     "latency_target_us = 1\nreserved_iops = 1\n"))
		return -1;
	return hnvmf_harness_start(&H, conf) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* Scrapes /metrics and checks it with the parser; the expected counts of HOST; with dashboard,
 * that the Grafana dashboard's metrics are all there (once an SLA epoch measured HOST). The system
 * python: python3-prometheus-client is a Debian package (tools/install-deps.sh). */
static int check(unsigned reads, unsigned writes, unsigned lba_errors, bool dashboard)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "curl -sf --max-time 5 -o %s/metrics.txt http://127.0.0.1:%u/metrics && "
		 "/usr/bin/python3 %s/tests/integration/check_metrics.py %s/metrics.txt %s %u %u %u %u 0 0x80 %u "
		 "%s%s",
		 H.dir, metrics_port, HNVMF_SOURCE_DIR, H.dir, HOST, reads, writes, (reads - lba_errors) * 4096,
		 writes * 4096, lba_errors, dashboard ? HNVMF_SOURCE_DIR : "",
		 dashboard ? "/contrib/grafana/hnvmf-dashboard.json" : "");
	return system(cmd);
}

static uint64_t u128_low(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void test_counts_match_io(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN, HOST, &o, &c), 0);
	static uint8_t buf[4096];
	memset(buf, 0x5a, sizeof(buf));
	for (unsigned i = 0; i < WRITES; i++)
		assert_int_equal(hnvmf_ini_write(c, 0, 1, i * 8, 8, buf, sizeof(buf)), 0);
	for (unsigned i = 0; i < READS - 1; i++)
		assert_int_equal(hnvmf_ini_read(c, 0, 1, i * 8, 8, buf, sizeof(buf)), 0);
	/* One read past the end: LBA Out of Range (generic, 80h), counted as an error. */
	assert_int_not_equal(hnvmf_ini_read(c, 0, 1, (16u << 20) / 512, 8, buf, sizeof(buf)), 0);
	assert_int_equal(check(READS, WRITES, 1, false), 0);

	/* SMART / Health: thousands of 512-byte units rounded up, and the commands. */
	struct nvme_smart_log smart;
	assert_int_equal(hnvmf_ini_get_log(c, NVME_LOG_LID_SMART, 0xffffffff, 0, &smart, sizeof(smart)), 0);
	assert_int_equal(u128_low(smart.data_units_written), 1); /* 128 units -> 1 */
	assert_int_equal(u128_low(smart.data_units_read), 1);
	assert_int_equal(u128_low(smart.host_writes), WRITES);
	assert_int_equal(u128_low(smart.host_reads), READS);
	assert_int_equal(u128_low(smart.power_on_hours), 0);

	/* Every I/O takes more than the 1 µs goal: the violation starts, and ends once idle. */
	assert_true(hnvmf_harness_log_wait(&H, "sla: host " HOST ": latency violation started", 5000));
	char out[4096];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_sla_get", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"hostnqn\":\"" HOST "\""));
	assert_non_null(strstr(out, "\"latency_target_us\":1,"));
	assert_true(hnvmf_harness_log_wait(&H, "sla: host " HOST ": latency violation ended", 5000));

	/* The controller goes: its counts stay in the totals. */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(check(READS, WRITES, 1, true), 0);
}

static void test_log_level_at_runtime(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(hnvmf_harness_rpc(&H, "log_get_print_level", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "\"info\"");
	assert_int_equal(hnvmf_harness_rpc(&H, "log_set_print_level", "{\"level\":\"chatty\"}", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"code\":-32602"));
	assert_int_equal(hnvmf_harness_rpc(&H, "log_set_print_level", "{\"level\":\"debug\"}", out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	assert_int_equal(hnvmf_harness_rpc(&H, "log_get_print_level", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "\"debug\"");
	/* A debug line appears without a restart: a connection's Connect is logged at debug. */
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN, HOST, &o, &c), 0);
	hnvmf_ini_ctrl_disconnect(c);
	assert_true(hnvmf_harness_log_wait(&H, " debug: ", 5000));
	assert_int_equal(hnvmf_harness_rpc(&H, "log_set_print_level", "{\"level\":\"info\"}", out, sizeof(out)), 0);

	/* Lines to a file carry a UTC timestamp and the level. */
	char *log = hnvmf_harness_log(&H);
	assert_non_null(log);
	regex_t re;
	assert_int_equal(regcomp(&re, "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z notice: hnvmfd .* ready",
				 REG_EXTENDED | REG_NEWLINE), 0);
	assert_int_equal(regexec(&re, log, 0, NULL, 0), 0);
	regfree(&re);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_match_io),
		cmocka_unit_test(test_log_level_at_runtime),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
