/* The baseline path: the conventional design that PQM and DAM are measured against, built fair.
 *
 * Each namespace backend gets one adapter (the first baseline channel to it makes it): one
 * adapter queue that every tenant's io goes into, guarded by one lock held only to enqueue and
 * dequeue; baseline_servers threads serving it; and ONE backend queue pair of the device's depth
 * (baseline_depth) that those threads share. Sharing a queue pair between threads needs what a
 * conventional driver has, a lock on its submission/completion queue: held to submit a batch
 * and to reap, never across a wait for the device. So up to baseline_depth ios are at the device
 * at once, completions are reaped by whichever server holds the queue pair's lock, and each io
 * goes back to its reactor's inbox. What PQM is compared against is then only the design's
 * difference: one shared locked queue and one shared queue pair against per-server lock-free
 * subqueues and queue pairs (docs/pqm.md). Every io completes exactly once, on its reactor. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/path.h"
#include "core/spin.h"
#include "core/thread.h"

#define BASELINE_SERVERS_MAX 64
#define BATCH 32 /* ios a server dequeues at once, and completions it reaps at once */

struct adapter {
	struct hnvmf_engine *eng;
	struct hnvmf_backend *be;
	unsigned depth; /* of the shared backend queue pair */

	/* The adapter queue. */
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct hnvmf_io *head, *tail;
	atomic_uint queued; /* ios in the queue: read without the lock by the server that polls */
	bool poller;        /* one server polls the device while it has ios and the queue is idle */
	bool stop;

	/* The shared backend queue pair, under the driver's lock. */
	pthread_mutex_t qp_lock;
	struct hnvmf_bqp *qp; /* opened by the first server that submits (after it pinned itself) */
	struct hnvmf_spin spin; /* poll_device's idle spin, used by the one poller at a time */
	/* Dequeued and not yet reaped: only a dequeuer adds (under lock, bounded by depth), so the
	 * queue pair never refuses an io for want of room. */
	atomic_uint busy;
	/* The polling server sleeps while only the device works, in poll() on the queue pair's fd
	 * (hnvmf_bqp_arm) and on efd, which a push writes when poller_sleeping says so. */
	int efd;
	atomic_bool poller_sleeping;

	pthread_t servers[BASELINE_SERVERS_MAX];
	unsigned nservers;
	struct adapter *next;
};

struct baseline {
	pthread_mutex_t lock; /* the list of adapters, taken only when a channel opens */
	struct adapter *adapters;
};

static void hand_back_all(struct hnvmf_io **ios, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		hnvmf_io_complete_remote(ios[i]);
}

/* Reaps what the device finished; returns how many. Under the queue pair's lock, no wait. */
static unsigned reap_locked(struct adapter *a, struct hnvmf_io **done)
{
	struct hnvmf_bio *bios[BATCH];
	int n = a->qp ? hnvmf_bqp_poll(a->qp, bios, BATCH) : 0;
	for (int i = 0; i < n; i++)
		done[i] = bios[i]->priv;
	if (n)
		atomic_fetch_sub(&a->busy, (unsigned)n);
	return n > 0 ? (unsigned)n : 0;
}

static unsigned reap(struct adapter *a)
{
	struct hnvmf_io *done[BATCH];
	pthread_mutex_lock(&a->qp_lock);
	unsigned n = reap_locked(a, done);
	pthread_mutex_unlock(&a->qp_lock);
	hand_back_all(done, n);
	return n;
}

/* Submits a batch to the shared queue pair, kicks once, reaps what is already done. An io the
 * backend refuses (a bad range, read-only) is answered with its error. */
static void submit_batch(struct adapter *a, struct hnvmf_io **ios, unsigned n)
{
	struct hnvmf_io *back[2 * BATCH];
	unsigned nback = 0;
	pthread_mutex_lock(&a->qp_lock);
	int rc = 0;
	if (!a->qp) {
		rc = hnvmf_bqp_open(a->be, a->depth, &a->qp);
	}
	for (unsigned i = 0; i < n; i++) {
		struct hnvmf_io *io = ios[i];
		io->bio.priv = io;
		int err = rc ? rc : hnvmf_bqp_submit(a->qp, &io->bio);
		if (err) {
			io->bio.result = err;
			back[nback++] = io;
			atomic_fetch_sub(&a->busy, 1);
		}
	}
	if (a->qp) {
		hnvmf_bqp_kick(a->qp);
		nback += reap_locked(a, back + nback);
	}
	pthread_mutex_unlock(&a->qp_lock);
	hand_back_all(back, nback);
}

