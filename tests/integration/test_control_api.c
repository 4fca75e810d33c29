/* The control API (target/rpc*.c, docs/control.md) against a running hnvmfd: the JSON-RPC errors
 * (unknown method, invalid request, wrong parameter types, unknown NQN), every method the daemon
 * lists answering, a big answer (500 namespaces) arriving whole, tenants and keys written
 * into the tenant files with the operator's comments kept and served the same after a restart,
 * a refused key leaving the file as it was, and the socket's permissions. */
#include <grp.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/integration/harness.h"

#define HOST_A "nqn.2014-08.org.nvmexpress:uuid:0b7a6c2e-1f4d-4e55-8a2b-91c3d4e5f601"
#define HOST_B "nqn.2014-08.org.nvmexpress:uuid:2c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e02"

static const char conf_template[] =
	"[global]\n"
	"control_socket = @DIR@/ctl.sock\n"
	"tenants_dir = @DIR@/tenants\n"
	HNVMF_CONF_IO_RAM0("16M", HNVMF_HARNESS_SUBNQN)
	"allow_any_host = yes\n";

static const char operator_tenant[] =
	"# the database: keep its share high\n"
	"[tenant]\n"
	"hostnqn = " HOST_A "\n"
	"subsystems = " HNVMF_HARNESS_SUBNQN "\n"
	"weight = 2   # twice the others\n"
	"# reviewed 2026-12-01\n";

static struct hnvmf_harness H;

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_prepare(&H) || hnvmf_harness_write_file(&H, "tenants/a.conf", operator_tenant))
		return -1;
	return hnvmf_harness_start(&H, conf_template);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* Sends text as it is on a new connection and reads the first answer (up to its newline). */
static void raw(const char *text, char *out, size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", H.dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 5};
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
	size_t off = 0;
	ssize_t r;
	while (off + 1 < cap && (off == 0 || out[off - 1] != '\n') && (r = recv(fd, out + off, cap - 1 - off, 0)) > 0)
		off += (size_t)r;
	out[off] = '\0';
	close(fd);
}

