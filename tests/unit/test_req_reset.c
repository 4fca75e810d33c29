/* Commands on an I/O queue that a controller reset deleted (target/req.c, sq->deleted set by
 * target/ctrl.c when CC.EN goes 1 -> 0 or a shutdown starts): between the reset and the
 * moment the transport closes the queue's connection, a new command fails at once with Command
 * Aborted due to SQ Deletion (no DNR), and one whose data was still arriving fails at execute
 * instead of reaching the backend. The network-level behaviour (the queue is closed, the
 * controller comes back with CC.EN = 1) is in tests/integration/test_spec_conformance.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "target/nvmf.h"

static struct hnvmf_req *responded;
static void capture_response(struct hnvmf_req *req) { responded = req; }
static void no_disconnect(struct hnvmf_sq *sq) { (void)sq; }
static const struct hnvmf_sq_ops ops = {.queue_response = capture_response, .disconnect = no_disconnect, .name = "test"};

static bool executed;
static void must_not_run(struct hnvmf_req *req)
{
	(void)req;
	executed = true;
}

struct fix {
	struct hnvmf_conf conf;
	struct hnvmf_tgt tgt;
	struct hnvmf_subsys subsys;
	struct hnvmf_ns ns;
	struct hnvmf_ctrl ctrl;
	struct hnvmf_sq sq;
	union hnvmf_sqe cmd;
	struct hnvmf_req req;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	f->tgt.conf = &f->conf;
	f->ns.nsid = 1;
	f->ns.nlba = 1024;
	f->ns.lba_shift = 9;
	atomic_store(&f->subsys.ns[1], &f->ns);
	f->ctrl.subsys = &f->subsys;
	f->ctrl.tgt = &f->tgt;
	hnvmf_sq_init(&f->sq, &f->tgt, NULL, NULL, &ops);
	f->sq.ctrl = &f->ctrl;
	f->sq.qid = 1;
	f->sq.size = 16;
	responded = NULL;
	executed = false;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint16_t status_of(const struct hnvmf_req *req) { return req->status; }

static void test_new_command_aborted(void **state)
{
	struct fix *f = *state;
	atomic_store(&f->sq.deleted, true);
	f->cmd.common.opcode = nvme_cmd_read;
	f->cmd.common.nsid = htole32(1);
	f->req.sgl_len = 512;
	assert_false(hnvmf_req_init(&f->req, &f->sq, &f->cmd));
	assert_ptr_equal(responded, &f->req);
	uint16_t st = status_of(&f->req);
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_GENERIC);
	assert_int_equal(hnvmf_status_sc(st), NVME_SC_ABORT_QUEUE);
	assert_int_equal(st & NVME_SC_DNR, 0);
	assert_int_equal(f->req.xfer_len, 0);
}

static void test_parsed_command_aborted_at_execute(void **state)
{
	struct fix *f = *state;
	f->cmd.common.opcode = nvme_cmd_flush;
	f->cmd.common.nsid = htole32(1);
	f->req.sgl_len = 0;
	assert_true(hnvmf_req_init(&f->req, &f->sq, &f->cmd)); /* the queue is live: parsed */
	assert_null(responded);
	f->req.execute = must_not_run;
	atomic_store(&f->sq.deleted, true); /* the reset comes in between */
	hnvmf_req_execute(&f->req);
	assert_false(executed);
	assert_ptr_equal(responded, &f->req);
	assert_int_equal(hnvmf_status_sc(status_of(&f->req)), NVME_SC_ABORT_QUEUE);
}

static void test_fabrics_command_still_served(void **state)
{
	struct fix *f = *state;
	/* Disconnect on a deleted queue is still answered (the host may be tearing it down). */
	atomic_store(&f->sq.deleted, true);
	f->cmd.fabrics.opcode = nvme_admin_fabrics;
	f->cmd.fabrics.fctype = nvme_fabrics_type_disconnect;
	assert_true(hnvmf_req_init(&f->req, &f->sq, &f->cmd));
	hnvmf_req_execute(&f->req);
	assert_ptr_equal(responded, &f->req);
	assert_int_equal(status_of(&f->req), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_command_aborted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parsed_command_aborted_at_execute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fabrics_command_still_served, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
