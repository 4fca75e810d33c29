/* The baseline path: the conventional design that PQM and DAM are measured against.
 *
 * One adapter queue shared by every channel of the engine, guarded by one mutex. Its I/O
 * servers take the lock, take a request, submit it to the backend queue pair the adapter shares,
 * and WAIT for the device to complete it while still holding the lock; then they wake the
 * submitting reactor (eventfd) to deliver the completion. So at most one request is at the
 * device at a time, and every reactor contends for one lock: that is the point of comparison.
 * It must still be correct: every io completes exactly once, on its reactor. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/path.h"
#include "core/thread.h"

#define BASELINE_SERVERS_MAX 64

struct adapter_qp {
	struct hnvmf_backend *be;
	struct hnvmf_bqp *qp;
	struct adapter_qp *next;
};

struct baseline {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct hnvmf_io *head, *tail; /* the adapter queue */
	struct adapter_qp *qps;       /* one shared queue pair per backend, used under lock */
	unsigned nchans;
	bool stop;
	pthread_t servers[BASELINE_SERVERS_MAX];
	unsigned nservers;
};

static struct hnvmf_bqp *adapter_qp_locked(struct baseline *b, struct hnvmf_backend *be, int *err)
{
	for (struct adapter_qp *a = b->qps; a; a = a->next)
		if (a->be == be)
			return a->qp;
	struct adapter_qp *a = calloc(1, sizeof(*a));
	if (!a) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = hnvmf_bqp_open(be, 1, &a->qp);
	if (*err) {
		free(a);
		return NULL;
	}
	a->be = be;
	a->next = b->qps;
	b->qps = a;
	return a->qp;
}

static void *baseline_server(void *arg)
{
	struct baseline *b = arg;
	pthread_setname_np(pthread_self(), "hnvmf-base");
	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->head && !b->stop)
			pthread_cond_wait(&b->work, &b->lock);
		if (!b->head && b->stop)
			break;
		struct hnvmf_io *io = b->head;
		b->head = io->next;
		if (!b->head)
			b->tail = NULL;
		/* Held across the device I/O, as the conventional driver does. */
		int err = 0;
		struct hnvmf_bqp *qp = adapter_qp_locked(b, io->chan->be, &err);
		if (qp) {
			io->bio.priv = io;
			err = hnvmf_bqp_submit(qp, &io->bio);
			if (!err) {
				hnvmf_bqp_kick(qp);
				struct hnvmf_bio *done;
				while (hnvmf_bqp_wait(qp, &done, 1, -1) != 1)
					;
			}
		}
		if (err)
			io->bio.result = err;
		hnvmf_io_complete_remote(io); /* wake-up completion on the reactor */
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int engine_baseline(struct hnvmf_engine *e, struct baseline **out)
{
	/* Created with the first baseline channel; lives as long as the engine. */
	static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&create_lock);
	struct baseline *b = e->baseline;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			pthread_mutex_unlock(&create_lock);
			return -ENOMEM;
		}
		pthread_mutex_init(&b->lock, NULL);
		pthread_cond_init(&b->work, NULL);
		unsigned n = e->opts.baseline_servers ? e->opts.baseline_servers
						      : e->opts.pqm_cmax ? e->opts.pqm_cmax : 1;
		if (n > BASELINE_SERVERS_MAX)
			n = BASELINE_SERVERS_MAX;
		for (unsigned i = 0; i < n; i++) {
			if (pthread_create(&b->servers[i], NULL, baseline_server, b) != 0)
				break;
			hnvmf_thread_pin(b->servers[i], hnvmf_engine_server_cpu(e), "baseline server");
			b->nservers++;
		}
		if (!b->nservers) {
			free(b);
			pthread_mutex_unlock(&create_lock);
			return -EAGAIN;
		}
		e->baseline = b;
	}
	pthread_mutex_unlock(&create_lock);
	*out = b;
	return 0;
}

void hnvmf_baseline_engine_stop(struct hnvmf_engine *e)
{
	struct baseline *b = e->baseline;
	if (!b)
		return;
	hnvmf_thread_request_stop(&b->lock, &b->work, &b->stop);
	for (unsigned i = 0; i < b->nservers; i++)
		pthread_join(b->servers[i], NULL);
	while (b->qps) {
		struct adapter_qp *a = b->qps;
		b->qps = a->next;
		hnvmf_bqp_close(a->qp);
		free(a);
	}
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->work);
	free(b);
	e->baseline = NULL;
}

int hnvmf_baseline_open(struct hnvmf_chan *ch)
{
	struct baseline *b;
	int rc = engine_baseline(ch->eng, &b);
	if (rc)
		return rc;
	ch->priv = b;
	return 0;
}

/* The adapter queue has no bound: it always takes the io. */
bool hnvmf_baseline_push(struct hnvmf_chan *ch, struct hnvmf_io *io)
{
	struct baseline *b = ch->priv;
	io->next = NULL;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = io;
	else
		b->head = io;
	b->tail = io;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
	return true;
}

void hnvmf_baseline_close(struct hnvmf_chan *ch) { (void)ch; }
