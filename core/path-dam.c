/* DAM, Direct Access Mode: each channel of an admitted tenant gets a dedicated I/O server with its
 * own backend queue pair (for io_uring backends: its own ring). Its subqueue has one producer (the
 * queue's reactor) and one consumer (the server); no queue, lock or thread is shared with another
 * tenant, so a noisy neighbour cannot delay it. The server polls for DAM_SPIN_US after its last
 * work, then sleeps, so an idle tenant does not burn a core. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ioserver.h"
#include "core/path.h"

#define DAM_SPIN_US 200

struct dam_chan {
	struct hnvmf_ioserver *server;
	struct hnvmf_chan *ch;
	struct hnvmf_io *wait_head, *wait_tail; /* subqueue full: retried by the poller */
	struct hnvmf_poller poller;
	bool poller_on;
};

static int dam_poll(struct hnvmf_poller *p)
{
	struct dam_chan *d = container_of(p, struct dam_chan, poller);
	int work = 0;
	while (d->wait_head && hnvmf_ioserver_push(d->server, d->wait_head)) {
		d->wait_head = d->wait_head->next;
		work++;
	}
	if (!d->wait_head) {
		d->wait_tail = NULL;
		hnvmf_reactor_del_poller(d->ch->reactor, &d->poller);
		d->poller_on = false;
	}
	return work + 1;
}

static int dam_open(struct hnvmf_chan *ch)
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
	d->ch = ch;
	d->poller.fn = dam_poll;
	ch->priv = d;
	return 0;
}

static void dam_submit(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct dam_chan *d = ch->priv;
	io->next = NULL;
	if (!d->wait_head && hnvmf_ioserver_push(d->server, io))
		return;
	if (d->wait_tail)
		d->wait_tail->next = io;
	else
		d->wait_head = io;
	d->wait_tail = io;
	if (!d->poller_on) {
		d->poller_on = true;
		hnvmf_reactor_add_poller(ch->reactor, &d->poller);
	}
}

static void dam_close(struct hnvmf_chan *ch)
{
	struct dam_chan *d = ch->priv;
	if (d->poller_on)
		hnvmf_reactor_del_poller(ch->reactor, &d->poller);
	/* A grant revoked under load: what waits for room still goes to the server, which drains
	 * it before it stops; every io is answered. */
	while (d->wait_head) {
		if (hnvmf_ioserver_push(d->server, d->wait_head))
			d->wait_head = d->wait_head->next;
		else
			sched_yield();
	}
	hnvmf_ioserver_stop(d->server);
	free(d);
}

const struct hnvmf_path_ops hnvmf_path_dam = {
	.name = "dam",
	.open = dam_open,
	.submit = dam_submit,
	.close = dam_close,
};
