/* NVMe/TCP header and data digests: CRC32C (Castagnoli), as iSCSI. ISA-L's crc32_iscsi neither
 * inverts its seed nor its result, so a digest starts from ~0 and is inverted at the end, which
 * is what the Linux host (crc32c(~0, ...) then ~) puts on the wire, little endian. */
#ifndef HNVMF_TCP_DIGEST_H
#define HNVMF_TCP_DIGEST_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <isa-l/crc.h>

#define TCP_CRC_SEED 0xffffffffu

static inline uint32_t tcp_crc_update(uint32_t crc, const void *p, size_t len)
{
	return crc32_iscsi((unsigned char *)p, (int)len, crc);
}

static inline uint32_t tcp_crc_final(uint32_t crc) { return ~crc; }

static inline uint32_t tcp_crc(const void *p, size_t len)
{
	return tcp_crc_final(tcp_crc_update(TCP_CRC_SEED, p, len));
}

/* Writes the digest of the len bytes at p right after them. */
static inline void tcp_digest_append(void *p, size_t len)
{
	uint32_t d = htole32(tcp_crc(p, len));
	memcpy((uint8_t *)p + len, &d, sizeof(d));
}

static inline uint32_t tcp_get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

#endif
