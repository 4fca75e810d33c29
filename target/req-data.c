/* What the target decides about a request's data and how its CQE goes on the wire, apart from
 * target/req.c so that the transports' unit tests link this very code under their fake target
 * (tests/unit/test_tcp_fakes.h) instead of a copy that drifts. */
#include <endian.h>

#include "target/nvmf.h"

/* The host's SGL must describe exactly the data the command moves, except that a C2H buffer
 * may be larger than what the target returns. */
static uint16_t check_data_len(struct hnvmf_req *req)
{
	uint32_t need = req->data_len;
	if (req->dir == HNVMF_DIR_NONE || need == 0) {
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
		return req->sgl_len ? HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA) : 0;
	}
	if (req->sgl_len == need)
		return 0;
	if (req->dir == HNVMF_DIR_C2H && req->sgl_len > need)
		return 0;
	return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
}

/* Called by hnvmf_req_init with the status its parser gave (0: the handler set dir and
 * data_len). The command is judged first, as nvmet parses it before the transport maps its
 * data; then its data. A descriptor the transport refused (req->sgl_status: e.g. a keyed SGL
 * on NVMe/TCP is SGL Descriptor Type Invalid) has no length, so a length mismatch found by the
 * parser or here is the refusal's and the transport's status is the answer. */
uint16_t hnvmf_req_check_data(struct hnvmf_req *req, uint16_t parsed)
{
	uint16_t st = parsed ? parsed : check_data_len(req);
	if (req->sgl_status && (st == 0 || st == HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA)))
		return req->sgl_status;
	return st;
}

/* Inside the target a status is host-endian (req->status); the CQE is the wire's, so this is
 * the one place where its SQ id, SQ head and status field become little-endian. The command
 * identifier is already the wire's (copied from the SQE), and handlers store the result with
 * htole32/htole64. */
void hnvmf_req_build_cqe(struct hnvmf_req *req, uint16_t sq_head)
{
	req->cqe.sq_id = htole16(req->sq->qid);
	req->cqe.sq_head = htole16(sq_head);
	req->cqe.status = htole16((uint16_t)(req->status << 1));
}
