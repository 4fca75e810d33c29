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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_add_remove_keep_the_rest),
		cmocka_unit_test(test_missing_section_is_appended),
		cmocka_unit_test(test_a_value_cannot_smuggle_a_line),
		cmocka_unit_test(test_write_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
