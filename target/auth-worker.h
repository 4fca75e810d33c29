/* DH-HMAC-CHAP's worker pool: the Diffie-Hellman steps of an exchange (the controller's key pair,
 * the shared secret) are modular exponentiations of up to 8192 bits, milliseconds each. On a
 * reactor they would stall every queue of that reactor, and a host needs no secret to ask for
 * them (security issue #10). So a reactor hands them to these threads and goes on; the result
 * comes back to the reactor as a message (core/reactor.h), where the exchange continues.
 *
 * The queue of waiting jobs is bounded: a reactor whose job does not fit gets -EBUSY at once
 * and fails the command with a status the host may retry (target/auth.c). Workers run at a
 * lower priority than the reactors, so authentication never takes CPU that I/O wants. */
#ifndef HNVMF_AUTH_WORKER_H
#define HNVMF_AUTH_WORKER_H

#include <stdint.h>

#include "core/reactor.h"

/* Waiting jobs per worker; beyond that the pool is full. */
#define HNVMF_AUTH_JOBS_PER_WORKER 16

struct hnvmf_auth_pool;

/* One job: work runs on a worker thread, then msg.fn runs on reactor. Owned by the submitter
 * until msg.fn runs; touched by nobody else meanwhile. */
struct hnvmf_auth_job {
	void (*work)(struct hnvmf_auth_job *j);
	struct hnvmf_msg msg; /* msg.fn: the completion, set by the submitter */
	struct hnvmf_reactor *reactor;
	struct hnvmf_auth_job *next; /* the pool's queue */
};

/* nworkers threads, named "hnvmf-auth<i>". 0 or a negative errno. */
int hnvmf_auth_pool_create(unsigned nworkers, struct hnvmf_auth_pool **out);
/* Stops and joins the workers; no job may be queued or running (every queue is gone). */
void hnvmf_auth_pool_destroy(struct hnvmf_auth_pool *p);
/* From a reactor: queues j; j->reactor is the caller's. 0, or -EBUSY when the queue is full. */
int hnvmf_auth_pool_submit(struct hnvmf_auth_pool *p, struct hnvmf_auth_job *j);
unsigned hnvmf_auth_pool_workers(const struct hnvmf_auth_pool *p);
/* Jobs the workers have run, and submissions refused because the queue was full. */
uint64_t hnvmf_auth_pool_jobs_done(const struct hnvmf_auth_pool *p);
uint64_t hnvmf_auth_pool_jobs_refused(const struct hnvmf_auth_pool *p);

#endif
