/* Shared by the transport's unit tests (test_tcp_conn.c, test_tcp_tls.c): a fake reactor and a
 * fake target standing in for core/reactor.c and target/req.c at link time (the transport reaches
 * both only through core/reactor.h and target/nvmf.h), and a host side driving a connection over
 * a socket. The fake reactor emulates level-triggered epoll with poll(2), so partial writes and
 * EPOLLOUT behave as on a real loop; the fake target reads and writes a pattern. A host may speak
 * TLS (host.ssl), then every byte goes through OpenSSL. Definitions, not just declarations: each
 * test program includes this once. */
#ifndef HNVMF_TEST_TCP_FAKES_H
#define HNVMF_TEST_TCP_FAKES_H

/* Each program uses a different subset of the helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/tcp-digest.h"
#include "transport/tcp/tcp-internal.h"

#include <openssl/ssl.h>

/* ------------------------------------------------------------------ fake reactor */

struct fake_reactor {
	int id;
};
static struct fake_reactor fake_rs[2];
#define R(i) ((struct hnvmf_reactor *)&fake_rs[i])

#define MAX_EVS 16
static struct {
	struct hnvmf_event *ev;
	uint32_t mask;
} evs[MAX_EVS];
#define MAX_POLLERS 8 /* two reactors' turn poller and flusher, and room */
static struct hnvmf_poller *pollers[MAX_POLLERS];
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hnvmf_msg *msg_head, *msg_tail;
static pthread_t pump_thread;

int hnvmf_reactor_add_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	(void)r;
	for (int i = 0; i < MAX_EVS; i++)
		if (!evs[i].ev) {
			evs[i].ev = ev;
			evs[i].mask = events;
			return 0;
		}
	return -ENOSPC;
}

int hnvmf_reactor_mod_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	(void)r;
	for (int i = 0; i < MAX_EVS; i++)
		if (evs[i].ev == ev) {
			evs[i].mask = events;
			return 0;
		}
	return -ENOENT;
}

void hnvmf_reactor_del_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev)
{
	(void)r;
	for (int i = 0; i < MAX_EVS; i++)
		if (evs[i].ev == ev)
			evs[i].ev = NULL;
}

static uint32_t ev_mask_of(struct hnvmf_event *ev)
{
	for (int i = 0; i < MAX_EVS; i++)
		if (evs[i].ev == ev)
			return evs[i].mask;
	return 0xffffffffu; /* not registered */
}

void hnvmf_reactor_add_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	for (int i = 0; i < MAX_POLLERS; i++)
		if (!pollers[i]) {
			pollers[i] = p;
			return;
		}
	fail_msg("too many pollers");
}

/* The fake loop runs every poller the same way: a flusher is one more poller here. */
void hnvmf_reactor_add_flusher(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	hnvmf_reactor_add_poller(r, p);
}

void hnvmf_reactor_del_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	for (int i = 0; i < MAX_POLLERS; i++)
		if (pollers[i] == p)
			pollers[i] = NULL;
}

/* hnvmf_reactor_await: the calls, and the longest asked. */
static int fake_awaits;
static uint64_t fake_await_ns;
void hnvmf_reactor_await(struct hnvmf_reactor *r, uint64_t ns)
{
	(void)r;
	fake_awaits++;
	if (ns > fake_await_ns)
		fake_await_ns = ns;
}

void hnvmf_timer_arm(struct hnvmf_reactor *r, struct hnvmf_timer *t, uint64_t ms)
{
	(void)r;
	t->deadline_ns = ms;
	t->armed = true;
}

void hnvmf_timer_cancel(struct hnvmf_reactor *r, struct hnvmf_timer *t)
{
	(void)r;
	t->armed = false;
}

void hnvmf_reactor_send(struct hnvmf_reactor *r, struct hnvmf_msg *m)
{
	(void)r;
	pthread_mutex_lock(&msg_lock);
	m->next = NULL;
	if (msg_tail)
		msg_tail->next = m;
	else
		msg_head = m;
	msg_tail = m;
	pthread_mutex_unlock(&msg_lock);
}

struct call {
	struct hnvmf_msg msg;
	void (*fn)(void *);
	void *arg;
	bool sync;
	atomic_bool done;
};

