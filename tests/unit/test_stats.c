/* target/stats.c and the SLA judgement (target/sla.c): histogram buckets and quantiles, the two
 * request hooks on a queue (per namespace records, invented NSIDs under 0, errors by status,
 * bytes only for successes), the fold into totals when a queue goes, and when a reservation or
 * a latency goal counts as missed. Also core/log.c's line format for terminals and files. */
#include <endian.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "target/sla.h"
#include "target/stats.h"

static void buckets(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_lat_bucket(0), 0);
	assert_int_equal(hnvmf_lat_bucket(1000), 0);  /* 1 µs */
	assert_int_equal(hnvmf_lat_bucket(1001), 1);  /* rounds up to 2 µs */
	assert_int_equal(hnvmf_lat_bucket(3000), 2);  /* 3 µs */
	assert_int_equal(hnvmf_lat_bucket(5000), 4);  /* in (4, 6] */
	assert_true(isinf(hnvmf_lat_bound_us(HNVMF_LAT_BUCKETS)));
	assert_int_equal(hnvmf_lat_bucket(3600ull * 1000000000ull), HNVMF_LAT_BUCKETS);
	/* Every finite bound is the largest value of its bucket; one µs more is the next bucket. */
	for (unsigned i = 0; i < HNVMF_LAT_BUCKETS; i++) {
		double b = hnvmf_lat_bound_us(i);
		if (i)
			assert_true(b > hnvmf_lat_bound_us(i - 1));
		assert_int_equal(hnvmf_lat_bucket((uint64_t)b * 1000), i);
		assert_int_equal(hnvmf_lat_bucket((uint64_t)b * 1000 + 1000), i + 1);
	}
	assert_true(hnvmf_lat_bound_us(HNVMF_LAT_BUCKETS - 1) >= 8e6); /* up to seconds */
}

static void quantiles(void **state)
{
	(void)state;
	uint64_t h[HNVMF_LAT_BUCKETS + 1] = {0};
	assert_true(hnvmf_lat_quantile_us(h, 0.99) == 0);
	h[hnvmf_lat_bucket(10000)] = 99;    /* 10 µs: bucket (8, 12] */
	h[hnvmf_lat_bucket(10000000)] = 1;  /* 10 ms */
	double p50 = hnvmf_lat_quantile_us(h, 0.5), p99 = hnvmf_lat_quantile_us(h, 0.99);
	double p999 = hnvmf_lat_quantile_us(h, 0.999);
	assert_true(p50 > 8 && p50 <= 12);
	assert_true(p99 > 8 && p99 <= 12);
	assert_true(p999 > 6000 && p999 <= 12288);
}

/* Judges r and returns its verdict on what. */
static int verdict(struct hnvmf_sla_result *r, int what)
{
	hnvmf_sla_judge(r);
	return (int)r->verdict[what];
}

static void judge(void **state)
{
	(void)state;
	struct hnvmf_sla_result r = {.reserved_iops = 1000, .arrivals_per_s = 2000, .iops = 500};
	assert_int_equal(verdict(&r, HNVMF_SLA_RESERVATION), HNVMF_SLA_MISSED);
	r.arrivals_per_s = 500; /* asked for less than the reservation: not the target's fault */
	assert_int_equal(verdict(&r, HNVMF_SLA_RESERVATION), HNVMF_SLA_MET);
	r.arrivals_per_s = 1000;
	r.iops = 1000;
	assert_int_equal(verdict(&r, HNVMF_SLA_RESERVATION), HNVMF_SLA_MET);
	r.reserved_iops = 0;
	assert_int_equal(verdict(&r, HNVMF_SLA_RESERVATION), HNVMF_SLA_NONE);
	r.latency_target_us = 100;
	r.completions = 10;
	r.p99_us = 150;
	assert_int_equal(verdict(&r, HNVMF_SLA_LATENCY), HNVMF_SLA_MISSED);
	r.p99_us = 100;
	assert_int_equal(verdict(&r, HNVMF_SLA_LATENCY), HNVMF_SLA_MET);
	r.completions = 0; /* nothing measured: nothing to judge */
	assert_int_equal(verdict(&r, HNVMF_SLA_LATENCY), HNVMF_SLA_NONE);
}

