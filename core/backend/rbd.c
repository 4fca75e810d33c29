/* Ceph RBD image through librbd's asynchronous API.
 *
 * One rados cluster handle, one I/O context and ONE open image per backend, shared by every queue
 * pair: each open image is a client of its own to the cluster, and two of them writing one image
 * with exclusive-lock (the default feature set) pass the lock back and forth on every write.
 *
 * Completions never run engine code on librados' threads: their only work for us is librbd's
 * eventfd write. Completions are made without a callback and the image has an eventfd registered
 * (rbd_set_image_notification): librbd queues each finished completion on the image and writes
 * the eventfd; rbd_poll_io_events hands them out. That queue is the image's, not a queue pair's,
 * so whichever owner polls it may get another queue pair's completions: those it passes to their
 * owner through a lock-free list and that owner's own eventfd. Only the owner of a queue pair
 * finishes its bios, on its own thread: the reactor (direct) or the I/O server (PQM, DAM,
 * baseline) that submitted them.
 *
 * An owner sleeps on one fd per queue pair (hnvmf_bqp_arm): an epoll instance holding the
 * image's eventfd (any completion of the image) and the queue pair's own (one routed to it), so
 * the owner can put it in its own poll or epoll set. arm drains both, then polls the image and
 * the routed list; what completes after that look writes one of the two again.  *
 * librbd's cache is off (rbd_cache = false) so that a write completes only when the OSDs have it;
 * that makes FUA a plain write. Partial discards are not skipped (rbd_skip_partial_discard =
 * false): Deallocate promises zeroes on later reads. rados_mon_op_timeout, rados_osd_op_timeout
 * and client_mount_timeout bound connect and every operation, so an unreachable cluster fails
 * open and I/O with -ETIMEDOUT instead of waiting forever (librbd offers no way to abandon an
 * operation it holds: its buffers are ours until it completes). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/backend/backend-impl.h"
#include "core/backend/ceph-lib.h"

#define DEFAULT_TIMEOUT_S 10
#define POLL_BATCH 64

struct rbd_backend {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	int efd; /* librbd writes it for each finished completion */
};

struct rbd_qp;

struct rbd_slot {
	struct hnvmf_bio *bio;
	struct rbd_qp *owner;
	rbd_completion_t comp;
	struct rbd_slot *_Atomic next_routed; /* on the owner's routed list */
	struct rbd_slot *next_free;
};

struct rbd_qp {
	struct hnvmf_bqp *qp;
	struct rbd_backend *rb;
	int efd;  /* written by another queue pair after it routed us a completion */
	int epfd; /* what the owner sleeps on: the image's eventfd and efd (hnvmf_bqp_arm) */
	struct rbd_slot *_Atomic routed; /* completions polled by another queue pair (LIFO) */
	unsigned busy;
	struct rbd_slot *free;
	struct rbd_slot slots[];
};

static int set_conf(rados_t c, const char *key, const char *val, char *errmsg, size_t errlen)
{
	int rc = hnvmf_ceph.rados_conf_set(c, key, val);

	if (rc < 0)
		hnvmf_backend_errmsg(errmsg, errlen, "ceph option %s = %s: %s", key, val, strerror(-rc));
	return rc;
}

/* The cluster handle: the ceph.conf, then our own settings over it, then connect (bounded by the
 * mount and mon timeouts). */
static int connect_cluster(struct rbd_backend *rb, const struct hnvmf_rbd_params *p, char *errmsg,
			   size_t errlen)
{
	char name[128], secs[16];
	unsigned t = p->timeout_s ? p->timeout_s : DEFAULT_TIMEOUT_S;
	int rc;

	snprintf(name, sizeof(name), "client.%s", p->client && p->client[0] ? p->client : "admin");
	rc = hnvmf_ceph.rados_create2(&rb->cluster, "ceph", name, 0);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "hnvmf_ceph.rados_create2(%s): %s", name, strerror(-rc));
		return rc;
	}
	rc = hnvmf_ceph.rados_conf_read_file(rb->cluster, p->ceph_conf);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "ceph_conf %s: %s", p->ceph_conf, strerror(-rc));
		goto fail;
	}
	snprintf(secs, sizeof(secs), "%u", t);
	if ((rc = set_conf(rb->cluster, "rbd_cache", "false", errmsg, errlen)) < 0 ||
	    (rc = set_conf(rb->cluster, "rbd_skip_partial_discard", "false", errmsg, errlen)) < 0 ||
	    (rc = set_conf(rb->cluster, "client_mount_timeout", secs, errmsg, errlen)) < 0 ||
	    (rc = set_conf(rb->cluster, "rados_mon_op_timeout", secs, errmsg, errlen)) < 0 ||
	    (rc = set_conf(rb->cluster, "rados_osd_op_timeout", secs, errmsg, errlen)) < 0)
		goto fail;
	rc = hnvmf_ceph.rados_connect(rb->cluster);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "cannot connect to the Ceph cluster of %s as %s within %u s: %s",
				     p->ceph_conf, name, t, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	hnvmf_ceph.rados_shutdown(rb->cluster);
	return rc;
}

