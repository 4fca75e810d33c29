/* DH-HMAC-CHAP on the target: the per-queue exchange driven by Authentication Send/Receive (the
 * protocol and its message layouts are in target/auth.h; the computations in
 * proto/dhchap-crypto.h). Behaviour follows what the Linux host expects of nvmet: protocol errors
 * travel as Failure1 messages on the next AuthRecv, never as command errors; Failure2 is answered.
 *
 * Defences (security issue #10): the two Diffie-Hellman steps (the controller's key pair for the
 * Challenge, the shared secret for the Reply) run on the worker pool (auth-worker.h), the command
 * completing when the result is back on the queue's reactor; failures back off per host NQN and
 * per address (auth-limit.h), checked before any DH; a queue that has not authenticated within
 * [limits] auth_timeout_ms of its Connect is disconnected. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "core/log.h"
#include "proto/dhchap-crypto.h"
#include "proto/keyfmt.h"
#include "target/auth-limit.h"
#include "target/auth-worker.h"
#include "target/auth.h"
#include "target/key-grace.h"
#include "target/tenant.h"
#include "target/stats.h"

/* Where the exchange stands, i.e. which message comes next. */
enum auth_step {
	STEP_NEGOTIATE, /* no exchange: waiting for the host's Negotiate */
	STEP_CHALLENGE, /* Negotiate accepted: the next AuthRecv returns the Challenge */
	STEP_REPLY,	/* Challenge sent: waiting for the host's Reply */
	STEP_SUCCESS1,	/* Reply verified: the next AuthRecv returns Success1 */
	STEP_SUCCESS2,	/* Success1 carried R2: waiting for the host's Success2 */
	STEP_FAILURE1,	/* the exchange failed: the next AuthRecv returns Failure1 */
};

/* Largest message handled: a Reply with SHA-512 values and an ffdhe8192 value is 1168 bytes, a
 * Challenge 1104. Longer AuthSend payloads (a Negotiate with many descriptors) are read up to
 * this much; AuthRecv never returns more. */
#define AUTH_MSG_MAX 2048u

/* A transformed secret (dhchap-crypto.h): at most one digest, or an hh 00 secret (32-64 bytes). */
struct auth_tkey {
	uint8_t key[HNVMF_AUTH_MAX_DIGEST];
	size_t len;
};

/* One DH step handed to the workers. While req is set the step is under way: the queue takes no
 * other authentication command, and nothing but the worker touches the fields below req. */
struct auth_dh_job {
	struct hnvmf_auth_job base;
	struct hnvmf_auth *st;
	struct hnvmf_req *req; /* the command that waits for the result; NULL: no job */
	unsigned gen;	       /* st->gen when submitted: a result for an exchange since reset is dropped */
	uint64_t submitted_ns; /* the workers' time is ours, not the host's (dh_job_back) */
	size_t msg_len;	       /* Reply: its length in st->msg, which stays until the result is in */
	int gid;
	struct hnvmf_dh *dh;   /* keygen: the key pair made; shared secret: the controller's, lent */
	uint8_t peer[HNVMF_DH_MAX_SIZE]; /* shared secret: the host's g^x */
	uint8_t skey[HNVMF_DH_MAX_SIZE]; /* shared secret: g^xy */
	int rc;
};

struct hnvmf_auth {
	struct hnvmf_sq *sq;
	struct hnvmf_timer timer; /* on sq->reactor: stalled exchange / never-authenticated queue */
	uint64_t deadline_ns;	  /* unauthenticated: disconnected at this time (0: authenticated) */
	unsigned gen;		  /* bumped whenever an exchange is reset */
	struct auth_dh_job job;
	enum auth_step step;
	uint16_t t_id;
	uint8_t hash_id;
	uint8_t dhgid;
	uint8_t fail_exp; /* Failure1 explanation, in STEP_FAILURE1 */
	bool rvalid;	  /* the host asked for bidirectional authentication: r2 holds R2 */
	bool admitted;	  /* the first success decided the queue's path */
	uint32_t s1;
	uint8_t c1[HNVMF_AUTH_MAX_DIGEST];
	uint8_t r2[HNVMF_AUTH_MAX_DIGEST];
	struct hnvmf_dh *dh; /* the controller's ephemeral key pair, Challenge .. Reply */
	struct auth_tkey host_key;
	struct auth_tkey ctrl_key; /* len 0: the tenant has no controller secret */
	/* The pair a reload replaced, accepted until prev_until_ns (key-grace.h); len 0: none. */
	struct auth_tkey prev_host_key, prev_ctrl_key;
	uint64_t prev_until_ns;
	_Alignas(8) uint8_t msg[AUTH_MSG_MAX]; /* messages are read and built through their structs */
};

/* ---- policy ---- */

/* Preference, strongest first; a tenant's dhchap_hashes / dhchap_dhgroups (bit masks, 0 = any)
 * narrow the choice, as nvmet's per-host dhchap_hash and dhchap_dhgroup do. */
static const uint8_t hash_pref[] = {HNVMF_AUTH_HASH_SHA512, HNVMF_AUTH_HASH_SHA384, HNVMF_AUTH_HASH_SHA256};
static const uint8_t dhgroup_pref[] = {HNVMF_DHGROUP_FFDHE8192, HNVMF_DHGROUP_FFDHE6144,
				       HNVMF_DHGROUP_FFDHE4096, HNVMF_DHGROUP_FFDHE3072,
				       HNVMF_DHGROUP_FFDHE2048, HNVMF_DHGROUP_NULL};

