/* Command line of hnvmf-perf: one getopt_long table for every subcommand (an option that a
 * subcommand does not use is accepted and ignored), defaults, range checks. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tls-psk.h"
#include "tools/perf/perf.h"

static const struct {
	const char *name;
	enum perf_cmd cmd;
} cmds[] = {
	{ "discover", PERF_DISCOVER }, { "identify", PERF_IDENTIFY }, { "read", PERF_READ },
	{ "write", PERF_WRITE },       { "verify", PERF_VERIFY },     { "perf", PERF_PERF },
};

static const char *const wl_names[] = {
	[PERF_W_RANDREAD] = "randread", [PERF_W_RANDWRITE] = "randwrite", [PERF_W_READ] = "read",
	[PERF_W_WRITE] = "write",       [PERF_W_RW] = "rw",               [PERF_W_RANDRW] = "randrw",
};

const char *perf_workload_name(enum perf_workload w)
{
	return wl_names[w];
}

/* Short letters follow nvme-cli's connect (-t -a -s -n -q -I -i -g -G -S -C -Q -o -v) so that
 * nothing typed after `nvme connect` means something else here; -c and -d are nvme-cli's read
 * and write ones (block count, data file), -M and -L spdk_nvme_perf's. Load options without a
 * letter in those tools have long names only. */
void perf_usage(FILE *f)
{
	fputs("usage: hnvmf-perf COMMAND [options]\n"
	      "commands:\n"
	      "  discover   print the discovery log (default port 8009)\n"
	      "  identify   print Identify Controller and the active namespaces\n"
	      "  read       read --count blocks at --slba (to --data FILE, else a hex dump)\n"
	      "  write      write --count blocks at --slba (from --data FILE, else --pattern byte)\n"
	      "  verify     write a pattern over a range with several queues, read back, compare\n"
	      "  perf       load generator: IOPS, MB/s, read and write latency percentiles\n"
	      "connection (as nvme connect):\n"
	      "  -t, --transport TYPE     tcp (the only one this initiator speaks)\n"
	      "  -a, --traddr ADDR        target address (127.0.0.1); also --addr\n"
	      "  -s, --trsvcid PORT       4420 (discover: 8009); also --port\n"
	      "  -n, --nqn NQN            subsystem, nqn.2026-01.io.hnvmf:default (discover: the\n"
	      "                           discovery NQN); also --subnqn\n"
	      "  -q, --hostnqn NQN        host NQN; repeat for several tenants (default\n"
	      "                           /etc/nvme/hostnqn, else a generated uuid NQN); also -H\n"
	      "  -I, --hostid UUID        host ID sent in Connect (derived from the host NQN)\n"
	      "  -i, --nr-io-queues N     I/O queues per connection (1); also --queues\n"
	      "  -g, --hdr-digest         header digest; also --hdgst\n"
	      "  -G, --data-digest        data digest; also --ddgst\n"
	      "      --kato MS            keep alive timeout sent in Connect (10000)\n"
	      "      --timeout MS         per synchronous command (10000)\n"
	      "      --tls                NVMe/TCP secure channel (TLS 1.3, PSK); needs --tls-key\n"
	      "      --tls-key KEY        the configured PSK, NVMeTLSkey-1:hh:BASE64: (implies --tls)\n"
	      "      --tls-identity-v1    PSK identity version 1 (with the PSK digest), not 0\n"
	      "      --tls-psk-encoding E  HkdfLabel of the PSK derivation: libnvme-compat (nvme-cli\n"
	      "                           2.x keyrings, the default) or rfc8446 (SPDK, libnvme >= 1.16)\n"
	      "  -S, --dhchap-secret KEY       DH-HMAC-CHAP host secret, DHHC-1:hh:BASE64: (used\n"
	      "                                when the target requires authentication)\n"
	      "  -C, --dhchap-ctrl-secret KEY  controller secret: bidirectional authentication\n"
	      "      --dhchap-hash LIST        hashes offered: sha256,sha384,sha512 (all)\n"
	      "      --dhchap-group LIST       DH groups offered: null,ffdhe2048,ffdhe3072,ffdhe4096,\n"
	      "                                ffdhe6144,ffdhe8192 (all)\n"
	      "I/O:\n"
	      "  -N, --nsid N             namespace (verify: 0 = every active namespace; default 1)\n"
	      "      --slba LBA           first block (0)\n"
	      "  -c, --count BLOCKS       blocks (read/write: 1; verify: the namespace, at most 64 MiB)\n"
	      "  -d, --data FILE          read: output file; write: input file\n"
	      "      --pattern BYTE       write: fill byte (0)\n"
	      "      --seed N             verify: pattern seed (1)\n"
	      "  -Q, --queue-size N       commands in flight per I/O queue (verify 8, perf 32);\n"
	      "                           also --io-depth, --qd\n"
	      "  -z, --io-size BYTES      bytes per command, k/m suffixes (4k); also --data-size\n"
	      "perf:\n"
	      "      --workload W         randread|randwrite|read|write|rw|randrw (randread); also --rw\n"
	      "  -M, --read-pct N         reads in %% for rw/randrw (50)\n"
	      "      --time SECONDS       measured run time (10; none with --number-ios); also --runtime\n"
	      "      --warmup SECONDS     load before the measurement, not counted (0)\n"
	      "      --number-ios N       stop after N I/Os (k/m/g suffixes), split over the threads\n"
	      "      --rate IOPS          fixed offered load over all queues (open loop; latency from\n"
	      "                           each I/O's scheduled time)\n"
	      "      --continue-on-error  count failed commands by status and go on (default: stop at\n"
	      "                           the first)\n"
	      "      --connections N      connections (controllers), spread over the host NQNs (1)\n"
	      "      --threads N          event-loop threads (1)\n"
	      "      --cpu LIST           pin thread i to the i-th CPU of the list (e.g. 2,3)\n"
	      "      --busy-poll          never sleep waiting for the target (one CPU per thread)\n"
	      "      --range BLOCKS       blocks addressed from --slba (the whole namespace)\n"
	      "  -L, --latency-histogram  print the read and write latency histograms\n"
	      "  -o, --output-format F    normal|json; --json is -o json\n"
	      "  -v, --verbose            more detail\n"
	      "A progress line is shown each second while stderr is a terminal.\n",
	      f);
}