static void rbd_be_close(struct hnvmf_backend *be)
{
	struct rbd_backend *rb = be->priv;

	hnvmf_ceph.rbd_close(rb->image);
	hnvmf_ceph.rados_ioctx_destroy(rb->ioctx);
	hnvmf_ceph.rados_shutdown(rb->cluster);
	close(rb->efd);
	free(rb);
}

static int rbd_be_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *bp, char *errmsg,
		       size_t errlen)
{
	const struct hnvmf_rbd_params *p = &bp->rbd;
	struct rbd_backend *rb;
	uint64_t size;
	int rc;

	char why[256];
	if (hnvmf_ceph_load(why, sizeof(why)) != 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "%s", why);
		return -ENOSYS;
	}
	if (!p->ceph_conf || !p->pool || !p->image) {
		hnvmf_backend_errmsg(errmsg, errlen, "rbd backend needs ceph_conf, pool and image");
		return -EINVAL;
	}
	rb = calloc(1, sizeof(*rb));
	if (!rb) {
		hnvmf_backend_errmsg(errmsg, errlen, "out of memory");
		return -ENOMEM;
	}
	rb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rb->efd < 0) {
		rc = -errno;
		hnvmf_backend_errmsg(errmsg, errlen, "eventfd: %s", strerror(-rc));
		free(rb);
		return rc;
	}
	rc = connect_cluster(rb, p, errmsg, errlen);
	if (rc < 0)
		goto fail_efd;
	rc = hnvmf_ceph.rados_ioctx_create(rb->cluster, p->pool, &rb->ioctx);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "pool %s: %s", p->pool, strerror(-rc));
		goto fail_cluster;
	}
	if (p->rados_namespace && p->rados_namespace[0])
		hnvmf_ceph.rados_ioctx_set_namespace(rb->ioctx, p->rados_namespace);
	rc = bp->readonly ? hnvmf_ceph.rbd_open_read_only(rb->ioctx, p->image, &rb->image, NULL)
			  : hnvmf_ceph.rbd_open(rb->ioctx, p->image, &rb->image, NULL);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "image %s/%s%s%s: %s", p->pool,
				     p->rados_namespace && p->rados_namespace[0] ? p->rados_namespace : "",
				     p->rados_namespace && p->rados_namespace[0] ? "/" : "", p->image,
				     strerror(-rc));
		goto fail_ioctx;
	}
	rc = hnvmf_ceph.rbd_get_size(rb->image, &size);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "image %s: size: %s", p->image, strerror(-rc));
		goto fail_image;
	}
	if (bp->size > size) {
		hnvmf_backend_errmsg(errmsg, errlen, "size %llu is larger than image %s/%s (%llu bytes)",
				     (unsigned long long)bp->size, p->pool, p->image,
				     (unsigned long long)size);
		rc = -EINVAL;
		goto fail_image;
	}
	rc = hnvmf_ceph.rbd_set_image_notification(rb->image, rb->efd, EVENT_TYPE_EVENTFD);
	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "image %s: event notification: %s", p->image,
				     strerror(-rc));
		goto fail_image;
	}
	be->size = bp->size ? bp->size : size;
	be->priv = rb;
	return 0;
fail_image:
	hnvmf_ceph.rbd_close(rb->image);
fail_ioctx:
	hnvmf_ceph.rados_ioctx_destroy(rb->ioctx);
