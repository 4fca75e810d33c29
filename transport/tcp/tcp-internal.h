/* NVMe/TCP transport, private: the connection, its requests, the per-reactor state.
 *
 * A connection (struct tcp_conn) is one NVMe queue: it embeds the hnvmf_sq that target/ sees
 * and lives on one reactor at a time (a DAM grant moves it, tcp-move.c), so nothing here takes a
 * lock. Files:
 *   tcp-transport.c  the ops table: listen/accept, hand-over to reactors, shutdown
 *   tcp-conn.c       connection life: start, ICReq wait, terminate, close, drain, destroy
 *   tcp-recv.c       the receive state machine (PDU framing and checks)
 *   tcp-req.c        a request's life: SGL, data buffer, R2T, execute, response PDUs
 *   tcp-send.c       the send queue: many PDUs per sendmsg, partial writes, EPOLLOUT, and
 *                    the response window at high queue depth
 *   tcp-bufcache.c   per-reactor cache of large data buffers
 *   tcp-limits.c     [limits]: the reactor's tick (stage and PDU timeouts), buffered-data
 *                    accounting and back-pressure
 *   tcp-move.c       moving a connection to another reactor between PDUs (DAM)
 *   tcp-turn.c       per-connection budgets of one reactor turn, and the connections whose
 *                    leftovers are served next turn without a new epoll event
 * docs/tcp-transport.md describes the state machines and the values chosen below. */
#ifndef HNVMF_TCP_INTERNAL_H
#define HNVMF_TCP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/list.h"
#include "core/reactor.h"
#include "proto/tcp-pdu.h"
#include "target/nvmf.h"
#include "transport/conn-limits.h"
#include "transport/conn-move.h"
#include "transport/transport.h"

#define TCP_MAXH2CDATA (128u * 1024)    /* ICResp MAXH2CDATA: largest H2CData PDU we accept */
#define TCP_ADMIN_ICD_SIZE 8192u        /* in-capsule data: admin queue and fabrics commands */
#define TCP_RX_BUF_SIZE (64u * 1024)    /* one recv() fills this with many PDUs */
#define TCP_TERM_LINGER_MS 2000         /* how long a C2HTermReq may wait for the socket */
#define TCP_SEND_MAX_IOV 9              /* C2HData hdr, pad, 4 data pieces, ddgst, CapsuleResp */
#define TCP_SEND_BATCH_IOV 512          /* iovecs gathered into one sendmsg */
#define TCP_MAX_PDO_PAD 128             /* most padding accepted between header and data */
#define TCP_BUF_LARGE (128u * 1024)     /* the common large transfer: cached per reactor */
/* SO_SNDBUF and SO_RCVBUF of every connection (set on the listener, inherited): the reference
 * target's size. Autotuning starts the receive buffer at net.ipv4.tcp_rmem's default (128 KiB),
 * where a host's burst of small command PDUs queues as many small buffers against it; the send
 * buffer autotunes past 2 MiB on loopback by itself. docs/performance.md, "Profile". */
#define TCP_SOCK_BUF_SIZE (2u * 1024 * 1024)
/* What one connection may do in one reactor turn (tcp-turn.c says why these values): PDUs
 * parsed, send entries (a PDU or a request's response PDUs) gathered, bytes received, bytes
 * sent. Past one of them the connection yields to the others; the rest is served next turn.
 * The large budget while the connection's controller is alone on its reactor, the small one
 * while others use the same reactor (within TCP_TURN_SHARED_NS of a turn in which connections
 * of two controllers did). */
#define TCP_TURN_PDUS 128u
#define TCP_TURN_SENDS 128u
#define TCP_TURN_RX_BYTES (1024u * 1024)
#define TCP_TURN_TX_BYTES (2u * TCP_SOCK_BUF_SIZE) /* what the socket holds: the kernel doubles it */
#define TCP_TURN_PDUS_SHARED 16u
#define TCP_TURN_SENDS_SHARED 16u
#define TCP_TURN_BYTES_SHARED (128u * 1024)
#define TCP_TURN_SHARED_NS (2u * 1000 * 1000)
/* The response window (tcp-send.c says why; a read is one readable callback's recv calls): on a
 * connection where one read brought at least TCP_HOLD_BATCH commands (in this period of
 * TCP_HOLD_PERIOD reads or the last), the flusher holds the responses until TCP_HOLD_RSPS are
 * queued or TCP_HOLD_NS have passed since the window opened, whichever comes first. A host with
 * fewer commands in flight never opens one. */
