/* Run-time change of the main file (control "reload"; SIGHUP goes the same way), seen from hosts
 * connected through the initiator: a namespace added, removed (under I/O) or grown raises the
 * Namespace Attribute Changed event and lists itself in the Changed Namespace List (once, in
 * order, masked until the log is read); a host removed from a subsystem loses its controller
 * while another host stays; a listener or subsystem added or removed moves the discovery log's
 * GENCTR and raises the Discovery Log Change event on a persistent discovery controller; a bad
 * file, or one changing what is read only at start, changes nothing; many reloads with hosts
 * connected keep the daemon's descriptors and memory flat. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "proto/nvme-cmd.h"
#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define NQN_A "nqn.2026-01.io.hnvmf:reconfig-a"
#define NQN_B "nqn.2026-01.io.hnvmf:reconfig-b"
#define NQN_C "nqn.2026-01.io.hnvmf:reconfig-c"
#define DISC_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define HOST_1 "nqn.2026-01.io.hnvmf.test:reconfig-1"
#define HOST_2 "nqn.2026-01.io.hnvmf.test:reconfig-2"
#define HOST_3 "nqn.2026-01.io.hnvmf.test:reconfig-3"

static struct hnvmf_harness H;

/* What the main file serves; the zero value is the start's file. */
struct shape {
	bool ns3, ns4;      /* namespaces 3 (ram2) and 4 (ram3) on A */
	bool drop_ns2;      /* A without namespace 2 (file0) */
	bool drop_host1;    /* B without "host = HOST_1" */
	bool subsys_c;      /* subsystem C, any host, namespace 1 on ram3 */
	uint16_t port2;     /* a second I/O listener "io2", 0: none */
	const char *global; /* more [global] lines */
	const char *extra;  /* appended */
};

static void conf_text(const struct shape *s, char *text, size_t len)
{
	char port2[160] = "";
	if (s->port2)
		snprintf(port2, sizeof(port2), "[listener io2]\naddress = 127.0.0.1\nport = %u\n", s->port2);
	snprintf(text, len,
		 "[global]\ncontrol_socket = @DIR@/ctl.sock\n%s"
		 HNVMF_CONF_LISTENER_IO
		 "[listener disc]\naddress = 127.0.0.1\nport = @DISC_PORT@\ndiscovery = yes\n%s"
		 HNVMF_CONF_RAM("ram0", "16M") HNVMF_CONF_RAM("ram1", "16M") HNVMF_CONF_RAM("ram2", "8M")
		 HNVMF_CONF_RAM("ram3", "8M")
		 "[backend file0]\ntype = file\npath = @DIR@/f0.img\n"
		 "[subsystem " NQN_A "]\nallow_any_host = yes\nnamespace = 1:ram0\n%s%s%s"
		 "[subsystem " NQN_B "]\n%shost = " HOST_2 "\nnamespace = 1:ram1\n%s%s",
		 s->global ? s->global : "", port2, s->drop_ns2 ? "" : "namespace = 2:file0\n",
		 s->ns3 ? "namespace = 3:ram2\n" : "", s->ns4 ? "namespace = 4:ram3\n" : "",
		 s->drop_host1 ? "" : "host = " HOST_1 "\n",
		 s->subsys_c ? "[subsystem " NQN_C "]\nallow_any_host = yes\nnamespace = 1:ram3\n" : "",
		 s->extra ? s->extra : "");
}

static void write_conf(const struct shape *s)
{
	char text[4096];
	conf_text(s, text, sizeof(text));
	assert_int_equal(hnvmf_harness_write_file(&H, "hnvmf.conf", text), 0);
}

static int setup(void **state)
{
	(void)state;
	char out[256];
	memset(&H, 0, sizeof(H));
	if (hnvmf_harness_prepare(&H) != 0 || hnvmf_harness_sh(out, sizeof(out), "truncate -s 1M '%s/f0.img'", H.dir))
		return -1;
	static char text[4096];
	conf_text(&(struct shape){0}, text, sizeof(text));
	return hnvmf_harness_start(&H, text);
}

static int teardown(void **state)
{
	(void)state;
	return hnvmf_harness_stop(&H) == 0 ? 0 : -1;
}

/* The answer of the control API's hnvmf_reload, as "ok\n" or "error: " and what the daemon's
 * reload said (the file:line at fault). -1: no answer. */