static int pick(const uint8_t *pref, size_t npref, uint8_t allowed, const uint8_t *offered, size_t noffered)
{
	for (size_t i = 0; i < npref; i++) {
		if (allowed && !(allowed & (1u << pref[i])))
			continue;
		for (size_t j = 0; j < noffered; j++)
			if (offered[j] == pref[i])
				return pref[i];
	}
	return -1;
}

/* Whether hosts of this queue must authenticate: the tenant has a DH-HMAC-CHAP secret. Discovery
 * controllers never ask (like nvmet's allow-any-host discovery subsystem): hosts discover
 * without their secrets. */
static bool tenant_has_secret(struct hnvmf_sq *sq)
{
	if (sq->ctrl->subsys->discovery)
		return false;
	pthread_mutex_lock(&sq->tgt->lock);
	bool has = sq->ctrl->tenant && sq->ctrl->tenant->dhchap_secret[0] != '\0';
	pthread_mutex_unlock(&sq->tgt->lock);
	return has;
}

/* A queue secured with TLS has proven its host's identity already: the transport accepts only
 * the PSK configured for the identity's host (the tenant's tls_psk) and refuses a Connect whose
 * host NQN differs from the identity's (transport/tcp/tcp-tls.c). nvmet does not ask for
 * DH-HMAC-CHAP on TLS queues either (nvmet_has_auth), and the Linux host authenticates only when
 * asked. TODO: a tenant policy that demands both would be checked here. */
static bool tls_psk_accepted(const struct hnvmf_sq *sq) { return sq->tls; }

/* ---- state ---- */

static const char *hostnqn(const struct hnvmf_auth *st) { return st->sq->ctrl->hostnqn; }

static uint64_t timeout_ms(const struct hnvmf_auth *st) { return st->sq->tgt->conf->limits.auth_timeout_ms; }

/* The failure limits are kept per host NQN and per source address. */
static void peer_address(const struct hnvmf_auth *st, char *out, size_t len)
{
	hnvmf_auth_peer_address(st->sq->peer, out, len);
}

/* Drops what one exchange computed (the DH key pair, challenges, R2); keeps the keys. */
static void reset_exchange(struct hnvmf_auth *st)
{
	st->gen++;
	hnvmf_dh_free(st->dh);
	st->dh = NULL;
	hnvmf_auth_wipe(st->c1, sizeof(st->c1));
	hnvmf_auth_wipe(st->r2, sizeof(st->r2));
	st->rvalid = false;
	st->s1 = 0;
}

static void wipe_keys(struct hnvmf_auth *st)
{
	hnvmf_auth_wipe(&st->host_key, sizeof(st->host_key));
	hnvmf_auth_wipe(&st->ctrl_key, sizeof(st->ctrl_key));
	hnvmf_auth_wipe(&st->prev_host_key, sizeof(st->prev_host_key));
	hnvmf_auth_wipe(&st->prev_ctrl_key, sizeof(st->prev_ctrl_key));
	st->prev_until_ns = 0;
}

/* Ends the exchange: Failure1 with this explanation is due, and the queue is not (or no longer)
 * authenticated. */
static void end_failed(struct hnvmf_auth *st, uint8_t exp)
{
	reset_exchange(st);
	st->step = STEP_FAILURE1;
	st->fail_exp = exp;
	st->sq->authenticated = false;
}

/* The exchange failed: logged with the host NQN, never with secrets, and counted against the
 * host NQN and the address. Only the first failure of an exchange counts. Returns false, for
 * the message handlers' "return fail(...)". */
static bool fail(struct hnvmf_auth *st, uint8_t exp, const char *why)
{
	if (st->step == STEP_FAILURE1)
		return false;
	hnvmf_log_f(HNVMF_LOG_NOTICE, sq_log_fields(st->sq), "host %s qid %u: DH-HMAC-CHAP transaction %u failed: %s",
		    hostnqn(st), st->sq->qid, st->t_id, why);
	hnvmf_stats_count_auth(st->sq->tgt->stats, exp);
	char addr[sizeof(st->sq->peer)];
	peer_address(st, addr, sizeof(addr));
	hnvmf_auth_limit_failed(st->sq->tgt->auth_limit, hostnqn(st), addr, hnvmf_now_ns());
	end_failed(st, exp);
	return false;
}

/* An exchange ends without an answer to a Challenge the controller computed a key pair for (a
 * new Negotiate, Failure2, expiry, the connection closed), or with the host's Failure2 after
 * Success1: a failure too, else taking Challenges and walking away would cost the host nothing
 * and the workers a key pair each. Counted, not logged: each of those paths logs already or is
 * the host's own doing. */
static void count_abandoned(struct hnvmf_auth *st)
{
	if (st->step != STEP_REPLY && st->step != STEP_SUCCESS2)
		return;
	hnvmf_stats_count_auth(st->sq->tgt->stats, HNVMF_AUTH_ABANDONED);
	char addr[sizeof(st->sq->peer)];
	peer_address(st, addr, sizeof(addr));
	hnvmf_auth_limit_failed(st->sq->tgt->auth_limit, hostnqn(st), addr, hnvmf_now_ns());
}

/* Whether the host NQN or the address is backing off; if so the exchange ends with Failure1 at
 * once, nothing computed, nothing counted and nothing logged (the back-off's start was). */
