/* The methods that change the configuration: subsystems, namespaces, hosts, listeners
 * (docs/control.md). Each one edits the text of the main file as the running model renders it
 * (conf/conf-edit.h: the operator's other sections keep their text), loads that text with the
 * loader, so that an API change passes exactly the checks a file does, and hands the new model
 * to the daemon, which applies the difference (target/reconfig.c) and makes it the running one;
 * the flag HNVMF_RPC_CONF_CHANGE then writes it back into the main file. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/conf-edit.h"
#include "conf/conf.h"
#include "target/rpc.h"

struct edit;
/* Makes *out, the new text, from text (the running model's); -1 after hnvmf_rpc_error. */
typedef int (*edit_fn)(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out);

struct edit {
	struct hnvmf_rpc_ctx *ctx;
	struct json_object *params;
	edit_fn fn;
	struct json_object *result; /* NULL: true */
};

/* Loads text as the main file would be loaded: from a file beside it (relative paths and the
 * tenants directory resolve the same), named like it in the model. A refusal's message without
 * that file's name and line, which are not the operator's. */
static int load_text(const struct hnvmf_conf *cur, const char *text, struct hnvmf_conf **nw, char *msg, size_t len)
{
	char tmp[sizeof(cur->file) + 16];
	const char *slash = strrchr(cur->file, '/');
	int dl = slash ? (int)(slash - cur->file + 1) : 0;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.api.tmp", dl, cur->file, slash ? slash + 1 : cur->file);
	int rc = hnvmf_conf_write_atomic(tmp, text, 0600);
	if (rc) {
		snprintf(msg, len, "%s: %s", tmp, strerror(-rc));
		return -1;
	}
	char why[1024] = "";
	rc = hnvmf_conf_load(tmp, nw, why, sizeof(why));
	unlink(tmp);
	if (rc) {
		const char *m = why;
		size_t tl = strlen(tmp);
		if (strncmp(m, tmp, tl) == 0 && m[tl] == ':') {
			m += tl + 1;
			while (isdigit((unsigned char)*m))
				m++;
			while (*m == ':' || *m == ' ')
				m++;
		}
		snprintf(msg, len, "%s", m);
		return -1;
	}
	snprintf((*nw)->file, sizeof((*nw)->file), "%s", cur->file);
	return 0;
}

static int edit_model(const struct hnvmf_conf *cur, void *arg, struct hnvmf_conf **nw, char *msg, size_t len)
{
	struct edit *e = arg;
	char *text0 = NULL, *text1 = NULL;
	if (hnvmf_conf_render_text(cur, &text0, msg, len) != 0) {
		hnvmf_rpc_error(e->ctx, HNVMF_RPC_UNAVAILABLE, "%s", msg);
		return -1;
	}
	int rc = e->fn(e, cur, text0, &text1);
	free(text0);
	if (rc)
		return -1;
	rc = load_text(cur, text1, nw, msg, len);
	free(text1);
	if (rc)
		hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "refused, nothing changed: %s", msg);
	return rc;
}

static struct json_object *run(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *const *keys,
			       edit_fn fn)
{
	if (!hnvmf_rpc_param_only(ctx, params, keys))
		return NULL;
	if (!ctx->daemon || !ctx->daemon->change)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_UNAVAILABLE, "no daemon whose configuration to change");
	struct edit e = {.ctx = ctx, .params = params, .fn = fn};
	char msg[1024] = "";
	if (ctx->daemon->change(edit_model, &e, msg, sizeof(msg)) != 0) {
		json_object_put(e.result);
		if (!ctx->code)
			hnvmf_rpc_error(ctx, HNVMF_RPC_REFUSED, "refused, nothing changed: %s", msg);
		return NULL;
	}
	return e.result ? e.result : hnvmf_rpc_ok();
}

/* A string that becomes a value in the file must read back as itself: one line, no comment. */
static bool plain(struct hnvmf_rpc_ctx *ctx, const char *key, const char *v)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '#' || *p == ';' || *p == ',') {
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
					"%s: control characters, '#', ';' and ',' are not allowed", key);
			return false;
		}
	return true;
}

static bool str_param(struct edit *e, const char *key, bool required, const char **out)
{
	return hnvmf_rpc_param_str(e->ctx, e->params, key, required, out) && (!*out || plain(e->ctx, key, *out));
}

