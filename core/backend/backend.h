/* Namespace backends: the one interface between the engine and storage.
 *
 * A backend is one opened storage object (RAM buffer, null sink, file or block device, Ceph RBD
 * image). I/O goes
 * through queue pairs: each queue pair is independent (for the io_uring backend, one ring), shares
 * nothing with the others and must be used by one thread at a time. A caller submits hnvmf_bio
 * descriptors and later reaps them with poll or wait; synchronous backends (ram, null) complete
 * inside submit and hand the bio back on the next poll, so every caller uses one pattern. */
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
/* Has the device add 1 to the eventfd fd each time it completes work of this queue pair, so the
 * owner can sleep in poll/epoll until a completion instead of polling for it. Synchronous
 * backends complete inside submit, so nothing is ever awaited: -EOPNOTSUPP, and the owner must
 * only poll once after a submit. Returns 0 or -errno. */
int hnvmf_bqp_notify(struct hnvmf_bqp *qp, int fd);

#endif
