/* JSON-RPC 2.0 dispatch (see rpc.h): validates the request object, finds the method in the
 * tables of target/rpc-*.c, runs it and builds the response. */
#include "target/rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hnvmf-rpc-tables.h" /* HNVMF_RPC_TABLES(X): X(name) for every target/rpc-NAME.c */

#define DECLARE_TABLE(f) extern const struct hnvmf_rpc_table hnvmf_rpc_table_##f;
HNVMF_RPC_TABLES(DECLARE_TABLE)
#define TABLE_PTR(f) &hnvmf_rpc_table_##f,
static const struct hnvmf_rpc_table *const tables[] = {HNVMF_RPC_TABLES(TABLE_PTR)};

struct json_object *hnvmf_rpc_error(struct hnvmf_rpc_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
	va_end(ap);
	ctx->code = code;
	return NULL;
}

struct json_object *hnvmf_rpc_ok(void)
{
	return json_object_new_boolean(1);
}

static struct json_object *param(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
				 bool required, json_type type, const char *what)
{
	struct json_object *v = NULL;
	if (!params || !json_object_object_get_ex(params, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "missing parameter \"%s\" (%s)", key, what);
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "parameter \"%s\" must be %s, not %s", key, what,
				json_type_to_name(json_object_get_type(v)));
		return NULL;
	}
	return v;
}

bool hnvmf_rpc_param_str(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			 bool required, const char **out)
{
	struct json_object *v = param(ctx, params, key, required, json_type_string, "a string");
	if (v)
		*out = json_object_get_string(v);
	return ctx->code == 0;
}

bool hnvmf_rpc_param_u64(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			 bool required, uint64_t max, uint64_t *out)
{
	struct json_object *v = param(ctx, params, key, required, json_type_int, "an integer");
	if (!v)
		return ctx->code == 0;
	/* json-c keeps integers as int64 or uint64: a negative one reads back as 0 from get_uint64 */
	int64_t s = json_object_get_int64(v);
	uint64_t u = json_object_get_uint64(v);
	if (s < 0 || u > max) {
		hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "parameter \"%s\" must be 0..%llu", key,
				(unsigned long long)max);
		return false;
	}
	*out = u;
	return true;
}

bool hnvmf_rpc_param_bool(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			  bool required, bool *out)
{
	struct json_object *v = param(ctx, params, key, required, json_type_boolean, "true or false");
	if (v)
		*out = json_object_get_boolean(v);
	return ctx->code == 0;
}

bool hnvmf_rpc_param_only(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *const *keys)
{
	if (!params)
		return true;
	json_object_object_foreach(params, key, v)
	{
		(void)v;
		size_t i = 0;
		while (keys[i] && strcmp(keys[i], key) != 0)
			i++;
		if (!keys[i]) {
			hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "unknown parameter \"%s\"", key);
			return false;
		}
	}
	return true;
}

static const struct hnvmf_rpc_method *find_method(const char *name)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			if (strcmp(tables[t]->methods[i].name, name) == 0)
				return &tables[t]->methods[i];
	return NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct json_object *hnvmf_rpc_method_names(void)
{
	size_t n = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		n += tables[t]->n;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return NULL;
	n = 0;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			names[n++] = tables[t]->methods[i].name;
	qsort(names, n, sizeof(*names), cmp_names);
	struct json_object *a = json_object_new_array_ext((int)n);
	for (size_t i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	free(names);
	return a;
}

static struct json_object *response(struct json_object *id)
{
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(r, "id", id ? json_object_get(id) : NULL);
	return r;
}

static struct json_object *error_response(struct json_object *id, int code, const char *message)
{
	struct json_object *r = response(id);
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(r, "error", e);
	return r;
}

struct json_object *hnvmf_rpc_error_response(int code, const char *message)
{
	return error_response(NULL, code, message);
}

struct json_object *hnvmf_rpc_call(struct hnvmf_tgt *tgt, const struct hnvmf_rpc_daemon *daemon,
				   struct json_object *request)
{
	if (!json_object_is_type(request, json_type_object))
		return error_response(NULL, HNVMF_RPC_INVALID_REQUEST,
				      json_object_is_type(request, json_type_array)
					      ? "batches are not supported: send the requests one after the other"
					      : "a request is a JSON object");
	struct json_object *id = NULL, *version, *method, *params = NULL;
	bool has_id = json_object_object_get_ex(request, "id", &id);
	if (has_id && id && !json_object_is_type(id, json_type_int) && !json_object_is_type(id, json_type_string))
		return error_response(NULL, HNVMF_RPC_INVALID_REQUEST, "\"id\" must be a number or a string");
	if (!json_object_object_get_ex(request, "jsonrpc", &version) ||
	    !json_object_is_type(version, json_type_string) || strcmp(json_object_get_string(version), "2.0") != 0)
		return error_response(id, HNVMF_RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
	if (!json_object_object_get_ex(request, "method", &method) || !json_object_is_type(method, json_type_string))
		return error_response(id, HNVMF_RPC_INVALID_REQUEST, "\"method\" must be a string");
	if (json_object_object_get_ex(request, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object))
		return error_response(id, HNVMF_RPC_INVALID_PARAMS,
				      "\"params\" must be an object (parameters by name)");
	const char *name = json_object_get_string(method);
	const struct hnvmf_rpc_method *m = find_method(name);
	if (!m) {
		char msg[300];
		snprintf(msg, sizeof(msg), "no method \"%.200s\" (rpc_get_methods lists them)", name);
		return has_id ? error_response(id, HNVMF_RPC_METHOD_NOT_FOUND, msg) : NULL;
	}
	struct hnvmf_rpc_ctx ctx = {.tgt = tgt, .daemon = daemon};
	struct json_object *result = m->fn(&ctx, params);
	if (!result && ctx.code == 0)
		hnvmf_rpc_error(&ctx, HNVMF_RPC_INTERNAL_ERROR, "out of memory");
	if (result && (m->flags & HNVMF_RPC_CONF_CHANGE)) {
		char msg[512] = "no daemon to write the configuration";
		if (!daemon || !daemon->persist || daemon->persist(msg, sizeof(msg)) != 0)
			hnvmf_rpc_error(&ctx, HNVMF_RPC_NOT_PERSISTED,
					"applied to the running daemon, but not saved (lost at restart): %s", msg);
	}
	if (ctx.code) {
		log_info("control: %s: error %d: %s", name, ctx.code, ctx.message);
		json_object_put(result);
		return has_id ? error_response(id, ctx.code, ctx.message) : NULL;
	}
	if (!has_id) {
		json_object_put(result);
		return NULL;
	}
	struct json_object *r = response(id);
	json_object_object_add(r, "result", result);
	return r;
}