static const struct hnvmf_conf_subsys *subsys_param(struct edit *e, const struct hnvmf_conf *cur)
{
	const char *nqn = NULL;
	if (!str_param(e, "nqn", true, &nqn))
		return NULL;
	const struct hnvmf_conf_subsys *s = hnvmf_conf_find_subsys(cur, nqn);
	if (!s)
		hnvmf_rpc_error(e->ctx, HNVMF_RPC_NOT_FOUND, "no subsystem %s (nvmf_get_subsystems lists them)", nqn);
	return s;
}

static int nomem(struct edit *e) { return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INTERNAL_ERROR, "out of memory"), -1; }

/* text with s's section rendered (extra: one more line in it). */
static int put_subsys(struct edit *e, const char *text, const struct hnvmf_conf_subsys *s, const char *extra, char **out)
{
	return hnvmf_conf_set_section(text, NULL, NULL, s, extra, out) ? nomem(e) : 0;
}

/* Backends the API made for a namespace ("apiN") go with their last namespace. */
static bool api_backend(const char *name) { return strncmp(name, "api", 3) == 0 && isdigit((unsigned char)name[3]); }

static bool backend_used(const struct hnvmf_conf *c, const char *name, const struct hnvmf_conf_subsys *skip_s,
			 uint32_t skip_nsid)
{
	for (size_t i = 0; i < c->nsubsystems; i++)
		for (size_t n = 0; n < c->subsystems[i].nns; n++)
			if (strcmp(c->subsystems[i].ns[n].backend, name) == 0 &&
			    !(&c->subsystems[i] == skip_s && (skip_nsid == 0 || c->subsystems[i].ns[n].nsid == skip_nsid)))
				return true;
	return false;
}

/* *text without backend name when the API made it and nothing else uses it. */
static int drop_backend(struct edit *e, const struct hnvmf_conf *cur, const char *name,
			const struct hnvmf_conf_subsys *s, uint32_t nsid, char **text)
{
	if (!api_backend(name) || backend_used(cur, name, s, nsid))
		return 0;
	char header[HNVMF_NAME_MAX + 16], *next;
	snprintf(header, sizeof(header), "backend %s", name);
	if (hnvmf_conf_replace_section(*text, header, NULL, &next))
		return nomem(e);
	free(*text);
	*text = next;
	return 0;
}

/* ---- subsystems ---- */

static int create_subsystem(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const char *nqn = NULL, *sn = NULL, *mn = NULL;
	bool any = false;
	if (!str_param(e, "nqn", true, &nqn) || !str_param(e, "serial_number", false, &sn) ||
	    !str_param(e, "model_number", false, &mn) ||
	    !hnvmf_rpc_param_bool(e->ctx, e->params, "allow_any_host", false, &any))
		return -1;
	if (hnvmf_conf_find_subsys(cur, nqn))
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "subsystem %s exists", nqn), -1;
	struct hnvmf_conf_subsys s = {.allow_any_host = any};
	if (snprintf(s.nqn, sizeof(s.nqn), "%s", nqn) >= (int)sizeof(s.nqn) ||
	    (sn && snprintf(s.serial, sizeof(s.serial), "%s", sn) >= (int)sizeof(s.serial)) ||
	    (mn && snprintf(s.model, sizeof(s.model), "%s", mn) >= (int)sizeof(s.model)))
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS,
				       "nqn at most 223, serial_number 20, model_number 40 characters"), -1;
	/* The loader derives what is not given (serial from the NQN, model hnvmf). */
	return put_subsys(e, text, &s, NULL, out);
}

static int delete_subsystem(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	if (!s)
		return -1;
	char header[HNVMF_NQN_MAX + 16];
	snprintf(header, sizeof(header), "subsystem %s", s->nqn);
	if (hnvmf_conf_replace_section(text, header, NULL, out))
		return nomem(e);
	for (size_t n = 0; n < s->nns; n++)
		if (drop_backend(e, cur, s->ns[n].backend, s, 0, out))
			return -1;
	return 0;
}

static int allow_any_host(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	bool any;
	if (!s || !hnvmf_rpc_param_bool(e->ctx, e->params, "allow_any_host", true, &any))
		return -1;
	struct hnvmf_conf_subsys c = *s;
	c.allow_any_host = any;
	return put_subsys(e, text, &c, NULL, out);
}

/* ---- hosts ---- */

