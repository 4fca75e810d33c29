/* Per-host caps from [limits]: max_controllers_per_host and max_queues_per_host count one host
 * NQN's controllers and queues across all subsystems; a Connect beyond either is refused with
 * Connect Controller Busy, and what a torn-down controller held is released (its host can connect
 * again). Other hosts are not affected. */
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

#define SUB1 "nqn.2026-01.io.hnvmf:caps1"
#define SUB2 "nqn.2026-01.io.hnvmf:caps2"
#define HOST "nqn.2026-01.io.hnvmf.test:caps"
#define OTHER "nqn.2026-01.io.hnvmf.test:caps-other"

static const char conf_template[] =
	"[global]\n"
	"max_io_queues = 8\n"
	"[limits]\n"
	"max_controllers_per_host = 3\n"
	"max_queues_per_host = 8\n"
	HNVMF_CONF_LISTENER_IO
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_RAM("ram1", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(SUB1)
	"allow_any_host = yes\n"
	"[subsystem " SUB2 "]\n"
	"namespace = 1:ram1\n"
	"allow_any_host = yes\n";

static struct hnvmf_harness H;

HNVMF_HARNESS_GROUP_FIXTURES(H, conf_template)

static int ctrl(const char *sub, const char *host, unsigned nr_io, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nr_io;
	o.io_depth = 16;
	*c = NULL;
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, sub, host, &o, c);
}

/* A raw Connect of qid to cntlid (0xFFFF: admin). Returns the NVMe status, 0 = connected; the
 * queue stays open in *q. */
static int raw_connect(const char *sub, const char *host, uint16_t qid, uint16_t cntlid, struct hnvmf_ini_queue **q)
{
	struct hnvmf_ini_queue_opts qo = { .depth = 16, .timeout_ms = 5000 };
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, q), 0);
	uint8_t hostid[16];
	hnvmf_ini_hostid_from_nqn(host, hostid);
	uint16_t got = 0;
	return hnvmf_ini_fabrics_connect(*q, qid, 15, qid ? 0 : 10000, cntlid, sub, host, hostid, &got, 5000);
}

static void assert_busy(int st)
{
	if (st <= 0)
		fail_msg("Connect answered %d, expected Connect Controller Busy", st);
	assert_int_equal(hnvmf_status_sct((uint16_t)st), NVME_SCT_CMD_SPECIFIC);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_CONNECT_CTRL_BUSY);
}

static void test_controllers_per_host(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c[3];
	assert_int_equal(ctrl(SUB1, HOST, 0, &c[0]), 0);
	assert_int_equal(ctrl(SUB2, HOST, 0, &c[1]), 0);
	assert_int_equal(ctrl(SUB1, HOST, 0, &c[2]), 0);
	/* the fourth, on either subsystem, is one too many */
	struct hnvmf_ini_queue *q = NULL;
	assert_busy(raw_connect(SUB2, HOST, 0, 0xFFFF, &q));
	hnvmf_ini_queue_close(q);
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST " holds 3 controllers (max_controllers_per_host)", 2000));
	/* another host is not counted with it */
	struct hnvmf_ini_ctrl *o = NULL;
	assert_int_equal(ctrl(SUB1, OTHER, 0, &o), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(o), 0);
	/* a controller torn down gives its place back */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c[2]), 0);
	int st = -1;
	for (int i = 0; i < 100 && st != 0; i++) { /* the teardown runs on the daemon's reactor */
		st = ctrl(SUB2, HOST, 0, &c[2]);
		if (st)
			usleep(20000);
	}
	assert_int_equal(st, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hnvmf_ini_ctrl_disconnect(c[i]), 0);
}

static void test_queues_per_host(void **state)
{
	(void)state;
	/* 1 + 4 queues, then 1 + 1: seven of the eight */
	struct hnvmf_ini_ctrl *a = NULL, *b = NULL;
	int st = -1;
	for (int i = 0; i < 100 && st != 0; i++) { /* the previous test's controllers may still go */
		st = ctrl(SUB1, HOST, 4, &a);
		if (st)
			usleep(20000);
	}
	assert_int_equal(st, 0);
	assert_int_equal(ctrl(SUB2, HOST, 1, &b), 0);
	struct hnvmf_ini_queue *q3 = NULL, *q4 = NULL;
	assert_int_equal(raw_connect(SUB2, HOST, 2, b->cntlid, &q3), 0); /* the eighth */
	assert_busy(raw_connect(SUB2, HOST, 3, b->cntlid, &q4));          /* the ninth */
	hnvmf_ini_queue_close(q4);
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST " holds 8 queues (max_queues_per_host)", 2000));
	/* a new controller needs an admin queue: refused as well */
	struct hnvmf_ini_queue *qa = NULL;
	assert_busy(raw_connect(SUB1, HOST, 0, 0xFFFF, &qa));
	hnvmf_ini_queue_close(qa);
	/* a closed queue gives its place back */
	hnvmf_ini_queue_close(q3);
	st = -1;
	for (int i = 0; i < 100 && st != 0; i++) {
		st = raw_connect(SUB2, HOST, 3, b->cntlid, &q4);
		if (st) {
			hnvmf_ini_queue_close(q4);
			usleep(20000);
		}
	}
	assert_int_equal(st, 0);
	hnvmf_ini_queue_close(q4);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(a), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controllers_per_host),
		cmocka_unit_test(test_queues_per_host),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
