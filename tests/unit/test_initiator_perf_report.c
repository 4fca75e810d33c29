/* hnvmf-perf's report: NVMe status names (proto/nvme-status.c), failed commands counted by
 * status, the table with separate read and write rows, the -L histogram, the progress line and
 * the JSON document parsed back with json-c (strings escaped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>

#include "proto/nvme-status.h"
#include "tools/perf/perf.h"

static void test_status_names(void **state)
{
	(void)state;
	char b[128];
	assert_string_equal(hnvmf_status_name(HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD), false),
			    "Invalid Field in Command");
	assert_string_equal(hnvmf_status_name(HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), false), "LBA Out of Range");
	/* command specific 84h: a Connect's "Connect Invalid Host"; no I/O command has it */
	assert_string_equal(hnvmf_status_name(HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST), true),
			    "Connect Invalid Host");
	assert_null(hnvmf_status_name(HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST), false));
	assert_string_equal(hnvmf_status_name(HNVMF_SC_CMD(NVME_SC_READ_ONLY), false),
			    "Attempted Write to Read Only Range");
	assert_string_equal(hnvmf_status_name(HNVMF_SC_CMD(NVME_SC_AUTH_REQUIRED), true),
			    "Authentication Required");
	assert_string_equal(hnvmf_status_name(HNVMF_SC_CMD(NVME_SC_INVALID_LOG_PAGE), false), "Invalid Log Page");
	assert_string_equal(hnvmf_status_name(HNVMF_SC_MEDIA(NVME_SC_READ_ERROR), false), "Unrecovered Read Error");
	assert_string_equal(hnvmf_status_name(hnvmf_status(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR, 0), false),
			    "Host Pathing Error");
	assert_null(hnvmf_status_name(hnvmf_status(NVME_SCT_GENERIC, 0x7f, 0), false));
	assert_null(hnvmf_status_name(hnvmf_status(NVME_SCT_VS, 0x01, 0), false));
	assert_string_equal(hnvmf_status_str(HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), false, b, sizeof(b)),
			    "LBA Out of Range (SCT 0x0 SC 0x80, DNR)");
	assert_string_equal(hnvmf_status_str(hnvmf_status(NVME_SCT_GENERIC, 0x7f, 0), false, b, sizeof(b)),
			    "SCT 0x0 SC 0x7f");
	/* the initiator's strings go through the same table */
	assert_string_equal(hnvmf_ini_fabrics_status_str(HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST), b, sizeof(b)),
			    "Connect Invalid Host (SCT 0x1 SC 0x84, DNR)");
	assert_string_equal(hnvmf_ini_status_str(-ECONNRESET, b, sizeof(b)), "Connection reset by peer");
}

static void test_errs(void **state)
{
	(void)state;
	struct perf_errs a = { 0 }, b = { 0 };
	perf_errs_add(&a, HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), 1);
	perf_errs_add(&a, HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), 2);
	perf_errs_add(&a, -ECONNRESET, 1);
	assert_int_equal(a.total, 4);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.count[0], 3);
	for (int i = 0; i < PERF_ERR_KINDS + 2; i++)
		perf_errs_add(&b, 0x100 + i, 1);
	assert_int_equal(b.n, PERF_ERR_KINDS);
	assert_int_equal(b.other, 2);
	perf_errs_merge(&a, &b);
	assert_int_equal(a.total, 4 + PERF_ERR_KINDS + 2);
	assert_int_equal(a.count[0], 3);
	assert_int_equal(a.n, PERF_ERR_KINDS);
	assert_int_equal(a.other, 2 + 2); /* 2 of b's 8 kinds do not fit beside a's 2, and b's other 2 */
}

static char *buf;
static size_t buflen;

static void expect_in(const char *needle)
{
	if (!strstr(buf, needle))
		fail_msg("'%s' not in:\n%s", needle, buf);
}

static FILE *capture(void)
{
	FILE *f = open_memstream(&buf, &buflen);
	assert_non_null(f);
	return f;
}

static struct perf_hist hr, hw;

/* 90 reads at 10 µs, 10 at 1 ms; 50 writes at 20 µs. */
static void fill(void)
{
	perf_hist_init(&hr);
	perf_hist_init(&hw);
	for (int i = 0; i < 90; i++)
		perf_hist_add(&hr, 10000);
	for (int i = 0; i < 10; i++)
		perf_hist_add(&hr, 1000000);
	for (int i = 0; i < 50; i++)
		perf_hist_add(&hw, 20000);
}

static void test_histogram(void **state)
{
	(void)state;
	fill();
	FILE *f = capture();
	perf_hist_print(f, &hr, "reads");
	fclose(f);
	expect_in("latency histogram, reads (100 I/Os):");
	/* the two non-empty buckets only, with their cumulative share */
	/* 10 µs lands in [9.984, 10.240): 32 buckets per power of two */
	expect_in("      9.984 -      10.240    90.0000%           90\n");
	expect_in("    999.424 -    1015.808   100.0000%           10\n");
	free(buf);
}

