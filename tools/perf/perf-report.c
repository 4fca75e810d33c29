/* What hnvmf-perf perf prints: the table (a row each for reads, writes and all), failed
 * commands by status name, the latency histograms (-L), the JSON document (built with json-c,
 * so every string is escaped by it) and the progress line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "proto/nvme-status.h"
#include "tools/perf/perf.h"

void perf_errs_add(struct perf_errs *e, int status, uint64_t n)
{
	e->total += n;
	for (unsigned i = 0; i < e->n; i++) {
		if (e->status[i] == status) {
			e->count[i] += n;
			return;
		}
	}
	if (e->n == PERF_ERR_KINDS) {
		e->other += n;
		return;
	}
	e->status[e->n] = status;
	e->count[e->n++] = n;
}

void perf_errs_merge(struct perf_errs *dst, const struct perf_errs *src)
{
	for (unsigned i = 0; i < src->n; i++)
		perf_errs_add(dst, src->status[i], src->count[i]);
	dst->other += src->other;
	dst->total += src->other;
}

/* One direction's figures, from its histogram (ns) and byte count. */
struct lat_row {
	uint64_t ios;
	double iops, mbps, min, avg, p50, p99, p999, max; /* latencies in µs */
};

static struct lat_row row_of(const struct perf_hist *h, uint64_t bytes, double secs)
{
	struct lat_row r = { .ios = h->count };
	if (secs > 0) {
		r.iops = (double)h->count / secs;
		r.mbps = (double)bytes / secs / 1e6;
	}
	if (h->count) {
		r.min = (double)h->min / 1e3;
		r.avg = (double)h->sum / (double)h->count / 1e3;
		r.p50 = (double)perf_hist_percentile(h, 50) / 1e3;
		r.p99 = (double)perf_hist_percentile(h, 99) / 1e3;
		r.p999 = (double)perf_hist_percentile(h, 99.9) / 1e3;
		r.max = (double)h->max / 1e3;
	}
	return r;
}

/* Both directions together; NULL when out of memory. */
static struct perf_hist *merged(const struct perf_result *r)
{
	struct perf_hist *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	perf_hist_init(h);
	perf_hist_merge(h, r->lat_read);
	perf_hist_merge(h, r->lat_write);
	return h;
}

static void print_row(FILE *f, const char *name, const struct lat_row *r)
{
	fprintf(f, "%-6s %12.0f %10.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", name, r->iops, r->mbps,
		r->min, r->avg, r->p50, r->p99, r->p999, r->max);
}

void perf_hist_print(FILE *f, const struct perf_hist *h, const char *title)
{
	fprintf(f, "latency histogram, %s (%" PRIu64 " I/Os):\n", title, h->count);
	if (!h->count)
		return;
	fprintf(f, "%25s %11s %12s\n", "range (us)", "cumulative", "I/Os");
	uint64_t seen = 0;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS; i++) {
		if (!h->b[i])
			continue;
		seen += h->b[i];
		fprintf(f, "%11.3f - %11.3f %10.4f%% %12" PRIu64 "\n", (double)perf_hist_bucket_low(i) / 1e3,
			(double)(perf_hist_bucket_high(i) + 1) / 1e3, 100.0 * (double)seen / (double)h->count,
			h->b[i]);
	}
}

