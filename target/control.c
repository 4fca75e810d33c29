/* The control socket (see control.h). One thread; requests are rare and short, but the peers are
 * not trusted to be quick or well-formed: see control_thread and client_read. */
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

#define CONTROL_MAX_CLIENTS 8 /* connections served at once */
#define CONTROL_READ_CHUNK 65536
/* Answers queued beyond this, the client's next requests wait in its socket until it reads. */
#define CONTROL_OUT_HIGH (4u << 20)

struct control_client {
	int fd;               /* -1: a free slot */
	uint64_t deadline_ns; /* the request being read or answered must be done by then */
	struct json_tokener *tok;
	size_t req_bytes;     /* bytes of the request being read so far */
	char *out;            /* answers not sent yet */
	size_t out_len, out_off, out_cap;
	bool closing;         /* close once out is sent: the stream cannot be read further */
};

struct hnvmf_control {
	struct hnvmf_tgt *tgt;
	const struct hnvmf_rpc_daemon *daemon;
	int fd;
	int stopfd[2];
	char path[108];
	pthread_t thread;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

static uint64_t timeout_ns(const struct hnvmf_control *c)
{
	return (uint64_t)c->tgt->conf->limits.control_timeout_ms * 1000000ull;
}

static void client_close(struct control_client *cl)
{
	close(cl->fd);
	if (cl->tok)
		json_tokener_free(cl->tok);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* Queues one response, followed by a newline so that a person reading with socat sees lines
 * (JSON-RPC readers skip the whitespace). False when out of memory. */
static bool client_queue(struct control_client *cl, struct json_object *resp)
{
	size_t n;
	const char *s = json_object_to_json_string_length(resp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (!s)
		return false;
	if (cl->out_len + n + 1 > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		while (cap < cl->out_len + n + 1)
			cap *= 2;
		char *p = realloc(cl->out, cap);
		if (!p)
			return false;
		cl->out = p;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, s, n);
	cl->out[cl->out_len + n] = '\n';
	cl->out_len += n + 1;
	return true;
}

/* Answers an unreadable stream with error and closes it once that is sent. */
static void client_refuse(struct control_client *cl, int code, const char *message)
{
	struct json_object *r = hnvmf_rpc_error_response(code, message);
	if (!r || !client_queue(cl, r))
		cl->out_len = cl->out_off; /* nothing more to send: close at once */
	json_object_put(r);
	cl->closing = true;
}

/* Reads what the client sent and runs every request completed by it, one after the other: the
 * tokener keeps a partial request across reads, and a read may end one request and start the
 * next. A request that is not JSON, or longer than HNVMF_CONTROL_REQUEST_MAX, ends the
 * connection after its error answer: where the next request would start cannot be known. */
static void client_read(struct hnvmf_control *c, struct control_client *cl)
{
	static char buf[CONTROL_READ_CHUNK]; /* the control thread's alone */
	ssize_t r = read(cl->fd, buf, sizeof(buf));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		/* the client is done sending; a request it left unfinished is not answered */
		if (cl->out_off == cl->out_len)
			client_close(cl);
		else
			cl->closing = true;
		return;
	}
	size_t off = 0;
	while (off < (size_t)r && !cl->closing) {
		size_t n = (size_t)r - off;
		if (n > HNVMF_CONTROL_REQUEST_MAX - cl->req_bytes)
			n = HNVMF_CONTROL_REQUEST_MAX - cl->req_bytes;
		struct json_object *req = json_tokener_parse_ex(cl->tok, buf + off, (int)n);
		enum json_tokener_error e = json_tokener_get_error(cl->tok);
		if (!req && e == json_tokener_continue) {
			off += n;
			cl->req_bytes += n;
			if (cl->req_bytes >= HNVMF_CONTROL_REQUEST_MAX) {
				log_notice("control socket: a request longer than %u bytes, refused",
					   HNVMF_CONTROL_REQUEST_MAX);
				client_refuse(cl, HNVMF_RPC_INVALID_REQUEST, "request too large (more than 1 MiB)");
			}
			continue;
		}
		if (e != json_tokener_success) {
			char msg[160];
			snprintf(msg, sizeof(msg), "not JSON: %s", json_tokener_error_desc(e));
			client_refuse(cl, HNVMF_RPC_PARSE_ERROR, msg);
			break;
		}
		size_t used = json_tokener_get_parse_end(cl->tok);
		off += used;
		json_tokener_reset(cl->tok);
		cl->req_bytes = 0;
		struct json_object *resp = hnvmf_rpc_call(c->tgt, c->daemon, req);
		json_object_put(req);
		if (resp && !client_queue(cl, resp))
			client_refuse(cl, HNVMF_RPC_INTERNAL_ERROR, "out of memory");
		json_object_put(resp);
	}
}

/* Sends what the socket takes now. Once everything queued is out, the next request has its own
 * control_timeout_ms; a closing connection closes. */
static void client_write(struct hnvmf_control *c, struct control_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w <= 0) {
			client_close(cl);
			return;
		}
		cl->out_off += (size_t)w;
	}
	cl->out_off = cl->out_len = 0;
	if (cl->closing) {
		client_close(cl);
		return;
	}
	cl->deadline_ns = hnvmf_now_ns() + timeout_ns(c);
}

