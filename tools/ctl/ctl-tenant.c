/* hnvmfctl subcommands about tenants and their keys (the daemon writes the tenant files). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"

/* Every key a tenant file has (docs/configuration.md), with the type of its value there; null
 * (KEY=) removes one. */
static const struct ctl_key tenant_keys[] = {
	{"subsystems", CTL_STRING},	   {"mode", CTL_STRING},	     {"permission_level", CTL_NUMBER},
	{"reserved_iops", CTL_NUMBER},	   {"weight", CTL_NUMBER},	     {"max_iops", CTL_NUMBER},
	{"max_read_mbps", CTL_NUMBER},	   {"max_write_mbps", CTL_NUMBER},   {"max_mbps", CTL_NUMBER},
	{"latency_target_us", CTL_NUMBER}, {"max_queues", CTL_NUMBER},	     {"dam_fallback", CTL_STRING},
	{"dhchap_secret", CTL_STRING},	   {"dhchap_ctrl_secret", CTL_STRING}, {"dhchap_hashes", CTL_STRING},
	{"dhchap_dhgroups", CTL_STRING},   {"tls_psk", CTL_STRING},	     {NULL, 0},
};
static const struct ctl_key key_keys[] = {{"dhchap_secret", CTL_STRING},
					  {"dhchap_ctrl_secret", CTL_STRING},
					  {"tls_psk", CTL_STRING},
					  {"key_grace_s", CTL_NUMBER},
					  {NULL, 0}};

/* HOSTNQN KEY=VALUE...: an empty VALUE removes the key (null). */
static int host_kv(int argc, char **argv, const struct ctl_key *keys, struct json_object **params)
{
	if (argc < 1 || strchr(argv[0], '='))
		return ctl_usage_error("the host NQN first, then KEY=VALUE arguments");
	*params = json_object_new_object();
	json_object_object_add(*params, "hostnqn", json_object_new_string(argv[0]));
	int rc = ctl_kv_params(argc - 1, argv + 1, keys, *params);
	if (rc)
		return rc;
	/* "KEY=" means remove: null */
	json_object_object_foreach(*params, k, v)
	{
		if (json_object_is_type(v, json_type_string) && !json_object_get_string(v)[0])
			json_object_object_add(*params, k, NULL);
	}
	return 0;
}

static int set_params(int argc, char **argv, struct json_object **params)
{
	return host_kv(argc, argv, tenant_keys, params);
}

static int key_params(int argc, char **argv, struct json_object **params)
{
	if (argc < 2)
		return ctl_usage_error("key set HOSTNQN dhchap_secret=...|dhchap_ctrl_secret=...|tls_psk=... [key_grace_s=S]");
	return host_kv(argc, argv, key_keys, params);
}

static int host_params(int argc, char **argv, struct json_object **params)
{
	if (argc != 1)
		return ctl_usage_error("one host NQN");
	*params = json_object_new_object();
	json_object_object_add(*params, "hostnqn", json_object_new_string(argv[0]));
	return 0;
}

static void print_file(struct json_object *r)
{
	printf("ok: %s\n", ctl_str(r, "file"));
}

static void print_list(struct json_object *r)
{
	static const char *const h[] = {"HOST", "MODE", "SUBSYSTEMS", "WEIGHT", "RESERVED", "MAX_IOPS", "KEYS"};
	struct ctl_table *t = ctl_table_new(7, h);
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *x = json_object_array_get_idx(r, i), *s, *v;
		char subs[1024] = "", w[16], res[24], mi[24], keys[64] = "";
		json_object_object_get_ex(x, "subsystems", &s);
		size_t off = 0;
		for (size_t j = 0; j < json_object_array_length(s) && off < sizeof(subs); j++)
			off += (size_t)snprintf(subs + off, sizeof(subs) - off, "%s%s", j ? "," : "",
						json_object_get_string(json_object_array_get_idx(s, j)));
		snprintf(w, sizeof(w), "%" PRId64, ctl_int(x, "weight"));
		snprintf(res, sizeof(res), "%" PRId64, ctl_int(x, "reserved_iops"));
		snprintf(mi, sizeof(mi), "%" PRId64, ctl_int(x, "max_iops"));
		off = 0;
		for (const struct ctl_key *k = key_keys; k->name; k++)
			if (json_object_object_get_ex(x, k->name, &v) && json_object_get_boolean(v))
				off += (size_t)snprintf(keys + off, sizeof(keys) - off, "%s%s", off ? "," : "",
							strcmp(k->name, "dhchap_secret") == 0 ? "dhchap"
							: strcmp(k->name, "tls_psk") == 0	 ? "tls"
											 : "ctrl");
		ctl_table_row(t, ctl_str(x, "hostnqn"), ctl_str(x, "mode"), subs, w, res, mi, keys[0] ? keys : "-");
	}
	ctl_table_print(t);
}

static const struct hnvmf_ctl_cmd cmds[] = {
	{"tenant list", "hnvmf_tenant_list", "",
	 "Lists the tenants in force: host NQN, mode, subsystems, weight, reserved IOPS, IOPS limit and\n"
	 "which keys are configured (dhchap, ctrl, tls; never the keys themselves). --json has every\n"
	 "setting and the file each tenant comes from.",
	 NULL, print_list},
	{"tenant set", "hnvmf_tenant_set", "HOSTNQN KEY=VALUE...",
	 "Creates or changes the tenant of HOSTNQN: each KEY=VALUE is a tenant-file key\n"
	 "(hnvmf.conf(5), \"Tenant files\"): subsystems, mode, permission_level, reserved_iops, weight,\n"
	 "max_iops, max_read_mbps, max_write_mbps, max_mbps, latency_target_us, max_queues, dam_fallback,\n"
	 "dhchap_secret, dhchap_ctrl_secret, dhchap_hashes, dhchap_dhgroups, tls_psk; KEY= (empty)\n"
	 "removes a key. The daemon writes it into the host's tenant file (a new one, api-HOSTNQN.conf in\n"
	 "tenants_dir, for a new tenant), keeping the file's other lines, then reloads the tenants as\n"
	 "SIGHUP does. A refused value is answered with the file and line at fault, and the file is put\n"
	 "back as it was. Example: hnvmfctl tenant set nqn.2014-08.org.nvmexpress:uuid:... \\\n"
	 "subsystems=nqn.2026-01.io.hnvmf:tenants mode=pqm weight=2 max_iops=20000",
	 set_params, print_file},
	{"tenant remove", "hnvmf_tenant_remove", "HOSTNQN",
	 "Deletes the tenant file of HOSTNQN and reloads: its controllers are disconnected unless the\n"
	 "host is allowed on their subsystem without a tenant file.",
	 host_params, print_file},
	{"key set", "hnvmf_host_set_key", "HOSTNQN KEY=SECRET...",
	 "Sets (or, with KEY= empty, removes) a key of HOSTNQN's tenant: dhchap_secret (DHHC-1:...),\n"
	 "dhchap_ctrl_secret, tls_psk (NVMeTLSkey-1:...). Written into its tenant file (mode 0600) and\n"
	 "applied by a reload; a key that does not parse is refused and the file left as it was.\n"
	 "key_grace_s=S keeps the keys this replaces accepted for S seconds, so hosts can be re-keyed\n"
	 "one by one (docs/auth.md, \"Key rotation\"). The shell keeps command lines in its history:\n"
	 "prefer KEY=$(cat FILE).",
	 key_params, print_file},
};
HNVMF_CTL_TABLE(tenant, cmds);
