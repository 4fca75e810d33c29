/* I/O servers: threads that serve a device subqueue. PQM runs a pool of them (core/path-pqm.c);
 * DAM gives each admitted I/O queue one of its own (core/path-dam.c).
 *
 * A server owns its subqueue's consumer side (a lock-free MPSC ring: reactors push, the server
 * pops) and its own backend queue pairs (one per backend it has seen): nothing on its path is
 * shared with another server. It submits what it pops, reaps completions and hands each io back to
 * the submitting reactor's inbox. With nothing to do (its subqueue empty, whatever the device still
 * holds) it polls for spin_us, then sleeps in poll() on an eventfd that a pusher writes only when
 * the server announced it sleeps, and on the fd of each backend queue pair holding its ios
 * (hnvmf_bqp_arm: the io_uring's CQ eventfd, an RBD image's completion eventfd): a server waiting
 * for the device costs no CPU, whatever the backend. */
#ifndef HNVMF_IOSERVER_H
#define HNVMF_IOSERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/io.h"

struct hnvmf_ioserver;

struct hnvmf_ioserver_opts {
	const char *name;
	unsigned subqueue_depth; /* ring capacity, rounded up to a power of two */
	unsigned backend_depth;  /* per backend queue pair */
	unsigned spin_us;        /* poll up to this long after the last work before sleeping, while
				  * such spins pay (core/spin.h); 0: sleep at once */
	int cpu;                 /* pin, or -1 */
};

/* Counters, written by the server thread only; read by anyone (relaxed snapshots). */
struct hnvmf_ioserver_stats {
	_Atomic uint64_t popped;      /* ios taken from the subqueue */
	_Atomic uint64_t completed;   /* ios handed back to their reactors */
	_Atomic uint64_t busy_ns;     /* time with work in hand (service time, for mu) */
	_Atomic uint64_t service_ns;  /* sum over ios of completion - pop */
	_Atomic uint64_t response_ns; /* sum over ios of completion - arrival (the measured W) */
	_Atomic uint64_t sleeps;      /* times it went to sleep */
};

int hnvmf_ioserver_start(const struct hnvmf_ioserver_opts *o, struct hnvmf_ioserver **out);
/* Any thread. false when the subqueue is full (the caller retries later). */
bool hnvmf_ioserver_push(struct hnvmf_ioserver *s, struct hnvmf_io *io);
struct hnvmf_tq;
/* Any thread: io into the server's queue of one tenant (core/sched.h), served in DRR order among
 * the tenants. false when that queue is full. */
bool hnvmf_ioserver_push_tenant(struct hnvmf_ioserver *s, struct hnvmf_tq *tq, struct hnvmf_io *io);
/* Any thread, once no io for be is pushed to s or in flight there: the server closes the queue
 * pair it opened to be (if any) on its own thread. Returns when it has. */
void hnvmf_ioserver_forget(struct hnvmf_ioserver *s, struct hnvmf_backend *be);
/* Finishes everything pushed so far, then joins the thread and frees the server. */
void hnvmf_ioserver_stop(struct hnvmf_ioserver *s);
const struct hnvmf_ioserver_stats *hnvmf_ioserver_stats(const struct hnvmf_ioserver *s);
/* Items waiting in the subqueue plus ios at the device (a snapshot). */
unsigned hnvmf_ioserver_load(struct hnvmf_ioserver *s);
bool hnvmf_ioserver_idle(struct hnvmf_ioserver *s);

#endif
