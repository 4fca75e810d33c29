/* The RBD backend against a real Ceph cluster (tests/ceph/run-ceph-tests.sh starts one and sets
 * CEPH_CONF and HNVMF_CEPH_DIR): the backend alone with queue pairs on two threads (each owner
 * finishes only its own completions, whoever polled them), then hnvmfd over NVMe/TCP with the image
 * as a namespace in every engine mode, the owners of queue pairs asleep while a write waits on
 * the stopped cluster (every mode), flush durability seen by a second librbd client,
 * `--check` with an unreachable cluster, and, last, the cluster stopped under I/O: the host gets a
 * path error within rbd_timeout_s, the daemon keeps serving its RAM namespace, and I/O works again
 * once the cluster is back. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "core/backend/backend.h"
#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define MIB (1024ull * 1024)
#define IMAGE_SIZE (32 * MIB)
#define SUBNQN "nqn.2026-01.io.hnvmf:rbd"
#define TIMEOUT_S 3

static const char *ceph_conf, *ceph_dir;
static rados_t cluster;
static rados_ioctx_t ioctx;

static void create_image(const char *name, uint64_t size)
{
	int order = 0;
	int rc = rbd_create(ioctx, name, size, &order);
	if (rc < 0)
		fail_msg("rbd_create %s: %s", name, strerror(-rc));
}

static struct hnvmf_backend_params params(const char *image, uint64_t size)
{
	return (struct hnvmf_backend_params){
		.type = HNVMF_BACKEND_RBD,
		.size = size,
		.block_size = 512,
		.rbd = {.ceph_conf = ceph_conf, .client = "admin", .pool = "rbd", .image = image,
			.timeout_s = TIMEOUT_S},
	};
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* One bio through qp, waited for. */
static int run_bio(struct hnvmf_bqp *qp, uint8_t op, uint64_t off, void *buf, uint64_t len)
{
	struct iovec iov = {buf, len};
	struct hnvmf_bio bio = {.op = op, .offset = off, .len = len, .iov = buf ? &iov : NULL,
				.iovcnt = buf ? 1 : 0};
	struct hnvmf_bio *done[1];
	int rc = hnvmf_bqp_submit(qp, &bio);
	if (rc)
		return rc;
	hnvmf_bqp_kick(qp);
	rc = hnvmf_bqp_wait(qp, done, 1, 30000);
	if (rc != 1 || done[0] != &bio)
		fail_msg("bio not completed (%d)", rc);
	return bio.result;
}

struct worker {
	struct hnvmf_backend *be;
	unsigned idx;
	int failures;
};

/* 64 writes of 16 KiB at depth 8 into the worker's own MiB, then reads back: two workers at once,
 * so each polls completions of the other's queue pair from the image and must pass them on. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	enum { N = 64, LEN = 16384, QD = 8 };
	struct hnvmf_bqp *qp;
	uint8_t (*data)[LEN] = malloc(N * LEN), *back = malloc(LEN);
	struct iovec iov[N];
	struct hnvmf_bio bio[N];
	if (!data || !back || hnvmf_bqp_open(w->be, QD, &qp) != 0) {
		w->failures++;
		free(data);
		free(back);
		return NULL;
	}
	for (int phase = 0; phase < 2; phase++) {
		unsigned next = 0, done_n = 0;
		while (done_n < N) {
			while (next < N && hnvmf_bqp_inflight(qp) < QD) {
				fill(data[next], LEN, w->idx * 1000 + next);
				iov[next] = (struct iovec){phase ? back : data[next], LEN};
				bio[next] = (struct hnvmf_bio){.op = phase ? HNVMF_BIO_READ : HNVMF_BIO_WRITE,
							       .offset = w->idx * MIB + next * (uint64_t)LEN,
							       .len = LEN, .iov = &iov[next], .iovcnt = 1};
				if (hnvmf_bqp_submit(qp, &bio[next]) != 0)
					w->failures++;
				next++;
			}
			hnvmf_bqp_kick(qp);
			struct hnvmf_bio *done[QD];
			int n = hnvmf_bqp_wait(qp, done, QD, 30000);
			if (n <= 0) {
				w->failures++;
				break;
			}
			for (int i = 0; i < n; i++) {
				if (done[i]->result != 0)
					w->failures++;
				/* Reads share one buffer: compare sequentially at QD 1 below instead. */
			}
			done_n += (unsigned)n;
		}
		if (phase == 0)
			continue;
		for (unsigned i = 0; i < N; i++) {
			if (run_bio(qp, HNVMF_BIO_READ, w->idx * MIB + i * (uint64_t)LEN, back, LEN) != 0 ||
			    memcmp(back, data[i], LEN) != 0)
				w->failures++;
		}
	}
	hnvmf_bqp_close(qp);
	free(data);
	free(back);
	return NULL;
}

