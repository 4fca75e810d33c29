/* Reactors: one event loop per thread (SPDK's poll group, nvmet's io-work). A connection belongs
 * to one reactor at a time (a DAM grant hands it to another between two messages), so its state
 * needs no lock; other threads reach a reactor only through its lock-free inbox (messages and
 * I/O completions) and an eventfd wake-up.
 *
 * A loop iteration: run the pollers, run the inbox's oldest messages (at most
 * HNVMF_REACTOR_INBOX_TURN), fire expired timers, run the flushers, then
 * epoll_wait; the wait does not sleep while a poller or flusher reported work or the inbox was
 * non-empty, nor for the loop's idle spin after its last work (hnvmf_reactor_set_idle_spin). */
#ifndef HNVMF_REACTOR_H
#define HNVMF_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/list.h"

struct hnvmf_reactor;

struct hnvmf_event {
	int fd;
	void (*cb)(struct hnvmf_event *ev, uint32_t revents); /* EPOLLIN / EPOLLOUT / EPOLLERR... */
};

/* Returns the amount of work done; > 0 keeps the loop from sleeping. */
struct hnvmf_poller {
	int (*fn)(struct hnvmf_poller *p);
	struct hnvmf_list link;
};

struct hnvmf_timer {
	uint64_t deadline_ns;
	void (*cb)(struct hnvmf_timer *t);
	struct hnvmf_list link;
	bool armed;
};

/* A unit of cross-thread work; intrusive so the I/O path allocates nothing. */
struct hnvmf_msg {
	void (*fn)(struct hnvmf_msg *m);
	struct hnvmf_msg *next;
};

int hnvmf_reactor_create(const char *name, struct hnvmf_reactor **out);
/* Frees the reactor; it must be stopped and own no events, pollers or timers. */
void hnvmf_reactor_destroy(struct hnvmf_reactor *r);
const char *hnvmf_reactor_name(const struct hnvmf_reactor *r);

/* How long the loop keeps polling after its last work before it sleeps in epoll_wait (default
 * HNVMF_REACTOR_IDLE_SPIN_US): a completion or request that comes within it is caught without a
 * wake-up; past it the loop costs no CPU until an fd or a message wakes it. Adaptive
 * (core/spin.h): while recent spins mostly ran out without work, the loop sleeps at once. Before the loop
 * starts, or on its thread. Shared reactors take [global] idle_spin_us, DAM reactors [pqm]
 * dam_idle_spin_us. */
#define HNVMF_REACTOR_IDLE_SPIN_US 10
void hnvmf_reactor_set_idle_spin(struct hnvmf_reactor *r, unsigned us);
/* On the loop's thread, during a turn's work: an answer to it is expected within ns (a peer
 * that waits for what this turn sent, and answers at once), so after this turn the loop polls
 * on for up to ns, past the idle spin's window and whatever its history says, before it
 * sleeps. Not recorded in the spin's history. */
void hnvmf_reactor_await(struct hnvmf_reactor *r, uint64_t ns);
/* Whether the idle spin yields the CPU on every turn (default: only while ios of this loop are
 * held by another thread, which may be running on this CPU). On for a DAM reactor: its reserved
 * CPU may also run the tenant's initiator or anything else the operator puts there, whose next
 * command the spin waits for; a shared reactor does not, so that it never yields to a
 * long-running thread (a DH-HMAC-CHAP worker) while a request is about to come in. */
void hnvmf_reactor_set_spin_yield(struct hnvmf_reactor *r, bool always);

/* Starts the loop in a thread of its own, pinned to cpu unless cpu < 0. */
int hnvmf_reactor_start(struct hnvmf_reactor *r, int cpu);
/* Runs the loop in the calling thread until hnvmf_reactor_stop. */
void hnvmf_reactor_run(struct hnvmf_reactor *r);
/* Asks the loop to end (from any thread); joins the thread when it was started by _start. */
void hnvmf_reactor_stop(struct hnvmf_reactor *r);
/* The reactor whose loop runs on the calling thread, or NULL. */
struct hnvmf_reactor *hnvmf_reactor_self(void);
/* Loop thread only: delta ios handed to / come back from another thread (the engine counts
 * them so the idle spin knows to yield the CPU to the thread that holds them). */
void hnvmf_reactor_remote_pending(struct hnvmf_reactor *r, int delta);

/* fd events, edge-triggered off (level-triggered): callbacks run on the reactor's thread.
 * Must be called on the reactor's thread, or before it starts. */
int hnvmf_reactor_add_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events);
int hnvmf_reactor_mod_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev, uint32_t events);
/* After del_fd, ev's callback does not run, even if ev was ready in the batch of events the loop
 * is dispatching: the caller may free ev at once. */
void hnvmf_reactor_del_fd(struct hnvmf_reactor *r, struct hnvmf_event *ev);

void hnvmf_reactor_add_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p);
/* A poller that runs after the pollers, the inbox and the timers of every iteration, just before
 * epoll_wait: a transport sends there what the engine completed in this same iteration, instead
 * of one iteration (an epoll_wait and a receive batch) later. Removed with _del_poller. */
void hnvmf_reactor_add_flusher(struct hnvmf_reactor *r, struct hnvmf_poller *p);
void hnvmf_reactor_del_poller(struct hnvmf_reactor *r, struct hnvmf_poller *p);

/* One-shot timers in milliseconds; re-arming an armed timer moves it. Reactor thread only. */
void hnvmf_timer_arm(struct hnvmf_reactor *r, struct hnvmf_timer *t, uint64_t ms);
void hnvmf_timer_cancel(struct hnvmf_reactor *r, struct hnvmf_timer *t);

/* Messages one loop iteration runs at most; the rest run in the next iterations, before anything
 * sent later (the loop does not sleep meanwhile). A burst of completions handed back by the I/O
 * servers (hundreds for a tenant flooding at QD 128) then delays the connections' receive and
 * send of this iteration by at most 128 messages' work: a whole QD 128 queue's completions, as a
 * TCP connection parses 128 PDUs per iteration (transport/tcp/tcp-turn.c says why not fewer). */
#define HNVMF_REACTOR_INBOX_TURN 128

/* From any thread: m->fn(m) runs later on r's thread, in the order sent by one sender. */
void hnvmf_reactor_send(struct hnvmf_reactor *r, struct hnvmf_msg *m);
/* Allocating convenience for the control path: fn(arg) runs on r's thread. */
int hnvmf_reactor_call(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg);
/* From any thread: runs fn(arg) on r's thread and waits for it to return. Not from r itself. */
int hnvmf_reactor_call_sync(struct hnvmf_reactor *r, void (*fn)(void *arg), void *arg);

uint64_t hnvmf_now_ns(void); /* CLOCK_MONOTONIC */

#endif
