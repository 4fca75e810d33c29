/* Two hnvmfd gateways of one gateway group ([gateway], docs/scale-out.md) exporting one RBD image
 * from a real Ceph cluster (CEPH_CONF, started by tests/ceph/run-ceph-tests.sh), seen from a
 * host connected to both: one owns ANA group 1 (optimized), the other reports it inaccessible;
 * the owner (which wrote, so its RBD client holds the image's lock) killed, the other fences it
 * (its lease client and its RBD client), reports the group optimized, raises the ANA Change
 * event, and data written through it verifies; the owner
 * frozen instead (as if cut off from the cluster), it finds itself fenced when it thaws and
 * exits with status 1 for its supervisor to restart it. The takeover times are printed, not
 * asserted. */
#include <endian.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/nvme-cmd.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define NQN "nqn.2026-01.io.hnvmf:gateway-group"
#define HOST "nqn.2026-01.io.hnvmf.test:gw-host"
#define LEASE_MS 3000
#define AEN_ANA_CHANGE 0x000c0302u /* Notice, ANA change, log page 0Ch */

static char conf_a[4096], conf_b[4096];

/* Gateway name, whether it prefers group 1, its cntlid range: the rest is the same on both,
 * namespace 1 on the RBD image rbd/gwimg that both open. */
static void make_conf(char *out, size_t len, const char *name, bool preferred, unsigned cntlid_min, const char *group)
{
	snprintf(out, len,
		 "[global]\n"
		 "default_mode = direct\n"
		 "control_socket = @DIR@/ctl.sock\n"
		 "cntlid_min = %u\n"
		 "cntlid_max = %u\n" HNVMF_CONF_LISTENER_IO
		 "[backend img]\n"
		 "type = rbd\n"
		 "ceph_conf = %s\n"
		 "pool = rbd\n"
		 "image = gwimg\n"
		 "[subsystem " NQN "]\n"
		 "allow_any_host = yes\n"
		 "namespace = 1:img, ana_group=1\n"
		 "[gateway]\n"
		 "group = %s\n"
		 "name = %s\n"
		 "ceph_conf = %s\n"
		 "pool = rbd\n"
		 "lease_ms = %u\n"
		 "%s",
		 cntlid_min, cntlid_min + 9, getenv("CEPH_CONF"), group, name, getenv("CEPH_CONF"), LEASE_MS,
		 preferred ? "preferred_ana_groups = 1\n" : "");
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct hnvmf_ini_ctrl *connect_nqn(const struct hnvmf_harness *h, const char *nqn)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 8;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", h->port, nqn, HOST, &o, &c), 0);
	return c;
}

static struct hnvmf_ini_ctrl *connect_to(const struct hnvmf_harness *h)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 8;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", h->port, NQN, HOST, &o, &c), 0);
	return c;
}

/* Group grpid's state in c's ANA log page of subsystem nqn's controller, or 0 when the page has
 * no such group. The descriptors are read by copy: after a group with an odd number of NSIDs the
 * next one starts only 4-byte aligned, and its 64-bit change count must not be loaded in place. */
static uint8_t ana_state(struct hnvmf_ini_ctrl *c, uint32_t grpid)
{
	static uint8_t buf[4096];
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_get_log(&sqe, NVME_LOG_LID_ANA, 0, 0, sizeof(buf), 0, false);
	struct hnvmf_cqe cqe;
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, buf, sizeof(buf), HNVMF_INI_FROM_CTRL, &cqe), 0);
	struct nvme_ana_log log;
	memcpy(&log, buf, sizeof(log));
	size_t off = sizeof(log);
	for (uint16_t i = 0; i < le16toh(log.ngrps) && off + sizeof(struct nvme_ana_group_desc) <= sizeof(buf); i++) {
		struct nvme_ana_group_desc d;
		memcpy(&d, buf + off, sizeof(d));
		if (le32toh(d.grpid) == grpid)
			return d.state;
		off += sizeof(d) + le32toh(d.nnsids) * sizeof(uint32_t);
	}
	return 0;
}

