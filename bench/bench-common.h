/* Shared by the engine benchmarks (bench_paths.c, bench_isolation.c): a log-linear latency
 * histogram, a closed-loop load generator that drives one channel from its reactor, CPU pinning
 * of reactors and I/O servers, and the backend set-up. Header-only (static inline) because
 * bench/CMakeLists.txt builds each .c file of bench/ as a program of its own.
 *
 * Pinning. The engine can pin each I/O server thread to one CPU (hnvmf_engine_opts.server_cpus,
 * the daemon's [pqm] server_cpus); the benchmarks leave that unset and give the servers a *set*
 * of CPUs to share instead, through inheritance: a new thread inherits its creator's CPU mask,
 * and channels are opened on the reactor's thread, so bench_queue_open moves that thread onto
 * the server CPUs for the duration of hnvmf_chan_open and back afterwards: every server thread
 * the open creates lands on the server CPUs. */
#ifndef HNVMF_BENCH_COMMON_H
#define HNVMF_BENCH_COMMON_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/backend/backend.h"
#include "core/io.h"
#include "core/list.h"

/* ---- latency histogram --------------------------------------------------------------------
 * Log-linear (HdrHistogram's idea at low precision): each power of two is split into 16 equal
 * sub-buckets, so any recorded value is known to within 1/16 (6.25 %) and the whole range of a
 * uint64 in nanoseconds fits in 8 KiB. One histogram per queue, written by its reactor only. */
#define BH_SUB_BITS 4
#define BH_SUB (1u << BH_SUB_BITS)
#define BH_GROUPS (64 - BH_SUB_BITS + 1)

struct bench_hist {
	uint64_t count, sum_ns, min_ns, max_ns;
	uint64_t b[BH_GROUPS][BH_SUB];
};

static inline void bench_hist_reset(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

static inline void bench_hist_index(uint64_t v, unsigned *g, unsigned *s)
{
	if (v < BH_SUB) {
		*g = 0;
		*s = (unsigned)v;
		return;
	}
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	*g = msb - BH_SUB_BITS + 1;
	*s = (unsigned)(v >> (msb - BH_SUB_BITS)) & (BH_SUB - 1);
}

/* The lowest value of bucket (g, s) and its width. */
static inline void bench_hist_bucket(unsigned g, unsigned s, uint64_t *lo, uint64_t *width)
{
	if (g == 0) {
		*lo = s;
		*width = 1;
		return;
	}
	unsigned shift = g - 1;
	*lo = ((uint64_t)BH_SUB + s) << shift;
	*width = (uint64_t)1 << shift;
}

static inline void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	unsigned g, s;
	bench_hist_index(v, &g, &s);
	h->b[g][s]++;
	h->count++;
	h->sum_ns += v;
	if (v < h->min_ns)
		h->min_ns = v;
	if (v > h->max_ns)
		h->max_ns = v;
}

static inline void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h)
{
	for (unsigned g = 0; g < BH_GROUPS; g++)
		for (unsigned s = 0; s < BH_SUB; s++)
			into->b[g][s] += h->b[g][s];
	into->count += h->count;
	into->sum_ns += h->sum_ns;
	if (h->min_ns < into->min_ns)
		into->min_ns = h->min_ns;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
}

/* The value below which a fraction q of the samples lie: the middle of the bucket that holds
 * the q-quantile, clamped to the observed min and max. 0 for an empty histogram. */
static inline uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned g = 0; g < BH_GROUPS; g++)
		for (unsigned s = 0; s < BH_SUB; s++) {
			seen += h->b[g][s];
			if (seen > rank) {
				uint64_t lo, w;
				bench_hist_bucket(g, s, &lo, &w);
				uint64_t v = lo + w / 2;
				if (v < h->min_ns)
					v = h->min_ns;
				if (v > h->max_ns)
					v = h->max_ns;
				return v;
			}
		}
	return h->max_ns;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static inline uint64_t bench_rng_next(uint64_t *s) /* xorshift64* */
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline double bench_cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Context switches of the whole process (every thread), voluntary (a thread went to sleep) and
 * not: per io, the cost of the wake-ups a path does. */
