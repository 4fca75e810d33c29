/* The initiator's CRC32C digest (against published check values) and the PDUs it builds. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

/* The unit-test target does not link hnvmf_initiator: compile the sources under test in. */

static void test_crc32c_check_value(void **state)
{
	(void)state;
	/* the CRC-32C (Castagnoli) catalogue check value */
	assert_int_equal(hnvmf_crc32c("123456789", 9), 0xE3069283u);
	/* RFC 3720 (iSCSI) B.4 vectors */
	uint8_t b[32];
	memset(b, 0, sizeof(b));
	assert_int_equal(hnvmf_crc32c(b, sizeof(b)), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(hnvmf_crc32c(b, sizeof(b)), 0x62A8AB43u);
	for (unsigned i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(hnvmf_crc32c(b, sizeof(b)), 0x46DD794Eu);
	assert_int_equal(hnvmf_crc32c(NULL, 0), 0);
}

static void test_crc32c_incremental(void **state)
{
	(void)state;
	const char *s = "123456789";
	for (unsigned split = 0; split <= 9; split++) {
		uint32_t c = hnvmf_crc32c_init();
		c = hnvmf_crc32c_update(c, s, split);
		c = hnvmf_crc32c_update(c, s + split, 9 - split);
		assert_int_equal(hnvmf_crc32c_final(c), 0xE3069283u);
	}
}

static void test_icreq(void **state)
{
	(void)state;
	struct hnvmf_tcp_icreq r;
	memset(&r, 0xaa, sizeof(r));
	hnvmf_pdu_icreq(&r, true, false);
	const uint8_t *b = (const uint8_t *)&r;
	assert_int_equal(b[0], 0x00);             /* type ICReq */
	assert_int_equal(b[2], 128);              /* hlen */
	assert_int_equal(b[3], 0);                /* pdo */
	assert_int_equal(b[4] | b[5] << 8, 128);  /* plen */
	assert_int_equal(b[8] | b[9] << 8, 0);    /* pfv */
	assert_int_equal(b[10], 0);               /* hpda */
	assert_int_equal(b[11], 1);               /* header digest only */
	assert_int_equal(b[12] | b[13] | b[14] | b[15], 0); /* maxr2t 0 */
	for (unsigned i = 16; i < 128; i++)
		assert_int_equal(b[i], 0);
	hnvmf_pdu_icreq(&r, false, true);
	assert_int_equal(b[11], 2);
}

static struct hnvmf_tcp_icresp good_icresp(void)
{
	struct hnvmf_tcp_icresp r;
	memset(&r, 0, sizeof(r));
	r.hdr.type = HNVMF_TCP_ICRESP;
	r.hdr.hlen = 128;
	r.hdr.plen = htole32(128);
	r.digest = HNVMF_TCP_DIGEST_DATA;
	r.maxdata = htole32(131072);
	return r;
}

static void test_icresp_check(void **state)
{
	(void)state;
	const char *why = NULL;
	struct hnvmf_tcp_icresp r = good_icresp();
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), 0);
	/* digest bits must echo what we asked, both ways */
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, false, &why), -EPROTO);
	assert_non_null(strstr(why, "data digest"));
	assert_int_equal(hnvmf_pdu_icresp_check(&r, true, true, &why), -EPROTO);
	r = good_icresp();
	r.maxdata = htole32(4094);
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), -EPROTO);
	r.maxdata = htole32(2048);
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), -EPROTO);
	r = good_icresp();
	r.pfv = htole16(1);
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), -EPROTO);
	r = good_icresp();
	r.hdr.plen = htole32(132);
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), -EPROTO);
	r = good_icresp();
	r.hdr.type = HNVMF_TCP_C2H_TERM;
	assert_int_equal(hnvmf_pdu_icresp_check(&r, false, true, &why), -EPROTO);
}

static void test_cmd_pdu(void **state)
{
	(void)state;
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, true, 1, 0x123456789ull, 8);
	uint8_t buf[80];
	uint32_t pad = 99;

	/* no data, no digest */
	size_t hl = hnvmf_pdu_cmd(buf, &s, 0, false, false, 0, &pad);
	assert_int_equal(hl, 72);
	assert_int_equal(pad, 0);
	assert_int_equal(buf[0], HNVMF_TCP_CMD);
	assert_int_equal(buf[1], 0);
	assert_int_equal(buf[2], 72);
	assert_int_equal(buf[3], 0); /* pdo 0 without data */
	assert_int_equal(le32toh(((struct hnvmf_tcp_hdr *)buf)->plen), 72);
	assert_memory_equal(buf + 8, &s, 64);

	/* 4 KiB in-capsule with both digests: pdo 76, plen 76 + 4096 + 4 */
	hl = hnvmf_pdu_cmd(buf, &s, 4096, true, true, 0, &pad);
	assert_int_equal(hl, 76);
	assert_int_equal(pad, 0);
	assert_int_equal(buf[1], HNVMF_TCP_F_HDGST | HNVMF_TCP_F_DDGST);
	assert_int_equal(buf[3], 76);
	assert_int_equal(le32toh(((struct hnvmf_tcp_hdr *)buf)->plen), 76 + 4096 + 4);
	uint32_t d;
	memcpy(&d, buf + 72, 4);
	assert_int_equal(le32toh(d), hnvmf_crc32c(buf, 72));

	/* cpda 3 = 16-byte alignment: the data starts at 80 after 4 bytes of padding */
	hl = hnvmf_pdu_cmd(buf, &s, 512, true, false, 3, &pad);
	assert_int_equal(hl, 76);
	assert_int_equal(pad, 4);
	assert_int_equal(buf[3], 80);
	assert_int_equal(le32toh(((struct hnvmf_tcp_hdr *)buf)->plen), 80 + 512);
}