static bool can_take(struct adapter *a)
{
	return atomic_load(&a->queued) && atomic_load(&a->busy) < a->depth;
}

/* Waits for a completion or a push that this server could take. The order rules out a lost
 * wake-up: a push that saw poller_sleeping false came before our look at queued (seq_cst); the
 * queue pair is armed after the reap (its fd drained, the device looked at once more), so a
 * completion after that makes its fd readable. Returns false when the queue pair cannot be
 * slept on (a synchronous backend: its completions are reaped by their submitter). */
static bool sleep_for_device(struct adapter *a)
{
	uint64_t v;
	ssize_t r = read(a->efd, &v, sizeof(v));
	(void)r;
	bool slept = true;
	atomic_store(&a->poller_sleeping, true);
	if (!reap(a) && !can_take(a) && atomic_load(&a->busy)) {
		int fd, rc;
		pthread_mutex_lock(&a->qp_lock);
		rc = a->qp ? hnvmf_bqp_arm(a->qp, &fd) : -EOPNOTSUPP;
		pthread_mutex_unlock(&a->qp_lock);
		if (rc == 0) {
			struct pollfd pfd[2] = {{.fd = a->efd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
			poll(pfd, 2, -1);
		}
		slept = rc >= 0; /* 1: completions are there, the caller reaps them */
	}
	atomic_store(&a->poller_sleeping, false);
	return slept;
}

/* Polls the device while it holds ios and the adapter queue has nothing this server could take
 * (empty, or the queue pair full), yielding between empty polls to whoever shares the CPU; after
 * idle_spin_us without a completion it sleeps until one, at once while recent waits for a
 * completion outlasted that window (the adaptive spin of core/spin.h, as PQM's servers). */
static void poll_device(struct adapter *a)
{
	uint64_t last = hnvmf_now_ns();
	bool idle = false, spinning = false;
	while (atomic_load(&a->busy)) {
		uint64_t now = hnvmf_now_ns();
		if (can_take(a)) {
			if (idle)
				hnvmf_spin_end(&a->spin, now - last);
			break;
		}
		if (reap(a)) {
			if (idle)
				hnvmf_spin_end(&a->spin, now - last);
			idle = false;
			last = now;
			continue;
		}
		if (!idle) { /* the first empty poll: spin this idle period or not (core/spin.h) */
			idle = true;
			spinning = hnvmf_spin_begin(&a->spin);
		}
		if (spinning && now - last < a->spin.window_ns)
			sched_yield();
		else if (!sleep_for_device(a))
			sched_yield(); /* a synchronous backend: nothing to sleep on */
		else {
			hnvmf_spin_end(&a->spin, hnvmf_now_ns() - last); /* the idle period ends with the sleep */
			idle = false;
		}
	}
}

static void *baseline_server(void *arg)
{
	struct adapter *a = arg;
	pthread_setname_np(pthread_self(), "hnvmf-base");
	/* Pinned from inside, before the queue pair may be opened here: io_uring's worker
	 * threads inherit the mask of the thread that made the ring. */
	hnvmf_thread_pin(pthread_self(), hnvmf_engine_server_cpu(a->eng), "baseline server");
	struct hnvmf_io *batch[BATCH];
	pthread_mutex_lock(&a->lock);
	for (;;) {
		unsigned room = a->depth - atomic_load(&a->busy), n = 0;
		if (a->head && room) {
			while (a->head && n < room && n < BATCH) {
				batch[n++] = a->head;
				a->head = a->head->next;
			}
			if (!a->head)
				a->tail = NULL;
			atomic_fetch_sub(&a->queued, n);
			atomic_fetch_add(&a->busy, n);
			pthread_mutex_unlock(&a->lock);
			submit_batch(a, batch, n);
		} else if (atomic_load(&a->busy) && !a->poller) {
			a->poller = true;
			pthread_mutex_unlock(&a->lock);
			poll_device(a);
			pthread_mutex_lock(&a->lock);
			a->poller = false;
			/* Servers asleep behind this poller may be waiting for the stop. */
			if (a->stop)
				pthread_cond_broadcast(&a->work);
			continue;
		} else if (a->stop && !a->head && !atomic_load(&a->busy)) {
			break;
		} else {
			pthread_cond_wait(&a->work, &a->lock);
			continue;
		}
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void adapter_stop(struct adapter *a)
{
	hnvmf_thread_request_stop(&a->lock, &a->work, &a->stop);
	for (unsigned i = 0; i < a->nservers; i++)
		pthread_join(a->servers[i], NULL);
	if (a->qp)
		hnvmf_bqp_close(a->qp);
	if (a->efd >= 0)
		close(a->efd);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->qp_lock);
	free(a);
}

static struct adapter *adapter_create(struct hnvmf_engine *e, struct hnvmf_backend *be)
{
	struct adapter *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->eng = e;
	a->be = be;
	a->depth = e->opts.baseline_depth ? e->opts.baseline_depth : e->opts.backend_depth;
	hnvmf_spin_init(&a->spin, (uint64_t)e->opts.idle_spin_us * 1000);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_mutex_init(&a->qp_lock, NULL);
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		adapter_stop(a);
		return NULL;
	}
	unsigned n = e->opts.baseline_servers ? e->opts.baseline_servers
					      : e->opts.pqm_cmax ? e->opts.pqm_cmax : 1;
	if (n > BASELINE_SERVERS_MAX)
		n = BASELINE_SERVERS_MAX;
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&a->servers[i], NULL, baseline_server, a) != 0)
			break;
		a->nservers++;
	}
	if (!a->nservers) {
		adapter_stop(a);
		return NULL;
	}
	return a;
}

