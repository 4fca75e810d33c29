/* The seam between target/ and core/: target hands one I/O to core through hnvmf_chan_submit and
 * gets exactly one callback, io->done, on the submitting reactor's thread, after the backend
 * completed the I/O (never before: the host's CQE is built in done).
 *
 * A channel is one I/O queue's path to one namespace backend. Its mode picks the engine:
 *   DIRECT   the reactor submits to a backend queue pair it owns and polls it (no other thread);
 *   PQM      Parallel Queue Mode: lock-free device subqueues served by the adaptive I/O server pool;
 *   DAM      Direct Access Mode: a dedicated backend queue pair per queue, submitted and reaped by
 *            the DAM reactor the queue moved to (run to completion, as DIRECT); a queue whose
 *            transport cannot move (RDMA) gets a dedicated polling I/O server instead;
 *   BASELINE the conventional design: one shared locked adapter queue per backend and one shared
 *            backend queue pair of the device's depth, for comparison only. */
#ifndef HNVMF_IO_H
#define HNVMF_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "core/backend/backend.h"
#include "core/reactor.h"

enum hnvmf_path_mode {
	HNVMF_PATH_DIRECT,
	HNVMF_PATH_PQM,
	HNVMF_PATH_DAM,
	HNVMF_PATH_BASELINE,
};
const char *hnvmf_path_mode_name(enum hnvmf_path_mode m);

struct hnvmf_chan;

struct hnvmf_io {
	struct hnvmf_bio bio;
	void (*done)(struct hnvmf_io *io); /* on the submitting reactor's thread; bio.result set */
	/* Below: owned by core while the io is in flight. */
	struct hnvmf_chan *chan;
	uint64_t t_submit_ns;
	uint64_t t_arrive_ns; /* hnvmf_chan_submit's time, on the paths through I/O servers: the
			       * start of the response time W that PQM's model predicts */
	struct hnvmf_msg msg; /* completion hand-off to the reactor from another thread */
	struct hnvmf_io *next;
	/* Thread hand-offs the io took, counted as they happen: 0 when the submitting reactor
	 * also reaped it (direct, DAM on its reactor), 2 through an I/O server (there and back). */
	uint8_t hops;
};

struct hnvmf_engine;

#define HNVMF_MAX_SERVER_CPUS 64

struct hnvmf_engine_opts {
	unsigned pqm_cmax;        /* most I/O servers in the PQM pool */
	unsigned pqm_epoch_ms;    /* re-sizing epoch */
	unsigned subqueue_depth;  /* entries per device subqueue */
	unsigned backend_depth;   /* per backend queue pair */
	int server_cpus[HNVMF_MAX_SERVER_CPUS]; /* CPUs for the I/O server threads of every path */
	unsigned nserver_cpus;    /* 0: unpinned */
	unsigned baseline_servers; /* baseline adapter-queue threads; 0 = pqm_cmax */
	unsigned baseline_depth;   /* the baseline's shared backend queue pair; 0 = backend_depth */
	unsigned idle_spin_us;     /* a PQM server polls up to this long after its last work
				    * (only while such spins pay: core/spin.h), then sleeps
				    * until a push or a completion (0: at once) */
	bool pqm_fifo;             /* PQM servers take ios in arrival order: no per-tenant
				    * scheduling, limits or reservations ([pqm] fair = no) */
	/* DAM (docs/dam.md): CPUs reserved for DAM's servers (hnvmf_engine_reserve_dam_cpus keeps
	 * every other thread off them); capacity = ndam_cpus x dam_queues_per_cpu units, or with
	 * no dam_cpus dam_max_queues (0 = unlimited). */
	int dam_cpus[HNVMF_MAX_SERVER_CPUS];
	unsigned ndam_cpus;
	unsigned dam_queues_per_cpu; /* 0 is read as 1 */
	unsigned dam_max_queues;
	/* A DAM queue's queue pairs on a DAM reactor: polled completions (io_uring IOPOLL) never,
	 * where the backend can poll (auto), or required (yes: a queue pair that cannot poll is
	 * not opened). Zeroed opts: no. */
	enum hnvmf_poll_mode dam_poll;
};

/* DAM reactors (docs/dam.md): the reactors the daemon made for DAM (one per dam_cpus CPU,
 * pinned there). A queue granted DAM moves onto the one of its unit; a DAM channel opened
 * from a DAM reactor runs to completion there. Before the first channel opens. */
void hnvmf_engine_set_dam_reactors(struct hnvmf_engine *e, struct hnvmf_reactor *const *r, unsigned n);
/* The DAM reactor a queue holding unit runs on, or NULL when there is none. Any thread. */
struct hnvmf_reactor *hnvmf_dam_reactor(struct hnvmf_engine *e, int unit);