static void test_backend(void **state)
{
	(void)state;
	char msg[256];
	struct hnvmf_backend *be = NULL;
	create_image("be0", IMAGE_SIZE);

	struct hnvmf_backend_params p = params("be0", IMAGE_SIZE + MIB);
	assert_int_equal(hnvmf_backend_open(&p, &be, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "larger than image"));
	p = params("no-such-image", 0);
	assert_int_equal(hnvmf_backend_open(&p, &be, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "no-such-image"));

	p = params("be0", 0);
	assert_int_equal(hnvmf_backend_open(&p, &be, msg, sizeof(msg)), 0);
	assert_int_equal(hnvmf_backend_size(be), IMAGE_SIZE);

	struct worker w[2] = {{be, 0, 0}, {be, 1, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}

	/* Write Zeroes and Deallocate (partial objects too) read back as zeroes; flush succeeds. */
	struct hnvmf_bqp *qp;
	static uint8_t buf[65536], zero[65536];
	assert_int_equal(hnvmf_bqp_open(be, 4, &qp), 0);
	fill(buf, sizeof(buf), 7);
	assert_int_equal(run_bio(qp, HNVMF_BIO_WRITE, 4 * MIB, buf, sizeof(buf)), 0);
	assert_int_equal(run_bio(qp, HNVMF_BIO_WRITE_ZEROES, 4 * MIB + 512, NULL, 4096), 0);
	assert_int_equal(run_bio(qp, HNVMF_BIO_DISCARD, 4 * MIB + 8192, NULL, 8192), 0);
	assert_int_equal(run_bio(qp, HNVMF_BIO_FLUSH, 0, NULL, 0), 0);
	assert_int_equal(run_bio(qp, HNVMF_BIO_READ, 4 * MIB, buf, sizeof(buf)), 0);
	assert_memory_equal(buf + 512, zero, 4096);
	assert_memory_equal(buf + 8192, zero, 8192);
	uint8_t want[512];
	fill(want, 512, 7);
	assert_memory_equal(buf, want, 512);

	/* The owner sleeps on the fd hnvmf_bqp_arm gives it, and the completion alone wakes it,
	 * also when another queue pair's owner polled the image meanwhile (and drained its eventfd:
	 * the completion then comes through the routed list and our own eventfd). */
	struct hnvmf_bqp *other;
	assert_int_equal(hnvmf_bqp_open(be, 4, &other), 0);
	for (int round = 0; round < 2; round++) {
		struct iovec iov = {buf, 4096};
		struct hnvmf_bio bio = {.op = HNVMF_BIO_WRITE, .offset = 5 * MIB, .len = 4096, .iov = &iov, .iovcnt = 1},
				 *done[1];
		int fd = -1, ofd, rc;
		assert_int_equal(hnvmf_bqp_submit(qp, &bio), 0);
		rc = hnvmf_bqp_arm(qp, &fd);
		assert_true(rc == 0 || rc == 1);
		if (rc == 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (round == 1) /* the other owner polls the image until it has seen ours */
				while (hnvmf_bqp_arm(other, &ofd) == 0 && poll(&pfd, 1, 0) == 0)
					usleep(1000);
			assert_int_equal(poll(&pfd, 1, 30000), 1);
		}
		assert_int_equal(hnvmf_bqp_poll(qp, done, 1), 1);
		assert_ptr_equal(done[0], &bio);
		assert_int_equal(bio.result, 0);
	}
	hnvmf_bqp_close(other);

	/* Resize: the backend takes the image's new size when asked, and I/O reaches it. */
	assert_int_equal(run_bio(qp, HNVMF_BIO_READ, IMAGE_SIZE, buf, 4096), -EINVAL);
	rbd_image_t img;
	assert_int_equal(rbd_open(ioctx, "be0", &img, NULL), 0);
	assert_int_equal(rbd_resize(img, IMAGE_SIZE + 4 * MIB), 0);
	rbd_close(img);
	uint64_t grown = 0;
	char why[256];
	assert_int_equal(hnvmf_backend_probe_resize(be, 0, &grown, why, sizeof(why)), 0);
	assert_int_equal(grown, IMAGE_SIZE + 4 * MIB);
	hnvmf_backend_set_size(be, grown);
	assert_int_equal(hnvmf_backend_size(be), IMAGE_SIZE + 4 * MIB);
	assert_int_equal(run_bio(qp, HNVMF_BIO_WRITE, IMAGE_SIZE, buf, 4096), 0);
	hnvmf_bqp_close(qp);
	hnvmf_backend_close(be);
}

#define CONF_RBD(name, image, extra)                                                               \
	"[backend " name "]\ntype = rbd\nceph_conf = %s\npool = rbd\nimage = " image "\n"           \
	"rbd_timeout_s = 3\n" extra

static char dam_secret[HNVMF_KEY_STR_MAX];

static struct hnvmf_ini_ctrl *connect_host(struct hnvmf_harness *h, const char *host, const char *secret)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 2;
	o.io_depth = 16;
	o.dhchap_secret = secret;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", h->port, SUBNQN, host, &o, &c);
	if (r)
		fail_msg("%s: connect: %d", host, r);
	return c;
}

