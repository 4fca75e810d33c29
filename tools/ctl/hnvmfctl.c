/* hnvmfctl: hnvmfd's control API from the command line (docs/man/hnvmfctl.8.md). Finds the
 * subcommand in the tables of tools/ctl/ctl-*.c, sends its one JSON-RPC request on the control
 * socket, reads the one response and prints it as a table (or as JSON with --json).
 * Exit status: 0 ok, 1 the daemon answered an error, 2 usage, 3 no daemon (cannot connect). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/conf.h"
#include "hnvmf-ctl-tables.h" /* HNVMF_CTL_TABLES(X): X(name) for every tools/ctl/ctl-NAME.c */
#include "tools/ctl/ctl.h"

#define DECLARE_TABLE(f) extern const struct hnvmf_ctl_table hnvmf_ctl_table_##f;
HNVMF_CTL_TABLES(DECLARE_TABLE)
#define TABLE_PTR(f) &hnvmf_ctl_table_##f,
static const struct hnvmf_ctl_table *const tables[] = {HNVMF_CTL_TABLES(TABLE_PTR)};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: hnvmfctl [-s SOCKET | -c CONFIG] [--json] SUBCOMMAND [ARGS...]\n"
		   "       hnvmfctl SUBCOMMAND --help\n"
		   "  -s, --socket SOCKET  the daemon's control socket\n"
		   "  -c, --config CONFIG  use CONFIG's control_socket (default: %s)\n"
		   "      --json           print the daemon's JSON result as it is, for scripts\n"
		   "  -h, --help           this text\n"
		   "exit status: 0 ok, 1 the daemon answered an error, 2 usage, 3 cannot reach the daemon\n"
		   "subcommands:\n",
		HNVMF_DEFAULT_CONTROL_SOCKET);
	for (size_t t = 0; t < NTABLES; t++)
		for (size_t i = 0; i < tables[t]->n; i++)
			fprintf(f, "  %s %s\n", tables[t]->cmds[i].words, tables[t]->cmds[i].synopsis);
}

static void cmd_help(const struct hnvmf_ctl_cmd *c)
{
	printf("usage: hnvmfctl [-s SOCKET | -c CONFIG] [--json] %s %s\n\n%s\n", c->words, c->synopsis, c->help);
	if (c->method)
		printf("\nJSON-RPC method: %s (docs/control.md)\n", c->method);
}

/* The subcommand whose words argv starts with (the most words wins); *nwords set. */
static const struct hnvmf_ctl_cmd *find_cmd(int argc, char **argv, int *nwords)
{
	const struct hnvmf_ctl_cmd *best = NULL;
	int bestn = 0;
	for (size_t t = 0; t < NTABLES; t++)
		for (size_t i = 0; i < tables[t]->n; i++) {
			const struct hnvmf_ctl_cmd *c = &tables[t]->cmds[i];
			char words[128];
			snprintf(words, sizeof(words), "%s", c->words);
			int n = 0;
			bool match = true;
			for (char *save, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save), n++)
				if (n >= argc || strcmp(argv[n], w) != 0) {
					match = false;
					break;
				}
			if (match && n > bestn) {
				best = c;
				bestn = n;
			}
		}
	*nwords = bestn;
	return best;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hnvmfctl: %s: path too long for a unix socket\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "hnvmfctl: cannot connect to %s: %s (is hnvmfd running? -s or -c name its socket)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends the request and reads its response (one JSON object, whatever its size). */
static struct json_object *exchange(int fd, struct json_object *req)
{
	size_t n;
	const char *s = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	for (size_t off = 0; off < n;) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "hnvmfctl: sending the request: %s\n", strerror(errno));
			return NULL;
		}
		off += (size_t)w;
	}
	struct json_tokener *tok = json_tokener_new();
	struct json_object *resp = NULL;
	char buf[65536];
	while (tok && !resp) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "hnvmfctl: the daemon closed the connection without an answer%s%s\n",
				r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
			break;
		}
		resp = json_tokener_parse_ex(tok, buf, (int)r);
		enum json_tokener_error e = json_tokener_get_error(tok);
		if (!resp && e != json_tokener_continue) {
			fprintf(stderr, "hnvmfctl: the daemon's answer is not JSON: %s\n", json_tokener_error_desc(e));
			break;
		}
	}
	if (tok)
		json_tokener_free(tok);
	return resp;
}

