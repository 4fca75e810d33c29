/* DH-HMAC-CHAP, the host side (NVMe TP 8006, NVMe Base 2.0 section 8.13.5): the messages a host
 * sends and takes, and the exchange over Authentication Send / Receive on one queue. It behaves
 * like the Linux host (drivers/nvme/host/auth.c) so that a target which works with one works with
 * the other; the wire layouts come from proto/auth-msg.h and every computation from
 * proto/dhchap-crypto.h (tested there against independent vectors). */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "proto/auth-msg.h"
#include "tools/initiator/queue-internal.h"

/* What the Linux host offers, in its order. */
static const uint8_t all_hashes[HNVMF_INI_AUTH_MAX_HASHES] = {
	HNVMF_AUTH_HASH_SHA256, HNVMF_AUTH_HASH_SHA384, HNVMF_AUTH_HASH_SHA512,
};
static const uint8_t all_groups[HNVMF_INI_AUTH_MAX_GROUPS] = {
	HNVMF_DHGROUP_NULL,      HNVMF_DHGROUP_FFDHE2048, HNVMF_DHGROUP_FFDHE3072,
	HNVMF_DHGROUP_FFDHE4096, HNVMF_DHGROUP_FFDHE6144, HNVMF_DHGROUP_FFDHE8192,
};

static int default_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

static int failed(struct hnvmf_ini_auth *a, int err, uint8_t exp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int failed(struct hnvmf_ini_auth *a, int err, uint8_t exp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
	a->fail_exp = exp;
	return err;
}

static bool in_list(const uint8_t *list, unsigned n, uint8_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i] == id)
			return true;
	return false;
}

int hnvmf_ini_auth_hash_id(const char *name)
{
	for (unsigned i = 0; i < HNVMF_INI_AUTH_MAX_HASHES; i++)
		if (!strcmp(name, hnvmf_auth_hash_name(all_hashes[i])))
			return all_hashes[i];
	return -1;
}

int hnvmf_ini_auth_group_id(const char *name)
{
	for (unsigned i = 0; i < HNVMF_INI_AUTH_MAX_GROUPS; i++)
		if (!strcmp(name, hnvmf_dhchap_dhgroup_name(all_groups[i])))
			return all_groups[i];
	return -1;
}

/* Copies an offer, or everything when it is empty; refuses unknown ids and duplicates. */
static int set_offer(struct hnvmf_ini_auth *a, uint8_t *dst, unsigned *n, const uint8_t *src,
		     unsigned nsrc, const uint8_t *all, unsigned nall, const char *what)
{
	if (!nsrc) {
		memcpy(dst, all, nall);
		*n = nall;
		return 0;
	}
	if (nsrc > nall)
		return failed(a, -EINVAL, 0, "too many %s", what);
	for (unsigned i = 0; i < nsrc; i++) {
		if (!in_list(all, nall, src[i]) || in_list(src, i, src[i]))
			return failed(a, -EINVAL, 0, "%s id %u unknown or repeated", what, src[i]);
		dst[i] = src[i];
	}
	*n = nsrc;
	return 0;
}

int hnvmf_ini_auth_init(struct hnvmf_ini_auth *a, const char *secret, const char *ctrl_secret,
			const uint8_t *hashes, unsigned nr_hashes, const uint8_t *groups,
			unsigned nr_groups, const char *hostnqn, const char *subnqn, uint16_t t_id)
{
	memset(a, 0, sizeof(*a));
	a->t_id = t_id;
	a->hostnqn = hostnqn;
	a->subnqn = subnqn;
	a->random = default_random;
	a->dh_generate = hnvmf_dh_generate;
	char err[96];
	if (!secret)
		return failed(a, -EINVAL, 0, "no DH-HMAC-CHAP secret");
	if (hnvmf_dhchap_key_parse(secret, &a->host_key, err, sizeof(err)) != 0)
		return failed(a, -EINVAL, 0, "host secret: %s", err);
	if (ctrl_secret && hnvmf_dhchap_key_parse(ctrl_secret, &a->ctrl_key, err, sizeof(err)) != 0) {
		hnvmf_ini_auth_clear(a);
		return failed(a, -EINVAL, 0, "controller secret: %s", err);
	}
	int r = set_offer(a, a->hashes, &a->nr_hashes, hashes, nr_hashes, all_hashes,
			  HNVMF_INI_AUTH_MAX_HASHES, "hash");
	if (!r)
		r = set_offer(a, a->groups, &a->nr_groups, groups, nr_groups, all_groups,
			      HNVMF_INI_AUTH_MAX_GROUPS, "DH group");
	if (r)
		hnvmf_ini_auth_clear(a); /* keeps a->why */
	return r;
}

