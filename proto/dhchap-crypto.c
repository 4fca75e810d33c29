/* DH-HMAC-CHAP computations (TP 8006): transformed secrets, augmented challenges, the R1/R2
 * response layouts and ephemeral FFDHE key pairs, over OpenSSL 3 EVP only. */
#define OPENSSL_API_COMPAT 30000   /* hide everything OpenSSL 3.0 deprecated: EVP APIs only */

#include "proto/dhchap-crypto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

static const struct {
	const char *name;
	size_t size;
} dhgroup_table[] = {
	[HNVMF_DHGROUP_NULL] = { "null", 0 },
	[HNVMF_DHGROUP_FFDHE2048] = { "ffdhe2048", 256 },
	[HNVMF_DHGROUP_FFDHE3072] = { "ffdhe3072", 384 },
	[HNVMF_DHGROUP_FFDHE4096] = { "ffdhe4096", 512 },
	[HNVMF_DHGROUP_FFDHE6144] = { "ffdhe6144", 768 },
	[HNVMF_DHGROUP_FFDHE8192] = { "ffdhe8192", 1024 },
};

const char *hnvmf_dhchap_dhgroup_name(int gid)
{
	if (gid < HNVMF_DHGROUP_NULL || gid > HNVMF_DHGROUP_FFDHE8192)
		return NULL;
	return dhgroup_table[gid].name;
}

size_t hnvmf_dhchap_dhgroup_size(int gid)
{
	if (gid < HNVMF_DHGROUP_NULL || gid > HNVMF_DHGROUP_FFDHE8192)
		return 0;
	return dhgroup_table[gid].size;
}

int hnvmf_dhchap_transform_key(int key_hash, const uint8_t *key, size_t key_len, const char *nqn,
			       uint8_t *out, size_t *out_len)
{
	if (!key || !key_len || !nqn || !out || !out_len)
		return -EINVAL;
	if (key_hash == HNVMF_AUTH_HASH_NONE) {
		/* hh 00: "the secret is used as is", no transformation at all. */
		memcpy(out, key, key_len);
		*out_len = key_len;
		return 0;
	}
	if (!hnvmf_auth_hash_len(key_hash))
		return -EINVAL;
	const struct hnvmf_auth_piece msg[] = {
		{ nqn, strlen(nqn) },
		{ "NVMe-over-Fabrics", 17 },
	};
	int ret = hnvmf_auth_hmac(key_hash, key, key_len, msg, 2, out);
	if (!ret)
		*out_len = hnvmf_auth_hash_len(key_hash);
	return ret;
}

int hnvmf_dhchap_augmented_challenge(int hash_id, const uint8_t *skey, size_t skey_len,
				     const uint8_t *challenge, uint8_t *out)
{
	size_t hlen = hnvmf_auth_hash_len(hash_id);
	uint8_t hashed[HNVMF_AUTH_MAX_DIGEST];

	if (!hlen || !skey || !skey_len || !challenge || !out)
		return -EINVAL;
	int ret = hnvmf_auth_digest(hash_id, skey, skey_len, hashed);
	if (!ret) {
		const struct hnvmf_auth_piece msg[] = { { challenge, hlen } };
		ret = hnvmf_auth_hmac(hash_id, hashed, hlen, msg, 1, out);
	}
	hnvmf_auth_wipe(hashed, sizeof(hashed));
	return ret;
}

/* Both responses share one layout; only the role string and the order of the NQNs differ:
 * each side puts its own NQN first. */