static void call_run(struct hnvmf_msg *m)
{
	struct call *c = container_of(m, struct call, msg);
	c->fn(c->arg);
	if (c->sync)
		atomic_store(&c->done, true);
	else
		free(c);
}

int hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	struct call *c = calloc(1, sizeof(*c));
	c->msg.fn = call_run;
	c->fn = fn;
	c->arg = arg;
	hnvmf_reactor_send(r, &c->msg);
	return 0;
}

static int run_msgs(void);

int hnvmf_reactor_call_sync(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	if (pthread_equal(pthread_self(), pump_thread)) {
		fn(arg);
		run_msgs();
		return 0;
	}
	struct call c = { .msg.fn = call_run, .fn = fn, .arg = arg, .sync = true };
	atomic_init(&c.done, false);
	hnvmf_reactor_send(r, &c.msg);
	while (!atomic_load(&c.done))
		usleep(100);
	return 0;
}

const char *hnvmf_reactor_name(const struct hnvmf_reactor *r)
{
	(void)r;
	return "fake";
}

/* A test may stop the clock (the TCP response window's deadline then never passes by itself). */
static bool fake_clock_frozen;
static uint64_t fake_clock_ns;

uint64_t hnvmf_now_ns(void)
{
	if (fake_clock_frozen)
		return fake_clock_ns;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int run_msgs(void)
{
	int n = 0;
	for (;;) {
		pthread_mutex_lock(&msg_lock);
		struct hnvmf_msg *m = msg_head;
		if (m) {
			msg_head = m->next;
			if (!msg_head)
				msg_tail = NULL;
		}
		pthread_mutex_unlock(&msg_lock);
		if (!m)
			return n;
		m->fn(m);
		n++;
	}
}

/* One loop iteration of every fake reactor: pollers, messages, ready fds (by poll(2)). */
static int loop_once(void)
{
	int work = 0;
	for (int i = 0; i < MAX_POLLERS; i++)
		if (pollers[i])
			work += pollers[i]->fn(pollers[i]);
	work += run_msgs();
	for (int i = 0; i < MAX_EVS; i++) {
		struct hnvmf_event *ev = evs[i].ev;
		if (!ev)
			continue;
		struct pollfd p = { .fd = ev->fd, .events = 0 };
		if (evs[i].mask & EPOLLIN)
			p.events |= POLLIN;
		if (evs[i].mask & EPOLLOUT)
			p.events |= POLLOUT;
		if (poll(&p, 1, 0) != 1)
			continue;
		uint32_t re = 0;
		if (p.revents & POLLIN)
			re |= EPOLLIN;
		if (p.revents & POLLOUT)
			re |= EPOLLOUT;
		if (p.revents & POLLERR)
			re |= EPOLLERR;
		if (p.revents & POLLHUP)
			re |= EPOLLHUP;
		if (!re)
			continue;
		ev->cb(ev, re);
		work++;
	}
	return work;
}

static void pump(void)
{
	for (int i = 0; i < 1000 && loop_once() > 0; i++)
		;
}

/* ------------------------------------------------------------------ fake target */

#define OPC_WRITE 0x01
#define OPC_READ 0x02
#define OPC_FAIL 0xfe

static struct {
	bool hold;
	struct hnvmf_req *held[256];
	int nheld;
	uint8_t *last_write;
	uint32_t last_write_len;
	int executed, inits, destroyed, quiesced;
	struct hnvmf_sq *watch_sq; /* watch_at: commands executed before the first of this queue's */
	int watch_at;
} ft;

static uint8_t pattern(uint32_t off, uint16_t cid) { return (uint8_t)(off * 7 + cid + (off >> 9)); }

void hnvmf_sq_init(struct hnvmf_sq *sq, struct hnvmf_tgt *tgt, struct hnvmf_port *port,
		   struct hnvmf_reactor *r, const struct hnvmf_sq_ops *ops)
{
	memset(sq, 0, sizeof(*sq));
	sq->tgt = tgt;
	sq->port = port;
	sq->reactor = r;
	sq->ops = ops;
	atomic_init(&sq->inflight, 0);
	ft.inits++;
}

/* The target's side of a move between reactors (tcp-move.c): the queue's reactor changes. */
void hnvmf_sq_move_out(struct hnvmf_sq *sq, struct hnvmf_reactor *to) { sq->reactor = to; }
void hnvmf_sq_move_in(struct hnvmf_sq *sq) { (void)sq; }

void hnvmf_sq_destroy(struct hnvmf_sq *sq)
{
	assert_int_equal(atomic_load(&sq->inflight), 0);
	ft.destroyed++;
}

void hnvmf_sq_quiesce(struct hnvmf_sq *sq)
{
	(void)sq;
	ft.quiesced++;
}

void hnvmf_req_complete(struct hnvmf_req *req, uint16_t status)
{
	req->status = status;
	if (status && req->dir == HNVMF_DIR_C2H)
		req->xfer_len = 0;
	hnvmf_req_build_cqe(req, req->sq->head);
	atomic_fetch_sub(&req->sq->inflight, 1);
	req->sq->ops->queue_response(req);
}

bool hnvmf_req_init(struct hnvmf_req *req, struct hnvmf_sq *sq, union hnvmf_sqe *cmd)
{
	req->cmd = cmd;
	req->sq = sq;
	req->xfer_len = 0;
	req->iovcnt = 0;
	memset(&req->cqe, 0, sizeof(req->cqe));
	req->cqe.cid = cmd->common.cid;
	atomic_fetch_add(&sq->inflight, 1);
	req->data_len = req->sgl_len;
	switch (cmd->common.opcode) {
	case OPC_WRITE:
		req->dir = HNVMF_DIR_H2C;
		break;
	case OPC_READ:
		req->dir = HNVMF_DIR_C2H;
		break;
	case nvme_admin_fabrics: /* Connect: its 1024-byte data comes from the host */
		req->dir = req->data_len ? HNVMF_DIR_H2C : HNVMF_DIR_NONE;
		break;
	case OPC_FAIL:
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE));
		return false;
	default:
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
	}
	uint16_t st = hnvmf_req_check_data(req, 0); /* the real target's check, not a copy */
	if (st) {
		hnvmf_req_complete(req, st);
		return false;
	}
	return true;
}