int hnvmf_engine_create(const struct hnvmf_engine_opts *o, struct hnvmf_engine **out);
/* Stops the I/O servers; every channel must be closed. */
void hnvmf_engine_destroy(struct hnvmf_engine *e);
/* Once no channel uses be (hnvmf_backend_users is 0): the engine closes what it kept open to be
 * for later channels (the PQM servers' queue pairs, the baseline adapter and its servers), so be
 * can be closed. Returns when it has. Not from a reactor or I/O server. */
void hnvmf_engine_forget_backend(struct hnvmf_engine *e, struct hnvmf_backend *be);

/* Removes opts.dam_cpus from the calling thread's CPU mask. Every thread it creates afterwards
 * inherits that mask (reactors, PQM and baseline servers, workers, and any thread a library
 * starts, such as io_uring workers), so call it in the main thread before any other starts; only DAM's
 * servers pin themselves onto a reserved CPU. Returns 0, or -EINVAL (with why) when no CPU
 * would be left for the rest. Nothing to do without dam_cpus. */
int hnvmf_engine_reserve_dam_cpus(struct hnvmf_engine *e, char *why, size_t len);

/* DAM admission by capacity. A unit is a slot on a reserved CPU that one I/O queue holds while
 * it is granted DAM; the DAM servers of its channels run on that CPU. Any thread. */
int hnvmf_dam_unit_get(struct hnvmf_engine *e); /* the unit (>= 0), or -ENOSPC: none left */
void hnvmf_dam_unit_put(struct hnvmf_engine *e, int unit);
struct hnvmf_dam_usage {
	unsigned capacity;  /* units; 0 = unlimited */
	unsigned used;      /* units held now */
	uint64_t unit_iops; /* most completions/s one DAM queue sustained while busy (its server
			     * awake, or its queue pair on a DAM reactor with ios in flight); 0 = not
			     * measured yet (measured every 4096 ios on a DAM reactor, and when a DAM
			     * channel closes) */
	unsigned polled_queues; /* DAM queue pairs open now with polled completions (IOPOLL) */
	uint64_t polled_ios;    /* completions found by polling on them, since start */
};
struct hnvmf_dam_usage hnvmf_dam_usage(struct hnvmf_engine *e);

/* A tenant's share of the PQM servers (docs/pqm.md): its weight in the servers' deficit round
 * robin, limits (token buckets shared by all of its queues; 0 = none) and the rate reserved for
 * it. */
struct hnvmf_tenant_qos {
	unsigned weight; /* >= 1; 0 is read as 1 */
	uint64_t max_iops;
	uint64_t max_read_bps, max_write_bps, max_bps; /* bytes per second */
	uint64_t reserved_iops;
};

struct hnvmf_chan_opts {
	enum hnvmf_path_mode mode;
	const char *tenant; /* host NQN, for statistics; may be NULL */
	/* The host's tenant file's share, applied to the engine's tenant of that name. NULL: the
	 * host has no tenant file and shares the default tenant (weight 1, no limits). */
	const struct hnvmf_tenant_qos *qos;
	int dam_unit; /* DAM: the queue's unit (hnvmf_dam_unit_get); its CPU runs the server */
};

/* Sets a tenant's share (a reload): its channels, open or not, use it from their next io. */
int hnvmf_engine_set_tenant_qos(struct hnvmf_engine *e, const char *tenant, const struct hnvmf_tenant_qos *q);

/* Calls fn for each of the engine's tenants ("" is the default one) with the number of its ios
 * that a limit held back at least once (a scheduler decision, counted once per io). */
void hnvmf_engine_each_tenant(struct hnvmf_engine *e,
			      void (*fn)(void *arg, const char *tenant, uint64_t throttled), void *arg);

/* Opens a channel for I/O submitted from reactor r (which must be the caller's reactor when
 * the channel is used). Returns 0 or -errno. */
int hnvmf_chan_open(struct hnvmf_engine *e, struct hnvmf_reactor *r, struct hnvmf_backend *be,
		    const struct hnvmf_chan_opts *o, struct hnvmf_chan **out);
/* Never completes the io inside the call: done always runs later, from the reactor loop. */
void hnvmf_chan_submit(struct hnvmf_chan *ch, struct hnvmf_io *io);
/* The caller guarantees no io is in flight on ch (every done has run) - except on a DAM
 * channel, whose close drains its dedicated queue pair: ios in flight there still complete
 * through their done callbacks (on a DAM reactor inside the close, through a dedicated server
 * after it), used when a DAM grant is revoked. */
void hnvmf_chan_close(struct hnvmf_chan *ch);
enum hnvmf_path_mode hnvmf_chan_mode(const struct hnvmf_chan *ch);

#endif
