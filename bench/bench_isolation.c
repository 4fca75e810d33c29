/* bench_isolation: does a noisy tenant hurt a quiet one? (issue 6, at the engine level)
 *
 * The quiet tenant: one I/O queue, 4 KiB random reads at QD 4 over a region written beforehand
 * (so on the file backend every read reaches the device). The noisy tenant: --noise-queues
 * queues of 128 KiB writes at QD --noise-qd each, over another region of the same backend. The
 * quiet tenant runs alone, then beside the noise, in each mode; the noise runs in PQM (the
 * shared pool the quiet tenant is to be protected from), or, for the conventional design, in
 * the baseline beside a baseline quiet tenant (everyone shares the one adapter queue there).
 * Printed: the quiet tenant's IOPS and p50/p99/p99.9 latency, and the noise's MB/s (proof that
 * the noise ran). Timing never fails the program. */
#include <getopt.h>
#include <inttypes.h>

#include "bench-common.h"
#include "core/log.h"
#include "core/pqm.h"

#define QUIET_REGION (64ull << 20)
#define NOISE_OFF (256ull << 20)
#define MAX_NOISE_QUEUES 16

struct opts {
	double seconds;
	unsigned warmup_ms;
	unsigned quiet_qd;
	unsigned noise_qd;
	unsigned noise_queues;
	unsigned noise_bs;
	unsigned cmax;
	const char *cpu_list;
	enum hnvmf_backend_type backends[2];
	unsigned nbackends;
	const char *file;
	uint64_t size;
	bool fifo; /* PQM without its per-tenant scheduler ([pqm] fair = no) */
};

static struct opts O = {
	.seconds = 2.0,
	.warmup_ms = 300,
	.quiet_qd = 4,
	.noise_qd = 64,
	.noise_queues = 4,
	.noise_bs = 128 << 10,
	.cmax = 2,
	.backends = {HNVMF_BACKEND_NULL, HNVMF_BACKEND_FILE},
	.nbackends = 2,
	.file = "/tmp/hnvmf-bench-isolation.img",
	.size = 1ull << 30,
};

/* One row of the table: the quiet tenant's mode, and the noise's (NONE: quiet alone). */
#define NONE (-1)
struct scenario {
	enum hnvmf_path_mode quiet;
	int noise;
};

static const struct scenario scenarios[] = {
	{HNVMF_PATH_BASELINE, NONE},
	{HNVMF_PATH_PQM, NONE},
	{HNVMF_PATH_DAM, NONE},
	{HNVMF_PATH_DIRECT, NONE},
	{HNVMF_PATH_BASELINE, HNVMF_PATH_BASELINE}, /* the conventional design: one shared queue */
	{HNVMF_PATH_BASELINE, HNVMF_PATH_PQM},
	{HNVMF_PATH_PQM, HNVMF_PATH_PQM},           /* quiet shares the pool with the noise */
	{HNVMF_PATH_DAM, HNVMF_PATH_PQM},           /* quiet has its own server and ring */
	{HNVMF_PATH_DIRECT, HNVMF_PATH_PQM},
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

struct quiet_result {
	bool ok;
	double iops, noise_mbps, cpu_pct;
	double sched[4]; /* reactors run, wait; servers run, wait: % of one cpu */
	uint64_t p50, p99, p999, max, errors;
};

static struct bench_pinning pin;
static cpu_set_t reactor_sets[2], server_set;
static struct hnvmf_reactor *reactors[2]; /* 0: the quiet tenant's, 1: the noise's */
static atomic_bool measuring;

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [options]\n"
		"  --seconds S        measured seconds per case (default 2; warm-up 0.3 s extra)\n"
		"  --quiet-qd N       quiet tenant's queue depth (default 4)\n"
		"  --noise-qd N       per noisy queue (default 64)\n"
		"  --noise-queues N   noisy tenant's queues (default 4)\n"
		"  --noise-bs-kib N   noisy write size (default 128)\n"
		"  --cmax N           PQM pool size limit and baseline server count (default 2)\n"
		"  --cpu-list R:S     reactors on cpus R (quiet's first, noise's second), I/O servers on S\n"
		"                     (default: first cpu : the rest)\n"
		"  --backends LIST    of null,file (default both)\n"
		"  --file PATH        default /tmp/hnvmf-bench-isolation.img (created sparse, removed after)\n"
		"  --size-mib N       file / null size (default 1024; at least 512)\n"
		"  --pqm-fifo         PQM servers in arrival order, no per-tenant scheduling (fair = no)\n",
		argv0);
}

