/* The Prometheus text exposition of the target's statistics (see target/metrics.h). Rendering
 * takes the statistics' registry lock, tgt->lock and the controllers' locks briefly, as the
 * control socket does; never a reactor's time. */
#include "target/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pqm.h"
#include "target/sla.h"
#include "target/stats.h"

struct hnvmf_metrics {
	struct hnvmf_tgt *tgt;
	struct MHD_Daemon *mhd;
};

/* A growing text buffer; a failed allocation marks it failed and drops the rest. */
struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !o->failed; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n) * 2;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

/* A label value as the exposition format wants it: \, " and newline escaped. Host NQNs come
 * from the network. */
static const char *esc(const char *s, char *buf, size_t len)
{
	size_t k = 0;
	for (; *s && k + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			buf[k++] = '\\';
			buf[k++] = *s == '\n' ? 'n' : *s;
		} else {
			buf[k++] = *s;
		}
	}
	buf[k] = '\0';
	return buf;
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One tenant's throttle count (hnvmf_engine_each_tenant): host="" is the default tenant, the
 * hosts without a tenant file. */
static void put_throttled(void *arg, const char *tenant, uint64_t throttled)
{
	char buf[3 * 224];
	put(arg, "hnvmf_qos_throttled_total{host=\"%s\"} %" PRIu64 "\n", esc(tenant, buf, sizeof(buf)), throttled);
}

/* The labels of a statistics key, without braces. */
static void key_labels(const struct hnvmf_stats_key *k, char *buf, size_t len)
{
	char sub[2 * HNVMF_NQN_MAX], host[2 * HNVMF_NQN_MAX];
	char cntlid[8] = "";
	if (k->cntlid)
		snprintf(cntlid, sizeof(cntlid), "%u", k->cntlid);
	snprintf(buf, len, "subsystem=\"%s\",nsid=\"%u\",host=\"%s\",cntlid=\"%s\",transport=\"%s\",mode=\"%s\"",
		 esc(k->subnqn, sub, sizeof(sub)), k->nsid, esc(k->hostnqn, host, sizeof(host)), cntlid,
		 k->transport, hnvmf_path_mode_name((enum hnvmf_path_mode)k->mode));
}

static const char *const op_names[HNVMF_STATS_NOPS] = { "read", "write", "other" };

static void io_stats(struct out *o, struct hnvmf_tgt *tgt)
{
	struct hnvmf_stats_snap *s;
	int n = hnvmf_stats_collect(tgt->stats, &s);
	if (n < 0) {
		o->failed = true;
		return;
	}
	char l[1200];
	family(o, "hnvmf_commands_total", "counter", "I/O queue commands completed (response queued), by class.");
	for (int i = 0; i < n; i++) {
		key_labels(&s[i].key, l, sizeof(l));
		for (unsigned op = 0; op < HNVMF_STATS_NOPS; op++)
			put(o, "hnvmf_commands_total{%s,op=\"%s\"} %" PRIu64 "\n", l, op_names[op], s[i].v[HNVMF_ST_CMDS + op]);
	}
	family(o, "hnvmf_arrivals_total", "counter", "I/O queue commands received.");
	for (int i = 0; i < n; i++) {
		key_labels(&s[i].key, l, sizeof(l));
		put(o, "hnvmf_arrivals_total{%s} %" PRIu64 "\n", l, s[i].v[HNVMF_ST_ARRIVALS]);
	}
	family(o, "hnvmf_bytes_total", "counter", "Data moved by successful Read and Write commands.");
	for (int i = 0; i < n; i++) {
		key_labels(&s[i].key, l, sizeof(l));
		for (unsigned op = 0; op < 2; op++)
			put(o, "hnvmf_bytes_total{%s,op=\"%s\"} %" PRIu64 "\n", l, op_names[op], s[i].v[HNVMF_ST_BYTES + op]);
	}
	family(o, "hnvmf_command_errors_total", "counter",
	       "I/O queue commands completed with an error, by status code type and status code (\"other\": past the statuses kept apart).");
	for (int i = 0; i < n; i++) {
		key_labels(&s[i].key, l, sizeof(l));
		for (unsigned e = 0; e < HNVMF_STATS_ERR_SLOTS; e++) {
			uint16_t st = s[i].err_status[e];
			if (!st)
				continue;
			if (st == HNVMF_STATS_ERR_OTHER)
				put(o, "hnvmf_command_errors_total{%s,sct=\"other\",sc=\"other\"} %" PRIu64 "\n", l,
				    s[i].v[HNVMF_ST_ERRS + e]);
			else
				put(o, "hnvmf_command_errors_total{%s,sct=\"%u\",sc=\"0x%02x\"} %" PRIu64 "\n", l,
				    (st >> 8) & 7u, st & 0xffu, s[i].v[HNVMF_ST_ERRS + e]);
		}
	}
	family(o, "hnvmf_command_latency_seconds", "histogram",
	       "Target-side latency of I/O queue commands: capsule received to response queued.");
	for (int i = 0; i < n; i++) {
		key_labels(&s[i].key, l, sizeof(l));
		uint64_t cum = 0;
		for (unsigned b = 0; b < HNVMF_LAT_BUCKETS; b++) {
			cum += s[i].v[HNVMF_ST_HIST + b];
			put(o, "hnvmf_command_latency_seconds_bucket{%s,le=\"%g\"} %" PRIu64 "\n", l,
			    hnvmf_lat_bound_us(b) / 1e6, cum);
		}
		cum += s[i].v[HNVMF_ST_HIST + HNVMF_LAT_BUCKETS];
		put(o, "hnvmf_command_latency_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", l, cum);
		put(o, "hnvmf_command_latency_seconds_sum{%s} %.9f\n", l, (double)s[i].v[HNVMF_ST_LAT_SUM_NS] / 1e9);
		put(o, "hnvmf_command_latency_seconds_count{%s} %" PRIu64 "\n", l, cum);
	}
	free(s);
}