void hnvmf_ini_auth_clear(struct hnvmf_ini_auth *a)
{
	hnvmf_key_wipe(&a->host_key);
	hnvmf_key_wipe(&a->ctrl_key);
	hnvmf_auth_wipe(a->c1, sizeof(a->c1));
	hnvmf_auth_wipe(a->c2, sizeof(a->c2));
	hnvmf_auth_wipe(a->r2, sizeof(a->r2));
}

size_t hnvmf_ini_auth_negotiate(const struct hnvmf_ini_auth *a, uint8_t *buf)
{
	struct hnvmf_auth_negotiate *n = (void *)buf;
	struct hnvmf_auth_protocol_desc *d = (void *)(buf + sizeof(*n));
	memset(buf, 0, HNVMF_INI_AUTH_NEGOTIATE_LEN);
	n->auth_type = HNVMF_AUTH_TYPE_COMMON;
	n->auth_id = HNVMF_AUTH_NEGOTIATE;
	n->t_id = htole16(a->t_id);
	n->sc_c = 0; /* no secure channel concatenation */
	n->napd = 1;
	d->authid = HNVMF_AUTH_ID_DHCHAP;
	d->halen = (uint8_t)a->nr_hashes;
	d->dhlen = (uint8_t)a->nr_groups;
	memcpy(d->idlist, a->hashes, a->nr_hashes);
	memcpy(d->idlist + HNVMF_AUTH_IDLIST_DH_OFFSET, a->groups, a->nr_groups);
	return HNVMF_INI_AUTH_NEGOTIATE_LEN;
}

/* A Failure1 instead of the expected message: the controller ended the transaction. */
static bool is_failure1(struct hnvmf_ini_auth *a, const uint8_t *msg, size_t len, const char *when)
{
	const struct hnvmf_auth_failure *f = (const void *)msg;
	if (len < sizeof(*f) || f->auth_type != HNVMF_AUTH_TYPE_COMMON ||
	    f->auth_id != HNVMF_AUTH_FAILURE1)
		return false;
	failed(a, -EKEYREJECTED, 0, "the controller refused the authentication %s (Failure1, reason %u, explanation %u)",
	       when, f->rescode, f->rescode_exp);
	return true;
}

int hnvmf_ini_auth_on_challenge(struct hnvmf_ini_auth *a, const uint8_t *msg, size_t len)
{
	const struct hnvmf_auth_challenge *c = (const void *)msg;
	if (is_failure1(a, msg, len, "after the Negotiate"))
		return -EKEYREJECTED;
	if (len < sizeof(*c) || c->auth_type != HNVMF_AUTH_TYPE_DHCHAP ||
	    c->auth_id != HNVMF_AUTH_CHALLENGE)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE,
			      "expected a Challenge, got type %u id %u", len ? msg[0] : 0, len > 1 ? msg[1] : 0);
	if (le16toh(c->t_id) != a->t_id)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			      "Challenge for transaction %u, expected %u", le16toh(c->t_id), a->t_id);
	if (!in_list(a->hashes, a->nr_hashes, c->hashid))
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_HASH_UNUSABLE,
			      "the controller chose hash %u, which was not offered", c->hashid);
	if (!in_list(a->groups, a->nr_groups, c->dhgid))
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
			      "the controller chose DH group %u, which was not offered", c->dhgid);
	size_t hl = hnvmf_auth_hash_len(c->hashid), dhvlen = le16toh(c->dhvlen);
	if (c->hl != hl)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			      "Challenge hash length %u for %s", c->hl, hnvmf_auth_hash_name(c->hashid));
	/* The DH value is exactly the group size (0 for the null group), as the Linux host checks. */
	if (dhvlen != hnvmf_dhchap_dhgroup_size(c->dhgid))
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
			      "Challenge DH value of %zu bytes for %s", dhvlen,
			      hnvmf_dhchap_dhgroup_name(c->dhgid));
	if (sizeof(*c) + hl + dhvlen > len)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD, "Challenge truncated");
	a->hash_id = c->hashid;
	a->dhgid = c->dhgid;
	a->hl = hl;
	a->s1 = le32toh(c->seqnum);
	memcpy(a->c1, msg + sizeof(*c), hl);
	memcpy(a->gy, msg + sizeof(*c) + hl, dhvlen);
	a->gy_len = dhvlen;
	return 0;
}

