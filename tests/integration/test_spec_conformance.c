/* Spec conformance of hnvmfd seen from a host, one defect of the security issue per test:
 *   - a write on a full file system fails with Generic / Capacity Exceeded (a file backend on a
 *     1 MiB tmpfs mounted in a private mount namespace);
 *   - Set Features Keep Alive Timer 0 disables keep-alive: a silent host keeps its controller
 *     (a discovery controller keeps kato_default_ms instead, as at Connect);
 *   - Identify CNS 02h (active namespace list) refuses NSID FFFFFFFEh and FFFFFFFFh;
 *   - the discovery controller has no I/O queues: their Connect is refused;
 *   - CC.EN 1 -> 0 and a completed shutdown (CC.SHN) delete the I/O queues (commands on them
 *     fail), and the controller can be enabled again on the same admin queue. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/nvme-cmd.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:spec"
#define DISK_MIB 4 /* the file backend's size; the file system under it holds 1 MiB */

static const char conf_template[] =
	"[global]\n"
	"default_mode = direct\n"
	"max_io_queues = 4\n"
	"control_socket = @DIR@/ctl.sock\n"
	HNVMF_CONF_LISTENER_IO
	"[listener disc]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n"
	"discovery = yes\n"
	HNVMF_CONF_RAM("ram0", "16M")
	"[backend small]\n"
	"type = file\n"
	"path = @DIR@/fs/disk.img\n"
	"block_size = 4096\n"
	HNVMF_CONF_SUBSYSTEM_RAM0(SUBNQN)
	"allow_any_host = yes\n"
	"namespace = 2:small\n";

static struct hnvmf_harness H;
static bool small_fs; /* @DIR@/fs is a 1 MiB tmpfs of our own mount namespace */
static char fs_dir[400];

/* The status field without DNR/More: SCT << 8 | SC. */
static int sc(int status) { return status & 0x7ff; }

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_prepare(&H))
		return -1;
	snprintf(fs_dir, sizeof(fs_dir), "%s/fs", H.dir);
	if (mkdir(fs_dir, 0700))
		return -1;
	/* The mount lives in this process's mount namespace (main made it private), which hnvmfd
	 * inherits; nothing outside sees it and it goes away with us. */
	small_fs = mount("tmpfs", fs_dir, "tmpfs", 0, "size=1m") == 0;
	if (!small_fs)
		fprintf(stderr, "no tmpfs mount (%s): the disk-full test is skipped\n", strerror(errno));
	char path[480];
	snprintf(path, sizeof(path), "%s/disk.img", fs_dir);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = ftruncate(fd, (off_t)DISK_MIB << 20); /* sparse: fills only when written */
	close(fd);
	if (rc)
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	if (small_fs)
		umount2(fs_dir, MNT_DETACH);
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static struct hnvmf_ini_ctrl *connect_ctrl(const char *host, unsigned nq, uint32_t kato)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nq;
	o.io_depth = 16;
	if (kato)
		o.kato_ms = kato;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, host, &o, &c), 0);
	return c;
}

