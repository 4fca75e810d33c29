/* target/ internal header: NVMe-oF semantics, transport-agnostic (nvmet's nvmet.h plays this part).
 *
 * Objects:
 *   hnvmf_tgt     the whole target: subsystems, ports, the engine, the controller table
 *   hnvmf_port    one listener (a transport, address, port) as the target sees it
 *   hnvmf_subsys  an NVM subsystem or the discovery subsystem
 *   hnvmf_ns      a namespace: a backend plus its identifiers
 *   hnvmf_ctrl    a controller: created by an admin-queue Connect, owns up to max_io_queues I/O queues
 *   hnvmf_sq      one queue (admin or I/O); embedded in the transport's connection object
 *   hnvmf_req     one command; embedded in the transport's request object
 *
 * A request's life (one owner at a time; the states are the transport's):
 *   1. the transport receives a command capsule, parses its SGL into req->sgl_len (or, when it
 *      refuses the descriptor, its status into req->sgl_status), calls hnvmf_req_init: the
 *      command is checked and its handler chosen; when it fails the request is already completed
 *      (queue_response was called) and the transport moves on;
 *   2. for a command with data from the host (req->dir == HNVMF_DIR_H2C) the transport fills
 *      req->iov with req->data_len bytes (in-capsule data or R2T/H2CData, RDMA READ ...); for
 *      C2H it provides a buffer of req->data_len bytes in req->iov;
 *   3. the transport calls hnvmf_req_execute; the handler runs, maybe hands an I/O to core/;
 *   4. exactly once, hnvmf_req_complete sets req->status (host-endian) and, on the queue's
 *      reactor thread, builds req->cqe for the wire (hnvmf_req_build_cqe: the only place where
 *      its fields become little-endian) and calls sq->ops->queue_response; for C2H the transport sends req->xfer_len bytes of req->iov then
 *      the CQE (or C2HData with SUCCESS).
 *
 * Threads: a queue lives on one reactor; everything about a request runs on that reactor. A
 * controller's queues may live on several reactors: what they share (the controller) is reached
 * under ctrl->lock or by atomics, and only on the control path (Connect, admin commands,
 * keep-alive), never per I/O. */
#ifndef HNVMF_NVMF_H
#define HNVMF_NVMF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "conf/conf.h"
#include "core/io.h"
#include "core/list.h"
#include "core/log.h"
#include "core/reactor.h"
#include "proto/nvme-cmd.h"

#define HNVMF_MAX_NSID 1024       /* namespaces per subsystem */
#define HNVMF_MAX_IO_QUEUES 128   /* per controller, upper bound of conf.max_io_queues */
#define HNVMF_REQ_MAX_IOV 4       /* a transport maps a request's data in at most this many pieces */
#define HNVMF_MAX_AER 4           /* Asynchronous Event Requests a controller holds (AERL + 1) */
#define HNVMF_ADMIN_QUEUE_DEPTH 32
#define HNVMF_MAX_ANA_GROUPS 32   /* ANA group IDs 1..this (ANAGRPMAX, NANAGRPID) */

struct hnvmf_req;
struct hnvmf_sq;
struct hnvmf_stats;
struct hnvmf_stats_rec;
struct hnvmf_sla;
struct hnvmf_host;
struct hnvmf_key_grace;

/* Asynchronous event results (CQE dword 0): type Notice (2), information, log page. */
#define HNVMF_AEN_NS_CHANGED 0x00040002u   /* Namespace Attribute Changed, log 04h */
#define HNVMF_AEN_DISC_CHANGED 0x0070f002u /* Discovery Log Page Change, log 70h */
#define HNVMF_AEN_ANA_CHANGED 0x000c0302u  /* Asymmetric Namespace Access Change, log 0Ch */
/* Its bit in Set Features Asynchronous Event Configuration (and in ctrl->aen_masked). */
#define HNVMF_AEC_ANA_CHANGE (1u << 11)

