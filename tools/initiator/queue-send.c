/* Submission and the send side: each command becomes one ring entry (CapsuleCmd header,
 * padding, in-capsule data, data digest) pointing at the slot's own header buffer and the
 * caller's data; flush gathers as many entries as fit into one sendmsg. Writes beyond the
 * in-capsule size wait for the controller's R2T; its window is sent as H2CData PDUs of at most
 * MAXH2CDATA bytes, one in the ring at a time per command (the next one is built when the
 * previous one has left). */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include "tools/initiator/queue-internal.h"
#include "tools/initiator/tls.h"

#define INI_SGL_PSDT_SGL 0x40 /* SQE flags bits 7:6 = 01b: SGL for data transfer */

static const uint8_t ini_zero_pad[128];

static struct ini_send_ent *ring_push(struct hnvmf_ini_queue *q, struct ini_slot *s, uint8_t kind)
{
	/* Cannot overflow: the ring holds two entries per slot. */
	struct ini_send_ent *e = &q->ring[q->ring_tail & q->ring_mask];
	q->ring_tail++;
	e->niov = 0;
	e->kind = kind;
	e->slot = (uint16_t)(s - q->slots);
	s->in_send++;
	return e;
}

static void ent_add(struct ini_send_ent *e, const void *p, size_t len)
{
	if (!len)
		return;
	e->iov[e->niov].iov_base = (void *)p;
	e->iov[e->niov].iov_len = len;
	e->niov++;
}

int hnvmf_ini_submit(struct hnvmf_ini_queue *q, struct hnvmf_ini_io *io)
{
	if (q->err)
		return q->err;
	if (q->free_head == 0xFFFF)
		return -EBUSY;
	if (io->dir != HNVMF_INI_NONE && !io->len)
		return -EINVAL;
	if (io->dir == HNVMF_INI_TO_CTRL && !io->data)
		return -EINVAL;

	unsigned idx = q->free_head;
	struct ini_slot *s = &q->slots[idx];
	q->free_head = s->next_free;
	q->inflight++;
	s->io = io;
	s->cid = (uint16_t)(idx | ((unsigned)(s->gen & 0x3f) << INI_CID_SLOT_BITS));
	s->xfer_done = 0;
	s->h2c_queued = false;
	s->r2t_next = s->r2t_end = 0;
	io->status = 0;

	bool fabrics = io->sqe.common.opcode == nvme_admin_fabrics;
	uint32_t icd_max = fabrics ? HNVMF_INI_FABRICS_ICD : q->icd_max;
	s->icd = io->dir == HNVMF_INI_TO_CTRL && io->len <= icd_max;

	struct hnvmf_tcp_cmd *c = (struct hnvmf_tcp_cmd *)s->cmd_hdr;
	memcpy(&c->sqe, &io->sqe, sizeof(c->sqe));
	c->sqe.common.cid = htole16(s->cid);
	c->sqe.common.flags = (uint8_t)((c->sqe.common.flags & 0x3f) | INI_SGL_PSDT_SGL);
	/* dptr sits at the same offset in every SQE layout */
	struct hnvmf_sgl *sgl = &c->sqe.common.dptr;
	memset(sgl, 0, sizeof(*sgl));
	sgl->length = htole32(io->dir == HNVMF_INI_NONE ? 0 : io->len);
	sgl->type = s->icd ? HNVMF_SGL_DATA_BLOCK_OFFSET : HNVMF_SGL_TRANSPORT_DATA;

	uint32_t pad = 0;
	size_t hl = hnvmf_pdu_cmd(s->cmd_hdr, &c->sqe, s->icd ? io->len : 0, q->hdgst, q->ddgst,
				  q->cpda, &pad);
	struct ini_send_ent *e = ring_push(q, s, INI_SEND_CMD);
	ent_add(e, s->cmd_hdr, hl);
	if (s->icd) {
		ent_add(e, ini_zero_pad, pad);
		ent_add(e, io->data, io->len);
		if (q->ddgst) {
			s->cmd_ddgst = htole32(hnvmf_crc32c(io->data, io->len));
			ent_add(e, &s->cmd_ddgst, HNVMF_TCP_DIGEST_LEN);
		}
		q->stats.icd_writes++;
	}
	return 0;
}

