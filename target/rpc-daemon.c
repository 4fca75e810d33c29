/* Methods about the daemon itself: its methods, version, log level, reload, saving the
 * configuration (docs/control.md). */
#include <stdio.h>

#include "core/log.h"
#include "hnvmf-version.h"
#include "target/rpc.h"

static struct json_object *get_methods(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	return hnvmf_rpc_method_names();
}

static struct json_object *get_version(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "version", json_object_new_string(HNVMF_VERSION));
	return r;
}

static struct json_object *log_get_level(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	return json_object_new_string(hnvmf_log_level_name(hnvmf_log_get_level()));
}

static struct json_object *log_set_level(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *name = NULL;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"level", NULL}) ||
	    !hnvmf_rpc_param_str(ctx, params, "level", true, &name))
		return NULL;
	int l = hnvmf_log_level_parse(name);
	if (l < 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
				       "level \"%s\": one of err, warn, notice, info, debug", name);
	hnvmf_log_set_level((enum hnvmf_log_level)l);
	log_notice("log level set to %s through the control socket", name);
	return hnvmf_rpc_ok();
}

/* The daemon's reload, as SIGHUP: the main file and the tenants directory are read again and
 * the difference applied (target/reconfig.c). */
static struct json_object *reload(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	if (!ctx->daemon || !ctx->daemon->reload)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_UNAVAILABLE, "no daemon to reload");
	char msg[1024] = "";
	if (ctx->daemon->reload(msg, sizeof(msg)) != 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_REFUSED, "reload refused, nothing changed: %s", msg);
	return hnvmf_rpc_ok();
}

/* Writes the running configuration into its main file now (each change through the API already
 * does; this is for a file that lost them, e.g. restored from an old copy). */
static struct json_object *save_config(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	char msg[512] = "no daemon to write the configuration";
	if (!ctx->daemon || !ctx->daemon->persist || ctx->daemon->persist(msg, sizeof(msg)) != 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_UNAVAILABLE, "configuration not saved: %s", msg);
	return hnvmf_rpc_ok();
}

static const struct hnvmf_rpc_method methods[] = {
	{"rpc_get_methods", get_methods, 0},
	{"hnvmf_get_version", get_version, 0},
	{"log_get_print_level", log_get_level, 0},
	{"log_set_print_level", log_set_level, 0},
	{"hnvmf_reload", reload, 0},
	{"save_config", save_config, 0},
};
HNVMF_RPC_TABLE(daemon, methods);
