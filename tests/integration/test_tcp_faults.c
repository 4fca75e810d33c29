/* Malformed NVMe/TCP traffic against a running hnvmfd: each fault must end only the connection
 * that carried it, with a C2HTermReq whose FES names the fault (NVMe/TCP 1.0, 3.6.2.3/7.4.x),
 * while a healthy controller of another host keeps doing verified I/O, and the daemon must still
 * stop cleanly. A data digest error is not fatal: the command fails with Transient Transport
 * Error and the connection goes on. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define TMO 5000

static struct hnvmf_harness H;
static struct hnvmf_ini_ctrl *healthy;
static uint64_t healthy_seed = 1;
static const char *HOST_OK = "nqn.2026-01.io.hnvmf.test:healthy";
static const char *HOST_BAD = "nqn.2026-01.io.hnvmf.test:faulty";

static struct hnvmf_ini_ctrl *connect_io(const char *host, bool hd, bool dd)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.hdgst = hd;
	o.ddgst = dd;
	o.nr_io_queues = 1;
	o.io_depth = 16;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN, host, &o, &c);
	if (r)
		fail_msg("connect %s: %d", host, r);
	return c;
}

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_start(&H, NULL))
		return -1;
	healthy = connect_io(HOST_OK, true, true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int r = hnvmf_ini_ctrl_disconnect(healthy);
	int st = hnvmf_harness_stop(&H);
	return r == 0 && st == 0 ? 0 : -1;
}

/* After every fault: the other host's controller still reads back what it writes. */
static void healthy_still_works(void)
{
	struct hnvmf_ini_verify_opts vo = { .nsid = 1, .slba = 50000, .nblocks = 256, .lba_size = 512,
					    .io_size = 16384, .qd = 4, .seed = healthy_seed++,
					    .write = true, .read = true };
	struct hnvmf_ini_verify_result res;
	assert_int_equal(hnvmf_ini_verify(healthy, &vo, &res), 0);
	assert_true(hnvmf_harness_alive(&H));
}

static int raw_live(bool hd, bool dd)
{
	int fd = hnvmf_raw_connect("127.0.0.1", H.port, TMO);
	assert_true(fd >= 0);
	struct hnvmf_tcp_icresp rsp;
	assert_int_equal(hnvmf_raw_icreq(fd, hd, dd, &rsp, TMO), 0);
	assert_int_equal(hnvmf_pdu_icresp_check(&rsp, hd, dd, NULL), 0);
	return fd;
}

/* A connected I/O queue (qid 1) handed to the raw helpers; *c keeps its admin queue. */
static int raw_io_queue(bool hd, bool dd, struct hnvmf_ini_ctrl **c)
{
	*c = connect_io(HOST_BAD, hd, dd);
	int fd = hnvmf_ini_queue_take_fd((*c)->io[0]);
	assert_true(fd >= 0);
	return fd;
}

static void expect_term(int fd, int fes)
{
	int got = hnvmf_raw_expect_term(fd, TMO);
	if (got != fes)
		fail_msg("expected C2HTermReq FES %d, got %d", fes, got);
	close(fd);
}

/* Sends a CapsuleCmd (cid 1) for xfer bytes of data, len of them in-capsule; corrupt flips
 * its header digest, bad_ddgst its data digest. */
static void send_cmd_x(int fd, union hnvmf_sqe *s, uint32_t xfer, const void *icd, uint32_t len,
		       bool hd, bool dd, bool corrupt, bool bad_ddgst)
{
	uint8_t *pdu = calloc(1, 128 + len + 4);
	s->common.cid = htole16(1);
	s->common.flags = 0x40;
	s->common.dptr.length = htole32(xfer);
	s->common.dptr.type = len ? HNVMF_SGL_DATA_BLOCK_OFFSET : HNVMF_SGL_TRANSPORT_DATA;
	uint32_t pad;
	size_t hl = hnvmf_pdu_cmd(pdu, s, len, hd, dd, 0, &pad);
	if (corrupt)
		pdu[hl - 1] ^= 0x5a;
	size_t n = hl + pad;
	if (len) {
		memcpy(pdu + n, icd, len);
		n += len;
		if (dd) {
			uint32_t d = htole32(hnvmf_crc32c(icd, len) ^ (bad_ddgst ? 1 : 0));
			memcpy(pdu + n, &d, 4);
			n += 4;
		}
	}
	assert_int_equal(hnvmf_raw_send(fd, pdu, n, TMO), 0);
	free(pdu);
}

static void send_cmd(int fd, union hnvmf_sqe *s, const void *icd, uint32_t len, bool hd, bool dd,
		     bool corrupt, bool bad_ddgst)
{
	send_cmd_x(fd, s, len, icd, len, hd, dd, corrupt, bad_ddgst);
}

