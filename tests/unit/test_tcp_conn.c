/* The NVMe/TCP transport driven from a host socket, with the reactor and the target replaced by
 * fakes defined here (the transport reaches both only through core/reactor.h and
 * target/nvmf.h, so these definitions take the place of core/reactor.c and target/req.c at
 * link time). The fake reactor emulates level-triggered epoll with poll(2), so partial writes
 * and EPOLLOUT behave as on a real loop; the fake target reads and writes a pattern. */
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

#include "transport/tcp/tcp-digest.h"
#include "transport/tcp/tcp-internal.h"

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
static struct hnvmf_poller *pollers[4];
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
	for (int i = 0; i < 4; i++)
		if (!pollers[i]) {
			pollers[i] = p;
			return;
		}
	fail_msg("too many pollers");
}

void hnvmf_reactor_del_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	for (int i = 0; i < 4; i++)
		if (pollers[i] == p)
			pollers[i] = NULL;
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

uint64_t hnvmf_now_ns(void)
{
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
	for (int i = 0; i < 4; i++)
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
	req->cqe.status = htole16((uint16_t)(status << 1));
	if (status && req->dir == HNVMF_DIR_C2H)
		req->xfer_len = 0;
	req->cqe.sq_id = req->sq->qid;
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
	case OPC_FAIL:
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE));
		return false;
	default:
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
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
static struct hnvmf_port port;
static struct hnvmf_reactor *reactor_ptrs[2];

struct host {
	int fd;
	bool hd, dd;
	struct tcp_conn *c;
};


/* Sends everything, running the target's loop whenever the socket is full. */
static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	for (int spins = 0; len && spins < 100000; spins++) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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
		ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
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
		ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
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
	assert_true(h.c->timer.armed);
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

static void expect_rsp(struct host *h, uint16_t cid, uint16_t status)
{
	uint8_t pdu[256] __attribute__((aligned(8)));
	recv_pdu(h, pdu, NULL, 0);
	struct hnvmf_tcp_rsp *r = (void *)pdu;
	assert_int_equal(r->hdr.type, HNVMF_TCP_RSP);
	assert_int_equal(le32toh(r->hdr.plen), 24 + (h->hd ? 4 : 0));
	assert_int_equal(le16toh(r->cqe.cid), cid);
	assert_int_equal(le16toh(r->cqe.status) >> 1, status);
}

static void expect_read(struct host *h, uint16_t cid, uint32_t len)
{
	uint8_t pdu[256] __attribute__((aligned(8)));
	uint8_t *data = malloc(len);
	assert_int_equal(recv_pdu(h, pdu, data, len), len);
	struct hnvmf_tcp_data *d = (void *)pdu;
	assert_int_equal(d->hdr.type, HNVMF_TCP_C2H_DATA);
	assert_true(d->hdr.flags & HNVMF_TCP_F_DATA_LAST);
	assert_false(d->hdr.flags & HNVMF_TCP_F_DATA_SUCCESS);
	assert_int_equal(le16toh(d->cid), cid);
	assert_int_equal(le32toh(d->offset), 0);
	assert_int_equal(le32toh(d->length), len);
	for (uint32_t i = 0; i < len; i++)
		if (data[i] != pattern(i, cid))
			fail_msg("read data differs at %u", i);
	free(data);
	expect_rsp(h, cid, 0);
}