static void fake_finish(struct hnvmf_req *req)
{
	uint16_t cid = le16toh(req->cmd->common.cid);
	if (req->dir == HNVMF_DIR_C2H) {
		uint32_t off = 0;
		for (int i = 0; i < req->iovcnt; i++)
			for (size_t j = 0; j < req->iov[i].iov_len; j++, off++)
				((uint8_t *)req->iov[i].iov_base)[j] = pattern(off, cid);
		req->xfer_len = req->data_len;
	} else if (req->dir == HNVMF_DIR_H2C) {
		free(ft.last_write);
		ft.last_write = malloc(req->data_len);
		uint32_t off = 0;
		for (int i = 0; i < req->iovcnt; i++) {
			memcpy(ft.last_write + off, req->iov[i].iov_base, req->iov[i].iov_len);
			off += (uint32_t)req->iov[i].iov_len;
		}
		ft.last_write_len = off;
	}
	hnvmf_req_complete(req, 0);
}

void hnvmf_req_execute(struct hnvmf_req *req)
{
	if (req->sq == ft.watch_sq && ft.watch_at < 0)
		ft.watch_at = ft.executed;
	ft.executed++;
	if (ft.hold) {
		ft.held[ft.nheld++] = req;
		return;
	}
	fake_finish(req);
}

/* ------------------------------------------------------------------ host side */

static struct hnvmf_conf conf;
static struct hnvmf_tgt tgt;

/* [limits] as an empty configuration gives them (the transport's init reads them). */
static void default_limits(void)
{
	struct hnvmf_conf *d;
	assert_int_equal(hnvmf_conf_default(&d), 0);
	conf.limits = d->limits;
	hnvmf_conf_free(d);
}
static struct hnvmf_port port;
static struct hnvmf_reactor *reactor_ptrs[2];

/* A PDU that came before the test asked for it (see take_pdu). */
struct early_pdu {
	uint8_t hdr[32]; /* the PDU header, without digest */
	uint8_t *data;   /* a C2HData's data (malloc'd), or NULL */
	uint32_t dlen;
	unsigned seq;    /* arrival order on the connection */
};

