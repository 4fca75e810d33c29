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

void perf_usage(FILE *f)
{
	fputs("usage: hnvmf-perf COMMAND [options]\n"
	      "commands:\n"
	      "  discover   print the discovery log (default port 8009)\n"
	      "  identify   print Identify Controller and the active namespaces\n"
	      "  read       read --count blocks at --slba (to --data FILE, else a hex dump)\n"
	      "  write      write --count blocks at --slba (from --data FILE, else --pattern byte)\n"
	      "  verify     write a pattern over a range with several queues, read back, compare\n"
	      "  perf       load generator: IOPS, MB/s, latency percentiles\n"
	      "connection:\n"
	      "  -a, --addr ADDR        target address (127.0.0.1)\n"
	      "  -p, --port PORT        4420 (discover: 8009)\n"
	      "  -s, --subnqn NQN       nqn.2026-01.io.hnvmf:default (discover: the discovery NQN)\n"
	      "  -H, --hostnqn NQN      host NQN; repeat for several tenants (default /etc/nvme/hostnqn,\n"
	      "                         else a generated uuid NQN)\n"
	      "      --hdgst, --ddgst   header / data digests\n"
	      "      --kato MS          keep alive timeout sent in Connect (10000)\n"
	      "      --timeout MS       per synchronous command (10000)\n"
	      "      --tls              NVMe/TCP secure channel (TLS 1.3, PSK); needs --tls-key\n"
	      "      --tls-key KEY      the configured PSK, NVMeTLSkey-1:hh:BASE64: (implies --tls)\n"
	      "      --tls-identity-v1  PSK identity version 1 (with the PSK digest), not 0\n"
	      "      --tls-psk-encoding E  HkdfLabel of the PSK derivation: libnvme-compat (nvme-cli\n"
	      "                         2.x keyrings, the default) or rfc8446 (SPDK, libnvme >= 1.16)\n"
	      "      --dhchap-secret KEY       DH-HMAC-CHAP host secret, DHHC-1:hh:BASE64: (used when\n"
	      "                                the target requires authentication)\n"
	      "      --dhchap-ctrl-secret KEY  controller secret: bidirectional authentication\n"
	      "      --dhchap-hash LIST        hashes offered: sha256,sha384,sha512 (all)\n"
	      "      --dhchap-group LIST       DH groups offered: null,ffdhe2048,ffdhe3072,ffdhe4096,\n"
	      "                                ffdhe6144,ffdhe8192 (all)\n"
	      "I/O:\n"
	      "  -n, --nsid N           namespace (verify: 0 = every active namespace; default 1)\n"
	      "      --slba LBA         first block (0)\n"
	      "  -c, --count BLOCKS     blocks (read/write: 1; verify: the namespace, at most 64 MiB)\n"
	      "  -d, --data FILE        read: output file; write: input file\n"
	      "      --pattern BYTE     write: fill byte (0)\n"
	      "      --seed N           verify: pattern seed (1)\n"
	      "  -q, --qd N             queue depth per I/O queue (verify 8, perf 32)\n"
	      "  -o, --io-size BYTES    bytes per command, k/m suffixes (4k)\n"
	      "      --queues N         I/O queues per connection (1)\n"
	      "perf:\n"
	      "  -w, --workload W       randread|randwrite|read|write|rw|randrw (randread)\n"
	      "  -M, --read-pct N       reads in %% for rw/randrw (50)\n"
	      "  -t, --time SECONDS     run time (10)\n"
	      "      --connections N    connections (controllers), spread over the host NQNs (1)\n"
	      "  -T, --threads N        event-loop threads (1)\n"
	      "      --cpu LIST         pin thread i to the i-th CPU of the list (e.g. 2,3)\n"
	      "      --busy-poll        never sleep waiting for the target (one CPU per thread)\n"
	      "      --range BLOCKS     blocks addressed from --slba (the whole namespace)\n"
	      "      --json             print the result as JSON\n"
	      "  -v, --verbose          more detail\n",
	      f);
}

enum {
	OPT_HDGST = 256, OPT_DDGST, OPT_KATO, OPT_TIMEOUT, OPT_SLBA, OPT_PATTERN, OPT_SEED,
	OPT_QUEUES, OPT_CONNECTIONS, OPT_CPU, OPT_BUSY_POLL, OPT_RANGE, OPT_JSON,
	OPT_TLS = 512, OPT_TLS_KEY, OPT_TLS_IDENTITY_V1, OPT_TLS_PSK_ENCODING,
	OPT_DHCHAP_SECRET = 768, OPT_DHCHAP_CTRL_SECRET, OPT_DHCHAP_HASH, OPT_DHCHAP_GROUP,
};

