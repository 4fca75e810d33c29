/* The transport ops table: what the daemon needs from a transport (SPDK's spdk_nvmf_transport_ops,
 * nvmet's nvmet_fabrics_ops). Nothing above transport/ knows sockets or verbs: target/ reaches a
 * queue's transport only through struct hnvmf_sq_ops (target/nvmf.h), and the daemon through this. */
#ifndef HNVMF_TRANSPORT_H
#define HNVMF_TRANSPORT_H

#include "core/strbuf.h"
#include "target/nvmf.h"
#include "target/teardown.h"

/* What every transport gets at start: the target and the reactors its connections may live on.
 * The last ndam_reactors of them are DAM reactors: no connection is accepted there, a queue
 * granted DAM moves there (hnvmf_sq_ops.move). */
struct hnvmf_transport_env {
	struct hnvmf_tgt *tgt;
	struct hnvmf_reactor **reactors;
	unsigned nreactors;
	unsigned ndam_reactors;
};

/* How many of env's reactors take new connections (the first ones). */
static inline unsigned hnvmf_transport_naccept(const struct hnvmf_transport_env *env)
{
	return env->nreactors - env->ndam_reactors;
}

/* r's index in env->reactors, or -1: a transport's per-reactor state is kept in that order. */
static inline int hnvmf_transport_reactor_index(const struct hnvmf_transport_env *env,
						const struct hnvmf_reactor *r)
{
	for (unsigned i = 0; i < env->nreactors; i++)
		if (env->reactors[i] == r)
			return (int)i;
	return -1;
}

struct hnvmf_transport_ops {
	const char *name;
	enum hnvmf_trtype trtype;
	/* Once, before the first listen. */
	int (*init)(const struct hnvmf_transport_env *env);
	/* Starts accepting on port (address and port in port->conf). 0 or -errno; logs why. */
	int (*listen)(struct hnvmf_port *port);
	void (*stop_listen)(struct hnvmf_port *port);
	/* Daemon stop: target/teardown.c stops the accepting through these and walks every
	 * reactor's connections with them, draining and closing each through its queue's ops,
	 * in its order (hnvmf_queues_teardown); then shutdown stops what still runs on the
	 * reactors for this transport (pollers, timers). */
	struct hnvmf_queue_teardown_ops queues;
	void (*shutdown)(void);
	/* Frees what init made; after shutdown. */
	void (*fini)(void);
	/* From any thread, after init: appends one line "<name> requests: <state> <count> ...
	 * bad_transitions <count>", the requests in each state but free (hnvmfctl stats). */
	void (*describe_requests)(struct hnvmf_strbuf *sb);
};

/* NULL when the transport is unknown or not built. */
const struct hnvmf_transport_ops *hnvmf_transport_get(enum hnvmf_trtype t);

extern const struct hnvmf_transport_ops hnvmf_tcp_transport;
extern const struct hnvmf_transport_ops hnvmf_rdma_transport;

#endif
