/* hnvmfctl subcommands about the daemon itself, and the raw `rpc`. */
#include <stdio.h>
#include <string.h>

#include "tools/ctl/ctl.h"

static int rpc_params(int argc, char **argv, struct json_object **params)
{
	if (argc > 1)
		return ctl_usage_error("rpc METHOD [JSON]: one JSON object of params, quoted");
	if (argc == 0)
		return 0;
	enum json_tokener_error e;
	*params = json_tokener_parse_verbose(argv[0], &e);
	if (!*params || !json_object_is_type(*params, json_type_object)) {
		json_object_put(*params);
		*params = NULL;
		return ctl_usage_error("rpc: params '%s' is not a JSON object%s%s", argv[0],
				       e != json_tokener_success ? ": " : "",
				       e != json_tokener_success ? json_tokener_error_desc(e) : "");
	}
	return 0;
}

static int log_level_params(int argc, char **argv, struct json_object **params)
{
	if (argc != 1)
		return ctl_usage_error("log-level set LEVEL: one level (err, warn, notice, info, debug)");
	*params = json_object_new_object();
	json_object_object_add(*params, "level", json_object_new_string(argv[0]));
	return 0;
}

static void print_version(struct json_object *r)
{
	printf("%s\n", ctl_str(r, "version"));
}

static void print_methods(struct json_object *r)
{
	for (size_t i = 0; i < json_object_array_length(r); i++)
		printf("%s\n", json_object_get_string(json_object_array_get_idx(r, i)));
}

static const struct hnvmf_ctl_cmd cmds[] = {
	{"version", "hnvmf_get_version", "", "Prints the daemon's version.", NULL, print_version},
	{"methods", "rpc_get_methods", "", "Lists the JSON-RPC methods the daemon serves, one a line.", NULL,
	 print_methods},
	{"log-level", "log_get_print_level", "", "Prints the daemon's log level.", NULL, NULL},
	{"log-level set", "log_set_print_level", "LEVEL",
	 "Sets the daemon's log level to LEVEL (err, warn, notice, info or debug) at once, without a\n"
	 "restart; it lasts until the daemon stops (the configuration's log_level applies at start).",
	 log_level_params, NULL},
	{"reload", "hnvmf_reload", "",
	 "Re-reads the main configuration file and the tenants directory and applies the difference\n"
	 "to the running daemon without dropping hosts, as SIGHUP does (docs/configuration.md, \"What a\n"
	 "reload applies\"). A file that is refused is named with its line; the daemon then keeps\n"
	 "serving as before.",
	 NULL, NULL},
	{"save", "save_config", "",
	 "Writes the daemon's running configuration (listeners, backends, subsystems) into its main\n"
	 "file: the sections that differ from the file's are rewritten in place, new ones appended,\n"
	 "removed ones deleted, the others keep their text and comments. Each change made through the\n"
	 "API is saved this way already. Fails when the daemon runs the embedded default (no file).",
	 NULL, NULL},
	{"rpc", NULL, "METHOD [PARAMS-JSON]",
	 "Calls any JSON-RPC method with PARAMS-JSON (one JSON object, quoted for the shell) and prints\n"
	 "its result as JSON. Example: hnvmfctl rpc nvmf_get_subsystems '{\"nqn\": \"nqn.2014-08.org.example:a\"}'",
	 rpc_params, NULL},
};
HNVMF_CTL_TABLE(daemon, cmds);
