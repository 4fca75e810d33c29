/* Every shipped example loads; every broken fixture in tests/fixtures/conf-bad is refused with
 * the message its first line announces ("# expect: file:line: text"). A fixture is a single
 * NAME.conf, or a directory NAME/ whose main.conf names a tenants.d. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "proto/keyfmt.h"

#define EXAMPLES HNVMF_SOURCE_DIR "/conf/examples"
#define FIXTURES HNVMF_SOURCE_DIR "/tests/fixtures/conf-bad"

/* Git keeps no group/other permission bits: the example tenant files (one holds inline secrets)
 * are made owner-only whatever the checkout's umask did, as an operator must. */
static void own_example_tenants(void)
{
	DIR *d = opendir(EXAMPLES "/tenants.d");
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			char p[1400];
			snprintf(p, sizeof(p), "%s/%s", EXAMPLES "/tenants.d", e->d_name);
			assert_int_equal(chmod(p, 0600), 0);
		}
	closedir(d);
}

static void full_example(void **state)
{
	(void)state;
	own_example_tenants();
	struct hnvmf_conf *c;
	char err[512] = "";
	if (hnvmf_conf_load(EXAMPLES "/hnvmf.conf", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c->reactors, 2);
	assert_int_equal(c->ndam_whitelist, 2);
	assert_int_equal(c->dam_whitelist[1], 2);
	assert_int_equal(c->nlisteners, 3);
	const struct hnvmf_conf_listener *tls = hnvmf_conf_find_listener(c, "tls");
	assert_non_null(tls);
	assert_true(tls->tls);
	assert_int_equal(tls->port, 4421);
	assert_true(hnvmf_conf_find_listener(c, "discovery")->discovery);
	assert_int_equal(c->nbackends, 2);
	assert_int_equal(hnvmf_conf_find_backend(c, "ram0")->size, 1ull << 30);
	assert_int_equal(hnvmf_conf_find_backend(c, "sink")->type, HNVMF_CONF_BACKEND_NULL);
	assert_int_equal(hnvmf_conf_find_backend(c, "sink")->block_size, 4096);
	assert_int_equal(c->nsubsystems, 2);
	const struct hnvmf_conf_subsys *t = hnvmf_conf_find_subsys(c, "nqn.2026-01.io.hnvmf:tenants");
	assert_non_null(t);
	assert_int_equal(t->nns, 2);
	assert_int_equal(t->ns[0].nguid[15], 0x01);
	assert_int_equal(t->ns[1].uuid[0], 0x8d);
	assert_int_equal(t->nhosts, 1);

	/* tenants.d: read in name order */
	assert_int_equal(c->ntenants, 3);
	assert_int_equal(c->tenants[0].mode, HNVMF_CONF_MODE_PQM);
	assert_int_equal(c->tenants[0].reserved_iops, 50000);
	assert_int_equal(c->tenants[0].max_queues, 4);
	assert_int_equal(c->tenants[1].mode, HNVMF_CONF_MODE_DAM);
	assert_int_equal(c->tenants[1].nsubsystems, 2);
	assert_int_equal(c->tenants[1].permission_level, 2);
	assert_int_equal(c->tenants[2].mode, HNVMF_CONF_MODE_BASELINE);
	assert_int_equal(c->tenants[2].max_queues, c->max_io_queues); /* the default */
	struct hnvmf_key k;
	assert_int_equal(hnvmf_dhchap_key_parse(c->tenants[1].dhchap_secret, &k, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_dhchap_key_parse(c->tenants[1].dhchap_ctrl_secret, &k, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_tls_key_parse(c->tenants[1].tls_psk, &k, err, sizeof(err)), 0);
	assert_true(hnvmf_conf_host_allowed(t, c->tenants, c->ntenants, c->tenants[1].hostnqn));
	hnvmf_conf_free(c);
}

static void minimal_example(void **state)
{
	(void)state;
	struct hnvmf_conf *c, *d;
	char err[512] = "";
	if (hnvmf_conf_load(EXAMPLES "/minimal.conf", &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(hnvmf_conf_default(&d), 0);
	/* what the file does not say is the embedded default */
	assert_int_equal(c->queue_depth, d->queue_depth);
	assert_int_equal(c->pqm.cmax, d->pqm.cmax);
	assert_int_equal(c->default_mode, HNVMF_CONF_MODE_PQM);
	assert_string_equal(c->control_socket, d->control_socket);
	assert_int_equal(c->listeners[0].port, 4420);
	assert_int_equal(c->ntenants, 0);
	assert_string_equal(c->subsystems[0].model, "hnvmf");
	assert_int_equal(strlen(c->subsystems[0].serial), 20);
	hnvmf_conf_free(c);
	hnvmf_conf_free(d);
}

/* Git keeps no permission bits but the executable one: make the secret files that must be
 * refused for their mode group-readable whatever the checkout's umask did. */
static void loosen_secrets(const char *dir)
{
	char sdir[1100];
	snprintf(sdir, sizeof(sdir), "%s/tenants.d/secrets", dir);
	DIR *d = opendir(sdir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			char p[1400];
			snprintf(p, sizeof(p), "%s/%s", sdir, e->d_name);
			assert_int_equal(chmod(p, 0640), 0);
		}
	closedir(d);
}

static void expect_of(const char *file, char *out, size_t n)
{
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	char line[1024] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (strncmp(line, "# expect: ", 10) != 0)
		fail_msg("%s: first line is not '# expect: ...'", file);
	snprintf(out, n, "%s", line + 10);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void broken_fixtures(void **state)
{
	(void)state;
	DIR *d = opendir(FIXTURES);
	assert_non_null(d);
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(char *), cmp);
	int checked = 0, tenant_dirs = 0;
	for (int i = 0; i < n; i++) {
		char path[1100], dir[1024], expect[1024], err[1024] = "";
		struct stat st;
		snprintf(dir, sizeof(dir), "%s/%s", FIXTURES, names[i]);
		assert_int_equal(stat(dir, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			snprintf(path, sizeof(path), "%s/main.conf", dir);
			loosen_secrets(dir);
			if (strcmp(names[i], "tenant-inline-readable") == 0) { /* refused for its mode */
				snprintf(path, sizeof(path), "%s/tenants.d/t.conf", dir);
				assert_int_equal(chmod(path, 0644), 0);
				snprintf(path, sizeof(path), "%s/main.conf", dir);
			}
			tenant_dirs++;
		} else {
			snprintf(path, sizeof(path), "%s", dir);
		}
		expect_of(path, expect, sizeof(expect));
		struct hnvmf_conf *c = (void *)1;
		int r = hnvmf_conf_load(path, &c, err, sizeof(err));
		if (r != -1)
			fail_msg("%s: accepted (expected '%s')", names[i], expect);
		assert_null(c);
		if (!strstr(err, expect))
			fail_msg("%s:\n  got      '%s'\n  expected '%s'", names[i], err, expect);
		/* "path:line: ": the message starts with the file that is wrong */
		const char *colon = strstr(err, ".conf:");
		if (!colon || !strchr("123456789", colon[6]))
			fail_msg("%s: '%s' does not start with file:line", names[i], err);
		checked++;
		free(names[i]);
	}
	printf("checked %d broken configurations (%d with tenant directories)\n", checked, tenant_dirs);
	assert_true(checked >= 15);
	assert_true(tenant_dirs >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_example),
		cmocka_unit_test(minimal_example),
		cmocka_unit_test(broken_fixtures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
