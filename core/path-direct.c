/* The direct path: the reactor that owns the I/O queue submits to a backend queue pair of its own
 * and reaps completions in a poller of the same loop. No other thread, no lock: the
 * run-to-completion design of SPDK's poll groups, and the fastest path on one core. While the
 * device works the loop may sleep: when the poller finds ios in flight and none done it arms the
 * queue pair (hnvmf_bqp_arm) and watches the fd it gives, one-shot, in the loop's epoll set; the
 * watch fires on the next completion (io_uring's CQ eventfd, an RBD image's completion eventfd),
 * so waiting for the device costs no CPU.
 *
 * DAM on a DAM reactor uses the same queue pair, maybe polled ([pqm] dam_poll: io_uring IOPOLL
 * for a block device whose queue polls): then no signal comes for its reads and writes, and the
 * poller reports work while ios are in flight, so the reactor busy-polls the device instead of
 * arming. It also measures what the queue pair sustains while busy, for DAM's unit capacity
 * (hnvmf_dam_measured). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>

#include "core/path.h"

#define REAP_BATCH 64

struct direct {
	struct hnvmf_chan *ch;
	struct hnvmf_bqp *qp;
	struct hnvmf_poller poller;
	/* The queue pair's fd (hnvmf_bqp_arm), watched one-shot; fd -1 until the first arm. */
	struct hnvmf_event done_ev;
	struct hnvmf_reactor *reactor;
	bool armed; /* the watch is on and has not fired */
	struct hnvmf_io *failed; /* refused by the backend: completed by the poller */
	unsigned inflight;
	uint64_t polled_seen; /* hnvmf_bqp_polled_done already added to the engine's count */
	bool counted_polled;  /* in the engine's dam_polled_qps */
	/* DAM's measurement: time with ios in flight, and the ios completed meanwhile */
	bool measure;
	uint64_t busy_since, busy_ns, completed, reported_at;
	bool need_kick;
};

/* Every MEASURE_EVERY completions a measuring channel hands its rate to DAM: the capacity is
 * known while the queue runs, not only after it closed. */
#define MEASURE_EVERY 4096

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
	if (d->measure && !d->inflight)
		d->busy_since = hnvmf_now_ns();
	d->inflight++;
	return true;
}

static int arm(struct direct *d);

/* The engine counts the queue pairs that poll now: one the kernel refused polled I/O stops. */
static void count_polled(struct direct *d)
{
	bool polled = hnvmf_bqp_polled(d->qp);
	if (polled == d->counted_polled)
		return;
	if (polled)
		atomic_fetch_add(&d->ch->eng->dam_polled_qps, 1);
	else
		atomic_fetch_sub(&d->ch->eng->dam_polled_qps, 1);
	d->counted_polled = polled;
}

/* Before io->done, which may push the next io (and start the next busy period). */
static void io_finished(struct direct *d)
{
	d->inflight--;
	if (!d->measure)
		return;
	d->completed++;
	if (!d->inflight)
		d->busy_ns += hnvmf_now_ns() - d->busy_since;
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
		io_finished(d);
		io->done(io);
		work++;
	}
	struct hnvmf_bio *done[REAP_BATCH];
	int n;
	do {
		n = hnvmf_bqp_poll(d->qp, done, REAP_BATCH);
		for (int i = 0; i < n; i++) {
			struct hnvmf_io *io = bio_io(done[i]);
			io_finished(d);
			io->done(io);
		}
		work += n;
	} while (n == REAP_BATCH);
	if (d->measure && d->completed - d->reported_at >= MEASURE_EVERY) {
		/* A queue that never runs dry is busy since its last idle moment. */
		uint64_t busy = d->busy_ns + (d->inflight ? hnvmf_now_ns() - d->busy_since : 0);
		d->reported_at = d->completed;
		hnvmf_dam_measured(d->ch->eng, d->completed, busy);
	}
	uint64_t n_polled = hnvmf_bqp_polled_done(d->qp);
	if (n_polled != d->polled_seen) {
		atomic_fetch_add_explicit(&d->ch->eng->dam_polled_ios, n_polled - d->polled_seen,
					  memory_order_relaxed);
		d->polled_seen = n_polled;
	}
	count_polled(d);
	/* A polled queue pair's reads and writes complete only when reaped, no fd tells of them:
	 * the loop keeps polling while it holds ios. Otherwise it arms the watch and may sleep. */
	if (d->inflight && hnvmf_bqp_polled(d->qp))
		return work + 1;
	if (d->inflight && !d->armed)
		work += arm(d);
	return work;
}

/* The watch fired: the loop is awake, and the poller, which runs next, reaps and arms again. */
static void direct_done_cb(struct hnvmf_event *ev, uint32_t revents)
{
	(void)revents;
	struct direct *d = container_of(ev, struct direct, done_ev);
	d->armed = false;
}

/* Sets the one-shot watch on the queue pair's fd. Returns 1 to keep the loop polling: the
 * queue pair has completions already (arm looked after draining its fd), or cannot be slept on. */
static int arm(struct direct *d)
{
	int fd, rc = hnvmf_bqp_arm(d->qp, &fd);
	if (rc)
		return rc == -EOPNOTSUPP && !d->failed ? 0 : 1;
	uint32_t events = EPOLLIN | EPOLLONESHOT;
	if (d->done_ev.fd < 0) {
		d->done_ev.fd = fd;
		rc = hnvmf_reactor_add_fd(d->reactor, &d->done_ev, events);
		if (rc)
			d->done_ev.fd = -1;
	} else {
		rc = hnvmf_reactor_mod_fd(d->reactor, &d->done_ev, events);
	}
	if (rc)
		return 1;
	d->armed = true;
	return 0;
}

int hnvmf_direct_open(struct hnvmf_chan *ch)
{
	return hnvmf_direct_open_dam(ch, HNVMF_POLL_NO, false, NULL, 0);
}

int hnvmf_direct_open_dam(struct hnvmf_chan *ch, enum hnvmf_poll_mode pmode, bool measure, char *why,
			  size_t len)
{
	struct direct *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	int rc = hnvmf_bqp_open_poll(ch->be, ch->eng->opts.backend_depth, pmode, &d->qp, why, len);
	if (rc) {
		free(d);
		return rc;
	}
	d->done_ev = (struct hnvmf_event){.fd = -1, .cb = direct_done_cb};
	d->reactor = ch->reactor;
	d->ch = ch;
	d->measure = measure;
	count_polled(d);
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
		int fd;
		if (d->inflight == before && !ch->wait_head && !hnvmf_bqp_polled(d->qp) &&
		    hnvmf_bqp_arm(d->qp, &fd) == 0) {
			/* The device holds the rest: sleep until it completes one (bounded, as the
			 * wait is outside the loop's epoll set). */
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			poll(&pfd, 1, 100);
		} else if (d->inflight == before) {
			sched_yield();
		}
	}
}

void hnvmf_direct_close(struct hnvmf_chan *ch)
{
	struct direct *d = ch->priv;
	hnvmf_reactor_del_poller(ch->reactor, &d->poller);
	if (d->measure)
		hnvmf_dam_measured(ch->eng, d->completed, d->busy_ns);
	if (d->counted_polled)
		atomic_fetch_sub(&ch->eng->dam_polled_qps, 1);
	/* Off the epoll set before the fd (the queue pair's) closes and d is freed; the reactor
	 * also drops the watch from the batch it may be dispatching. */
	if (d->done_ev.fd >= 0)
		hnvmf_reactor_del_fd(ch->reactor, &d->done_ev);
	hnvmf_bqp_close(d->qp);
	free(d);
}
