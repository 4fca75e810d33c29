/* Reads from a null namespace over NVMe/TCP return zeroes, never what a reused data buffer held:
 * the null backend answers a TCP read by pointing the request's iovec at shared zeroes instead of
 * filling the buffer (HNVMF_BIO_IOV_REPLACEABLE), so the buffer still holds the previous
 * command's data. A write to the RAM namespace first fills the buffers the read then reuses (the
 * slot's in-capsule buffer for 4 KiB, the reactor's cached 128 KiB buffer), with digests off and
 * on (the data digest is computed over what is sent). */
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

static const char conf[] =
	"[global]\n"
	"control_socket =\n"
	"default_mode = direct\n"
	"\n"
	"[listener tcp]\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"\n"
	HNVMF_CONF_RAM("ram0", "16M")
	"block_size = 4096\n"
	"\n"
	"[backend null0]\n"
	"type = null\n"
	"size = 1G\n"
	"block_size = 4096\n"
	"\n"
	HNVMF_CONF_SUBSYSTEM_RAM0(HNVMF_HARNESS_SUBNQN)
	"allow_any_host = yes\n"
	"namespace = 2:null0\n";

HNVMF_HARNESS_GROUP_FIXTURES(H, conf)

static void write_then_null_read(bool digests)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.hdgst = digests;
	o.ddgst = digests;
	o.nr_io_queues = 1;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN,
						"nqn.2026-01.io.hnvmf.test:null-reader", &o, &c), 0);
	static uint8_t wbuf[128 * 1024], rbuf[128 * 1024];
	memset(wbuf, 0xab, sizeof(wbuf));
	for (int round = 0; round < 3; round++) {
		for (uint32_t len = 4096; len <= sizeof(wbuf); len *= 32) {
			uint32_t nlb = len / 4096;
			assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, nlb, wbuf, len), 0);
			memset(rbuf, 0x55, len);
			assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, nlb, rbuf, len), 0);
			assert_memory_equal(rbuf, wbuf, len); /* the RAM namespace kept it */
			memset(rbuf, 0x55, len);
			assert_int_equal(hnvmf_ini_read(c, 0, 2, (uint64_t)round * 7, nlb, rbuf, len), 0);
			for (uint32_t i = 0; i < len; i++)
				if (rbuf[i] != 0)
					fail_msg("%u-byte null read: byte %u is 0x%02x, not 0", len, i, rbuf[i]);
		}
	}
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_null_read_zeroes(void **state)
{
	(void)state;
	write_then_null_read(false);
}

static void test_null_read_zeroes_digests(void **state)
{
	(void)state;
	write_then_null_read(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_read_zeroes),
		cmocka_unit_test(test_null_read_zeroes_digests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
