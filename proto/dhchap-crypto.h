/* DH-HMAC-CHAP computations (NVMe TP 8006; NVMe Base Specification 2.0 section 8.13.5): pure
 * functions, no protocol state. The AUTH_Send/AUTH_Receive state machine builds on these.
 *
 * Hash ids are enum hnvmf_auth_hash (1 SHA-256, 2 SHA-384, 3 SHA-512); DH group ids below.
 * Layouts follow what the Linux host (drivers/nvme/host/auth.c) and nvmet
 * (drivers/nvme/target/auth.c) compute, which is what interoperability means in practice; see
 * docs/auth.md. Every function returns 0 or a negative errno and writes output only on success. */
#ifndef HNVMF_DHCHAP_CRYPTO_H
#define HNVMF_DHCHAP_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "proto/auth-crypto.h"

/* DH group identifiers of the AUTH_Negotiate DH group list (TP 8006), RFC 7919 groups. */
enum hnvmf_dhchap_dhgroup {
	HNVMF_DHGROUP_NULL = 0,
	HNVMF_DHGROUP_FFDHE2048 = 1,
	HNVMF_DHGROUP_FFDHE3072 = 2,
	HNVMF_DHGROUP_FFDHE4096 = 3,
	HNVMF_DHGROUP_FFDHE6144 = 4,
	HNVMF_DHGROUP_FFDHE8192 = 5,
};

#define HNVMF_DH_MAX_SIZE 1024   /* ffdhe8192: public values and shared secrets, bytes */

/* "null", "ffdhe2048" ... ; NULL for an unknown id. */
const char *hnvmf_dhchap_dhgroup_name(int gid);
/* Size in bytes of the group's public values and shared secrets (256 .. 1024); 0 for the null
 * group or an unknown id. */
size_t hnvmf_dhchap_dhgroup_size(int gid);

/* Transformed secret (TP 8006 "transformed key", kernel nvme_auth_transform_key):
 *   key_hash 0: the secret as is (out_len = key_len);
 *   otherwise:  HMAC-H'(secret, NQN || "NVMe-over-Fabrics"), H' = the hash named by the secret's
 *               own hh field, NOT the negotiated hash (out_len = hash length of key_hash).
 * nqn is the host NQN for the host's secret and the subsystem NQN for the controller's secret.
 * out must hold HNVMF_AUTH_MAX_DIGEST bytes or key_len, whichever is larger. */
int hnvmf_dhchap_transform_key(int key_hash, const uint8_t *key, size_t key_len, const char *nqn,
			       uint8_t *out, size_t *out_len);

/* Augmented challenge with a DH group: C' = HMAC-H(H(g^xy), C), H the negotiated hash, C and C'
 * hash length (kernel nvme_auth_augmented_challenge). skey is the shared secret g^xy as
 * hnvmf_dh_shared_secret returns it (big endian, padded to the group size). */
int hnvmf_dhchap_augmented_challenge(int hash_id, const uint8_t *skey, size_t skey_len,
				     const uint8_t *challenge, uint8_t *out);

/* Inputs of one response computation. */
struct hnvmf_dhchap_response_args {
	int hash_id;               /* negotiated HashID */
	const uint8_t *tkey;       /* transformed secret: host's for R1, controller's for R2 */
	size_t tkey_len;
	const uint8_t *challenge;  /* C1 (for R1) or C2 (for R2), hash length */
	uint32_t seqnum;           /* S1 or S2 */
	uint16_t tid;              /* transaction id of the AUTH exchange (T_ID) */
	uint8_t sc;                /* SC_C of the negotiation; 0 without secure channel concatenation */
	const char *hostnqn;
	const char *subnqn;
	const uint8_t *skey;       /* DH shared secret g^xy, NULL for the null DH group */
	size_t skey_len;
};

/* R1 = HMAC-H(Kh', C1' || S1 (le32) || T_ID (le16) || SC || "HostHost" || NQNh || 0x00 || NQNc)
 * where C1' = C1, or the augmented C1 when skey is given. */
int hnvmf_dhchap_host_response(const struct hnvmf_dhchap_response_args *a, uint8_t *out);
/* R2 = HMAC-H(Kc', C2' || S2 (le32) || T_ID (le16) || SC || "Controller" || NQNc || 0x00
 *             || NQNh) */
int hnvmf_dhchap_ctrl_response(const struct hnvmf_dhchap_response_args *a, uint8_t *out);

/* Generated PSK for secure channel concatenation (NVMe Base 2.0 8.13.5.9, kernel
 * nvme_auth_generate_psk): HMAC-H(g^xy, C1 || C2), hash length. Feed it to tls-psk.h as the
 * input PSK of a "G" identity. */
int hnvmf_dhchap_generated_psk(int hash_id, const uint8_t *skey, size_t skey_len,
			       const uint8_t *c1, const uint8_t *c2, uint8_t *out);

/* An ephemeral finite-field DH key pair on an RFC 7919 group. */
struct hnvmf_dh;

/* A fresh random key pair; NULL on failure or for the null/unknown group. */
struct hnvmf_dh *hnvmf_dh_generate(int gid);
/* A key pair with the given private exponent (big endian, 1 < x < p - 1). For tests and known
 * answer checks only: the protocol always uses hnvmf_dh_generate. */
struct hnvmf_dh *hnvmf_dh_from_private(int gid, const uint8_t *priv, size_t priv_len);
void hnvmf_dh_free(struct hnvmf_dh *dh);
int hnvmf_dh_group(const struct hnvmf_dh *dh);
/* g^x, big endian, left-padded with zeros to out_len == hnvmf_dhchap_dhgroup_size(gid). */
int hnvmf_dh_public_key(const struct hnvmf_dh *dh, uint8_t *out, size_t out_len);
/* (peer)^x mod p, big endian, padded to out_len == group size. peer_len must be the group size
 * too (what the DH value field carries); a peer value outside 2 .. p-2 or not in the prime-order
 * subgroup is rejected with -EINVAL. */
int hnvmf_dh_shared_secret(const struct hnvmf_dh *dh, const uint8_t *peer, size_t peer_len,
			   uint8_t *out, size_t out_len);

#endif