static bool backing_off(struct hnvmf_auth *st)
{
	char addr[sizeof(st->sq->peer)];
	peer_address(st, addr, sizeof(addr));
	uint64_t ms = hnvmf_auth_limit_check(st->sq->tgt->auth_limit, hostnqn(st), addr, hnvmf_now_ns());
	if (!ms)
		return false;
	log_debug("host %s qid %u from %s: refused, backing off for %llu ms more", hostnqn(st), st->sq->qid,
		  addr, (unsigned long long)ms);
	hnvmf_stats_count_auth(st->sq->tgt->stats, HNVMF_AUTH_BACKOFF);
	end_failed(st, HNVMF_AUTH_FAIL_FAILED);
	return true;
}

/* An unauthenticated queue has auth_timeout_ms from its Connect (or from losing its
 * authentication) to authenticate, however the exchanges go: progress buys no time. An
 * authenticated queue's re-authentication that stalls that long is dropped (the queue stays). */
static void update_timer(struct hnvmf_auth *st)
{
	struct hnvmf_sq *sq = st->sq;
	if (sq->authenticated) {
		st->deadline_ns = 0;
		if (st->step == STEP_NEGOTIATE)
			hnvmf_timer_cancel(sq->reactor, &st->timer);
		else
			hnvmf_timer_arm(sq->reactor, &st->timer, timeout_ms(st));
		return;
	}
	uint64_t now = hnvmf_now_ns();
	if (!st->deadline_ns)
		st->deadline_ns = now + timeout_ms(st) * 1000000ull;
	uint64_t left = st->deadline_ns > now ? st->deadline_ns - now : 0;
	hnvmf_timer_arm(sq->reactor, &st->timer, (left + 999999) / 1000000);
}

static void auth_expired(struct hnvmf_timer *t)
{
	struct hnvmf_auth *st = container_of(t, struct hnvmf_auth, timer);
	struct hnvmf_sq *sq = st->sq;
	if (st->job.req)
		return; /* our own DH step is under way: its completion moves the deadline and re-arms */
	count_abandoned(st);
	reset_exchange(st);
	st->step = STEP_NEGOTIATE;
	if (sq->authenticated) {
		log_notice(
			"host %s qid %u: DH-HMAC-CHAP transaction %u expired; the queue stays authenticated",
			hostnqn(st), sq->qid, st->t_id);
		return;
	}
	hnvmf_stats_count_auth(sq->tgt->stats, HNVMF_AUTH_TIMEOUT);
	hnvmf_log_f(HNVMF_LOG_NOTICE, sq_log_fields(sq), "host %s qid %u: not authenticated within %llu ms, disconnecting",
		    hostnqn(st), sq->qid, (unsigned long long)timeout_ms(st));
	/* May free st (the transport destroys the queue): nothing after this. */
	sq->ops->disconnect(sq);
}

/* Stands in for the state of a queue that must authenticate but could not get any. */
static struct hnvmf_auth no_state;

static struct hnvmf_auth *state_new(struct hnvmf_sq *sq)
{
	struct hnvmf_auth *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->sq = sq;
	st->timer.cb = auth_expired;
	st->step = STEP_NEGOTIATE;
	sq->auth = st;
	return st;
}

void hnvmf_auth_sq_free(struct hnvmf_sq *sq)
{
	struct hnvmf_auth *st = sq->auth;
	if (st == &no_state)
		sq->auth = NULL;
	if (!sq->auth)
		return;
	/* No DH job can be under way: its command keeps the queue alive until it is back. */
	hnvmf_timer_cancel(sq->reactor, &st->timer);
	count_abandoned(st);
	reset_exchange(st);
	hnvmf_auth_wipe(st, sizeof(*st));
	free(st);
	sq->auth = NULL;
}

void hnvmf_auth_sq_disarm(struct hnvmf_sq *sq)
{
	struct hnvmf_auth *st = sq->auth;
	if (st && st != &no_state)
		hnvmf_timer_cancel(sq->reactor, &st->timer);
}

void hnvmf_auth_sq_rearm(struct hnvmf_sq *sq)
{
	struct hnvmf_auth *st = sq->auth;
	if (st && st != &no_state)
		update_timer(st);
}

bool hnvmf_auth_required(struct hnvmf_sq *sq)
{
	if (sq->auth == &no_state)
		sq->auth = NULL; /* a previous attempt's; try again */
	if (!tenant_has_secret(sq) || tls_psk_accepted(sq))
		return false;
	struct hnvmf_auth *st = sq->auth ? sq->auth : state_new(sq);
	if (!st) {
		/* Fail closed: sq->auth non-NULL keeps the queue to fabrics commands (target/req.c), and
		 * AuthSend/AuthRecv on it fail; the host gives up on the queue. */
		log_err("host %s qid %u: out of memory for DH-HMAC-CHAP state", sq->ctrl->hostnqn, sq->qid);
		sq->auth = &no_state;
		sq->authenticated = false;
		return true;
	}
	sq->authenticated = false;
	update_timer(st);
	return true;
}

/* A host secret (and the controller secret, when there is one) transformed for this host and
 * subsystem. 0 or -ENOKEY. */