static int reload_answer(char *out, size_t len)
{
	static const char refused[] = "reload refused, nothing changed: ";
	char raw[4096];
	int rc = hnvmf_harness_rpc(&H, "hnvmf_reload", NULL, raw, sizeof(raw));
	if (rc == 0) {
		snprintf(out, len, "ok\n");
		return 0;
	}
	if (rc < 0)
		return -1;
	struct json_object *e = json_tokener_parse(raw), *m = NULL;
	const char *msg = e && json_object_object_get_ex(e, "message", &m) ? json_object_get_string(m) : raw;
	if (strncmp(msg, refused, strlen(refused)) == 0)
		msg += strlen(refused);
	snprintf(out, len, "error: %s", msg);
	json_object_put(e);
	return 0;
}

static void reload(char *out, size_t len) { assert_int_equal(reload_answer(out, len), 0); }

static void reload_ok(const struct shape *s)
{
	char out[2048];
	write_conf(s);
	reload(out, sizeof(out));
	if (strcmp(out, "ok\n") != 0)
		fail_msg("reload: %s", out);
}

static int sc(int status) { return status & 0x7ff; }

static unsigned changed_list(struct hnvmf_ini_ctrl *c, uint32_t *list)
{
	assert_int_equal(hnvmf_ini_get_log(c, NVME_LOG_LID_CHANGED_NS, 0xffffffff, 0, list, 4096), 0);
	unsigned n = 0;
	while (n < 1024 && list[n]) {
		list[n] = le32toh(list[n]);
		n++;
	}
	return n;
}

/* Added, then more changes before the log is read: the event is reported once (masked until the
 * log is read), the list holds each NSID once in increasing order, Identify shows the new
 * namespace; a removal is announced the same way and its NSID answers Invalid Namespace. */
static void test_namespace_add_remove_events(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(c, &a, 1u << 8);
	assert_false(hnvmf_harness_ns_active(c, 3));

	reload_ok(&(struct shape){.ns4 = true});
	assert_true(hnvmf_harness_aer_wait(c, &a, 5000));
	assert_int_equal(a.io.status, 0);
	assert_int_equal(le32toh((uint32_t)a.io.cqe.result), 0x00040002u);

	/* Not read yet: a second change is listed, but no second event. */
	struct hnvmf_harness_aer a2;
	hnvmf_harness_aer_post(c, &a2, 0);
	reload_ok(&(struct shape){.ns3 = true, .ns4 = true});
	reload_ok(&(struct shape){.ns3 = true, .ns4 = true}); /* unchanged: nothing listed twice */
	assert_false(hnvmf_harness_aer_wait(c, &a2, 300));
	uint32_t list[1024];
	assert_int_equal(changed_list(c, list), 2);
	assert_int_equal(list[0], 3);
	assert_int_equal(list[1], 4);
	struct hnvmf_ini_ns_info info;
	assert_int_equal(hnvmf_ini_ns_info(c, 3, &info), 0);
	assert_int_equal(info.nsze, (8u << 20) / info.lba_size);
	assert_true(hnvmf_harness_ns_active(c, 3) && hnvmf_harness_ns_active(c, 4));
	uint8_t buf[4096];
	assert_int_equal(hnvmf_ini_write(c, 0, 3, 0, 8, buf, sizeof(buf)), 0);

	/* The log was read: the next change raises the event again. */
	reload_ok(&(struct shape){.ns4 = true});
	assert_true(hnvmf_harness_aer_wait(c, &a2, 5000));
	assert_int_equal(changed_list(c, list), 1);
	assert_int_equal(list[0], 3);
	assert_false(hnvmf_harness_ns_active(c, 3));
	int r = hnvmf_ini_read(c, 0, 3, 0, 8, buf, sizeof(buf));
	assert_int_equal(sc(r), NVME_SC_INVALID_NS);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0); /* the others serve on */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

struct reload_thread {
	pthread_t t;
	char out[2048];
	volatile bool done;
};

static void *reload_in_thread(void *arg)
{
	struct reload_thread *rt = arg;
	reload_answer(rt->out, sizeof(rt->out));
	rt->done = true;
	return NULL;
}

struct rw {
	struct hnvmf_ini_io io;
	uint8_t buf[4096];
	unsigned *ok, *gone, *other;
	bool busy;
};

static void rw_done(struct hnvmf_ini_io *io)
{
	struct rw *w = io->arg;
	w->busy = false;
	if (io->status == 0)
		(*w->ok)++;
	else if (sc(io->status) == NVME_SC_INVALID_NS)
		(*w->gone)++;
	else
		(*w->other)++;
}

/* A namespace removed while its I/O is in flight at queue depth 16: every command completes,
 * with success or Invalid Namespace, nothing else; the daemon serves on (run under ASan too). */