static inline uint64_t bench_ctx_switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_nvcsw + (uint64_t)ru.ru_nivcsw;
}

static inline void bench_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static inline bool bench_parse_mode(const char *s, enum hnvmf_path_mode *m)
{
	static const enum hnvmf_path_mode all[] = {HNVMF_PATH_BASELINE, HNVMF_PATH_PQM, HNVMF_PATH_DAM,
						   HNVMF_PATH_DIRECT};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(s, hnvmf_path_mode_name(all[i]))) {
			*m = all[i];
			return true;
		}
	return false;
}

/* ---- CPU sets ----------------------------------------------------------------------------- */

#define BENCH_MAX_CPUS 256

struct bench_cpus {
	int cpu[BENCH_MAX_CPUS];
	unsigned n;
};

/* "0,2-3" -> {0,2,3}. Returns false on a malformed list. */
static inline bool bench_cpus_parse(const char *s, struct bench_cpus *out)
{
	out->n = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			return false;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a)
				return false;
			s = end;
		}
		for (long c = a; c <= b && out->n < BENCH_MAX_CPUS; c++)
			out->cpu[out->n++] = (int)c;
		if (*s == ',')
			s++;
		else if (*s)
			return false;
	}
	return out->n > 0;
}

static inline void bench_cpus_allowed(struct bench_cpus *out)
{
	cpu_set_t set;
	out->n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int c = 0; c < CPU_SETSIZE && out->n < BENCH_MAX_CPUS; c++)
		if (CPU_ISSET(c, &set))
			out->cpu[out->n++] = c;
}

static inline void bench_cpus_set(const struct bench_cpus *c, cpu_set_t *set)
{
	CPU_ZERO(set);
	for (unsigned i = 0; i < c->n; i++)
		CPU_SET(c->cpu[i], set);
}

static inline void bench_cpus_str(const struct bench_cpus *c, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < c->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%d", i ? "," : "", c->cpu[i]);
}

/* The pinning plan. "--cpu-list R:S" puts reactors round-robin on the CPUs R and the engine's
 * I/O server threads on S; "--cpu-list L" puts both on L (reactors round-robin, servers free to
 * float over L). The default, with two or more CPUs: reactors on the first, servers on the rest,
 * so a hand-off between a reactor and a server is a real cross-core hand-off and neither steals
 * the other's core. */
struct bench_pinning {
	struct bench_cpus reactor, server;
};

static inline bool bench_pinning_parse(const char *spec, struct bench_pinning *p)
{
	if (!spec) {
		struct bench_cpus all;
		bench_cpus_allowed(&all);
		if (all.n == 0)
			return false;
		p->reactor.n = 1;
		p->reactor.cpu[0] = all.cpu[0];
		if (all.n == 1) {
			p->server = all;
		} else {
			p->server.n = all.n - 1;
			memcpy(p->server.cpu, all.cpu + 1, (all.n - 1) * sizeof(int));
		}
		return true;
	}
	const char *colon = strchr(spec, ':');
	if (!colon)
		return bench_cpus_parse(spec, &p->reactor) && bench_cpus_parse(spec, &p->server);
	char left[256];
	size_t n = (size_t)(colon - spec);
	if (n >= sizeof(left))
		return false;
	memcpy(left, spec, n);
	left[n] = 0;
	return bench_cpus_parse(left, &p->reactor) && bench_cpus_parse(colon + 1, &p->server);
}

/* Prints each thread of this process whose name starts with "hnvmf" or "bench", grouped by
 * name without its trailing digits, with the CPUs it may run on (/proc). */