static int transform_pair(struct hnvmf_sq *sq, const char *host_s, const char *ctrl_s, struct auth_tkey *host,
			  struct auth_tkey *ctrl)
{
	int rc = -ENOKEY;
	struct hnvmf_key k;
	char err[128];
	if (host_s[0] && hnvmf_dhchap_key_parse(host_s, &k, err, sizeof(err)) == 0) {
		rc = hnvmf_dhchap_transform_key(k.hmac, k.data, k.len, sq->ctrl->hostnqn, host->key, &host->len);
		hnvmf_key_wipe(&k);
	}
	if (rc == 0 && ctrl_s[0]) {
		rc = -ENOKEY;
		if (hnvmf_dhchap_key_parse(ctrl_s, &k, err, sizeof(err)) == 0) {
			rc = hnvmf_dhchap_transform_key(k.hmac, k.data, k.len, sq->ctrl->subsys->nqn, ctrl->key,
							&ctrl->len);
			hnvmf_key_wipe(&k);
		}
	}
	return rc;
}

/* Reads the tenant's secrets (they may have changed since Connect: a re-authentication picks up
 * rotated keys), and those a reload replaced while their grace period runs, and transforms them
 * for this host and subsystem. 0 or a negative errno (about the current secrets). */
static int load_keys(struct hnvmf_auth *st)
{
	struct hnvmf_sq *sq = st->sq;
	char host_s[sizeof(sq->ctrl->tenant->dhchap_secret)];
	char ctrl_s[sizeof(sq->ctrl->tenant->dhchap_ctrl_secret)];
	char prev_host_s[sizeof(host_s)], prev_ctrl_s[sizeof(ctrl_s)];
	host_s[0] = ctrl_s[0] = prev_host_s[0] = prev_ctrl_s[0] = '\0';
	uint64_t prev_until = 0;
	pthread_mutex_lock(&sq->tgt->lock);
	const struct hnvmf_conf_tenant *t = sq->ctrl->tenant;
	if (t) {
		memcpy(host_s, t->dhchap_secret, sizeof(host_s));
		memcpy(ctrl_s, t->dhchap_ctrl_secret, sizeof(ctrl_s));
		hnvmf_key_grace_dhchap(sq->tgt, sq->ctrl->hostnqn, prev_host_s, prev_ctrl_s, &prev_until);
	}
	pthread_mutex_unlock(&sq->tgt->lock);

	wipe_keys(st);
	int rc = transform_pair(sq, host_s, ctrl_s, &st->host_key, &st->ctrl_key);
	/* A previous pair that does not transform (it did when it was loaded) is simply not offered. */
	if (rc == 0 && prev_host_s[0]) {
		if (transform_pair(sq, prev_host_s, prev_ctrl_s, &st->prev_host_key, &st->prev_ctrl_key) == 0)
			st->prev_until_ns = prev_until;
		else
			st->prev_host_key.len = st->prev_ctrl_key.len = 0;
	}
	hnvmf_auth_wipe(host_s, sizeof(host_s));
	hnvmf_auth_wipe(ctrl_s, sizeof(ctrl_s));
	hnvmf_auth_wipe(prev_host_s, sizeof(prev_host_s));
	hnvmf_auth_wipe(prev_ctrl_s, sizeof(prev_ctrl_s));
	if (rc)
		wipe_keys(st);
	return rc;
}

/* ---- host messages (AuthSend) ---- */

static uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static bool on_negotiate(struct hnvmf_auth *st, const uint8_t *m, size_t len)
{
	const struct hnvmf_auth_negotiate *n = (const void *)m;
	count_abandoned(st);
	reset_exchange(st); /* a new Negotiate restarts whatever was under way */
	st->step = STEP_NEGOTIATE;
	st->t_id = le16toh(n->t_id);
	if (backing_off(st))
		return false;
	if (len < sizeof(*n) + sizeof(struct hnvmf_auth_protocol_desc))
		return fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "Negotiate too short");
	if (n->sc_c != 0)
		return fail(st, HNVMF_AUTH_FAIL_CONCAT_MISMATCH,
			    "secure channel concatenation is not supported");
	const struct hnvmf_auth_protocol_desc *d = NULL;
	size_t ndesc = (len - sizeof(*n)) / sizeof(*d);
	for (size_t i = 0; i < n->napd && i < ndesc; i++) {
		const struct hnvmf_auth_protocol_desc *c = (const void *)(m + sizeof(*n) + i * sizeof(*d));
		if (c->authid == HNVMF_AUTH_ID_DHCHAP) {
			d = c;
			break;
		}
	}
	if (!d)
		return fail(st, HNVMF_AUTH_FAIL_NOT_USABLE,
			    "the host offers no DH-HMAC-CHAP protocol descriptor");
	if (d->halen > HNVMF_AUTH_IDLIST_MAX || d->dhlen > HNVMF_AUTH_IDLIST_MAX)
		return fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "hash or DH group list too long");
	uint8_t hashes = 0, groups = 0;
	pthread_mutex_lock(&st->sq->tgt->lock);
	if (st->sq->ctrl->tenant) {
		hashes = st->sq->ctrl->tenant->dhchap_hashes;
		groups = st->sq->ctrl->tenant->dhchap_dhgroups;
	}
	pthread_mutex_unlock(&st->sq->tgt->lock);
	int hash = pick(hash_pref, sizeof(hash_pref), hashes, d->idlist, d->halen);
	if (hash < 0)
		return fail(st, HNVMF_AUTH_FAIL_HASH_UNUSABLE, "no hash function in common with the host");
	int group =
		pick(dhgroup_pref, sizeof(dhgroup_pref), groups, d->idlist + HNVMF_AUTH_IDLIST_DH_OFFSET, d->dhlen);
	if (group < 0)
		return fail(st, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE, "no DH group in common with the host");
	int rc = load_keys(st);
	if (rc) {
		log_err("host %s: its tenant's DH-HMAC-CHAP secret cannot be used (%s)", hostnqn(st),
			strerror(-rc));
		return fail(st, HNVMF_AUTH_FAIL_FAILED, "no usable secret");
	}
	st->hash_id = (uint8_t)hash;
	st->dhgid = (uint8_t)group;
	st->step = STEP_CHALLENGE;
	log_debug("host %s qid %u: DH-HMAC-CHAP transaction %u: %s, %s", hostnqn(st), st->sq->qid, st->t_id,
		  hnvmf_auth_hash_name(hash), hnvmf_dhchap_dhgroup_name(group));
	return true;
}