#define TCP_HOLD_BATCH 40u
#define TCP_HOLD_PERIOD 256u
#define TCP_HOLD_RSPS 32u
#define TCP_HOLD_NS 30000u
/* Two halves (tcp-send.c says why): a flush that answers as many commands as the host can have
 * in flight (by their identifiers), or everything the connection holds while that is more than
 * half the most it ever held and its reads' data is at most TCP_HALVES_MAX_DATA, with
 * TCP_HALVES_MIN reads or more among them, sends the CapsuleResps of the first half of those
 * reads right behind their data. */
#define TCP_HALVES_MIN 16u
#define TCP_HALVES_MAX_DATA (640u * 1024)
/* Awaiting the host (tcp-send.c says why): after a send on a connection where one read brought
 * TCP_AWAIT_BATCH commands or more (in this period of TCP_HOLD_PERIOD reads or the last), the
 * reactor polls on for up to TCP_AWAIT_NS before it sleeps. */
#define TCP_AWAIT_BATCH 8u
#define TCP_AWAIT_NS 100000u
/* PDU header buffers are viewed through the tcp-pdu.h structures (the SQE has 64-bit fields). */
#define TCP_PDU_ALIGNED __attribute__((aligned(8)))

/* One byte sequence to send (a PDU or a request's response PDUs), queued on its connection. */
struct tcp_send {
	struct hnvmf_list link;
	struct iovec iov[TCP_SEND_MAX_IOV];
	uint8_t iovcnt;
	uint8_t cur;      /* first iovec not completely sent */
	uint32_t cur_off; /* bytes of iov[cur] already sent */
	bool queued;
	bool rsp;         /* a request's response (the window may hold it), not an R2T, ICResp... */
	bool tail;        /* a read's CapsuleResp, split from its C2HData: waits on conn->tailq */
	bool keep;        /* tcp_send_drop_all keeps it: the CapsuleResp of a C2HData sent or kept */
	struct tcp_send *follow; /* a C2HData's CapsuleResp (tail), or NULL */
	struct tcp_send *lead;   /* a tail's C2HData, or NULL */
	/* All bytes went to the socket, or dropped: the connection closed first. */
	void (*sent)(struct tcp_send *s, bool dropped);
};

/* A request slot's state. Only tcp_req_set_state (tcp-req.c) changes it, checking the move
 * against this table (a bad one asserts in a debug build; in a release build it is logged,
 * counted and closes the connection), and counting the requests in each state per reactor
 * (hnvmfctl stats):
 *
 *   FREE         -> NEW                      tcp_req_get: a CapsuleCmd header is in
 *   NEW          -> CAPSULE_DATA             its in-capsule data is arriving
 *   NEW, CAPSULE_DATA -> WAIT_BUF            hnvmf_req_init accepted it; no [limits] room yet
 *   NEW, CAPSULE_DATA, WAIT_BUF -> WAIT_H2C  buffer mapped, R2T queued
 *   NEW, CAPSULE_DATA, WAIT_BUF, WAIT_H2C -> EXECUTING   data in: hnvmf_req_execute
 *   any but FREE, SENDING -> SENDING         completed (refused by hnvmf_req_init, failed by
 *                                            the transport, aborted, or executed): response queued
 *   any but FREE -> FREE                     response sent, or nobody left to send it to */
