/* hnvmf-perf: discovery, identify, single reads/writes, pattern verification and a load
 * generator (in the spirit of fio / spdk_nvme_perf) over the userspace NVMe/TCP initiator. */
#ifndef HNVMF_PERF_H
#define HNVMF_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/keyfmt.h"
#include "tools/initiator/initiator.h"

#define PERF_MAX_HOSTNQN 64
#define PERF_MAX_CPUS 64
#define PERF_DEFAULT_SUBNQN "nqn.2026-01.io.hnvmf:default"
#define PERF_DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"

enum perf_cmd { PERF_DISCOVER, PERF_IDENTIFY, PERF_READ, PERF_WRITE, PERF_VERIFY, PERF_PERF };

enum perf_workload {
	PERF_W_RANDREAD,
	PERF_W_RANDWRITE,
	PERF_W_READ,    /* sequential */
	PERF_W_WRITE,   /* sequential */
	PERF_W_RW,      /* sequential mix, -M % reads */
	PERF_W_RANDRW,  /* random mix, -M % reads */
};

struct perf_opts {
	enum perf_cmd cmd;
	char addr[256];
	uint16_t port;
	char subnqn[NVME_NQN_LENGTH + 1];
	char hostnqn[PERF_MAX_HOSTNQN][NVME_NQN_LENGTH + 1];
	unsigned nhostnqn;
	uint8_t hostid[16];   /* --hostid; all zero = derived from each host NQN */
	bool hdgst, ddgst;
	uint32_t nsid;        /* 0 = every active namespace (verify) / the first one (perf) */
	unsigned kato_ms;
	int timeout_ms;
	/* read / write / verify */
	uint64_t slba, count; /* count in blocks; 0 = default */
	char data_file[4096];
	int pattern;          /* write: fill byte when no data file */
	uint64_t seed;
	/* verify / perf */
	unsigned qd;
	uint32_t io_size;
	unsigned queues;      /* I/O queues per connection */
	/* perf */
	enum perf_workload wl;
	unsigned read_pct;
	unsigned seconds;     /* measured run time; 0 = none (only with --number-ios) */
	unsigned warmup;      /* seconds of load before the measurement, not counted */
	uint64_t number_ios;  /* stop after this many I/Os counted; 0 = no limit */
	uint64_t rate;        /* offered IOPS over all queues (open loop); 0 = closed loop */
	bool continue_on_error; /* count failed commands by status and go on */
	bool histogram;       /* -L: print the latency histograms */
	unsigned connections;
	unsigned threads;
	int cpus[PERF_MAX_CPUS];
	unsigned ncpus;
	bool busy_poll;       /* spin on the sockets instead of poll()ing when idle */
	uint64_t range;       /* blocks addressed from slba; 0 = the whole namespace */
	bool json;            /* --json, -o json */
	bool verbose;
	/* DH-HMAC-CHAP, used when a Connect answers "authentication required" (every host NQN) */
	char dhchap_secret[HNVMF_KEY_STR_MAX];      /* "" = none */
	char dhchap_ctrl_secret[HNVMF_KEY_STR_MAX]; /* "" = one-way */
	uint8_t dhchap_hashes[HNVMF_INI_AUTH_MAX_HASHES]; /* offered; none = all */
	unsigned nr_dhchap_hashes;
	uint8_t dhchap_groups[HNVMF_INI_AUTH_MAX_GROUPS];
	unsigned nr_dhchap_groups;
	/* NVMe/TCP secure channel: TLS 1.3 with this configured PSK on every queue */
	bool tls;
	char tls_key[HNVMF_KEY_STR_MAX];
	int tls_identity;     /* PSK identity version: 0, or 1 with --tls-identity-v1 */
	bool tls_rfc8446;     /* --tls-psk-encoding rfc8446 (else libnvme-compat) */
};

/* Parses argv (argv[0] the program, argv[1] the subcommand). Returns 0, 1 when help was
 * printed, -1 on error with a message in err. Fills defaults first. */
int perf_parse_args(int argc, char **argv, struct perf_opts *o, char *err, size_t errlen);
const char *perf_workload_name(enum perf_workload w);
void perf_usage(FILE *f);

