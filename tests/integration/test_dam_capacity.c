/* DAM's reserved CPUs and admission by capacity, against the real daemon with [pqm] dam_cpus = 1
 * (this machine's CPU 1; capacity 1 x dam_queues_per_cpu 1 = one unit). DAM tenants authenticate
 * with DH-HMAC-CHAP. Asserted through what the host gets (the Connect's status, the data) and
 * what the daemon reports (hnvmfctl state, its log, its threads' CPU masks):
 *   - the unit is taken by the first DAM queue; a second DAM queue of a pqm-fallback tenant is
 *     served through PQM and `state` says "pqm+auth (dam: no capacity)";
 *   - a refuse-fallback tenant's I/O Connect fails with Connect Invalid Parameters, DNR;
 *   - the unit returns on disconnect and on keep-alive expiry (the host stops sending Keep
 *     Alive), after which a DAM queue gets it again;
 *   - under DAM and PQM load, no thread but the DAM reactor (and DAM servers) may run on CPU 1,
 *     and they run only there;
 *   - hnvmfd --cpu that would pin a reactor on CPU 1 does not start;
 *   - the metrics endpoint's hnvmf_dam_units gauges follow the units. */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/keyfmt.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:damcap"
#define HOST_PQMFB "nqn.2026-01.io.hnvmf.test:dam-fallback-pqm"
#define HOST_REFUSE "nqn.2026-01.io.hnvmf.test:dam-fallback-refuse"
#define HOST_SHARED "nqn.2026-01.io.hnvmf.test:shared"
#define DAM_CPU 1

