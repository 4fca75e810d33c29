/* The control API's configuration methods (target/rpc-config.c, docs/control.md) against a
 * running hnvmfd: each method and its errors; a namespace added through the API raises the
 * Namespace Attribute Changed event and appears in Identify; a namespace removed under I/O; a
 * grown file resized; a host removed loses its controller; a listener added changes the
 * discovery log; and after a sequence of calls a restarted daemon serves the same, with the
 * operator's comments in untouched sections kept. */
#include <endian.h>
#include <json-c/json.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proto/nvme-cmd.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define NQN HNVMF_HARNESS_SUBNQN
#define NQN2 "nqn.2026-01.io.hnvmf:api-made"
#define HOST_A "nqn.2014-08.org.nvmexpress:uuid:0b7a6c2e-1f4d-4e55-8a2b-91c3d4e5f611"
#define DISC_NQN "nqn.2014-08.org.nvmexpress.discovery"

static const char conf_template[] =
	"# the operator's file: this comment stays\n"
	"[global]\n"
	"control_socket = @DIR@/ctl.sock   # where hnvmfctl finds us\n"
	HNVMF_CONF_LISTENER_IO
	"[listener disc]\n"
	"transport = tcp\naddress = 127.0.0.1\nport = @DISC_PORT@\ndiscovery = yes\n"
	"# spare capacity, not exported yet\n"
	"[backend spare]\n"
	"type = null\nsize = 4M   # keep small\n"
	HNVMF_CONF_RAM("ram0", "16M")
	HNVMF_CONF_SUBSYSTEM_RAM0(NQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;

HNVMF_HARNESS_GROUP_FIXTURES(H, conf_template)

static void ok(const char *method, const char *params)
{
	char out[8192];
	int rc = hnvmf_harness_rpc(&H, method, params, out, sizeof(out));
	if (rc != 0)
		fail_msg("%s %s: %s", method, params, out);
}

static void test_errors(void **state)
{
	(void)state;
	char msg[1024];
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"nqn.2026-01.io.hnvmf:none\",\"type\":\"ram\",\"size_mib\":1}",
				    msg, sizeof(msg)), -32001);
	assert_non_null(strstr(msg, "no subsystem nqn.2026-01.io.hnvmf:none"));
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"nsid\":1,\"type\":\"ram\",\"size_mib\":1}",
				    msg, sizeof(msg)), -32002);
	assert_non_null(strstr(msg, "has a namespace 1 already"));
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"type\":\"tape\"}", NULL, 0), -32602);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"type\":\"ram\",\"nsid\":\"2\"}", NULL, 0),
			 -32602);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"backend\":\"nosuch\"}", NULL, 0), -32001);
	/* the loader's own checks: a file backend without a path, a missing file */
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"type\":\"file\"}", msg, sizeof(msg)),
			 -32002);
	assert_non_null(strstr(msg, "path"));
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns",
				    "{\"nqn\":\"" NQN "\",\"type\":\"file\",\"path\":\"/nonexistent/x.img\"}", msg, sizeof(msg)),
			 -32002);
	assert_non_null(strstr(msg, "/nonexistent/x.img"));
	/* a value that would become more lines of the file */
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_ns",
				    "{\"nqn\":\"" NQN "\",\"type\":\"file\",\"path\":\"/tmp/x\\nhost = evil\"}", NULL, 0), -32602);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":9}", NULL, 0), -32001);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_remove_host", "{\"nqn\":\"" NQN "\",\"host\":\"" HOST_A "\"}", NULL, 0),
			 -32001);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_create_subsystem", "{\"nqn\":\"" NQN "\"}", NULL, 0), -32002);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_create_subsystem", "{\"nqn\":\"not an nqn\"}", msg, sizeof(msg)), -32002);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_delete_subsystem", "{\"nqn\":\"nqn.2026-01.io.hnvmf:none\"}", NULL, 0), -32001);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_allow_any_host", "{\"nqn\":\"" NQN "\"}", NULL, 0), -32602);
	/* the discovery listener's address: in use */
	char p[512];
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}", H.disc_port);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_listener", p, msg, sizeof(msg)), -32002);
	assert_non_null(strstr(msg, "in use"));
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_remove_listener",
				    "{\"nqn\":\"" NQN "\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"1\"}", NULL, 0), -32001);
	assert_int_equal(hnvmf_harness_rpc_error(&H, "hnvmf_subsystem_resize_ns", "{\"nqn\":\"" NQN "\",\"nsid\":1,\"size_mib\":1}", msg,
				    sizeof(msg)), -32002); /* a ram backend does not change size */
	/* nothing of these reached the file */
	char out[8192];
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "grep -c api '%s'", H.conf_path), 1);
}

