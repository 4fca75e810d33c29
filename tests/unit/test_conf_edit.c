/* conf/conf-edit.c: a section's keys set or removed with every other line kept as the operator
 * wrote it (comments, blank lines, order, other sections), and the atomic replacement of a file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf/conf-edit.h"
#include "conf/conf.h"

static const char operator_file[] =
	"# the database host: PQM, an SLA\n"
	"[tenant]\n"
	"hostnqn = nqn.2014-08.org.nvmexpress:uuid:1\n"
	"  mode = pqm   # shared pool\n"
	"\n"
	"# twice the share\n"
	"weight = 2\n"
	"\n"
	"[other]\n"
	"weight = 7\n";

static void test_replace_add_remove_keep_the_rest(void **state)
{
	(void)state;
	const struct hnvmf_conf_kv kv[] = {
		{"mode", "dam"}, {"weight", NULL}, {"max_iops", "1000"},
	};
	char *out = NULL;
	assert_int_equal(hnvmf_conf_edit_section(operator_file, "tenant", kv, 3, &out), 0);
	assert_string_equal(out, "# the database host: PQM, an SLA\n"
				 "[tenant]\n"
				 "hostnqn = nqn.2014-08.org.nvmexpress:uuid:1\n"
				 "mode = dam\n"
				 "\n"
				 "# twice the share\n"
				 "max_iops = 1000\n"
				 "\n"
				 "[other]\n"
				 "weight = 7\n");
	free(out);
}

static void test_missing_section_is_appended(void **state)
{
	(void)state;
	const struct hnvmf_conf_kv kv[] = {{"hostnqn", "nqn.x"}, {"gone", NULL}};
	char *out = NULL;
	assert_int_equal(hnvmf_conf_edit_section("# empty\n", "tenant", kv, 2, &out), 0);
	assert_string_equal(out, "# empty\n\n[tenant]\nhostnqn = nqn.x\n");
	free(out);
	assert_int_equal(hnvmf_conf_edit_section("", "tenant", kv, 1, &out), 0);
	assert_string_equal(out, "[tenant]\nhostnqn = nqn.x\n");
	free(out);
}

static void test_a_value_cannot_smuggle_a_line(void **state)
{
	(void)state;
	char *out = NULL;
	const struct hnvmf_conf_kv nl[] = {{"mode", "pqm\nmode = dam"}};
	assert_int_equal(hnvmf_conf_edit_section(operator_file, "tenant", nl, 1, &out), -EINVAL);
	const struct hnvmf_conf_kv comment[] = {{"mode", "# nothing"}};
	assert_int_equal(hnvmf_conf_edit_section(operator_file, "tenant", comment, 1, &out), -EINVAL);
	const struct hnvmf_conf_kv key[] = {{"mode = dam\n[x", "1"}};
	assert_int_equal(hnvmf_conf_edit_section(operator_file, "tenant", key, 1, &out), -EINVAL);
}

static void test_write_atomic(void **state)
{
	(void)state;
	char dir[] = "/tmp/hnvmf-edit-XXXXXX", path[64], tmp[80];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s/.a.conf.tmp", dir);
	assert_int_equal(hnvmf_conf_write_atomic(path, "one\n", 0600), 0);
	assert_int_equal(hnvmf_conf_write_atomic(path, "two\n", 0640), 0);
	char *s = hnvmf_conf_read_file(path);
	assert_string_equal(s, "two\n");
	free(s);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(access(tmp, F_OK), -1); /* nothing left behind */
	unlink(path);
	rmdir(dir);
	assert_int_equal(hnvmf_conf_write_atomic("/nonexistent-dir/x.conf", "x", 0600), -ENOENT);
}

static const char main_file[] =
	"# hnvmf.conf of the lab\n"
	"[global]\n"
	"log_level = info   # notice in production\n"
	"\n"
	"# the hosts' network\n"
	"[listener tcp0]\n"
	"transport = tcp\n"
	"address = 127.0.0.1\n"
	"port = 14420\n"
	"\n"
	"[backend ram0]\n"
	"type = ram\n"
	"size = 16M   # small\n"
	"\n"
	"[backend spare]\n"
	"type = null\n"
	"size = 1G\n"
	"\n"
	"# the database volume\n"
	"[subsystem nqn.2026-01.io.hnvmf:db]\n"
	"namespace = 1:ram0, ana_group=3\n"
	"ana_state = 3:inaccessible\n"
	"host = nqn.2014-08.org.nvmexpress:uuid:0b7a6c2e-1f4d-4e55-8a2b-91c3d4e5f601\n"
	"\n"
	"# end of file\n";

