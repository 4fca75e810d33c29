/* bench_paths: the engine's I/O paths (baseline, PQM, DAM, direct) side by side, at the channel
 * level with no network in the way.
 *
 * R reactor threads own the channels; each tenant has --queues channels ("I/O queues"), each
 * keeping --qd ios in flight (closed loop). Every io is timed from hnvmf_chan_submit to its done
 * callback on the reactor. For each backend (null, file through io_uring), workload (4 KiB random
 * read, 4 KiB 70/30 read/write) and tenant count, every mode runs for --seconds after a short
 * warm-up, on a fresh engine; the table gives IOPS, MB/s, p50/p99 latency and the process's CPU
 * use. --trace instead steps the load up and down under PQM and prints how the pool size c
 * followed it. Timing never fails the program: it prints what it measured. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>

#include "bench-common.h"
#include "core/log.h"
#include "core/pqm.h"

#define MAX_REACTORS 16
#define MAX_LIST 8

enum workload { WL_RANDREAD, WL_MIX };
static const char *const wl_names[] = {"randread", "mix70/30"};

struct opts {
	double seconds;
	unsigned warmup_ms;
	unsigned reactors;
	unsigned qd;
	unsigned queues;
	unsigned cmax;
	unsigned epoch_ms;
	const char *cpu_list;
	enum hnvmf_path_mode modes[4];
	unsigned nmodes;
	enum hnvmf_backend_type backends[2];
	unsigned nbackends;
	enum workload workloads[2];
	unsigned nworkloads;
	unsigned tenants[MAX_LIST];
	unsigned ntenants;
	const char *file;
	uint64_t size;
	bool fifo; /* PQM without its per-tenant scheduler ([pqm] fair = no) */
	uint64_t prefill;
	bool json;
	bool trace;
	unsigned trace_steps[MAX_LIST];
	unsigned ntrace_steps;
};

struct result {
	enum hnvmf_backend_type backend;
	enum workload wl;
	unsigned tenants;
	enum hnvmf_path_mode mode;
	bool ok;
	double secs, iops, mbps, cpu_pct, csw_per_io, kio_per_cpu_s;
	double sched[4]; /* reactor run, wait; servers run, wait: % of one cpu */
	uint64_t ios, errors, p50, p99, p999, max;
	double mean_us;
	unsigned c_end;
};

static struct opts O = {
	.seconds = 2.0,
	.warmup_ms = 300,
	.reactors = 1,
	.qd = 16,
	.queues = 2,
	.cmax = 2,
	.epoch_ms = 100,
	.modes = {HNVMF_PATH_BASELINE, HNVMF_PATH_PQM, HNVMF_PATH_DAM, HNVMF_PATH_DIRECT},
	.nmodes = 4,
	.backends = {HNVMF_BACKEND_NULL, HNVMF_BACKEND_FILE},
	.nbackends = 2,
	.workloads = {WL_RANDREAD, WL_MIX},
	.nworkloads = 2,
	.tenants = {1, 4, 16},
	.ntenants = 3,
	.file = "/tmp/hnvmf-bench-paths.img",
	.size = 1ull << 30,
	.trace_steps = {1, 4, 16, 4, 1},
	.ntrace_steps = 5,
};

static struct bench_pinning pin;
static cpu_set_t reactor_sets[MAX_REACTORS], server_set;
static struct hnvmf_reactor *reactors[MAX_REACTORS];
static atomic_bool measuring;
static FILE *out; /* tables; progress goes to stderr */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [options]\n"
		"  --seconds S       measured seconds per cell (default 2; warm-up 0.3 s extra)\n"
		"  --reactors N      reactor threads (default 1)\n"
		"  --qd N            ios in flight per queue (default 16)\n"
		"  --queues N        queues (channels) per tenant (default 2)\n"
		"  --cmax N          PQM pool size limit; also the baseline's server count (default 2)\n"
		"  --epoch-ms N      PQM sizing epoch (default 100)\n"
		"  --cpu-list R:S    reactors on cpus R, I/O servers on cpus S (default: first cpu : the rest);\n"
		"                    a list without ':' puts both on it\n"
		"  --modes LIST      of baseline,pqm,dam,direct (default all)\n"
		"  --backends LIST   of null,file (default both)\n"
		"  --workloads LIST  of randread,mix (default both)\n"
		"  --tenants LIST    tenant counts (default 1,4,16)\n"
		"  --file PATH       file backend path (default /tmp/hnvmf-bench-paths.img, created sparse\n"
		"                    and removed when it did not exist)\n"
		"  --size-mib N      file / null size (default 1024)\n"
		"  --prefill-mib N   write the first N MiB with data first (reads of it reach the device)\n"
		"  --json            JSON on stdout instead of tables\n"
		"  --trace           PQM with the sizing in control under a stepped load (tenants 1,4,16,4,1,\n"
		"                    --seconds each, default backend null): print c over time\n"
		"  --trace-steps L   tenant counts of the --trace steps\n"
		"  --pqm-fifo        PQM servers in arrival order, no per-tenant scheduling (fair = no);\n"
		"                    compare its CPU ns/io with a run without it for the scheduler's cost\n",
		argv0);
}

