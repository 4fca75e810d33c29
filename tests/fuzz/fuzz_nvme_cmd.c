/* The command parsers (fabrics, admin, I/O, discovery) and the transport's SGL handling: the
 * harness connects an admin queue and an I/O queue of one controller, then sends the input's
 * commands, each as a well-formed CapsuleCmd so the fuzzer spends its time on the SQE and the
 * in-capsule data rather than on framing. Input: records of
 *     [queue: 1 byte, bit 0 = I/O queue][SQE: 64 bytes][data length: 2 bytes LE][data]
 * R2Ts and data the target sends are read and dropped; a command whose data never comes stays
 * pending until the queue is closed at the end of the input (that path is fuzzed too). */
#include <endian.h>
#include <string.h>

#include "tests/fuzz/fuzz-env.h"
#include "proto/tcp-pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Property Set CC: EN, with the I/O queue entry sizes (an I/O queue Connect needs CSTS.RDY). */
static bool enable_ctrl(int fd)
{
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	sqe.prop.opcode = nvme_admin_fabrics;
	sqe.prop.fctype = nvme_fabrics_type_property_set;
	sqe.prop.cid = htole16(0xc1);
	sqe.prop.offset = htole32(NVME_REG_CC);
	sqe.prop.value = htole64(0x460001);
	fuzz_host_cmd(fd, &sqe, NULL, 0);
	uint8_t r[sizeof(struct hnvmf_tcp_rsp)];
	return fuzz_host_recv_pdu(fd, r, sizeof(r)) == sizeof(r) && r[0] == HNVMF_TCP_RSP &&
	       (r[22] | r[23] << 8) >> 1 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_env_init();
	uint32_t result = 0;
	int admin = fuzz_host_open();
	int io = fuzz_host_open();
	if (!fuzz_host_icreq(admin) || !fuzz_host_icreq(io) ||
	    fuzz_host_connect(admin, FUZZ_HOSTNQN, 0, 0xffff, &result) != 0)
		__builtin_trap(); /* the fixed preamble must work, or nothing below is reached */
	uint16_t cntlid = (uint16_t)result;
	if (!enable_ctrl(admin) || fuzz_host_connect(io, FUZZ_HOSTNQN, 1, cntlid, &result) != 0)
		__builtin_trap();

	while (size >= 1 + 64 + 2) {
		int fd = data[0] & 1 ? io : admin;
		union hnvmf_sqe sqe;
		memcpy(&sqe, data + 1, sizeof(sqe));
		uint16_t len = (uint16_t)(data[65] | data[66] << 8);
		data += 67;
		size -= 67;
		if (len > size)
			len = (uint16_t)size;
		fuzz_host_cmd(fd, &sqe, data, len);
		data += len;
		size -= len;
		fuzz_host_drain(admin);
		fuzz_host_drain(io);
	}
	fuzz_host_close(io);
	fuzz_host_close(admin);
	fuzz_env_check_released();
	return 0;
}
