/* NVMe/TCP PDU layouts (NVMe/TCP Transport Specification 1.0, sections 3.6-3.7), shared by the
 * target's transport and the userspace initiator. Little endian on the wire. */
#ifndef HNVMF_TCP_PDU_H
#define HNVMF_TCP_PDU_H

#include <stdint.h>

#include "proto/nvme-cmd.h"

enum hnvmf_tcp_pdu_type {
	HNVMF_TCP_ICREQ = 0x00,
	HNVMF_TCP_ICRESP = 0x01,
	HNVMF_TCP_H2C_TERM = 0x02,
	HNVMF_TCP_C2H_TERM = 0x03,
	HNVMF_TCP_CMD = 0x04,
	HNVMF_TCP_RSP = 0x05,
	HNVMF_TCP_H2C_DATA = 0x06,
	HNVMF_TCP_C2H_DATA = 0x07,
	HNVMF_TCP_R2T = 0x09,
};

enum hnvmf_tcp_pdu_flags {
	HNVMF_TCP_F_HDGST = 1u << 0,
	HNVMF_TCP_F_DDGST = 1u << 1,
	HNVMF_TCP_F_DATA_LAST = 1u << 2,
	HNVMF_TCP_F_DATA_SUCCESS = 1u << 3,
};

/* ICReq/ICResp digest field */
#define HNVMF_TCP_DIGEST_HDR 1u
#define HNVMF_TCP_DIGEST_DATA 2u

/* Fatal error status in a termination request. */
enum hnvmf_tcp_fes {
	HNVMF_TCP_FES_INVALID_PDU_HDR = 0x01,
	HNVMF_TCP_FES_PDU_SEQ_ERR = 0x02,
	HNVMF_TCP_FES_HDR_DIGEST_ERR = 0x03,
	HNVMF_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED = 0x05,
	HNVMF_TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

#define HNVMF_TCP_DIGEST_LEN 4
#define HNVMF_TCP_TERM_MAX_DATA 128 /* the offending header, copied back, at most this much */

struct hnvmf_tcp_hdr {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
};

struct hnvmf_tcp_icreq {
	struct hnvmf_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t digest;
	uint32_t maxr2t; /* 0's based */
	uint8_t rsvd[112];
};

struct hnvmf_tcp_icresp {
	struct hnvmf_tcp_hdr hdr;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t digest;
	uint32_t maxdata; /* MAXH2CDATA */
	uint8_t rsvd[112];
};

struct hnvmf_tcp_term {
	struct hnvmf_tcp_hdr hdr;
	uint16_t fes;
	uint32_t fei;
	uint8_t rsvd[10];
} __attribute__((packed));

struct hnvmf_tcp_cmd {
	struct hnvmf_tcp_hdr hdr;
	union hnvmf_sqe sqe;
};

struct hnvmf_tcp_rsp {
	struct hnvmf_tcp_hdr hdr;
	struct hnvmf_cqe cqe;
};

struct hnvmf_tcp_r2t {
	struct hnvmf_tcp_hdr hdr;
	uint16_t cid;
	uint16_t ttag;
	uint32_t offset;
	uint32_t length;
	uint8_t rsvd[4];
};

struct hnvmf_tcp_data {
	struct hnvmf_tcp_hdr hdr;
	uint16_t cid;
	uint16_t ttag;
	uint32_t offset;
	uint32_t length;
	uint8_t rsvd[4];
};

_Static_assert(sizeof(struct hnvmf_tcp_hdr) == 8, "common header");
_Static_assert(sizeof(struct hnvmf_tcp_icreq) == 128, "ICReq");
_Static_assert(sizeof(struct hnvmf_tcp_icresp) == 128, "ICResp");
_Static_assert(sizeof(struct hnvmf_tcp_term) == 24, "TermReq");
_Static_assert(sizeof(struct hnvmf_tcp_cmd) == 72, "CapsuleCmd");
_Static_assert(sizeof(struct hnvmf_tcp_rsp) == 24, "CapsuleResp");
_Static_assert(sizeof(struct hnvmf_tcp_r2t) == 24, "R2T");
_Static_assert(sizeof(struct hnvmf_tcp_data) == 24, "H2CData/C2HData");

#endif
