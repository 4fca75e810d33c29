/* See harness.h. */
#include "tests/integration/harness.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/rand.h>

#include "proto/keyfmt.h"
#include "proto/nvme-cmd.h"
#include "tools/initiator/initiator.h"

#ifndef HNVMF_BINARY_DIR
#error "HNVMF_BINARY_DIR must name the build directory"
#endif

const char hnvmf_harness_default_conf[] =
	"[global]\n"
	"log_level = info\n"
	"control_socket =\n"
	"\n"
	"[listener tcp]\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"\n"
	"[listener discovery]\n"
	"address = 127.0.0.1\n"
	"port = @DISC_PORT@\n"
	"discovery = yes\n"
	"\n"
	"[backend ram0]\n"
	"type = ram\n"
	"size = 64M\n"
	"\n"
	"[backend ram1]\n"
	"type = ram\n"
	"size = 16M\n"
	"block_size = 4096\n"
	"\n"
	"[subsystem " HNVMF_HARNESS_SUBNQN "]\n"
	"allow_any_host = yes\n"
	"namespace = 1:ram0\n"
	"namespace = 2:ram1\n";

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

uint16_t hnvmf_harness_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	uint16_t port = 0;
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static const char *hnvmfd_path(void)
{
	const char *env = getenv("HNVMFD");
	return env && *env ? env : HNVMF_BINARY_DIR "/target/hnvmfd";
}

int hnvmf_harness_prepare(struct hnvmf_harness *h)
{
	if (h->dir[0])
		return 0;
	memset(h, 0, sizeof(*h));
	h->pid = -1;
	snprintf(h->dir, sizeof(h->dir), "/tmp/hnvmf-it-XXXXXX");
	if (!mkdtemp(h->dir)) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		h->dir[0] = 0;
		return -1;
	}
	snprintf(h->conf_path, sizeof(h->conf_path), "%s/hnvmf.conf", h->dir);
	snprintf(h->log_path, sizeof(h->log_path), "%s/hnvmfd.log", h->dir);
	h->port = hnvmf_harness_free_port();
	do
		h->disc_port = hnvmf_harness_free_port();
	while (h->disc_port == h->port);
	return h->port && h->disc_port ? 0 : -1;
}

/* Replaces @PORT@, @DISC_PORT@ and @DIR@. */
static char *expand(const struct hnvmf_harness *h, const char *tpl)
{
	size_t cap = strlen(tpl) * 2 + 4096, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	char port[8], dport[8];
	snprintf(port, sizeof(port), "%u", h->port);
	snprintf(dport, sizeof(dport), "%u", h->disc_port);
	for (const char *p = tpl; *p;) {
		const char *rep = NULL;
		size_t skip = 0;
		if (!strncmp(p, "@PORT@", 6))
			rep = port, skip = 6;
		else if (!strncmp(p, "@DISC_PORT@", 11))
			rep = dport, skip = 11;
		else if (!strncmp(p, "@DIR@", 5))
			rep = h->dir, skip = 5;
		size_t add = rep ? strlen(rep) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *bigger = realloc(out, cap);
			if (!bigger) {
				free(out);
				return NULL;
			}
			out = bigger;
		}
		if (rep) {
			memcpy(out + n, rep, add);
			p += skip;
		} else {
			out[n] = *p++;
		}
		n += add;
	}
	out[n] = 0;
	return out;
}

