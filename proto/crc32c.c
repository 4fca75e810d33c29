/* CRC32C for NVMe/TCP header and data digests. ISA-L's crc32_iscsi(buf, len, seed) returns the
 * reflected CRC without the final inversion and chains when the previous raw value is passed
 * as the seed; the NVMe/TCP digest is seed ~0 plus final inversion, like the Linux host's
 * ~crc32c(~0, ...). */
#include <isa-l/crc.h>

#include "proto/crc32c.h"

uint32_t hnvmf_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	/* crc32_iscsi takes an int length: feed huge buffers in pieces. */
	const unsigned char *p = buf;
	while (len > 0) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;
		crc = crc32_iscsi((unsigned char *)p, n, crc);
		p += n;
		len -= (size_t)n;
	}
	return crc;
}

uint32_t hnvmf_crc32c(const void *buf, size_t len)
{
	return hnvmf_crc32c_final(hnvmf_crc32c_update(hnvmf_crc32c_init(), buf, len));
}
