/* Null backend: a sink for benchmarks. Every bio finishes inside submit with success; writes move
 * no data, so a benchmark measures the target and the network, not storage. Reads return zeroes:
 * the transports reuse data buffers across requests and connections, so a read that left its
 * buffer as it was would send the host whatever the last user of that buffer had there, possibly
 * another host's data. Zeroing costs a memset of the whole transfer (16 % of the target's CPU at
 * 128 KiB reads over TCP), so when the caller allows it (HNVMF_BIO_IOV_REPLACEABLE) the iovecs
 * are pointed at one shared zero area instead: never written, it stays the kernel's zero page.
 * The size comes from the parameters. */
#include <errno.h>
#include <string.h>

#include "core/backend/backend-impl.h"

static int null_open(struct hnvmf_backend *be, const struct hnvmf_backend_params *p, char *errmsg,
		     size_t errlen)
{
	if (p->size == 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "null backend needs a size");
		return -EINVAL;
	}
	be->size = p->size;
	return 0;
}

static void null_close(struct hnvmf_backend *be) { (void)be; }

/* Nothing is stored: any configured size is the size. */
static int null_probe_size(struct hnvmf_backend *be, uint64_t want, uint64_t *size, char *errmsg,
			   size_t errlen)
{
	(void)be;
	if (want == 0) {
		hnvmf_backend_errmsg(errmsg, errlen, "null backend needs a size");
		return -EINVAL;
	}
	*size = want;
	return 0;
}

/* Never written (bss): every page of it maps the one zero page. An iovec longer than this (MDTS
 * above 1 MiB) is zeroed in place. */
static uint8_t shared_zeroes[1u << 20];

static int null_submit(struct hnvmf_bqp *qp, struct hnvmf_bio *bio)
{
	if (bio->op == HNVMF_BIO_READ)
		for (int i = 0; i < bio->iovcnt; i++) {
			if ((bio->flags & HNVMF_BIO_IOV_REPLACEABLE) &&
			    bio->iov[i].iov_len <= sizeof(shared_zeroes))
				bio->iov[i].iov_base = shared_zeroes;
			else
				memset(bio->iov[i].iov_base, 0, bio->iov[i].iov_len);
		}
	hnvmf_bqp_complete(qp, bio, 0);
	return 0;
}

const struct hnvmf_backend_ops hnvmf_backend_null_ops = {
	.open = null_open,
	.probe_size = null_probe_size,
	.close = null_close,
	.submit = null_submit,
};
