/* The control API: JSON-RPC 2.0 methods (docs/control.md). target/control.c carries requests over
 * the control socket; this file is the API's contract for the files that implement methods.
 *
 * A method is {name, handler, flags}. Each target/rpc-NAME.c has an array of them and names it
 *   HNVMF_RPC_TABLE(NAME, array);
 * (NAME with '-' spelt '_'); the build lists every such file (target/CMakeLists.txt writes
 * hnvmf-rpc-tables.h), so adding methods is adding a file: no central list to edit.
 *
 * A handler gets the context and the request's params (an object, or NULL when the request had
 * none) and returns the result (a new json_object reference; hnvmf_rpc_ok() when there is nothing
 * to say), or NULL after hnvmf_rpc_error(). Handlers run on the control thread, one at a time. */
#ifndef HNVMF_TARGET_RPC_H
#define HNVMF_TARGET_RPC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"
#include "target/nvmf.h"

/* JSON-RPC 2.0's codes, and ours (the -32000..-32099 range the specification leaves to servers). */
enum {
	HNVMF_RPC_PARSE_ERROR = -32700,
	HNVMF_RPC_INVALID_REQUEST = -32600,
	HNVMF_RPC_METHOD_NOT_FOUND = -32601,
	HNVMF_RPC_INVALID_PARAMS = -32602,
	HNVMF_RPC_INTERNAL_ERROR = -32603,
	HNVMF_RPC_NOT_FOUND = -32001,     /* no such subsystem, controller, tenant, host ... */
	HNVMF_RPC_REFUSED = -32002,       /* the daemon refused the change: the running state is as before */
	HNVMF_RPC_UNAVAILABLE = -32003,   /* not possible in this configuration (no tenants_dir ...) */
	HNVMF_RPC_NOT_PERSISTED = -32004, /* applied to the running daemon, but not written to its files */
};

/* What only the daemon (target/hnvmfd.c) can do; a member may be NULL where there is no daemon
 * (tests, fuzzing): the methods that need it answer HNVMF_RPC_UNAVAILABLE. */
struct hnvmf_rpc_daemon {
	/* Re-reads the main file and the tenants directory and applies the difference, as SIGHUP:
	 * 0, or -1 with msg set (the running configuration is then unchanged). */
	int (*reload)(char *msg, size_t len);
	/* Appends the transports' request counts: "NAME requests: STATE N STATE N ...", a line each. */
	void (*transport_requests)(struct hnvmf_strbuf *sb);
	/* Writes the running configuration model back to the operator's files: 0, or -1 with msg set
	 * (e.g. the embedded default, which has no file). Called after every HNVMF_RPC_CONF_CHANGE
	 * method that succeeded (a failure answers HNVMF_RPC_NOT_PERSISTED), and by save_config.
	 * The tenant methods need none: they write the tenant files. */
	int (*persist)(char *msg, size_t len);
	/* A change of the running configuration model (target/rpc-config.c): edit is called with
	 * the running model and makes *nw, the changed model validated whole by the loader (0, or
	 * -1 with msg set); the daemon then applies the difference (hnvmf_reconfig_apply) and nw
	 * becomes the running model. No reload runs meanwhile. 0, the edit's -1, or -1 with msg
	 * set when applying was refused (nothing changed). */
	int (*change)(int (*edit)(const struct hnvmf_conf *cur, void *arg, struct hnvmf_conf **nw, char *msg,
				  size_t len),
		      void *arg, char *msg, size_t len);
};

struct hnvmf_rpc_ctx {
	struct hnvmf_tgt *tgt;
	const struct hnvmf_rpc_daemon *daemon;
	int code;          /* 0 while no error is set */
	char message[1024];
};

typedef struct json_object *(*hnvmf_rpc_fn)(struct hnvmf_rpc_ctx *ctx, struct json_object *params);

/* The method changes the configuration: the daemon persists it after it succeeded. */
#define HNVMF_RPC_CONF_CHANGE 1u

struct hnvmf_rpc_method {
	const char *name;
	hnvmf_rpc_fn fn;
	unsigned flags;
};

struct hnvmf_rpc_table {
	const struct hnvmf_rpc_method *methods;
	size_t n;
};

#define HNVMF_RPC_TABLE(file, array)                                                               \
	extern const struct hnvmf_rpc_table hnvmf_rpc_table_##file;                                \
	const struct hnvmf_rpc_table hnvmf_rpc_table_##file = {array, sizeof(array) / sizeof(array[0])}

/* Sets the error the request is answered with; returns NULL for `return hnvmf_rpc_error(...)`. */
struct json_object *hnvmf_rpc_error(struct hnvmf_rpc_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The result of a method that has nothing to return: true. */
struct json_object *hnvmf_rpc_ok(void);

/* Parameters. Each returns false after setting HNVMF_RPC_INVALID_PARAMS (missing when required,
 * wrong type, out of range); an optional parameter that is absent leaves *out as it was and
 * returns true. */
bool hnvmf_rpc_param_str(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			 bool required, const char **out);
bool hnvmf_rpc_param_u64(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			 bool required, uint64_t max, uint64_t *out);
bool hnvmf_rpc_param_bool(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *key,
			  bool required, bool *out);
/* Refuses a parameter not named in keys (NULL-terminated): a misspelt optional parameter would
 * otherwise be silently ignored. */
bool hnvmf_rpc_param_only(struct hnvmf_rpc_ctx *ctx, struct json_object *params, const char *const *keys);

/* Runs one request (a parsed JSON value) and returns its response, or NULL for a notification
 * (a request without "id", which is answered with nothing). A batch (an array) is refused as an
 * invalid request. Never NULL otherwise (out of memory aside). */
struct json_object *hnvmf_rpc_call(struct hnvmf_tgt *tgt, const struct hnvmf_rpc_daemon *daemon,
				   struct json_object *request);
/* The error response to a request that could not be read: parse error, too large. */
struct json_object *hnvmf_rpc_error_response(int code, const char *message);
/* Every method's name, sorted (rpc_get_methods). */
struct json_object *hnvmf_rpc_method_names(void);

#endif