/* ---- the hooks on a fake queue ---- */

static struct hnvmf_tgt tgt;
static struct hnvmf_subsys subsys = {.nqn = "nqn.2026-01.io.hnvmf:s"};
static struct hnvmf_ns ns1 = {.nsid = 1};
static struct hnvmf_ctrl ctrl = {.cntlid = 7, .subsys = &subsys, .hostnqn = "nqn.2026-01.io.hnvmf:h"};
static const struct hnvmf_sq_ops ops = {.name = "tcp"};

static void run(struct hnvmf_sq *sq, uint8_t opc, uint32_t nsid, uint16_t status, uint32_t len)
{
	union hnvmf_sqe cmd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.common.opcode = opc;
	cmd.common.nsid = htole32(nsid);
	struct hnvmf_req req;
	memset(&req, 0, sizeof(req));
	req.sq = sq;
	req.cmd = &cmd;
	hnvmf_stats_start(&req);
	req.status = status;
	req.data_len = len;
	req.xfer_len = status ? 0 : len;
	hnvmf_stats_complete(&req);
}

static const struct hnvmf_stats_snap *find(const struct hnvmf_stats_snap *s, int n, uint32_t nsid, uint16_t cntlid)
{
	for (int i = 0; i < n; i++)
		if (s[i].key.nsid == nsid && s[i].key.cntlid == cntlid)
			return &s[i];
	return NULL;
}

static uint64_t errors_with(const struct hnvmf_stats_snap *s, uint16_t status)
{
	for (unsigned i = 0; i < HNVMF_STATS_ERR_SLOTS; i++)
		if (s->err_status[i] == status)
			return s->v[HNVMF_ST_ERRS + i];
	return 0;
}

/* sq as I/O queue 1 of ctrl on the PQM path. */
static void io_sq_init(struct hnvmf_sq *sq)
{
	hnvmf_sq_init(sq, &tgt, NULL, NULL, &ops);
	sq->ctrl = &ctrl;
	sq->qid = 1;
	sq->mode = HNVMF_PATH_PQM;
}

