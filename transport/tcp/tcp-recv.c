/* The receive state machine of a connection.
 *
 * Bytes come in with large non-blocking reads into conn->rxbuf and every complete PDU there is
 * parsed before reading again, so one recv() serves many commands. PDU data (in-capsule data,
 * H2CData) goes to the request's buffer: copied from rxbuf when it came with the headers, or,
 * when the buffer holds nothing more, read straight into the request's buffer by a recvmsg
 * whose second iovec is rxbuf, so that the next headers arrive in the same call.
 *
 *   HDR --(digest on)--> HDGST --> [PDU has data] --> PAD --> DATA --(digest on)--> DDGST
 *    ^                                |                                               |
 *    '--------------------------------'<---------------- PDU complete ----------------'
 *
 * Any violation terminates the connection with a C2HTermReq (tcp_conn_terminate) and the state
 * becomes STOPPED. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "proto/tcp-digest.h"
#include "transport/tcp/tcp-internal.h"

#define TCP_READ_ROUNDS 8 /* reads per readiness event, so that one busy peer yields */

static bool pdu_has_digests(uint8_t type)
{
	return type == HNVMF_TCP_CMD || type == HNVMF_TCP_H2C_DATA;
}

static void fatal(struct tcp_conn *c, enum hnvmf_tcp_fes fes, uint32_t fei, const void *hdr,
		  size_t len)
{
	tcp_conn_terminate(c, fes, fei, hdr, len);
}

static void fatal_field(struct tcp_conn *c, uint32_t fei)
{
	fatal(c, HNVMF_TCP_FES_INVALID_PDU_HDR, fei, c->rx_pdu, c->rx_hlen);
}

/* The header length a PDU type must have, or 0 when the host may not send it now. */
static uint8_t expected_hlen(const struct tcp_conn *c, uint8_t type, enum hnvmf_tcp_fes *fes)
{
	bool ic = c->state == TCP_CONN_WAIT_ICREQ;
	*fes = HNVMF_TCP_FES_PDU_SEQ_ERR;
	switch (type) {
	case HNVMF_TCP_ICREQ:
		return ic ? sizeof(struct hnvmf_tcp_icreq) : 0;
	case HNVMF_TCP_CMD:
		return ic ? 0 : sizeof(struct hnvmf_tcp_cmd);
	case HNVMF_TCP_H2C_DATA:
		return ic ? 0 : sizeof(struct hnvmf_tcp_data);
	case HNVMF_TCP_H2C_TERM:
		return sizeof(struct hnvmf_tcp_term);
	default:
		*fes = HNVMF_TCP_FES_INVALID_PDU_HDR; /* not a host-to-controller PDU type */
		return 0;
	}
}

/* Sets up the data phase of the current PDU (checked by pdu_data_len): PAD, DATA, DDGST. */
static void start_data(struct tcp_conn *c, uint8_t *dst, uint32_t data_len)
{
	const struct hnvmf_tcp_hdr *h = (const void *)c->rx_pdu;
	uint32_t hd = c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0;
	c->rx_pad = h->pdo - (c->rx_hlen + hd);
	c->rx_dst = dst;
	c->rx_data_len = data_len;
	c->rx_left = data_len;
	c->rx_crc = TCP_CRC_SEED;
	c->rx_state = c->rx_pad ? TCP_RX_PAD : TCP_RX_DATA;
}

/* Common checks of a PDU with data: returns the data length, or -1 after terminating. */
static int64_t pdu_data_len(struct tcp_conn *c)
{
	const struct hnvmf_tcp_hdr *h = (const void *)c->rx_pdu;
	uint32_t hd = c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0;
	uint32_t dd = c->ddgst ? HNVMF_TCP_DIGEST_LEN : 0;
	uint32_t plen = le32toh(h->plen);
	if (plen == c->rx_hlen + hd) {
		if (h->pdo != 0 && h->pdo != plen) {
			fatal_field(c, offsetof(struct hnvmf_tcp_hdr, pdo));
			return -1;
		}
		return 0;
	}
	if (h->pdo < c->rx_hlen + hd || h->pdo > c->rx_hlen + hd + TCP_MAX_PDO_PAD) {
		fatal_field(c, offsetof(struct hnvmf_tcp_hdr, pdo));
		return -1;
	}
	if (plen <= (uint32_t)h->pdo + dd) {
		fatal_field(c, offsetof(struct hnvmf_tcp_hdr, plen));
		return -1;
	}
	if (!!(h->flags & HNVMF_TCP_F_DDGST) != c->ddgst) {
		fatal_field(c, offsetof(struct hnvmf_tcp_hdr, flags));
		return -1;
	}
	return (int64_t)plen - h->pdo - dd;
}

