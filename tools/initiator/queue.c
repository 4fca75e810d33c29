/* A queue's life cycle: connect (and the TLS handshake) and ICReq/ICResp, the slot table, failure, completion, the
 * synchronous exec on top of the asynchronous engine. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/tls-psk.h"
#include "tools/initiator/queue-internal.h"
#include "tools/initiator/tls.h"

static unsigned pow2_at_least(unsigned n)
{
	unsigned p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* NVMe/TCP 3.6.1: on a secure channel the TLS handshake comes first, then ICReq/ICResp as the
 * first records inside it. */
static int tls_icreq(struct hnvmf_ini_queue *q, const struct hnvmf_ini_queue_opts *o,
		     const char *addr, uint16_t port, int tmo, struct hnvmf_tcp_icresp *rsp)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)tmo * 1000000ull;
	struct ini_tls_params p = { .key = o->tls_key, .hostnqn = o->tls_hostnqn,
				    .subnqn = o->tls_subnqn, .identity_version = o->tls_identity,
				    .hkdf_label = o->tls_hkdf_rfc8446 ? HNVMF_TLS_LABEL_RFC8446
								      : HNVMF_TLS_LABEL_LIBNVME_COMPAT };
	char why[256] = "";
	int fl = fcntl(q->fd, F_GETFL);
	fcntl(q->fd, F_SETFL, fl | O_NONBLOCK);
	int r = ini_tls_open(q, &p, deadline, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "hnvmf-initiator: %s:%u: %s\n", addr, port, why);
		snprintf(q->errstr, sizeof(q->errstr), "%s", why);
		return r;
	}
	struct hnvmf_tcp_icreq req;
	hnvmf_pdu_icreq(&req, q->hdgst, q->ddgst);
	r = ini_tls_send_all(q, &req, sizeof(req), deadline);
	if (!r)
		r = ini_tls_recv_all(q, rsp, sizeof(*rsp), deadline);
	if (r < 0)
		fprintf(stderr, "hnvmf-initiator: %s:%u: ICReq/ICResp over TLS: %s\n", addr, port,
			strerror(-r));
	return r;
}

int hnvmf_ini_queue_open(const char *addr, uint16_t port, const struct hnvmf_ini_queue_opts *o,
			 struct hnvmf_ini_queue **out)
{
	unsigned depth = o->depth ? o->depth : 32;
	int tmo = o->timeout_ms > 0 ? o->timeout_ms : HNVMF_INI_TIMEOUT_MS;
	if (depth > HNVMF_INI_MAX_DEPTH)
		return -EINVAL;

	struct hnvmf_ini_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fd = -1;
	q->term_fes = -1;
	q->depth = depth;
	q->hdgst = o->hdgst;
	q->ddgst = o->ddgst;
	q->icd_max = HNVMF_INI_FABRICS_ICD; /* admin queue: 8 KiB like the Linux host */
	q->rcap = o->rbuf_size ? o->rbuf_size : 256 * 1024;
	q->slots = calloc(depth, sizeof(*q->slots));
	/* each slot has at most one command PDU and one H2CData PDU queued */
	unsigned rs = pow2_at_least(2 * depth + 2);
	q->ring = calloc(rs, sizeof(*q->ring));
	q->ring_mask = rs - 1;
	q->rbuf = malloc(q->rcap);
	int r = -ENOMEM;
	if (!q->slots || !q->ring || !q->rbuf)
		goto fail;
	for (unsigned i = 0; i < depth; i++)
		q->slots[i].next_free = (uint16_t)(i + 1 < depth ? i + 1 : 0xFFFF);
	q->free_head = 0;

	r = hnvmf_raw_connect(addr, port, tmo);
	if (r < 0)
		goto fail;
	q->fd = r;

	struct hnvmf_tcp_icresp rsp;
	if (o->tls_key)
		r = tls_icreq(q, o, addr, port, tmo, &rsp);
	else
		r = hnvmf_raw_icreq(q->fd, q->hdgst, q->ddgst, &rsp, tmo);
	if (r < 0)
		goto fail;
	const char *why = NULL;
	r = hnvmf_pdu_icresp_check(&rsp, q->hdgst, q->ddgst, &why);
	if (r < 0) {
		if (rsp.hdr.type == HNVMF_TCP_C2H_TERM)
			why = "ICReq answered with C2HTermReq";
		fprintf(stderr, "hnvmf-initiator: %s:%u: %s\n", addr, port, why);
		goto fail;
	}
	q->cpda = rsp.cpda;
	q->maxh2cdata = le32toh(rsp.maxdata);
	int fl = fcntl(q->fd, F_GETFL);
	fcntl(q->fd, F_SETFL, fl | O_NONBLOCK);
	*out = q;
	return 0;
fail:
	hnvmf_ini_queue_close(q);
	return r;
}

void hnvmf_ini_queue_close(struct hnvmf_ini_queue *q)
{
	if (!q)
		return;
	if (q->slots)
		ini_queue_fail(q, -ECONNABORTED, "queue closed");
	ini_tls_close(q->tls);
	if (q->fd >= 0)
		close(q->fd);
	free(q->slots);
	free(q->ring);
	free(q->rbuf);
	free(q);
}

