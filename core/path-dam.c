/* DAM, Direct Access Mode: each channel of an admitted tenant gets a dedicated I/O server with its
 * own backend queue pair (for io_uring backends: its own ring). Only the queue's reactor pushes
 * into that server's subqueue (the MPSC ring of core/ring.h, here with a single producer); no
 * queue, lock or thread is shared with another tenant, so a noisy neighbour cannot delay it.
 * The server polls for DAM_SPIN_US after its last work, then sleeps, so an idle tenant does not
 * burn a core. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ioserver.h"
#include "core/path.h"

#define DAM_SPIN_US 200

struct dam_chan {
	struct hnvmf_ioserver *server;
};

bool hnvmf_dam_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct dam_chan *d = ch->priv;
	return hnvmf_ioserver_push(d->server, io);
}

int hnvmf_dam_open(struct hnvmf_chan *ch)
{
	struct dam_chan *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	char name[32];
	snprintf(name, sizeof(name), "hnvmf-dam");
	struct hnvmf_ioserver_opts o = {.name = name, .subqueue_depth = ch->eng->opts.subqueue_depth,
					.backend_depth = ch->eng->opts.backend_depth, .spin_us = DAM_SPIN_US,
					.cpu = hnvmf_engine_server_cpu(ch->eng)};
	int rc = hnvmf_ioserver_start(&o, &d->server);
	if (rc) {
		free(d);
		return rc;
	}
	ch->priv = d;
	return 0;
}

void hnvmf_dam_close(struct hnvmf_chan *ch)
{
	struct dam_chan *d = ch->priv;
	/* A grant revoked under load: what waits for room still goes to the server, which drains
	 * it before it stops; every io is answered. */
	while (ch->wait_head)
		if (!hnvmf_chan_push_waiting(ch))
			sched_yield();
	hnvmf_ioserver_stop(d->server);
	free(d);
}
