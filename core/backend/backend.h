/* Namespace backends: the one interface between the engine and storage.
 *
 * A backend is one opened storage object (RAM buffer, null sink, file or block device, Ceph RBD
 * image). I/O goes
 * through queue pairs: each queue pair is independent (for the io_uring backend, one ring), shares
 * nothing with the others and must be used by one thread at a time. A caller submits hnvmf_bio
 * descriptors and later reaps them with poll or wait; synchronous backends (ram, null) complete
 * inside submit and hand the bio back on the next poll, so every caller uses one pattern. An owner
 * that has bios in flight and nothing else to do sleeps on the fd hnvmf_bqp_arm gives it. */
#ifndef HNVMF_BACKEND_H
#define HNVMF_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum hnvmf_backend_type {
	HNVMF_BACKEND_RAM,
	HNVMF_BACKEND_NULL,
	HNVMF_BACKEND_FILE, /* regular file or block device, through io_uring */
	HNVMF_BACKEND_RBD,  /* Ceph RBD image through librbd (built with HNVMF_RBD) */
};

/* type rbd: where the image is. Strings are read only during open. */
struct hnvmf_rbd_params {
	const char *ceph_conf;       /* ceph.conf (mon addresses, keyring) */
	const char *client;          /* cephx user without "client.", e.g. "admin" */
	const char *pool;
	const char *image;
	const char *rados_namespace; /* NULL or "": the pool's default namespace */
	unsigned timeout_s;          /* connect, mon and OSD operations; 0 = 10 s */
};

struct hnvmf_backend_params {
	enum hnvmf_backend_type type;
	const char *path;    /* file/block device; NULL otherwise */
	uint64_t size;       /* bytes; for a file 0 = the file's size; a block device's own size wins */
	uint32_t block_size; /* logical block size: 512 or 4096 */
	bool readonly;
	bool direct; /* try O_DIRECT (falls back to buffered where the file system refuses it) */
	struct hnvmf_rbd_params rbd; /* type rbd only */
};

enum hnvmf_bio_op {
	HNVMF_BIO_READ,
	HNVMF_BIO_WRITE,
	HNVMF_BIO_FLUSH,
	HNVMF_BIO_WRITE_ZEROES,
	HNVMF_BIO_DISCARD, /* deallocate: later reads of the range return zeroes */
};

#define HNVMF_BIO_FUA (1u << 0) /* write is durable when it completes */
/* Read: the caller only reads the data through bio->iov afterwards, so a backend that has the data
 * already may point iov[i].iov_base at its own read-only memory instead of filling the buffers
 * (the null backend's zeroes). Never for memory a device or NIC must reach (RDMA). */
#define HNVMF_BIO_IOV_REPLACEABLE (1u << 1)

/* One backend I/O. Owned by the caller from submit until it is handed back by poll/wait. */
struct hnvmf_bio {
	uint8_t op;    /* enum hnvmf_bio_op */
	uint8_t flags; /* HNVMF_BIO_* */
	uint64_t offset; /* bytes from the start of the namespace */
	uint64_t len;    /* bytes; 0 for flush */
	struct iovec *iov; /* data for read / write; iov total == len */
	int iovcnt;
	int result;     /* on completion: 0, or -errno (-EIO, -ENOSPC, -EROFS, -EINVAL ...) */
	void *priv;     /* caller's */
	struct hnvmf_bio *next; /* backend's completion list linkage while completed-not-reaped */
};

struct hnvmf_backend;
struct hnvmf_bqp; /* backend queue pair */

/* Opens a backend; returns 0 or -errno and logs nothing (callers say which config line failed).
 * errmsg, when not NULL, receives a short human-readable reason. */
int hnvmf_backend_open(const struct hnvmf_backend_params *p, struct hnvmf_backend **out,
		       char *errmsg, size_t errlen);
void hnvmf_backend_close(struct hnvmf_backend *be);
uint64_t hnvmf_backend_size(const struct hnvmf_backend *be);
/* Users of an open backend: the engine counts its channels (a channel closes once its queue holds
 * no request for it, core/chan.c), so a backend taken out of service may be closed when the count
 * is 0 and the engine has forgotten it (hnvmf_engine_forget_backend). Any thread. */
void hnvmf_backend_use(struct hnvmf_backend *be);
void hnvmf_backend_unuse(struct hnvmf_backend *be);
unsigned hnvmf_backend_users(const struct hnvmf_backend *be);
/* A run-time resize (a reload or API call), in two steps so that a change made of many can be
 * checked whole before any of it is applied: probe gives in *size the size the storage has now
 * for a configured size want (0: a file's or device's own size, maybe grown since it was
 * opened, an RBD image after `rbd resize`), in whole blocks. Only growth is taken: a smaller size is refused (-EBUSY), because
 * blocks a host may still use would vanish under it; a ram backend cannot change size
 * (-EOPNOTSUPP). set_size applies it; I/O in flight keeps running (the range check reads the
 * size once per bio). */