/* method's error code (the call must fail) */
static int error_code(const char *method, const char *params)
{
	char out[4096];
	assert_int_equal(hnvmf_harness_rpc(&H, method, params, out, sizeof(out)), 1);
	int code = 0;
	assert_int_equal(sscanf(out, "{\"code\":%d", &code), 1);
	print_message("%s %s: %s\n", method, params ? params : "", out);
	return code;
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(error_code("no_such_method", NULL), -32601);
	assert_int_equal(error_code("nvmf_get_subsystems", "{\"nqn\":5}"), -32602);
	assert_int_equal(error_code("nvmf_get_subsystems", "{\"nqm\":\"x\"}"), -32602); /* misspelt */
	assert_int_equal(error_code("nvmf_subsystem_get_controllers", "{\"nqn\":\"nqn.2026-01.io.hnvmf:none\"}"), -32001);
	assert_int_equal(error_code("hnvmf_pqm_set_c", "{\"c\":-1}"), -32602);
	assert_int_equal(error_code("hnvmf_pqm_set_c", "{\"c\":100000}"), -32602);
	assert_int_equal(error_code("log_set_print_level", NULL), -32602);
	assert_int_equal(error_code("hnvmf_host_set_key", "{\"hostnqn\":\"" HOST_B "\",\"tls_psk\":\"x\"}"), -32001);
	char out[4096];
	raw("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"nvmf_get_subsystems\",\"params\":[1]}", out, sizeof(out));
	assert_non_null(strstr(out, "\"id\":7,\"error\":{\"code\":-32602"));
	raw("{\"id\":8,\"method\":\"nvmf_get_subsystems\"}", out, sizeof(out));
	assert_non_null(strstr(out, "\"id\":8,\"error\":{\"code\":-32600"));
	raw("[{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"hnvmf_get_version\"}]", out, sizeof(out));
	assert_non_null(strstr(out, "\"error\":{\"code\":-32600"));
	raw("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"hnvmf_get_version\"}", out, sizeof(out));
	assert_non_null(strstr(out, "\"error\":{\"code\":-32600"));
	/* a notification (no id) is not answered: the first answer is the request's after it */
	raw("{\"jsonrpc\":\"2.0\",\"method\":\"hnvmf_get_version\"}{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"hnvmf_get_version\"}",
	    out, sizeof(out));
	assert_true(strncmp(out, "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":", 34) == 0);
}

/* Every method the daemon lists answers a call without parameters with its result or an error
 * about what it lacks: none is missing, none fails inside. */
static void test_every_method_answers(void **state)
{
	(void)state;
	static char out[1 << 20];
	assert_int_equal(hnvmf_harness_rpc(&H, "rpc_get_methods", NULL, out, sizeof(out)), 0);
	struct json_object *names = json_tokener_parse(out);
	assert_non_null(names);
	size_t n = json_object_array_length(names);
	assert_true(n >= 17);
	for (size_t i = 0; i < n; i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(names, i));
		int rc = hnvmf_harness_rpc(&H, m, NULL, out, sizeof(out));
		print_message("%s: %.100s\n", m, out);
		assert_true(rc == 0 || rc == 1);
		if (rc == 1)
			assert_true(strstr(out, "{\"code\":-32602,") || strstr(out, "{\"code\":-32001,"));
	}
	json_object_put(names);
}

static void read_file(const char *rel, char *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", H.dir, rel);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_tenants_written_and_served_after_restart(void **state)
{
	(void)state;
	char out[8192], before[8192], file[2048], file2[2048];
	/* the operator's file: one key changed in place, the comments kept */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_set", "{\"hostnqn\":\"" HOST_A "\",\"weight\":5,\"max_iops\":20000}",
					   out, sizeof(out)), 0);
	read_file("tenants/a.conf", file, sizeof(file));
	print_message("%s", file);
	assert_string_equal(file, "# the database: keep its share high\n"
				  "[tenant]\n"
				  "hostnqn = " HOST_A "\n"
				  "subsystems = " HNVMF_HARNESS_SUBNQN "\n"
				  "weight = 5\n"
				  "# reviewed 2026-12-01\n"
				  "max_iops = 20000\n");
	/* a new tenant gets a file of its own; a key that does not parse is refused, nothing changes */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_set",
					   "{\"hostnqn\":\"" HOST_B "\",\"subsystems\":[\"" HNVMF_HARNESS_SUBNQN "\"],\"mode\":\"baseline\"}",
					   out, sizeof(out)), 0);
	assert_non_null(strstr(out, "/tenants/api-"));
	char rel[300];
	const char *slash = strstr(out, "tenants/api-");
	snprintf(rel, sizeof(rel), "%.*s", (int)(strchr(slash, '"') - slash), slash);
	read_file(rel, file, sizeof(file));
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_host_set_key", "{\"hostnqn\":\"" HOST_B "\",\"dhchap_secret\":\"DHHC-1:00:bad:\"}",
					   out, sizeof(out)), 1);
	assert_non_null(strstr(out, "{\"code\":-32002,"));
	assert_non_null(strstr(out, ".conf:")); /* the reload's file:line */
	read_file(rel, file2, sizeof(file2));
	assert_string_equal(file2, file);
	char key[256];
	hnvmf_harness_gen_key(false, 1, 32, key);
	char params[512];
	snprintf(params, sizeof(params), "{\"hostnqn\":\"" HOST_B "\",\"dhchap_secret\":\"%s\"}", key);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_host_set_key", params, out, sizeof(out)), 0);
	struct stat st;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", H.dir, rel);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* what the daemon serves, then the same after a restart */
	char subs[8192];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_subsystems", NULL, subs, sizeof(subs)), 0);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_list", NULL, before, sizeof(before)), 0);
	assert_non_null(strstr(before, "\"weight\":5,"));
	assert_non_null(strstr(before, "\"mode\":\"baseline\""));
	assert_int_equal(hnvmf_harness_signal(&H, SIGTERM), 0);
	for (int i = 0; i < 1000 && hnvmf_harness_alive(&H); i++)
		usleep(10000);
	assert_false(hnvmf_harness_alive(&H));
	assert_int_equal(hnvmf_harness_start(&H, conf_template), 0);
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_subsystems", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, subs);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_list", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, before);

	/* removed: gone from the directory and from the running set */
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_remove", "{\"hostnqn\":\"" HOST_B "\"}", out, sizeof(out)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(hnvmf_harness_rpc(&H, "hnvmf_tenant_list", NULL, out, sizeof(out)), 0);
	assert_null(strstr(out, HOST_B));
}