static const struct option longopts[] = {
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'p' },
	{ "subnqn", required_argument, NULL, 's' },
	{ "hostnqn", required_argument, NULL, 'H' },
	{ "hdgst", no_argument, NULL, OPT_HDGST },
	{ "ddgst", no_argument, NULL, OPT_DDGST },
	{ "kato", required_argument, NULL, OPT_KATO },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "nsid", required_argument, NULL, 'n' },
	{ "slba", required_argument, NULL, OPT_SLBA },
	{ "count", required_argument, NULL, 'c' },
	{ "data", required_argument, NULL, 'd' },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "qd", required_argument, NULL, 'q' },
	{ "io-size", required_argument, NULL, 'o' },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "workload", required_argument, NULL, 'w' },
	{ "read-pct", required_argument, NULL, 'M' },
	{ "time", required_argument, NULL, 't' },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "threads", required_argument, NULL, 'T' },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "busy-poll", no_argument, NULL, OPT_BUSY_POLL },
	{ "range", required_argument, NULL, OPT_RANGE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "tls", no_argument, NULL, OPT_TLS },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-identity-v1", no_argument, NULL, OPT_TLS_IDENTITY_V1 },
	{ "tls-psk-encoding", required_argument, NULL, OPT_TLS_PSK_ENCODING },
	{ "dhchap-secret", required_argument, NULL, OPT_DHCHAP_SECRET },
	{ "dhchap-ctrl-secret", required_argument, NULL, OPT_DHCHAP_CTRL_SECRET },
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

	bool port_set = false, subnqn_set = false, nsid_set = false, qd_set = false;
	uint64_t v;
	int c;
	optind = 0; /* glibc: full re-initialisation, so the parser can run more than once */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":a:p:s:H:n:c:d:q:o:w:M:t:T:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (strlen(optarg) >= sizeof(o->addr))
				return opt_error(err, errlen, "--addr: too long");
			snprintf(o->addr, sizeof(o->addr), "%s", optarg);
			break;
		case 'p':
			if (parse_u64(optarg, 65535, &v) || !v)
				return opt_error(err, errlen, "--port: '%s' is not a port number", optarg);
			o->port = (uint16_t)v;
			port_set = true;
			break;
		case 's':
			if (strlen(optarg) >= NVME_NQN_LENGTH)
				return opt_error(err, errlen, "--subnqn: longer than 223 bytes");
			snprintf(o->subnqn, sizeof(o->subnqn), "%s", optarg);
			subnqn_set = true;
			break;
		case 'H':
			if (strlen(optarg) >= NVME_NQN_LENGTH)
				return opt_error(err, errlen, "--hostnqn: longer than 223 bytes");
			if (o->nhostnqn == PERF_MAX_HOSTNQN)
				return opt_error(err, errlen, "--hostnqn: at most %d", PERF_MAX_HOSTNQN);
			snprintf(o->hostnqn[o->nhostnqn++], sizeof(o->hostnqn[0]), "%s", optarg);
			break;
		case OPT_HDGST:
			o->hdgst = true;
			break;
		case OPT_DDGST:
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
		case 'n':
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
		case 'q':
			if (parse_u64(optarg, HNVMF_INI_MAX_DEPTH, &v) || !v)
				return opt_error(err, errlen, "--qd: '%s' not in 1..%d", optarg, HNVMF_INI_MAX_DEPTH);
			o->qd = (unsigned)v;
			qd_set = true;
			break;
		case 'o':
			if (parse_u64(optarg, 1u << 30, &v) || v < 512 || v % 512)
				return opt_error(err, errlen, "--io-size: '%s' is not a multiple of 512 up to 1g", optarg);
			o->io_size = (uint32_t)v;
			break;
		case OPT_QUEUES:
			if (parse_u64(optarg, 1024, &v) || !v)
				return opt_error(err, errlen, "--queues: '%s' not in 1..1024", optarg);
			o->queues = (unsigned)v;
			break;
		case 'w': {
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
		case 't':
			if (parse_u64(optarg, 86400, &v) || !v)
				return opt_error(err, errlen, "--time: '%s' not in 1..86400 seconds", optarg);
			o->seconds = (unsigned)v;
			break;
		case OPT_CONNECTIONS:
			if (parse_u64(optarg, 4096, &v) || !v)
				return opt_error(err, errlen, "--connections: '%s' not in 1..4096", optarg);
			o->connections = (unsigned)v;
			break;
		case 'T':
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
		case OPT_DHCHAP_SECRET:
			if (parse_secret("--dhchap-secret", optarg, o->dhchap_secret,
					 sizeof(o->dhchap_secret), err, errlen))
				return -1;
			break;
		case OPT_DHCHAP_CTRL_SECRET:
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
