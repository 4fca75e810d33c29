/* Tenant files: the files named *.conf in tenants_dir, read in name order, one [tenant] section each, one host NQN
 * per tenant. Read at start and again, alone, on SIGHUP (hnvmf_conf_load_tenants): a tenant's
 * references to subsystems are checked against the configuration in force. */
#include "conf/conf-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/keyfmt.h"

struct tenant_ctx {
	const struct hnvmf_conf *base;
	const char *file;
	char dir[4096];
	struct conf_err *err;
	struct hnvmf_conf_tenant *t; /* the one being read; NULL before its [tenant] header */
	int sect_line;
	struct conf_seen seen;
	char why[CONF_WHY_MAX];
	struct stat st;            /* the tenant file's */
	char inline_key[32];       /* the first secret given inline, checked at the section's end */
	int inline_line;
};

#define BAD(x, line, ...) conf_err_at((x)->err, (x)->file, (line), __VA_ARGS__)
#define BADV(x, line, key) BAD(x, line, "%s: %s", key, (x)->why)

static const struct conf_key tenant_keys[] = {
	{ "hostnqn", false },	      { "subsystems", false },	       { "mode", false },
	{ "permission_level", false }, { "reserved_iops", false },     { "max_queues", false },
	{ "dam_fallback", false },     { "dhchap_secret", false },      { "dhchap_ctrl_secret", false },
	{ "tls_psk", false },	      { "dhchap_hashes", false },      { "dhchap_dhgroups", false },
	{ "weight", false },	      { "max_iops", false },	       { "max_read_mbps", false },
	{ "max_write_mbps", false },   { "max_mbps", false },
	{ "latency_target_us", false }, { "key_grace_s", false },      { NULL, false },
};

void conf_list_tenant_keys(FILE *f)
{
	for (const struct conf_key *k = tenant_keys; k->name; k++)
		fprintf(f, "tenant %s\n", k->name);
}

/* A file holding a secret belongs to the daemon's user or root, and only its owner may reach it:
 * a secret another local user can read, or rewrite, is no secret. NULL, or what is wrong. */
static const char *secret_holder_problem(const struct stat *st, char *why, size_t len)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		snprintf(why, len, "owned by uid %u, neither the daemon's user (uid %u) nor root", (unsigned)st->st_uid,
			 (unsigned)geteuid());
	else if (st->st_mode & 077)
		snprintf(why, len, "accessible by group or others (mode %04o); chmod 600 it",
			 (unsigned)(st->st_mode & 07777));
	else
		return NULL;
	return why;
}

/* The directory holding the secret file: whoever may write it may replace the file. */
static bool dir_writable_by_others(const char *path, unsigned *mode)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0'; /* "/key" lives in "/" */
	struct stat st;
	if (stat(dir, &st) < 0)
		return false; /* the open just succeeded: a vanished directory is no writable one */
	*mode = (unsigned)(st.st_mode & 07777);
	return (st.st_mode & 022) != 0;
}

/* "file:PATH": the secret is the content of PATH (relative to the tenant file), a regular file
 * (not a symbolic link: a FIFO or device would block the loader, a link may point anywhere) that
 * passes secret_holder_problem, in a directory only its owner may write. One trailing newline
 * (or any trailing blanks) is not part of it. */
