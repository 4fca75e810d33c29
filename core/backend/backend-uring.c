/* File / block device backend through io_uring. Each queue pair owns one ring and a fixed array
 * of slots (one per bio it may have in flight), so the I/O path allocates nothing; submit only
 * prepares SQEs and kick sends the whole batch with one io_uring_submit.
 *
 * A bio may take several steps, one SQE at a time, driven by its slot's stage:
 *   read/write     O_DIRECT when buffers and range allow it, else buffered; a direct attempt the
 *                  kernel refuses with -EINVAL is retried once on the buffered descriptor.
 *   write-zeroes   fallocate ZERO_RANGE, else PUNCH_HOLE|KEEP_SIZE, else write zeroes;
 *   discard        PUNCH_HOLE|KEEP_SIZE, else ZERO_RANGE, else write zeroes. Block devices take
 *                  the same fallocate modes (the kernel turns them into zero-out / unmap that
 *                  reads back zeroes), which keeps them asynchronous, unlike the BLKZEROOUT and
 *                  BLKDISCARD ioctls. A mode refused with -EOPNOTSUPP is not tried again.
 *   FUA            writes carry RWF_DSYNC; a FUA write-zeroes done by fallocate is followed by
 *                  an fdatasync (fallocate alone is not durable).
 *   flush          fsync with IORING_FSYNC_DATASYNC.
 * A polled queue pair (hnvmf_bqp_open_poll) has a second ring set up with IORING_SETUP_IOPOLL:
 * the O_DIRECT reads and writes go there and the kernel finds their completions by polling the
 * device's queue when we reap, not by its interrupt. That ring takes nothing else (fsync,
 * fallocate and buffered I/O have no poll method: the kernel would fail them) and signals no
 * eventfd, so every other step goes to the ordinary ring, and the owner reaps while polled steps
 * are in flight.
 * A short read or write goes on with the rest (buffered): the kernel moves what it can and reports
 * the error only when asked for the part it could not do, e.g. ENOSPC from a file system that
 * filled up during the write, which the host must hear as such and not as a media error. A step
 * that moves nothing is -EIO (the file shrank underneath us). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/backend/backend-file.h"

enum slot_stage {
	STAGE_RW_DIRECT,
	STAGE_RW_BUFFERED,
	STAGE_FSYNC,
	STAGE_ZERO_RANGE,
	STAGE_PUNCH_HOLE,
	STAGE_WRITE_ZEROES,
	STAGE_FUA_SYNC, /* after a fallocate that served a FUA write-zeroes */
};

struct uring_slot {
	struct hnvmf_bio *bio;
	enum slot_stage stage;
	bool polled;                  /* its current step went to the IOPOLL ring */
	uint64_t rw_done;             /* read/write: bytes already moved (a short step goes on) */
	struct iovec rw_part;         /* read/write: the rest of the iovec a short step ended in */
	uint64_t zero_off, zero_left; /* progress of the zero-writing fallback */
	struct iovec zero_tail;       /* its last, partial chunk */
	struct uring_slot *next_free;
};

struct uring_qp {
	struct io_uring ring;
	struct io_uring pring; /* IOPOLL, for the O_DIRECT reads and writes of a polled queue pair */
	bool polled;           /* new reads and writes go to pring */
	bool pring_up;         /* pring is set up */
	unsigned pbusy;        /* steps in flight on pring */
	struct file_backend *fb;
	bool fixed_files; /* fds registered: index 0 = buffered, 1 = direct */
	bool closing;     /* finishing what the kernel holds; no new steps */
	unsigned busy;    /* slots holding a bio */
	int efd;          /* the ring's registered CQ eventfd, made by the first arm; -1 before */
	struct uring_slot *free;
	struct uring_slot slots[];
};

/* Registered files save the per-I/O file table lookup and reference count. */
static void register_files(struct uring_qp *q)
{
	int fds[2] = { q->fb->fd, q->fb->direct_fd };
	unsigned n = q->fb->direct_fd >= 0 ? 2 : 1;

	q->fixed_files = io_uring_register_files(&q->ring, fds, n) == 0;
	/* Both rings use the same indexes, or neither uses fixed files. */
	if (q->fixed_files && q->pring_up && io_uring_register_files(&q->pring, fds, n) != 0) {
		io_uring_unregister_files(&q->ring);
		q->fixed_files = false;
	}
}