int hnvmf_harness_write_file(struct hnvmf_harness *h, const char *relpath, const char *text)
{
	if (hnvmf_harness_prepare(h))
		return -1;
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", h->dir, relpath);
	char *slash = strrchr(path, '/');
	if (slash && slash > path + strlen(h->dir)) {
		*slash = 0;
		if (mkdir(path, 0700) && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	char *body = expand(h, text);
	/* Owner-only, whatever the umask: tenant files with inline secrets must be (the daemon
	 * refuses them otherwise). */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (fd >= 0 && !f)
		close(fd);
	int r = -1;
	if (f && body && fputs(body, f) >= 0)
		r = 0;
	if (f && fclose(f))
		r = -1;
	free(body);
	return r;
}

char *hnvmf_harness_log(const struct hnvmf_harness *h)
{
	FILE *f = fopen(h->log_path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n + 1 < cap)
			break;
		cap *= 2;
		char *bigger = realloc(buf, cap);
		if (!bigger) {
			free(buf);
			buf = NULL;
		}
		buf = bigger;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

bool hnvmf_harness_log_wait(const struct hnvmf_harness *h, const char *needle, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		char *log = hnvmf_harness_log(h);
		bool found = log && strstr(log, needle);
		free(log);
		if (found)
			return true;
		if (now_ms() >= deadline)
			return false;
		sleep_ms(20);
	}
}

static void dump_log(const struct hnvmf_harness *h)
{
	char *log = hnvmf_harness_log(h);
	fprintf(stderr, "---- hnvmfd log (%s) ----\n%s---- end of log ----\n", h->log_path,
		log ? log : "(none)\n");
	free(log);
}

static bool port_accepts(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The daemon's control socket @DIR@/ctl.sock accepts: hnvmfd starts it after its listeners. */
static bool ctl_accepts(const struct hnvmf_harness *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", h->dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static pid_t spawn(const char *const argv[], const char *log_path)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* the daemon must not outlive a crashed test */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || null < 0)
		_exit(127);
	dup2(null, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	execv(argv[0], (char *const *)argv);
	dprintf(2, "harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int hnvmf_harness_start(struct hnvmf_harness *h, const char *conf_template)
{
	if (hnvmf_harness_prepare(h))
		return -1;
	const char *bin = hnvmfd_path();
	if (access(bin, X_OK)) {
		fprintf(stderr, "harness: %s: %s\n", bin, strerror(errno));
		return -1;
	}
	bool embedded = conf_template == HNVMF_HARNESS_EMBEDDED;
	if (embedded) {
		h->port = 4420;
		h->disc_port = 8009;
	} else if (hnvmf_harness_write_file(h, "hnvmf.conf",
					    conf_template ? conf_template : hnvmf_harness_default_conf)) {
		fprintf(stderr, "harness: cannot write %s\n", h->conf_path);
		return -1;
	}
	const char *argv_conf[] = { bin, "-c", h->conf_path, NULL };
	const char *argv_embedded[] = { bin, NULL };
	h->pid = spawn(embedded ? argv_embedded : argv_conf, h->log_path);
	if (h->pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		return -1;
	}
	/* A configuration with the control socket: ready when it accepts too (a test's first call
	 * must not race the daemon's start). */
	bool ctl = !embedded && conf_template && strstr(conf_template, "@DIR@/ctl.sock");
	uint64_t deadline = now_ms() + 10000;
	while (now_ms() < deadline) {
		if (!hnvmf_harness_alive(h)) {
			fprintf(stderr, "harness: hnvmfd exited during start-up (status %d)\n", h->exit_status);
			dump_log(h);
			return -1;
		}
		if (port_accepts(h->port) && (!ctl || ctl_accepts(h)))
			return 0;
		sleep_ms(20);
	}
	fprintf(stderr, "harness: hnvmfd does not accept on 127.0.0.1:%u after 10 s\n", h->port);
	dump_log(h);
	hnvmf_harness_stop(h);
	return -1;
}

static int decode_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

bool hnvmf_harness_alive(struct hnvmf_harness *h)
{
	if (h->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(h->pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r == h->pid)
		h->exit_status = decode_status(st);
	h->pid = -1;
	return false;
}

int hnvmf_harness_signal(struct hnvmf_harness *h, int sig)
{
	return h->pid > 0 ? kill(h->pid, sig) : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int hnvmf_harness_stop(struct hnvmf_harness *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		uint64_t deadline = now_ms() + 10000;
		int st = 0;
		pid_t r = 0;
		while ((r = waitpid(h->pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
			sleep_ms(10);
		if (r == 0) {
			fprintf(stderr, "harness: hnvmfd ignored SIGTERM for 10 s, killing it\n");
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			h->exit_status = 128 + SIGKILL;
		} else {
			h->exit_status = decode_status(st);
		}
		h->pid = -1;
		if (h->exit_status != 0)
			dump_log(h);
	}
	if (h->dir[0] && !getenv("HNVMF_KEEP_TMP"))
		nftw(h->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	h->dir[0] = 0;
	return h->exit_status;
}

int hnvmf_harness_check(const char *conf_template, char **out)
{
	struct hnvmf_harness h = { 0 };
	if (out)
		*out = NULL;
	if (hnvmf_harness_write_file(&h, "hnvmf.conf", conf_template ? conf_template : hnvmf_harness_default_conf))
		return -1;
	const char *argv[] = { hnvmfd_path(), "--check", "-c", h.conf_path, NULL };
	h.pid = spawn(argv, h.log_path);
	int st = 0, code = -1;
	if (h.pid > 0 && waitpid(h.pid, &st, 0) == h.pid)
		code = decode_status(st);
	h.pid = -1;
	if (out)
		*out = hnvmf_harness_log(&h);
	h.exit_status = 0;
	hnvmf_harness_stop(&h);
	return code;
}

int hnvmf_harness_rpc(const struct hnvmf_harness *h, const char *method, const char *params, char *out,
		      size_t len)
{
	out[0] = '\0';
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", h->dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char *req = NULL;
	int n = asprintf(&req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"%s%s}", method,
			 params ? ",\"params\":" : "", params ? params : "");
	if (n < 0 || write(fd, req, (size_t)n) != n) {
		free(req);
		close(fd);
		return -1;
	}
	free(req);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *resp = NULL;
	char buf[65536];
	ssize_t r;
	while (!resp && (r = read(fd, buf, sizeof(buf))) > 0) {
		resp = json_tokener_parse_ex(tok, buf, (int)r);
		if (!resp && json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	json_tokener_free(tok);
	close(fd);
	if (!resp)
		return -1;
	struct json_object *v;
	int rc = json_object_object_get_ex(resp, "error", &v) ? 1 : 0;
	if (rc == 0 && !json_object_object_get_ex(resp, "result", &v))
		fail_msg("%s: an answer with neither result nor error", method);
	size_t sl;
	const char *s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &sl);
	if (sl >= len)
		fail_msg("%s: the answer (%zu bytes) does not fit the test's buffer (%zu)", method, sl, len);
	memcpy(out, s, sl + 1);
	json_object_put(resp);
	return rc;
}

/* The parsed result of a control call without parameters, or NULL. Its buffer is the caller's
 * own: tests call this from several threads at once (test_many_namespaces). */
static struct json_object *rpc_json(const struct hnvmf_harness *h, const char *method)
{
	size_t cap = 1 << 20;
	char *out = malloc(cap);
	struct json_object *j = NULL;
	if (out && hnvmf_harness_rpc(h, method, NULL, out, cap) == 0)
		j = json_tokener_parse(out);
	free(out);
	return j;
}

bool hnvmf_harness_ctrl_line(const struct hnvmf_harness *h, const char *hostnqn, char *line, size_t len)
{
	line[0] = '\0';
	struct json_object *all = rpc_json(h, "nvmf_subsystem_get_controllers");
	if (!all)
		return false;
	bool found = false;
	for (size_t i = 0; all && !found && i < json_object_array_length(all); i++) {
		struct json_object *c = json_object_array_get_idx(all, i), *v, *qs;
		json_object_object_get_ex(c, "hostnqn", &v);
		if (strcmp(json_object_get_string(v), hostnqn) != 0)
			continue;
		found = true;
		json_object_object_get_ex(c, "queues", &qs);
		char buf[4096];
		struct json_object *cntlid, *subnqn, *kato;
		json_object_object_get_ex(c, "cntlid", &cntlid);
		json_object_object_get_ex(c, "subnqn", &subnqn);
		json_object_object_get_ex(c, "kato_ms", &kato);
		int n = snprintf(buf, sizeof(buf), "ctrl %d subsys %s host %s kato %lld ioqueues %zu",
				 json_object_get_int(cntlid), json_object_get_string(subnqn), hostnqn,
				 (long long)json_object_get_int64(kato), json_object_array_length(qs) - 1);
		for (size_t q = 1; q < json_object_array_length(qs) && n > 0 && (size_t)n < sizeof(buf); q++) {
			struct json_object *sq = json_object_array_get_idx(qs, q), *qid, *mode, *auth, *why;
			json_object_object_get_ex(sq, "qid", &qid);
			json_object_object_get_ex(sq, "mode", &mode);
			json_object_object_get_ex(sq, "authenticated", &auth);
			json_object_object_get_ex(sq, "why", &why);
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " q%d:%s%s", json_object_get_int(qid),
				      json_object_get_string(mode), json_object_get_boolean(auth) ? "+auth" : "");
			if (why && (size_t)n < sizeof(buf))
				n += snprintf(buf + n, sizeof(buf) - (size_t)n, " (%s)", json_object_get_string(why));
		}
		snprintf(line, len, "%s", buf);
	}
	json_object_put(all);
	return found;
}

bool hnvmf_harness_queue_info(const struct hnvmf_harness *h, const char *hostnqn, unsigned qid,
			      struct hnvmf_harness_queue *q)
{
	char line[4096];
	unsigned cntlid;
	if (!hnvmf_harness_ctrl_line(h, hostnqn, line, sizeof(line)) || sscanf(line, "ctrl %u ", &cntlid) != 1)
		return false;
	struct json_object *all = rpc_json(h, "nvmf_subsystem_get_qpairs");
	if (!all)
		return false;
	bool found = false;
	for (size_t i = 0; all && !found && i < json_object_array_length(all); i++) {
		struct json_object *e = json_object_array_get_idx(all, i), *c, *qi, *r, *ios, *hops;
		if (!json_object_object_get_ex(e, "cntlid", &c) || (unsigned)json_object_get_int(c) != cntlid ||
		    !json_object_object_get_ex(e, "qid", &qi) || (unsigned)json_object_get_int(qi) != qid ||
		    !json_object_object_get_ex(e, "reactor", &r) || !json_object_object_get_ex(e, "ios", &ios) ||
		    !json_object_object_get_ex(e, "hops", &hops))
			continue;
		snprintf(q->reactor, sizeof(q->reactor), "%s", json_object_get_string(r));
		q->ios = (unsigned long long)json_object_get_uint64(ios);
		q->hops = (unsigned long long)json_object_get_uint64(hops);
		found = true;
	}
	json_object_put(all);
	return found;
}

/* Runs cmd (stderr already merged) with its output into out. */
static int run_cmd(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int hnvmf_harness_perf(char *out, size_t len, const char *fmt, ...)
{
	static const char perf[] = HNVMF_BINARY_DIR "/tools/hnvmf-perf";
	char args[1024], cmd[1200];
	out[0] = '\0';
	if (access(perf, X_OK))
		return -2;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", perf, args);
	return run_cmd(cmd, out, len);
}

int hnvmf_harness_sh(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	return run_cmd(cmd, out, len);
}

void hnvmf_harness_gen_key(bool tls, int hh, size_t len, char *out)
{
	struct hnvmf_key k = { .len = len, .hmac = hh };
	assert_true(len <= sizeof(k.data));
	assert_int_equal(RAND_bytes(k.data, (int)len), 1);
	if (tls)
		assert_int_equal(hnvmf_tls_key_format(&k, out, HNVMF_KEY_STR_MAX), 0);
	else
		assert_int_equal(hnvmf_dhchap_key_format(&k, out, HNVMF_KEY_STR_MAX), 0);
	hnvmf_key_wipe(&k);
}

void hnvmf_harness_verify(struct hnvmf_ini_ctrl *c, uint64_t slba, uint64_t nblocks, uint32_t io_size,
			  uint64_t seed)
{
	struct hnvmf_ini_ns_info ns;
	assert_int_equal(hnvmf_ini_ns_info(c, 1, &ns), 0);
	struct hnvmf_ini_verify_opts v = { .nsid = 1, .slba = slba, .nblocks = nblocks,
					   .lba_size = ns.lba_size, .io_size = io_size, .qd = 8,
					   .seed = seed, .write = true, .read = true };
	struct hnvmf_ini_verify_result res = { 0 };
	if (hnvmf_ini_verify(c, &v, &res) != 0)
		fail_msg("verify: %llu bad blocks, status %d", (unsigned long long)res.bad_blocks,
			 res.status);
	assert_true(res.writes > 0 && res.reads > 0);
}

void hnvmf_harness_small_asan_quarantine(void)
{
#ifdef __SANITIZE_ADDRESS__
	const char *was = getenv("ASAN_OPTIONS");
	char opts[1024];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=1", was ? was : "", was && *was ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
#endif
}

int hnvmf_harness_rpc_error(const struct hnvmf_harness *h, const char *method, const char *params, char *msg,
			    size_t len)
{
	char out[4096];
	assert_int_equal(hnvmf_harness_rpc(h, method, params, out, sizeof(out)), 1);
	struct json_object *e = json_tokener_parse(out), *c, *m;
	assert_non_null(e);
	assert_true(json_object_object_get_ex(e, "code", &c));
	assert_true(json_object_object_get_ex(e, "message", &m));
	if (msg)
		snprintf(msg, len, "%s", json_object_get_string(m));
	int code = json_object_get_int(c);
	json_object_put(e);
	return code;
}

struct hnvmf_ini_ctrl *hnvmf_harness_connect(uint16_t port, const char *subnqn, const char *host, unsigned nq)
{
	return hnvmf_harness_connect_key(port, subnqn, host, nq, NULL);
}

struct hnvmf_ini_ctrl *hnvmf_harness_connect_key(uint16_t port, const char *subnqn, const char *host, unsigned nq,
						 const char *key)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nq;
	o.io_depth = 32;
	o.dhchap_secret = key;
	if (!nq)
		o.kato_ms = 30000; /* a persistent discovery controller */
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", port, subnqn, host, &o, &c);
	if (r)
		fail_msg("connect to %s as %s: %d", subnqn, host, r);
	return c;
}

static void aer_cb(struct hnvmf_ini_io *io) { ((struct hnvmf_harness_aer *)io->arg)->done = true; }

void hnvmf_harness_aer_post(struct hnvmf_ini_ctrl *c, struct hnvmf_harness_aer *a, uint32_t enable)
{
	if (enable) {
		union hnvmf_sqe sqe;
		memset(&sqe, 0, sizeof(sqe));
		hnvmf_sqe_set_features(&sqe, NVME_FEAT_FID_ASYNC_EVENT, enable);
		struct hnvmf_cqe cqe;
		assert_int_equal(hnvmf_ini_admin_exec(c, &sqe, NULL, 0, HNVMF_INI_NONE, &cqe), 0);
	}
	memset(a, 0, sizeof(*a));
	a->io.sqe.common.opcode = nvme_admin_async_event;
	a->io.done = aer_cb;
	a->io.arg = a;
	assert_int_equal(hnvmf_ini_submit(c->admin, &a->io), 0);
}

bool hnvmf_harness_aer_wait(struct hnvmf_ini_ctrl *c, struct hnvmf_harness_aer *a, int ms)
{
	for (int t = 0; t < ms / 20 && !a->done; t++) {
		hnvmf_ini_queue_wait(c->admin, 20);
		assert_true(hnvmf_ini_queue_process(c->admin) >= 0);
	}
	return a->done;
}

bool hnvmf_harness_ns_active(struct hnvmf_ini_ctrl *c, uint32_t nsid)
{
	uint32_t nsids[64];
	unsigned n = 0;
	assert_int_equal(hnvmf_ini_active_ns(c, nsids, 64, &n), 0);
	for (unsigned i = 0; i < n; i++)
		if (nsids[i] == nsid)
			return true;
	return false;
}

unsigned hnvmf_harness_disc_entries(const struct nvmf_discovery_log *log, const char *subnqn, uint16_t port)
{
	char svc[8];
	snprintf(svc, sizeof(svc), "%u", port);
	unsigned n = 0;
	for (uint64_t i = 0; i < le64toh(log->numrec); i++)
		if (strcmp(log->entries[i].subnqn, subnqn) == 0 && strncmp(log->entries[i].trsvcid, svc, sizeof(svc)) == 0)
			n++;
	return n;
}

long hnvmf_harness_rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	if (kib <= 0)
		fail_msg("%s: no VmRSS", path);
	return kib;
}

long hnvmf_harness_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		fail_msg("%s: %s", path, strerror(errno));
	long n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The control connection of the last call may still be closing on the daemon's side when the
 * call returned: a count read at once can be one high. want >= 0: the count once at most want,
 * or after 2 s (a leak stays visible). want < 0: the lowest count seen over 200 ms. */
long hnvmf_harness_fds_settled(pid_t pid, long want)
{
	long fds = hnvmf_harness_fds(pid);
	for (int i = 0; i < 2000 && (want < 0 ? i < 200 : fds > want); i++) {
		usleep(1000);
		long now = hnvmf_harness_fds(pid);
		fds = want < 0 && now > fds ? fds : now;
	}
	return fds;
}