static void icresp_sent(struct tcp_send *s, bool dropped)
{
	(void)s;
	(void)dropped;
}

static void rx_icreq(struct tcp_conn *c)
{
	const struct hnvmf_tcp_icreq *ic = (const void *)c->rx_pdu;
	if (le32toh(ic->hdr.plen) != sizeof(*ic)) {
		fatal_field(c, offsetof(struct hnvmf_tcp_hdr, plen));
		return;
	}
	if (le16toh(ic->pfv) != 0) {
		fatal(c, HNVMF_TCP_FES_UNSUPPORTED_PARAM, offsetof(struct hnvmf_tcp_icreq, pfv),
		      c->rx_pdu, c->rx_hlen);
		return;
	}
	if (ic->hpda > 31) {
		fatal_field(c, offsetof(struct hnvmf_tcp_icreq, hpda));
		return;
	}
	if (tcp_conn_alloc_reqs(c) < 0) {
		log_err("tcp %s: out of memory for %u request slots", c->sq.peer,
			tcp_g.queue_slots);
		tcp_conn_close(c, "out of memory");
		return;
	}
	c->hdgst = ic->digest & HNVMF_TCP_DIGEST_HDR;
	c->ddgst = ic->digest & HNVMF_TCP_DIGEST_DATA;
	/* C2HData PDO honours the host's alignment (HPDA + 1 dwords); 0 for Linux. */
	unsigned align = 4u * (ic->hpda + 1u);
	unsigned hdr = sizeof(struct hnvmf_tcp_data) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0);
	c->c2h_pdo = (uint8_t)((hdr + align - 1) / align * align);
	c->maxr2t = le32toh(ic->maxr2t) + 1;

	if (!tcp_send_prepare(c, &c->icresp_snd, icresp_sent))
		return;
	struct hnvmf_tcp_icresp *r = &c->icresp;
	memset(r, 0, sizeof(*r));
	r->hdr.type = HNVMF_TCP_ICRESP;
	r->hdr.hlen = sizeof(*r);
	r->hdr.plen = htole32(sizeof(*r));
	r->pfv = 0;
	r->cpda = 0;
	r->digest = ic->digest & (HNVMF_TCP_DIGEST_HDR | HNVMF_TCP_DIGEST_DATA);
	r->maxdata = htole32(TCP_MAXH2CDATA);
	tcp_send_add(&c->icresp_snd, r, sizeof(*r));
	tcp_send_queue(c, &c->icresp_snd);
	c->state = TCP_CONN_LIVE;
	c->stage_deadline_ns = hnvmf_now_ns() + tcp_g.connect_timeout_ns;
	log_debug("tcp %s: ICReq: hdgst %d ddgst %d hpda %u maxr2t %u", c->sq.peer, c->hdgst,
		  c->ddgst, ic->hpda, c->maxr2t);
	c->rx_state = TCP_RX_HDR;
}

static void rx_cmd(struct tcp_conn *c)
{
	const struct hnvmf_tcp_cmd *p = (const void *)c->rx_pdu;
	int64_t len = pdu_data_len(c);
	if (len < 0)
		return;
	/* Fabrics commands (Connect) and the admin queue get 8 KiB; I/O queues the config. */
	uint32_t limit = (c->sq.qid == 0 || p->sqe.common.opcode == nvme_admin_fabrics) ?
				 TCP_ADMIN_ICD_SIZE : tcp_g.io_icd_limit;
	if (len > limit) {
		fatal(c, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, c->rx_pdu, c->rx_hlen);
		return;
	}
	if (c->state == TCP_CONN_DRAINING) {
		/* Shutting down: the command is not started; its data is skipped. */
		c->rx_req = NULL;
		if (len)
			start_data(c, NULL, (uint32_t)len);
		else
			c->rx_state = TCP_RX_HDR;
		return;
	}
	struct tcp_req *t = tcp_req_get(c);
	if (!t) {
		log_err("tcp %s: more commands outstanding than the %u queue entries", c->sq.peer,
			c->nreqs);
		tcp_conn_close(c, "queue overrun");
		return;
	}
	memcpy(&t->sqe, &p->sqe, sizeof(t->sqe));
	tcp_send_note_cid(c, le16toh(t->sqe.common.cid));
	t->icd_len = (uint32_t)len;
	if (len == 0) {
		c->rx_state = TCP_RX_HDR;
		tcp_req_capsule_ready(t);
		return;
	}
	tcp_req_set_state(t, TCP_REQ_CAPSULE_DATA);
	c->rx_req = t;
	start_data(c, t->icd, (uint32_t)len);
}

