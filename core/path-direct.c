/* The direct path: the reactor that owns the I/O queue submits to a backend queue pair of its own
 * and reaps completions in a poller of the same loop. No other thread, no lock: the
 * run-to-completion design of SPDK's poll groups, and the fastest path on one core. While the
 * device works the loop may sleep: the queue pair signals an eventfd in the loop's epoll set on
 * each completion (hnvmf_bqp_notify), so waiting for the device costs no CPU. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/path.h"

#define REAP_BATCH 64

struct direct {
	struct hnvmf_bqp *qp;
	struct hnvmf_poller poller;
	struct hnvmf_event done_ev; /* the completion eventfd; fd -1 for synchronous backends */
	struct hnvmf_io *failed; /* refused by the backend: completed by the poller */
	unsigned inflight;
	bool need_kick;
};

static struct hnvmf_io *bio_io(struct hnvmf_bio *b) { return b->priv; }

/* false: the queue pair is full. An io the backend refuses is taken and answered from the poller. */
bool hnvmf_direct_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct direct *d = ch->priv;
	io->bio.priv = io;
	int rc = hnvmf_bqp_submit(d->qp, &io->bio);
	if (rc == -EAGAIN)
		return false;
	if (rc) {
		io->bio.result = rc;
		io->next = d->failed;
		d->failed = io;
	} else {
		d->need_kick = true;
	}
	d->inflight++;
	return true;
}

static int direct_poll(struct hnvmf_poller *p)
{
	struct direct *d = container_of(p, struct direct, poller);
	if (!d->inflight)
		return 0;
	int work = 0;
	if (d->need_kick) {
		d->need_kick = false;
		hnvmf_bqp_kick(d->qp);
	}
	while (d->failed) {
		struct hnvmf_io *io = d->failed;
		d->failed = io->next;
		d->inflight--;
		io->done(io);
		work++;
	}
	struct hnvmf_bio *done[REAP_BATCH];
	int n;
	do {
		n = hnvmf_bqp_poll(d->qp, done, REAP_BATCH);
		for (int i = 0; i < n; i++) {
			struct hnvmf_io *io = bio_io(done[i]);
			d->inflight--;
			io->done(io);
		}
		work += n;
	} while (n == REAP_BATCH);
	/* A queue pair without a completion eventfd (an RBD image's) wakes nobody: the loop keeps
	 * polling while it holds ios. */
	return work + (d->inflight > 0 && d->done_ev.fd < 0);
}

/* Wakes the loop; the poller, which runs next, reaps. */
static void direct_done_cb(struct hnvmf_event *ev, uint32_t revents)
{
	(void)revents;
	uint64_t v;
	ssize_t n = read(ev->fd, &v, sizeof(v));
	(void)n;
}

/* A synchronous backend completes in submit and the poller's next run reaps it, so only an
 * asynchronous one needs the eventfd. */
static int direct_notify(struct direct *d, struct hnvmf_reactor *r)
{
	d->done_ev.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->done_ev.fd < 0)
		return -errno;
	d->done_ev.cb = direct_done_cb;
	int rc = hnvmf_bqp_notify(d->qp, d->done_ev.fd);
	if (!rc)
		rc = hnvmf_reactor_add_fd(r, &d->done_ev, EPOLLIN);
	if (rc) {
		close(d->done_ev.fd);
		d->done_ev.fd = -1;
	}
	return rc == -EOPNOTSUPP ? 0 : rc;
}

int hnvmf_direct_open(struct hnvmf_chan *ch)
{
	struct direct *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int rc = hnvmf_bqp_open(ch->be, ch->eng->opts.backend_depth, &d->qp);
	if (rc) {
		free(d);
		return rc;
	}
	rc = direct_notify(d, ch->reactor);
	if (rc) {
		hnvmf_bqp_close(d->qp);
		free(d);
		return rc;
	}
	ch->remote = false;
	d->poller.fn = direct_poll;
	hnvmf_reactor_add_poller(ch->reactor, &d->poller);
	ch->priv = d;
	return 0;
}

void hnvmf_direct_drain(struct hnvmf_chan *ch)
{
	struct direct *d = ch->priv;
	while (ch->wait_head || d->inflight) {
		unsigned before = d->inflight;
		hnvmf_chan_push_waiting(ch);
		direct_poll(&d->poller);
		if (d->inflight == before)
			sched_yield(); /* the device (or an io_uring worker on this CPU) holds the rest */
	}
}

void hnvmf_direct_close(struct hnvmf_chan *ch)
{
	struct direct *d = ch->priv;
	hnvmf_reactor_del_poller(ch->reactor, &d->poller);
	if (d->done_ev.fd >= 0) {
		hnvmf_reactor_del_fd(ch->reactor, &d->done_ev);
		close(d->done_ev.fd);
	}
	hnvmf_bqp_close(d->qp);
	free(d);
}
