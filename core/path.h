/* core/ internal: how a channel mode plugs into hnvmf_chan (core/chan.c). Each engine (direct,
 * PQM, DAM, baseline) provides one hnvmf_path_ops; hnvmf_chan_open picks it by mode. */
#ifndef HNVMF_PATH_H
#define HNVMF_PATH_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/io.h"

struct hnvmf_chan {
	enum hnvmf_path_mode mode;
	const struct hnvmf_path_ops *ops;
	struct hnvmf_engine *eng;
	struct hnvmf_reactor *reactor; /* where io->done runs */
	struct hnvmf_backend *be;
	char tenant[224];
	struct hnvmf_tenant *sched_tenant; /* whose share it draws on (core/qos.c) */
	void *priv; /* the path's own state */
	int dam_unit; /* DAM: the unit whose CPU runs the channel's server */
	bool remote;  /* ios are handed to another thread (set by the path's open) */
	_Atomic uint64_t arrivals; /* ios submitted; written by the channel's reactor only */
	/* ios ops->push had no room for (a full backend queue pair or subqueue), in FIFO order: an
	 * io never overtakes one that waits. wait_poller, on the reactor only while ios wait,
	 * pushes them again. */
	struct hnvmf_io *wait_head, *wait_tail;
	struct hnvmf_poller wait_poller;
	bool wait_poller_on;
};

struct hnvmf_path_ops {
	const char *name; /* hnvmf_path_mode_name */
	int (*open)(struct hnvmf_chan *ch);
	/* Takes io, or returns false when there is no room now: then io waits in the channel and
	 * is pushed again later. Must not call io->done before returning. */
	bool (*push)(struct hnvmf_chan *ch, struct hnvmf_io *io);
	void (*close)(struct hnvmf_chan *ch);
};

/* The engine: shared state of the non-direct paths (PQM pool, baseline adapter queue). */
struct hnvmf_engine {
	struct hnvmf_engine_opts opts;
	atomic_uint next_cpu; /* round robin over opts.server_cpus for servers made on demand */
	void *pqm;      /* core/path-pqm.c */
	void *baseline; /* core/path-baseline.c */
	/* DAM units (core/path-dam.c): taken[u] for u < capacity; used counts them (and the
	 * grants when the capacity is unlimited) */
	pthread_mutex_t dam_lock;
	bool *dam_taken;
	unsigned dam_capacity, dam_used;
	_Atomic uint64_t dam_unit_iops;
	atomic_uint dam_polled_qps;      /* DAM queue pairs open now with IOPOLL */
	_Atomic uint64_t dam_polled_ios; /* their completions found by polling, since start */
	struct hnvmf_reactor *dam_reactors[HNVMF_MAX_SERVER_CPUS]; /* hnvmf_engine_set_dam_reactors */
	unsigned ndam_reactors;
	atomic_uint dam_next; /* round robin over them when units are not numbered (no capacity) */
	pthread_mutex_t tenants_lock; /* the list below, not the tenants' own state (core/qos.c) */
	struct hnvmf_tenant *tenants;
	unsigned ntenants;
};

/* The paths' operations, one file each (core/path-<name>.c); core/chan.c lists them by mode. */
#define HNVMF_PATH_OPS_DECLARE(name)                                                                   \
	int hnvmf_##name##_open(struct hnvmf_chan *ch);                                                \
	bool hnvmf_##name##_push(struct hnvmf_chan *ch, struct hnvmf_io *io);                          \
	void hnvmf_##name##_close(struct hnvmf_chan *ch)
HNVMF_PATH_OPS_DECLARE(direct);
HNVMF_PATH_OPS_DECLARE(pqm);
HNVMF_PATH_OPS_DECLARE(dam);
HNVMF_PATH_OPS_DECLARE(baseline);

/* Engine-wide teardown of the shared paths (each tolerates never having been started). */
void hnvmf_baseline_engine_stop(struct hnvmf_engine *e);
void hnvmf_pqm_engine_stop(struct hnvmf_engine *e);
/* hnvmf_engine_forget_backend's part in each path. */
void hnvmf_pqm_forget(struct hnvmf_engine *e, struct hnvmf_backend *be);
void hnvmf_baseline_forget(struct hnvmf_engine *e, struct hnvmf_backend *be);
/* DAM's units, at engine create / destroy. */
int hnvmf_dam_engine_init(struct hnvmf_engine *e);
void hnvmf_dam_engine_fini(struct hnvmf_engine *e);

/* The CPU the next I/O server made on demand (DAM, baseline) is pinned to: opts.server_cpus
 * round robin, or -1. */
int hnvmf_engine_server_cpu(struct hnvmf_engine *e);
/* The CPU of the i-th server of a fixed set (the PQM pool: server i on the i-th CPU), or -1. */
int hnvmf_engine_server_cpu_at(const struct hnvmf_engine *e, unsigned i);

/* The direct path's queue pair and poller also serve DAM on a DAM reactor (core/path-dam.c).
 * Drain: polls until every io pushed (and every waiting one) has completed through io->done. */
void hnvmf_direct_drain(struct hnvmf_chan *ch);
/* hnvmf_direct_open for DAM: its queue pair polled as poll says (-EOPNOTSUPP and why when yes
 * and the backend cannot), and measure: its rate while busy goes to hnvmf_dam_measured. */
int hnvmf_direct_open_dam(struct hnvmf_chan *ch, enum hnvmf_poll_mode poll, bool measure, char *why,
			  size_t len);
/* A DAM queue's measurement: done ios completed in busy_ns of time with ios in flight. The best
 * rate seen is what one unit sustains (hnvmf_dam_usage.unit_iops). Any thread. */
void hnvmf_dam_measured(struct hnvmf_engine *e, uint64_t done, uint64_t busy_ns);

/* Pushes the channel's waiting ios in order until ops->push refuses one; returns how many it
 * pushed. The channel's own wait poller calls it; a path's close may too, to drain. */
unsigned hnvmf_chan_push_waiting(struct hnvmf_chan *ch);

/* Hands a completed io back to its channel's reactor from any thread: io->done runs there. */
void hnvmf_io_complete_remote(struct hnvmf_io *io);

#endif