/* What an AuthSend handler did with its command. */
enum send_result {
	SEND_DONE,    /* complete the command now */
	SEND_PENDING, /* a DH job has it: its completion completes it */
	SEND_BUSY,    /* the workers' queue is full: nothing changed, the host may retry */
};

/* Hands the DH step of job to the workers: *job->req waits for it. */
static int submit_dh(struct hnvmf_auth *st, struct hnvmf_req *req, void (*work)(struct hnvmf_auth_job *),
		     void (*done)(struct hnvmf_msg *))
{
	struct auth_dh_job *job = &st->job;
	job->base.work = work;
	job->base.msg.fn = done;
	job->base.reactor = st->sq->reactor;
	job->st = st;
	job->req = req;
	job->gen = st->gen;
	job->submitted_ns = hnvmf_now_ns();
	job->rc = -EIO;
	int rc = hnvmf_auth_pool_submit(st->sq->tgt->auth_pool, &job->base);
	if (rc) {
		job->req = NULL;
		log_warn("host %s qid %u: DH-HMAC-CHAP workers busy, command to be retried", hostnqn(st),
			 st->sq->qid);
		return rc;
	}
	/* Not counted in hnvmf_reactor_remote_pending: a DH step takes milliseconds, and an idle
	 * loop that yielded to the workers meanwhile would leave I/O waiting for a scheduler tick. */
	return 0;
}

/* Back on the reactor: the job's command is ours again. */
static struct hnvmf_req *dh_job_back(struct auth_dh_job *job)
{
	struct hnvmf_req *req = job->req;
	job->req = NULL;
	/* The deadline bounds the host's slowness, not ours: the time the step waited for and ran on
	 * a worker (at a lower priority than the reactors, on a busy or slow machine seconds for
	 * ffdhe8192) moves it. One step at a time per queue and the back-off bound what a host gains
	 * from this. The caller re-arms the timer (update_timer). */
	if (job->st->deadline_ns)
		job->st->deadline_ns += hnvmf_now_ns() - job->submitted_ns;
	return req;
}

/* Checks the Reply's R1 (and computes R2 when the host asked for it); skey is g^xy, NULL for the
 * null group. */
static bool verify_reply(struct hnvmf_auth *st, const uint8_t *m, const uint8_t *skey)
{
	const struct hnvmf_auth_reply *r = (const void *)m;
	struct hnvmf_sq *sq = st->sq;
	size_t hl = hnvmf_auth_hash_len(st->hash_id);
	size_t gsize = hnvmf_dhchap_dhgroup_size(st->dhgid);
	const uint8_t *r1 = m + sizeof(*r), *c2 = r1 + hl;
	struct hnvmf_dhchap_response_args a = {
		.hash_id = st->hash_id,
		.tkey = st->host_key.key,
		.tkey_len = st->host_key.len,
		.challenge = st->c1,
		.seqnum = st->s1,
		.tid = st->t_id,
		.sc = 0,
		.hostnqn = sq->ctrl->hostnqn,
		.subnqn = sq->ctrl->subsys->nqn,
		.skey = skey,
		.skey_len = gsize,
	};
	uint8_t expect[HNVMF_AUTH_MAX_DIGEST];
	const char *why = NULL;
	const struct auth_tkey *ctrl_key = &st->ctrl_key;
	bool previous = false;
	if (hnvmf_dhchap_host_response(&a, expect) != 0) {
		why = "cannot compute the host response";
	} else if (!hnvmf_auth_equal(expect, r1, hl)) {
		why = "the host's response does not match its secret";
		/* Key rotation: during the grace period R1 may come from the secret a reload replaced;
		 * the controller then answers with that pair's controller secret (never a mix). */
		if (st->prev_host_key.len && hnvmf_now_ns() < st->prev_until_ns) {
			a.tkey = st->prev_host_key.key;
			a.tkey_len = st->prev_host_key.len;
			if (hnvmf_dhchap_host_response(&a, expect) == 0 && hnvmf_auth_equal(expect, r1, hl)) {
				why = NULL;
				previous = true;
				ctrl_key = &st->prev_ctrl_key;
			}
		}
	}

	/* cvalid with S2 = 0 carries C2 for a generated PSK only (secure channel concatenation, which
	 * the Negotiate already refused): no controller authentication then. */
	uint32_t s2 = le32toh(r->seqnum);
	bool bidirectional = r->cvalid && s2 != 0;
	if (!why && bidirectional) {
		if (!ctrl_key->len) {
			why = "the host wants the controller authenticated, but its tenant has no "
			      "dhchap_ctrl_secret";
		} else {
			a.tkey = ctrl_key->key;
			a.tkey_len = ctrl_key->len;
			a.challenge = c2;
			a.seqnum = s2;
			if (hnvmf_dhchap_ctrl_response(&a, st->r2) != 0)
				why = "cannot compute the controller response";
		}
	}
	hnvmf_auth_wipe(expect, sizeof(expect));
	if (why)
		return fail(st, HNVMF_AUTH_FAIL_FAILED, why);
	if (previous)
		hnvmf_key_grace_used(sq->tgt, sq->ctrl->hostnqn, false);
	hnvmf_dh_free(st->dh); /* the key pair served its one exchange */
	st->dh = NULL;
	st->rvalid = bidirectional;
	st->step = STEP_SUCCESS1;
	return true;
}