/* Queues by transport, engine path and kind; each NVMe/TCP or NVMe/RDMA queue is a connection. */
static void queues(struct out *o, struct hnvmf_tgt *tgt)
{
	enum { NT = 2, NM = HNVMF_PATH_BASELINE + 1 };
	static const char *const tr[NT] = { "tcp", "rdma" };
	unsigned count[NT][NM][2] = {{{0}}}, ctrls = 0;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		ctrls++;
		pthread_mutex_lock(&c->lock);
		for (unsigned q = 0; q <= HNVMF_MAX_IO_QUEUES; q++) {
			const struct hnvmf_sq *sq = c->sqs[q];
			if (!sq)
				continue;
			unsigned t = sq->ops->name && strcmp(sq->ops->name, "rdma") == 0;
			if ((unsigned)sq->mode < NM)
				count[t][sq->mode][q != 0]++;
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	family(o, "hnvmf_controllers", "gauge", "Controllers (admin queues connected).");
	put(o, "hnvmf_controllers %u\n", ctrls);
	family(o, "hnvmf_queues", "gauge", "Connected queues (one connection each), by transport, engine path and kind.");
	for (unsigned t = 0; t < NT; t++)
		for (unsigned m = 0; m < NM; m++)
			for (unsigned k = 0; k < 2; k++)
				put(o, "hnvmf_queues{transport=\"%s\",mode=\"%s\",kind=\"%s\"} %u\n", tr[t],
				    hnvmf_path_mode_name((enum hnvmf_path_mode)m), k ? "io" : "admin", count[t][m][k]);
}

static void control_path(struct out *o, struct hnvmf_tgt *tgt)
{
	family(o, "hnvmf_auth_successes_total", "counter", "DH-HMAC-CHAP exchanges that succeeded.");
	put(o, "hnvmf_auth_successes_total %" PRIu64 "\n", hnvmf_stats_auth(tgt->stats, HNVMF_AUTH_OK));
	family(o, "hnvmf_auth_failures_total", "counter",
	       "DH-HMAC-CHAP exchanges that failed, by reason (the Failure1 explanation, backoff, timeout, abandoned).");
	for (unsigned r = HNVMF_AUTH_FAILED; r < HNVMF_AUTH_NOUTCOMES; r++)
		put(o, "hnvmf_auth_failures_total{reason=\"%s\"} %" PRIu64 "\n", hnvmf_auth_outcome_name(r),
		    hnvmf_stats_auth(tgt->stats, r));
	pthread_mutex_lock(&tgt->lock);
	uint64_t prev_dh = tgt->dhchap_prev_used, prev_tls = tgt->tls_prev_used;
	pthread_mutex_unlock(&tgt->lock);
	family(o, "hnvmf_auth_previous_key_total", "counter",
	       "Queues authenticated with a key a reload replaced, during its grace period (docs/auth.md), by kind.");
	put(o, "hnvmf_auth_previous_key_total{kind=\"dhchap\"} %" PRIu64 "\n", prev_dh);
	put(o, "hnvmf_auth_previous_key_total{kind=\"tls\"} %" PRIu64 "\n", prev_tls);
	family(o, "hnvmf_dam_grants_total", "counter", "Queues granted DAM (a dedicated I/O server).");
	put(o, "hnvmf_dam_grants_total %" PRIu64 "\n", hnvmf_stats_dam(tgt->stats, true));
	family(o, "hnvmf_dam_revocations_total", "counter", "DAM grants revoked by a reload.");
	put(o, "hnvmf_dam_revocations_total %" PRIu64 "\n", hnvmf_stats_dam(tgt->stats, false));
	struct hnvmf_dam_usage du = hnvmf_dam_usage(tgt->engine);
	family(o, "hnvmf_dam_units", "gauge", "DAM units (one per I/O queue granted DAM) held now.");
	put(o, "hnvmf_dam_units %u\n", du.used);
	family(o, "hnvmf_dam_units_capacity", "gauge", "DAM units there are (docs/dam.md); 0: unlimited.");
	put(o, "hnvmf_dam_units_capacity %u\n", du.capacity);
	family(o, "hnvmf_qos_throttled_total", "counter",
	       "I/O commands of a tenant that its limits (max_iops, max_*_mbps) held back at least once.");
	hnvmf_engine_each_tenant(tgt->engine, put_throttled, o);
}

/* Always present, so that a dashboard finds them: before the first sizing epoch λ and μ are 0
 * and W is NaN (not known); W is +Inf when no pool size keeps up. */
/* A gauge in seconds that may be unknown (NaN) or unbounded (+Inf), as the format spells them. */
static void put_seconds(struct out *o, const char *name, double v)
{
	if (isnan(v))
		put(o, "%s NaN\n", name);
	else if (isinf(v))
		put(o, "%s +Inf\n", name);
	else
		put(o, "%s %.9f\n", name, v);
}

static void pqm(struct out *o, struct hnvmf_tgt *tgt)
{
	struct hnvmf_pqm_trace_point all[256], last = {.w = NAN, .w_measured = NAN};
	unsigned c = hnvmf_pqm_current_c(tgt->engine);
	size_t n = c ? hnvmf_pqm_trace(tgt->engine, all, 256) : 0;
	if (n)
		last = all[n - 1];
	family(o, "hnvmf_pqm_servers", "gauge", "PQM I/O servers receiving work (c); 0 before the pool starts.");
	put(o, "hnvmf_pqm_servers %u\n", c);
	family(o, "hnvmf_pqm_arrivals_per_second", "gauge", "PQM arrival rate λ measured over the last sizing epoch.");
	put(o, "hnvmf_pqm_arrivals_per_second %.3f\n", last.lambda);
	family(o, "hnvmf_pqm_service_rate_per_second", "gauge", "Modelled per-server service rate μ(c) at the current c (0: no model yet).");
	put(o, "hnvmf_pqm_service_rate_per_second %.3f\n", last.mu);
	family(o, "hnvmf_pqm_predicted_response_seconds", "gauge",
	       "Predicted M/M/c response time W(c) at the device subqueues, beside hnvmf_pqm_measured_response_seconds.");
	put_seconds(o, "hnvmf_pqm_predicted_response_seconds", last.w);
	family(o, "hnvmf_pqm_measured_response_seconds", "gauge",
	       "Measured mean response time over the last sizing epoch: from the reactor's hand-off to the backend's completion at the I/O server (NaN: nothing completed).");
	put_seconds(o, "hnvmf_pqm_measured_response_seconds", last.w_measured);
}

static void sla(struct out *o, struct hnvmf_tgt *tgt)
{
	struct hnvmf_sla_result *r;
	int n = hnvmf_sla_results(tgt->sla, &r);
	if (n < 0) {
		o->failed = true;
		return;
	}
	static const struct {
		const char *name, *help;
		size_t off;
		double scale;
	} g[] = {
		{ "hnvmf_tenant_iops", "Commands completed per second over the last SLA epoch.", offsetof(struct hnvmf_sla_result, iops), 1 },
		{ "hnvmf_tenant_arrivals_per_second", "Commands received per second over the last SLA epoch.", offsetof(struct hnvmf_sla_result, arrivals_per_s), 1 },
		{ "hnvmf_tenant_read_bytes_per_second", "Bytes read per second over the last SLA epoch.", offsetof(struct hnvmf_sla_result, read_bytes_per_s), 1 },
		{ "hnvmf_tenant_write_bytes_per_second", "Bytes written per second over the last SLA epoch.", offsetof(struct hnvmf_sla_result, write_bytes_per_s), 1 },
		{ "hnvmf_tenant_latency_p50_seconds", "Target-side latency p50 over the last SLA epoch.", offsetof(struct hnvmf_sla_result, p50_us), 1e-6 },
		{ "hnvmf_tenant_latency_p99_seconds", "Target-side latency p99 over the last SLA epoch.", offsetof(struct hnvmf_sla_result, p99_us), 1e-6 },
	};
	char h[2 * HNVMF_NQN_MAX];
	for (size_t k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		family(o, g[k].name, "gauge", g[k].help);
		for (int i = 0; i < n; i++)
			put(o, "%s{host=\"%s\"} %.9g\n", g[k].name, esc(r[i].hostnqn, h, sizeof(h)),
			    *(const double *)((const char *)&r[i] + g[k].off) * g[k].scale);
	}
	static const char *const kinds[HNVMF_SLA_NKINDS] = { "reservation", "latency" };
	family(o, "hnvmf_tenant_sla_met", "gauge", "1 when the tenant's goal was met in the last SLA epoch, 0 when missed; absent without a goal.");
	for (int i = 0; i < n; i++)
		for (unsigned k = 0; k < HNVMF_SLA_NKINDS; k++)
			if (r[i].verdict[k] != HNVMF_SLA_NONE)
				put(o, "hnvmf_tenant_sla_met{host=\"%s\",goal=\"%s\"} %d\n", esc(r[i].hostnqn, h, sizeof(h)),
				    kinds[k], r[i].verdict[k] == HNVMF_SLA_MET);
	family(o, "hnvmf_tenant_sla_missed_epochs_total", "counter", "SLA epochs in which the tenant's goal was missed.");
	for (int i = 0; i < n; i++)
		for (unsigned k = 0; k < HNVMF_SLA_NKINDS; k++)
			put(o, "hnvmf_tenant_sla_missed_epochs_total{host=\"%s\",goal=\"%s\"} %" PRIu64 "\n",
			    esc(r[i].hostnqn, h, sizeof(h)), kinds[k], r[i].missed_epochs[k]);
	free(r);
}

char *hnvmf_metrics_render(struct hnvmf_tgt *tgt, size_t *len)
{
	struct out o = {0};
	io_stats(&o, tgt);
	queues(&o, tgt);
	control_path(&o, tgt);
	pqm(&o, tgt);
	sla(&o, tgt);
	if (o.failed || !o.buf) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_len, void **ctx)
{
	struct hnvmf_metrics *mx = cls;
	(void)version;
	(void)upload;
	(void)ctx;
	struct MHD_Response *resp;
	unsigned code;
	if (*upload_len) /* a body where none belongs: refuse it, read none of it */
		return MHD_NO;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char m[] = "only GET\n";
		resp = MHD_create_response_from_buffer(sizeof(m) - 1, (void *)m, MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		static const char m[] = "see /metrics\n";
		resp = MHD_create_response_from_buffer(sizeof(m) - 1, (void *)m, MHD_RESPMEM_PERSISTENT);
		code = MHD_HTTP_NOT_FOUND;
	} else {
		size_t len;
		char *text = hnvmf_metrics_render(mx->tgt, &len);
		if (!text)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		code = MHD_HTTP_OK;
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
	enum MHD_Result r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return r;
}

int hnvmf_metrics_start(struct hnvmf_tgt *tgt, const struct hnvmf_conf_metrics *m, struct hnvmf_metrics **out)
{
	struct sockaddr_storage ss = {0};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, m->addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(m->port);
	} else if (inet_pton(AF_INET6, m->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(m->port);
		flags |= MHD_USE_IPv6;
	} else {
		return -EINVAL;
	}
	struct hnvmf_metrics *mx = calloc(1, sizeof(*mx));
	if (!mx)
		return -ENOMEM;
	mx->tgt = tgt;
	mx->mhd = MHD_start_daemon(flags, m->port, NULL, NULL, answer, mx, MHD_OPTION_SOCK_ADDR, &ss,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)HNVMF_METRICS_MAX_CONNECTIONS,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HNVMF_METRICS_TIMEOUT_S,
				   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_END);
	if (!mx->mhd) {
		int e = errno ? errno : EADDRINUSE;
		free(mx);
		return -e;
	}
	*out = mx;
	return 0;
}

void hnvmf_metrics_stop(struct hnvmf_metrics *mx)
{
	if (!mx)
		return;
	MHD_stop_daemon(mx->mhd);
	free(mx);
}