static int dhchap_response(const struct hnvmf_dhchap_response_args *a, const char *role,
			   const char *first_nqn, const char *second_nqn, uint8_t *out)
{
	size_t hlen = hnvmf_auth_hash_len(a->hash_id);
	uint8_t aug[HNVMF_AUTH_MAX_DIGEST];
	const uint8_t *chal = a->challenge;
	uint8_t hdr[7];
	static const uint8_t zero;

	if (!hlen || !a->tkey || !a->tkey_len || !a->challenge || !a->hostnqn || !a->subnqn ||
	    (a->skey && !a->skey_len) || !out)
		return -EINVAL;
	if (a->skey) {
		int ret = hnvmf_dhchap_augmented_challenge(a->hash_id, a->skey, a->skey_len,
							   a->challenge, aug);
		if (ret)
			return ret;
		chal = aug;
	}
	/* S (le32) || T_ID (le16) || SC (one byte) */
	hdr[0] = (uint8_t)a->seqnum;
	hdr[1] = (uint8_t)(a->seqnum >> 8);
	hdr[2] = (uint8_t)(a->seqnum >> 16);
	hdr[3] = (uint8_t)(a->seqnum >> 24);
	hdr[4] = (uint8_t)a->tid;
	hdr[5] = (uint8_t)(a->tid >> 8);
	hdr[6] = a->sc;
	const struct hnvmf_auth_piece msg[] = {
		{ chal, hlen },
		{ hdr, sizeof(hdr) },
		{ role, strlen(role) },
		{ first_nqn, strlen(first_nqn) },
		{ &zero, 1 },
		{ second_nqn, strlen(second_nqn) },
	};
	int ret = hnvmf_auth_hmac(a->hash_id, a->tkey, a->tkey_len, msg, 6, out);
	hnvmf_auth_wipe(aug, sizeof(aug));
	return ret;
}

int hnvmf_dhchap_host_response(const struct hnvmf_dhchap_response_args *a, uint8_t *out)
{
	if (!a)
		return -EINVAL;
	return dhchap_response(a, "HostHost", a->hostnqn, a->subnqn, out);
}

int hnvmf_dhchap_ctrl_response(const struct hnvmf_dhchap_response_args *a, uint8_t *out)
{
	if (!a)
		return -EINVAL;
	return dhchap_response(a, "Controller", a->subnqn, a->hostnqn, out);
}

int hnvmf_dhchap_generated_psk(int hash_id, const uint8_t *skey, size_t skey_len,
			       const uint8_t *c1, const uint8_t *c2, uint8_t *out)
{
	size_t hlen = hnvmf_auth_hash_len(hash_id);

	if (!hlen || !skey || !skey_len || !c1 || !c2 || !out)
		return -EINVAL;
	const struct hnvmf_auth_piece msg[] = { { c1, hlen }, { c2, hlen } };
	return hnvmf_auth_hmac(hash_id, skey, skey_len, msg, 2, out);
}

/* ------------------------------------------------------------------------------------------ */
/* FFDHE key pairs */

struct hnvmf_dh {
	int gid;
	EVP_PKEY *pkey;
};

static int dh_group_valid(int gid)
{
	return gid >= HNVMF_DHGROUP_FFDHE2048 && gid <= HNVMF_DHGROUP_FFDHE8192;
}

static struct hnvmf_dh *dh_wrap(int gid, EVP_PKEY *pkey)
{
	struct hnvmf_dh *dh = pkey ? calloc(1, sizeof(*dh)) : NULL;

	if (!dh) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	dh->gid = gid;
	dh->pkey = pkey;
	return dh;
}

struct hnvmf_dh *hnvmf_dh_generate(int gid)
{
	if (!dh_group_valid(gid))
		return NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
						 (char *)dhgroup_table[gid].name, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *pkey = NULL;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params) ||
	    EVP_PKEY_generate(ctx, &pkey) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return dh_wrap(gid, pkey);
}

/* An EVP_PKEY of the named group from its parts: selection says which parts are given. */
static EVP_PKEY *dh_fromdata(int gid, const BIGNUM *priv, const BIGNUM *pub, int selection)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pkey = NULL;

	if (!bld || !ctx ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					     dhgroup_table[gid].name, 0) ||
	    (priv && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
	    (pub && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!params || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
		pkey = NULL;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

struct hnvmf_dh *hnvmf_dh_from_private(int gid, const uint8_t *priv, size_t priv_len)
{
	if (!dh_group_valid(gid) || !priv || !priv_len || priv_len > dhgroup_table[gid].size)
		return NULL;

	EVP_PKEY *params = dh_fromdata(gid, NULL, NULL, EVP_PKEY_KEY_PARAMETERS);
	BIGNUM *p = NULL, *g = NULL, *x = BN_bin2bn(priv, (int)priv_len, NULL);
	BIGNUM *y = BN_new(), *pm1 = NULL;
	BN_CTX *bn_ctx = BN_CTX_new();
	EVP_PKEY *pkey = NULL;

	if (!params || !x || !y || !bn_ctx ||
	    !EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &p) ||
	    !EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_G, &g))
		goto out;
	/* 1 < x < p - 1, then y = g^x mod p: OpenSSL does not derive the public half when only
	 * the private one is imported, and the exchange needs both. */
	pm1 = BN_dup(p);
	if (!pm1 || !BN_sub_word(pm1, 1) || BN_cmp(x, BN_value_one()) <= 0 || BN_cmp(x, pm1) >= 0)
		goto out;
	BN_set_flags(x, BN_FLG_CONSTTIME);
	if (!BN_mod_exp(y, g, x, p, bn_ctx))
		goto out;
	pkey = dh_fromdata(gid, x, y, EVP_PKEY_KEYPAIR);
out:
	BN_CTX_free(bn_ctx);
	BN_clear_free(x);
	BN_free(y);
	BN_free(p);
	BN_free(pm1);
	BN_free(g);
	EVP_PKEY_free(params);
	return dh_wrap(gid, pkey);
}

