#include "core/ioserver.h"
#include "core/spin.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.h"
#include "core/path.h"
#include "core/ring.h"
#include "core/sched.h"
#include "core/thread.h"

#define POP_BATCH 32
#define REAP_BATCH 64

/* One backend queue pair of this server. A server serves any number of backends: its queue pairs
 * are found through a hash table keyed by backend (open addressing, grown at half full), and the
 * reap loop walks only the ones with ios at the device (the active list), so the cost per io
 * does not grow with the number of namespaces. */
struct server_qp {
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	bool kick;
	unsigned inflight;             /* submitted, not yet reaped */
	struct server_qp *next_active; /* on the active list while inflight > 0 */
};

struct hnvmf_ioserver {
	char name[32];
	struct hnvmf_mpsc_ring *subq;
	pthread_t thread;
	atomic_bool stop;
	atomic_bool sleeping;
	int wakefd;
	struct hnvmf_spin spin; /* the idle spin: window spin_us, adaptive (core/spin.h) */
	unsigned backend_depth;
	int cpu; /* pinned to, or -1 */
	struct server_qp **qps; /* hash table of qps_cap slots (a power of two), NULL = empty */
	unsigned qps_cap, nqps;
	struct server_qp *active; /* queue pairs with ios in flight */
	struct pollfd *pfds; /* the sleep's poll set: wakefd and one fd per active queue pair */
	unsigned pfds_cap;
	struct hnvmf_io *retry_head, *retry_tail; /* backend queue pair full: resubmitted later */
	atomic_uint inflight;
	/* PQM's per-tenant queues (core/sched.h): their activation notices come through subq,
	 * tagged in the pointer's low bit; queued counts the ios waiting in them. */
	struct hnvmf_sched sched;
	atomic_uint queued;
	uint64_t wake_at; /* every tenant with work is held by its limits until then (0: not) */
	struct hnvmf_ioserver_stats st;
	/* hnvmf_ioserver_forget: the backend whose queue pair the server closes at its next turn,
	 * NULL once it has; one caller at a time (forget_lock). */
	_Atomic(struct hnvmf_backend *) forget;
	pthread_mutex_t forget_lock;
};

#define TQ_TAG ((uintptr_t)1)

static size_t pow2_at_least(size_t n)
{
	size_t p = 2;
	while (p < n)
		p <<= 1;
	return p;
}