static int host_index(const struct hnvmf_conf_subsys *s, const char *host)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], host) == 0)
			return (int)i;
	return -1;
}

static int add_host(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	const char *host = NULL;
	if (!s || !str_param(e, "host", true, &host))
		return -1;
	if (strlen(host) >= HNVMF_NQN_MAX)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS, "host: an NQN is at most 223 characters"), -1;
	if (host_index(s, host) >= 0)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "host %s is allowed on %s already", host, s->nqn), -1;
	struct hnvmf_conf_subsys c = *s;
	c.hosts = calloc(s->nhosts + 1, sizeof(*c.hosts));
	if (!c.hosts)
		return nomem(e);
	if (s->nhosts) /* hosts is NULL without any */
		memcpy(c.hosts, s->hosts, s->nhosts * sizeof(*c.hosts));
	snprintf(c.hosts[c.nhosts++], HNVMF_NQN_MAX, "%s", host);
	int rc = put_subsys(e, text, &c, NULL, out);
	free(c.hosts);
	return rc;
}

static int remove_host(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	const char *host = NULL;
	if (!s || !str_param(e, "host", true, &host))
		return -1;
	int i = host_index(s, host);
	if (i < 0)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_NOT_FOUND, "subsystem %s has no host = %s line", s->nqn, host), -1;
	struct hnvmf_conf_subsys c = *s;
	c.hosts = calloc(s->nhosts, sizeof(*c.hosts));
	if (!c.hosts)
		return nomem(e);
	c.nhosts = 0;
	for (size_t k = 0; k < s->nhosts; k++)
		if ((int)k != i)
			memcpy(c.hosts[c.nhosts++], s->hosts[k], HNVMF_NQN_MAX);
	int rc = put_subsys(e, text, &c, NULL, out);
	free(c.hosts);
	return rc;
}

/* ---- namespaces ---- */

static const struct hnvmf_conf_ns *ns_of(const struct hnvmf_conf_subsys *s, uint64_t nsid)
{
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].nsid == nsid)
			return &s->ns[i];
	return NULL;
}

/* size (bytes) or size_mib; *size kept when neither is given. */
static bool size_param(struct edit *e, uint64_t *size)
{
	uint64_t mib = 0;
	if (!hnvmf_rpc_param_u64(e->ctx, e->params, "size", false, UINT64_MAX, size) ||
	    !hnvmf_rpc_param_u64(e->ctx, e->params, "size_mib", false, UINT64_MAX >> 20, &mib))
		return false;
	if (mib)
		*size = mib << 20;
	return true;
}