static void test_h2c_pdu(void **state)
{
	(void)state;
	uint8_t buf[28];
	uint32_t pad;
	size_t hl = hnvmf_pdu_h2c_data(buf, htole16(0x1234), htole16(0x55), 8192, 4096, true, false,
				       true, 0, &pad);
	struct hnvmf_tcp_data d;
	memcpy(&d, buf, sizeof(d));
	assert_int_equal(hl, 24);
	assert_int_equal(d.hdr.type, HNVMF_TCP_H2C_DATA);
	assert_int_equal(d.hdr.flags, HNVMF_TCP_F_DDGST | HNVMF_TCP_F_DATA_LAST);
	assert_int_equal(d.hdr.pdo, 24);
	assert_int_equal(le32toh(d.hdr.plen), 24 + 4096 + 4);
	assert_int_equal(le16toh(d.cid), 0x1234);
	assert_int_equal(le16toh(d.ttag), 0x55);
	assert_int_equal(le32toh(d.offset), 8192);
	assert_int_equal(le32toh(d.length), 4096);

	hl = hnvmf_pdu_h2c_data(buf, 0, 0, 0, 100, false, true, false, 1, &pad);
	memcpy(&d, buf, sizeof(d));
	assert_int_equal(hl, 28);
	assert_int_equal(pad, 4);   /* 8-byte alignment: 28 -> 32 */
	assert_int_equal(d.hdr.pdo, 32);
	assert_int_equal(d.hdr.flags, HNVMF_TCP_F_HDGST);
	assert_int_equal(le32toh(d.hdr.plen), 32 + 100);
}

static void test_sqe_builders(void **state)
{
	(void)state;
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, false, 7, 0x100000002ull, 256);
	assert_int_equal(s.common.opcode, nvme_cmd_read);
	assert_int_equal(le32toh(s.common.nsid), 7);
	assert_int_equal(le32toh(s.common.cdw10), 2);
	assert_int_equal(le32toh(s.common.cdw11), 1);
	assert_int_equal(le32toh(s.common.cdw12), 255);

	/* discovery log of 1024 + 2 * 1024 bytes: NUMD = 767 (0's based dwords) */
	hnvmf_sqe_get_log(&s, NVME_LOG_LID_DISCOVER, 0, 0x200000010ull, 3072, 0, false);
	assert_int_equal(s.common.opcode, nvme_admin_get_log_page);
	assert_int_equal(le32toh(s.common.cdw10), 0x70u | 767u << 16);
	assert_int_equal(le32toh(s.common.cdw11), 0);
	assert_int_equal(le32toh(s.common.cdw12), 0x10);
	assert_int_equal(le32toh(s.common.cdw13), 2);
	hnvmf_sqe_get_log(&s, 2, 0, 0, 4u << 18, 0, true); /* NUMD 0x3ffff spans NUMDU */
	assert_int_equal(le32toh(s.common.cdw10), 2u | 1u << 15 | 0xffffu << 16);
	assert_int_equal(le32toh(s.common.cdw11), 3);

	hnvmf_sqe_identify(&s, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0);
	assert_int_equal(le32toh(s.common.cdw10), 2);
	hnvmf_sqe_dsm(&s, 1, 3, true);
	assert_int_equal(le32toh(s.common.cdw10), 2);
	assert_int_equal(le32toh(s.common.cdw11), 4);
	hnvmf_sqe_write_zeroes(&s, 1, 10, 8);
	assert_int_equal(s.common.opcode, nvme_cmd_write_zeroes);
	assert_int_equal(le32toh(s.common.cdw12), 7);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(hnvmf_pdu_type_name(HNVMF_TCP_R2T), "R2T");
	assert_string_equal(hnvmf_pdu_type_name(8), "unknown");
	assert_string_equal(hnvmf_pdu_type_name(200), "unknown");
	assert_int_equal(hnvmf_pdu_expected_hlen(HNVMF_TCP_CMD), 72);
	assert_int_equal(hnvmf_pdu_expected_hlen(HNVMF_TCP_RSP), 24);
	assert_int_equal(hnvmf_pdu_expected_hlen(8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_check_value), cmocka_unit_test(test_crc32c_incremental),
		cmocka_unit_test(test_icreq),		   cmocka_unit_test(test_icresp_check),
		cmocka_unit_test(test_cmd_pdu),		   cmocka_unit_test(test_h2c_pdu),
		cmocka_unit_test(test_sqe_builders),	   cmocka_unit_test(test_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