/* The image as namespace 1, written and verified by one host in each engine mode (direct as the
 * default mode for a host without a tenant file), each on its own range. */
static void test_modes(void **state)
{
	(void)state;
	static const struct {
		const char *mode, *want;
	} modes[] = {{"pqm", "q1:pqm"}, {"dam", "q1:dam+auth"}, {"baseline", "q1:baseline"}, {"direct", "q1:direct"}};
	struct hnvmf_harness h = {0};
	char conf[2048];
	create_image("modes", IMAGE_SIZE);
	struct hnvmf_key k = {.len = 32, .hmac = 1};
	assert_int_equal(RAND_bytes(k.data, (int)k.len), 1);
	assert_int_equal(hnvmf_dhchap_key_format(&k, dam_secret, sizeof(dam_secret)), 0);
	hnvmf_key_wipe(&k);
	snprintf(conf, sizeof(conf),
		 "[global]\ndefault_mode = direct\ndam_whitelist = 1\ntenants_dir = tenants\n"
		 "control_socket = @DIR@/ctl.sock\n[pqm]\ncmax = 2\nbaseline_servers = 1\n" HNVMF_CONF_LISTENER_IO
		 CONF_RBD("rbd0", "modes", "") "[subsystem " SUBNQN "]\nallow_any_host = yes\nnamespace = 1:rbd0\n",
		 ceph_conf);
	assert_int_equal(hnvmf_harness_prepare(&h), 0);
	for (int i = 0; i < 3; i++) {
		char file[512], rel[64];
		bool dam = strcmp(modes[i].mode, "dam") == 0;
		snprintf(file, sizeof(file), "[tenant]\nhostnqn = nqn.2026-01.io.hnvmf.test:rbd-%s\nsubsystems = " SUBNQN
			 "\nmode = %s\n%s%s%s", modes[i].mode, modes[i].mode, dam ? "permission_level = 1\ndhchap_secret = " : "",
			 dam ? dam_secret : "", dam ? "\n" : "");
		snprintf(rel, sizeof(rel), "tenants/%s.conf", modes[i].mode);
		assert_int_equal(hnvmf_harness_write_file(&h, rel, file), 0);
	}
	assert_int_equal(hnvmf_harness_start(&h, conf), 0);
	for (unsigned i = 0; i < 4; i++) {
		char host[128], line[1024];
		snprintf(host, sizeof(host), "nqn.2026-01.io.hnvmf.test:rbd-%s", modes[i].mode);
		struct hnvmf_ini_ctrl *c = connect_host(&h, host, strcmp(modes[i].mode, "dam") == 0 ? dam_secret : NULL);
		assert_true(hnvmf_harness_ctrl_line(&h, host, line, sizeof(line)));
		if (!strstr(line, modes[i].want))
			fail_msg("%s: queues not in %s: %s", modes[i].mode, modes[i].want, line);
		struct hnvmf_ini_ns_info ns;
		assert_int_equal(hnvmf_ini_ns_info(c, 1, &ns), 0);
		assert_int_equal(ns.nsze * ns.lba_size, IMAGE_SIZE);
		struct hnvmf_ini_verify_opts v = {.nsid = 1, .slba = i * 2048ull, .nblocks = 2048, .lba_size = ns.lba_size,
						  .io_size = 8192, .qd = 8, .seed = i + 1, .write = true, .read = true};
		struct hnvmf_ini_verify_result res = {0};
		if (hnvmf_ini_verify(c, &v, &res) != 0 || !res.writes || !res.reads)
			fail_msg("%s: %llu bad blocks, status %d", modes[i].mode, (unsigned long long)res.bad_blocks,
				 res.status);
		assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	}
	assert_int_equal(hnvmf_harness_stop(&h), 0);
}

