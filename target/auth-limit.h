/* DH-HMAC-CHAP failure limits: failed authentications are counted per host NQN and per source
 * address. From auth_max_failures failures on, each failure starts a back-off of auth_backoff_ms
 * times 2^(failures - auth_max_failures), at most 64 times auth_backoff_ms; during it every
 * attempt from that host NQN or that address is refused before any work is done. Attempts
 * refused do not count (they cost nothing); a success clears both counts.
 *
 * The tables have a fixed size (HNVMF_AUTH_LIMIT_SETS x HNVMF_AUTH_LIMIT_WAYS entries each):
 * an attacker with many addresses or names cannot grow them. An entry is forgotten once its
 * longest back-off has passed twice over without a new failure, and a full set gives up its
 * entry with the oldest failure. Thread-safe (one mutex; only authentication uses it). */
#ifndef HNVMF_AUTH_LIMIT_H
#define HNVMF_AUTH_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#define HNVMF_AUTH_LIMIT_SETS 256
#define HNVMF_AUTH_LIMIT_WAYS 4
#define HNVMF_AUTH_BACKOFF_MAX_SHIFT 6 /* 64 x auth_backoff_ms */

struct hnvmf_auth_limit;

int hnvmf_auth_limit_create(unsigned max_failures, unsigned backoff_ms, struct hnvmf_auth_limit **out);
void hnvmf_auth_limit_destroy(struct hnvmf_auth_limit *l);
/* Milliseconds left of the back-off of hostnqn or addr (the longer), 0 when the attempt may go
 * on. A refusal is counted. now_ns: CLOCK_MONOTONIC. */
uint64_t hnvmf_auth_limit_check(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
				uint64_t now_ns);
/* One failed authentication of hostnqn from addr. */
void hnvmf_auth_limit_failed(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
			     uint64_t now_ns);
/* hostnqn authenticated from addr: both start again from zero. */
void hnvmf_auth_limit_succeeded(struct hnvmf_auth_limit *l, const char *hostnqn, const char *addr,
				uint64_t now_ns);
/* Attempts refused so far. */
uint64_t hnvmf_auth_limit_refused(struct hnvmf_auth_limit *l);

/* The address part of a queue's peer string ("1.2.3.4:port", "[::1]:port") into out. */
void hnvmf_auth_peer_address(const char *peer, char *out, size_t len);

#endif