/* What the target needs from a queue's transport. Called on the queue's reactor thread. */
struct hnvmf_sq_ops {
	/* Send req's data (C2H, req->xfer_len bytes of req->iov) and its CQE (req->cqe). The request
	 * belongs to the transport again from here on. */
	void (*queue_response)(struct hnvmf_req *req);
	/* Tear the queue's connection down (keep-alive expiry, controller reset or deletion,
	 * shutdown). In-flight requests still complete; then the transport calls hnvmf_sq_destroy. */
	void (*disconnect)(struct hnvmf_sq *sq);
	/* Daemon stop (target/teardown.c), on the queue's reactor: read no new command, and close
	 * once the ones in flight are answered (then hnvmf_sq_destroy as after disconnect). A
	 * connection not yet past its transport's handshake closes at once. */
	void (*drain)(struct hnvmf_sq *sq);
	/* Optional (DAM, target/tenant.c): move the queue's connection to reactor to at its next
	 * point between commands where no command of it executes (what was received and not
	 * started moves with it; transport/conn-move.h). There the transport calls hnvmf_sq_move_out on the old reactor and
	 * hnvmf_sq_move_in on the new one. Without it the queue stays where it was accepted. */
	void (*move)(struct hnvmf_sq *sq, struct hnvmf_reactor *to);
	const char *name; /* "tcp", "rdma", for logs */
};

enum hnvmf_dir {
	HNVMF_DIR_NONE,
	HNVMF_DIR_H2C, /* host to controller: write, connect data, set features data ... */
	HNVMF_DIR_C2H, /* controller to host: read, identify, log pages ... */
};

struct hnvmf_req {
	union hnvmf_sqe *cmd;    /* the SQE, in the transport's receive buffer or the req's copy */
	struct hnvmf_cqe cqe;
	struct hnvmf_sq *sq;
	struct hnvmf_ns *ns;     /* for I/O commands */

	uint32_t sgl_len;        /* set by the transport from the command's SGL before req_init */
	uint16_t sgl_status;     /* set by the transport before req_init when it refuses the SGL */
	uint16_t status;         /* set by req_complete: the status field, host-endian, no phase */
	uint32_t data_len;       /* set by req_init: bytes the command transfers (== sgl_len) */
	uint32_t xfer_len;       /* set by the handler: bytes of C2H data actually returned */
	enum hnvmf_dir dir;
	struct iovec iov[HNVMF_REQ_MAX_IOV]; /* the data, provided by the transport */
	int iovcnt;
	/* Set by the transport after req_init: it sends C2H data only from iov, so a backend may
	 * point iov at memory of its own (HNVMF_BIO_IOV_REPLACEABLE); it frees its buffer by its
	 * own pointer. Not for data a NIC reads from registered memory. */
	bool iov_replaceable;

	void (*execute)(struct hnvmf_req *req);
	struct hnvmf_io io;      /* the I/O handed to core/ (read, write, flush ...) */
	/* Carries a completion from another thread to the queue's reactor: part of the request, so
	 * that completing never allocates and never fails (target/req.c). */
	struct hnvmf_msg done_msg;
	/* Statistics (target/stats.c): the queue's record for the command's namespace (NULL: not
	 * counted), the command's class and when hnvmf_req_init took it. */
	struct hnvmf_stats_rec *stats_rec;
	uint64_t t0_ns;
	uint8_t stats_op;
};

/* One NVMe queue. The transport embeds it in its connection and initialises it with
 * hnvmf_sq_init; qid and size are set by the Connect command. */
