/* Several gateways exporting one subsystem (docs/ana.md), seen from a host: Identify reports
 * Asymmetric Namespace Access (CMIC, ANACAP, ANATT, ANAGRPMAX, NANAGRPID, OAES, ANAGRPID per
 * namespace); the ANA log page with and without Return Groups Only; I/O to a namespace whose
 * group is inaccessible or changing gets the path status the host retries elsewhere; a state
 * changed at run time (hnvmf_ana_set_state) raises the ANA Change event, moves the log page's
 * change counts and the I/O status, and back; two
 * daemons with disjoint cntlid ranges give disjoint controller IDs and otherwise identical
 * Identify data; an exhausted range refuses the Connect; the discovery log refers hosts to
 * the peer gateways' discovery services. */
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

#define NQN "nqn.2026-01.io.hnvmf:shared"
#define HOST_A "nqn.2026-01.io.hnvmf.test:host-a"
#define HOST_B "nqn.2026-01.io.hnvmf.test:host-b"

/* Everything but [global]: one subsystem, namespaces 1 and 4 in group 1, 2 in group 2
 * (inaccessible through this gateway), 3 in group 3 (in change). */
#define BODY                                                                                       \
	"control_socket = @DIR@/ctl.sock\n" HNVMF_CONF_LISTENER_IO "[listener disc]\n"              \
	"address = 127.0.0.1\n"                                                                    \
	"port = @DISC_PORT@\n"                                                                     \
	"discovery = yes\n" HNVMF_CONF_RAM("ram0", "8M") HNVMF_CONF_RAM("ram1", "8M")              \
	HNVMF_CONF_RAM("ram2", "8M") HNVMF_CONF_RAM("ram3", "8M")                                 \
	"[subsystem " NQN "]\n"                                                                    \
	"allow_any_host = yes\n"                                                                   \
	"model = shared model\n"                                                                   \
	"namespace = 1:ram0\n"                                                                     \
	"namespace = 2:ram1, ana_group=2\n"                                                        \
	"namespace = 3:ram2, ana_group=3\n"                                                        \
	"namespace = 4:ram3, ana_group=1\n"                                                        \
	"ana_state = 2:inaccessible\n"                                                             \
	"ana_state = 3:change\n"

static const char conf_main[] = "[global]\n"
				"default_mode = direct\n"
				"anatt = 7\n"
				"cntlid_min = 10\n"
				"cntlid_max = 19\n"
				"referral = 127.0.0.2:18009\n"
				"referral = [::1]:4430\n" BODY;
/* A second gateway of the same group: same configuration, another cntlid range. */
static const char conf_peer[] = "[global]\n"
				"default_mode = direct\n"
				"anatt = 7\n"
				"cntlid_min = 20\n"
				"cntlid_max = 29\n"
				"referral = 127.0.0.2:18009\n"
				"referral = [::1]:4430\n" BODY;
/* A range of one controller ID. */
static const char conf_one[] = "[global]\n"
			       "default_mode = direct\n"
			       "cntlid_min = 7\n"
			       "cntlid_max = 7\n" BODY;

static struct hnvmf_harness H;

HNVMF_HARNESS_GROUP_FIXTURES(H, conf_main)

static int connect_to(const struct hnvmf_harness *h, const char *host, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 16;
	*c = NULL;
	return hnvmf_ini_ctrl_connect("127.0.0.1", h->port, NQN, host, &o, c);
}

