/* The PSK binder of a TLS 1.3 ClientHello: which HkdfLabel encoding the host used (see
 * tls-binder.h). Every length is checked against what is left: the message is the network's. */
#include "proto/tls-binder.h"

#include <errno.h>
#include <string.h>

#define HELLO_CLIENT_HELLO 1       /* HandshakeType client_hello */
#define EXT_PRE_SHARED_KEY 41      /* ExtensionType pre_shared_key */

/* A bounded reader over the message. */
struct rd {
	const uint8_t *p;
	size_t pos, end;
};

static bool take(struct rd *r, size_t n, const uint8_t **at)
{
	if (n > r->end - r->pos)
		return false;
	if (at)
		*at = r->p + r->pos;
	r->pos += n;
	return true;
}

/* A big-endian length of n bytes (1, 2 or 3). */
static bool take_len(struct rd *r, size_t n, size_t *v)
{
	const uint8_t *b;
	if (!take(r, n, &b))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = (*v << 8) | b[i];
	return true;
}

/* Skips a vector with an n-byte length. */
static bool skip_vec(struct rd *r, size_t n)
{
	size_t len;
	return take_len(r, n, &len) && take(r, len, NULL);
}

int hnvmf_tls_hello_binder(const uint8_t *hello, size_t len, const uint8_t *identity,
			   size_t id_len, size_t *truncated, const uint8_t **binder,
			   size_t *binder_len)
{
	struct rd r = { .p = hello, .end = len };
	size_t body, ext_total, type, ext_len;

	if (!hello || !identity || !truncated || !binder || !binder_len)
		return -EINVAL;
	/* Handshake header, legacy_version, random, legacy_session_id, cipher_suites,
	 * legacy_compression_methods. */
	if (len < 4 || hello[0] != HELLO_CLIENT_HELLO || !take(&r, 1, NULL) ||
	    !take_len(&r, 3, &body) || body != len - 4 || !take(&r, 2 + 32, NULL) ||
	    !skip_vec(&r, 1) || !skip_vec(&r, 2) || !skip_vec(&r, 1) ||
	    !take_len(&r, 2, &ext_total) || ext_total != r.end - r.pos)
		return -EINVAL;
	/* pre_shared_key "MUST be the last extension" (RFC 8446 4.2.11): it ends the message. */
	for (;;) {
		if (!take_len(&r, 2, &type) || !take_len(&r, 2, &ext_len) || ext_len > r.end - r.pos)
			return -EINVAL;
		if (type == EXT_PRE_SHARED_KEY)
			break;
		r.pos += ext_len;
	}
	if (ext_len != r.end - r.pos)
		return -EINVAL;

	/* identities: { opaque identity<1..2^16-1>; uint32 obfuscated_ticket_age; } list */
	size_t ids_len, index = 0, want = SIZE_MAX;
	if (!take_len(&r, 2, &ids_len) || ids_len > r.end - r.pos)
		return -EINVAL;
	struct rd ids = { .p = hello, .pos = r.pos, .end = r.pos + ids_len };
	r.pos += ids_len;
	while (ids.pos < ids.end) {
		size_t n;
		const uint8_t *name;
		if (!take_len(&ids, 2, &n) || !take(&ids, n, &name) || !take(&ids, 4, NULL))
			return -EINVAL;
		if (want == SIZE_MAX && n == id_len && memcmp(name, identity, n) == 0)
			want = index;
		index++;
	}
	*truncated = r.pos;

	/* binders: opaque PskBinderEntry<32..255> list, one per identity, in order. */
	size_t binders_len;
	if (!take_len(&r, 2, &binders_len) || binders_len != r.end - r.pos)
		return -EINVAL;
	for (size_t i = 0; r.pos < r.end; i++) {
		size_t n;
		const uint8_t *b;
		if (!take_len(&r, 1, &n) || !take(&r, n, &b))
			return -EINVAL;
		if (i == want) {
			*binder = b;
			*binder_len = n;
			return 0;
		}
	}
	return want == SIZE_MAX ? -ENOENT : -EINVAL;
}

