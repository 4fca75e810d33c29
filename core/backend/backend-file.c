/* Opening a file or block device for the io_uring backend: descriptors, size, O_DIRECT and its
 * alignment, and which io_uring operations the running kernel has. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/backend/backend-file.h"

/* When the kernel does not say what O_DIRECT needs (no STATX_DIOALIGN, e.g. tmpfs or kernels
 * before 6.1), assume the page size: too strict only sends more I/O to the buffered
 * descriptor, too loose would fail I/O. */
#define DIO_ALIGN_GUESS 4096u

/* Which O_DIRECT alignment the file needs. Returns false when the kernel says the file does not
 * support direct I/O at all. */
static bool probe_dio_align(struct file_backend *fb, uint32_t dev_lbs)
{
	struct statx stx;

	if (statx(fb->direct_fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (stx.stx_dio_offset_align == 0 || stx.stx_dio_mem_align == 0)
			return false;
		fb->dio_len_align = stx.stx_dio_offset_align;
		fb->dio_mem_align = stx.stx_dio_mem_align;
		return true;
	}
	fb->dio_len_align = dev_lbs ? dev_lbs : DIO_ALIGN_GUESS;
	fb->dio_mem_align = fb->dio_len_align;
	return true;
}

/* Opens the O_DIRECT descriptor when asked to and possible; a file system that refuses O_DIRECT
 * (EINVAL at open, or statx saying it has none) leaves the backend buffered, as documented. */
static void open_direct(struct file_backend *fb, int flags, uint32_t dev_lbs)
{
	fb->direct_fd = open(fb->path, flags | O_DIRECT);
	if (fb->direct_fd < 0)
		return;
	if (!probe_dio_align(fb, dev_lbs)) {
		close(fb->direct_fd);
		fb->direct_fd = -1;
	}
}

/* Read, write and fsync are required; without fallocate, write-zeroes and discard write zeroes
 * instead (io_uring fallocate arrived in Linux 5.6). */
static int probe_uring(struct file_backend *fb, char *errmsg, size_t errlen)
{
	struct io_uring_probe *probe = io_uring_get_probe();
	static const int needed[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC };

	if (!probe) {
		hnvmf_backend_errmsg(errmsg, errlen, "%s: io_uring is not available in this kernel",
				     fb->path);
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!io_uring_opcode_supported(probe, needed[i])) {
			io_uring_free_probe(probe);
			hnvmf_backend_errmsg(errmsg, errlen,
					     "%s: the kernel's io_uring lacks operation %d", fb->path,
					     needed[i]);
			return -EOPNOTSUPP;
		}
	}
	if (!io_uring_opcode_supported(probe, IORING_OP_FALLOCATE))
		fb->no_zero_range = fb->no_punch_hole = true;
	io_uring_free_probe(probe);
	return 0;
}

static int map_zero_buf(struct file_backend *fb, char *errmsg, size_t errlen)
{
	/* Never written, so every page is the kernel's shared zero page: costs no memory. */
	fb->zero_buf = mmap(NULL, FILE_ZERO_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fb->zero_buf == MAP_FAILED) {
		fb->zero_buf = NULL;
		hnvmf_backend_errmsg(errmsg, errlen, "%s: cannot map a zero buffer", fb->path);
		return -ENOMEM;
	}
	for (int i = 0; i < FILE_ZERO_IOVS; i++)
		fb->zero_iov[i] = (struct iovec){ fb->zero_buf, FILE_ZERO_CHUNK };
	return 0;
}

/* Size and logical block size: a regular file or block device must be at least as large as
 * configured (0: its own size); a block device larger than configured is used whole, as before. */
static int probe_size(struct hnvmf_backend *be, struct file_backend *fb, const struct stat *st,
		      uint64_t want, uint32_t *dev_lbs, char *errmsg, size_t errlen)
{
	if (fb->blockdev) {
		uint64_t bytes;
		int lbs;

		if (ioctl(fb->fd, BLKGETSIZE64, &bytes) < 0 || ioctl(fb->fd, BLKSSZGET, &lbs) < 0) {
			int err = errno;

			hnvmf_backend_errmsg(errmsg, errlen, "%s: cannot read the device size: %s",
					     fb->path, strerror(err));
			return -err;
		}
		if (want > bytes) {
			hnvmf_backend_errmsg(errmsg, errlen,
					     "%s is a block device of %llu bytes, smaller than the configured "
					     "size %llu", fb->path, (unsigned long long)bytes,
					     (unsigned long long)want);
			return -EINVAL;
		}
		be->size = bytes;
		*dev_lbs = (uint32_t)lbs;
		return 0;
	}
	if (want > (uint64_t)st->st_size) {
		hnvmf_backend_errmsg(errmsg, errlen,
				     "%s is %llu bytes, smaller than the configured size %llu "
				     "(extend it, e.g. with truncate -s)",
				     fb->path, (unsigned long long)st->st_size, (unsigned long long)want);
		return -EINVAL;
	}
	be->size = want ? want : (uint64_t)st->st_size;
	*dev_lbs = 0;
	return 0;
}