enum tcp_req_state {
	TCP_REQ_FREE,
	TCP_REQ_NEW,          /* command PDU header in: SGL parsed, hnvmf_req_init called */
	TCP_REQ_CAPSULE_DATA, /* command PDU header in, its in-capsule data arriving */
	TCP_REQ_WAIT_BUF,     /* initialised; its data buffer waits for [limits] room */
	TCP_REQ_WAIT_H2C,     /* R2T queued, then sent: only then may H2CData PDUs arrive */
	TCP_REQ_EXECUTING,    /* in hnvmf_req_execute until queue_response: the target owns it */
	TCP_REQ_SENDING,      /* response PDUs on the send queue */
	TCP_REQ_NSTATES
};

enum tcp_buf_class {
	TCP_BUF_NONE,   /* no data buffer */
	TCP_BUF_SLOT,   /* the slot's own in-capsule-size buffer */
	TCP_BUF_CACHED, /* TCP_BUF_LARGE bytes from the reactor's cache */
	TCP_BUF_MDTS,   /* MDTS bytes from the reactor's cache */
	TCP_BUF_HEAP,   /* anything larger: malloc'd for this request (control path) */
};

struct tcp_conn;

/* One request slot; conn->reqs[ttag], the index is our R2T transfer tag. */
struct tcp_req {
	struct hnvmf_req req;
	struct tcp_conn *conn;
	enum tcp_req_state state;
	uint16_t ttag;
	bool ddgst_error;     /* a data digest failed: complete with a transient transport error */
	bool release_when_sent; /* released while its PDU was still on the send queue */
	uint8_t sgl_type;
	union hnvmf_sqe sqe;  /* copied out of the receive buffer, which is reused */
	uint8_t *icd;         /* this slot's buffer, conn->icd_size bytes, page aligned */
	uint8_t *data;        /* the data buffer of this command */
	enum tcp_buf_class buf_class;
	uint32_t icd_len;     /* in-capsule data bytes received */
	uint32_t h2c_done;    /* bytes received through H2CData */
	uint64_t buffered;    /* bytes of data buffer counted against [limits] */
	struct hnvmf_list wait_link; /* conn->buf_wait (WAIT_BUF) or conn->h2c_wait (WAIT_H2C) */
	uint64_t r2t_ns;      /* WAIT_H2C since (the reactor's tick clock) */
	struct tcp_send snd;  /* R2T, then the response (a read's: its C2HData) */
	struct tcp_send tail_snd; /* a read's CapsuleResp, sent behind the batch's data (tcp-send.c) */
	uint8_t hdr[sizeof(struct hnvmf_tcp_data) + HNVMF_TCP_DIGEST_LEN] TCP_PDU_ALIGNED; /* C2HData/R2T */
	uint8_t rsp[sizeof(struct hnvmf_tcp_rsp) + HNVMF_TCP_DIGEST_LEN] TCP_PDU_ALIGNED;
	uint32_t ddgst;       /* C2H data digest, little endian */
	struct tcp_req *next_free;
};

enum tcp_conn_state {
	TCP_CONN_TLS_HANDSHAKE, /* tls listener: TLS 1.3 PSK handshake before the ICReq */
	TCP_CONN_WAIT_ICREQ,
	TCP_CONN_LIVE,
	TCP_CONN_DRAINING,    /* shutdown: no new command starts; closes once idle */
	TCP_CONN_TERMINATING, /* fatal error: C2HTermReq queued, nothing read; closes once sent */
	TCP_CONN_CLOSED,      /* socket gone; waits for in-flight requests, then destroyed */
};

enum tcp_rx_state {
	TCP_RX_HDR,     /* the 8-byte common header, then the rest of the PDU header */
	TCP_RX_HDGST,   /* header digest */
	TCP_RX_PAD,     /* bytes between the header (and digest) and PDO */
	TCP_RX_DATA,    /* PDU data, into the request's buffer (or discarded) */
	TCP_RX_DDGST,   /* data digest */
	TCP_RX_STOPPED, /* terminated or closed: nothing more is parsed */
};

