/* Reloads without end, with hosts connected and doing I/O: HNVMF_RELOADS reloads (default
 * 10 000, the number), each waited for until it was applied or refused, while two hosts
 * write and read back their own blocks without pause on threads of their own. The reloads walk a
 * cycle of steps (steps[]): a tenant's weight changed, nothing changed, a tenant's DH-HMAC-CHAP
 * secret rotated with a grace period (the previous key kept, then dropped), a tenant file that is
 * refused (the running set stays; the hosts keep going). Most go through the control socket's
 * reload, which answers when the reload is done; every SIGHUP_EVERY-th is a SIGHUP, waited for in
 * the log. The daemon's RSS and open descriptors (from /proc) must not grow past a small bound
 * after a warm-up: a reload frees what it replaced. Then a burst of SIGHUPs sent while reloads
 * run: the change written before the last of them is applied (none dropped).
 *
 * To soak the main file's reload too, add steps that rewrite hnvmf.conf (H.conf_path). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:soak"
#define HOST_A "nqn.2026-01.io.hnvmf.test:soak-a"
#define HOST_B "nqn.2026-01.io.hnvmf.test:soak-b"
#define HOST_C "nqn.2026-01.io.hnvmf.test:soak-c"
#define HOST_K "nqn.2026-01.io.hnvmf.test:soak-keys" /* never connects: its keys rotate */
#define WARMUP 500              /* reloads before the baseline is taken */
#define SAMPLE_EVERY 100        /* reloads between two looks at RSS and descriptors */
#define SIGHUP_EVERY 50
/* Allocator noise; a leak of a tenant set per reload is more. Under AddressSanitizer the
 * allocator's per-thread caches and size classes add ~2.3 MiB over the run whatever is freed
 * (measured 2026-12-07: 32.4 -> 34.7 MiB, against 13.2 -> 13.3 MiB in the normal build of the
 * same code); there LeakSanitizer, at the daemon's exit, is the leak check. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_SLACK_KIB (4 * 1024)
#else
#define RSS_SLACK_KIB (2 * 1024)
#endif
#define FD_SLACK 2

static const char conf_template[] =
	"[global]\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	HNVMF_CONF_IO_RAM0("16M", SUBNQN);

static struct hnvmf_harness H;
static long log_seen;     /* bytes of the log already searched */
static unsigned applied;  /* reloads the daemon applied, as it numbers them in the log */

static int write_tenant(const char *file, const char *host, unsigned weight)
{
	char text[512];
	snprintf(text, sizeof(text), "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\nweight = %u\n", host,
		 weight);
	return hnvmf_harness_write_file(&H, file, text);
}

/* Waits (generous deadline) for needle in the log past what earlier calls consumed; the search
 * resumes where the last match ended, so a long run does not re-read the whole log. */
static bool log_wait_from(const char *needle)
{
	size_t nl = strlen(needle);
	for (int i = 0; i < 60000; i++) {
		FILE *f = fopen(H.log_path, "r");
		if (f && fseek(f, log_seen, SEEK_SET) == 0) {
			static char buf[1 << 16];
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			buf[n] = '\0';
			char *hit = strstr(buf, needle);
			if (hit) {
				log_seen += (long)(hit - buf + nl);
				fclose(f);
				return true;
			}
			/* keep the tail that may hold the start of needle */
			if (n > nl)
				log_seen += (long)(n - nl);
		}
		if (f)
			fclose(f);
		usleep(500);
	}
	return false;
}

static unsigned long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* CPU time the process has used, user and system, in clock ticks. */
static unsigned long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

static unsigned reload_count(void)
{
	const char *env = getenv("HNVMF_RELOADS");
	long n = env ? strtol(env, NULL, 10) : 10000;
	return n > WARMUP ? (unsigned)n : WARMUP + 1;
}

static int connect_host(const char *host, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	*c = NULL;
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, host, &o, c);
}

/* ---- the hosts: write a block, read it back, compare, without pause ---- */