static void rx_h2c_data(struct tcp_conn *c)
{
	const struct hnvmf_tcp_data *d = (const void *)c->rx_pdu;
	int64_t len = pdu_data_len(c);
	if (len < 0)
		return;
	uint16_t ttag = le16toh(d->ttag);
	uint32_t off = le32toh(d->offset), dlen = le32toh(d->length);
	struct tcp_req *t = ttag < c->nreqs ? &c->reqs[ttag] : NULL;
	if (!t || t->state != TCP_REQ_WAIT_H2C) {
		fatal_field(c, offsetof(struct hnvmf_tcp_data, ttag));
		return;
	}
	if (t->snd.queued) {
		/* Its R2T has not left the send queue: the host guessed the tag (they are handed
		 * out in order). Taking the data would let the response reuse the send entry that
		 * still holds the R2T. */
		fatal(c, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, c->rx_pdu, c->rx_hlen);
		return;
	}
	if (d->cid != t->sqe.common.cid) {
		fatal_field(c, offsetof(struct hnvmf_tcp_data, cid));
		return;
	}
	if (len == 0 || dlen != (uint64_t)len) {
		fatal_field(c, offsetof(struct hnvmf_tcp_data, length));
		return;
	}
	if (dlen > TCP_MAXH2CDATA) {
		fatal(c, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED, 0, c->rx_pdu, c->rx_hlen);
		return;
	}
	if ((uint64_t)off + dlen > t->req.data_len) {
		fatal(c, HNVMF_TCP_FES_DATA_OUT_OF_RANGE, 0, c->rx_pdu, c->rx_hlen);
		return;
	}
	if (off != t->h2c_done) {
		fatal(c, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, c->rx_pdu, c->rx_hlen);
		return;
	}
	bool last = off + dlen == t->req.data_len;
	if (!!(d->hdr.flags & HNVMF_TCP_F_DATA_LAST) != last) {
		fatal_field(c, offsetof(struct hnvmf_tcp_hdr, flags));
		return;
	}
	c->rx_req = t;
	start_data(c, t->data + off, dlen);
}

static void rx_h2c_term(struct tcp_conn *c)
{
	const struct hnvmf_tcp_term *t = (const void *)c->rx_pdu;
	log_warn("tcp %s: host terminated the connection (H2CTermReq FES %u, FEI %u)",
		 c->sq.peer, le16toh(t->fes), le32toh(t->fei));
	tcp_conn_close(c, "H2CTermReq");
}

/* The PDU header (and its digest) is in c->rx_pdu. */
static void rx_header_done(struct tcp_conn *c)
{
	switch (c->rx_pdu[0]) {
	case HNVMF_TCP_ICREQ:
		rx_icreq(c);
		break;
	case HNVMF_TCP_CMD:
		rx_cmd(c);
		break;
	case HNVMF_TCP_H2C_DATA:
		rx_h2c_data(c);
		break;
	case HNVMF_TCP_H2C_TERM:
		rx_h2c_term(c);
		break;
	}
}

/* The current PDU's data (and digest) is in. */
static void rx_data_done(struct tcp_conn *c, bool digest_ok)
{
	struct tcp_req *t = c->rx_req;
	uint8_t type = c->rx_pdu[0];
	c->rx_req = NULL;
	c->rx_state = TCP_RX_HDR;
	if (!t)
		return; /* discarded */
	if (!digest_ok) {
		log_warn("tcp %s: data digest error (cid %u)", c->sq.peer,
			 le16toh(t->sqe.common.cid));
		t->ddgst_error = true;
	}
	if (type == HNVMF_TCP_CMD) {
		tcp_req_capsule_ready(t);
	} else {
		t->h2c_done += c->rx_data_len;
		if (t->h2c_done == t->req.data_len)
			tcp_req_h2c_done(t);
	}
}

/* Data bytes that reached their destination (copied or received in place). */
static void rx_data_consumed(struct tcp_conn *c, const uint8_t *p, uint32_t n)
{
	if (c->ddgst)
		c->rx_crc = tcp_crc_update(c->rx_crc, p, n);
	if (c->rx_dst)
		c->rx_dst += n;
	c->rx_left -= n;
}

