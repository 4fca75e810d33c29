/* NVMe/RDMA: the connection request's private data checks (reject statuses) and the command
 * SGL parsing (in-capsule offset and length, keyed length/key/invalidate), without verbs. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/rdma-proto.h"
#include "target/nvmf.h"

static struct rdma_cm_req_pd pd(uint16_t recfmt, uint16_t qid, uint16_t hrq, uint16_t hsq)
{
	struct rdma_cm_req_pd r;
	memset(&r, 0, sizeof(r));
	r.recfmt = htole16(recfmt);
	r.qid = htole16(qid);
	r.hrqsize = htole16(hrq);
	r.hsqsize = htole16(hsq);
	return r;
}

/* What the Linux host sends: admin hrqsize 32 / hsqsize 31, I/O queue_size / queue_size - 1. */
static void linux_requests_accepted(void **state)
{
	(void)state;
	struct rdma_cm_params p;
	struct rdma_cm_req_pd r = pd(0, 0, 32, 31);
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_OK);
	assert_int_equal(p.qid, 0);
	assert_int_equal(p.recv_depth, 32);
	r = pd(0, 3, 128, 127);
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_OK);
	assert_int_equal(p.qid, 3);
	assert_int_equal(p.recv_depth, 128);
	assert_int_equal(p.hrqsize, 128);
}

static void bad_requests_rejected(void **state)
{
	(void)state;
	struct rdma_cm_params p;
	struct rdma_cm_req_pd r = pd(1, 0, 32, 31);
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_RECFMT);
	r = pd(0, 0, 32, 31);
	assert_int_equal(rdma_cm_parse_req(&r, 4, HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_LEN);
	assert_int_equal(rdma_cm_parse_req(NULL, 0, HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_LEN);
	r = pd(0, 9, 128, 127);
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_QID);
	r = pd(0, 8, 128, 127); /* the last allowed qid */
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_OK);
	r = pd(0, 0, 64, 32); /* admin deeper than 32 */
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_HSQSIZE);
	r = pd(0, 1, 256, 128); /* I/O deeper than queue_depth */
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_HSQSIZE);
	r = pd(0, 1, 2, 0); /* a one-entry queue */
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_HSQSIZE);
	r = pd(0, 1, 0, 31);
	assert_int_equal(rdma_cm_parse_req(&r, sizeof(r), HNVMF_ADMIN_QUEUE_DEPTH, 128, 8, &p), RDMA_CM_INVALID_HRQSIZE);
}

static union hnvmf_sqe sqe_with(uint8_t type, uint64_t addr, uint32_t len, uint32_t key)
{
	union hnvmf_sqe s;
	memset(&s, 0, sizeof(s));
	s.common.dptr.addr = htole64(addr);
	s.common.dptr.type = type;
	uint8_t *b = (uint8_t *)&s.common.dptr;
	if (type == HNVMF_SGL_KEYED_DATA || type == HNVMF_SGL_KEYED_DATA_INV) {
		b[8] = len & 0xff;
		b[9] = (len >> 8) & 0xff;
		b[10] = (len >> 16) & 0xff;
		b[11] = key & 0xff;
		b[12] = (key >> 8) & 0xff;
		b[13] = (key >> 16) & 0xff;
		b[14] = key >> 24;
	} else {
		s.common.dptr.length = htole32(len);
	}
	return s;
}

static void keyed(void **state)
{
	(void)state;
	struct rdma_sgl g;
	union hnvmf_sqe s = sqe_with(HNVMF_SGL_KEYED_DATA_INV, 0x7f0012345000ull, 0x100000, 0xa1b2c3d4);
	assert_int_equal(rdma_sgl_parse(&s, 0, 8192, &g), 0);
	assert_int_equal(g.kind, RDMA_SGL_KEYED);
	assert_int_equal(g.len, 0x100000);
	assert_int_equal(g.key, 0xa1b2c3d4);
	assert_true(g.addr == 0x7f0012345000ull);
	assert_true(g.invalidate);
	s = sqe_with(HNVMF_SGL_KEYED_DATA, 0x1000, 4096, 7);
	assert_int_equal(rdma_sgl_parse(&s, 0, 8192, &g), 0);
	assert_false(g.invalidate);
	assert_int_equal(g.len, 4096);
	/* Zero length: no data, but the key still wants invalidating. */
	s = sqe_with(HNVMF_SGL_KEYED_DATA_INV, 0, 0, 9);
	assert_int_equal(rdma_sgl_parse(&s, 0, 8192, &g), 0);
	assert_int_equal(g.kind, RDMA_SGL_NONE);
	assert_true(g.invalidate);
}

static void in_capsule(void **state)
{
	(void)state;
	struct rdma_sgl g;
	union hnvmf_sqe s = sqe_with(HNVMF_SGL_DATA_BLOCK_OFFSET, 0, 4096, 0);
	assert_int_equal(rdma_sgl_parse(&s, 4096, 8192, &g), 0);
	assert_int_equal(g.kind, RDMA_SGL_INLINE);
	assert_int_equal(g.len, 4096);
	/* Claims more than arrived. */
	assert_int_equal(rdma_sgl_parse(&s, 1024, 8192, &g), HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA));
	/* Beyond what the queue accepts (IOCCSZ). */
	assert_int_equal(rdma_sgl_parse(&s, 4096, 2048, &g), HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_OFFSET));
	/* An offset within the in-capsule data. */
	s = sqe_with(HNVMF_SGL_DATA_BLOCK_OFFSET, 512, 512, 0);
	assert_int_equal(rdma_sgl_parse(&s, 1024, 8192, &g), 0);
	assert_true(g.addr == 512);
	assert_int_equal(rdma_sgl_parse(&s, 1023, 8192, &g), HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA));
	/* An offset that would wrap around. */
	s = sqe_with(HNVMF_SGL_DATA_BLOCK_OFFSET, UINT64_MAX - 10, 512, 0);
	assert_int_equal(rdma_sgl_parse(&s, 8192, 8192, &g), HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_OFFSET));
}

static void other_types(void **state)
{
	(void)state;
	struct rdma_sgl g;
	/* TCP's transport data block means nothing here. */
	union hnvmf_sqe s = sqe_with(HNVMF_SGL_TRANSPORT_DATA, 0, 4096, 0);
	assert_int_equal(rdma_sgl_parse(&s, 0, 8192, &g), HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE));
	/* Any type with no data is no data. */
	s = sqe_with(0x00, 0, 0, 0);
	assert_int_equal(rdma_sgl_parse(&s, 0, 8192, &g), 0);
	assert_int_equal(g.kind, RDMA_SGL_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linux_requests_accepted),
		cmocka_unit_test(bad_requests_rejected),
		cmocka_unit_test(keyed),
		cmocka_unit_test(in_capsule),
		cmocka_unit_test(other_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
