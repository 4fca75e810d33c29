/* NVM I/O commands: Read, Write (FUA), Flush, Write Zeroes, Dataset Management (deallocate),
 * Compare. Each becomes one or a few backend I/Os handed to core/ through the queue's channel for
 * that namespace; the CQE is built in the completion callback, after the backend finished. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "target/nvmf.h"
#include "target/tenant.h"

#define NSID_ALL 0xffffffffu
#define RW_FUA (1u << 30) /* cdw12 */
#define DSM_AD (1u << 2)  /* cdw11: deallocate */

/* What a backend's -errno means to the host, by the NVM command set's status codes. Statuses
 * without DNR tell the host the condition may pass and a retry may succeed. */
uint16_t hnvmf_errno_to_status(int err, bool write)
{
	switch (err) {
	case 0:
		return 0;
	case -ENOSPC: /* the file system under a file backend is full */
	case -EDQUOT:
		return HNVMF_SC_GENERIC(NVME_SC_CAP_EXCEEDED);
	case -EROFS:
		return HNVMF_SC_GENERIC(NVME_SC_NS_WRITE_PROTECTED);
	case -EPERM:
	case -EACCES:
		return HNVMF_SC_MEDIA(NVME_SC_ACCESS_DENIED);
	case -EINVAL:
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	case -EFBIG: /* past the largest file the file system allows */
		return HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE);
	case -EOPNOTSUPP:
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
	case -EIO:
	case -ENODATA:
	case -EBADMSG:
		return write ? HNVMF_SC_MEDIA(NVME_SC_WRITE_FAULT) : HNVMF_SC_MEDIA(NVME_SC_READ_ERROR);
	case -ETIMEDOUT: /* an RBD backend's cluster did not answer within rbd_timeout_s */
	case -ESHUTDOWN: /* Ceph's EBLOCKLISTED: this gateway was fenced off the cluster */
	case -ENOTCONN:
		/* Not this command's fault but this path's: without DNR the Linux host retries it,
		 * with native multipath on another path (nvme_failover_req takes SCT 3h). */
		return hnvmf_status(NVME_SCT_PATH, NVME_SC_ANA_INTERNAL_PATH_ERROR, 0);
	case -ENOMEM:
	case -EAGAIN:
	case -EBUSY:
	case -EINTR:
		return hnvmf_status(NVME_SCT_GENERIC, NVME_SC_CMD_INTERRUPTED, 0);
	default:
		return HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
	}
}

/* The LBA range [slba, slba + nlb) lies in the namespace and does not wrap. */
static bool lba_range_ok(const struct hnvmf_ns *ns, uint64_t slba, uint64_t nlb)
{
	return slba + nlb <= ns->nlba && slba + nlb >= slba;
}

static struct hnvmf_chan *queue_chan(struct hnvmf_sq *sq, struct hnvmf_ns *ns)
{
	struct hnvmf_chan *ch = sq->chans[ns->nsid];
	if (ch)
		return ch;
	struct hnvmf_tenant_qos q;
	struct hnvmf_chan_opts o = {.mode = sq->mode, .tenant = sq->ctrl->hostnqn,
				    .qos = hnvmf_tenant_qos(sq, &q) ? &q : NULL, .dam_unit = sq->dam_unit};
	int rc = hnvmf_chan_open(sq->tgt->engine, sq->reactor, ns->be, &o, &ch);
	if (rc) {
		log_err("%s: cannot open an I/O channel to namespace %u: %s", sq->peer, ns->nsid, strerror(-rc));
		return NULL;
	}
	sq->chans[ns->nsid] = ch;
	return ch;
}

static void submit(struct hnvmf_req *req, struct hnvmf_ns *ns, struct hnvmf_io *io)
{
	struct hnvmf_chan *ch = queue_chan(req->sq, ns);
	if (!ch) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	hnvmf_chan_submit(ch, io);
}

/* ---- Read / Write / Write Zeroes / Flush: one backend I/O ---- */