fail_cluster:
	hnvmf_ceph.rados_shutdown(rb->cluster);
fail_efd:
	close(rb->efd);
	free(rb);
	return rc;
}

/* The image's size now (librbd learns an `rbd resize` from the header's watch); a configured
 * size larger than the image is refused, as at open. */
static int rbd_be_probe_size(struct hnvmf_backend *be, uint64_t want, uint64_t *size, char *errmsg,
			     size_t errlen)
{
	struct rbd_backend *rb = be->priv;
	uint64_t img;
	int rc = hnvmf_ceph.rbd_get_size(rb->image, &img);

	if (rc < 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "image size: %s", strerror(-rc));
		return rc;
	}
	if (want > img) {
		hnvmf_backend_errmsg(errmsg, errlen, "size %llu is larger than the image (%llu bytes)",
				     (unsigned long long)want, (unsigned long long)img);
		return -EINVAL;
	}
	*size = want ? want : img;
	return 0;
}

static int rbd_qp_open(struct hnvmf_bqp *qp)
{
	struct rbd_qp *q = calloc(1, sizeof(*q) + qp->depth * sizeof(q->slots[0]));
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if (!q)
		return -ENOMEM;
	q->rb = qp->be->priv;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* Level-triggered: the epoll fd stays readable while either eventfd holds a count, however
	 * many owners' epoll instances watch the image's. */
	if (q->efd < 0 || q->epfd < 0 || epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->rb->efd, &ev) < 0 ||
	    epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->efd, &ev) < 0) {
		rc = -errno;
		if (q->efd >= 0)
			close(q->efd);
		if (q->epfd >= 0)
			close(q->epfd);
		free(q);
		return rc;
	}
	q->qp = qp;
	for (unsigned i = qp->depth; i-- > 0;) {
		q->slots[i].owner = q;
		q->slots[i].next_free = q->free;
		q->free = &q->slots[i];
	}
	qp->priv = q;
	return 0;
}

static int rbd_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct rbd_qp *q = qp->priv;
	rbd_image_t img = q->rb->image;
	struct rbd_slot *s = q->free;
	int rc;

	if (!s)
		return -EAGAIN;
	rc = hnvmf_ceph.rbd_aio_create_completion(s, NULL, &s->comp);
	if (rc < 0)
		return rc;
	s->bio = bio;
	switch (bio->op) {
	case HNVMF_BIO_READ:
		rc = hnvmf_ceph.rbd_aio_readv(img, bio->iov, bio->iovcnt, bio->offset, s->comp);
		break;
	case HNVMF_BIO_WRITE: /* FUA too: with the cache off a write completes once it is durable */
		rc = hnvmf_ceph.rbd_aio_writev(img, bio->iov, bio->iovcnt, bio->offset, s->comp);
		break;
	case HNVMF_BIO_FLUSH:
		rc = hnvmf_ceph.rbd_aio_flush(img, s->comp);
		break;
	case HNVMF_BIO_WRITE_ZEROES:
		rc = hnvmf_ceph.rbd_aio_write_zeroes(img, bio->offset, bio->len, s->comp, 0, 0);
		break;
	default: /* HNVMF_BIO_DISCARD */
		rc = hnvmf_ceph.rbd_aio_discard(img, bio->offset, bio->len, s->comp);
		break;
	}
	if (rc < 0) {
		/* Refused before it started: nothing will complete, finish it as failed. */
		hnvmf_ceph.rbd_aio_release(s->comp);
		hnvmf_bqp_complete(qp, bio, rc);
		return 0;
	}
	q->free = s->next_free;
	q->busy++;
	return 0;
}

/* Owner's thread only. A read completes with the bytes read, the other operations with 0. */
static void finish(struct rbd_qp *q, struct rbd_slot *s)
{
	ssize_t r = hnvmf_ceph.rbd_aio_get_return_value(s->comp);
	struct hnvmf_bio *bio = s->bio;

	hnvmf_ceph.rbd_aio_release(s->comp);
	if (r >= 0 && bio->op == HNVMF_BIO_READ && (uint64_t)r != bio->len)
		r = -EIO;
	hnvmf_bqp_complete(q->qp, bio, r < 0 ? (int)r : 0);
	s->bio = NULL;
	s->next_free = q->free;
	q->free = s;
	q->busy--;
}

