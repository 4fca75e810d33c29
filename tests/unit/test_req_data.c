/* target/req-data.c: the status a request's data gets (the one decision both transports and the
 * transports' fake target share), and the CQE's bytes as they go on the wire. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "target/nvmf.h"

#define SGL_TYPE_INVALID HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE)
#define SGL_DATA_INVALID HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA)

/* A Write of 4 KiB as the parser leaves it, with the transport's verdict on its SGL. */
static struct hnvmf_req write_4k(uint32_t sgl_len, uint16_t sgl_status)
{
	struct hnvmf_req req;
	memset(&req, 0, sizeof(req));
	req.dir = HNVMF_DIR_H2C;
	req.data_len = 4096;
	req.sgl_len = sgl_len;
	req.sgl_status = sgl_status;
	return req;
}

static void refused_sgl_answers_with_the_transports_status(void **state)
{
	(void)state;
	/* The parser found the refused descriptor's length (0) wrong: that is the refusal. */
	struct hnvmf_req req = write_4k(0, SGL_TYPE_INVALID);
	assert_int_equal(hnvmf_req_check_data(&req, SGL_DATA_INVALID), SGL_TYPE_INVALID);
	/* The parser left the length to this check. */
	req = write_4k(0, SGL_TYPE_INVALID);
	assert_int_equal(hnvmf_req_check_data(&req, 0), SGL_TYPE_INVALID);
	/* A command without data whose descriptor the transport refused. */
	req = write_4k(0, SGL_TYPE_INVALID);
	req.dir = HNVMF_DIR_NONE;
	assert_int_equal(hnvmf_req_check_data(&req, 0), SGL_TYPE_INVALID);
}

static void the_command_is_judged_before_its_data(void **state)
{
	(void)state;
	struct hnvmf_req req = write_4k(0, SGL_TYPE_INVALID);
	uint16_t range = HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE);
	assert_int_equal(hnvmf_req_check_data(&req, range), range);
}

static void accepted_sgl_must_match_the_data(void **state)
{
	(void)state;
	struct hnvmf_req req = write_4k(4096, 0);
	assert_int_equal(hnvmf_req_check_data(&req, 0), 0);
	req = write_4k(8192, 0);
	assert_int_equal(hnvmf_req_check_data(&req, 0), SGL_DATA_INVALID);
	/* A read's buffer may be larger than what it returns. */
	req = write_4k(8192, 0);
	req.dir = HNVMF_DIR_C2H;
	assert_int_equal(hnvmf_req_check_data(&req, 0), 0);
}

static void cqe_is_little_endian_on_the_wire(void **state)
{
	(void)state;
	struct hnvmf_sq sq;
	memset(&sq, 0, sizeof(sq));
	sq.qid = 0x0102;
	struct hnvmf_req req;
	memset(&req, 0, sizeof(req));
	req.sq = &sq;
	req.status = SGL_TYPE_INVALID; /* host-endian inside: DNR | SCT 0 | SC 0x11 */
	hnvmf_req_build_cqe(&req, 0x0304);
	const uint8_t *b = (const uint8_t *)&req.cqe;
	const uint8_t want[] = {0x04, 0x03, 0x02, 0x01}; /* SQ head, SQ id */
	assert_memory_equal(b + 8, want, sizeof(want));
	uint16_t field = (uint16_t)(SGL_TYPE_INVALID << 1); /* bit 0 is the phase tag */
	assert_int_equal(b[14], field & 0xff);
	assert_int_equal(b[15], field >> 8);
	assert_int_equal(b[14], 0x22); /* SC 0x11 in bits 8:1 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refused_sgl_answers_with_the_transports_status),
		cmocka_unit_test(the_command_is_judged_before_its_data),
		cmocka_unit_test(accepted_sgl_must_match_the_data),
		cmocka_unit_test(cqe_is_little_endian_on_the_wire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