enum {
	OPT_KATO = 256, OPT_TIMEOUT, OPT_SLBA, OPT_PATTERN, OPT_SEED, OPT_CONNECTIONS, OPT_CPU,
	OPT_BUSY_POLL, OPT_RANGE, OPT_JSON, OPT_WORKLOAD, OPT_TIME, OPT_THREADS, OPT_WARMUP,
	OPT_NUMBER_IOS, OPT_RATE, OPT_CONTINUE_ON_ERROR,
	OPT_TLS = 512, OPT_TLS_KEY, OPT_TLS_IDENTITY_V1, OPT_TLS_PSK_ENCODING,
	OPT_DHCHAP_HASH = 768, OPT_DHCHAP_GROUP,
};

static const struct option longopts[] = {
	{ "transport", required_argument, NULL, 't' },
	{ "traddr", required_argument, NULL, 'a' },
	{ "addr", required_argument, NULL, 'a' },
	{ "trsvcid", required_argument, NULL, 's' },
	{ "port", required_argument, NULL, 's' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "subnqn", required_argument, NULL, 'n' },
	{ "hostnqn", required_argument, NULL, 'q' },
	{ "hostid", required_argument, NULL, 'I' },
	{ "nr-io-queues", required_argument, NULL, 'i' },
	{ "queues", required_argument, NULL, 'i' },
	{ "hdr-digest", no_argument, NULL, 'g' },
	{ "hdgst", no_argument, NULL, 'g' },
	{ "data-digest", no_argument, NULL, 'G' },
	{ "ddgst", no_argument, NULL, 'G' },
	{ "kato", required_argument, NULL, OPT_KATO },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "nsid", required_argument, NULL, 'N' },
	{ "slba", required_argument, NULL, OPT_SLBA },
	{ "count", required_argument, NULL, 'c' },
	{ "data", required_argument, NULL, 'd' },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "queue-size", required_argument, NULL, 'Q' },
	{ "io-depth", required_argument, NULL, 'Q' },
	{ "qd", required_argument, NULL, 'Q' },
	{ "io-size", required_argument, NULL, 'z' },
	{ "data-size", required_argument, NULL, 'z' },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "rw", required_argument, NULL, OPT_WORKLOAD },
	{ "read-pct", required_argument, NULL, 'M' },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "runtime", required_argument, NULL, OPT_TIME },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "number-ios", required_argument, NULL, OPT_NUMBER_IOS },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "continue-on-error", no_argument, NULL, OPT_CONTINUE_ON_ERROR },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "range", required_argument, NULL, OPT_RANGE },
	{ "latency-histogram", no_argument, NULL, 'L' },
	{ "output-format", required_argument, NULL, 'o' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-identity-v1", no_argument, NULL, OPT_TLS_IDENTITY_V1 },
	{ "tls-psk-encoding", required_argument, NULL, OPT_TLS_PSK_ENCODING },
	{ "dhchap-secret", required_argument, NULL, 'S' },
	{ "dhchap-ctrl-secret", required_argument, NULL, 'C' },
	{ "dhchap-hash", required_argument, NULL, OPT_DHCHAP_HASH },
	{ "dhchap-group", required_argument, NULL, OPT_DHCHAP_GROUP },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

static int opt_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An unsigned number with an optional binary suffix (k, m, g). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024ull * 1024 * 1024, end++;
	if (*end || (mul > 1 && v > UINT64_MAX / mul) || v * mul > max)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_cpus(const char *s, struct perf_opts *o)
{
	o->ncpus = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > 4095 || o->ncpus == PERF_MAX_CPUS)
			return -1;
		o->cpus[o->ncpus++] = (int)v;
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	return o->ncpus ? 0 : -1;
}