static int parse_args(int argc, char **argv)
{
	enum { OPT_SECONDS = 256, OPT_QQD, OPT_NQD, OPT_NQ, OPT_NBS, OPT_CMAX, OPT_CPUS, OPT_BACKENDS, OPT_FILE,
	       OPT_SIZE, OPT_FIFO };
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, OPT_SECONDS},
		{"quiet-qd", required_argument, NULL, OPT_QQD},
		{"noise-qd", required_argument, NULL, OPT_NQD},
		{"noise-queues", required_argument, NULL, OPT_NQ},
		{"noise-bs-kib", required_argument, NULL, OPT_NBS},
		{"cmax", required_argument, NULL, OPT_CMAX},
		{"cpu-list", required_argument, NULL, OPT_CPUS},
		{"backends", required_argument, NULL, OPT_BACKENDS},
		{"file", required_argument, NULL, OPT_FILE},
		{"size-mib", required_argument, NULL, OPT_SIZE},
		{"pqm-fifo", no_argument, NULL, OPT_FIFO},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_SECONDS:
			O.seconds = atof(optarg);
			break;
		case OPT_QQD:
			O.quiet_qd = (unsigned)atoi(optarg);
			break;
		case OPT_NQD:
			O.noise_qd = (unsigned)atoi(optarg);
			break;
		case OPT_NQ:
			O.noise_queues = (unsigned)atoi(optarg);
			break;
		case OPT_NBS:
			O.noise_bs = (unsigned)atoi(optarg) << 10;
			break;
		case OPT_CMAX:
			O.cmax = (unsigned)atoi(optarg);
			break;
		case OPT_CPUS:
			O.cpu_list = optarg;
			break;
		case OPT_BACKENDS: {
			O.nbackends = 0;
			char *copy = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				if (O.nbackends == 2 || (strcmp(t, "null") && strcmp(t, "file"))) {
					free(copy);
					return -1;
				}
				O.backends[O.nbackends++] = !strcmp(t, "null") ? HNVMF_BACKEND_NULL : HNVMF_BACKEND_FILE;
			}
			free(copy);
			break;
		}
		case OPT_FILE:
			O.file = optarg;
			break;
		case OPT_SIZE:
			O.size = strtoull(optarg, NULL, 10) << 20;
			break;
		case OPT_FIFO:
			O.fifo = true;
			break;
		default:
			return -1;
		}
	}
	if (O.seconds <= 0 || !O.quiet_qd || !O.noise_qd || !O.noise_queues || O.noise_queues > MAX_NOISE_QUEUES ||
	    O.noise_bs < 4096 || O.noise_bs % 4096 || !O.cmax || O.cmax > HNVMF_PQM_CMAX_LIMIT ||
	    O.size < 2 * NOISE_OFF || !O.nbackends)
		return -1;
	return 0;
}

static void setup_queue(struct bench_queue *q, unsigned ri, struct hnvmf_engine *e, struct hnvmf_backend *be,
			enum hnvmf_path_mode mode, const char *tenant, unsigned qd, struct bench_workload wl,
			unsigned seed)
{
	q->r = reactors[ri];
	q->eng = e;
	q->be = be;
	q->mode = mode;
	q->qd = qd;
	q->wl = wl;
	q->measuring = &measuring;
	q->reactor_set = &reactor_sets[ri];
	q->server_set = &server_set;
	snprintf(q->tenant, sizeof(q->tenant), "%s", tenant);
	bench_queue_init(q, seed);
}

