/* core/ internal: how a channel mode plugs into hnvmf_chan (core/chan.c). Each engine (direct,
 * PQM, DAM, baseline) provides one hnvmf_path_ops; hnvmf_chan_open picks it by mode. */
#ifndef HNVMF_PATH_H
#define HNVMF_PATH_H

#include <stdatomic.h>

#include "core/io.h"

struct hnvmf_chan {
	enum hnvmf_path_mode mode;
	const struct hnvmf_path_ops *ops;
	struct hnvmf_engine *eng;
	struct hnvmf_reactor *reactor; /* where io->done runs */
	struct hnvmf_backend *be;
	char tenant[224];
	void *priv; /* the path's own state */
};

struct hnvmf_path_ops {
	const char *name;
	int (*open)(struct hnvmf_chan *ch);
	/* Must not call io->done before returning. */
	void (*submit)(struct hnvmf_chan *ch, struct hnvmf_io *io);
	void (*close)(struct hnvmf_chan *ch);
};

/* The engine: shared state of the non-direct paths (PQM pool, baseline adapter queue). */
struct hnvmf_engine {
	struct hnvmf_engine_opts opts;
	atomic_uint next_cpu; /* round robin over opts.server_cpus for servers made on demand */
	void *pqm;      /* core/path-pqm.c */
	void *baseline; /* core/path-baseline.c */
};

extern const struct hnvmf_path_ops hnvmf_path_direct;

/* Engine-wide teardown of the shared paths (each tolerates never having been started). */
void hnvmf_baseline_engine_stop(struct hnvmf_engine *e);
void hnvmf_pqm_engine_stop(struct hnvmf_engine *e);

/* The CPU the next I/O server made on demand (DAM, baseline) is pinned to: opts.server_cpus
 * round robin, or -1. */
int hnvmf_engine_server_cpu(struct hnvmf_engine *e);
/* The CPU of the i-th server of a fixed set (the PQM pool: server i on the i-th CPU), or -1. */
int hnvmf_engine_server_cpu_at(const struct hnvmf_engine *e, unsigned i);

/* The ios of one channel that found no room (a full backend queue pair or subqueue), in FIFO
 * order: an io never overtakes one that waits. push hands one io on and returns false when there
 * is still no room. The waiting ios are pushed again from a poller on the channel's reactor:
 * the waitq's own, added only while ios wait, when init is given that reactor; else (NULL) the
 * owner's poller, which runs anyway, calls hnvmf_waitq_retry. Reactor thread only. */
struct hnvmf_waitq {
	struct hnvmf_io *head, *tail;
	bool (*push)(struct hnvmf_waitq *w, struct hnvmf_io *io);
	struct hnvmf_reactor *reactor; /* where the own poller runs, or NULL */
	struct hnvmf_poller poller;
	bool poller_on;
};

void hnvmf_waitq_init(struct hnvmf_waitq *w, bool (*push)(struct hnvmf_waitq *w, struct hnvmf_io *io),
		      struct hnvmf_reactor *own_poller);
/* Pushes io at once unless others wait or push refuses it; then it waits. */
void hnvmf_waitq_submit(struct hnvmf_waitq *w, struct hnvmf_io *io);
/* Pushes the waiting ios in order until push refuses one; returns how many were pushed. */
unsigned hnvmf_waitq_retry(struct hnvmf_waitq *w);
static inline bool hnvmf_waitq_empty(const struct hnvmf_waitq *w) { return !w->head; }
/* Removes the own poller; ios still waiting stay for the owner to drain. */
void hnvmf_waitq_stop(struct hnvmf_waitq *w);

/* Hands a completed io back to its channel's reactor from any thread: io->done runs there. */
void hnvmf_io_complete_remote(struct hnvmf_io *io);

#endif