static void test_disk_full_capacity_exceeded(void **state)
{
	(void)state;
	if (!small_fs)
		skip();
	struct hnvmf_ini_ctrl *c = connect_ctrl("nqn.2026-01.io.hnvmf.test:diskfull", 1, 0);
	static uint8_t block[4096];
	memset(block, 0xa5, sizeof(block));
	int r = 0;
	uint64_t lba;
	/* Page-sized writes fill the 1 MiB file system exactly; the first that does not fit fails
	 * whole, with ENOSPC from the file system. */
	for (lba = 0; lba < (DISK_MIB << 20) / sizeof(block) && r == 0; lba++)
		r = hnvmf_ini_write(c, 0, 2, lba, 1, block, sizeof(block));
	char why[128];
	print_message("write %llu: %s\n", (unsigned long long)lba - 1, hnvmf_ini_status_str(r, why, sizeof(why)));
	assert_true(r > 0);
	assert_true(lba > 1 && lba < (DISK_MIB << 20) / sizeof(block));
	assert_int_equal(sc(r), NVME_SCT_GENERIC << 8 | NVME_SC_CAP_EXCEEDED);
	/* What was written before is still there. */
	uint8_t back[4096];
	assert_int_equal(hnvmf_ini_read(c, 0, 2, 0, 1, back, sizeof(back)), 0);
	assert_memory_equal(back, block, sizeof(block));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_kato_zero_disables_keepalive(void **state)
{
	(void)state;
	const char *host = "nqn.2026-01.io.hnvmf.test:kato0";
	struct hnvmf_ini_ctrl *c = connect_ctrl(host, 1, 1000);
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_set_features(&sqe, NVME_FEAT_FID_KATO, 0);
	struct hnvmf_cqe cqe;
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	c->kato_ms = 0; /* so the initiator sends no Keep Alive either */
	/* Silence for three times the old KATO: the timer armed at Connect must not fire. */
	sleep(3);
	char line[512];
	assert_true(hnvmf_harness_ctrl_line(&H, host, line, sizeof(line)));
	uint8_t buf[512];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_discovery_kato_zero_keeps_default(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0;
	o.kato_ms = 1000;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port, NVME_DISC_SUBSYS_NAME,
						"nqn.2026-01.io.hnvmf.test:disckato", &o, &c), 0);
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	hnvmf_sqe_set_features(&sqe, NVME_FEAT_FID_KATO, 0);
	struct hnvmf_cqe cqe;
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	/* KATO 0 would let an abandoned discovery controller live as long as its connection:
	 * it gets kato_default_ms (120 s), as a Connect with KATO 0 does. */
	memset(&sqe, 0, sizeof(sqe));
	sqe.common.opcode = nvme_admin_get_features;
	sqe.common.cdw10 = htole32(NVME_FEAT_FID_KATO);
	assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	assert_int_equal(le32toh((uint32_t)cqe.result), 120000);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_identify_active_list_nsid_bounds(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_ctrl("nqn.2026-01.io.hnvmf.test:identify", 0, 0);
	uint32_t list[1024];
	assert_int_equal(hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, list), 0);
	assert_int_equal(le32toh(list[0]), 1);
	assert_int_equal(le32toh(list[1]), 2);
	assert_int_equal(le32toh(list[2]), 0);
	assert_int_equal(hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 1, list), 0);
	assert_int_equal(le32toh(list[0]), 2);
	/* "Greater than NSID" has no answer for the two largest values: Invalid Namespace or
	 * Format (FFFFFFFFh + 1 wrapped to 0 and listed everything). */
	int r = hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0xfffffffe, list);
	assert_int_equal(sc(r), NVME_SC_INVALID_NS);
	r = hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0xffffffff, list);
	assert_int_equal(sc(r), NVME_SC_INVALID_NS);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_discovery_has_no_io_queues(void **state)
{
	(void)state;
	const char *host = "nqn.2026-01.io.hnvmf.test:disc";
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 0;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port, NVME_DISC_SUBSYS_NAME, host, &o, &c), 0);
	struct hnvmf_ini_queue_opts qo = {.depth = 4};
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.disc_port, &qo, &q), 0);
	static const uint8_t hostid[16] = {7};
	uint16_t cntlid = 0;
	int r = hnvmf_ini_fabrics_connect(q, 1, 15, 0, c->cntlid, NVME_DISC_SUBSYS_NAME, host, hostid, &cntlid, 5000);
	if (r == 0) { /* accepted: show what that allowed before failing */
		struct hnvmf_ini_io io = {0};
		hnvmf_sqe_flush(&io.sqe, 1);
		print_message("I/O queue on the discovery controller accepted; Flush on it: %d\n",
			      hnvmf_ini_exec(q, &io, 5000));
	}
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_PARAM);
	hnvmf_ini_queue_close(q);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Polls CSTS until (csts & mask) == want, at most 5 s. */