static void rw_done(struct hnvmf_io *io)
{
	struct hnvmf_req *req = container_of(io, struct hnvmf_req, io);
	struct hnvmf_sq *sq = req->sq;
	bool write = io->bio.op != HNVMF_BIO_READ;
	/* Only this reactor writes them: no locked instruction per I/O. */
	atomic_store_explicit(&sq->io_done, atomic_load_explicit(&sq->io_done, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&sq->io_hops, atomic_load_explicit(&sq->io_hops, memory_order_relaxed) + io->hops,
			      memory_order_relaxed);
	if (io->bio.op == HNVMF_BIO_READ && io->bio.result == 0)
		req->xfer_len = req->data_len;
	hnvmf_req_complete(req, hnvmf_errno_to_status(io->bio.result, write));
}

/* The byte range, io->bio.offset and len, was set by parse_lba_range. */
static void execute_rw(struct hnvmf_req *req)
{
	union hnvmf_sqe *cmd = req->cmd;
	struct hnvmf_io *io = &req->io;
	io->bio.iov = req->iov;
	io->bio.iovcnt = req->iovcnt;
	io->bio.flags = (le32toh(cmd->common.cdw12) & RW_FUA) ? HNVMF_BIO_FUA : 0;
	if (req->iov_replaceable)
		io->bio.flags |= HNVMF_BIO_IOV_REPLACEABLE;
	io->bio.op = cmd->common.opcode == nvme_cmd_read ? HNVMF_BIO_READ : HNVMF_BIO_WRITE;
	io->done = rw_done;
	submit(req, req->ns, io);
}

static void execute_write_zeroes(struct hnvmf_req *req)
{
	struct hnvmf_io *io = &req->io;
	io->bio.op = HNVMF_BIO_WRITE_ZEROES;
	io->bio.flags = (le32toh(req->cmd->common.cdw12) & RW_FUA) ? HNVMF_BIO_FUA : 0;
	io->bio.iov = NULL;
	io->bio.iovcnt = 0;
	io->done = rw_done;
	submit(req, req->ns, io);
}

static void execute_flush(struct hnvmf_req *req)
{
	struct hnvmf_io *io = &req->io;
	memset(&io->bio, 0, sizeof(io->bio));
	io->bio.op = HNVMF_BIO_FLUSH;
	io->done = rw_done;
	submit(req, req->ns, io);
}

/* ---- multi-step commands (DSM ranges, Compare, Flush of all namespaces): a small context
 * drives one backend I/O after another; these are rare, so they may allocate. ---- */

struct multi {
	struct hnvmf_req *req;
	struct hnvmf_io io;
	struct nvme_dsm_range *ranges;
	unsigned n, next;
	uint8_t *buf;     /* Compare: the data read back */
	struct iovec iov; /* Compare: the read's iovec (it completes after execute_compare returns) */
	uint16_t status;
};

static void multi_finish(struct multi *m)
{
	struct hnvmf_req *req = m->req;
	uint16_t st = m->status;
	free(m->ranges);
	free(m->buf);
	free(m);
	hnvmf_req_complete(req, st);
}

static void dsm_step(struct multi *m);

static void dsm_done(struct hnvmf_io *io)
{
	struct multi *m = container_of(io, struct multi, io);
	if (io->bio.result) {
		m->status = hnvmf_errno_to_status(io->bio.result, true);
		multi_finish(m);
		return;
	}
	dsm_step(m);
}

static void dsm_step(struct multi *m)
{
	struct hnvmf_req *req = m->req;
	struct hnvmf_ns *ns = req->ns;
	while (m->next < m->n) {
		struct nvme_dsm_range *r = &m->ranges[m->next++];
		uint64_t slba = le64toh(r->slba), nlb = le32toh(r->nlb);
		if (nlb == 0)
			continue;
		if (!lba_range_ok(ns, slba, nlb)) {
			m->status = HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE);
			multi_finish(m);
			return;
		}
		memset(&m->io.bio, 0, sizeof(m->io.bio));
		m->io.bio.op = HNVMF_BIO_DISCARD;
		m->io.bio.offset = slba << ns->lba_shift;
		m->io.bio.len = nlb << ns->lba_shift;
		m->io.done = dsm_done;
		struct hnvmf_chan *ch = queue_chan(req->sq, ns);
		if (!ch) {
			m->status = HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
			multi_finish(m);
			return;
		}
		hnvmf_chan_submit(ch, &m->io);
		return;
	}
	multi_finish(m);
}