static void test_unknown_pdu_type(void **state)
{
	(void)state;
	int fd = raw_live(false, false);
	uint8_t junk[24] = { 0x42, 0, 24, 0, 24, 0, 0, 0 };
	assert_int_equal(hnvmf_raw_send(fd, junk, sizeof(junk), TMO), 0);
	expect_term(fd, HNVMF_TCP_FES_INVALID_PDU_HDR);
	healthy_still_works();
}

static void test_capsule_before_icreq(void **state)
{
	(void)state;
	int fd = hnvmf_raw_connect("127.0.0.1", H.port, TMO);
	assert_true(fd >= 0);
	union hnvmf_sqe s;
	hnvmf_sqe_keep_alive(&s);
	send_cmd(fd, &s, NULL, 0, false, false, false, false);
	expect_term(fd, HNVMF_TCP_FES_PDU_SEQ_ERR);
	healthy_still_works();
}

static void test_icreq_bad_pfv(void **state)
{
	(void)state;
	int fd = hnvmf_raw_connect("127.0.0.1", H.port, TMO);
	assert_true(fd >= 0);
	struct hnvmf_tcp_icreq req;
	hnvmf_pdu_icreq(&req, false, false);
	req.pfv = htole16(1);
	assert_int_equal(hnvmf_raw_send(fd, &req, sizeof(req), TMO), 0);
	expect_term(fd, HNVMF_TCP_FES_UNSUPPORTED_PARAM);
	healthy_still_works();
}

static void test_capsule_wrong_hlen(void **state)
{
	(void)state;
	int fd = raw_live(false, false);
	uint8_t pdu[72] = { HNVMF_TCP_CMD, 0, 64, 0, 72, 0, 0, 0 };
	pdu[8] = nvme_admin_keep_alive;
	assert_int_equal(hnvmf_raw_send(fd, pdu, sizeof(pdu), TMO), 0);
	expect_term(fd, HNVMF_TCP_FES_INVALID_PDU_HDR);
	healthy_still_works();
}

static void test_plen_below_hlen(void **state)
{
	(void)state;
	int fd = raw_live(false, false);
	uint8_t pdu[72] = { HNVMF_TCP_CMD, 0, 72, 0, 40, 0, 0, 0 };
	assert_int_equal(hnvmf_raw_send(fd, pdu, sizeof(pdu), TMO), 0);
	expect_term(fd, HNVMF_TCP_FES_INVALID_PDU_HDR);
	healthy_still_works();
}

static void test_header_digest_error(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(true, false, &c);
	union hnvmf_sqe s;
	hnvmf_sqe_flush(&s, 1);
	send_cmd(fd, &s, NULL, 0, true, false, true, false);
	expect_term(fd, HNVMF_TCP_FES_HDR_DIGEST_ERR);
	assert_int_equal(hnvmf_ini_keep_alive(c), 0); /* its admin queue lives on */
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_incapsule_over_limit(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	uint32_t limit = hnvmf_ini_queue_icd_max(c->io[0]), len = limit + 4096;
	uint8_t *data = calloc(1, len);
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, true, 1, 0, len / 512);
	send_cmd(fd, &s, data, len, false, false, false, false);
	free(data);
	expect_term(fd, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void send_h2c(int fd, uint16_t ttag, uint32_t off, uint32_t len, bool last)
{
	uint8_t hdr[28];
	uint8_t *data = calloc(1, len);
	size_t hl = hnvmf_pdu_h2c_data(hdr, htole16(1), ttag, off, len, last, false, false, 0, NULL);
	assert_int_equal(hnvmf_raw_send(fd, hdr, hl, TMO), 0);
	/* the target may cut the connection before all of it arrives */
	hnvmf_raw_send(fd, data, len, TMO);
	free(data);
}

static void test_h2c_without_r2t(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	send_h2c(fd, htole16(0x7777), 0, 4096, true);
	expect_term(fd, HNVMF_TCP_FES_INVALID_PDU_HDR);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

/* A write of len bytes waiting for its data: returns the R2T's ttag (as received). */
static uint16_t start_r2t_write(int fd, uint32_t len, uint32_t *r2t_len)
{
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, true, 1, 0, len / 512);
	send_cmd_x(fd, &s, len, NULL, 0, false, false, false, false);
	uint8_t buf[64];
	int n = hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), TMO);
	assert_int_equal(n, 24);
	struct hnvmf_tcp_r2t r;
	memcpy(&r, buf, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_R2T);
	assert_int_equal(le16toh(r.cid), 1);
	assert_int_equal(le32toh(r.offset), 0);
	*r2t_len = le32toh(r.length);
	assert_true(*r2t_len > 0 && *r2t_len <= len);
	return r.ttag;
}