/* Expects a C2HTermReq with fes/fei, then the connection closed and its queue destroyed. */
static void expect_term(struct host *h, uint16_t fes, uint32_t fei, const void *hdr, size_t hdr_len)
{
	uint8_t pdu[512] __attribute__((aligned(8)));
	int destroyed = ft.destroyed;
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

/* ------------------------------------------------------------------ fixtures */

static int setup(void **state)
{
	(void)state;
	memset(&ft, 0, sizeof(ft));
	memset(evs, 0, sizeof(evs));
	memset(pollers, 0, sizeof(pollers));
	pump_thread = pthread_self();
	conf.queue_depth = 128;
	conf.inline_data_size = 4096;
	conf.mdts_kib = 1024;
	tgt.conf = &conf;
	memset(&port, 0, sizeof(port));
	snprintf(port.conf.name, sizeof(port.conf.name), "t");
	reactor_ptrs[0] = R(0);
	reactor_ptrs[1] = R(1);
	struct hnvmf_transport_env env = { .tgt = &tgt, .reactors = reactor_ptrs, .nreactors = 2 };
	assert_int_equal(hnvmf_tcp_transport.init(&env), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pump();
	assert_int_equal(atomic_load(&tcp_g.nconns), 0);
	hnvmf_tcp_transport.fini();
	free(ft.last_write);
	ft.last_write = NULL;
	return 0;
}

/* ------------------------------------------------------------------ tests */

static void icreq_negotiates_digests(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		assert_int_equal(h.c->hdgst, !!(d & 1));
		assert_int_equal(h.c->ddgst, !!(d & 2));
		close_host(&h);
	}
	assert_int_equal(ft.inits, 4);
}

static void icreq_bad_pfv_terminates(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	send_icreq(&h, 1);
	struct hnvmf_tcp_icreq ic;
	memset(&ic, 0, sizeof(ic));
	ic.hdr.type = HNVMF_TCP_ICREQ;
	ic.hdr.hlen = 128;
	ic.hdr.plen = htole32(128);
	ic.pfv = htole16(1);
	expect_term(&h, HNVMF_TCP_FES_UNSUPPORTED_PARAM, offsetof(struct hnvmf_tcp_icreq, pfv), &ic,
		    sizeof(ic));
}

static void command_before_icreq_is_sequence_error(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	expect_term(&h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);
}

static void icreq_timeout_closes(void **state)
{
	(void)state;
	struct host h = open_host(false, false);
	assert_int_equal(h.c->timer.deadline_ns, TCP_ICREQ_TIMEOUT_MS);
	h.c->timer.cb(&h.c->timer); /* the fake timer fires on demand */
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

static void read_4k(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		send_cmd(&h, OPC_READ, 7, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
		expect_read(&h, 7, 4096);
		/* A read larger than the slot buffer comes from the reactor's cache. */
		send_cmd(&h, OPC_READ, 8, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
		expect_read(&h, 8, 1024 * 1024);
		close_host(&h);
	}
	assert_true(tcp_g.rts[0].cache.count[1] >= 1); /* the MDTS buffer went back */
}

static void command_without_data(void **state)
{
	(void)state;
	struct host h = connect_host(true, false);
	send_cmd(&h, 0x00, 3, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	expect_rsp(&h, 3, 0);
	/* The target refuses a command in req_init: the transport just sends its CQE. */
	send_cmd(&h, OPC_FAIL, 4, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	expect_rsp(&h, 4, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE));
	/* A keyed (RDMA) SGL with data is not a TCP descriptor. */
	send_cmd(&h, OPC_READ, 5, HNVMF_SGL_KEYED_DATA, 512, NULL, 0, false);
	expect_rsp(&h, 5, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE));
	close_host(&h);
}

static void write_in_capsule(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		uint8_t data[4096];
		for (size_t i = 0; i < sizeof(data); i++)
			data[i] = (uint8_t)(i ^ 0x5a ^ d);
		send_cmd(&h, OPC_WRITE, 9, HNVMF_SGL_DATA_BLOCK_OFFSET, 4096, data, 4096, false);
		expect_rsp(&h, 9, 0);
		assert_int_equal(ft.last_write_len, 4096);
		assert_memory_equal(ft.last_write, data, 4096);
		close_host(&h);
	}
}

static void write_r2t(void **state)
{
	(void)state;
	uint32_t len = 256 * 1024;
	uint8_t *data = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 11));
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		send_cmd(&h, OPC_WRITE, 11, HNVMF_SGL_TRANSPORT_DATA, len, NULL, 0, false);
		uint8_t pdu[64] __attribute__((aligned(8)));
		recv_pdu(&h, pdu, NULL, 0);
		struct hnvmf_tcp_r2t *r = (void *)pdu;
		assert_int_equal(r->hdr.type, HNVMF_TCP_R2T);
		assert_int_equal(le16toh(r->cid), 11);
		assert_int_equal(le32toh(r->offset), 0);
		assert_int_equal(le32toh(r->length), len);
		uint16_t ttag = le16toh(r->ttag);
		/* Two H2CData PDUs of MAXH2CDATA each. */
		send_h2c(&h, 11, ttag, 0, data, len / 2, false);
		send_h2c(&h, 11, ttag, len / 2, data + len / 2, len / 2, true);
		expect_rsp(&h, 11, 0);
		assert_int_equal(ft.last_write_len, len);
		assert_memory_equal(ft.last_write, data, len);
		close_host(&h);
	}
	free(data);
}