static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER; /* e->baseline, its adapter list */

/* The backend's adapter, made with its first baseline channel; it lives until the engine stops or
 * forgets the backend (hnvmf_baseline_forget). */
static int adapter_get(struct hnvmf_engine *e, struct hnvmf_backend *be, struct adapter **out)
{
	pthread_mutex_lock(&create_lock);
	struct baseline *b = e->baseline;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&create_lock);
			return -ENOMEM;
		}
		e->baseline = b;
	}
	struct adapter *a = b->adapters;
	while (a && a->be != be)
		a = a->next;
	if (!a) {
		a = adapter_create(e, be);
		if (!a) {
			pthread_mutex_unlock(&create_lock);
			return -EAGAIN;
		}
		a->next = b->adapters;
		b->adapters = a;
	}
	pthread_mutex_unlock(&create_lock);
	*out = a;
	return 0;
}

/* No channel uses be any more: its adapter's queue is empty, its servers are stopped. */
void hnvmf_baseline_forget(struct hnvmf_engine *e, struct hnvmf_backend *be)
{
	struct adapter *found = NULL;
	pthread_mutex_lock(&create_lock);
	struct baseline *b = e->baseline;
	for (struct adapter **pa = b ? &b->adapters : NULL; pa && *pa; pa = &(*pa)->next)
		if ((*pa)->be == be) {
			found = *pa;
			*pa = found->next;
			break;
		}
	pthread_mutex_unlock(&create_lock);
	if (found)
		adapter_stop(found);
}

void hnvmf_baseline_engine_stop(struct hnvmf_engine *e)
{
	struct baseline *b = e->baseline;
	if (!b)
		return;
	while (b->adapters) {
		struct adapter *a = b->adapters;
		b->adapters = a->next;
		adapter_stop(a);
	}
	free(b);
	e->baseline = NULL;
}

int hnvmf_baseline_open(struct hnvmf_chan *ch)
{
	struct adapter *a;
	int rc = adapter_get(ch->eng, ch->be, &a);
	if (rc)
		return rc;
	ch->priv = a;
	return 0;
}

/* The adapter queue has no bound: it always takes the io. */
bool hnvmf_baseline_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct adapter *a = ch->priv;
	io->next = NULL;
	pthread_mutex_lock(&a->lock);
	if (a->tail)
		a->tail->next = io;
	else
		a->head = io;
	a->tail = io;
	atomic_fetch_add(&a->queued, 1);
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	if (atomic_load(&a->poller_sleeping)) {
		uint64_t one = 1;
		ssize_t w = write(a->efd, &one, sizeof(one));
		(void)w;
	}
	return true;
}

void hnvmf_baseline_close(struct hnvmf_chan *ch) { (void)ch; }
