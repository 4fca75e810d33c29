/* Tenants through the API: list the running set; set, remove, or change a host's keys by writing
 * its tenant file (conf-edit.h: the other lines keep the operator's text) and then reloading the
 * tenants directory as SIGHUP does. A file the reload refuses is put back as it was, and the
 * answer carries the reload's file:line message: the running set never changed. The files are the
 * persistence: a restarted daemon reads them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf-edit.h"
#include "target/rpc.h"

#define TENANT_KV_MAX 32 /* keys one request may set: more than a tenant file has */

static struct json_object *tenant_json(const struct hnvmf_conf_tenant *t)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "hostnqn", json_object_new_string(t->hostnqn));
	json_object_object_add(o, "file", json_object_new_string(t->file));
	struct json_object *s = json_object_new_array();
	for (size_t i = 0; i < t->nsubsystems; i++)
		json_object_array_add(s, json_object_new_string(t->subsystems[i]));
	json_object_object_add(o, "subsystems", s);
	json_object_object_add(o, "mode", json_object_new_string(hnvmf_conf_mode_name(t->mode)));
	json_object_object_add(o, "permission_level", json_object_new_int(t->permission_level));
	json_object_object_add(o, "weight", json_object_new_int((int)t->weight));
	json_object_object_add(o, "reserved_iops", json_object_new_uint64(t->reserved_iops));
	json_object_object_add(o, "max_iops", json_object_new_uint64(t->max_iops));
	json_object_object_add(o, "max_read_mbps", json_object_new_uint64(t->max_read_mbps));
	json_object_object_add(o, "max_write_mbps", json_object_new_uint64(t->max_write_mbps));
	json_object_object_add(o, "max_mbps", json_object_new_uint64(t->max_mbps));
	json_object_object_add(o, "latency_target_us", json_object_new_uint64(t->latency_target_us));
	json_object_object_add(o, "max_queues", json_object_new_int((int)t->max_queues));
	json_object_object_add(o, "dam_fallback",
			       json_object_new_string(t->dam_fallback == HNVMF_DAM_FALLBACK_REFUSE ? "refuse" : "pqm"));
	/* whether a secret is configured, never the secret */
	json_object_object_add(o, "dhchap_secret", json_object_new_boolean(t->dhchap_secret[0] != '\0'));
	json_object_object_add(o, "dhchap_ctrl_secret", json_object_new_boolean(t->dhchap_ctrl_secret[0] != '\0'));
	json_object_object_add(o, "tls_psk", json_object_new_boolean(t->tls_psk[0] != '\0'));
	return o;
}

static struct json_object *tenant_list(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct hnvmf_tgt *tgt = ctx->tgt;
	struct json_object *a = json_object_new_array();
	pthread_mutex_lock(&tgt->lock);
	for (size_t i = 0; i < tgt->ntenants; i++)
		json_object_array_add(a, tenant_json(&tgt->tenants[i]));
	pthread_mutex_unlock(&tgt->lock);
	return a;
}

/* The file of hostnqn's running tenant into path; false when the host has none. */
static bool tenant_file(struct hnvmf_tgt *tgt, const char *hostnqn, char *path, size_t len)
{
	pthread_mutex_lock(&tgt->lock);
	const struct hnvmf_conf_tenant *t = hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
	if (t)
		snprintf(path, len, "%s", t->file);
	pthread_mutex_unlock(&tgt->lock);
	return t != NULL;
}

/* Where a tenant the API creates goes: tenants_dir/api-HOSTNQN.conf, the NQN's characters that
 * are not safe in a file name spelt '_'. */
static void new_tenant_file(const struct hnvmf_conf *conf, const char *hostnqn, char *path, size_t len)
{
	char name[HNVMF_NQN_MAX];
	size_t i = 0;
	for (; hostnqn[i] && i + 1 < sizeof(name); i++) {
		char c = hostnqn[i];
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			    c == '-' || c == '_';
		name[i] = safe ? c : '_';
	}
	name[i] = '\0';
	snprintf(path, len, "%s/api-%s.conf", conf->tenants_dir, name);
}

/* Writes kv into hostnqn's tenant file (a new one when it has none and create is set) or removes
 * the file (remove), then reloads; restores the file when the reload refuses it. */
static struct json_object *apply(struct hnvmf_rpc_ctx *ctx, const char *hostnqn, const struct hnvmf_conf_kv *kv,
				 size_t n, bool create, bool remove)
{
	const struct hnvmf_conf *conf = ctx->tgt->conf;
	if (!ctx->daemon || !ctx->daemon->reload)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_UNAVAILABLE, "no daemon to reload the tenants");
	if (!conf->tenants_dir[0])
		return hnvmf_rpc_error(ctx, HNVMF_RPC_UNAVAILABLE,
				       "no tenants_dir configured: set [global] tenants_dir in the main file first");
	char path[4096];
	bool exists = tenant_file(ctx->tgt, hostnqn, path, sizeof(path));
	if (!exists && !create)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_NOT_FOUND, "no tenant for host %s (hnvmf_tenant_list lists them)",
				       hostnqn);
	if (!exists)
		new_tenant_file(conf, hostnqn, path, sizeof(path));
	char *old = exists ? hnvmf_conf_read_file(path) : NULL;
	if (exists && !old)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INTERNAL_ERROR, "%s: %s", path, strerror(errno));
	int rc;
	if (remove) {
		rc = unlink(path) ? -errno : 0;
	} else {
		char *text;
		rc = hnvmf_conf_edit_section(old ? old : "# written by hnvmfd's control API (hnvmf_tenant_set)\n",
					     "tenant", kv, n, &text);
		if (rc == -EINVAL) {
			free(old);
			return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
					       "a key or value that is not one line of a tenant file (a newline, or "
					       "starting with '#' or ';')");
		}
		/* owner-only: the file may hold secrets inline (docs/configuration.md) */
		if (rc == 0) {
			rc = hnvmf_conf_write_atomic(path, text, 0600);
			free(text);
		}
	}
	if (rc) {
		free(old);
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INTERNAL_ERROR, "%s: %s", path, strerror(-rc));
	}
	char msg[1024] = "";
	if (ctx->daemon->reload(msg, sizeof(msg)) != 0) {
		int r = old ? hnvmf_conf_write_atomic(path, old, 0600) : (unlink(path) ? -errno : 0);
		free(old);
		return hnvmf_rpc_error(ctx, HNVMF_RPC_REFUSED, "refused, nothing changed%s: %s",
				       r ? " (and the file could not be put back!)" : "", msg);
	}
	free(old);
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "file", json_object_new_string(path));
	return r;
}

