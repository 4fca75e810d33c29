/* Hash, HMAC and HKDF primitives shared by DH-HMAC-CHAP (proto/dhchap-crypto.h) and the
 * NVMe/TCP TLS PSK derivations (proto/tls-psk.h). Pure functions over OpenSSL 3 EVP APIs.
 *
 * Hash identifiers are the ones the specifications put on the wire and in key strings:
 * TP 8006 HashID (DH-HMAC-CHAP) and the "hh" field of DHHC-1 / NVMeTLSkey-1 secrets and of
 * TLS PSK identities. 0 means "no hash" (an untransformed secret), never an HMAC algorithm.
 *
 * Every function returns 0 on success or a negative errno (-EINVAL for a bad argument, -EIO
 * when OpenSSL fails) and writes its output only on success. */
#ifndef HNVMF_AUTH_CRYPTO_H
#define HNVMF_AUTH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum hnvmf_auth_hash {
	HNVMF_AUTH_HASH_NONE = 0,
	HNVMF_AUTH_HASH_SHA256 = 1,
	HNVMF_AUTH_HASH_SHA384 = 2,
	HNVMF_AUTH_HASH_SHA512 = 3,
};

#define HNVMF_AUTH_MAX_DIGEST 64   /* SHA-512 */

/* Digest length in bytes for a hash id (32, 48, 64), 0 for NONE or an unknown id. */
size_t hnvmf_auth_hash_len(int hash_id);
/* Short lower-case name ("sha256" ...), NULL for NONE or an unknown id. */
const char *hnvmf_auth_hash_name(int hash_id);

/* One piece of a message that is fed to a MAC in order: lets callers describe the
 * DH-HMAC-CHAP response layouts field by field without building a buffer. */
struct hnvmf_auth_piece {
	const void *p;
	size_t len;
};

/* out = HMAC-H(key, pieces[0] || pieces[1] || ...), hnvmf_auth_hash_len(hash_id) bytes. */
int hnvmf_auth_hmac(int hash_id, const uint8_t *key, size_t key_len,
		    const struct hnvmf_auth_piece *pieces, size_t npieces, uint8_t *out);
/* out = H(data). */
int hnvmf_auth_digest(int hash_id, const uint8_t *data, size_t len, uint8_t *out);

/* RFC 5869 HKDF-Extract with the default salt (HashLen zero bytes): prk is HashLen bytes. */
int hnvmf_auth_hkdf_extract(int hash_id, const uint8_t *ikm, size_t ikm_len, uint8_t *prk);
/* RFC 5869 HKDF-Expand: okm_len bytes (at most 255 * HashLen) from prk and info. */
int hnvmf_auth_hkdf_expand(int hash_id, const uint8_t *prk, size_t prk_len, const uint8_t *info,
			   size_t info_len, uint8_t *okm, size_t okm_len);

/* Constant-time comparison for received MACs: 1 when equal, 0 otherwise. */
int hnvmf_auth_equal(const void *a, const void *b, size_t len);
/* Erase key material in a way the compiler cannot drop. */
void hnvmf_auth_wipe(void *p, size_t len);

/* Standard Base64 (RFC 4648, with padding) of len bytes into out, NUL-terminated; out must
 * hold 4 * ceil(len / 3) + 1 bytes. Returns the number of characters or a negative errno. */
int hnvmf_auth_base64(const uint8_t *in, size_t len, char *out, size_t outlen);

#endif