int hnvmf_file_backend_probe_size(struct hnvmf_backend *be, uint64_t want, uint64_t *size,
				  char *errmsg, size_t errlen)
{
	struct file_backend *fb = be->priv;
	struct stat st;
	if (fstat(fb->fd, &st) < 0) {
		int err = errno;
		hnvmf_backend_errmsg(errmsg, errlen, "cannot stat %s: %s", fb->path, strerror(err));
		return -err;
	}
	/* The same rules as at open, on a scratch copy: be changes only if the caller takes it. */
	struct hnvmf_backend probe = *be;
	uint32_t dev_lbs;
	int rc = probe_size(&probe, fb, &st, want, &dev_lbs, errmsg, errlen);
	if (rc == 0)
		*size = probe.size;
	return rc;
}

int hnvmf_file_backend_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *p,
			    char *errmsg, size_t errlen)
{
	int flags = (p->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, rc;
	struct file_backend *fb;
	uint32_t dev_lbs = 0;
	struct stat st;

	if (!p->path || !p->path[0]) {
		hnvmf_backend_errmsg(errmsg, errlen, "file backend needs a path");
		return -EINVAL;
	}
	fb = calloc(1, sizeof(*fb) + strlen(p->path) + 1);
	if (!fb) {
		hnvmf_backend_errmsg(errmsg, errlen, "out of memory");
		return -ENOMEM;
	}
	strcpy(fb->path, p->path);
	fb->direct_fd = -1;
	fb->fd = open(p->path, flags);
	if (fb->fd < 0) {
		rc = -errno;
		hnvmf_backend_errmsg(errmsg, errlen, "cannot open %s%s: %s", p->path,
				     p->readonly ? " read-only" : "", strerror(-rc));
		goto fail;
	}
	if (fstat(fb->fd, &st) < 0) {
		rc = -errno;
		hnvmf_backend_errmsg(errmsg, errlen, "cannot stat %s: %s", p->path, strerror(-rc));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		hnvmf_backend_errmsg(errmsg, errlen, "%s is neither a regular file nor a block device",
				     p->path);
		rc = -EINVAL;
		goto fail;
	}
	fb->blockdev = S_ISBLK(st.st_mode);
	fb->rdev = st.st_rdev;
	rc = probe_size(be, fb, &st, p->size, &dev_lbs, errmsg, errlen);
	if (rc < 0)
		goto fail;
	if (!p->block_size && dev_lbs >= 512 && dev_lbs <= 4096)
		be->block_size = dev_lbs;
	rc = probe_uring(fb, errmsg, errlen);
	if (rc < 0)
		goto fail;
	if (!p->readonly) {
		rc = map_zero_buf(fb, errmsg, errlen);
		if (rc < 0)
			goto fail;
	}
	if (p->direct)
		open_direct(fb, flags, dev_lbs);
	be->priv = fb;
	return 0;
fail:
	if (fb->fd >= 0)
		close(fb->fd);
	free(fb);
	return rc;
}

void hnvmf_file_backend_close(struct hnvmf_backend *be)
{
	struct file_backend *fb = be->priv;

	if (fb->direct_fd >= 0)
		close(fb->direct_fd);
	close(fb->fd);
	if (fb->zero_buf)
		munmap(fb->zero_buf, FILE_ZERO_CHUNK);
	free(fb);
}

void hnvmf_file_backend_forget_fallocate(struct hnvmf_backend *be)
{
	struct file_backend *fb = be->priv;

	__atomic_store_n(&fb->no_zero_range, true, __ATOMIC_RELAXED);
	__atomic_store_n(&fb->no_punch_hole, true, __ATOMIC_RELAXED);
}

void hnvmf_file_backend_trust_any_alignment(struct hnvmf_backend *be)
{
	struct file_backend *fb = be->priv;

	fb->dio_mem_align = fb->dio_len_align = 1;
}

void hnvmf_file_backend_assume_polling(struct hnvmf_backend *be)
{
	struct file_backend *fb = be->priv;

	fb->assume_poll = true;
}

bool hnvmf_file_backend_is_direct(const struct hnvmf_backend *be)
{
	const struct file_backend *fb = be->priv;

	return fb->direct_fd >= 0;
}

/* The queue's io_poll attribute; a partition has none of its own: its disk's is one level up. */
static int read_io_poll(dev_t rdev)
{
	char path[96], v[8] = "";
	static const char *const where[] = { "queue/io_poll", "../queue/io_poll" };

	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(rdev), minor(rdev), where[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		bool got = fgets(v, sizeof(v), f) != NULL;
		fclose(f);
		return got ? v[0] == '1' : -1;
	}
	return -1;
}

/* Polling only pays (and only works) where the block layer can poll the device's queue: a block
 * device through O_DIRECT whose queue says io_poll = 1 (NVMe with poll queues,
 * nvme.poll_queues). A regular file is never polled: its file system may have no poll method,
 * and the ring would return its reads as -EOPNOTSUPP. */
bool hnvmf_file_backend_can_poll(const struct hnvmf_backend *be, char *why, size_t len)
{
	const struct file_backend *fb = be->priv;

	if (!fb->blockdev) {
		hnvmf_backend_errmsg(why, len, "%s is not a block device", fb->path);
		return false;
	}
	if (fb->direct_fd < 0) {
		hnvmf_backend_errmsg(why, len, "%s is not opened with O_DIRECT", fb->path);
		return false;
	}
	int io_poll = fb->assume_poll ? 1 : read_io_poll(fb->rdev);
	if (io_poll != 1) {
		hnvmf_backend_errmsg(why, len, "%s: its queue does not poll (sysfs queue/io_poll %s)", fb->path,
				     io_poll == 0 ? "is 0; for NVMe: nvme.poll_queues" : "is missing");
		return false;
	}
	return true;
}