struct tcp_conn_stats {
	uint64_t cmds;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t errors;      /* commands completed with an error status */
	uint64_t syscalls;    /* recv + sendmsg calls, to check batching */
	uint64_t rx_copied;   /* PDU data bytes copied out of rxbuf; the rest was received in place */
	uint64_t holds;       /* response windows opened */
	uint64_t hold_timeouts; /* windows that timed out short of TCP_HOLD_RSPS */
	uint64_t halves;      /* flushes that answered the host's whole queue in two halves */
};

struct tcp_reactor;
struct tcp_tls_tx;

struct tcp_conn {
	struct hnvmf_sq sq; /* what target/ sees */
	struct tcp_reactor *rt;
	struct hnvmf_port *port;
	int fd;
	struct hnvmf_event ev;
	uint32_t ev_mask;
	enum tcp_conn_state state;
	struct hnvmf_timer timer; /* the C2HTermReq linger */
	struct hnvmf_conn_ticket ticket; /* max_connections(_per_address); released at destroy */
	uint64_t stage_deadline_ns; /* TLS handshake + ICReq, then Connect; 0: none (tick-checked) */
	struct hnvmf_msg start_msg;
	struct hnvmf_msg destroy_msg;
	bool destroy_queued;
	bool quiesced;            /* hnvmf_sq_quiesce called */
	struct hnvmf_list link;   /* rt->conns */

	/* Negotiated by ICReq / ICResp. */
	bool hdgst, ddgst;
	uint8_t c2h_pdo;          /* header + digest, padded to the host's HPDA */
	uint32_t maxr2t;

	/* Receive. */
	enum tcp_rx_state rx_state;
	uint8_t *rxbuf;
	uint32_t rx_start, rx_end;
	uint8_t rx_pdu[sizeof(struct hnvmf_tcp_icreq)] TCP_PDU_ALIGNED; /* the current PDU header */
	uint8_t rx_hlen;
	struct tcp_req *rx_req;   /* receiving data for this request; NULL: discard */
	uint8_t *rx_dst;
	uint32_t rx_data_len;     /* data bytes of the current PDU */
	uint32_t rx_left;         /* of those, still to come */
	uint32_t rx_pad;
	uint32_t rx_crc;
	uint32_t rx_pdus;         /* PDU headers taken: the tick tells a stalled PDU by it */
	uint32_t rx_pdus_seen;    /* rx_pdus when the tick first saw the current PDU unfinished */
	bool rx_stalled;          /* ... and it had seen it so (since rx_stall_ns) */
	uint64_t rx_stall_ns;
	bool rx_paused;           /* back-pressure: EPOLLIN off, next PDU left unparsed in rxbuf */
	bool kick_queued;
	struct hnvmf_msg kick_msg;  /* grants buffers and resumes reading after a release */

	/* This turn's budget (tcp-turn.c): counts of turn_no, reset when the reactor's turn moves. */
	uint64_t turn_no;
	uint32_t turn_rx_pdus, turn_tx_sends;
	uint32_t turn_rx_bytes, turn_tx_bytes;
	bool rx_held;             /* the PDU budget stopped parsing: rxbuf holds the next PDU */
	bool rx_more;             /* on rt->rx_more: read on next turn, event or not */
	struct hnvmf_list more_link;

	/* Requests. */
	struct tcp_req *reqs;
	unsigned nreqs;
	unsigned nbusy;
	unsigned nbusy_max;           /* the most requests in use at once, ever (two halves) */
	struct tcp_req *free_reqs;
	uint8_t *icd_mem;
	uint32_t icd_size;
	uint64_t buffered;            /* data buffer bytes counted against conn_buffer_mib */
	struct hnvmf_list buf_wait;   /* WAIT_BUF requests, in arrival order */
	struct hnvmf_list h2c_wait;   /* WAIT_H2C requests, in R2T order (oldest first) */

