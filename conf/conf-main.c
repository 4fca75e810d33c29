/* The main configuration file: [global], [pqm], [limits], [listener NAME], [backend NAME],
 * [subsystem NQN], [metrics]. Keys are checked as they come; a section is checked as a whole when it ends;
 * references between sections (namespace -> backend, subsystem -> listener) and identifier
 * uniqueness are checked at the end of the file, reporting the line of the referencing key. */
#include "conf/conf-internal.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

enum sect { S_GLOBAL, S_PQM, S_LIMITS, S_LISTENER, S_BACKEND, S_SUBSYS, S_METRICS, S_GATEWAY };
static const char *const sect_names[] = { "global", "pqm", "limits", "listener", "backend", "subsystem", "metrics", "gateway", NULL };

/* A reference checked at the end of the file. */
struct ref {
	enum { REF_NS, REF_LISTENER } kind;
	int line;
	size_t subsys, idx; /* subsystem, and its namespace or listener index */
};

struct main_ctx {
	struct hnvmf_conf *c;
	const char *file;
	char dir[4096];
	struct conf_err *err;
	enum sect sect;
	int sect_line;
	struct conf_seen seen;
	int global_line, pqm_line, limits_line, metrics_line, gateway_line;
	int mdts_line; /* where mdts_kib was set, for the check against conn_buffer_mib */
	int cntlid_line; /* the later of cntlid_min / cntlid_max, for the check of the range */
	/* header lines, parallel to c->listeners / backends / subsystems */
	int *listener_line, *backend_line, *subsys_line;
	size_t nll, nbl, nsl;
	struct ref *refs;
	size_t nrefs;
	char why[CONF_WHY_MAX];
};

#define BAD(ctx, line, ...) conf_err_at((ctx)->err, (ctx)->file, (line), __VA_ARGS__)
/* "key: why" for a value a parser refused */
#define BADV(ctx, line, key) BAD(ctx, line, "%s: %s", key, (ctx)->why)

static int uint_key(struct main_ctx *x, const char *key, const char *v, int line, uint64_t min,
		    uint64_t max, unsigned *out)
{
	uint64_t u;
	if (conf_parse_uint(v, min, max, &u, x->why) < 0)
		return BADV(x, line, key);
	*out = (unsigned)u;
	return 0;
}

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int addr_port(struct main_ctx *x, const char *key, const char *v, int line, char *addr_out,
		     size_t addr_len, uint16_t *port_out);
static bool same_addr(const char *a, const char *b);

/* ---------------------------------------------------------------- [global] */

static const struct conf_key global_keys[] = {
	{ "log_level", false },	     { "reactors", false },	    { "default_mode", false },
	{ "queue_depth", false },     { "max_io_queues", false },    { "inline_data_size", false },
	{ "mdts_kib", false },	     { "kato_default_ms", false },  { "dam_whitelist", false },
	{ "tenants_dir", false },     { "control_socket", false },   { "key_grace_s", false },
	{ "idle_spin_us", false },    { "control_socket_group", false },
	{ "cntlid_min", false },      { "cntlid_max", false },       { "anatt", false },
	{ "referral", true },
	{ NULL, false },
};

static int set_tenants_dir(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf *c = x->c;
	c->tenants_dir[0] = '\0';
	if (!*v)
		return 0;
	char path[4096];
	if (conf_resolve_path(x->dir, v, path, sizeof(path), x->why) < 0)
		return BADV(x, line, "tenants_dir");
	struct stat st;
	if (stat(path, &st) < 0)
		return BAD(x, line, "tenants_dir: %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return BAD(x, line, "tenants_dir: %s is not a directory", path);
	/* Absolute, so a SIGHUP reload reads the same directory whatever the working directory. */
	char *abs = realpath(path, NULL);
	if (!abs)
		return BAD(x, line, "tenants_dir: %s: %s", path, strerror(errno));
	int r = conf_copy(c->tenants_dir, sizeof(c->tenants_dir), abs, x->why);
	free(abs);
	return r < 0 ? BADV(x, line, "tenants_dir") : 0;
}

static int set_dam_whitelist(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf *c = x->c;
	char buf[1024];
	char *items[64];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, "dam_whitelist");
	int n = conf_split_list(buf, items, 64);
	if (n < 0)
		return BAD(x, line, "dam_whitelist: empty item or more than 64 levels");
	free(c->dam_whitelist);
	c->dam_whitelist = NULL;
	c->ndam_whitelist = 0;
	if (n == 0)
		return 0;
	c->dam_whitelist = calloc((size_t)n, sizeof(int));
	if (!c->dam_whitelist)
		return BAD(x, line, "out of memory");
	for (int i = 0; i < n; i++) {
		int64_t lvl;
		if (conf_parse_int(items[i], 0, INT_MAX, &lvl, x->why) < 0)
			return BADV(x, line, "dam_whitelist");
		c->dam_whitelist[c->ndam_whitelist++] = (int)lvl;
	}
	return 0;
}

/* referral = ADDRESS:PORT: a peer gateway's NVMe/TCP discovery service (docs/ana.md). */
static int referral_key(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf *c = x->c;
	struct hnvmf_conf_listener r = { .trtype = HNVMF_TRTYPE_TCP, .discovery = true };
	if (addr_port(x, "referral", v, line, r.addr, sizeof(r.addr), &r.port) < 0)
		return -1;
	if (c->nreferrals >= HNVMF_CONF_MAX_REFERRALS)
		return BAD(x, line, "referral: more than %d", HNVMF_CONF_MAX_REFERRALS);
	for (size_t i = 0; i < c->nreferrals; i++)
		if (c->referrals[i].port == r.port && same_addr(c->referrals[i].addr, r.addr))
			return BAD(x, line, "referral: %s is listed twice", v);
	struct hnvmf_conf_listener *slot = conf_grow(&c->referrals, &c->nreferrals, sizeof(*slot));
	if (!slot)
		return BAD(x, line, "out of memory");
	*slot = r;
	return 0;
}