/* SUBMIT_ALL (5.18): one SQE the kernel refuses at submit must not hold back the rest of the
 * batch; it still gets its own failed CQE. */
static int ring_init(struct io_uring *ring, unsigned depth, unsigned flags)
{
	struct io_uring_params params = { .flags = flags | IORING_SETUP_SUBMIT_ALL };
	int rc = io_uring_queue_init_params(depth, ring, &params);

	if (rc == -EINVAL) {
		params = (struct io_uring_params){ .flags = flags };
		rc = io_uring_queue_init_params(depth, ring, &params);
	}
	return rc;
}

static int uring_qp_open(struct hnvmf_bqp *qp)
{
	struct file_backend *fb = qp->be->priv;
	struct uring_qp *q;
	int rc;

	q = calloc(1, sizeof(*q) + qp->depth * sizeof(q->slots[0]));
	if (!q)
		return -ENOMEM;
	q->fb = fb;
	q->efd = -1;
	/* No COOP_TASKRUN / SINGLE_ISSUER / DEFER_TASKRUN: a queue pair may move from one
	 * thread to another (one at a time), and with those flags completions of I/O submitted
	 * by a thread that since went to sleep elsewhere would wait for that thread to wake up
	 * (or submits from the new thread would be refused). */
	rc = ring_init(&q->ring, qp->depth, 0);
	if (rc < 0) {
		free(q);
		return rc;
	}
	/* Each slot has at most one step in flight, on one ring or the other: depth entries each. */
	if (qp->polled) {
		rc = ring_init(&q->pring, qp->depth, IORING_SETUP_IOPOLL);
		if (rc < 0) {
			io_uring_queue_exit(&q->ring);
			free(q);
			return rc;
		}
		q->polled = q->pring_up = true;
	}
	register_files(q);
	for (unsigned i = 0; i < qp->depth; i++) {
		q->slots[i].next_free = q->free;
		q->free = &q->slots[i];
	}
	qp->priv = q;
	return 0;
}

static int slot_fd(const struct uring_qp *q, bool direct)
{
	if (q->fixed_files)
		return direct ? 1 : 0;
	return direct ? q->fb->direct_fd : q->fb->fd;
}

static void zero_step(struct uring_qp *q, struct uring_slot *s, struct io_uring_sqe *sqe, int fd)
{
	const struct iovec *iov = q->fb->zero_iov;
	unsigned cnt;

	if (s->zero_left >= FILE_ZERO_CHUNK) {
		uint64_t chunks = s->zero_left / FILE_ZERO_CHUNK;

		cnt = chunks < FILE_ZERO_IOVS ? (unsigned)chunks : FILE_ZERO_IOVS;
	} else {
		s->zero_tail = (struct iovec){ q->fb->zero_buf, s->zero_left };
		iov = &s->zero_tail;
		cnt = 1;
	}
	io_uring_prep_writev2(sqe, fd, iov, cnt, s->zero_off,
			      (s->bio->flags & HNVMF_BIO_FUA) ? RWF_DSYNC : 0);
}

/* The iovecs a read or write still has to move, after s->rw_done bytes. */
static const struct iovec *rw_rest(struct uring_slot *s, int *cnt)
{
	const struct hnvmf_bio *bio = s->bio;
	uint64_t skip = s->rw_done;
	int i = 0;

	while (i < bio->iovcnt && skip >= bio->iov[i].iov_len)
		skip -= bio->iov[i++].iov_len;
	if (skip == 0) {
		*cnt = bio->iovcnt - i;
		return bio->iov + i;
	}
	s->rw_part = (struct iovec){ (uint8_t *)bio->iov[i].iov_base + skip, bio->iov[i].iov_len - skip };
	*cnt = 1;
	return &s->rw_part;
}

