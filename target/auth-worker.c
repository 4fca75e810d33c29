/* DH-HMAC-CHAP's worker pool (see auth-worker.h): a mutex-protected FIFO of intrusive jobs and a
 * condition variable. Jobs are rare (a few per authentication), so a lock costs nothing here;
 * the completion goes back through the reactor's lock-free inbox. */
#include "target/auth-worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"

/* Workers' nice value: above the reactors' 0, so the scheduler prefers I/O. */
#define AUTH_WORKER_NICE 10

struct hnvmf_auth_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hnvmf_auth_job *head, *tail;
	unsigned queued, max_queued;
	bool stop;
	unsigned nworkers;
	pthread_t *threads;
	atomic_uint next_id; /* for the threads' names */
	atomic_uint_fast64_t done, refused;
};

static void *worker_main(void *arg)
{
	struct hnvmf_auth_pool *p = arg;
	char name[16];
	snprintf(name, sizeof(name), "hnvmf-auth%u", atomic_fetch_add(&p->next_id, 1));
	pthread_setname_np(pthread_self(), name);
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), AUTH_WORKER_NICE) != 0)
		log_debug("%s: cannot lower its priority", name); /* runs anyway, at the reactors' */

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		struct hnvmf_auth_job *j = p->head;
		if (!j) { /* stopping, and nothing left */
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);

		j->work(j);
		atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
		hnvmf_reactor_send(j->reactor, &j->msg);
	}
}

int hnvmf_auth_pool_create(unsigned nworkers, struct hnvmf_auth_pool **out)
{
	if (nworkers == 0)
		return -EINVAL;
	struct hnvmf_auth_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->threads = calloc(nworkers, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->max_queued = nworkers * HNVMF_AUTH_JOBS_PER_WORKER;
	unsigned started = 0;
	int rc = 0;
	for (; started < nworkers; started++) {
		rc = -pthread_create(&p->threads[started], NULL, worker_main, p);
		if (rc)
			break;
	}
	p->nworkers = started;
	if (rc) {
		hnvmf_auth_pool_destroy(p);
		return rc;
	}
	*out = p;
	return 0;
}

void hnvmf_auth_pool_destroy(struct hnvmf_auth_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}

int hnvmf_auth_pool_submit(struct hnvmf_auth_pool *p, struct hnvmf_auth_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->queued >= p->max_queued) {
		pthread_mutex_unlock(&p->lock);
		atomic_fetch_add_explicit(&p->refused, 1, memory_order_relaxed);
		return -EBUSY;
	}
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

unsigned hnvmf_auth_pool_workers(const struct hnvmf_auth_pool *p) { return p->nworkers; }

uint64_t hnvmf_auth_pool_jobs_done(const struct hnvmf_auth_pool *p)
{
	return atomic_load_explicit(&p->done, memory_order_relaxed);
}

uint64_t hnvmf_auth_pool_jobs_refused(const struct hnvmf_auth_pool *p)
{
	return atomic_load_explicit(&p->refused, memory_order_relaxed);
}