/* Polls until group 1 is in state on c; the milliseconds it took, or -1 after timeout_ms. */
static long wait_state(struct hnvmf_ini_ctrl *c, uint8_t state, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	while (now_ms() - t0 < timeout_ms) {
		if (ana_state(c, 1) == state)
			return (long)(now_ms() - t0);
		usleep(100 * 1000);
	}
	return -1;
}

static bool aer_done;
static void aer_complete(struct hnvmf_ini_io *io)
{
	(void)io;
	aer_done = true;
}

/* Enables ANA Change Notices on c and posts one Asynchronous Event Request into aer. */
static void arm_aer(struct hnvmf_ini_ctrl *c, struct hnvmf_ini_io *aer)
{
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_set_features(&sqe, NVME_FEAT_FID_ASYNC_EVENT, 1u << 11);
	struct hnvmf_cqe cqe;
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	memset(aer, 0, sizeof(*aer));
	aer->sqe.common.opcode = nvme_admin_async_event;
	aer->done = aer_complete;
	aer_done = false;
	assert_int_equal(hnvmf_ini_submit(c->admin, aer), 0);
}

static void wait_aer(struct hnvmf_ini_ctrl *c, unsigned timeout_ms)
{
	uint64_t t0 = now_ms();
	while (!aer_done && now_ms() - t0 < timeout_ms) {
		hnvmf_ini_queue_wait(c->admin, 50);
		assert_true(hnvmf_ini_queue_process(c->admin) >= 0);
	}
}

/* A and B up, A owning group 1: returns the host's controllers on each. */
static void start_pair(struct hnvmf_harness *a, struct hnvmf_harness *b, struct hnvmf_ini_ctrl **ca,
		       struct hnvmf_ini_ctrl **cb, const char *group)
{
	make_conf(conf_a, sizeof(conf_a), "gw-a", true, 10, group);
	make_conf(conf_b, sizeof(conf_b), "gw-b", false, 20, group);
	assert_int_equal(hnvmf_harness_start(a, conf_a), 0);
	assert_int_equal(hnvmf_harness_start(b, conf_b), 0);
	*ca = connect_to(a);
	*cb = connect_to(b);
	assert_true(wait_state(*ca, NVME_ANA_STATE_OPTIMIZED, 30000) >= 0);
	/* the standby never reports the group optimized beside the owner */
	assert_int_equal(ana_state(*cb, 1), NVME_ANA_STATE_INACCESSIBLE);
	assert_true((*ca)->id.cntlid != (*cb)->id.cntlid);
}

static void test_owner_killed(void **state)
{
	(void)state;
	struct hnvmf_harness a = {0}, b = {0};
	struct hnvmf_ini_ctrl *ca, *cb;
	char group[64];
	snprintf(group, sizeof(group), "kill%d", getpid());
	start_pair(&a, &b, &ca, &cb, group);
	/* the owner writes: its RBD client takes the image's exclusive lock */
	hnvmf_harness_verify(ca, 0, 64, 4096, 3);
	struct hnvmf_ini_io aer;
	arm_aer(cb, &aer);

	uint64_t t0 = now_ms();
	assert_int_equal(hnvmf_harness_signal(&a, SIGKILL), 0);
	wait_aer(cb, 4 * LEASE_MS);
	assert_true(aer_done);
	assert_int_equal(aer.status, 0);
	assert_int_equal(le32toh((uint32_t)aer.cqe.result), AEN_ANA_CHANGE);
	assert_int_equal(ana_state(cb, 1), NVME_ANA_STATE_OPTIMIZED);
	printf("owner killed: the other gateway reported optimized after %llu ms (lease %u ms)\n",
	       (unsigned long long)(now_ms() - t0), LEASE_MS);
	assert_true(hnvmf_harness_log_wait(&b, "previous owner gw-a fenced", 1000));
	/* I/O through the new owner: its writes take the image's lock from the fenced dead one */
	t0 = now_ms();
	hnvmf_harness_verify(cb, 0, 64, 4096, 7);
	printf("first write-then-verify through the new owner took %llu ms\n", (unsigned long long)(now_ms() - t0));

	hnvmf_ini_ctrl_disconnect(ca); /* its gateway is gone: only frees */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(cb), 0);
	assert_int_equal(hnvmf_harness_stop(&b), 0);
	hnvmf_harness_stop(&a); /* already dead: only its directory goes */
}