static void test_namespace_removed_under_io(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1);
	static struct rw w[16];
	unsigned ok = 0, gone = 0, other = 0;
	for (int i = 0; i < 16; i++)
		w[i] = (struct rw){.ok = &ok, .gone = &gone, .other = &other};
	write_conf(&(struct shape){.drop_ns2 = true});
	struct reload_thread rt = {0};
	unsigned after = 0, n = 0;
	for (;;) {
		for (int i = 0; i < 16; i++) {
			if (w[i].busy)
				continue;
			if (rt.done && ++after > 64)
				break;
			if (!rt.t && ok >= 200) /* I/O is flowing: remove the namespace under it */
				assert_int_equal(pthread_create(&rt.t, NULL, reload_in_thread, &rt), 0);
			struct hnvmf_ini_io *io = &w[i].io;
			memset(io, 0, sizeof(*io));
			bool wr = (n++ & 1) != 0;
			hnvmf_sqe_rw(&io->sqe, wr, 2, (n * 8) % 2040, 8);
			io->data = w[i].buf;
			io->len = sizeof(w[i].buf);
			io->dir = wr ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL;
			io->done = rw_done;
			io->arg = &w[i];
			w[i].busy = true;
			assert_int_equal(hnvmf_ini_submit(c->io[0], io), 0);
		}
		if (rt.done && after > 64)
			break;
		hnvmf_ini_queue_wait(c->io[0], 20);
		assert_true(hnvmf_ini_queue_process(c->io[0]) >= 0);
	}
	while (hnvmf_ini_queue_inflight(c->io[0])) {
		hnvmf_ini_queue_wait(c->io[0], 20);
		assert_true(hnvmf_ini_queue_process(c->io[0]) >= 0);
	}
	pthread_join(rt.t, NULL);
	assert_string_equal(rt.out, "ok\n");
	print_message("namespace removed under I/O: %u completed, %u Invalid Namespace\n", ok, gone);
	assert_int_equal(other, 0);
	assert_true(ok >= 200);
	assert_true(gone >= 64); /* every command after the removal */
	uint8_t buf[4096];
	assert_int_equal(sc(hnvmf_ini_read(c, 0, 2, 0, 8, buf, sizeof(buf))), NVME_SC_INVALID_NS);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	/* Added back: the same file, a fresh channel. */
	reload_ok(&(struct shape){0});
	assert_int_equal(hnvmf_ini_read(c, 0, 2, 0, 8, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_true(hnvmf_harness_alive(&H));
}

/* A grown backing file is taken at the next reload (event, log, Identify, the new blocks
 * readable); a shrunk one is refused and Identify stays. */
static void test_grown_file(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1);
	struct hnvmf_ini_ns_info info;
	assert_int_equal(hnvmf_ini_ns_info(c, 2, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 1u << 20);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(c, &a, 1u << 8);
	char out[2048];
	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "truncate -s 4M '%s/f0.img'", H.dir), 0);
	reload_ok(&(struct shape){0});
	assert_true(hnvmf_harness_aer_wait(c, &a, 5000));
	uint32_t list[1024];
	assert_int_equal(changed_list(c, list), 1);
	assert_int_equal(list[0], 2);
	assert_int_equal(hnvmf_ini_ns_info(c, 2, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 4u << 20);
	uint8_t buf[4096];
	assert_int_equal(hnvmf_ini_write(c, 0, 2, info.nsze - 8, 8, buf, sizeof(buf)), 0);

	assert_int_equal(hnvmf_harness_sh(out, sizeof(out), "truncate -s 2M '%s/f0.img'", H.dir), 0);
	reload(out, sizeof(out));
	assert_non_null(strstr(out, "error: "));
	assert_non_null(strstr(out, "backend file0"));
	assert_non_null(strstr(out, "does not shrink"));
	assert_int_equal(hnvmf_ini_ns_info(c, 2, &info), 0);
	assert_int_equal(info.nsze * info.lba_size, 4u << 20);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Whether the daemon holds a controller of host on subsystem subnqn (NULL: on any). */
static bool has_ctrl(const char *subnqn, const char *host)
{
	static char out[1 << 20];
	assert_int_equal(hnvmf_harness_rpc(&H, "nvmf_subsystem_get_controllers", NULL, out, sizeof(out)), 0);
	struct json_object *all = json_tokener_parse(out);
	assert_non_null(all);
	bool found = false;
	for (size_t i = 0; !found && i < json_object_array_length(all); i++) {
		struct json_object *c = json_object_array_get_idx(all, i), *h, *sn;
		assert_true(json_object_object_get_ex(c, "hostnqn", &h));
		assert_true(json_object_object_get_ex(c, "subnqn", &sn));
		found = strcmp(json_object_get_string(h), host) == 0 &&
			(!subnqn || strcmp(json_object_get_string(sn), subnqn) == 0);
	}
	json_object_put(all);
	return found;
}

/* HOST_1 leaves B's hosts: its controller goes, HOST_2's stays and serves. */
static void test_host_removed(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c1 = hnvmf_harness_connect(H.port, NQN_B, HOST_1, 1);
	struct hnvmf_ini_ctrl *c2 = hnvmf_harness_connect(H.port, NQN_B, HOST_2, 1);
	struct hnvmf_ini_ctrl *ca = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1); /* A allows any host */
	assert_true(has_ctrl(NQN_B, HOST_1));
	reload_ok(&(struct shape){.drop_host1 = true});
	/* The controller leaves the table as the reload answers; its queues close right after. */
	assert_false(has_ctrl(NQN_B, HOST_1));
	assert_true(has_ctrl(NQN_B, HOST_2));
	assert_true(has_ctrl(NQN_A, HOST_1));
	uint8_t buf[4096];
	assert_true(hnvmf_ini_read(c1, 0, 1, 0, 8, buf, sizeof(buf)) != 0);
	assert_int_equal(hnvmf_ini_read(c2, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_read(ca, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	struct hnvmf_ini_ctrl *again = NULL;
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, NQN_B, HOST_1, &o, &again);
	assert_int_equal(sc(r), NVME_SCT_CMD_SPECIFIC << 8 | NVME_SC_CONNECT_INVALID_HOST);
	hnvmf_ini_ctrl_disconnect(c1);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c2), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(ca), 0);
}

