/* SGL descriptors NVMe/TCP refuses, against a running hnvmfd (issue #11): a Read or Write whose
 * data is described by a keyed (RDMA) data block gets SGL Descriptor Type Invalid (SC 0x11), not
 * the data-length error the target would find if it ignored the transport's verdict. The status
 * is checked on the wire bytes of the CapsuleResp: little-endian, phase bit 0. */
#include <endian.h>
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

static int setup(void **state)
{
	(void)state;
	return hnvmf_harness_start(&H, NULL) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* A connected I/O queue (qid 1) handed to the raw helpers; *c keeps its admin queue. */
static int raw_io_queue(struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 4;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN,
				       "nqn.2026-01.io.hnvmf.test:sgl", &o, c);
	if (r)
		fail_msg("connect: %d", r);
	int fd = hnvmf_ini_queue_take_fd((*c)->io[0]);
	assert_true(fd >= 0);
	return fd;
}

/* Sends a Read or Write of 8 blocks (cid) whose SGL is a keyed data block, and checks the
 * CapsuleResp's status bytes as they came over the wire. */
static void keyed_sgl_refused(int fd, bool write, uint16_t cid)
{
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, write, 1, 100, 8);
	s.common.cid = htole16(cid);
	s.common.flags = 0x40;
	s.common.dptr.type = HNVMF_SGL_KEYED_DATA;
	s.common.dptr.length = htole32(4096);
	s.common.dptr.addr = htole64(0x1000);
	uint8_t pdu[128];
	uint32_t pad;
	size_t n = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
	assert_int_equal(hnvmf_raw_send(fd, pdu, n + pad, TMO), 0);

	uint8_t buf[64];
	assert_int_equal(hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), TMO), 24);
	assert_int_equal(buf[0], HNVMF_TCP_RSP);
	const uint8_t *cqe = buf + 8; /* after the PDU's common header */
	assert_int_equal(cqe[12] | cqe[13] << 8, cid);
	uint16_t want = (uint16_t)(HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE) << 1);
	uint16_t got = (uint16_t)(cqe[14] | cqe[15] << 8);
	if (got != want)
		fail_msg("%s with a keyed SGL: status field 0x%04x (SC 0x%02x), want 0x%04x (SC 0x11)",
			 write ? "Write" : "Read", got, (got >> 1) & 0xff, want);
}

static void test_keyed_sgl_write(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int fd = raw_io_queue(&c);
	keyed_sgl_refused(fd, true, 7);
	keyed_sgl_refused(fd, false, 8);
	close(fd);
	hnvmf_ini_ctrl_disconnect(c);
	assert_true(hnvmf_harness_alive(&H));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyed_sgl_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