static int add_ns(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	uint64_t nsid = 0, grp = 0, bs = 512;
	const char *type = NULL, *backend = NULL, *nguid = NULL, *uuid = NULL;
	if (!s || !hnvmf_rpc_param_u64(e->ctx, e->params, "nsid", false, HNVMF_CONF_MAX_NSID, &nsid) ||
	    !hnvmf_rpc_param_u64(e->ctx, e->params, "ana_group", false, HNVMF_CONF_MAX_ANA_GROUPS, &grp) ||
	    !hnvmf_rpc_param_u64(e->ctx, e->params, "block_size", false, 65536, &bs) ||
	    !str_param(e, "backend", false, &backend) || !str_param(e, "type", false, &type) ||
	    !str_param(e, "nguid", false, &nguid) || !str_param(e, "uuid", false, &uuid))
		return -1;
	if (nsid && ns_of(s, nsid))
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "subsystem %s has a namespace %llu already", s->nqn,
				       (unsigned long long)nsid), -1;
	for (nsid = nsid ? nsid : 1; ns_of(s, nsid) && nsid <= HNVMF_CONF_MAX_NSID; nsid++)
		;
	if (nsid > HNVMF_CONF_MAX_NSID)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "subsystem %s has no free NSID", s->nqn), -1;
	if (!backend == !type)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS,
				       "either backend (a configured [backend]) or type (ram, null, file, rbd) with "
				       "its parameters"), -1;
	char name[HNVMF_NAME_MAX];
	char *with_be = NULL;
	if (backend) {
		if (!hnvmf_conf_find_backend(cur, backend))
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_NOT_FOUND, "no backend %s", backend), -1;
		snprintf(name, sizeof(name), "%s", backend);
	} else {
		static const char *const types[] = {"ram", "null", "file", "rbd"};
		static const enum hnvmf_conf_backend_type tv[] = {HNVMF_CONF_BACKEND_RAM, HNVMF_CONF_BACKEND_NULL,
								   HNVMF_CONF_BACKEND_FILE, HNVMF_CONF_BACKEND_RBD};
		struct hnvmf_conf_backend b = {.block_size = (uint32_t)bs, .direct = true};
		size_t t = 0;
		while (t < 4 && strcmp(type, types[t]) != 0)
			t++;
		if (t == 4)
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS, "type \"%s\": ram, null, file or rbd", type), -1;
		b.type = tv[t];
		const char *path = NULL, *ceph = NULL, *pool = NULL, *image = NULL, *client = NULL, *rns = NULL;
		if (!size_param(e, &b.size) || !hnvmf_rpc_param_bool(e->ctx, e->params, "readonly", false, &b.readonly) ||
		    !str_param(e, "path", false, &path) || !str_param(e, "ceph_conf", false, &ceph) ||
		    !str_param(e, "pool", false, &pool) || !str_param(e, "image", false, &image) ||
		    !str_param(e, "client", false, &client) || !str_param(e, "rados_namespace", false, &rns))
			return -1;
		if ((path && b.type != HNVMF_CONF_BACKEND_FILE) ||
		    ((ceph || pool || image || client || rns) && b.type != HNVMF_CONF_BACKEND_RBD))
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS,
					       "path is for type file; ceph_conf, pool, image, client, rados_namespace "
					       "for type rbd"), -1;
		snprintf(b.path, sizeof(b.path), "%s", path ? path : "");
		snprintf(b.ceph_conf, sizeof(b.ceph_conf), "%s", ceph ? ceph : "");
		snprintf(b.pool, sizeof(b.pool), "%s", pool ? pool : "");
		snprintf(b.image, sizeof(b.image), "%s", image ? image : "");
		snprintf(b.client, sizeof(b.client), "%s", client ? client : "");
		snprintf(b.rados_namespace, sizeof(b.rados_namespace), "%s", rns ? rns : "");
		for (unsigned k = 1;; k++) { /* the first free apiN */
			snprintf(b.name, sizeof(b.name), "api%u", k);
			if (!hnvmf_conf_find_backend(cur, b.name))
				break;
		}
		snprintf(name, sizeof(name), "%s", b.name);
		if (hnvmf_conf_set_section(text, NULL, &b, NULL, NULL, &with_be))
			return nomem(e);
	}
	char line[512];
	int n = snprintf(line, sizeof(line), "namespace = %llu:%s", (unsigned long long)nsid, name);
	if (nguid)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", nguid=%s", nguid);
	if (uuid && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, ", uuid=%s", uuid);
	if (grp && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ", ana_group=%llu", (unsigned long long)grp);
	int rc = put_subsys(e, with_be ? with_be : text, s, line, out);
	free(with_be);
	if (rc == 0) {
		e->result = json_object_new_object();
		json_object_object_add(e->result, "nsid", json_object_new_uint64(nsid));
		json_object_object_add(e->result, "backend", json_object_new_string(name));
	}
	return rc;
}

static const struct hnvmf_conf_ns *ns_param(struct edit *e, const struct hnvmf_conf_subsys *s)
{
	uint64_t nsid = 0;
	if (!hnvmf_rpc_param_u64(e->ctx, e->params, "nsid", true, HNVMF_CONF_MAX_NSID, &nsid))
		return NULL;
	const struct hnvmf_conf_ns *ns = ns_of(s, nsid);
	if (!ns)
		hnvmf_rpc_error(e->ctx, HNVMF_RPC_NOT_FOUND, "subsystem %s has no namespace %llu", s->nqn,
				(unsigned long long)nsid);
	return ns;
}

static int remove_ns(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	const struct hnvmf_conf_ns *ns = s ? ns_param(e, s) : NULL;
	if (!ns)
		return -1;
	struct hnvmf_conf_subsys c = *s;
	c.ns = calloc(s->nns, sizeof(*c.ns));
	if (!c.ns)
		return nomem(e);
	c.nns = 0;
	for (size_t k = 0; k < s->nns; k++)
		if (&s->ns[k] != ns)
			c.ns[c.nns++] = s->ns[k];
	int rc = put_subsys(e, text, &c, NULL, out);
	free(c.ns);
	if (rc == 0)
		rc = drop_backend(e, cur, ns->backend, s, ns->nsid, out);
	return rc;
}

