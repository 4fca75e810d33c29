/* Statistics (target/stats.h) by controller, namespace and tenant, the transports' requests,
 * authentication counters, and the SLA epochs (target/sla.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "target/auth-limit.h"
#include "target/auth-worker.h"
#include "target/key-grace.h"
#include "target/sla.h"
#include "target/stats.h"
#include "target/rpc.h"

/* One record's figures: commands, bytes, errors by status, latency. */
static struct json_object *figures(const struct hnvmf_stats_snap *s)
{
	struct json_object *o = json_object_new_object();
	static const char *const ops[HNVMF_STATS_NOPS] = {"read", "write", "other"};
	struct json_object *cmds = json_object_new_object();
	for (int op = 0; op < HNVMF_STATS_NOPS; op++)
		json_object_object_add(cmds, ops[op], json_object_new_uint64(s->v[HNVMF_ST_CMDS + op]));
	json_object_object_add(o, "commands", cmds);
	struct json_object *bytes = json_object_new_object();
	json_object_object_add(bytes, "read", json_object_new_uint64(s->v[HNVMF_ST_BYTES]));
	json_object_object_add(bytes, "write", json_object_new_uint64(s->v[HNVMF_ST_BYTES + 1]));
	json_object_object_add(o, "bytes", bytes);
	json_object_object_add(o, "arrivals", json_object_new_uint64(s->v[HNVMF_ST_ARRIVALS]));
	uint64_t done = 0;
	for (int op = 0; op < HNVMF_STATS_NOPS; op++)
		done += s->v[HNVMF_ST_CMDS + op];
	/* status as the NVMe status field (SCT << 8 | SC); "other": statuses past the slots */
	struct json_object *errs = json_object_new_array();
	for (int i = 0; i < HNVMF_STATS_ERR_SLOTS; i++) {
		if (!s->err_status[i])
			continue;
		struct json_object *e = json_object_new_object();
		char st[16];
		if (s->err_status[i] == HNVMF_STATS_ERR_OTHER)
			snprintf(st, sizeof(st), "other");
		else
			snprintf(st, sizeof(st), "0x%03x", s->err_status[i]);
		json_object_object_add(e, "status", json_object_new_string(st));
		json_object_object_add(e, "count", json_object_new_uint64(s->v[HNVMF_ST_ERRS + i]));
		json_object_array_add(errs, e);
	}
	json_object_object_add(o, "errors", errs);
	struct json_object *lat = json_object_new_object();
	json_object_object_add(lat, "mean_us", json_object_new_double(done ? (double)s->v[HNVMF_ST_LAT_SUM_NS] / (double)done / 1000.0 : 0.0));
	json_object_object_add(lat, "p50_us", json_object_new_double(hnvmf_lat_quantile_us(&s->v[HNVMF_ST_HIST], 0.5)));
	json_object_object_add(lat, "p99_us", json_object_new_double(hnvmf_lat_quantile_us(&s->v[HNVMF_ST_HIST], 0.99)));
	json_object_object_add(o, "latency", lat);
	return o;
}

enum group { BY_CTRL, BY_NS, BY_TENANT };

static bool same(enum group g, const struct hnvmf_stats_key *a, const struct hnvmf_stats_key *b)
{
	switch (g) {
	case BY_CTRL:
		return a->cntlid == b->cntlid && strcmp(a->subnqn, b->subnqn) == 0 && strcmp(a->hostnqn, b->hostnqn) == 0;
	case BY_NS:
		return a->nsid == b->nsid && strcmp(a->subnqn, b->subnqn) == 0;
	default:
		return strcmp(a->hostnqn, b->hostnqn) == 0;
	}
}