static void test_identify(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(connect_to(&H, HOST_A, &c), 0);
	const struct nvme_id_ctrl *id = &c->id;
	assert_int_equal(id->cmic, NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL |
					   NVME_CTRL_CMIC_MULTI_ANA_REPORTING);
	assert_int_equal(id->anatt, 7);
	assert_int_equal(id->anacap, NVME_CTRL_ANACAP_OPT | NVME_CTRL_ANACAP_NON_OPT |
					     NVME_CTRL_ANACAP_INACCESSIBLE | NVME_CTRL_ANACAP_PERSISTENT_LOSS |
					     NVME_CTRL_ANACAP_CHANGE | NVME_CTRL_ANACAP_GRPID_NO_CHG);
	assert_int_equal(le32toh(id->anagrpmax), 32);
	assert_int_equal(le32toh(id->nanagrpid), 32);
	assert_true(le32toh(id->oaes) & (1u << 11)); /* ANA Change Notices */
	/* With ANA the Linux host needs MNAN in 1..NN ("Invalid MNAN value"). */
	assert_true(le32toh(id->mnan) >= 1 && le32toh(id->mnan) <= le32toh(id->nn));
	static const uint32_t grp[] = {0, 1, 2, 3, 1};
	for (uint32_t nsid = 1; nsid <= 4; nsid++) {
		struct nvme_id_ns ns;
		assert_int_equal(hnvmf_ini_identify_ns(c, nsid, &ns), 0);
		assert_int_equal(le32toh(ns.anagrpid), grp[nsid]);
		assert_true(ns.nmic & 1); /* shared */
	}
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Reads the ANA log page (LSP bit 0: Return Groups Only) into buf. */
static int ana_log(struct hnvmf_ini_ctrl *c, bool rgo, void *buf, uint32_t len)
{
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_get_log(&sqe, NVME_LOG_LID_ANA, 0, 0, len, rgo ? NVME_LOG_ANA_LSP_RGO_GROUPS_ONLY : 0, false);
	struct hnvmf_cqe cqe;
	return hnvmf_ini_admin_exec(c, &sqe, buf, len, HNVMF_INI_FROM_CTRL, &cqe);
}

/* A copy of the group descriptor at offset off of an ANA log (descriptors are only 4-byte
 * aligned). */
static struct nvme_ana_group_desc desc_at(const uint8_t *log, size_t off)
{
	struct nvme_ana_group_desc d;
	memcpy(&d, log + off, sizeof(d));
	return d;
}

/* Checks the descriptor at off and its NSIDs; returns the offset of the next one. */
static size_t check_desc(const uint8_t *log, size_t off, uint32_t grpid, uint8_t state, const uint32_t *nsids,
			 uint32_t n)
{
	struct nvme_ana_group_desc d = desc_at(log, off);
	assert_int_equal(le32toh(d.grpid), grpid);
	assert_int_equal(d.state, state);
	assert_int_equal(le32toh(d.nnsids), n);
	off += sizeof(d);
	for (uint32_t i = 0; i < n; i++, off += 4) {
		uint32_t id;
		memcpy(&id, log + off, 4);
		assert_int_equal(le32toh(id), nsids[i]);
	}
	return off;
}

static void test_ana_log(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(connect_to(&H, HOST_A, &c), 0);
	static uint8_t buf[8192];
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(ana_log(c, false, buf, sizeof(buf)), 0);
	struct nvme_ana_log hdr;
	memcpy(&hdr, buf, sizeof(hdr));
	assert_int_equal(le64toh(hdr.chgcnt), 0);
	assert_int_equal(le16toh(hdr.ngrps), 3);
	size_t off = check_desc(buf, sizeof(hdr), 1, NVME_ANA_STATE_OPTIMIZED, (const uint32_t[]){1, 4}, 2);
	off = check_desc(buf, off, 2, NVME_ANA_STATE_INACCESSIBLE, (const uint32_t[]){2}, 1);
	off = check_desc(buf, off, 3, NVME_ANA_STATE_CHANGE, (const uint32_t[]){3}, 1);
	/* Past the log: zeroes, up to what the host asked for. */
	assert_int_equal(buf[off], 0);
	assert_int_equal(buf[sizeof(buf) - 1], 0);

	/* Return Groups Only: the same groups and states, no NSIDs. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(ana_log(c, true, buf, sizeof(buf)), 0);
	memcpy(&hdr, buf, sizeof(hdr));
	assert_int_equal(le16toh(hdr.ngrps), 3);
	off = check_desc(buf, sizeof(hdr), 1, NVME_ANA_STATE_OPTIMIZED, NULL, 0);
	off = check_desc(buf, off, 2, NVME_ANA_STATE_INACCESSIBLE, NULL, 0);
	off = check_desc(buf, off, 3, NVME_ANA_STATE_CHANGE, NULL, 0);
	assert_int_equal(buf[off], 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_io_status(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(connect_to(&H, HOST_A, &c), 0);
	uint8_t buf[512];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_read(c, 0, 4, 0, 1, buf, sizeof(buf)), 0);
	/* Inaccessible and changing groups: path-related status, without DNR so that the host
	 * retries on another path. */
	int st = hnvmf_ini_read(c, 0, 2, 0, 1, buf, sizeof(buf));
	assert_int_equal(st, NVME_SCT_PATH << 8 | NVME_SC_ANA_INACCESSIBLE);
	st = hnvmf_ini_write(c, 0, 2, 0, 1, buf, sizeof(buf));
	assert_int_equal(st, NVME_SCT_PATH << 8 | NVME_SC_ANA_INACCESSIBLE);
	st = hnvmf_ini_read(c, 0, 3, 0, 1, buf, sizeof(buf));
	assert_int_equal(st, NVME_SCT_PATH << 8 | NVME_SC_ANA_TRANSITION);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static bool aer_done;
static void aer_complete(struct hnvmf_ini_io *io)
{
	(void)io;
	aer_done = true;
}

/* Posts an Asynchronous Event Request (no event pending: it stays held); wait_aer waits up to
 * 5 s for its completion. */
static void post_aer(struct hnvmf_ini_ctrl *c, struct hnvmf_ini_io *aer)
{
	memset(aer, 0, sizeof(*aer));
	aer->sqe.common.opcode = nvme_admin_async_event;
	aer->done = aer_complete;
	aer_done = false;
	assert_int_equal(hnvmf_ini_submit(c->admin, aer), 0);
	for (int t = 0; t < 4; t++) { /* sent, and held by the controller */
		assert_true(hnvmf_ini_queue_process(c->admin) >= 0);
		hnvmf_ini_queue_wait(c->admin, 50);
	}
	assert_false(aer_done);
}

static void wait_aer(struct hnvmf_ini_ctrl *c)
{
	for (int t = 0; t < 100 && !aer_done; t++) {
		hnvmf_ini_queue_wait(c->admin, 50);
		assert_true(hnvmf_ini_queue_process(c->admin) >= 0);
	}
}

static void set_state(const char *params, const char *want)
{
	char out[256];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_ana_set_state", params, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_state_change(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c;
	assert_int_equal(connect_to(&H, HOST_A, &c), 0);
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_set_features(&sqe, NVME_FEAT_FID_ASYNC_EVENT, 1u << 11); /* ANA Change Notices */
	struct hnvmf_cqe cqe;
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	struct hnvmf_ini_io aer;
	post_aer(c, &aer);
	uint8_t buf[512];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);
	assert_false(aer_done);

	set_state("{\"nqn\":\"" NQN "\",\"anagrpid\":1,\"ana_state\":\"inaccessible\"}", "{\"changed\":1}");
	wait_aer(c);
	assert_true(aer_done);
	assert_int_equal(aer.status, 0);
	assert_int_equal(le32toh((uint32_t)aer.cqe.result), 0x000c0302u); /* Notice, ANA change, log 0Ch */
	static uint8_t log[8192];
	assert_int_equal(ana_log(c, false, log, sizeof(log)), 0);
	struct nvme_ana_log hdr;
	memcpy(&hdr, log, sizeof(hdr));
	assert_int_equal(le64toh(hdr.chgcnt), 1);
	check_desc(log, sizeof(hdr), 1, NVME_ANA_STATE_INACCESSIBLE, (const uint32_t[]){1, 4}, 2);
	assert_int_equal(le64toh(desc_at(log, sizeof(hdr)).chgcnt), 1);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), NVME_SCT_PATH << 8 | NVME_SC_ANA_INACCESSIBLE);
	char out[1024];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_ana_get_state", "{\"nqn\":\"" NQN "\"}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"anagrpid\":1,\"ana_state\":\"inaccessible\",\"chgcnt\":1,\"nsids\":[1,4]"));

	/* The log was read: the next change is reported again. The same state is no change. */
	post_aer(c, &aer);
	set_state("{\"anagrpid\":1,\"ana_state\":\"inaccessible\"}", "{\"changed\":0}");
	set_state("{\"anagrpid\":1,\"ana_state\":\"optimized\"}", "{\"changed\":1}");
	wait_aer(c);
	assert_true(aer_done);
	assert_int_equal(le32toh((uint32_t)aer.cqe.result), 0x000c0302u);
	assert_int_equal(ana_log(c, false, log, sizeof(log)), 0);
	memcpy(&hdr, log, sizeof(hdr));
	assert_int_equal(le64toh(hdr.chgcnt), 2);
	check_desc(log, sizeof(hdr), 1, NVME_ANA_STATE_OPTIMIZED, (const uint32_t[]){1, 4}, 2);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);

	/* Refusals: a state that does not exist, a subsystem that does not. */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_ana_set_state", "{\"anagrpid\":1,\"ana_state\":\"standby\"}",
					   out, sizeof(out)), 1);
	assert_non_null(strstr(out, "-32602"));
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_ana_set_state",
					   "{\"nqn\":\"nqn.2026-01.io.hnvmf:none\",\"anagrpid\":1,\"ana_state\":\"optimized\"}",
					   out, sizeof(out)), 1);
	assert_non_null(strstr(out, "-32001"));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Identify Controller, every namespace's Identify Namespace and descriptor list into out. */
