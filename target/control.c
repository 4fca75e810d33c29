/* The control socket (see control.h). One thread; commands are rare and short, but the
 * peers are not trusted to be quick: see control_thread. */
#include "target/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "core/pqm.h"
#include "target/sla.h"
#include "hnvmf-version.h"

#define CONTROL_MAX_CLIENTS 8 /* requests served at once */
#define CONTROL_LINE_MAX 512  /* one command line */

struct control_client {
	int fd;               /* -1: a free slot */
	uint64_t deadline_ns; /* accepted + control_timeout_ms */
	char line[CONTROL_LINE_MAX];
	size_t n;
	char *out;            /* the answer, once the line is complete */
	size_t out_len, out_off;
};

struct hnvmf_control {
	struct hnvmf_tgt *tgt;
	int fd;
	int stopfd[2];
	char path[108];
	pthread_t thread;
	int (*reload)(char *msg, size_t len);
	void (*stats)(struct hnvmf_strbuf *sb);
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* Runs one command line; returns its answer (malloc'ed), NULL when out of memory. */
static char *run_command(struct hnvmf_control *c, char *line)
{
	size_t cap = 1 << 16;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	if (strcmp(line, "state") == 0) {
		hnvmf_tgt_describe(c->tgt, out, cap);
	} else if (strcmp(line, "pqm") == 0) {
		hnvmf_pqm_describe(c->tgt->engine, out, cap);
	} else if (strncmp(line, "pqm-c ", 6) == 0) {
		unsigned n;
		int rc = sscanf(line + 6, "%u", &n) == 1 ? hnvmf_pqm_force_c(c->tgt->engine, n) : -EINVAL;
		if (rc)
			snprintf(out, cap, "error: pqm-c N (0 = automatic, 1..cmax): %s\n", strerror(-rc));
		else
			snprintf(out, cap, "ok\n");
	} else if (strcmp(line, "reload") == 0) {
		char msg[1024] = "";
		if (c->reload(msg, sizeof(msg)) == 0)
			snprintf(out, cap, "ok\n");
		else
			snprintf(out, cap, "error: %s\n", msg);
	} else if (strcmp(line, "stats") == 0) {
		struct hnvmf_strbuf sb = hnvmf_strbuf(out, cap);
		c->stats(&sb);
	} else if (strcmp(line, "sla") == 0) {
		struct hnvmf_strbuf sb = hnvmf_strbuf(out, cap);
		hnvmf_sla_describe(c->tgt->sla, &sb);
	} else if (strcmp(line, "log-level") == 0) {
		snprintf(out, cap, "%s\n", hnvmf_log_level_name(hnvmf_log_get_level()));
	} else if (strncmp(line, "log-level ", 10) == 0) {
		int l = hnvmf_log_level_parse(line + 10);
		if (l < 0) {
			snprintf(out, cap, "error: log-level err|warn|notice|info|debug\n");
		} else {
			hnvmf_log_set_level((enum hnvmf_log_level)l);
			log_notice("log level set to %s through the control socket", line + 10);
			snprintf(out, cap, "ok\n");
		}
	} else if (strcmp(line, "version") == 0) {
		snprintf(out, cap, "%s\n", HNVMF_VERSION);
	} else {
		snprintf(out, cap, "error: unknown command '%s' (state, stats, sla, pqm, pqm-c, reload, log-level, version)\n", line);
	}
	return out;
}

static void client_close(struct control_client *cl)
{
	close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* Reads what the client sent; once its line is complete (a newline, or the client shut its
 * sending side down), runs it and starts the answer. */
static void client_read(struct hnvmf_control *c, struct control_client *cl)
{
	ssize_t r = read(cl->fd, cl->line + cl->n, sizeof(cl->line) - 1 - cl->n);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0 || (r == 0 && cl->n == 0)) {
		client_close(cl);
		return;
	}
	cl->n += (size_t)r;
	cl->line[cl->n] = '\0';
	size_t eol = strcspn(cl->line, "\r\n");
	bool complete = eol < cl->n || r == 0;
	if (!complete && cl->n < sizeof(cl->line) - 1)
		return;
	if (!complete) {
		cl->out = strdup("error: request too long\n");
	} else {
		cl->line[eol] = '\0';
		cl->out = run_command(c, cl->line);
	}
	if (!cl->out) {
		client_close(cl);
		return;
	}
	cl->out_len = strlen(cl->out);
}

/* Sends what the socket takes now; the connection closes once the answer is out. */
static void client_write(struct control_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0)
			break;
		cl->out_off += (size_t)w;
	}
	client_close(cl);
}

