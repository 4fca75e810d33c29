/* Fabrics commands on one queue: Connect, Property Get/Set, Disconnect. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/nvme-status.h"
#include "tools/initiator/queue-internal.h"

int hnvmf_ini_fabrics_connect(struct hnvmf_ini_queue *q, uint16_t qid, uint16_t sqsize,
			      uint32_t kato_ms, uint16_t cntlid, const char *subnqn,
			      const char *hostnqn, const uint8_t hostid[16], uint16_t *cntlid_out,
			      int timeout_ms)
{
	if (strlen(subnqn) >= NVME_NQN_LENGTH || strlen(hostnqn) >= NVME_NQN_LENGTH)
		return -ENAMETOOLONG;
	struct nvmf_connect_data data;
	memset(&data, 0, sizeof(data));
	memcpy(data.hostid, hostid, sizeof(data.hostid));
	data.cntlid = htole16(cntlid);
	strncpy(data.subsysnqn, subnqn, sizeof(data.subsysnqn) - 1);
	strncpy(data.hostnqn, hostnqn, sizeof(data.hostnqn) - 1);

	struct hnvmf_ini_io io = { .data = &data, .len = sizeof(data), .dir = HNVMF_INI_TO_CTRL };
	io.sqe.connect.opcode = nvme_admin_fabrics;
	io.sqe.connect.fctype = nvme_fabrics_type_connect;
	io.sqe.connect.recfmt = htole16(0);
	io.sqe.connect.qid = htole16(qid);
	io.sqe.connect.sqsize = htole16(sqsize);
	io.sqe.connect.kato = htole32(kato_ms);
	q->qid = qid;
	int r = hnvmf_ini_exec(q, &io, timeout_ms);
	if (r == 0 && cntlid_out)
		*cntlid_out = (uint16_t)le64toh(io.cqe.result);
	if (r == 0 && (le64toh(io.cqe.result) & HNVMF_CONNECT_RESP_ATR))
		return -EACCES; /* authentication required: not supported by this initiator */
	return r;
}

int hnvmf_ini_prop_get(struct hnvmf_ini_queue *q, uint32_t offset, unsigned size, uint64_t *val,
		       int timeout_ms)
{
	struct hnvmf_ini_io io = { .dir = HNVMF_INI_NONE };
	io.sqe.prop.opcode = nvme_admin_fabrics;
	io.sqe.prop.fctype = nvme_fabrics_type_property_get;
	io.sqe.prop.attrib = size == 8 ? 1 : 0;
	io.sqe.prop.offset = htole32(offset);
	int r = hnvmf_ini_exec(q, &io, timeout_ms);
	if (r == 0) {
		uint64_t v = le64toh(io.cqe.result);
		*val = size == 8 ? v : (uint32_t)v;
	}
	return r;
}

int hnvmf_ini_prop_set(struct hnvmf_ini_queue *q, uint32_t offset, unsigned size, uint64_t val,
		       int timeout_ms)
{
	struct hnvmf_ini_io io = { .dir = HNVMF_INI_NONE };
	io.sqe.prop.opcode = nvme_admin_fabrics;
	io.sqe.prop.fctype = nvme_fabrics_type_property_set;
	io.sqe.prop.attrib = size == 8 ? 1 : 0;
	io.sqe.prop.offset = htole32(offset);
	io.sqe.prop.value = htole64(val);
	return hnvmf_ini_exec(q, &io, timeout_ms);
}

int hnvmf_ini_fabrics_disconnect(struct hnvmf_ini_queue *q, int timeout_ms)
{
	struct hnvmf_ini_io io = { .dir = HNVMF_INI_NONE };
	io.sqe.fabrics.opcode = nvme_admin_fabrics;
	io.sqe.fabrics.fctype = nvme_fabrics_type_disconnect;
	return hnvmf_ini_exec(q, &io, timeout_ms);
}

static const char *status_str(int status, bool fabrics, char *buf, size_t len)
{
	if (status < 0) {
		snprintf(buf, len, "%s", strerror(-status));
		return buf;
	}
	return hnvmf_status_str((uint16_t)status, fabrics, buf, len);
}

const char *hnvmf_ini_status_str(int status, char *buf, size_t len)
{
	return status_str(status, false, buf, len);
}

const char *hnvmf_ini_fabrics_status_str(int status, char *buf, size_t len)
{
	return status_str(status, true, buf, len);
}