/* Prepares the SQE for the slot's current stage. -EAGAIN: the SQ is full. */
static int slot_prep(struct uring_qp *q, struct uring_slot *s)
{
	bool polled = q->polled && s->stage == STAGE_RW_DIRECT;
	struct io_uring_sqe *sqe = io_uring_get_sqe(polled ? &q->pring : &q->ring);
	struct hnvmf_bio *bio = s->bio;
	int fd = slot_fd(q, s->stage == STAGE_RW_DIRECT);
	int rwf = (bio->flags & HNVMF_BIO_FUA) ? RWF_DSYNC : 0;

	if (!sqe)
		return -EAGAIN;
	switch (s->stage) {
	case STAGE_RW_DIRECT:
	case STAGE_RW_BUFFERED: {
		int cnt;
		const struct iovec *iov = rw_rest(s, &cnt);

		if (bio->op == HNVMF_BIO_READ)
			io_uring_prep_readv2(sqe, fd, iov, cnt, bio->offset + s->rw_done, 0);
		else
			io_uring_prep_writev2(sqe, fd, iov, cnt, bio->offset + s->rw_done, rwf);
		break;
	}
	case STAGE_FSYNC:
	case STAGE_FUA_SYNC:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case STAGE_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_ZERO_RANGE, (off_t)bio->offset,
					(off_t)bio->len);
		break;
	case STAGE_PUNCH_HOLE:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)bio->offset, (off_t)bio->len);
		break;
	case STAGE_WRITE_ZEROES:
		zero_step(q, s, sqe, fd);
		break;
	}
	if (q->fixed_files)
		io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
	io_uring_sqe_set_data(sqe, s);
	s->polled = polled;
	q->pbusy += polled;
	return 0;
}

static bool mode_refused(struct file_backend *fb, enum slot_stage st)
{
	bool *flag = st == STAGE_ZERO_RANGE ? &fb->no_zero_range : &fb->no_punch_hole;

	return __atomic_load_n(flag, __ATOMIC_RELAXED);
}

/* The next way to clear a range after stage `from` (STAGE_FSYNC: none tried yet). */
static enum slot_stage next_zero_stage(struct uring_qp *q, uint8_t op, enum slot_stage from)
{
	enum slot_stage first = op == HNVMF_BIO_DISCARD ? STAGE_PUNCH_HOLE : STAGE_ZERO_RANGE;
	enum slot_stage second = op == HNVMF_BIO_DISCARD ? STAGE_ZERO_RANGE : STAGE_PUNCH_HOLE;

	if (from != first && from != second && !mode_refused(q->fb, first))
		return first;
	if (from != second && !mode_refused(q->fb, second))
		return second;
	return STAGE_WRITE_ZEROES;
}

static void slot_start(struct uring_qp *q, struct uring_slot *s, struct hnvmf_bio *bio)
{
	s->bio = bio;
	switch (bio->op) {
	case HNVMF_BIO_READ:
	case HNVMF_BIO_WRITE:
		s->stage = file_bio_direct_ok(q->fb, bio) ? STAGE_RW_DIRECT : STAGE_RW_BUFFERED;
		s->rw_done = 0;
		break;
	case HNVMF_BIO_FLUSH:
		s->stage = STAGE_FSYNC;
		break;
	default:
		s->stage = next_zero_stage(q, bio->op, STAGE_FSYNC);
		s->zero_off = bio->offset;
		s->zero_left = bio->len;
		break;
	}
}

static int uring_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct uring_qp *q = qp->priv;
	struct uring_slot *s = q->free;
	int rc;

	if (!s)
		return -EAGAIN; /* cannot happen: the common layer bounds bios by depth */
	slot_start(q, s, bio);
	rc = slot_prep(q, s);
	if (rc < 0)
		return rc;
	q->free = s->next_free;
	q->busy++;
	return 0;
}

static int uring_kick(struct hnvmf_bqp *qp)
{
	struct uring_qp *q = qp->priv;
	int rc = 0;

	if (io_uring_sq_ready(&q->ring))
		rc = io_uring_submit(&q->ring);
	if (rc >= 0 && q->pring_up && io_uring_sq_ready(&q->pring))
		rc = io_uring_submit(&q->pring);
	return rc < 0 ? rc : 0;
}

static void slot_finish(struct hnvmf_bqp *qp, struct uring_slot *s, int result)
{
	struct uring_qp *q = qp->priv;

	if (!q->closing)
		hnvmf_bqp_complete(qp, s->bio, result);
	s->bio = NULL;
	s->next_free = q->free;
	q->free = s;
	q->busy--;
}