/* The transformed secret of a key (dhchap-crypto.h: the host's with its NQN, the controller's
 * with the subsystem's). */
static int transform(const struct hnvmf_key *k, const char *nqn, uint8_t *out, size_t *out_len)
{
	return hnvmf_dhchap_transform_key(k->hmac, k->data, k->len, nqn, out, out_len);
}

int hnvmf_ini_auth_reply(struct hnvmf_ini_auth *a, uint8_t *buf, size_t cap)
{
	size_t hl = a->hl, gsize = a->gy_len;
	size_t len = sizeof(struct hnvmf_auth_reply) + 2 * hl + gsize;
	if (!hl || cap < len)
		return -EINVAL;
	struct hnvmf_auth_reply *r = (void *)buf;
	uint8_t *r1 = buf + sizeof(*r), *c2 = r1 + hl, *gx = c2 + hl;
	memset(buf, 0, len);

	uint8_t skey[HNVMF_DH_MAX_SIZE];
	struct hnvmf_dh *dh = NULL;
	int rc = 0;
	if (gsize) {
		dh = a->dh_generate(a->dhgid);
		if (!dh)
			return failed(a, -EIO, HNVMF_AUTH_FAIL_FAILED, "cannot generate a DH key pair");
		if (hnvmf_dh_public_key(dh, gx, gsize) != 0)
			rc = failed(a, -EIO, HNVMF_AUTH_FAIL_FAILED, "cannot export the DH public value");
		else if (hnvmf_dh_shared_secret(dh, a->gy, gsize, skey, gsize) != 0)
			rc = failed(a, -EPROTO, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE,
				    "the controller's DH value is not acceptable");
		hnvmf_dh_free(dh);
	}
	uint8_t tkey[HNVMF_AUTH_MAX_DIGEST];
	size_t tkey_len = 0;
	struct hnvmf_dhchap_response_args args = {
		.hash_id = a->hash_id,
		.tkey = tkey,
		.challenge = a->c1,
		.seqnum = a->s1,
		.tid = a->t_id,
		.sc = 0,
		.hostnqn = a->hostnqn,
		.subnqn = a->subnqn,
		.skey = gsize ? skey : NULL,
		.skey_len = gsize,
	};
	if (!rc && (transform(&a->host_key, a->hostnqn, tkey, &tkey_len) != 0 ||
		    (args.tkey_len = tkey_len, hnvmf_dhchap_host_response(&args, r1) != 0)))
		rc = failed(a, -EIO, HNVMF_AUTH_FAIL_FAILED, "cannot compute the host response");
	/* Bidirectional: our challenge C2 with a non-zero S2, and the R2 the controller must send
	 * back, computed now while the shared secret is at hand. One-way: C2 zeros, S2 0. */
	if (!rc && hnvmf_ini_auth_bidirectional(a)) {
		do {
			if (a->random(&a->s2, sizeof(a->s2)) != 0 || a->random(a->c2, hl) != 0) {
				rc = failed(a, -EIO, HNVMF_AUTH_FAIL_FAILED, "no random bytes");
				break;
			}
		} while (a->s2 == 0);
		args.challenge = a->c2;
		args.seqnum = a->s2;
		if (!rc && (transform(&a->ctrl_key, a->subnqn, tkey, &tkey_len) != 0 ||
			    (args.tkey_len = tkey_len, hnvmf_dhchap_ctrl_response(&args, a->r2) != 0)))
			rc = failed(a, -EIO, HNVMF_AUTH_FAIL_FAILED, "cannot compute the controller response");
		memcpy(c2, a->c2, hl);
		r->cvalid = 1;
		r->seqnum = htole32(a->s2);
	}
	hnvmf_auth_wipe(skey, sizeof(skey));
	hnvmf_auth_wipe(tkey, sizeof(tkey));
	if (rc) {
		memset(buf, 0, len);
		return rc;
	}
	r->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	r->auth_id = HNVMF_AUTH_REPLY;
	r->t_id = htole16(a->t_id);
	r->hl = (uint8_t)hl;
	r->dhvlen = htole16((uint16_t)gsize);
	return (int)len;
}

