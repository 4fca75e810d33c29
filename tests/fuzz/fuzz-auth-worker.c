/* DH-HMAC-CHAP's worker pool for the fuzz targets, linked in place of target/auth-worker.c as
 * fuzz-reactor.c is in place of core/reactor.c: a job's work runs at once on the submitting
 * thread and its completion is queued on the (single-threaded) fuzz reactor, so it still runs
 * after submit returned, as with real workers. No thread, so an input is deterministic and its
 * pump sees every completion; the real pool is tested by test_auth_worker and test_auth_dos. */
#include <errno.h>
#include <stdlib.h>

#include "target/auth-worker.h"

struct hnvmf_auth_pool {
	unsigned nworkers;
	uint64_t done;
};

int hnvmf_auth_pool_create(unsigned nworkers, struct hnvmf_auth_pool **out)
{
	if (nworkers == 0)
		return -EINVAL;
	struct hnvmf_auth_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nworkers = nworkers;
	*out = p;
	return 0;
}

void hnvmf_auth_pool_destroy(struct hnvmf_auth_pool *p) { free(p); }

int hnvmf_auth_pool_submit(struct hnvmf_auth_pool *p, struct hnvmf_auth_job *j)
{
	j->next = NULL;
	j->work(j);
	p->done++;
	hnvmf_reactor_send(j->reactor, &j->msg);
	return 0;
}

unsigned hnvmf_auth_pool_workers(const struct hnvmf_auth_pool *p) { return p->nworkers; }
uint64_t hnvmf_auth_pool_jobs_done(const struct hnvmf_auth_pool *p) { return p->done; }
uint64_t hnvmf_auth_pool_jobs_refused(const struct hnvmf_auth_pool *p)
{
	(void)p;
	return 0;
}
