/* NVMe-oF semantics of hnvmfd seen from a host: Connect refusals (host not allowed, unknown
 * subsystem, bad cntlid, qid out of range, a second Connect on a connected queue), command status
 * codes (invalid namespace, LBA out of range, unknown log page, invalid opcode), keep-alive expiry
 * tearing the controller down. Namespaces added at run time: test_reconfig.c. */
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

#include "proto/nvme-cmd.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define OPEN_NQN "nqn.2026-01.io.hnvmf:open"
#define CLOSED_NQN "nqn.2026-01.io.hnvmf:closed"
#define HOST_OK "nqn.2026-01.io.hnvmf.test:allowed"
#define HOST_BAD "nqn.2026-01.io.hnvmf.test:stranger"

static const char conf_template[] =
	"[global]\n"
	"default_mode = direct\n"
	"max_io_queues = 4\n"
	"control_socket = @DIR@/ctl.sock\n"
	HNVMF_CONF_LISTENER_IO
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_RAM("ram1", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(OPEN_NQN)
	"allow_any_host = yes\n"
	"[subsystem " CLOSED_NQN "]\n"
	"host = " HOST_OK "\n"
	"namespace = 1:ram1\n";

static struct hnvmf_harness H;

HNVMF_HARNESS_GROUP_FIXTURES(H, conf_template)

/* The status field without DNR/More: SCT << 8 | SC. */
static int sc(int status) { return status & 0x7ff; }

static int try_connect(const char *subnqn, const char *host, unsigned nq, uint32_t kato, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nq;
	o.io_depth = 16;
	if (kato)
		o.kato_ms = kato;
	*c = NULL;
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, subnqn, host, &o, c);
}

static void test_host_access(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	int r = try_connect(CLOSED_NQN, HOST_BAD, 1, 0, &c);
	assert_true(r > 0);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_HOST);
	assert_true(r & NVME_SC_DNR);
	assert_null(c);

	r = try_connect(CLOSED_NQN, HOST_OK, 1, 0, &c);
	assert_int_equal(r, 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);

	r = try_connect("nqn.2026-01.io.hnvmf:nonexistent", HOST_OK, 1, 0, &c);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_PARAM);
	assert_true(hnvmf_harness_log_wait(&H, "is not allowed on subsystem " CLOSED_NQN, 2000));
}

static void test_connect_refusals(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(try_connect(OPEN_NQN, HOST_OK, 1, 0, &c), 0);
	uint16_t cntlid = 0;
	static const uint8_t hostid[16] = {1};
	/* A second Connect on a connected I/O queue. */
	int r = hnvmf_ini_fabrics_connect(c->io[0], 1, 15, 0, c->cntlid, OPEN_NQN, HOST_OK, hostid, &cntlid, 5000);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_CTRL_BUSY);

	struct hnvmf_ini_queue_opts qo = {.depth = 4};
	struct hnvmf_ini_queue *q = NULL;
	/* An I/O queue naming a controller that does not exist. */
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	r = hnvmf_ini_fabrics_connect(q, 2, 15, 0, (uint16_t)(c->cntlid + 100), OPEN_NQN, HOST_OK, hostid, &cntlid, 5000);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_PARAM);
	hnvmf_ini_queue_close(q);
	/* qid beyond the controller's I/O queues (max_io_queues = 4). */
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	r = hnvmf_ini_fabrics_connect(q, 9, 15, 0, c->cntlid, OPEN_NQN, HOST_OK, hostid, &cntlid, 5000);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_PARAM);
	hnvmf_ini_queue_close(q);
	/* An admin Connect with a static cntlid. */
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	r = hnvmf_ini_fabrics_connect(q, 0, 15, 0, 1, OPEN_NQN, HOST_OK, hostid, &cntlid, 5000);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_PARAM);
	hnvmf_ini_queue_close(q);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_command_status(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(try_connect(OPEN_NQN, HOST_OK, 1, 0, &c), 0);
	struct hnvmf_ini_ns_info ns;
	assert_int_equal(hnvmf_ini_ns_info(c, 1, &ns), 0);
	uint8_t buf[4096];
	/* Read past the end of the namespace. */
	int r = hnvmf_ini_read(c, 0, 1, ns.nsze - 1, 8, buf, 8 * ns.lba_size);
	assert_int_equal(sc(r), NVME_SC_LBA_RANGE);
	/* I/O to a namespace that does not exist. */
	r = hnvmf_ini_read(c, 0, 7, 0, 1, buf, ns.lba_size);
	assert_int_equal(sc(r), NVME_SC_INVALID_NS);
	/* An unknown log page and an unknown admin opcode. */
	r = hnvmf_ini_get_log(c, 0xC5, 0, 0, buf, 512);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_INVALID_LOG_PAGE);
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	sqe.common.opcode = 0xC1;
	struct hnvmf_cqe cqe;
	r = hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe);
	assert_int_equal(sc(r), NVME_SC_INVALID_OPCODE);
	/* Identify of an inactive nsid in range: zeroes; Identify CNS unknown: invalid field. */
	assert_int_equal(hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS, 5, buf), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	r = hnvmf_ini_identify(c, 0x7E, 0, buf);
	assert_int_equal(sc(r), NVME_SC_INVALID_FIELD);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_keep_alive_expiry(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(try_connect(OPEN_NQN, HOST_OK, 1, 1000, &c), 0);
	char out[4096];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_get_controllers", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"kato_ms\":1000,"));
	/* Say nothing for longer than KATO: the controller goes, its queues are closed. */
	assert_true(hnvmf_harness_log_wait(&H, "keep-alive timeout", 5000));
	bool gone = false;
	for (int t = 0; t < 100 && !gone; t++) {
		assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_get_controllers", NULL, out, sizeof(out)), 0);
		gone = strcmp(out, "[]") == 0;
		usleep(20000);
	}
	assert_true(gone);
	uint8_t buf[512];
	assert_true(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)) != 0);
	hnvmf_ini_ctrl_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_access),
		cmocka_unit_test(test_connect_refusals),
		cmocka_unit_test(test_command_status),
		cmocka_unit_test(test_keep_alive_expiry),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
