/* hnvmfctl subcommands about the engine's paths and the SLA: PQM, DAM, sla, RAM namespaces. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static int set_c_params(int argc, char **argv, struct json_object **params)
{
	char *end;
	if (argc != 1 || !*argv[0] || (strtoul(argv[0], &end, 10), *end))
		return ctl_usage_error("pqm set-c N: N a number, 0 for the sizing to decide again");
	*params = json_object_new_object();
	json_object_object_add(*params, "c", json_object_new_uint64(strtoull(argv[0], NULL, 10)));
	return 0;
}

static void print_pqm(struct json_object *r)
{
	struct json_object *rep = get(r, "report");
	for (size_t i = 0; i < json_object_array_length(rep); i++)
		printf("%s\n", json_object_get_string(json_object_array_get_idx(rep, i)));
	struct json_object *d = get(r, "decisions");
	if (!json_object_array_length(d))
		return;
	printf("\nlast sizing decisions\n");
	static const char *const h[] = {"EPOCH", "C", "REASON", "LAMBDA/S", "MU/S", "W_PRED_US", "W_MEAS_US"};
	struct ctl_table *t = ctl_table_new(7, h);
	for (size_t i = 0; i < json_object_array_length(d); i++) {
		struct json_object *x = json_object_array_get_idx(d, i);
		char c[7][32];
		snprintf(c[0], 32, "%" PRId64, ctl_int(x, "epoch"));
		snprintf(c[1], 32, "%" PRId64, ctl_int(x, "c"));
		snprintf(c[2], 32, "%s", ctl_str(x, "reason"));
		static const char *const k[] = {"lambda", "mu", "w_predicted_s", "w_measured_s"};
		for (int j = 0; j < 4; j++) {
			struct json_object *v = get(x, k[j]);
			double f = json_object_get_double(v) * (j >= 2 ? 1e6 : 1);
			if (v)
				snprintf(c[3 + j], 32, j >= 2 ? "%.1f" : "%.0f", f);
			else
				snprintf(c[3 + j], 32, "-");
		}
		ctl_table_row(t, c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
	}
	ctl_table_print(t);
}

static void print_dam(struct json_object *r)
{
	int64_t cap = ctl_int(r, "capacity");
	printf("DAM units used %" PRId64 " of %s", ctl_int(r, "used"), cap ? "" : "unlimited");
	if (cap)
		printf("%" PRId64, cap);
	printf("; one unit sustained %" PRId64 " IOPS%s\n", ctl_int(r, "unit_iops"),
	       ctl_int(r, "unit_iops") ? "" : " (not measured yet)");
	printf("polled (IOPOLL) queue pairs open %" PRId64 "; completions found by polling %" PRId64 "\n",
	       ctl_int(r, "polled_queues"), ctl_int(r, "polled_ios"));
	static const char *const h[] = {"UNIT", "HOST", "SUBSYSTEM", "CNTLID", "QID"};
	struct ctl_table *t = ctl_table_new(5, h);
	struct json_object *g = get(r, "grants");
	for (size_t i = 0; i < json_object_array_length(g); i++) {
		struct json_object *x = json_object_array_get_idx(g, i);
		char u[16], c[16], q[16];
		snprintf(u, sizeof(u), "%" PRId64, ctl_int(x, "unit"));
		snprintf(c, sizeof(c), "%" PRId64, ctl_int(x, "cntlid"));
		snprintf(q, sizeof(q), "%" PRId64, ctl_int(x, "qid"));
		ctl_table_row(t, u, ctl_str(x, "hostnqn"), ctl_str(x, "subnqn"), c, q);
	}
	ctl_table_print(t);
}

static void print_sla(struct json_object *r)
{
	if (!json_object_array_length(r)) {
		printf("no tenant has done I/O yet\n");
		return;
	}
	static const char *const h[] = {"HOST", "EPOCH", "IOPS", "ASKED/S", "P50_US", "P99_US",
					"RESERVED", "RESERVATION", "TARGET_US", "LATENCY"};
	struct ctl_table *t = ctl_table_new(10, h);
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *x = json_object_array_get_idx(r, i);
		char c[8][32];
		snprintf(c[0], 32, "%" PRId64, ctl_int(x, "epoch"));
		snprintf(c[1], 32, "%.0f", json_object_get_double(get(x, "iops")));
		snprintf(c[2], 32, "%.0f", json_object_get_double(get(x, "arrivals_per_s")));
		snprintf(c[3], 32, "%.1f", json_object_get_double(get(x, "p50_us")));
		snprintf(c[4], 32, "%.1f", json_object_get_double(get(x, "p99_us")));
		snprintf(c[5], 32, "%" PRId64, ctl_int(x, "reserved_iops"));
		snprintf(c[6], 32, "%" PRId64, ctl_int(x, "latency_target_us"));
		char res[64], lat[64];
		snprintf(res, sizeof(res), "%s (missed %" PRId64 ")", ctl_str(x, "reservation"),
			 ctl_int(x, "reservation_missed_epochs"));
		snprintf(lat, sizeof(lat), "%s (missed %" PRId64 ")", ctl_str(x, "latency"), ctl_int(x, "latency_missed_epochs"));
		ctl_table_row(t, ctl_str(x, "hostnqn"), c[0], c[1], c[2], c[3], c[4], c[5], res, c[6], lat);
	}
	ctl_table_print(t);
}

static const struct hnvmf_ctl_cmd cmds[] = {
	{"pqm", "hnvmf_pqm_get", "",
	 "The PQM I/O server pool: its number of servers c of cmax, the measured arrival rate and why the\n"
	 "last epoch chose c; each server's completions, queue and mean service time; each tenant's\n"
	 "arrivals and queues; then the last sizing decisions (c, reason, arrival rate, the model's\n"
	 "service rate, the predicted and measured response time).",
	 NULL, print_pqm},
	{"pqm set-c", "hnvmf_pqm_set_c", "N",
	 "Forces the PQM pool to N servers (1..cmax, [pqm] max_servers); 0 hands the choice back to the\n"
	 "sizing. For experiments: a forced c stays until set again or the daemon restarts.",
	 set_c_params, NULL},
	{"dam", "hnvmf_dam_get", "",
	 "DAM units: how many are held of the capacity ([pqm] dam_cpus; unlimited without it), the most\n"
	 "IOPS one unit was measured to sustain, and each grant: unit, host, subsystem, controller, queue.",
	 NULL, print_dam},
	{"sla", "hnvmf_sla_get", "",
	 "For each tenant (host NQN) the last SLA epoch ([metrics] sla_epoch_ms): IOPS completed and\n"
	 "asked, target-side latency p50 and p99, and whether its reserved_iops and latency_target_us\n"
	 "were met (met, missed, none), with the epochs missed since the start.",
	 NULL, print_sla},
};
HNVMF_CTL_TABLE(engine, cmds);