	/* Send. */
	struct hnvmf_list sendq;
	bool flush_queued;
	struct hnvmf_list flush_link; /* rt->flushq */
	bool want_out;                /* EPOLLOUT armed: the socket is full */
	struct hnvmf_list tailq;      /* CapsuleResps that follow data already on sendq (tcp_send.tail) */
	unsigned tailq_n;             /* entries on tailq */
	unsigned sendq_rsps;          /* responses on sendq (tcp_send.rsp) */
	unsigned sendq_other;         /* everything else on sendq */
	uint32_t rx_peak_cur, rx_peak_prev; /* most commands one read brought, this period and the last */
	uint32_t rx_reads;            /* reads that brought commands, this period */
	uint32_t cid_span_cur, cid_span_prev; /* 1 + the largest command identifier received, this
	                                       * period and the last (two halves, tcp-send.c) */
	uint64_t hold_since_ns;       /* the response window opened (0: not holding) */
	struct tcp_send icresp_snd;
	struct hnvmf_tcp_icresp icresp;
	struct tcp_send term_snd;
	uint8_t term_pdu[sizeof(struct hnvmf_tcp_term) + HNVMF_TCP_TERM_MAX_DATA] TCP_PDU_ALIGNED;

	struct tcp_conn_stats stats;

	/* TLS (tcp-tls.c); ssl is NULL on a plain connection. */
	struct ssl_st *ssl;
	struct tcp_tls_tx *tls_tx; /* records sealed from the send queue, waiting for the socket */
	char tls_hostnqn[HNVMF_NQN_MAX]; /* from the PSK identity */
	char tls_subnqn[HNVMF_NQN_MAX];

	/* Moving to another reactor (transport/conn-move.h, tcp-move.c): while one is asked
	 * for, reading pauses before the next PDU. */
	struct hnvmf_conn_move mv;
	uint32_t moved_reqs[TCP_REQ_NSTATES]; /* per-state counts carried to the new reactor */
};

/* Large data buffers kept per reactor, so the I/O path does not malloc. */
struct tcp_bufcache {
	void *free[2];     /* singly linked through the buffers' first bytes */
	unsigned count[2];
	unsigned max[2];
	uint32_t size[2];  /* [0] TCP_BUF_LARGE, [1] MDTS (0: no such class) */
};

struct tcp_reactor {
	struct hnvmf_reactor *r;
	struct hnvmf_poller poller; /* flushes the connections on flushq, once per loop */
	bool poller_on;
	struct hnvmf_poller turn_poller; /* starts a turn: serves rx_more (tcp-turn.c) */
	uint64_t turn;              /* turns of this reactor since it had its first connection */
	const void *turn_who;       /* the controller (or, before Connect, the connection) that first
	                             * used a budget in this turn; NULL: none yet */
	bool turn_mixed;            /* connections of another controller used one too */
	bool shared;                /* small budgets: others use this reactor (tcp-turn.c) */
	uint64_t shared_until_ns;   /* when shared lapses unless two connections share a turn */
	struct hnvmf_list rx_more;  /* connections with received bytes left by their budget */
	struct hnvmf_list conns;
	unsigned nconns;
	struct hnvmf_list flushq;
	struct tcp_bufcache cache;
	struct hnvmf_timer tick;    /* coarse clock for the [limits] deadlines */
	bool tick_on;
	uint64_t now_ns;            /* at the last tick: stamps without a clock read per I/O */
	/* Requests in each state but FREE, and refused state changes: written by this reactor
	 * only, read by the control thread (tcp_describe_requests). */
	_Atomic uint32_t nreqs[TCP_REQ_NSTATES];
	_Atomic uint64_t bad_transitions;
};

struct tcp_listener {
	struct hnvmf_port *port;
	int fd;
	struct hnvmf_event ev;
	struct hnvmf_timer retry; /* accept paused after EMFILE and the like */
	struct hnvmf_list link;
};