int hnvmf_backend_probe_resize(struct hnvmf_backend *be, uint64_t want, uint64_t *size, char *errmsg,
			       size_t errlen);
void hnvmf_backend_set_size(struct hnvmf_backend *be, uint64_t size);
uint32_t hnvmf_backend_block_size(const struct hnvmf_backend *be);
bool hnvmf_backend_readonly(const struct hnvmf_backend *be);
/* Whether reads and writes may go through O_DIRECT (a file backend that could open it). */
bool hnvmf_backend_direct(const struct hnvmf_backend *be);
const char *hnvmf_backend_type_name(enum hnvmf_backend_type t);

/* depth: the most bios in flight on this queue pair. */
int hnvmf_bqp_open(struct hnvmf_backend *be, unsigned depth, struct hnvmf_bqp **out);

/* Polled completions (io_uring's IORING_SETUP_IOPOLL): the kernel finds a read's or write's
 * completion by polling the device's queue when the owner reaps, instead of waiting for its
 * interrupt. no: never; auto: where the backend can (hnvmf_backend_can_poll); yes: required. */
enum hnvmf_poll_mode { HNVMF_POLL_NO, HNVMF_POLL_AUTO, HNVMF_POLL_YES };
/* Whether this backend's reads and writes can be polled: a block device opened O_DIRECT whose
 * queue polls (sysfs queue/io_poll = 1). false: why says why not (when given). */
bool hnvmf_backend_can_poll(const struct hnvmf_backend *be, char *why, size_t len);
/* hnvmf_bqp_open with a poll mode. A polled queue pair's O_DIRECT reads and writes complete only
 * when reaped: its owner must keep calling hnvmf_bqp_poll while any is in flight (no eventfd
 * signal comes for them, hnvmf_bqp_notify covers the rest: flush, fallocate, buffered I/O, which
 * go to a second, ordinary ring). -EOPNOTSUPP (why says why) when poll is yes and the backend
 * cannot poll. */
int hnvmf_bqp_open_poll(struct hnvmf_backend *be, unsigned depth, enum hnvmf_poll_mode poll,
			struct hnvmf_bqp **out, char *why, size_t len);
bool hnvmf_bqp_polled(const struct hnvmf_bqp *qp);
/* Completions the kernel found by polling on this queue pair so far. */
uint64_t hnvmf_bqp_polled_done(const struct hnvmf_bqp *qp);
void hnvmf_bqp_close(struct hnvmf_bqp *qp); /* waits for in-flight bios; they are not reaped */
/* 0: accepted (it completes later, maybe already); -EAGAIN: queue pair full; other -errno:
 * refused at once (bad range: -EINVAL; read-only: -EROFS), bio not accepted. Range checks are
 * the caller's job too, but the backend refuses I/O beyond its end whatever the caller does. */
int hnvmf_bqp_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio);
/* Pushes submitted-but-not-yet-sent work to the device (io_uring_submit); a no-op for sync
 * backends. Submit batches; call this once per batch. Returns 0 or -errno. */
int hnvmf_bqp_kick(struct hnvmf_bqp *qp);
/* Reaps up to max completed bios without blocking; returns how many. */
int hnvmf_bqp_poll(struct hnvmf_bqp *qp, struct hnvmf_bio **done, int max);
/* Blocks until at least one bio completed or timeout_ms passed (-1: forever); then polls. */
int hnvmf_bqp_wait(struct hnvmf_bqp *qp, struct hnvmf_bio **done, int max, int timeout_ms);
unsigned hnvmf_bqp_inflight(const struct hnvmf_bqp *qp);
/* How the owner of a queue pair sleeps while bios are in flight, instead of polling for them.
 * Call it after a poll found none done (and after hnvmf_bqp_kick). Returns
 *   1: some may be done already: poll again instead of sleeping;
 *   0: *fd becomes readable when some may be done: wait on it in a poll set, or as a one-shot
 *      watch in an epoll set (EPOLLIN | EPOLLONESHOT, re-armed by the next arm), then poll. The
 *      fd is the queue pair's: the same on every call, valid until hnvmf_bqp_close; the owner
 *      neither reads nor closes it (arm drains it);
 *   -EOPNOTSUPP: a synchronous backend, nothing is ever awaited (poll once after a submit);
 *   other -errno: cannot wait (the owner polls).
 * No lost wake-up: arm drains the fd, then looks at the device; a completion that comes after
 * the look makes the fd readable again. */
int hnvmf_bqp_arm(struct hnvmf_bqp *qp, int *fd);

#endif
