/* NVMe/TCP TLS PSK derivations (TP 8011 / TP 8018): retained PSK, digest, identity, TLS PSK. */
#include "proto/tls-psk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest HkdfLabel we build: 2 + 1 + 255 + 1 + 255. */
#define HKDF_LABEL_MAX 514

static const char *const label_names[] = {
	[HNVMF_TLS_LABEL_RFC8446] = "rfc8446",
	[HNVMF_TLS_LABEL_LIBNVME_COMPAT] = "libnvme-compat",
};

const char *hnvmf_tls_label_name(enum hnvmf_tls_hkdf_label enc)
{
	return (unsigned)enc < 2 ? label_names[enc] : NULL;
}

int hnvmf_tls_label_parse(const char *name)
{
	for (int i = 0; name && i < 2; i++)
		if (strcmp(name, label_names[i]) == 0)
			return i;
	return -EINVAL;
}

static int cipher_valid(int cipher)
{
	return cipher == HNVMF_AUTH_HASH_SHA256 || cipher == HNVMF_AUTH_HASH_SHA384;
}

/* Builds the info string of HKDF-Expand-Label; returns its length or a negative errno. */
static int hkdf_label(enum hnvmf_tls_hkdf_label enc, size_t out_len, const char *label,
		      const uint8_t *context, size_t context_len, uint8_t *info)
{
	static const char prefix[] = "tls13 ";
	size_t label_len = 6 + strlen(label);
	size_t n = 0;

	if (out_len > 0xffff || label_len > 255 || context_len > 255)
		return -EINVAL;
	if (enc == HNVMF_TLS_LABEL_RFC8446) {
		info[n++] = (uint8_t)(out_len >> 8);
		info[n++] = (uint8_t)out_len;
		info[n++] = (uint8_t)label_len;
	} else if (enc == HNVMF_TLS_LABEL_LIBNVME_COMPAT) {
		/* libnvme stored a uint16_t in host order: little endian on every platform the
		 * Linux NVMe/TCP host runs TLS on in practice. Label and context follow without
		 * their length bytes. */
		info[n++] = (uint8_t)out_len;
		info[n++] = (uint8_t)(out_len >> 8);
	} else {
		return -EINVAL;
	}
	memcpy(info + n, prefix, 6);
	memcpy(info + n + 6, label, label_len - 6);
	n += label_len;
	if (enc == HNVMF_TLS_LABEL_RFC8446)
		info[n++] = (uint8_t)context_len;
	if (context_len)
		memcpy(info + n, context, context_len);
	return (int)(n + context_len);
}

int hnvmf_tls_hkdf_expand_label(int hash_id, enum hnvmf_tls_hkdf_label enc, const uint8_t *secret,
				size_t secret_len, const char *label, const uint8_t *context,
				size_t context_len, uint8_t *out, size_t out_len)
{
	uint8_t info[HKDF_LABEL_MAX];

	if (!label || (!context && context_len))
		return -EINVAL;
	int n = hkdf_label(enc, out_len, label, context, context_len, info);
	if (n < 0)
		return n;
	return hnvmf_auth_hkdf_expand(hash_id, secret, secret_len, info, (size_t)n, out, out_len);
}

int hnvmf_tls_cipher_hash(int hh, size_t key_len)
{
	switch (hh) {
	case HNVMF_AUTH_HASH_NONE:
		if (key_len == 32)
			return HNVMF_AUTH_HASH_SHA256;
		if (key_len == 48)
			return HNVMF_AUTH_HASH_SHA384;
		return -EINVAL;
	case HNVMF_AUTH_HASH_SHA256:
		return key_len == 32 ? hh : -EINVAL;
	case HNVMF_AUTH_HASH_SHA384:
		return key_len == 48 ? hh : -EINVAL;
	default:
		return -EINVAL;
	}
}

static int nqn_valid(const char *nqn)
{
	size_t len = nqn ? strlen(nqn) : 0;

	/* Identities separate the NQNs by single spaces, so an NQN with a space could not be
	 * told apart from the next field. */
	return len > 0 && len <= HNVMF_TLS_NQN_MAX && !strchr(nqn, ' ');
}

int hnvmf_tls_retained_psk(int hh, const uint8_t *configured, size_t key_len, const char *hostnqn,
			   enum hnvmf_tls_hkdf_label enc, uint8_t *out)
{
	uint8_t prk[HNVMF_AUTH_MAX_DIGEST];