struct hnvmf_sq {
	struct hnvmf_tgt *tgt;
	struct hnvmf_port *port;
	struct hnvmf_reactor *reactor; /* where it runs now; changed under ctrl->lock (a move) */
	struct hnvmf_reactor *home;    /* the shared reactor that accepted it */
	const struct hnvmf_sq_ops *ops;
	struct hnvmf_ctrl *ctrl; /* NULL until Connect succeeded */
	uint16_t qid;
	uint16_t size;           /* entries (sqsize + 1) */
	uint16_t head;           /* for the CQE's SQ head pointer */
	bool sqfc_disabled;      /* Connect CATTR: SQ flow control disabled -> sq_head 0xFFFF */
	bool authenticated;      /* DH-HMAC-CHAP done on this queue, or TLS on its connection */
	bool tls;                /* the transport secured the connection with TLS (set by transport) */
	/* With tls: the host and subsystem NQNs of the PSK identity the host proved (the
	 * transport's storage, set with tls). Connect admits only that host (target/fabrics-cmd.c). */
	const char *tls_hostnqn, *tls_subnqn;
	atomic_uint inflight;    /* requests between req_init and queue_response */
	_Atomic uint64_t ncmds;  /* commands received; the keep-alive timer reads it as traffic */
	enum hnvmf_path_mode mode; /* engine path for this queue's I/O, chosen at Connect */
	const char *path_why;    /* why mode is not what the tenant asked for ("dam: no capacity"), or NULL */
	int dam_unit;            /* the DAM unit this I/O queue holds (target/tenant.c), or -1 */
	atomic_bool deleted;     /* an I/O queue deleted by a controller reset: commands fail */
	struct hnvmf_chan *chans[HNVMF_MAX_NSID + 1]; /* per namespace, opened on first use */
	/* Per namespace: requests of this queue that hold it (req->ns) and are not answered yet.
	 * Only this queue's reactor touches it: a namespace removed at run time closes the
	 * queue's channel to it, on that reactor, once it is 0 (target/reconfig.c). */
	uint16_t ns_busy[HNVMF_MAX_NSID + 1];
	/* Per namespace this queue used: its statistics record, written by this reactor only. */
	struct hnvmf_stats_rec *stats[HNVMF_MAX_NSID + 1];
	/* Read/Write/Write Zeroes/Flush completed, and the thread hand-offs they took (core's
	 * io->hops): written by the queue's reactor, read by hnvmfctl state. */
	_Atomic uint64_t io_done, io_hops;
	char peer[64];           /* "addr:port", for logs */
	void *auth;              /* DH-HMAC-CHAP exchange state (target/auth.c) */
};

struct hnvmf_port {
	struct hnvmf_conf_listener conf;
	struct hnvmf_tgt *tgt;
	uint16_t portid;         /* discovery log PORTID */
	void *transport_priv;    /* the listening socket etc. */
	/* One while tgt->ports lists it, one per queue made through it (hnvmf_sq_init until
	 * hnvmf_sq_destroy): a listener removed at run time is freed by the last of them. */
	atomic_uint refs;
	struct hnvmf_list link;
};

struct hnvmf_ns {
	uint32_t nsid;
	struct hnvmf_backend *be;
	uint64_t nlba;           /* blocks */
	uint8_t lba_shift;       /* log2(block size) */
	uint8_t nguid[16];
	uint8_t uuid[16];
	bool readonly;
	uint32_t anagrpid;       /* its ANA group, 1..HNVMF_MAX_ANA_GROUPS; fixed for its life */
	char backend_name[HNVMF_NAME_MAX];
};

struct hnvmf_subsys {
	char nqn[HNVMF_NQN_MAX];
	bool discovery;
	char serial[21];
	char model[41];
	bool allow_any_host;
	char (*hosts)[HNVMF_NQN_MAX];
	size_t nhosts;
	char (*listeners)[HNVMF_NAME_MAX]; /* empty: every I/O listener */
	size_t nlisteners;
	/* Namespaces: readers (I/O path) load pointers with acquire; writers (control path, under
	 * tgt->lock) publish with release. A namespace removed at run time is unpublished here,
	 * drained, and kept on tgt->retired until the target stops: a request of a controller
	 * already torn down may still hold it (target/reconfig.c). */
	_Atomic(struct hnvmf_ns *) ns[HNVMF_MAX_NSID + 1];
	uint32_t max_nsid;
	/* Asymmetric Namespace Access (target/ana.c): this gateway's state of each group (NVMe
	 * encoding), read per I/O with a relaxed load and written under tgt->lock; the log page's
	 * change counts, under tgt->lock. */
	_Atomic uint8_t ana_state[HNVMF_MAX_ANA_GROUPS + 1];
	uint64_t ana_chgcnt;
	uint64_t ana_grp_chgcnt[HNVMF_MAX_ANA_GROUPS + 1];
	bool removed;            /* left tgt->subsystems at run time: Connect refuses it (tgt->lock) */
	atomic_uint nctrls;      /* controllers pointing at it, live or being torn down */
	struct hnvmf_list link;
};