static int global_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf *c = x->c;
	if (strcmp(k, "log_level") == 0) {
		int l = hnvmf_log_level_parse(v);
		if (l < 0)
			return BAD(x, line, "log_level: '%s' is not one of: err, warn, notice, info, debug", v);
		c->log_level = l;
		return 0;
	}
	if (strcmp(k, "reactors") == 0)
		return uint_key(x, k, v, line, 1, 128, &c->reactors);
	if (strcmp(k, "default_mode") == 0) {
		static const char *const names[] = { "pqm", "baseline", "direct", NULL };
		static const enum hnvmf_conf_mode modes[] = { HNVMF_CONF_MODE_PQM,
							       HNVMF_CONF_MODE_BASELINE,
							       HNVMF_CONF_MODE_DIRECT };
		int i;
		if (strcmp(v, "dam") == 0)
			return BAD(x, line, "default_mode: dam is granted per tenant (mode = dam in a tenant file)");
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		c->default_mode = modes[i];
		return 0;
	}
	if (strcmp(k, "queue_depth") == 0) /* CAP.MQES is 16 bits and 0's based */
		return uint_key(x, k, v, line, 2, 65536, &c->queue_depth);
	if (strcmp(k, "max_io_queues") == 0)
		return uint_key(x, k, v, line, 1, HNVMF_CONF_MAX_IO_QUEUES, &c->max_io_queues);
	if (strcmp(k, "inline_data_size") == 0) {
		/* IOCCSZ counts 16-byte units */
		if (uint_key(x, k, v, line, 0, 131072, &c->inline_data_size) < 0)
			return -1;
		if (c->inline_data_size % 16)
			return BAD(x, line, "inline_data_size: %u is not a multiple of 16", c->inline_data_size);
		return 0;
	}
	if (strcmp(k, "mdts_kib") == 0) {
		x->mdts_line = line;
		/* MDTS is a power of two in units of the 4 KiB minimum page size */
		if (uint_key(x, k, v, line, 0, 65536, &c->mdts_kib) < 0)
			return -1;
		if (c->mdts_kib && (c->mdts_kib < 4 || !is_pow2(c->mdts_kib)))
			return BAD(x, line, "mdts_kib: %u is not 0 or a power of two of at least 4", c->mdts_kib);
		return 0;
	}
	if (strcmp(k, "kato_default_ms") == 0)
		return uint_key(x, k, v, line, 0, 3600000, &c->kato_default_ms);
	if (strcmp(k, "idle_spin_us") == 0)
		return uint_key(x, k, v, line, 0, 100000, &c->idle_spin_us);
	if (strcmp(k, "dam_whitelist") == 0)
		return set_dam_whitelist(x, v, line);
	if (strcmp(k, "key_grace_s") == 0)
		return uint_key(x, k, v, line, 0, HNVMF_CONF_MAX_KEY_GRACE_S, &c->key_grace_s);
	if (strcmp(k, "tenants_dir") == 0)
		return set_tenants_dir(x, v, line);
	if (strcmp(k, "cntlid_min") == 0 || strcmp(k, "cntlid_max") == 0) {
		x->cntlid_line = line;
		return uint_key(x, k, v, line, 1, HNVMF_CONF_CNTLID_MAX,
				strcmp(k, "cntlid_min") == 0 ? &c->cntlid_min : &c->cntlid_max);
	}
	if (strcmp(k, "anatt") == 0) /* Identify ANATT is one byte of seconds; 0 is not a time */
		return uint_key(x, k, v, line, 1, 255, &c->anatt);
	if (strcmp(k, "referral") == 0)
		return referral_key(x, v, line);
	if (strcmp(k, "control_socket_group") == 0) {
		/* checked now, so that a typo is refused with its line rather than at bind */
		if (!getgrnam(v))
			return BAD(x, line, "control_socket_group: no group '%s' on this system", v);
		if (conf_copy(c->control_socket_group, sizeof(c->control_socket_group), v, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	/* control_socket */
	if (*v && v[0] != '/')
		return BAD(x, line, "control_socket: '%s' is not an absolute path", v);
	if (conf_copy(c->control_socket, sizeof(c->control_socket), v, x->why) < 0)
		return BADV(x, line, k);
	return 0;
}

/* ---------------------------------------------------------------- [pqm] */

static const struct conf_key pqm_keys[] = {
	{ "cmax", false },	 { "epoch_ms", false },		{ "subqueue_depth", false },
	{ "server_cpus", false }, { "baseline_servers", false }, { "baseline_depth", false },
	{ "fair", false },	 { "dam_cpus", false },		{ "dam_queues_per_cpu", false },
	{ "dam_max_queues", false }, { "dam_idle_spin_us", false }, { "dam_poll", false },
	{ NULL, false },
};

/* server_cpus, dam_cpus: "1,3" or "" (none): CPU numbers this machine has, each at most once. */
static int set_cpu_list(struct main_ctx *x, const char *key, const char *v, int line, int *cpus, unsigned *ncpus)
{
	char buf[1024];
	char *items[HNVMF_CONF_MAX_SERVER_CPUS];
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, key);
	int n = conf_split_list(buf, items, HNVMF_CONF_MAX_SERVER_CPUS);
	if (n < 0)
		return BAD(x, line, "%s: empty item or more than %d CPUs", key, HNVMF_CONF_MAX_SERVER_CPUS);
	*ncpus = 0;
	for (int i = 0; i < n; i++) {
		uint64_t cpu;
		if (conf_parse_uint(items[i], 0, CPU_SETSIZE - 1, &cpu, x->why) < 0)
			return BADV(x, line, key);
		if (ncpu > 0 && cpu >= (uint64_t)ncpu)
			return BAD(x, line, "%s: CPU %" PRIu64 " does not exist (this machine has %ld)", key, cpu, ncpu);
		for (unsigned k = 0; k < *ncpus; k++)
			if (cpus[k] == (int)cpu)
				return BAD(x, line, "%s: CPU %" PRIu64 " listed twice", key, cpu);
		cpus[(*ncpus)++] = (int)cpu;
	}
	return 0;
}

/* dam_cpus are reserved for DAM: no other I/O server may be placed there, and a capacity of
 * dam_max_queues only stands in for reserved CPUs (docs/dam.md). */
static int pqm_end(struct main_ctx *x)
{
	struct hnvmf_conf_pqm *p = &x->c->pqm;
	int dam_line = conf_seen_line(&x->seen, "dam_cpus");
	for (unsigned i = 0; i < p->ndam_cpus; i++)
		for (unsigned k = 0; k < p->nserver_cpus; k++)
			if (p->dam_cpus[i] == p->server_cpus[k])
				return BAD(x, dam_line,
					   "dam_cpus: CPU %d is also in server_cpus (line %d); a reserved DAM CPU runs nothing else",
					   p->dam_cpus[i], conf_seen_line(&x->seen, "server_cpus"));
	if (p->ndam_cpus && conf_seen_line(&x->seen, "dam_max_queues"))
		return BAD(x, conf_seen_line(&x->seen, "dam_max_queues"),
			   "dam_max_queues: only with an empty dam_cpus (with reserved CPUs the capacity is dam_cpus x dam_queues_per_cpu)");
	return 0;
}

static int pqm_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf_pqm *p = &x->c->pqm;
	if (strcmp(k, "cmax") == 0)
		return uint_key(x, k, v, line, 1, HNVMF_CONF_PQM_CMAX_MAX, &p->cmax);
	if (strcmp(k, "epoch_ms") == 0)
		return uint_key(x, k, v, line, 1, 60000, &p->epoch_ms);
	if (strcmp(k, "server_cpus") == 0)
		return set_cpu_list(x, k, v, line, p->server_cpus, &p->nserver_cpus);
	if (strcmp(k, "dam_cpus") == 0)
		return set_cpu_list(x, k, v, line, p->dam_cpus, &p->ndam_cpus);
	if (strcmp(k, "dam_queues_per_cpu") == 0)
		return uint_key(x, k, v, line, 1, 1024, &p->dam_queues_per_cpu);
	if (strcmp(k, "dam_max_queues") == 0)
		return uint_key(x, k, v, line, 0, 65536, &p->dam_max_queues);
	if (strcmp(k, "dam_idle_spin_us") == 0)
		return uint_key(x, k, v, line, 0, 1000000, &p->dam_idle_spin_us);
	if (strcmp(k, "dam_poll") == 0) {
		static const char *const names[] = { "no", "auto", "yes", NULL };
		static const enum hnvmf_conf_poll polls[] = { HNVMF_CONF_POLL_NO, HNVMF_CONF_POLL_AUTO,
							       HNVMF_CONF_POLL_YES };
		int i;
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		p->dam_poll = polls[i];
		return 0;
	}
	if (strcmp(k, "baseline_servers") == 0)
		return uint_key(x, k, v, line, 0, 64, &p->baseline_servers);
	if (strcmp(k, "baseline_depth") == 0) /* io_uring's largest ring */
		return uint_key(x, k, v, line, 0, 32768, &p->baseline_depth);
	if (strcmp(k, "fair") == 0)
		return conf_parse_bool(v, &p->fair, x->why) < 0 ? BADV(x, line, k) : 0;
	if (uint_key(x, k, v, line, 2, 65536, &p->subqueue_depth) < 0)
		return -1;
	if (!is_pow2(p->subqueue_depth))
		return BAD(x, line, "subqueue_depth: %u is not a power of two", p->subqueue_depth);
	return 0;
}

