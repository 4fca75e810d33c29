/* Building the PDUs a host sends and checking the ICResp: pure functions over the layouts of
 * proto/tcp-pdu.h, shared by the queue and the raw mode. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "tools/initiator/initiator.h"

void hnvmf_pdu_icreq(struct hnvmf_tcp_icreq *req, bool hdgst, bool ddgst)
{
	memset(req, 0, sizeof(*req));
	req->hdr.type = HNVMF_TCP_ICREQ;
	req->hdr.hlen = sizeof(*req);
	req->hdr.plen = htole32(sizeof(*req));
	req->pfv = htole16(0);
	req->hpda = 0;   /* no alignment asked for C2HData */
	req->maxr2t = 0; /* 0's based: one outstanding R2T per command */
	req->digest = (hdgst ? HNVMF_TCP_DIGEST_HDR : 0) | (ddgst ? HNVMF_TCP_DIGEST_DATA : 0);
}

static int icresp_fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EPROTO;
}

int hnvmf_pdu_icresp_check(const struct hnvmf_tcp_icresp *rsp, bool hdgst, bool ddgst,
			   const char **why)
{
	if (rsp->hdr.type != HNVMF_TCP_ICRESP)
		return icresp_fail(why, "ICResp: wrong PDU type");
	if (rsp->hdr.hlen != sizeof(*rsp) || le32toh(rsp->hdr.plen) != sizeof(*rsp))
		return icresp_fail(why, "ICResp: hlen/plen is not 128");
	if (le16toh(rsp->pfv) != 0)
		return icresp_fail(why, "ICResp: unsupported PDU format version");
	if (!!(rsp->digest & HNVMF_TCP_DIGEST_HDR) != hdgst)
		return icresp_fail(why, "ICResp: header digest differs from the request");
	if (!!(rsp->digest & HNVMF_TCP_DIGEST_DATA) != ddgst)
		return icresp_fail(why, "ICResp: data digest differs from the request");
	if (rsp->cpda > 31)
		return icresp_fail(why, "ICResp: cpda out of range");
	uint32_t maxdata = le32toh(rsp->maxdata);
	if (maxdata % 4 || maxdata < 4096)
		return icresp_fail(why, "ICResp: maxh2cdata not a multiple of 4 or below 4096");
	return 0;
}

/* Data offset of a PDU carrying data: right after the header (and its digest), rounded up
 * to the controller's alignment (cpda, 0's based in dwords). */
static uint32_t data_offset(uint32_t hlen_with_digest, uint8_t cpda)
{
	uint32_t align = ((uint32_t)cpda + 1) * 4;
	return (hlen_with_digest + align - 1) / align * align;
}

static void put_hdgst(uint8_t *buf, uint8_t hlen)
{
	uint32_t d = htole32(hnvmf_crc32c(buf, hlen));
	memcpy(buf + hlen, &d, sizeof(d));
}

size_t hnvmf_pdu_cmd(void *buf, const union hnvmf_sqe *sqe, uint32_t icd_len, bool hdgst,
		     bool ddgst, uint8_t cpda, uint32_t *pad_out)
{
	struct hnvmf_tcp_cmd *c = buf;
	uint32_t hl = sizeof(*c) + (hdgst ? HNVMF_TCP_DIGEST_LEN : 0);
	uint32_t pdo = 0, pad = 0, plen = hl;

	c->hdr.type = HNVMF_TCP_CMD;
	c->hdr.flags = (hdgst ? HNVMF_TCP_F_HDGST : 0);
	c->hdr.hlen = sizeof(*c);
	if (icd_len) {
		pdo = data_offset(hl, cpda);
		pad = pdo - hl;
		plen = pdo + icd_len + (ddgst ? HNVMF_TCP_DIGEST_LEN : 0);
		if (ddgst)
			c->hdr.flags |= HNVMF_TCP_F_DDGST;
	}
	c->hdr.pdo = (uint8_t)pdo;
	c->hdr.plen = htole32(plen);
	if (&c->sqe != sqe)
		memcpy(&c->sqe, sqe, sizeof(*sqe));
	if (hdgst)
		put_hdgst(buf, sizeof(*c));
	if (pad_out)
		*pad_out = pad;
	return hl;
}

size_t hnvmf_pdu_h2c_data(void *buf, uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t len,
			  bool last, bool hdgst, bool ddgst, uint8_t cpda, uint32_t *pad_out)
{
	struct hnvmf_tcp_data *d = buf;
	uint32_t hl = sizeof(*d) + (hdgst ? HNVMF_TCP_DIGEST_LEN : 0);
	uint32_t pdo = data_offset(hl, cpda);

	memset(d, 0, sizeof(*d));
	d->hdr.type = HNVMF_TCP_H2C_DATA;
	d->hdr.flags = (hdgst ? HNVMF_TCP_F_HDGST : 0) | (ddgst ? HNVMF_TCP_F_DDGST : 0) |
		       (last ? HNVMF_TCP_F_DATA_LAST : 0);
	d->hdr.hlen = sizeof(*d);
	d->hdr.pdo = (uint8_t)pdo;
	d->hdr.plen = htole32(pdo + len + (ddgst ? HNVMF_TCP_DIGEST_LEN : 0));
	d->cid = cid; /* already little endian: echoed as the SQE carried it */
	d->ttag = ttag;
	d->offset = htole32(offset);
	d->length = htole32(len);
	if (hdgst)
		put_hdgst(buf, sizeof(*d));
	if (pad_out)
		*pad_out = pdo - hl;
	return hl;
}

unsigned hnvmf_pdu_expected_hlen(uint8_t type)
{
	switch (type) {
	case HNVMF_TCP_ICREQ:
	case HNVMF_TCP_ICRESP:
		return 128;
	case HNVMF_TCP_H2C_TERM:
	case HNVMF_TCP_C2H_TERM:
		return sizeof(struct hnvmf_tcp_term);
	case HNVMF_TCP_CMD:
		return sizeof(struct hnvmf_tcp_cmd);
	case HNVMF_TCP_RSP:
		return sizeof(struct hnvmf_tcp_rsp);
	case HNVMF_TCP_H2C_DATA:
	case HNVMF_TCP_C2H_DATA:
		return sizeof(struct hnvmf_tcp_data);
	case HNVMF_TCP_R2T:
		return sizeof(struct hnvmf_tcp_r2t);
	default:
		return 0;
	}
}

const char *hnvmf_pdu_type_name(uint8_t type)
{
	static const char *const names[] = {
		[HNVMF_TCP_ICREQ] = "ICReq",		[HNVMF_TCP_ICRESP] = "ICResp",
		[HNVMF_TCP_H2C_TERM] = "H2CTermReq",	[HNVMF_TCP_C2H_TERM] = "C2HTermReq",
		[HNVMF_TCP_CMD] = "CapsuleCmd",		[HNVMF_TCP_RSP] = "CapsuleResp",
		[HNVMF_TCP_H2C_DATA] = "H2CData",	[HNVMF_TCP_C2H_DATA] = "C2HData",
		[HNVMF_TCP_R2T] = "R2T",
	};
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}