static void test_owner_frozen(void **state)
{
	(void)state;
	struct hnvmf_harness a = {0}, b = {0};
	struct hnvmf_ini_ctrl *ca, *cb;
	char group[64];
	snprintf(group, sizeof(group), "freeze%d", getpid());
	start_pair(&a, &b, &ca, &cb, group);

	uint64_t t0 = now_ms();
	assert_int_equal(hnvmf_harness_signal(&a, SIGSTOP), 0);
	long ms = wait_state(cb, NVME_ANA_STATE_OPTIMIZED, 4 * LEASE_MS);
	assert_true(ms >= 0);
	printf("owner frozen: the other gateway reported optimized after %llu ms (lease %u ms)\n",
	       (unsigned long long)(now_ms() - t0), LEASE_MS);
	assert_true(hnvmf_harness_log_wait(&b, "previous owner gw-a fenced", 1000));
	assert_int_equal(hnvmf_harness_signal(&a, SIGCONT), 0);
	/* thawed, it demotes on its own clock, finds itself fenced and stops with status 1 */
	assert_true(hnvmf_harness_log_wait(&a, "this gateway was fenced", 4 * LEASE_MS));
	for (int i = 0; i < 100 && hnvmf_harness_alive(&a); i++)
		usleep(100 * 1000);
	assert_false(hnvmf_harness_alive(&a));
	char *log = hnvmf_harness_log(&a);
	assert_non_null(log);
	assert_non_null(strstr(log, "ANA group 1 released (lease lapsed"));
	free(log);
	hnvmf_ini_ctrl_disconnect(ca); /* its gateway is gone: only frees */
	assert_int_equal(hnvmf_harness_stop(&a), 1);
	assert_int_equal(ana_state(cb, 1), NVME_ANA_STATE_OPTIMIZED);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(cb), 0);
	assert_int_equal(hnvmf_harness_stop(&b), 0);
}