/* The records summed by g's key; the key fields that g keeps are named in each entry. */
static struct json_object *grouped(const struct hnvmf_stats_snap *snap, int n, enum group g)
{
	struct hnvmf_stats_snap *sum = calloc((size_t)n + 1, sizeof(*sum));
	if (!sum)
		return NULL;
	int ns = 0;
	for (int i = 0; i < n; i++) {
		if (g == BY_CTRL && snap[i].key.cntlid == 0)
			continue; /* controllers that are gone */
		int j = 0;
		while (j < ns && !same(g, &sum[j].key, &snap[i].key))
			j++;
		if (j == ns) {
			sum[ns].key = snap[i].key;
			ns++;
		}
		hnvmf_stats_snap_add(&sum[j], &snap[i]);
	}
	struct json_object *a = json_object_new_array();
	for (int j = 0; j < ns; j++) {
		struct json_object *o = figures(&sum[j]);
		if (g != BY_TENANT)
			json_object_object_add(o, "subnqn", json_object_new_string(sum[j].key.subnqn));
		if (g != BY_NS)
			json_object_object_add(o, "hostnqn", json_object_new_string(sum[j].key.hostnqn));
		if (g == BY_CTRL)
			json_object_object_add(o, "cntlid", json_object_new_int(sum[j].key.cntlid));
		if (g == BY_NS)
			json_object_object_add(o, "nsid", json_object_new_int64(sum[j].key.nsid));
		json_object_array_add(a, o);
	}
	free(sum);
	return a;
}

/* The queues: records as they are kept, by (subsystem, namespace, host, controller, mode,
 * transport): a controller's queues of one mode are summed. */
static struct json_object *queues(const struct hnvmf_stats_snap *snap, int n)
{
	struct json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++) {
		struct json_object *o = figures(&snap[i]);
		json_object_object_add(o, "subnqn", json_object_new_string(snap[i].key.subnqn));
		json_object_object_add(o, "hostnqn", json_object_new_string(snap[i].key.hostnqn));
		json_object_object_add(o, "cntlid", json_object_new_int(snap[i].key.cntlid));
		json_object_object_add(o, "nsid", json_object_new_int64(snap[i].key.nsid));
		json_object_object_add(o, "mode", json_object_new_string(hnvmf_path_mode_name(snap[i].key.mode)));
		json_object_object_add(o, "transport", json_object_new_string(snap[i].key.transport));
		json_object_array_add(a, o);
	}
	return a;
}

/* "NAME requests: STATE N STATE N ..." lines (the transports' own text) as {NAME: {STATE: N}}. */
static struct json_object *transports(const struct hnvmf_rpc_daemon *d)
{
	struct json_object *r = json_object_new_object();
	if (!d || !d->transport_requests)
		return r;
	char buf[4096];
	struct hnvmf_strbuf sb = hnvmf_strbuf(buf, sizeof(buf));
	d->transport_requests(&sb);
	for (char *save, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strstr(line, " requests:");
		if (!colon)
			continue;
		*colon = '\0';
		struct json_object *t = json_object_new_object();
		char *save2;
		for (char *k = strtok_r(colon + 10, " ", &save2); k; k = strtok_r(NULL, " ", &save2)) {
			char *v = strtok_r(NULL, " ", &save2);
			if (!v)
				break;
			json_object_object_add(t, k, json_object_new_uint64(strtoull(v, NULL, 10)));
		}
		json_object_object_add(r, line, t);
	}
	return r;
}

static struct json_object *auth(struct hnvmf_tgt *tgt)
{
	struct json_object *o = json_object_new_object();
	/* dh_jobs: DH steps the workers computed; refused: attempts refused during a back-off;
	 * busy: DH steps refused because the workers' queue was full */
	json_object_object_add(o, "workers", json_object_new_int((int)hnvmf_auth_pool_workers(tgt->auth_pool)));
	json_object_object_add(o, "dh_jobs", json_object_new_uint64(hnvmf_auth_pool_jobs_done(tgt->auth_pool)));
	json_object_object_add(o, "refused", json_object_new_uint64(hnvmf_auth_limit_refused(tgt->auth_limit)));
	json_object_object_add(o, "busy", json_object_new_uint64(hnvmf_auth_pool_jobs_refused(tgt->auth_pool)));
	struct json_object *out = json_object_new_object();
	for (unsigned i = 0; i < HNVMF_AUTH_NOUTCOMES; i++)
		json_object_object_add(out, hnvmf_auth_outcome_name(i), json_object_new_uint64(hnvmf_stats_auth(tgt->stats, i)));
	json_object_object_add(o, "outcomes", out);
	/* hosts with a replaced key in its grace period, and authentications that used such a key
	 * (docs/auth.md, "Key rotation") */
	struct json_object *kg = json_object_new_object();
	pthread_mutex_lock(&tgt->lock);
	json_object_object_add(kg, "hosts_in_grace", json_object_new_uint64(hnvmf_key_grace_count(tgt)));
	json_object_object_add(kg, "previous_used_dhchap", json_object_new_uint64(tgt->dhchap_prev_used));
	json_object_object_add(kg, "previous_used_tls", json_object_new_uint64(tgt->tls_prev_used));
	pthread_mutex_unlock(&tgt->lock);
	json_object_object_add(o, "key_rotation", kg);
	return o;
}

