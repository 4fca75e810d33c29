/* The host side of DH-HMAC-CHAP (tools/initiator/auth.c) without a network: the test plays the
 * controller. Byte layouts of Negotiate, Reply, Success2 and Failure2 are compared with fixed
 * vectors; R1 and R2 were printed by the independent python reference
 * (tests/vectors/nvme_auth_ref.py: host_response / ctrl_response / transform_key / dh_public,
 * inputs as in the tests below), so a wrong layout of the response input is caught as well.
 * Also: what the host refuses in a Challenge or Success1, and the hnvmf-perf options. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "target/auth.h"
#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:host-a"
#define SUBNQN "nqn.2026-01.io.hnvmf:auth"

/* host secret: bytes 01..20, hh 01; controller secret: bytes 40..6f, hh 02 */
static char host_secret[HNVMF_KEY_STR_MAX], ctrl_secret[HNVMF_KEY_STR_MAX];

static void make_secret(uint8_t first, size_t len, int hh, char *out)
{
	struct hnvmf_key k = { .len = len, .hmac = hh };
	for (size_t i = 0; i < len; i++)
		k.data[i] = (uint8_t)(first + i);
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, HNVMF_KEY_STR_MAX), 0);
}

static int group_setup(void **state)
{
	(void)state;
	make_secret(0x01, 32, 1, host_secret);
	make_secret(0x40, 48, 2, ctrl_secret);
	return 0;
}

/* Deterministic "randomness": bytes 0x30, 0x31, ... across calls (S2 first, then C2). */
static unsigned rnd_pos;
static int fixed_random(void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0x30 + rnd_pos++);
	return 0;
}

/* Fixed private exponents: host x = bytes 10..2f, controller y = bytes 50..6f (big endian). */
static void priv_bytes(uint8_t first, uint8_t *p)
{
	for (int i = 0; i < 32; i++)
		p[i] = (uint8_t)(first + i);
}
static struct hnvmf_dh *fixed_host_dh(int gid)
{
	uint8_t x[32];
	priv_bytes(0x10, x);
	return hnvmf_dh_from_private(gid, x, sizeof(x));
}

static void init_host(struct hnvmf_ini_auth *a, const char *ctrl, uint16_t t_id)
{
	assert_int_equal(hnvmf_ini_auth_init(a, host_secret, ctrl, NULL, 0, NULL, 0, HOSTNQN, SUBNQN, t_id), 0);
	a->random = fixed_random;
	a->dh_generate = fixed_host_dh;
	rnd_pos = 0;
}

/* A Challenge as the controller sends it. */
static size_t challenge(uint8_t *buf, uint16_t t_id, uint8_t hash, uint8_t group, uint32_t s1,
			const uint8_t *c1, const uint8_t *gy, size_t gy_len)
{
	struct hnvmf_auth_challenge *c = (void *)buf;
	size_t hl = hnvmf_auth_hash_len(hash);
	memset(c, 0, sizeof(*c));
	c->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	c->auth_id = HNVMF_AUTH_CHALLENGE;
	c->t_id = htole16(t_id);
	c->hl = (uint8_t)hl;
	c->hashid = hash;
	c->dhgid = group;
	c->dhvlen = htole16((uint16_t)gy_len);
	c->seqnum = htole32(s1);
	memcpy(buf + sizeof(*c), c1, hl);
	if (gy_len)
		memcpy(buf + sizeof(*c) + hl, gy, gy_len);
	return sizeof(*c) + hl + gy_len;
}

static void test_negotiate_layout(void **state)
{
	(void)state;
	struct hnvmf_ini_auth a;
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, NULL, NULL, 0, NULL, 0, HOSTNQN, SUBNQN, 0x1234), 0);
	uint8_t m[HNVMF_INI_AUTH_NEGOTIATE_LEN], want[HNVMF_INI_AUTH_NEGOTIATE_LEN] = {
		0x00, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00, 0x01, /* COMMON, NEGOTIATE, T_ID, SC_C 0, NAPD 1 */
		0x01, 0x00, 0x03, 0x06,                         /* AUTHID DH-HMAC-CHAP, HALEN 3, DHLEN 6 */
		0x01, 0x02, 0x03,                               /* SHA-256, -384, -512 */
	};
	memcpy(want + 12 + 30, "\x00\x01\x02\x03\x04\x05", 6); /* null, ffdhe2048 .. ffdhe8192 */
	assert_int_equal(hnvmf_ini_auth_negotiate(&a, m), sizeof(m));
	assert_memory_equal(m, want, sizeof(m));
	hnvmf_ini_auth_clear(&a);

	/* A restricted offer lists only what was asked, in the order asked. */
	const uint8_t hashes[] = { 3 }, groups[] = { 3, 0 };
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, NULL, hashes, 1, groups, 2, HOSTNQN, SUBNQN, 1), 0);
	uint8_t want2[HNVMF_INI_AUTH_NEGOTIATE_LEN] = { 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01,
							0x01, 0x00, 0x01, 0x02, 0x03 };
	want2[12 + 30] = 3;
	want2[12 + 31] = 0;
	assert_int_equal(hnvmf_ini_auth_negotiate(&a, m), sizeof(m));
	assert_memory_equal(m, want2, sizeof(m));
	hnvmf_ini_auth_clear(&a);
}

