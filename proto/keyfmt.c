/* The DHHC-1 and NVMeTLSkey-1 interchange formats (see keyfmt.h). */
#include "proto/keyfmt.h"

#include <isa-l/crc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

struct keyfmt {
	const char *prefix; /* up to and including the first ':' */
	const char *what;   /* for messages */
	int max_hmac;
	bool (*len_ok)(int hmac, size_t len);
};

/* The kernel (since 6.x) accepts any transformation hash with any of the three key sizes, and
 * so do we: nvme-cli's gen-dhchap-key writes e.g. "DHHC-1:01:" with a 48-byte key on request. */
static bool dhchap_len_ok(int hmac, size_t len)
{
	(void)hmac;
	return len == 32 || len == 48 || len == 64;
}

/* TLS: a retained PSK's length is the hash's output length; hh 00 takes either. */
static bool tls_len_ok(int hmac, size_t len)
{
	switch (hmac) {
	case 0:
		return len == 32 || len == 48;
	case 1:
		return len == 32;
	case 2:
		return len == 48;
	default:
		return false;
	}
}

static const struct keyfmt dhchap = { "DHHC-1:", "DH-HMAC-CHAP secret", 3, dhchap_len_ok };
static const struct keyfmt tls = { "NVMeTLSkey-1:", "TLS PSK", 2, tls_len_ok };

/* The standard CRC-32 (zlib's crc32(0, ...)): ISA-L's reflected gzip variant. */
static uint32_t key_crc(const uint8_t *p, size_t n) { return crc32_gzip_refl(0, p, (uint64_t)n); }

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

static int parse(const struct keyfmt *f, const char *s, struct hnvmf_key *k, char *err, size_t errlen)
{
	size_t plen = strlen(f->prefix);
	if (strncmp(s, f->prefix, plen) != 0)
		return ERR("%s does not start with '%s'", f->what, f->prefix);
	s += plen;
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':')
		return ERR("%s: expected two digits and ':' after '%s'", f->what, f->prefix);
	int hmac = (s[0] - '0') * 10 + (s[1] - '0');
	if (hmac > f->max_hmac)
		return ERR("%s: hash indicator %02d is not 00..%02d", f->what, hmac, f->max_hmac);
	const char *b64 = s + 3;
	size_t n = strcspn(b64, ":");
	if (b64[n] != ':')
		return ERR("%s: missing the trailing ':'", f->what);
	if (b64[n + 1] != '\0')
		return ERR("%s: text after the trailing ':'", f->what);
	/* 64-byte key + CRC = 68 bytes = 92 base64 characters */
	if (n == 0 || n % 4 != 0 || n > 92)
		return ERR("%s: the base64 part has a wrong length (%zu characters)", f->what, n);
	size_t pad = 0;
	for (size_t i = 0; i < n; i++) {
		if (b64[i] == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		if (!is_b64(b64[i]) || pad)
			return ERR("%s: the base64 part holds an invalid character", f->what);
	}
	uint8_t raw[72];
	int got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (got < 0 || (size_t)got < pad + 4) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return ERR("%s: the base64 part does not decode", f->what);
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t keylen = (size_t)got - pad - 4;
	if (!f->len_ok(hmac, keylen)) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return ERR("%s: a %zu-byte key is not allowed with hash indicator %02d", f->what, keylen,
			   hmac);
	}
	uint32_t want = (uint32_t)raw[keylen] | (uint32_t)raw[keylen + 1] << 8 |
			(uint32_t)raw[keylen + 2] << 16 | (uint32_t)raw[keylen + 3] << 24;
	if (key_crc(raw, keylen) != want) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return ERR("%s: CRC mismatch (mistyped or truncated key)", f->what);
	}
	memcpy(k->data, raw, keylen);
	k->len = keylen;
	k->hmac = hmac;
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

static int format(const struct keyfmt *f, const struct hnvmf_key *k, char *out, size_t outlen)
{
	if (k->hmac < 0 || k->hmac > f->max_hmac || !f->len_ok(k->hmac, k->len))
		return -1;
	uint8_t raw[68];
	memcpy(raw, k->data, k->len);
	uint32_t crc = key_crc(k->data, k->len);
	for (int i = 0; i < 4; i++)
		raw[k->len + (size_t)i] = (uint8_t)(crc >> (8 * i));
	char b64[96 + 1];
	int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)k->len + 4);
	OPENSSL_cleanse(raw, sizeof(raw));
	int w = snprintf(out, outlen, "%s%02d:%.*s:", f->prefix, k->hmac, n, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

int hnvmf_dhchap_key_parse(const char *s, struct hnvmf_key *k, char *err, size_t errlen)
{
	return parse(&dhchap, s, k, err, errlen);
}

int hnvmf_tls_key_parse(const char *s, struct hnvmf_key *k, char *err, size_t errlen)
{
	return parse(&tls, s, k, err, errlen);
}

int hnvmf_dhchap_key_format(const struct hnvmf_key *k, char *out, size_t outlen)
{
	return format(&dhchap, k, out, outlen);
}

int hnvmf_tls_key_format(const struct hnvmf_key *k, char *out, size_t outlen)
{
	return format(&tls, k, out, outlen);
}

void hnvmf_key_wipe(struct hnvmf_key *k) { OPENSSL_cleanse(k, sizeof(*k)); }
