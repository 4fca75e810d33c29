/* The receive side: a state machine over PDUs from the controller (CapsuleResp, C2HData, R2T,
 * C2HTermReq). The socket is read into a large buffer and every whole PDU in it is handled;
 * when a C2HData payload is due and the buffer is empty, the payload is read straight into the
 * caller's buffer (with the buffer behind it for what follows), so long reads are not copied.
 * Any protocol violation fails the queue: the connection cannot be trusted afterwards. */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tools/initiator/queue-internal.h"
#include "tools/initiator/tls.h"

#define INI_MAX_HDR 160 /* largest header we accept (+ digest) */

static int proto_err(struct hnvmf_ini_queue *q, const char *what, uint16_t cid)
{
	return ini_queue_fail(q, -EPROTO, "qid %u: %s (cid 0x%04x)", q->qid, what, cid);
}

static int handle_rsp(struct hnvmf_ini_queue *q, const struct hnvmf_tcp_rsp *p)
{
	uint16_t cid = le16toh(p->cqe.cid);
	struct ini_slot *s = ini_slot_by_cid(q, cid);
	if (!s)
		return proto_err(q, "CapsuleResp for a command not in flight", cid);
	if (s->in_send || s->h2c_queued)
		return proto_err(q, "CapsuleResp before the command's data was sent", cid);
	q->stats.rsps++;
	struct hnvmf_cqe cqe = p->cqe;
	ini_complete(q, s, le16toh(cqe.status) >> 1, &cqe);
	return 1;
}

static int handle_r2t(struct hnvmf_ini_queue *q, const struct hnvmf_tcp_r2t *p)
{
	uint16_t cid = le16toh(p->cid);
	struct ini_slot *s = ini_slot_by_cid(q, cid);
	if (!s)
		return proto_err(q, "R2T for a command not in flight", cid);
	uint32_t off = le32toh(p->offset), len = le32toh(p->length);
	if (s->io->dir != HNVMF_INI_TO_CTRL || s->icd)
		return proto_err(q, "R2T for a command with no data to solicit", cid);
	if (s->h2c_queued || s->r2t_next != s->r2t_end)
		return proto_err(q, "R2T while the previous one is still being served", cid);
	if (!len || off < s->xfer_done || (uint64_t)off + len > s->io->len)
		return proto_err(q, "R2T offset/length outside the command's data", cid);
	q->stats.r2ts++;
	s->ttag = p->ttag;
	s->r2t_next = off;
	s->r2t_end = off + len;
	ini_queue_h2c(q, s);
	return 0;
}

static int handle_c2h(struct hnvmf_ini_queue *q, const struct hnvmf_tcp_data *p, unsigned hl)
{
	uint16_t cid = le16toh(p->cid);
	struct ini_slot *s = ini_slot_by_cid(q, cid);
	if (!s)
		return proto_err(q, "C2HData for a command not in flight", cid);
	uint32_t off = le32toh(p->offset), len = le32toh(p->length), plen = le32toh(p->hdr.plen);
	uint32_t dd = q->ddgst ? HNVMF_TCP_DIGEST_LEN : 0;
	if (s->io->dir != HNVMF_INI_FROM_CTRL)
		return proto_err(q, "C2HData for a command that reads nothing", cid);
	if (p->hdr.pdo < hl || (uint64_t)p->hdr.pdo + len + dd != plen)
		return proto_err(q, "C2HData pdo/plen inconsistent with its length", cid);
	if ((uint64_t)off + len > s->io->len)
		return proto_err(q, "C2HData beyond the command's data", cid);
	if (q->ddgst && len && !(p->hdr.flags & HNVMF_TCP_F_DDGST))
		return proto_err(q, "C2HData without data digest", cid);
	if ((p->hdr.flags & HNVMF_TCP_F_DATA_SUCCESS) && !(p->hdr.flags & HNVMF_TCP_F_DATA_LAST))
		return proto_err(q, "C2HData with SUCCESS but not LAST", cid);
	q->stats.c2h_pdus++;
	q->rx_slot = (uint16_t)(s - q->slots);
	q->rx_flags = p->hdr.flags;
	q->rx_off = off;
	q->rx_data_len = len;
	q->rx_left = p->hdr.pdo - hl;
	q->rx_crc = hnvmf_crc32c_init();
	q->rstate = INI_RX_PAD;
	return 0;
}

