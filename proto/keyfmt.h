/* The NVMe secret interchange formats, as nvme-cli writes them and as the Linux host and target
 * read them:
 *   DH-HMAC-CHAP secret  "DHHC-1:hh:<base64(key || crc32_le(key))>:"        (NVMe Base 8.3.5.5.x)
 *       hh = 00 (use the key as is), 01 SHA-256, 02 SHA-384, 03 SHA-512 (transformation hash);
 *       the key is 32, 48 or 64 bytes whatever hh says (as the Linux kernel accepts it).
 *   TLS PSK              "NVMeTLSkey-1:hh:<base64(key || crc32_le(key))>:"  (NVMe/TCP 3.6.1.5)
 *       hh = 00 (configured PSK used as is: 32 or 48 bytes), 01 SHA-256 (32), 02 SHA-384 (48).
 * crc32 is the IEEE/zlib CRC-32, stored little endian after the key. */
#ifndef HNVMF_KEYFMT_H
#define HNVMF_KEYFMT_H

#include <stddef.h>
#include <stdint.h>

struct hnvmf_key {
	uint8_t data[64];
	size_t len;
	int hmac; /* the hh field */
};

/* Longest string either format produces, with its terminating NUL. */
#define HNVMF_KEY_STR_MAX 112

/* 0 on success; -1 with a short reason in err (no secret material in it). */
int hnvmf_dhchap_key_parse(const char *s, struct hnvmf_key *k, char *err, size_t errlen);
int hnvmf_tls_key_parse(const char *s, struct hnvmf_key *k, char *err, size_t errlen);

/* The reverse: writes the interchange string of k into out (at least HNVMF_KEY_STR_MAX bytes).
 * 0 on success; -1 when k's hh or length is not allowed by the format or out is too small. */
int hnvmf_dhchap_key_format(const struct hnvmf_key *k, char *out, size_t outlen);
int hnvmf_tls_key_format(const struct hnvmf_key *k, char *out, size_t outlen);

/* Wipes a key (and anything else) so it does not linger in memory. */
void hnvmf_key_wipe(struct hnvmf_key *k);

#endif