struct host_io {
	struct hnvmf_ini_ctrl *c;
	uint64_t first_lba; /* its own 256 blocks */
	pthread_t thread;
	atomic_bool stop;
	atomic_ulong ios;
	char error[256]; /* the first failure; "" = none */
};

static void *host_io_thread(void *arg)
{
	struct host_io *h = arg;
	uint8_t out[512], in[512];
	for (unsigned i = 0; !atomic_load(&h->stop); i++) {
		uint64_t lba = h->first_lba + i % 256;
		memset(out, (int)(i & 0xff), sizeof(out));
		const char *what = hnvmf_ini_write(h->c, 0, 1, lba, 1, out, sizeof(out)) != 0 ? "write"
				   : hnvmf_ini_read(h->c, 0, 1, lba, 1, in, sizeof(in)) != 0	 ? "read"
				   : memcmp(in, out, sizeof(in)) != 0				 ? "compare"
				   : hnvmf_ini_keep_alive_if_due(h->c) != 0			 ? "keep alive"
												 : NULL;
		if (what) {
			snprintf(h->error, sizeof(h->error), "%s failed at io %u, lba %llu", what, i,
				 (unsigned long long)lba);
			break;
		}
		atomic_fetch_add(&h->ios, 2);
		/* Paced: hosts that never pause would take the CPUs a loaded test machine has left
		 * from the reloads, which are what is under test. */
		usleep(200);
	}
	return NULL;
}

static void host_io_start(struct host_io *h, const char *host, uint64_t first_lba)
{
	memset(h, 0, sizeof(*h));
	h->first_lba = first_lba;
	assert_int_equal(connect_host(host, &h->c), 0);
	assert_int_equal(pthread_create(&h->thread, NULL, host_io_thread, h), 0);
}

static unsigned long host_io_stop(struct host_io *h)
{
	atomic_store(&h->stop, true);
	assert_int_equal(pthread_join(h->thread, NULL), 0);
	if (h->error[0])
		fail_msg("host I/O during the reloads: %s", h->error);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(h->c), 0);
	return atomic_load(&h->ios);
}

/* ---- the reloads ---- */

/* One step of the cycle: prepares the files (or not) for reload i; false when the reload must be
 * refused. */
typedef bool (*soak_step)(unsigned i);

static bool step_weight(unsigned i)
{
	assert_int_equal(write_tenant("tenants/a.conf", HOST_A, 1 + i % 7), 0);
	return true;
}

static bool step_unchanged(unsigned i)
{
	(void)i;
	return true;
}

/* HOST_K's secret replaced, with a grace period: the previous key is kept (and the one before it
 * dropped) by every such reload. */
static bool step_rotate(unsigned i)
{
	(void)i;
	char key[HNVMF_KEY_STR_MAX], text[512];
	hnvmf_harness_gen_key(false, 1, 32, key);
	snprintf(text, sizeof(text), "[tenant]\nhostnqn = " HOST_K "\nsubsystems = " SUBNQN "\nkey_grace_s = 600\n"
		 "dhchap_secret = %s\n", key);
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/k.conf", text), 0);
	return true;
}

/* A tenant file the loader refuses: the reload changes nothing. The next step removes it. */
static bool bad_file; /* zz-bad.conf is there */

static bool step_refused(unsigned i)
{
	(void)i;
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/zz-bad.conf", "[tenant]\nno_such_key = 1\n"), 0);
	bad_file = true;
	return false;
}

static bool step_repair(unsigned i)
{
	(void)i;
	bad_file = false;
	char path[600];
	snprintf(path, sizeof(path), "%s/tenants/zz-bad.conf", H.dir);
	assert_int_equal(unlink(path), 0);
	return true;
}

static const soak_step steps[] = {
	step_weight, step_unchanged, step_rotate, step_unchanged, step_refused, step_repair,
};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))
#define NTENANTS 4 /* a, b, c, k */

