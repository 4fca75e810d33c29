/* NVMe/RDMA transport, private: devices, per-reactor groups, connections and requests.
 *
 * A connection (struct rdma_conn) is one NVMe queue: one RDMA CM id, one RC queue pair and its
 * own completion queue and completion channel. It lives on one reactor at a time: its CM events
 * arrive on that reactor's event channel (the id is migrated there from the listener's channel)
 * and its CQ is polled by that reactor. A queue granted DAM moves, CQ, channel and CM id with it,
 * to its DAM reactor between commands (rdma-move.c, transport/conn-move.h). Nothing on the I/O
 * path takes a lock.
 *
 * Files:
 *   rdma-transport.c  the ops table: init, listeners, CM event dispatch, shutdown, fini
 *   rdma-group.c      devices (PD) and per-(reactor, device) groups: registered pools
 *   rdma-cq.c         a connection's CQ and completion channel, polling, receives held for a move
 *   rdma-move.c       moving a connection to another reactor between commands (DAM)
 *   rdma-conn.c       a connection's life: accept or reject, receive buffers, close, destroy
 *   rdma-req.c        a request's life: SGL, data buffer, RDMA READ, execute, WRITE + SEND
 *   rdma-slab.c       registered memory pools
 *   rdma-proto.c      private data and SGL checks (no verbs)
 * docs/rdma.md describes the sizing and the state machines. */
#ifndef HNVMF_RDMA_INTERNAL_H
#define HNVMF_RDMA_INTERNAL_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <rdma/rdma_cma.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/list.h"
#include "core/reactor.h"
#include "proto/rdma-proto.h"
#include "target/nvmf.h"
#include "transport/conn-limits.h"
#include "transport/conn-move.h"
#include "transport/rdma/rdma-slab.h"
#include "transport/transport.h"

#define RDMA_ADMIN_ICD_SIZE 8192u       /* in-capsule data the admin queue accepts */
#define RDMA_BUF_SMALL (16u * 1024)     /* data buffer classes: 4 KiB I/O, Identify, Connect */
#define RDMA_BUF_MEDIUM (128u * 1024)   /* the common large transfer */
#define RDMA_LISTEN_BACKLOG 128
#define RDMA_CQ_BURST 32                /* completions taken per ibv_poll_cq */
#define RDMA_FLUSH_TIMEOUT_MS 3000      /* after a disconnect: wait this long for flushed WRs */

/* Tags at the start of CM id contexts. */
enum rdma_cm_ctx_kind {
	RDMA_CTX_LISTENER = 1,
	RDMA_CTX_CONN,
};

/* One RDMA device (ibv_context) in use: its protection domain, shared by every group. */
struct rdma_device {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_device_attr attr;
	struct rdma_device *next;
};

struct rdma_reactor;

/* What one reactor uses on one device: the registered pools (capsule buffers, data buffers).
 * A connection takes its data buffers from the group of the reactor it is on now, and keeps the
 * capsules it took at setup for its whole life, wherever it moves: they go back to their group
 * under capsule_lock, from whichever reactor the connection ends on. */
struct rdma_group {
	struct rdma_reactor *rt;
	struct rdma_device *dev;
	pthread_mutex_t capsule_lock; /* capsules: taken at setup, returned at destroy */
	struct rdma_slab capsules;    /* receive buffers: 64-byte SQE + in-capsule data */
	struct rdma_slab bufs[3];     /* data: RDMA_BUF_SMALL, RDMA_BUF_MEDIUM, MDTS */
	unsigned nbufs;               /* classes in use (2 when MDTS <= RDMA_BUF_MEDIUM) */
	struct hnvmf_list buf_waiters; /* requests waiting for a data buffer, in arrival order */
	struct rdma_group *next;
};

/* A request's state. Only rdma_req_set_state (rdma-req.c) changes it, checking the move
 * against this table (a bad one asserts in a debug build; in a release build it is logged,
 * counted and closes the connection), and counting the requests in each state per reactor
 * (hnvmfctl stats):
 *
 *   FREE -> NEW                                   a command capsule was received
 *   NEW -> WAIT_BUF                               hnvmf_req_init accepted it; no buffer yet
 *   NEW, WAIT_BUF -> WAIT_READ_WR | READING       its RDMA READ waits for send queue room / is posted
 *   WAIT_READ_WR -> READING
 *   NEW, WAIT_BUF, READING -> EXECUTING           data in: hnvmf_req_execute
 *   any before SENDING -> WAIT_RSP_WR | SENDING   completed (refused, failed, aborted or
 *                                                 executed): WRITE + SEND wait / are posted
 *   WAIT_RSP_WR -> SENDING
 *   any but FREE -> FREE                          every WR completed, or nobody to answer */