static unsigned parse_list_u(const char *s, unsigned *v, unsigned max)
{
	unsigned n = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
		v[n++] = (unsigned)strtoul(t, NULL, 10);
	free(copy);
	return n;
}

static bool parse_names(const char *s, const char *kind)
{
	char *copy = strdup(s), *save = NULL;
	bool ok = true;
	if (!strcmp(kind, "modes"))
		O.nmodes = 0;
	else if (!strcmp(kind, "backends"))
		O.nbackends = 0;
	else
		O.nworkloads = 0;
	for (char *t = strtok_r(copy, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(kind, "modes")) {
			ok = O.nmodes < 4 && bench_parse_mode(t, &O.modes[O.nmodes]);
			O.nmodes++;
		} else if (!strcmp(kind, "backends")) {
			ok = O.nbackends < 2 && (!strcmp(t, "null") || !strcmp(t, "file"));
			if (ok)
				O.backends[O.nbackends++] = !strcmp(t, "null") ? HNVMF_BACKEND_NULL : HNVMF_BACKEND_FILE;
		} else {
			ok = O.nworkloads < 2 && (!strcmp(t, "randread") || !strcmp(t, "mix"));
			if (ok)
				O.workloads[O.nworkloads++] = !strcmp(t, "randread") ? WL_RANDREAD : WL_MIX;
		}
	}
	free(copy);
	return ok;
}

static int parse_args(int argc, char **argv)
{
	enum { OPT_SECONDS = 256, OPT_REACTORS, OPT_QD, OPT_QUEUES, OPT_CMAX, OPT_EPOCH, OPT_CPUS, OPT_MODES,
	       OPT_BACKENDS, OPT_WORKLOADS, OPT_TENANTS, OPT_FILE, OPT_SIZE, OPT_PREFILL, OPT_JSON, OPT_TRACE,
	       OPT_TRACE_STEPS, OPT_HELP, OPT_FIFO };
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, OPT_SECONDS},
		{"reactors", required_argument, NULL, OPT_REACTORS},
		{"qd", required_argument, NULL, OPT_QD},
		{"queues", required_argument, NULL, OPT_QUEUES},
		{"cmax", required_argument, NULL, OPT_CMAX},
		{"epoch-ms", required_argument, NULL, OPT_EPOCH},
		{"cpu-list", required_argument, NULL, OPT_CPUS},
		{"modes", required_argument, NULL, OPT_MODES},
		{"backends", required_argument, NULL, OPT_BACKENDS},
		{"workloads", required_argument, NULL, OPT_WORKLOADS},
		{"tenants", required_argument, NULL, OPT_TENANTS},
		{"file", required_argument, NULL, OPT_FILE},
		{"size-mib", required_argument, NULL, OPT_SIZE},
		{"prefill-mib", required_argument, NULL, OPT_PREFILL},
		{"json", no_argument, NULL, OPT_JSON},
		{"trace", no_argument, NULL, OPT_TRACE},
		{"trace-steps", required_argument, NULL, OPT_TRACE_STEPS},
		{"help", no_argument, NULL, OPT_HELP},
		{"pqm-fifo", no_argument, NULL, OPT_FIFO},
		{0, 0, 0, 0},
	};
	bool backends_given = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_SECONDS:
			O.seconds = atof(optarg);
			break;
		case OPT_REACTORS:
			O.reactors = (unsigned)atoi(optarg);
			break;
		case OPT_QD:
			O.qd = (unsigned)atoi(optarg);
			break;
		case OPT_QUEUES:
			O.queues = (unsigned)atoi(optarg);
			break;
		case OPT_CMAX:
			O.cmax = (unsigned)atoi(optarg);
			break;
		case OPT_EPOCH:
			O.epoch_ms = (unsigned)atoi(optarg);
			break;
		case OPT_CPUS:
			O.cpu_list = optarg;
			break;
		case OPT_MODES:
			if (!parse_names(optarg, "modes"))
				return -1;
			break;
		case OPT_BACKENDS:
			if (!parse_names(optarg, "backends"))
				return -1;
			backends_given = true;
			break;
		case OPT_WORKLOADS:
			if (!parse_names(optarg, "workloads"))
				return -1;
			break;
		case OPT_TENANTS:
			O.ntenants = parse_list_u(optarg, O.tenants, MAX_LIST);
			break;
		case OPT_FILE:
			O.file = optarg;
			break;
		case OPT_SIZE:
			O.size = strtoull(optarg, NULL, 10) << 20;
			break;
		case OPT_FIFO:
			O.fifo = true;
			break;
		case OPT_PREFILL:
			O.prefill = strtoull(optarg, NULL, 10) << 20;
			break;
		case OPT_JSON:
			O.json = true;
			break;
		case OPT_TRACE:
			O.trace = true;
			break;
		case OPT_TRACE_STEPS:
			O.ntrace_steps = parse_list_u(optarg, O.trace_steps, MAX_LIST);
			break;
		default:
			return -1;
		}
	}
	if (O.trace && !backends_given) {
		O.backends[0] = HNVMF_BACKEND_NULL;
		O.nbackends = 1;
	}
	if (O.seconds <= 0 || !O.reactors || O.reactors > MAX_REACTORS || !O.qd || !O.queues || !O.cmax ||
	    O.cmax > HNVMF_PQM_CMAX_LIMIT || !O.ntenants || !O.size || O.prefill > O.size || !O.ntrace_steps)
		return -1;
	for (unsigned i = 0; i < O.ntenants; i++)
		if (!O.tenants[i])
			return -1;
	return 0;
}