/* Written and flushed through the gateway, then read by another librbd client of the cluster while
 * the daemon still holds the image open: what the host was told is on the OSDs is there. */
static void test_flush_durability(void **state)
{
	(void)state;
	struct hnvmf_harness h = {0};
	char conf[2048];
	static uint8_t data[256 * 1024], back[sizeof(data)];
	create_image("durable", IMAGE_SIZE);
	snprintf(conf, sizeof(conf),
		 HNVMF_CONF_LISTENER_IO CONF_RBD("rbd0", "durable", "")
		 "[subsystem " SUBNQN "]\nallow_any_host = yes\nnamespace = 1:rbd0\n", ceph_conf);
	assert_int_equal(hnvmf_harness_start(&h, conf), 0);
	struct hnvmf_ini_ctrl *c = connect_host(&h, "nqn.2026-01.io.hnvmf.test:rbd-flush", NULL);
	fill(data, sizeof(data), 42);
	for (unsigned i = 0; i < sizeof(data) / 65536; i++)
		assert_int_equal(hnvmf_ini_write(c, 0, 1, 1000 + i * 128, 128, data + i * 65536, 65536), 0);
	assert_int_equal(hnvmf_ini_flush(c, 0, 1), 0);

	rbd_image_t img;
	assert_int_equal(rbd_open_read_only(ioctx, "durable", &img, NULL), 0);
	assert_int_equal(rbd_read(img, 1000 * 512, sizeof(back), (char *)back), (ssize_t)sizeof(back));
	rbd_close(img);
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(hnvmf_harness_stop(&h), 0);
}

/* --check against a cluster nobody answers for: refused, naming the backend's line and why. */
static void test_check_unreachable(void **state)
{
	(void)state;
	char path[512], conf[2048], *out = NULL;
	snprintf(path, sizeof(path), "%s/unreachable.conf", ceph_dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[global]\nmon host = 127.0.0.1:%u\nkeyring = %s/keyring\n", hnvmf_harness_free_port(), ceph_dir);
	fclose(f);
	snprintf(conf, sizeof(conf),
		 HNVMF_CONF_LISTENER_IO "[backend rbd0]\ntype = rbd\nceph_conf = %s\npool = rbd\nimage = x\n"
		 "rbd_timeout_s = 2\n[subsystem " SUBNQN "]\nnamespace = 1:rbd0\n", path);
	assert_int_equal(hnvmf_harness_check(conf, &out), 1);
	assert_non_null(out);
	if (!strstr(out, ":5: backend rbd0: cannot connect to the Ceph cluster"))
		fail_msg("--check said: %s", out);
	free(out);
}

/* Every thread of a process (its /proc/PID/task directory) is in scheduler state want. */
static bool all_tasks_in(const char *taskdir, char want)
{
	DIR *d = opendir(taskdir);
	struct dirent *e;
	bool all = d != NULL;
	while (all && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512], buf[512];
		snprintf(path, sizeof(path), "%s/%s/stat", taskdir, e->d_name);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *paren = strrchr(buf, ')'); /* the state follows the command name */
		all = paren && paren[1] == ' ' && paren[2] == want;
	}
	if (d)
		closedir(d);
	return all;
}

static void signal_cluster(int sig)
{
	static const char *const daemons[] = {"osd.0", "mon.a"};
	for (int i = 0; i < 2; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/run/%s.pid", ceph_dir, daemons[i]);
		FILE *f = fopen(path, "r");
		int pid = 0;
		assert_non_null(f);
		assert_int_equal(fscanf(f, "%d", &pid), 1);
		fclose(f);
		assert_int_equal(kill(pid, sig), 0);
		/* kill() only queues the signal: wait until every thread of the daemon has stopped
		 * (or runs again), or I/O sent meanwhile may still be served. */
		char stat_path[64], want = sig == SIGSTOP ? 'T' : 0;
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/task", pid);
		for (int tries = 0; want && tries < 1000 && !all_tasks_in(stat_path, want); tries++)
			usleep(10000);
		if (want)
			assert_true(all_tasks_in(stat_path, want));
	}
}

