/* Tenant reloads by SIGHUP, many in one run: each is logged with its outcome (applied, or refused
 * with the file:line at fault) and takes effect; a tenant whose file was deleted is refused at once
 * and its live controller disconnected. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:reload"
#define HOST_A "nqn.2026-01.io.hnvmf.test:reload-a"
#define HOST_B "nqn.2026-01.io.hnvmf.test:reload-b"
#define RELOADS 70 /* more than the 64 the daemon once kept */

/* Hosts reach the subsystem only through their tenant files. */
static const char conf_template[] =
	"[global]\n"
	"tenants_dir = tenants\n"
	"control_socket = @DIR@/ctl.sock\n"
	HNVMF_CONF_IO_RAM0("16M", SUBNQN);

static struct hnvmf_harness H;

static int write_tenant(const char *file, const char *host)
{
	char text[512];
	snprintf(text, sizeof(text), "[tenant]\nhostnqn = %s\nsubsystems = " SUBNQN "\n", host);
	return hnvmf_harness_write_file(&H, file, text);
}

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_prepare(&H) != 0 || write_tenant("tenants/a.conf", HOST_A))
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

static unsigned count_in_log(const char *needle)
{
	char *log = hnvmf_harness_log(&H);
	unsigned n = 0;
	for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

/* Waits until needle is in the log want times. */
static bool wait_count(const char *needle, unsigned want)
{
	for (int i = 0; i < 500; i++) {
		if (count_in_log(needle) >= want)
			return true;
		usleep(10000);
	}
	return false;
}

static int connect_host(const char *host, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	*c = NULL;
	return hnvmf_ini_ctrl_connect("127.0.0.1", H.port, SUBNQN, host, &o, c);
}

static void reload(unsigned nth_ok)
{
	assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	if (!wait_count("tenants reloaded", nth_ok))
		fail_msg("reload %u not logged as applied", nth_ok);
}

static void test_many_reloads_logged_and_applied(void **state)
{
	(void)state;
	for (unsigned i = 1; i <= RELOADS; i++)
		reload(i);
	/* the last reload still takes effect: a new tenant connects */
	assert_int_equal(write_tenant("tenants/b.conf", HOST_B), 0);
	reload(RELOADS + 1);
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_host(HOST_B, &c), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	/* a broken file: refused, said so with the file and line, the running set is kept */
	assert_int_equal(hnvmf_harness_write_file(&H, "tenants/c.conf", "[tenant]\nhostnqn = x\n"), 0);
	assert_int_equal(hnvmf_harness_signal(&H, SIGHUP), 0);
	assert_true(hnvmf_harness_log_wait(&H, "reload refused, running configuration unchanged: ", 5000));
	assert_true(hnvmf_harness_log_wait(&H, "tenants/c.conf:2: ", 1000));
	assert_int_equal(connect_host(HOST_B, &c), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	char path[600];
	snprintf(path, sizeof(path), "%s/tenants/c.conf", H.dir);
	assert_int_equal(unlink(path), 0);
}

static void test_removed_tenant_disconnected_and_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	assert_int_equal(connect_host(HOST_A, &c), 0);
	char line[1024];
	assert_true(hnvmf_harness_ctrl_line(&H, HOST_A, line, sizeof(line)));

	char path[600];
	snprintf(path, sizeof(path), "%s/tenants/a.conf", H.dir);
	assert_int_equal(unlink(path), 0);
	unsigned before = count_in_log("tenants reloaded");
	reload(before + 1);

	/* its controller goes ... */
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		gone = !hnvmf_harness_ctrl_line(&H, HOST_A, line, sizeof(line));
		if (!gone)
			usleep(10000);
	}
	if (!gone)
		fail_msg("removed tenant's controller still there: %s", line);
	assert_true(hnvmf_ini_keep_alive(c) != 0); /* the connection was closed */
	hnvmf_ini_ctrl_disconnect(c);
	/* ... and it cannot come back */
	assert_true(connect_host(HOST_A, &c) != 0);
	assert_true(hnvmf_harness_log_wait(&H, "host " HOST_A " is not allowed on subsystem " SUBNQN, 2000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_reloads_logged_and_applied),
		cmocka_unit_test(test_removed_tenant_disconnected_and_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
