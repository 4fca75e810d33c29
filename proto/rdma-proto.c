/* NVMe/RDMA private data and SGL checks (see rdma-proto.h). */
#include <endian.h>
#include <stddef.h>
#include <string.h>

#include "proto/rdma-proto.h"

enum rdma_cm_sts rdma_cm_parse_req(const void *pd, unsigned pd_len, unsigned admin_depth,
				   unsigned io_depth, unsigned max_qid, struct rdma_cm_params *out)
{
	/* The host sends 32 bytes; the CM may pad private data, so only a short one is wrong. */
	if (!pd || pd_len < offsetof(struct rdma_cm_req_pd, rsvd))
		return RDMA_CM_INVALID_LEN;
	struct rdma_cm_req_pd r;
	memset(&r, 0, sizeof(r));
	memcpy(&r, pd, pd_len < sizeof(r) ? pd_len : sizeof(r));
	if (le16toh(r.recfmt) != 0)
		return RDMA_CM_INVALID_RECFMT;
	uint16_t qid = le16toh(r.qid);
	if (qid > max_qid)
		return RDMA_CM_INVALID_QID;
	unsigned depth = le16toh(r.hsqsize) + 1u;
	unsigned limit = qid == 0 ? admin_depth : io_depth;
	/* hsqsize 0 would be a one-entry queue, which NVMe forbids (a full queue is one short). */
	if (depth < 2 || depth > limit)
		return RDMA_CM_INVALID_HSQSIZE;
	/* The host must be able to receive at least one response. */
	if (le16toh(r.hrqsize) == 0)
		return RDMA_CM_INVALID_HRQSIZE;
	out->qid = qid;
	out->recv_depth = (uint16_t)depth;
	out->hrqsize = le16toh(r.hrqsize);
	return RDMA_CM_OK;
}

const char *rdma_cm_sts_str(enum rdma_cm_sts sts)
{
	switch (sts) {
	case RDMA_CM_OK: return "ok";
	case RDMA_CM_INVALID_LEN: return "invalid private data length";
	case RDMA_CM_INVALID_RECFMT: return "invalid record format";
	case RDMA_CM_INVALID_QID: return "invalid queue id";
	case RDMA_CM_INVALID_HSQSIZE: return "invalid host send queue size";
	case RDMA_CM_INVALID_HRQSIZE: return "invalid host receive queue size";
	case RDMA_CM_NO_RSC: return "no resources";
	case RDMA_CM_INVALID_IRD: return "invalid IRD";
	case RDMA_CM_INVALID_ORD: return "invalid ORD";
	}
	return "unknown";
}

uint16_t rdma_sgl_parse(const union hnvmf_sqe *sqe, uint32_t icd_len, uint32_t icd_limit,
			struct rdma_sgl *out)
{
	const struct hnvmf_sgl *sgl = &sqe->common.dptr;
	memset(out, 0, sizeof(*out));
	switch (sgl->type) {
	case HNVMF_SGL_DATA_BLOCK_OFFSET: {
		uint64_t off = le64toh(sgl->addr);
		uint32_t len = le32toh(sgl->length);
		/* The data must lie within what the queue accepts and what actually arrived. */
		if (off > icd_limit || len > icd_limit - off)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_OFFSET);
		if (off + len > icd_len)
			return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
		out->kind = len ? RDMA_SGL_INLINE : RDMA_SGL_NONE;
		out->addr = off;
		out->len = len;
		return 0;
	}
	case HNVMF_SGL_KEYED_DATA:
	case HNVMF_SGL_KEYED_DATA_INV:
		out->len = hnvmf_sgl_keyed_len(sgl);
		out->key = hnvmf_sgl_key(sgl);
		out->addr = le64toh(sgl->addr);
		out->invalidate = sgl->type == HNVMF_SGL_KEYED_DATA_INV;
		/* A zero-length keyed SGL moves nothing, but its key may still ask to be
		 * invalidated with the response. */
		out->kind = out->len ? RDMA_SGL_KEYED : RDMA_SGL_NONE;
		return 0;
	default:
		/* No data: the descriptor's type does not matter (nvmet checks it only when the
		 * command transfers data; hnvmf_req_init catches a command that needs some). */
		if (hnvmf_sgl_keyed_len(sgl) == 0 && le32toh(sgl->length) == 0)
			return 0;
		return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE);
	}
}