int hnvmf_ini_auth_on_success1(struct hnvmf_ini_auth *a, const uint8_t *msg, size_t len)
{
	const struct hnvmf_auth_success1 *s = (const void *)msg;
	if (is_failure1(a, msg, len, "after the Reply: wrong host secret?"))
		return -EKEYREJECTED;
	if (len < sizeof(*s) || s->auth_type != HNVMF_AUTH_TYPE_DHCHAP ||
	    s->auth_id != HNVMF_AUTH_SUCCESS1)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE,
			      "expected Success1, got type %u id %u", len ? msg[0] : 0, len > 1 ? msg[1] : 0);
	if (le16toh(s->t_id) != a->t_id || s->hl != a->hl)
		return failed(a, -EPROTO, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD,
			      "Success1 with transaction %u / hash length %u, expected %u / %zu",
			      le16toh(s->t_id), s->hl, a->t_id, a->hl);
	if (!hnvmf_ini_auth_bidirectional(a))
		return 0;
	if (!s->rvalid || sizeof(*s) + a->hl > len)
		return failed(a, -EBADE, HNVMF_AUTH_FAIL_FAILED,
			      "the controller did not answer our challenge (no R2 in Success1)");
	if (!hnvmf_auth_equal(msg + sizeof(*s), a->r2, a->hl))
		return failed(a, -EBADE, HNVMF_AUTH_FAIL_FAILED,
			      "the controller's response R2 does not match the controller secret");
	return 0;
}

size_t hnvmf_ini_auth_success2(const struct hnvmf_ini_auth *a, uint8_t *buf)
{
	struct hnvmf_auth_success2 *s = (void *)buf;
	memset(s, 0, sizeof(*s));
	s->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	s->auth_id = HNVMF_AUTH_SUCCESS2;
	s->t_id = htole16(a->t_id);
	return sizeof(*s);
}

size_t hnvmf_ini_auth_failure2(const struct hnvmf_ini_auth *a, uint8_t *buf)
{
	struct hnvmf_auth_failure *f = (void *)buf;
	memset(f, 0, sizeof(*f));
	f->auth_type = HNVMF_AUTH_TYPE_COMMON;
	f->auth_id = HNVMF_AUTH_FAILURE2;
	f->t_id = htole16(a->t_id);
	f->rescode = HNVMF_AUTH_REASON_FAILED;
	f->rescode_exp = a->fail_exp ? a->fail_exp : HNVMF_AUTH_FAIL_FAILED;
	return sizeof(*f);
}

/* ---- over a queue ---- */

static void auth_sqe(union hnvmf_sqe *s, uint8_t fctype, uint32_t len)
{
	memset(s, 0, sizeof(*s));
	s->auth.opcode = nvme_admin_fabrics;
	s->auth.fctype = fctype;
	s->auth.secp = HNVMF_AUTH_SECP_DHCHAP;
	s->auth.spsp0 = HNVMF_AUTH_SPSP_DHCHAP;
	s->auth.spsp1 = HNVMF_AUTH_SPSP_DHCHAP;
	s->auth.len = htole32(len);
}