struct hnvmf_ctrl {
	uint16_t cntlid;
	struct hnvmf_tgt *tgt;
	struct hnvmf_subsys *subsys;
	char hostnqn[HNVMF_NQN_MAX];
	uint8_t hostid[16];
	atomic_int refs;         /* one per connected queue, plus the table's */
	pthread_mutex_t lock;    /* cc/csts, aer, io queue table, changed-ns list */
	uint32_t cc;
	uint32_t csts;
	uint32_t kato_ms;
	atomic_uint_fast64_t last_keepalive_ns;
	uint64_t ka_cmds_seen;   /* sum of the queues' ncmds at the last keep-alive check */
	struct hnvmf_timer ka_timer;   /* on the admin queue's reactor */
	struct hnvmf_sq *sqs[HNVMF_MAX_IO_QUEUES + 1]; /* [0] admin */
	uint16_t max_io_queues;  /* granted (Set Features Number of Queues / conf) */
	struct hnvmf_req *aer[HNVMF_MAX_AER];
	unsigned naer;
	uint32_t aen_masked;     /* AEN types already reported and not yet cleared by a log read */
	uint32_t aen_pending;    /* AEN types that happened while no request was outstanding */
	uint32_t changed_ns[1024];
	unsigned nchanged_ns;    /* 0xFFFFFFFF in [0] when the list overflowed */
	uint32_t aen_config;     /* Set Features Async Event Configuration */
	const struct hnvmf_conf_tenant *tenant; /* NULL: no tenant file for this host (or dead) */
	struct hnvmf_host *host; /* its host's per-host counts (host-limits.c), under tgt->lock */
	bool dead;               /* being torn down: refuse new I/O queues */
	bool resetting;          /* CC.EN 1 -> 0 or shutdown: waiting for the I/O queues to go */
	struct hnvmf_list link;
};

struct hnvmf_tgt {
	struct hnvmf_conf *conf;
	struct hnvmf_engine *engine;
	pthread_mutex_t lock;    /* subsystems, ports, controller table, tenants */
	struct hnvmf_list subsystems;
	struct hnvmf_subsys *discovery;
	struct hnvmf_list ports;
	struct hnvmf_list ctrls;
	uint16_t next_cntlid;
	atomic_uint genctr;      /* discovery log generation counter */
	/* The open backends and the configuration each was opened with (parallel arrays, replaced
	 * by a reconfiguration under lock). */
	struct hnvmf_backend **backends;
	struct hnvmf_conf_backend *bconf;
	size_t nbackends;
	/* What a run-time change took out of service but some thread may still reach: removed
	 * namespaces, backends I/O servers may keep a queue pair to (a removed listener goes with
	 * its last queue: hnvmf_port_put). Released when
	 * the target is destroyed (struct hnvmf_retired, target/reconfig.c). */
	struct hnvmf_list retired;
	struct hnvmf_conf_tenant *tenants; /* current tenants (replaced on SIGHUP) */
	size_t ntenants;
	struct hnvmf_list hosts;  /* struct hnvmf_host: per-host counts (host-limits.c) */
	struct hnvmf_auth_pool *auth_pool;   /* DH-HMAC-CHAP's DH off the reactors (auth-worker.h) */
	struct hnvmf_auth_limit *auth_limit; /* DH-HMAC-CHAP failure back-off (auth-limit.h) */
	struct hnvmf_stats *stats; /* I/O and control-path statistics (target/stats.h) */
	struct hnvmf_sla *sla;     /* per-tenant SLA epochs (target/sla.h) */
	uint64_t start_ns;         /* hnvmf_now_ns() at creation: the SMART log's power-on time */
	struct hnvmf_key_grace *graces; /* keys replaced by a reload, in their grace period (key-grace.h) */
	size_t ngraces;
	uint64_t dhchap_prev_used, tls_prev_used; /* authentications with a previous key (under lock) */
	uint64_t retired_closed;   /* retired backends closed at run time (under lock) */
	/* [gateway]: the gateway group's state of each ANA group (0: no gateway group, the file's
	 * ana_state lines rule). A subsystem added at run time takes these when it enters
	 * subsystems, under lock (hnvmf_ana_adopt_gateway). */
	uint8_t gw_ana[HNVMF_MAX_ANA_GROUPS + 1];
};