/* Latency histogram: log-linear (32 linear sub-buckets per power of two), fixed size, so
 * recording is a few instructions and no allocation; percentiles within 1/32 relative. */
#define PERF_HIST_SUB_BITS 5
#define PERF_HIST_SUB (1u << PERF_HIST_SUB_BITS)
#define PERF_HIST_BUCKETS ((64 - PERF_HIST_SUB_BITS + 1) * PERF_HIST_SUB)
struct perf_hist {
	uint64_t count, sum, min, max;
	uint64_t b[PERF_HIST_BUCKETS];
};
void perf_hist_init(struct perf_hist *h);
static inline unsigned perf_hist_index(uint64_t v)
{
	if (v < PERF_HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - PERF_HIST_SUB_BITS;
	return (shift + 1) * PERF_HIST_SUB + (unsigned)((v >> shift) - PERF_HIST_SUB);
}
static inline void perf_hist_add(struct perf_hist *h, uint64_t v)
{
	h->b[perf_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}
/* Lowest and highest value that land in bucket i. */
uint64_t perf_hist_bucket_low(unsigned i);
uint64_t perf_hist_bucket_high(unsigned i);
void perf_hist_merge(struct perf_hist *dst, const struct perf_hist *src);
/* The value at percentile p (0 < p <= 100): the upper bound of the bucket holding it,
 * clamped to [min, max]. 0 when empty. */
uint64_t perf_hist_percentile(const struct perf_hist *h, double p);

/* Failed commands counted by status (NVMe status field, or -errno when the queue failed): the
 * first PERF_ERR_KINDS distinct ones by name, the rest together. */
#define PERF_ERR_KINDS 8
struct perf_errs {
	uint64_t total, other;
	unsigned n;
	int status[PERF_ERR_KINDS];
	uint64_t count[PERF_ERR_KINDS];
};
void perf_errs_add(struct perf_errs *e, int status, uint64_t n);
void perf_errs_merge(struct perf_errs *dst, const struct perf_errs *src);

/* What a perf run measured, for the report. */
struct perf_result {
	double seconds;        /* measured: from the end of the warm-up to the end of the run */
	unsigned connections, threads;
	uint64_t reads, writes, bytes_read, bytes_written;
	const struct perf_hist *lat_read, *lat_write; /* nanoseconds */
	struct perf_errs errs;
	const uint64_t *tenant_ios; /* per host NQN (o->hostnqn), NULL = not shown */
	uint64_t rate_backlog; /* --rate: scheduled I/Os not yet issued when the run ended */
	const char *error;     /* why the run failed (it ended early), NULL when it did not */
};

/* The report (perf-report.c): the table, the JSON document (json-c, malloc'ed string, NULL
 * when out of memory), a histogram's non-empty buckets with cumulative percentages, and the
 * progress line shown each second on a terminal. */
void perf_report_text(FILE *f, const struct perf_opts *o, const struct perf_result *r);
char *perf_report_json(const struct perf_opts *o, const struct perf_result *r);
void perf_hist_print(FILE *f, const struct perf_hist *h, const char *title);
void perf_progress_format(char *buf, size_t len, bool warmup, double elapsed_s, double total_s,
			  uint64_t ios, uint64_t bytes, double interval_s, uint64_t errors);

/* Subcommands; return the process exit status. */
int perf_cmd_discover(const struct perf_opts *o);
int perf_cmd_identify(const struct perf_opts *o);
int perf_cmd_read(const struct perf_opts *o);
int perf_cmd_write(const struct perf_opts *o);
int perf_cmd_verify(const struct perf_opts *o);
int perf_cmd_perf(const struct perf_opts *o);

/* Connects a controller with the options' transport settings (hostnqn index i). */
int perf_connect(const struct perf_opts *o, unsigned host_idx, const char *subnqn,
		 unsigned nr_io_queues, unsigned io_depth, struct hnvmf_ini_ctrl **c);
/* Disconnects (shutdown handshake) and reports a failure on stderr. NULL is allowed. */
int perf_disconnect(struct hnvmf_ini_ctrl *c);

#endif