static void rpc_ok(const struct hnvmf_harness *h, const char *method, const char *params)
{
	char out[4096];
	int rc = hnvmf_harness_rpc(h, method, params, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s %s: %s", method, params, out);
}

/* Lines in the owner mark of ANA group grpid (gateway name, lease client, RBD clients). */
static int mark_lines(const char *group, uint32_t grpid)
{
	char out[4096];
	if (hnvmf_harness_sh(out, sizeof(out), "rados -p rbd getxattr hnvmf.%s.ana.%u owner", group, grpid) != 0)
		return -1;
	int n = 0;
	for (const char *p = out; *p; p++)
		n += *p == '\n';
	return n + (out[0] && out[strlen(out) - 1] != '\n');
}

/* What a run-time change adds is covered like what the file had: a subsystem added on the
 * standby reports the group standby there (the file's default would be optimized), a namespace
 * in a new ANA group gets that group contended for (one owner, the other standby), and an RBD
 * namespace added on the owner puts its client into the owner mark (a takeover fences it). */
static void test_runtime_added(void **state)
{
	(void)state;
	struct hnvmf_harness a = {0}, b = {0};
	struct hnvmf_ini_ctrl *ca, *cb;
	char group[64];
	snprintf(group, sizeof(group), "rt%d", getpid());
	start_pair(&a, &b, &ca, &cb, group);
	int lines = mark_lines(group, 1);
	assert_true(lines >= 3); /* name, lease client, the RBD client of namespace 1 */

	const char *sub = "{\"nqn\":\"" NQN "-rt\",\"allow_any_host\":true}";
	const char *ns = "{\"nqn\":\"" NQN "-rt\",\"type\":\"ram\",\"size_mib\":1,\"ana_group\":1}";
	rpc_ok(&a, "nvmf_create_subsystem", sub);
	rpc_ok(&a, "nvmf_subsystem_add_ns", ns);
	rpc_ok(&b, "nvmf_create_subsystem", sub);
	rpc_ok(&b, "nvmf_subsystem_add_ns", ns);
	struct hnvmf_ini_ctrl *ra = connect_nqn(&a, NQN "-rt"), *rb = connect_nqn(&b, NQN "-rt");
	assert_int_equal(ana_state(ra, 1), NVME_ANA_STATE_OPTIMIZED);
	assert_int_equal(ana_state(rb, 1), NVME_ANA_STATE_INACCESSIBLE);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(ra), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(rb), 0);

	/* group 2, new to both, preferred by neither: whoever locks first owns it */
	const char *ns2 = "{\"nqn\":\"" NQN "\",\"nsid\":2,\"type\":\"ram\",\"size_mib\":1,\"ana_group\":2}";
	rpc_ok(&a, "nvmf_subsystem_add_ns", ns2);
	rpc_ok(&b, "nvmf_subsystem_add_ns", ns2);
	uint8_t sa = 0, sb = 0;
	for (uint64_t t0 = now_ms(); now_ms() - t0 < 4 * LEASE_MS; usleep(100 * 1000)) {
		sa = ana_state(ca, 2);
		sb = ana_state(cb, 2);
		if ((sa == NVME_ANA_STATE_OPTIMIZED) != (sb == NVME_ANA_STATE_OPTIMIZED))
			break;
	}
	assert_true((sa == NVME_ANA_STATE_OPTIMIZED && sb == NVME_ANA_STATE_INACCESSIBLE) ||
		    (sb == NVME_ANA_STATE_OPTIMIZED && sa == NVME_ANA_STATE_INACCESSIBLE));
	/* and it stays that way: the other does not take it while the owner renews */
	usleep(2 * LEASE_MS * 1000);
	assert_true((ana_state(ca, 2) == NVME_ANA_STATE_OPTIMIZED) != (ana_state(cb, 2) == NVME_ANA_STATE_OPTIMIZED));

	/* an RBD namespace added on the owner: its client joins the owner mark */
	char p[1024];
	snprintf(p, sizeof(p),
		 "{\"nqn\":\"" NQN "\",\"nsid\":3,\"type\":\"rbd\",\"ceph_conf\":\"%s\",\"pool\":\"rbd\","
		 "\"image\":\"gwimg2\",\"ana_group\":1}",
		 getenv("CEPH_CONF"));
	rpc_ok(&a, "nvmf_subsystem_add_ns", p);
	assert_int_equal(mark_lines(group, 1), lines + 1);

	assert_int_equal(hnvmf_ini_ctrl_disconnect(ca), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(cb), 0);
	assert_int_equal(hnvmf_harness_stop(&b), 0);
	assert_int_equal(hnvmf_harness_stop(&a), 0);
}

int main(void)
{
	if (!getenv("CEPH_CONF")) {
		fprintf(stderr, "test_gateway: CEPH_CONF not set (run through tests/ceph/run-ceph-tests.sh)\n");
		return 77;
	}
	char out[512];
	if (hnvmf_harness_sh(out, sizeof(out), "rbd create --size 64 rbd/gwimg && rbd create --size 16 rbd/gwimg2") != 0) {
		fprintf(stderr, "test_gateway: rbd create: %s\n", out);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_killed),
		cmocka_unit_test(test_owner_frozen),
		cmocka_unit_test(test_runtime_added),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
