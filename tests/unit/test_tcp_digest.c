/* NVMe/TCP digests: CRC32C with the seed and final inversion the Linux host uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/tcp-digest.h"

/* The CRC-32C catalogue check value of "123456789". */
static void check_value(void **state)
{
	(void)state;
	assert_int_equal(tcp_crc("123456789", 9), 0xE3069283u);
}

/* A digest computed in pieces equals the one computed at once (H2CData spans recv calls). */
static void incremental(void **state)
{
	(void)state;
	uint8_t buf[10000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	uint32_t whole = tcp_crc(buf, sizeof(buf));
	uint32_t crc = TCP_CRC_SEED;
	crc = tcp_crc_update(crc, buf, 1);
	crc = tcp_crc_update(crc, buf + 1, 4095);
	crc = tcp_crc_update(crc, buf + 4096, sizeof(buf) - 4096);
	assert_int_equal(tcp_crc_final(crc), whole);
	buf[5000] ^= 1;
	assert_int_not_equal(tcp_crc(buf, sizeof(buf)), whole);
}

/* The digest goes on the wire little endian, right after the covered bytes. */
static void append_le(void **state)
{
	(void)state;
	uint8_t b[13] = "123456789";
	tcp_digest_append(b, 9);
	const uint8_t want[4] = { 0x83, 0x92, 0x06, 0xE3 };
	assert_memory_equal(b + 9, want, 4);
	assert_int_equal(tcp_get_le32(b + 9), 0xE3069283u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_value),
		cmocka_unit_test(incremental),
		cmocka_unit_test(append_le),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