/* save_config with nothing changed: the main file keeps every byte (comments included). */
static void test_save_config_keeps_the_file(void **state)
{
	(void)state;
	char before[8192], after[8192], out[1024];
	read_file("hnvmf.conf", before, sizeof(before));
	assert_int_equal(hnvmf_harness_rpc(&H, "save_config", NULL, out, sizeof(out)), 0);
	read_file("hnvmf.conf", after, sizeof(after));
	assert_string_equal(after, before);
}

static void test_socket_mode(void **state)
{
	(void)state;
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/ctl.sock", H.dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* with a group: 0660, that group */
	struct group *g = getgrgid(getgid());
	assert_non_null(g);
	char tpl[1024];
	snprintf(tpl, sizeof(tpl), "[global]\ncontrol_socket = @DIR@/ctl.sock\ncontrol_socket_group = %s\n%s", g->gr_name,
		 HNVMF_CONF_IO_RAM0("16M", HNVMF_HARNESS_SUBNQN) "allow_any_host = yes\n");
	struct hnvmf_harness h2 = {0};
	assert_int_equal(hnvmf_harness_start(&h2, tpl), 0);
	snprintf(path, sizeof(path), "%s/ctl.sock", h2.dir);
	for (int i = 0; i < 200 && stat(path, &st) != 0; i++)
		usleep(10000);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(hnvmf_harness_stop(&h2), 0);
	/* a group that does not exist: refused with its line */
	char *msg = NULL;
	assert_int_equal(hnvmf_harness_check("[global]\ncontrol_socket_group = no-such-group-hnvmf\n", &msg), 1);
	assert_non_null(strstr(msg, ":2: control_socket_group: no group 'no-such-group-hnvmf'"));
	free(msg);
}

/* 500 namespaces: an answer of some 90 KB arrives whole (the old protocol cut at 64 KiB). */
static void test_big_answer(void **state)
{
	(void)state;
	enum { NS = 500 };
	size_t cap = 200 * NS + 1024, off = 0;
	char *tpl = malloc(cap);
	assert_non_null(tpl);
	off += (size_t)snprintf(tpl + off, cap - off, "[global]\ncontrol_socket = @DIR@/ctl.sock\n" HNVMF_CONF_LISTENER_IO);
	for (int i = 1; i <= NS; i++)
		off += (size_t)snprintf(tpl + off, cap - off, "[backend null-backend-of-namespace-%04d]\ntype = null\nsize = 1M\n", i);
	off += (size_t)snprintf(tpl + off, cap - off, "[subsystem " HNVMF_HARNESS_SUBNQN "]\nallow_any_host = yes\n");
	for (int i = 1; i <= NS; i++)
		off += (size_t)snprintf(tpl + off, cap - off, "namespace = %d:null-backend-of-namespace-%04d\n", i, i);
	assert_true(off < cap);
	struct hnvmf_harness h2 = {0};
	int started = hnvmf_harness_start(&h2, tpl);
	free(tpl);
	assert_int_equal(started, 0);
	static char out[1 << 20];
	assert_int_equal(hnvmf_harness_rpc(&h2, "nvmf_get_subsystems", "{\"nqn\":\"" HNVMF_HARNESS_SUBNQN "\"}", out, sizeof(out)), 0);
	print_message("nvmf_get_subsystems: %zu bytes\n", strlen(out));
	assert_true(strlen(out) > 65536);
	struct json_object *a = json_tokener_parse(out), *ns;
	assert_non_null(a);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(a, 0), "namespaces", &ns));
	assert_int_equal(json_object_array_length(ns), NS);
	json_object_put(a);
	assert_int_equal(hnvmf_harness_stop(&h2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_every_method_answers),
		cmocka_unit_test(test_tenants_written_and_served_after_restart),
		cmocka_unit_test(test_save_config_keeps_the_file),
		cmocka_unit_test(test_socket_mode),
		cmocka_unit_test(test_big_answer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
