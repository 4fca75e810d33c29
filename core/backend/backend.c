/* The backend dispatch: picks the ops table by type, and does what every backend needs done the
 * same way (parameter and range checks, read-only refusal, queue-pair depth, the completion list)
 * so that each backend file holds only its own storage logic. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/backend/backend-file.h"
#include "core/backend/backend-impl.h"

/* NULL where this build left a backend out (rbd without librbd). */
static const struct hnvmf_backend_ops *const ops_by_type[HNVMF_BACKEND_RBD + 1] = {
	[HNVMF_BACKEND_RAM] = &hnvmf_backend_ram_ops,
	[HNVMF_BACKEND_NULL] = &hnvmf_backend_null_ops,
	[HNVMF_BACKEND_FILE] = &hnvmf_backend_uring_ops,
#ifdef HNVMF_WITH_RBD
	[HNVMF_BACKEND_RBD] = &hnvmf_backend_rbd_ops,
#endif
};

static const char *const type_names[] = {
	[HNVMF_BACKEND_RAM] = "ram",
	[HNVMF_BACKEND_NULL] = "null",
	[HNVMF_BACKEND_FILE] = "file",
	[HNVMF_BACKEND_RBD] = "rbd",
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *hnvmf_backend_type_name(enum hnvmf_backend_type t)
{
	if ((unsigned)t >= N_TYPES)
		return "unknown";
	return type_names[t];
}

void hnvmf_backend_errmsg(char *errmsg, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, errlen, fmt, ap);
	va_end(ap);
}

/* The NVMe logical block sizes this target exposes; 0 lets the backend pick (the block device's
 * own, else 512). */
static bool block_size_valid(uint32_t bs)
{
	return bs == 0 || (bs >= 512 && bs <= 4096 && (bs & (bs - 1)) == 0);
}

int hnvmf_backend_open(const struct hnvmf_backend_params *p, struct hnvmf_backend **out,
		       char *errmsg, size_t errlen)
{
	struct hnvmf_backend *be;
	int rc;

	hnvmf_backend_errmsg(errmsg, errlen, "no error");
	if ((unsigned)p->type >= N_TYPES) {
		hnvmf_backend_errmsg(errmsg, errlen, "unknown backend type %d", (int)p->type);
		return -EINVAL;
	}
	if (!block_size_valid(p->block_size)) {
		hnvmf_backend_errmsg(errmsg, errlen, "block size %u is not 512, 1024, 2048 or 4096",
				     p->block_size);
		return -EINVAL;
	}
	if (!ops_by_type[p->type]) {
		hnvmf_backend_errmsg(errmsg, errlen, "this hnvmfd was built without the %s backend",
				     type_names[p->type]);
		return -EOPNOTSUPP;
	}
	be = calloc(1, sizeof(*be));
	if (!be) {
		hnvmf_backend_errmsg(errmsg, errlen, "out of memory");
		return -ENOMEM;
	}
	be->ops = ops_by_type[p->type];
	be->type = p->type;
	be->readonly = p->readonly;
	be->block_size = p->block_size ? p->block_size : 512;
	rc = be->ops->open(be, p, errmsg, errlen);
	if (rc < 0) {
		free(be);
		return rc;
	}
	/* A namespace holds whole blocks; a tail smaller than a block is not addressable. */
	be->size -= be->size % be->block_size;
	if (be->size == 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "%s backend%s%s is smaller than one %u-byte block",
				     type_names[p->type], p->path ? " " : "", p->path ? p->path : "",
				     be->block_size);
		be->ops->close(be);
		free(be);
		return -EINVAL;
	}
	*out = be;
	return 0;
}

void hnvmf_backend_close(struct hnvmf_backend *be)
{
	if (!be)
		return;
	be->ops->close(be);
	free(be);
}

void hnvmf_backend_use(struct hnvmf_backend *be) { __atomic_fetch_add(&be->users, 1, __ATOMIC_RELAXED); }

/* Release: what the user did with the backend happens before a closer sees the count drop. */
void hnvmf_backend_unuse(struct hnvmf_backend *be) { __atomic_fetch_sub(&be->users, 1, __ATOMIC_RELEASE); }