static int read_secret_file(struct tenant_ctx *x, const char *key, const char *ref, int line, char *out,
			    size_t outlen)
{
	char path[4096];
	if (conf_resolve_path(x->dir, ref, path, sizeof(path), x->why) < 0)
		return BADV(x, line, key);
	/* O_NONBLOCK: opening a FIFO without a writer must not wait for one. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP)
		return BAD(x, line, "%s: a symbolic link (name the file itself): %s", key, path);
	if (fd < 0)
		return BAD(x, line, "%s: %s: %s", key, path, strerror(errno));
	struct stat st;
	int r = 0;
	unsigned dmode = 0;
	if (fstat(fd, &st) < 0)
		r = BAD(x, line, "%s: %s: %s", key, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = BAD(x, line, "%s: not a regular file: %s", key, path);
	else if (secret_holder_problem(&st, x->why, sizeof(x->why)))
		r = BAD(x, line, "%s: %s: %s", key, x->why, path);
	else if (dir_writable_by_others(path, &dmode))
		r = BAD(x, line, "%s: in a directory that group or others may write (mode %04o), where the secret could be replaced: %s",
			key, dmode, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	ssize_t n = read(fd, out, outlen);
	int saved = errno;
	close(fd);
	if (n < 0)
		return BAD(x, line, "%s: %s: %s", key, path, strerror(saved));
	if ((size_t)n == outlen) {
		OPENSSL_cleanse(out, outlen);
		return BAD(x, line, "%s: %s is too large for a secret", key, path);
	}
	while (n > 0 && strchr("\r\n\t ", out[n - 1]))
		n--;
	out[n] = '\0';
	return 0;
}

static int secret_key(struct tenant_ctx *x, const char *k, const char *v, int line, char *dst, size_t n)
{
	char buf[512];
	int r = 0;
	if (strncmp(v, "file:", 5) == 0) {
		r = read_secret_file(x, k, v + 5, line, buf, sizeof(buf));
	} else {
		snprintf(buf, sizeof(buf), "%s", v);
		if (!x->inline_key[0]) {
			snprintf(x->inline_key, sizeof(x->inline_key), "%s", k);
			x->inline_line = line;
		}
	}
	if (r < 0)
		return r;
	struct hnvmf_key key;
	char why[128];
	bool tls = strcmp(k, "tls_psk") == 0;
	if ((tls ? hnvmf_tls_key_parse(buf, &key, why, sizeof(why)) :
		   hnvmf_dhchap_key_parse(buf, &key, why, sizeof(why))) < 0)
		r = BAD(x, line, "%s: %s", k, why);
	else if (conf_copy(dst, n, buf, x->why) < 0)
		r = BADV(x, line, k);
	hnvmf_key_wipe(&key);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

static int subsystems_key(struct tenant_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_tenant *t = x->t;
	size_t cap = 1;
	for (const char *p = v; *p; p++)
		cap += *p == ',';
	char *buf = strdup(v);
	char **items = calloc(cap, sizeof(*items));
	int r = 0;
	if (!buf || !items) {
		r = BAD(x, line, "out of memory");
		goto out;
	}
	int n = conf_split_list(buf, items, (int)cap);
	if (n <= 0) {
		r = BAD(x, line, "subsystems: expected nqn[, nqn...]");
		goto out;
	}
	t->subsystems = calloc((size_t)n, sizeof(*t->subsystems));
	if (!t->subsystems) {
		r = BAD(x, line, "out of memory");
		goto out;
	}
	for (int i = 0; i < n && r == 0; i++) {
		if (conf_check_nqn(items[i], x->why) < 0)
			r = BADV(x, line, "subsystems");
		for (int j = 0; j < i && r == 0; j++)
			if (strcmp(items[i], items[j]) == 0)
				r = BAD(x, line, "subsystems: %s is listed twice", items[i]);
		if (r == 0)
			snprintf(t->subsystems[t->nsubsystems++], HNVMF_NQN_MAX, "%s", items[i]);
	}
out:
	free(buf);
	free(items);
	return r;
}

/* "a, b, c" of names[] into a bit mask: bit (index + first_id) per name. */
static int id_list_key(struct tenant_ctx *x, const char *k, const char *v, int line,
		       const char *const *names, int first_id, uint8_t *mask)
{
	char buf[256], *items[8];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, k);
	int n = conf_split_list(buf, items, 8);
	if (n <= 0)
		return BAD(x, line, "%s: expected a comma-separated list", k);
	*mask = 0;
	for (int j = 0; j < n; j++) {
		int i;
		if (conf_parse_enum(items[j], names, &i, x->why) < 0)
			return BADV(x, line, k);
		*mask |= (uint8_t)(1u << (i + first_id));
	}
	return 0;
}