/* TCP_RX_HDR: checks the common header against the PDU type and the negotiated digests, and
 * takes the PDU header out of rxbuf once it is complete. False: wait for more bytes, or the
 * connection was terminated. */
static bool rx_common_header(struct tcp_conn *c, const uint8_t *p, uint32_t avail)
{
	if (avail < sizeof(struct hnvmf_tcp_hdr))
		return false;
	struct hnvmf_tcp_hdr h; /* rxbuf offsets are not aligned: look at a copy */
	memcpy(&h, p, sizeof(h));
	enum hnvmf_tcp_fes fes;
	uint8_t hlen = expected_hlen(c, h.type, &fes);
	size_t shown = avail < 128 ? avail : 128; /* what the C2HTermReq copies back */
	if (hlen == 0) {
		fatal(c, fes, 0, p, shown);
		return false;
	}
	if (shown > hlen)
		shown = hlen;
	if (h.hlen != hlen) {
		fatal(c, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, hlen), p, shown);
		return false;
	}
	bool digests = pdu_has_digests(h.type); /* ICReq and TermReqs never carry any */
	if (digests && !!(h.flags & HNVMF_TCP_F_HDGST) != c->hdgst) {
		fatal(c, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, flags), p,
		      shown);
		return false;
	}
	bool hdgst = digests && c->hdgst;
	if (le32toh(h.plen) < hlen + (hdgst ? HNVMF_TCP_DIGEST_LEN : 0u)) {
		fatal(c, HNVMF_TCP_FES_INVALID_PDU_HDR, offsetof(struct hnvmf_tcp_hdr, plen), p, shown);
		return false;
	}
	if (avail < hlen)
		return false;
	memcpy(c->rx_pdu, p, hlen);
	c->rx_hlen = hlen;
	c->rx_start += hlen;
	c->rx_pdus++;
	c->turn_rx_pdus++; /* tcp_turn_rx_pdus_spent synced the turn just before */
	if (hdgst)
		c->rx_state = TCP_RX_HDGST;
	else
		rx_header_done(c);
	return true;
}

void tcp_rx_process(struct tcp_conn *c)
{
	c->rx_held = false; /* set again below if the budget stops it */
	for (;;) {
		uint32_t avail = c->rx_end - c->rx_start;
		uint8_t *p = c->rxbuf + c->rx_start;
		switch (c->rx_state) {
		case TCP_RX_HDR:
			if (tcp_rx_should_pause(c))
				return;
			/* The turn's PDUs are spent: the next one waits in rxbuf (tcp-turn.c). */
			if (avail && tcp_turn_rx_pdus_spent(c))
				return;
			if (!rx_common_header(c, p, avail))
				return;
			break;
		case TCP_RX_HDGST:
			if (avail < HNVMF_TCP_DIGEST_LEN)
				return;
			if (tcp_get_le32(p) != tcp_crc(c->rx_pdu, c->rx_hlen)) {
				fatal(c, HNVMF_TCP_FES_HDR_DIGEST_ERR, 0, c->rx_pdu, c->rx_hlen);
				return;
			}
			c->rx_start += HNVMF_TCP_DIGEST_LEN;
			rx_header_done(c);
			break;
		case TCP_RX_PAD: {
			uint32_t n = avail < c->rx_pad ? avail : c->rx_pad;
			c->rx_start += n;
			c->rx_pad -= n;
			if (c->rx_pad)
				return;
			c->rx_state = TCP_RX_DATA;
			break;
		}
		case TCP_RX_DATA: {
			uint32_t n = avail < c->rx_left ? avail : c->rx_left;
			if (n) {
				if (c->rx_dst) {
					memcpy(c->rx_dst, p, n);
					c->stats.rx_copied += n;
				}
				rx_data_consumed(c, p, n);
				c->rx_start += n;
			}
			if (c->rx_left)
				return;
			if (c->ddgst) {
				c->rx_state = TCP_RX_DDGST;
				break;
			}
			rx_data_done(c, true);
			break;
		}
		case TCP_RX_DDGST:
			if (avail < HNVMF_TCP_DIGEST_LEN)
				return;
			c->rx_start += HNVMF_TCP_DIGEST_LEN;
			rx_data_done(c, tcp_get_le32(p) == tcp_crc_final(c->rx_crc));
			break;
		case TCP_RX_STOPPED:
			return;
		}
	}
}

/* One read: straight into the request's buffer when a PDU's data is pending and rxbuf is
 * empty, else into rxbuf. Returns recv's result. */
