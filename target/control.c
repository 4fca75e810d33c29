/* The control socket (see control.h). One thread; commands are rare and short. */
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
#include "core/pqm.h"
#include "hnvmf-version.h"

struct hnvmf_control {
	struct hnvmf_tgt *tgt;
	int fd;
	int stopfd[2];
	char path[108];
	pthread_t thread;
	int (*reload)(char *msg, size_t len);
	struct hnvmf_backend **added; /* backends of namespaces added at run time */
	size_t nadded;
};

static void cmd_ns_add(struct hnvmf_control *c, char *args, char *out, size_t len)
{
	char nqn[HNVMF_NQN_MAX];
	unsigned nsid, mib;
	if (sscanf(args, "%223s %u %u", nqn, &nsid, &mib) != 3 || mib == 0) {
		snprintf(out, len, "error: usage: ns-add SUBNQN NSID SIZE_MIB\n");
		return;
	}
	struct hnvmf_subsys *s = hnvmf_tgt_find_subsys(c->tgt, nqn);
	if (!s || s->discovery) {
		snprintf(out, len, "error: no subsystem %s\n", nqn);
		return;
	}
	struct hnvmf_backend_params p = {.type = HNVMF_BACKEND_RAM, .size = (uint64_t)mib << 20,
					 .block_size = 512};
	struct hnvmf_backend *be;
	char msg[128] = "";
	int rc = hnvmf_backend_open(&p, &be, msg, sizeof(msg));
	if (rc) {
		snprintf(out, len, "error: %s\n", msg[0] ? msg : strerror(-rc));
		return;
	}
	struct hnvmf_backend **a = realloc(c->added, (c->nadded + 1) * sizeof(*a));
	if (!a) {
		hnvmf_backend_close(be);
		snprintf(out, len, "error: out of memory\n");
		return;
	}
	c->added = a;
	char name[HNVMF_NAME_MAX];
	snprintf(name, sizeof(name), "ram-added-%u", nsid);
	rc = hnvmf_subsys_add_ns(c->tgt, s, nsid, be, name);
	if (rc) {
		hnvmf_backend_close(be);
		snprintf(out, len, "error: namespace %u: %s\n", nsid, strerror(-rc));
		return;
	}
	c->added[c->nadded++] = be;
	snprintf(out, len, "ok\n");
}

static void handle(struct hnvmf_control *c, int fd)
{
	char line[512];
	ssize_t n = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	/* A client gets one second to send its line; the daemon never waits longer on it. */
	while (n < (ssize_t)sizeof(line) - 1 && poll(&pfd, 1, 1000) == 1) {
		ssize_t r = read(fd, line + n, sizeof(line) - 1 - (size_t)n);
		if (r <= 0)
			break;
		n += r;
		if (memchr(line, '\n', (size_t)n))
			break;
	}
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	size_t cap = 1 << 16;
	char *out = malloc(cap);
	if (!out)
		return;
	out[0] = '\0';
	if (strcmp(line, "state") == 0) {
		hnvmf_tgt_describe(c->tgt, out, cap);
	} else if (strncmp(line, "ns-add ", 7) == 0) {
		cmd_ns_add(c, line + 7, out, cap);
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
	} else if (strcmp(line, "version") == 0) {
		snprintf(out, cap, "%s\n", HNVMF_VERSION);
	} else {
		snprintf(out, cap, "error: unknown command '%s' (state, pqm, pqm-c, ns-add, reload, version)\n", line);
	}
	size_t len = strlen(out), off = 0;
	while (off < len) {
		ssize_t w = write(fd, out + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(out);
}

static void *control_thread(void *arg)
{
	struct hnvmf_control *c = arg;
	pthread_setname_np(pthread_self(), "hnvmf-control");
	struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->stopfd[0], .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				handle(c, fd);
				close(fd);
			}
		}
	}
	return NULL;
}

int hnvmf_control_start(struct hnvmf_tgt *tgt, const char *path,
			int (*reload)(char *msg, size_t len), struct hnvmf_control **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	struct hnvmf_control *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tgt = tgt;
	c->reload = reload;
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
	for (size_t i = 0; i < c->nadded; i++)
		hnvmf_backend_close(c->added[i]);
	free(c->added);
	free(c);
}
