/* hnvmf_tgt_set_ana_state (target/ana.c) on a target built from a configuration: the ANA log
 * page's change counts and states follow each change (and only changes), one subsystem or all
 * of them, bad arguments refused; and a change raises the ANA Change event on the controllers of
 * the subsystem concerned (enabled, once until the log is read), not on others. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "target/nvmf.h"

#define NQN_A "nqn.2026-01.io.hnvmf:a"
#define NQN_B "nqn.2026-01.io.hnvmf:b"

static const char conf_text[] = "[listener io]\n"
				"address = 127.0.0.1\n"
				"[backend r0]\ntype = ram\nsize = 1M\n"
				"[backend r1]\ntype = ram\nsize = 1M\n"
				"[backend r2]\ntype = ram\nsize = 1M\n"
				"[subsystem " NQN_A "]\n"
				"namespace = 1:r0\n"
				"namespace = 2:r1, ana_group=2\n"
				"ana_state = 2:non-optimized\n"
				"[subsystem " NQN_B "]\n"
				"namespace = 1:r2, ana_group=2\n";

struct fixture {
	struct hnvmf_conf *conf;
	struct hnvmf_tgt *tgt;
};

static int setup(void **state)
{
	static struct fixture f;
	char path[] = "/tmp/test_ana_state.XXXXXX", err[512];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, conf_text, sizeof(conf_text) - 1), (ssize_t)sizeof(conf_text) - 1);
	close(fd);
	int rc = hnvmf_conf_load(path, &f.conf, err, sizeof(err));
	unlink(path);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(hnvmf_tgt_create(f.conf, NULL, &f.tgt, err, sizeof(err)), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hnvmf_tgt_destroy(f->tgt);
	hnvmf_conf_free(f->conf);
	return 0;
}

/* The log of subsystem nqn (with NSIDs), under the lock as the Get Log Page handler reads it. */
static struct nvme_ana_log *log_of(struct hnvmf_tgt *tgt, const char *nqn, size_t *len)
{
	void *log;
	pthread_mutex_lock(&tgt->lock);
	*len = hnvmf_ana_log_build(hnvmf_tgt_find_subsys(tgt, nqn), false, &log);
	pthread_mutex_unlock(&tgt->lock);
	assert_non_null(log);
	return log;
}

/* The idx-th group descriptor of a log with NSIDs. */
static const struct nvme_ana_group_desc *desc_of(const struct nvme_ana_log *log, unsigned idx)
{
	const uint8_t *p = (const uint8_t *)log->descs;
	for (unsigned i = 0; i < idx; i++)
		p += sizeof(struct nvme_ana_group_desc) + le32toh(((const struct nvme_ana_group_desc *)p)->nnsids) * 4;
	return (const struct nvme_ana_group_desc *)p;
}

static void state_changes_and_counts(void **state)
{
	struct fixture *f = *state;
	size_t len;
	struct nvme_ana_log *log = log_of(f->tgt, NQN_A, &len);
	assert_int_equal(len, sizeof(*log) + 2 * (sizeof(struct nvme_ana_group_desc) + 4));
	assert_int_equal(le64toh(log->chgcnt), 0);
	assert_int_equal(le16toh(log->ngrps), 2);
	assert_int_equal(desc_of(log, 0)->state, NVME_ANA_STATE_OPTIMIZED);
	assert_int_equal(desc_of(log, 1)->state, NVME_ANA_STATE_NONOPTIMIZED); /* configured */
	free(log);

	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 2, NVME_ANA_STATE_INACCESSIBLE), 1);
	/* The same state again is no change: no count, no event. */
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 2, NVME_ANA_STATE_INACCESSIBLE), 0);
	log = log_of(f->tgt, NQN_A, &len);
	assert_int_equal(le64toh(log->chgcnt), 1);
	assert_int_equal(le64toh(desc_of(log, 0)->chgcnt), 0);
	assert_int_equal(le64toh(desc_of(log, 1)->chgcnt), 1);
	assert_int_equal(desc_of(log, 1)->state, NVME_ANA_STATE_INACCESSIBLE);
	free(log);
	/* The per-I/O check follows the state. */
	struct hnvmf_subsys *a = hnvmf_tgt_find_subsys(f->tgt, NQN_A);
	assert_int_equal(hnvmf_ana_io_status(a, hnvmf_subsys_ns(a, 2)),
			 NVME_SCT_PATH << 8 | NVME_SC_ANA_INACCESSIBLE);
	assert_int_equal(hnvmf_ana_io_status(a, hnvmf_subsys_ns(a, 1)), 0);

	/* Every subsystem (NULL): group 2 changes in b (optimized -> change) and back in a. */
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NULL, 2, NVME_ANA_STATE_CHANGE), 2);
	log = log_of(f->tgt, NQN_B, &len);
	assert_int_equal(le16toh(log->ngrps), 1);
	assert_int_equal(le32toh(desc_of(log, 0)->grpid), 2);
	assert_int_equal(desc_of(log, 0)->state, NVME_ANA_STATE_CHANGE);
	assert_int_equal(le64toh(log->chgcnt), 1);
	free(log);
	log = log_of(f->tgt, NQN_A, &len);
	assert_int_equal(le64toh(log->chgcnt), 2);
	free(log);

	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, "nqn.2026-01.io.hnvmf:none", 1, 1), -ENOENT);
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 0, 1), -EINVAL);
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, HNVMF_MAX_ANA_GROUPS + 1, 1), -EINVAL);
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 1, 5), -EINVAL);
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 1, 0), -EINVAL);
}