static inline void bench_print_threads(FILE *out, const char *indent)
{
	struct group {
		char name[32];
		char cpus[64];
		unsigned n;
	} groups[32];
	unsigned ng = 0;
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[96], line[256], comm[32] = "", cpus[64] = "";
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Name:", 5))
				sscanf(line + 5, " %31s", comm);
			else if (!strncmp(line, "Cpus_allowed_list:", 18))
				sscanf(line + 18, " %63s", cpus);
		}
		fclose(f);
		if (strncmp(comm, "hnvmf", 5) && strncmp(comm, "bench", 5))
			continue;
		size_t l = strlen(comm);
		while (l > 0 && isdigit((unsigned char)comm[l - 1]))
			comm[--l] = 0;
		unsigned i;
		for (i = 0; i < ng; i++)
			if (!strcmp(groups[i].name, comm) && !strcmp(groups[i].cpus, cpus))
				break;
		if (i == ng) {
			if (ng == 32)
				continue;
			snprintf(groups[ng].name, sizeof(groups[ng].name), "%s", comm);
			snprintf(groups[ng].cpus, sizeof(groups[ng].cpus), "%s", cpus);
			groups[ng++].n = 0;
		}
		groups[i].n++;
	}
	closedir(d);
	for (unsigned i = 0; i < ng; i++)
		fprintf(out, "%s%-18s x%-3u cpus %s\n", indent, groups[i].name, groups[i].n, groups[i].cpus);
}

/* Scheduler accounting of this process's threads (/proc/self/task/N/schedstat: time on a cpu,
 * time runnable but waiting for one), summed over the reactors ("bench-reactor...") and over
 * the engine's I/O server threads ("hnvmf-..."; io_uring's own iou-wrk threads included). A
 * path that needs a thread hand-off per io is only as fast as the wake-up of the thread it hands
 * to: run-queue wait is the measure of that on a shared machine. */
struct bench_sched {
	uint64_t reactor_run_ns, reactor_wait_ns;
	uint64_t server_run_ns, server_wait_ns;
};

static inline void bench_sched_snapshot(struct bench_sched *s)
{
	memset(s, 0, sizeof(*s));
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[96], comm[32] = "";
		unsigned long long run = 0, wait = 0;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu %llu", &run, &wait) != 2)
			run = wait = 0;
		fclose(f);
		if (!strncmp(comm, "bench-", 6)) {
			s->reactor_run_ns += run;
			s->reactor_wait_ns += wait;
		} else if (!strncmp(comm, "hnvmf-", 6) || !strncmp(comm, "iou-", 4)) {
			s->server_run_ns += run;
			s->server_wait_ns += wait;
		}
	}
	closedir(d);
}

/* after - before, as percentages of one cpu over secs (threads that ended in between are lost:
 * none do while a cell is measured). */
static inline void bench_sched_delta(const struct bench_sched *a, const struct bench_sched *b, double secs,
				     double pct[4])
{
	pct[0] = (double)(b->reactor_run_ns - a->reactor_run_ns) / 1e7 / secs;
	pct[1] = (double)(b->reactor_wait_ns - a->reactor_wait_ns) / 1e7 / secs;
	pct[2] = (double)(b->server_run_ns - a->server_run_ns) / 1e7 / secs;
	pct[3] = (double)(b->server_wait_ns - a->server_wait_ns) / 1e7 / secs;
}

/* ---- backends ----------------------------------------------------------------------------- */

struct bench_backend {
	struct hnvmf_backend *be;
	enum hnvmf_backend_type type;
	char path[256];
	bool created; /* we made the file: remove it at the end */
	bool direct;  /* O_DIRECT in use */
	char fs[32];  /* the file system holding the file */
};

static inline const char *bench_fs_name(long magic)
{
	switch ((unsigned long)magic) {
	case 0xEF53:
		return "ext4";
	case 0x01021994:
		return "tmpfs";
	case 0x794c7630:
		return "overlayfs";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	default:
		return "other";
	}
}

/* Opens the null backend (size bytes) or a file backend on path, creating a sparse file of size
 * bytes when it does not exist (removed again by bench_backend_close). */
