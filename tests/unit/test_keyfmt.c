/* The DHHC-1 and NVMeTLSkey-1 interchange formats. Independent vectors: the examples printed in
 * the NVMe specifications (and used by the Linux kernel's and libnvme's own tests), and strings
 * made with Python's base64 and zlib.crc32:
 *   def mk(prefix, hh, key, crcx=0):
 *       raw = key + (zlib.crc32(key) ^ crcx).to_bytes(4, 'little')
 *       return '%s:%02d:%s:' % (prefix, hh, base64.b64encode(raw).decode())
 * Each vector below says which mk() call made it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/keyfmt.h"

struct vec {
	const char *s;
	int hmac;
	size_t len;
	uint8_t first; /* key bytes are first, first + 1, ... (range() keys) */
};

/* NVMe Base spec DH-HMAC-CHAP example secret (32 bytes); valid with every hh. */
#define SPEC_DHHC "ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n"
/* NVMe/TCP spec PSK interchange example (32 bytes, SHA-256). */
#define SPEC_TLS "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"

static const struct vec dhchap_good[] = {
	/* mk('DHHC-1', 1, bytes(range(32))) */
	{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", 1, 32, 0 },
	/* mk('DHHC-1', 0, bytes(range(100, 148))) */
	{ "DHHC-1:00:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoOEhYaHiImKi4yNjo+QkZKTvGwQfg==:", 0, 48, 100 },
	/* mk('DHHC-1', 3, bytes(range(64))) */
	{ "DHHC-1:03:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P4zODhA=:", 3, 64, 0 },
	/* mk('DHHC-1', 2, bytes(range(48, 96))) */
	{ "DHHC-1:02:MDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f+ENbJA==:", 2, 48, 48 },
};

static const struct vec tls_good[] = {
	/* mk('NVMeTLSkey-1', 1, bytes(range(200, 232))) */
	{ "NVMeTLSkey-1:01:yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufLkDyH:", 1, 32, 200 },
	/* mk('NVMeTLSkey-1', 2, bytes(range(48))) */
	{ "NVMeTLSkey-1:02:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:", 2, 48, 0 },
	/* mk('NVMeTLSkey-1', 0, bytes(range(1, 49))) */
	{ "NVMeTLSkey-1:00:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wyg3Bcw==:", 0, 48, 1 },
};

static void check_vec(const struct vec *v, int (*parse)(const char *, struct hnvmf_key *, char *, size_t),
		      int (*fmt)(const struct hnvmf_key *, char *, size_t))
{
	struct hnvmf_key k;
	char err[128] = "", out[HNVMF_KEY_STR_MAX];
	assert_int_equal(parse(v->s, &k, err, sizeof(err)), 0);
	assert_int_equal(k.hmac, v->hmac);
	assert_int_equal(k.len, v->len);
	for (size_t i = 0; i < k.len; i++)
		assert_int_equal(k.data[i], (uint8_t)(v->first + i));
	/* and back to the very same string */
	assert_int_equal(fmt(&k, out, sizeof(out)), 0);
	assert_string_equal(out, v->s);
}

static void dhchap_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dhchap_good) / sizeof(dhchap_good[0]); i++)
		check_vec(&dhchap_good[i], hnvmf_dhchap_key_parse, hnvmf_dhchap_key_format);
}

static void tls_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tls_good) / sizeof(tls_good[0]); i++)
		check_vec(&tls_good[i], hnvmf_tls_key_parse, hnvmf_tls_key_format);
}

/* The spec's DHHC-1 example, with every transformation hash (the kernel accepts any). */
static void dhchap_spec_example(void **state)
{
	(void)state;
	const char *forms[] = { "DHHC-1:00:" SPEC_DHHC ":", "DHHC-1:01:" SPEC_DHHC ":",
				"DHHC-1:02:" SPEC_DHHC ":", "DHHC-1:03:" SPEC_DHHC ":" };
	for (int i = 0; i < 4; i++) {
		struct hnvmf_key k;
		char err[128];
		assert_int_equal(hnvmf_dhchap_key_parse(forms[i], &k, err, sizeof(err)), 0);
		assert_int_equal(k.hmac, i);
		assert_int_equal(k.len, 32);
		assert_int_equal(k.data[0], 0x89); /* 'ia6z' decodes to 89 ae b3 */
		assert_int_equal(k.data[1], 0xae);
	}
}

