/* DH-HMAC-CHAP failure limits (see auth-limit.h): two set-associative tables, one keyed by host
 * NQN and one by source address, under one mutex. */
#include "target/auth-limit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "conf/conf.h"
#include "core/log.h"

#define NS_PER_MS 1000000ull

struct entry {
	char key[HNVMF_NQN_MAX]; /* "" = free */
	unsigned failures;
	uint64_t last_ns;  /* last failure */
	uint64_t until_ns; /* end of the back-off; 0 = none */
};

struct table {
	const char *what; /* "host" / "address", for the log */
	struct entry e[HNVMF_AUTH_LIMIT_SETS][HNVMF_AUTH_LIMIT_WAYS];
};

struct hnvmf_auth_limit {
	pthread_mutex_t lock;
	unsigned max_failures;
	uint64_t backoff_ns;
	uint64_t forget_ns; /* an entry without a failure for this long is free */
	uint64_t seed;      /* random: where a key lands cannot be planned from outside */
	uint64_t refused;
	struct hnvmf_ratelimit log_rl; /* back-off notices */
	struct table hosts, addrs;
};

int hnvmf_auth_limit_create(unsigned max_failures, unsigned backoff_ms, struct hnvmf_auth_limit **out)
{
	if (!max_failures || !backoff_ms)
		return -EINVAL;
	struct hnvmf_auth_limit *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (RAND_bytes((unsigned char *)&l->seed, sizeof(l->seed)) != 1) {
		free(l);
		return -EIO;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->max_failures = max_failures;
	l->backoff_ns = backoff_ms * NS_PER_MS;
	l->forget_ns = 2 * (l->backoff_ns << HNVMF_AUTH_BACKOFF_MAX_SHIFT);
	l->hosts.what = "host";
	l->addrs.what = "address";
	l->log_rl = (struct hnvmf_ratelimit)HNVMF_RATELIMIT_INIT(1000);
	*out = l;
	return 0;
}

void hnvmf_auth_limit_destroy(struct hnvmf_auth_limit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* FNV-1a over the seed and the key. */
static unsigned set_of(const struct hnvmf_auth_limit *l, const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull ^ l->seed;
	for (const unsigned char *p = (const void *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (unsigned)((h ^ (h >> 32)) % HNVMF_AUTH_LIMIT_SETS);
}

static bool forgotten(const struct hnvmf_auth_limit *l, const struct entry *e, uint64_t now)
{
	return !e->key[0] || (now > e->last_ns && now - e->last_ns > l->forget_ns);
}

/* key's entry, or NULL. */
static struct entry *find(struct hnvmf_auth_limit *l, struct table *t, const char *key, uint64_t now)
{
	struct entry *set = t->e[set_of(l, key)];
	for (unsigned i = 0; i < HNVMF_AUTH_LIMIT_WAYS; i++)
		if (!forgotten(l, &set[i], now) && strcmp(set[i].key, key) == 0)
			return &set[i];
	return NULL;
}

/* key's entry, made when it has none: a free or forgotten way, else the one whose last failure
 * is the oldest. */
static struct entry *get(struct hnvmf_auth_limit *l, struct table *t, const char *key, uint64_t now)
{
	struct entry *e = find(l, t, key, now);
	if (e)
		return e;
	struct entry *set = t->e[set_of(l, key)];
	e = &set[0];
	for (unsigned i = 0; i < HNVMF_AUTH_LIMIT_WAYS; i++) {
		if (forgotten(l, &set[i], now)) {
			e = &set[i];
			break;
		}
		if (set[i].last_ns < e->last_ns)
			e = &set[i];
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	return e;
}

static uint64_t left_ns(const struct entry *e, uint64_t now)
{
	return e && e->until_ns > now ? e->until_ns - now : 0;
}

uint64_t hnvmf_auth_limit_check(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
				uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	uint64_t h = left_ns(find(l, &l->hosts, hostnqn, now_ns), now_ns);
	uint64_t a = left_ns(find(l, &l->addrs, addr, now_ns), now_ns);
	uint64_t left = h > a ? h : a;
	if (left)
		l->refused++;
	pthread_mutex_unlock(&l->lock);
	/* Rounded up: a refusal never says 0. */
	return (left + NS_PER_MS - 1) / NS_PER_MS;
}

/* Counts a failure in t; true when it started a back-off (*ms its length). */
static bool count(struct hnvmf_auth_limit *l, struct table *t, const char *key, uint64_t now,
		  unsigned *failures, uint64_t *ms)
{
	struct entry *e = get(l, t, key, now);
	e->last_ns = now;
	*failures = ++e->failures;
	if (e->failures < l->max_failures)
		return false;
	unsigned shift = e->failures - l->max_failures;
	if (shift > HNVMF_AUTH_BACKOFF_MAX_SHIFT)
		shift = HNVMF_AUTH_BACKOFF_MAX_SHIFT;
	uint64_t d = l->backoff_ns << shift;
	e->until_ns = now + d;
	*ms = d / NS_PER_MS;
	return true;
}

void hnvmf_auth_limit_failed(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
			     uint64_t now_ns)
{
	uint64_t hms = 0, ams = 0;
	unsigned hn, an;
	pthread_mutex_lock(&l->lock);
	bool started = count(l, &l->hosts, hostnqn, now_ns, &hn, &hms);
	started |= count(l, &l->addrs, addr, now_ns, &an, &ams);
	pthread_mutex_unlock(&l->lock);
	/* A notice when a back-off starts, at most one a second: an attacker with many addresses
	 * must not flood the log; the next notice says how many went unlogged. */
	unsigned unlogged = 0;
	if (started && hnvmf_ratelimit_pass(&l->log_rl, &unlogged))
		log_warn("DH-HMAC-CHAP: host %s (%u failures) from %s (%u failures): backing off, host for "
			 "%llu ms, address for %llu ms (0: no back-off); %u back-offs started since the last "
			 "notice",
			 hostnqn, hn, addr, an, (unsigned long long)hms, (unsigned long long)ams, unlogged);
}

void hnvmf_auth_limit_succeeded(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
				uint64_t now_ns)
{
	pthread_mutex_lock(&l->lock);
	struct entry *e[2] = { find(l, &l->hosts, hostnqn, now_ns), find(l, &l->addrs, addr, now_ns) };
	for (int i = 0; i < 2; i++)
		if (e[i])
			memset(e[i], 0, sizeof(*e[i]));
	pthread_mutex_unlock(&l->lock);
}

uint64_t hnvmf_auth_limit_refused(struct hnvmf_auth_limit *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t n = l->refused;
	pthread_mutex_unlock(&l->lock);
	return n;
}

void hnvmf_auth_peer_address(const char *peer, char *out, size_t len)
{
	const char *end = strrchr(peer, ':');
	size_t n = end ? (size_t)(end - peer) : strlen(peer);
	if (peer[0] == '[' && n >= 2 && peer[n - 1] == ']') { /* "[v6]:port" */
		peer++;
		n -= 2;
	}
	snprintf(out, len, "%.*s", (int)n, peer);
}