/* ---------------------------------------------------------------- [limits] */

/* Each key with its bounds: a limit of 0 would lock every host out, a timeout of 0 would never
 * fire or fire at once, so neither is accepted. One list makes both tables below. */
#define LIMIT_KEYS(X)                              \
	X(max_connections, 1, 1048576)             \
	X(max_connections_per_address, 1, 1048576) \
	X(icreq_timeout_ms, 100, 600000)           \
	X(connect_timeout_ms, 100, 600000)         \
	X(auth_timeout_ms, 100, 600000)            \
	X(pdu_timeout_ms, 100, 600000)             \
	X(conn_buffer_mib, 1, 65536)               \
	X(buffer_mib, 1, 1048576)                  \
	X(max_controllers_per_host, 1, 65535)      \
	X(max_queues_per_host, 2, 1048576)         \
	X(auth_workers, 1, 64)                     \
	X(auth_max_failures, 1, 1000000)           \
	X(auth_backoff_ms, 1, 3600000)             \
	X(control_timeout_ms, 100, 600000)

static const struct limit_key {
	const char *key;
	size_t off;
	unsigned min, max;
} limit_table[] = {
#define LIMIT_ROW(k, lo, hi) { #k, offsetof(struct hnvmf_conf_limits, k), lo, hi },
	LIMIT_KEYS(LIMIT_ROW)
#undef LIMIT_ROW
};

static const struct conf_key limits_keys[] = {
#define LIMIT_NAME(k, lo, hi) { #k, false },
	LIMIT_KEYS(LIMIT_NAME)
#undef LIMIT_NAME
	{ NULL, false },
};

static int limits_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	for (size_t i = 0; i < sizeof(limit_table) / sizeof(limit_table[0]); i++) {
		const struct limit_key *lk = &limit_table[i];
		if (strcmp(k, lk->key) == 0)
			return uint_key(x, k, v, line, lk->min, lk->max,
					(unsigned *)((char *)&x->c->limits + lk->off));
	}
	return BAD(x, line, "%s: unknown key", k); /* conf_key_accept refuses it first */
}

/* Limits that only make sense together, checked when the section ends. */
static int limits_end(struct main_ctx *x)
{
	const struct hnvmf_conf_limits *l = &x->c->limits;
	if (l->max_connections_per_address > l->max_connections)
		return BAD(x, x->sect_line, "[limits]: max_connections_per_address (%u) exceeds max_connections (%u)",
			   l->max_connections_per_address, l->max_connections);
	if (l->conn_buffer_mib > l->buffer_mib)
		return BAD(x, x->sect_line, "[limits]: conn_buffer_mib (%u) exceeds buffer_mib (%u)",
			   l->conn_buffer_mib, l->buffer_mib);
	if (l->max_queues_per_host < l->max_controllers_per_host)
		return BAD(x, x->sect_line, "[limits]: max_queues_per_host (%u) is below max_controllers_per_host (%u): every controller has an admin queue",
			   l->max_queues_per_host, l->max_controllers_per_host);
	return 0;
}

/* ---------------------------------------------------------------- [metrics] */

static const struct conf_key metrics_keys[] = { { "listen", false }, { "sla_epoch_ms", false }, { NULL, false } };

/* ADDRESS:PORT, an IPv6 address in brackets ([::1]:9464), into addr and *port. */
static int addr_port(struct main_ctx *x, const char *key, const char *v, int line, char *addr_out,
		     size_t addr_len, uint16_t *port_out)
{
	char buf[80];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, key);
	char *colon = strrchr(buf, ':'), *addr = buf;
	if (!colon || colon == buf)
		return BAD(x, line, "%s: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)", key, v);
	*colon = '\0';
	if (*addr == '[') {
		size_t n = strlen(addr);
		if (n < 3 || addr[n - 1] != ']')
			return BAD(x, line, "%s: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464 or [::1]:9464)", key, v);
		addr[n - 1] = '\0';
		addr++;
	}
	uint64_t port;
	if (conf_parse_addr(addr, x->why) < 0 || conf_copy(addr_out, addr_len, addr, x->why) < 0)
		return BADV(x, line, key);
	if (conf_parse_uint(colon + 1, 1, 65535, &port, x->why) < 0)
		return BAD(x, line, "%s: port: %s", key, x->why);
	*port_out = (uint16_t)port;
	return 0;
}

