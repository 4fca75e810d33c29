/* NVMe/TCP TLS PSK derivations (TP 8011, with the version 1 identities of TP 8018; NVMe/TCP
 * Transport Specification section 3.6.1, 3.6.1.3 "TLS PSK and PSK identity derivation"):
 * retained PSK, PSK digest, PSK identity and the TLS PSK that is handed to the TLS 1.3 stack.
 * Pure functions, no key store.
 *
 *   configured PSK  (NVMeTLSkey-1:hh:...:, hh 00 no transform, 01 SHA-256, 02 SHA-384)
 *     -> retained PSK = hh 00: the configured PSK as is
 *                       else:  HKDF-Expand-Label(HKDF-Extract(0, configured), "HostNQN", NQNh,
 *                                                Length(configured))       hash of hh
 *     -> cipher hash  = hh, or for hh 00 the hash matching the key length (32 -> 01, 48 -> 02)
 *     -> identity v0  = "NVMe0R<cc> <NQNh> <NQNc>"
 *        identity v1  = "NVMe1R<cc> <NQNh> <NQNc> <digest>",
 *                       digest = Base64(HMAC-cc(retained, NQNh || " " || NQNc || " " ||
 *                                               "NVMe-over-Fabrics"))
 *     -> TLS PSK      = HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", context, L)
 *                       context: v0 the whole identity, v1 "<cc> <digest>"; L = hash length of cc
 *
 * A generated PSK (DH-HMAC-CHAP secure channel concatenation, hnvmf_dhchap_generated_psk) takes
 * the place of the retained PSK with a "G" identity.
 *
 * HKDF-Expand-Label comes in two encodings, see enum hnvmf_tls_hkdf_label. */
#ifndef HNVMF_TLS_PSK_H
#define HNVMF_TLS_PSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/auth-crypto.h"

/* How the HkdfLabel info of HKDF-Expand-Label is laid out.
 *
 * RFC8446: RFC 8446 section 7.1, what TP 8011 references:
 *     uint16 length (big endian) || uint8 len || "tls13 " label || uint8 len || context
 *   Used by libnvme since PR #1051 (merged August 2025, after nvme-cli 2.13 shipped) and by
 *   the Linux kernel where it derives TLS PSKs itself (generated PSKs, secure concatenation).
 *
 * LIBNVME_COMPAT: what libnvme computed from PR #737 (Nov 2023) until PR #1051:
 *     uint16 length (host order: little endian on x86 and arm64) || "tls13 " label || context
 *   with no length bytes before label and context. Later libnvme still offers it as the
 *   "_compat" functions. Linux 6.12 does no TLS PSK derivation of its own for configured PSKs:
 *   `nvme gen-tls-key --insert` / `nvme connect --tls-key` (nvme-cli 2.13 with libnvme 1.13)
 *   derive the retained and TLS PSKs in user space with THIS encoding, and the kernel only
 *   looks the result up in the .nvme keyring by identity. A target talking to such hosts needs
 *   LIBNVME_COMPAT.
 *
 * (libnvme before PR #737 also omitted the 2-byte length; not supported here.) */
enum hnvmf_tls_hkdf_label {
	HNVMF_TLS_LABEL_RFC8446 = 0,
	HNVMF_TLS_LABEL_LIBNVME_COMPAT = 1,
};

/* "rfc8446" / "libnvme-compat": the names hnvmf-perf's --tls-psk-encoding takes and hnvmfd
 * logs. _parse returns the encoding or -EINVAL; _name NULL for an unknown value. */
const char *hnvmf_tls_label_name(enum hnvmf_tls_hkdf_label enc);
int hnvmf_tls_label_parse(const char *name);

#define HNVMF_TLS_PSK_MAX 48           /* SHA-384 */
#define HNVMF_TLS_DIGEST_MAX 65        /* Base64 of 48 bytes (64 chars) + NUL */
#define HNVMF_TLS_NQN_MAX 223          /* NVMe NQN length limit, without NUL */
/* "NVMe1R02 " + NQNh + " " + NQNc + " " + digest + NUL */
#define HNVMF_TLS_IDENTITY_MAX (9 + HNVMF_TLS_NQN_MAX + 1 + HNVMF_TLS_NQN_MAX + 1 + 64 + 1)

/* HKDF-Expand-Label(secret, label, context, out_len) with the given encoding; label without
 * the "tls13 " prefix. secret is HashLen bytes (a PRK). */
int hnvmf_tls_hkdf_expand_label(int hash_id, enum hnvmf_tls_hkdf_label enc, const uint8_t *secret,
				size_t secret_len, const char *label, const uint8_t *context,
				size_t context_len, uint8_t *out, size_t out_len);