/* Worker: g^xy from the controller's key pair and the host's value. */
static void work_shared_secret(struct hnvmf_auth_job *base)
{
	struct auth_dh_job *job = container_of(base, struct auth_dh_job, base);
	size_t gsize = hnvmf_dhchap_dhgroup_size(hnvmf_dh_group(job->dh));
	job->rc = hnvmf_dh_shared_secret(job->dh, job->peer, gsize, job->skey, gsize);
}

static void finish_auth_send(struct hnvmf_auth *st, struct hnvmf_req *req, size_t len);

/* Reactor: the Reply's shared secret is in. */
static void reply_dh_done(struct hnvmf_msg *m)
{
	struct auth_dh_job *job = container_of(m, struct auth_dh_job, base.msg);
	struct hnvmf_auth *st = job->st;
	struct hnvmf_req *req = dh_job_back(job);
	if (job->gen != st->gen) {
		/* The exchange expired meanwhile: the next AuthRecv says it is over. */
		hnvmf_dh_free(job->dh);
	} else {
		st->dh = job->dh;
		if (job->rc)
			fail(st, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE, "the host's DH value is not acceptable");
		else
			verify_reply(st, st->msg, job->skey);
	}
	job->dh = NULL;
	hnvmf_auth_wipe(job->peer, sizeof(job->peer));
	hnvmf_auth_wipe(job->skey, sizeof(job->skey));
	finish_auth_send(st, req, job->msg_len);
}

static enum send_result on_reply(struct hnvmf_auth *st, struct hnvmf_req *req, const uint8_t *m, size_t len)
{
	const struct hnvmf_auth_reply *r = (const void *)m;
	size_t hl = hnvmf_auth_hash_len(st->hash_id);
	size_t gsize = hnvmf_dhchap_dhgroup_size(st->dhgid);
	if (len < sizeof(*r) || r->hl != hl) {
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "Reply too short or with the wrong hash length");
		return SEND_DONE;
	}
	size_t dhvlen = le16toh(r->dhvlen);
	if (sizeof(*r) + 2 * hl + dhvlen > len || dhvlen != gsize) {
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "Reply with a DH value of the wrong size");
		return SEND_DONE;
	}
	if (!gsize) {
		verify_reply(st, m, NULL);
		return SEND_DONE;
	}
	/* Another connection may have started a back-off since this exchange's Negotiate. */
	if (backing_off(st))
		return SEND_DONE;
	struct auth_dh_job *job = &st->job;
	memcpy(job->peer, m + sizeof(*r) + 2 * hl, dhvlen);
	job->dh = st->dh;
	job->msg_len = len;
	st->dh = NULL; /* lent to the job: a reset meanwhile must not free it */
	if (submit_dh(st, req, work_shared_secret, reply_dh_done) != 0) {
		st->dh = job->dh;
		job->dh = NULL;
		hnvmf_auth_wipe(job->peer, sizeof(job->peer));
		return SEND_BUSY;
	}
	return SEND_PENDING;
}

/* The exchange succeeded (Success1 without R2 went out, or the host's Success2 came in). */
static void succeeded(struct hnvmf_auth *st)
{
	struct hnvmf_sq *sq = st->sq;
	bool bidirectional = st->rvalid;
	reset_exchange(st);
	st->step = STEP_NEGOTIATE;
	sq->authenticated = true;
	char addr[sizeof(sq->peer)];
	peer_address(st, addr, sizeof(addr));
	hnvmf_auth_limit_succeeded(sq->tgt->auth_limit, hostnqn(st), addr, hnvmf_now_ns());
	hnvmf_stats_count_auth(sq->tgt->stats, HNVMF_AUTH_OK);
	if (sq->qid == 0)
		hnvmf_log_f(HNVMF_LOG_INFO, sq_log_fields(sq), "host %s (ctrl %u): authenticated (%s, %s%s)", hostnqn(st), sq->ctrl->cntlid,
			 hnvmf_auth_hash_name(st->hash_id), hnvmf_dhchap_dhgroup_name(st->dhgid),
			 bidirectional ? ", controller authenticated too" : "");
	if (!st->admitted) {
		st->admitted = true;
		if (hnvmf_tenant_admit_authenticated(sq) != 0) {
			/* The tenant changed since Connect and is now refused. The transport tears the
			 * queue down later (never from inside a target callback): st stays valid. */
			sq->authenticated = false;
			sq->ops->disconnect(sq);
		}
	}
}

