/* CRC32C (Castagnoli), the NVMe/TCP header and data digest: seed ~0, final inversion (the value for "123456789" is 0xE3069283), stored little
 * endian on the wire. The incremental form: crc = hnvmf_crc32c_init();
 * crc = hnvmf_crc32c_update(crc, ...); digest = hnvmf_crc32c_final(crc). */
#ifndef HNVMF_PROTO_CRC32C_H
#define HNVMF_PROTO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t hnvmf_crc32c(const void *buf, size_t len);
static inline uint32_t hnvmf_crc32c_init(void) { return 0xffffffffu; }
uint32_t hnvmf_crc32c_update(uint32_t crc, const void *buf, size_t len);
static inline uint32_t hnvmf_crc32c_final(uint32_t crc) { return ~crc; }

#endif