static inline int bench_backend_open(struct bench_backend *b, enum hnvmf_backend_type type, const char *path,
				     uint64_t size)
{
	memset(b, 0, sizeof(*b));
	b->type = type;
	struct hnvmf_backend_params p = {.type = type, .size = size, .block_size = 512, .direct = true};
	if (type == HNVMF_BACKEND_FILE) {
		snprintf(b->path, sizeof(b->path), "%s", path);
		struct stat st;
		if (stat(path, &st) != 0) {
			int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
			if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
				fprintf(stderr, "cannot create %s: %s\n", path, strerror(errno));
				if (fd >= 0)
					close(fd);
				return -errno;
			}
			close(fd);
			b->created = true;
		}
		struct statfs sf;
		snprintf(b->fs, sizeof(b->fs), "%s", statfs(path, &sf) == 0 ? bench_fs_name((long)sf.f_type) : "?");
		p.path = path;
		p.size = 0;
	} else {
		snprintf(b->fs, sizeof(b->fs), "-");
	}
	char msg[160] = "";
	int rc = hnvmf_backend_open(&p, &b->be, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "backend %s: %s (%s)\n", hnvmf_backend_type_name(type), msg, strerror(-rc));
		if (b->created)
			unlink(b->path);
		return rc;
	}
	if (type == HNVMF_BACKEND_FILE)
		b->direct = hnvmf_backend_direct(b->be);
	return 0;
}

static inline void bench_backend_close(struct bench_backend *b)
{
	hnvmf_backend_close(b->be);
	b->be = NULL;
	if (b->created)
		unlink(b->path);
}

/* Writes [off, off + len) of the file with real data and syncs it, so that O_DIRECT reads of it
 * reach the device instead of being answered from a hole. */
static inline int bench_prefill(const char *path, uint64_t off, uint64_t len)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	size_t chunk = 1 << 20;
	char *buf = malloc(chunk);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (size_t i = 0; i < chunk; i++)
		buf[i] = (char)(i * 131 + 7);
	int rc = 0;
	for (uint64_t o = 0; o < len && !rc; o += chunk)
		if (pwrite(fd, buf, chunk, (off_t)(off + o)) != (ssize_t)chunk)
			rc = -EIO;
	if (!rc && fdatasync(fd) != 0)
		rc = -errno;
	posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
	free(buf);
	close(fd);
	return rc;
}

/* ---- closed-loop load on one channel -------------------------------------------------------
 * A queue keeps qd ios in flight on its channel: each completion is timed (submit -> done, on
 * the reactor's thread) and immediately replaced by the next io while the queue runs. */

struct bench_workload {
	uint32_t bs;          /* bytes per io */
	unsigned read_pct;    /* 100: all reads, 0: all writes */
	uint64_t region_off;  /* ios fall in [region_off, region_off + region_len), bs-aligned */
	uint64_t region_len;
};

struct bench_queue;

struct bench_job {
	struct hnvmf_io io;
	struct iovec iov;
	void *buf;
	uint64_t t0;
	struct bench_queue *q;
};

struct bench_queue {
	/* set up by the caller */
	struct hnvmf_reactor *r;
	struct hnvmf_engine *eng;
	struct hnvmf_backend *be;
	enum hnvmf_path_mode mode;
	char tenant[64];
	unsigned qd;
	struct bench_workload wl;
	const atomic_bool *measuring; /* completions count only while this is true */
	const cpu_set_t *reactor_set, *server_set;
	/* the queue's own */
	struct hnvmf_chan *ch;
	struct bench_job *jobs;
	uint64_t rng;
	atomic_bool run;         /* false: completions are not replaced */
	atomic_int outstanding;  /* written on the reactor, read by the main thread */
	int open_rc;
	struct bench_hist hist;  /* reactor thread only; read after the queue drained */
	uint64_t ios, bytes, errors;
};

