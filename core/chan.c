/* Channels: one I/O queue's path to one backend, in the mode its tenant was granted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/path.h"

extern const struct hnvmf_path_ops hnvmf_path_pqm;
extern const struct hnvmf_path_ops hnvmf_path_dam;
extern const struct hnvmf_path_ops hnvmf_path_baseline;

const char *hnvmf_path_mode_name(enum hnvmf_path_mode m)
{
	switch (m) {
	case HNVMF_PATH_DIRECT:
		return "direct";
	case HNVMF_PATH_PQM:
		return "pqm";
	case HNVMF_PATH_DAM:
		return "dam";
	case HNVMF_PATH_BASELINE:
		return "baseline";
	}
	return "?";
}

int hnvmf_engine_create(const struct hnvmf_engine_opts *o, struct hnvmf_engine **out)
{
	struct hnvmf_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->opts = *o;
	if (!e->opts.backend_depth)
		e->opts.backend_depth = 256;
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
	free(e);
}

static const struct hnvmf_path_ops *path_for(enum hnvmf_path_mode m)
{
	const struct hnvmf_path_ops *ops = &hnvmf_path_direct;
	switch (m) {
	case HNVMF_PATH_PQM:
		ops = &hnvmf_path_pqm;
		break;
	case HNVMF_PATH_DAM:
		ops = &hnvmf_path_dam;
		break;
	case HNVMF_PATH_BASELINE:
		ops = &hnvmf_path_baseline;
		break;
	case HNVMF_PATH_DIRECT:
		break;
	}
	return ops;
}

int hnvmf_chan_open(struct hnvmf_engine *e, struct hnvmf_reactor *r, struct hnvmf_backend *be,
		    const struct hnvmf_chan_opts *o, struct hnvmf_chan **out)
{
	struct hnvmf_chan *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->ops = path_for(o->mode);
	ch->mode = o->mode;
	ch->eng = e;
	ch->reactor = r;
	ch->be = be;
	if (o->tenant)
		snprintf(ch->tenant, sizeof(ch->tenant), "%s", o->tenant);
	int rc = ch->ops->open(ch);
	if (rc) {
		free(ch);
		return rc;
	}
	*out = ch;
	return 0;
}

void hnvmf_chan_submit(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	io->chan = ch;
	if (ch->ops != &hnvmf_path_direct)
		hnvmf_reactor_remote_pending(ch->reactor, 1); /* back through io_done_msg */
	ch->ops->submit(ch, io);
}

void hnvmf_chan_close(struct hnvmf_chan *ch)
{
	if (!ch)
		return;
	ch->ops->close(ch);
	free(ch);
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
	hnvmf_reactor_send(io->chan->reactor, &io->msg);
}