static void test_progress_line(void **state)
{
	(void)state;
	char b[160];
	perf_progress_format(b, sizeof(b), false, 3, 10, 123456, 123456 * 4096ull, 1.0, 2);
	assert_string_equal(b, "[3/10 s] 123456 IOPS, 505.7 MB/s, 2 errors");
	perf_progress_format(b, sizeof(b), true, 1, 2, 500, 500 * 4096ull, 0.5, 0);
	assert_string_equal(b, "[warm-up 1/2 s] 1000 IOPS, 4.1 MB/s, 0 errors");
	perf_progress_format(b, sizeof(b), false, 7, 0, 10, 40960, 1.0, 0);
	assert_string_equal(b, "[7 s] 10 IOPS, 0.0 MB/s, 0 errors");
}

static struct perf_opts o;
static const uint64_t tenant_ios[2] = { 100, 50 };

static struct perf_result result(void)
{
	fill();
	char *argv[] = { "hnvmf-perf", "perf", "--rw", "randrw", "-L", "-q", "nqn.a\"quoted\\", "-q", "nqn.b", NULL };
	char err[256];
	assert_int_equal(perf_parse_args(9, argv, &o, err, sizeof(err)), 0);
	struct perf_result r = { .seconds = 2.0, .connections = 2, .threads = 1, .reads = 100,
				 .writes = 50, .bytes_read = 100 * 4096, .bytes_written = 50 * 4096,
				 .lat_read = &hr, .lat_write = &hw, .tenant_ios = tenant_ios,
				 .error = "queue 1 of \"x\" failed: Connection reset by peer" };
	perf_errs_add(&r.errs, HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), 7);
	perf_errs_add(&r.errs, -ECONNRESET, 1);
	return r;
}

static void test_text(void **state)
{
	(void)state;
	struct perf_result r = result();
	FILE *f = capture();
	perf_report_text(f, &o, &r);
	fclose(f);
	/* reads 50 IOPS, p50 the top of 10 µs's bucket, max 1000 µs; writes 25 IOPS at 20 µs;
	 * together 75 IOPS */
	expect_in("\nread             50        0.2      10.0     109.0      10.2    1000.0    1000.0    1000.0\n");
	expect_in("\nwrite            25        0.1      20.0      20.0      20.0      20.0      20.0      20.0\n");
	expect_in("\ntotal            75        0.3      10.0      79.3");
	expect_in("reads 100, writes 50, errors 8\n");
	expect_in("  7 x LBA Out of Range (SCT 0x0 SC 0x80, DNR)\n");
	expect_in("  1 x Connection reset by peer\n");
	expect_in("latency histogram, reads (100 I/Os)");
	expect_in("latency histogram, writes (50 I/Os)");
	free(buf);
}

static json_object *get(json_object *j, const char *path)
{
	char p[128];
	snprintf(p, sizeof(p), "%s", path);
	char *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		json_object *n = NULL;
		if (!json_object_object_get_ex(j, k, &n))
			fail_msg("no '%s' in %s", k, path);
		j = n;
	}
	return j;
}

static void test_json(void **state)
{
	(void)state;
	struct perf_result r = result();
	char *s = perf_report_json(&o, &r);
	assert_non_null(s);
	json_object *j = json_tokener_parse(s);
	if (!j)
		fail_msg("not JSON: %s", s);
	assert_string_equal(json_object_get_string(get(j, "workload")), "randrw");
	assert_int_equal(json_object_get_int64(get(j, "reads")), 100);
	assert_int_equal(json_object_get_int64(get(j, "writes")), 50);
	assert_int_equal(json_object_get_int64(get(j, "errors")), 8);
	assert_true(json_object_get_double(get(j, "seconds")) == 2.0);
	assert_true(json_object_get_double(get(j, "read.lat_us.p99")) == 1000.0);
	assert_true(json_object_get_double(get(j, "write.lat_us.p99")) == 20.0);
	assert_true(json_object_get_double(get(j, "read.iops")) == 50.0);
	assert_true(json_object_get_double(get(j, "iops")) == 75.0);
	json_object *e = get(j, "errors_by_status");
	assert_int_equal(json_object_array_length(e), 2);
	json_object *e0 = json_object_array_get_idx(e, 0);
	assert_string_equal(json_object_get_string(get(e0, "name")), "LBA Out of Range");
	assert_int_equal(json_object_get_int(get(e0, "sc")), 0x80);
	assert_true(json_object_get_boolean(get(e0, "dnr")));
	assert_int_equal(json_object_get_int64(get(e0, "count")), 7);
	json_object *e1 = json_object_array_get_idx(e, 1);
	assert_int_equal(json_object_get_int(get(e1, "errno")), ECONNRESET);
	/* strings with quotes and backslashes come back intact */
	json_object *t0 = json_object_array_get_idx(get(j, "tenants"), 0);
	assert_string_equal(json_object_get_string(get(t0, "hostnqn")), "nqn.a\"quoted\\");
	assert_true(json_object_get_double(get(t0, "iops")) == 50.0);
	assert_string_equal(json_object_get_string(get(j, "error")), "queue 1 of \"x\" failed: Connection reset by peer");
	json_object *h = get(j, "histogram.read");
	assert_int_equal(json_object_array_length(h), 2);
	assert_true(json_object_get_double(get(json_object_array_get_idx(h, 0), "cumulative_pct")) == 90.0);
	assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(h, 1), "count")), 10);
	assert_int_equal(json_object_array_length(get(j, "histogram.write")), 1);
	json_object_put(j);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_errs),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_progress_line),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