unsigned hnvmf_backend_users(const struct hnvmf_backend *be) { return __atomic_load_n(&be->users, __ATOMIC_ACQUIRE); }

uint64_t hnvmf_backend_size(const struct hnvmf_backend *be)
{
	return __atomic_load_n(&be->size, __ATOMIC_RELAXED);
}

int hnvmf_backend_probe_resize(struct hnvmf_backend *be, uint64_t want, uint64_t *size, char *errmsg,
			       size_t errlen)
{
	if (!be->ops->probe_size) {
		hnvmf_backend_errmsg(errmsg, errlen, "a %s backend cannot change size while it is open "
				     "(remove its namespace and add it again)", type_names[be->type]);
		return -EOPNOTSUPP;
	}
	uint64_t sz;
	int rc = be->ops->probe_size(be, want, &sz, errmsg, errlen);
	if (rc < 0)
		return rc;
	sz -= sz % be->block_size;
	uint64_t now = hnvmf_backend_size(be);
	if (sz < now) {
		hnvmf_backend_errmsg(errmsg, errlen, "%llu bytes is smaller than the %llu in use: a "
				     "namespace does not shrink while it exists",
				     (unsigned long long)sz, (unsigned long long)now);
		return -EBUSY;
	}
	*size = sz;
	return 0;
}

void hnvmf_backend_set_size(struct hnvmf_backend *be, uint64_t size)
{
	/* Readers on other threads load it once per bio: never torn (aligned 64-bit); a stale
	 * value refuses a bio beyond the old end for a moment, as before the resize. */
	__atomic_store_n(&be->size, size, __ATOMIC_RELAXED);
}
uint32_t hnvmf_backend_block_size(const struct hnvmf_backend *be) { return be->block_size; }
bool hnvmf_backend_readonly(const struct hnvmf_backend *be) { return be->readonly; }
bool hnvmf_backend_direct(const struct hnvmf_backend *be)
{
	return be->type == HNVMF_BACKEND_FILE && hnvmf_file_backend_is_direct(be);
}

bool hnvmf_backend_can_poll(const struct hnvmf_backend *be, char *why, size_t len)
{
	if (!be->ops->can_poll) {
		hnvmf_backend_errmsg(why, len, "a %s backend has no device queue to poll",
				     hnvmf_backend_type_name(be->type));
		return false;
	}
	return be->ops->can_poll(be, why, len);
}

int hnvmf_bqp_open(struct hnvmf_backend *be, unsigned depth, struct hnvmf_bqp **out)
{
	return hnvmf_bqp_open_poll(be, depth, HNVMF_POLL_NO, out, NULL, 0);
}

int hnvmf_bqp_open_poll(struct hnvmf_backend *be, unsigned depth, enum hnvmf_poll_mode poll,
			struct hnvmf_bqp **out, char *why, size_t len)
{
	struct hnvmf_bqp *qp;
	int rc;

