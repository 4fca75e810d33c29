/* hnvmfctl subcommands that read the NVMe-oF state: subsystems, controllers, queues, statistics. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"

/* An optional SUBNQN argument as {"nqn": ...}. */
static int nqn_params(int argc, char **argv, struct json_object **params)
{
	if (argc > 1)
		return ctl_usage_error("one subsystem NQN at most");
	if (argc == 1) {
		*params = json_object_new_object();
		json_object_object_add(*params, "nqn", json_object_new_string(argv[0]));
	}
	return 0;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static void print_subsystems(struct json_object *r)
{
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *s = json_object_array_get_idx(r, i);
		printf("%s%s (%s)%s\n", i ? "\n" : "", ctl_str(s, "nqn"), ctl_str(s, "subtype"),
		       json_object_get_boolean(get(s, "allow_any_host")) ? ", any host" : "");
		struct json_object *ls = get(s, "listen_addresses");
		for (size_t j = 0; j < json_object_array_length(ls); j++) {
			struct json_object *l = json_object_array_get_idx(ls, j);
			printf("  listener %s %s %s:%s%s\n", ctl_str(l, "name"), ctl_str(l, "trtype"), ctl_str(l, "traddr"),
			       ctl_str(l, "trsvcid"), json_object_get_boolean(get(l, "secure_channel")) ? " tls" : "");
		}
		struct json_object *hs = get(s, "hosts");
		for (size_t j = 0; j < json_object_array_length(hs); j++)
			printf("  host %s\n", ctl_str(json_object_array_get_idx(hs, j), "nqn"));
		struct json_object *ns = get(s, "namespaces");
		if (!ns || !json_object_array_length(ns))
			continue;
		static const char *const h[] = {"  NSID", "BACKEND", "BLOCKS", "BLOCK", "RO", "NGUID"};
		struct ctl_table *t = ctl_table_new(6, h);
		for (size_t j = 0; j < json_object_array_length(ns); j++) {
			struct json_object *n = json_object_array_get_idx(ns, j);
			char nsid[16], blocks[24], bs[16];
			snprintf(nsid, sizeof(nsid), "  %" PRId64, ctl_int(n, "nsid"));
			snprintf(blocks, sizeof(blocks), "%" PRId64, ctl_int(n, "num_blocks"));
			snprintf(bs, sizeof(bs), "%" PRId64, ctl_int(n, "block_size"));
			ctl_table_row(t, nsid, ctl_str(n, "bdev_name"), blocks, bs,
				      json_object_get_boolean(get(n, "read_only")) ? "yes" : "no", ctl_str(n, "nguid"));
		}
		ctl_table_print(t);
	}
}

/* A queue's path: "pqm", "dam+auth" (DH-HMAC-CHAP or TLS), "pqm (dam: no capacity)". */
static void queue_mode(struct json_object *q, char *out, size_t len)
{
	const char *why = ctl_str(q, "why");
	snprintf(out, len, "%s%s%s%s", get(q, "mode") ? ctl_str(q, "mode") : "admin",
		 json_object_get_boolean(get(q, "authenticated")) ? "+auth" : "", why[0] ? " (" : "", why);
	if (why[0])
		snprintf(out + strlen(out), len - strlen(out), ")");
}

static void print_controllers(struct json_object *r)
{
	static const char *const h[] = {"CNTLID", "SUBSYSTEM", "HOST", "PEER", "KATO", "QUEUES"};
	struct ctl_table *t = ctl_table_new(6, h);
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *c = json_object_array_get_idx(r, i), *qs = get(c, "queues");
		char id[16], kato[24], queues[2048] = "";
		snprintf(id, sizeof(id), "%" PRId64, ctl_int(c, "cntlid"));
		snprintf(kato, sizeof(kato), "%" PRId64 " ms", ctl_int(c, "kato_ms"));
		size_t off = 0;
		for (size_t j = 1; j < json_object_array_length(qs) && off < sizeof(queues); j++) {
			char m[256];
			struct json_object *q = json_object_array_get_idx(qs, j);
			queue_mode(q, m, sizeof(m));
			off += (size_t)snprintf(queues + off, sizeof(queues) - off, "%sq%" PRId64 ":%s", j > 1 ? " " : "",
						ctl_int(q, "qid"), m);
		}
		ctl_table_row(t, id, ctl_str(c, "subnqn"), ctl_str(c, "hostnqn"), ctl_str(c, "peer_address"), kato, queues);
	}
	ctl_table_print(t);
}

static void print_qpairs(struct json_object *r)
{
	static const char *const h[] = {"CNTLID", "QID", "SIZE", "PEER", "LISTENER", "PATH"};
	struct ctl_table *t = ctl_table_new(6, h);
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *q = json_object_array_get_idx(r, i);
		char id[16], qid[16], size[16], m[256];
		snprintf(id, sizeof(id), "%" PRId64, ctl_int(q, "cntlid"));
		snprintf(qid, sizeof(qid), "%" PRId64, ctl_int(q, "qid"));
		snprintf(size, sizeof(size), "%" PRId64, ctl_int(q, "size"));
		queue_mode(q, m, sizeof(m));
		ctl_table_row(t, id, qid, size, ctl_str(q, "peer_address"), ctl_str(q, "listener"), m);
	}
	ctl_table_print(t);
}

