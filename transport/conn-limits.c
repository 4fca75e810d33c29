/* Connection admission: one global count and a count per source address, under one lock that
 * only accept and destroy take. A flood of refused connections logs one line per limit per
 * second, with how many were refused since the last line. */
#include "transport/conn-limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/reactor.h"
#include "target/nvmf.h"

#define ADDR_BUCKETS 1024 /* power of two */

struct addr_count {
	uint8_t addr[16];
	unsigned n;
	struct addr_count *next;
};


static struct {
	pthread_mutex_t lock;
	unsigned max_total, max_per_addr;
	unsigned total;
	struct addr_count *buckets[ADDR_BUCKETS];
	struct hnvmf_ratelimit by_total, by_addr; /* refusal lines */
} cl = { .lock = PTHREAD_MUTEX_INITIALIZER, .by_total = HNVMF_RATELIMIT_INIT(1000),
	 .by_addr = HNVMF_RATELIMIT_INIT(1000) };

void hnvmf_conn_limits_init(const struct hnvmf_conf_limits *l)
{
	pthread_mutex_lock(&cl.lock);
	cl.max_total = l->max_connections;
	cl.max_per_addr = l->max_connections_per_address;
	pthread_mutex_unlock(&cl.lock);
}

/* IPv4 as an IPv4-mapped IPv6 address, so both families share one key space. False for
 * families without an IP address (then only the global limit applies). */
static bool addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &s->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static unsigned bucket_of(const uint8_t key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (ADDR_BUCKETS - 1);
}

static struct addr_count **find(const uint8_t key[16])
{
	struct addr_count **pp = &cl.buckets[bucket_of(key)];
	while (*pp && memcmp((*pp)->addr, key, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void format_key(const uint8_t key[16], char *buf, size_t len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(key, v4mapped, 12) == 0)
		inet_ntop(AF_INET, key + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, key, buf, (socklen_t)len);
}

bool hnvmf_conn_admit(const struct sockaddr *peer, struct hnvmf_conn_ticket *t)
{
	uint8_t key[16];
	bool keyed = addr_key(peer, key);
	unsigned suppressed = 0, limit = 0;
	bool log_it = false, by_addr = false;
	t->held = false;
	t->per_address = false;
	pthread_mutex_lock(&cl.lock);
	struct addr_count **pp = keyed ? find(key) : NULL;
	if (cl.total >= cl.max_total) {
		limit = cl.max_total;
		log_it = hnvmf_ratelimit_pass(&cl.by_total, &suppressed);
	} else if (pp && *pp && (*pp)->n >= cl.max_per_addr) {
		by_addr = true;
		limit = cl.max_per_addr;
		log_it = hnvmf_ratelimit_pass(&cl.by_addr, &suppressed);
	} else if (pp && !*pp && !(*pp = calloc(1, sizeof(**pp)))) {
		limit = 0; /* no memory to count it: refuse rather than run uncounted */
		log_it = true;
	} else {
		if (pp) {
			memcpy((*pp)->addr, key, 16);
			(*pp)->n++;
			memcpy(t->addr, key, 16);
			t->per_address = true;
		}
		cl.total++;
		t->held = true;
	}
	pthread_mutex_unlock(&cl.lock);
	if (t->held || !log_it)
		return t->held;
	char who[INET6_ADDRSTRLEN] = "a peer";
	if (keyed)
		format_key(key, who, sizeof(who));
	if (limit == 0)
		log_err("connection from %s refused: out of memory", who);
	else if (by_addr)
		log_warn("connection from %s refused: max_connections_per_address reached (%u from "
			 "that address; %u more refused for it since the last such line)", who, limit,
			 suppressed);
	else
		log_warn("connection from %s refused: max_connections reached (%u; %u more refused "
			 "for it since the last such line)", who, limit, suppressed);
	return false;
}

void hnvmf_conn_release(struct hnvmf_conn_ticket *t)
{
	if (!t->held)
		return;
	pthread_mutex_lock(&cl.lock);
	cl.total--;
	if (t->per_address) {
		struct addr_count **pp = find(t->addr);
		if (*pp && --(*pp)->n == 0) {
			struct addr_count *e = *pp;
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&cl.lock);
	t->held = false;
}
