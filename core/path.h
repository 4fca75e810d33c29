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

/* Hands a completed io back to its channel's reactor from any thread: io->done runs there. */
void hnvmf_io_complete_remote(struct hnvmf_io *io);

#endif