void hnvmf_dh_free(struct hnvmf_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->pkey);
	free(dh);
}

int hnvmf_dh_group(const struct hnvmf_dh *dh)
{
	return dh ? dh->gid : HNVMF_DHGROUP_NULL;
}

int hnvmf_dh_public_key(const struct hnvmf_dh *dh, uint8_t *out, size_t out_len)
{
	if (!dh || !out || out_len != dhgroup_table[dh->gid].size)
		return -EINVAL;
	BIGNUM *y = NULL;
	int ret = -EIO;

	/* The DH value field carries the group's full width: pad on the left. */
	if (EVP_PKEY_get_bn_param(dh->pkey, OSSL_PKEY_PARAM_PUB_KEY, &y) &&
	    BN_bn2binpad(y, out, (int)out_len) == (int)out_len)
		ret = 0;
	BN_free(y);
	return ret;
}


/* 1 < y < p - 1 for the group of key. */
static bool peer_in_range(const EVP_PKEY *key, const BIGNUM *y)
{
	BIGNUM *p = NULL;
	bool ok = false;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_FFC_P, &p) > 0 && BN_sub_word(p, 1))
		ok = BN_cmp(y, BN_value_one()) > 0 && BN_cmp(y, p) < 0;
	BN_free(p);
	return ok;
}

int hnvmf_dh_shared_secret(const struct hnvmf_dh *dh, const uint8_t *peer, size_t peer_len,
			   uint8_t *out, size_t out_len)
{
	if (!dh || !peer || !out || peer_len != dhgroup_table[dh->gid].size ||
	    out_len != peer_len)
		return -EINVAL;

	BIGNUM *py = BN_bin2bn(peer, (int)peer_len, NULL);
	EVP_PKEY *peer_key = py ? dh_fromdata(dh->gid, NULL, py, EVP_PKEY_PUBLIC_KEY) : NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dh->pkey, NULL);
	/* Pad the secret to the size of p, as the kernel's KPP does (mpi_write_to_sgl fills the
	 * leading bytes with zeros): H(g^xy) is taken over the padded value. */
	unsigned int pad = 1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_uint(OSSL_EXCHANGE_PARAM_PAD, &pad),
		OSSL_PARAM_construct_end(),
	};
	size_t len = out_len;
	int ret = -EIO;

	if (!py || !ctx)
		goto out;
	if (!peer_key) {
		ret = -EINVAL;
		goto out;
	}
	if (EVP_PKEY_derive_init(ctx) <= 0 || !EVP_PKEY_CTX_set_params(ctx, params))
		goto out;
	/* The peer's value must lie in 1 < y < p - 1 (RFC 7919 section 5.1: for these safe-prime
	 * groups that is the check required). OpenSSL's own validation adds the subgroup test
	 * y^q mod p == 1: a full modular exponentiation, 200 ms for ffdhe8192 on the reactor
	 * thread, for no protection these groups need. */
	if (!peer_in_range(dh->pkey, py)) {
		ret = -EINVAL;
		goto out;
	}
	if (EVP_PKEY_derive_set_peer_ex(ctx, peer_key, 0) <= 0) {
		ret = -EINVAL;
		goto out;
	}
	if (EVP_PKEY_derive(ctx, out, &len) > 0 && len == out_len)
		ret = 0;
out:
	if (ret)
		hnvmf_auth_wipe(out, out_len);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_key);
	BN_free(py);
	return ret;
}