/* The running model written back: the changed section rewritten in place, a new one appended,
 * a removed one deleted, the untouched ones (and every comment outside the changed sections)
 * as the operator wrote them; the file then loads to the running model. */
static void test_write_back(void **state)
{
	(void)state;
	char dir[] = "/tmp/hnvmf-wb-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hnvmf.conf", dir);
	assert_int_equal(hnvmf_conf_write_atomic(path, main_file, 0640), 0);
	struct hnvmf_conf *c;
	char err[512];
	assert_int_equal(hnvmf_conf_load(path, &c, err, sizeof(err)), 0);
	/* what a run-time change leaves in the model: a host added to the subsystem, a listener
	 * added, the spare backend removed */
	struct hnvmf_conf_subsys *s = &c->subsystems[0];
	s->hosts = realloc(s->hosts, (s->nhosts + 1) * sizeof(*s->hosts));
	snprintf(s->hosts[s->nhosts++], sizeof(s->hosts[0]), "nqn.2014-08.org.nvmexpress:uuid:2c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e02");
	c->listeners = realloc(c->listeners, (c->nlisteners + 1) * sizeof(*c->listeners));
	c->listeners[c->nlisteners++] = (struct hnvmf_conf_listener){.name = "tcp1", .trtype = HNVMF_TRTYPE_TCP,
								    .addr = "127.0.0.2", .port = 14421};
	assert_string_equal(c->backends[1].name, "spare");
	c->nbackends--;
	assert_int_equal(hnvmf_conf_write_back(c, err, sizeof(err)), 0);
	char *text = hnvmf_conf_read_file(path);
	print_message("%s", text);
	/* untouched: [global], the listener, ram0, with their comments */
	assert_non_null(strstr(text, "# hnvmf.conf of the lab\n[global]\nlog_level = info   # notice in production\n\n"
					"# the hosts' network\n[listener tcp0]\ntransport = tcp\naddress = 127.0.0.1\nport = 14420\n\n"
					"[backend ram0]\ntype = ram\nsize = 16M   # small\n\n# the database volume\n"
					"[subsystem nqn.2026-01.io.hnvmf:db]\n"));
	assert_null(strstr(text, "[backend spare]"));
	assert_non_null(strstr(text, "host = nqn.2014-08.org.nvmexpress:uuid:2c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e02\n"));
	assert_non_null(strstr(text, "\n# end of file\n"));
	assert_non_null(strstr(text, "[listener tcp1]\ntransport = tcp\naddress = 127.0.0.2\nport = 14421\n"));
	free(text);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* the file now loads to the running model: writing back again changes nothing */
	struct hnvmf_conf *again;
	assert_int_equal(hnvmf_conf_load(path, &again, err, sizeof(err)), 0);
	assert_int_equal(again->nlisteners, 2);
	assert_int_equal(again->nbackends, 1);
	assert_int_equal(again->subsystems[0].nhosts, 2);
	assert_memory_equal(again->subsystems[0].ns[0].nguid, s->ns[0].nguid, 16);
	assert_int_equal(again->subsystems[0].ns[0].anagrpid, 3); /* docs/ana.md */
	assert_int_equal(again->subsystems[0].ana_state[3], HNVMF_CONF_ANA_INACCESSIBLE);
	char *before = hnvmf_conf_read_file(path);
	assert_int_equal(hnvmf_conf_write_back(again, err, sizeof(err)), 0);
	char *after = hnvmf_conf_read_file(path);
	assert_string_equal(after, before);
	free(before);
	free(after);
	hnvmf_conf_free(again);
	hnvmf_conf_free(c);
	unlink(path);
	rmdir(dir);
}

static void test_write_back_needs_a_file(void **state)
{
	(void)state;
	struct hnvmf_conf *c;
	char err[512];
	assert_int_equal(hnvmf_conf_default(&c), 0);
	assert_int_equal(hnvmf_conf_write_back(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "embedded default"));
	hnvmf_conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_add_remove_keep_the_rest),
		cmocka_unit_test(test_missing_section_is_appended),
		cmocka_unit_test(test_a_value_cannot_smuggle_a_line),
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_back),
		cmocka_unit_test(test_write_back_needs_a_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