/* Hash of the TLS cipher suite for a configured PSK: hh when non-zero, else from the key length
 * (32 -> SHA-256 = 1, 48 -> SHA-384 = 2). Negative errno for hh/length pairs libnvme refuses
 * (hh 01 needs 32 bytes, hh 02 48 bytes, hh 00 either). */
int hnvmf_tls_cipher_hash(int hh, size_t key_len);

/* Retained PSK from a configured PSK; out gets key_len bytes. */
int hnvmf_tls_retained_psk(int hh, const uint8_t *configured, size_t key_len, const char *hostnqn,
			   enum hnvmf_tls_hkdf_label enc, uint8_t *out);

/* PSK digest of a version 1 identity: Base64 text (44 characters for SHA-256, 64 for SHA-384),
 * NUL-terminated, into out (at least HNVMF_TLS_DIGEST_MAX bytes). psk is the retained or
 * generated PSK; cipher the identity's hash. */
int hnvmf_tls_psk_digest(int cipher, const uint8_t *psk, size_t psk_len, const char *hostnqn,
			 const char *subnqn, char *out, size_t outlen);

/* A parsed PSK identity. */
struct hnvmf_tls_identity {
	int version;      /* 0 or 1 */
	bool generated;   /* 'G' (from DH-HMAC-CHAP) rather than 'R' (retained) */
	int cipher;       /* 1 SHA-256, 2 SHA-384 */
	char hostnqn[HNVMF_TLS_NQN_MAX + 1];
	char subnqn[HNVMF_TLS_NQN_MAX + 1];
	char digest[HNVMF_TLS_DIGEST_MAX];   /* "" for version 0 */
};

/* Formats the identity into out (HNVMF_TLS_IDENTITY_MAX is always enough); returns its length
 * or a negative errno. digest is needed for version 1 and ignored for version 0. */
int hnvmf_tls_identity_format(const struct hnvmf_tls_identity *id, char *out, size_t outlen);
/* Parses an identity as received in a TLS ClientHello (len bytes, no NUL needed). Strict:
 * "NVMe", version 0|1, R|G, two hash digits 01|02, single spaces, NQNs without spaces, a
 * digest of the right length for version 1 and nothing for version 0. */
int hnvmf_tls_identity_parse(const char *s, size_t len, struct hnvmf_tls_identity *id);

/* TLS PSK (what the TLS 1.3 stack uses as the external PSK) for an identity, from the input
 * PSK (retained or generated, hash length of the identity's cipher). out gets that many bytes. */
int hnvmf_tls_psk(const struct hnvmf_tls_identity *id, const uint8_t *input_psk, size_t psk_len,
		  enum hnvmf_tls_hkdf_label enc, uint8_t *out);

/* Everything a host derives from one configured PSK for one (host, subsystem) pair. */
struct hnvmf_tls_derived {
	struct hnvmf_tls_identity id;
	char identity[HNVMF_TLS_IDENTITY_MAX];
	uint8_t retained[HNVMF_TLS_PSK_MAX];
	uint8_t psk[HNVMF_TLS_PSK_MAX];   /* the TLS PSK */
	size_t psk_len;
};

/* The whole chain for a configured PSK, as nvme-cli/libnvme computes it when it inserts the key
 * into the keyring: retained PSK, cipher, digest (v1), identity and TLS PSK. */
int hnvmf_tls_derive_configured(int hh, const uint8_t *configured, size_t key_len,
				const char *hostnqn, const char *subnqn, int version,
				enum hnvmf_tls_hkdf_label enc, struct hnvmf_tls_derived *out);

/* Target side: the host sent identity id (parsed) and the target holds the configured PSK
 * (hh, key) for id's host and subsystem. Finds the TLS PSK the host derived:
 *   - the identity's cipher must be the one the configured PSK implies;
 *   - a version 1 identity of a transformed PSK (hh != 0) carries a digest of the retained
 *     PSK, which differs between the two HkdfLabel encodings: the matching one is chosen and
 *     *proven is set to true;
 *   - otherwise (version 0, or hh 00 where retained == configured) the identity looks the same
 *     under both encodings: `prefer` is used and *proven is false.
 * Returns -EKEYREJECTED when the identity matches the key under neither encoding (wrong key,
 * or the digest of another PSK), -EINVAL for bad arguments. */
int hnvmf_tls_match_identity(const struct hnvmf_tls_identity *id, int hh, const uint8_t *key,
			     size_t key_len, enum hnvmf_tls_hkdf_label prefer,
			     struct hnvmf_tls_derived *out, enum hnvmf_tls_hkdf_label *used,
			     bool *proven);

#endif