/* The journal's structured fields of a queue (core/log.h): host, subsystem, cntlid once
 * connected, qid. For log lines about a queue: hnvmf_log_f(lvl, sq_log_fields(sq), ...). */
static inline struct hnvmf_log_fields hnvmf_sq_log_fields(const struct hnvmf_sq *sq)
{
	const struct hnvmf_ctrl *c = sq->ctrl;
	return (struct hnvmf_log_fields){.hostnqn = c ? c->hostnqn : NULL, .subnqn = c ? c->subsys->nqn : NULL,
					 .cntlid = c ? c->cntlid : -1, .qid = c ? sq->qid : -1};
}
#define sq_log_fields(sq) ((struct hnvmf_log_fields[1]){hnvmf_sq_log_fields(sq)})
/* A controller's: host, subsystem, cntlid (no queue). */
#define ctrl_log_fields(c)                                                                         \
	(&(struct hnvmf_log_fields){.hostnqn = (c)->hostnqn, .subnqn = (c)->subsys->nqn, .cntlid = (c)->cntlid, .qid = -1})

/* ---- target lifecycle (tgt.c) ---- */
int hnvmf_tgt_create(struct hnvmf_conf *conf, struct hnvmf_engine *engine, struct hnvmf_tgt **out,
		     char *err, size_t errlen);
void hnvmf_tgt_destroy(struct hnvmf_tgt *tgt);
/* What run-time changes retired (tgt->retired): closed and freed (target/reconfig.c). */
void hnvmf_retired_release(struct hnvmf_tgt *tgt);
/* A safe point: the retired backends no channel uses any more (hnvmf_backend_users) and no
 * retired namespace points at are forgotten by the engine and closed. Not on a reactor; any
 * other thread. Returns how many it closed. */
unsigned hnvmf_retired_collect(struct hnvmf_tgt *tgt);
/* Retired backends still open (waiting for their last I/O), and closed so far at run time. */
unsigned hnvmf_retired_held(struct hnvmf_tgt *tgt);
/* hnvmfd --check: what the start refuses beyond the configuration's own checks, through the
 * same code (hnvmf_tgt_create opens its backends through it): every backend is opened, its
 * size checked against the file's or device's, and closed. Binds nothing. 0, or -errno with
 * "file:line: backend NAME: why" in err. */
int hnvmf_tgt_check(const struct hnvmf_conf *conf, char *err, size_t errlen);
/* Daemon stop, once every queue is gone and before the reactors stop: joins the DH-HMAC-CHAP
 * workers, whose results travel to the reactors as messages (target/auth-worker.h). */
void hnvmf_tgt_stop_auth(struct hnvmf_tgt *tgt);
struct hnvmf_subsys *hnvmf_tgt_find_subsys(struct hnvmf_tgt *tgt, const char *nqn);
struct hnvmf_port *hnvmf_tgt_add_port(struct hnvmf_tgt *tgt, const struct hnvmf_conf_listener *l);
/* A reference to p (NULL: nothing); the last hnvmf_port_put frees it. */
void hnvmf_port_get(struct hnvmf_port *p);
void hnvmf_port_put(struct hnvmf_port *p);
bool hnvmf_subsys_on_port(const struct hnvmf_subsys *s, const struct hnvmf_port *p);
bool hnvmf_host_allowed(struct hnvmf_tgt *tgt, const struct hnvmf_subsys *s, const char *hostnqn);
static inline struct hnvmf_ns *hnvmf_subsys_ns(struct hnvmf_subsys *s, uint32_t nsid)
{
	if (nsid == 0 || nsid > HNVMF_MAX_NSID)
		return NULL;
	return atomic_load_explicit(&s->ns[nsid], memory_order_acquire);
}
/* Builds a subsystem (not yet in the target) from its configuration; its namespaces' backends
 * are looked up by name in the target's (tgt->bconf/backends). 0, or -errno with err set. */