static struct multi *multi_new(struct hnvmf_req *req)
{
	struct multi *m = calloc(1, sizeof(*m));
	if (!m)
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
	else
		m->req = req;
	return m;
}

static void execute_dsm(struct hnvmf_req *req)
{
	if (!(le32toh(req->cmd->common.cdw11) & DSM_AD)) { /* only hints: nothing to do */
		hnvmf_req_complete(req, 0);
		return;
	}
	struct multi *m = multi_new(req);
	if (!m)
		return;
	m->n = (le32toh(req->cmd->common.cdw10) & 0xff) + 1; /* NR, 0's based */
	m->ranges = malloc(req->data_len);
	if (!m->ranges) {
		m->status = HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
		multi_finish(m);
		return;
	}
	hnvmf_req_copy_from(req, m->ranges, req->data_len);
	dsm_step(m);
}

static void compare_done(struct hnvmf_io *io)
{
	struct multi *m = container_of(io, struct multi, io);
	struct hnvmf_req *req = m->req;
	if (io->bio.result) {
		m->status = hnvmf_errno_to_status(io->bio.result, false);
	} else {
		/* Compare the host's data, piece by piece, with what the backend holds. */
		size_t off = 0;
		for (int i = 0; i < req->iovcnt && !m->status; i++) {
			if (memcmp(m->buf + off, req->iov[i].iov_base, req->iov[i].iov_len))
				m->status = HNVMF_SC_MEDIA(NVME_SC_COMPARE_FAILED);
			off += req->iov[i].iov_len;
		}
	}
	multi_finish(m);
}

static void execute_compare(struct hnvmf_req *req)
{
	struct multi *m = multi_new(req);
	if (!m)
		return;
	m->buf = malloc(req->data_len);
	if (!m->buf) {
		m->status = HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
		multi_finish(m);
		return;
	}
	m->iov = (struct iovec){.iov_base = m->buf, .iov_len = req->data_len};
	m->io.bio = (struct hnvmf_bio){.op = HNVMF_BIO_READ, .offset = req->io.bio.offset,
				       .len = req->data_len, .iov = &m->iov, .iovcnt = 1};
	m->io.done = compare_done;
	submit(req, req->ns, &m->io);
}

static void flush_all_step(struct multi *m);

static void flush_all_done(struct hnvmf_io *io)
{
	struct multi *m = container_of(io, struct multi, io);
	m->req->sq->ns_busy[m->next]--; /* taken in flush_all_step */
	if (io->bio.result && !m->status)
		m->status = hnvmf_errno_to_status(io->bio.result, true);
	flush_all_step(m);
}

static void flush_all_step(struct multi *m)
{
	struct hnvmf_subsys *s = m->req->sq->ctrl->subsys;
	while (m->next < HNVMF_MAX_NSID) {
		struct hnvmf_ns *ns = hnvmf_subsys_ns(s, ++m->next);
		if (!ns)
			continue;
		struct hnvmf_chan *ch = queue_chan(m->req->sq, ns);
		if (!ch)
			continue;
		memset(&m->io.bio, 0, sizeof(m->io.bio));
		m->io.bio.op = HNVMF_BIO_FLUSH;
		m->io.done = flush_all_done;
		/* The flush holds this namespace as a request holds req->ns: a run-time removal
		 * waits for it before it closes the channel. */
		m->req->sq->ns_busy[m->next]++;
		hnvmf_chan_submit(ch, &m->io);
		return;
	}
	multi_finish(m);
}

static void execute_flush_all(struct hnvmf_req *req)
{
	struct multi *m = multi_new(req);
	if (m)
		flush_all_step(m);
}

/* ---- parsing ---- */