	if (hnvmf_tls_cipher_hash(hh, key_len) < 0 || !configured || !nqn_valid(hostnqn) || !out)
		return -EINVAL;
	if (hh == HNVMF_AUTH_HASH_NONE) {
		/* "using the configured PSK as a retained PSK" (TP 8011) */
		memcpy(out, configured, key_len);
		return 0;
	}
	int ret = hnvmf_auth_hkdf_extract(hh, configured, key_len, prk);
	if (!ret)
		ret = hnvmf_tls_hkdf_expand_label(hh, enc, prk, hnvmf_auth_hash_len(hh), "HostNQN",
						  (const uint8_t *)hostnqn, strlen(hostnqn), out,
						  key_len);
	hnvmf_auth_wipe(prk, sizeof(prk));
	return ret;
}

int hnvmf_tls_psk_digest(int cipher, const uint8_t *psk, size_t psk_len, const char *hostnqn,
			 const char *subnqn, char *out, size_t outlen)
{
	uint8_t mac[HNVMF_AUTH_MAX_DIGEST];

	if (!cipher_valid(cipher) || !psk || !psk_len || !nqn_valid(hostnqn) ||
	    !nqn_valid(subnqn) || !out)
		return -EINVAL;
	const struct hnvmf_auth_piece msg[] = {
		{ hostnqn, strlen(hostnqn) },
		{ " ", 1 },
		{ subnqn, strlen(subnqn) },
		{ " NVMe-over-Fabrics", 18 },
	};
	int ret = hnvmf_auth_hmac(cipher, psk, psk_len, msg, 4, mac);
	if (!ret)
		ret = hnvmf_auth_base64(mac, hnvmf_auth_hash_len(cipher), out, outlen);
	hnvmf_auth_wipe(mac, sizeof(mac));
	return ret < 0 ? ret : 0;
}

/* Base64 of a hash: 44 characters for SHA-256, 64 for SHA-384. */
static size_t digest_text_len(int cipher)
{
	return 4 * ((hnvmf_auth_hash_len(cipher) + 2) / 3);
}