struct tcp_transport {
	struct hnvmf_transport_env env;
	struct tcp_reactor *rts;
	unsigned next_rt;          /* round robin, touched on reactors[0] only */
	atomic_uint nconns;        /* every connection not yet destroyed */
	atomic_bool shutting_down;
	struct hnvmf_list listeners; /* main thread only */
	unsigned queue_slots;      /* request slots per connection */
	uint32_t icd_size;         /* per-slot buffer: max(admin 8 KiB, inline_data_size) */
	uint32_t io_icd_limit;     /* in-capsule data accepted on I/O queues */
	uint32_t mdts;             /* bytes; 0: no limit */
	/* [limits], in the units used here. */
	uint64_t icreq_timeout_ns, connect_timeout_ns, pdu_timeout_ns;
	unsigned icreq_timeout_ms, connect_timeout_ms, pdu_timeout_ms; /* for the logs */
	unsigned tick_ms;
	uint64_t conn_buf_limit, buf_limit;  /* bytes */
	atomic_uint_fast64_t buffered;      /* data buffer bytes counted, all connections */
};

extern struct tcp_transport tcp_g;
extern const struct hnvmf_sq_ops tcp_sq_ops;

/* tcp-conn.c */
struct tcp_conn *tcp_conn_create(struct tcp_reactor *rt, struct hnvmf_port *port, int fd,
				 const char *peer);
void tcp_conn_start(struct tcp_conn *c); /* on rt's thread */
void tcp_conn_set_events(struct tcp_conn *c);
void tcp_conn_terminate(struct tcp_conn *c, enum hnvmf_tcp_fes fes, uint32_t fei,
			const void *hdr, size_t hdr_len);
void tcp_conn_close(struct tcp_conn *c, const char *why);
void tcp_conn_drain(struct tcp_conn *c);
void tcp_conn_check_idle(struct tcp_conn *c); /* after a request or a send finished */
int tcp_conn_alloc_reqs(struct tcp_conn *c);

/* tcp-recv.c */
void tcp_conn_readable(struct tcp_conn *c);
void tcp_rx_process(struct tcp_conn *c);

/* tcp-req.c */
struct tcp_req *tcp_req_get(struct tcp_conn *c);
void tcp_req_release(struct tcp_req *t);
void tcp_req_capsule_ready(struct tcp_req *t);   /* command and in-capsule data are in */
void tcp_req_h2c_done(struct tcp_req *t);         /* every H2CData byte is in */
void tcp_req_abort(struct tcp_req *t);            /* connection closing: end it */
void tcp_req_set_state(struct tcp_req *t, enum tcp_req_state to);
bool tcp_req_state_allowed(enum tcp_req_state from, enum tcp_req_state to);
void tcp_queue_response(struct hnvmf_req *req);

/* tcp-send.c */
/* Starts building s's PDUs (iovcnt 0, its callback): false when s is still queued, which is a
 * bug; the connection is then closed. tcp_send_queue then queues it. */
bool tcp_send_prepare(struct tcp_conn *c, struct tcp_send *s,
		      void (*sent)(struct tcp_send *s, bool dropped));
void tcp_send_queue(struct tcp_conn *c, struct tcp_send *s);
void tcp_send_schedule(struct tcp_conn *c);
void tcp_send_flush(struct tcp_conn *c);
void tcp_send_drop_all(struct tcp_conn *c, bool keep_started);
int tcp_send_poller(struct hnvmf_poller *p);
/* The response window (tcp-send.c): a read brought cmds commands; should the flusher hold? */
void tcp_send_note_batch(struct tcp_conn *c, uint64_t cmds);
/* Two halves (tcp-send.c): a host can have no more commands in flight than the identifiers it
 * uses; called for each command received. */
static inline void tcp_send_note_cid(struct tcp_conn *c, uint16_t cid)
{
	if (cid >= c->cid_span_cur)
		c->cid_span_cur = (uint32_t)cid + 1;
}
bool tcp_send_hold(struct tcp_conn *c);
static inline void tcp_send_add(struct tcp_send *s, const void *base, size_t len)
{
	s->iov[s->iovcnt].iov_base = (void *)base;
	s->iov[s->iovcnt].iov_len = len;
	s->iovcnt++;
}