/* One table of stats entries, the first columns named by keys. */
static void stats_table(const char *title, struct json_object *a, const char *const *keys, size_t nkeys)
{
	const char *h[12];
	size_t nh = 0;
	for (size_t k = 0; k < nkeys; k++)
		h[nh++] = keys[k];
	static const char *const figs[] = {"READS", "WRITES", "OTHER", "READ_B", "WRITTEN_B", "ERRORS", "P50_US", "P99_US"};
	for (size_t k = 0; k < 8; k++)
		h[nh++] = figs[k];
	printf("%s\n", title);
	struct ctl_table *t = ctl_table_new(nh, h);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i), *cmds = get(e, "commands"),
				   *bytes = get(e, "bytes"), *lat = get(e, "latency"), *errs = get(e, "errors");
		char c[12][64];
		for (size_t k = 0; k < nkeys; k++) {
			struct json_object *v = get(e, strcmp(keys[k], "HOST") == 0	     ? "hostnqn"
							: strcmp(keys[k], "SUBSYSTEM") == 0 ? "subnqn"
							: strcmp(keys[k], "CNTLID") == 0    ? "cntlid"
											    : "nsid");
			snprintf(c[k], sizeof(c[k]), "%s", v ? json_object_get_string(v) : "");
		}
		uint64_t nerr = 0;
		for (size_t j = 0; j < json_object_array_length(errs); j++)
			nerr += (uint64_t)ctl_int(json_object_array_get_idx(errs, j), "count");
		snprintf(c[nkeys], 64, "%" PRId64, ctl_int(cmds, "read"));
		snprintf(c[nkeys + 1], 64, "%" PRId64, ctl_int(cmds, "write"));
		snprintf(c[nkeys + 2], 64, "%" PRId64, ctl_int(cmds, "other"));
		snprintf(c[nkeys + 3], 64, "%" PRId64, ctl_int(bytes, "read"));
		snprintf(c[nkeys + 4], 64, "%" PRId64, ctl_int(bytes, "write"));
		snprintf(c[nkeys + 5], 64, "%" PRIu64, nerr);
		snprintf(c[nkeys + 6], 64, "%.1f", json_object_get_double(get(lat, "p50_us")));
		snprintf(c[nkeys + 7], 64, "%.1f", json_object_get_double(get(lat, "p99_us")));
		if (nkeys == 1)
			ctl_table_row(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
		else if (nkeys == 2)
			ctl_table_row(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]);
		else
			ctl_table_row(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
	}
	ctl_table_print(t);
}

static void print_stats(struct json_object *r)
{
	stats_table("controllers", get(r, "controllers"), (const char *const[]){"CNTLID", "SUBSYSTEM", "HOST"}, 3);
	stats_table("\nnamespaces", get(r, "namespaces"), (const char *const[]){"SUBSYSTEM", "NSID"}, 2);
	stats_table("\ntenants", get(r, "tenants"), (const char *const[]){"HOST"}, 1);
	printf("\ntransports (requests by state)\n");
	json_object_object_foreach(get(r, "transports"), name, states)
	{
		printf("  %s:", name);
		json_object_object_foreach(states, st, n) printf(" %s %s", st, json_object_get_string(n));
		printf("\n");
	}
	struct json_object *a = get(r, "auth");
	printf("\nauthentication: workers %" PRId64 " dh_jobs %" PRId64 " refused %" PRId64 " busy %" PRId64 "\n",
	       ctl_int(a, "workers"), ctl_int(a, "dh_jobs"), ctl_int(a, "refused"), ctl_int(a, "busy"));
}

static const struct hnvmf_ctl_cmd cmds[] = {
	{"subsystems", "nvmf_get_subsystems", "[SUBNQN]",
	 "Lists the subsystems (or SUBNQN alone): the discovery subsystem and every NVM subsystem with its\n"
	 "listeners, the hosts allowed, and its namespaces (NSID, backend, size in blocks, block size,\n"
	 "read-only, NGUID).",
	 nqn_params, print_subsystems},
	{"controllers", "nvmf_subsystem_get_controllers", "[SUBNQN]",
	 "Lists the controllers (of SUBNQN alone): controller ID, subsystem, host NQN, the host's address,\n"
	 "keep-alive timeout and each I/O queue's path: pqm, dam, baseline or direct, +auth when the queue\n"
	 "is authenticated (DH-HMAC-CHAP or TLS), and in parentheses why the path is not the\n"
	 "one the tenant asked for (e.g. \"dam: no capacity\").",
	 nqn_params, print_controllers},
	{"qpairs", "nvmf_subsystem_get_qpairs", "[SUBNQN]",
	 "Lists every queue (the admin queue is qid 0) of the controllers (of SUBNQN alone): its size,\n"
	 "the host's address, the listener it came through and its path.",
	 nqn_params, print_qpairs},
	{"stats", "nvmf_get_stats", "",
	 "I/O statistics since the start: per controller, per namespace and per tenant (host NQN) the\n"
	 "commands read, written and other, bytes, errors, latency p50 and p99 in microseconds (target\n"
	 "side: capsule received to response queued); the transports' requests in each state; the\n"
	 "authentication counters. --json adds the errors by status and the per-queue records.",
	 NULL, print_stats},
};
HNVMF_CTL_TABLE(nvmf, cmds);