	if (depth == 0)
		return -EINVAL;
	bool polled = false;
	if (poll != HNVMF_POLL_NO) {
		polled = hnvmf_backend_can_poll(be, why, len);
		if (!polled && poll == HNVMF_POLL_YES)
			return -EOPNOTSUPP;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return -ENOMEM;
	qp->be = be;
	qp->ops = be->ops;
	qp->depth = depth;
	qp->polled = polled;
	qp->done_tail = &qp->done_head;
	if (qp->ops->qp_open) {
		rc = qp->ops->qp_open(qp);
		if (rc < 0) {
			free(qp);
			return rc;
		}
	}
	*out = qp;
	return 0;
}

bool hnvmf_bqp_polled(const struct hnvmf_bqp *qp) { return qp->polled; }

uint64_t hnvmf_bqp_polled_done(const struct hnvmf_bqp *qp) { return qp->polled_done; }

void hnvmf_bqp_close(struct hnvmf_bqp *qp)
{
	if (!qp)
		return;
	if (qp->ops->qp_close)
		qp->ops->qp_close(qp);
	free(qp);
}

/* The checks every backend shares. Overflow-safe: offset + len is never computed. */
static int bio_check(const struct hnvmf_backend *be, const struct hnvmf_bio *bio)
{
	uint64_t total = 0, size = hnvmf_backend_size(be);

	switch (bio->op) {
	case HNVMF_BIO_FLUSH:
		return 0; /* whole namespace: offset and len are not used */
	case HNVMF_BIO_READ:
		break;
	case HNVMF_BIO_WRITE:
	case HNVMF_BIO_WRITE_ZEROES:
	case HNVMF_BIO_DISCARD:
		if (be->readonly)
			return -EROFS;
		break;
	default:
		return -EINVAL;
	}
	if (bio->offset > size || bio->len > size - bio->offset)
		return -EINVAL;
	if (bio->op != HNVMF_BIO_READ && bio->op != HNVMF_BIO_WRITE)
		return 0;
	if (bio->iovcnt < 0 || bio->iovcnt > IOV_MAX || (bio->iovcnt && !bio->iov))
		return -EINVAL;
	for (int i = 0; i < bio->iovcnt; i++) {
		if (bio->iov[i].iov_len > bio->len - total)
			return -EINVAL;
		total += bio->iov[i].iov_len;
	}
	return total == bio->len ? 0 : -EINVAL;
}

int hnvmf_bqp_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	int rc = bio_check(qp->be, bio);

	if (rc < 0)
		return rc;
	if (qp->inflight >= qp->depth)
		return -EAGAIN;
	if (bio->len == 0 && bio->op != HNVMF_BIO_FLUSH) {
		/* Nothing to move (a DSM range may be empty); storage syscalls such as fallocate
		 * refuse a zero length, so finish here for every backend alike. */
		hnvmf_bqp_complete(qp, bio, 0);
	} else {
		rc = qp->ops->submit(qp, bio);
		if (rc < 0)
			return rc;
	}
	qp->inflight++;
	return 0;
}

int hnvmf_bqp_kick(struct hnvmf_bqp *qp)
{
	return qp->ops->kick ? qp->ops->kick(qp) : 0;
}

int hnvmf_bqp_arm(struct hnvmf_bqp *qp, int *fd)
{
	if (qp->done_head)
		return 1; /* completed in submit, not yet handed back */
	if (qp->ops->arm)
		return qp->ops->arm(qp, fd);
	/* Asynchronous without a way to sleep on it: the owner polls (every real one has arm). */
	return qp->ops->reap ? -ENOSYS : -EOPNOTSUPP;
}

int hnvmf_bqp_poll(struct hnvmf_bqp *qp, struct hnvmf_bio **done, int max)
{
	int n = 0;

	if (qp->ops->reap)
		qp->ops->reap(qp);
	while (n < max && qp->done_head) {
		struct hnvmf_bio *bio = qp->done_head;

		qp->done_head = bio->next;
		bio->next = NULL;
		done[n++] = bio;
	}
	if (!qp->done_head)
		qp->done_tail = &qp->done_head;
	qp->inflight -= (unsigned)n;
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Loops because one device completion need not finish a bio (a multi-step write-zeroes moves on
 * to its next step), and the contract is "at least one bio or the timeout". With nothing in
 * flight nothing can ever complete, so it returns 0 at once rather than sleep. */
int hnvmf_bqp_wait(struct hnvmf_bqp *qp, struct hnvmf_bio **done, int max, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	for (;;) {
		int n = hnvmf_bqp_poll(qp, done, max), left = -1, rc;

		if (n > 0 || qp->inflight == 0 || !qp->ops->wait || timeout_ms == 0)
			return n;
		if (timeout_ms > 0) {
			int64_t rem = deadline - now_ms();

			if (rem <= 0)
				return 0;
			left = (int)rem;
		}
		rc = qp->ops->wait(qp, left);
		if (rc == -ETIME || rc == -EINTR)
			return hnvmf_bqp_poll(qp, done, max);
		if (rc < 0)
			return rc;
	}
}

unsigned hnvmf_bqp_inflight(const struct hnvmf_bqp *qp) { return qp->inflight; }
