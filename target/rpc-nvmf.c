/* Reading the target's NVMe-oF state: subsystems with their namespaces, hosts and listeners;
 * controllers with their peers, queues and the queues' paths (docs/control.md). Everything is
 * read under tgt->lock, so that an answer is one consistent picture. */
#include <stdio.h>
#include <string.h>

#include "core/io.h"
#include "target/rpc.h"

static struct json_object *hex16(const uint8_t *b, bool uuid)
{
	char s[40];
	size_t n = 0;
	for (int i = 0; i < 16; i++) {
		if (uuid && (i == 4 || i == 6 || i == 8 || i == 10))
			s[n++] = '-';
		n += (size_t)snprintf(s + n, sizeof(s) - n, "%02x", b[i]);
	}
	return json_object_new_string(s);
}

static struct json_object *listener_json(const struct hnvmf_port *p)
{
	struct json_object *l = json_object_new_object();
	json_object_object_add(l, "name", json_object_new_string(p->conf.name));
	json_object_object_add(l, "trtype", json_object_new_string(p->conf.trtype == HNVMF_TRTYPE_TCP ? "TCP" : "RDMA"));
	json_object_object_add(l, "adrfam", json_object_new_string(strchr(p->conf.addr, ':') ? "IPv6" : "IPv4"));
	json_object_object_add(l, "traddr", json_object_new_string(p->conf.addr));
	char port[8];
	snprintf(port, sizeof(port), "%u", p->conf.port);
	json_object_object_add(l, "trsvcid", json_object_new_string(port));
	json_object_object_add(l, "portid", json_object_new_int(p->portid));
	json_object_object_add(l, "secure_channel", json_object_new_boolean(p->conf.tls));
	return l;
}

static struct json_object *subsys_json(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "nqn", json_object_new_string(s->nqn));
	json_object_object_add(o, "subtype", json_object_new_string(s->discovery ? "Discovery" : "NVMe"));
	struct json_object *ls = json_object_new_array();
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ports)
	{
		struct hnvmf_port *p = container_of(pos, struct hnvmf_port, link);
		if (s->discovery ? p->conf.discovery || p->conf.trtype == HNVMF_TRTYPE_TCP : hnvmf_subsys_on_port(s, p))
			json_object_array_add(ls, listener_json(p));
	}
	json_object_object_add(o, "listen_addresses", ls);
	json_object_object_add(o, "allow_any_host", json_object_new_boolean(s->discovery || s->allow_any_host));
	struct json_object *hosts = json_object_new_array();
	for (size_t i = 0; i < s->nhosts; i++) {
		struct json_object *h = json_object_new_object();
		json_object_object_add(h, "nqn", json_object_new_string(s->hosts[i]));
		json_object_array_add(hosts, h);
	}
	json_object_object_add(o, "hosts", hosts);
	if (s->discovery)
		return o;
	json_object_object_add(o, "serial_number", json_object_new_string(s->serial));
	json_object_object_add(o, "model_number", json_object_new_string(s->model));
	json_object_object_add(o, "max_namespaces", json_object_new_int(HNVMF_MAX_NSID));
	struct json_object *nss = json_object_new_array();
	for (uint32_t nsid = 1; nsid <= s->max_nsid; nsid++) {
		struct hnvmf_ns *ns = hnvmf_subsys_ns(s, nsid);
		if (!ns)
			continue;
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "nsid", json_object_new_int64(nsid));
		json_object_object_add(n, "bdev_name", json_object_new_string(ns->backend_name));
		json_object_object_add(n, "block_size", json_object_new_int64(1ll << ns->lba_shift));
		json_object_object_add(n, "num_blocks", json_object_new_uint64(ns->nlba));
		json_object_object_add(n, "read_only", json_object_new_boolean(ns->readonly));
		json_object_object_add(n, "nguid", hex16(ns->nguid, false));
		json_object_object_add(n, "uuid", hex16(ns->uuid, true));
		json_object_array_add(nss, n);
	}
	json_object_object_add(o, "namespaces", nss);
	return o;
}

/* The optional "nqn" parameter: *s is the subsystem, or NULL for all; false (error set) when the
 * NQN names no subsystem. Called with tgt->lock held. */