/* A namespace added through the API: the controller's outstanding AER completes with Namespace
 * Attribute Changed, the Changed Namespace List names it, Identify lists it, and I/O reaches it. */
static void test_add_ns_raises_aen(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN, HOST_A, 1);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(c, &a, 1u << 8);
	assert_false(hnvmf_harness_aer_wait(c, &a, 200)); /* held until an event happens */
	char out[1024];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_add_ns",
					   "{\"nqn\":\"" NQN "\",\"nsid\":3,\"type\":\"ram\",\"size_mib\":8}", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"nsid\":3"));
	assert_true(hnvmf_harness_aer_wait(c, &a, 5000));
	assert_int_equal(a.io.status, 0);
	assert_int_equal(le32toh((uint32_t)a.io.cqe.result), 0x00040002u);
	uint32_t list[1024];
	assert_int_equal(hnvmf_ini_get_log(c, NVME_LOG_LID_CHANGED_NS, 0xffffffff, 0, list, sizeof(list)), 0);
	assert_int_equal(le32toh(list[0]), 3);
	assert_int_equal(le32toh(list[1]), 0);
	assert_true(hnvmf_harness_ns_active(c, 3));
	struct hnvmf_ini_ns_info info;
	assert_int_equal(hnvmf_ini_ns_info(c, 3, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 8u << 20);
	uint8_t buf[4096];
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(hnvmf_ini_write(c, 0, 3, 0, 8, buf, sizeof(buf)), 0);
	/* the first free NSID when none is given: 2 */
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"backend\":\"spare\"}", out,
					   sizeof(out)), 0);
	assert_non_null(strstr(out, "\"nsid\":2"));
	ok("nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":2}");
	ok("nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":3}");
	assert_false(hnvmf_harness_ns_active(c, 3));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	/* the backend the API made went with its namespace; the operator's spare stays */
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "grep -c '^\\[backend api' '%s'", H.conf_path), 1);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "grep -q '^\\[backend spare\\]' '%s'", H.conf_path), 0);
}

struct writer {
	struct hnvmf_ini_ctrl *c;
	uint32_t nsid;
	int first_error;
	unsigned done;
	volatile bool stop;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	uint8_t buf[4096];
	memset(buf, 0xa5, sizeof(buf));
	while (!w->stop) {
		int r = hnvmf_ini_write(w->c, 0, w->nsid, (w->done % 64) * 8, 8, buf, sizeof(buf));
		if (r) {
			w->first_error = r;
			break;
		}
		w->done++;
	}
	return NULL;
}

/* Removed while a queue writes to it: writes complete until it goes, then fail with Invalid
 * Namespace; the controller stays and namespace 1 serves on. */
static void test_remove_ns_under_io(void **state)
{
	(void)state;
	ok("nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"nsid\":4,\"type\":\"ram\",\"size_mib\":4}");
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN, HOST_A, 1);
	struct writer w = {.c = c, .nsid = 4};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, write_loop, &w), 0);
	for (int i = 0; i < 500 && w.done < 20; i++)
		usleep(2000);
	ok("nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":4}");
	for (int i = 0; i < 500 && !w.first_error; i++)
		usleep(2000);
	w.stop = true;
	pthread_join(t, NULL);
	assert_true(w.done >= 20);
	assert_int_equal(w.first_error & 0x7ff, NVME_SC_INVALID_NS);
	uint8_t buf[4096];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* A file grown under a namespace: resize without a size takes the file's new size. */