int hnvmf_subsys_build(struct hnvmf_tgt *tgt, const struct hnvmf_conf_subsys *cs, struct hnvmf_subsys **out,
		       char *err, size_t errlen);
void hnvmf_subsys_free(struct hnvmf_subsys *s);
/* A namespace of backend be with the configured identifiers; NULL when out of memory. */
struct hnvmf_ns *hnvmf_ns_new(const struct hnvmf_conf_ns *cn, struct hnvmf_backend *be);
/* The backend configured under name, or NULL. tgt->lock held or on the control path. */
struct hnvmf_backend *hnvmf_tgt_backend(struct hnvmf_tgt *tgt, const char *name);
/* Replaces the tenant set (SIGHUP) and returns the old array, which nothing references any more:
 * the caller frees it. Every reader of a tenant set holds tgt->lock, and each controller's tenant
 * is re-pointed here under it (dead controllers have none). Controllers the new set no longer
 * admits (tenant file removed, host no longer allowed, TLS now required) are torn down. */
void hnvmf_tgt_set_tenants(struct hnvmf_tgt *tgt, struct hnvmf_conf_tenant *t, size_t n,
			   struct hnvmf_conf_tenant **old, size_t *nold);
/* The TLS PSK configured for hostnqn in its tenant file, parsed (tenant-psk.c): the transport's one
 * question to the target during a TLS handshake. Returns 0 with *key filled (the caller wipes
 * it), -ENOKEY when the host has no PSK, -EINVAL when the configured one does not parse. */
struct hnvmf_key;
int hnvmf_tgt_tls_psk(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_key *key);
/* The PSK a reload replaced, while its grace period runs (docs/auth.md, "Key rotation"); the same
 * returns, -ENOKEY when there is none. A transport that accepted a host with it says so with
 * hnvmf_tgt_tls_psk_previous_used (logged, counted). */
int hnvmf_tgt_tls_psk_previous(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_key *key);
void hnvmf_tgt_tls_psk_previous_used(struct hnvmf_tgt *tgt, const char *hostnqn);

/* ---- queues and requests (req.c) ---- */
void hnvmf_sq_init(struct hnvmf_sq *sq, struct hnvmf_tgt *tgt, struct hnvmf_port *port,
		   struct hnvmf_reactor *r, const struct hnvmf_sq_ops *ops);
/* The transport starts tearing the queue down (peer gone, disconnect op, shutdown): requests the
 * target holds without a deadline (Asynchronous Event Requests) are completed now, so inflight
 * can reach 0. The transport calls it once, before it waits for inflight == 0. */
void hnvmf_sq_quiesce(struct hnvmf_sq *sq);
/* The transport's connection is gone and no request is in flight: release the queue. */
void hnvmf_sq_destroy(struct hnvmf_sq *sq);
/* A move between reactors (hnvmf_sq_ops.move): out on the old reactor once no command executes
 * (the channels, bound to that reactor, close: the next I/O opens them on the new one; the
 * DH-HMAC-CHAP timer is disarmed; sq->reactor becomes to, so calls for the queue go there from
 * then on), in on the new one (the timer is armed there). */