/* listen = ADDRESS:PORT; empty: no endpoint. */
static int metrics_listen(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_metrics *m = &x->c->metrics;
	if (!*v) {
		m->addr[0] = '\0';
		return 0;
	}
	return addr_port(x, "listen", v, line, m->addr, sizeof(m->addr), &m->port);
}

static int metrics_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	if (strcmp(k, "listen") == 0)
		return metrics_listen(x, v, line);
	return uint_key(x, k, v, line, 100, 3600000, &x->c->metrics.sla_epoch_ms);
}

/* ---------------------------------------------------------------- [gateway] */

static const struct conf_key gateway_keys[] = {
	{ "group", false },	   { "name", false },	      { "ceph_conf", false },
	{ "client", false },	   { "pool", false },	      { "lease_ms", false },
	{ "blocklist_s", false },  { "preferred_ana_groups", false }, { "failback", false },
	{ "standby_state", false }, { NULL, false },
};

/* "1, 3": ANA group IDs */
static int ana_group_list(struct main_ctx *x, const char *k, const char *v, int line, uint32_t *out,
			  unsigned *n)
{
	char buf[512];
	char *items[HNVMF_CONF_MAX_ANA_GROUPS + 1];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, k);
	int m = conf_split_list(buf, items, HNVMF_CONF_MAX_ANA_GROUPS + 1);
	if (m < 0 || m > HNVMF_CONF_MAX_ANA_GROUPS)
		return BAD(x, line, "%s: at most %d groups", k, HNVMF_CONF_MAX_ANA_GROUPS);
	for (int i = 0; i < m; i++) {
		uint64_t g;
		if (conf_parse_uint(items[i], 1, HNVMF_CONF_MAX_ANA_GROUPS, &g, x->why) < 0)
			return BAD(x, line, "%s: %s", k, x->why);
		out[i] = (uint32_t)g;
	}
	*n = (unsigned)m;
	return 0;
}