enum rdma_req_state {
	RDMA_REQ_FREE,
	RDMA_REQ_NEW,         /* capsule received: SGL parsed, hnvmf_req_init called */
	RDMA_REQ_WAIT_BUF,    /* no data buffer free in the group's pool: waits for one */
	RDMA_REQ_WAIT_READ_WR, /* the send queue is full: the RDMA READ waits */
	RDMA_REQ_READING,     /* RDMA READ of the host's data posted */
	RDMA_REQ_EXECUTING,   /* between hnvmf_req_execute and queue_response: target owns it */
	RDMA_REQ_WAIT_RSP_WR, /* the send queue is full: WRITE + SEND wait */
	RDMA_REQ_SENDING,     /* RDMA WRITE and/or SEND being posted, then posted */
	RDMA_REQ_NSTATES
};

struct rdma_reactor {
	struct hnvmf_reactor *r;
	struct rdma_event_channel *ch; /* CM events of this reactor's connections (and, on
					* reactors[0], of the listeners) */
	struct hnvmf_event ev;
	bool ev_on;
	struct hnvmf_poller poller;   /* polls the CQs of the connections on active */
	bool poller_on;
	struct rdma_group *groups;
	struct hnvmf_list conns;
	struct hnvmf_list active;     /* connections whose CQ is not armed: may hold completions */
	unsigned nconns;
	/* Requests in each state but FREE, and refused state changes: written by this reactor
	 * only, read by the control thread (rdma_describe_requests). */
	_Atomic uint32_t nreqs[RDMA_REQ_NSTATES];
	_Atomic uint64_t bad_transitions;
};

struct rdma_listener {
	uint8_t ctx_kind;             /* RDMA_CTX_LISTENER */
	struct hnvmf_port *port;
	struct rdma_cm_id *id;        /* NULL while being repaired */
	struct hnvmf_timer repair;    /* on reactors[0]: retry binding after an address change */
	struct hnvmf_list link;
};

#define RDMA_LISTENER_REPAIR_MS 1000

enum rdma_conn_state {
	RDMA_CONN_SETUP,      /* connection request accepted, waiting for the CM's ESTABLISHED */
	RDMA_CONN_LIVE,
	RDMA_CONN_DRAINING,   /* shutdown: new commands are dropped; closes once idle */
	RDMA_CONN_CLOSING,    /* disconnected: the QP is in error, posted WRs flush back */
};

struct rdma_conn;

struct rdma_req {
	uint8_t wr_kind;              /* RDMA_WR_REQ: a send completion's wr_id points here */
	struct hnvmf_req req;
	struct rdma_conn *conn;
	enum rdma_req_state state;
	struct rdma_slab_obj *capsule; /* receive buffer holding the SQE until the response */
	struct rdma_sgl sgl;
	struct rdma_slab_obj *buf;    /* data buffer from the group's pools */
	void *heap;                   /* a transfer larger than the biggest pool object */
	struct ibv_mr *heap_mr;
	unsigned wr_pending;          /* posted WRs whose completion has not come back */
	struct hnvmf_list wait_link;  /* group's buf_waiters or connection's wr_waiters */
	struct rdma_req *next_free;
};

struct rdma_conn_stats {
	uint64_t cmds;
	uint64_t reads;       /* RDMA READ bytes */
	uint64_t writes;      /* RDMA WRITE bytes */
	uint64_t icd;         /* in-capsule data bytes */
	uint64_t invalidations; /* responses sent with Invalidate (keyed SGL 0x4F) */
	uint64_t errors;      /* commands completed with an error status */
	uint64_t buf_waits;   /* a request found the data pool empty */
	uint64_t wr_waits;    /* a request found the send queue full */
};

struct rdma_conn {
	uint8_t ctx_kind;             /* RDMA_CTX_CONN */
	struct hnvmf_sq sq;           /* what target/ sees */
	struct rdma_reactor *rt;
	struct rdma_group *grp;       /* data buffers: the current reactor's group */
	struct rdma_group *cap_grp;   /* where the capsules came from (the reactor of the setup) */
	struct rdma_device *dev;
	struct hnvmf_port *port;
	struct rdma_cm_id *id;
	struct ibv_qp *qp;
	uint32_t qp_num;
	enum rdma_conn_state state;
	struct rdma_cm_params cm;     /* validated connection request */
	uint8_t ord;                  /* RDMA READs we may have outstanding (initiator depth) */
	uint32_t icd_limit;           /* in-capsule data accepted on this queue */
	struct hnvmf_conn_ticket ticket; /* max_connections(_per_address); released when freed */

	/* Receive buffers: all posted, except those holding a command until its response. */
	struct rdma_slab_obj *capsules; /* every buffer this connection owns (linked by next) */
	unsigned ncapsules;
	unsigned posted_recv;
	/* Completions: the connection's own CQ and channel, so that they can move with it. */
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct hnvmf_event cq_ev;     /* cc's fd, on the current reactor */
	bool cq_ev_on;
	bool cq_armed;                /* notification requested, no event consumed since */
	bool active;                  /* on rt->active: polled every loop turn */
	struct hnvmf_list active_link;
	/* Receive completions taken off the CQ while a move is asked for: commands not started,
	 * started in this order once the move is over (rdma-cq.c). At most recv_depth. */
	struct ibv_wc *held;
	unsigned nheld;