/* A DHHC-1 secret, checked now so that a typo is a usage error rather than a failed connect. */
static int parse_secret(const char *opt, const char *s, char *dst, size_t dstlen, char *err, size_t errlen)
{
	struct hnvmf_key k;
	char kerr[96];
	if (hnvmf_dhchap_key_parse(s, &k, kerr, sizeof(kerr)) < 0)
		return opt_error(err, errlen, "%s: %s", opt, kerr);
	hnvmf_key_wipe(&k);
	if (strlen(s) >= dstlen)
		return opt_error(err, errlen, "%s: too long", opt);
	snprintf(dst, dstlen, "%s", s);
	return 0;
}

/* A comma-separated list of names, each to an id through to_id (-1 = unknown), no repeats. */
static int parse_id_list(const char *opt, const char *s, int (*to_id)(const char *), uint8_t *ids,
			 unsigned max, unsigned *n, char *err, size_t errlen)
{
	char buf[128];
	if (strlen(s) >= sizeof(buf))
		return opt_error(err, errlen, "%s: too long", opt);
	snprintf(buf, sizeof(buf), "%s", s);
	*n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int id = to_id(tok);
		if (id < 0)
			return opt_error(err, errlen, "%s: unknown name '%s'", opt, tok);
		for (unsigned i = 0; i < *n; i++)
			if (ids[i] == id)
				return opt_error(err, errlen, "%s: '%s' given twice", opt, tok);
		if (*n == max)
			return opt_error(err, errlen, "%s: too many names", opt);
		ids[(*n)++] = (uint8_t)id;
	}
	return *n ? 0 : opt_error(err, errlen, "%s: empty list", opt);
}

static void defaults(struct perf_opts *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->addr, sizeof(o->addr), "127.0.0.1");
	o->nsid = 1;
	o->kato_ms = 10000;
	o->timeout_ms = HNVMF_INI_TIMEOUT_MS;
	o->seed = 1;
	o->io_size = 4096;
	o->queues = 1;
	o->wl = PERF_W_RANDREAD;
	o->read_pct = 50;
	o->seconds = 10;
	o->connections = 1;
	o->threads = 1;
}

