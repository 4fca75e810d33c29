/* DAM, Direct Access Mode: each channel of an admitted tenant gets its own backend queue pair (for
 * io_uring backends: its own ring); no queue, lock or thread is shared with another tenant's
 * path, so a noisy neighbour cannot delay it.
 *
 * Run to completion: a granted queue's connection moves onto the DAM reactor of its unit (the
 * transport does the move, target/tenant.c asks for it), and a channel opened there is served
 * as the direct path serves one (core/path-direct.c): that reactor submits, reaps in a poller
 * and completes, with no second thread and no ring between threads. It polls on while
 * completions come and while a polled queue pair ([pqm] dam_poll: io_uring IOPOLL) has ios in
 * flight, and sleeps after [pqm] dam_idle_spin_us without work (an ordinary ring's completion
 * wakes it through its eventfd).
 *
 * A queue whose connection could not move (an RDMA CM id that would not migrate) stays on its
 * shared reactor; its channels get a dedicated I/O server each (core/ioserver.c) on the unit's CPU, which polls for
 * DAM_SPIN_US after its last work, then sleeps: two thread hand-offs per io.
 *
 * Admission by capacity: a granted queue holds one unit, a slot on a CPU reserved for DAM
 * (opts.dam_cpus), where its DAM reactor (or its servers) run; every other thread of the daemon
 * is kept off those CPUs (hnvmf_engine_reserve_dam_cpus). docs/dam.md. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ioserver.h"
#include "core/log.h"
#include "core/path.h"

#define DAM_SPIN_US 200
#define DAM_MAX_UNITS 65536 /* with dam_max_queues: what the taken table may hold */

struct dam_chan {
	struct hnvmf_ioserver *server;
};

void hnvmf_engine_set_dam_reactors(struct hnvmf_engine *e, struct hnvmf_reactor *const *r, unsigned n)
{
	e->ndam_reactors = n < HNVMF_MAX_SERVER_CPUS ? n : HNVMF_MAX_SERVER_CPUS;
	for (unsigned i = 0; i < e->ndam_reactors; i++)
		e->dam_reactors[i] = r[i];
}

/* Unit u runs on DAM reactor u % n, which sits on dam_cpus[u % n] (unit_cpu). Without
 * numbered units (no capacity) queues are spread round robin. */
struct hnvmf_reactor *hnvmf_dam_reactor(struct hnvmf_engine *e, int unit)
{
	if (!e->ndam_reactors || unit < 0)
		return NULL;
	unsigned i = e->dam_capacity ? (unsigned)unit : atomic_fetch_add(&e->dam_next, 1);
	return e->dam_reactors[i % e->ndam_reactors];
}

static bool on_dam_reactor(const struct hnvmf_chan *ch)
{
	for (unsigned i = 0; i < ch->eng->ndam_reactors; i++)
		if (ch->eng->dam_reactors[i] == ch->reactor)
			return true;
	return false;
}

int hnvmf_dam_engine_init(struct hnvmf_engine *e)
{
	const struct hnvmf_engine_opts *o = &e->opts;
	unsigned per_cpu = o->dam_queues_per_cpu ? o->dam_queues_per_cpu : 1;
	unsigned ncpus = o->ndam_cpus < HNVMF_MAX_SERVER_CPUS ? o->ndam_cpus : HNVMF_MAX_SERVER_CPUS;
	e->dam_capacity = ncpus ? ncpus * per_cpu : o->dam_max_queues;
	if (e->dam_capacity > DAM_MAX_UNITS)
		e->dam_capacity = DAM_MAX_UNITS;
	if (e->dam_capacity) {
		e->dam_taken = calloc(e->dam_capacity, sizeof(*e->dam_taken));
		if (!e->dam_taken)
			return -ENOMEM;
	}
	pthread_mutex_init(&e->dam_lock, NULL);
	return 0;
}

void hnvmf_dam_engine_fini(struct hnvmf_engine *e)
{
	pthread_mutex_destroy(&e->dam_lock);
	free(e->dam_taken);
}

/* Units are numbered so that the lowest free one is on the least loaded CPU: unit u lives on
 * dam_cpus[u % ndam_cpus]. */
static int unit_cpu(const struct hnvmf_engine *e, int unit)
{
	unsigned n = e->opts.ndam_cpus < HNVMF_MAX_SERVER_CPUS ? e->opts.ndam_cpus : HNVMF_MAX_SERVER_CPUS;
	return n && unit >= 0 ? e->opts.dam_cpus[(unsigned)unit % n] : -1;
}

int hnvmf_dam_unit_get(struct hnvmf_engine *e)
{
	int unit = -ENOSPC;
	pthread_mutex_lock(&e->dam_lock);
	if (!e->dam_capacity) {
		unit = 0; /* unlimited: counted only */
		e->dam_used++;
	}
	for (unsigned u = 0; unit < 0 && u < e->dam_capacity; u++) {
		if (!e->dam_taken[u]) {
			e->dam_taken[u] = true;
			e->dam_used++;
			unit = (int)u;
		}
	}
	pthread_mutex_unlock(&e->dam_lock);
	return unit;
}

