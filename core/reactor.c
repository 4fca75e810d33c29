#include "core/reactor.h"
#include "core/spin.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/thread.h"

#define MAX_EVENTS 64

struct hnvmf_reactor {
	char name[32];
	int epfd;
	int wakefd;               /* eventfd: the inbox went from empty to non-empty */
	struct hnvmf_event wake_ev;
	_Atomic(struct hnvmf_msg *) inbox; /* lock-free LIFO; reversed when drained */
	struct hnvmf_msg *backlog; /* taken from the inbox, in sending order, not run yet */
	atomic_bool stop;
	atomic_bool sleeping;     /* in epoll_wait with a timeout: senders must wake it */
	struct hnvmf_list pollers;
	struct hnvmf_list flushers; /* pollers run last in an iteration (hnvmf_reactor_add_flusher) */
	struct hnvmf_list timers; /* sorted by deadline */
	pthread_t thread;
	bool threaded;
	long remote_pending; /* ios handed to other threads, completion not back yet (loop thread only) */
	struct hnvmf_spin spin; /* the idle spin: window idle_spin_us, adaptive (core/spin.h) */
	bool spin_yield; /* hnvmf_reactor_set_spin_yield */
	uint64_t await_ns;    /* hnvmf_reactor_await in this turn: the longest asked */
	uint64_t await_until; /* poll on until then, whatever the adaptive spin says */
	/* The epoll batch being dispatched: a callback may delete (and free) an event that is
	 * further on in it (a channel closed by a connection's callback, with its queue pair's
	 * watch ready too); del_fd clears that entry so the loop skips it. */
	struct epoll_event *batch;
	int batch_next, batch_n;
};

static __thread struct hnvmf_reactor *current;


uint64_t hnvmf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void hnvmf_reactor_remote_pending(struct hnvmf_reactor *r, int delta) { r->remote_pending += delta; }

void hnvmf_reactor_set_idle_spin(struct hnvmf_reactor *r, unsigned us) { hnvmf_spin_init(&r->spin, (uint64_t)us * 1000); }

void hnvmf_reactor_set_spin_yield(struct hnvmf_reactor *r, bool always) { r->spin_yield = always; }

void hnvmf_reactor_await(struct hnvmf_reactor *r, uint64_t ns)
{
	if (ns > r->await_ns)
		r->await_ns = ns;
}

struct hnvmf_reactor *hnvmf_reactor_self(void) { return current; }
const char *hnvmf_reactor_name(const struct hnvmf_reactor *r) { return r->name; }

static void wake_cb(struct hnvmf_event *ev, uint32_t revents)
{
	(void)revents;
	uint64_t v;
	ssize_t n = read(ev->fd, &v, sizeof(v));
	(void)n;
}

int hnvmf_reactor_create(const char *name, struct hnvmf_reactor **out)
{
	struct hnvmf_reactor *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->epfd < 0 || r->wakefd < 0) {
		int e = -errno;
		if (r->epfd >= 0)
			close(r->epfd);
		if (r->wakefd >= 0)
			close(r->wakefd);
		free(r);
		return e;
	}
	hnvmf_list_init(&r->pollers);
	hnvmf_list_init(&r->flushers);
	hnvmf_list_init(&r->timers);
	atomic_init(&r->inbox, NULL);
	hnvmf_reactor_set_idle_spin(r, HNVMF_REACTOR_IDLE_SPIN_US);
	r->wake_ev.fd = r->wakefd;
	r->wake_ev.cb = wake_cb;
	int rc = hnvmf_reactor_add_fd(r, &r->wake_ev, EPOLLIN);
	if (rc) {
		close(r->epfd);
		close(r->wakefd);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static int drain_inbox(struct hnvmf_reactor *r, int limit);

void hnvmf_reactor_destroy(struct hnvmf_reactor *r)
{
	if (!r)
		return;
	/* A message can land after the loop's last drain (hnvmf_reactor_stop's own wake-up when
	 * the loop saw stop first): run what is left so nothing is leaked. */
	drain_inbox(r, INT_MAX);
	close(r->epfd);
	close(r->wakefd);
	free(r);
}

int hnvmf_reactor_add_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, ev->fd, &e) ? -errno : 0;
}

int hnvmf_reactor_mod_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	struct epoll_event e = {.events = events, .data.ptr = ev};
	return epoll_ctl(r->epfd, EPOLL_CTL_MOD, ev->fd, &e) ? -errno : 0;
}

void hnvmf_reactor_del_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev)
{
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	for (int i = r->batch_next; i < r->batch_n; i++)
		if (r->batch[i].data.ptr == ev)
			r->batch[i].data.ptr = NULL;
}

void hnvmf_reactor_add_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	hnvmf_list_add_tail(&r->pollers, &p->link);
}

void hnvmf_reactor_add_flusher(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	hnvmf_list_add_tail(&r->flushers, &p->link);
}