int ini_queue_fail(struct hnvmf_ini_queue *q, int err, const char *fmt, ...)
{
	if (!q->err) {
		q->err = err;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(q->errstr, sizeof(q->errstr), fmt, ap);
		va_end(ap);
		if (q->fd >= 0)
			shutdown(q->fd, SHUT_RDWR);
	}
	/* Nothing queued may be sent any more; the slots are released below. */
	q->ring_head = q->ring_tail;
	q->send_off = 0;
	ini_tls_reset_send(q->tls);
	for (unsigned i = 0; i < q->depth; i++) {
		struct ini_slot *s = &q->slots[i];
		s->in_send = 0;
		s->h2c_queued = false;
		if (s->io)
			ini_complete(q, s, q->err, NULL);
	}
	return q->err;
}

void ini_complete(struct hnvmf_ini_queue *q, struct ini_slot *s, int status,
		  const struct hnvmf_cqe *cqe)
{
	struct hnvmf_ini_io *io = s->io;
	unsigned idx = (unsigned)(s - q->slots);
	if (cqe)
		io->cqe = *cqe;
	else
		memset(&io->cqe, 0, sizeof(io->cqe));
	io->status = status;
	s->io = NULL;
	s->gen++;
	s->next_free = q->free_head;
	q->free_head = (uint16_t)idx;
	q->inflight--;
	if (io->done)
		io->done(io);
}

int hnvmf_ini_queue_process(struct hnvmf_ini_queue *q)
{
	if (q->err)
		return q->err;
	int r = ini_flush(q);
	if (r < 0)
		return r;
	int done = ini_receive(q);
	if (done < 0)
		return done;
	/* callbacks may have submitted more */
	r = ini_flush(q);
	return r < 0 ? r : done;
}

int hnvmf_ini_queue_wait(struct hnvmf_ini_queue *q, int timeout_ms)
{
	if (q->err)
		return q->err;
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	if (hnvmf_ini_queue_send_pending(q))
		p.events |= POLLOUT;
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r > 0;
}

static void exec_done(struct hnvmf_ini_io *io)
{
	*(bool *)io->arg = true;
}

int hnvmf_ini_exec(struct hnvmf_ini_queue *q, struct hnvmf_ini_io *io, int timeout_ms)
{
	bool done = false;
	io->done = exec_done;
	io->arg = &done;
	int r = hnvmf_ini_submit(q, io);
	if (r < 0)
		return io->status = r;
	if (timeout_ms <= 0)
		timeout_ms = HNVMF_INI_TIMEOUT_MS;
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		r = hnvmf_ini_queue_process(q);
		if (done)
			return io->status;
		if (r < 0)
			break;
		uint64_t now = hnvmf_ini_now_ns();
		if (now >= deadline) {
			/* The command can no longer be tracked: give up on the queue. */
			ini_queue_fail(q, -ETIMEDOUT, "command 0x%02x timed out", io->sqe.common.opcode);
			break;
		}
		int w = hnvmf_ini_queue_wait(q, (int)((deadline - now) / 1000000 + 1));
		if (w < 0 && !q->err)
			ini_queue_fail(q, w, "poll: %s", strerror(-w));
	}
	return done ? io->status : (io->status = q->err);
}

int hnvmf_ini_queue_fd(const struct hnvmf_ini_queue *q) { return q->fd; }
unsigned hnvmf_ini_queue_inflight(const struct hnvmf_ini_queue *q) { return q->inflight; }
bool hnvmf_ini_queue_send_pending(const struct hnvmf_ini_queue *q)
{
	return q->ring_head != q->ring_tail || ini_tls_send_pending(q->tls);
}
uint32_t hnvmf_ini_queue_maxh2cdata(const struct hnvmf_ini_queue *q) { return q->maxh2cdata; }
void hnvmf_ini_queue_set_icd_max(struct hnvmf_ini_queue *q, uint32_t icd_max) { q->icd_max = icd_max; }
uint32_t hnvmf_ini_queue_icd_max(const struct hnvmf_ini_queue *q) { return q->icd_max; }
uint16_t hnvmf_ini_queue_qid(const struct hnvmf_ini_queue *q) { return q->qid; }
int hnvmf_ini_queue_error(const struct hnvmf_ini_queue *q) { return q->err; }
const char *hnvmf_ini_queue_error_str(const struct hnvmf_ini_queue *q) { return q->errstr; }
int hnvmf_ini_queue_term_fes(const struct hnvmf_ini_queue *q) { return q->term_fes; }
void hnvmf_ini_queue_stats(const struct hnvmf_ini_queue *q, struct hnvmf_ini_queue_stats *s) { *s = q->stats; }

int hnvmf_ini_queue_take_fd(struct hnvmf_ini_queue *q)
{
	if (q->err || q->inflight || hnvmf_ini_queue_send_pending(q) || q->rend != q->rpos)
		return -EBUSY;
	if (q->tls)
		return -EOPNOTSUPP; /* the raw helpers speak plain text */
	int fd = q->fd;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	q->fd = -1;
	q->err = -ENOTCONN;
	snprintf(q->errstr, sizeof(q->errstr), "socket handed to the raw mode");
	return fd;
}