void hnvmf_sq_move_out(struct hnvmf_sq *sq, struct hnvmf_reactor *to); /* the last step on the old one */
void hnvmf_sq_move_in(struct hnvmf_sq *sq);
bool hnvmf_req_init(struct hnvmf_req *req, struct hnvmf_sq *sq, union hnvmf_sqe *cmd);
void hnvmf_req_execute(struct hnvmf_req *req);
void hnvmf_req_complete(struct hnvmf_req *req, uint16_t status);
/* target/req-data.c, shared with the unit tests' fake target so that it cannot drift. */
uint16_t hnvmf_req_check_data(struct hnvmf_req *req, uint16_t parsed);
void hnvmf_req_build_cqe(struct hnvmf_req *req, uint16_t sq_head);
/* Copies len bytes from buf into the request's C2H data iovecs (at most data_len); sets xfer_len. */
void hnvmf_req_copy_to(struct hnvmf_req *req, const void *buf, size_t len);
/* Copies up to len bytes of the request's H2C data into buf; returns the count copied. */
size_t hnvmf_req_copy_from(struct hnvmf_req *req, void *buf, size_t len);

/* ---- command sets: each parse function picks req->execute and sets data_len/dir, or returns
 * a status (non-zero) to fail the command at once. ---- */
uint16_t hnvmf_parse_fabrics_cmd(struct hnvmf_req *req);   /* fabrics-cmd.c */
uint16_t hnvmf_parse_connect_cmd(struct hnvmf_req *req);   /* fabrics-cmd.c */
uint16_t hnvmf_parse_admin_cmd(struct hnvmf_req *req);     /* admin-cmd.c */
uint16_t hnvmf_parse_discovery_cmd(struct hnvmf_req *req); /* discovery.c */
uint16_t hnvmf_parse_io_cmd(struct hnvmf_req *req);        /* io-cmd.c */
/* The NVMe status for a backend's result (0 or -errno) of a read (write false) or a write. */
uint16_t hnvmf_errno_to_status(int err, bool write);       /* io-cmd.c */

/* ---- controllers (ctrl.c) ---- */
uint16_t hnvmf_ctrl_create(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const char *hostnqn,
			   const uint8_t hostid[16], uint32_t kato_ms, struct hnvmf_ctrl **out);
struct hnvmf_ctrl *hnvmf_ctrl_find_get(struct hnvmf_tgt *tgt, const char *subnqn,
				       const char *hostnqn, uint16_t cntlid);
void hnvmf_ctrl_put(struct hnvmf_ctrl *ctrl);
/* Runs fn on each queue's own reactor (the queues filter accepts, all when NULL), later, for the
 * queues still connected then. Any thread. */
void hnvmf_ctrl_call_on_queues(struct hnvmf_ctrl *c, bool (*filter)(const struct hnvmf_sq *sq),
			       void (*fn)(struct hnvmf_sq *sq));
/* Disconnects every queue of the controller (keep-alive expiry, fatal error). */
void hnvmf_ctrl_fatal(struct hnvmf_ctrl *ctrl, const char *why);
void hnvmf_ctrl_fatal_locked(struct hnvmf_ctrl *ctrl, const char *why); /* tgt->lock held */
/* Connect: sq becomes queue qid of the controller, counted against its host's
 * max_queues_per_host. 0, or the status refusing the Connect. Detach undoes it (queue teardown,
 * refused Connect); it does nothing for a queue that is not the controller's. */
uint16_t hnvmf_ctrl_attach_sq(struct hnvmf_ctrl *ctrl, struct hnvmf_sq *sq, uint16_t qid);
void hnvmf_ctrl_detach_sq(struct hnvmf_ctrl *ctrl, struct hnvmf_sq *sq);

/* ---- per-host caps (host-limits.c), tgt->lock held ---- */
/* Counts a new controller of hostnqn (*out: its host's entry) or returns Connect Controller Busy
 * when the host holds max_controllers_per_host already. */