/* CPU time (clock ticks) of the daemon's own threads, the ones named hnvmf*: reactors, I/O
 * servers, baseline servers (librados' threads are not ours to judge). */
static long owners_ticks(pid_t pid)
{
	char taskdir[64];
	snprintf(taskdir, sizeof(taskdir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(taskdir);
	struct dirent *e;
	long ticks = 0;
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512], buf[1024];
		snprintf(path, sizeof(path), "%s/%s/stat", taskdir, e->d_name);
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		buf[n] = '\0';
		const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
		if (!open || !close || strncmp(open + 1, "hnvmf", 5) != 0)
			continue;
		unsigned long ut = 0, st = 0;
		/* After ") ": state, then fields 4..13, then utime (14) and stime (15). */
		if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
			ticks += (long)(ut + st);
	}
	closedir(d);
	return ticks;
}

struct blocked_write {
	struct hnvmf_ini_ctrl *c;
	int status;
};

static void *blocked_write_run(void *arg)
{
	struct blocked_write *b = arg;
	static uint8_t buf[4096];
	b->status = hnvmf_ini_write(b->c, 0, 1, 128, 8, buf, sizeof(buf));
	return NULL;
}

/* An owner with RBD ios in flight sleeps until they complete instead of polling for them: with the
 * cluster stopped, a write stays in flight for rbd_timeout_s, and over one second of that the
 * daemon's own threads use less than 5 % of a CPU, in every engine mode (before, the I/O server or
 * reactor holding the io spun: ~100 %). The io then completes, with a path error, so the owner
 * woke for its completion. */
static void test_owners_sleep(void **state)
{
	(void)state;
	static const char *const modes[] = {"pqm", "dam", "baseline", "direct"};
	static const char *const want[] = {"q1:pqm", "q1:dam+auth", "q1:baseline", "q1:direct"};
	struct hnvmf_harness h = {0};
	char conf[2048];
	long hz = sysconf(_SC_CLK_TCK);
	create_image("sleep", IMAGE_SIZE);
	snprintf(conf, sizeof(conf),
		 "[global]\ndefault_mode = direct\ndam_whitelist = 1\ntenants_dir = tenants\n"
		 "control_socket = @DIR@/ctl.sock\n[pqm]\ncmax = 2\nbaseline_servers = 1\n" HNVMF_CONF_LISTENER_IO
		 CONF_RBD("rbd0", "sleep", "") "[subsystem " SUBNQN "]\nallow_any_host = yes\nnamespace = 1:rbd0\n",
		 ceph_conf);
	assert_int_equal(hnvmf_harness_prepare(&h), 0);
	for (int i = 0; i < 3; i++) {
		char file[512], rel[64];
		bool dam = strcmp(modes[i], "dam") == 0;
		snprintf(file, sizeof(file), "[tenant]\nhostnqn = nqn.2026-01.io.hnvmf.test:sleep-%s\nsubsystems = " SUBNQN
			 "\nmode = %s\n%s%s%s", modes[i], modes[i], dam ? "permission_level = 1\ndhchap_secret = " : "",
			 dam ? dam_secret : "", dam ? "\n" : "");
		snprintf(rel, sizeof(rel), "tenants/%s.conf", modes[i]);
		assert_int_equal(hnvmf_harness_write_file(&h, rel, file), 0);
	}
	assert_int_equal(hnvmf_harness_start(&h, conf), 0);
	for (unsigned i = 0; i < 4; i++) {
		char host[128], why[128], line[1024];
		static uint8_t buf[4096];
		snprintf(host, sizeof(host), "nqn.2026-01.io.hnvmf.test:sleep-%s", modes[i]);
		struct hnvmf_ini_ctrl *c = connect_host(&h, host, strcmp(modes[i], "dam") == 0 ? dam_secret : NULL);
		assert_true(hnvmf_harness_ctrl_line(&h, host, line, sizeof(line)));
		if (!strstr(line, want[i]))
			fail_msg("%s: queues not in %s: %s", modes[i], want[i], line);
		assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
		signal_cluster(SIGSTOP);
		struct blocked_write b = {.c = c};
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, blocked_write_run, &b), 0);
		usleep(700 * 1000); /* in flight at the backend by now, and any idle spin long over */
		long t0 = owners_ticks(h.pid);
		usleep(1000 * 1000);
		long used = owners_ticks(h.pid) - t0;
		pthread_join(th, NULL);
		signal_cluster(SIGCONT);
		print_message("%s: %ld ms of CPU in 1 s with a write in flight; it ended with %s\n", modes[i],
			      used * 1000 / hz, hnvmf_ini_status_str(b.status, why, sizeof(why)));
		assert_int_equal(hnvmf_status_sct(b.status), NVME_SCT_PATH);
		if (used * 20 > hz)
			fail_msg("%s: the owners used %ld ms of CPU in 1 s with an io in flight", modes[i],
				 used * 1000 / hz);
		/* And the namespace works again. */
		assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
		assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	}
	assert_int_equal(hnvmf_harness_stop(&h), 0);
}

