/* NVMe submission and completion queue entries as they travel in capsules.
 * libnvme's nvme/types.h supplies opcodes, status codes and the data structures (Identify,
 * log pages, connect data); the 64-byte SQE and 16-byte CQE layouts are not in it, so they are
 * declared here once, for the target and the initiator alike. All fields are little endian. */
#ifndef HNVMF_NVME_CMD_H
#define HNVMF_NVME_CMD_H

#include <endian.h>
#include <stdint.h>

#include <nvme/types.h>

/* SGL descriptor (16 bytes). type = descriptor type << 4 | subtype. Unkeyed descriptors (TCP,
 * in-capsule) use length; keyed ones (RDMA) pack a 3-byte length and a 4-byte key into bytes
 * 8..14: read them with hnvmf_sgl_keyed_len / hnvmf_sgl_key. */
struct hnvmf_sgl {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;
};

static inline uint32_t hnvmf_sgl_keyed_len(const struct hnvmf_sgl *s)
{
	const uint8_t *b = (const uint8_t *)s + 8;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
}
static inline uint32_t hnvmf_sgl_key(const struct hnvmf_sgl *s)
{
	const uint8_t *b = (const uint8_t *)s + 11;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

#define HNVMF_SGL_DATA_BLOCK_OFFSET 0x01   /* in-capsule data (data block, offset subtype) */
#define HNVMF_SGL_TRANSPORT_DATA 0x5A      /* transport data block, transport specific (TCP) */
#define HNVMF_SGL_KEYED_DATA 0x40          /* keyed data block, address subtype (RDMA) */
#define HNVMF_SGL_KEYED_DATA_INV 0x4F      /* keyed, invalidate key (RDMA) */

struct hnvmf_sqe_common {
	uint8_t opcode;
	uint8_t flags; /* bits 7:6 PSDT: 01b = SGL for data */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	struct hnvmf_sgl dptr;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};

struct hnvmf_sqe_fabrics {
	uint8_t opcode; /* nvme_fabrics_command 0x7f */
	uint8_t rsvd1;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct hnvmf_sgl dptr;
	uint8_t specific[24];
};

struct hnvmf_sqe_connect {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct hnvmf_sgl dptr;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize; /* 0's based */
	uint8_t cattr;   /* bit 2: SQ flow control disable */
	uint8_t rsvd3;
	uint32_t kato;   /* ms */
	uint8_t rsvd4[12];
};

struct hnvmf_sqe_prop {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd2[35];
	uint8_t attrib; /* bits 2:0: 0 = 4 bytes, 1 = 8 bytes */
	uint8_t rsvd3[3];
	uint32_t offset;
	uint64_t value; /* Property Set only */
	uint8_t rsvd4[8];
};

struct hnvmf_sqe_auth {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t cid;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct hnvmf_sgl dptr;
	uint8_t rsvd3;
	uint8_t spsp0;
	uint8_t spsp1;
	uint8_t secp;
	uint32_t len; /* TL (send) or AL (receive) */
	uint8_t rsvd4[16];
};

union hnvmf_sqe {
	struct hnvmf_sqe_common common;
	struct hnvmf_sqe_fabrics fabrics;
	struct hnvmf_sqe_connect connect;
	struct hnvmf_sqe_prop prop;
	struct hnvmf_sqe_auth auth;
	uint8_t raw[64];
};

struct hnvmf_cqe {
	uint64_t result; /* DW0 (and DW1) */
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status; /* bit 0 phase; bits 15:1 status field (SC | SCT << 8 | CRD | M | DNR) */
};

_Static_assert(sizeof(struct hnvmf_sgl) == 16, "SGL descriptor is 16 bytes");
_Static_assert(sizeof(union hnvmf_sqe) == 64, "SQE is 64 bytes");
_Static_assert(sizeof(struct hnvmf_sqe_connect) == 64, "Connect SQE is 64 bytes");
_Static_assert(sizeof(struct hnvmf_sqe_prop) == 64, "Property SQE is 64 bytes");
_Static_assert(sizeof(struct hnvmf_sqe_auth) == 64, "Auth SQE is 64 bytes");
_Static_assert(sizeof(struct hnvmf_cqe) == 16, "CQE is 16 bytes");

#define HNVMF_CONNECT_CATTR_SQ_FC_DISABLE (1u << 2)
#define HNVMF_CONNECT_RESP_ATR (1u << 17) /* authentication required */

/* Status field value (without phase): status code type, status code and the DNR bit. */
static inline uint16_t hnvmf_status(unsigned sct, unsigned sc, int dnr)
{
	return (uint16_t)(((sct & 0x7) << NVME_SCT_SHIFT) | (sc & 0xff) | (dnr ? NVME_SC_DNR : 0));
}
#define HNVMF_SC_GENERIC(sc) hnvmf_status(NVME_SCT_GENERIC, (sc), 1)
#define HNVMF_SC_CMD(sc) hnvmf_status(NVME_SCT_CMD_SPECIFIC, (sc), 1)
#define HNVMF_SC_MEDIA(sc) hnvmf_status(NVME_SCT_MEDIA, (sc), 1)
static inline unsigned hnvmf_status_sct(uint16_t st) { return (st >> NVME_SCT_SHIFT) & 0x7; }
static inline unsigned hnvmf_status_sc(uint16_t st) { return st & 0xff; }

#endif
