/* The configuration model: the embedded default, derived identifiers, relative paths, secret
 * files, the SIGHUP tenant reload and the look-up helpers. Each test writes its files into a
 * fresh temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <openssl/evp.h>

#include "conf/conf.h"
#include "core/log.h"

/* mk('DHHC-1', 1, bytes(range(32))) -- see test_keyfmt.c */
#define KEY "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
#define HOST1 "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555"
#define HOST2 "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-666666666666"

static char dir[256];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hnvmf-test-conf-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int remove_dir(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *rel, mode_t mode, const char *fmt, ...)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0); /* whatever the umask */
	va_list ap;
	va_start(ap, fmt);
	assert_true(vdprintf(fd, fmt, ap) >= 0);
	va_end(ap);
	close(fd);
}

static void sub(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

static struct hnvmf_conf *load_ok(const char *rel)
{
	char path[512], err[1024] = "";
	struct hnvmf_conf *c = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (hnvmf_conf_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return c;
}

static void load_bad(const char *rel, const char *expect)
{
	char path[512], err[1024] = "";
	struct hnvmf_conf *c = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(hnvmf_conf_load(path, &c, err, sizeof(err)), -1);
	assert_null(c);
	if (!strstr(err, expect))
		fail_msg("got '%s', expected '%s'", err, expect);
}

#define MAIN_HEAD                                                                                 \
	"[listener tcp]\naddress = 127.0.0.1\n"                                                   \
	"[backend ram0]\ntype = ram\nsize = 1M\n"                                                \
	"[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:ram0\n"                              \
	"[subsystem nqn.2026-01.io.hnvmf:b]\nnamespace = 1:ram0\n"

static void sha256(const char *s1, const char *s2, uint8_t out[32])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned n;
	EVP_DigestInit_ex(m, EVP_sha256(), NULL);
	EVP_DigestUpdate(m, s1, strlen(s1) + 1);
	EVP_DigestUpdate(m, s2, strlen(s2));
	EVP_DigestFinal_ex(m, out, &n);
	EVP_MD_CTX_free(m);
}

static void embedded_default(void **state)
{
	(void)state;
	struct hnvmf_conf *c;
	assert_int_equal(hnvmf_conf_default(&c), 0);
	assert_string_equal(c->file, "");
	assert_int_equal(c->nsubsystems, 1);
	const struct hnvmf_conf_subsys *s = hnvmf_conf_find_subsys(c, HNVMF_DEFAULT_SUBNQN);
	assert_non_null(s);
	assert_string_equal(s->serial, "HNVMF0000000001");
	assert_string_equal(s->model, "hnvmf");
	assert_true(s->allow_any_host);
	assert_int_equal(s->nns, 1);
	assert_int_equal(s->ns[0].nsid, 1);
	const struct hnvmf_conf_backend *b = hnvmf_conf_find_backend(c, s->ns[0].backend);
	assert_non_null(b);
	assert_int_equal(b->type, HNVMF_CONF_BACKEND_RAM);
	assert_int_equal(b->size, 1ull << 30);
	assert_int_equal(b->block_size, 512);
	assert_string_equal(b->path, "");
	assert_int_equal(c->nlisteners, 2);
	assert_int_equal(c->listeners[0].port, 4420);
	assert_false(c->listeners[0].discovery);
	assert_string_equal(c->listeners[0].addr, "127.0.0.1");
	assert_int_equal(c->listeners[1].port, 8009);
	assert_true(c->listeners[1].discovery);
	assert_true(hnvmf_conf_subsys_on_listener(s, &c->listeners[0]));
	assert_false(hnvmf_conf_subsys_on_listener(s, &c->listeners[1]));
	assert_int_equal(c->pqm.cmax, 4);
	assert_int_equal(c->pqm.epoch_ms, 100);
	assert_int_equal(c->pqm.subqueue_depth, 1024);
	assert_int_equal(c->pqm.nserver_cpus, 0);
	assert_int_equal(c->pqm.ndam_cpus, 0); /* DAM not isolated, capacity unlimited */
	assert_int_equal(c->pqm.dam_queues_per_cpu, 1);
	assert_int_equal(c->pqm.dam_max_queues, 0);
	assert_int_equal(c->pqm.dam_poll, HNVMF_CONF_POLL_AUTO);
	assert_int_equal(c->pqm.baseline_servers, 0);
	assert_int_equal(c->pqm.baseline_depth, 0);
	assert_int_equal(c->reactors, 1);
	assert_int_equal(c->default_mode, HNVMF_CONF_MODE_PQM);
	assert_int_equal(c->queue_depth, 128);
	assert_int_equal(c->max_io_queues, 8);
	assert_int_equal(c->inline_data_size, 8192);
	assert_int_equal(c->mdts_kib, 1024);
	assert_int_equal(c->kato_default_ms, 120000);
	assert_int_equal(c->idle_spin_us, 10);
	assert_int_equal(c->log_level, HNVMF_LOG_INFO);
	assert_string_equal(c->control_socket, "/run/hnvmf/hnvmf.sock");
	assert_string_equal(c->tenants_dir, "");
	assert_int_equal(c->ntenants, 0);

	/* NGUID and UUID: SHA-256 over "NQN\0nsid", first and second half; the UUID marked as an
	 * RFC 9562 version 8 / variant 10 UUID */
	uint8_t d[32];
	sha256(HNVMF_DEFAULT_SUBNQN, "1", d);
	assert_memory_equal(s->ns[0].nguid, d, 16);
	assert_memory_equal(s->ns[0].uuid, d + 16, 6);
	assert_int_equal(s->ns[0].uuid[6] >> 4, 8);
	assert_int_equal(s->ns[0].uuid[6] & 0x0f, d[22] & 0x0f);
	assert_int_equal(s->ns[0].uuid[8] >> 6, 2);
	assert_memory_equal(s->ns[0].uuid + 9, d + 25, 7);
	hnvmf_conf_free(c);
}

/* Derived identifiers differ per nsid and per subsystem; given ones are kept as written. */
static void namespace_ids(void **state)
{
	(void)state;
	put("m.conf", 0644,
	    "[listener tcp]\naddress = ::1\nport = 4430\n"
	    "[backend ram0]\ntype = ram\nsize = 4KiB\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:ram0\nnamespace = 2:ram0\n"
	    "namespace = 7 : ram0 , uuid = 00112233-4455-6677-8899-AABBCCDDEEFF, nguid=0102030405060708090a0b0c0d0e0f10\n"
	    "[subsystem nqn.2026-01.io.hnvmf:b]\nnamespace = 1:ram0\n");
	struct hnvmf_conf *c = load_ok("m.conf");
	const struct hnvmf_conf_subsys *a = &c->subsystems[0], *b = &c->subsystems[1];
	assert_int_equal(a->nns, 3);
	assert_memory_not_equal(a->ns[0].nguid, a->ns[1].nguid, 16);
	assert_memory_not_equal(a->ns[0].nguid, b->ns[0].nguid, 16);
	assert_memory_not_equal(a->ns[0].uuid, b->ns[0].uuid, 16);
	static const uint8_t uuid[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	assert_int_equal(a->ns[2].nsid, 7);
	assert_memory_equal(a->ns[2].uuid, uuid, 16);
	assert_int_equal(a->ns[2].nguid[0], 1);
	assert_int_equal(a->ns[2].nguid[15], 0x10);
	/* the same file loads to the same identifiers (they survive restarts) */
	struct hnvmf_conf *again = load_ok("m.conf");
	assert_memory_equal(again->subsystems[0].ns[0].nguid, a->ns[0].nguid, 16);
	assert_string_equal(again->subsystems[0].serial, a->serial);
	assert_string_not_equal(a->serial, b->serial);
	assert_int_equal(strncmp(a->serial, "HNVMF", 5), 0);
	assert_int_equal(c->backends[0].size, 4096);
	hnvmf_conf_free(c);
	hnvmf_conf_free(again);
}

/* Comments, blanks, indentation, units and the empty "none" values. */
static void syntax_forms(void **state)
{
	(void)state;
	put("m.conf", 0644,
	    "; a comment\n"
	    "  # an indented comment\n"
	    "[global]   # trailing comment\n"
	    "   reactors = 3    ; indented, with a comment\n"
	    "control_socket =\n"
	    "dam_whitelist = 5 ,7,  9\n"
	    "mdts_kib = 0\n"
	    "[pqm]\nserver_cpus = 1, 0\nbaseline_servers = 3\nbaseline_depth = 64\n"
	    "dam_cpus =\ndam_queues_per_cpu = 2\ndam_max_queues = 8\ndam_poll = no\n"
	    "[listener tcp]\r\n"
	    "address=127.0.0.1\r\n"
	    "tls = Yes\n"
	    "[backend big]\ntype = null\nsize = 2T\nblock_size = 4096\n"
	    "[backend r]\ntype = ram\nsize = 512m\nreadonly = on\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:big\nnamespace = 2:r\n"
	    "host = " HOST1 "\nhost = " HOST2 "\n");
	struct hnvmf_conf *c = load_ok("m.conf");
	assert_int_equal(c->reactors, 3);
	assert_string_equal(c->control_socket, "");
	assert_int_equal(c->ndam_whitelist, 3);
	assert_int_equal(c->dam_whitelist[0], 5);
	assert_int_equal(c->dam_whitelist[2], 9);
	assert_int_equal(c->mdts_kib, 0);
	assert_int_equal(c->pqm.nserver_cpus, 2);
	assert_int_equal(c->pqm.server_cpus[0], 1);
	assert_int_equal(c->pqm.server_cpus[1], 0);
	assert_int_equal(c->pqm.baseline_servers, 3);
	assert_int_equal(c->pqm.ndam_cpus, 0);
	assert_int_equal(c->pqm.dam_queues_per_cpu, 2);
	assert_int_equal(c->pqm.dam_max_queues, 8);
	assert_int_equal(c->pqm.dam_poll, HNVMF_CONF_POLL_NO);
	assert_int_equal(c->pqm.baseline_depth, 64);
	assert_true(c->listeners[0].tls);
	assert_int_equal(c->backends[0].size, 2ull << 40);
	assert_int_equal(c->backends[1].size, 512ull << 20);
	assert_true(c->backends[1].readonly);
	const struct hnvmf_conf_subsys *s = &c->subsystems[0];
	assert_int_equal(s->nhosts, 2);
	assert_false(s->allow_any_host);
	assert_true(hnvmf_conf_host_allowed(s, NULL, 0, HOST2));
	assert_false(hnvmf_conf_host_allowed(s, NULL, 0, "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-777777777777"));
	hnvmf_conf_free(c);
}

/* The longest legal NQN (223 bytes) fits, although inih's own line buffer is shorter. */
static void longest_nqn(void **state)
{
	(void)state;
	char nqn[224];
	int n = snprintf(nqn, sizeof(nqn), "nqn.2026-01.io.hnvmf:");
	memset(nqn + n, 'q', sizeof(nqn) - 1 - (size_t)n);
	nqn[223] = '\0';
	put("m.conf", 0644, "[listener tcp]\naddress = 127.0.0.1\n[backend r]\ntype = ram\nsize = 1M\n"
			    "[subsystem %s]\nnamespace = 1:r\nhost = %s\n", nqn, nqn);
	struct hnvmf_conf *c = load_ok("m.conf");
	assert_string_equal(c->subsystems[0].nqn, nqn);
	assert_string_equal(c->subsystems[0].hosts[0], nqn);
	hnvmf_conf_free(c);
}

/* tenants_dir, file backends and secret files are relative to the file that names them. */
/* [backend] type = rbd: its keys land in the model (ceph_conf resolved against the file's
 * directory, client defaulting to admin), and the rbd-only keys are refused on other types. */
static void rbd_backend(void **state)
{
	(void)state;
	sub("etc");
	put("etc/m.conf", 0644,
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[backend a]\ntype = rbd\nceph_conf = ceph.conf\npool = p1\nimage = img-a\n"
	    "[backend b]\ntype = rbd\nceph_conf = /etc/ceph/ceph.conf\nclient = gw1\npool = p2\nimage = img-b\n"
	    "rados_namespace = tenant-b\nrbd_timeout_s = 4\nsize = 1G\nreadonly = yes\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:a\nnamespace = 2:b\n");
	struct hnvmf_conf *c = load_ok("etc/m.conf");
	char want[512];
	snprintf(want, sizeof(want), "%s/etc/ceph.conf", dir);
	assert_int_equal(c->backends[0].type, HNVMF_CONF_BACKEND_RBD);
	assert_string_equal(c->backends[0].ceph_conf, want);
	assert_string_equal(c->backends[0].client, "admin");
	assert_string_equal(c->backends[0].pool, "p1");
	assert_string_equal(c->backends[0].image, "img-a");
	assert_string_equal(c->backends[0].rados_namespace, "");
	assert_int_equal(c->backends[0].rbd_timeout_s, 0);
	assert_int_equal(c->backends[0].size, 0); /* the image's own size */
	assert_string_equal(c->backends[1].client, "gw1");
	assert_string_equal(c->backends[1].rados_namespace, "tenant-b");
	assert_int_equal(c->backends[1].rbd_timeout_s, 4);
	assert_int_equal(c->backends[1].size, 1ull << 30);
	assert_true(c->backends[1].readonly);
	hnvmf_conf_free(c);

	put("etc/bad.conf", 0644,
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[backend a]\ntype = rbd\nceph_conf = ceph.conf\npool = p1\nimage = img-a\npath = /dev/null\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:a\n");
	load_bad("etc/bad.conf", "bad.conf:8: path: an rbd backend has no path");
	put("etc/bad2.conf", 0644,
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[backend a]\ntype = null\nsize = 1M\nimage = x\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:a\n");
	load_bad("etc/bad2.conf", "bad2.conf:6: image: only for type = rbd");
}

static void relative_paths(void **state)
{
	(void)state;
	sub("etc");
	sub("etc/tenants.d");
	sub("etc/tenants.d/keys");
	put("etc/disk.img", 0644, "%4096s", "");
	put("etc/m.conf", 0644,
	    "[global]\ntenants_dir = tenants.d\n"
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[backend disk]\ntype = file\npath = disk.img\ndirect = yes\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:disk\n");
	put("etc/tenants.d/t.conf", 0644,
	    "[tenant]\nhostnqn = " HOST1 "\nsubsystems = nqn.2026-01.io.hnvmf:a\nmode = dam\n"
	    "dhchap_secret = file:keys/host.key\n");
	put("etc/tenants.d/keys/host.key", 0600, KEY "\n");
	struct hnvmf_conf *c = load_ok("etc/m.conf");
	char want[512];
	snprintf(want, sizeof(want), "%s/etc/disk.img", dir);
	assert_string_equal(c->backends[0].path, want);
	assert_true(c->backends[0].direct);
	assert_int_equal(c->backends[0].size, 0); /* the file's own size */
	char *real = realpath(dir, NULL);
	snprintf(want, sizeof(want), "%s/etc/tenants.d", real);
	free(real);
	assert_string_equal(c->tenants_dir, want); /* absolute: SIGHUP does not depend on the cwd */
	assert_int_equal(c->ntenants, 1);
	assert_string_equal(c->tenants[0].dhchap_secret, KEY); /* newline stripped */
	assert_int_equal(c->tenants[0].mode, HNVMF_CONF_MODE_DAM);
	const struct hnvmf_conf_subsys *s = hnvmf_conf_find_subsys(c, "nqn.2026-01.io.hnvmf:a");
	assert_true(hnvmf_conf_host_allowed(s, c->tenants, c->ntenants, HOST1));
	assert_false(hnvmf_conf_host_allowed(s, c->tenants, c->ntenants, HOST2));
	hnvmf_conf_free(c);
}

/* A secret file that group or others may read, write or even execute is refused. */
static void secret_file_modes(void **state)
{
	(void)state;
	static const mode_t bad[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0666 };
	sub("t");
	put("m.conf", 0644, "[global]\ntenants_dir = t\n" MAIN_HEAD);
	put("t/x.conf", 0644, "[tenant]\nhostnqn = " HOST1 "\nsubsystems = nqn.2026-01.io.hnvmf:a\n"
			      "tls_psk = file:psk\n");
	put("t/psk", 0400, "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:");
	struct hnvmf_conf *c = load_ok("m.conf");
	assert_string_equal(c->tenants[0].tls_psk, "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:");
	hnvmf_conf_free(c);
	char path[512];
	snprintf(path, sizeof(path), "%s/t/psk", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		load_bad("m.conf", "x.conf:4: tls_psk: ");
		load_bad("m.conf", "accessible by group or others");
	}
	assert_int_equal(chmod(path, 0600), 0);
	put("t/psk", 0600, "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ\n"); /* no ':' */
	load_bad("m.conf", "x.conf:4: tls_psk: TLS PSK: missing the trailing ':'");
	assert_int_equal(unlink(path), 0);
	load_bad("m.conf", "x.conf:4: tls_psk: ");
	load_bad("m.conf", "No such file or directory");
}

/* Only *.conf, in byte order; hidden files and other names are ignored. */
static void tenant_file_selection(void **state)
{
	(void)state;
	sub("t");
	put("m.conf", 0644, "[global]\ntenants_dir = t\n" MAIN_HEAD);
	put("t/b.conf", 0644, "[tenant]\nhostnqn = " HOST2 "\nsubsystems = nqn.2026-01.io.hnvmf:b\n");
	put("t/a.conf", 0644, "[tenant]\nhostnqn = " HOST1 "\nsubsystems = nqn.2026-01.io.hnvmf:a\nmode = baseline\n");
	put("t/c.conf.bak", 0644, "garbage\n");
	put("t/.d.conf", 0644, "garbage\n");
	put("t/README", 0644, "garbage\n");
	struct hnvmf_conf *c = load_ok("m.conf");
	assert_int_equal(c->ntenants, 2);
	assert_string_equal(c->tenants[0].hostnqn, HOST1);
	assert_int_equal(c->tenants[0].mode, HNVMF_CONF_MODE_BASELINE);
	assert_string_equal(c->tenants[1].hostnqn, HOST2);
	assert_int_equal(c->tenants[1].mode, HNVMF_CONF_MODE_PQM); /* the default */
	assert_int_equal(c->tenants[1].dam_fallback, HNVMF_DAM_FALLBACK_PQM);
	assert_non_null(strstr(c->tenants[1].file, "/t/b.conf"));
	assert_ptr_equal(hnvmf_conf_find_tenant(c->tenants, c->ntenants, HOST2), &c->tenants[1]);
	assert_null(hnvmf_conf_find_tenant(c->tenants, c->ntenants, "nqn.2014-08.org.example:x"));
	/* a tenant only opens the subsystems it names */
	const struct hnvmf_conf_subsys *a = hnvmf_conf_find_subsys(c, "nqn.2026-01.io.hnvmf:a");
	assert_true(hnvmf_conf_host_allowed(a, c->tenants, c->ntenants, HOST1));
	assert_false(hnvmf_conf_host_allowed(a, c->tenants, c->ntenants, HOST2));
	hnvmf_conf_free(c);
}

/* SIGHUP: tenants are re-read against the configuration in force; a broken directory leaves
 * the caller's tenants untouched and says what is wrong. */
static void tenant_reload(void **state)
{
	(void)state;
	sub("t");
	put("m.conf", 0644, "[global]\ntenants_dir = t\nmax_io_queues = 16\n" MAIN_HEAD);
	put("t/a.conf", 0644, "[tenant]\nhostnqn = " HOST1 "\nsubsystems = nqn.2026-01.io.hnvmf:a\n");
	struct hnvmf_conf *c = load_ok("m.conf");
	assert_int_equal(c->ntenants, 1);
	assert_int_equal(c->tenants[0].max_queues, 16);

#define TENANT_B "[tenant]\nhostnqn = " HOST2 "\nsubsystems = nqn.2026-01.io.hnvmf:a, nqn.2026-01.io.hnvmf:b\n" \
		 "mode = dam\ndhchap_secret = " KEY "\ndam_fallback = refuse\nmax_queues = 12\n"              \
		 "permission_level = 3\nreserved_iops = 123456\n"
	struct hnvmf_conf_tenant *t = NULL;
	size_t n = 0;
	char err[512] = "";
	/* an inline secret makes the tenant file a secret file: owner-only */
	put("t/b.conf", 0644, TENANT_B);
	assert_int_equal(hnvmf_conf_load_tenants(c, &t, &n, err, sizeof(err)), -1);
	if (!strstr(err, "b.conf:5: dhchap_secret: the tenant file holds a secret and is accessible by group or others (mode 0644)"))
		fail_msg("%s", err);
	put("t/b.conf", 0600, TENANT_B);
#undef TENANT_B
	if (hnvmf_conf_load_tenants(c, &t, &n, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(n, 2);
	assert_int_equal(c->ntenants, 1); /* base untouched */
	assert_int_equal(t[1].mode, HNVMF_CONF_MODE_DAM);
	assert_int_equal(t[1].dam_fallback, HNVMF_DAM_FALLBACK_REFUSE);
	assert_int_equal(t[1].max_queues, 12);
	assert_int_equal(t[1].permission_level, 3);
	assert_int_equal(t[1].reserved_iops, 123456);
	assert_int_equal(t[1].nsubsystems, 2);
	assert_string_equal(t[1].subsystems[1], "nqn.2026-01.io.hnvmf:b");
	hnvmf_conf_free_tenants(t, n);

	/* a tenant naming a subsystem the configuration in force does not have */
	put("t/c.conf", 0644, "[tenant]\nhostnqn = nqn.2014-08.org.example:c\n\nsubsystems = nqn.2026-01.io.hnvmf:new\n");
	t = (void *)1;
	n = 99;
	assert_int_equal(hnvmf_conf_load_tenants(c, &t, &n, err, sizeof(err)), -1);
	assert_null(t);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "/t/c.conf:4: subsystems: unknown subsystem nqn.2026-01.io.hnvmf:new"));
	assert_int_equal(c->ntenants, 1);

	/* no tenants_dir: no tenants, no error */
	c->tenants_dir[0] = '\0';
	assert_int_equal(hnvmf_conf_load_tenants(c, &t, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	hnvmf_conf_free(c);
}

/* A missing file, a tiny or absent error buffer: refused cleanly, nothing overflows. */
static void error_plumbing(void **state)
{
	(void)state;
	struct hnvmf_conf *c = (void *)1;
	char err[512] = "";
	assert_int_equal(hnvmf_conf_load("/nonexistent/hnvmf.conf", &c, err, sizeof(err)), -1);
	assert_null(c);
	assert_string_equal(err, "/nonexistent/hnvmf.conf:0: cannot open: No such file or directory");
	put("m.conf", 0644, "[global]\nreactors = lots\n");
	char tiny[12];
	memset(tiny, 'z', sizeof(tiny));
	assert_int_equal(hnvmf_conf_load(dir, &c, tiny, 8), -1); /* a directory is no file */
	assert_int_equal(strlen(tiny), 7);
	assert_int_equal(tiny[8], 'z');
	char path[512];
	snprintf(path, sizeof(path), "%s/m.conf", dir);
	assert_int_equal(hnvmf_conf_load(path, &c, NULL, 0), -1);
	assert_int_equal(hnvmf_conf_load(path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "m.conf:2: reactors: 'lots' is not a number"));
}

/* The first mistake in the file is the one reported, even one found only at its end. */
static void first_error_wins(void **state)
{
	(void)state;
	put("m.conf", 0644,
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:later\nlisteners = nope\n"
	    "[backend later]\ntype = ram\nsize = 1M\n");
	load_bad("m.conf", "m.conf:5: listeners: unknown listener 'nope'");
	put("m.conf", 0644,
	    "[listener tcp]\naddress = 127.0.0.1\n"
	    "[subsystem nqn.2026-01.io.hnvmf:a]\nnamespace = 1:later\nlisteners = tcp\n"
	    "[backend later]\ntype = ram\nsize = 1M\n");
	struct hnvmf_conf *c = load_ok("m.conf"); /* a backend may be defined after its use */
	assert_string_equal(c->subsystems[0].listeners[0], "tcp");
	hnvmf_conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(embedded_default),
		cmocka_unit_test_setup_teardown(namespace_ids, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(syntax_forms, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(longest_nqn, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(relative_paths, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(rbd_backend, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(secret_file_modes, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(tenant_file_selection, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(tenant_reload, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(error_plumbing, make_dir, remove_dir),
		cmocka_unit_test_setup_teardown(first_error_wins, make_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