static int tenant_key(void *user, const char *k, const char *v, int line)
{
	struct tenant_ctx *x = user;
	struct hnvmf_conf_tenant *t = x->t;
	if (conf_key_accept(tenant_keys, &x->seen, "tenant", k, x->file, line, x->err) < 0)
		return -1;
	if (!*v)
		return BAD(x, line, "%s: empty value", k);
	uint64_t u;
	int64_t s;
	int i;
	if (strcmp(k, "hostnqn") == 0) {
		if (conf_check_nqn(v, x->why) < 0)
			return BADV(x, line, k);
		snprintf(t->hostnqn, sizeof(t->hostnqn), "%s", v);
		return 0;
	}
	if (strcmp(k, "subsystems") == 0)
		return subsystems_key(x, v, line);
	if (strcmp(k, "mode") == 0) {
		static const char *const names[] = { "pqm", "dam", "baseline", NULL };
		static const enum hnvmf_conf_mode modes[] = { HNVMF_CONF_MODE_PQM, HNVMF_CONF_MODE_DAM,
							      HNVMF_CONF_MODE_BASELINE };
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		t->mode = modes[i];
		return 0;
	}
	if (strcmp(k, "permission_level") == 0) {
		if (conf_parse_int(v, 0, INT_MAX, &s, x->why) < 0)
			return BADV(x, line, k);
		t->permission_level = (int)s;
		return 0;
	}
	if (strcmp(k, "reserved_iops") == 0) {
		if (conf_parse_uint(v, 0, 1000000000000ull, &u, x->why) < 0)
			return BADV(x, line, k);
		t->reserved_iops = u;
		return 0;
	}
	if (strcmp(k, "weight") == 0) {
		if (conf_parse_uint(v, 1, 1000, &u, x->why) < 0)
			return BADV(x, line, k);
		t->weight = (unsigned)u;
		return 0;
	}
	/* Limits: 0 = none; bounded so that a rate in bytes per second fits 64 bits. */
	uint64_t *limit = strcmp(k, "max_iops") == 0	   ? &t->max_iops
			  : strcmp(k, "max_read_mbps") == 0  ? &t->max_read_mbps
			  : strcmp(k, "max_write_mbps") == 0 ? &t->max_write_mbps
			  : strcmp(k, "max_mbps") == 0	   ? &t->max_mbps
							   : NULL;
	if (limit) {
		if (conf_parse_uint(v, 0, limit == &t->max_iops ? 1000000000000ull : 1000000000ull, &u, x->why) < 0)
			return BADV(x, line, k);
		*limit = u;
		return 0;
	}
	if (strcmp(k, "latency_target_us") == 0) { /* a p99 goal: 1 µs .. 1 hour */
		if (conf_parse_uint(v, 1, 3600000000ull, &u, x->why) < 0)
			return BADV(x, line, k);
		t->latency_target_us = u;
		return 0;
	}
	if (strcmp(k, "key_grace_s") == 0) {
		if (conf_parse_uint(v, 0, HNVMF_CONF_MAX_KEY_GRACE_S, &u, x->why) < 0)
			return BADV(x, line, k);
		t->key_grace_s = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "max_queues") == 0) {
		if (conf_parse_uint(v, 1, x->base->max_io_queues, &u, x->why) < 0)
			return BAD(x, line, "max_queues: %s (max_io_queues is %u)", x->why, x->base->max_io_queues);
		t->max_queues = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "dam_fallback") == 0) {
		static const char *const names[] = { "pqm", "refuse", NULL };
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		t->dam_fallback = i == 0 ? HNVMF_DAM_FALLBACK_PQM : HNVMF_DAM_FALLBACK_REFUSE;
		return 0;
	}
	if (strcmp(k, "dhchap_hashes") == 0) {
		static const char *const names[] = { "sha256", "sha384", "sha512", NULL };
		return id_list_key(x, k, v, line, names, 1, &t->dhchap_hashes);
	}
	if (strcmp(k, "dhchap_dhgroups") == 0) {
		static const char *const names[] = { "null", "ffdhe2048", "ffdhe3072", "ffdhe4096",
						     "ffdhe6144", "ffdhe8192", NULL };
		return id_list_key(x, k, v, line, names, 0, &t->dhchap_dhgroups);
	}
	if (strcmp(k, "dhchap_secret") == 0)
		return secret_key(x, k, v, line, t->dhchap_secret, sizeof(t->dhchap_secret));
	if (strcmp(k, "dhchap_ctrl_secret") == 0)
		return secret_key(x, k, v, line, t->dhchap_ctrl_secret, sizeof(t->dhchap_ctrl_secret));
	return secret_key(x, k, v, line, t->tls_psk, sizeof(t->tls_psk));
}

static int tenant_begin(void *user, const char *kind, const char *name, int line)
{
	struct tenant_ctx *x = user;
	if (strcmp(kind, "tenant") != 0)
		return BAD(x, line, "unknown section [%s] (a tenant file holds one [tenant])", kind);
	if (*name)
		return BAD(x, line, "[tenant] takes no name");
	if (x->sect_line)
		return BAD(x, line, "a second [tenant] (first at line %d): one tenant per file", x->sect_line);
	x->sect_line = line;
	return 0;
}

static int tenant_end(void *user)
{
	struct tenant_ctx *x = user;
	struct hnvmf_conf_tenant *t = x->t;
	if (!t->hostnqn[0])
		return BAD(x, x->sect_line, "[tenant] needs 'hostnqn'");
	int subs_line = conf_seen_line(&x->seen, "subsystems");
	if (!subs_line)
		return BAD(x, x->sect_line, "[tenant] needs 'subsystems'");
	for (size_t i = 0; i < t->nsubsystems; i++)
		if (!hnvmf_conf_find_subsys(x->base, t->subsystems[i]))
			return BAD(x, subs_line, "subsystems: unknown subsystem %s", t->subsystems[i]);
	if (t->dhchap_ctrl_secret[0] && !t->dhchap_secret[0])
		return BAD(x, conf_seen_line(&x->seen, "dhchap_ctrl_secret"),
			   "dhchap_ctrl_secret: bidirectional authentication needs dhchap_secret too");
	/* DAM hands a tenant a queue pair of its own: only an authenticated host may have one. */
	if (t->mode == HNVMF_CONF_MODE_DAM && !t->dhchap_secret[0] && !t->tls_psk[0])
		return BAD(x, conf_seen_line(&x->seen, "mode"),
			   "mode = dam needs dhchap_secret or tls_psk (DAM is only for authenticated hosts)");
	if (!t->max_queues)
		t->max_queues = x->base->max_io_queues;
	/* An inline secret makes the tenant file a secret file (checked last, so that the other
	 * mistakes of the section are reported as such). */
	if (x->inline_key[0] && secret_holder_problem(&x->st, x->why, sizeof(x->why)))
		return BAD(x, x->inline_line, "%s: the tenant file holds a secret and is %s, or use file:", x->inline_key,
			   x->why);
	return 0;
}