static void test_h2c_out_of_range(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	uint32_t rlen;
	uint16_t ttag = start_r2t_write(fd, 16384, &rlen);
	assert_int_equal(rlen, 16384);
	send_h2c(fd, ttag, 0, 8192, false);
	send_h2c(fd, ttag, 8192, 12288, true); /* ends 4 KiB past the command's data */
	expect_term(fd, HNVMF_TCP_FES_DATA_OUT_OF_RANGE);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_h2c_out_of_order(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	uint32_t rlen;
	uint16_t ttag = start_r2t_write(fd, 16384, &rlen);
	send_h2c(fd, ttag, 8192, 8192, true); /* skips the first half */
	expect_term(fd, HNVMF_TCP_FES_PDU_SEQ_ERR);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_h2c_over_maxh2cdata(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	uint32_t maxh2c = hnvmf_ini_queue_maxh2cdata(c->io[0]), rlen;
	uint32_t len = 2 * maxh2c;
	uint16_t ttag = start_r2t_write(fd, len, &rlen);
	assert_true(rlen > maxh2c); /* the R2T may ask for more than one PDU carries */
	send_h2c(fd, ttag, 0, maxh2c + 4096, false);
	expect_term(fd, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_data_digest_error_is_not_fatal(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, true, &c);
	uint8_t data[4096];
	memset(data, 0x33, sizeof(data));
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, true, 1, 4000, 8);
	send_cmd(fd, &s, data, sizeof(data), false, true, false, true);
	uint8_t buf[64];
	assert_int_equal(hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), TMO), 24);
	struct hnvmf_tcp_rsp r;
	memcpy(&r, buf, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_RSP);
	uint16_t st = le16toh(r.cqe.status) >> 1;
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_GENERIC);
	assert_int_equal(hnvmf_status_sc(st), NVME_SC_TRAN_TPORT_ERROR);
	/* the same connection goes on: a correct write is answered with success */
	hnvmf_sqe_rw(&s, true, 1, 4000, 8);
	send_cmd(fd, &s, data, sizeof(data), false, true, false, false);
	assert_int_equal(hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), TMO), 24);
	memcpy(&r, buf, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_RSP);
	assert_int_equal(le16toh(r.cqe.status) >> 1, 0);
	close(fd);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

/* A peer that vanishes halfway through a command header, and one that vanishes in the middle of
 * a write's data after the R2T: there is nobody to send a C2HTermReq to; the target frees that
 * connection and what it held (a leak would fail the ASan build's exit check at teardown) and
 * serves the others. */
static void test_truncated_header_then_close(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, false, 1, 0, 8);
	s.common.cid = htole16(1);
	s.common.flags = 0x40;
	s.common.dptr.length = htole32(4096);
	s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
	uint8_t pdu[128];
	uint32_t pad;
	size_t hl = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
	assert_int_equal(hnvmf_raw_send(fd, pdu, hl / 2, TMO), 0);
	close(fd);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_cut_mid_data(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(false, false, &c);
	uint32_t rlen;
	uint16_t ttag = start_r2t_write(fd, 16384, &rlen);
	uint8_t hdr[28], data[5000] = {0};
	size_t hl = hnvmf_pdu_h2c_data(hdr, htole16(1), ttag, 0, rlen, true, false, false, 0, NULL);
	assert_int_equal(hnvmf_raw_send(fd, hdr, hl, TMO), 0);
	assert_int_equal(hnvmf_raw_send(fd, data, sizeof(data), TMO), 0); /* of rlen bytes announced */
	close(fd);
	hnvmf_ini_ctrl_disconnect(c);
	healthy_still_works();
}

static void test_daemon_logged_the_faults(void **state)
{
	(void)state;
	assert_true(hnvmf_harness_log_wait(&H, "FES 3", TMO));
	assert_true(hnvmf_harness_log_wait(&H, "data digest error", TMO));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_pdu_type),
		cmocka_unit_test(test_capsule_before_icreq),
		cmocka_unit_test(test_icreq_bad_pfv),
		cmocka_unit_test(test_capsule_wrong_hlen),
		cmocka_unit_test(test_plen_below_hlen),
		cmocka_unit_test(test_header_digest_error),
		cmocka_unit_test(test_incapsule_over_limit),
		cmocka_unit_test(test_h2c_without_r2t),
		cmocka_unit_test(test_h2c_out_of_range),
		cmocka_unit_test(test_h2c_out_of_order),
		cmocka_unit_test(test_h2c_over_maxh2cdata),
		cmocka_unit_test(test_data_digest_error_is_not_fatal),
		cmocka_unit_test(test_truncated_header_then_close),
		cmocka_unit_test(test_cut_mid_data),
		cmocka_unit_test(test_daemon_logged_the_faults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
