/* Which HkdfLabel encoding a host used, told by the PSK binder of its TLS 1.3 ClientHello.
 *
 * A version 0 identity ("NVMe0R01 <NQNh> <NQNc>") and any identity of an untransformed (hh 00)
 * PSK read the same whichever encoding the host derived its TLS PSK with (proto/tls-psk.h,
 * hnvmf_tls_match_identity: proven false), yet the two encodings give different TLS PSKs. The
 * ClientHello carries, for each offered identity, a binder (RFC 8446 4.2.11.2): an HMAC over
 * the ClientHello up to the binders, keyed from the PSK. Computing it for both candidate PSKs
 * shows which one the host holds, before OpenSSL checks the binder itself and ends the
 * handshake on a mismatch ("binder does not verify").
 *
 * Pure functions over a ClientHello handshake message as received (4-byte header included). */
#ifndef HNVMF_TLS_BINDER_H
#define HNVMF_TLS_BINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/tls-psk.h"

/* The binder of an external PSK (RFC 8446 4.2.11.2 and 7.1): with early = HKDF-Extract(0, psk),
 * binder_key = Derive-Secret(early, "ext binder", "") and finished_key =
 * HKDF-Expand-Label(binder_key, "finished", "", L), binder = HMAC(finished_key, transcript_hash).
 * cipher 1 (SHA-256) or 2 (SHA-384); psk and transcript_hash are of that hash's length L; out
 * gets L bytes. */
int hnvmf_tls_psk_binder(int cipher, const uint8_t *psk, size_t psk_len,
			 const uint8_t *transcript_hash, uint8_t *out);

/* Finds, in a ClientHello handshake message, the pre_shared_key extension (it must be the last
 * one) and the binder of the offered identity that equals identity[0..id_len). *truncated gets
 * the length of the message the binders cover: everything before the binders list. Returns 0,
 * -EINVAL for a malformed message, -ENOENT when that identity is not offered. */
int hnvmf_tls_hello_binder(const uint8_t *hello, size_t len, const uint8_t *identity,
			   size_t id_len, size_t *truncated, const uint8_t **binder,
			   size_t *binder_len);

/* 1 when the ClientHello's binder for identity was made with psk (a first ClientHello: the
 * transcript is the truncated message alone), 0 when it was not, negative errno when the
 * message does not carry that identity or cannot be parsed. */
int hnvmf_tls_hello_binder_verify(const uint8_t *hello, size_t len, const char *identity,
				  int cipher, const uint8_t *psk, size_t psk_len);

/* hnvmf_tls_match_identity, then, where the identity does not tell the encoding (proven false)
 * and a ClientHello is at hand (hello non-NULL), the binder does: the encoding whose TLS PSK
 * verifies is taken and *proven set. When neither verifies (a wrong key) or the message cannot
 * be read, `prefer` stands with *proven false, and OpenSSL refuses the binder. */
int hnvmf_tls_match_hello(const struct hnvmf_tls_identity *id, const uint8_t *hello,
			  size_t hello_len, int hh, const uint8_t *key, size_t key_len,
			  enum hnvmf_tls_hkdf_label prefer, struct hnvmf_tls_derived *out,
			  enum hnvmf_tls_hkdf_label *used, bool *proven);

#endif