static void hooks(void **state)
{
	(void)state;
	assert_int_equal(hnvmf_stats_create(&tgt.stats), 0);
	atomic_store(&subsys.ns[1], &ns1);
	struct hnvmf_sq *sq = calloc(1, sizeof(*sq));
	assert_non_null(sq);
	io_sq_init(sq);
	run(sq, nvme_cmd_read, 1, 0, 4096);
	run(sq, nvme_cmd_read, 1, 0, 8192);
	run(sq, nvme_cmd_write, 1, 0, 512);
	run(sq, nvme_cmd_write, 1, 0x0281, 512); /* a media error: counted, its bytes not */
	run(sq, nvme_cmd_flush, 1, 0, 0);
	run(sq, nvme_cmd_read, 999, 0x000b, 0); /* invented NSIDs count under 0 */
	run(sq, nvme_cmd_read, 5, 0x000b, 0);

	struct hnvmf_stats_snap *s;
	int n = hnvmf_stats_collect(tgt.stats, &s);
	assert_int_equal(n, 2);
	const struct hnvmf_stats_snap *a = find(s, n, 1, 7), *z = find(s, n, 0, 7);
	assert_non_null(a);
	assert_non_null(z);
	assert_string_equal(a->key.hostnqn, ctrl.hostnqn);
	assert_string_equal(a->key.transport, "tcp");
	assert_int_equal(a->key.mode, HNVMF_PATH_PQM);
	assert_int_equal(a->v[HNVMF_ST_CMDS + HNVMF_STATS_READ], 2);
	assert_int_equal(a->v[HNVMF_ST_CMDS + HNVMF_STATS_WRITE], 2);
	assert_int_equal(a->v[HNVMF_ST_CMDS + HNVMF_STATS_OTHER], 1);
	assert_int_equal(a->v[HNVMF_ST_ARRIVALS], 5);
	assert_int_equal(a->v[HNVMF_ST_BYTES + HNVMF_STATS_READ], 12288);
	assert_int_equal(a->v[HNVMF_ST_BYTES + HNVMF_STATS_WRITE], 512);
	assert_int_equal(errors_with(a, 0x0281), 1);
	uint64_t hist = 0;
	for (unsigned b = 0; b <= HNVMF_LAT_BUCKETS; b++)
		hist += a->v[HNVMF_ST_HIST + b];
	assert_int_equal(hist, 5);
	assert_int_equal(z->v[HNVMF_ST_CMDS + HNVMF_STATS_READ], 2);
	assert_int_equal(errors_with(z, 0x000b), 2);
	free(s);

	/* The admin queue is not counted. */
	struct hnvmf_sq *admin = calloc(1, sizeof(*admin));
	hnvmf_sq_init(admin, &tgt, NULL, NULL, &ops);
	admin->ctrl = &ctrl;
	run(admin, nvme_cmd_read, 1, 0, 4096);

	/* The queue goes: its counts stay, under cntlid 0; a new queue adds to them. */
	hnvmf_stats_sq_release(sq);
	io_sq_init(sq);
	run(sq, nvme_cmd_read, 1, 0, 4096);
	hnvmf_stats_sq_release(sq);
	n = hnvmf_stats_collect(tgt.stats, &s);
	assert_int_equal(n, 2);
	a = find(s, n, 1, 0);
	assert_non_null(a);
	assert_int_equal(a->v[HNVMF_ST_CMDS + HNVMF_STATS_READ], 3);
	assert_int_equal(a->v[HNVMF_ST_BYTES + HNVMF_STATS_READ], 16384);
	free(s);
	free(sq);
	free(admin);
	hnvmf_stats_destroy(tgt.stats);
}

/* Error statuses beyond the slots share the last one, marked "other". */
static void error_slots(void **state)
{
	(void)state;
	struct hnvmf_stats_snap a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (unsigned i = 0; i < HNVMF_STATS_ERR_SLOTS; i++) {
		b.err_status[0] = (uint16_t)(0x100 + i);
		b.v[HNVMF_ST_ERRS] = 1;
		hnvmf_stats_snap_add(&a, &b);
	}
	hnvmf_stats_snap_add(&a, &b); /* the last status again: it is in "other" now */
	assert_int_equal(a.err_status[0], 0x100);
	assert_int_equal(a.err_status[HNVMF_STATS_ERR_SLOTS - 1], HNVMF_STATS_ERR_OTHER);
	assert_int_equal(a.v[HNVMF_ST_ERRS + HNVMF_STATS_ERR_SLOTS - 1], 2);
}

static void log_line(void **state)
{
	(void)state;
	char line[128];
	struct timespec ts = {.tv_sec = 1796599379, .tv_nsec = 123456789}; /* 2026-12-06T23:22:59Z */
	size_t n = hnvmf_log_format(line, sizeof(line), HNVMF_LOG_NOTICE, &ts, "hello");
	assert_string_equal(line, "2026-12-06T23:22:59.123456Z notice: hello\n");
	assert_int_equal(n, strlen(line));
	char small[40];
	n = hnvmf_log_format(small, sizeof(small), HNVMF_LOG_INFO, &ts, "a message longer than the buffer");
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(small[n - 1], '\n');
	assert_string_equal(hnvmf_log_level_name(HNVMF_LOG_DEBUG), "debug");
	assert_int_equal(hnvmf_log_level_parse("warn"), HNVMF_LOG_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buckets),     cmocka_unit_test(quantiles), cmocka_unit_test(judge),
		cmocka_unit_test(hooks),       cmocka_unit_test(error_slots), cmocka_unit_test(log_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