static void run_case(struct hnvmf_backend *be, const struct scenario *sc, struct quiet_result *res)
{
	/* qs[0]: the quiet tenant; qs[1..]: the noisy tenant's queues. */
	struct bench_queue qs[1 + MAX_NOISE_QUEUES];
	memset(qs, 0, sizeof(qs));
	unsigned n = sc->noise == NONE ? 1 : 1 + O.noise_queues;
	struct hnvmf_engine *e = NULL;
	struct hnvmf_engine_opts eo = {.pqm_cmax = O.cmax, .pqm_epoch_ms = 100, .subqueue_depth = 4096,
				       .backend_depth = 256, .pqm_fifo = O.fifo};
	res->ok = false;
	if (hnvmf_engine_create(&eo, &e) != 0)
		return;
	setup_queue(&qs[0], 0, e, be, sc->quiet, "nqn.2026-01.io.hnvmf.bench:quiet", O.quiet_qd,
		    (struct bench_workload){.bs = 4096, .read_pct = 100, .region_off = 0, .region_len = QUIET_REGION},
		    1);
	for (unsigned i = 1; i < n; i++)
		setup_queue(&qs[i], 1, e, be, (enum hnvmf_path_mode)sc->noise, "nqn.2026-01.io.hnvmf.bench:noisy",
			    O.noise_qd,
			    (struct bench_workload){.bs = O.noise_bs, .read_pct = 0, .region_off = NOISE_OFF,
						    .region_len = O.size - NOISE_OFF},
			    i + 1);
	unsigned opened = 0;
	for (; opened < n; opened++)
		if (bench_queue_open(&qs[opened]) != 0) {
			fprintf(stderr, "cannot open a channel\n");
			goto out;
		}
	/* Noise first, so the quiet tenant is measured against a noise already at full depth. */
	for (unsigned i = n; i-- > 0;)
		bench_queue_start(&qs[i]);
	bench_sleep_ms(O.warmup_ms);
	double cpu0 = bench_cpu_seconds();
	struct bench_sched sc0, sc1;
	bench_sched_snapshot(&sc0);
	uint64_t t0 = hnvmf_now_ns();
	atomic_store(&measuring, true);
	bench_sleep_ms((unsigned)(O.seconds * 1000));
	atomic_store(&measuring, false);
	double secs = (double)(hnvmf_now_ns() - t0) / 1e9;
	res->cpu_pct = 100.0 * (bench_cpu_seconds() - cpu0) / secs;
	bench_sched_snapshot(&sc1);
	bench_sched_delta(&sc0, &sc1, secs, res->sched);
	for (unsigned i = 0; i < n; i++)
		bench_queue_stop(&qs[i]);
	if (!bench_queues_wait_drained(qs, n, 60000)) {
		fprintf(stderr, "FATAL: ios still outstanding 60 s after the load stopped\n");
		exit(2);
	}
	res->iops = (double)qs[0].ios / secs;
	res->p50 = bench_hist_quantile(&qs[0].hist, 0.50);
	res->p99 = bench_hist_quantile(&qs[0].hist, 0.99);
	res->p999 = bench_hist_quantile(&qs[0].hist, 0.999);
	res->max = qs[0].hist.max_ns;
	uint64_t noise_bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		res->errors += qs[i].errors;
		if (i)
			noise_bytes += qs[i].bytes;
	}
	res->noise_mbps = (double)noise_bytes / secs / 1e6;
	res->ok = true;
