/* NVMe/TCP header and data digests (proto/crc32c.h) as the target's receive and send paths use
 * them: in place, right after the bytes they cover, little endian. */
#ifndef HNVMF_TCP_DIGEST_H
#define HNVMF_TCP_DIGEST_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/crc32c.h"

/* The target's names for the CRC32C of proto/crc32c.h. */
#define TCP_CRC_SEED 0xffffffffu
static inline uint32_t tcp_crc_update(uint32_t crc, const void *p, size_t len)
{
	return hnvmf_crc32c_update(crc, p, len);
}
static inline uint32_t tcp_crc_final(uint32_t crc) { return hnvmf_crc32c_final(crc); }
static inline uint32_t tcp_crc(const void *p, size_t len) { return hnvmf_crc32c(p, len); }

/* Writes the digest of the len bytes at p right after them. */
static inline void tcp_digest_append(void *p, size_t len)
{
	uint32_t d = htole32(hnvmf_crc32c(p, len));
	memcpy((uint8_t *)p + len, &d, sizeof(d));
}

static inline uint32_t tcp_get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

#endif