uint16_t hnvmf_host_add_ctrl(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_host **out);
void hnvmf_host_del_ctrl(struct hnvmf_host *h);
uint16_t hnvmf_host_add_queue(struct hnvmf_tgt *tgt, struct hnvmf_host *h);
void hnvmf_host_del_queue(struct hnvmf_host *h);
void hnvmf_ctrl_keepalive(struct hnvmf_ctrl *ctrl);
void hnvmf_ctrl_start_keepalive(struct hnvmf_ctrl *ctrl);
/* An I/O queue of the controller was destroyed (a reset may be complete now). */
void hnvmf_ctrl_io_queue_gone(struct hnvmf_ctrl *ctrl);
/* Queues an Asynchronous Event Request / raises an event (result dword 0). */
void hnvmf_ctrl_queue_aer(struct hnvmf_ctrl *ctrl, struct hnvmf_req *req);
void hnvmf_ctrl_raise_aen(struct hnvmf_ctrl *ctrl, uint32_t result, uint32_t changed_nsid);
/* Properties */
uint16_t hnvmf_ctrl_prop_get(struct hnvmf_ctrl *ctrl, uint32_t off, int size8, uint64_t *val);
uint16_t hnvmf_ctrl_prop_set(struct hnvmf_ctrl *ctrl, uint32_t off, int size8, uint64_t val);
uint64_t hnvmf_ctrl_cap(const struct hnvmf_ctrl *ctrl);

/* ---- Asymmetric Namespace Access (ana.c, docs/ana.md) ---- */
/* The status of an I/O command to ns through this gateway: 0 when its group is optimized or
 * non-optimized, else the path-related status (no DNR) that sends the host to another path. */
static inline uint16_t hnvmf_ana_io_status(struct hnvmf_subsys *s, const struct hnvmf_ns *ns)
{
	switch (atomic_load_explicit(&s->ana_state[ns->anagrpid], memory_order_relaxed)) {
	case NVME_ANA_STATE_INACCESSIBLE:
		return hnvmf_status(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE, 0);
	case NVME_ANA_STATE_PERSISTENT_LOSS:
		return hnvmf_status(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS, 0);
	case NVME_ANA_STATE_CHANGE:
		return hnvmf_status(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION, 0);
	default:
		return 0;
	}
}
/* Sets every group of s from the configuration (a group not given is optimized). */
void hnvmf_ana_init(struct hnvmf_subsys *s, const uint8_t conf_state[HNVMF_MAX_ANA_GROUPS + 1]);
/* Builds the ANA log page (LID 0Ch) of s into *out (allocated): a descriptor for each group
 * that has a namespace, with its NSIDs unless rgo (Return Groups Only). Returns its size, 0
 * (and *out NULL) when memory is short. tgt->lock held. */
size_t hnvmf_ana_log_build(const struct hnvmf_subsys *s, bool rgo, void **out);
/* Get Log Page 0Ch on an I/O controller: the log, and unless RAE the ANA Change event re-armed. */
void hnvmf_ana_get_log(struct hnvmf_req *req);
/* Changes this gateway's state of ANA group grpid (enum nvme_ana_state) in subsystem subnqn, or
 * in every I/O subsystem when subnqn is NULL, and raises the ANA Change event on every
 * controller of each subsystem whose state changed. Any thread but a reactor's (it takes
 * tgt->lock). Returns the number of subsystems changed (0: already so), -ENOENT when there is
 * no such subsystem, -EINVAL for a group or state out of range. */
int hnvmf_tgt_set_ana_state(struct hnvmf_tgt *tgt, const char *subnqn, uint32_t grpid, uint8_t state);
/* The gateway group's state of grpid (tgt->gw_ana) on every I/O subsystem, now and for those
 * added later, with the ANA Change event where it changed. Returns as hnvmf_tgt_set_ana_state. */
int hnvmf_tgt_set_gateway_ana(struct hnvmf_tgt *tgt, uint32_t grpid, uint8_t state);
/* tgt->lock held, s about to enter tgt->subsystems: its groups take the gateway group's states
 * (a subsystem built from the file starts with the file's states, optimized by default, which
 * a standby gateway must never report). */
void hnvmf_ana_adopt_gateway(const struct hnvmf_tgt *tgt, struct hnvmf_subsys *s);

/* ---- discovery (discovery.c) ---- */
/* Builds the discovery log page for hostnqn as seen through port into buf (allocates *buf). */
size_t hnvmf_discovery_log_build(struct hnvmf_tgt *tgt, const struct hnvmf_port *port,
				 const char *hostnqn, void **buf);

#endif