static int resize_ns(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	const struct hnvmf_conf_ns *ns = s ? ns_param(e, s) : NULL;
	if (!ns)
		return -1;
	struct hnvmf_conf_backend b = *hnvmf_conf_find_backend(cur, ns->backend);
	if (!size_param(e, &b.size))
		return -1;
	/* Without a size, the backend's own size is taken again (a grown file, an image after
	 * rbd resize): the model is the same, the daemon's apply probes it. */
	return hnvmf_conf_set_section(text, NULL, &b, NULL, NULL, out) ? nomem(e) : 0;
}

/* ---- listeners ---- */

struct addr {
	enum hnvmf_trtype trtype;
	const char *traddr;
	uint16_t port;
};

static bool addr_param(struct edit *e, struct addr *a)
{
	const char *tr = "TCP", *svc = NULL;
	if (!str_param(e, "trtype", false, &tr) || !str_param(e, "traddr", true, &a->traddr) ||
	    !str_param(e, "trsvcid", true, &svc))
		return false;
	if (strcasecmp(tr, "tcp") != 0 && strcasecmp(tr, "rdma") != 0)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS, "trtype \"%s\": TCP or RDMA", tr), false;
	a->trtype = strcasecmp(tr, "tcp") == 0 ? HNVMF_TRTYPE_TCP : HNVMF_TRTYPE_RDMA;
	char *end;
	unsigned long p = strtoul(svc, &end, 10);
	if (!*svc || *end || p == 0 || p > 65535)
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS, "trsvcid \"%s\": a port, 1..65535", svc), false;
	a->port = (uint16_t)p;
	return true;
}

static const struct hnvmf_conf_listener *find_listener(const struct hnvmf_conf *c, const struct addr *a)
{
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].trtype == a->trtype && c->listeners[i].port == a->port &&
		    strcmp(c->listeners[i].addr, a->traddr) == 0)
			return &c->listeners[i];
	return NULL;
}

static int add_listener(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	struct addr a;
	bool tls = false;
	if (!s || !addr_param(e, &a) || !hnvmf_rpc_param_bool(e->ctx, e->params, "secure_channel", false, &tls))
		return -1;
	const struct hnvmf_conf_listener *l = find_listener(cur, &a);
	struct hnvmf_conf_listener nl = {.trtype = a.trtype, .port = a.port, .tls = tls};
	char *with_l = NULL;
	if (l) {
		if (l->tls != tls || l->discovery)
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED,
					       "listener %s on %s port %u is in use as a %s listener", l->name, l->addr,
					       l->port, l->discovery ? "discovery" : l->tls ? "TLS" : "non-TLS"), -1;
		if (hnvmf_conf_subsys_on_listener(s, l))
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED, "subsystem %s is exported on listener %s already",
					       s->nqn, l->name), -1;
		nl = *l;
	} else {
		if (snprintf(nl.addr, sizeof(nl.addr), "%s", a.traddr) >= (int)sizeof(nl.addr))
			return hnvmf_rpc_error(e->ctx, HNVMF_RPC_INVALID_PARAMS, "traddr: a numeric address"), -1;
		for (unsigned k = 1;; k++) {
			snprintf(nl.name, sizeof(nl.name), "api%u", k);
			if (!hnvmf_conf_find_listener(cur, nl.name))
				break;
		}
		if (hnvmf_conf_set_section(text, &nl, NULL, NULL, NULL, &with_l))
			return nomem(e);
	}
	int rc = 0;
	if (s->nlisteners) { /* exported on named listeners: this one joins them (else: on every one) */
		struct hnvmf_conf_subsys c = *s;
		c.listeners = calloc(s->nlisteners + 1, sizeof(*c.listeners));
		if (!c.listeners) {
			free(with_l);
			return nomem(e);
		}
		memcpy(c.listeners, s->listeners, s->nlisteners * sizeof(*c.listeners));
		snprintf(c.listeners[c.nlisteners++], HNVMF_NAME_MAX, "%s", nl.name);
		rc = put_subsys(e, with_l ? with_l : text, &c, NULL, out);
		free(c.listeners);
		free(with_l);
	} else {
		*out = with_l;
	}
	if (rc == 0) {
		e->result = json_object_new_object();
		json_object_object_add(e->result, "listener", json_object_new_string(nl.name));
	}
	return rc;
}