/* 64 reads arrive in one segment: one recv serves them all and one sendmsg (or very few)
 * carries every response. */
static void batching(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	pump();
	uint64_t before = h.c->stats.syscalls;
	int n = 64;
	size_t one = sizeof(struct hnvmf_tcp_cmd);
	uint8_t *burst = calloc((size_t)n, one);
	for (int i = 0; i < n; i++) {
		struct hnvmf_tcp_cmd *p = (void *)(burst + one * (size_t)i);
		p->hdr.type = HNVMF_TCP_CMD;
		p->hdr.hlen = sizeof(*p);
		p->hdr.plen = htole32(sizeof(*p));
		p->sqe.common.opcode = OPC_READ;
		p->sqe.common.cid = htole16((uint16_t)(100 + i));
		p->sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		p->sqe.common.dptr.length = htole32(4096);
	}
	send_all(h.fd, burst, one * (size_t)n);
	free(burst);
	pump();
	uint64_t used = h.c->stats.syscalls - before;
	for (int i = 0; i < n; i++)
		expect_read(&h, (uint16_t)(100 + i), 4096);
	print_message("64 reads of 4 KiB: %llu syscalls\n", (unsigned long long)used);
	assert_true(used <= 4);
	assert_int_equal(h.c->nbusy, 0);
	close_host(&h);
}

static void bad_hlen_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = 64;
	p.hdr.plen = htole32(sizeof(p));
	send_all(h.fd, &p, sizeof(p));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, hlen), &p, 64);
}

static void unknown_pdu_type_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_r2t p; /* a controller-to-host PDU */
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_R2T;
	p.hdr.hlen = sizeof(p);
	p.hdr.plen = htole32(sizeof(p));
	send_all(h.fd, &p, sizeof(p));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, 0, &p, sizeof(p));
}

static void header_digest_error_terminates(void **state)
{
	(void)state;
	struct host h = connect_host(true, false);
	uint8_t buf[76] __attribute__((aligned(8)));
	struct hnvmf_tcp_cmd *p = (void *)buf;
	memset(buf, 0, sizeof(buf));
	p->hdr.type = HNVMF_TCP_CMD;
	p->hdr.flags = HNVMF_TCP_F_HDGST;
	p->hdr.hlen = sizeof(*p);
	p->hdr.plen = htole32(sizeof(buf));
	tcp_digest_append(p, sizeof(*p));
	buf[72] ^= 0xff;
	send_all(h.fd, buf, sizeof(buf));
	expect_term(&h, HNVMF_TCP_FES_HDR_DIGEST_ERR, 0, buf, 72);
}

static void in_capsule_limit(void **state)
{
	(void)state;
	uint8_t data[8192];
	memset(data, 0xab, sizeof(data));
	/* Admin queue: 8 KiB in-capsule is fine. */
	struct host h = connect_host(false, false);
	send_cmd(&h, OPC_WRITE, 1, HNVMF_SGL_DATA_BLOCK_OFFSET, 8192, data, 8192, false);
	expect_rsp(&h, 1, 0);
	/* I/O queue with inline_data_size 4096: 8 KiB exceeds it. */
	h.c->sq.qid = 1;
	send_cmd(&h, OPC_WRITE, 2, HNVMF_SGL_DATA_BLOCK_OFFSET, 8192, data, 8192, false);
	expect_term(&h, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, NULL, 0);
}