static inline void bench_job_fill(struct bench_queue *q, struct bench_job *j)
{
	uint64_t r = bench_rng_next(&q->rng);
	uint64_t blocks = q->wl.region_len / q->wl.bs;
	bool read = (r >> 32) % 100 < q->wl.read_pct;
	j->iov = (struct iovec){j->buf, q->wl.bs};
	j->io.bio = (struct hnvmf_bio){.op = read ? HNVMF_BIO_READ : HNVMF_BIO_WRITE,
				       .offset = q->wl.region_off + (r % blocks) * q->wl.bs,
				       .len = q->wl.bs,
				       .iov = &j->iov,
				       .iovcnt = 1};
}

static inline void bench_job_done(struct hnvmf_io *io)
{
	struct bench_job *j = container_of(io, struct bench_job, io);
	struct bench_queue *q = j->q;
	uint64_t now = hnvmf_now_ns();
	if (io->bio.result != 0)
		q->errors++;
	if (atomic_load_explicit(q->measuring, memory_order_relaxed)) {
		bench_hist_add(&q->hist, now - j->t0);
		q->ios++;
		q->bytes += io->bio.len;
	}
	if (atomic_load_explicit(&q->run, memory_order_relaxed)) {
		bench_job_fill(q, j);
		j->t0 = hnvmf_now_ns();
		hnvmf_chan_submit(q->ch, &j->io);
		return;
	}
	atomic_fetch_sub_explicit(&q->outstanding, 1, memory_order_release);
}

/* Allocates the jobs and their (4 KiB aligned, O_DIRECT-able) buffers. */
static inline int bench_queue_init(struct bench_queue *q, uint64_t seed)
{
	q->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	q->jobs = calloc(q->qd, sizeof(*q->jobs));
	if (!q->jobs)
		return -ENOMEM;
	for (unsigned i = 0; i < q->qd; i++) {
		if (posix_memalign(&q->jobs[i].buf, 4096, q->wl.bs) != 0)
			return -ENOMEM;
		memset(q->jobs[i].buf, 0x5a, q->wl.bs);
		q->jobs[i].q = q;
		q->jobs[i].io.done = bench_job_done;
	}
	bench_hist_reset(&q->hist);
	return 0;
}

static inline void bench_queue_free(struct bench_queue *q)
{
	for (unsigned i = 0; q->jobs && i < q->qd; i++)
		free(q->jobs[i].buf);
	free(q->jobs);
	q->jobs = NULL;
}

/* On the reactor's thread (hnvmf_reactor_call_sync). */
static inline void bench_queue_open_on_reactor(void *arg)
{
	struct bench_queue *q = arg;
	/* Each bench tenant is a tenant of its own to the PQM scheduler (weight 1, no limits), as
	 * a host with a tenant file is to the daemon. */
	static const struct hnvmf_tenant_qos share = {.weight = 1};
	struct hnvmf_chan_opts o = {.mode = q->mode, .tenant = q->tenant, .qos = &share};
	if (q->server_set)
		pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), q->server_set);
	q->open_rc = hnvmf_chan_open(q->eng, q->r, q->be, &o, &q->ch);
	if (q->server_set && q->reactor_set)
		pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), q->reactor_set);
}

static inline void bench_queue_start_on_reactor(void *arg)
{
	struct bench_queue *q = arg;
	atomic_store(&q->run, true);
	atomic_store(&q->outstanding, (int)q->qd);
	for (unsigned i = 0; i < q->qd; i++) {
		struct bench_job *j = &q->jobs[i];
		bench_job_fill(q, j);
		j->t0 = hnvmf_now_ns();
		hnvmf_chan_submit(q->ch, &j->io);
	}
}

static inline void bench_queue_close_on_reactor(void *arg)
{
	struct bench_queue *q = arg;
	hnvmf_chan_close(q->ch);
	q->ch = NULL;
}

static inline int bench_queue_open(struct bench_queue *q)
{
	hnvmf_reactor_call_sync(q->r, bench_queue_open_on_reactor, q);
	return q->open_rc;
}

