/* DH-HMAC-CHAP failure limits (target/auth-limit.c): the back-off starts at auth_max_failures,
 * doubles per further failure up to 64 times auth_backoff_ms, is kept per host NQN and per
 * address, is cleared by a success and forgotten after a long quiet; peer strings give their
 * address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/log.h"
#include "target/auth-limit.h"

#define MS 1000000ull
#define HOST "nqn.2026-01.io.hnvmf.test:h"
#define ADDR "192.0.2.1"

static struct hnvmf_auth_limit *make(unsigned max, unsigned backoff_ms)
{
	struct hnvmf_auth_limit *l = NULL;
	assert_int_equal(hnvmf_auth_limit_create(max, backoff_ms, &l), 0);
	return l;
}

static void test_backoff_doubles_to_64x(void **state)
{
	(void)state;
	struct hnvmf_auth_limit *l = make(3, 100);
	uint64_t now = 1000 * MS;
	for (int i = 0; i < 2; i++) {
		hnvmf_auth_limit_failed(l, HOST, ADDR, now);
		assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now), 0);
	}
	assert_int_equal(hnvmf_auth_limit_refused(l), 0);
	/* The third failure starts 100 ms; each failure after its expiry doubles it, to 6400 ms. */
	const uint64_t expect[] = { 100, 200, 400, 800, 1600, 3200, 6400, 6400, 6400 };
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		hnvmf_auth_limit_failed(l, HOST, ADDR, now);
		assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now), expect[i]);
		assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now + expect[i] * MS - MS / 2), 1);
		assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now + expect[i] * MS), 0);
		now += expect[i] * MS;
	}
	hnvmf_auth_limit_destroy(l);
}

static void test_host_and_address_apart(void **state)
{
	(void)state;
	struct hnvmf_auth_limit *l = make(2, 1000);
	uint64_t now = 5 * MS;
	/* Two host NQNs from one address: the address reaches the limit, neither host does. */
	hnvmf_auth_limit_failed(l, HOST "1", ADDR, now);
	hnvmf_auth_limit_failed(l, HOST "2", ADDR, now);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST "3", ADDR, now), 1000);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST "1", "192.0.2.2", now), 0);
	/* One host NQN from two addresses: the host reaches it. */
	hnvmf_auth_limit_failed(l, HOST "4", "198.51.100.1", now);
	hnvmf_auth_limit_failed(l, HOST "4", "198.51.100.2", now);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST "4", "198.51.100.3", now), 1000);
	assert_int_equal(hnvmf_auth_limit_refused(l), 2);
	hnvmf_auth_limit_destroy(l);
}

static void test_success_clears(void **state)
{
	(void)state;
	struct hnvmf_auth_limit *l = make(2, 1000);
	uint64_t now = 5 * MS;
	hnvmf_auth_limit_failed(l, HOST, ADDR, now);
	hnvmf_auth_limit_succeeded(l, HOST, ADDR, now);
	hnvmf_auth_limit_failed(l, HOST, ADDR, now);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now), 0);
	hnvmf_auth_limit_failed(l, HOST, ADDR, now);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now), 1000);
	hnvmf_auth_limit_destroy(l);
}

/* A quiet entry is forgotten (twice the longest back-off), and a storm of addresses cannot grow
 * the tables: entries are recycled, the newest kept. */
static void test_forgotten_and_bounded(void **state)
{
	(void)state;
	struct hnvmf_auth_limit *l = make(2, 10);
	uint64_t now = 5 * MS;
	hnvmf_auth_limit_failed(l, HOST, ADDR, now);
	now += 2 * 640 * MS + MS;
	hnvmf_auth_limit_failed(l, HOST, ADDR, now);
	assert_int_equal(hnvmf_auth_limit_check(l, HOST, ADDR, now), 0); /* one failure, not two */

	char addr[64];
	for (unsigned i = 0; i < 20u * HNVMF_AUTH_LIMIT_SETS * HNVMF_AUTH_LIMIT_WAYS; i++) {
		snprintf(addr, sizeof(addr), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
		now += 1000; /* 1 us apart: every one newer than the last */
		hnvmf_auth_limit_failed(l, HOST, addr, now);
		hnvmf_auth_limit_failed(l, HOST, addr, now);
	}
	/* The last address is still backed off. */
	assert_int_equal(hnvmf_auth_limit_check(l, "nqn.2026-01.io.hnvmf.test:x", addr, now), 10);
	hnvmf_auth_limit_destroy(l);
}

static void test_peer_address(void **state)
{
	(void)state;
	char a[64];
	hnvmf_auth_peer_address("192.0.2.7:4420", a, sizeof(a));
	assert_string_equal(a, "192.0.2.7");
	hnvmf_auth_peer_address("[2001:db8::1]:51234", a, sizeof(a));
	assert_string_equal(a, "2001:db8::1");
	hnvmf_auth_peer_address("unknown", a, sizeof(a));
	assert_string_equal(a, "unknown");
}

int main(void)
{
	hnvmf_log_set_level(HNVMF_LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_to_64x),
		cmocka_unit_test(test_host_and_address_apart),
		cmocka_unit_test(test_success_clears),
		cmocka_unit_test(test_forgotten_and_bounded),
		cmocka_unit_test(test_peer_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