int hnvmf_tls_identity_format(const struct hnvmf_tls_identity *id, char *out, size_t outlen)
{
	int n;

	if (!id || !out || !cipher_valid(id->cipher) || !nqn_valid(id->hostnqn) ||
	    !nqn_valid(id->subnqn))
		return -EINVAL;
	if (id->version == 0) {
		n = snprintf(out, outlen, "NVMe0%c%02d %s %s", id->generated ? 'G' : 'R',
			     id->cipher, id->hostnqn, id->subnqn);
	} else if (id->version == 1) {
		if (strlen(id->digest) != digest_text_len(id->cipher))
			return -EINVAL;
		n = snprintf(out, outlen, "NVMe1%c%02d %s %s %s", id->generated ? 'G' : 'R',
			     id->cipher, id->hostnqn, id->subnqn, id->digest);
	} else {
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return n;
}

/* Copies the space-free token at s[*pos..] into dst (up to max chars); advances *pos. */
static int take_token(const char *s, size_t len, size_t *pos, char *dst, size_t max)
{
	size_t start = *pos;

	while (*pos < len && s[*pos] != ' ' && s[*pos] != '\0')
		(*pos)++;
	size_t n = *pos - start;
	if (n == 0 || n > max)
		return -EINVAL;
	memcpy(dst, s + start, n);
	dst[n] = '\0';
	return 0;
}

int hnvmf_tls_identity_parse(const char *s, size_t len, struct hnvmf_tls_identity *id)
{
	struct hnvmf_tls_identity tmp = { 0 };
	size_t pos = 9;

	if (!s || !id || len < 9 || memcmp(s, "NVMe", 4) != 0)
		return -EINVAL;
	if (s[4] != '0' && s[4] != '1')
		return -EINVAL;
	tmp.version = s[4] - '0';
	if (s[5] != 'R' && s[5] != 'G')
		return -EINVAL;
	tmp.generated = s[5] == 'G';
	if (s[6] != '0' || (s[7] != '1' && s[7] != '2') || s[8] != ' ')
		return -EINVAL;
	tmp.cipher = s[7] - '0';

	if (take_token(s, len, &pos, tmp.hostnqn, HNVMF_TLS_NQN_MAX) < 0)
		return -EINVAL;
	if (pos >= len || s[pos] != ' ')
		return -EINVAL;
	pos++;
	if (take_token(s, len, &pos, tmp.subnqn, HNVMF_TLS_NQN_MAX) < 0)
		return -EINVAL;
	if (tmp.version == 1) {
		if (pos >= len || s[pos] != ' ')
			return -EINVAL;
		pos++;
		if (take_token(s, len, &pos, tmp.digest, HNVMF_TLS_DIGEST_MAX - 1) < 0 ||
		    strlen(tmp.digest) != digest_text_len(tmp.cipher))
			return -EINVAL;
	}
	if (pos != len)   /* trailing bytes: a v0 identity with a digest, an embedded NUL ... */
		return -EINVAL;
	*id = tmp;
	return 0;
}

int hnvmf_tls_psk(const struct hnvmf_tls_identity *id, const uint8_t *input_psk, size_t psk_len,
		  enum hnvmf_tls_hkdf_label enc, uint8_t *out)
{
	char context[HNVMF_TLS_IDENTITY_MAX];
	uint8_t prk[HNVMF_AUTH_MAX_DIGEST];
	int n;

	if (!id || !cipher_valid(id->cipher) || !input_psk ||
	    psk_len != hnvmf_auth_hash_len(id->cipher) || !out)
		return -EINVAL;
	/* Context: v0 the PSK identity itself; v1 "<hash> <PSK digest>" (TP 8018, libnvme PR
	 * #871, kernel nvme_auth_derive_tls_psk). */
	if (id->version == 0)
		n = hnvmf_tls_identity_format(id, context, sizeof(context));
	else if (id->version == 1 && strlen(id->digest) == digest_text_len(id->cipher))
		n = snprintf(context, sizeof(context), "%02d %s", id->cipher, id->digest);
	else
		return -EINVAL;
	if (n < 0)
		return n;

	int ret = hnvmf_auth_hkdf_extract(id->cipher, input_psk, psk_len, prk);
	if (!ret)
		ret = hnvmf_tls_hkdf_expand_label(id->cipher, enc, prk, psk_len, "nvme-tls-psk",
						  (const uint8_t *)context, (size_t)n, out, psk_len);
	hnvmf_auth_wipe(prk, sizeof(prk));
	return ret;
}

int hnvmf_tls_derive_configured(int hh, const uint8_t *configured, size_t key_len,
				const char *hostnqn, const char *subnqn, int version,
				enum hnvmf_tls_hkdf_label enc, struct hnvmf_tls_derived *out)
{
	int cipher = hnvmf_tls_cipher_hash(hh, key_len);

	if (cipher < 0 || !configured || !nqn_valid(hostnqn) || !nqn_valid(subnqn) ||
	    (version != 0 && version != 1) || !out)
		return -EINVAL;

	struct hnvmf_tls_derived d = { 0 };
	d.id.version = version;
	d.id.cipher = cipher;
	strcpy(d.id.hostnqn, hostnqn);   /* lengths checked by nqn_valid */
	strcpy(d.id.subnqn, subnqn);
	d.psk_len = key_len;

	int ret = hnvmf_tls_retained_psk(hh, configured, key_len, hostnqn, enc, d.retained);
	if (!ret && version == 1)
		ret = hnvmf_tls_psk_digest(cipher, d.retained, key_len, hostnqn, subnqn,
					   d.id.digest, sizeof(d.id.digest));
	if (!ret) {
		int n = hnvmf_tls_identity_format(&d.id, d.identity, sizeof(d.identity));
		ret = n < 0 ? n : 0;
	}
	if (!ret)
		ret = hnvmf_tls_psk(&d.id, d.retained, key_len, enc, d.psk);
	if (!ret)
		*out = d;
	hnvmf_auth_wipe(&d, sizeof(d));
	return ret;
}

int hnvmf_tls_match_identity(const struct hnvmf_tls_identity *id, int hh, const uint8_t *key,
			     size_t key_len, enum hnvmf_tls_hkdf_label prefer,
			     struct hnvmf_tls_derived *out, enum hnvmf_tls_hkdf_label *used,
			     bool *proven)
{
	if (!id || id->generated || !key || !out || !used || !proven ||
	    (prefer != HNVMF_TLS_LABEL_RFC8446 && prefer != HNVMF_TLS_LABEL_LIBNVME_COMPAT))
		return -EINVAL;
	if (hnvmf_tls_cipher_hash(hh, key_len) != id->cipher)
		return -EKEYREJECTED;

	const enum hnvmf_tls_hkdf_label order[2] = {
		prefer,
		prefer == HNVMF_TLS_LABEL_RFC8446 ? HNVMF_TLS_LABEL_LIBNVME_COMPAT
						  : HNVMF_TLS_LABEL_RFC8446,
	};
	struct hnvmf_tls_derived d[2];
	bool match[2];

	for (int i = 0; i < 2; i++) {
		int ret = hnvmf_tls_derive_configured(hh, key, key_len, id->hostnqn, id->subnqn,
						      id->version, order[i], &d[i]);
		if (ret) {
			hnvmf_auth_wipe(d, sizeof(d));
			return ret;
		}
		/* Same NQNs and version by construction: the digest is what can differ. */
		match[i] = strcmp(d[i].id.digest, id->digest) == 0;
	}
	int pick = match[0] ? 0 : match[1] ? 1 : -1;
	if (pick >= 0) {
		*out = d[pick];
		*used = order[pick];
		/* Proven when the other encoding would not have produced this identity. */
		*proven = !(match[0] && match[1]);
	}
	hnvmf_auth_wipe(d, sizeof(d));
	return pick >= 0 ? 0 : -EKEYREJECTED;
}