static void accept_client(struct hnvmf_control *c, uint64_t now)
{
	int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *cl = &c->clients[i];
		if (cl->fd < 0) {
			cl->tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
			if (!cl->tok)
				break;
			cl->fd = fd;
			cl->deadline_ns = now + timeout_ns(c);
			return;
		}
	}
	close(fd); /* out of memory: the listener is only polled while a slot is free */
}

/* Clients are served side by side, at most CONTROL_MAX_CLIENTS at once (more wait in the listen
 * backlog). Each request has control_timeout_ms, from the connection or the previous answer's
 * last byte to its own answer's last byte: a client that sends or reads slowly, or sits idle, is
 * closed and holds nobody else up. Requests are read while answers are sent, up to
 * CONTROL_OUT_HIGH of answers not yet taken by the client. */
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
			short ev = (short)(cl->out_len ? POLLOUT : 0);
			if (!cl->closing && cl->out_len < CONTROL_OUT_HIGH)
				ev |= POLLIN;
			pfd[n++] = (struct pollfd){.fd = cl->fd, .events = ev};
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
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR) && !cl->closing)
				client_read(c, cl);
			if (cl->fd >= 0 && cl->out_len)
				client_write(c, cl);
			else if (cl->fd >= 0 && cl->closing)
				client_close(cl);
		}
		if (pfd[0].revents & POLLIN)
			accept_client(c, hnvmf_now_ns());
	}
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
	return NULL;
}

/* Binds the socket with the permissions asked, before anyone can connect: the umask covers the
 * window between bind and chmod/chown. */
static int bind_socket(int fd, const char *path, gid_t group)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	mode_t old = umask(0177); /* owner only: the API changes the configuration */
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc)
		return -errno;
	if (group != (gid_t)-1 && (chown(path, (uid_t)-1, group) || chmod(path, 0660))) {
		int e = -errno;
		unlink(path);
		return e;
	}
	return 0;
}

int hnvmf_control_start(struct hnvmf_tgt *tgt, const char *path, gid_t group,
			const struct hnvmf_rpc_daemon *daemon, struct hnvmf_control **out)
{
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	struct hnvmf_control *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tgt = tgt;
	c->daemon = daemon;
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
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
	int rc = bind_socket(c->fd, path, group);
	if (rc == 0 && listen(c->fd, 16))
		rc = -errno;
	if (rc == 0)
		rc = -pthread_create(&c->thread, NULL, control_thread, c);
	if (rc) {
		close(c->fd);
		close(c->stopfd[0]);
		close(c->stopfd[1]);
		free(c);
		return rc;
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