/* The C2HData payload (and digest) is complete. */
static int c2h_end(struct hnvmf_ini_queue *q)
{
	struct ini_slot *s = &q->slots[q->rx_slot];
	q->rstate = INI_RX_HDR;
	s->xfer_done += q->rx_data_len;
	if (!(q->rx_flags & HNVMF_TCP_F_DATA_SUCCESS))
		return 0;
	/* SUCCESS with LAST: no CapsuleResp follows; the command completed successfully. */
	struct hnvmf_cqe cqe = { .cid = htole16(s->cid) };
	q->stats.c2h_success++;
	ini_complete(q, s, 0, &cqe);
	return 1;
}

/* n payload bytes arrived: from src (the receive buffer) or, when src is NULL, already in
 * place in the caller's buffer. */
static int c2h_data(struct hnvmf_ini_queue *q, const uint8_t *src, uint32_t n)
{
	struct hnvmf_ini_io *io = q->slots[q->rx_slot].io;
	uint8_t *dst = io->data ? (uint8_t *)io->data + q->rx_off : NULL;
	if (src && dst)
		memcpy(dst, src, n);
	if (q->ddgst)
		q->rx_crc = hnvmf_crc32c_update(q->rx_crc, src ? src : dst, n);
	q->rx_off += n;
	q->rx_left -= n;
	if (q->rx_left)
		return 0;
	if (q->ddgst) {
		q->rstate = INI_RX_DDGST;
		return 0;
	}
	return c2h_end(q);
}

static int handle_hdr(struct hnvmf_ini_queue *q, const uint8_t *buf, unsigned hl)
{
	const struct hnvmf_tcp_hdr *h = (const void *)buf;
	switch (h->type) {
	case HNVMF_TCP_RSP:
		return handle_rsp(q, (const void *)buf);
	case HNVMF_TCP_R2T:
		return handle_r2t(q, (const void *)buf);
	case HNVMF_TCP_C2H_DATA:
		return handle_c2h(q, (const void *)buf, hl);
	default: {
		const struct hnvmf_tcp_term *t = (const void *)buf;
		q->term_fes = le16toh(t->fes);
		return ini_queue_fail(q, -ECONNRESET,
				      "qid %u: controller sent C2HTermReq, FES 0x%x FEI 0x%x", q->qid,
				      q->term_fes, le32toh(t->fei));
	}
	}
}