static bool on_failure2(struct hnvmf_auth *st, const uint8_t *m, size_t len)
{
	const struct hnvmf_auth_failure *f = (const void *)m;
	log_notice(
		"host %s qid %u: the host abandoned DH-HMAC-CHAP transaction %u (reason %u, explanation %u)",
		hostnqn(st), st->sq->qid, le16toh(f->t_id), len >= sizeof(*f) ? f->rescode : 0,
		len >= sizeof(*f) ? f->rescode_exp : 0);
	count_abandoned(st);
	reset_exchange(st);
	st->step = STEP_NEGOTIATE;
	st->sq->authenticated = false;
	return true; /* answered like any AuthSend: the host waits for the completion */
}

static enum send_result on_auth_send(struct hnvmf_auth *st, struct hnvmf_req *req, const uint8_t *m,
					size_t len)
{
	if (len < 6) { /* AUTH_Type, AUTH_Id, reserved, T_ID */
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "message too short");
		return SEND_DONE;
	}
	uint8_t type = m[0], id = m[1];
	uint16_t t_id = get_le16(m + 4);
	bool common = id == HNVMF_AUTH_NEGOTIATE || id == HNVMF_AUTH_FAILURE2;
	if (type != (common ? HNVMF_AUTH_TYPE_COMMON : HNVMF_AUTH_TYPE_DHCHAP))
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE, "message of the wrong AUTH_Type");
	else if (id == HNVMF_AUTH_NEGOTIATE)
		on_negotiate(st, m, len);
	else if (id == HNVMF_AUTH_FAILURE2)
		on_failure2(st, m, len);
	else if (!((id == HNVMF_AUTH_REPLY && st->step == STEP_REPLY) ||
		   (id == HNVMF_AUTH_SUCCESS2 && st->step == STEP_SUCCESS2)))
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE, "message out of order");
	else if (t_id != st->t_id)
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "wrong transaction id");
	else if (id == HNVMF_AUTH_REPLY)
		return on_reply(st, req, m, len);
	else if (len < sizeof(struct hnvmf_auth_success2))
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "Success2 too short");
	else
		succeeded(st);
	return SEND_DONE;
}

/* A failure is reported by the next AuthRecv: the command itself succeeds. */
static void finish_auth_send(struct hnvmf_auth *st, struct hnvmf_req *req, size_t len)
{
	hnvmf_auth_wipe(st->msg, len);
	update_timer(st);
	hnvmf_req_complete(req, 0);
}

/* Command Interrupted without DNR: the command may be retried as it was, nothing changed. */
static const uint16_t status_busy = (NVME_SCT_GENERIC << NVME_SCT_SHIFT) | NVME_SC_CMD_INTERRUPTED;

static void execute_auth_send(struct hnvmf_req *req)
{
	struct hnvmf_auth *st = req->sq->auth;
	size_t len = hnvmf_req_copy_from(req, st->msg, sizeof(st->msg));
	switch (on_auth_send(st, req, st->msg, len)) {
	case SEND_DONE:
		finish_auth_send(st, req, len);
		break;
	case SEND_PENDING:
		break;
	case SEND_BUSY:
		hnvmf_auth_wipe(st->msg, len);
		hnvmf_req_complete(req, status_busy);
		break;
	}
}

/* ---- controller messages (AuthRecv) ---- */

static size_t build_failure1(struct hnvmf_auth *st, uint8_t exp)
{
	struct hnvmf_auth_failure *f = (void *)st->msg;
	memset(f, 0, sizeof(*f));
	f->auth_type = HNVMF_AUTH_TYPE_COMMON;
	f->auth_id = HNVMF_AUTH_FAILURE1;
	f->t_id = htole16(st->t_id);
	f->rescode = HNVMF_AUTH_REASON_FAILED;
	f->rescode_exp = exp;
	return sizeof(*f);
}

/* Challenge: hash, group, S1, C1 and the controller's DH value (its key pair st->dh made by a
 * worker already). 0 when it cannot be built. */
static size_t build_challenge(struct hnvmf_auth *st)
{
	size_t hl = hnvmf_auth_hash_len(st->hash_id);
	size_t gsize = hnvmf_dhchap_dhgroup_size(st->dhgid);
	struct hnvmf_auth_challenge *c = (void *)st->msg;
	memset(c, 0, sizeof(*c));
	if (RAND_bytes(st->c1, (int)hl) != 1 || RAND_bytes((uint8_t *)&st->s1, sizeof(st->s1)) != 1)
		return 0;
	if (st->s1 == 0) /* S1 0 is not a sequence number */
		st->s1 = 1;
	if (gsize && (!st->dh || hnvmf_dh_public_key(st->dh, st->msg + sizeof(*c) + hl, gsize) != 0))
		return 0;
	c->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	c->auth_id = HNVMF_AUTH_CHALLENGE;
	c->t_id = htole16(st->t_id);
	c->hl = (uint8_t)hl;
	c->hashid = st->hash_id;
	c->dhgid = st->dhgid;
	c->dhvlen = htole16((uint16_t)gsize);
	c->seqnum = htole32(st->s1);
	memcpy(st->msg + sizeof(*c), st->c1, hl);
	return sizeof(*c) + hl + gsize;
}

/* Success1: always HL bytes of response value after the header (what the Linux host reads),
 * valid only with RVALID. */
static size_t build_success1(struct hnvmf_auth *st)
{
	size_t hl = hnvmf_auth_hash_len(st->hash_id);
	struct hnvmf_auth_success1 *s = (void *)st->msg;
	memset(st->msg, 0, sizeof(*s) + hl);
	s->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	s->auth_id = HNVMF_AUTH_SUCCESS1;
	s->t_id = htole16(st->t_id);
	s->hl = (uint8_t)hl;
	if (st->rvalid) {
		s->rvalid = 1;
		memcpy(st->msg + sizeof(*s), st->r2, hl);
	}
	return sizeof(*s) + hl;
}