int perf_parse_args(int argc, char **argv, struct perf_opts *o, char *err, size_t errlen)
{
	defaults(o);
	if (argc < 2)
		return opt_error(err, errlen, "missing command (try --help)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		perf_usage(stdout);
		return 1;
	}
	bool found = false;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[1], cmds[i].name)) {
			o->cmd = cmds[i].cmd;
			found = true;
		}
	}
	if (!found)
		return opt_error(err, errlen, "unknown command '%s' (try --help)", argv[1]);

	bool port_set = false, subnqn_set = false, nsid_set = false, qd_set = false, time_set = false;
	uint64_t v;
	int c;
	optind = 0; /* glibc: full re-initialisation, so the parser can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":t:a:s:n:q:H:I:i:gGS:C:N:c:d:Q:z:M:Lo:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "tcp"))
				return opt_error(err, errlen, "--transport: '%s': this initiator speaks tcp only", optarg);
			break;
		case 'a':
			if (strlen(optarg) >= sizeof(o->addr))
				return opt_error(err, errlen, "--addr: too long");
			snprintf(o->addr, sizeof(o->addr), "%s", optarg);
			break;
		case 's':
			if (parse_u64(optarg, 65535, &v) || !v)
				return opt_error(err, errlen, "--trsvcid: '%s' is not a port number", optarg);
			o->port = (uint16_t)v;
			port_set = true;
			break;
		case 'n':
			if (strlen(optarg) >= NVME_NQN_LENGTH)
				return opt_error(err, errlen, "--nqn: longer than 223 bytes");
			snprintf(o->subnqn, sizeof(o->subnqn), "%s", optarg);
			subnqn_set = true;
			break;
		case 'q':
		case 'H':
			if (strlen(optarg) >= NVME_NQN_LENGTH)
				return opt_error(err, errlen, "--hostnqn: longer than 223 bytes");
			if (o->nhostnqn == PERF_MAX_HOSTNQN)
				return opt_error(err, errlen, "--hostnqn: at most %d", PERF_MAX_HOSTNQN);
			snprintf(o->hostnqn[o->nhostnqn++], sizeof(o->hostnqn[0]), "%s", optarg);
			break;
		case 'I':
			if (hnvmf_ini_uuid_parse(optarg, o->hostid) != (int)strlen(optarg))
				return opt_error(err, errlen, "--hostid: '%s' is not a UUID", optarg);
			break;
		case 'g':
			o->hdgst = true;
			break;
		case 'G':
			o->ddgst = true;
			break;
		case OPT_KATO:
			if (parse_u64(optarg, UINT32_MAX, &v))
				return opt_error(err, errlen, "--kato: '%s' is not a number of ms", optarg);
			o->kato_ms = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, 3600000, &v) || !v)
				return opt_error(err, errlen, "--timeout: '%s' is not a number of ms", optarg);
			o->timeout_ms = (int)v;
			break;
		case 'N':
			if (parse_u64(optarg, UINT32_MAX - 1, &v))
				return opt_error(err, errlen, "--nsid: '%s' is not a namespace ID", optarg);
			o->nsid = (uint32_t)v;
			nsid_set = true;
			break;
		case OPT_SLBA:
			if (parse_u64(optarg, UINT64_MAX, &o->slba))
				return opt_error(err, errlen, "--slba: '%s' is not a number", optarg);
			break;
		case 'c':
			if (parse_u64(optarg, UINT64_MAX, &o->count) || !o->count)
				return opt_error(err, errlen, "--count: '%s' is not a positive number", optarg);
			break;
		case 'd':
			snprintf(o->data_file, sizeof(o->data_file), "%s", optarg);
			break;
		case OPT_PATTERN:
			if (parse_u64(optarg, 255, &v))
				return opt_error(err, errlen, "--pattern: '%s' is not a byte value", optarg);
			o->pattern = (int)v;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, UINT64_MAX, &o->seed))
				return opt_error(err, errlen, "--seed: '%s' is not a number", optarg);
			break;
		case 'Q':
			if (parse_u64(optarg, HNVMF_INI_MAX_DEPTH, &v) || !v)
				return opt_error(err, errlen, "--queue-size: '%s' not in 1..%d", optarg, HNVMF_INI_MAX_DEPTH);
			o->qd = (unsigned)v;
			qd_set = true;
			break;
		case 'z':
			if (parse_u64(optarg, 1u << 30, &v) || v < 512 || v % 512)
				return opt_error(err, errlen, "--io-size: '%s' is not a multiple of 512 up to 1g", optarg);
			o->io_size = (uint32_t)v;
			break;
		case 'i':
			if (parse_u64(optarg, 1024, &v) || !v)
				return opt_error(err, errlen, "--nr-io-queues: '%s' not in 1..1024", optarg);
			o->queues = (unsigned)v;
			break;
		case OPT_WORKLOAD: {
			bool ok = false;
			for (unsigned i = 0; i < sizeof(wl_names) / sizeof(wl_names[0]); i++) {
				if (!strcmp(optarg, wl_names[i])) {
					o->wl = (enum perf_workload)i;
					ok = true;
				}
			}
			if (!ok)
				return opt_error(err, errlen, "--workload: '%s' is not one of randread, randwrite, read, write, rw, randrw", optarg);
			break;
		}
		case 'M':
			if (parse_u64(optarg, 100, &v))
				return opt_error(err, errlen, "--read-pct: '%s' not in 0..100", optarg);
			o->read_pct = (unsigned)v;
			break;
		case OPT_TIME:
			if (parse_u64(optarg, 86400, &v) || !v)
				return opt_error(err, errlen, "--time: '%s' not in 1..86400 seconds", optarg);
			o->seconds = (unsigned)v;
			time_set = true;
			break;
		case OPT_WARMUP:
			if (parse_u64(optarg, 86400, &v))
				return opt_error(err, errlen, "--warmup: '%s' not in 0..86400 seconds", optarg);
			o->warmup = (unsigned)v;
			break;
		case OPT_NUMBER_IOS:
			if (parse_u64(optarg, UINT64_MAX, &o->number_ios) || !o->number_ios)
				return opt_error(err, errlen, "--number-ios: '%s' is not a positive number", optarg);
			break;
		case OPT_RATE:
			if (parse_u64(optarg, 100000000, &o->rate) || !o->rate)
				return opt_error(err, errlen, "--rate: '%s' not in 1..100m IOPS", optarg);
			break;
		case OPT_CONTINUE_ON_ERROR:
			o->continue_on_error = true;
			break;
		case OPT_CONNECTIONS:
			if (parse_u64(optarg, 4096, &v) || !v)
				return opt_error(err, errlen, "--connections: '%s' not in 1..4096", optarg);
			o->connections = (unsigned)v;
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, 256, &v) || !v)
				return opt_error(err, errlen, "--threads: '%s' not in 1..256", optarg);
			o->threads = (unsigned)v;
			break;
		case OPT_CPU:
			if (parse_cpus(optarg, o))
				return opt_error(err, errlen, "--cpu: '%s' is not a list of CPU numbers", optarg);
			break;
		case OPT_BUSY_POLL:
			o->busy_poll = true;
			break;
		case OPT_RANGE:
			if (parse_u64(optarg, UINT64_MAX, &o->range) || !o->range)
				return opt_error(err, errlen, "--range: '%s' is not a positive number", optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") && strcmp(optarg, "normal"))
				return opt_error(err, errlen, "--output-format: '%s' is not normal or json", optarg);
			o->json = !strcmp(optarg, "json");
			break;
		case 'L':
			o->histogram = true;
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_TLS_KEY: {
			struct hnvmf_key k;
			char kerr[96];
			if (hnvmf_tls_key_parse(optarg, &k, kerr, sizeof(kerr)) < 0)
				return opt_error(err, errlen, "--tls-key: %s", kerr);
			hnvmf_key_wipe(&k);
			snprintf(o->tls_key, sizeof(o->tls_key), "%s", optarg);
			o->tls = true;
			break;
		}
		case OPT_TLS_IDENTITY_V1:
			o->tls_identity = 1;
			break;
		case OPT_TLS_PSK_ENCODING: {
			int enc = hnvmf_tls_label_parse(optarg);
			if (enc < 0)
				return opt_error(err, errlen,
						 "--tls-psk-encoding: '%s' is not rfc8446 or libnvme-compat",
						 optarg);
			o->tls_rfc8446 = enc == HNVMF_TLS_LABEL_RFC8446;
			break;
		}
		case 'S':
			if (parse_secret("--dhchap-secret", optarg, o->dhchap_secret,
					 sizeof(o->dhchap_secret), err, errlen))
				return -1;
			break;
		case 'C':
			if (parse_secret("--dhchap-ctrl-secret", optarg, o->dhchap_ctrl_secret,
					 sizeof(o->dhchap_ctrl_secret), err, errlen))
				return -1;
			break;
		case OPT_DHCHAP_HASH:
			if (parse_id_list("--dhchap-hash", optarg, hnvmf_ini_auth_hash_id, o->dhchap_hashes,
					  HNVMF_INI_AUTH_MAX_HASHES, &o->nr_dhchap_hashes, err, errlen))
				return -1;
			break;
		case OPT_DHCHAP_GROUP:
			if (parse_id_list("--dhchap-group", optarg, hnvmf_ini_auth_group_id, o->dhchap_groups,
					  HNVMF_INI_AUTH_MAX_GROUPS, &o->nr_dhchap_groups, err, errlen))
				return -1;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			perf_usage(stdout);
			return 1;
		case ':':
			return opt_error(err, errlen, "option '%s' needs a value", argv[optind]);
		default:
			return opt_error(err, errlen, "unknown option '%s'", argv[optind]);
		}
	}
	if (optind < argc - 1)
		return opt_error(err, errlen, "unexpected argument '%s'", argv[optind + 1]);

	if (!port_set)
		o->port = o->cmd == PERF_DISCOVER ? HNVMF_INI_DISCOVERY_PORT : HNVMF_INI_DEFAULT_PORT;
	if (!subnqn_set)
		snprintf(o->subnqn, sizeof(o->subnqn), "%s",
			 o->cmd == PERF_DISCOVER ? PERF_DISCOVERY_NQN : PERF_DEFAULT_SUBNQN);
	if (o->number_ios && !time_set)
		o->seconds = 0;
	if (!nsid_set && o->cmd == PERF_VERIFY)
		o->nsid = 0;
	if (!qd_set)
		o->qd = o->cmd == PERF_PERF ? 32 : 8;
	if (!o->nhostnqn) {
		hnvmf_ini_default_hostnqn(o->hostnqn[0], sizeof(o->hostnqn[0]));
		o->nhostnqn = 1;
	}
	if ((o->cmd == PERF_READ || o->cmd == PERF_WRITE) && !o->count)
		o->count = 1;
	if ((o->cmd == PERF_READ || o->cmd == PERF_WRITE || o->cmd == PERF_PERF) && !o->nsid)
		return opt_error(err, errlen, "--nsid: 0 is only meaningful for verify");
	if (o->tls && !o->tls_key[0])
		return opt_error(err, errlen, "--tls: needs --tls-key NVMeTLSkey-1:...");
	if (o->dhchap_ctrl_secret[0] && !o->dhchap_secret[0])
		return opt_error(err, errlen, "--dhchap-ctrl-secret: needs --dhchap-secret");
	if (o->ncpus && o->ncpus < o->threads)
		return opt_error(err, errlen, "--cpu: %u CPUs listed for %u threads", o->ncpus, o->threads);
	if (o->threads > o->connections)
		return opt_error(err, errlen, "--threads %u > --connections %u: a connection belongs to one thread",
			    o->threads, o->connections);
	return 0;
}