static inline void bench_queue_start(struct bench_queue *q)
{
	hnvmf_reactor_call_sync(q->r, bench_queue_start_on_reactor, q);
}

/* Stops replacing completions; bench_queue_drained tells when the last io came back. */
static inline void bench_queue_stop(struct bench_queue *q) { atomic_store(&q->run, false); }

static inline bool bench_queue_drained(struct bench_queue *q)
{
	return atomic_load_explicit(&q->outstanding, memory_order_acquire) == 0;
}

/* Waits up to timeout_ms for every queue to drain; false if some did not. */
static inline bool bench_queues_wait_drained(struct bench_queue *qs, unsigned n, unsigned timeout_ms)
{
	for (unsigned t = 0; t <= timeout_ms; t++) {
		bool all = true;
		for (unsigned i = 0; i < n && all; i++)
			all = bench_queue_drained(&qs[i]);
		if (all)
			return true;
		bench_sleep_ms(1);
	}
	return false;
}

static inline void bench_queue_close(struct bench_queue *q)
{
	if (q->ch)
		hnvmf_reactor_call_sync(q->r, bench_queue_close_on_reactor, q);
}

/* ---- machine facts ------------------------------------------------------------------------ */

/* How long a thread that never sleeps is kept off its cpu by everything else on the machine: a
 * busy loop pinned to cpu reads the clock for ms milliseconds and reports the largest gap and
 * the number of gaps over 1 ms. On a shared machine this is the floor under every tail latency
 * measured here. */
struct bench_gap_probe {
	int cpu;
	unsigned ms;
	uint64_t max_gap_ns, gaps_over_1ms;
};

static inline void *bench_gap_thread(void *arg)
{
	struct bench_gap_probe *g = arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(g->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	uint64_t start = hnvmf_now_ns(), prev = start;
	while (prev - start < (uint64_t)g->ms * 1000000ull) {
		uint64_t t = hnvmf_now_ns();
		if (t - prev > g->max_gap_ns)
			g->max_gap_ns = t - prev;
		if (t - prev > 1000000)
			g->gaps_over_1ms++;
		prev = t;
	}
	return NULL;
}

static inline void bench_print_sched_noise(FILE *out, unsigned ms)
{
	struct bench_cpus all;
	bench_cpus_allowed(&all);
	struct bench_gap_probe g[8];
	pthread_t th[8];
	unsigned n = all.n < 8 ? all.n : 8;
	for (unsigned i = 0; i < n; i++) {
		g[i] = (struct bench_gap_probe){.cpu = all.cpu[i], .ms = ms};
		pthread_create(&th[i], NULL, bench_gap_thread, &g[i]);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	char load[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(load, sizeof(load), f))
			snprintf(load, sizeof(load), "?");
		fclose(f);
		load[strcspn(load, "\n")] = 0;
	}
	fprintf(out, "# load average: %s; a busy loop per cpu for %u ms was kept off its cpu:", load, ms);
	for (unsigned i = 0; i < n; i++)
		fprintf(out, " cpu%d max %.1f ms (%" PRIu64 " gaps > 1 ms)%s", g[i].cpu, (double)g[i].max_gap_ns / 1e6,
			g[i].gaps_over_1ms, i + 1 < n ? "," : "\n");
}

static inline void bench_print_machine(FILE *out, const struct bench_pinning *pin)
{
	struct utsname u;
	uname(&u);
	char rc[128], sc[128];
	bench_cpus_str(&pin->reactor, rc, sizeof(rc));
	bench_cpus_str(&pin->server, sc, sizeof(sc));
	fprintf(out, "# machine: %ld online cpus, kernel %s %s\n", sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
		u.release);
	fprintf(out, "# pinning: reactors on cpus %s (round-robin), I/O server threads on cpus %s\n", rc, sc);
	bench_print_sched_noise(out, 500);
}

#endif