static const char conf_template[] =
	HNVMF_CONF_PQM_TENANTS
	"epoch_ms = 20\n"
	"dam_cpus = 1\n"
	"[metrics]\n"
	"listen = 127.0.0.1:@DISC_PORT@\n" /* a free port: its thread (libmicrohttpd's) is checked too */
	HNVMF_CONF_IO_RAM0("64M", SUBNQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;
static char key_pqmfb[HNVMF_KEY_STR_MAX], key_refuse[HNVMF_KEY_STR_MAX];

/* The tenant file path: host in DAM at permission level 1 with dam_fallback = fallback. */
static int dam_tenant(const char *path, const char *host, const char *fallback, const char *key)
{
	char file[1024];
	snprintf(file, sizeof(file),
		 "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\nmode = dam\n"
		 "permission_level = 1\ndam_fallback = %s\ndhchap_secret = %s\n",
		 host, fallback, key);
	return hnvmf_harness_write_file(&H, path, file);
}

static int setup(void **state)
{
	(void)state;
	hnvmf_harness_gen_key(false, 1, 32, key_pqmfb);
	hnvmf_harness_gen_key(false, 1, 32, key_refuse);
	if (hnvmf_harness_prepare(&H) != 0)
		return -1;
	if (dam_tenant("tenants/pqmfb.conf", HOST_PQMFB, "pqm", key_pqmfb) != 0 ||
	    dam_tenant("tenants/refuse.conf", HOST_REFUSE, "refuse", key_refuse) != 0)
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static int connect_host(const char *host, const char *secret, unsigned nr_io, uint32_t kato_ms,
			struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nr_io;
	o.io_depth = 32;
	o.dhchap_secret = secret;
	if (kato_ms)
		o.kato_ms = kato_ms;
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, host, &o, c);
}

/* Write-then-verify of 1024 blocks from slba over every I/O queue of c. */
static void verify_range(struct hnvmf_ini_ctrl *c, uint64_t slba, uint64_t seed)
{
	hnvmf_harness_verify(c, slba, 1024, 8192, seed);
}

/* The DAM units held, from hnvmf_dam_get (whose capacity is 1 here). */
static int units_used(void)
{
	char out[16384];
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_dam_get", NULL, out, sizeof(out)), 0);
	unsigned used, cap;
	if (sscanf(out, "{\"capacity\":%u,\"used\":%u", &cap, &used) != 2)
		fail_msg("no capacity, used in hnvmf_dam_get: %s", out);
	assert_int_equal(cap, 1);
	return (int)used;
}

/* The metrics endpoint's DAM gauges agree with the control socket. */
static void assert_metrics_units(unsigned used)
{
	char cmd[256], out[65536], want[128];
	snprintf(cmd, sizeof(cmd), "curl -sf --max-time 5 http://127.0.0.1:%u/metrics", (unsigned)H.disc_port);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	snprintf(want, sizeof(want), "\nhnvmf_dam_units %u\n", used);
	if (!strstr(out, want) || !strstr(out, "\nhnvmf_dam_units_capacity 1\n"))
		fail_msg("metrics without %s", want + 1);
}

static void state_line(const char *host, char *line, size_t len)
{
	if (!hnvmf_harness_ctrl_line(&H, host, line, len))
		fail_msg("no controller for %s", host);
}

static void test_second_queue_falls_back_to_pqm(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char line[1024];
	assert_int_equal(units_used(), 0);
	assert_int_equal(connect_host(HOST_PQMFB, key_pqmfb, 2, 0, &c), 0);
	state_line(HOST_PQMFB, line, sizeof(line));
	if (!strstr(line, "q1:dam+auth") || !strstr(line, "q2:pqm+auth (dam: no capacity)"))
		fail_msg("state: %s", line);
	assert_int_equal(units_used(), 1);
	assert_metrics_units(1);
	assert_true(hnvmf_harness_log_wait(&H, "qid 2: no DAM capacity left: serving the queue through PQM", 2000));
	verify_range(c, 0, 5); /* both queues serve, each on its path */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);

	/* Released on disconnect: a new controller's queue gets DAM. */
	for (int i = 0; i < 100 && units_used() != 0; i++)
		usleep(20000);
	assert_int_equal(units_used(), 0);
	assert_metrics_units(0);
	assert_int_equal(connect_host(HOST_PQMFB, key_pqmfb, 1, 0, &c), 0);
	state_line(HOST_PQMFB, line, sizeof(line));
	if (!strstr(line, "q1:dam+auth"))
		fail_msg("state after reconnect: %s", line);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_refuse_fails_the_connect(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *holder = NULL, *c = NULL;
	char line[1024], buf[128];
	assert_int_equal(connect_host(HOST_PQMFB, key_pqmfb, 1, 0, &holder), 0);
	assert_int_equal(units_used(), 1);
	int r = connect_host(HOST_REFUSE, key_refuse, 1, 0, &c);
	assert_true(r > 0);
	if (hnvmf_status_sct((uint16_t)r) != NVME_SCT_CMD_SPECIFIC ||
	    hnvmf_status_sc((uint16_t)r) != NVME_SC_CONNECT_INVALID_PARAM || !(r & NVME_SC_DNR))
		fail_msg("refused Connect: %s", hnvmf_ini_fabrics_status_str(r, buf, sizeof(buf)));
	hnvmf_ini_ctrl_disconnect(c);
	assert_true(hnvmf_harness_log_wait(&H, "no DAM capacity left; dam_fallback = refuse", 2000));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(holder), 0);
	for (int i = 0; i < 100 && units_used() != 0; i++)
		usleep(20000);
	assert_int_equal(units_used(), 0);
	/* With the unit free, the same tenant is admitted to DAM. */
	assert_int_equal(connect_host(HOST_REFUSE, key_refuse, 1, 0, &c), 0);
	state_line(HOST_REFUSE, line, sizeof(line));
	if (!strstr(line, "q1:dam+auth"))
		fail_msg("state: %s", line);
	verify_range(c, 2048, 6);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_keep_alive_expiry_returns_the_unit(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	char line[1024];
	for (int i = 0; i < 100 && units_used() != 0; i++)
		usleep(20000);
	assert_int_equal(connect_host(HOST_PQMFB, key_pqmfb, 1, 1000, &c), 0);
	assert_int_equal(units_used(), 1);
	/* The host goes silent: no Keep Alive, no command. The controller expires. */
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		usleep(50000);
		gone = !hnvmf_harness_ctrl_line(&H, HOST_PQMFB, line, sizeof(line));
	}
	assert_true(gone);
	for (int i = 0; i < 100 && units_used() != 0; i++)
		usleep(20000);
	assert_int_equal(units_used(), 0);
	hnvmf_ini_ctrl_disconnect(c); /* its connections were closed by the target */
	struct hnvmf_ini_ctrl *again = NULL;
	assert_int_equal(connect_host(HOST_REFUSE, key_refuse, 1, 0, &again), 0);
	state_line(HOST_REFUSE, line, sizeof(line));
	if (!strstr(line, "q1:dam+auth"))
		fail_msg("state: %s", line);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(again), 0);
}

