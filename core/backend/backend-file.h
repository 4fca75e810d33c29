/* Private to core/backend: a regular file or block device opened for the io_uring backend.
 * backend-file.c opens and probes it (size, O_DIRECT, alignment, what the kernel supports);
 * backend-uring.c does the I/O. */
#ifndef HNVMF_BACKEND_FILE_H
#define HNVMF_BACKEND_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/backend/backend-impl.h"

/* The zero-writing fallback writes from one read-only zero mapping: FILE_ZERO_IOVS iovecs of
 * FILE_ZERO_CHUNK bytes each, all naming the same pages, so one SQE clears up to 64 MiB. */
#define FILE_ZERO_CHUNK (1u << 20)
#define FILE_ZERO_IOVS 64

struct file_backend {
	/* Two descriptors on the same file when O_DIRECT is in use. The buffered one takes every
	 * bio whose buffers or range O_DIRECT cannot take (see file_bio_direct_ok), plus fsync,
	 * fallocate and the zero-writing fallback. The kernel keeps the two coherent: a direct
	 * read first writes back dirty cached pages of its range, a direct write drops them;
	 * fsync works on the inode, so it covers writes made through either descriptor. */
	int fd;
	int direct_fd; /* -1: everything buffered */
	uint32_t dio_mem_align; /* buffer address alignment O_DIRECT needs */
	uint32_t dio_len_align; /* offset, length and segment-length alignment O_DIRECT needs */
	bool blockdev;
	dev_t rdev; /* a block device's number: where sysfs says whether its queue polls */
	bool assume_poll; /* tests: as if its queue said io_poll = 1 */
	/* Learnt at run time (a fallocate mode answered -EOPNOTSUPP) and shared by the queue
	 * pairs of every thread; read and written with relaxed atomics: a stale value costs
	 * one more refused fallocate, nothing else. */
	bool no_zero_range;
	bool no_punch_hole;
	void *zero_buf; /* FILE_ZERO_CHUNK bytes, PROT_READ; NULL when read-only */
	struct iovec zero_iov[FILE_ZERO_IOVS];
	char path[];
};

int hnvmf_file_backend_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *p,
			    char *errmsg, size_t errlen);
void hnvmf_file_backend_close(struct hnvmf_backend *be);
/* The size the file or device has now for a configured size want (the open's rules). */
int hnvmf_file_backend_probe_size(struct hnvmf_backend *be, uint64_t want, uint64_t *size,
				  char *errmsg, size_t errlen);

/* Whether this read/write can go through the O_DIRECT descriptor. */
static inline bool file_bio_direct_ok(const struct file_backend *fb, const struct hnvmf_bio *bio)
{
	uint64_t len_mask = fb->dio_len_align - 1, mem_mask = fb->dio_mem_align - 1;

	if (fb->direct_fd < 0 || ((bio->offset | bio->len) & len_mask))
		return false;
	for (int i = 0; i < bio->iovcnt; i++)
		if (((uintptr_t)bio->iov[i].iov_base & mem_mask) || (bio->iov[i].iov_len & len_mask))
			return false;
	return true;
}

/* For tests: behave as if the file system refused both fallocate modes, so write-zeroes and
 * discard take the zero-writing fallback. */
void hnvmf_file_backend_forget_fallocate(struct hnvmf_backend *be);
/* For tests: pretend O_DIRECT takes any buffer and range, so misaligned bios reach the
 * kernel's -EINVAL and must be retried on the buffered descriptor. */
void hnvmf_file_backend_trust_any_alignment(struct hnvmf_backend *be);
/* Whether reads and writes may be completed by polling (hnvmf_backend_can_poll). */
bool hnvmf_file_backend_can_poll(const struct hnvmf_backend *be, char *why, size_t len);
/* For tests: a block device whose queue does not poll (a loop device) taken as one that does.
 * The kernel still accepts its I/O on an IOPOLL ring (the block layer completes it by interrupt
 * and the ring finds it done when polled), so the polled queue pair's two rings can be tested
 * without NVMe poll queues. */
void hnvmf_file_backend_assume_polling(struct hnvmf_backend *be);
/* Whether the backend uses an O_DIRECT descriptor (hnvmf_backend_direct for everyone else). */
bool hnvmf_file_backend_is_direct(const struct hnvmf_backend *be);

#endif