/* Reload i, by the control socket or by SIGHUP, and its outcome checked. */
static void reload(unsigned i, bool must_apply)
{
	char needle[128];
	if (i % SIGHUP_EVERY == 0) {
		assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
		if (must_apply)
			snprintf(needle, sizeof(needle), "tenants reloaded: %d tenant(s) (reload %u)\n", NTENANTS,
				 applied + 1);
		else
			snprintf(needle, sizeof(needle), "zz-bad.conf:2: ");
		if (!log_wait_from(needle))
			fail_msg("SIGHUP reload %u: '%s' not logged", i, needle);
	} else {
		char out[1024];
		int rc = hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, out, sizeof(out));
		if (must_apply ? rc != 0 : rc != 1 || !strstr(out, "zz-bad.conf:2: "))
			fail_msg("reload %u: %d %s", i, rc, out);
	}
	applied += must_apply;
}

static void test_reloads_bounded_memory_and_fds(void **state)
{
	(void)state;
	struct host_io io[2];
	host_io_start(&io[0], HOST_B, 0);
	host_io_start(&io[1], HOST_C, 256);
	unsigned n = reload_count();
	long rss0 = 0, fds0 = 0, rss_max = 0, fds_max = 0;
	unsigned long long cpu0 = cpu_ticks(H.pid), ms0 = mono_ms();
	for (unsigned i = 1; i <= n || bad_file; i++) {
		bool must_apply = steps[i % NSTEPS](i);
		reload(i, must_apply);
		if (i % SAMPLE_EVERY && i != WARMUP)
			continue;
		long rss = hnvmf_harness_rss_kib(H.pid), fds = hnvmf_harness_fds(H.pid);
		assert_true(rss > 0 && fds > 0);
		if (i == WARMUP) {
			rss0 = rss;
			fds0 = fds;
		} else if (i > WARMUP) {
			rss_max = rss > rss_max ? rss : rss_max;
			fds_max = fds > fds_max ? fds : fds_max;
		}
	}
	unsigned long long ms = mono_ms() - ms0;
	unsigned long long cpu_ms = (cpu_ticks(H.pid) - cpu0) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK);
	unsigned long ios = host_io_stop(&io[0]) + host_io_stop(&io[1]);
	print_message("%u reloads (%u applied) in %llu ms; the daemon's CPU time meanwhile %llu ms (host I/O included)\n"
		      "RSS %ld KiB after %u, at most %ld KiB after; fds %ld, at most %ld; %lu host ios meanwhile\n",
		      n, applied, ms, cpu_ms, rss0, WARMUP, rss_max, fds0, fds_max, ios);
	assert_true(rss_max <= rss0 + RSS_SLACK_KIB);
	assert_true(fds_max <= fds0 + FD_SLACK);
	assert_true(ios > 0);
}

/* SIGHUPs sent back to back, the last one right after HOST_A's tenant file appears: however the
 * signals coalesce, a reload reads the directory after the last one, so HOST_A gets in. */
static void test_sighup_during_reload_not_dropped(void **state)
{
	(void)state;
	char path[600];
	snprintf(path, sizeof(path), "%s/tenants/a.conf", H.dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	assert_true(log_wait_from("tenants reloaded: 3 tenant(s)"));
	for (int i = 0; i < 20; i++)
		assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	assert_int_equal(write_tenant("tenants/a.conf", HOST_A, 1), 0);
	assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	assert_true(log_wait_from("tenants reloaded: 4 tenant(s)"));
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_host(HOST_A, &c), 0);
	hnvmf_harness_verify(c, 1024, 8, 4096, 7);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_prepare(&H) != 0 || write_tenant("tenants/a.conf", HOST_A, 1) ||
	    write_tenant("tenants/b.conf", HOST_B, 1) || write_tenant("tenants/c.conf", HOST_C, 2))
		return -1;
	step_rotate(0);
	/* The I/O port accepts before the control socket listens: "ready" comes after both. */
	if (hnvmf_harness_start(&H, conf_template) != 0 || !hnvmf_harness_log_wait(&H, "ready (", 10000))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

int main(void)
{
	hnvmf_harness_small_asan_quarantine();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reloads_bounded_memory_and_fds),
		cmocka_unit_test(test_sighup_during_reload_not_dropped),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