static size_t qp_slot(struct hnvmf_backend *be, unsigned cap)
{
	/* Fibonacci hashing of the pointer: allocations differ in their middle bits. */
	return (size_t)(((uint64_t)(uintptr_t)be * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static void qp_insert(struct server_qp **slots, unsigned cap, struct server_qp *q)
{
	size_t i = qp_slot(q->be, cap);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = q;
}

/* The server's queue pair for be, opened on first use. NULL with *rc set when it cannot be. */
static struct server_qp *qp_for(struct hnvmf_ioserver *s, struct hnvmf_backend *be, int *rc)
{
	if (s->qps_cap) {
		for (size_t i = qp_slot(be, s->qps_cap); s->qps[i]; i = (i + 1) & (s->qps_cap - 1))
			if (s->qps[i]->be == be)
				return s->qps[i];
	}
	if (2 * (s->nqps + 1) > s->qps_cap) {
		unsigned cap = s->qps_cap ? 2 * s->qps_cap : 8;
		struct server_qp **slots = calloc(cap, sizeof(*slots));
		if (!slots) {
			*rc = -ENOMEM;
			return NULL;
		}
		for (unsigned i = 0; i < s->qps_cap; i++)
			if (s->qps[i])
				qp_insert(slots, cap, s->qps[i]);
		free(s->qps);
		s->qps = slots;
		s->qps_cap = cap;
	}
	struct server_qp *q = calloc(1, sizeof(*q));
	if (!q) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = hnvmf_bqp_open(be, s->backend_depth, &q->qp);
	if (!*rc && s->pfds_cap < s->nqps + 2) {
		/* Room in the poll set for every queue pair's fd beside wakefd. */
		struct pollfd *p = realloc(s->pfds, (s->nqps + 2) * sizeof(*p));
		if (p) {
			s->pfds = p;
			s->pfds_cap = s->nqps + 2;
		} else {
			hnvmf_bqp_close(q->qp);
			*rc = -ENOMEM;
		}
	}
	if (*rc) {
		free(q);
		return NULL;
	}
	q->be = be;
	qp_insert(s->qps, s->qps_cap, q);
	s->nqps++;
	return q;
}

/* On the server: closes its queue pair to s->forget. Linear probing has no holes in a run, so
 * the slots after the one emptied up to the next empty one are inserted again. */
static void forget_now(struct hnvmf_ioserver *s)
{
	struct hnvmf_backend *be = atomic_load_explicit(&s->forget, memory_order_acquire);
	for (unsigned i = 0; i < s->qps_cap; i++) {
		struct server_qp *q = s->qps[i];
		if (!q || q->be != be)
			continue;
		s->qps[i] = NULL;
		s->nqps--;
		for (unsigned j = (i + 1) & (s->qps_cap - 1); s->qps[j]; j = (j + 1) & (s->qps_cap - 1)) {
			struct server_qp *moved = s->qps[j];
			s->qps[j] = NULL;
			qp_insert(s->qps, s->qps_cap, moved);
		}
		hnvmf_bqp_close(q->qp);
		free(q);
		break;
	}
	atomic_store_explicit(&s->forget, NULL, memory_order_release);
}

static void hand_back(struct hnvmf_ioserver *s, struct hnvmf_io *io)
{
	uint64_t now = hnvmf_now_ns();
	atomic_store_explicit(&s->st.service_ns,
			      atomic_load_explicit(&s->st.service_ns, memory_order_relaxed) + (now - io->t_submit_ns),
			      memory_order_relaxed);
	atomic_store_explicit(&s->st.response_ns,
			      atomic_load_explicit(&s->st.response_ns, memory_order_relaxed) + (now - io->t_arrive_ns),
			      memory_order_relaxed);
	atomic_store_explicit(&s->st.completed, atomic_load_explicit(&s->st.completed, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	hnvmf_io_complete_remote(io);
}

/* true: accepted or failed (handed back); false: queue pair full, keep it for later. */
static bool submit_one(struct hnvmf_ioserver *s, struct hnvmf_io *io)
{
	int rc;
	struct server_qp *q = qp_for(s, io->chan->be, &rc);
	if (q)
		rc = hnvmf_bqp_submit(q->qp, (io->bio.priv = io, &io->bio));
	if (rc == -EAGAIN)
		return false;
	if (rc) {
		io->bio.result = rc;
		hand_back(s, io);
		return true;
	}
	q->kick = true;
	if (!q->inflight++) {
		q->next_active = s->active;
		s->active = q;
	}
	atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
	return true;
}

static void retry_push(struct hnvmf_ioserver *s, struct hnvmf_io *io)
{
	io->next = NULL;
	if (s->retry_tail)
		s->retry_tail->next = io;
	else
		s->retry_head = io;
	s->retry_tail = io;
}

static int serve_once(struct hnvmf_ioserver *s)
{
	int work = 0;
	while (s->retry_head) {
		struct hnvmf_io *io = s->retry_head;
		if (!submit_one(s, io))
			break;
		s->retry_head = io->next;
		if (!s->retry_head)
			s->retry_tail = NULL;
		work++;
	}
	void *items[POP_BATCH];
	size_t n = s->retry_head ? 0 : hnvmf_mpsc_pop_batch(s->subq, items, POP_BATCH), taken = 0, notices = 0;
	uint64_t now = hnvmf_now_ns();
	for (size_t i = 0; i < n; i++) {
		if ((uintptr_t)items[i] & TQ_TAG) {
			hnvmf_sched_activate(&s->sched, (struct hnvmf_tq *)((uintptr_t)items[i] & ~TQ_TAG));
			notices++;
			continue;
		}
		struct hnvmf_io *io = items[i];
		io->t_submit_ns = now; /* service time starts when a server takes the job */
		if (!submit_one(s, io))
			retry_push(s, io);
		taken++;
	}
	/* Tenant queues: taken in DRR order, and only while the device has less than one queue
	 * pair's depth of ours, so that what waits is ordered here and not in the device's FIFO. */
	s->wake_at = 0;
	while (!s->retry_head && taken < POP_BATCH && hnvmf_sched_pending(&s->sched) &&
	       atomic_load_explicit(&s->inflight, memory_order_relaxed) < s->backend_depth) {
		struct hnvmf_io *io = hnvmf_sched_next(&s->sched, now, &s->wake_at);
		if (!io)
			break;
		atomic_fetch_sub_explicit(&s->queued, 1, memory_order_relaxed);
		io->t_submit_ns = now;
		if (!submit_one(s, io))
			retry_push(s, io);
		taken++;
	}
	if (taken) {
		atomic_store_explicit(&s->st.popped,
				      atomic_load_explicit(&s->st.popped, memory_order_relaxed) + taken,
				      memory_order_relaxed);
		work += (int)taken;
	}
	work += (int)notices;
	for (struct server_qp **pq = &s->active; *pq;) {
		struct server_qp *q = *pq;
		if (q->kick) {
			q->kick = false;
			hnvmf_bqp_kick(q->qp);
		}
		struct hnvmf_bio *done[REAP_BATCH];
		int m;
		do {
			m = hnvmf_bqp_poll(q->qp, done, REAP_BATCH);
			q->inflight -= (unsigned)m;
			for (int k = 0; k < m; k++) {
				atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_relaxed);
				hand_back(s, done[k]->priv);
			}
			work += m;
		} while (m == REAP_BATCH);
		if (q->inflight)
			pq = &q->next_active;
		else
			*pq = q->next_active; /* nothing at the device: off the list */
	}
	return work;
}

/* Empties the eventfd that pushers write. */
static void drain_wakefd(struct hnvmf_ioserver *s)
{
	uint64_t v;
	ssize_t r = read(s->wakefd, &v, sizeof(v));
	(void)r;
}

/* The poll set for a sleep: wakefd, then the fd of each queue pair holding ios (hnvmf_bqp_arm,
 * which drains it and looks at the device once more). Returns how many fds, or 0 when a queue
 * pair has completions already (or cannot be slept on): serve again instead of sleeping. */
static nfds_t arm_poll_set(struct hnvmf_ioserver *s)
{
	nfds_t n = 0;
	s->pfds[n++] = (struct pollfd){.fd = s->wakefd, .events = POLLIN};
	for (struct server_qp *q = s->active; q; q = q->next_active) {
		int fd, rc = hnvmf_bqp_arm(q->qp, &fd);
		if (rc == -EOPNOTSUPP)
			continue; /* synchronous: nothing of it is ever awaited */
		if (rc)
			return 0;
		s->pfds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	return n;
}

/* Sleeps until a push, a completion of the device or (ms >= 0) ms. Returns the work found by the
 * last look before sleeping (> 0: it did not sleep). */
static int sleep_until_work(struct hnvmf_ioserver *s, int ms)
{
	/* The order makes a lost wake-up impossible: a pusher that saw sleeping == false pushed
	 * before our look at the ring (seq_cst on both sides, as in the reactor); each queue pair
	 * with ios in flight is armed after that look (drain its fd, look at the device), so what
	 * the device completes after its arm makes its fd readable. */
	drain_wakefd(s);
	atomic_store(&s->sleeping, true);
	atomic_thread_fence(memory_order_seq_cst);
	int work = serve_once(s);
	if (!work && hnvmf_mpsc_count(s->subq) == 0 && !atomic_load(&s->stop)) {
		nfds_t n = arm_poll_set(s);
		if (n) {
			atomic_store_explicit(&s->st.sleeps,
					      atomic_load_explicit(&s->st.sleeps, memory_order_relaxed) + 1,
					      memory_order_relaxed);
			poll(s->pfds, n, ms);
		}
	}
	atomic_store(&s->sleeping, false);
	return work;
}

static void *server_thread(void *arg)
{
	struct hnvmf_ioserver *s = arg;
	pthread_setname_np(pthread_self(), s->name);
	/* Pinned from inside, before any backend queue pair exists: io_uring's worker threads
	 * inherit the mask of the thread that made the ring. */
	hnvmf_thread_pin(pthread_self(), s->cpu, s->name);
	uint64_t last_work = hnvmf_now_ns(), prev = last_work;
	int work = 0;
	bool idle = false, spinning = false;
	for (;;) {
		if (atomic_load_explicit(&s->forget, memory_order_relaxed))
			forget_now(s);
		work += serve_once(s);
		uint64_t now = hnvmf_now_ns();
		/* Work in hand (ios at the device or waiting for room there) is service time for
		 * mu, whether the server polls or sleeps meanwhile. */
		bool holding = atomic_load_explicit(&s->inflight, memory_order_relaxed) || s->retry_head;
		if (work || holding)
			atomic_store_explicit(&s->st.busy_ns,
					      atomic_load_explicit(&s->st.busy_ns, memory_order_relaxed) + (now - prev),
					      memory_order_relaxed);
		prev = now;
		if (work) {
			if (idle)
				hnvmf_spin_end(&s->spin, now - last_work);
			idle = false;
			last_work = now;
			work = 0;
			continue;
		}
		bool pending = hnvmf_sched_pending(&s->sched);
		if (!holding && atomic_load(&s->stop) && hnvmf_mpsc_count(s->subq) == 0 && !pending)
			break;
		bool device_full = s->retry_head ||
				   atomic_load_explicit(&s->inflight, memory_order_relaxed) >= s->backend_depth;
		if (pending && !s->wake_at && !device_full) {
			sched_yield(); /* a tenant queue's push not yet published: it comes at once */
			continue;
		}
		/* Nothing to do until a push, a completion or a tenant's limit lets one pass: poll
		 * a bounded time (a hand-off that comes soon is cheaper caught than slept for),
		 * letting a thread that shares the CPU run, then sleep; only while recent idle
		 * periods ended within the window (core/spin.h), else sleep at once. */
		if (!idle) {
			idle = true;
			spinning = hnvmf_spin_begin(&s->spin);
		}
		if (spinning && now - last_work < s->spin.window_ns) {
			sched_yield();
			continue;
		}
		int ms = -1;
		if (pending)
			ms = s->wake_at > now ? (int)((s->wake_at - now + 999999) / 1000000) : 0;
		work = sleep_until_work(s, ms);
		now = hnvmf_now_ns();
		hnvmf_spin_end(&s->spin, now - last_work); /* the idle period ends with the sleep */
		idle = false;
		if (holding)
			atomic_store_explicit(&s->st.busy_ns,
					      atomic_load_explicit(&s->st.busy_ns, memory_order_relaxed) + (now - prev),
					      memory_order_relaxed);
		prev = last_work = now;
	}
	return NULL;
}

int hnvmf_ioserver_start(const struct hnvmf_ioserver_opts *o, struct hnvmf_ioserver **out)
{
	struct hnvmf_ioserver *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(s->name, sizeof(s->name), "%s", o->name ? o->name : "hnvmf-io");
	hnvmf_spin_init(&s->spin, (uint64_t)o->spin_us * 1000);
	s->cpu = o->cpu;
	s->backend_depth = o->backend_depth ? o->backend_depth : 128;
	s->subq = hnvmf_mpsc_create(pow2_at_least(o->subqueue_depth ? o->subqueue_depth : 1024));
	s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->pfds_cap = 2; /* wakefd and a first queue pair's fd; qp_for grows it */
	s->pfds = calloc(s->pfds_cap, sizeof(*s->pfds));
	if (!s->subq || s->wakefd < 0 || !s->pfds) {
		if (s->subq)
			hnvmf_mpsc_destroy(s->subq);
		if (s->wakefd >= 0)
			close(s->wakefd);
		free(s->pfds);
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->forget_lock, NULL);
	int rc = pthread_create(&s->thread, NULL, server_thread, s);
	if (rc) {
		pthread_mutex_destroy(&s->forget_lock);
		hnvmf_mpsc_destroy(s->subq);
		close(s->wakefd);
		free(s->pfds);
		free(s);
		return -rc;
	}
	*out = s;
	return 0;
}

static void wake(struct hnvmf_ioserver *s)
{
	/* The ring's push is not a full barrier on every CPU: order it before the load of
	 * sleeping (the server orders its store of sleeping before its look at the ring). */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&s->sleeping)) {
		uint64_t one = 1;
		ssize_t w = write(s->wakefd, &one, sizeof(one));
		(void)w;
	}
}

bool hnvmf_ioserver_push(struct hnvmf_ioserver *s, struct hnvmf_io *io)
{
	if (!hnvmf_mpsc_push(s->subq, io))
		return false;
	wake(s);
	return true;
}

bool hnvmf_ioserver_push_tenant(struct hnvmf_ioserver *s, struct hnvmf_tq *tq, struct hnvmf_io *io)
{
	bool notify;
	atomic_fetch_add_explicit(&s->queued, 1, memory_order_relaxed);
	if (!hnvmf_tq_push(tq, io, &notify)) {
		atomic_fetch_sub_explicit(&s->queued, 1, memory_order_relaxed);
		return false;
	}
	if (!notify)
		return true; /* the server has the queue on its list, or its notice is on the way */
	/* One notice per tenant queue at a time, and the subqueue has room for one per tenant
	 * (hnvmf_ioserver_opts.subqueue_depth > HNVMF_MAX_TENANTS for PQM's servers). */
	bool ok = hnvmf_mpsc_push(s->subq, (void *)((uintptr_t)tq | TQ_TAG));
	assert(ok);
	(void)ok;
	wake(s);
	return true;
}

void hnvmf_ioserver_forget(struct hnvmf_ioserver *s, struct hnvmf_backend *be)
{
	pthread_mutex_lock(&s->forget_lock);
	atomic_store_explicit(&s->forget, be, memory_order_release);
	/* The eventfd is written again each millisecond: a sleeping server drains it before its
	 * last look, and that look does not check forget. */
	while (atomic_load_explicit(&s->forget, memory_order_acquire)) {
		uint64_t one = 1;
		ssize_t w = write(s->wakefd, &one, sizeof(one));
		(void)w;
		usleep(1000);
	}
	pthread_mutex_unlock(&s->forget_lock);
}

void hnvmf_ioserver_stop(struct hnvmf_ioserver *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	uint64_t one = 1;
	ssize_t w = write(s->wakefd, &one, sizeof(one));
	(void)w;
	pthread_join(s->thread, NULL);
	for (unsigned i = 0; i < s->qps_cap; i++)
		if (s->qps[i]) {
			hnvmf_bqp_close(s->qps[i]->qp);
			free(s->qps[i]);
		}
	free(s->qps);
	free(s->pfds);
	hnvmf_mpsc_destroy(s->subq);
	close(s->wakefd);
	pthread_mutex_destroy(&s->forget_lock);
	free(s);
}

const struct hnvmf_ioserver_stats *hnvmf_ioserver_stats(const struct hnvmf_ioserver *s) { return &s->st; }

unsigned hnvmf_ioserver_load(struct hnvmf_ioserver *s)
{
	return (unsigned)hnvmf_mpsc_count(s->subq) + atomic_load_explicit(&s->queued, memory_order_relaxed) +
	       atomic_load_explicit(&s->inflight, memory_order_relaxed);
}

bool hnvmf_ioserver_idle(struct hnvmf_ioserver *s) { return hnvmf_ioserver_load(s) == 0; }