static void test_cluster_stopped(void **state)
{
	(void)state;
	struct hnvmf_harness h = {0};
	char conf[2048];
	static uint8_t buf[8192];
	create_image("stopped", IMAGE_SIZE);
	snprintf(conf, sizeof(conf),
		 HNVMF_CONF_LISTENER_IO CONF_RBD("rbd0", "stopped", "") HNVMF_CONF_RAM("ram0", "8M")
		 "[subsystem " SUBNQN "]\nallow_any_host = yes\nnamespace = 1:rbd0\nnamespace = 2:ram0\n", ceph_conf);
	assert_int_equal(hnvmf_harness_start(&h, conf), 0);
	struct hnvmf_ini_ctrl *c = connect_host(&h, "nqn.2026-01.io.hnvmf.test:rbd-stop", NULL);
	fill(buf, sizeof(buf), 3);
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 0, 16, buf, sizeof(buf)), 0);

	signal_cluster(SIGSTOP);
	/* Within the initiator's 10 s command timeout (rbd_timeout_s is 3): a status, not a hang. */
	int st = hnvmf_ini_write(c, 0, 1, 64, 16, buf, sizeof(buf));
	char why[128];
	print_message("write with the cluster stopped: %s\n", hnvmf_ini_status_str(st, why, sizeof(why)));
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_PATH);
	assert_false(st & NVME_SC_DNR);
	st = hnvmf_ini_read(c, 1, 1, 1024, 16, buf, sizeof(buf));
	assert_int_equal(hnvmf_status_sct(st), NVME_SCT_PATH);
	/* The other namespace, on the other queue too, is served all along. */
	assert_int_equal(hnvmf_ini_write(c, 1, 2, 0, 16, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_read(c, 0, 2, 0, 16, buf, sizeof(buf)), 0);
	signal_cluster(SIGCONT);

	/* The cluster is back: the same namespace works again, and what was written before is there. */
	static uint8_t want[8192];
	fill(want, sizeof(want), 3);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 16, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(hnvmf_ini_write(c, 0, 1, 64, 16, buf, sizeof(buf)), 0);
	assert_true(hnvmf_harness_alive(&h));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(hnvmf_harness_stop(&h), 0);
}

static int setup(void **state)
{
	(void)state;
	ceph_conf = getenv("CEPH_CONF");
	ceph_dir = getenv("HNVMF_CEPH_DIR");
	if (!ceph_conf || !ceph_dir) {
		fprintf(stderr, "run through tests/ceph/run-ceph-tests.sh (CEPH_CONF, HNVMF_CEPH_DIR)\n");
		return -1;
	}
	if (rados_create2(&cluster, "ceph", "client.admin", 0) < 0 ||
	    rados_conf_read_file(cluster, ceph_conf) < 0 || rados_connect(cluster) < 0 ||
	    rados_ioctx_create(cluster, "rbd", &ioctx) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rados_ioctx_destroy(ioctx);
	rados_shutdown(cluster);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_flush_durability),
		cmocka_unit_test(test_check_unreachable),
		cmocka_unit_test(test_owners_sleep), /* needs dam_secret from test_modes */
		cmocka_unit_test(test_cluster_stopped), /* last: it stops the cluster for a while */
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
