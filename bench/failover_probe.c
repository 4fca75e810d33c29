/* failover_probe - one owner-gateway kill seen by a host that behaves like Linux native
 * multipath (bench/failover-times.sh runs it ten times).
 *
 *   failover_probe ADDR PORT_A PID_A PORT_B PID_B NQN [BEFORE_MS AFTER_MS NBLOCKS]
 *
 * Connects to both gateways of one subsystem, finds the path whose ANA log says optimized and
 * writes block after block through it (QD 1, 4 KiB, namespace 1, blocks 0..NBLOCKS-1 in turn,
 * each block's content derived from its LBA and the write's sequence number). After BEFORE_MS it
 * sends SIGKILL to the owner's gateway (the PID given with the optimized path's port). A write
 * that fails (the connection broke, or a path status such as ANA Inaccessible) is not counted as
 * acknowledged: the probe waits, as the host's multipath does, for a path to report optimized
 * and sends the same write again there. It keeps writing for AFTER_MS after the first write that
 * completed after the kill, then reads every block back through the surviving path and compares
 * it with its last acknowledged write. One line on stdout:
 *   takeover_ms T ana_ms A writes W acked K verified V bad B owner PORT
 * T: from the kill to the first completed write; A: to the survivor's ANA log showing the group
 * optimized. Exit status 0 when every acknowledged write read back, 1 when one did not, 2 when the
 * run could not be made (no optimized path, no takeover within 60 s).
 *
 *   failover_probe --write ADDR PORT NQN BLOCK
 *
 * One 4 KiB write of block BLOCK (a pattern of its own) through ADDR:PORT: the interop case sends
 * it through a fenced gateway (tests/interop/cases/96-rbd-failover.sh). Prints "write status S";
 * exit status 0 only when the write was acknowledged. */
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "proto/nvme-cmd.h"
#include "tools/initiator/initiator.h"

#define HOSTNQN "nqn.2026-01.io.hnvmf.bench:failover-probe"
#define BS 4096u
#define IO_TIMEOUT_MS 15000 /* a command on a path: longer than a takeover, as the host's I/O timeout */
#define TAKEOVER_LIMIT_MS 60000

static uint32_t lba_size = 512; /* the namespace's, from Identify: a 4 KiB block is BS / lba_size LBAs */

struct path {
	uint16_t port;
	pid_t pid;
	struct hnvmf_ini_ctrl *c;
	bool dead;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The state of ANA group 1 through p (0 when the path cannot tell). The log is read by copy: a
 * descriptor after an odd number of NSIDs is only 4-byte aligned. */
static uint8_t ana_state(struct path *p)
{
	static uint8_t buf[4096];
	if (p->dead)
		return 0;
	if (hnvmf_ini_get_log(p->c, NVME_LOG_LID_ANA, 0, 0, buf, sizeof(buf)) != 0) {
		p->dead = true;
		return 0;
	}
	struct nvme_ana_log log;
	memcpy(&log, buf, sizeof(log));
	size_t off = sizeof(log);
	for (uint16_t i = 0; i < le16toh(log.ngrps) && off + sizeof(struct nvme_ana_group_desc) <= sizeof(buf); i++) {
		struct nvme_ana_group_desc d;
		memcpy(&d, buf + off, sizeof(d));
		if (le32toh(d.grpid) == 1)
			return d.state;
		off += sizeof(d) + le32toh(d.nnsids) * sizeof(uint32_t);
	}
	return 0;
}

/* Waits until a path reports group 1 optimized; its index, or -1 after limit_ms. */
static int optimized_path(struct path *ps, uint64_t limit_ms, uint64_t *when)
{
	uint64_t t0 = now_ms();
	while (now_ms() - t0 < limit_ms) {
		for (int i = 0; i < 2; i++)
			if (ana_state(&ps[i]) == NVME_ANA_STATE_OPTIMIZED) {
				*when = now_ms();
				return i;
			}
		usleep(20 * 1000);
	}
	return -1;
}

/* 4 KiB block number lba written or read. */
static int rw(struct path *p, bool write, uint64_t lba, void *buf)
{
	if (p->dead || p->c->nr_io == 0)
		return -ENOTCONN;
	struct hnvmf_ini_io io;
	memset(&io, 0, sizeof(io));
	hnvmf_sqe_rw(&io.sqe, write, 1, lba * (BS / lba_size), BS / lba_size);
	io.data = buf;
	io.len = BS;
	io.dir = write ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL;
	int rc = hnvmf_ini_exec(p->c->io[0], &io, IO_TIMEOUT_MS);
	if (rc < 0)
		p->dead = true; /* the connection is gone (or a command could not be tracked) */
	return rc;
}

static int connect_path(const char *addr, struct path *p, const char *nqn)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 4;
	int rc = hnvmf_ini_ctrl_connect(addr, p->port, nqn, HOSTNQN, &o, &p->c);
	if (rc != 0) {
		fprintf(stderr, "failover_probe: connect %s:%u: %s\n", addr, p->port, strerror(-rc));
		return -1;
	}
	struct hnvmf_ini_ns_info ni;
	if (hnvmf_ini_ns_info(p->c, 1, &ni) != 0 || ni.lba_size == 0 || BS % ni.lba_size) {
		fprintf(stderr, "failover_probe: namespace 1 missing or of an odd block size\n");
		return -1;
	}
	lba_size = ni.lba_size;
	return 0;
}