/* A parameter's value as a tenant file writes it; false when it has no such form. */
static bool render(struct json_object *v, char *out, size_t len)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		snprintf(out, len, "%s", json_object_get_string(v));
		return true;
	case json_type_int:
		snprintf(out, len, "%lld", (long long)json_object_get_int64(v));
		return json_object_get_int64(v) >= 0;
	case json_type_boolean:
		snprintf(out, len, "%s", json_object_get_boolean(v) ? "yes" : "no");
		return true;
	case json_type_array: { /* a list: "a, b" */
		size_t off = 0;
		out[0] = '\0';
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_string))
				return false;
			int w = snprintf(out + off, len - off, "%s%s", i ? ", " : "", json_object_get_string(e));
			if (w < 0 || (size_t)w >= len - off)
				return false;
			off += (size_t)w;
		}
		return true;
	}
	default:
		return false;
	}
}

/* params other than hostnqn into kv (null: remove the key); only is the keys allowed (NULL: any). */
static bool params_kv(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *const *only,
		      struct hnvmf_conf_kv *kv, char (*vals)[512], size_t *n)
{
	*n = 0;
	json_object_object_foreach(params, key, v)
	{
		if (strcmp(key, "hostnqn") == 0)
			continue;
		bool allowed = !only;
		for (size_t i = 0; only && only[i]; i++)
			allowed |= strcmp(only[i], key) == 0;
		if (!allowed) {
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "unknown parameter \"%s\"", key);
			return false;
		}
		if (*n == TENANT_KV_MAX) {
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "more than %d keys", TENANT_KV_MAX);
			return false;
		}
		if (v && !render(v, vals[*n], sizeof(vals[*n]))) {
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
					"\"%s\": a string, a number >= 0, true/false, a list of strings, or null "
					"(remove the key)", key);
			return false;
		}
		kv[*n] = (struct hnvmf_conf_kv){.key = key, .value = v ? vals[*n] : NULL};
		(*n)++;
	}
	return true;
}

/* Creates or changes hostnqn's tenant: the other params are tenant-file keys (docs/configuration.md). */
static struct json_object *tenant_set(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *hostnqn = NULL;
	if (!hnvmf_rpc_param_str(ctx, params, "hostnqn", true, &hostnqn))
		return NULL;
	struct hnvmf_conf_kv kv[TENANT_KV_MAX + 1];
	static char vals[TENANT_KV_MAX][512]; /* the control thread's alone */
	size_t n;
	/* hostnqn first: a new file reads in the order of docs/configuration.md's table */
	kv[0] = (struct hnvmf_conf_kv){.key = "hostnqn", .value = hostnqn};
	if (!params_kv(ctx, params, NULL, kv + 1, vals, &n))
		return NULL;
	return apply(ctx, hostnqn, kv, n + 1, true, false);
}

static struct json_object *tenant_remove(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *hostnqn = NULL;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"hostnqn", NULL}) ||
	    !hnvmf_rpc_param_str(ctx, params, "hostnqn", true, &hostnqn))
		return NULL;
	return apply(ctx, hostnqn, NULL, 0, false, true);
}

/* A host's DH-HMAC-CHAP secret, controller secret or TLS PSK, in its tenant file. */
/* A host's keys; key_grace_s (optional) is how long the keys this replaces stay accepted
 * (docs/auth.md, "Key rotation"): written into the tenant file with them. */
static struct json_object *host_set_key(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	static const char *const keys[] = {"dhchap_secret", "dhchap_ctrl_secret", "tls_psk", "key_grace_s", NULL};
	const char *hostnqn = NULL;
	if (!hnvmf_rpc_param_str(ctx, params, "hostnqn", true, &hostnqn))
		return NULL;
	struct hnvmf_conf_kv kv[TENANT_KV_MAX];
	static char vals[TENANT_KV_MAX][512];
	size_t n;
	if (!params_kv(ctx, params, keys, kv, vals, &n))
		return NULL;
	size_t nkeys = 0;
	for (size_t i = 0; i < n; i++)
		nkeys += strcmp(kv[i].key, "key_grace_s") != 0;
	if (nkeys == 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
				       "which key? dhchap_secret, dhchap_ctrl_secret or tls_psk (null removes it)");
	return apply(ctx, hostnqn, kv, n, false, false);
}

static const struct hnvmf_rpc_method methods[] = {
	{"hnvmf_tenant_list", tenant_list, 0},
	{"hnvmf_tenant_set", tenant_set, 0},
	{"hnvmf_tenant_remove", tenant_remove, 0},
	{"hnvmf_host_set_key", host_set_key, 0},
};
HNVMF_RPC_TABLE(tenant, methods);