void hnvmf_reactor_del_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	hnvmf_list_del(&p->link);
}

void hnvmf_timer_cancel(struct hnvmf_reactor *r, struct hnvmf_timer *t)
{
	(void)r;
	if (t->armed) {
		hnvmf_list_del(&t->link);
		t->armed = false;
	}
}

void hnvmf_timer_arm(struct hnvmf_reactor *r, struct hnvmf_timer *t, uint64_t ms)
{
	hnvmf_timer_cancel(r, t);
	t->deadline_ns = hnvmf_now_ns() + ms * 1000000ull;
	/* Few timers (one per controller): a sorted list is enough. */
	struct hnvmf_list *pos = r->timers.next;
	while (pos != &r->timers && container_of(pos, struct hnvmf_timer, link)->deadline_ns <= t->deadline_ns)
		pos = pos->next;
	hnvmf_list_add_tail(pos, &t->link);
	t->armed = true;
}

void hnvmf_reactor_send(struct hnvmf_reactor *r, struct hnvmf_msg *m)
{
	struct hnvmf_msg *head = atomic_load_explicit(&r->inbox, memory_order_relaxed);
	do {
		m->next = head;
	} while (!atomic_compare_exchange_weak_explicit(&r->inbox, &head, m, memory_order_seq_cst,
							memory_order_relaxed));
	/* Only the push that makes the inbox non-empty may need to wake the loop, and only when it
	 * is (about to be) asleep: a busy loop drains the inbox each iteration anyway. Push then
	 * load sleeping here, store sleeping then load the inbox in the loop, all seq_cst: at least
	 * one side sees the other (the Dekker pattern), so no message is left asleep. */
	if (head == NULL && atomic_load(&r->sleeping)) {
		uint64_t one = 1;
		ssize_t n = write(r->wakefd, &one, sizeof(one));
		(void)n;
	}
}

struct call_msg {
	struct hnvmf_msg msg;
	void (*fn)(void *);
	void *arg;
};

static void call_msg_run(struct hnvmf_msg *m)
{
	struct call_msg *c = container_of(m, struct call_msg, msg);
	c->fn(c->arg);
	free(c);
}

int hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	struct call_msg *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->msg.fn = call_msg_run;
	c->fn = fn;
	c->arg = arg;
	hnvmf_reactor_send(r, &c->msg);
	return 0;
}

