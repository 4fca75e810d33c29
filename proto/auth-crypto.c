/* Hash, HMAC and HKDF primitives for NVMe authentication, over OpenSSL 3 EVP only. */
#define OPENSSL_API_COMPAT 30000   /* hide everything OpenSSL 3.0 deprecated: EVP APIs only */

#include "proto/auth-crypto.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static const struct {
	const char *name;     /* ours, for logs and docs */
	const char *ossl;     /* OpenSSL's digest name */
	size_t len;
} hash_table[] = {
	[HNVMF_AUTH_HASH_SHA256] = { "sha256", "SHA2-256", 32 },
	[HNVMF_AUTH_HASH_SHA384] = { "sha384", "SHA2-384", 48 },
	[HNVMF_AUTH_HASH_SHA512] = { "sha512", "SHA2-512", 64 },
};

static int hash_valid(int hash_id)
{
	return hash_id >= HNVMF_AUTH_HASH_SHA256 && hash_id <= HNVMF_AUTH_HASH_SHA512;
}

size_t hnvmf_auth_hash_len(int hash_id)
{
	return hash_valid(hash_id) ? hash_table[hash_id].len : 0;
}

const char *hnvmf_auth_hash_name(int hash_id)
{
	return hash_valid(hash_id) ? hash_table[hash_id].name : NULL;
}

int hnvmf_auth_hmac(int hash_id, const uint8_t *key, size_t key_len,
		    const struct hnvmf_auth_piece *pieces, size_t npieces, uint8_t *out)
{
	if (!hash_valid(hash_id) || (!key && key_len) || (!pieces && npieces) || !out)
		return -EINVAL;

	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						 (char *)hash_table[hash_id].ossl, 0),
		OSSL_PARAM_construct_end(),
	};
	/* HMAC accepts an empty key (RFC 2104 pads it with zeros); OpenSSL wants a non-NULL
	 * pointer for it. */
	static const uint8_t empty_key[1];
	uint8_t md[HNVMF_AUTH_MAX_DIGEST];
	size_t md_len = 0;
	int ret = -EIO;

	if (!ctx || !EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params))
		goto out;
	for (size_t i = 0; i < npieces; i++)
		if (pieces[i].len && !EVP_MAC_update(ctx, pieces[i].p, pieces[i].len))
			goto out;
	if (!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len != hash_table[hash_id].len)
		goto out;
	memcpy(out, md, md_len);
	ret = 0;
out:
	hnvmf_auth_wipe(md, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

int hnvmf_auth_digest(int hash_id, const uint8_t *data, size_t len, uint8_t *out)
{
	if (!hash_valid(hash_id) || (!data && len) || !out)
		return -EINVAL;
	EVP_MD *md = EVP_MD_fetch(NULL, hash_table[hash_id].ossl, NULL);
	unsigned int md_len = 0;
	int ok = md && EVP_Digest(data ? data : (const uint8_t *)"", len, out, &md_len, md, NULL) &&
		 md_len == hash_table[hash_id].len;
	EVP_MD_free(md);
	return ok ? 0 : -EIO;
}

/* One EVP_KDF HKDF call in the given mode (extract only or expand only). */
static int hkdf_call(int hash_id, int mode, const uint8_t *key, size_t key_len,
		     const uint8_t *salt, size_t salt_len, const uint8_t *info, size_t info_len,
		     uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6], *p = params;
	int ret = -EIO;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)hash_table[hash_id].ossl, 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	if (salt)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 salt_len);
	if (info && info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 info_len);
	*p = OSSL_PARAM_construct_end();

	if (ctx && EVP_KDF_derive(ctx, out, out_len, params) > 0)
		ret = 0;
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return ret;
}

int hnvmf_auth_hkdf_extract(int hash_id, const uint8_t *ikm, size_t ikm_len, uint8_t *prk)
{
	/* RFC 5869 2.2: "if not provided, [salt] is set to a string of HashLen zeros". Passing
	 * them explicitly keeps the result independent of how a library treats a missing salt. */
	static const uint8_t zero_salt[HNVMF_AUTH_MAX_DIGEST];

	if (!hash_valid(hash_id) || !ikm || !ikm_len || !prk)
		return -EINVAL;
	return hkdf_call(hash_id, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, zero_salt,
			 hash_table[hash_id].len, NULL, 0, prk, hash_table[hash_id].len);
}

int hnvmf_auth_hkdf_expand(int hash_id, const uint8_t *prk, size_t prk_len, const uint8_t *info,
			   size_t info_len, uint8_t *okm, size_t okm_len)
{
	if (!hash_valid(hash_id) || !prk || prk_len < hash_table[hash_id].len ||
	    (!info && info_len) || !okm || !okm_len || okm_len > 255 * hash_table[hash_id].len)
		return -EINVAL;
	return hkdf_call(hash_id, EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, NULL, 0, info,
			 info_len, okm, okm_len);
}

int hnvmf_auth_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void hnvmf_auth_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

int hnvmf_auth_base64(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t need = 4 * ((len + 2) / 3) + 1;

	if ((!in && len) || !out || outlen < need || len > 0x3fffffff)
		return -EINVAL;
	/* EVP_EncodeBlock: one line, standard alphabet, '=' padding, NUL-terminated. */
	return EVP_EncodeBlock((unsigned char *)out, in ? in : (const uint8_t *)"", (int)len);
}