static void tls_spec_example(void **state)
{
	(void)state;
	struct hnvmf_key k;
	char err[128];
	assert_int_equal(hnvmf_tls_key_parse(SPEC_TLS, &k, err, sizeof(err)), 0);
	assert_int_equal(k.hmac, 1);
	assert_int_equal(k.len, 32);
	assert_int_equal(k.data[0], 0x55); /* 'VRLb' decodes to 55 12 db */
	assert_int_equal(k.data[2], 0xdb);
}

struct bad {
	const char *s;
	const char *why; /* substring of the error */
};

static void refuse(const struct bad *b, size_t n, int (*parse)(const char *, struct hnvmf_key *, char *, size_t))
{
	for (size_t i = 0; i < n; i++) {
		struct hnvmf_key k;
		char err[160] = "";
		if (parse(b[i].s, &k, err, sizeof(err)) != -1)
			fail_msg("accepted: %s", b[i].s);
		if (!strstr(err, b[i].why))
			fail_msg("%s: error '%s' lacks '%s'", b[i].s, err, b[i].why);
	}
}

static void dhchap_refused(void **state)
{
	(void)state;
	static const struct bad bad[] = {
		/* mk('DHHC-1', 1, bytes(range(32)), crcx=1) */
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+LfiaR:", "CRC" },
		/* mk('DHHC-1', 0, bytes(range(40))): a 40-byte key */
		{ "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJzwupg0=:", "40-byte" },
		/* mk('DHHC-1', 4, bytes(range(32))) */
		{ "DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "hash indicator 04" },
		{ "DHHC-2:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "does not start" },
		{ "dhhc-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "does not start" },
		{ "NVMeTLSkey-1:01:yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufLkDyH:", "does not start" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR", "trailing ':'" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:x", "after the trailing" },
		{ "DHHC-1:1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "two digits" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR=:", "wrong length" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfi*R:", "invalid character" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+K=iaR:", "invalid character" },
		{ "DHHC-1:01::", "wrong length" },
		{ "", "does not start" },
	};
	refuse(bad, sizeof(bad) / sizeof(bad[0]), hnvmf_dhchap_key_parse);
}

static void tls_refused(void **state)
{
	(void)state;
	static const struct bad bad[] = {
		/* mk('NVMeTLSkey-1', 1, bytes(range(200, 232)), crcx=0x80000000) */
		{ "NVMeTLSkey-1:01:yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufLkDwH:", "CRC" },
		/* mk('NVMeTLSkey-1', 1, bytes(range(48))): SHA-256 needs 32 bytes */
		{ "NVMeTLSkey-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:", "48-byte" },
		/* mk('NVMeTLSkey-1', 3, bytes(range(48))) */
		{ "NVMeTLSkey-1:03:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:", "hash indicator 03" },
		/* mk('NVMeTLSkey-1', 0, bytes(range(64))): TLS PSKs are 32 or 48 bytes */
		{ "NVMeTLSkey-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P4zODhA=:", "64-byte" },
		{ "NVMeTLSkey-2:01:yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufLkDyH:", "does not start" },
		{ "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "does not start" },
		{ "NVMeTLSkey-1:01:yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufLkDyH", "trailing ':'" },
	};
	refuse(bad, sizeof(bad) / sizeof(bad[0]), hnvmf_tls_key_parse);
}

/* Formatting refuses what parsing would refuse, and a formatted key parses back. */
static void format_rules(void **state)
{
	(void)state;
	struct hnvmf_key k = { .len = 48, .hmac = 1 }, back;
	char out[HNVMF_KEY_STR_MAX], err[128];
	for (size_t i = 0; i < sizeof(k.data); i++)
		k.data[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(hnvmf_tls_key_format(&k, out, sizeof(out)), -1); /* SHA-256 PSK of 48 */
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, sizeof(out)), 0);
	assert_int_equal(hnvmf_dhchap_key_parse(out, &back, err, sizeof(err)), 0);
	assert_int_equal(back.len, 48);
	assert_memory_equal(back.data, k.data, 48);
	k.len = 33;
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, sizeof(out)), -1);
	k.len = 64;
	k.hmac = 3;
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, 20), -1); /* too small a buffer */
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), 10 + 92 + 1);
	k.hmac = 4;
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dhchap_vectors), cmocka_unit_test(tls_vectors),
		cmocka_unit_test(dhchap_spec_example), cmocka_unit_test(tls_spec_example),
		cmocka_unit_test(dhchap_refused), cmocka_unit_test(tls_refused),
		cmocka_unit_test(format_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
