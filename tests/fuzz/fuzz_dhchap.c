/* DH-HMAC-CHAP (target/auth.c): the harness connects an admin queue as a host whose tenant
 * requires authentication, then sends the input's messages as Authentication Send payloads and
 * asks for the controller's as Authentication Receive. Input: records of
 *     [kind: 1 byte, bit 0: 0 = AuthSend, 1 = AuthRecv][length: 2 bytes LE][payload]
 * (AuthRecv: length is the AL field and the payload is empty). The controller's Challenge is
 * random, so a Reply cannot be right: what is fuzzed is every check before and around it. */
#include <endian.h>
#include <string.h>

#include "target/auth.h"
#include "tests/fuzz/fuzz-env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void auth_cmd(int fd, uint8_t fctype, const uint8_t *payload, uint16_t len)
{
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	sqe.auth.opcode = nvme_admin_fabrics;
	sqe.auth.fctype = fctype;
	sqe.auth.cid = htole16(7);
	sqe.auth.secp = HNVMF_AUTH_SECP_DHCHAP;
	sqe.auth.spsp0 = HNVMF_AUTH_SPSP_DHCHAP;
	sqe.auth.spsp1 = HNVMF_AUTH_SPSP_DHCHAP;
	sqe.auth.len = htole32(len);
	sqe.auth.dptr.length = htole32(len);
	if (fctype == nvme_fabrics_type_auth_send) {
		sqe.auth.dptr.type = HNVMF_SGL_DATA_BLOCK_OFFSET;
		fuzz_host_cmd(fd, &sqe, payload, len);
	} else {
		sqe.auth.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		fuzz_host_cmd(fd, &sqe, NULL, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_env_init();
	uint32_t result = 0;
	int fd = fuzz_host_open();
	if (!fuzz_host_icreq(fd) || fuzz_host_connect(fd, FUZZ_AUTH_HOSTNQN, 0, 0xffff, &result) != 0 ||
	    !(result & HNVMF_CONNECT_RESP_ATR))
		__builtin_trap(); /* the fixed preamble must ask for authentication */
	while (size >= 3) {
		bool recv = data[0] & 1;
		uint16_t len = (uint16_t)(data[1] | data[2] << 8);
		data += 3;
		size -= 3;
		if (recv) {
			auth_cmd(fd, nvme_fabrics_type_auth_receive, NULL, len);
		} else {
			if (len > size)
				len = (uint16_t)size;
			auth_cmd(fd, nvme_fabrics_type_auth_send, data, len);
			data += len;
			size -= len;
		}
		fuzz_host_drain(fd);
	}
	fuzz_host_close(fd);
	fuzz_env_check_released();
	return 0;
}