static void test_init_refuses_bad_input(void **state)
{
	(void)state;
	struct hnvmf_ini_auth a;
	assert_int_equal(hnvmf_ini_auth_init(&a, NULL, NULL, NULL, 0, NULL, 0, HOSTNQN, SUBNQN, 0), -EINVAL);
	assert_int_equal(hnvmf_ini_auth_init(&a, "DHHC-1:01:notbase64!:", NULL, NULL, 0, NULL, 0, HOSTNQN,
					     SUBNQN, 0), -EINVAL);
	assert_non_null(strstr(a.why, "host secret"));
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, "DHHC-1:07:AAAA:", NULL, 0, NULL, 0, HOSTNQN,
					     SUBNQN, 0), -EINVAL);
	assert_non_null(strstr(a.why, "controller secret"));
	const uint8_t bad_hash[] = { 4 }, dup_group[] = { 1, 1 };
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, NULL, bad_hash, 1, NULL, 0, HOSTNQN, SUBNQN, 0), -EINVAL);
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, NULL, NULL, 0, dup_group, 2, HOSTNQN, SUBNQN, 0), -EINVAL);
	assert_int_equal(hnvmf_ini_auth_hash_id("sha384"), 2);
	assert_int_equal(hnvmf_ini_auth_hash_id("md5"), -1);
	assert_int_equal(hnvmf_ini_auth_group_id("ffdhe6144"), 4);
	assert_int_equal(hnvmf_ini_auth_group_id("null"), 0);
	assert_int_equal(hnvmf_ini_auth_group_id("ffdhe1024"), -1);
}

/* SHA-256, null DH group, one-way: the whole Reply is fixed. */
static void test_reply_one_way_null_group(void **state)
{
	(void)state;
	static const uint8_t r1[32] = "\x9a\x5a\x50\xce\xcd\x3e\x9d\x1a\x03\xa5\x83\x46\x82\xe7\x25\x95"
				      "\x20\xf3\xfc\x97\xda\xda\x3b\x98\xd3\xa9\x78\x32\x99\xc3\x9f\x9a";
	struct hnvmf_ini_auth a;
	init_host(&a, NULL, 5);
	uint8_t c1[32], msg[2048];
	for (int i = 0; i < 32; i++)
		c1[i] = (uint8_t)(0x80 + i);
	size_t n = challenge(msg, 5, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL, 0x11223344, c1, NULL, 0);
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n), 0);
	int len = hnvmf_ini_auth_reply(&a, msg, sizeof(msg));
	assert_int_equal(len, 16 + 32 + 32);
	static const uint8_t hdr[16] = { 0x01, 0x02, 0x00, 0x00, 0x05, 0x00, 0x20, 0x00,
					 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	assert_memory_equal(msg, hdr, 16); /* DHCHAP, REPLY, T_ID 5, HL 32, CVALID 0, DHVLEN 0, S2 0 */
	assert_memory_equal(msg + 16, r1, 32);
	static const uint8_t zero[32];
	assert_memory_equal(msg + 48, zero, 32); /* no C2 */
	assert_int_equal(rnd_pos, 0);            /* one-way needs no randomness */

	/* One-way: Success1 without R2 ends it, and no Success2 is due. */
	uint8_t s1[16] = { 0x01, 0x03, 0x00, 0x00, 0x05, 0x00, 0x20, 0x00 };
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, s1, sizeof(s1)), 0);
	assert_false(hnvmf_ini_auth_bidirectional(&a));
	hnvmf_ini_auth_clear(&a);
}

/* SHA-384, ffdhe2048, bidirectional: R1 over the augmented C1, C2 and S2 from the random
 * source, R2 checked, Success2 and Failure2 layouts. */