/* Answers the AuthRecv from the exchange's state. */
static void auth_recv_reply(struct hnvmf_auth *st, struct hnvmf_req *req)
{
	size_t len = 0;
	uint16_t status = 0;
	switch (st->step) {
	case STEP_CHALLENGE:
		len = build_challenge(st);
		if (!len) {
			log_err("host %s qid %u: cannot build the DH-HMAC-CHAP challenge", hostnqn(st),
				req->sq->qid);
			fail(st, HNVMF_AUTH_FAIL_FAILED, "internal error");
			len = build_failure1(st, st->fail_exp);
			st->step = STEP_NEGOTIATE;
			break;
		}
		st->step = STEP_REPLY;
		break;
	case STEP_SUCCESS1:
		len = build_success1(st);
		if (st->rvalid)
			st->step = STEP_SUCCESS2;
		break;
	case STEP_FAILURE1:
		len = build_failure1(st, st->fail_exp);
		st->step = STEP_NEGOTIATE; /* this exchange is over; a new Negotiate may follow */
		break;
	default: /* the host should be sending, not receiving */
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE, "AuthRecv out of order");
		len = build_failure1(st, st->fail_exp);
		st->step = STEP_NEGOTIATE;
		break;
	}
	if (len > req->data_len) {
		/* The host's buffer cannot hold the message: the exchange cannot go on. */
		fail(st, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "AuthRecv allocation length too small");
		status = HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	} else {
		hnvmf_req_copy_to(req, st->msg, len);
		if (st->step == STEP_SUCCESS1 && !st->rvalid)
			succeeded(st); /* one-way: Success1 ends it, no Success2 follows */
	}
	hnvmf_auth_wipe(st->msg, sizeof(st->msg));
	update_timer(st);
	hnvmf_req_complete(req, status);
}

/* Worker: the controller's ephemeral key pair for the Challenge. */
static void work_keygen(struct hnvmf_auth_job *base)
{
	struct auth_dh_job *job = container_of(base, struct auth_dh_job, base);
	job->dh = hnvmf_dh_generate(job->gid);
}

/* Reactor: the key pair is in (NULL when it could not be made: the Challenge then fails). */
static void keygen_done(struct hnvmf_msg *m)
{
	struct auth_dh_job *job = container_of(m, struct auth_dh_job, base.msg);
	struct hnvmf_auth *st = job->st;
	struct hnvmf_req *req = dh_job_back(job);
	if (job->gen == st->gen) {
		st->dh = job->dh;
	} else {
		/* The exchange expired meanwhile: answered as an AuthRecv out of order. */
		hnvmf_dh_free(job->dh);
	}
	job->dh = NULL;
	auth_recv_reply(st, req);
}

static void execute_auth_recv(struct hnvmf_req *req)
{
	struct hnvmf_auth *st = req->sq->auth;
	if (st->step == STEP_CHALLENGE && hnvmf_dhchap_dhgroup_size(st->dhgid) && !st->dh) {
		st->job.gid = st->dhgid;
		if (submit_dh(st, req, work_keygen, keygen_done) != 0)
			hnvmf_req_complete(req, status_busy);
		return;
	}
	auth_recv_reply(st, req);
}

/* ---- parse ---- */

uint16_t hnvmf_parse_auth_cmd(struct hnvmf_req *req)
{
	struct hnvmf_sq *sq = req->sq;
	const struct hnvmf_sqe_auth *a = &req->cmd->auth;
	uint32_t len = le32toh(a->len);
	if (a->secp != HNVMF_AUTH_SECP_DHCHAP || a->spsp0 != HNVMF_AUTH_SPSP_DHCHAP ||
	    a->spsp1 != HNVMF_AUTH_SPSP_DHCHAP || len == 0)
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	if (sq->auth == &no_state)
		return HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
	if (!sq->auth) {
		/* The Connect did not ask for authentication. A tenant given a secret since (SIGHUP) may
		 * authenticate now - and then must; anyone else has nothing to authenticate with. */
		if (!tenant_has_secret(sq)) {
			log_info("host %s qid %u: in-band authentication attempted, but none is configured",
				 sq->ctrl->hostnqn, sq->qid);
			return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
		}
		struct hnvmf_auth *st = state_new(sq);
		if (!st)
			return HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
		/* The queue may have carried I/O already: its path, decided at Connect, stays. */
		st->admitted = true;
		sq->authenticated = false;
		update_timer(st);
	}
	struct hnvmf_auth *st = sq->auth;
	if (st->job.req) /* one command at a time per exchange; the host awaits each one */
		return HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR);
	if (req->cmd->fabrics.fctype == nvme_fabrics_type_auth_send) {
		if (len > HNVMF_AUTH_MAX_TL)
			return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
		req->dir = HNVMF_DIR_H2C;
		req->data_len = len;
		req->execute = execute_auth_send;
	} else {
		/* AL is the host's buffer (Linux: 4 KiB); no message is longer than AUTH_MSG_MAX. */
		req->dir = HNVMF_DIR_C2H;
		req->data_len = len < AUTH_MSG_MAX ? len : AUTH_MSG_MAX;
		req->execute = execute_auth_recv;
	}
	return 0;
}
