/* hnvmfctl subcommands that change the configuration: subsystems, namespaces, hosts, listeners
 * (target/rpc-config.c; the daemon writes each change into its main file). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"

/* NQN, then the positional arguments named in pos (NULL-ended), then KEY=VALUE ones of keys. */
static int positional(int argc, char **argv, const char *const *pos, const struct ctl_key *keys, const char *usage,
		      struct json_object **params)
{
	int npos = 0;
	while (pos[npos])
		npos++;
	if (argc < npos || (!keys && argc != npos))
		return ctl_usage_error("%s", usage);
	for (int i = 0; i < npos; i++)
		if (strchr(argv[i], '='))
			return ctl_usage_error("%s", usage);
	*params = json_object_new_object();
	for (int i = 0; i < npos; i++)
		json_object_object_add(*params, pos[i], json_object_new_string(argv[i]));
	return keys ? ctl_kv_params(argc - npos, argv + npos, keys, *params) : 0;
}

/* A positional argument that the method takes as an integer. */
static int to_int(struct json_object **params, const char *key, const char *usage)
{
	const char *s = ctl_str(*params, key);
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end)
		return ctl_usage_error("%s: %s is a number", usage, key);
	json_object_object_add(*params, key, json_object_new_uint64(v));
	return 0;
}

static int subsys_add(int argc, char **argv, struct json_object **p)
{
	static const struct ctl_key keys[] = {
		{"serial_number", CTL_STRING}, {"model_number", CTL_STRING}, {"allow_any_host", CTL_BOOL}, {NULL, 0}};
	return positional(argc, argv, (const char *const[]){"nqn", NULL}, keys,
			  "subsystem add SUBNQN [serial_number=SN] [model_number=MN] [allow_any_host=yes]", p);
}

static int nqn_only(int argc, char **argv, struct json_object **p)
{
	return positional(argc, argv, (const char *const[]){"nqn", NULL}, NULL, "one subsystem NQN", p);
}

static int ns_add(int argc, char **argv, struct json_object **p)
{
	/* As nvmf_subsystem_add_ns takes them (target/rpc-config.c): nguid and uuid are text even
	 * when all digits. */
	static const struct ctl_key keys[] = {
		{"nsid", CTL_NUMBER},	     {"backend", CTL_STRING}, {"type", CTL_STRING},
		{"size", CTL_NUMBER},	     {"size_mib", CTL_NUMBER}, {"block_size", CTL_NUMBER},
		{"readonly", CTL_BOOL},	     {"path", CTL_STRING},    {"ceph_conf", CTL_STRING},
		{"pool", CTL_STRING},	     {"image", CTL_STRING},   {"client", CTL_STRING},
		{"rados_namespace", CTL_STRING}, {"nguid", CTL_STRING}, {"uuid", CTL_STRING},
		{"ana_group", CTL_NUMBER},   {NULL, 0}};
	return positional(argc, argv, (const char *const[]){"nqn", NULL}, keys,
			  "ns add SUBNQN type=ram|null|file|rbd ... | backend=NAME  (--help lists the keys)", p);
}

static int ns_remove(int argc, char **argv, struct json_object **p)
{
	static const char usage[] = "ns remove SUBNQN NSID";
	int rc = positional(argc, argv, (const char *const[]){"nqn", "nsid", NULL}, NULL, usage, p);
	return rc ? rc : to_int(p, "nsid", usage);
}

static int ns_resize(int argc, char **argv, struct json_object **p)
{
	static const char usage[] = "ns resize SUBNQN NSID [size_mib=N | size=BYTES]";
	static const struct ctl_key keys[] = {{"size", CTL_NUMBER}, {"size_mib", CTL_NUMBER}, {NULL, 0}};
	int rc = positional(argc, argv, (const char *const[]){"nqn", "nsid", NULL}, keys, usage, p);
	return rc ? rc : to_int(p, "nsid", usage);
}

static int host_args(int argc, char **argv, struct json_object **p)
{
	return positional(argc, argv, (const char *const[]){"nqn", "host", NULL}, NULL, "SUBNQN HOSTNQN", p);
}

static int any_host(int argc, char **argv, struct json_object **p)
{
	if (argc != 2 || (strcmp(argv[1], "yes") != 0 && strcmp(argv[1], "no") != 0))
		return ctl_usage_error("allow-any-host SUBNQN yes|no");
	*p = json_object_new_object();
	json_object_object_add(*p, "nqn", json_object_new_string(argv[0]));
	json_object_object_add(*p, "allow_any_host", json_object_new_boolean(strcmp(argv[1], "yes") == 0));
	return 0;
}

static int listener_args(int argc, char **argv, struct json_object **p, bool add)
{
	static const struct ctl_key add_keys[] = {{"trtype", CTL_STRING}, {"secure_channel", CTL_BOOL}, {NULL, 0}};
	static const struct ctl_key remove_keys[] = {{"trtype", CTL_STRING}, {NULL, 0}};
	return positional(argc, argv, (const char *const[]){"nqn", "traddr", "trsvcid", NULL},
			  add ? add_keys : remove_keys,
			  add ? "listener add SUBNQN TRADDR TRSVCID [trtype=tcp|rdma] [secure_channel=yes]"
			      : "listener remove SUBNQN TRADDR TRSVCID [trtype=tcp|rdma]",
			  p);
}