/* Moves a slot to another stage; returns false when it must finish instead. */
static bool slot_continue(struct uring_qp *q, struct uring_slot *s, enum slot_stage next)
{
	if (q->closing)
		return false;
	s->stage = next;
	/* Cannot fail: each busy slot holds at most one SQE and the SQ has depth entries. */
	return slot_prep(q, s) == 0;
}

static void note_refused_mode(struct file_backend *fb, enum slot_stage st)
{
	__atomic_store_n(st == STAGE_ZERO_RANGE ? &fb->no_zero_range : &fb->no_punch_hole, true,
			 __ATOMIC_RELAXED);
}

/* One CQE for slot s. Returns true when it prepared a further step (to be submitted). */
static bool slot_cqe(struct hnvmf_bqp *qp, struct uring_slot *s, int res)
{
	struct uring_qp *q = qp->priv;
	struct hnvmf_bio *bio = s->bio;

	switch (s->stage) {
	case STAGE_RW_DIRECT:
		/* Our alignment guess was wrong for this file: buffered takes anything. */
		if (res == -EINVAL && slot_continue(q, s, STAGE_RW_BUFFERED))
			return true;
		/* fall through */
	case STAGE_RW_BUFFERED:
		if (res < 0)
			break;
		if (res == 0 && bio->len) {
			res = -EIO; /* no progress: do not loop */
			break;
		}
		s->rw_done += (unsigned)res;
		/* The rest goes buffered: it starts wherever the short step ended. */
		if (s->rw_done < bio->len && slot_continue(q, s, STAGE_RW_BUFFERED))
			return true;
		res = s->rw_done < bio->len ? -EIO : 0;
		break;
	case STAGE_ZERO_RANGE:
	case STAGE_PUNCH_HOLE:
		if (res == -EOPNOTSUPP || res == -EINVAL) {
			/* -EINVAL: the range does not suit this device's granularity this time,
			 * which says nothing about other ranges. */
			if (res == -EOPNOTSUPP)
				note_refused_mode(q->fb, s->stage);
			if (slot_continue(q, s, next_zero_stage(q, bio->op, s->stage)))
				return true;
			res = -EIO;
			break;
		}
		if (res == 0 && (bio->flags & HNVMF_BIO_FUA) && slot_continue(q, s, STAGE_FUA_SYNC))
			return true;
		break;
	case STAGE_WRITE_ZEROES:
		if (res < 0)
			break;
		if (res == 0) {
			res = -EIO; /* no progress: do not loop */
			break;
		}
		s->zero_off += (unsigned)res;
		s->zero_left -= (unsigned)res;
		if (s->zero_left > 0 && slot_continue(q, s, STAGE_WRITE_ZEROES))
			return true;
		res = s->zero_left ? -EIO : 0;
		break;
	case STAGE_FSYNC:
	case STAGE_FUA_SYNC:
		break;
	}
	slot_finish(qp, s, res > 0 ? 0 : res);
	return false;
}

/* Handles what ring has posted; true when a slot prepared a further step. */
static bool reap_ring(struct hnvmf_bqp *qp, struct io_uring *ring)
{
	struct uring_qp *q = qp->priv;
	struct io_uring_cqe *cqes[32];
	bool more_steps = false;
	unsigned n;

	while ((n = io_uring_peek_batch_cqe(ring, cqes, 32)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			/* liburing's own timeout entries, on kernels without EXT_ARG waits */
			if (cqes[i]->user_data == LIBURING_UDATA_TIMEOUT)
				continue;
			struct uring_slot *s = io_uring_cqe_get_data(cqes[i]);
			int res = cqes[i]->res;
			if (s->polled) {
				s->polled = false;
				q->pbusy--;
				/* A kernel may refuse polled I/O to a queue that cannot poll (this
				 * machine's 6.18 does, on a loop device): the queue pair stops
				 * polling and the step goes again, unpolled. */
				if (res == -EOPNOTSUPP && !q->closing) {
					q->polled = false;
					qp->polled = false;
					if (slot_continue(q, s, STAGE_RW_DIRECT)) {
						more_steps = true;
						continue;
					}
				}
				qp->polled_done++;
			}
			more_steps |= slot_cqe(qp, s, res);
		}
		io_uring_cq_advance(ring, n);
	}
	return more_steps;
}