void perf_report_text(FILE *f, const struct perf_opts *o, const struct perf_result *r)
{
	fprintf(f, "hnvmf-perf: %s %u B, qd %u x %u queue(s) x %u connection(s), %u thread(s), %.2f s%s%s",
		perf_workload_name(o->wl), o->io_size, o->qd, o->queues, r->connections, r->threads,
		r->seconds, o->hdgst ? ", hdgst" : "", o->ddgst ? ", ddgst" : "");
	if (o->warmup)
		fprintf(f, " after %u s warm-up", o->warmup);
	if (o->rate)
		fprintf(f, ", offered %" PRIu64 " IOPS", o->rate);
	fputc('\n', f);
	fprintf(f, "%-6s %12s %10s %9s %9s %9s %9s %9s %9s\n", "", "IOPS", "MB/s", "min(us)", "avg(us)",
		"p50(us)", "p99(us)", "p99.9(us)", "max(us)");
	struct lat_row rd = row_of(r->lat_read, r->bytes_read, r->seconds);
	struct lat_row wr = row_of(r->lat_write, r->bytes_written, r->seconds);
	if (r->reads)
		print_row(f, "read", &rd);
	if (r->writes)
		print_row(f, "write", &wr);
	struct perf_hist *all = merged(r);
	if (all) {
		struct lat_row t = row_of(all, r->bytes_read + r->bytes_written, r->seconds);
		print_row(f, "total", &t);
		free(all);
	}
	fprintf(f, "reads %" PRIu64 ", writes %" PRIu64 ", errors %" PRIu64 "\n", r->reads, r->writes,
		r->errs.total);
	char sb[128];
	for (unsigned i = 0; i < r->errs.n; i++)
		fprintf(f, "  %" PRIu64 " x %s\n", r->errs.count[i], hnvmf_ini_status_str(r->errs.status[i], sb, sizeof(sb)));
	if (r->errs.other)
		fprintf(f, "  %" PRIu64 " x other statuses\n", r->errs.other);
	if (o->rate && r->rate_backlog)
		fprintf(f, "behind the schedule at the end: %" PRIu64 " I/Os not issued (the target did not keep up)\n",
			r->rate_backlog);
	if (r->tenant_ios && o->nhostnqn > 1)
		for (unsigned k = 0; k < o->nhostnqn; k++)
			fprintf(f, "  tenant %s: %.0f IOPS\n", o->hostnqn[k],
				r->seconds > 0 ? (double)r->tenant_ios[k] / r->seconds : 0);
	if (o->histogram) {
		if (r->reads || !r->writes)
			perf_hist_print(f, r->lat_read, "reads");
		if (r->writes)
			perf_hist_print(f, r->lat_write, "writes");
	}
}

/* obj[key] = v (json-c stores NULL, i.e. JSON null, when the value cannot be allocated). */
static void jdouble(json_object *obj, const char *key, double v)
{
	json_object_object_add(obj, key, json_object_new_double(v));
}

