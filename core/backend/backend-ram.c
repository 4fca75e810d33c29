/* RAM backend: the namespace is an anonymous private mapping. Untouched pages read as zeroes
 * and cost no memory, so a 1 GiB namespace costs what was written to it. Everything finishes
 * inside submit with plain memory copies: no lock, no syscall on the read/write path.
 *
 * Queue pairs on different threads share the mapping without a lock: NVMe does not order
 * concurrent commands, so overlapping writes may interleave as they would on a drive. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/backend/backend-impl.h"

/* Below this, memset beats madvise: madvise takes the mm lock and may shoot down TLB entries on
 * every CPU running a queue-pair thread. */
#define RAM_MADVISE_MIN (1u << 20)

struct ram_backend {
	char *base;
	size_t map_len;
	uintptr_t page_mask;
};

static int ram_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *p, char *errmsg,
		    size_t errlen)
{
	struct ram_backend *r;
	void *base;

	if (p->size == 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "ram backend needs a size");
		return -EINVAL;
	}
	if (p->size > SIZE_MAX / 2) {
		hnvmf_backend_errmsg(errmsg, errlen, "ram backend size %llu is too large",
				     (unsigned long long)p->size);
		return -EINVAL;
	}
	/* NORESERVE (below) lets a mapping exceed memory; a namespace larger than the machine's
	 * memory could never be filled and would end in the OOM killer, so it is refused. */
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages > 0 && page > 0 && p->size > (uint64_t)pages * (uint64_t)page) {
		hnvmf_backend_errmsg(errmsg, errlen, "ram backend size %llu is more than the machine's "
				     "memory (%llu bytes)", (unsigned long long)p->size,
				     (unsigned long long)pages * (unsigned long long)page);
		return -ENOMEM;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		hnvmf_backend_errmsg(errmsg, errlen, "out of memory");
		return -ENOMEM;
	}
	/* NORESERVE: the size is a ceiling, not a commitment, so overcommit accounting must
	 * not refuse a namespace larger than free memory that is only partly written. */
	base = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (base == MAP_FAILED) {
		int err = errno;

		hnvmf_backend_errmsg(errmsg, errlen, "cannot map %llu bytes for a ram backend: %s",
				     (unsigned long long)p->size, strerror(err));
		free(r);
		return -err;
	}
	r->base = base;
	r->map_len = p->size;
	r->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	be->priv = r;
	be->size = p->size;
	return 0;
}

static void ram_close(struct hnvmf_backend *be)
{
	struct ram_backend *r = be->priv;

	munmap(r->base, r->map_len);
	free(r);
}

/* Large page-aligned middles are handed back to the kernel: on a private anonymous mapping the
 * next access after MADV_DONTNEED finds a fresh zero page, which is exactly "reads return
 * zeroes", and the memory is freed as a discard should. The unaligned edges are cleared by hand;
 * if madvise fails for any reason the whole range is cleared by hand. */
static void ram_zero(struct ram_backend *r, uint64_t offset, uint64_t len)
{
	char *start = r->base + offset, *end = start + len;
	char *mid = (char *)(((uintptr_t)start + r->page_mask) & ~r->page_mask);
	char *mid_end = (char *)((uintptr_t)end & ~r->page_mask);

	if (mid_end > mid && (size_t)(mid_end - mid) >= RAM_MADVISE_MIN &&
	    madvise(mid, (size_t)(mid_end - mid), MADV_DONTNEED) == 0) {
		memset(start, 0, (size_t)(mid - start));
		memset(mid_end, 0, (size_t)(end - mid_end));
		return;
	}
	memset(start, 0, len);
}

static int ram_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	struct ram_backend *r = qp->be->priv;
	char *p = r->base + bio->offset;

	switch (bio->op) {
	case HNVMF_BIO_READ:
		for (int i = 0; i < bio->iovcnt; i++) {
			memcpy(bio->iov[i].iov_base, p, bio->iov[i].iov_len);
			p += bio->iov[i].iov_len;
		}
		break;
	case HNVMF_BIO_WRITE:
		for (int i = 0; i < bio->iovcnt; i++) {
			memcpy(p, bio->iov[i].iov_base, bio->iov[i].iov_len);
			p += bio->iov[i].iov_len;
		}
		break;
	case HNVMF_BIO_WRITE_ZEROES:
	case HNVMF_BIO_DISCARD:
		ram_zero(r, bio->offset, bio->len);
		break;
	case HNVMF_BIO_FLUSH:
		break; /* volatile by nature: nothing is more durable after a flush */
	}
	hnvmf_bqp_complete(qp, bio, 0);
	return 0;
}

const struct hnvmf_backend_ops hnvmf_backend_ram_ops = {
	.open = ram_open,
	.close = ram_close,
	.submit = ram_submit,
};