/* A listener added: reachable, in the discovery log with a new GENCTR, and the persistent
 * discovery controller gets the event; then a subsystem added and removed likewise (its
 * controller disconnected, a new Connect refused). */
static void test_discovery_follows(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *d = hnvmf_harness_connect(H.disc_port, DISC_NQN, HOST_1, 0);
	struct nvmf_discovery_log *log;
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	uint64_t gen = le64toh(log->genctr);
	uint16_t port2 = hnvmf_harness_free_port();
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_A, port2), 0);
	free(log);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(d, &a, 1u << 31);

	reload_ok(&(struct shape){.port2 = port2});
	assert_true(hnvmf_harness_aer_wait(d, &a, 5000));
	assert_int_equal(le32toh((uint32_t)a.io.cqe.result), 0x0070f002u);
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_true(le64toh(log->genctr) > gen);
	gen = le64toh(log->genctr);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_A, port2), 1);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_B, port2), 1); /* HOST_1 is one of B's hosts */
	free(log);
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(port2, NQN_A, HOST_1, 1);
	uint8_t buf[4096];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);

	/* The same file again: nothing the discovery log shows changed, no event. */
	hnvmf_harness_aer_post(d, &a, 0);
	reload_ok(&(struct shape){.port2 = port2});
	assert_false(hnvmf_harness_aer_wait(d, &a, 300));
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(le64toh(log->genctr), gen);
	free(log);

	reload_ok(&(struct shape){.port2 = port2, .subsys_c = true});
	assert_true(hnvmf_harness_aer_wait(d, &a, 5000));
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_true(le64toh(log->genctr) > gen);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_C, port2), 1);
	free(log);
	struct hnvmf_ini_ctrl *cc = hnvmf_harness_connect(H.port, NQN_C, HOST_3, 1);
	assert_int_equal(hnvmf_ini_write(cc, 0, 1, 0, 8, buf, sizeof(buf)), 0);

	/* Removed: HOST_3's controller goes, the connection on io2 stays, a new Connect is refused. */
	hnvmf_harness_aer_post(d, &a, 0);
	reload_ok(&(struct shape){.port2 = port2});
	assert_true(hnvmf_harness_aer_wait(d, &a, 5000));
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_C, port2), 0);
	free(log);
	assert_false(has_ctrl(NULL, HOST_3));
	assert_true(hnvmf_ini_read(cc, 0, 1, 0, 8, buf, sizeof(buf)) != 0);
	hnvmf_ini_ctrl_disconnect(cc);
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	struct hnvmf_ini_ctrl *refused = NULL;
	assert_true(hnvmf_ini_ctrl_connect("127.0.0.1", H.port, NQN_C, HOST_3, &o, &refused) != 0);

	/* The listener removed: gone from the log; the controller made through it stays. */
	hnvmf_harness_aer_post(d, &a, 0);
	reload_ok(&(struct shape){0});
	assert_true(hnvmf_harness_aer_wait(d, &a, 5000));
	assert_int_equal(hnvmf_ini_discovery_log(d, &log), 0);
	assert_int_equal(hnvmf_harness_disc_entries(log, NQN_A, port2), 0);
	free(log);
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(d), 0);
}