static int gateway_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf_gateway *g = &x->c->gateway;
	g->line = (unsigned)x->sect_line;
	if (strcmp(k, "group") == 0 || strcmp(k, "name") == 0) {
		char *dst = k[0] == 'g' ? g->group : g->name;
		if (conf_check_name(v, x->why) < 0 || conf_copy(dst, sizeof(g->group), v, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (strcmp(k, "ceph_conf") == 0) {
		if (conf_resolve_path(x->dir, v, g->ceph_conf, sizeof(g->ceph_conf), x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (strcmp(k, "client") == 0 || strcmp(k, "pool") == 0) {
		bool client = k[0] == 'c';
		if (conf_copy(client ? g->client : g->pool, client ? sizeof(g->client) : sizeof(g->pool), v,
			      x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (strcmp(k, "lease_ms") == 0)
		return uint_key(x, k, v, line, 1000, 600000, &g->lease_ms);
	if (strcmp(k, "blocklist_s") == 0)
		return uint_key(x, k, v, line, 0, 86400 * 30, &g->blocklist_s);
	if (strcmp(k, "preferred_ana_groups") == 0)
		return ana_group_list(x, k, v, line, g->preferred, &g->npreferred);
	if (strcmp(k, "failback") == 0) {
		if (conf_parse_bool(v, &g->failback, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	int st = hnvmf_conf_ana_state_parse(v);
	if (st != HNVMF_CONF_ANA_INACCESSIBLE && st != HNVMF_CONF_ANA_NON_OPTIMIZED)
		return BAD(x, line, "standby_state: '%s' (expected inaccessible or non-optimized)", v);
	g->standby_state = (uint8_t)st;
	return 0;
}

/* A gateway group needs its name, its cluster and its pool; a subsystem's configured ANA state
 * would fight the leases, so the two exclude each other. */
static int gateway_check(struct main_ctx *x)
{
	const struct hnvmf_conf *c = x->c;
	const struct hnvmf_conf_gateway *g = &c->gateway;
	if (!x->gateway_line)
		return 0;
	if (!g->group[0] || !g->name[0] || !g->ceph_conf[0] || !g->pool[0])
		return BAD(x, x->gateway_line, "[gateway] needs group, name, ceph_conf and pool");
	for (size_t i = 0; i < c->nsubsystems; i++)
		for (unsigned a = 1; a <= HNVMF_CONF_MAX_ANA_GROUPS; a++)
			if (c->subsystems[i].ana_state[a])
				return BAD(x, x->subsys_line[i],
					   "[subsystem %s]: ana_state is decided by the gateway group of [gateway] (line %d): remove it",
					   c->subsystems[i].nqn, x->gateway_line);
	return 0;
}

/* ---------------------------------------------------------------- [listener NAME] */

static const struct conf_key listener_keys[] = {
	{ "transport", false }, { "address", false },   { "port", false },
	{ "tls", false },	{ "discovery", false }, { NULL, false },
};

static struct hnvmf_conf_listener *cur_listener(struct main_ctx *x)
{
	return &x->c->listeners[x->c->nlisteners - 1];
}

static int listener_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf_listener *l = cur_listener(x);
	if (strcmp(k, "transport") == 0) {
		static const char *const names[] = { "tcp", "rdma", NULL };
		int i;
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		l->trtype = i == 0 ? HNVMF_TRTYPE_TCP : HNVMF_TRTYPE_RDMA;
		return 0;
	}
	if (strcmp(k, "address") == 0) {
		if (conf_parse_addr(v, x->why) < 0 || conf_copy(l->addr, sizeof(l->addr), v, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (strcmp(k, "port") == 0) {
		unsigned port = 0;
		if (uint_key(x, k, v, line, 1, 65535, &port) < 0)
			return -1;
		l->port = (uint16_t)port;
		return 0;
	}
	bool b;
	if (conf_parse_bool(v, &b, x->why) < 0)
		return BADV(x, line, k);
	if (strcmp(k, "tls") == 0)
		l->tls = b;
	else
		l->discovery = b;
	return 0;
}

static bool is_wildcard(const char *a) { return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0; }

static bool same_addr(const char *a, const char *b)
{
	unsigned char x[16] = { 0 }, y[16] = { 0 };
	int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;
	return fa == fb && inet_pton(fa, a, x) == 1 && inet_pton(fb, b, y) == 1 && memcmp(x, y, 16) == 0;
}

static int listener_end(struct main_ctx *x)
{
	struct hnvmf_conf *c = x->c;
	struct hnvmf_conf_listener *l = cur_listener(x);
	if (!l->addr[0])
		return BAD(x, x->sect_line, "[listener %s] needs 'address'", l->name);
	if (!conf_seen_line(&x->seen, "port"))
		l->port = l->discovery ? 8009 : 4420;
	if (l->tls && l->trtype != HNVMF_TRTYPE_TCP)
		return BAD(x, conf_seen_line(&x->seen, "tls"), "tls = yes needs transport = tcp (TLS is NVMe/TCP's secure channel)");
	for (size_t i = 0; i + 1 < c->nlisteners; i++) {
		const struct hnvmf_conf_listener *o = &c->listeners[i];
		if (o->trtype == l->trtype && o->port == l->port &&
		    (same_addr(o->addr, l->addr) || is_wildcard(o->addr) || is_wildcard(l->addr)))
			return BAD(x, x->sect_line, "listener '%s' on %s port %u overlaps listener '%s' (line %d)",
				   l->name, l->addr, l->port, o->name, x->listener_line[i]);
	}
	return 0;
}

static int printable_key(struct main_ctx *x, const char *k, const char *v, int line, char *dst, size_t n)
{
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return BAD(x, line, "%s: only printable ASCII is allowed", k);
	if (!*v)
		return BAD(x, line, "%s: empty value", k);
	if (conf_copy(dst, n, v, x->why) < 0)
		return BADV(x, line, k);
	return 0;
}

/* ---------------------------------------------------------------- [backend NAME] */

static const struct conf_key backend_keys[] = {
	{ "type", false },     { "path", false },   { "size", false }, { "block_size", false },
	{ "readonly", false }, { "direct", false }, { "ceph_conf", false }, { "client", false },
	{ "pool", false },     { "image", false },  { "rados_namespace", false },
	{ "rbd_timeout_s", false }, { NULL, false },
};

/* The keys only type rbd has, each with where its value goes. */
static char *rbd_string(struct hnvmf_conf_backend *b, const char *k, size_t *n)
{
	static const char *const keys[] = { "ceph_conf", "client", "pool", "image", "rados_namespace" };
	char *const dst[] = { b->ceph_conf, b->client, b->pool, b->image, b->rados_namespace };
	const size_t len[] = { sizeof(b->ceph_conf), sizeof(b->client), sizeof(b->pool),
			       sizeof(b->image), sizeof(b->rados_namespace) };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0) {
			*n = len[i];
			return dst[i];
		}
	return NULL;
}

static const char *const rbd_only_keys[] = { "ceph_conf", "client", "pool", "image", "rados_namespace",
					     "rbd_timeout_s", NULL };

static struct hnvmf_conf_backend *cur_backend(struct main_ctx *x)
{
	return &x->c->backends[x->c->nbackends - 1];
}

static int backend_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf_backend *b = cur_backend(x);
	if (strcmp(k, "type") == 0) {
		static const char *const names[] = { "ram", "null", "file", "rbd", NULL };
		static const enum hnvmf_conf_backend_type types[] = { HNVMF_CONF_BACKEND_RAM,
								       HNVMF_CONF_BACKEND_NULL,
								       HNVMF_CONF_BACKEND_FILE,
								       HNVMF_CONF_BACKEND_RBD };
		int i;
		if (conf_parse_enum(v, names, &i, x->why) < 0)
			return BADV(x, line, k);
		b->type = types[i];
		return 0;
	}
	if (strcmp(k, "path") == 0) {
		if (conf_resolve_path(x->dir, v, b->path, sizeof(b->path), x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (strcmp(k, "size") == 0) {
		if (conf_parse_size(v, &b->size, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	size_t n;
	char *dst = rbd_string(b, k, &n);
	if (dst && strcmp(k, "ceph_conf") == 0) {
		if (conf_resolve_path(x->dir, v, dst, n, x->why) < 0)
			return BADV(x, line, k);
		return 0;
	}
	if (dst)
		return printable_key(x, k, v, line, dst, n);
	if (strcmp(k, "rbd_timeout_s") == 0) {
		unsigned t = 0;
		if (uint_key(x, k, v, line, 1, 3600, &t) < 0)
			return -1;
		b->rbd_timeout_s = t;
		return 0;
	}
	if (strcmp(k, "block_size") == 0) {
		unsigned bs = 0;
		if (uint_key(x, k, v, line, 0, UINT32_MAX, &bs) < 0)
			return -1;
		if (bs != 512 && bs != 4096)
			return BAD(x, line, "block_size: %u is not 512 or 4096", bs);
		b->block_size = bs;
		return 0;
	}
	bool on;
	if (conf_parse_bool(v, &on, x->why) < 0)
		return BADV(x, line, k);
	if (strcmp(k, "readonly") == 0)
		b->readonly = on;
	else
		b->direct = on;
	return 0;
}

static int backend_end(struct main_ctx *x)
{
	struct hnvmf_conf_backend *b = cur_backend(x);
	int type_line = conf_seen_line(&x->seen, "type"), path_line = conf_seen_line(&x->seen, "path"),
	    size_line = conf_seen_line(&x->seen, "size");
	if (!type_line)
		return BAD(x, x->sect_line, "[backend %s] needs 'type' (ram, null, file or rbd)", b->name);
	if (!b->block_size)
		b->block_size = 512;
	for (int i = 0; b->type != HNVMF_CONF_BACKEND_RBD && rbd_only_keys[i]; i++)
		if (conf_seen_line(&x->seen, rbd_only_keys[i]))
			return BAD(x, conf_seen_line(&x->seen, rbd_only_keys[i]), "%s: only for type = rbd",
				   rbd_only_keys[i]);
	if (b->type == HNVMF_CONF_BACKEND_RBD) {
		static const char *const needed[] = { "ceph_conf", "pool", "image", NULL };
		for (int i = 0; needed[i]; i++)
			if (!conf_seen_line(&x->seen, needed[i]))
				return BAD(x, x->sect_line, "[backend %s] needs '%s' (type = rbd)", b->name,
					   needed[i]);
		if (path_line)
			return BAD(x, path_line, "path: an rbd backend has no path (ceph_conf, pool, image)");
		if (conf_seen_line(&x->seen, "direct"))
			return BAD(x, conf_seen_line(&x->seen, "direct"), "direct: only for type = file");
		if (!b->client[0])
			snprintf(b->client, sizeof(b->client), "admin");
	} else if (b->type != HNVMF_CONF_BACKEND_FILE) {
		const char *t = b->type == HNVMF_CONF_BACKEND_RAM ? "ram" : "null";
		if (path_line)
			return BAD(x, path_line, "path: a %s backend has no path", t);
		if (conf_seen_line(&x->seen, "direct"))
			return BAD(x, conf_seen_line(&x->seen, "direct"), "direct: only for type = file");
		if (!size_line)
			return BAD(x, x->sect_line, "[backend %s] needs 'size' (type = %s)", b->name, t);
		if (b->size == 0)
			return BAD(x, size_line, "size: must not be 0");
	} else {
		if (!path_line)
			return BAD(x, x->sect_line, "[backend %s] needs 'path' (type = file)", b->name);
		struct stat st;
		if (stat(b->path, &st) < 0)
			return BAD(x, path_line, "path: %s: %s", b->path, strerror(errno));
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
			return BAD(x, path_line, "path: %s is neither a regular file nor a block device", b->path);
	}
	if (b->size % b->block_size)
		return BAD(x, size_line, "size: %llu is not a multiple of block_size %u",
			   (unsigned long long)b->size, b->block_size);
	return 0;
}

/* ---------------------------------------------------------------- [subsystem NQN] */

static const struct conf_key subsys_keys[] = {
	{ "serial", false }, { "model", false },    { "allow_any_host", false }, { "host", true },
	{ "namespace", true }, { "listeners", false }, { "ana_state", true }, { NULL, false },
};

static struct hnvmf_conf_subsys *cur_subsys(struct main_ctx *x)
{
	return &x->c->subsystems[x->c->nsubsystems - 1];
}

static int add_ref(struct main_ctx *x, int kind, int line, size_t idx)
{
	struct ref *r = conf_grow(&x->refs, &x->nrefs, sizeof(*r));
	if (!r)
		return BAD(x, line, "out of memory");
	r->kind = kind;
	r->line = line;
	r->subsys = x->c->nsubsystems - 1;
	r->idx = idx;
	return 0;
}

/* "NSID:BACKEND[, nguid=32 hex digits][, uuid=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx][, ana_group=N]" */
static int namespace_key(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	char buf[256];
	char *items[4];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, "namespace");
	int n = conf_split_list(buf, items, 4);
	char *colon = n > 0 ? strchr(items[0], ':') : NULL;
	if (!colon)
		return BAD(x, line, "namespace: expected NSID:BACKEND[, nguid=HEX][, uuid=UUID][, ana_group=N]");
	*colon = '\0';
	uint64_t nsid;
	if (conf_parse_uint(conf_trim(items[0]), 1, HNVMF_CONF_MAX_NSID, &nsid, x->why) < 0)
		return BAD(x, line, "namespace: nsid %s", x->why);
	const char *backend = conf_trim(colon + 1);
	if (conf_check_name(backend, x->why) < 0)
		return BAD(x, line, "namespace: backend %s", x->why);
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return BAD(x, line, "namespace: nsid %u is already used in this subsystem", (unsigned)nsid);
	struct hnvmf_conf_ns ns = { .nsid = (uint32_t)nsid, .anagrpid = 1 };
	snprintf(ns.backend, sizeof(ns.backend), "%s", backend);
	bool have_nguid = false, have_uuid = false, have_grp = false;
	for (int i = 1; i < n; i++) {
		char *eq = strchr(items[i], '=');
		if (!eq)
			return BAD(x, line, "namespace: '%s' is not nguid=..., uuid=... or ana_group=...", items[i]);
		*eq = '\0';
		const char *opt = conf_trim(items[i]), *val = conf_trim(eq + 1);
		if (strcmp(opt, "nguid") == 0 && !have_nguid) {
			if (conf_parse_hex(val, ns.nguid, 16, x->why) < 0)
				return BAD(x, line, "namespace: nguid %s", x->why);
			have_nguid = true;
		} else if (strcmp(opt, "uuid") == 0 && !have_uuid) {
			if (conf_parse_uuid(val, ns.uuid, x->why) < 0)
				return BAD(x, line, "namespace: uuid %s", x->why);
			have_uuid = true;
		} else if (strcmp(opt, "ana_group") == 0 && !have_grp) {
			uint64_t g;
			if (conf_parse_uint(val, 1, HNVMF_CONF_MAX_ANA_GROUPS, &g, x->why) < 0)
				return BAD(x, line, "namespace: ana_group %s", x->why);
			ns.anagrpid = (uint32_t)g;
			have_grp = true;
		} else {
			return BAD(x, line, "namespace: unknown or repeated option '%s'", opt);
		}
	}
	static const uint8_t zero[16];
	if ((have_nguid && memcmp(ns.nguid, zero, 16) == 0) || (have_uuid && memcmp(ns.uuid, zero, 16) == 0))
		return BAD(x, line, "namespace: an all-zero nguid or uuid means 'none'; leave it out instead");
	struct hnvmf_conf_ns *slot = conf_grow(&s->ns, &s->nns, sizeof(*slot));
	if (!slot)
		return BAD(x, line, "out of memory");
	*slot = ns;
	return add_ref(x, REF_NS, line, s->nns - 1);
}

static int host_key(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	if (conf_check_nqn(v, x->why) < 0)
		return BADV(x, line, "host");
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], v) == 0)
			return BAD(x, line, "host: %s is listed twice", v);
	char(*h)[HNVMF_NQN_MAX] = conf_grow(&s->hosts, &s->nhosts, sizeof(*h));
	if (!h)
		return BAD(x, line, "out of memory");
	snprintf(*h, sizeof(*h), "%s", v);
	return 0;
}

static int listeners_key(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	char buf[1024];
	char *items[64];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, "listeners");
	int n = conf_split_list(buf, items, 64);
	if (n <= 0)
		return BAD(x, line, "listeners: expected name[, name...]");
	for (int i = 0; i < n; i++) {
		if (conf_check_name(items[i], x->why) < 0)
			return BADV(x, line, "listeners");
		for (int j = 0; j < i; j++)
			if (strcmp(items[i], items[j]) == 0)
				return BAD(x, line, "listeners: '%s' is listed twice", items[i]);
		char(*l)[HNVMF_NAME_MAX] = conf_grow(&s->listeners, &s->nlisteners, sizeof(*l));
		if (!l)
			return BAD(x, line, "out of memory");
		snprintf(*l, sizeof(*l), "%s", items[i]);
		if (add_ref(x, REF_LISTENER, line, s->nlisteners - 1) < 0)
			return -1;
	}
	return 0;
}

/* ana_state = GROUP:STATE, this gateway's state of an ANA group (docs/ana.md). */
static int ana_state_key(struct main_ctx *x, const char *v, int line)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	char buf[64];
	if (conf_copy(buf, sizeof(buf), v, x->why) < 0)
		return BADV(x, line, "ana_state");
	char *colon = strchr(buf, ':');
	if (!colon)
		return BAD(x, line, "ana_state: expected GROUP:STATE (e.g. 2:inaccessible)");
	*colon = '\0';
	uint64_t g;
	if (conf_parse_uint(conf_trim(buf), 1, HNVMF_CONF_MAX_ANA_GROUPS, &g, x->why) < 0)
		return BAD(x, line, "ana_state: group %s", x->why);
	if (s->ana_state[g])
		return BAD(x, line, "ana_state: group %u is given twice", (unsigned)g);
	const char *name = conf_trim(colon + 1);
	int st = hnvmf_conf_ana_state_parse(name);
	if (st < 0)
		return BAD(x, line, "ana_state: '%s' is not one of: optimized, non-optimized, inaccessible, persistent-loss, change", name);
	s->ana_state[g] = (uint8_t)st;
	return 0;
}

static int subsys_key(struct main_ctx *x, const char *k, const char *v, int line)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	if (strcmp(k, "serial") == 0)
		return printable_key(x, k, v, line, s->serial, sizeof(s->serial));
	if (strcmp(k, "model") == 0)
		return printable_key(x, k, v, line, s->model, sizeof(s->model));
	if (strcmp(k, "allow_any_host") == 0)
		return conf_parse_bool(v, &s->allow_any_host, x->why) < 0 ? BADV(x, line, k) : 0;
	if (strcmp(k, "host") == 0)
		return host_key(x, v, line);
	if (strcmp(k, "namespace") == 0)
		return namespace_key(x, v, line);
	if (strcmp(k, "ana_state") == 0)
		return ana_state_key(x, v, line);
	return listeners_key(x, v, line);
}

static int subsys_end(struct main_ctx *x)
{
	struct hnvmf_conf_subsys *s = cur_subsys(x);
	/* No namespace yet is valid: the control API creates a subsystem, then adds them. */
	if (!s->serial[0])
		conf_derive_serial(s->nqn, s->serial);
	if (!s->model[0])
		snprintf(s->model, sizeof(s->model), "hnvmf");
	return 0;
}

/* ---------------------------------------------------------------- sections */

static int remember_line(struct main_ctx *x, int **lines, size_t *n, int line)
{
	int *slot = conf_grow(lines, n, sizeof(int));
	if (!slot)
		return BAD(x, line, "out of memory");
	*slot = line;
	return 0;
}

static int section_begin(void *user, const char *kind, const char *name, int line)
{
	struct main_ctx *x = user;
	struct hnvmf_conf *c = x->c;
	int s;
	if (conf_parse_enum(kind, sect_names, &s, x->why) < 0)
		return BAD(x, line, "unknown section [%s] (expected global, pqm, limits, metrics, gateway, listener NAME, backend NAME or subsystem NQN)", kind);
	x->sect = s;
	x->sect_line = line;
	memset(&x->seen, 0, sizeof(x->seen));
	if (s == S_GLOBAL || s == S_PQM || s == S_LIMITS || s == S_METRICS || s == S_GATEWAY) {
		int *first = s == S_GLOBAL ? &x->global_line : s == S_PQM ? &x->pqm_line
				 : s == S_LIMITS  ? &x->limits_line : s == S_METRICS ? &x->metrics_line
				 : &x->gateway_line;
		if (*name)
			return BAD(x, line, "[%s] takes no name", kind);
		if (*first)
			return BAD(x, line, "[%s] appears twice (first at line %d)", kind, *first);
		*first = line;
		return 0;
	}
	if (!*name)
		return BAD(x, line, "[%s] needs a name: [%s %s]", kind, kind, s == S_SUBSYS ? "NQN" : "NAME");
	if (s == S_SUBSYS) {
		if (conf_check_nqn(name, x->why) < 0)
			return BAD(x, line, "[subsystem]: %s", x->why);
		if (strcmp(name, HNVMF_DISCOVERY_NQN) == 0)
			return BAD(x, line, "[subsystem]: %s is the discovery subsystem, served by itself", name);
		for (size_t i = 0; i < c->nsubsystems; i++)
			if (strcmp(c->subsystems[i].nqn, name) == 0)
				return BAD(x, line, "duplicate subsystem %s (first at line %d)", name, x->subsys_line[i]);
		struct hnvmf_conf_subsys *sub = conf_grow(&c->subsystems, &c->nsubsystems, sizeof(*sub));
		if (!sub)
			return BAD(x, line, "out of memory");
		snprintf(sub->nqn, sizeof(sub->nqn), "%s", name);
		return remember_line(x, &x->subsys_line, &x->nsl, line);
	}
	if (conf_check_name(name, x->why) < 0)
		return BAD(x, line, "[%s]: %s", kind, x->why);
	if (s == S_LISTENER) {
		for (size_t i = 0; i < c->nlisteners; i++)
			if (strcmp(c->listeners[i].name, name) == 0)
				return BAD(x, line, "duplicate listener '%s' (first at line %d)", name, x->listener_line[i]);
		struct hnvmf_conf_listener *l = conf_grow(&c->listeners, &c->nlisteners, sizeof(*l));
		if (!l)
			return BAD(x, line, "out of memory");
		snprintf(l->name, sizeof(l->name), "%s", name);
		l->trtype = HNVMF_TRTYPE_TCP;
		return remember_line(x, &x->listener_line, &x->nll, line);
	}
	for (size_t i = 0; i < c->nbackends; i++)
		if (strcmp(c->backends[i].name, name) == 0)
			return BAD(x, line, "duplicate backend '%s' (first at line %d)", name, x->backend_line[i]);
	struct hnvmf_conf_backend *b = conf_grow(&c->backends, &c->nbackends, sizeof(*b));
	if (!b)
		return BAD(x, line, "out of memory");
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->line = (unsigned)line;
	return remember_line(x, &x->backend_line, &x->nbl, line);
}

static int section_end(void *user)
{
	struct main_ctx *x = user;
	switch (x->sect) {
	case S_LISTENER:
		return listener_end(x);
	case S_BACKEND:
		return backend_end(x);
	case S_SUBSYS:
		return subsys_end(x);
	case S_LIMITS:
		return limits_end(x);
	case S_PQM:
		return pqm_end(x);
	default:
		return 0;
	}
}

/* The keys each section accepts, parallel to sect_names. */
static const struct conf_key *const sect_keys[] = {
	[S_GLOBAL] = global_keys,     [S_PQM] = pqm_keys,	[S_LIMITS] = limits_keys,
	[S_LISTENER] = listener_keys,
	[S_BACKEND] = backend_keys, [S_SUBSYS] = subsys_keys, [S_METRICS] = metrics_keys,
	[S_GATEWAY] = gateway_keys,
};

static int on_key(void *user, const char *key, const char *value, int line)
{
	static int (*const handlers[])(struct main_ctx *, const char *, const char *, int) = {
		[S_GLOBAL] = global_key,     [S_PQM] = pqm_key,	      [S_LIMITS] = limits_key,
		[S_LISTENER] = listener_key,
		[S_BACKEND] = backend_key, [S_SUBSYS] = subsys_key, [S_METRICS] = metrics_key,
		[S_GATEWAY] = gateway_key,
	};
	struct main_ctx *x = user;
	if (conf_key_accept(sect_keys[x->sect], &x->seen, sect_names[x->sect], key, x->file, line, x->err) < 0)
		return -1;
	/* Only these may be empty: they mean "none". */
	if (!*value && strcmp(key, "tenants_dir") != 0 && strcmp(key, "control_socket") != 0 &&
	    strcmp(key, "dam_whitelist") != 0 && strcmp(key, "server_cpus") != 0 && strcmp(key, "listen") != 0 &&
	    strcmp(key, "dam_cpus") != 0)
		return BAD(x, line, "%s: empty value", key);
	return handlers[x->sect](x, key, value, line);
}

/* From the tables the parser checks keys against, so the list cannot miss one it accepts. */
void hnvmf_conf_list_keys(FILE *f)
{
	for (size_t s = 0; s < sizeof(sect_keys) / sizeof(sect_keys[0]); s++)
		for (const struct conf_key *k = sect_keys[s]; k && k->name; k++)
			fprintf(f, "%s %s\n", sect_names[s], k->name);
	conf_list_tenant_keys(f);
}

/* ---------------------------------------------------------------- end of file */

static int check_refs(struct main_ctx *x)
{
	struct hnvmf_conf *c = x->c;
	for (size_t i = 0; i < c->nsubsystems; i++)
		for (size_t j = 0; j < c->subsystems[i].nns; j++)
			conf_derive_ns_ids(c->subsystems[i].nqn, &c->subsystems[i].ns[j]);
	for (size_t r = 0; r < x->nrefs; r++) {
		const struct ref *ref = &x->refs[r];
		const struct hnvmf_conf_subsys *s = &c->subsystems[ref->subsys];
		if (ref->kind == REF_LISTENER) {
			const struct hnvmf_conf_listener *l = hnvmf_conf_find_listener(c, s->listeners[ref->idx]);
			if (!l)
				return BAD(x, ref->line, "listeners: unknown listener '%s'", s->listeners[ref->idx]);
			if (l->discovery)
				return BAD(x, ref->line, "listeners: '%s' is a discovery listener (it serves only the discovery subsystem)", l->name);
			continue;
		}
		const struct hnvmf_conf_ns *ns = &s->ns[ref->idx];
		if (!hnvmf_conf_find_backend(c, ns->backend))
			return BAD(x, ref->line, "namespace %u: unknown backend '%s'", ns->nsid, ns->backend);
		/* NGUID and UUID identify a namespace globally: no two may share one. */
		for (size_t q = 0; q < r; q++) {
			if (x->refs[q].kind != REF_NS)
				continue;
			const struct hnvmf_conf_ns *o = &c->subsystems[x->refs[q].subsys].ns[x->refs[q].idx];
			if (memcmp(o->nguid, ns->nguid, 16) == 0)
				return BAD(x, ref->line, "namespace %u: its nguid is also the one at line %d", ns->nsid, x->refs[q].line);
			if (memcmp(o->uuid, ns->uuid, 16) == 0)
				return BAD(x, ref->line, "namespace %u: its uuid is also the one at line %d", ns->nsid, x->refs[q].line);
		}
	}
	return 0;
}

static int check_whole(struct main_ctx *x, int nlines)
{
	struct hnvmf_conf *c = x->c;
	int last = nlines > 0 ? nlines : 1;
	bool io_listener = false;
	for (size_t i = 0; i < c->nlisteners; i++)
		io_listener |= !c->listeners[i].discovery;
	if (!io_listener)
		return BAD(x, last, "no I/O listener: add a [listener NAME] with an address (and discovery = no)");
	if (c->nsubsystems == 0)
		return BAD(x, last, "no subsystem: add a [subsystem NQN] with a namespace");
	/* A transfer larger than a connection's buffer could never run: it would fail with Invalid
	 * Field although MDTS allowed it. */
	if (c->cntlid_min > c->cntlid_max)
		return BAD(x, x->cntlid_line, "cntlid_min (%u) exceeds cntlid_max (%u)", c->cntlid_min,
			   c->cntlid_max);
	if ((uint64_t)c->mdts_kib > (uint64_t)c->limits.conn_buffer_mib * 1024)
		return BAD(x, x->mdts_line ? x->mdts_line : x->limits_line,
			   "mdts_kib (%u) exceeds [limits] conn_buffer_mib (%u MiB): the largest transfer must fit one connection's buffer",
			   c->mdts_kib, c->limits.conn_buffer_mib);
	if (gateway_check(x) < 0)
		return -1;
	return check_refs(x);
}

static const struct conf_ini_ops main_ops = { section_begin, section_end, on_key };

int hnvmf_conf_load(const char *path, struct hnvmf_conf **out, char *errbuf, size_t errlen)
{
	struct conf_err err = { .buf = errbuf, .len = errlen };
	struct main_ctx x = { .file = path, .err = &err };
	int nlines = 0;
	*out = NULL;
	x.c = calloc(1, sizeof(*x.c));
	if (!x.c)
		return conf_err_at(&err, path, 0, "out of memory");
	conf_set_global_defaults(x.c);
	conf_dirname(path, x.dir, sizeof(x.dir));
	int r = conf_ini_parse(path, &main_ops, &x, &err, &nlines);
	if (r == 0)
		r = check_whole(&x, nlines);
	if (r == 0 && snprintf(x.c->file, sizeof(x.c->file), "%s", path) >= (int)sizeof(x.c->file))
		r = conf_err_at(&err, path, 0, "path too long");
	if (r == 0 && x.c->tenants_dir[0])
		r = hnvmf_conf_load_tenants(x.c, &x.c->tenants, &x.c->ntenants, errbuf, errlen);
	free(x.refs);
	free(x.listener_line);
	free(x.backend_line);
	free(x.subsys_line);
	if (r < 0) {
		hnvmf_conf_free(x.c);
		return -1;
	}
	*out = x.c;
	return 0;
}