static atomic_int responses;
static void record_response(struct hnvmf_req *req)
{
	(void)req;
	atomic_fetch_add(&responses, 1);
}
static void no_disconnect(struct hnvmf_sq *sq) { (void)sq; }
static const struct hnvmf_sq_ops ops = {.queue_response = record_response, .disconnect = no_disconnect, .name = "test"};

static void wait_responses(int n)
{
	for (int i = 0; i < 2000 && atomic_load(&responses) < n; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

struct aer {
	union hnvmf_sqe cmd;
	struct hnvmf_req req;
};

static void post_aer(struct hnvmf_ctrl *c, struct hnvmf_sq *sq, struct aer *a)
{
	memset(a, 0, sizeof(*a));
	a->req.cmd = &a->cmd;
	a->req.sq = sq;
	atomic_fetch_add(&sq->inflight, 1);
	hnvmf_ctrl_queue_aer(c, &a->req);
}

static void change_raises_event(void **state)
{
	struct fixture *f = *state;
	struct hnvmf_reactor *r;
	assert_int_equal(hnvmf_reactor_create("ana", &r), 0);
	assert_int_equal(hnvmf_reactor_start(r, -1), 0);
	static const uint8_t hostid[16] = {1};
	struct hnvmf_ctrl *ca, *cb;
	assert_int_equal(hnvmf_ctrl_create(f->tgt, hnvmf_tgt_find_subsys(f->tgt, NQN_A), "nqn.2026-01.io.hnvmf.test:h",
					   hostid, 0, &ca), 0);
	assert_int_equal(hnvmf_ctrl_create(f->tgt, hnvmf_tgt_find_subsys(f->tgt, NQN_B), "nqn.2026-01.io.hnvmf.test:h",
					   hostid, 0, &cb), 0);
	ca->aen_config = cb->aen_config = HNVMF_AEC_ANA_CHANGE;
	struct hnvmf_sq sqa, sqb;
	hnvmf_sq_init(&sqa, f->tgt, NULL, r, &ops);
	hnvmf_sq_init(&sqb, f->tgt, NULL, r, &ops);
	sqa.ctrl = ca; /* admin queues (qid 0) of the two controllers, for hnvmf_sq_quiesce */
	sqb.ctrl = cb;
	static struct aer a1, a2, b1;
	post_aer(ca, &sqa, &a1);
	post_aer(ca, &sqa, &a2);
	post_aer(cb, &sqb, &b1);

	/* Group 1 exists only in a: a's controller gets the event, b's does not. */
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 1, NVME_ANA_STATE_NONOPTIMIZED), 1);
	wait_responses(1);
	assert_int_equal(atomic_load(&responses), 1);
	assert_int_equal((le32toh(a1.req.cqe.result) == HNVMF_AEN_ANA_CHANGED) +
				 (le32toh(a2.req.cqe.result) == HNVMF_AEN_ANA_CHANGED),
			 1);
	/* Masked until the host reads the log: a second change completes no other AER. */
	assert_int_equal(hnvmf_tgt_set_ana_state(f->tgt, NQN_A, 1, NVME_ANA_STATE_OPTIMIZED), 1);
	usleep(50000);
	assert_int_equal(atomic_load(&responses), 1);
	assert_true(ca->aen_masked & HNVMF_AEC_ANA_CHANGE);
	assert_false(cb->aen_masked & HNVMF_AEC_ANA_CHANGE);

	hnvmf_sq_quiesce(&sqa); /* answers the AERs still held */
	hnvmf_sq_quiesce(&sqb);
	wait_responses(3);
	hnvmf_reactor_stop(r);
	hnvmf_reactor_destroy(r);
	/* As a queue would, hold a reference across the teardown that drops the table's. */
	struct hnvmf_ctrl *cs[] = {ca, cb};
	for (int i = 0; i < 2; i++) {
		atomic_fetch_add(&cs[i]->refs, 1);
		hnvmf_ctrl_fatal(cs[i], "test over");
		hnvmf_ctrl_put(cs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_changes_and_counts),
		cmocka_unit_test(change_raises_event),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