struct identity {
	struct nvme_id_ctrl ctrl;
	uint8_t ns[4][4096];
	uint8_t desc[4][4096];
};

static void identity_of(struct hnvmf_ini_ctrl *c, struct identity *out)
{
	out->ctrl = c->id;
	out->ctrl.cntlid = 0; /* the one field that is the gateway's own */
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS, i + 1, out->ns[i]), 0);
		assert_int_equal(hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_DESC_LIST, i + 1, out->desc[i]), 0);
	}
}

static bool in_range(uint16_t id, uint16_t lo, uint16_t hi) { return id >= lo && id <= hi; }

static void test_two_gateways(void **state)
{
	(void)state;
	struct hnvmf_harness peer = {0};
	assert_int_equal(hnvmf_harness_start(&peer, conf_peer), 0);
	struct hnvmf_ini_ctrl *a1, *a2, *b1, *b2;
	assert_int_equal(connect_to(&H, HOST_A, &a1), 0);
	assert_int_equal(connect_to(&H, HOST_B, &a2), 0);
	assert_int_equal(connect_to(&peer, HOST_A, &b1), 0);
	assert_int_equal(connect_to(&peer, HOST_B, &b2), 0);
	assert_true(in_range(a1->cntlid, 10, 19) && in_range(a2->cntlid, 10, 19));
	assert_true(in_range(b1->cntlid, 20, 29) && in_range(b2->cntlid, 20, 29));
	assert_int_not_equal(a1->cntlid, a2->cntlid);
	assert_int_not_equal(b1->cntlid, b2->cntlid);
	assert_int_equal(a1->id.cntlid, htole16(a1->cntlid));

	static struct identity ia, ib;
	identity_of(a1, &ia);
	identity_of(b1, &ib);
	assert_memory_equal(&ia.ctrl, &ib.ctrl, sizeof(ia.ctrl));
	assert_memory_equal(ia.ns, ib.ns, sizeof(ia.ns));
	assert_memory_equal(ia.desc, ib.desc, sizeof(ia.desc));
	/* The serial is derived from the subsystem NQN, the model configured. */
	assert_memory_equal(ia.ctrl.mn, "shared model", 12);
	assert_memory_equal(ia.ctrl.sn, "HNVMF", 5);

	assert_int_equal(hnvmf_ini_ctrl_disconnect(a1), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(a2), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(b1), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(b2), 0);
	assert_int_equal(hnvmf_harness_stop(&peer), 0);
}

