/* Channels: one I/O queue's path to one backend, in the mode its tenant was granted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/path.h"
#include "core/qos.h"

static const struct hnvmf_path_ops paths[] = {
	[HNVMF_PATH_DIRECT] = {"direct", hnvmf_direct_open, hnvmf_direct_push, hnvmf_direct_close},
	[HNVMF_PATH_PQM] = {"pqm", hnvmf_pqm_open, hnvmf_pqm_push, hnvmf_pqm_close},
	[HNVMF_PATH_DAM] = {"dam", hnvmf_dam_open, hnvmf_dam_push, hnvmf_dam_close},
	[HNVMF_PATH_BASELINE] = {"baseline", hnvmf_baseline_open, hnvmf_baseline_push, hnvmf_baseline_close},
};

static bool mode_known(enum hnvmf_path_mode m) { return (unsigned)m < sizeof(paths) / sizeof(paths[0]); }

const char *hnvmf_path_mode_name(enum hnvmf_path_mode m) { return mode_known(m) ? paths[m].name : "?"; }

int hnvmf_engine_create(const struct hnvmf_engine_opts *o, struct hnvmf_engine **out)
{
	struct hnvmf_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->opts = *o;
	pthread_mutex_init(&e->tenants_lock, NULL);
	if (!e->opts.backend_depth)
		e->opts.backend_depth = 256;
	if (hnvmf_dam_engine_init(e) != 0) {
		pthread_mutex_destroy(&e->tenants_lock);
		free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

int hnvmf_engine_server_cpu_at(const struct hnvmf_engine *e, unsigned i)
{
	unsigned n = e->opts.nserver_cpus < HNVMF_MAX_SERVER_CPUS ? e->opts.nserver_cpus : HNVMF_MAX_SERVER_CPUS;
	return n ? e->opts.server_cpus[i % n] : -1;
}

int hnvmf_engine_server_cpu(struct hnvmf_engine *e)
{
	return hnvmf_engine_server_cpu_at(e, atomic_fetch_add(&e->next_cpu, 1));
}

void hnvmf_engine_destroy(struct hnvmf_engine *e)
{
	if (!e)
		return;
	hnvmf_pqm_engine_stop(e);
	hnvmf_baseline_engine_stop(e);
	hnvmf_tenants_free(e);
	hnvmf_dam_engine_fini(e);
	pthread_mutex_destroy(&e->tenants_lock);
	free(e);
}

/* io->next is read before the push: once pushed, the io belongs to the path (an I/O server
 * thread may already have linked it into a list of its own, or the direct path into its list
 * of ios the backend refused). */
unsigned hnvmf_chan_push_waiting(struct hnvmf_chan *ch)
{
	unsigned n = 0;
	while (ch->wait_head) {
		struct hnvmf_io *io = ch->wait_head, *next = io->next;
		if (!ch->ops->push(ch, io))
			break;
		ch->wait_head = next;
		n++;
	}
	if (!ch->wait_head)
		ch->wait_tail = NULL;
	return n;
}

static int wait_poll(struct hnvmf_poller *p)
{
	struct hnvmf_chan *ch = container_of(p, struct hnvmf_chan, wait_poller);
	int work = (int)hnvmf_chan_push_waiting(ch);
	if (!ch->wait_head) {
		hnvmf_reactor_del_poller(ch->reactor, &ch->wait_poller);
		ch->wait_poller_on = false;
	}
	return work + 1;
}

int hnvmf_chan_open(struct hnvmf_engine *e, struct hnvmf_reactor *r, struct hnvmf_backend *be,
		    const struct hnvmf_chan_opts *o, struct hnvmf_chan **out)
{
	struct hnvmf_chan *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->ops = &paths[mode_known(o->mode) ? o->mode : HNVMF_PATH_DIRECT];
	ch->mode = o->mode;
	ch->eng = e;
	ch->reactor = r;
	ch->be = be;
	ch->wait_poller.fn = wait_poll;
	ch->dam_unit = o->dam_unit;
	ch->remote = true; /* the paths that run on the reactor say otherwise in open */
	if (o->tenant)
		snprintf(ch->tenant, sizeof(ch->tenant), "%s", o->tenant);
	if (o->mode == HNVMF_PATH_PQM) {
		/* Hosts without a tenant file share one tenant: a host cannot make tenant objects
		 * at will by picking NQNs. */
		ch->sched_tenant = hnvmf_tenant_get(e, o->qos && o->tenant ? o->tenant : "");
		if (!ch->sched_tenant) {
			free(ch);
			return -ENOMEM;
		}
		if (o->qos)
			hnvmf_qos_set(ch->sched_tenant, o->qos);
	}
	int rc = ch->ops->open(ch);
	if (rc) {
		free(ch);
		return rc;
	}
	hnvmf_backend_use(be);
	*out = ch;
	return 0;
}

void hnvmf_chan_submit(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	io->chan = ch;
	io->next = NULL;
	atomic_store_explicit(&ch->arrivals, atomic_load_explicit(&ch->arrivals, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	io->hops = ch->remote;
	if (ch->remote) {
		io->t_arrive_ns = hnvmf_now_ns();
		hnvmf_reactor_remote_pending(ch->reactor, 1); /* back through io_done_msg */
	}
	if (!ch->wait_head && ch->ops->push(ch, io))
		return;
	/* Back-pressure: no room. Keep FIFO order and retry from the loop. */
	if (ch->wait_tail)
		ch->wait_tail->next = io;
	else
		ch->wait_head = io;
	ch->wait_tail = io;
	if (!ch->wait_poller_on) {
		ch->wait_poller_on = true;
		hnvmf_reactor_add_poller(ch->reactor, &ch->wait_poller);
	}
}

void hnvmf_chan_close(struct hnvmf_chan *ch)
{
	if (!ch)
		return;
	if (ch->wait_poller_on)
		hnvmf_reactor_del_poller(ch->reactor, &ch->wait_poller);
	ch->wait_poller_on = false;
	ch->ops->close(ch);
	hnvmf_backend_unuse(ch->be);
	free(ch);
}

void hnvmf_engine_forget_backend(struct hnvmf_engine *e, struct hnvmf_backend *be)
{
	hnvmf_pqm_forget(e, be);
	hnvmf_baseline_forget(e, be);
}

enum hnvmf_path_mode hnvmf_chan_mode(const struct hnvmf_chan *ch) { return ch->mode; }

static void io_done_msg(struct hnvmf_msg *m)
{
	struct hnvmf_io *io = container_of(m, struct hnvmf_io, msg);
	/* Not io->chan: a channel may be closed (a DAM grant revoked) while completions of its
	 * ios still wait in this inbox; they run here, on the reactor that submitted them. */
	hnvmf_reactor_remote_pending(hnvmf_reactor_self(), -1);
	io->done(io);
}

void hnvmf_io_complete_remote(struct hnvmf_io *io)
{
	io->msg.fn = io_done_msg;
	io->hops++;
	hnvmf_reactor_send(io->chan->reactor, &io->msg);
}
