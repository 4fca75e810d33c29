/* The engine's paths as the operator sees them: the PQM pool (its size c, the sizing's last
 * decisions, forcing c) and the DAM units (capacity and who holds them). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/pqm.h"
#include "target/rpc.h"

#define PQM_TRACE_MAX 16 /* decisions returned by hnvmf_pqm_get */

/* A double that JSON can carry: NaN and infinities become null. */
static struct json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

/* Lines of text as an array of strings. */
static struct json_object *lines(const char *text)
{
	struct json_object *a = json_object_new_array();
	while (*text) {
		size_t n = strcspn(text, "\n");
		json_object_array_add(a, json_object_new_string_len(text, (int)n));
		text += n + (text[n] == '\n');
	}
	return a;
}

static struct json_object *pqm_get(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct hnvmf_engine *e = ctx->tgt->engine;
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "c", json_object_new_int((int)hnvmf_pqm_current_c(e)));
	struct hnvmf_pqm_trace_point tp[PQM_TRACE_MAX];
	size_t n = hnvmf_pqm_trace(e, tp, PQM_TRACE_MAX);
	struct json_object *d = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "epoch", json_object_new_uint64(tp[i].epoch));
		json_object_object_add(o, "c", json_object_new_int((int)tp[i].c));
		json_object_object_add(o, "reason", json_object_new_string(hnvmf_pqm_reason_name(tp[i].reason)));
		json_object_object_add(o, "lambda", num(tp[i].lambda));
		json_object_object_add(o, "mu", num(tp[i].mu));
		json_object_object_add(o, "w_predicted_s", num(tp[i].w));
		json_object_object_add(o, "w_measured_s", num(tp[i].w_measured));
		json_object_array_add(d, o);
	}
	json_object_object_add(r, "decisions", d);
	/* servers and tenants: the pool's own report (core/pqm.h), a line each */
	size_t cap = 1 << 20;
	char *text = malloc(cap);
	if (text) {
		hnvmf_pqm_describe(e, text, cap);
		json_object_object_add(r, "report", lines(text));
		free(text);
	}
	return r;
}

static struct json_object *pqm_set_c(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	uint64_t c = 0;
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){"c", NULL}) ||
	    !hnvmf_rpc_param_u64(ctx, params, "c", true, UINT32_MAX, &c))
		return NULL;
	if (hnvmf_pqm_force_c(ctx->tgt->engine, (unsigned)c) != 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INVALID_PARAMS,
				       "c %llu: 0 (the sizing decides) or 1..cmax ([pqm] max_servers)",
				       (unsigned long long)c);
	return hnvmf_rpc_ok();
}

static struct json_object *dam_get(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct hnvmf_tgt *tgt = ctx->tgt;
	struct hnvmf_dam_usage du = hnvmf_dam_usage(tgt->engine);
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "capacity", json_object_new_int((int)du.capacity)); /* 0: unlimited */
	json_object_object_add(r, "used", json_object_new_int((int)du.used));
	json_object_object_add(r, "unit_iops", json_object_new_uint64(du.unit_iops));
	json_object_object_add(r, "polled_queues", json_object_new_int((int)du.polled_queues));
	json_object_object_add(r, "polled_ios", json_object_new_uint64(du.polled_ios));
	struct json_object *g = json_object_new_array();
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		pthread_mutex_lock(&c->lock);
		for (unsigned q = 1; q <= HNVMF_MAX_IO_QUEUES; q++) {
			const struct hnvmf_sq *sq = c->sqs[q];
			if (!sq || sq->dam_unit < 0)
				continue;
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "unit", json_object_new_int(sq->dam_unit));
			json_object_object_add(o, "hostnqn", json_object_new_string(c->hostnqn));
			json_object_object_add(o, "subnqn", json_object_new_string(c->subsys->nqn));
			json_object_object_add(o, "cntlid", json_object_new_int(c->cntlid));
			json_object_object_add(o, "qid", json_object_new_int(sq->qid));
			json_object_array_add(g, o);
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	json_object_object_add(r, "grants", g);
	return r;
}

static const struct hnvmf_rpc_method methods[] = {
	{"hnvmf_pqm_get", pqm_get, 0},
	{"hnvmf_pqm_set_c", pqm_set_c, 0},
	{"hnvmf_dam_get", dam_get, 0},
};
HNVMF_RPC_TABLE(engine, methods);