static struct bench_workload workload_of(enum workload wl)
{
	return (struct bench_workload){.bs = 4096, .read_pct = wl == WL_RANDREAD ? 100 : 70, .region_off = 0,
				       .region_len = O.size};
}

static int engine_new(struct hnvmf_engine **e)
{
	struct hnvmf_engine_opts eo = {.pqm_cmax = O.cmax, .pqm_epoch_ms = O.epoch_ms, .subqueue_depth = 4096,
				       .backend_depth = 256, .pqm_fifo = O.fifo};
	return hnvmf_engine_create(&eo, e);
}

/* Tenant t's queue k is channel t * queues + k, on reactor (t * queues + k) % R: a tenant's
 * queues spread over the reactors as a host's I/O queues spread over a target's cores. */
static int queues_open(struct bench_queue *qs, unsigned n, struct hnvmf_engine *e, struct hnvmf_backend *be,
		       enum hnvmf_path_mode mode, struct bench_workload wl)
{
	for (unsigned i = 0; i < n; i++) {
		struct bench_queue *q = &qs[i];
		unsigned ri = i % O.reactors;
		q->r = reactors[ri];
		q->eng = e;
		q->be = be;
		q->mode = mode;
		q->qd = O.qd;
		q->wl = wl;
		q->measuring = &measuring;
		q->reactor_set = &reactor_sets[ri];
		q->server_set = &server_set;
		snprintf(q->tenant, sizeof(q->tenant), "nqn.2026-01.io.hnvmf.bench:tenant%u", i / O.queues);
		int rc = bench_queue_init(q, i + 1);
		if (rc)
			return rc;
		rc = bench_queue_open(q);
		if (rc) {
			fprintf(stderr, "open %s channel: %s\n", hnvmf_path_mode_name(mode), strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void queues_close(struct bench_queue *qs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bench_queue_close(&qs[i]);
		bench_queue_free(&qs[i]);
	}
}

static void run_cell(struct hnvmf_backend *be, struct result *res, bool show_threads)
{
	unsigned n = res->tenants * O.queues;
	struct bench_queue *qs = calloc(n, sizeof(*qs));
	struct hnvmf_engine *e = NULL;
	res->ok = false;
	if (!qs || engine_new(&e) != 0)
		goto out;
	if (queues_open(qs, n, e, be, res->mode, workload_of(res->wl)) != 0)
		goto close;
	for (unsigned i = 0; i < n; i++)
		bench_queue_start(&qs[i]);
	bench_sleep_ms(O.warmup_ms);
	if (show_threads) {
		fprintf(out, "# threads in mode %s:\n", hnvmf_path_mode_name(res->mode));
		bench_print_threads(out, "#   ");
	}
	double cpu0 = bench_cpu_seconds();
	uint64_t csw0 = bench_ctx_switches();
	struct bench_sched sc0, sc1;
	bench_sched_snapshot(&sc0);
	uint64_t t0 = hnvmf_now_ns();
	atomic_store(&measuring, true);
	bench_sleep_ms((unsigned)(O.seconds * 1000));
	atomic_store(&measuring, false);
	uint64_t t1 = hnvmf_now_ns();
	double cpu1 = bench_cpu_seconds();
	uint64_t csw1 = bench_ctx_switches();
	bench_sched_snapshot(&sc1);
	res->c_end = res->mode == HNVMF_PATH_PQM ? hnvmf_pqm_current_c(e) : 0;
	for (unsigned i = 0; i < n; i++)
		bench_queue_stop(&qs[i]);
	if (!bench_queues_wait_drained(qs, n, 30000)) {
		/* A completion that never came back: an engine bug, not a slow cell. */
		fprintf(stderr, "FATAL: %s: ios still outstanding 30 s after the load stopped\n",
			hnvmf_path_mode_name(res->mode));
		exit(2);
	}
	struct bench_hist h;
	bench_hist_reset(&h);
	for (unsigned i = 0; i < n; i++) {
		bench_hist_merge(&h, &qs[i].hist);
		res->ios += qs[i].ios;
		res->errors += qs[i].errors;
	}
	res->secs = (double)(t1 - t0) / 1e9;
	res->iops = (double)res->ios / res->secs;
	res->mbps = res->iops * 4096 / 1e6;
	res->cpu_pct = 100.0 * (cpu1 - cpu0) / res->secs;
	res->csw_per_io = res->ios ? (double)(csw1 - csw0) / (double)res->ios : 0;
	/* ios per cpu-second the process used: the cost of a path, much less sensitive than IOPS to
	 * how much cpu the other users of a shared machine left us. */
	res->kio_per_cpu_s = cpu1 > cpu0 ? (double)res->ios / (cpu1 - cpu0) / 1000 : 0;
	bench_sched_delta(&sc0, &sc1, res->secs, res->sched);
	res->p50 = bench_hist_quantile(&h, 0.50);
	res->p99 = bench_hist_quantile(&h, 0.99);
	res->p999 = bench_hist_quantile(&h, 0.999);
	res->max = h.max_ns;
	res->mean_us = h.count ? (double)h.sum_ns / (double)h.count / 1000.0 : 0;
	res->ok = true;
close:
	queues_close(qs, n);
out:
	hnvmf_engine_destroy(e);
	free(qs);
}

static void print_row(const struct result *r)
{
	if (!r->ok) {
		fprintf(out, "%-5s %-9s %3u %-9s  failed\n", hnvmf_backend_type_name(r->backend), wl_names[r->wl],
			r->tenants, hnvmf_path_mode_name(r->mode));
		return;
	}
	char c[8] = "-";
	if (r->mode == HNVMF_PATH_PQM)
		snprintf(c, sizeof(c), "%u", r->c_end);
	fprintf(out, "%-5s %-9s %3u %-9s %9.1f %8.1f %8.1f %8.1f %8.1f %9.1f %5.0f %7.1f %6.3f %4.0f/%-4.0f %5.0f/%-5.0f %3s %6" PRIu64 "\n",
		hnvmf_backend_type_name(r->backend), wl_names[r->wl], r->tenants, hnvmf_path_mode_name(r->mode),
		r->iops / 1000, r->mbps, (double)r->p50 / 1000, (double)r->p99 / 1000, (double)r->p999 / 1000,
		(double)r->max / 1000, r->cpu_pct, r->kio_per_cpu_s, r->csw_per_io, r->sched[0], r->sched[1], r->sched[2], r->sched[3], c,
		r->errors);
	fflush(out);
}

/* The first columns of a row of results: backend, workload, tenants. */
static void row_key(const struct result *r)
{
	fprintf(out, "%-5s %-9s %3u", hnvmf_backend_type_name(r->backend), wl_names[r->wl], r->tenants);
}

/* A side-by-side table's title and header: one column per mode, width wide (negative: left-aligned). */
static void side_head(const char *title, int width)
{
	fprintf(out, "\n# side by side: %s\n", title);
	fprintf(out, "%-5s %-9s %3s", "bknd", "workload", "ten");
	for (unsigned m = 0; m < O.nmodes; m++)
		fprintf(out, " | %*s", width, hnvmf_path_mode_name(O.modes[m]));
	fprintf(out, "\n");
}

/* A side-by-side table of one number per result, with prec decimals. */
static void side_table(const struct result *rs, unsigned n, const char *title, int prec,
		       double (*value)(const struct result *))
{
	side_head(title, 9);
	for (unsigned i = 0; i < n; i += O.nmodes) {
		row_key(&rs[i]);
		for (unsigned m = 0; m < O.nmodes && i + m < n; m++)
			fprintf(out, " | %9.*f", prec, value(&rs[i + m]));
		fprintf(out, "\n");
	}
}

static double kio_per_cpu(const struct result *r)
{
	return r->ok ? r->kio_per_cpu_s : 0.0;
}

static double cpu_ns_per_io(const struct result *r)
{
	return r->ok && r->kio_per_cpu_s > 0 ? 1e6 / r->kio_per_cpu_s : 0.0;
}

static void print_side_by_side(const struct result *rs, unsigned n)
{
	side_head("kIOPS and p50/p99 latency in us", -22);
	for (unsigned i = 0; i < n; i += O.nmodes) {
		row_key(&rs[i]);
		for (unsigned m = 0; m < O.nmodes && i + m < n; m++) {
			const struct result *r = &rs[i + m];
			char cell[64];
			if (r->ok)
				snprintf(cell, sizeof(cell), "%7.1fk %6.1f/%-7.1f", r->iops / 1000, (double)r->p50 / 1000,
					 (double)r->p99 / 1000);
			else
				snprintf(cell, sizeof(cell), "failed");
			fprintf(out, " | %-22s", cell);
		}
		fprintf(out, "\n");
	}
	side_table(rs, n, "thousand ios per cpu-second the whole process used (the cost of a path)", 1, kio_per_cpu);
	/* The same, inverted: with and without --pqm-fifo, the PQM column's difference is what the
	 * per-tenant scheduler costs per io. */
	side_table(rs, n, "cpu ns per io (the process's cpu time / ios)", 0, cpu_ns_per_io);
	/* The headline ratios: what each engine mode gains over the baseline. */
	fprintf(out, "\n# IOPS relative to baseline\n");
	for (unsigned i = 0; i < n; i += O.nmodes) {
		const struct result *base = NULL;
		for (unsigned m = 0; m < O.nmodes && i + m < n; m++)
			if (rs[i + m].mode == HNVMF_PATH_BASELINE && rs[i + m].ok)
				base = &rs[i + m];
		if (!base || base->iops <= 0)
			continue;
		row_key(&rs[i]);
		for (unsigned m = 0; m < O.nmodes && i + m < n; m++)
			if (rs[i + m].ok)
				fprintf(out, "  %s x%.2f", hnvmf_path_mode_name(rs[i + m].mode), rs[i + m].iops / base->iops);
		fprintf(out, "\n");
	}
}

static void print_json(const struct result *rs, unsigned n, const struct bench_backend *bks)
{
	struct utsname u;
	uname(&u);
	char rc[128], sc[128];
	bench_cpus_str(&pin.reactor, rc, sizeof(rc));
	bench_cpus_str(&pin.server, sc, sizeof(sc));
	printf("{\"machine\":{\"cpus\":%ld,\"kernel\":\"%s\"},\"pinning\":{\"reactors\":\"%s\",\"servers\":\"%s\"},",
	       sysconf(_SC_NPROCESSORS_ONLN), u.release, rc, sc);
	printf("\"params\":{\"seconds\":%.2f,\"reactors\":%u,\"qd\":%u,\"queues_per_tenant\":%u,\"cmax\":%u,"
	       "\"epoch_ms\":%u},\"backends\":[",
	       O.seconds, O.reactors, O.qd, O.queues, O.cmax, O.epoch_ms);
	for (unsigned b = 0; b < O.nbackends; b++)
		printf("%s{\"type\":\"%s\",\"path\":\"%s\",\"fs\":\"%s\",\"o_direct\":%s}", b ? "," : "",
		       hnvmf_backend_type_name(bks[b].type), bks[b].path, bks[b].fs, bks[b].direct ? "true" : "false");
	printf("],\"results\":[");
	for (unsigned i = 0; i < n; i++) {
		const struct result *r = &rs[i];
		printf("%s\n{\"backend\":\"%s\",\"workload\":\"%s\",\"tenants\":%u,\"mode\":\"%s\",\"ok\":%s,"
		       "\"iops\":%.0f,\"mbps\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,"
		       "\"mean_us\":%.2f,\"cpu_pct\":%.0f,\"kio_per_cpu_s\":%.1f,\"csw_per_io\":%.4f,\"reactor_run_pct\":%.0f,\"reactor_wait_pct\":%.0f,"
		       "\"server_run_pct\":%.0f,\"server_wait_pct\":%.0f,\"pqm_c\":%u,\"errors\":%" PRIu64 "}",
		       i ? "," : "", hnvmf_backend_type_name(r->backend), wl_names[r->wl], r->tenants,
		       hnvmf_path_mode_name(r->mode), r->ok ? "true" : "false", r->iops, r->mbps, (double)r->p50 / 1000,
		       (double)r->p99 / 1000, (double)r->p999 / 1000, (double)r->max / 1000, r->mean_us, r->cpu_pct,
		       r->kio_per_cpu_s, r->csw_per_io, r->sched[0], r->sched[1], r->sched[2], r->sched[3], r->c_end, r->errors);
	}
	printf("\n]}\n");
}

static void describe_backend(const struct bench_backend *b)
{
	if (b->type == HNVMF_BACKEND_NULL)
		fprintf(out, "# backend null: %" PRIu64 " MiB, completes inside submit (no storage)\n", O.size >> 20);
	else
		fprintf(out, "# backend file: %s on %s, %" PRIu64 " MiB, %s, O_DIRECT %s%s\n", b->path, b->fs,
			hnvmf_backend_size(b->be) >> 20, b->created ? "created sparse" : "existing file",
			b->direct ? "on" : "off (refused by the file system: buffered)",
			O.prefill ? ", first MiBs prefilled" : ", reads of never-written blocks are holes");
}

static int run_table(void)
{
	unsigned ncells = O.nbackends * O.nworkloads * O.ntenants * O.nmodes;
	struct result *rs = calloc(ncells, sizeof(*rs));
	struct bench_backend bks[2];
	bool shown[4] = {false};
	unsigned k = 0;
	fprintf(out, "# %.1f s per cell after %.1f s warm-up; %u reactor(s); %u queues/tenant; QD %u per queue; "
		"PQM cmax %u, epoch %u ms, %s; baseline servers %u\n",
		O.seconds, O.warmup_ms / 1000.0, O.reactors, O.queues, O.qd, O.cmax, O.epoch_ms,
		O.fifo ? "fifo" : "per-tenant DRR", O.cmax);
	for (unsigned b = 0; b < O.nbackends; b++) {
		if (bench_backend_open(&bks[b], O.backends[b], O.file, O.size) != 0)
			return 1;
		if (O.prefill && O.backends[b] == HNVMF_BACKEND_FILE && bench_prefill(O.file, 0, O.prefill) != 0)
			fprintf(stderr, "prefill failed\n");
		describe_backend(&bks[b]);
		fprintf(out, "\n%-5s %-9s %3s %-9s %9s %8s %8s %8s %8s %9s %5s %7s %6s %-9s %-11s %3s %6s\n",
			"bknd", "workload", "ten", "mode", "kIOPS", "MB/s", "p50us", "p99us", "p99.9us", "maxus", "cpu%",
			"kIO/cpus", "csw/io",
			"rct run/wt", "srv run/wt", "c", "errors");
		for (unsigned w = 0; w < O.nworkloads; w++)
			for (unsigned t = 0; t < O.ntenants; t++)
				for (unsigned m = 0; m < O.nmodes; m++) {
					struct result *r = &rs[k++];
					r->backend = O.backends[b];
					r->wl = O.workloads[w];
					r->tenants = O.tenants[t];
					r->mode = O.modes[m];
					fprintf(stderr, "running %s %s %u tenants %s...\n", hnvmf_backend_type_name(r->backend),
						wl_names[r->wl], r->tenants, hnvmf_path_mode_name(r->mode));
					run_cell(bks[b].be, r, !shown[m]);
					shown[m] = true;
					print_row(r);
				}
		if (b + 1 < O.nbackends)
			bench_backend_close(&bks[b]);
	}
	print_side_by_side(rs, k);
	if (O.json)
		print_json(rs, k, bks);
	bench_backend_close(&bks[O.nbackends - 1]);
	free(rs);
	return 0;
}

/* ---- --trace: PQM under a stepped load, the sizing in control ---- */

static void noop(void *arg) { (void)arg; }

static int run_trace(void)
{
	unsigned most = 0;
	for (unsigned i = 0; i < O.ntrace_steps; i++)
		if (O.trace_steps[i] > most)
			most = O.trace_steps[i];
	unsigned n = most * O.queues;
	struct bench_backend bk;
	if (bench_backend_open(&bk, O.backends[0], O.file, O.size) != 0)
		return 1;
	describe_backend(&bk);
	struct hnvmf_engine *e;
	struct bench_queue *qs = calloc(n, sizeof(*qs));
	if (engine_new(&e) != 0 || !qs)
		return 1;
	/* Start the pool from this thread on the server cpus and hand the size to the sizing. */
	pthread_setaffinity_np(pthread_self(), sizeof(server_set), &server_set);
	hnvmf_pqm_force_c(e, 0);
	if (queues_open(qs, n, e, bk.be, HNVMF_PATH_PQM, workload_of(WL_RANDREAD)) != 0)
		return 1;
	fprintf(out, "# trace: PQM, randread 4 KiB, %u queues/tenant, QD %u, cmax %u, epoch %u ms, %.1f s per step\n",
		O.queues, O.qd, O.cmax, O.epoch_ms, O.seconds);
	fprintf(out, "# threads:\n");
	bench_print_threads(out, "#   ");

	struct step {
		unsigned tenants;
		uint64_t first_epoch, last_epoch;
		double iops, cpu_pct;
		struct bench_hist h;
	} *steps = calloc(O.ntrace_steps, sizeof(*steps));
	/* The sizing's reasons in words, sampled from describe whenever the first line changes. */
	char last_line[256] = "";
	char (*why)[288] = calloc(4096, sizeof(*why));
	unsigned nwhy = 0;
	uint64_t start = hnvmf_now_ns();
	unsigned active = 0;
	struct hnvmf_pqm_trace_point tp[256];

	for (unsigned s = 0; s < O.ntrace_steps; s++) {
		unsigned want = O.trace_steps[s] * O.queues;
		for (unsigned i = want; i < active; i++)
			bench_queue_stop(&qs[i]);
		if (active > want)
			bench_queues_wait_drained(qs + want, active - want, 30000);
		for (unsigned i = active; i < want; i++)
			bench_queue_start(&qs[i]);
		active = want;
		size_t nt = hnvmf_pqm_trace(e, tp, 256);
		steps[s].tenants = O.trace_steps[s];
		steps[s].first_epoch = nt ? tp[nt - 1].epoch + 1 : 1;
		for (unsigned i = 0; i < n; i++) {
			qs[i].ios = 0;
			bench_hist_reset(&qs[i].hist); /* the reactors are not counting: measuring is off */
		}
		double cpu0 = bench_cpu_seconds();
		uint64_t t0 = hnvmf_now_ns();
		atomic_store(&measuring, true);
		while (hnvmf_now_ns() - t0 < (uint64_t)(O.seconds * 1e9)) {
			char d[2048];
			hnvmf_pqm_describe(e, d, sizeof(d));
			char *nl = strchr(d, '\n');
			if (nl)
				*nl = 0;
			/* Record the line when c or the decision text changes (the epoch count and λ
			 * change every epoch). */
			unsigned c = 0;
			sscanf(d, "pqm c %u", &c);
			const char *last = strstr(d, " last ");
			char key[256];
			snprintf(key, sizeof(key), "%u%s", c, last ? last : "");
			if (strcmp(key, last_line) && nwhy < 4096) {
				snprintf(last_line, sizeof(last_line), "%s", key);
				snprintf(why[nwhy++], sizeof(why[0]), "t=%5.2fs %s", (double)(hnvmf_now_ns() - start) / 1e9, d);
			}
			bench_sleep_ms(O.epoch_ms / 4 ? O.epoch_ms / 4 : 1);
		}
		atomic_store(&measuring, false);
		double secs = (double)(hnvmf_now_ns() - t0) / 1e9;
		steps[s].cpu_pct = 100.0 * (bench_cpu_seconds() - cpu0) / secs;
		/* Histograms are reactor-owned; read them after a round trip through every reactor so
		 * their writes are visible (call_sync orders them). */
		for (unsigned r = 0; r < O.reactors; r++)
			hnvmf_reactor_call_sync(reactors[r], noop, NULL);
		uint64_t ios = 0;
		bench_hist_reset(&steps[s].h);
		for (unsigned i = 0; i < n; i++) {
			ios += qs[i].ios;
			bench_hist_merge(&steps[s].h, &qs[i].hist);
		}
		steps[s].iops = (double)ios / secs;
		nt = hnvmf_pqm_trace(e, tp, 256);
		steps[s].last_epoch = nt ? tp[nt - 1].epoch : 0;
	}
	for (unsigned i = 0; i < active; i++)
		bench_queue_stop(&qs[i]);
	bench_queues_wait_drained(qs, active, 30000);

	size_t nt = hnvmf_pqm_trace(e, tp, 256);
	fprintf(out, "\n# steps\n%-5s %7s %8s %9s %8s %8s %9s %5s %s\n", "step", "tenants", "epochs", "kIOPS", "p50us",
		"p99us", "maxus", "cpu%", "c per epoch");
	for (unsigned s = 0; s < O.ntrace_steps; s++) {
		fprintf(out, "%-5u %7u %3" PRIu64 "-%-4" PRIu64 " %9.1f %8.1f %8.1f %9.1f %5.0f ", s + 1, steps[s].tenants,
			steps[s].first_epoch, steps[s].last_epoch, steps[s].iops / 1000,
			(double)bench_hist_quantile(&steps[s].h, 0.5) / 1000,
			(double)bench_hist_quantile(&steps[s].h, 0.99) / 1000, (double)steps[s].h.max_ns / 1000,
			steps[s].cpu_pct);
		for (size_t i = 0; i < nt; i++)
			if (tp[i].epoch >= steps[s].first_epoch && tp[i].epoch <= steps[s].last_epoch)
				fprintf(out, "%u", tp[i].c);
		fprintf(out, "\n");
	}
	fprintf(out, "\n# hnvmf_pqm_trace: every epoch where c or the reason changed\n%6s %7s %3s %10s  %s\n",
		"epoch", "t(s)", "c", "lambda/s", "reason");
	for (size_t i = 0; i < nt; i++) {
		if (i && tp[i].c == tp[i - 1].c && tp[i].reason == tp[i - 1].reason)
			continue;
		fprintf(out, "%6" PRIu64 " %7.2f %3u %10.0f  %s\n", tp[i].epoch,
			(double)(int64_t)(tp[i].t_ns - start) / 1e9, tp[i].c, tp[i].lambda,
			hnvmf_pqm_reason_name(tp[i].reason));
	}
	fprintf(out, "\n# hnvmf_pqm_describe, first line, whenever c or the decision text changed\n");
	for (unsigned i = 0; i < nwhy; i++)
		fprintf(out, "%s\n", why[i]);
	char d[8192];
	hnvmf_pqm_describe(e, d, sizeof(d));
	fprintf(out, "\n# final hnvmf_pqm_describe\n%s", d);

	queues_close(qs, n);
	hnvmf_engine_destroy(e);
	bench_backend_close(&bk);
	free(qs);
	free(steps);
	free(why);
	return 0;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv) != 0) {
		usage(argv[0]);
		return 1;
	}
	if (!bench_pinning_parse(O.cpu_list, &pin)) {
		fprintf(stderr, "bad --cpu-list\n");
		return 1;
	}
	hnvmf_log_set_level(HNVMF_LOG_WARN);
	out = O.json ? stderr : stdout;
	bench_print_machine(out, &pin);
	bench_cpus_set(&pin.server, &server_set);
	for (unsigned i = 0; i < O.reactors; i++) {
		struct bench_cpus one = {.cpu = {pin.reactor.cpu[i % pin.reactor.n]}, .n = 1};
		bench_cpus_set(&one, &reactor_sets[i]);
		char name[32];
		snprintf(name, sizeof(name), "bench-reactor%u", i);
		if (hnvmf_reactor_create(name, &reactors[i]) != 0 ||
		    hnvmf_reactor_start(reactors[i], one.cpu[0]) != 0) {
			fprintf(stderr, "cannot start reactor %u\n", i);
			return 1;
		}
	}
	int rc = O.trace ? run_trace() : run_table();
	for (unsigned i = 0; i < O.reactors; i++) {
		hnvmf_reactor_stop(reactors[i]);
		hnvmf_reactor_destroy(reactors[i]);
	}
	return rc;
}