/* Always signals the owner: it may be asleep on its epoll fd, and a flag saying whether it sleeps
 * would have to be cleared by whoever reaps, which for the baseline's shared queue pair is not
 * always the thread that sleeps. One eventfd write per completion that lands at the wrong owner. */
static void route(struct rbd_slot *s)
{
	struct rbd_qp *owner = s->owner;
	struct rbd_slot *head = atomic_load_explicit(&owner->routed, memory_order_relaxed);
	uint64_t one = 1;

	do
		atomic_store_explicit(&s->next_routed, head, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&owner->routed, &head, s, memory_order_release,
						      memory_order_relaxed));
	(void)!write(owner->efd, &one, sizeof(one));
}

static void rbd_reap(struct hnvmf_bqp *qp)
{
	struct rbd_qp *q = qp->priv;
	rbd_completion_t comps[POLL_BATCH];
	struct rbd_slot *list, *rev = NULL;
	int n;

	do {
		n = hnvmf_ceph.rbd_poll_io_events(q->rb->image, comps, POLL_BATCH);
		for (int i = 0; i < n; i++) {
			struct rbd_slot *s = hnvmf_ceph.rbd_aio_get_arg(comps[i]);

			if (s->owner == q)
				finish(q, s);
			else
				route(s);
		}
	} while (n == POLL_BATCH);
	if (!atomic_load_explicit(&q->routed, memory_order_relaxed))
		return;
	/* The list is LIFO; finish in the order they were routed. */
	list = atomic_exchange_explicit(&q->routed, NULL, memory_order_acquire);
	while (list) {
		struct rbd_slot *next = atomic_load_explicit(&list->next_routed, memory_order_relaxed);

		list->next_routed = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct rbd_slot *next = rev->next_routed;

		finish(q, rev);
		rev = next;
	}
}

static void drain_fd(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* Drain, then look: librbd queues a completion before it writes the image's eventfd, a router
 * pushes on our list before it writes ours, so what this look misses makes the epoll fd readable.
 * Draining the image's eventfd may take a wake-up from another owner asleep on it: this look then
 * polls the image and routes that owner its completions, which writes its own eventfd. */
static int rbd_arm(struct hnvmf_bqp *qp, int *fd)
{
	struct rbd_qp *q = qp->priv;

	drain_fd(q->efd);
	drain_fd(q->rb->efd);
	rbd_reap(qp);
	if (qp->done_head)
		return 1;
	*fd = q->epfd;
	return 0;
}

static int rbd_wait(struct hnvmf_bqp *qp, int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	int rc = rbd_arm(qp, &pfd.fd);

	if (rc)
		return 0;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIME : 0;
}

/* Waits for everything librbd still holds for us: its buffers are the caller's. */
static void rbd_qp_close(struct hnvmf_bqp *qp)
{
	struct rbd_qp *q = qp->priv;

	while (q->busy) {
		rbd_reap(qp);
		if (q->busy)
			rbd_wait(qp, 100);
	}
	close(q->epfd);
	close(q->efd);
	free(q);
}

const struct hnvmf_backend_ops hnvmf_backend_rbd_ops = {
	.open = rbd_be_open,
	.close = rbd_be_close,
	.probe_size = rbd_be_probe_size,
	.qp_open = rbd_qp_open,
	.qp_close = rbd_qp_close,
	.submit = rbd_submit,
	.reap = rbd_reap,
	.wait = rbd_wait,
	.arm = rbd_arm,
};

/* The image's RADOS client address, as rados_getaddrs gives it: a gateway group's owner mark
 * lists it, so that a takeover fences this client too (target/gw-group.h, fence_addrs). */
int hnvmf_rbd_client_addr(const struct hnvmf_backend *be, char *out, size_t len)
{
	if (be->ops != &hnvmf_backend_rbd_ops)
		return -EOPNOTSUPP;
	const struct rbd_backend *rb = be->priv;
	char *addrs = NULL;
	int rc = hnvmf_ceph.rados_getaddrs(rb->cluster, &addrs);
	if (rc < 0)
		return rc;
	snprintf(out, len, "%s", addrs);
	hnvmf_ceph.rados_buffer_free(addrs);
	return 0;
}