/* Read, Write, Compare and Write Zeroes address SLBA (CDW10-11) and NLB (CDW12 bits 15:0, 0's
 * based): decoded here, once, into the byte range of the command's backend I/O. */
static uint16_t parse_lba_range(struct hnvmf_req *req)
{
	union hnvmf_sqe *cmd = req->cmd;
	uint64_t slba = (uint64_t)le32toh(cmd->common.cdw11) << 32 | le32toh(cmd->common.cdw10);
	uint64_t nlb = (le32toh(cmd->common.cdw12) & 0xffff) + 1ull;
	if (!lba_range_ok(req->ns, slba, nlb))
		return HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE);
	req->io.bio.offset = slba << req->ns->lba_shift;
	req->io.bio.len = nlb << req->ns->lba_shift;
	return 0;
}

static uint16_t parse_rw(struct hnvmf_req *req, bool write)
{
	union hnvmf_sqe *cmd = req->cmd;
	struct hnvmf_ns *ns = req->ns;
	uint16_t st = parse_lba_range(req);
	if (st)
		return st;
	uint64_t len = req->io.bio.len;
	uint32_t mdts = req->sq->tgt->conf->mdts_kib;
	if (mdts && len > (uint64_t)mdts * 1024)
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	if (write && ns->readonly)
		return HNVMF_SC_GENERIC(NVME_SC_NS_WRITE_PROTECTED);
	req->dir = HNVMF_DIR_H2C;
	if (cmd->common.opcode == nvme_cmd_read)
		req->dir = HNVMF_DIR_C2H;
	req->data_len = (uint32_t)len;
	/* I/O commands transfer exactly what they address: no larger host buffer is accepted. */
	if (req->sgl_len != req->data_len)
		return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
	return 0;
}

uint16_t hnvmf_parse_io_cmd(struct hnvmf_req *req)
{
	union hnvmf_sqe *cmd = req->cmd;
	uint32_t nsid = le32toh(cmd->common.nsid);
	if (cmd->common.opcode == nvme_cmd_flush && nsid == NSID_ALL) {
		req->execute = execute_flush_all;
		return 0;
	}
	req->ns = hnvmf_subsys_ns(req->sq->ctrl->subsys, nsid);
	if (!req->ns)
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_NS);
	req->sq->ns_busy[nsid]++; /* until complete_here (target/req.c) */
	/* Through this gateway the namespace's ANA group may be inaccessible or changing: the host
	 * retries on another path (docs/ana.md). */
	uint16_t st = hnvmf_ana_io_status(req->sq->ctrl->subsys, req->ns);
	if (st)
		return st;
	switch (cmd->common.opcode) {
	case nvme_cmd_read:
		req->execute = execute_rw;
		return parse_rw(req, false);
	case nvme_cmd_write:
		req->execute = execute_rw;
		return parse_rw(req, true);
	case nvme_cmd_compare:
		req->execute = execute_compare;
		st = parse_rw(req, false);
		req->dir = HNVMF_DIR_H2C; /* the host sends the data to compare with */
		return st;
	case nvme_cmd_flush:
		req->execute = execute_flush;
		return 0;
	case nvme_cmd_write_zeroes:
		st = parse_lba_range(req);
		if (st)
			return st;
		if (req->ns->readonly)
			return HNVMF_SC_GENERIC(NVME_SC_NS_WRITE_PROTECTED);
		req->execute = execute_write_zeroes;
		return 0;
	case nvme_cmd_dsm: {
		if (req->ns->readonly)
			return HNVMF_SC_GENERIC(NVME_SC_NS_WRITE_PROTECTED);
		uint32_t need = ((le32toh(cmd->common.cdw10) & 0xff) + 1) * (uint32_t)sizeof(struct nvme_dsm_range);
		/* The Linux host sends its whole range page (4 KiB) whatever NR says: take all of it
		 * and use the first NR ranges. */
		if (req->sgl_len < need || req->sgl_len > 4096)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
		req->dir = HNVMF_DIR_H2C;
		req->data_len = req->sgl_len;
		req->execute = execute_dsm;
		return 0;
	}
	default:
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
	}
}
