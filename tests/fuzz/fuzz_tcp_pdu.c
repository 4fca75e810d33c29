/* The NVMe/TCP receive state machine: the input is the byte stream a host sends on a new
 * connection (ICReq, capsules, H2CData, H2CTermReq ... as the fuzzer makes them), fed to the
 * real transport and target (fuzz-env.h). The first byte picks how the stream is cut into
 * writes, so partial headers, digests and data reach the parser at every offset. */
#include "tests/fuzz/fuzz-env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_env_init();
	if (size < 1)
		return 0;
	/* 0: everything in one write; n: writes of n * 7 bytes. */
	size_t chunk = data[0] ? (size_t)data[0] * 7 : size;
	data++;
	size--;
	int fd = fuzz_host_open();
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		fuzz_host_send(fd, data + off, n);
		fuzz_host_drain(fd);
	}
	fuzz_host_close(fd);
	fuzz_env_check_released();
	return 0;
}