static bool subsys_param(struct hnvmf_rpc_ctx *ctx, struct json_object *params, bool required,
			 struct hnvmf_subsys **s)
{
	const char *nqn = NULL;
	*s = NULL;
	if (!hnvmf_rpc_param_str(ctx, params, "nqn", required, &nqn))
		return false;
	if (!nqn)
		return true;
	if (ctx->tgt->discovery && strcmp(nqn, ctx->tgt->discovery->nqn) == 0) {
		*s = ctx->tgt->discovery;
		return true;
	}
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &ctx->tgt->subsystems)
	{
		struct hnvmf_subsys *x = container_of(pos, struct hnvmf_subsys, link);
		if (strcmp(x->nqn, nqn) == 0) {
			*s = x;
			return true;
		}
	}
	hnvmf_rpc_error(ctx, HNVMF_RPC_NOT_FOUND, "no subsystem %s (nvmf_get_subsystems lists them)", nqn);
	return false;
}

static struct json_object *get_subsystems(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"nqn", NULL}))
		return NULL;
	struct hnvmf_tgt *tgt = ctx->tgt;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_subsys *only;
	struct json_object *a = NULL;
	if (subsys_param(ctx, params, false, &only)) {
		a = json_object_new_array();
		if (tgt->discovery && (!only || only == tgt->discovery))
			json_object_array_add(a, subsys_json(tgt, tgt->discovery));
		struct hnvmf_list *pos, *tmp;
		hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
		{
			struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
			if (!only || only == s)
				json_object_array_add(a, subsys_json(tgt, s));
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	return a;
}

static struct json_object *queue_json(const struct hnvmf_ctrl *c, const struct hnvmf_sq *sq)
{
	struct json_object *q = json_object_new_object();
	json_object_object_add(q, "cntlid", json_object_new_int(c->cntlid));
	json_object_object_add(q, "qid", json_object_new_int(sq->qid));
	json_object_object_add(q, "size", json_object_new_int(sq->size));
	json_object_object_add(q, "peer_address", json_object_new_string(sq->peer));
	json_object_object_add(q, "listener", json_object_new_string(sq->port ? sq->port->conf.name : ""));
	json_object_object_add(q, "tls", json_object_new_boolean(sq->tls));
	json_object_object_add(q, "authenticated", json_object_new_boolean(sq->authenticated));
	if (sq->qid) {
		json_object_object_add(q, "mode", json_object_new_string(hnvmf_path_mode_name(sq->mode)));
		/* why the mode is not the one the tenant asked for (null: it is) */
		json_object_object_add(q, "why", sq->path_why ? json_object_new_string(sq->path_why) : NULL);
	}
	return q;
}

/* The controllers of s (all when NULL), each with its queues; qpairs: the queues alone, flat. */
static struct json_object *controllers(struct hnvmf_rpc_ctx *ctx, struct json_object *params, bool qpairs)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"nqn", NULL}))
		return NULL;
	struct hnvmf_tgt *tgt = ctx->tgt;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_subsys *only;
	if (!subsys_param(ctx, params, false, &only)) {
		pthread_mutex_unlock(&tgt->lock);
		return NULL;
	}
	struct json_object *a = json_object_new_array();
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (only && c->subsys != only)
			continue;
		pthread_mutex_lock(&c->lock);
		struct json_object *qs = qpairs ? a : json_object_new_array();
		for (unsigned q = 0; q <= HNVMF_MAX_IO_QUEUES; q++)
			if (c->sqs[q])
				json_object_array_add(qs, queue_json(c, c->sqs[q]));
		if (!qpairs) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "cntlid", json_object_new_int(c->cntlid));
			json_object_object_add(o, "subnqn", json_object_new_string(c->subsys->nqn));
			json_object_object_add(o, "hostnqn", json_object_new_string(c->hostnqn));
			json_object_object_add(o, "hostid", hex16(c->hostid, true));
			json_object_object_add(o, "peer_address",
					       json_object_new_string(c->sqs[0] ? c->sqs[0]->peer : ""));
			json_object_object_add(o, "kato_ms", json_object_new_int64(c->kato_ms));
			json_object_object_add(o, "tenant", json_object_new_boolean(c->tenant != NULL));
			json_object_object_add(o, "queues", qs);
			json_object_array_add(a, o);
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	return a;
}

static struct json_object *get_controllers(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	return controllers(ctx, params, false);
}

static struct json_object *get_qpairs(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	return controllers(ctx, params, true);
}

static const struct hnvmf_rpc_method methods[] = {
	{"nvmf_get_subsystems", get_subsystems, 0},
	{"nvmf_subsystem_get_controllers", get_controllers, 0},
	{"nvmf_subsystem_get_qpairs", get_qpairs, 0},
};
HNVMF_RPC_TABLE(nvmf, methods);