	/* Moving to another reactor (transport/conn-move.h, rdma-move.c). */
	struct hnvmf_conn_move mv;
	const char *cm_close_why;     /* a CM event that ends the connection came in transit */

	/* Send queue: WRs posted and not completed; requests waiting for room. */
	unsigned send_depth;
	unsigned posted_send;
	struct hnvmf_list wr_waiters;

	struct rdma_req *reqs;
	unsigned nreqs;
	unsigned nbusy;
	struct rdma_req *free_reqs;

	struct hnvmf_timer timer;     /* flush wait after a disconnect */
	struct hnvmf_msg setup_msg;
	struct hnvmf_msg destroy_msg;
	bool quiesced;
	bool destroy_queued;
	bool wrs_abandoned;           /* flush timeout: posted WRs forgotten, late completions ignored */
	struct hnvmf_list link;       /* rt->conns */
	struct rdma_conn_stats stats;
};

struct rdma_transport {
	struct hnvmf_transport_env env;
	struct rdma_reactor *rts;
	unsigned next_rt;             /* round robin, touched on reactors[0] only */
	atomic_uint nconns;           /* every connection not yet destroyed */
	atomic_bool shutting_down;
	struct hnvmf_list listeners;  /* main thread (and reactors[0] by call_sync) */
	pthread_mutex_t dev_lock;     /* devices: found or opened from any reactor */
	struct rdma_device *devices;
	uint32_t io_icd_limit;        /* in-capsule data accepted on I/O queues */
	uint32_t capsule_size;        /* receive buffer: 64 + max(admin, I/O in-capsule data) */
	uint32_t mdts;                /* bytes; 0: no limit advertised */
	uint32_t buf_large;           /* the largest pool object: max(MDTS, RDMA_BUF_MEDIUM) */
	unsigned io_depth;            /* queue_depth */
	unsigned max_qid;             /* max_io_queues */
};

extern struct rdma_transport rdma_g;
extern const struct hnvmf_sq_ops rdma_sq_ops;

/* rdma-group.c */
struct rdma_device *rdma_device_get(struct ibv_context *ctx);
void rdma_devices_fini(void);
/* The group of rt for dev, made on first use. Reactor thread. */
struct rdma_group *rdma_group_get(struct rdma_reactor *rt, struct rdma_device *dev);
void rdma_group_free(struct rdma_group *g);
/* A data buffer of len bytes from the group's pools, or NULL when the pool is dry. */
struct rdma_slab_obj *rdma_group_buf_get(struct rdma_group *g, uint32_t len);
void rdma_group_kick_waiters(struct rdma_group *g);

/* rdma-conn.c */
/* CONNECT_REQUEST on reactors[0]: validate, pick a reactor, hand over or reject. */
void rdma_conn_request(struct rdma_listener *l, struct rdma_cm_event *ev);
void rdma_conn_cm_event(struct rdma_conn *c, struct rdma_cm_event *ev);
void rdma_conn_close(struct rdma_conn *c, const char *why);
void rdma_conn_drain(struct rdma_conn *c);
void rdma_conn_check_idle(struct rdma_conn *c);
/* Puts a receive buffer back on the QP; false (and the connection closing) on failure. */
bool rdma_conn_post_recv(struct rdma_conn *c, struct rdma_slab_obj *capsule);

/* rdma-cq.c */
int rdma_cq_open(struct rdma_conn *c, int entries); /* on c's reactor, before the QP */
void rdma_cq_close(struct rdma_conn *c);            /* after the QP is destroyed */
int rdma_cq_attach(struct rdma_conn *c);            /* on c->rt: fd on its loop, polled */
void rdma_cq_detach(struct rdma_conn *c);           /* off c->rt's loop and active list */
void rdma_cq_kick(struct rdma_conn *c);             /* polled at the next loop turn */
int rdma_reactor_poll(struct hnvmf_poller *p);

/* rdma-move.c */
void rdma_sq_move(struct hnvmf_sq *sq, struct hnvmf_reactor *to); /* hnvmf_sq_ops.move */
extern const struct hnvmf_conn_move_ops rdma_move_ops;

/* rdma-req.c */
void rdma_req_recv(struct rdma_conn *c, struct rdma_slab_obj *capsule, const struct ibv_wc *wc);
void rdma_req_wr_done(struct rdma_req *t, const struct ibv_wc *wc);
void rdma_req_continue(struct rdma_req *t); /* a waiting request retries (buffer or WR room) */
void rdma_req_abort_waiting(struct rdma_conn *c); /* connection closing */
void rdma_req_abandon_wrs(struct rdma_conn *c);   /* flush never came: forget posted WRs */
void rdma_req_set_state(struct rdma_req *t, enum rdma_req_state to);
bool rdma_req_state_allowed(enum rdma_req_state from, enum rdma_req_state to);
void rdma_queue_response(struct hnvmf_req *req);
void rdma_conn_kick_wr_waiters(struct rdma_conn *c);

#endif
