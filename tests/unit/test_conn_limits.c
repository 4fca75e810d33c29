/* transport/conn-limits.c: max_connections and max_connections_per_address across transports,
 * IPv4 and its IPv4-mapped IPv6 form counted as one address, peers without an IP address
 * counted globally only, and places given back on release. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "conf/conf.h"
#include "transport/conn-limits.h"

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(40000) };
	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6 v6(const char *a)
{
	struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };
	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return s;
}

static bool admit4(const char *a, struct hnvmf_conn_ticket *t)
{
	struct sockaddr_in s = v4(a);
	return hnvmf_conn_admit((struct sockaddr *)&s, t);
}

static void limits(unsigned total, unsigned per_addr)
{
	struct hnvmf_conf_limits l = { .max_connections = total,
				       .max_connections_per_address = per_addr };
	hnvmf_conn_limits_init(&l);
}

static void per_address_then_global(void **state)
{
	(void)state;
	limits(4, 2);
	struct hnvmf_conn_ticket t[8];
	assert_true(admit4("10.0.0.1", &t[0]));
	assert_true(admit4("10.0.0.1", &t[1]));
	assert_false(admit4("10.0.0.1", &t[2]));
	assert_false(t[2].held);
	/* The same host over an IPv6 socket (IPv4-mapped) is the same address. */
	struct sockaddr_in6 m = v6("::ffff:10.0.0.1");
	assert_false(hnvmf_conn_admit((struct sockaddr *)&m, &t[2]));
	assert_true(admit4("10.0.0.2", &t[3]));
	struct sockaddr_in6 s6 = v6("fd00::1");
	assert_true(hnvmf_conn_admit((struct sockaddr *)&s6, &t[4]));
	assert_false(admit4("10.0.0.3", &t[5])); /* 4 connections: the global limit */

	hnvmf_conn_release(&t[0]);
	assert_false(t[0].held);
	hnvmf_conn_release(&t[0]); /* a second release gives nothing back twice */
	assert_true(admit4("10.0.0.3", &t[5]));
	assert_false(admit4("10.0.0.4", &t[6]));
	hnvmf_conn_release(&t[1]);
	assert_true(admit4("10.0.0.1", &t[0]));
	for (int i = 0; i < 6; i++)
		hnvmf_conn_release(&t[i]);
}

static void peer_without_ip_counts_globally(void **state)
{
	(void)state;
	limits(2, 1);
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	struct hnvmf_conn_ticket a, b, c;
	assert_true(hnvmf_conn_admit((struct sockaddr *)&u, &a));
	assert_true(hnvmf_conn_admit((struct sockaddr *)&u, &b)); /* no per-address count */
	assert_false(hnvmf_conn_admit(NULL, &c));
	hnvmf_conn_release(&a);
	hnvmf_conn_release(&b);
	assert_true(admit4("10.0.0.9", &c));
	hnvmf_conn_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(per_address_then_global),
		cmocka_unit_test(peer_without_ip_counts_globally),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