static void test_resize_grown_file(void **state)
{
	(void)state;
	char out[2048], p[1024];
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "truncate -s 4M '%s/grow.img'", H.dir), 0);
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"nsid\":5,\"type\":\"file\",\"path\":\"%s/grow.img\"}", H.dir);
	ok("nvmf_subsystem_add_ns", p);
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN, HOST_A, 1);
	struct hnvmf_ini_ns_info info;
	assert_int_equal(hnvmf_ini_ns_info(c, 5, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 4u << 20);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(c, &a, 1u << 8);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "truncate -s 8M '%s/grow.img'", H.dir), 0);
	ok("hnvmf_subsystem_resize_ns", "{\"nqn\":\"" NQN "\",\"nsid\":5}");
	assert_true(hnvmf_harness_aer_wait(c, &a, 5000));
	assert_int_equal(hnvmf_ini_ns_info(c, 5, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 8u << 20);
	uint8_t buf[4096] = {0};
	assert_int_equal(hnvmf_ini_write(c, 0, 5, info.nsze - 8, 8, buf, sizeof(buf)), 0);
	/* smaller than in use: refused, the size stays */
	char msg[1024];
	assert_int_equal(hnvmf_harness_rpc_error(&H, "hnvmf_subsystem_resize_ns", "{\"nqn\":\"" NQN "\",\"nsid\":5,\"size_mib\":2}", msg,
				    sizeof(msg)), -32002);
	assert_non_null(strstr(msg, "does not shrink"));
	assert_int_equal(hnvmf_ini_ns_info(c, 5, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 8u << 20);
	ok("nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":5}");
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static bool has_ctrl(const char *host)
{
	char line[4096];
	return hnvmf_harness_ctrl_line(&H, host, line, sizeof(line));
}

/* A subsystem made through the API, a host allowed on it, then removed: its controller goes. */
static void test_host_removed_disconnected(void **state)
{
	(void)state;
	ok("nvmf_create_subsystem", "{\"nqn\":\"" NQN2 "\",\"serial_number\":\"API0001\"}");
	ok("nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN2 "\",\"type\":\"null\",\"size_mib\":4}");
	struct hnvmf_ini_ctrl *c = NULL;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	assert_int_not_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, NQN2, HOST_A, &o, &c), 0); /* not allowed */
	ok("nvmf_subsystem_add_host", "{\"nqn\":\"" NQN2 "\",\"host\":\"" HOST_A "\"}");
	c = hnvmf_harness_connect(H.port, NQN2, HOST_A, 1);
	assert_true(has_ctrl(HOST_A));
	ok("nvmf_subsystem_remove_host", "{\"nqn\":\"" NQN2 "\",\"host\":\"" HOST_A "\"}");
	bool gone = false;
	for (int i = 0; i < 250 && !gone; i++) {
		gone = !has_ctrl(HOST_A);
		if (!gone)
			usleep(20000);
	}
	assert_true(gone);
	hnvmf_ini_ctrl_disconnect(c);
	ok("nvmf_subsystem_allow_any_host", "{\"nqn\":\"" NQN2 "\",\"allow_any_host\":true}");
	c = hnvmf_harness_connect(H.port, NQN2, HOST_A, 1);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	ok("nvmf_delete_subsystem", "{\"nqn\":\"" NQN2 "\"}");
	assert_int_not_equal(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, NQN2, HOST_A, &o, &c), 0);
}

/* A listener added: the persistent discovery controller gets the event and its log the entry;
 * the host connects through it; removed, the entry goes. */
static void test_listener_changes_discovery(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *d = hnvmf_harness_connect(H.disc_port, DISC_NQN, HOST_A, 0);
	struct nvmf_discovery_log *log;
	uint16_t port2 = hnvmf_harness_free_port();
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN, port2), 0);
	free(log);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(d, &a, 1u << 31);
	char p[512];
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"trtype\":\"TCP\",\"adrfam\":\"IPv4\",\"traddr\":\"127.0.0.1\","
			       "\"trsvcid\":\"%u\"}", port2);
	ok("nvmf_subsystem_add_listener", p);
	assert_true(hnvmf_harness_aer_wait(d, &a, 5000));
	assert_int_equal(le32toh((uint32_t)a.io.cqe.result), 0x0070f002u);
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN, port2), 1);
	free(log);
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(port2, NQN, HOST_A, 1);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	char msg[512];
	assert_int_equal(hnvmf_harness_rpc_error(&H, "nvmf_subsystem_add_listener", p, msg, sizeof(msg)), -32002); /* already */
	ok("nvmf_subsystem_remove_listener", p);
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN, port2), 0);
	assert_true(hnvmf_harness_disc_entries(log, NQN, H.port) == 1);
	free(log);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(d), 0);
}

static void restart_from_file(void)
{
	char *text = NULL;
	size_t cap = 1 << 16;
	text = calloc(1, cap);
	assert_non_null(text);
	FILE *f = fopen(H.conf_path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, cap - 1, f);
	fclose(f);
	assert_true(n > 0 && n < cap - 1);
	assert_int_equal(hnvmf_harness_signal(&H, SIGTERM), 0);
	for (int i = 0; i < 1000 && hnvmf_harness_alive(&H); i++)
		usleep(10000);
	assert_false(hnvmf_harness_alive(&H));
	assert_int_equal(hnvmf_harness_start(&H, text), 0);
	free(text);
}

/* After a sequence of changes a restarted daemon serves exactly the same, and the operator's
 * comments outside the changed sections are still in the file. */