static void data_digest_error_fails_command_only(void **state)
{
	(void)state;
	struct host h = connect_host(false, true);
	uint8_t data[512];
	memset(data, 0x11, sizeof(data));
	send_cmd(&h, OPC_WRITE, 21, HNVMF_SGL_DATA_BLOCK_OFFSET, 512, data, 512, true);
	expect_rsp(&h, 21, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
	assert_int_equal(ft.executed, 0);
	/* The connection goes on. */
	send_cmd(&h, OPC_READ, 22, HNVMF_SGL_TRANSPORT_DATA, 512, NULL, 0, false);
	expect_read(&h, 22, 512);
	close_host(&h);
}

/* A bad digest on one H2CData PDU: the rest of the transfer is accepted, the command is
 * completed with a transient transport error and not executed; the connection goes on. */
static void h2c_data_digest_error(void **state)
{
	(void)state;
	static uint8_t data[64 * 1024];
	struct host h = connect_host(true, true);
	send_cmd(&h, OPC_WRITE, 31, HNVMF_SGL_TRANSPORT_DATA, sizeof(data), NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	uint16_t ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	corrupt_next_h2c_digest = true;
	send_h2c(&h, 31, ttag, 0, data, sizeof(data) / 2, false);
	send_h2c(&h, 31, ttag, sizeof(data) / 2, data + sizeof(data) / 2, sizeof(data) / 2, true);
	expect_rsp(&h, 31, hnvmf_status(NVME_SCT_GENERIC, NVME_SC_TRAN_TPORT_ERROR, 0));
	assert_int_equal(ft.executed, 0);
	send_cmd(&h, OPC_READ, 32, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	expect_read(&h, 32, 4096);
	close_host(&h);
}

/* With SQ flow control disabled a successful read ends with C2HData SUCCESS and no CQE. */
static void success_flag_without_sq_flow_control(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	h.c->sq.sqfc_disabled = true;
	send_cmd(&h, OPC_READ, 41, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	send_cmd(&h, 0x00, 42, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	static uint8_t data[4096];
	assert_int_equal(recv_pdu(&h, pdu, data, sizeof(data)), 4096);
	struct hnvmf_tcp_data *d = (void *)pdu;
	assert_int_equal(d->hdr.type, HNVMF_TCP_C2H_DATA);
	assert_int_equal(d->hdr.flags & (HNVMF_TCP_F_DATA_LAST | HNVMF_TCP_F_DATA_SUCCESS),
			 HNVMF_TCP_F_DATA_LAST | HNVMF_TCP_F_DATA_SUCCESS);
	assert_int_equal(data[100], pattern(100, 41));
	expect_rsp(&h, 42, 0); /* the next PDU is the other command's CQE, not cid 41's */
	close_host(&h);
}

static struct host r2t_host(uint16_t cid, uint32_t len, uint16_t *ttag)
{
	struct host h = connect_host(false, false);
	send_cmd(&h, OPC_WRITE, cid, HNVMF_SGL_TRANSPORT_DATA, len, NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	*ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	return h;
}

static void h2c_errors_terminate(void **state)
{
	(void)state;
	static uint8_t data[TCP_MAXH2CDATA + 4096];
	uint16_t ttag;
	struct hnvmf_tcp_data hdr;

	/* Offset not where the previous PDU ended. */
	struct host h = r2t_host(5, 16384, &ttag);
	send_h2c(&h, 5, ttag, 4096, data, 4096, false);
	expect_term(&h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);

	/* Beyond the R2T. */
	h = r2t_host(5, 16384, &ttag);
	send_h2c(&h, 5, ttag, 0, data, 16384 + 4096, true);
	expect_term(&h, HNVMF_TCP_FES_DATA_OUT_OF_RANGE, 0, NULL, 0);

	/* Larger than MAXH2CDATA. */
	h = r2t_host(5, 1024 * 1024, &ttag);
	send_h2c(&h, 5, ttag, 0, data, TCP_MAXH2CDATA + 4096, false);
	expect_term(&h, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, NULL, 0);

	/* Unknown transfer tag: invalid field, FEI = offset of TTAG; header copied back. */
	h = r2t_host(5, 16384, &ttag);
	memset(&hdr, 0, sizeof(hdr));
	hdr.hdr.type = HNVMF_TCP_H2C_DATA;
	hdr.hdr.hlen = sizeof(hdr);
	hdr.hdr.pdo = sizeof(hdr);
	hdr.hdr.plen = htole32(sizeof(hdr) + 4096);
	hdr.cid = htole16(5);
	hdr.ttag = htole16((uint16_t)(ttag + 1));
	hdr.length = htole32(4096);
	send_all(h.fd, &hdr, sizeof(hdr));
	expect_term(&h, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_data, ttag), &hdr,
		    sizeof(hdr));
}

static void h2c_term_from_host_closes(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct hnvmf_tcp_term t;
	memset(&t, 0, sizeof(t));
	t.hdr.type = HNVMF_TCP_H2C_TERM;
	t.hdr.hlen = sizeof(t);
	t.hdr.plen = htole32(sizeof(t));
	t.fes = htole16(HNVMF_TCP_FES_PDU_SEQ_ERR);
	send_all(h.fd, &t, sizeof(t));
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

/* The target disconnects the queue while a request executes: the connection goes at once,
 * the queue only after the request completed (its response is dropped). */
static void disconnect_waits_for_inflight(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	ft.hold = true;
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 128 * 1024, NULL, 0, false);
	uint16_t ttag;
	(void)ttag;
	pump();
	assert_int_equal(ft.nheld, 1);
	h.c->sq.ops->disconnect(&h.c->sq);
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.quiesced, 1);
	assert_int_equal(ft.destroyed, 0);
	fake_finish(ft.held[0]);
	pump();
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

/* A write waiting for H2CData when the peer goes away is completed by the transport. */
static void peer_close_ends_waiting_write(void **state)
{
	(void)state;
	uint16_t ttag;
	struct host h = r2t_host(3, 65536, &ttag);
	assert_int_equal(h.c->reqs[ttag].state, TCP_REQ_WAIT_H2C);
	close_host(&h);
	assert_int_equal(ft.executed, 0);
}

/* The host does not read: sendmsg fills the socket, EPOLLOUT is armed, and the response
 * resumes where it stopped once the host reads. */
static void partial_writes_resume(void **state)
{
	(void)state;
	struct host h = connect_host(false, true);
	int small = 16384;
	setsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_cmd(&h, OPC_READ, 2, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	send_cmd(&h, OPC_READ, 3, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_true(h.c->want_out);
	assert_true(ev_mask_of(&h.c->ev) & EPOLLOUT);
	expect_read(&h, 2, 1024 * 1024);
	expect_read(&h, 3, 4096);
	pump();
	assert_false(h.c->want_out);
	assert_false(ev_mask_of(&h.c->ev) & EPOLLOUT);
	close_host(&h);
}

static void listen_and_accept_family(int family, const char *addr)
{
	int probe = socket(family, SOCK_STREAM, 0);
	if (probe < 0) {
		print_message("no %s sockets here: skipped\n", addr);
		return;
	}
	close(probe);
	struct hnvmf_port p;
	memset(&p, 0, sizeof(p));
	snprintf(p.conf.name, sizeof(p.conf.name), "l");
	snprintf(p.conf.addr, sizeof(p.conf.addr), "%s", addr);
	p.conf.port = 0; /* any free port */
	int rc = hnvmf_tcp_transport.listen(&p);
	if (rc == -EADDRNOTAVAIL) {
		print_message("%s not configured here: skipped\n", addr);
		return;
	}
	assert_int_equal(rc, 0);
	pump(); /* listener registered on reactors[0] by message */
	struct tcp_listener *l = p.transport_priv;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&ss, &sl), 0);
	int fd = socket(family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	pump();
	assert_int_equal(atomic_load(&tcp_g.nconns), 1);
	struct tcp_conn *c = container_of(tcp_g.rts[0].conns.next, struct tcp_conn, link);
	if (hnvmf_list_empty(&tcp_g.rts[0].conns))
		c = container_of(tcp_g.rts[1].conns.next, struct tcp_conn, link);
	struct host h = { .fd = fd, .c = c };
	send_icreq(&h, 0);
	struct hnvmf_tcp_icresp r;
	recv_all(fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_ICRESP);
	send_cmd(&h, OPC_READ, 77, HNVMF_SGL_TRANSPORT_DATA, 8192, NULL, 0, false);
	expect_read(&h, 77, 8192);
	close_host(&h);
	hnvmf_tcp_transport.stop_listen(&p);
	assert_null(p.transport_priv);
}

static void listen_ipv4_ipv6(void **state)
{
	(void)state;
	listen_and_accept_family(AF_INET, "127.0.0.1");
	listen_and_accept_family(AF_INET6, "::1");
	struct hnvmf_port p;
	memset(&p, 0, sizeof(p));
	snprintf(p.conf.addr, sizeof(p.conf.addr), "localhost");
	assert_int_equal(hnvmf_tcp_transport.listen(&p), -EINVAL); /* numeric only */
}

static void *run_shutdown(void *arg)
{
	atomic_bool *done = arg;
	hnvmf_tcp_transport.shutdown();
	atomic_store(done, true);
	return NULL;
}

/* Shutdown: new commands are not started, the in-flight one completes and its response
 * reaches the host before the connection closes. */
static void shutdown_drains(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct host idle = open_host(false, false);
	struct host admin = connect_host(false, false);
	static int fake_ctrl;
	admin.c->sq.ctrl = (struct hnvmf_ctrl *)&fake_ctrl; /* a controller's admin queue */
	h.c->sq.qid = 1;
	ft.hold = true;
	send_cmd(&h, OPC_READ, 1, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.nheld, 1);
	atomic_bool done;
	atomic_init(&done, false);
	pthread_t th;
	pthread_create(&th, NULL, run_shutdown, &done);
	for (int i = 0; i < 200 && h.c->state != TCP_CONN_DRAINING; i++) {
		pump();
		usleep(1000);
	}
	assert_int_equal(h.c->state, TCP_CONN_DRAINING);
	assert_true(peer_closed(idle.fd)); /* no ICReq yet: closed at once */
	/* The admin queue waits until the I/O queues are gone. */
	assert_int_equal(admin.c->state, TCP_CONN_LIVE);
	send_cmd(&h, OPC_READ, 2, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_int_equal(ft.executed, 1); /* the second command is not started */
	assert_false(atomic_load(&done));
	fake_finish(ft.held[0]);
	expect_read(&h, 1, 4096);
	assert_true(peer_closed(h.fd));
	assert_true(peer_closed(admin.fd));
	for (int i = 0; i < 2000 && !atomic_load(&done); i++) {
		pump();
		usleep(1000);
	}
	assert_true(atomic_load(&done));
	pthread_join(th, NULL);
	assert_int_equal(ft.destroyed, 3);
	close(h.fd);
	close(idle.fd);
	close(admin.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(icreq_negotiates_digests, setup, teardown),
		cmocka_unit_test_setup_teardown(icreq_bad_pfv_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(command_before_icreq_is_sequence_error, setup, teardown),
		cmocka_unit_test_setup_teardown(icreq_timeout_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(read_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(command_without_data, setup, teardown),
		cmocka_unit_test_setup_teardown(write_in_capsule, setup, teardown),
		cmocka_unit_test_setup_teardown(write_r2t, setup, teardown),
		cmocka_unit_test_setup_teardown(batching, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_hlen_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_pdu_type_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(header_digest_error_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(in_capsule_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(data_digest_error_fails_command_only, setup, teardown),
		cmocka_unit_test_setup_teardown(h2c_errors_terminate, setup, teardown),
		cmocka_unit_test_setup_teardown(h2c_data_digest_error, setup, teardown),
		cmocka_unit_test_setup_teardown(success_flag_without_sq_flow_control, setup, teardown),
		cmocka_unit_test_setup_teardown(h2c_term_from_host_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(disconnect_waits_for_inflight, setup, teardown),
		cmocka_unit_test_setup_teardown(peer_close_ends_waiting_write, setup, teardown),
		cmocka_unit_test_setup_teardown(partial_writes_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(listen_ipv4_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(shutdown_drains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