/* A file that fails validation, or changes a setting read only at start, changes nothing and
 * says where it is wrong. */
static void test_bad_file_changes_nothing(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1);
	char out[2048];
	write_conf(&(struct shape){.ns3 = true, .extra = "[subsystem " NQN_C "]\nnamespace = 1:nosuch\n"});
	reload(out, sizeof(out));
	char where[400];
	snprintf(where, sizeof(where), "error: %s:", H.conf_path);
	if (strncmp(out, where, strlen(where)) != 0)
		fail_msg("answer: %s", out);
	assert_true(hnvmf_harness_log_wait(&H, "reload refused, running configuration unchanged: ", 5000));
	assert_false(hnvmf_harness_ns_active(c, 3));

	write_conf(&(struct shape){.ns3 = true, .global = "queue_depth = 64\n"});
	reload(out, sizeof(out));
	assert_non_null(strstr(out, "error: "));
	assert_non_null(strstr(out, "queue_depth"));
	assert_false(hnvmf_harness_ns_active(c, 3));

	write_conf(&(struct shape){.ns3 = true, .extra = "[backend huge]\ntype = ram\nsize = 64T\n"
							 "[subsystem " NQN_C "]\nnamespace = 1:huge\n"});
	reload(out, sizeof(out));
	assert_non_null(strstr(out, "backend huge"));
	assert_non_null(strstr(out, "memory"));
	assert_false(hnvmf_harness_ns_active(c, 3));

	reload_ok(&(struct shape){.ns3 = true});
	assert_true(hnvmf_harness_ns_active(c, 3));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

/* Reloads that add and remove a namespace, a file namespace and a listener, with hosts
 * connected and served in between: descriptors stay exactly flat, memory nearly. */
static void test_many_reloads(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_A, HOST_1, 1);
	struct hnvmf_ini_ctrl *c2 = hnvmf_harness_connect(H.port, NQN_B, HOST_2, 1);
	uint16_t port2 = hnvmf_harness_free_port();
	const unsigned warm = 40, n = 400;
	long rss0 = 0, fds0 = 0;
	uint8_t buf[4096];
	for (unsigned i = 1; i <= n; i++) {
		bool odd = i & 1;
		reload_ok(&(struct shape){.ns3 = odd, .drop_ns2 = odd, .port2 = odd ? port2 : 0});
		assert_int_equal(hnvmf_ini_write(c, 0, 1, i % 1000, 8, buf, sizeof(buf)), 0);
		assert_int_equal(hnvmf_ini_read(c2, 0, 1, i % 1000, 8, buf, sizeof(buf)), 0);
		assert_int_equal(hnvmf_ini_keep_alive(c), 0);
		if (i == warm) {
			rss0 = hnvmf_harness_rss_kib(H.pid);
			fds0 = hnvmf_harness_fds_settled(H.pid, -1);
		}
	}
	long rss = hnvmf_harness_rss_kib(H.pid), fds = hnvmf_harness_fds_settled(H.pid, fds0);
	print_message("%u reloads: RSS %ld KiB after %u, %ld KiB after %u; fds %ld, %ld\n", n, rss0, warm, rss, n,
		      fds0, fds);
	assert_int_equal(fds, fds0);
	assert_true(rss0 > 0 && rss < rss0 + 2048);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c2), 0);
}

/* An ana_state line changed in the file: the group takes it (ANA Change event, I/O refused with
 * ANA Inaccessible), and back; an unchanged line would leave the state the API gave alone. */
static void test_ana_state_reloaded(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = hnvmf_harness_connect(H.port, NQN_B, HOST_1, 1);
	struct hnvmf_harness_aer a;
	hnvmf_harness_aer_post(c, &a, 1u << 11);
	reload_ok(&(struct shape){.extra = "ana_state = 1:inaccessible\n"});
	assert_true(hnvmf_harness_aer_wait(c, &a, 5000));
	assert_int_equal(le32toh((uint32_t)a.io.cqe.result), 0x000c0302u);
	uint8_t buf[4096];
	assert_int_equal(sc(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf))), NVME_SCT_PATH << 8 | NVME_SC_ANA_INACCESSIBLE);
	reload_ok(&(struct shape){0});
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 0, 8, buf, sizeof(buf)), 0);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

int main(void)
{
	hnvmf_harness_small_asan_quarantine(); /* test_many_reloads measures RSS */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_namespace_add_remove_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_removed_under_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grown_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovery_follows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_reloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ana_state_reloaded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