#define HOST_EARLY_MAX 64

struct host {
	int fd;
	bool hd, dd;
	struct tcp_conn *c;
	unsigned seq, nearly;
	struct early_pdu early[HOST_EARLY_MAX];
};


/* Host sockets that speak TLS, by descriptor (non-blocking: SSL calls return WANT_*). */
static SSL *host_tls[1024];

static ssize_t host_send(int fd, const void *p, size_t len)
{
	if (!host_tls[fd])
		return send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	size_t n = 0;
	if (SSL_write_ex(host_tls[fd], p, len, &n) == 1)
		return (ssize_t)n;
	errno = EAGAIN;
	return -1;
}

/* Like recv(MSG_DONTWAIT): -1/EAGAIN when nothing is there, 0 at the end of the stream. */
static ssize_t host_recv(int fd, void *p, size_t len)
{
	if (!host_tls[fd])
		return recv(fd, p, len, MSG_DONTWAIT);
	size_t n = 0;
	int rc = SSL_read_ex(host_tls[fd], p, len, &n);
	if (rc == 1)
		return (ssize_t)n;
	int e = SSL_get_error(host_tls[fd], rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

/* Sends everything, running the target's loop whenever the socket is full. */
static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (int spins = 0; len && spins < 100000; spins++) {
		ssize_t n = host_send(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		pump();
	}
	assert_int_equal(len, 0);
}

/* Reads exactly len bytes, running the target's loop while waiting. */
static void recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	for (int spins = 0; len && spins < 20000; spins++) {
		ssize_t n = host_recv(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		pump();
		if (spins > 100)
			usleep(100);
	}
	assert_int_equal(len, 0);
}

static bool peer_closed(int fd)
{
	uint8_t b;
	for (int i = 0; i < 1000; i++) {
		pump();
		ssize_t n = host_recv(fd, &b, 1);
		if (n == 0)
			return true;
		if (n > 0)
			return false;
		usleep(100);
	}
	return false;
}

/* One PDU from the target: header (with digest checked) into hdr, data (digest checked). */
static uint32_t recv_pdu(struct host *h, uint8_t *pdu, uint8_t *data, size_t data_cap)
{
	recv_all(h->fd, pdu, 8);
	struct hnvmf_tcp_hdr *hd = (void *)pdu;
	uint32_t plen = le32toh(hd->plen);
	recv_all(h->fd, pdu + 8, hd->hlen - 8u);
	bool term = hd->type == HNVMF_TCP_C2H_TERM;
	if (term) {
		recv_all(h->fd, pdu + hd->hlen, plen - hd->hlen);
		return plen - hd->hlen;
	}
	if (h->hd) {
		uint8_t d[4];
		recv_all(h->fd, d, 4);
		assert_true(hd->flags & HNVMF_TCP_F_HDGST);
		assert_int_equal(tcp_get_le32(d), tcp_crc(pdu, hd->hlen));
	}
	if (hd->type != HNVMF_TCP_C2H_DATA)
		return 0;
	uint32_t hl = hd->hlen + (h->hd ? 4u : 0u);
	uint8_t pad[128];
	recv_all(h->fd, pad, hd->pdo - hl);
	uint32_t dlen = plen - hd->pdo - (h->dd ? 4u : 0u);
	assert_true(dlen <= data_cap);
	recv_all(h->fd, data, dlen);
	if (h->dd) {
		uint8_t d[4];
		recv_all(h->fd, d, 4);
		assert_true(hd->flags & HNVMF_TCP_F_DDGST);
		assert_int_equal(tcp_get_le32(d), tcp_crc(data, dlen));
	}
	return dlen;
}

static struct host open_host(bool hd, bool dd)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	struct host h = { .fd = sv[1], .hd = hd, .dd = dd };
	h.c = tcp_conn_create(&tcp_g.rts[0], &port, sv[0], "test-host");
	assert_non_null(h.c);
	hnvmf_reactor_send(R(0), &h.c->start_msg);
	pump();
	assert_int_equal(h.c->state, TCP_CONN_WAIT_ICREQ);
	assert_true(h.c->stage_deadline_ns != 0); /* the ICReq deadline */
	return h;
}

static void send_icreq(struct host *h, uint16_t pfv)
{
	struct hnvmf_tcp_icreq ic;
	memset(&ic, 0, sizeof(ic));
	ic.hdr.type = HNVMF_TCP_ICREQ;
	ic.hdr.hlen = sizeof(ic);
	ic.hdr.plen = htole32(sizeof(ic));
	ic.pfv = htole16(pfv);
	ic.digest = (h->hd ? HNVMF_TCP_DIGEST_HDR : 0) | (h->dd ? HNVMF_TCP_DIGEST_DATA : 0);
	send_all(h->fd, &ic, sizeof(ic));
}

static struct host connect_host(bool hd, bool dd)
{
	struct host h = open_host(hd, dd);
	send_icreq(&h, 0);
	struct hnvmf_tcp_icresp r;
	recv_all(h.fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_ICRESP);
	assert_int_equal(r.hdr.hlen, 128);
	assert_int_equal(le32toh(r.hdr.plen), 128);
	assert_int_equal(r.pfv, 0);
	assert_int_equal(r.cpda, 0);
	assert_int_equal(r.digest, (hd ? 1 : 0) | (dd ? 2 : 0));
	assert_int_equal(le32toh(r.maxdata) % 4, 0);
	assert_true(le32toh(r.maxdata) >= 4096);
	assert_int_equal(h.c->state, TCP_CONN_LIVE);
	assert_false(h.c->timer.armed);
	return h;
}

/* A CapsuleCmd; icd (in-capsule data) may be NULL. */
static void send_cmd(struct host *h, uint8_t opc, uint16_t cid, uint8_t sgl_type, uint32_t sgl_len,
		     const void *icd, uint32_t icd_len, bool corrupt_ddgst)
{
	uint8_t buf[sizeof(struct hnvmf_tcp_cmd) + 4] __attribute__((aligned(8)));
	struct hnvmf_tcp_cmd *p = (void *)buf;
	memset(buf, 0, sizeof(buf));
	uint32_t hl = sizeof(*p) + (h->hd ? 4u : 0u);
	p->hdr.type = HNVMF_TCP_CMD;
	p->hdr.flags = (h->hd ? HNVMF_TCP_F_HDGST : 0) | (icd_len && h->dd ? HNVMF_TCP_F_DDGST : 0);
	p->hdr.hlen = sizeof(*p);
	p->hdr.pdo = icd_len ? (uint8_t)hl : 0;
	p->hdr.plen = htole32(hl + icd_len + (icd_len && h->dd ? 4u : 0u));
	p->sqe.common.opcode = opc;
	p->sqe.common.flags = 0x40;
	p->sqe.common.cid = htole16(cid);
	p->sqe.common.dptr.type = sgl_type;
	p->sqe.common.dptr.length = htole32(sgl_len);
	if (h->hd)
		tcp_digest_append(p, sizeof(*p));
	send_all(h->fd, buf, hl);
	if (icd_len) {
		send_all(h->fd, icd, icd_len);
		if (h->dd) {
			uint32_t d = htole32(tcp_crc(icd, icd_len) ^ (corrupt_ddgst ? 1u : 0u));
			send_all(h->fd, &d, 4);
		}
	}
}

static bool corrupt_next_h2c_digest;

static void send_h2c(struct host *h, uint16_t cid, uint16_t ttag, uint32_t off, const void *data,
		     uint32_t len, bool last)
{
	uint8_t buf[sizeof(struct hnvmf_tcp_data) + 4] __attribute__((aligned(8)));
	struct hnvmf_tcp_data *d = (void *)buf;
	memset(buf, 0, sizeof(buf));
	uint32_t hl = sizeof(*d) + (h->hd ? 4u : 0u);
	d->hdr.type = HNVMF_TCP_H2C_DATA;
	d->hdr.flags = (h->hd ? HNVMF_TCP_F_HDGST : 0) | (h->dd ? HNVMF_TCP_F_DDGST : 0) |
		       (last ? HNVMF_TCP_F_DATA_LAST : 0);
	d->hdr.hlen = sizeof(*d);
	d->hdr.pdo = (uint8_t)hl;
	d->hdr.plen = htole32(hl + len + (h->dd ? 4u : 0u));
	d->cid = htole16(cid);
	d->ttag = htole16(ttag);
	d->offset = htole32(off);
	d->length = htole32(len);
	if (h->hd)
		tcp_digest_append(d, sizeof(*d));
	send_all(h->fd, buf, hl);
	send_all(h->fd, data, len);
	if (h->dd) {
		uint32_t dg = htole32(tcp_crc(data, len) ^ (corrupt_next_h2c_digest ? 1u : 0u));
		corrupt_next_h2c_digest = false;
		send_all(h->fd, &dg, 4);
	}
}

static uint16_t pdu_cid(const uint8_t *hdr)
{
	if (hdr[0] == HNVMF_TCP_RSP)
		return le16toh(((const struct hnvmf_tcp_rsp *)(const void *)hdr)->cqe.cid);
	return le16toh(((const struct hnvmf_tcp_data *)(const void *)hdr)->cid);
}

/* The next PDU of this type (CapsuleResp or C2HData) for command cid. The target sends a batch's
 * C2HData first and the reads' CapsuleResps behind them (tcp-send.c, "The data first"), while a
 * CapsuleResp alone keeps its place: PDUs of other commands that come first wait in h->early
 * until the test asks for them. Anything else that comes first fails the test. */
static struct early_pdu take_pdu(struct host *h, uint8_t type, uint16_t cid)
{
	for (unsigned i = 0; i < h->nearly; i++) {
		if (h->early[i].hdr[0] != type || pdu_cid(h->early[i].hdr) != cid)
			continue;
		struct early_pdu e = h->early[i];
		memmove(&h->early[i], &h->early[i + 1], (h->nearly - i - 1) * sizeof(e));
		h->nearly--;
		return e;
	}
	static uint8_t buf[2u << 20];
	for (;;) {
		uint8_t pdu[256] __attribute__((aligned(8)));
		struct early_pdu e = { .seq = h->seq++ };
		e.dlen = recv_pdu(h, pdu, buf, sizeof(buf));
		if (pdu[0] != HNVMF_TCP_RSP && pdu[0] != HNVMF_TCP_C2H_DATA)
			fail_msg("PDU type %u while a %u for cid %u was expected", pdu[0], type, cid);
		memcpy(e.hdr, pdu, sizeof(e.hdr));
		if (pdu[0] == HNVMF_TCP_C2H_DATA) {
			e.data = malloc(e.dlen ? e.dlen : 1);
			memcpy(e.data, buf, e.dlen);
		}
		if (pdu[0] == type && pdu_cid(pdu) == cid)
			return e;
		assert_true(h->nearly < HOST_EARLY_MAX);
		h->early[h->nearly++] = e;
	}
}

static void expect_rsp(struct host *h, uint16_t cid, uint16_t status)
{
	struct early_pdu e = take_pdu(h, HNVMF_TCP_RSP, cid);
	struct hnvmf_tcp_rsp *r = (void *)e.hdr;
	assert_int_equal(le32toh(r->hdr.plen), 24 + (h->hd ? 4 : 0));
	assert_int_equal(le16toh(r->cqe.status) >> 1, status);
}

static void expect_read(struct host *h, uint16_t cid, uint32_t len)
{
	struct early_pdu d = take_pdu(h, HNVMF_TCP_C2H_DATA, cid);
	struct hnvmf_tcp_data *dh = (void *)d.hdr;
	assert_true(dh->hdr.flags & HNVMF_TCP_F_DATA_LAST);
	assert_false(dh->hdr.flags & HNVMF_TCP_F_DATA_SUCCESS);
	assert_int_equal(le32toh(dh->offset), 0);
	assert_int_equal(le32toh(dh->length), len);
	assert_int_equal(d.dlen, len);
	for (uint32_t i = 0; i < len; i++)
		if (d.data[i] != pattern(i, cid))
			fail_msg("read data differs at %u", i);
	free(d.data);
	struct early_pdu r = take_pdu(h, HNVMF_TCP_RSP, cid);
	assert_true(r.seq > d.seq); /* one command's PDUs in order */
	assert_int_equal(le16toh(((struct hnvmf_tcp_rsp *)(void *)r.hdr)->cqe.status) >> 1, 0);
}

/* Expects a C2HTermReq with fes/fei (and the offending header), then the end of the stream. */
static void expect_term_pdu(struct host *h, uint16_t fes, uint32_t fei, const void *hdr,
			    size_t hdr_len)
{
	uint8_t pdu[512] __attribute__((aligned(8)));
	assert_int_equal(h->nearly, 0); /* every response before it was expected */
	uint32_t n = recv_pdu(h, pdu, NULL, 0);
	struct hnvmf_tcp_term *t = (void *)pdu;
	assert_int_equal(t->hdr.type, HNVMF_TCP_C2H_TERM);
	assert_int_equal(t->hdr.hlen, 24);
	assert_int_equal(le16toh(t->fes), fes);
	assert_int_equal(le32toh(t->fei), fei);
	if (hdr) {
		assert_true(n >= hdr_len);
		assert_memory_equal(pdu + 24, hdr, hdr_len);
	}
	assert_true(peer_closed(h->fd));
}

/* The same, and the connection's queue destroyed. */
static void expect_term(struct host *h, uint16_t fes, uint32_t fei, const void *hdr, size_t hdr_len)
{
	int destroyed = ft.destroyed;
	expect_term_pdu(h, fes, fei, hdr, hdr_len);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	close(h->fd);
}

/* A 1 MiB read stuck in a full socket, then a PDU with a bad HLEN: the read's PDUs must arrive
 * whole before the C2HTermReq (the host's framing depends on it). */
static void term_after_partial_send(struct host *h)
{
	int small = 16384;
	setsockopt(h->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_cmd(h, OPC_READ, 5, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	send_cmd(h, OPC_READ, 6, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_true(h->c->want_out);
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = 60;
	p.hdr.plen = htole32(sizeof(p));
	int destroyed = ft.destroyed;
	send_all(h->fd, &p, sizeof(p));
	pump();
	assert_int_equal(h->c->state, TCP_CONN_TERMINATING);
	expect_read(h, 5, 1024 * 1024); /* whole, although the failure came in the middle */
	expect_term_pdu(h, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, hlen), &p,
			60);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	close(h->fd);
}

/* Many small responses stuck in a full socket, then a fatal error: whatever arrives must be whole
 * PDUs followed by the C2HTermReq: the reads' data in order, and for every read whose data came,
 * its CapsuleResp after it (the target sends them behind the batch's data), none for another. */
static void term_after_many_responses(struct host *h)
{
	int small = 16384;
	setsockopt(h->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (uint16_t cid = 100; cid < 160; cid++)
		send_cmd(h, OPC_READ, cid, HNVMF_SGL_TRANSPORT_DATA, 4000, NULL, 0, false);
	pump();
	assert_true(h->c->want_out);
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = 60;
	p.hdr.plen = htole32(sizeof(p));
	send_all(h->fd, &p, sizeof(p));
	pump();
	uint8_t pdu[256] __attribute__((aligned(8)));
	static uint8_t data[4000];
	uint16_t want = 100, answered = 100;
	for (;;) {
		uint32_t n = recv_pdu(h, pdu, data, sizeof(data));
		struct hnvmf_tcp_data *d = (void *)pdu;
		if (d->hdr.type == HNVMF_TCP_C2H_TERM)
			break;
		if (d->hdr.type == HNVMF_TCP_RSP) {
			struct hnvmf_tcp_rsp *r = (void *)pdu;
			assert_int_equal(le16toh(r->cqe.cid), answered); /* in order, after its data */
			assert_true(answered < want);
			assert_int_equal(le16toh(r->cqe.status) >> 1, 0);
			answered++;
			continue;
		}
		assert_int_equal(d->hdr.type, HNVMF_TCP_C2H_DATA);
		assert_int_equal(le16toh(d->cid), want);
		assert_int_equal(n, 4000);
		for (uint32_t i = 0; i < n; i++)
			if (data[i] != pattern(i, want))
				fail_msg("cid %u: data differs at %u", want, i);
		want++;
	}
	assert_int_equal(answered, want); /* every read whose data came was answered */
	print_message("%u whole responses before the C2HTermReq\n", want - 100u);
	assert_true(peer_closed(h->fd));
	close(h->fd);
}

/* The request of the Write with command id cid, waiting for its data. */
static struct tcp_req *waiting_write(struct tcp_conn *c, uint16_t cid)
{
	for (unsigned i = 0; i < c->nreqs; i++)
		if (c->reqs[i].state == TCP_REQ_WAIT_H2C && le16toh(c->reqs[i].sqe.common.cid) == cid)
			return &c->reqs[i];
	fail_msg("no Write %u waiting for data", cid);
	return NULL;
}

/* A 1 MiB read fills the socket; a Write's R2T queues behind it. */
static struct tcp_req *r2t_behind_full_socket(struct host *h)
{
	int small = 16384;
	setsockopt(h->c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_cmd(h, OPC_READ, 5, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	pump();
	assert_true(h->c->want_out);
	send_cmd(h, OPC_WRITE, 6, HNVMF_SGL_TRANSPORT_DATA, 8192, NULL, 0, false);
	pump();
	struct tcp_req *t = waiting_write(h->c, 6);
	assert_true(t->snd.queued);
	return t;
}

/* H2CData for the Write of r2t_behind_full_socket, with its transfer tag, before its R2T
 * left the send queue: a PDU sequence error, after the read's PDUs whole; the Write never runs. */
static void h2c_before_r2t_sent(struct host *h)
{
	struct tcp_req *t = r2t_behind_full_socket(h);
	uint8_t data[8192];
	memset(data, 0x5a, sizeof(data));
	int executed = ft.executed, destroyed = ft.destroyed;
	send_h2c(h, 6, t->ttag, 0, data, sizeof(data), true);
	pump();
	assert_int_equal(h->c->state, TCP_CONN_TERMINATING);
	assert_int_equal(ft.executed, executed);
	expect_read(h, 5, 1024 * 1024);
	expect_term_pdu(h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	close(h->fd);
}

static void close_host(struct host *h)
{
	int destroyed = ft.destroyed;
	close(h->fd);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
}

/* n command PDUs (no data, no digest: a Flush) with command ids first.., in one buffer the caller
 * frees, so that one send puts them all in the socket and one read takes them all. */
static inline uint8_t *flush_pdus(unsigned n, uint16_t first, size_t *len)
{
	*len = n * sizeof(struct hnvmf_tcp_cmd);
	uint8_t *buf = calloc(1, *len);
	assert_non_null(buf);
	for (unsigned i = 0; i < n; i++) {
		struct hnvmf_tcp_cmd p;
		memset(&p, 0, sizeof(p));
		p.hdr.type = HNVMF_TCP_CMD;
		p.hdr.hlen = sizeof(p);
		p.hdr.plen = htole32(sizeof(p));
		p.sqe.common.opcode = 0x00;
		p.sqe.common.flags = 0x40;
		p.sqe.common.cid = htole16((uint16_t)(first + i));
		p.sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		memcpy(buf + i * sizeof(p), &p, sizeof(p));
	}
	return buf;
}

/* ------------------------------------------------------------ setup / teardown */

/* The real TCP transport on two fake reactors with the defaults these tests assume. */
static int tcp_fake_setup(void **state)
{
	(void)state;
	memset(&ft, 0, sizeof(ft));
	fake_clock_frozen = false;
	memset(evs, 0, sizeof(evs));
	memset(pollers, 0, sizeof(pollers));
	pump_thread = pthread_self();
	conf.queue_depth = 128;
	conf.inline_data_size = 4096;
	conf.mdts_kib = 1024;
	default_limits();
	tgt.conf = &conf;
	memset(&port, 0, sizeof(port));
	snprintf(port.conf.name, sizeof(port.conf.name), "t");
	reactor_ptrs[0] = R(0);
	reactor_ptrs[1] = R(1);
	struct hnvmf_transport_env env = { .tgt = &tgt, .reactors = reactor_ptrs, .nreactors = 2 };
	assert_int_equal(hnvmf_tcp_transport.init(&env), 0);
	return 0;
}

/* Every connection gone, then the transport freed. */
static int tcp_fake_teardown(void **state)
{
	(void)state;
	pump();
	assert_int_equal(atomic_load(&tcp_g.nconns), 0);
	hnvmf_tcp_transport.fini();
	free(ft.last_write);
	ft.last_write = NULL;
	return 0;
}

#endif
