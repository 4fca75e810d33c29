/* Blocking socket helpers: the TCP connect and ICReq exchange of every queue, and the raw mode
 * of fault tests (crafted bytes out, whole PDUs back, then the close). Every wait is bounded
 * with poll(). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tools/initiator/initiator.h"

uint64_t hnvmf_ini_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = hnvmf_ini_now_ns();
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, remaining_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

/* After a non-blocking send or recv that returned n: 1 when it is to be done again (interrupted,
 * or the socket had no room or no data and is ready now), 0 when n is its answer (errno is then
 * the call's), or the wait's -errno (-ETIMEDOUT past deadline). */
static int again(int fd, ssize_t n, short events, uint64_t deadline)
{
	if (n >= 0)
		return 0;
	if (errno == EINTR)
		return 1;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return 0;
	int r = wait_fd(fd, events, deadline);
	return r < 0 ? r : 1;
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (r < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	if (r < 0) {
		r = wait_fd(fd, POLLOUT, deadline);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			r = -errno;
		else if (r == 0 && soerr)
			r = -soerr;
		if (r < 0) {
			close(fd);
			return r;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

int hnvmf_raw_connect(const char *addr, uint16_t port, int timeout_ms)
{
	char svc[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	snprintf(svc, sizeof(svc), "%u", port);
	int g = getaddrinfo(addr, svc, &hints, &res);
	if (g)
		return g == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : HNVMF_INI_TIMEOUT_MS) * 1000000ull;
	int fd = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai, deadline);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int hnvmf_raw_send(int fd, const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r = again(fd, n, POLLOUT, deadline);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns bytes read (== len), fewer when the peer closed, or -errno. */
static ssize_t recv_exact(int fd, void *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		int r = again(fd, n, POLLIN, deadline);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? (ssize_t)got : -errno;
		if (n == 0)
			return (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int hnvmf_raw_recv_pdu(int fd, void *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct hnvmf_tcp_hdr h;
	if (cap < sizeof(h))
		return -EMSGSIZE;
	ssize_t n = recv_exact(fd, &h, sizeof(h), deadline);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if ((size_t)n < sizeof(h))
		return -EPIPE;
	uint32_t plen = le32toh(h.plen);
	if (plen < sizeof(h) || plen > cap)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	n = recv_exact(fd, (uint8_t *)buf + sizeof(h), plen - sizeof(h), deadline);
	if (n < 0)
		return (int)n;
	if ((size_t)n < plen - sizeof(h))
		return -EPIPE;
	return (int)plen;
}

int hnvmf_raw_icreq(int fd, bool hdgst, bool ddgst, struct hnvmf_tcp_icresp *rsp, int timeout_ms)
{
	struct hnvmf_tcp_icreq req;
	hnvmf_pdu_icreq(&req, hdgst, ddgst);
	int r = hnvmf_raw_send(fd, &req, sizeof(req), timeout_ms);
	if (r < 0)
		return r;
	uint8_t buf[512];
	r = hnvmf_raw_recv_pdu(fd, buf, sizeof(buf), timeout_ms);
	if (r == 0)
		return -ECONNRESET;
	if (r < 0)
		return r;
	memset(rsp, 0, sizeof(*rsp));
	memcpy(rsp, buf, (size_t)r < sizeof(*rsp) ? (size_t)r : sizeof(*rsp));
	return 0;
}

int hnvmf_raw_wait_closed(int fd, int timeout_ms)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint8_t junk[4096];
	size_t extra = 0;
	for (;;) {
		ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return extra ? -EPROTO : 0;
		int r = again(fd, n, POLLIN, deadline);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (n < 0)
			return -errno;
		extra += (size_t)n;
		if (extra > 65536)
			return -EPROTO;
	}
}

int hnvmf_raw_expect_term(int fd, int timeout_ms)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	const size_t cap = 1u << 20; /* room for a C2HData the target may still send first */
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int ret;
	for (;;) {
		int n = hnvmf_raw_recv_pdu(fd, buf, cap, remaining_ms(deadline));
		if (n == 0 || n == -EPIPE) {
			ret = -ENOMSG;
			break;
		}
		if (n < 0) {
			ret = n;
			break;
		}
		if (buf[0] != HNVMF_TCP_C2H_TERM)
			continue;
		if ((size_t)n < sizeof(struct hnvmf_tcp_term)) {
			ret = -EPROTO;
			break;
		}
		uint16_t fes;
		memcpy(&fes, buf + offsetof(struct hnvmf_tcp_term, fes), sizeof(fes));
		int r = hnvmf_raw_wait_closed(fd, remaining_ms(deadline));
		ret = r < 0 ? r : le16toh(fes);
		break;
	}
	free(buf);
	return ret;
}
