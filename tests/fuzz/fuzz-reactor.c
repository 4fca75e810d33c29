/* A single-threaded stand-in for core/reactor.c (same interface, core/reactor.h), linked into
 * the network fuzz targets instead of it: the fuzzer's thread is the one reactor, and
 * fuzz_reactor_pump runs its loop (pollers, messages, ready descriptors) until it is idle.
 * Descriptors are checked with poll(2) as level-triggered epoll would report them. Timers are
 * recorded, never fired: a fuzz input lasts microseconds, and firing them at random would make
 * runs irreproducible (the stage timeouts have their own tests). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>

#include "core/reactor.h"
#include "tests/fuzz/fuzz-env.h"

#define MAX_FDS 64
#define MAX_POLLERS 64

struct hnvmf_reactor {
	int unused;
};

static struct hnvmf_reactor the_reactor;
static struct {
	struct hnvmf_event *ev;
	uint32_t mask;
} fds[MAX_FDS];
static struct hnvmf_poller *pollers[MAX_POLLERS];
static struct hnvmf_msg *msg_head, *msg_tail;

int hnvmf_reactor_create(const char *name, struct hnvmf_reactor **out)
{
	(void)name;
	*out = &the_reactor;
	return 0;
}

void hnvmf_reactor_destroy(struct hnvmf_reactor *r) { (void)r; }
const char *hnvmf_reactor_name(const struct hnvmf_reactor *r)
{
	(void)r;
	return "fuzz";
}
int hnvmf_reactor_start(struct hnvmf_reactor *r, int cpu)
{
	(void)r;
	(void)cpu;
	return 0;
}
void hnvmf_reactor_run(struct hnvmf_reactor *r) { (void)r; }
void hnvmf_reactor_stop(struct hnvmf_reactor *r) { (void)r; }
struct hnvmf_reactor *hnvmf_reactor_self(void) { return &the_reactor; }
void hnvmf_reactor_remote_pending(struct hnvmf_reactor *r, int delta)
{
	(void)r;
	(void)delta;
}

int hnvmf_reactor_add_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	(void)r;
	for (int i = 0; i < MAX_FDS; i++)
		if (!fds[i].ev) {
			fds[i].ev = ev;
			fds[i].mask = events;
			return 0;
		}
	return -ENOSPC;
}

int hnvmf_reactor_mod_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events)
{
	(void)r;
	for (int i = 0; i < MAX_FDS; i++)
		if (fds[i].ev == ev) {
			fds[i].mask = events;
			return 0;
		}
	return -ENOENT;
}

void hnvmf_reactor_del_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev)
{
	(void)r;
	for (int i = 0; i < MAX_FDS; i++)
		if (fds[i].ev == ev)
			fds[i].ev = NULL;
}

void hnvmf_reactor_add_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	for (int i = 0; i < MAX_POLLERS; i++)
		if (!pollers[i]) {
			pollers[i] = p;
			return;
		}
	abort(); /* more pollers than this harness expects: a leak in the code under test */
}

/* The real reactor runs flushers after the other pollers; here pollers run in the order they
 * were added, and the transport adds its flusher after its pollers, so that order holds too. */
void hnvmf_reactor_add_flusher(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	hnvmf_reactor_add_poller(r, p);
}

void hnvmf_reactor_del_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p)
{
	(void)r;
	for (int i = 0; i < MAX_POLLERS; i++)
		if (pollers[i] == p)
			pollers[i] = NULL;
}

/* The fake loop runs until nothing is left to do: an awaited answer changes nothing here. */
void hnvmf_reactor_await(struct hnvmf_reactor *r, uint64_t ns)
{
	(void)r;
	(void)ns;
}

void hnvmf_timer_arm(struct hnvmf_reactor *r, struct hnvmf_timer *t, uint64_t ms)
{
	(void)r;
	t->deadline_ns = hnvmf_now_ns() + ms * 1000000ull;
	t->armed = true;
}

void hnvmf_timer_cancel(struct hnvmf_reactor *r, struct hnvmf_timer *t)
{
	(void)r;
	t->armed = false;
}

void hnvmf_reactor_send(struct hnvmf_reactor *r, struct hnvmf_msg *m)
{
	(void)r;
	m->next = NULL;
	if (msg_tail)
		msg_tail->next = m;
	else
		msg_head = m;
	msg_tail = m;
}

struct call {
	struct hnvmf_msg msg;
	void (*fn)(void *);
	void *arg;
};

static void call_run(struct hnvmf_msg *m)
{
	struct call *c = container_of(m, struct call, msg);
	c->fn(c->arg);
	free(c);
}

int hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->msg.fn = call_run;
	c->fn = fn;
	c->arg = arg;
	hnvmf_reactor_send(r, &c->msg);
	return 0;
}

int hnvmf_reactor_call_sync(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg)
{
	(void)r;
	fn(arg);
	return 0;
}

uint64_t hnvmf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int run_msgs(void)
{
	int n = 0;
	while (msg_head) {
		struct hnvmf_msg *m = msg_head;
		msg_head = m->next;
		if (!msg_head)
			msg_tail = NULL;
		m->fn(m);
		n++;
	}
	return n;
}

static int run_fds(void)
{
	int work = 0;
	for (int i = 0; i < MAX_FDS; i++) {
		struct hnvmf_event *ev = fds[i].ev;
		if (!ev)
			continue;
		struct pollfd p = {.fd = ev->fd};
		if (fds[i].mask & EPOLLIN)
			p.events |= POLLIN;
		if (fds[i].mask & EPOLLOUT)
			p.events |= POLLOUT;
		if (poll(&p, 1, 0) != 1)
			continue;
		uint32_t re = 0;
		if (p.revents & POLLIN)
			re |= EPOLLIN;
		if (p.revents & POLLOUT)
			re |= EPOLLOUT;
		if (p.revents & POLLERR)
			re |= EPOLLERR;
		if (p.revents & POLLHUP)
			re |= EPOLLHUP;
		if (!re)
			continue;
		ev->cb(ev, re);
		work++;
	}
	return work;
}

void fuzz_reactor_pump(void)
{
	/* Bounded: a poller that always reports work (an I/O that never completes) must not
	 * hang the fuzzer; the input then ends with whatever state it reached. */
	for (int i = 0; i < 10000; i++) {
		int work = 0;
		for (int p = 0; p < MAX_POLLERS; p++)
			if (pollers[p])
				work += pollers[p]->fn(pollers[p]);
		work += run_msgs();
		work += run_fds();
		if (!work)
			return;
	}
}
