/* NVMe/TCP I/O against a running hnvmfd, driven by the userspace initiator: bring-up and
 * Identify, discovery, pattern write/read-back on every namespace with several queues and
 * depths, in-capsule and R2T writes, multi-PDU reads, digests off and on, Flush, Write Zeroes,
 * several hosts at once; the daemon must stop cleanly at the end. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

static struct hnvmf_harness H;
static const char *HOST_A = "nqn.2026-01.io.hnvmf.test:host-a";
static const char *HOST_B = "nqn.2026-01.io.hnvmf.test:host-b";

static int setup(void **state)
{
	(void)state;
	return hnvmf_harness_start(&H, NULL);
}

static int teardown(void **state)
{
	(void)state;
	int st = hnvmf_harness_stop(&H);
	if (st != 0)
		fprintf(stderr, "hnvmfd exit status %d\n", st);
	return st == 0 ? 0 : -1;
}

static struct hnvmf_ini_ctrl *connect_io(const char *host, bool hd, bool dd, unsigned nq, unsigned depth)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.hdgst = hd;
	o.ddgst = dd;
	o.nr_io_queues = nq;
	o.io_depth = depth;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN, host, &o, &c);
	if (r)
		fail_msg("connect: %d (%s)", r, strerror(r < 0 ? -r : 0));
	return c;
}

static void test_identify(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_io(HOST_A, false, false, 2, 32);
	assert_int_equal(c->nr_io, 2);
	assert_int_equal(le16toh(c->id.cntlid), c->cntlid);
	assert_true(le32toh(c->id.ioccsz) >= 4);
	assert_true(le32toh(c->id.iorcsz) >= 1);
	assert_int_equal(c->id.cntrltype, 1); /* I/O controller */
	assert_true(le16toh(c->id.kas) > 0);
	assert_string_equal(c->id.subnqn, HNVMF_HARNESS_SUBNQN);
	assert_int_equal(c->cap & 0xffff, 127); /* queue_depth 128 */
	assert_int_equal(hnvmf_ini_queue_icd_max(c->io[0]), le32toh(c->id.ioccsz) * 16 - 64);

	uint32_t nsids[8];
	unsigned n = 0;
	assert_int_equal(hnvmf_ini_active_ns(c, nsids, 8, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(nsids[0], 1);
	assert_int_equal(nsids[1], 2);
	struct hnvmf_ini_ns_info ni;
	assert_int_equal(hnvmf_ini_ns_info(c, 1, &ni), 0);
	assert_int_equal(ni.lba_size, 512);
	assert_int_equal(ni.nsze, (64u << 20) / 512);
	assert_int_equal(hnvmf_ini_ns_info(c, 2, &ni), 0);
	assert_int_equal(ni.lba_size, 4096);
	assert_int_equal(ni.nsze, (16u << 20) / 4096);
	assert_int_equal(hnvmf_ini_keep_alive(c), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void check_discovery(uint16_t port)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", port, "nqn.2014-08.org.nvmexpress.discovery",
						HOST_A, &o, &c), 0);
	assert_int_equal(c->id.cntrltype, 2); /* discovery controller */
	struct nvmf_discovery_log *log = NULL;
	assert_int_equal(hnvmf_ini_discovery_log(c, &log), 0);
	bool found = false;
	char port_s[8];
	snprintf(port_s, sizeof(port_s), "%u", H.port);
	for (uint64_t i = 0; i < le64toh(log->numrec); i++) {
		const struct nvmf_disc_log_entry *e = &log->entries[i];
		if (!strcmp(e->subnqn, HNVMF_HARNESS_SUBNQN) && !strncmp(e->trsvcid, port_s, strlen(port_s) + 1) &&
		    e->trtype == NVMF_TRTYPE_TCP && !strcmp(e->traddr, "127.0.0.1"))
			found = true;
	}
	assert_true(found);
	free(log);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_discovery(void **state)
{
	(void)state;
	check_discovery(H.disc_port);
	check_discovery(H.port); /* every listener answers discovery */
}

static void verify_all(struct hnvmf_ini_ctrl *c, uint32_t io_size, unsigned qd, uint64_t seed,
		       uint64_t max_bytes)
{
	for (uint32_t nsid = 1; nsid <= 2; nsid++) {
		struct hnvmf_ini_ns_info ni;
		assert_int_equal(hnvmf_ini_ns_info(c, nsid, &ni), 0);
		uint64_t nblocks = max_bytes / ni.lba_size;
		if (nblocks > ni.nsze)
			nblocks = ni.nsze;
		struct hnvmf_ini_verify_opts vo = {
			.nsid = nsid, .slba = 0, .nblocks = nblocks, .lba_size = ni.lba_size,
			.io_size = io_size < ni.lba_size ? ni.lba_size : io_size, .qd = qd,
			.seed = seed + nsid, .write = true, .read = true,
		};
		struct hnvmf_ini_verify_result res;
		int r = hnvmf_ini_verify(c, &vo, &res);
		if (r)
			fail_msg("nsid %u io %u qd %u: verify %d, status 0x%x, %llu bad blocks (first %llu)",
				 nsid, vo.io_size, qd, r, res.status, (unsigned long long)res.bad_blocks,
				 (unsigned long long)res.first_bad_lba);
		uint64_t ios = (nblocks * ni.lba_size + vo.io_size - 1) / vo.io_size;
		assert_int_equal(res.writes, ios);
		assert_int_equal(res.reads, ios);
	}
}

static void verify_matrix(bool hd, bool dd)
{
	/* 4 KiB and 8 KiB (the in-capsule limit) travel in-capsule; 12 KiB and 256 KiB wait for
	 * R2Ts; 256 KiB reads span several C2HData PDUs on the target's side of MAXH2CDATA. */
	static const uint32_t sizes[] = { 512, 4096, 8192, 12288, 262144 };
	struct hnvmf_ini_ctrl *c = connect_io(HOST_A, hd, dd, 4, 64);
	assert_int_equal(c->nr_io, 4);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		verify_all(c, sizes[i], i % 2 ? 1 : 16, 100 + i, 4u << 20);
	uint64_t icd = 0, r2ts = 0, c2h = 0, rsps = 0;
	for (unsigned q = 0; q < c->nr_io; q++) {
		struct hnvmf_ini_queue_stats s;
		hnvmf_ini_queue_stats(c->io[q], &s);
		icd += s.icd_writes;
		r2ts += s.r2ts;
		c2h += s.c2h_pdus;
		rsps += s.rsps;
	}
	assert_true(icd > 4);   /* beyond the four Connects */
	assert_true(r2ts > 0);
	assert_true(c2h > 0);
	assert_true(rsps > 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_verify_plain(void **state) { (void)state; verify_matrix(false, false); }
static void test_verify_hdgst(void **state) { (void)state; verify_matrix(true, false); }
static void test_verify_ddgst(void **state) { (void)state; verify_matrix(false, true); }
static void test_verify_both_digests(void **state) { (void)state; verify_matrix(true, true); }

static void test_flush_write_zeroes(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_io(HOST_B, false, false, 1, 8);
	uint8_t *buf = malloc(8 * 512), zero[512] = { 0 };
	int st;
	memset(buf, 0x5c, 8 * 512);
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 1000, 8, buf, 8 * 512), 0);
	assert_int_equal(hnvmf_ini_flush(c, 0, 1), 0);
	assert_int_equal(hnvmf_ini_write_zeroes(c, 0, 1, 1002, 2), 0);
	memset(buf, 0xee, 8 * 512);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 1000, 8, buf, 8 * 512), 0);
	for (unsigned b = 0; b < 8; b++) {
		if (b == 2 || b == 3)
			assert_memory_equal(buf + b * 512, zero, 512);
		else
			assert_int_equal(buf[b * 512 + 17], 0x5c);
	}
	/* Compare: block 1000 holds 0x5c everywhere; the same data matches, other data does not */
	uint8_t want[512];
	memset(want, 0x5c, sizeof(want));
	struct hnvmf_ini_io cmp = { .data = want, .len = sizeof(want), .dir = HNVMF_INI_TO_CTRL };
	hnvmf_sqe_rw(&cmp.sqe, true, 1, 1000, 1);
	cmp.sqe.common.opcode = nvme_cmd_compare;
	assert_int_equal(hnvmf_ini_exec(c->io[0], &cmp, 5000), 0);
	want[300] ^= 1;
	cmp.sqe.common.opcode = nvme_cmd_compare;
	st = hnvmf_ini_exec(c->io[0], &cmp, 5000);
	assert_true(st > 0);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_COMPARE_FAILED);
	/* beyond the namespace: an NVMe status, the queue keeps working */
	st = hnvmf_ini_read(c, 0, 1, (64u << 20) / 512 - 1, 2, buf, 1024);
	assert_true(st > 0);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_LBA_RANGE);
	/* the same range check for Write Zeroes and for a Dataset Management range */
	st = hnvmf_ini_write_zeroes(c, 0, 1, (64u << 20) / 512 - 1, 2);
	assert_true(st > 0);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_LBA_RANGE);
	struct nvme_dsm_range past_end = { .nlb = htole32(2), .slba = htole64((64u << 20) / 512 - 1) };
	st = hnvmf_ini_deallocate(c, 0, 1, &past_end, 1);
	assert_true(st > 0);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_LBA_RANGE);
	/* a namespace that does not exist */
	st = hnvmf_ini_read(c, 0, 9, 0, 1, buf, 512);
	assert_true(st > 0);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 1000, 1, buf, 512), 0);
	/* Dataset Management deallocate of two ranges (sent as in-capsule data) */
	struct nvme_dsm_range ranges[2] = {
		{ .nlb = htole32(8), .slba = htole64(2000) },
		{ .nlb = htole32(16), .slba = htole64(4000) },
	};
	assert_int_equal(hnvmf_ini_deallocate(c, 0, 1, ranges, 2), 0);
	free(buf);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Two hosts at once, asynchronously, on separate controllers: neither disturbs the other. */