int hnvmf_tls_psk_binder(int cipher, const uint8_t *psk, size_t psk_len,
			 const uint8_t *transcript_hash, uint8_t *out)
{
	size_t hl = hnvmf_auth_hash_len(cipher);
	uint8_t early[HNVMF_AUTH_MAX_DIGEST], empty[HNVMF_AUTH_MAX_DIGEST];
	uint8_t binder_key[HNVMF_AUTH_MAX_DIGEST], finished[HNVMF_AUTH_MAX_DIGEST];

	if ((cipher != HNVMF_AUTH_HASH_SHA256 && cipher != HNVMF_AUTH_HASH_SHA384) || !psk ||
	    psk_len != hl || !transcript_hash || !out)
		return -EINVAL;
	/* The TLS stack's own schedule: always the RFC 8446 HkdfLabel, whatever the host's
	 * NVMe derivation used. */
	int ret = hnvmf_auth_hkdf_extract(cipher, psk, psk_len, early);
	if (!ret)
		ret = hnvmf_auth_digest(cipher, NULL, 0, empty);
	if (!ret)
		ret = hnvmf_tls_hkdf_expand_label(cipher, HNVMF_TLS_LABEL_RFC8446, early, hl,
						  "ext binder", empty, hl, binder_key, hl);
	if (!ret)
		ret = hnvmf_tls_hkdf_expand_label(cipher, HNVMF_TLS_LABEL_RFC8446, binder_key, hl,
						  "finished", NULL, 0, finished, hl);
	if (!ret) {
		const struct hnvmf_auth_piece msg = { transcript_hash, hl };
		ret = hnvmf_auth_hmac(cipher, finished, hl, &msg, 1, out);
	}
	hnvmf_auth_wipe(early, sizeof(early));
	hnvmf_auth_wipe(binder_key, sizeof(binder_key));
	hnvmf_auth_wipe(finished, sizeof(finished));
	return ret;
}

int hnvmf_tls_hello_binder_verify(const uint8_t *hello, size_t len, const char *identity,
				  int cipher, const uint8_t *psk, size_t psk_len)
{
	size_t truncated, binder_len;
	const uint8_t *binder;
	uint8_t th[HNVMF_AUTH_MAX_DIGEST], want[HNVMF_AUTH_MAX_DIGEST];

	if (!identity)
		return -EINVAL;
	int ret = hnvmf_tls_hello_binder(hello, len, (const uint8_t *)identity, strlen(identity),
					 &truncated, &binder, &binder_len);
	if (!ret)
		ret = hnvmf_auth_digest(cipher, hello, truncated, th);
	if (!ret)
		ret = hnvmf_tls_psk_binder(cipher, psk, psk_len, th, want);
	if (ret)
		return ret;
	ret = binder_len == psk_len && hnvmf_auth_equal(binder, want, psk_len);
	hnvmf_auth_wipe(want, sizeof(want));
	return ret;
}

int hnvmf_tls_match_hello(const struct hnvmf_tls_identity *id, const uint8_t *hello,
			  size_t hello_len, int hh, const uint8_t *key, size_t key_len,
			  enum hnvmf_tls_hkdf_label prefer, struct hnvmf_tls_derived *out,
			  enum hnvmf_tls_hkdf_label *used, bool *proven)
{
	int ret = hnvmf_tls_match_identity(id, hh, key, key_len, prefer, out, used, proven);
	if (ret || *proven || !hello)
		return ret;
	int v = hnvmf_tls_hello_binder_verify(hello, hello_len, out->identity, out->id.cipher,
					      out->psk, out->psk_len);
	if (v == 1)
		*proven = true;
	if (v != 0)
		return 0; /* verified, or unreadable: the preference stands */

	enum hnvmf_tls_hkdf_label other = *used == HNVMF_TLS_LABEL_RFC8446
						  ? HNVMF_TLS_LABEL_LIBNVME_COMPAT
						  : HNVMF_TLS_LABEL_RFC8446;
	struct hnvmf_tls_derived d;
	if (hnvmf_tls_derive_configured(hh, key, key_len, id->hostnqn, id->subnqn, id->version,
					other, &d) == 0 &&
	    hnvmf_tls_hello_binder_verify(hello, hello_len, d.identity, d.id.cipher, d.psk,
					  d.psk_len) == 1) {
		*out = d;
		*used = other;
		*proven = true;
	}
	hnvmf_auth_wipe(&d, sizeof(d));
	return 0;
}