static int write_one(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s --write ADDR PORT NQN BLOCK\n", argv[0]);
		return 2;
	}
	struct path p = {.port = (uint16_t)atoi(argv[3])};
	uint8_t *buf = aligned_alloc(4096, BS);
	if (!buf || connect_path(argv[2], &p, argv[4]) != 0)
		return 2;
	uint64_t blk = strtoull(argv[5], NULL, 0);
	hnvmf_ini_pattern_fill(buf, BS, blk * (BS / lba_size), lba_size, 0xfe11ced);
	int rc = rw(&p, true, blk, buf);
	printf("write status %d\n", rc);
	hnvmf_ini_ctrl_disconnect(p.c);
	free(buf);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--write") == 0)
		return write_one(argc, argv);
	if (argc != 7 && argc != 10) {
		fprintf(stderr, "usage: %s ADDR PORT_A PID_A PORT_B PID_B NQN [BEFORE_MS AFTER_MS NBLOCKS]\n", argv[0]);
		return 2;
	}
	const char *addr = argv[1], *nqn = argv[6];
	struct path ps[2] = {{.port = (uint16_t)atoi(argv[2]), .pid = atoi(argv[3])},
			     {.port = (uint16_t)atoi(argv[4]), .pid = atoi(argv[5])}};
	unsigned before = argc == 10 ? (unsigned)atoi(argv[7]) : 1000;
	unsigned after = argc == 10 ? (unsigned)atoi(argv[8]) : 1000;
	uint64_t nblocks = argc == 10 ? strtoull(argv[9], NULL, 0) : 256;
	uint64_t *acked = calloc(nblocks, sizeof(*acked)); /* last acknowledged sequence number + 1 */
	uint8_t *buf = aligned_alloc(4096, BS);
	if (!acked || !buf || nblocks == 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);

	for (int i = 0; i < 2; i++)
		if (connect_path(addr, &ps[i], nqn) != 0)
			return 2;
	struct hnvmf_ini_ns_info ni;
	if (hnvmf_ini_ns_info(ps[0].c, 1, &ni) != 0 || ni.nsze < nblocks * (BS / lba_size)) {
		fprintf(stderr, "failover_probe: namespace 1 smaller than %llu blocks of %u bytes\n",
			(unsigned long long)nblocks, BS);
		return 2;
	}
	uint64_t t_opt;
	int cur = optimized_path(ps, 30000, &t_opt);
	if (cur < 0) {
		fprintf(stderr, "failover_probe: no path reports ANA group 1 optimized\n");
		return 2;
	}
	int owner = cur;

	uint64_t seq = 0, writes = 0, t_start = now_ms(), t_kill = 0, t_first = 0, t_ana = 0;
	for (;;) {
		uint64_t now = now_ms();
		if (!t_kill && now - t_start >= before) {
			t_kill = now_ms();
			kill(ps[owner].pid, SIGKILL);
		}
		if (t_first && now - t_first >= after)
			break;
		uint64_t lba = seq % nblocks;
		hnvmf_ini_pattern_fill(buf, BS, lba * (BS / lba_size), lba_size, seq + 1);
		int rc = rw(&ps[cur], true, lba, buf);
		writes++;
		if (rc == 0) {
			acked[lba] = seq + 1;
			seq++;
			if (t_kill && !t_first)
				t_first = now_ms();
			continue;
		}
		/* a path failure: what multipath does, wait for an optimized path and resend */
		if (getenv("FAILOVER_PROBE_VERBOSE"))
			fprintf(stderr, "failover_probe: +%llu ms: write %llu through port %u: %d\n",
				(unsigned long long)(now_ms() - t_start), (unsigned long long)seq, ps[cur].port, rc);
		if (t_kill && now_ms() - t_kill > TAKEOVER_LIMIT_MS) {
			fprintf(stderr, "failover_probe: no takeover within %u s\n", TAKEOVER_LIMIT_MS / 1000);
			return 2;
		}
		int next = optimized_path(ps, 1000, &t_opt);
		if (next >= 0) {
			if (next != owner && t_kill && !t_ana)
				t_ana = t_opt;
			cur = next;
		}
	}

	/* read back through the survivor: every block as its last acknowledged write left it */
	uint64_t verified = 0, bad = 0;
	for (uint64_t lba = 0; lba < nblocks; lba++) {
		if (!acked[lba])
			continue;
		if (rw(&ps[cur], false, lba, buf) != 0 ||
		    hnvmf_ini_pattern_check(buf, BS, lba * (BS / lba_size), lba_size, acked[lba], NULL) != 0) {
			bad++;
			continue;
		}
		verified++;
	}
	printf("takeover_ms %llu ana_ms %llu writes %llu acked %llu verified %llu bad %llu owner %u\n",
	       (unsigned long long)(t_first - t_kill), (unsigned long long)(t_ana ? t_ana - t_kill : 0),
	       (unsigned long long)writes, (unsigned long long)seq, (unsigned long long)verified,
	       (unsigned long long)bad, ps[owner].port);
	for (int i = 0; i < 2; i++)
		hnvmf_ini_ctrl_disconnect(ps[i].c); /* the killed one's: only frees */
	free(acked);
	free(buf);
	return bad ? 1 : 0;
}
