/* hnvmfctl's subcommands (docs/man/hnvmfctl.8.md). A subcommand is a table entry: its words
 * ("tenant set"), the JSON-RPC method it calls, how its arguments become the params, how the
 * result prints as a table, and its --help text. Each tools/ctl/ctl-NAME.c has an array of them
 * and names it HNVMF_CTL_TABLE(NAME, array); the build lists every such file (tools/CMakeLists.txt
 * writes hnvmf-ctl-tables.h), so adding subcommands is adding a file. */
#ifndef HNVMF_CTL_H
#define HNVMF_CTL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in hnvmfctl(8). */
enum { CTL_OK = 0, CTL_ERROR = 1, CTL_USAGE = 2, CTL_NO_DAEMON = 3 };

struct hnvmf_ctl_cmd {
	const char *words;    /* "subsystems", "tenant set" */
	const char *method;   /* NULL: the first argument names it (hnvmfctl rpc) */
	const char *synopsis; /* the arguments, for usage lines: "HOSTNQN [mode=MODE] ..." */
	const char *help;     /* what it does, its arguments and output: the --help text */
	/* argv: the arguments after the words. Builds *params (NULL: none); returns 0, or CTL_USAGE
	 * after printing what is wrong. NULL: the subcommand takes no arguments. */
	int (*params)(int argc, char **argv, struct json_object **params);
	/* Prints a successful result for a person. NULL: "ok" for true, else the JSON, pretty. */
	void (*print)(struct json_object *result);
};

struct hnvmf_ctl_table {
	const struct hnvmf_ctl_cmd *cmds;
	size_t n;
};

#define HNVMF_CTL_TABLE(file, array)                                                               \
	extern const struct hnvmf_ctl_table hnvmf_ctl_table_##file;                                \
	const struct hnvmf_ctl_table hnvmf_ctl_table_##file = {array, sizeof(array) / sizeof(array[0])}

/* Helpers for params and print functions. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* CTL_USAGE */
/* A KEY=VALUE argument's key and the JSON type the method's parameter has: the value is sent as
 * that type (a string of digits such as an NGUID stays a string), never guessed from its text. */
enum ctl_type {
	CTL_STRING,
	CTL_NUMBER, /* decimal digits: an unsigned integer */
	CTL_BOOL,   /* yes/no, true/false */
};
struct ctl_key {
	const char *name;
	enum ctl_type type;
};
/* KEY=VALUE arguments into params, each as its key's type; keys lists the ones accepted (ended
 * by {NULL}). A value that is not of its type is a usage error; an empty value stays the empty
 * string whatever the type (callers that give it a meaning, e.g. null, look for it). */
int ctl_kv_params(int argc, char **argv, const struct ctl_key *keys, struct json_object *params);
const char *ctl_str(struct json_object *o, const char *key); /* "" when absent */
int64_t ctl_int(struct json_object *o, const char *key);     /* 0 when absent */
/* A table: columns, then rows of as many cells, printed aligned under a header. */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
void ctl_table_row(struct ctl_table *t, ...); /* ncols const char * */
void ctl_table_print(struct ctl_table *t);    /* and frees it */

#endif