static void print_default(struct json_object *result)
{
	if (json_object_is_type(result, json_type_boolean) && json_object_get_boolean(result))
		printf("ok\n");
	else if (json_object_is_type(result, json_type_string))
		printf("%s\n", json_object_get_string(result));
	else
		printf("%s\n", json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The socket: -s, else -c CONFIG's control_socket, else the default. */
static int socket_path(const char *sock, const char *config, char *out, size_t len)
{
	if (sock) {
		snprintf(out, len, "%s", sock);
		return 0;
	}
	if (!config) {
		snprintf(out, len, "%s", HNVMF_DEFAULT_CONTROL_SOCKET);
		return 0;
	}
	struct hnvmf_conf *c;
	char err[512];
	if (hnvmf_conf_load(config, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "hnvmfctl: %s\n", err);
		return -1;
	}
	snprintf(out, len, "%s", c->control_socket);
	hnvmf_conf_free(c);
	if (!out[0]) {
		fprintf(stderr, "hnvmfctl: %s configures no control_socket\n", config);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},	  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *config = NULL;
	bool json = false;
	int o;
	/* "+": options end at the subcommand, whose own arguments may start with '-' */
	while ((o = getopt_long(argc, argv, "+s:c:h", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'c': config = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return CTL_OK;
		default: usage(stderr); return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	int nwords;
	const struct hnvmf_ctl_cmd *cmd = find_cmd(argc - optind, argv + optind, &nwords);
	if (!cmd) {
		fprintf(stderr, "hnvmfctl: unknown subcommand '%s' (hnvmfctl --help lists them)\n", argv[optind]);
		return CTL_USAGE;
	}
	int cargc = argc - optind - nwords;
	char **cargv = argv + optind + nwords;
	for (int i = 0; i < cargc; i++)
		if (strcmp(cargv[i], "--help") == 0 || strcmp(cargv[i], "-h") == 0) {
			cmd_help(cmd);
			return CTL_OK;
		}
	const char *method = cmd->method;
	if (!method) { /* rpc METHOD [JSON] */
		if (cargc < 1)
			return ctl_usage_error("%s: which method? (rpc_get_methods lists them)", cmd->words);
		method = cargv[0];
		cargc--;
		cargv++;
	}
	struct json_object *params = NULL;
	if (cmd->params) {
		int rc = cmd->params(cargc, cargv, &params);
		if (rc) {
			json_object_put(params); /* what was built before the mistake */
			return rc;
		}
	} else if (cargc > 0) {
		return ctl_usage_error("%s takes no arguments ('%s')", cmd->words, cargv[0]);
	}
	char path[108];
	if (socket_path(sock, config, path, sizeof(path)) != 0) {
		json_object_put(params);
		return CTL_USAGE;
	}
	int fd = connect_socket(path);
	if (fd < 0) {
		json_object_put(params);
		return CTL_NO_DAEMON;
	}
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(req, "params", params);
	struct json_object *resp = exchange(fd, req);
	close(fd);
	json_object_put(req);
	if (!resp)
		return CTL_NO_DAEMON;
	struct json_object *err, *result;
	int rc = CTL_OK;
	if (json_object_object_get_ex(resp, "error", &err)) {
		if (json)
			printf("%s\n", json_object_to_json_string_ext(err, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
		fprintf(stderr, "hnvmfctl: %s: %s (error %lld)\n", method, ctl_str(err, "message"),
			(long long)ctl_int(err, "code"));
		rc = CTL_ERROR;
	} else if (!json_object_object_get_ex(resp, "result", &result)) {
		fprintf(stderr, "hnvmfctl: the daemon's answer has neither result nor error\n");
		rc = CTL_ERROR;
	} else if (json) {
		printf("%s\n", json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		(cmd->print ? cmd->print : print_default)(result);
	}
	json_object_put(resp);
	return rc;
}
