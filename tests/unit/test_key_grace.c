/* target/key-grace.c: which replaced keys a reload keeps, and for how long. The tenant sets are
 * built here as a reload would install them (hnvmf_tgt_set_tenants: tgt->tenants becomes the new
 * set, then hnvmf_key_grace_update with the old one). The key strings need not parse: the table
 * compares and copies them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "target/key-grace.h"

#define HOST "nqn.2026-01.io.hnvmf.test:grace"

static struct hnvmf_tgt tgt;
static struct hnvmf_conf_tenant sets[2]; /* the running file and the next one, alternately */
static int cur = -1;                     /* the set in tgt; -1: none yet */

static struct hnvmf_conf_tenant tenant(const char *dh, const char *ctrl, const char *psk, unsigned grace)
{
	struct hnvmf_conf_tenant t = {.key_grace_s = grace};
	snprintf(t.hostnqn, sizeof(t.hostnqn), "%s", HOST);
	snprintf(t.dhchap_secret, sizeof(t.dhchap_secret), "%s", dh);
	snprintf(t.dhchap_ctrl_secret, sizeof(t.dhchap_ctrl_secret), "%s", ctrl);
	snprintf(t.tls_psk, sizeof(t.tls_psk), "%s", psk);
	return t;
}

/* A reload to tenant t (NULL: its file removed). */
static void reload(const struct hnvmf_conf_tenant *t)
{
	int next = cur == 0 ? 1 : 0;
	const struct hnvmf_conf_tenant *old = cur >= 0 && tgt.ntenants ? &sets[cur] : NULL;
	size_t nold = old ? 1 : 0;
	if (t)
		sets[next] = *t;
	tgt.tenants = t ? &sets[next] : NULL;
	tgt.ntenants = t ? 1 : 0;
	hnvmf_key_grace_update(&tgt, old, nold);
	cur = next;
}

/* The previous DH-HMAC-CHAP pair, "host/ctrl", or "" when none is accepted now. */
static const char *prev_dh(void)
{
	static char out[600];
	char h[256], c[256];
	uint64_t until;
	out[0] = '\0';
	if (hnvmf_key_grace_dhchap(&tgt, HOST, h, c, &until))
		snprintf(out, sizeof(out), "%s/%s", h, c);
	return out;
}

static const char *prev_psk(void)
{
	const char *p = hnvmf_key_grace_tls(&tgt, HOST);
	return p ? p : "";
}

static int setup(void **state)
{
	(void)state;
	memset(&tgt, 0, sizeof(tgt));
	pthread_mutex_init(&tgt.lock, NULL);
	cur = -1;
	struct hnvmf_conf_tenant t = tenant("A", "CA", "P", 60);
	reload(&t); /* the set at start: nothing replaced */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hnvmf_key_grace_free(&tgt);
	assert_null(tgt.graces);
	return 0;
}

static void test_start_keeps_nothing(void **state)
{
	(void)state;
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");
	assert_int_equal(hnvmf_key_grace_count(&tgt), 0);
}

static void test_rotation_keeps_the_replaced_pair(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("B", "CB", "P", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "A/CA");
	assert_string_equal(prev_psk(), ""); /* the PSK did not change */
	assert_int_equal(hnvmf_key_grace_count(&tgt), 1);
	/* unchanged: the period goes on */
	reload(&t);
	assert_string_equal(prev_dh(), "A/CA");
	/* a second rotation: only the key it replaced */
	t = tenant("C", "CC", "P", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "B/CB");
}

/* The pair goes as one: a new controller secret alone starts a period with the same host secret. */
static void test_controller_secret_alone(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("A", "CB", "P", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "A/CA");
}

static void test_tls_psk_rotation(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("A", "CA", "Q", 60);
	reload(&t);
	assert_string_equal(prev_psk(), "P");
	assert_string_equal(prev_dh(), "");
}

static void test_grace_zero(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("B", "CB", "Q", 0);
	reload(&t);
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");
	assert_int_equal(hnvmf_key_grace_count(&tgt), 0);
}

/* A reload that lowers key_grace_s to 0 ends a running period. */
static void test_lowered_grace_ends_the_period(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("B", "CB", "Q", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "A/CA");
	t.key_grace_s = 0;
	reload(&t);
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");
}

/* Authentication turned off, or the tenant file removed: nothing is kept, and nothing comes back
 * with the next key. */
static void test_removed_on_purpose(void **state)
{
	(void)state;
	struct hnvmf_conf_tenant t = tenant("B", "CB", "Q", 60);
	reload(&t);
	t = tenant("", "", "", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");
	t = tenant("C", "CC", "R", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");

	reload(NULL);
	assert_int_equal(tgt.ngraces, 0);
	t = tenant("D", "CD", "S", 60);
	reload(&t);
	assert_string_equal(prev_dh(), "");
	assert_string_equal(prev_psk(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_keeps_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_keeps_the_replaced_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_controller_secret_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_psk_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lowered_grace_ends_the_period, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_on_purpose, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
