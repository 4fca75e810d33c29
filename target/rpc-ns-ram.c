/* hnvmf_subsystem_add_ram_ns: a RAM namespace added to a running subsystem (the Namespace
 * Attribute Changed event is raised for its controllers by hnvmf_subsys_add_ns). Not saved to the
 * configuration: a RAM namespace's data does not outlive the daemon anyway. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/backend/backend.h"
#include "target/rpc.h"

static struct json_object *add_ram_ns(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *nqn = NULL;
	uint64_t nsid = 0, mib = 0;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"nqn", "nsid", "size_mib", NULL}) ||
	    !hnvmf_rpc_param_str(ctx, params, "nqn", true, &nqn) ||
	    !hnvmf_rpc_param_u64(ctx, params, "nsid", true, HNVMF_MAX_NSID, &nsid) ||
	    !hnvmf_rpc_param_u64(ctx, params, "size_mib", true, UINT32_MAX, &mib))
		return NULL;
	if (nsid == 0 || mib == 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "nsid (1..%u) and size_mib must not be 0",
				       HNVMF_MAX_NSID);
	struct hnvmf_subsys *s = hnvmf_tgt_find_subsys(ctx->tgt, nqn);
	if (!s || s->discovery)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_NOT_FOUND, "no subsystem %s (nvmf_get_subsystems lists them)", nqn);
	struct hnvmf_backend_params p = {.type = HNVMF_BACKEND_RAM, .size = mib << 20, .block_size = 512};
	struct hnvmf_backend *be;
	char msg[128] = "";
	int rc = hnvmf_backend_open(&p, &be, msg, sizeof(msg));
	if (rc)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_REFUSED, "RAM namespace of %llu MiB: %s",
				       (unsigned long long)mib, msg[0] ? msg : strerror(-rc));
	char name[HNVMF_NAME_MAX];
	snprintf(name, sizeof(name), "ram-added-%u", (unsigned)nsid);
	rc = hnvmf_subsys_add_ns(ctx->tgt, s, (uint32_t)nsid, be, name);
	if (rc) {
		hnvmf_backend_close(be);
		return hnvmf_rpc_error(ctx, rc == -EEXIST ? HNVMF_RPC_REFUSED : HNVMF_RPC_INTERNAL_ERROR,
				       "namespace %u of %s: %s", (unsigned)nsid, nqn,
				       rc == -EEXIST ? "the subsystem has it already" : strerror(-rc));
	}
	return hnvmf_rpc_ok();
}

static const struct hnvmf_rpc_method methods[] = {
	{"hnvmf_subsystem_add_ram_ns", add_ram_ns, 0},
};
HNVMF_RPC_TABLE(ns_ram, methods);