/* Whether the Cpus_allowed_list value ("0-1", "0,2-3", "1") contains cpu. */
static bool list_has(const char *list, int cpu)
{
	const char *p = list;
	while (*p && !isspace((unsigned char)*p)) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p)
			fail_msg("bad Cpus_allowed_list: %s", list);
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (cpu >= a && cpu <= b)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

static void test_no_shared_thread_on_the_dam_cpu(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	struct hnvmf_ini_ctrl *dam = NULL, *pqm = NULL;
	assert_int_equal(connect_host(HOST_PQMFB, key_pqmfb, 1, 0, &dam), 0);
	assert_int_equal(connect_host(HOST_SHARED, NULL, 2, 0, &pqm), 0);
	verify_range(dam, 4096, 7);
	verify_range(pqm, 8192, 8);
	/* The channels stay open while the queues live: every thread is there now. */
	char path[128];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)H.pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	unsigned ndam = 0, npqm = 0, nreactor = 0, nthreads = 0, nmetrics = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[300], comm[64] = "", status[4096], allowed[256] = "";
		snprintf(file, sizeof(file), "%s/%s/comm", path, e->d_name);
		FILE *f = fopen(file, "r");
		if (!f)
			continue; /* the thread ended meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(file, sizeof(file), "%s/%s/status", path, e->d_name);
		f = fopen(file, "r");
		if (!f)
			continue;
		while (fgets(status, sizeof(status), f))
			if (sscanf(status, "Cpus_allowed_list: %255s", allowed) == 1)
				break;
		fclose(f);
		assert_true(allowed[0]);
		nthreads++;
		if (strncmp(comm, "hnvmf-dam", 9) == 0) { /* the DAM reactor (hnvmf-dam-r0), DAM servers */
			ndam++;
			if (strcmp(allowed, "1") != 0)
				fail_msg("DAM thread %s (%s) may run on %s, not only on CPU %d", e->d_name, comm, allowed,
					 DAM_CPU);
			continue;
		}
		npqm += strncmp(comm, "hnvmf-pqm", 9) == 0 && strcmp(comm, "hnvmf-pqm-epoch") != 0;
		nreactor += strncmp(comm, "hnvmf-r", 7) == 0;
		nmetrics += strncmp(comm, "MHD", 3) == 0 || strncmp(comm, "hnvmf-metrics", 13) == 0;
		if (list_has(allowed, DAM_CPU))
			fail_msg("thread %s (%s) may run on the reserved CPU %d: %s", e->d_name, comm, DAM_CPU, allowed);
	}
	closedir(d);
	assert_true(ndam >= 1);
	assert_true(npqm >= 1);
	assert_true(nreactor >= 1);
	assert_true(nmetrics >= 1);
	assert_true(nthreads > ndam + npqm + nreactor); /* main, control, auth workers, epoch too */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(dam), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(pqm), 0);
}

/* hnvmfd --cpu 0 with two reactors would put reactor 1 on the reserved CPU 1: it must not start. */
static void test_reactor_on_a_dam_cpu_is_refused(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip();
	char conf[1024], cmd[2048], out[4096] = "";
	snprintf(conf, sizeof(conf),
		 "[global]\nreactors = 2\n[pqm]\ndam_cpus = 1\n[listener io]\naddress = 127.0.0.1\nport = %u\n"
		 "[backend ram0]\ntype = ram\nsize = 1M\n[subsystem " SUBNQN "]\nnamespace = 1:ram0\n",
		 (unsigned)hnvmf_harness_free_port());
	assert_int_equal(hnvmf_harness_write_file(&H, "cpu.conf", conf), 0);
	const char *bin = getenv("HNVMFD");
	snprintf(cmd, sizeof(cmd), "timeout 10 %s -c %s/cpu.conf --cpu 0 2>&1", bin && *bin ? bin : HNVMF_BINARY_DIR "/target/hnvmfd",
		 H.dir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	if (!strstr(out, "--cpu 0 pins reactor 1 to CPU 1, which [pqm] dam_cpus reserves for DAM"))
		fail_msg("hnvmfd said: %s", out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_queue_falls_back_to_pqm),
		cmocka_unit_test(test_refuse_fails_the_connect),
		cmocka_unit_test(test_keep_alive_expiry_returns_the_unit),
		cmocka_unit_test(test_no_shared_thread_on_the_dam_cpu),
		cmocka_unit_test(test_reactor_on_a_dam_cpu_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
