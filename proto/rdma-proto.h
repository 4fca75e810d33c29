/* NVMe/RDMA wire formats and the checks on them that need no verbs (NVMe-oF RDMA transport
 * binding): the RDMA CM private data exchanged at connection time and the command's SGL.
 * Kept apart from the verbs code so unit tests can run them on a machine without RDMA. */
#ifndef HNVMF_RDMA_PROTO_H
#define HNVMF_RDMA_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/nvme-cmd.h"

/* RDMA_CM_REQUEST private data (host -> controller). All fields little endian. */
struct rdma_cm_req_pd {
	uint16_t recfmt;  /* record format: 0 */
	uint16_t qid;     /* 0: admin queue */
	uint16_t hrqsize; /* host receive queue size: responses it can take at once */
	uint16_t hsqsize; /* host send queue size, 0's based: commands in flight at once */
	uint8_t rsvd[24];
};

/* RDMA_CM_ACCEPT private data (controller -> host). */
struct rdma_cm_rep_pd {
	uint16_t recfmt;
	uint16_t crqsize; /* controller receive queue size: receive buffers posted */
	uint8_t rsvd[28];
};

/* RDMA_CM_REJECT private data. */
struct rdma_cm_rej_pd {
	uint16_t recfmt;
	uint16_t sts;
};

_Static_assert(sizeof(struct rdma_cm_req_pd) == 32, "CM request private data is 32 bytes");
_Static_assert(sizeof(struct rdma_cm_rep_pd) == 32, "CM accept private data is 32 bytes");

/* RDMA_CM_REJECT status codes (NVMe-oF RDMA binding). */
enum rdma_cm_sts {
	RDMA_CM_OK = 0,
	RDMA_CM_INVALID_LEN = 0x01,
	RDMA_CM_INVALID_RECFMT = 0x02,
	RDMA_CM_INVALID_QID = 0x03,
	RDMA_CM_INVALID_HSQSIZE = 0x04,
	RDMA_CM_INVALID_HRQSIZE = 0x05,
	RDMA_CM_NO_RSC = 0x06,
	RDMA_CM_INVALID_IRD = 0x07,
	RDMA_CM_INVALID_ORD = 0x08,
};

/* What the connection request asks for, once validated. */
struct rdma_cm_params {
	uint16_t qid;
	uint16_t recv_depth; /* hsqsize + 1: receive buffers we post (crqsize) */
	uint16_t hrqsize;
};

/* Validates a connection request's private data against our limits: admin_depth (the target's
 * HNVMF_ADMIN_QUEUE_DEPTH) for the admin queue, io_depth (queue_depth from the configuration)
 * for I/O queues, and max_qid (max_io_queues). Returns RDMA_CM_OK and fills *out, or the
 * reject status. */
enum rdma_cm_sts rdma_cm_parse_req(const void *pd, unsigned pd_len, unsigned admin_depth,
				   unsigned io_depth, unsigned max_qid, struct rdma_cm_params *out);
const char *rdma_cm_sts_str(enum rdma_cm_sts sts);

/* The data a command's SGL describes, as far as the SGL alone can tell. */
enum rdma_sgl_kind {
	RDMA_SGL_NONE,    /* no data */
	RDMA_SGL_INLINE,  /* in-capsule data at offset within the capsule */
	RDMA_SGL_KEYED,   /* host memory: RDMA READ (host to controller) or WRITE (to host) */
};

struct rdma_sgl {
	enum rdma_sgl_kind kind;
	uint32_t len;
	uint64_t addr;   /* keyed: remote address; inline: offset into the in-capsule data */
	uint32_t key;
	bool invalidate; /* keyed 0x4F: answer with SEND with Invalidate of key */
};

/* Parses the SQE's SGL. icd_len: in-capsule bytes that arrived after the SQE; icd_limit: the
 * most this queue accepts. Returns 0, or the NVMe status (with DNR) to fail the command with. */
uint16_t rdma_sgl_parse(const union hnvmf_sqe *sqe, uint32_t icd_len, uint32_t icd_limit,
			struct rdma_sgl *out);

#endif
