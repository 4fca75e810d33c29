/* The queue's private state, shared by queue.c (life cycle), queue-send.c (submission, the
 * send ring, H2CData) and queue-recv.c (the receive state machine). */
#ifndef HNVMF_INI_QUEUE_INTERNAL_H
#define HNVMF_INI_QUEUE_INTERNAL_H

#include "tools/initiator/initiator.h"

struct ini_tls;

/* The CID: slot index in the low bits, a generation counter above, so a stale or duplicated
 * response for a reused slot is recognised instead of completing the wrong command. */
#define INI_CID_SLOT_BITS 10
#define INI_CID_SLOT_MASK ((1u << INI_CID_SLOT_BITS) - 1)

/* One command slot. Each slot owns the buffers for the headers it sends, so submitting and
 * sending allocate nothing. */
struct ini_slot {
	struct hnvmf_ini_io *io;  /* NULL when free */
	uint16_t cid;             /* host order */
	uint16_t next_free;
	uint8_t gen;
	bool icd;                 /* data went in-capsule */
	bool h2c_queued;          /* an H2CData PDU of this slot is in the send ring */
	uint8_t in_send;          /* send ring entries that still point at this slot */
	uint32_t xfer_done;       /* bytes of data sent (H2C) or received (C2H) */
	/* current R2T */
	uint16_t ttag;            /* as received (little endian) */
	uint32_t r2t_next, r2t_end; /* next byte to send, end of the R2T's range */
	uint32_t cmd_ddgst, h2c_ddgst; /* little endian, sent after the data */
	uint8_t cmd_hdr[sizeof(struct hnvmf_tcp_cmd) + HNVMF_TCP_DIGEST_LEN];
	uint8_t h2c_hdr[sizeof(struct hnvmf_tcp_data) + HNVMF_TCP_DIGEST_LEN];
};

enum ini_send_kind { INI_SEND_CMD, INI_SEND_H2C };

/* A PDU waiting in the send ring: header, padding, data, data digest. */
struct ini_send_ent {
	struct iovec iov[4];
	uint8_t niov;
	uint8_t kind;
	uint16_t slot;
};

enum ini_rx_state {
	INI_RX_HDR,   /* waiting for a whole header (+ digest) */
	INI_RX_PAD,   /* skipping the bytes between header and pdo */
	INI_RX_DATA,  /* C2HData payload */
	INI_RX_DDGST, /* its data digest */
};

struct hnvmf_ini_queue {
	int fd;
	uint16_t qid;
	bool hdgst, ddgst;
	uint8_t cpda;
	uint32_t maxh2cdata;
	uint32_t icd_max;
	unsigned depth;
	int err;
	char errstr[160];
	int term_fes;

	struct ini_slot *slots;
	uint16_t free_head; /* 0xFFFF = none */
	unsigned inflight;

	/* send ring (power of two), head = next to send, send_off = bytes of head already sent */
	struct ini_send_ent *ring;
	unsigned ring_mask, ring_head, ring_tail;
	size_t send_off;

	/* receive buffer [rpos, rend) unparsed */
	uint8_t *rbuf;
	size_t rcap, rpos, rend;
	enum ini_rx_state rstate;
	uint16_t rx_slot;       /* the C2HData's slot */
	uint8_t rx_flags;
	uint32_t rx_left;       /* PAD or DATA bytes still to come */
	uint32_t rx_data_len;   /* DATA bytes after the PAD */
	uint32_t rx_off;        /* where the next data byte goes in io->data */
	uint32_t rx_crc;

	struct hnvmf_ini_queue_stats stats;

	struct ini_tls *tls;    /* the secure channel (tls.c); NULL = plain TCP */
};

/* Marks the queue failed (first error wins), shuts the socket down and completes every
 * outstanding command with err. Returns err. */
int ini_queue_fail(struct hnvmf_ini_queue *q, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Frees the slot and runs the io's done callback. */
void ini_complete(struct hnvmf_ini_queue *q, struct ini_slot *s, int status,
		  const struct hnvmf_cqe *cqe);
/* Writes as much of the send ring as the socket takes. Returns 0 or a fatal -errno. */
int ini_flush(struct hnvmf_ini_queue *q);
/* n more bytes of the send ring have left (taken by the socket or sealed by TLS): advances
 * the ring, releasing what the sent entries pinned. */
void ini_sent(struct hnvmf_ini_queue *q, size_t n);
/* Queues the first H2CData PDU of a new R2T window. */
void ini_queue_h2c(struct hnvmf_ini_queue *q, struct ini_slot *s);
/* Reads and parses until the socket is drained. Returns completions or a fatal -errno. */
int ini_receive(struct hnvmf_ini_queue *q);

static inline struct ini_slot *ini_slot_by_cid(struct hnvmf_ini_queue *q, uint16_t cid)
{
	unsigned idx = cid & INI_CID_SLOT_MASK;
	if (idx >= q->depth || !q->slots[idx].io || q->slots[idx].cid != cid)
		return NULL;
	return &q->slots[idx];
}

#endif
