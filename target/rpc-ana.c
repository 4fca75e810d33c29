/* Asymmetric Namespace Access through the control API (docs/ana.md):
 *   hnvmf_ana_get_state {nqn?}                       this gateway's groups per subsystem, as the
 *                                                    ANA log page reports them
 *   hnvmf_ana_set_state {nqn?, anagrpid, ana_state}  changes a group's state and raises the ANA
 *                                                    Change event (hnvmf_tgt_set_ana_state)
 * Without nqn: every I/O subsystem (a gateway owns a group across its subsystems). SPDK's
 * nvmf_subsystem_listener_set_ana_state sets a state per listener; here a state is the
 * gateway's, the same on all its listeners, hence a name of our own. A state set here is not
 * written to the configuration file: which gateway owns a group is run-time state, and a restart
 * starts from the file's ana_state lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/rpc.h"

/* One subsystem's groups, read from the log page itself so that the API and the hosts see the
 * same thing. tgt->lock held. */
static struct json_object *subsys_state(const struct hnvmf_subsys *s)
{
	void *buf;
	size_t len = hnvmf_ana_log_build(s, false, &buf);
	if (!buf)
		return NULL;
	const struct nvme_ana_log *log = buf;
	struct json_object *o = json_object_new_object(), *groups = json_object_new_array();
	json_object_object_add(o, "nqn", json_object_new_string(s->nqn));
	json_object_object_add(o, "chgcnt", json_object_new_uint64(le64toh(log->chgcnt)));
	const uint8_t *p = (const uint8_t *)log->descs, *end = (const uint8_t *)buf + len;
	for (unsigned g = 0; g < le16toh(log->ngrps) && p < end; g++) {
		struct nvme_ana_group_desc d; /* copied out: descriptors are only 4-byte aligned */
		memcpy(&d, p, sizeof(d));
		p += sizeof(d);
		struct json_object *x = json_object_new_object(), *nsids = json_object_new_array();
		json_object_object_add(x, "anagrpid", json_object_new_uint64(le32toh(d.grpid)));
		json_object_object_add(x, "ana_state", json_object_new_string(hnvmf_conf_ana_state_name(d.state)));
		json_object_object_add(x, "chgcnt", json_object_new_uint64(le64toh(d.chgcnt)));
		for (uint32_t i = 0; i < le32toh(d.nnsids); i++, p += sizeof(uint32_t)) {
			uint32_t id;
			memcpy(&id, p, sizeof(id));
			json_object_array_add(nsids, json_object_new_uint64(le32toh(id)));
		}
		json_object_object_add(x, "nsids", nsids);
		json_object_array_add(groups, x);
	}
	json_object_object_add(o, "groups", groups);
	free(buf);
	return o;
}

static struct json_object *get_state(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *nqn = NULL;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"nqn", NULL}) ||
	    !hnvmf_rpc_param_str(ctx, params, "nqn", false, &nqn))
		return NULL;
	struct hnvmf_tgt *tgt = ctx->tgt;
	struct json_object *out = json_object_new_array();
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		if (nqn && strcmp(s->nqn, nqn) != 0)
			continue;
		struct json_object *o = subsys_state(s);
		if (!o) {
			pthread_mutex_unlock(&tgt->lock);
			json_object_put(out);
			return hnvmf_rpc_error(ctx, HNVMF_RPC_INTERNAL_ERROR, "out of memory");
		}
		json_object_array_add(out, o);
	}
	pthread_mutex_unlock(&tgt->lock);
	if (nqn && !json_object_array_length(out)) {
		json_object_put(out);
		return hnvmf_rpc_error(ctx, HNVMF_RPC_NOT_FOUND, "no subsystem %s (nvmf_get_subsystems lists them)", nqn);
	}
	return out;
}

static struct json_object *set_state(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	const char *nqn = NULL, *name = NULL;
	uint64_t grpid = 0;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"nqn", "anagrpid", "ana_state", NULL}) ||
	    !hnvmf_rpc_param_str(ctx, params, "nqn", false, &nqn) ||
	    !hnvmf_rpc_param_u64(ctx, params, "anagrpid", true, HNVMF_MAX_ANA_GROUPS, &grpid) ||
	    !hnvmf_rpc_param_str(ctx, params, "ana_state", true, &name))
		return NULL;
	int state = hnvmf_conf_ana_state_parse(name);
	if (grpid == 0 || state < 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
				       "anagrpid is 1..%u and ana_state one of optimized, non-optimized, inaccessible, persistent-loss, change",
				       HNVMF_MAX_ANA_GROUPS);
	int n = hnvmf_tgt_set_ana_state(ctx->tgt, nqn, (uint32_t)grpid, (uint8_t)state);
	if (n == -ENOENT)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_NOT_FOUND, "no subsystem %s (nvmf_get_subsystems lists them)",
				       nqn ? nqn : "at all");
	if (n < 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS, "%s", strerror(-n));
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "changed", json_object_new_int(n));
	return r;
}

static const struct hnvmf_rpc_method methods[] = {
	{"hnvmf_ana_get_state", get_state, 0},
	{"hnvmf_ana_set_state", set_state, 0},
};
HNVMF_RPC_TABLE(ana, methods);
