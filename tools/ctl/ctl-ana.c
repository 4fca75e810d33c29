/* hnvmfctl subcommands about Asymmetric Namespace Access (docs/ana.md): this gateway's state of
 * each ANA group, and changing one. */
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

static int get_params(int argc, char **argv, struct json_object **params)
{
	if (argc > 1)
		return ctl_usage_error("ana [SUBNQN]");
	if (argc == 1) {
		*params = json_object_new_object();
		json_object_object_add(*params, "nqn", json_object_new_string(argv[0]));
	}
	return 0;
}

static int set_params(int argc, char **argv, struct json_object **params)
{
	char *end;
	if (argc < 2 || argc > 3 || !*argv[0] || (strtoul(argv[0], &end, 10), *end))
		return ctl_usage_error("ana set GROUP STATE [SUBNQN]: GROUP a number");
	*params = json_object_new_object();
	json_object_object_add(*params, "anagrpid", json_object_new_uint64(strtoull(argv[0], NULL, 10)));
	json_object_object_add(*params, "ana_state", json_object_new_string(argv[1]));
	if (argc == 3)
		json_object_object_add(*params, "nqn", json_object_new_string(argv[2]));
	return 0;
}

static void print_state(struct json_object *r)
{
	static const char *const h[] = {"SUBSYSTEM", "GROUP", "STATE", "CHGCNT", "NSIDS"};
	struct ctl_table *t = ctl_table_new(5, h);
	for (size_t i = 0; i < json_object_array_length(r); i++) {
		struct json_object *s = json_object_array_get_idx(r, i), *g = get(s, "groups");
		for (size_t k = 0; k < json_object_array_length(g); k++) {
			struct json_object *x = json_object_array_get_idx(g, k), *ns = get(x, "nsids");
			char grp[16], cnt[24], nsids[256] = "";
			snprintf(grp, sizeof(grp), "%" PRId64, ctl_int(x, "anagrpid"));
			snprintf(cnt, sizeof(cnt), "%" PRId64, ctl_int(x, "chgcnt"));
			for (size_t n = 0; n < json_object_array_length(ns); n++) {
				size_t l = strlen(nsids);
				if (l + 16 >= sizeof(nsids)) {
					snprintf(nsids + l, sizeof(nsids) - l, ",...");
					break;
				}
				snprintf(nsids + l, sizeof(nsids) - l, "%s%d", n ? "," : "",
					 json_object_get_int(json_object_array_get_idx(ns, n)));
			}
			ctl_table_row(t, ctl_str(s, "nqn"), grp, ctl_str(x, "ana_state"), cnt, nsids);
		}
	}
	ctl_table_print(t);
}

static void print_set(struct json_object *r)
{
	printf("ANA state changed in %" PRId64 " subsystem(s)\n", ctl_int(r, "changed"));
}

static const struct hnvmf_ctl_cmd cmds[] = {
	{"ana", "hnvmf_ana_get_state", "[SUBNQN]",
	 "This gateway's Asymmetric Namespace Access state of each ANA group that has a namespace, per\n"
	 "subsystem (or only SUBNQN): group, state, the group's change count and its namespaces, as the\n"
	 "ANA log page reports them to hosts.",
	 get_params, print_state},
	{"ana set", "hnvmf_ana_set_state", "GROUP STATE [SUBNQN]",
	 "Sets this gateway's state of ANA group GROUP (1..32) in every subsystem, or only in SUBNQN:\n"
	 "optimized, non-optimized, inaccessible, persistent-loss or change. The controllers of each\n"
	 "subsystem whose state changed get an ANA Change event. Not saved to the configuration file:\n"
	 "a restart starts from its ana_state lines.",
	 set_params, print_set},
};
HNVMF_CTL_TABLE(ana, cmds);