static ssize_t rx_read(struct tcp_conn *c, size_t *asked)
{
	if (c->rx_start == c->rx_end) {
		c->rx_start = c->rx_end = 0;
	} else if (c->rx_start > 0 && TCP_RX_BUF_SIZE - c->rx_end < 4096) {
		/* A header straddles the end: move the partial PDU to the front. */
		memmove(c->rxbuf, c->rxbuf + c->rx_start, c->rx_end - c->rx_start);
		c->rx_end -= c->rx_start;
		c->rx_start = 0;
	}
	bool in_place = c->rx_state == TCP_RX_DATA && c->rx_dst && c->rx_left &&
			c->rx_start == c->rx_end;
	if (c->ssl) {
		/* TLS: records are decrypted straight into the request's buffer while its data is
		 * pending and rxbuf is empty (the next PDU's headers then come in the next call),
		 * else into rxbuf. The TLS layer counts its own system calls. */
		uint8_t *dst = in_place ? c->rx_dst : c->rxbuf + c->rx_end;
		*asked = in_place ? c->rx_left : TCP_RX_BUF_SIZE - c->rx_end;
		ssize_t r = tcp_tls_recv(c, dst, *asked);
		if (r > 0) {
			c->stats.rx_bytes += (uint64_t)r;
			if (in_place)
				rx_data_consumed(c, dst, (uint32_t)r);
			else
				c->rx_end += (uint32_t)r;
		}
		return r;
	}
	struct iovec v[2];
	int n = 0;
	uint32_t direct = 0, room = TCP_RX_BUF_SIZE - c->rx_end;
	if (in_place) {
		direct = c->rx_left;
		v[n].iov_base = c->rx_dst;
		v[n++].iov_len = direct;
	}
	if (c->rx_end == 0 && (in_place || c->rx_state == TCP_RX_HDR) &&
	    !hnvmf_list_empty(&c->h2c_wait)) {
		/* H2CData is due: a full-size read into the empty rxbuf (alone, or after the data
		 * read in place) would bring a PDU's header with up to 64 KiB of its data, to be
		 * copied out. Read one CapsuleCmd's worth: an H2CData header and a few data bytes,
		 * and the rest of its data comes in place in the next call. */
		room = sizeof(struct hnvmf_tcp_cmd) + (c->hdgst ? HNVMF_TCP_DIGEST_LEN : 0);
	}
	v[n].iov_base = c->rxbuf + c->rx_end;
	v[n++].iov_len = room;
	*asked = direct + room;
	struct msghdr msg = { .msg_iov = v, .msg_iovlen = (size_t)n };
	ssize_t r = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	c->stats.syscalls++;
	if (r <= 0)
		return r;
	c->stats.rx_bytes += (uint64_t)r;
	uint32_t got = (uint32_t)r;
	if (direct) {
		uint32_t d = got < direct ? got : direct;
		rx_data_consumed(c, c->rx_dst, d);
		got -= d;
	}
	c->rx_end += got;
	return r;
}

/* From the socket's EPOLLIN, and from the turn poller for a connection its budget stopped
 * (tcp-turn.c): the PDUs left in rxbuf first, then reads while the budget lasts. */
static void conn_readable(struct tcp_conn *c);

void tcp_conn_readable(struct tcp_conn *c)
{
	uint64_t cmds = c->stats.cmds;
	conn_readable(c);
	tcp_send_note_batch(c, c->stats.cmds - cmds);
}

static void conn_readable(struct tcp_conn *c)
{
	if (c->rx_held) {
		if (tcp_turn_rx_pdus_spent(c))
			return; /* this turn's already: the turn poller comes back next turn */
		tcp_rx_process(c);
	}
	for (int round = 0;; round++) {
		/* Bytes TLS already decrypted get no readiness event: read them whatever (the
		 * byte budget bounds it, and rx_more brings the connection back). */
		if (c->rx_state == TCP_RX_STOPPED || c->rx_paused || c->rx_held ||
		    (round >= TCP_READ_ROUNDS && !tcp_tls_pending(c)))
			return;
		if (tcp_turn_rx_bytes_spent(c))
			return;
		size_t asked;
		ssize_t r = rx_read(c, &asked);
		if (r == 0) {
			tcp_conn_close(c, "closed by the peer");
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_info("tcp %s: receive failed: %s", c->sq.peer, strerror(errno));
			tcp_conn_close(c, "receive error");
			return;
		}
		tcp_turn_rx_count(c, (size_t)r);
		tcp_rx_process(c);
		if ((size_t)r < asked && !tcp_tls_pending(c))
			return; /* the socket is empty: no need for another call */
	}
}