static int listener_add(int argc, char **argv, struct json_object **p) { return listener_args(argc, argv, p, true); }
static int listener_remove(int argc, char **argv, struct json_object **p)
{
	return listener_args(argc, argv, p, false);
}

static void print_ns(struct json_object *r)
{
	printf("namespace %lld (backend %s)\n", (long long)ctl_int(r, "nsid"), ctl_str(r, "backend"));
}

static void print_listener(struct json_object *r) { printf("listener %s\n", ctl_str(r, "listener")); }

#define SAVED "\nThe daemon applies it at once and writes it into its main configuration file."

static const struct hnvmf_ctl_cmd cmds[] = {
	{"subsystem add", "nvmf_create_subsystem", "SUBNQN [serial_number=SN] [model_number=MN] [allow_any_host=yes]",
	 "Creates NVM subsystem SUBNQN, with no namespace yet (ns add) and no host allowed unless\n"
	 "allow_any_host=yes (host add). SN and MN default to a serial derived from the NQN and \"hnvmf\".\n"
	 "The discovery log changes." SAVED,
	 subsys_add, NULL},
	{"subsystem remove", "nvmf_delete_subsystem", "SUBNQN",
	 "Deletes subsystem SUBNQN: new Connects are refused, its controllers are disconnected once\n"
	 "their commands are answered, the backends `ns add` made for it are closed." SAVED,
	 nqn_only, NULL},
	{"ns add", "nvmf_subsystem_add_ns", "SUBNQN type=ram|null|file|rbd [KEY=VALUE...] | backend=NAME",
	 "Adds a namespace to SUBNQN; its controllers get a Namespace Attribute Changed event and see it\n"
	 "without reconnecting. Either backend=NAME (a [backend] of the file) or a new backend:\n"
	 "  type=ram|null|file|rbd, size_mib=N or size=BYTES (file: default the file's size),\n"
	 "  block_size=512|4096, readonly=yes, path=FILE (file), ceph_conf=, pool=, image=, client=,\n"
	 "  rados_namespace= (rbd).\n"
	 "Identity: nsid=N (default the first free), nguid=32 hex digits, uuid=UUID (default derived\n"
	 "from the NQN and NSID), ana_group=G. Prints the NSID and the backend's name." SAVED,
	 ns_add, print_ns},
	{"ns remove", "nvmf_subsystem_remove_ns", "SUBNQN NSID",
	 "Removes namespace NSID from SUBNQN: new commands for it fail with Invalid Namespace at once,\n"
	 "commands in flight complete first, then its controllers get the Namespace Attribute Changed\n"
	 "event." SAVED,
	 ns_remove, NULL},
	{"ns resize", "hnvmf_subsystem_resize_ns", "SUBNQN NSID [size_mib=N | size=BYTES]",
	 "Grows namespace NSID of SUBNQN to the size given, or without one to its file's, device's or\n"
	 "RBD image's size now (after truncate, lvextend, rbd resize); the controllers get the\n"
	 "Namespace Attribute Changed event. Smaller is refused, and so is a ram namespace." SAVED,
	 ns_resize, NULL},
	{"host add", "nvmf_subsystem_add_host", "SUBNQN HOSTNQN",
	 "Allows host HOSTNQN on SUBNQN (a host = line)." SAVED, host_args, NULL},
	{"host remove", "nvmf_subsystem_remove_host", "SUBNQN HOSTNQN",
	 "Removes host HOSTNQN's host = line from SUBNQN: unless allow_any_host or a tenant file still\n"
	 "admits it, its controllers on SUBNQN are disconnected and its new Connects refused." SAVED,
	 host_args, NULL},
	{"allow-any-host", "nvmf_subsystem_allow_any_host", "SUBNQN yes|no",
	 "Lets any host connect to SUBNQN (yes), or only its hosts and tenants (no: other hosts'\n"
	 "controllers are disconnected)." SAVED,
	 any_host, NULL},
	{"listener add", "nvmf_subsystem_add_listener", "SUBNQN TRADDR TRSVCID [trtype=tcp|rdma] [secure_channel=yes]",
	 "Exports SUBNQN on TRADDR port TRSVCID: a new [listener] when none has that address (it\n"
	 "listens at once, and exports every subsystem that names no listeners), else the existing\n"
	 "one joins SUBNQN's listeners. secure_channel=yes: NVMe/TCP with TLS only. The discovery log\n"
	 "changes. Prints the listener's name." SAVED,
	 listener_add, print_listener},
	{"listener remove", "nvmf_subsystem_remove_listener", "SUBNQN TRADDR TRSVCID [trtype=tcp|rdma]",
	 "Stops exporting SUBNQN on that listener (controllers whose admin queue came through it are\n"
	 "disconnected); the listener closes when no other subsystem is exported on it. Refused for a\n"
	 "subsystem's only listener." SAVED,
	 listener_remove, NULL},
};
HNVMF_CTL_TABLE(config, cmds);