static void uring_reap(struct hnvmf_bqp *qp)
{
	struct uring_qp *q = qp->priv;
	bool more_steps = false;

	if (!q->busy)
		return; /* the common case for a poll loop between batches */
	if (q->pbusy) { /* even after polling stopped: what is still on pring is reaped there */
		/* The kernel polls the device's queue once and posts what it found (a syscall: the
		 * price of not taking the interrupt). */
		io_uring_get_events(&q->pring);
		more_steps |= reap_ring(qp, &q->pring);
	}
	more_steps |= reap_ring(qp, &q->ring);
	/* Follow-up steps go out now: the caller kicks after submits, not after polls. A failure
	 * here shows up again at the next kick. */
	if (more_steps)
		uring_kick(qp);
}

static int uring_wait(struct hnvmf_bqp *qp, int timeout_ms)
{
	struct uring_qp *q = qp->priv;
	struct io_uring_cqe *cqe;
	int rc;

	/* Waiting on SQEs nobody sent would wait forever. */
	rc = uring_kick(qp);
	if (rc < 0)
		return rc;
	/* Polled steps complete only when somebody polls: waiting on the other ring could
	 * wait for them forever. The caller comes back to reap. */
	if (q->pbusy)
		return io_uring_get_events(&q->pring) < 0 ? -EINTR : 0;
	if (timeout_ms < 0)
		return io_uring_wait_cqe(&q->ring, &cqe);
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	return io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts);
}

/* The ring's CQ eventfd, registered on the first arm (an owner that never sleeps pays nothing for
 * it): the kernel posts a CQE, then signals the eventfd. Draining before the look at the CQ ring
 * makes a CQE either seen here or followed by a signal the owner sleeps on. */
static int uring_arm(struct hnvmf_bqp *qp, int *fd)
{
	struct uring_qp *q = qp->priv;
	uint64_t v;
	int rc;

	if (q->efd < 0) {
		q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->efd < 0)
			return -errno;
		rc = io_uring_register_eventfd(&q->ring, q->efd);
		if (rc < 0) {
			close(q->efd);
			q->efd = -1;
			return rc;
		}
	}
	/* Steps on the IOPOLL ring signal no eventfd: the owner must keep reaping them. */
	if (q->pbusy)
		return 1;
	/* Sleeping on SQEs nobody sent would sleep forever. */
	rc = uring_kick(qp);
	if (rc < 0)
		return rc;
	(void)!read(q->efd, &v, sizeof(v));
	if (io_uring_cq_ready(&q->ring))
		return 1;
	*fd = q->efd;
	return 0;
}

/* The kernel may still be reading from or writing to the callers' buffers: wait for every SQE
 * to come back before the ring and slots go away. */
static void uring_qp_close(struct hnvmf_bqp *qp)
{
	struct uring_qp *q = qp->priv;

	q->closing = true;
	uring_kick(qp);
	while (q->busy) {
		struct io_uring_cqe *cqe;
		/* Waiting on the IOPOLL ring polls the device until a step completes. */
		int rc = io_uring_wait_cqe(q->pbusy ? &q->pring : &q->ring, &cqe);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN)
			break; /* ring unusable: nothing more will come back */
		uring_reap(qp);
	}
	io_uring_queue_exit(&q->ring);
	if (q->pring_up)
		io_uring_queue_exit(&q->pring);
	if (q->efd >= 0)
		close(q->efd);
	free(q);
}

static int uring_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *p,
		      char *errmsg, size_t errlen)
{
	return hnvmf_file_backend_open(be, p, errmsg, errlen);
}

static void uring_close(struct hnvmf_backend *be) { hnvmf_file_backend_close(be); }

const struct hnvmf_backend_ops hnvmf_backend_uring_ops = {
	.open = uring_open,
	.probe_size = hnvmf_file_backend_probe_size,
	.can_poll = hnvmf_file_backend_can_poll,
	.close = uring_close,
	.qp_open = uring_qp_open,
	.qp_close = uring_qp_close,
	.submit = uring_submit,
	.kick = uring_kick,
	.reap = uring_reap,
	.wait = uring_wait,
	.arm = uring_arm,
};