static void accept_client(struct hnvmf_control *c, uint64_t now)
{
	int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = &c->clients[i];
		if (cl->fd < 0) {
			cl->fd = fd;
			cl->deadline_ns = now + (uint64_t)c->tgt->conf->limits.control_timeout_ms * 1000000ull;
			return;
		}
	}
	close(fd); /* not reached: the listener is only polled while a slot is free */
}

/* Clients are served side by side, at most CONTROL_MAX_CLIENTS at once (more wait in the
 * listen backlog), and each request has control_timeout_ms from its connection to its last
 * answer byte: a client that sends or reads slowly is closed, and holds nobody else up. */
static void *control_thread(void *arg)
{
	struct hnvmf_control *c = arg;
	pthread_setname_np(pthread_self(), "hnvmf-control");
	struct pollfd pfd[2 + CONTROL_MAX_CLIENTS];
	struct control_client *polled[CONTROL_MAX_CLIENTS];
	for (;;) {
		uint64_t now = hnvmf_now_ns();
		int timeout = -1;
		nfds_t n = 2;
		bool slot_free = false;
		for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			struct control_client *cl = &c->clients[i];
			if (cl->fd < 0) {
				slot_free = true;
				continue;
			}
			if (now >= cl->deadline_ns) {
				log_notice("control socket: a request took longer than %u ms, closed",
					   c->tgt->conf->limits.control_timeout_ms);
				client_close(cl);
				slot_free = true;
				continue;
			}
			int left = (int)((cl->deadline_ns - now + 999999) / 1000000);
			if (timeout < 0 || left < timeout)
				timeout = left;
			polled[n - 2] = cl;
			pfd[n++] = (struct pollfd){.fd = cl->fd, .events = cl->out ? POLLOUT : POLLIN};
		}
		pfd[0] = (struct pollfd){.fd = slot_free ? c->fd : -1, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = c->stopfd[0], .events = POLLIN};
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		for (nfds_t i = 2; i < n; i++) {
			struct control_client *cl = polled[i - 2];
			if (!pfd[i].revents)
				continue;
			if (!cl->out)
				client_read(c, cl);
			if (cl->fd >= 0 && cl->out)
				client_write(cl);
		}
		if (pfd[0].revents & POLLIN)
			accept_client(c, hnvmf_now_ns());
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
	return NULL;
}

int hnvmf_control_start(struct hnvmf_tgt *tgt, const char *path,
			int (*reload)(char *msg, size_t len), void (*stats)(struct hnvmf_strbuf *sb),
			struct hnvmf_control **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	struct hnvmf_control *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tgt = tgt;
	c->reload = reload;
	c->stats = stats;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* The socket's directory (e.g. /run/hnvmf) may not exist yet. */
	char dir[108];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0750);
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || pipe2(c->stopfd, O_CLOEXEC)) {
		int e = -errno;
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return e;
	}
	unlink(path);
	mode_t old = umask(0117); /* owner and group only: it can add namespaces */
	int rc = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc || listen(c->fd, 16)) {
		int e = -errno;
		close(c->fd);
		close(c->stopfd[0]);
		close(c->stopfd[1]);
		free(c);
		return e;
	}
	rc = pthread_create(&c->thread, NULL, control_thread, c);
	if (rc) {
		close(c->fd);
		close(c->stopfd[0]);
		close(c->stopfd[1]);
		unlink(path);
		free(c);
		return -rc;
	}
	*out = c;
	return 0;
}

void hnvmf_control_stop(struct hnvmf_control *c)
{
	if (!c)
		return;
	ssize_t w = write(c->stopfd[1], "x", 1);
	(void)w;
	pthread_join(c->thread, NULL);
	close(c->fd);
	close(c->stopfd[0]);
	close(c->stopfd[1]);
	unlink(c->path);
	free(c);
}