static int remove_listener(struct edit *e, const struct hnvmf_conf *cur, const char *text, char **out)
{
	const struct hnvmf_conf_subsys *s = subsys_param(e, cur);
	struct addr a;
	if (!s || !addr_param(e, &a))
		return -1;
	const struct hnvmf_conf_listener *l = find_listener(cur, &a);
	if (!l || !hnvmf_conf_subsys_on_listener(s, l))
		return hnvmf_rpc_error(e->ctx, HNVMF_RPC_NOT_FOUND, "subsystem %s is not exported on %s port %u", s->nqn,
				       a.traddr, a.port), -1;
	/* The listeners it stays on, by name (none named: it was on every I/O listener). */
	struct hnvmf_conf_subsys c = *s;
	c.listeners = calloc(cur->nlisteners, sizeof(*c.listeners));
	if (!c.listeners)
		return nomem(e);
	c.nlisteners = 0;
	for (size_t i = 0; i < cur->nlisteners; i++)
		if (&cur->listeners[i] != l && !cur->listeners[i].discovery &&
		    hnvmf_conf_subsys_on_listener(s, &cur->listeners[i]))
			snprintf(c.listeners[c.nlisteners++], HNVMF_NAME_MAX, "%s", cur->listeners[i].name);
	int rc = c.nlisteners ? put_subsys(e, text, &c, NULL, out)
			      : (hnvmf_rpc_error(e->ctx, HNVMF_RPC_REFUSED,
						 "listener %s is the only one of subsystem %s: add another first, or "
						 "delete the subsystem", l->name, s->nqn), -1);
	free(c.listeners);
	if (rc)
		return rc;
	/* The listener itself goes when no other subsystem is exported on it. */
	bool used = false;
	for (size_t i = 0; i < cur->nsubsystems && !used; i++)
		used = &cur->subsystems[i] != s && hnvmf_conf_subsys_on_listener(&cur->subsystems[i], l);
	if (!used) {
		char header[HNVMF_NAME_MAX + 16], *next;
		snprintf(header, sizeof(header), "listener %s", l->name);
		if (hnvmf_conf_replace_section(*out, header, NULL, &next))
			return nomem(e);
		free(*out);
		*out = next;
	}
	return 0;
}

/* ---- the methods ---- */

#define METHOD(fname, edit, ...)                                                                   \
	static struct json_object *fname(struct hnvmf_rpc_ctx *ctx, struct json_object *params)    \
	{                                                                                          \
		return run(ctx, params, (const char *const[]){__VA_ARGS__, NULL}, edit);           \
	}

METHOD(m_create_subsystem, create_subsystem, "nqn", "serial_number", "model_number", "allow_any_host")
METHOD(m_delete_subsystem, delete_subsystem, "nqn")
METHOD(m_allow_any_host, allow_any_host, "nqn", "allow_any_host")
METHOD(m_add_host, add_host, "nqn", "host")
METHOD(m_remove_host, remove_host, "nqn", "host")
METHOD(m_add_ns, add_ns, "nqn", "nsid", "backend", "type", "size", "size_mib", "block_size", "readonly", "path",
       "ceph_conf", "pool", "image", "client", "rados_namespace", "nguid", "uuid", "ana_group")
METHOD(m_remove_ns, remove_ns, "nqn", "nsid")
METHOD(m_resize_ns, resize_ns, "nqn", "nsid", "size", "size_mib")
METHOD(m_add_listener, add_listener, "nqn", "trtype", "adrfam", "traddr", "trsvcid", "secure_channel")
METHOD(m_remove_listener, remove_listener, "nqn", "trtype", "adrfam", "traddr", "trsvcid")

static const struct hnvmf_rpc_method methods[] = {
	{"nvmf_create_subsystem", m_create_subsystem, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_delete_subsystem", m_delete_subsystem, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_allow_any_host", m_allow_any_host, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_add_host", m_add_host, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_remove_host", m_remove_host, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_add_ns", m_add_ns, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_remove_ns", m_remove_ns, HNVMF_RPC_CONF_CHANGE},
	{"hnvmf_subsystem_resize_ns", m_resize_ns, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_add_listener", m_add_listener, HNVMF_RPC_CONF_CHANGE},
	{"nvmf_subsystem_remove_listener", m_remove_listener, HNVMF_RPC_CONF_CHANGE},
};
HNVMF_RPC_TABLE(config, methods);