static const struct conf_ini_ops tenant_ops = { tenant_begin, tenant_end, tenant_key };

static bool is_tenant_file(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The tenant file names in dir, sorted bytewise (not by locale: the order must not change with
 * the environment). */
static int list_tenant_files(const char *dir, char ***names, size_t *n, struct conf_err *err)
{
	DIR *d = opendir(dir);
	*names = NULL;
	*n = 0;
	if (!d)
		return conf_err_at(err, dir, 0, "cannot read tenants_dir: %s", strerror(errno));
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (!is_tenant_file(e->d_name))
			continue;
		char **slot = conf_grow(names, n, sizeof(char *));
		if (!slot || !(*slot = strdup(e->d_name))) {
			if (slot)
				(*n)--;
			r = conf_err_at(err, dir, 0, "out of memory");
		}
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(char *), cmp_names);
	return r;
}

int hnvmf_conf_load_tenants(const struct hnvmf_conf *base, struct hnvmf_conf_tenant **tenants,
			    size_t *ntenants, char *errbuf, size_t errlen)
{
	struct conf_err err = { .buf = errbuf, .len = errlen };
	struct hnvmf_conf_tenant *arr = NULL;
	size_t n = 0;
	char **names = NULL;
	size_t nnames = 0;
	int *host_line = NULL; /* line of each tenant's hostnqn, for the duplicate message */
	int r = 0;

	*tenants = NULL;
	*ntenants = 0;
	if (!base->tenants_dir[0])
		return 0;
	r = list_tenant_files(base->tenants_dir, &names, &nnames, &err);
	if (r == 0 && nnames && !(host_line = calloc(nnames, sizeof(int))))
		r = conf_err_at(&err, base->tenants_dir, 0, "out of memory");
	for (size_t i = 0; r == 0 && i < nnames; i++) {
		struct tenant_ctx x = { .base = base, .err = &err };
		char path[sizeof(arr->file)];
		int pl = snprintf(path, sizeof(path), "%s/%s", base->tenants_dir, names[i]);
		if (pl < 0 || (size_t)pl >= sizeof(path)) {
			r = conf_err_at(&err, names[i], 0, "tenant file path too long");
			break;
		}
		x.file = path;
		snprintf(x.dir, sizeof(x.dir), "%s", base->tenants_dir);
		/* A FIFO named *.conf would block the loader (and with it --check or a reload). */
		if (stat(path, &x.st) < 0 || !S_ISREG(x.st.st_mode)) {
			r = conf_err_at(&err, path, 0, "not a regular file");
			break;
		}
		x.t = conf_grow(&arr, &n, sizeof(*arr));
		if (!x.t) {
			r = conf_err_at(&err, path, 0, "out of memory");
			break;
		}
		memcpy(x.t->file, path, sizeof(path));
		x.t->mode = HNVMF_CONF_MODE_PQM;
		x.t->dam_fallback = HNVMF_DAM_FALLBACK_PQM;
		x.t->weight = 1;
		x.t->key_grace_s = base->key_grace_s;
		int nlines = 0;
		r = conf_ini_parse(path, &tenant_ops, &x, &err, &nlines);
		if (r == 0 && !x.sect_line)
			r = conf_err_at(&err, path, nlines > 0 ? nlines : 1, "no [tenant] section");
		if (r < 0)
			break;
		host_line[i] = conf_seen_line(&x.seen, "hostnqn");
		for (size_t j = 0; j + 1 < n; j++)
			if (strcmp(arr[j].hostnqn, x.t->hostnqn) == 0) {
				/* Both files are in tenants_dir: the other's name says enough. */
				r = conf_err_at(&err, path, host_line[i], "hostnqn %s already has a tenant file: %s:%d",
						x.t->hostnqn, names[j], host_line[j]);
				break;
			}
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(host_line);
	if (r < 0) {
		hnvmf_conf_free_tenants(arr, n);
		return -1;
	}
	*tenants = arr;
	*ntenants = n;
	return 0;
}