static void test_range_exhausted(void **state)
{
	(void)state;
	struct hnvmf_harness one = {0};
	assert_int_equal(hnvmf_harness_start(&one, conf_one), 0);
	struct hnvmf_ini_ctrl *a, *b;
	assert_int_equal(connect_to(&one, HOST_A, &a), 0);
	assert_int_equal(a->cntlid, 7);
	/* No ID left: Controller Busy, without DNR (an ID comes free when a controller goes). */
	int r = connect_to(&one, HOST_B, &b);
	assert_int_equal(r, NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_CTRL_BUSY);
	assert_null(b);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(a), 0);
	/* The controller is gone once its queues are: then its ID serves again. */
	for (int t = 0; t < 100; t++) {
		r = connect_to(&one, HOST_B, &b);
		if (r == 0)
			break;
		usleep(20000);
	}
	assert_int_equal(r, 0);
	assert_int_equal(b->cntlid, 7);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(b), 0);
	assert_int_equal(hnvmf_harness_stop(&one), 0);
}

static void test_referrals(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0; /* a discovery controller */
	struct hnvmf_ini_ctrl *d;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port, NVME_DISC_SUBSYS_NAME, HOST_A, &o, &d), 0);
	struct nvmf_discovery_log *log;
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	unsigned nvm = 0, cur = 0, ref = 0;
	bool v4 = false, v6 = false;
	for (uint64_t i = 0; i < le64toh(log->numrec); i++) {
		const struct nvmf_disc_log_entry *e = &log->entries[i];
		if (e->subtype == NVME_NQN_NVME) {
			nvm++;
			continue;
		}
		if (e->subtype == NVME_NQN_CURR) {
			cur++;
			continue;
		}
		assert_int_equal(e->subtype, NVME_NQN_DISC);
		assert_string_equal(e->subnqn, NVME_DISC_SUBSYS_NAME);
		assert_int_equal(e->trtype, NVMF_TRTYPE_TCP);
		ref++;
		if (strcmp(e->traddr, "127.0.0.2") == 0 && strcmp(e->trsvcid, "18009") == 0 &&
		    e->adrfam == NVMF_ADDR_FAMILY_IP4)
			v4 = true;
		if (strcmp(e->traddr, "::1") == 0 && strcmp(e->trsvcid, "4430") == 0 &&
		    e->adrfam == NVMF_ADDR_FAMILY_IP6)
			v6 = true;
	}
	assert_int_equal(nvm, 1);
	assert_int_equal(cur, 1);
	assert_int_equal(ref, 2);
	assert_true(v4 && v6);
	free(log);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identify),     cmocka_unit_test(test_ana_log),
		cmocka_unit_test(test_io_status),    cmocka_unit_test(test_state_change),
		cmocka_unit_test(test_two_gateways),
		cmocka_unit_test(test_range_exhausted), cmocka_unit_test(test_referrals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
