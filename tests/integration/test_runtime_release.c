/* What a run-time change takes out of service is given back once nothing uses it any more, not
 * at stop: a file namespace removed under I/O closes its backend (the file's descriptor, and
 * what the engine kept open to it: the PQM servers' queue pairs, the baseline adapter) as soon
 * as the last I/O that used it completed, in each path, with every write acknowledged before on
 * the file and nvmf_get_stats' `retired` counting it; a listener removed while a host is
 * connected through it serves that host until it leaves, and adding and removing a listener
 * many times costs neither descriptors nor memory. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define NQN HNVMF_HARNESS_SUBNQN
#define HOST_DIRECT "nqn.2026-01.io.hnvmf.test:release-direct"
#define HOST_PQM "nqn.2026-01.io.hnvmf.test:release-pqm"
#define HOST_BASELINE "nqn.2026-01.io.hnvmf.test:release-baseline"

static const char conf_template[] = "[global]\n"
				    "default_mode = direct\n"
				    "tenants_dir = tenants\n"
				    "control_socket = @DIR@/ctl.sock\n"
				    "[pqm]\n"
				    "cmax = 2\n"
				    "baseline_servers = 1\n"
				    "[listener disc]\n"
				    "address = 127.0.0.1\n"
				    "port = @DISC_PORT@\n"
				    "discovery = yes\n" HNVMF_CONF_IO_RAM0("16M", NQN) "allow_any_host = yes\n";

static struct hnvmf_harness H;

static int setup(void **state)
{
	(void)state;
	memset(&H, 0, sizeof(H));
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	static const char *const tenants[][2] = {{HOST_PQM, "pqm"}, {HOST_BASELINE, "baseline"}};
	for (size_t i = 0; i < 2; i++) {
		char file[64], text[512];
		snprintf(file, sizeof(file), "tenants/%s.conf", tenants[i][1]);
		snprintf(text, sizeof(text), "[tenant]\nhostnqn = %s\nsubsystems = " NQN "\nmode = %s\n", tenants[i][0],
			 tenants[i][1]);
		if (hnvmf_harness_write_file(&H, file, text) != 0)
			return -1;
	}
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static void ok(const char *method, const char *params)
{
	char out[8192];
	if (hnvmf_harness_rpc(&H, method, params, out, sizeof(out)) != 0)
		fail_msg("%s %s: %s", method, params, out);
}

/* How many of the daemon's descriptors are open on path. */
static unsigned fds_on(const char *path)
{
	char dir[64], link[PATH_MAX + 64], target[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)H.pid);
	DIR *d = opendir(dir);
	assert_non_null(d);
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = '\0';
			n += strcmp(target, path) == 0;
		}
	}
	closedir(d);
	return n;
}

/* nvmf_get_stats' retired.KEY. */
static uint64_t retired(const char *key)
{
	static char out[1 << 20];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_stats", NULL, out, sizeof(out)), 0);
	struct json_object *r = json_tokener_parse(out), *ret, *v;
	assert_non_null(r);
	assert_true(json_object_object_get_ex(r, "retired", &ret));
	assert_true(json_object_object_get_ex(ret, key, &v));
	uint64_t n = (uint64_t)json_object_get_int64(v);
	json_object_put(r);
	return n;
}

#define BLOCK 4096 /* one write: 8 blocks of 512 bytes */

static void pattern(uint8_t *buf, unsigned i, uint32_t nsid)
{
	for (unsigned k = 0; k < BLOCK; k++)
		buf[k] = (uint8_t)(i * 31 + k / 512 * 7 + nsid);
}

/* Writes blocks 0, 1, 2 ... of nsid one at a time until one fails: done are acknowledged. */
struct writer {
	struct hnvmf_ini_ctrl *c;
	uint32_t nsid;
	unsigned nblocks;
	_Atomic unsigned done;
	int first_error;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[BLOCK];
	for (unsigned i = 0; i < w->nblocks; i++) {
		pattern(buf, i, w->nsid);
		int st = hnvmf_ini_write(w->c, 0, w->nsid, (uint64_t)i * 8, 8, buf, sizeof(buf));
		if (st) {
			w->first_error = st;
			break;
		}
		w->done++;
	}
	return NULL;
}

/* A file namespace added, written by host through its mode's path, removed while the writes
 * go on: when the removal is answered the file is closed and the daemon holds exactly the
 * descriptors it held before the namespace came; every acknowledged write is on the file. */