/* tcp-tls.c */
int tcp_tls_setup(void);
void tcp_tls_fini(void);
int tcp_tls_conn_start(struct tcp_conn *c);
void tcp_tls_handshake(struct tcp_conn *c);
void tcp_tls_free(struct tcp_conn *c);
ssize_t tcp_tls_recv(struct tcp_conn *c, void *buf, size_t len);
bool tcp_tls_pending(const struct tcp_conn *c);
bool tcp_tls_partial_record(const struct tcp_conn *c); /* received bytes of a record not complete */
/* Seals the send queue's bytes (v: from its first unsent byte) into records and sends what
 * is sealed with one system call; returns how many queue bytes are now wholly on the socket. */
ssize_t tcp_tls_send(struct tcp_conn *c, const struct iovec *v, int n);
size_t tcp_tls_held(const struct tcp_conn *c);   /* queue-head bytes sealed, not yet sent */
bool tcp_tls_unsent(const struct tcp_conn *c);   /* sealed bytes wait for the socket */
void tcp_tls_drop_unsent(struct tcp_conn *c);    /* the send queue was dropped whole */

/* tcp-limits.c */
void tcp_limits_init(const struct hnvmf_conf_limits *l);
void tcp_tick_start(struct tcp_reactor *rt);  /* on rt's thread; idempotent */
void tcp_tick_stop(struct tcp_reactor *rt);
/* A data buffer of the request's data_len in t->data (and req->iov): 1 when it has one, 0 when
 * it waits (WAIT_BUF; tcp_req_buffer_ready runs it later), -1 when it never can ([limits]). */
int tcp_req_buffer(struct tcp_req *t);
void tcp_req_buffer_ready(struct tcp_req *t);   /* tcp-req.c: the buffer came, go on */
void tcp_req_unbuffer(struct tcp_req *t);       /* on release: returns the buffer */
/* Before the next PDU header: true, with reading paused, while the connection is at its
 * buffered-data limit and owes no H2CData. */
bool tcp_rx_should_pause(struct tcp_conn *c);
void tcp_conn_kick(struct hnvmf_msg *m);        /* kick_msg: grant buffers, resume reading */
void tcp_h2c_wait_add(struct tcp_req *t);       /* R2T queued */
void tcp_h2c_wait_del(struct tcp_req *t);

void tcp_reactor_adopt(struct tcp_reactor *rt, struct tcp_conn *c); /* tcp-conn.c */
/* tcp-move.c */
void tcp_sq_move(struct hnvmf_sq *sq, struct hnvmf_reactor *to); /* hnvmf_sq_ops.move */
extern const struct hnvmf_conn_move_ops tcp_move_ops;
/* tcp-limits.c: a connection that arrived on this reactor reads on from where it stopped. */
void tcp_conn_resume(struct tcp_conn *c);

/* tcp-turn.c */
int tcp_turn_poller(struct hnvmf_poller *p);       /* first in each reactor iteration */
bool tcp_turn_rx_pdus_spent(struct tcp_conn *c);   /* true: marks the connection held */
bool tcp_turn_rx_bytes_spent(struct tcp_conn *c);  /* true: on rx_more for next turn */
void tcp_turn_rx_count(struct tcp_conn *c, size_t bytes);
/* What the connection may still send this turn: entries and bytes (both 0 when spent). */
void tcp_turn_tx_room(struct tcp_conn *c, unsigned *sends, size_t *bytes);
void tcp_turn_tx_count(struct tcp_conn *c, unsigned sends, size_t bytes);
void tcp_turn_forget(struct tcp_conn *c);          /* closed or moving out: off rx_more */

/* tcp-bufcache.c */
void tcp_bufcache_init(struct tcp_bufcache *bc, uint32_t mdts);
void tcp_bufcache_fini(struct tcp_bufcache *bc);
/* A buffer of at least len bytes (len > the slot size); class tells how to give it back. */
void *tcp_buf_get(struct tcp_bufcache *bc, uint32_t len, enum tcp_buf_class *cls);
uint64_t tcp_buf_footprint(const struct tcp_bufcache *bc, uint32_t len); /* bytes tcp_buf_get takes */
void tcp_buf_put(struct tcp_bufcache *bc, void *buf, enum tcp_buf_class cls);

#endif