static void test_two_hosts_async(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *a = connect_io(HOST_A, false, false, 2, 32);
	struct hnvmf_ini_ctrl *b = connect_io(HOST_B, true, true, 2, 32);
	assert_int_not_equal(a->cntlid, b->cntlid);
	struct hnvmf_ini_verify_opts vo = { .nsid = 1, .nblocks = 8192, .lba_size = 512,
					    .io_size = 16384, .qd = 16, .write = true, .read = true };
	struct hnvmf_ini_verify_result ra, rb;
	vo.slba = 0;
	vo.seed = 1;
	assert_int_equal(hnvmf_ini_verify(a, &vo, &ra), 0);
	vo.slba = 8192;
	vo.seed = 2;
	assert_int_equal(hnvmf_ini_verify(b, &vo, &rb), 0);
	/* each sees the other's data */
	vo.write = false;
	vo.slba = 0;
	vo.seed = 1;
	assert_int_equal(hnvmf_ini_verify(b, &vo, &rb), 0);
	vo.slba = 8192;
	vo.seed = 2;
	assert_int_equal(hnvmf_ini_verify(a, &vo, &ra), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(a), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(b), 0);
}

static void test_harness_check(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(hnvmf_harness_check(NULL, &out), 0);
	free(out);
	assert_int_equal(hnvmf_harness_check("[listener tcp]\naddress = 127.0.0.1\nport = 70000\n", &out), 1);
	assert_non_null(out);
	assert_non_null(strstr(out, "port"));
	free(out);
	assert_true(hnvmf_harness_alive(&H));
	assert_true(hnvmf_harness_log_wait(&H, "ready", 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_verify_plain),
		cmocka_unit_test(test_verify_hdgst),
		cmocka_unit_test(test_verify_ddgst),
		cmocka_unit_test(test_verify_both_digests),
		cmocka_unit_test(test_flush_write_zeroes),
		cmocka_unit_test(test_two_hosts_async),
		cmocka_unit_test(test_harness_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