void ini_queue_h2c(struct hnvmf_ini_queue *q, struct ini_slot *s)
{
	struct hnvmf_ini_io *io = s->io;
	uint32_t left = s->r2t_end - s->r2t_next;
	uint32_t n = left < q->maxh2cdata ? left : q->maxh2cdata;
	uint32_t pad = 0;
	size_t hl = hnvmf_pdu_h2c_data(s->h2c_hdr, htole16(s->cid), s->ttag, s->r2t_next, n,
				       n == left, q->hdgst, q->ddgst, q->cpda, &pad);
	const uint8_t *data = (const uint8_t *)io->data + s->r2t_next;
	struct ini_send_ent *e = ring_push(q, s, INI_SEND_H2C);
	ent_add(e, s->h2c_hdr, hl);
	ent_add(e, ini_zero_pad, pad);
	ent_add(e, data, n);
	if (q->ddgst) {
		s->h2c_ddgst = htole32(hnvmf_crc32c(data, n));
		ent_add(e, &s->h2c_ddgst, HNVMF_TCP_DIGEST_LEN);
	}
	s->r2t_next += n;
	s->h2c_queued = true;
	q->stats.h2c_pdus++;
}

static size_t ent_len(const struct ini_send_ent *e)
{
	size_t n = 0;
	for (unsigned i = 0; i < e->niov; i++)
		n += e->iov[i].iov_len;
	return n;
}

/* The head entry has left: release what it pinned, queue the next H2CData if due. */
static void ent_sent(struct hnvmf_ini_queue *q, const struct ini_send_ent *e)
{
	struct ini_slot *s = &q->slots[e->slot];
	s->in_send--;
	if (e->kind == INI_SEND_H2C) {
		s->h2c_queued = false;
		s->xfer_done = s->r2t_next;
		if (s->r2t_next < s->r2t_end)
			ini_queue_h2c(q, s);
	}
}

void ini_sent(struct hnvmf_ini_queue *q, size_t left)
{
	while (left > 0) {
		const struct ini_send_ent *e = &q->ring[q->ring_head & q->ring_mask];
		size_t rem = ent_len(e) - q->send_off;
		if (left < rem) {
			q->send_off += left;
			break;
		}
		left -= rem;
		q->send_off = 0;
		q->ring_head++;
		ent_sent(q, e);
	}
}

#define INI_MAX_IOV 256

int ini_flush(struct hnvmf_ini_queue *q)
{
	if (q->tls)
		return ini_tls_flush(q);
	struct iovec iov[INI_MAX_IOV];
	while (q->ring_head != q->ring_tail) {
		unsigned n = 0;
		size_t skip = q->send_off;
		for (unsigned i = q->ring_head; i != q->ring_tail && n + 4 <= INI_MAX_IOV; i++) {
			const struct ini_send_ent *e = &q->ring[i & q->ring_mask];
			for (unsigned k = 0; k < e->niov; k++) {
				struct iovec v = e->iov[k];
				if (skip >= v.iov_len) {
					skip -= v.iov_len;
					continue;
				}
				v.iov_base = (uint8_t *)v.iov_base + skip;
				v.iov_len -= skip;
				skip = 0;
				iov[n++] = v;
			}
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
		ssize_t w = sendmsg(q->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return ini_queue_fail(q, -errno, "send: %s", strerror(errno));
		}
		q->stats.sendmsgs++;
		size_t gathered = 0;
		for (unsigned k = 0; k < n; k++)
			gathered += iov[k].iov_len;
		ini_sent(q, (size_t)w);
		if ((size_t)w < gathered)
			return 0; /* the socket buffer is full */
	}
	return 0;
}