static void wait_csts(struct hnvmf_ini_ctrl *c, uint32_t mask, uint32_t want)
{
	uint64_t csts = 0;
	for (int t = 0; t < 500; t++) {
		assert_int_equal(hnvmf_ini_prop_get(c->admin, NVME_REG_CSTS, 4, &csts, 5000), 0);
		if ((csts & mask) == want)
			return;
		usleep(10000);
	}
	fail_msg("CSTS 0x%llx: bits 0x%x never became 0x%x", (unsigned long long)csts, mask, want);
}

/* The I/O queue of a disabled (reset or shut down) controller is gone: a write on it fails. Then
 * CC.EN = 1 on the same admin queue enables the controller again and a new I/O queue works. */
static void check_io_deleted_then_reenable(struct hnvmf_ini_ctrl *c, uint64_t cc)
{
	uint8_t buf[512];
	memset(buf, 0x3c, sizeof(buf));
	int r = hnvmf_ini_write(c, 0, 1, 8, 1, buf, sizeof(buf));
	char why[128];
	print_message("write on the old I/O queue after the reset: %s\n", hnvmf_ini_status_str(r, why, sizeof(why)));
	assert_int_not_equal(r, 0);

	assert_int_equal(hnvmf_ini_prop_set(c->admin, NVME_REG_CC, 4, (cc & ~(3ull << NVME_CC_SHN_SHIFT)) | 1, 5000), 0);
	wait_csts(c, 1, 1);
	struct hnvmf_ini_queue_opts qo = {.depth = 16};
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", H.port, &qo, &q), 0);
	uint8_t hostid[16];
	hnvmf_ini_hostid_from_nqn(c->hostnqn, hostid);
	uint16_t cntlid = 0;
	assert_int_equal(hnvmf_ini_fabrics_connect(q, 1, 15, 0, c->cntlid, SUBNQN, c->hostnqn, hostid, &cntlid, 5000), 0);
	hnvmf_ini_queue_close(c->io[0]);
	c->io[0] = q;
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 8, 1, buf, sizeof(buf)), 0);
	uint8_t back[512];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 8, 1, back, sizeof(back)), 0);
	assert_memory_equal(back, buf, sizeof(buf));
}

static void test_cc_en_reset_deletes_io_queues(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_ctrl("nqn.2026-01.io.hnvmf.test:reset", 1, 0);
	uint8_t buf[512] = {1};
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);
	uint64_t cc = 0;
	assert_int_equal(hnvmf_ini_prop_get(c->admin, NVME_REG_CC, 4, &cc, 5000), 0);
	assert_int_equal(hnvmf_ini_prop_set(c->admin, NVME_REG_CC, 4, cc & ~1ull, 5000), 0);
	wait_csts(c, 1, 0);
	check_io_deleted_then_reenable(c, cc);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_shutdown_deletes_io_queues(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_ctrl("nqn.2026-01.io.hnvmf.test:shutdown", 1, 0);
	uint8_t buf[512] = {2};
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 1, buf, sizeof(buf)), 0);
	uint64_t cc = 0;
	assert_int_equal(hnvmf_ini_prop_get(c->admin, NVME_REG_CC, 4, &cc, 5000), 0);
	uint64_t shn = (uint64_t)NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT;
	assert_int_equal(hnvmf_ini_prop_set(c->admin, NVME_REG_CC, 4, cc | shn, 5000), 0);
	wait_csts(c, 3u << 2, 2u << 2); /* SHST: shutdown processing complete */
	check_io_deleted_then_reenable(c, cc);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

int main(void)
{
	/* A mount namespace of our own, private, so the tmpfs of setup is nobody else's. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fprintf(stderr, "no private mount namespace (%s)\n", strerror(errno));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_full_capacity_exceeded),
		cmocka_unit_test(test_kato_zero_disables_keepalive),
		cmocka_unit_test(test_discovery_kato_zero_keeps_default),
		cmocka_unit_test(test_identify_active_list_nsid_bounds),
		cmocka_unit_test(test_discovery_has_no_io_queues),
		cmocka_unit_test(test_cc_en_reset_deletes_io_queues),
		cmocka_unit_test(test_shutdown_deletes_io_queues),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