static void test_reply_bidirectional_ffdhe2048(void **state)
{
	(void)state;
	static const uint8_t r1[48] = "\xb1\x98\x45\xf1\x62\xe3\x30\xe7\x9f\x39\x6d\x86\x48\x02\x31\x5e"
				      "\x7b\xde\xc2\xa2\x40\x2d\x1a\x99\x30\xe5\x1b\x5d\x51\x65\xee\x6a"
				      "\xb2\x11\x80\x86\x2b\xb5\x3d\xdc\xbc\x1e\x74\x67\x27\x56\x63\xda";
	static const uint8_t r2[48] = "\xc5\xd1\x70\x65\x88\x8f\x7a\xc0\xc9\xd7\x2f\x3a\x00\x4f\xfc\x19"
				      "\x96\x29\xa5\xd6\xfe\x88\xf0\x58\x9f\x83\x15\x76\xe5\x32\x75\xe6"
				      "\xf6\x6c\xbc\x47\xa9\xb3\x89\xe6\x0a\x45\xe5\xfd\x31\x5a\x02\x18";
	struct hnvmf_ini_auth a;
	init_host(&a, ctrl_secret, 6);
	uint8_t y[32], c1[48], gy[256], gx[256], msg[2048];
	priv_bytes(0x50, y);
	struct hnvmf_dh *ctrl_dh = hnvmf_dh_from_private(HNVMF_DHGROUP_FFDHE2048, y, sizeof(y));
	struct hnvmf_dh *host_dh = fixed_host_dh(HNVMF_DHGROUP_FFDHE2048);
	assert_non_null(ctrl_dh);
	assert_non_null(host_dh);
	assert_int_equal(hnvmf_dh_public_key(ctrl_dh, gy, sizeof(gy)), 0);
	assert_int_equal(hnvmf_dh_public_key(host_dh, gx, sizeof(gx)), 0);
	static const uint8_t gx_head[8] = { 0x45, 0xa7, 0x06, 0x03, 0xe6, 0x14, 0xce, 0xdc }; /* python */
	assert_memory_equal(gx, gx_head, sizeof(gx_head));
	hnvmf_dh_free(ctrl_dh);
	hnvmf_dh_free(host_dh);
	for (int i = 0; i < 48; i++)
		c1[i] = (uint8_t)(0xc0 + i);

	size_t n = challenge(msg, 6, HNVMF_AUTH_HASH_SHA384, HNVMF_DHGROUP_FFDHE2048, 0x55667788, c1, gy, sizeof(gy));
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n), 0);
	int len = hnvmf_ini_auth_reply(&a, msg, sizeof(msg));
	assert_int_equal(len, 16 + 48 + 48 + 256);
	static const uint8_t hdr[16] = { 0x01, 0x02, 0x00, 0x00, 0x06, 0x00, 0x30, 0x00,
					 0x01, 0x00, 0x00, 0x01, 0x30, 0x31, 0x32, 0x33 };
	assert_memory_equal(msg, hdr, 16); /* HL 48, CVALID 1, DHVLEN 256, S2 = first random bytes */
	assert_memory_equal(msg + 16, r1, 48);
	for (int i = 0; i < 48; i++)
		assert_int_equal(msg[16 + 48 + i], 0x34 + i); /* C2 = the next random bytes */
	assert_memory_equal(msg + 16 + 96, gx, sizeof(gx));

	/* Success1 with the right R2 is accepted; Success2 follows. */
	uint8_t s1[16 + 48] = { 0x01, 0x03, 0x00, 0x00, 0x06, 0x00, 0x30, 0x00, 0x01 };
	memcpy(s1 + 16, r2, 48);
	assert_true(hnvmf_ini_auth_bidirectional(&a));
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, s1, sizeof(s1)), 0);
	uint8_t s2[HNVMF_INI_AUTH_SUCCESS2_LEN];
	static const uint8_t want_s2[16] = { 0x01, 0x04, 0x00, 0x00, 0x06, 0x00 };
	assert_int_equal(hnvmf_ini_auth_success2(&a, s2), sizeof(s2));
	assert_memory_equal(s2, want_s2, sizeof(s2));

	/* One bit off in R2, or no R2 at all: the controller does not know its secret. */
	s1[16 + 47] ^= 1;
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, s1, sizeof(s1)), -EBADE);
	uint8_t f2[HNVMF_INI_AUTH_FAILURE2_LEN];
	static const uint8_t want_f2[8] = { 0x00, 0xf0, 0x00, 0x00, 0x06, 0x00, 0x01, 0x01 };
	assert_int_equal(hnvmf_ini_auth_failure2(&a, f2), sizeof(f2));
	assert_memory_equal(f2, want_f2, sizeof(f2));
	s1[16 + 47] ^= 1;
	s1[8] = 0; /* RVALID 0 */
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, s1, sizeof(s1)), -EBADE);
	hnvmf_ini_auth_clear(&a);
}

