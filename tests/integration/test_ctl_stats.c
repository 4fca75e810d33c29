/* nvmf_get_stats: the transports' requests in each state (tcp-req.c's tcp_req_set_state counts
 * them per reactor), through the control socket of a running hnvmfd. A Write whose data the
 * host holds back is seen waiting for H2CData; once its connection is gone nothing is left. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define TMO 5000

static struct hnvmf_harness H;

static const char conf_template[] =
	"[global]\n"
	"control_socket = @DIR@/ctl.sock\n"
	HNVMF_CONF_IO_RAM0("16M", HNVMF_HARNESS_SUBNQN)
	"allow_any_host = yes\n";

static int setup(void **state)
{
	(void)state;
	return hnvmf_harness_start(&H, conf_template) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* The count of requests in state name of the TCP transport, from nvmf_get_stats. */
static long tcp_count(const char *name)
{
	static char out[1 << 16];
	char key[64];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_stats", NULL, out, sizeof(out)), 0);
	const char *line = strstr(out, "\"transports\":{\"tcp\":{");
	if (!line)
		fail_msg("no tcp transport in nvmf_get_stats: %s", out);
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(line, key);
	if (!p)
		fail_msg("no %s in: %s", name, line);
	return strtol(p + strlen(key), NULL, 10);
}

/* Waits until the count reaches want; returns the last count. */
static long wait_count(const char *name, long want)
{
	long n = -1;
	for (int i = 0; i < 500 && (n = tcp_count(name)) != want; i++)
		nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
	return n;
}

static void test_stats_counts_waiting_write(void **state)
{
	(void)state;
	assert_int_equal(tcp_count("wait_h2c"), 0);
	assert_int_equal(tcp_count("bad_transitions"), 0);
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 4;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN,
						"nqn.2026-01.io.hnvmf.test:stats", &o, &c), 0);
	int fd = hnvmf_ini_queue_take_fd(c->io[0]);
	assert_true(fd >= 0);

	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, true, 1, 0, 8);
	s.common.cid = htole16(1);
	s.common.flags = 0x40;
	s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
	s.common.dptr.length = htole32(4096);
	uint8_t pdu[128], buf[64];
	uint32_t pad;
	size_t n = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
	assert_int_equal(hnvmf_raw_send(fd, pdu, n + pad, TMO), 0);
	assert_int_equal(hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), TMO), 24); /* the R2T */
	assert_int_equal(buf[0], HNVMF_TCP_R2T);
	assert_int_equal(tcp_count("wait_h2c"), 1);

	close(fd); /* the write is abandoned with its connection */
	assert_int_equal(wait_count("wait_h2c", 0), 0);
	hnvmf_ini_ctrl_disconnect(c);
	assert_int_equal(wait_count("executing", 0), 0);
	assert_int_equal(tcp_count("sending"), 0);
	assert_int_equal(tcp_count("bad_transitions"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_counts_waiting_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