out:
	for (unsigned i = 0; i < opened; i++)
		bench_queue_close(&qs[i]);
	for (unsigned i = 0; i < n; i++)
		bench_queue_free(&qs[i]);
	hnvmf_engine_destroy(e);
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
	bench_print_machine(stdout, &pin);
	bench_cpus_set(&pin.server, &server_set);
	for (unsigned i = 0; i < 2; i++) {
		int cpu = pin.reactor.cpu[i % pin.reactor.n];
		struct bench_cpus one = {.cpu = {cpu}, .n = 1};
		bench_cpus_set(&one, &reactor_sets[i]);
		if (hnvmf_reactor_create(i ? "bench-noisy" : "bench-quiet", &reactors[i]) != 0 ||
		    hnvmf_reactor_start(reactors[i], cpu) != 0) {
			fprintf(stderr, "cannot start reactors\n");
			return 1;
		}
	}
	printf("# quiet: 1 queue, 4 KiB random read, QD %u, over a %llu MiB region written beforehand\n", O.quiet_qd,
	       QUIET_REGION >> 20);
	printf("# noisy: %u queues x QD %u, %u KiB random writes over [%llu MiB, end)\n", O.noise_queues, O.noise_qd,
	       O.noise_bs >> 10, NOISE_OFF >> 20);
	printf("# %.1f s per case after %.1f s warm-up; PQM cmax %u, %s; baseline servers %u\n", O.seconds,
	       O.warmup_ms / 1000.0, O.cmax, O.fifo ? "fifo" : "per-tenant DRR", O.cmax);
	for (unsigned b = 0; b < O.nbackends; b++) {
		struct bench_backend bk;
		if (bench_backend_open(&bk, O.backends[b], O.file, O.size) != 0)
			return 1;
		if (bk.type == HNVMF_BACKEND_FILE) {
			if (bench_prefill(bk.path, 0, QUIET_REGION) != 0)
				fprintf(stderr, "prefill of the quiet region failed\n");
			printf("\n# backend file: %s on %s, %" PRIu64 " MiB, %s, O_DIRECT %s\n", bk.path, bk.fs,
			       hnvmf_backend_size(bk.be) >> 20, bk.created ? "created sparse" : "existing file",
			       bk.direct ? "on" : "off (buffered)");
		} else {
			printf("\n# backend null (no storage: the noise contends only for threads, queues and cpus)\n");
		}
		printf("%-5s %-9s %-9s %9s %8s %8s %9s %9s %10s %5s %-9s %-11s %6s\n", "bknd", "quiet", "noise",
		       "q-kIOPS", "q-p50us", "q-p99us", "q-p99.9us", "q-maxus", "noise-MB/s", "cpu%", "rct run/wt",
		       "srv run/wt", "errors");
		struct quiet_result alone[4] = {{0}};
		for (unsigned s = 0; s < NSCEN; s++) {
			const struct scenario *sc = &scenarios[s];
			struct quiet_result r = {0};
			fprintf(stderr, "running %s quiet %s noise %s...\n", hnvmf_backend_type_name(bk.type),
				hnvmf_path_mode_name(sc->quiet),
				sc->noise == NONE ? "none" : hnvmf_path_mode_name((enum hnvmf_path_mode)sc->noise));
			run_case(bk.be, sc, &r);
			if (sc->noise == NONE)
				alone[sc->quiet] = r;
			if (!r.ok) {
				printf("%-5s %-9s failed\n", hnvmf_backend_type_name(bk.type), hnvmf_path_mode_name(sc->quiet));
				continue;
			}
			char p99x[24] = "";
			if (sc->noise != NONE && alone[sc->quiet].ok && alone[sc->quiet].p99)
				snprintf(p99x, sizeof(p99x), "  p99 x%.1f vs alone",
					 (double)r.p99 / (double)alone[sc->quiet].p99);
			printf("%-5s %-9s %-9s %9.1f %8.1f %8.1f %9.1f %9.1f %10.1f %5.0f %4.0f/%-4.0f %5.0f/%-5.0f %6" PRIu64
			       "%s\n",
			       hnvmf_backend_type_name(bk.type), hnvmf_path_mode_name(sc->quiet),
			       sc->noise == NONE ? "-" : hnvmf_path_mode_name((enum hnvmf_path_mode)sc->noise), r.iops / 1000,
			       (double)r.p50 / 1000, (double)r.p99 / 1000, (double)r.p999 / 1000, (double)r.max / 1000,
			       r.noise_mbps, r.cpu_pct, r.sched[0], r.sched[1], r.sched[2], r.sched[3], r.errors, p99x);
			fflush(stdout);
		}
		bench_backend_close(&bk);
	}
	for (unsigned i = 0; i < 2; i++) {
		hnvmf_reactor_stop(reactors[i]);
		hnvmf_reactor_destroy(reactors[i]);
	}
	return 0;
}
