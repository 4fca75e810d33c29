/* Builders for the SQEs the initiator sends (fields per the NVMe base and NVM command set
 * specifications; cid and the SGL are filled by the queue at submission). */
#include <endian.h>
#include <string.h>

#include "tools/initiator/initiator.h"

void hnvmf_sqe_identify(union hnvmf_sqe *s, uint8_t cns, uint32_t nsid, uint16_t cntid)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_admin_identify;
	s->common.nsid = htole32(nsid);
	s->common.cdw10 = htole32((uint32_t)cns | (uint32_t)cntid << 16);
}

void hnvmf_sqe_get_log(union hnvmf_sqe *s, uint8_t lid, uint32_t nsid, uint64_t offset,
		       uint32_t len, uint8_t lsp, bool rae)
{
	uint32_t numd = len / 4 - 1; /* 0's based dword count, split in NUMDL/NUMDU */
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_admin_get_log_page;
	s->common.nsid = htole32(nsid);
	s->common.cdw10 = htole32((uint32_t)lid | (uint32_t)(lsp & 0x7f) << 8 |
				  (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16);
	s->common.cdw11 = htole32(numd >> 16);
	s->common.cdw12 = htole32((uint32_t)offset);
	s->common.cdw13 = htole32((uint32_t)(offset >> 32));
}

void hnvmf_sqe_set_features(union hnvmf_sqe *s, uint8_t fid, uint32_t cdw11)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_admin_set_features;
	s->common.cdw10 = htole32(fid);
	s->common.cdw11 = htole32(cdw11);
}

void hnvmf_sqe_keep_alive(union hnvmf_sqe *s)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_admin_keep_alive;
}

void hnvmf_sqe_rw(union hnvmf_sqe *s, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = write ? nvme_cmd_write : nvme_cmd_read;
	s->common.nsid = htole32(nsid);
	s->common.cdw10 = htole32((uint32_t)slba);
	s->common.cdw11 = htole32((uint32_t)(slba >> 32));
	s->common.cdw12 = htole32((nlb - 1) & 0xffff);
}

void hnvmf_sqe_flush(union hnvmf_sqe *s, uint32_t nsid)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_cmd_flush;
	s->common.nsid = htole32(nsid);
}

void hnvmf_sqe_write_zeroes(union hnvmf_sqe *s, uint32_t nsid, uint64_t slba, uint32_t nlb)
{
	hnvmf_sqe_rw(s, false, nsid, slba, nlb);
	s->common.opcode = nvme_cmd_write_zeroes;
}

void hnvmf_sqe_dsm(union hnvmf_sqe *s, uint32_t nsid, unsigned nr, bool deallocate)
{
	memset(s, 0, sizeof(*s));
	s->common.opcode = nvme_cmd_dsm;
	s->common.nsid = htole32(nsid);
	s->common.cdw10 = htole32((nr - 1) & 0xff);
	s->common.cdw11 = htole32(deallocate ? 1u << 2 : 0); /* AD: attribute deallocate */
}