static void test_persisted_across_restart(void **state)
{
	(void)state;
	char p[512];
	ok("nvmf_create_subsystem", "{\"nqn\":\"" NQN2 "\",\"model_number\":\"api model\"}");
	ok("nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN2 "\",\"nsid\":7,\"type\":\"ram\",\"size_mib\":2,\"block_size\":4096,"
				    "\"uuid\":\"6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"}");
	ok("nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN2 "\",\"type\":\"null\",\"size_mib\":8}");
	ok("nvmf_subsystem_add_host", "{\"nqn\":\"" NQN2 "\",\"host\":\"" HOST_A "\"}");
	ok("nvmf_subsystem_add_ns", "{\"nqn\":\"" NQN "\",\"nsid\":2,\"backend\":\"spare\"}");
	snprintf(p, sizeof(p), "{\"nqn\":\"" NQN "\",\"traddr\":\"127.0.0.1\",\"trsvcid\":\"%u\"}", hnvmf_harness_free_port());
	ok("nvmf_subsystem_add_listener", p);
	static char before[1 << 16], after[1 << 16];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_subsystems", NULL, before, sizeof(before)), 0);
	assert_non_null(strstr(before, NQN2));
	assert_non_null(strstr(before, "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	restart_from_file();
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_subsystems", NULL, after, sizeof(after)), 0);
	assert_string_equal(after, before);
	char out[1024];
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "grep -q '^# the operator.s file: this comment stays$' '%s' && "
				      "grep -q 'where hnvmfctl finds us' '%s' && grep -q '^# spare capacity' '%s' && "
				      "grep -q 'keep small' '%s'", H.conf_path, H.conf_path, H.conf_path, H.conf_path), 0);
	ok("nvmf_delete_subsystem", "{\"nqn\":\"" NQN2 "\"}");
	ok("nvmf_subsystem_remove_ns", "{\"nqn\":\"" NQN "\",\"nsid\":2}");
}

/* hnvmfctl on these methods: what it prints, its exit codes (1: the daemon refused). */
static void test_hnvmfctl(void **state)
{
	(void)state;
	char out[4096];
	const char *ctl = HNVMF_BINARY_DIR "/tools/hnvmfctl";
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=6 type=null size_mib=4",
					  ctl, H.dir), 0);
	assert_non_null(strstr(out, "namespace 6 (backend api"));
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=6 type=null size_mib=4",
					  ctl, H.dir), 1);
	assert_non_null(strstr(out, "has a namespace 6 already"));
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns resize " NQN " 6 size_mib=8", ctl, H.dir), 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns remove " NQN " 6", ctl, H.dir), 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns remove " NQN " six", ctl, H.dir), 2);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' host add " NQN " " HOST_A, ctl, H.dir), 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' host remove " NQN " " HOST_A, ctl, H.dir), 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' allow-any-host " NQN " maybe", ctl, H.dir), 2);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' listener add --help", ctl), 0);
	assert_non_null(strstr(out, "nvmf_subsystem_add_listener"));
}

/* hnvmfctl sends each KEY=VALUE with the type the method's parameter has: an NGUID of decimal
 * digits goes as a string (the daemon refused a number there), a number as a number (the daemon
 * refuses a string there), and a value that is not of its key's type is a usage error. */
static void test_hnvmfctl_value_types(void **state)
{
	(void)state;
	char out[16384];
	const char *ctl = HNVMF_BINARY_DIR "/tools/hnvmfctl";
	static const char nguid[] = "12345678901234567890123456789012";
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out),
					  "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=7 type=null size_mib=4 nguid=%s", ctl,
					  H.dir, nguid),
			 0);
	assert_non_null(strstr(out, "namespace 7 (backend api"));
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_get_subsystems", NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, nguid));
	/* Numbers: size_mib=8 and block_size=4096 are taken as numbers (the namespace has 2048 blocks
	 * of 4096 bytes); a word where a number goes never reaches the daemon. */
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out),
					  "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=8 type=null size_mib=8 block_size=4096",
					  ctl, H.dir),
			 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=9 type=null size_mib=big",
					  ctl, H.dir),
			 2);
	assert_non_null(strstr(out, "size_mib is a number"));
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns add " NQN " nsid=9 type=null readonly=7",
					  ctl, H.dir),
			 2);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns remove " NQN " 7", ctl, H.dir), 0);
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "'%s' -s '%s/ctl.sock' ns remove " NQN " 8", ctl, H.dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_add_ns_raises_aen),
		cmocka_unit_test(test_remove_ns_under_io),
		cmocka_unit_test(test_resize_grown_file),
		cmocka_unit_test(test_host_removed_disconnected),
		cmocka_unit_test(test_listener_changes_discovery),
		cmocka_unit_test(test_persisted_across_restart),
		cmocka_unit_test(test_hnvmfctl),
		cmocka_unit_test(test_hnvmfctl_value_types),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