static void ju64(json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void jint64(json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

static void jbool(json_object *obj, const char *key, bool v)
{
	json_object_object_add(obj, key, json_object_new_boolean(v));
}

/* json-c returns NULL when out of memory and stores a NULL member as JSON null, so a failed
 * allocation in here shows as a null field rather than a crash. */
static json_object *lat_json(const struct lat_row *r)
{
	json_object *l = json_object_new_object();
	jdouble(l, "min", r->min);
	jdouble(l, "avg", r->avg);
	jdouble(l, "p50", r->p50);
	jdouble(l, "p99", r->p99);
	jdouble(l, "p99_9", r->p999);
	jdouble(l, "max", r->max);
	return l;
}

static json_object *dir_json(const struct lat_row *r)
{
	json_object *d = json_object_new_object();
	ju64(d, "ios", r->ios);
	jdouble(d, "iops", r->iops);
	jdouble(d, "mbps", r->mbps);
	json_object_object_add(d, "lat_us", lat_json(r));
	return d;
}

static json_object *hist_json(const struct perf_hist *h)
{
	json_object *a = json_object_new_array();
	uint64_t seen = 0;
	for (unsigned i = 0; i < PERF_HIST_BUCKETS && a; i++) {
		if (!h->b[i])
			continue;
		seen += h->b[i];
		json_object *b = json_object_new_object();
		jdouble(b, "low_us", (double)perf_hist_bucket_low(i) / 1e3);
		json_object_object_add(b, "high_us",
				       json_object_new_double((double)(perf_hist_bucket_high(i) + 1) / 1e3));
		ju64(b, "count", h->b[i]);
		json_object_object_add(b, "cumulative_pct",
				       json_object_new_double(100.0 * (double)seen / (double)h->count));
		json_object_array_add(a, b);
	}
	return a;
}

char *perf_report_json(const struct perf_opts *o, const struct perf_result *r)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	struct lat_row rd = row_of(r->lat_read, r->bytes_read, r->seconds);
	struct lat_row wr = row_of(r->lat_write, r->bytes_written, r->seconds);
	struct perf_hist *all = merged(r);
	if (!all) {
		json_object_put(j);
		return NULL;
	}
	struct lat_row t = row_of(all, r->bytes_read + r->bytes_written, r->seconds);
	free(all);
	json_object_object_add(j, "workload", json_object_new_string(perf_workload_name(o->wl)));
	jint64(j, "io_size", o->io_size);
	jint64(j, "qd", o->qd);
	jint64(j, "read_pct", o->read_pct);
	jint64(j, "connections", r->connections);
	jint64(j, "queues", o->queues);
	jint64(j, "threads", r->threads);
	jbool(j, "hdgst", o->hdgst);
	jbool(j, "ddgst", o->ddgst);
	jint64(j, "warmup", o->warmup);
	ju64(j, "rate", o->rate);
	jdouble(j, "seconds", r->seconds);
	ju64(j, "ios", r->reads + r->writes);
	ju64(j, "reads", r->reads);
	ju64(j, "writes", r->writes);
	ju64(j, "errors", r->errs.total);
	jdouble(j, "iops", t.iops);
	jdouble(j, "mbps", t.mbps);
	json_object_object_add(j, "lat_us", lat_json(&t));
	json_object_object_add(j, "read", dir_json(&rd));
	json_object_object_add(j, "write", dir_json(&wr));
	json_object *errs = json_object_new_array();
	char sb[128];
	for (unsigned i = 0; i < r->errs.n && errs; i++) {
		json_object *e = json_object_new_object();
		int st = r->errs.status[i];
		if (st < 0) {
			json_object_object_add(e, "errno", json_object_new_int(-st));
			json_object_object_add(e, "name", json_object_new_string(hnvmf_ini_status_str(st, sb, sizeof(sb))));
		} else {
			const char *name = hnvmf_status_name((uint16_t)st, false);
			json_object_object_add(e, "status", json_object_new_int(st));
			json_object_object_add(e, "sct", json_object_new_int((int)hnvmf_status_sct((uint16_t)st)));
			json_object_object_add(e, "sc", json_object_new_int((int)hnvmf_status_sc((uint16_t)st)));
			jbool(e, "dnr", st & NVME_SC_DNR);
			json_object_object_add(e, "name", name ? json_object_new_string(name) : NULL);
		}
		ju64(e, "count", r->errs.count[i]);
		json_object_array_add(errs, e);
	}
	json_object_object_add(j, "errors_by_status", errs);
	ju64(j, "errors_other", r->errs.other);
	if (o->rate)
		ju64(j, "rate_backlog", r->rate_backlog);
	json_object *ten = json_object_new_array();
	for (unsigned k = 0; r->tenant_ios && ten && k < o->nhostnqn; k++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "hostnqn", json_object_new_string(o->hostnqn[k]));
		json_object_object_add(e, "iops", json_object_new_double(
			r->seconds > 0 ? (double)r->tenant_ios[k] / r->seconds : 0));
		json_object_array_add(ten, e);
	}
	json_object_object_add(j, "tenants", ten);
	if (o->histogram) {
		json_object *h = json_object_new_object();
		json_object_object_add(h, "read", hist_json(r->lat_read));
		json_object_object_add(h, "write", hist_json(r->lat_write));
		json_object_object_add(j, "histogram", h);
	}
	if (r->error)
		json_object_object_add(j, "error", json_object_new_string(r->error));
	/* µs with ns resolution; json-c's default prints binary noise (51.438000000000002) */
	json_c_set_serialization_double_format("%.3f", JSON_C_OPTION_GLOBAL);
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	char *out = s ? strdup(s) : NULL;
	json_object_put(j);
	return out;
}

void perf_progress_format(char *buf, size_t len, bool warmup, double elapsed_s, double total_s,
			  uint64_t ios, uint64_t bytes, double interval_s, uint64_t errors)
{
	char when[48];
	if (total_s > 0)
		snprintf(when, sizeof(when), "%s%.0f/%.0f s", warmup ? "warm-up " : "", elapsed_s, total_s);
	else
		snprintf(when, sizeof(when), "%s%.0f s", warmup ? "warm-up " : "", elapsed_s);
	double iops = interval_s > 0 ? (double)ios / interval_s : 0;
	double mbps = interval_s > 0 ? (double)bytes / interval_s / 1e6 : 0;
	snprintf(buf, len, "[%s] %.0f IOPS, %.1f MB/s, %" PRIu64 " errors", when, iops, mbps, errors);
}