static void test_challenge_refusals(void **state)
{
	(void)state;
	struct hnvmf_ini_auth a;
	uint8_t c1[64] = { 0 }, gy[512] = { 0 }, msg[2048];
	const uint8_t hashes[] = { 1 }, groups[] = { 0, 1 };
	assert_int_equal(hnvmf_ini_auth_init(&a, host_secret, NULL, hashes, 1, groups, 2, HOSTNQN, SUBNQN, 9), 0);

	/* Failure1 instead of a Challenge: the controller ended it. */
	uint8_t f1[8] = { 0x00, 0xf1, 0x00, 0x00, 0x09, 0x00, 0x01, 0x04 };
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, f1, sizeof(f1)), -EKEYREJECTED);
	assert_non_null(strstr(a.why, "Failure1"));
	/* ... and instead of Success1. */
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, f1, sizeof(f1)), -EKEYREJECTED);

	struct {
		uint16_t t_id;
		uint8_t hash, group;
		size_t gy_len;
		int trunc;
		uint8_t exp;
	} cases[] = {
		{ 8, 1, 0, 0, 0, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD },   /* another transaction */
		{ 9, 3, 0, 0, 0, HNVMF_AUTH_FAIL_HASH_UNUSABLE },       /* SHA-512 was not offered */
		{ 9, 1, 3, 512, 0, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE },  /* ffdhe4096 was not offered */
		{ 9, 1, 1, 255, 0, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE },  /* DH value of the wrong size */
		{ 9, 1, 0, 4, 0, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE },    /* a DH value with the null group */
		{ 9, 1, 1, 256, 1, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD }, /* truncated */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = challenge(msg, cases[i].t_id, cases[i].hash, cases[i].group, 1, c1, gy, cases[i].gy_len);
		a.fail_exp = 0;
		assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n - (size_t)cases[i].trunc), -EPROTO);
		assert_int_equal(a.fail_exp, cases[i].exp);
	}
	/* The wrong message type, and a Challenge with the wrong hash length. */
	size_t n = challenge(msg, 9, 1, 0, 1, c1, NULL, 0);
	msg[1] = HNVMF_AUTH_SUCCESS1;
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n), -EPROTO);
	assert_int_equal(a.fail_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	msg[1] = HNVMF_AUTH_CHALLENGE;
	msg[6] = 48;
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n), -EPROTO);
	assert_int_equal(a.fail_exp, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	/* A good one still goes through after all that. */
	msg[6] = 32;
	assert_int_equal(hnvmf_ini_auth_on_challenge(&a, msg, n), 0);
	/* Success1 of another transaction. */
	uint8_t s1[16] = { 0x01, 0x03, 0x00, 0x00, 0x0a, 0x00, 0x20 };
	assert_int_equal(hnvmf_ini_auth_on_success1(&a, s1, sizeof(s1)), -EPROTO);
	hnvmf_ini_auth_clear(&a);
}

static int parse(struct perf_opts *o, char *err, size_t errlen, ...)
{
	char *argv[16] = { "hnvmf-perf", "identify" };
	int argc = 2;
	va_list ap;
	va_start(ap, errlen);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 16;)
		argv[argc++] = s;
	va_end(ap);
	return perf_parse_args(argc, argv, o, err, errlen);
}

static void test_perf_options(void **state)
{
	(void)state;
	static struct perf_opts o;
	char err[256];
	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-secret", host_secret, "--dhchap-ctrl-secret",
			       ctrl_secret, "--dhchap-hash", "sha512,sha256", "--dhchap-group",
			       "ffdhe4096,null", NULL), 0);
	assert_string_equal(o.dhchap_secret, host_secret);
	assert_string_equal(o.dhchap_ctrl_secret, ctrl_secret);
	assert_int_equal(o.nr_dhchap_hashes, 2);
	assert_int_equal(o.dhchap_hashes[0], 3);
	assert_int_equal(o.dhchap_hashes[1], 1);
	assert_int_equal(o.nr_dhchap_groups, 2);
	assert_int_equal(o.dhchap_groups[0], 3);
	assert_int_equal(o.dhchap_groups[1], 0);

	assert_int_equal(parse(&o, err, sizeof(err), NULL), 0);
	assert_string_equal(o.dhchap_secret, "");
	assert_int_equal(o.nr_dhchap_hashes, 0);

	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-secret", "DHHC-1:01:xyz:", NULL), -1);
	assert_non_null(strstr(err, "--dhchap-secret"));
	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-ctrl-secret", ctrl_secret, NULL), -1);
	assert_non_null(strstr(err, "needs --dhchap-secret"));
	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-hash", "sha1", NULL), -1);
	assert_non_null(strstr(err, "'sha1'"));
	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-group", "null,null", NULL), -1);
	assert_int_equal(parse(&o, err, sizeof(err), "--dhchap-group", ",", NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_layout),
		cmocka_unit_test(test_init_refuses_bad_input),
		cmocka_unit_test(test_reply_one_way_null_group),
		cmocka_unit_test(test_reply_bidirectional_ffdhe2048),
		cmocka_unit_test(test_challenge_refusals),
		cmocka_unit_test(test_perf_options),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
