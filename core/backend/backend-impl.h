/* Private to core/backend: what every backend type implements, and the state the common layer
 * (backend.c) keeps for it. backend.c does the checks that are the same for every type (range,
 * read-only, iovec total, queue-pair depth) so a backend's submit sees only valid bios. */
#ifndef HNVMF_BACKEND_IMPL_H
#define HNVMF_BACKEND_IMPL_H

#include <stddef.h>

#include "core/backend/backend.h"

struct hnvmf_backend_ops {
	/* Opens the storage and sets be->size (bytes; the common layer rounds it down to whole
	 * blocks) and be->block_size (it is p->block_size when that is non-zero); be->priv is the
	 * backend's. On failure the backend has released everything it took. */
	int (*open)(struct hnvmf_backend *be, const struct hnvmf_backend_params *p, char *errmsg,
		    size_t errlen);
	void (*close)(struct hnvmf_backend *be);
	/* The size the storage has now for a configured size want (0: its own, e.g. a grown file or
	 * an image after `rbd resize`), in bytes, without changing be (hnvmf_backend_probe_resize
	 * decides). NULL: the size cannot change while open. */
	int (*probe_size)(struct hnvmf_backend *be, uint64_t want, uint64_t *size, char *errmsg,
			  size_t errlen);
	/* Whether reads and writes can be completed by polling; NULL: never (why says so). */
	bool (*can_poll)(const struct hnvmf_backend *be, char *why, size_t len);
	/* qp->be, qp->depth and qp->polled (asked for polled completions, only where can_poll said
	 * yes) are set; qp->priv is the backend's. NULL: nothing per queue pair. */
	int (*qp_open)(struct hnvmf_bqp *qp);
	/* Waits for the device to finish what was handed to it; completions are dropped. */
	void (*qp_close)(struct hnvmf_bqp *qp);
	/* The bio passed the common checks, has len > 0 (or is a flush), and the queue pair has
	 * room for it. Synchronous backends finish it here with hnvmf_bqp_complete. Returns 0
	 * (accepted) or -EAGAIN (the device queue has no room; the bio was not accepted). */
	int (*submit)(struct hnvmf_bqp *qp, struct hnvmf_bio *bio);
	/* NULL for synchronous backends. */
	int (*kick)(struct hnvmf_bqp *qp);
	/* Moves what the device finished onto the completion list; never blocks. NULL for
	 * synchronous backends (their completions are on the list already). */
	void (*reap)(struct hnvmf_bqp *qp);
	/* Blocks until reap would find something or timeout_ms passed (-1: no limit). Returns 0,
	 * -ETIME, -EINTR or another -errno. NULL for synchronous backends. */
	int (*wait)(struct hnvmf_bqp *qp, int timeout_ms);
	/* hnvmf_bqp_arm: 1 (something to reap now), or 0 and *fd that becomes readable when reap
	 * may find something. NULL for synchronous backends. */
	int (*arm)(struct hnvmf_bqp *qp, int *fd);
};

struct hnvmf_backend {
	const struct hnvmf_backend_ops *ops;
	enum hnvmf_backend_type type;
	uint64_t size; /* read and written with __atomic builtins: a resize may change it under I/O */
	uint32_t block_size;
	bool readonly;
	unsigned users; /* hnvmf_backend_use: __atomic builtins */
	void *priv;
};

struct hnvmf_bqp {
	struct hnvmf_backend *be;
	const struct hnvmf_backend_ops *ops; /* be->ops, one load less per call */
	unsigned depth;
	unsigned inflight; /* accepted and not yet handed back by poll/wait */
	bool polled;           /* IOPOLL for reads and writes (hnvmf_bqp_open_poll) */
	uint64_t polled_done;  /* completions found by polling; the backend counts them */
	/* Completed, not yet reaped: a FIFO through bio->next. */
	struct hnvmf_bio *done_head;
	struct hnvmf_bio **done_tail;
	void *priv;
};

/* Finishes a bio: records its result and queues it for the next poll. */
static inline void hnvmf_bqp_complete(struct hnvmf_bqp *qp, struct hnvmf_bio *bio, int result)
{
	bio->result = result;
	bio->next = NULL;
	*qp->done_tail = bio;
	qp->done_tail = &bio->next;
}

/* snprintf into errmsg when the caller gave one. */
void hnvmf_backend_errmsg(char *errmsg, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

extern const struct hnvmf_backend_ops hnvmf_backend_ram_ops;
extern const struct hnvmf_backend_ops hnvmf_backend_null_ops;
extern const struct hnvmf_backend_ops hnvmf_backend_uring_ops;
#ifdef HNVMF_WITH_RBD
extern const struct hnvmf_backend_ops hnvmf_backend_rbd_ops;
#endif

#endif