/* Handles every complete PDU part in the receive buffer. */
static int rx_parse(struct hnvmf_ini_queue *q, int *done)
{
	for (;;) {
		size_t avail = q->rend - q->rpos;
		const uint8_t *p = q->rbuf + q->rpos;
		int r = 0;
		switch (q->rstate) {
		case INI_RX_HDR: {
			if (avail < sizeof(struct hnvmf_tcp_hdr))
				return 0;
			/* copied out: the buffer offset has no alignment */
			_Alignas(8) uint8_t hb[INI_MAX_HDR];
			struct hnvmf_tcp_hdr h;
			memcpy(&h, p, sizeof(h));
			bool term = h.type == HNVMF_TCP_C2H_TERM;
			if (h.type != HNVMF_TCP_RSP && h.type != HNVMF_TCP_R2T &&
			    h.type != HNVMF_TCP_C2H_DATA && !term)
				return ini_queue_fail(q, -EPROTO, "qid %u: unexpected PDU type 0x%02x (%s)",
						      q->qid, h.type, hnvmf_pdu_type_name(h.type));
			if (h.hlen != hnvmf_pdu_expected_hlen(h.type))
				return ini_queue_fail(q, -EPROTO, "qid %u: %s with hlen %u", q->qid,
						      hnvmf_pdu_type_name(h.type), h.hlen);
			/* a termination request carries no header digest */
			bool hd = q->hdgst && !term;
			unsigned need = h.hlen + (hd ? HNVMF_TCP_DIGEST_LEN : 0);
			uint32_t plen = le32toh(h.plen);
			if (plen < need || (h.type != HNVMF_TCP_C2H_DATA && !term && plen != need))
				return ini_queue_fail(q, -EPROTO, "qid %u: %s with plen %u", q->qid,
						      hnvmf_pdu_type_name(h.type), plen);
			if (!term && !!(h.flags & HNVMF_TCP_F_HDGST) != q->hdgst)
				return ini_queue_fail(q, -EPROTO, "qid %u: %s header digest flag %s",
						      q->qid, hnvmf_pdu_type_name(h.type),
						      q->hdgst ? "missing" : "unexpected");
			if (avail < need)
				return 0;
			memcpy(hb, p, need);
			if (hd) {
				uint32_t got, want = htole32(hnvmf_crc32c(hb, h.hlen));
				memcpy(&got, hb + h.hlen, sizeof(got));
				if (got != want)
					return ini_queue_fail(q, -EBADMSG,
							      "qid %u: header digest error on %s", q->qid,
							      hnvmf_pdu_type_name(h.type));
			}
			q->rpos += need;
			r = handle_hdr(q, hb, need);
			break;
		}
		case INI_RX_PAD: {
			size_t n = avail < q->rx_left ? avail : q->rx_left;
			q->rpos += n;
			q->rx_left -= (uint32_t)n;
			if (q->rx_left)
				return 0;
			q->rx_left = q->rx_data_len;
			q->rstate = INI_RX_DATA;
			if (!q->rx_left)
				r = q->ddgst ? (q->rstate = INI_RX_DDGST, 0) : c2h_end(q);
			break;
		}
		case INI_RX_DATA: {
			size_t n = avail < q->rx_left ? avail : q->rx_left;
			if (!n)
				return 0;
			q->rpos += n;
			r = c2h_data(q, p, (uint32_t)n);
			break;
		}
		case INI_RX_DDGST: {
			if (avail < HNVMF_TCP_DIGEST_LEN)
				return 0;
			uint32_t got, want = htole32(hnvmf_crc32c_final(q->rx_crc));
			memcpy(&got, p, sizeof(got));
			q->rpos += HNVMF_TCP_DIGEST_LEN;
			if (got != want)
				return ini_queue_fail(q, -EBADMSG, "qid %u: data digest error on C2HData",
						      q->qid);
			r = c2h_end(q);
			break;
		}
		}
		if (r < 0)
			return r;
		*done += r;
	}
}

int ini_receive(struct hnvmf_ini_queue *q)
{
	int done = 0;
	for (;;) {
		int r = rx_parse(q, &done);
		if (r < 0 || q->err)
			return q->err ? q->err : r;
		if (q->rpos == q->rend) {
			q->rpos = q->rend = 0;
		} else if (q->rcap - q->rend < INI_MAX_HDR * 2) {
			memmove(q->rbuf, q->rbuf + q->rpos, q->rend - q->rpos);
			q->rend -= q->rpos;
			q->rpos = 0;
		}

		struct iovec iov[2];
		int niov = 0;
		uint32_t direct = 0;
		struct hnvmf_ini_io *io = q->rstate == INI_RX_DATA ? q->slots[q->rx_slot].io : NULL;
		if (io && io->data && q->rpos == q->rend) {
			direct = q->rx_left;
			iov[niov++] = (struct iovec){ (uint8_t *)io->data + q->rx_off, direct };
		}
		iov[niov++] = (struct iovec){ q->rbuf + q->rend, q->rcap - q->rend };
		size_t want = direct + (q->rcap - q->rend);
		ssize_t n = q->tls ? ini_tls_readv(q, iov, niov) : readv(q->fd, iov, niov);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return done;
		if (n < 0)
			return ini_queue_fail(q, -errno, "qid %u: recv: %s", q->qid, strerror(errno));
		if (n == 0)
			return ini_queue_fail(q, -ECONNRESET, "qid %u: connection closed by the controller",
					      q->qid);
		if (!q->tls)
			q->stats.recvs++; /* under TLS the socket BIO counts its recv calls */
		size_t got = (size_t)n;
		if (direct) {
			uint32_t d = got < direct ? (uint32_t)got : direct;
			r = c2h_data(q, NULL, d);
			if (r < 0)
				return r;
			done += r;
			got -= d;
		}
		q->rend += got;
		if ((size_t)n < want) {
			/* A short read drained the socket: parse what came, skip the EAGAIN call. */
			r = rx_parse(q, &done);
			if (r < 0 || q->err)
				return q->err ? q->err : r;
			return done;
		}
	}
}