static struct json_object *get_stats(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct hnvmf_stats_snap *snap;
	int n = hnvmf_stats_collect(ctx->tgt->stats, &snap);
	if (n < 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INTERNAL_ERROR, "out of memory");
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "controllers", grouped(snap, n, BY_CTRL));
	json_object_object_add(r, "namespaces", grouped(snap, n, BY_NS));
	json_object_object_add(r, "tenants", grouped(snap, n, BY_TENANT));
	json_object_object_add(r, "queues", queues(snap, n));
	free(snap);
	json_object_object_add(r, "transports", transports(ctx->daemon));
	json_object_object_add(r, "auth", auth(ctx->tgt));
	/* Backends taken out of service at run time: still open (a channel still used them at the
	 * last safe point), and closed since the start. */
	struct json_object *ret = json_object_new_object();
	json_object_object_add(ret, "held", json_object_new_uint64(hnvmf_retired_held(ctx->tgt)));
	pthread_mutex_lock(&ctx->tgt->lock);
	json_object_object_add(ret, "closed", json_object_new_uint64(ctx->tgt->retired_closed));
	pthread_mutex_unlock(&ctx->tgt->lock);
	json_object_object_add(r, "retired", ret);
	return r;
}

static struct json_object *sla_get(struct hnvmf_rpc_ctx *ctx, struct json_object *params)
{
	if (!hnvmf_rpc_param_only(ctx, params, (const char *const[]){NULL}))
		return NULL;
	struct hnvmf_sla_result *res = NULL;
	int n = ctx->tgt->sla ? hnvmf_sla_results(ctx->tgt->sla, &res) : 0;
	if (n < 0)
		return hnvmf_rpc_error(ctx, HNVMF_RPC_INTERNAL_ERROR, "out of memory");
	struct json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++) {
		const struct hnvmf_sla_result *x = &res[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "hostnqn", json_object_new_string(x->hostnqn));
		json_object_object_add(o, "epoch", json_object_new_uint64(x->epoch));
		json_object_object_add(o, "seconds", json_object_new_double(x->seconds));
		json_object_object_add(o, "iops", json_object_new_double(x->iops));
		json_object_object_add(o, "arrivals_per_s", json_object_new_double(x->arrivals_per_s));
		json_object_object_add(o, "read_bytes_per_s", json_object_new_double(x->read_bytes_per_s));
		json_object_object_add(o, "write_bytes_per_s", json_object_new_double(x->write_bytes_per_s));
		json_object_object_add(o, "p50_us", json_object_new_double(x->p50_us));
		json_object_object_add(o, "p99_us", json_object_new_double(x->p99_us));
		json_object_object_add(o, "reserved_iops", json_object_new_uint64(x->reserved_iops));
		json_object_object_add(o, "reservation", json_object_new_string(hnvmf_sla_verdict_name(x->verdict[HNVMF_SLA_RESERVATION])));
		json_object_object_add(o, "reservation_missed_epochs", json_object_new_uint64(x->missed_epochs[HNVMF_SLA_RESERVATION]));
		json_object_object_add(o, "latency_target_us", json_object_new_uint64(x->latency_target_us));
		json_object_object_add(o, "latency", json_object_new_string(hnvmf_sla_verdict_name(x->verdict[HNVMF_SLA_LATENCY])));
		json_object_object_add(o, "latency_missed_epochs", json_object_new_uint64(x->missed_epochs[HNVMF_SLA_LATENCY]));
		json_object_array_add(a, o);
	}
	free(res);
	return a;
}

static const struct hnvmf_rpc_method methods[] = {
	{"nvmf_get_stats", get_stats, 0},
	{"hnvmf_sla_get", sla_get, 0},
};
HNVMF_RPC_TABLE(stats, methods);
