/* Every command README.md shows runs as shown, so the README cannot drift from the tools again.
 *
 * The marker: fenced code blocks whose info string is `sh`. In them, each line that starts with
 * hnvmfd, hnvmfctl or hnvmf-perf (a trailing "# comment" removed) is run; `nvme ...` lines need a
 * Linux host with the kernel's NVMe/TCP initiator and are skipped (reported); any other line
 * (kill, comments) is not ours to run. The one daemon line (hnvmfd without --check) starts the
 * daemon every other command talks to, with these substitutions, which leave the options as the
 * README writes them: the binaries from this build tree, /etc/hnvmf/hnvmf.conf a configuration in
 * a temporary directory (the embedded default's subsystem nqn.2026-01.io.hnvmf:default on free
 * loopback ports), port 4420 / 8009 those free ports, and hnvmfctl given that daemon's socket. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"

#define MAX_CMDS 64

static char cmds[MAX_CMDS][512];
static unsigned ncmds, nskipped;

/* Collects the commands of the ```sh blocks. */
static void collect(void)
{
	FILE *f = fopen(HNVMF_SOURCE_DIR "/README.md", "r");
	assert_non_null(f);
	char line[1024];
	bool in_sh = false, in_other = false;
	ncmds = nskipped = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "```", 3)) {
			if (in_sh || in_other)
				in_sh = in_other = false;
			else if (!strcmp(line + 3, "sh"))
				in_sh = true;
			else
				in_other = true;
			continue;
		}
		if (!in_sh)
			continue;
		char *hash = strstr(line, " #");
		if (hash)
			*hash = 0;
		for (size_t n = strlen(line); n && line[n - 1] == ' '; n--)
			line[n - 1] = 0;
		if (!strncmp(line, "nvme ", 5)) {
			print_message("skipped (needs a Linux host with nvme-tcp): %s\n", line);
			nskipped++;
			continue;
		}
		if (strncmp(line, "hnvmfd", 6) && strncmp(line, "hnvmfctl", 8) && strncmp(line, "hnvmf-perf", 10))
			continue;
		assert_true(ncmds < MAX_CMDS);
		snprintf(cmds[ncmds++], sizeof(cmds[0]), "%s", line);
	}
	fclose(f);
}

/* Appends s to out (of size len), failing the test when it does not fit. */
static void put(char *out, size_t len, size_t *n, const char *s, size_t k)
{
	if (*n + k >= len)
		fail_msg("command too long");
	memcpy(out + *n, s, k);
	*n += k;
	out[*n] = 0;
}

static void substitute(const struct hnvmf_harness *h, const char *cmd, char *out, size_t len)
{
	char port[16], disc[16], ctl[400];
	snprintf(port, sizeof(port), "%u", h->port);
	snprintf(disc, sizeof(disc), "%u", h->disc_port);
	snprintf(ctl, sizeof(ctl), HNVMF_BINARY_DIR "/tools/hnvmfctl -s %s/ctl.sock", h->dir);
	static const char *const from[] = { "hnvmf-perf", "hnvmfctl", "hnvmfd", "/etc/hnvmf/hnvmf.conf",
					    "4420", "8009" };
	const char *to[] = { HNVMF_BINARY_DIR "/tools/hnvmf-perf", ctl, HNVMF_BINARY_DIR "/target/hnvmfd",
			     h->conf_path, port, disc };
	size_t n = 0;
	out[0] = 0;
	for (const char *p = cmd; *p;) {
		bool done = false;
		for (size_t i = 0; i < sizeof(from) / sizeof(from[0]) && !done; i++) {
			size_t k = strlen(from[i]);
			/* whole words only: 4420 is a port, not part of 44201 */
			if (!strncmp(p, from[i], k) && (p == cmd || p[-1] == ' ' || p[-1] == ':') &&
			    (p[k] == 0 || p[k] == ' ')) {
				put(out, len, &n, to[i], strlen(to[i]));
				p += k;
				done = true;
			}
		}
		if (!done)
			put(out, len, &n, p++, 1);
	}
}

static const char conf_fmt[] =
	"[global]\n"
	"control_socket = %s/ctl.sock\n"
	"\n"
	"[listener tcp]\n"
	"address = 127.0.0.1\n"
	"port = %u\n"
	"\n"
	"[listener discovery]\n"
	"address = 127.0.0.1\n"
	"port = %u\n"
	"discovery = yes\n"
	"\n"
	"[backend ram0]\n"
	"type = ram\n"
	"size = 64M\n"
	"\n"
	"[subsystem nqn.2026-01.io.hnvmf:default]\n"
	"allow_any_host = yes\n"
	"namespace = 1:ram0\n";

static void test_readme_commands(void **state)
{
	(void)state;
	collect();
	struct hnvmf_harness h = { 0 };
	assert_int_equal(hnvmf_harness_prepare(&h), 0);
	char conf[1024];
	snprintf(conf, sizeof(conf), conf_fmt, h.dir, h.port, h.disc_port);
	assert_int_equal(hnvmf_harness_write_file(&h, "hnvmf.conf", conf), 0);

	/* the daemon, started by the README's own line */
	int daemon = -1;
	for (unsigned i = 0; i < ncmds; i++) {
		if (!strncmp(cmds[i], "hnvmfd ", 7) && !strstr(cmds[i], "--check")) {
			assert_int_equal(daemon, -1); /* one daemon line */
			daemon = (int)i;
		}
	}
	assert_true(daemon >= 0);
	char cmd[1024] = "exec "; /* the daemon is the shell's process: SIGTERM reaches it */
	substitute(&h, cmds[daemon], cmd + 5, sizeof(cmd) - 5);
	print_message("daemon: %s\n", cmds[daemon]);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(h.log_path, "w", stderr) || dup2(2, 1) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	h.pid = pid;
	if (!hnvmf_harness_log_wait(&h, "ready", 10000)) {
		hnvmf_harness_stop(&h);
		fail_msg("'%s' did not get ready", cmd);
	}

	unsigned ran = 1;
	for (unsigned i = 0; i < ncmds; i++) {
		if ((int)i == daemon)
			continue;
		substitute(&h, cmds[i], cmd, sizeof(cmd));
		char full[1100];
		snprintf(full, sizeof(full), "%s 2>&1", cmd);
		print_message("run: %s\n", cmds[i]);
		FILE *p = popen(full, "r");
		assert_non_null(p);
		static char out[65536];
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = 0;
		int st = pclose(p);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			hnvmf_harness_stop(&h);
			fail_msg("README command failed (status %d): %s\n%s", st, cmds[i], out);
		}
		ran++;
	}
	print_message("%u README commands run, %u nvme-cli lines skipped\n", ran, nskipped);
	assert_int_equal(hnvmf_harness_stop(&h), 0);
	/* the README shows at least the daemon, a check, hnvmfctl and a perf run */
	assert_true(ran >= 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readme_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
