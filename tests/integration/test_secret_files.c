/* Secret files and inline secrets, checked by `hnvmfd --check` (the same loader serves SIGHUP): a
 * FIFO (as a secret file or as a tenant file), a symbolic link, a file of another owner, a file in a group- or world-writable directory,
 * and a tenant file holding an inline secret that group or others may read are each refused at
 * once with file:line; an owner-only regular file (and an owner-only tenant file with an inline
 * secret) is accepted. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define SECRET "DHHC-1:01:tQ5S/t8at4EAm27z0xwsFre/rilyWIWsEeBNTfe1zWVZiVgh:"

static struct hnvmf_harness H;

static int setup(void **state)
{
	(void)state;
	return hnvmf_harness_prepare(&H);
}

static int teardown(void **state)
{
	(void)state;
	H.pid = -1; /* nothing runs: stop only removes the directory */
	H.exit_status = 0;
	hnvmf_harness_stop(&H);
	return 0;
}

static void put(const char *rel, const char *text, mode_t mode)
{
	assert_int_equal(hnvmf_harness_write_file(&H, rel, text), 0);
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", H.dir, rel);
	assert_int_equal(chmod(p, mode), 0);
}

/* DIR/<name>/main.conf with tenants in DIR/<name>/tenants (mode 0700), one tenant t.conf whose
 * dhchap_secret line (line 4) is `value`. */
static void make_case(const char *name, const char *value, mode_t tenant_mode)
{
	char rel[256], text[1024];
	snprintf(rel, sizeof(rel), "%s/main.conf", name);
	snprintf(text, sizeof(text),
		 "[global]\ntenants_dir = %s/%s/tenants\n[listener io]\naddress = 127.0.0.1\nport = 4420\n"
		 "[backend ram0]\ntype = ram\nsize = 1M\n[subsystem nqn.2026-01.io.hnvmf:s]\nnamespace = 1:ram0\n",
		 H.dir, name);
	put(rel, text, 0600);
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/%s/tenants", H.dir, name);
	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	snprintf(rel, sizeof(rel), "%s/tenants/t.conf", name);
	snprintf(text, sizeof(text),
		 "[tenant]\nhostnqn = nqn.2026-01.io.hnvmf.test:h\nsubsystems = nqn.2026-01.io.hnvmf:s\n"
		 "dhchap_secret = %s\n", value);
	put(rel, text, tenant_mode);
}

/* Runs hnvmfd --check on DIR/<name>/main.conf; returns its exit code, or -ETIMEDOUT when it did
 * not finish within 5 s (it is killed). Its stderr goes to *out. */
static int check(const char *name, char **out)
{
	char conf[600], log[600];
	snprintf(conf, sizeof(conf), "%s/%s/main.conf", H.dir, name);
	snprintf(log, sizeof(log), "%s/%s/check.log", H.dir, name);
	const char *bin = getenv("HNVMFD") ? getenv("HNVMFD") : HNVMF_BINARY_DIR "/target/hnvmfd";
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execl(bin, bin, "--check", "-c", conf, (char *)NULL);
		_exit(127);
	}
	int st = 0, code = -ETIMEDOUT;
	for (int i = 0; i < 500; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		usleep(10000);
	}
	if (code == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	FILE *f = fopen(log, "r");
	*out = calloc(1, 8192);
	assert_non_null(*out);
	if (f) {
		size_t n = fread(*out, 1, 8191, f);
		(*out)[n] = '\0';
		fclose(f);
	}
	return code;
}

static void expect_refused(const char *name, const char *msg)
{
	char *out = NULL;
	int code = check(name, &out);
	if (code == -ETIMEDOUT)
		fail_msg("%s: --check hung (killed after 5 s)", name);
	if (code != 1 || !strstr(out, "tenants/t.conf:4: dhchap_secret: ") || !strstr(out, msg))
		fail_msg("%s: exit %d, stderr '%s', expected t.conf:4 ... '%s'", name, code, out, msg);
	free(out);
}

static void expect_accepted(const char *name)
{
	char *out = NULL;
	int code = check(name, &out);
	if (code != 0)
		fail_msg("%s: exit %d, stderr '%s'", name, code, out);
	free(out);
}

static void secret_file(const char *name, const char *rel, mode_t mode)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/tenants/%s", name, rel);
	put(p, SECRET "\n", mode);
}

static void test_regular_owner_only_file_accepted(void **state)
{
	(void)state;
	make_case("ok", "file:secrets/k", 0644); /* no secret in the tenant file itself */
	secret_file("ok", "secrets/k", 0600);
	expect_accepted("ok");
}

static void test_fifo_refused_at_once(void **state)
{
	(void)state;
	make_case("fifo", "file:k", 0600);
	char p[600];
	snprintf(p, sizeof(p), "%s/fifo/tenants/k", H.dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	expect_refused("fifo", "not a regular file: ");
}

/* The loader reads every *.conf of tenants_dir: a FIFO among them must not block it either. */
static void test_fifo_tenant_file_refused_at_once(void **state)
{
	(void)state;
	make_case("fifoconf", SECRET, 0600);
	char p[600];
	snprintf(p, sizeof(p), "%s/fifoconf/tenants/u.conf", H.dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	char *out = NULL;
	int code = check("fifoconf", &out);
	if (code == -ETIMEDOUT)
		fail_msg("--check hung on a FIFO tenant file (killed after 5 s)");
	if (code != 1 || !strstr(out, "tenants/u.conf:0: not a regular file"))
		fail_msg("exit %d, stderr '%s'", code, out);
	free(out);
}

static void test_symlink_refused(void **state)
{
	(void)state;
	make_case("link", "file:k", 0600);
	secret_file("link", "real", 0600);
	char p[600];
	snprintf(p, sizeof(p), "%s/link/tenants/k", H.dir);
	assert_int_equal(symlink("real", p), 0);
	expect_refused("link", "a symbolic link (name the file itself): ");
}

static void test_other_owner_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	make_case("owner", "file:k", 0600);
	secret_file("owner", "k", 0600);
	char p[600];
	snprintf(p, sizeof(p), "%s/owner/tenants/k", H.dir);
	assert_int_equal(chown(p, 65534, 65534), 0);
	expect_refused("owner", "owned by uid 65534, neither the daemon's user");
}

static void test_writable_directory_refused(void **state)
{
	(void)state;
	make_case("wdir", "file:secrets/k", 0600);
	secret_file("wdir", "secrets/k", 0600);
	char p[600];
	snprintf(p, sizeof(p), "%s/wdir/tenants/secrets", H.dir);
	assert_int_equal(chmod(p, 0777), 0);
	expect_refused("wdir", "in a directory that group or others may write (mode 0777)");
	assert_int_equal(chmod(p, 0770), 0);
	expect_refused("wdir", "(mode 0770)");
	assert_int_equal(chmod(p, 0700), 0);
	expect_accepted("wdir");
}

static void test_inline_secret_in_readable_file_refused(void **state)
{
	(void)state;
	make_case("inline", SECRET, 0644);
	expect_refused("inline", "the tenant file holds a secret and is accessible by group or others (mode 0644)");
	make_case("inline", SECRET, 0640);
	expect_refused("inline", "(mode 0640)");
	make_case("inline", SECRET, 0600);
	expect_accepted("inline");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular_owner_only_file_accepted),
		cmocka_unit_test(test_fifo_refused_at_once),
		cmocka_unit_test(test_fifo_tenant_file_refused_at_once),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_other_owner_refused),
		cmocka_unit_test(test_writable_directory_refused),
		cmocka_unit_test(test_inline_secret_in_readable_file_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