void hnvmf_dam_unit_put(struct hnvmf_engine *e, int unit)
{
	pthread_mutex_lock(&e->dam_lock);
	if (e->dam_capacity && unit >= 0 && (unsigned)unit < e->dam_capacity && e->dam_taken[unit]) {
		e->dam_taken[unit] = false;
		e->dam_used--;
	} else if (!e->dam_capacity && e->dam_used) {
		e->dam_used--;
	}
	pthread_mutex_unlock(&e->dam_lock);
}

struct hnvmf_dam_usage hnvmf_dam_usage(struct hnvmf_engine *e)
{
	pthread_mutex_lock(&e->dam_lock);
	struct hnvmf_dam_usage u = {.capacity = e->dam_capacity, .used = e->dam_used,
				    .unit_iops = atomic_load(&e->dam_unit_iops),
				    .polled_queues = atomic_load(&e->dam_polled_qps),
				    .polled_ios = atomic_load(&e->dam_polled_ios)};
	pthread_mutex_unlock(&e->dam_lock);
	return u;
}

int hnvmf_engine_reserve_dam_cpus(struct hnvmf_engine *e, char *why, size_t len)
{
	if (!e->opts.ndam_cpus)
		return 0;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		snprintf(why, len, "cannot read the CPU mask: %s", strerror(errno));
		return -EINVAL;
	}
	for (unsigned i = 0; i < e->opts.ndam_cpus && i < HNVMF_MAX_SERVER_CPUS; i++)
		CPU_CLR(e->opts.dam_cpus[i], &set);
	if (CPU_COUNT(&set) == 0) {
		snprintf(why, len, "dam_cpus leaves no CPU of this process's mask for the other threads");
		return -EINVAL;
	}
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		snprintf(why, len, "cannot keep the daemon's threads off dam_cpus: %s", strerror(errno));
		return -EINVAL;
	}
	return 0;
}

bool hnvmf_dam_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	if (!ch->remote)
		return hnvmf_direct_push(ch, io);
	struct dam_chan *d = ch->priv;
	return hnvmf_ioserver_push(d->server, io);
}

/* Its own queue pair, reaped by this reactor, polled as [pqm] dam_poll says. dam_poll = yes on a
 * namespace whose backend cannot poll fails the open, and so the queue's I/O to it, with the
 * reason in the log: the operator asked for polling, and silently running without it would
 * hide that. */
static int open_on_reactor(struct hnvmf_chan *ch)
{
	char why[160] = "";
	int rc = hnvmf_direct_open_dam(ch, ch->eng->opts.dam_poll, true, why, sizeof(why));
	if (rc == -EOPNOTSUPP)
		log_ratelimited(HNVMF_LOG_ERR, "DAM: [pqm] dam_poll = yes, but %s: I/O to this namespace on a "
				"DAM queue fails (dam_poll = auto would not poll it)", why);
	return rc;
}

int hnvmf_dam_open(struct hnvmf_chan *ch)
{
	if (on_dam_reactor(ch))
		return open_on_reactor(ch);
	struct dam_chan *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* Without reserved CPUs DAM shares the machine: server_cpus, as the other paths. */
	int cpu = unit_cpu(ch->eng, ch->dam_unit);
	struct hnvmf_ioserver_opts o = {.name = "hnvmf-dam", .subqueue_depth = ch->eng->opts.subqueue_depth,
					.backend_depth = ch->eng->opts.backend_depth, .spin_us = DAM_SPIN_US,
					.cpu = cpu >= 0 ? cpu : hnvmf_engine_server_cpu(ch->eng)};
	int rc = hnvmf_ioserver_start(&o, &d->server);
	if (rc) {
		free(d);
		return rc;
	}
	ch->priv = d;
	return 0;
}

/* What one unit sustains: completions per second of busy time, kept as the best seen. Busy: a
 * dedicated server's time awake with work, or a DAM reactor queue pair's time with ios in flight
 * (core/path-direct.c). */
void hnvmf_dam_measured(struct hnvmf_engine *e, uint64_t done, uint64_t busy)
{
	if (!busy || !done)
		return;
	uint64_t iops = (uint64_t)((double)done * 1e9 / (double)busy);
	uint64_t best = atomic_load(&e->dam_unit_iops);
	while (iops > best && !atomic_compare_exchange_weak(&e->dam_unit_iops, &best, iops))
		;
}

static void measure_unit(struct hnvmf_engine *e, const struct hnvmf_ioserver_stats *st)
{
	hnvmf_dam_measured(e, atomic_load_explicit(&st->completed, memory_order_relaxed),
			   atomic_load_explicit(&st->busy_ns, memory_order_relaxed));
}

void hnvmf_dam_close(struct hnvmf_chan *ch)
{
	if (!ch->remote) {
		/* A grant revoked under load: every io pushed or waiting completes here first. */
		hnvmf_direct_drain(ch);
		hnvmf_direct_close(ch);
		return;
	}
	struct dam_chan *d = ch->priv;
	/* A grant revoked under load: what waits for room still goes to the server, which drains
	 * it before it stops; every io is answered. */
	while (ch->wait_head)
		if (!hnvmf_chan_push_waiting(ch))
			sched_yield();
	measure_unit(ch->eng, hnvmf_ioserver_stats(d->server));
	hnvmf_ioserver_stop(d->server);
	free(d);
}