struct sync_call {
	struct hnvmf_msg msg;
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_call_run(struct hnvmf_msg *m)
{
	struct sync_call *c = container_of(m, struct sync_call, msg);
	c->fn(c->arg);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int hnvmf_reactor_call_sync(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	if (current == r) { /* already on its thread: just run it */
		fn(arg);
		return 0;
	}
	struct sync_call c = {.msg.fn = sync_call_run, .fn = fn, .arg = arg, .done = false};
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	hnvmf_reactor_send(r, &c.msg);
	pthread_mutex_lock(&c.lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
	return 0;
}

/* The inbox's messages, oldest first. */
static struct hnvmf_msg *take_inbox(struct hnvmf_reactor *r)
{
	struct hnvmf_msg *m = atomic_exchange_explicit(&r->inbox, NULL, memory_order_acquire);
	struct hnvmf_msg *rev = NULL;
	while (m) {
		struct hnvmf_msg *next = m->next;
		m->next = rev;
		rev = m;
		m = next;
	}
	return rev;
}

/* Runs up to limit messages in the order they were sent: the backlog a previous call left,
 * then what the inbox holds now (taken once: a message that sends another, which may send
 * another, does not keep this call going); returns how many ran. */
static int drain_inbox(struct hnvmf_reactor *r, int limit)
{
	int n = 0;
	bool took = false;
	while (n < limit) {
		if (!r->backlog) {
			if (took)
				break;
			r->backlog = take_inbox(r);
			took = true;
			if (!r->backlog)
				break;
		}
		struct hnvmf_msg *m = r->backlog;
		r->backlog = m->next;
		m->fn(m);
		n++;
	}
	return n;
}

static int run_timers(struct hnvmf_reactor *r, uint64_t now)
{
	int n = 0;
	while (!hnvmf_list_empty(&r->timers)) {
		struct hnvmf_timer *t = container_of(r->timers.next, struct hnvmf_timer, link);
		if (t->deadline_ns > now)
			break;
		hnvmf_list_del(&t->link);
		t->armed = false;
		t->cb(t); /* may re-arm */
		n++;
	}
	return n;
}

static int run_pollers(struct hnvmf_list *pollers)
{
	int work = 0;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, pollers)
	{
		struct hnvmf_poller *p = container_of(pos, struct hnvmf_poller, link);
		work += p->fn(p);
	}
	return work;
}

static int next_timeout_ms(struct hnvmf_reactor *r, uint64_t now)
{
	if (hnvmf_list_empty(&r->timers))
		return 1000;
	struct hnvmf_timer *t = container_of(r->timers.next, struct hnvmf_timer, link);
	if (t->deadline_ns <= now)
		return 0;
	uint64_t ms = (t->deadline_ns - now + 999999) / 1000000;
	return ms > 1000 ? 1000 : (int)ms;
}

void hnvmf_reactor_run(struct hnvmf_reactor *r)
{
	struct epoll_event evs[MAX_EVENTS];
	current = r;
	int busy = 1;
	bool idle = false, spinning = false;
	uint64_t last_work = hnvmf_now_ns();
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		busy = run_pollers(&r->pollers);
		busy += drain_inbox(r, HNVMF_REACTOR_INBOX_TURN);
		uint64_t now = hnvmf_now_ns();
		busy += run_timers(r, now);
		busy += run_pollers(&r->flushers);
		if (busy) {
			if (idle)
				hnvmf_spin_end(&r->spin, now - last_work);
			idle = false;
			last_work = now;
			if (r->await_ns) {
				r->await_until = now + r->await_ns;
				r->await_ns = 0;
			}
		} else if (!idle) { /* the first idle turn: spin this idle period or not */
			idle = true;
			/* With ios at I/O servers the spin always runs (and is not recorded): its
			 * yields hand the CPU to the server that holds the awaited completion, and a
			 * sleep would cost that server an eventfd write and this loop a wake-up per
			 * completion (PQM at QD1: p50 92 -> 115 us when this waited as any spin). */
			spinning = r->remote_pending > 0 || hnvmf_spin_begin(&r->spin);
		}
		if (!busy && ((spinning && now - last_work < r->spin.window_ns) || now < r->await_until)) {
			/* Polling on a while: completions handed over by I/O servers (PQM, DAM) then
			 * land in a running loop instead of costing an eventfd write and a wake-up
			 * each; bounded, so an idle loop sleeps, and only while recent idle periods
			 * ended within the window (core/spin.h), so that a light load whose gaps
			 * are longer sleeps at once instead of burning the CPU. An awaited answer
			 * (hnvmf_reactor_await) polls on until it is due, unrecorded. */
			busy = 1; /* not yet: poll on (epoll_wait with a zero timeout below) */
			/* ...but while I/O servers hold ios of ours, let one that shares this CPU
			 * run: it may be holding the very completion this spin waits for. (Measured
			 * on 2 cores: 2-3.4x the PQM IOPS over TCP with the server on the reactor's
			 * CPU; the direct path, with nothing remote, does not yield.) A DAM reactor
			 * always yields: beside the initiator on its CPU, its QD1 p99 went from 237
			 * to 52 us (bench/dam-isolation-tcp.sh, 2026-12-07). */
			if (r->remote_pending > 0 || r->spin_yield)
				sched_yield();
		}
		int timeout = 0;
		if (!busy) {
			timeout = next_timeout_ms(r, now);
			atomic_store(&r->sleeping, true);
			/* Re-check after announcing sleep: a message sent before the store saw
			 * sleeping == false and did not write the eventfd. */
			if (atomic_load(&r->inbox) != NULL || r->backlog)
				timeout = 0;
		}
		int n = epoll_wait(r->epfd, evs, MAX_EVENTS, timeout);
		atomic_store_explicit(&r->sleeping, false, memory_order_relaxed);
		r->batch = evs;
		r->batch_n = n;
		for (int i = 0; i < n; i++) {
			struct hnvmf_event *ev = evs[i].data.ptr;
			r->batch_next = i + 1;
			if (ev) /* NULL: deleted by an earlier callback of this batch */
				ev->cb(ev, evs[i].events);
		}
		r->batch_n = r->batch_next = 0;
	}
	drain_inbox(r, INT_MAX);
	current = NULL;
}

static void *reactor_thread(void *arg)
{
	struct hnvmf_reactor *r = arg;
	pthread_setname_np(pthread_self(), r->name);
	hnvmf_reactor_run(r);
	return NULL;
}

int hnvmf_reactor_start(struct hnvmf_reactor *r, int cpu)
{
	atomic_store(&r->stop, false);
	int rc = pthread_create(&r->thread, NULL, reactor_thread, r);
	if (rc)
		return -rc;
	r->threaded = true;
	hnvmf_thread_pin(r->thread, cpu, r->name);
	return 0;
}

static void noop(void *arg) { (void)arg; }

void hnvmf_reactor_stop(struct hnvmf_reactor *r)
{
	atomic_store(&r->stop, true);
	/* A message wakes a sleeping loop; it then sees stop. */
	if (hnvmf_reactor_call(r, noop, NULL) != 0) {
		uint64_t one = 1;
		ssize_t n = write(r->wakefd, &one, sizeof(one));
		(void)n;
	}
	if (r->threaded && current != r) {
		pthread_join(r->thread, NULL);
		r->threaded = false;
	}
}