static void removed_under_io(const char *host, uint32_t nsid)
{
	char path[512], out[1024], p[1024];
	snprintf(path, sizeof(path), "%s/release-%u.img", H.dir, nsid);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "truncate -s 64M '%s'", path), 0);
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN, host, 1);
	/* I/O on namespace 1 first: what the path makes once (the PQM pool) is there before fds0. */
	uint8_t one[BLOCK];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, one, sizeof(one)), 0);
	long fds0 = hnvmf_harness_fds(H.pid);
	uint64_t closed0 = retired("closed");
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"nsid\":%u,\"type\":\"file\",\"path\":\"%s\"}", nsid, path);
	ok("nvmf_subsystem_add_ns", p);
	assert_true(fds_on(path) >= 1);

	struct writer w = {.c = c, .nsid = nsid, .nblocks = (64u << 20) / BLOCK};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
	for (int i = 0; i < 2000 && w.done < 50 && !w.first_error; i++)
		usleep(1000);
	assert_int_equal(w.first_error, 0);
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"nsid\":%u}", nsid);
	ok("nvmf_subsystem_remove_ns", p);
	/* Answered: the I/O that used the backend completed, and it is closed. */
	assert_int_equal(fds_on(path), 0);
	long fds = hnvmf_harness_fds_settled(H.pid, fds0);
	if (fds != fds0) {
		char out[4096];
		hnvmf_harness_sh(out, sizeof(out), "ls -l /proc/%d/fd", (int)H.pid);
		fail_msg("%ld descriptors, %ld before the namespace came:\n%s", fds, fds0, out);
	}
	assert_int_equal(retired("held"), 0);
	assert_int_equal(retired("closed"), closed0 + 1);
	pthread_join(t, NULL);
	assert_int_equal(w.first_error & 0x7ff, NVME_SC_INVALID_NS);
	assert_true(w.done >= 50);

	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	uint8_t want[BLOCK], got[BLOCK];
	for (unsigned i = 0; i < w.done; i++) {
		pattern(want, i, nsid);
		assert_int_equal(pread(fd, got, BLOCK, (off_t)i * BLOCK), BLOCK);
		if (memcmp(want, got, BLOCK) != 0)
			fail_msg("block %u of %u acknowledged writes is not on the file", i, w.done);
	}
	close(fd);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_removed_ns_direct(void **state)
{
	(void)state;
	removed_under_io(HOST_DIRECT, 5);
}

/* The PQM servers keep a queue pair per backend they served: forgotten with the backend. */
static void test_removed_ns_pqm(void **state)
{
	(void)state;
	removed_under_io(HOST_PQM, 6);
}

/* The baseline path has an adapter (servers, a queue pair, an eventfd) per backend. */
static void test_removed_ns_baseline(void **state)
{
	(void)state;
	removed_under_io(HOST_BASELINE, 7);
}

static void listener_params(char *p, size_t len, uint16_t port)
{
	snprintf(p, len, "{\"nqn\":\"" NQN "\",\"trtype\":\"TCP\",\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\","
			 "\"trsvcid\":\"%u\"}", port);
}

/* A persistent discovery controller connected through a listener that a reload then removes
 * keeps being served (the discovery log, built for its queue's port, keep-alive) until it
 * disconnects; nobody can connect there any more. Under AddressSanitizer, a port freed while a
 * queue still uses it fails here. (An I/O controller is disconnected instead: its subsystem is
 * no longer exported there.) */
static void test_listener_removed_while_connected(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *d = hnvmf_harness_connect(H.disc_port, "nqn.2014-08.org.nvmexpress.discovery", HOST_DIRECT, 0);
	char out[2048];
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "sed -i '/^\\[listener disc\\]/,/^discovery = yes/d' '%s'",
					  H.conf_path),
			 0);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out)), 0);
	struct nvmf_discovery_log *log;
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN, H.port), 1);
	free(log);
	assert_int_equal(hnvmf_ini_keep_alive(d), 0);
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	struct hnvmf_ini_ctrl *again = NULL;
	assert_int_not_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.disc_port, "nqn.2014-08.org.nvmexpress.discovery",
						    HOST_DIRECT, &o, &again),
			     0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(d), 0);
}

/* 1000 listeners added and removed: the daemon's descriptors do not grow, its memory
 * nearly (a removed listener kept until stop cost about 300 bytes each, more under ASan). */
static void test_listener_churn(void **state)
{
	(void)state;
	uint16_t port2 = hnvmf_harness_free_port();
	char p[512];
	listener_params(p, sizeof(p), port2);
	const unsigned warm = 100, n = 1000;
	long rss0 = 0, fds0 = 0;
	for (unsigned i = 1; i <= warm + n; i++) {
		ok("nvmf_subsystem_add_listener", p);
		ok("nvmf_subsystem_remove_listener", p);
		if (i == warm) {
			rss0 = hnvmf_harness_rss_kib(H.pid);
			fds0 = hnvmf_harness_fds(H.pid);
		}
	}
	long fds = hnvmf_harness_fds_settled(H.pid, fds0), rss = hnvmf_harness_rss_kib(H.pid);
	print_message("%u listeners added and removed: RSS %ld -> %ld KiB, fds %ld -> %ld\n", n, rss0, rss, fds0, fds);
	assert_true(fds <= fds0);
	assert_true(rss < rss0 + 128);
}

int main(void)
{
	hnvmf_harness_small_asan_quarantine(); /* test_listener_churn measures RSS */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removed_ns_direct),
		cmocka_unit_test(test_removed_ns_pqm),
		cmocka_unit_test(test_removed_ns_baseline),
		cmocka_unit_test(test_listener_removed_while_connected),
		cmocka_unit_test(test_listener_churn),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