int hnvmf_ini_auth_send(struct hnvmf_ini_queue *q, const void *msg, uint32_t len, int timeout_ms)
{
	struct hnvmf_ini_io io = { .data = (void *)msg, .len = len, .dir = HNVMF_INI_TO_CTRL };
	auth_sqe(&io.sqe, nvme_fabrics_type_auth_send, len);
	return hnvmf_ini_exec(q, &io, timeout_ms);
}

int hnvmf_ini_auth_recv(struct hnvmf_ini_queue *q, void *buf, uint32_t al, int timeout_ms)
{
	/* The controller sends the message, usually shorter than AL: zeros after it. */
	memset(buf, 0, al);
	struct hnvmf_ini_io io = { .data = buf, .len = al, .dir = HNVMF_INI_FROM_CTRL };
	auth_sqe(&io.sqe, nvme_fabrics_type_auth_receive, al);
	return hnvmf_ini_exec(q, &io, timeout_ms);
}

/* Tells the controller why the host gives up; the transaction's error stays what it was. */
static int give_up(struct hnvmf_ini_queue *q, struct hnvmf_ini_auth *a, int err, int timeout_ms)
{
	uint8_t f[HNVMF_INI_AUTH_FAILURE2_LEN];
	size_t n = hnvmf_ini_auth_failure2(a, f);
	(void)hnvmf_ini_auth_send(q, f, (uint32_t)n, timeout_ms);
	return err;
}

/* A failed AuthSend / AuthRecv command: the exchange cannot go on. */
static int cmd_failed(struct hnvmf_ini_auth *a, int r, const char *what)
{
	char sb[96];
	snprintf(a->why, sizeof(a->why), "%s: %s", what, hnvmf_ini_status_str(r, sb, sizeof(sb)));
	return r;
}

int hnvmf_ini_auth_queue(struct hnvmf_ini_queue *q, struct hnvmf_ini_auth *a, int timeout_ms)
{
	/* One buffer for every message: the largest is AL (the Reply is at most 1168 bytes). */
	_Alignas(8) uint8_t buf[HNVMF_INI_AUTH_RECV_AL];
	size_t n = hnvmf_ini_auth_negotiate(a, buf);
	int r = hnvmf_ini_auth_send(q, buf, (uint32_t)n, timeout_ms);
	if (r)
		return cmd_failed(a, r, "AuthSend Negotiate");
	r = hnvmf_ini_auth_recv(q, buf, HNVMF_INI_AUTH_RECV_AL, timeout_ms);
	if (r)
		return cmd_failed(a, r, "AuthRecv Challenge");
	r = hnvmf_ini_auth_on_challenge(a, buf, HNVMF_INI_AUTH_RECV_AL);
	if (r == -EKEYREJECTED)
		return r; /* the controller ended it: nothing to tell it */
	if (r)
		return give_up(q, a, r, timeout_ms);
	int len = hnvmf_ini_auth_reply(a, buf, sizeof(buf));
	if (len < 0)
		return give_up(q, a, len, timeout_ms);
	r = hnvmf_ini_auth_send(q, buf, (uint32_t)len, timeout_ms);
	hnvmf_auth_wipe(buf, (size_t)len);
	if (r)
		return cmd_failed(a, r, "AuthSend Reply");
	r = hnvmf_ini_auth_recv(q, buf, HNVMF_INI_AUTH_RECV_AL, timeout_ms);
	if (r)
		return cmd_failed(a, r, "AuthRecv Success1");
	r = hnvmf_ini_auth_on_success1(a, buf, HNVMF_INI_AUTH_RECV_AL);
	if (r == -EKEYREJECTED)
		return r;
	if (r)
		return give_up(q, a, r, timeout_ms);
	if (!hnvmf_ini_auth_bidirectional(a))
		return 0;
	n = hnvmf_ini_auth_success2(a, buf);
	r = hnvmf_ini_auth_send(q, buf, (uint32_t)n, timeout_ms);
	return r ? cmd_failed(a, r, "AuthSend Success2") : 0;
}
