/* DH-HMAC-CHAP on the target (target/auth.c), driven through the request life cycle
 * (hnvmf_req_init / hnvmf_req_execute on the queue's reactor) by a fake transport that captures
 * responses. The test plays the host the way the Linux host does (drivers/nvme/host/auth.c):
 * Negotiate, AuthRecv Challenge, Reply, AuthRecv Success1, Success2 or Failure2, computing its
 * side with the crypto functions of proto/dhchap-crypto.h (known-answer tested on their own).
 * Also: the Connect's ATR bit, commands refused until authenticated, admission to DAM decided
 * when an I/O queue authenticates, refusal at Connect, and expiry of stalled exchanges. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "proto/dhchap-crypto.h"
#include "proto/keyfmt.h"
#include "target/auth.h"
#include "target/nvmf.h"

#define SUBNQN "nqn.2026-01.io.hnvmf:auth-test"
#define HOST_A "nqn.2014-08.org.nvmexpress:uuid:aaaaaaaa-0000-4000-8000-000000000001"
#define HOST_B "nqn.2014-08.org.nvmexpress:uuid:bbbbbbbb-0000-4000-8000-000000000002"
#define HOST_NOKEY "nqn.2014-08.org.nvmexpress:uuid:cccccccc-0000-4000-8000-000000000003"
#define CC_ENABLE (1u | 6u << 16 | 4u << 20) /* EN, IOSQES 6, IOCQES 4 */
#define AL 4096u			     /* what the Linux host allocates for AuthRecv */

/* ---- fake transport --------------------------------------------------------------------- */

struct fake_q {
	struct hnvmf_sq sq;
	atomic_int disconnects;
	int responses;
	struct hnvmf_cqe cqe;
	uint32_t xfer_len;
	bool enable_after_auth; /* CC.EN is refused until the queue authenticated: set it then */
};

static void fake_queue_response(struct hnvmf_req *req)
{
	struct fake_q *q = container_of(req->sq, struct fake_q, sq);
	q->responses++;
	q->cqe = req->cqe;
	q->xfer_len = req->dir == HNVMF_DIR_C2H ? req->xfer_len : 0;
}

static void fake_disconnect(struct hnvmf_sq *sq)
{
	struct fake_q *q = container_of(sq, struct fake_q, sq);
	atomic_fetch_add(&q->disconnects, 1);
}

static const struct hnvmf_sq_ops fake_ops = {
	.queue_response = fake_queue_response,
	.disconnect = fake_disconnect,
	.name = "fake",
};

/* ---- the target under test -------------------------------------------------------------- */

struct tenant_spec {
	const char *hostnqn;
	const char *secret;	 /* DHHC-1 string or NULL */
	const char *ctrl_secret; /* DHHC-1 string or NULL */
	enum hnvmf_conf_mode mode;
	int level;
	unsigned max_queues;
	enum hnvmf_dam_fallback fallback;
};

static struct env {
	struct hnvmf_reactor *r;
	struct hnvmf_conf *conf;
	struct hnvmf_tgt *tgt;
	struct hnvmf_port *port;
	struct hnvmf_engine *engine; /* DAM's units (no I/O runs here) */
} env;

static void env_start(const struct tenant_spec *t, size_t n)
{
	assert_int_equal(hnvmf_reactor_create("auth-test", &env.r), 0);
	assert_int_equal(hnvmf_reactor_start(env.r, -1), 0);
	struct hnvmf_conf *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->default_mode = HNVMF_CONF_MODE_PQM;
	c->max_io_queues = 4;
	c->queue_depth = 128;
	c->limits.max_controllers_per_host = 128;
	c->limits.max_queues_per_host = 1024;
	c->dam_whitelist = malloc(sizeof(int));
	c->dam_whitelist[0] = 7;
	c->ndam_whitelist = 1;
	/* Stalled exchanges expire within a test's patience; no test fails often enough to back off. */
	c->limits.auth_timeout_ms = 1000;
	c->limits.auth_workers = 1;
	c->limits.auth_max_failures = 1000;
	c->limits.auth_backoff_ms = 1000;
	c->subsystems = calloc(1, sizeof(*c->subsystems));
	c->nsubsystems = 1;
	snprintf(c->subsystems[0].nqn, sizeof(c->subsystems[0].nqn), "%s", SUBNQN);
	snprintf(c->subsystems[0].serial, sizeof(c->subsystems[0].serial), "authtest");
	snprintf(c->subsystems[0].model, sizeof(c->subsystems[0].model), "auth test");
	c->subsystems[0].allow_any_host = true;
	c->tenants = calloc(n ? n : 1, sizeof(*c->tenants));
	c->ntenants = n;
	for (size_t i = 0; i < n; i++) {
		struct hnvmf_conf_tenant *ct = &c->tenants[i];
		snprintf(ct->hostnqn, sizeof(ct->hostnqn), "%s", t[i].hostnqn);
		snprintf(ct->dhchap_secret, sizeof(ct->dhchap_secret), "%s", t[i].secret ? t[i].secret : "");
		snprintf(ct->dhchap_ctrl_secret, sizeof(ct->dhchap_ctrl_secret), "%s",
			 t[i].ctrl_secret ? t[i].ctrl_secret : "");
		ct->mode = t[i].mode;
		ct->permission_level = t[i].level;
		ct->max_queues = t[i].max_queues;
		ct->dam_fallback = t[i].fallback;
	}
	env.conf = c;
	char err[256];
	struct hnvmf_engine_opts eo = {.dam_max_queues = 0};
	assert_int_equal(hnvmf_engine_create(&eo, &env.engine), 0);
	assert_int_equal(hnvmf_tgt_create(c, env.engine, &env.tgt, err, sizeof(err)), 0);
	struct hnvmf_conf_listener l = {
		.name = "tcp0", .trtype = HNVMF_TRTYPE_TCP, .addr = "127.0.0.1", .port = 4420};
	env.port = hnvmf_tgt_add_port(env.tgt, &l);
	assert_non_null(env.port);
}

static void q_init(struct fake_q *q)
{
	memset(q, 0, sizeof(*q));
	hnvmf_sq_init(&q->sq, env.tgt, env.port, env.r, &fake_ops);
	snprintf(q->sq.peer, sizeof(q->sq.peer), "test");
}

static void q_destroy_on_reactor(void *arg)
{
	struct fake_q *q = arg;
	hnvmf_auth_sq_free(&q->sq);
	hnvmf_auth_sq_free(&q->sq); /* idempotent: the queue's destroy path may call it too */
	hnvmf_sq_destroy(&q->sq);
}

/* Destroys the queues (I/O first, the admin queue last) and the target. */
static void env_stop(struct fake_q **qs, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (qs[i])
			hnvmf_reactor_call_sync(env.r, q_destroy_on_reactor, qs[i]);
	hnvmf_reactor_stop(env.r);
	hnvmf_reactor_destroy(env.r);
	hnvmf_tgt_destroy(env.tgt);
	hnvmf_engine_destroy(env.engine);
	hnvmf_conf_free(env.conf);
	memset(&env, 0, sizeof(env));
}

/* ---- commands --------------------------------------------------------------------------- */

struct cmd {
	struct fake_q *q;
	union hnvmf_sqe sqe;
	struct hnvmf_req req;
	void *data;
	uint32_t len;
};

static void run_on_reactor(void *arg)
{
	struct cmd *c = arg;
	c->req.sgl_len = c->len;
	if (!hnvmf_req_init(&c->req, &c->q->sq, &c->sqe))
		return; /* completed with an error already */
	if (c->req.data_len) {
		c->req.iov[0] = (struct iovec){c->data, c->req.data_len};
		c->req.iovcnt = 1;
	}
	hnvmf_req_execute(&c->req);
}

static void nop(void *arg) { (void)arg; }

/* Runs one command to completion; returns its status field (without the phase bit). */
static uint16_t run(struct fake_q *q, union hnvmf_sqe *sqe, void *data, uint32_t len)
{
	static uint16_t cid;
	struct cmd c = {.q = q, .sqe = *sqe, .data = data, .len = len};
	c.sqe.common.cid = ++cid;
	int before = q->responses;
	assert_int_equal(hnvmf_reactor_call_sync(env.r, run_on_reactor, &c), 0);
	/* A command waiting for a DH worker completes later, on the reactor: a round trip through
	 * the reactor reads q->responses safely. */
	for (int i = 0; i < 10000 && q->responses == before; i++) {
		usleep(1000);
		assert_int_equal(hnvmf_reactor_call_sync(env.r, nop, NULL), 0);
	}
	assert_int_equal(q->responses, before + 1); /* exactly one completion */
	assert_int_equal(q->cqe.cid, cid);
	return (uint16_t)(le16toh(q->cqe.status) >> 1); /* as it goes on the wire */
}

static uint16_t connect(struct fake_q *q, const char *hostnqn, uint16_t qid, uint16_t cntlid, uint32_t kato,
			uint32_t *result)
{
	union hnvmf_sqe sqe = {0};
	sqe.connect.opcode = nvme_admin_fabrics;
	sqe.connect.fctype = nvme_fabrics_type_connect;
	sqe.connect.qid = htole16(qid);
	sqe.connect.sqsize = htole16(qid ? 31 : 15);
	sqe.connect.kato = htole32(kato);
	struct nvmf_connect_data d;
	memset(&d, 0, sizeof(d));
	d.cntlid = htole16(cntlid);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	uint16_t st = run(q, &sqe, &d, sizeof(d));
	*result = (uint32_t)q->cqe.result;
	return st;
}

static uint16_t prop_set_cc(struct fake_q *q, uint32_t cc)
{
	union hnvmf_sqe sqe = {0};
	sqe.prop.opcode = nvme_admin_fabrics;
	sqe.prop.fctype = nvme_fabrics_type_property_set;
	sqe.prop.offset = htole32(NVME_REG_CC);
	sqe.prop.value = htole64(cc);
	uint16_t st = run(q, &sqe, NULL, 0);
	if (!st)
		q->enable_after_auth = false;
	return st;
}

static uint16_t keep_alive(struct fake_q *q)
{
	if (q->enable_after_auth && q->sq.authenticated) /* read after run()'s round trip */
		assert_int_equal(prop_set_cc(q, CC_ENABLE), 0);
	union hnvmf_sqe sqe = {0};
	sqe.common.opcode = nvme_admin_keep_alive;
	return run(q, &sqe, NULL, 0);
}

static void auth_sqe(union hnvmf_sqe *sqe, uint8_t fctype, uint32_t len)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->auth.opcode = nvme_admin_fabrics;
	sqe->auth.fctype = fctype;
	sqe->auth.secp = HNVMF_AUTH_SECP_DHCHAP;
	sqe->auth.spsp0 = 1;
	sqe->auth.spsp1 = 1;
	sqe->auth.len = htole32(len);
}

static uint16_t auth_send(struct fake_q *q, const void *msg, uint32_t tl)
{
	union hnvmf_sqe sqe;
	auth_sqe(&sqe, nvme_fabrics_type_auth_send, tl);
	uint8_t buf[HNVMF_AUTH_MAX_TL];
	memcpy(buf, msg, tl);
	return run(q, &sqe, buf, tl);
}

/* AuthRecv with the Linux host's 4 KiB buffer; *xfer = bytes returned. */
static uint16_t auth_recv(struct fake_q *q, uint8_t *buf, uint32_t *xfer)
{
	union hnvmf_sqe sqe;
	auth_sqe(&sqe, nvme_fabrics_type_auth_receive, AL);
	memset(buf, 0, AL);
	uint16_t st = run(q, &sqe, buf, AL);
	*xfer = q->xfer_len;
	return st;
}

static const uint16_t ST_AUTH_REQUIRED = (NVME_SCT_CMD_SPECIFIC << NVME_SCT_SHIFT) | NVME_SC_AUTH_REQUIRED;

static bool is_auth_required(uint16_t st) { return (st & ~NVME_SC_DNR) == ST_AUTH_REQUIRED; }

/* ---- keys -------------------------------------------------------------------------------- */

/* A random DH-HMAC-CHAP secret of len bytes with transformation hash hh, as a DHHC-1 string. */
static void make_secret(int hh, size_t len, char out[HNVMF_KEY_STR_MAX])
{
	struct hnvmf_key k = {.len = len, .hmac = hh};
	assert_int_equal(RAND_bytes(k.data, (int)len), 1);
	assert_int_equal(hnvmf_dhchap_key_format(&k, out, HNVMF_KEY_STR_MAX), 0);
}

static void tkey(const char *secret, const char *nqn, uint8_t *out, size_t *len)
{
	struct hnvmf_key k;
	char err[128];
	assert_int_equal(hnvmf_dhchap_key_parse(secret, &k, err, sizeof(err)), 0);
	assert_int_equal(hnvmf_dhchap_transform_key(k.hmac, k.data, k.len, nqn, out, len), 0);
}

/* ---- the host's side of the exchange ------------------------------------------------------ */

struct host {
	struct fake_q *q;
	const char *hostnqn;
	const char *secret;
	const char *ctrl_secret; /* set: the host authenticates the controller too */
	bool s2_zero_one_way;	 /* hosts before 6.x sent S2 = 0 one-way; since then S2 is always set */
	uint8_t hashes[30];
	uint8_t nhashes;
	uint8_t groups[30];
	uint8_t ngroups;
	uint16_t t_id;
	/* learnt from the Challenge */
	uint8_t hashid, dhgid;
	size_t hl;
	uint32_t s1, s2;
	uint8_t c1[64], c2[64];
	uint8_t skey[HNVMF_DH_MAX_SIZE];
	uint8_t gx[HNVMF_DH_MAX_SIZE];
	size_t gsize;
	/* last Failure1 seen */
	uint8_t failure1_exp;
	uint16_t failure1_tid;
	uint8_t buf[AL];
};

static void host_init(struct host *h, struct fake_q *q, const char *hostnqn, const char *secret)
{
	memset(h, 0, sizeof(*h));
	h->q = q;
	h->hostnqn = hostnqn;
	h->secret = secret;
	/* What the Linux host offers. */
	static const uint8_t hashes[] = {1, 2, 3}, groups[] = {0, 1, 2, 3, 4, 5};
	memcpy(h->hashes, hashes, sizeof(hashes));
	h->nhashes = sizeof(hashes);
	memcpy(h->groups, groups, sizeof(groups));
	h->ngroups = sizeof(groups);
	h->t_id = 0x1234;
}

static void host_offer(struct host *h, uint8_t hash, uint8_t group)
{
	h->hashes[0] = hash;
	h->nhashes = 1;
	h->groups[0] = group;
	h->ngroups = 1;
}

static size_t build_negotiate(struct host *h, uint8_t *m)
{
	size_t len = sizeof(struct hnvmf_auth_negotiate) + sizeof(struct hnvmf_auth_protocol_desc);
	memset(m, 0, len);
	struct hnvmf_auth_negotiate *n = (void *)m;
	n->auth_type = HNVMF_AUTH_TYPE_COMMON;
	n->auth_id = HNVMF_AUTH_NEGOTIATE;
	n->t_id = htole16(h->t_id);
	n->napd = 1;
	struct hnvmf_auth_protocol_desc *d = (void *)(m + sizeof(*n));
	d->authid = HNVMF_AUTH_ID_DHCHAP;
	d->halen = h->nhashes;
	d->dhlen = h->ngroups;
	memcpy(d->idlist, h->hashes, h->nhashes);
	memcpy(d->idlist + HNVMF_AUTH_IDLIST_DH_OFFSET, h->groups, h->ngroups);
	return len;
}

static void host_negotiate(struct host *h)
{
	uint8_t m[128];
	size_t len = build_negotiate(h, m);
	assert_int_equal(auth_send(h->q, m, (uint32_t)len), 0);
}

/* Returns true when the message in h->buf is a Failure1 (and records it). */
static bool got_failure1(struct host *h, uint32_t xfer)
{
	const struct hnvmf_auth_failure *f = (const void *)h->buf;
	if (f->auth_type != HNVMF_AUTH_TYPE_COMMON || f->auth_id != HNVMF_AUTH_FAILURE1)
		return false;
	assert_int_equal(xfer, sizeof(*f));
	assert_int_equal(f->rescode, HNVMF_AUTH_REASON_FAILED);
	h->failure1_exp = f->rescode_exp;
	h->failure1_tid = le16toh(f->t_id);
	return true;
}

/* AuthRecv expecting a Challenge; false when a Failure1 came instead. */
static bool host_recv_challenge(struct host *h)
{
	uint32_t xfer;
	assert_int_equal(auth_recv(h->q, h->buf, &xfer), 0);
	if (got_failure1(h, xfer))
		return false;
	const struct hnvmf_auth_challenge *c = (const void *)h->buf;
	assert_int_equal(c->auth_type, HNVMF_AUTH_TYPE_DHCHAP);
	assert_int_equal(c->auth_id, HNVMF_AUTH_CHALLENGE);
	assert_int_equal(le16toh(c->t_id), h->t_id);
	h->hashid = c->hashid;
	h->dhgid = c->dhgid;
	h->hl = hnvmf_auth_hash_len(c->hashid);
	assert_int_not_equal(h->hl, 0);
	assert_int_equal(c->hl, h->hl);
	h->gsize = hnvmf_dhchap_dhgroup_size(c->dhgid);
	assert_int_equal(le16toh(c->dhvlen), h->gsize);
	assert_int_equal(xfer, sizeof(*c) + h->hl + h->gsize);
	h->s1 = le32toh(c->seqnum);
	assert_int_not_equal(h->s1, 0);
	memcpy(h->c1, h->buf + sizeof(*c), h->hl);
	if (h->gsize) {
		struct hnvmf_dh *dh = hnvmf_dh_generate(h->dhgid);
		assert_non_null(dh);
		assert_int_equal(hnvmf_dh_public_key(dh, h->gx, h->gsize), 0);
		assert_int_equal(
			hnvmf_dh_shared_secret(dh, h->buf + sizeof(*c) + h->hl, h->gsize, h->skey, h->gsize),
			0);
		hnvmf_dh_free(dh);
	}
	return true;
}

static size_t build_reply(struct host *h, uint8_t *m)
{
	struct hnvmf_auth_reply *r = (void *)m;
	size_t len = sizeof(*r) + 2 * h->hl + h->gsize;
	memset(m, 0, len);
	r->auth_type = HNVMF_AUTH_TYPE_DHCHAP;
	r->auth_id = HNVMF_AUTH_REPLY;
	r->t_id = htole16(h->t_id);
	r->hl = (uint8_t)h->hl;
	r->dhvlen = htole16((uint16_t)h->gsize);
	uint8_t k[64];
	size_t klen;
	tkey(h->secret, h->hostnqn, k, &klen);
	struct hnvmf_dhchap_response_args a = {
		.hash_id = h->hashid,
		.tkey = k,
		.tkey_len = klen,
		.challenge = h->c1,
		.seqnum = h->s1,
		.tid = h->t_id,
		.hostnqn = h->hostnqn,
		.subnqn = SUBNQN,
		.skey = h->gsize ? h->skey : NULL,
		.skey_len = h->gsize,
	};
	assert_int_equal(hnvmf_dhchap_host_response(&a, m + sizeof(*r)), 0);
	/* As the Linux host does: C2 only to authenticate the controller, S2 non-zero anyway. */
	h->s2 = 0x5eed0001u + h->t_id;
	if (h->ctrl_secret) {
		assert_int_equal(RAND_bytes(h->c2, (int)h->hl), 1);
		r->cvalid = 1;
		memcpy(m + sizeof(*r) + h->hl, h->c2, h->hl);
	} else if (h->s2_zero_one_way) {
		h->s2 = 0;
	}
	r->seqnum = htole32(h->s2);
	memcpy(m + sizeof(*r) + 2 * h->hl, h->gx, h->gsize);
	return len;
}

static void host_send_reply(struct host *h)
{
	uint8_t m[2048];
	size_t len = build_reply(h, m);
	assert_int_equal(auth_send(h->q, m, (uint32_t)len), 0);
}

enum outcome {
	AUTH_OK,	  /* Success1 (and Success2) */
	AUTH_FAILURE1,	  /* the controller refused: h->failure1_exp */
	AUTH_CTRL_FAILED, /* the host refused the controller's R2 and sent Failure2 */
};

static void host_send_failure2(struct host *h, uint8_t exp)
{
	struct hnvmf_auth_failure f = {.auth_type = HNVMF_AUTH_TYPE_COMMON,
				       .auth_id = HNVMF_AUTH_FAILURE2,
				       .t_id = htole16(h->t_id),
				       .rescode = HNVMF_AUTH_REASON_FAILED,
				       .rescode_exp = exp};
	/* Answered like any AuthSend: a target that drops it leaves the Linux host waiting 60 s. */
	assert_int_equal(auth_send(h->q, &f, sizeof(f)), 0);
}

static enum outcome host_finish(struct host *h)
{
	uint32_t xfer;
	assert_int_equal(auth_recv(h->q, h->buf, &xfer), 0);
	if (got_failure1(h, xfer))
		return AUTH_FAILURE1;
	const struct hnvmf_auth_success1 *s = (const void *)h->buf;
	assert_int_equal(s->auth_type, HNVMF_AUTH_TYPE_DHCHAP);
	assert_int_equal(s->auth_id, HNVMF_AUTH_SUCCESS1);
	assert_int_equal(le16toh(s->t_id), h->t_id);
	assert_int_equal(s->hl, h->hl); /* the Linux host checks it */
	assert_int_equal(xfer, sizeof(*s) + h->hl);
	if (!h->ctrl_secret) {
		assert_int_equal(s->rvalid, 0);
		return AUTH_OK;
	}
	assert_int_equal(s->rvalid, 1);
	uint8_t k[64], r2[64];
	size_t klen;
	tkey(h->ctrl_secret, SUBNQN, k, &klen);
	struct hnvmf_dhchap_response_args a = {
		.hash_id = h->hashid,
		.tkey = k,
		.tkey_len = klen,
		.challenge = h->c2,
		.seqnum = h->s2,
		.tid = h->t_id,
		.hostnqn = h->hostnqn,
		.subnqn = SUBNQN,
		.skey = h->gsize ? h->skey : NULL,
		.skey_len = h->gsize,
	};
	assert_int_equal(hnvmf_dhchap_ctrl_response(&a, r2), 0);
	if (memcmp(r2, h->buf + sizeof(*s), h->hl) != 0) {
		host_send_failure2(h, HNVMF_AUTH_FAIL_FAILED);
		return AUTH_CTRL_FAILED;
	}
	struct hnvmf_auth_success2 s2 = {.auth_type = HNVMF_AUTH_TYPE_DHCHAP,
					 .auth_id = HNVMF_AUTH_SUCCESS2,
					 .t_id = htole16(h->t_id)};
	assert_int_equal(auth_send(h->q, &s2, sizeof(s2)), 0);
	return AUTH_OK;
}

static enum outcome host_exchange(struct host *h)
{
	host_negotiate(h);
	if (!host_recv_challenge(h))
		return AUTH_FAILURE1;
	host_send_reply(h);
	return host_finish(h);
}

/* Admin queue Connect (KATO 0 unless given), checking the ATR bit, then CC.EN. */
static void connect_admin(struct fake_q *q, const char *hostnqn, bool expect_atr, uint32_t kato)
{
	q_init(q);
	uint32_t res;
	assert_int_equal(connect(q, hostnqn, 0, 0xffff, kato, &res), 0);
	assert_int_equal((res & HNVMF_CONNECT_RESP_ATR) != 0, expect_atr);
	/* Admin commands need CC.EN; Property Set, like every command but AuthSend/AuthRecv, waits
	 * for the authentication (keep_alive sets CC.EN then). */
	if (expect_atr) {
		assert_true(is_auth_required(prop_set_cc(q, CC_ENABLE)));
		q->enable_after_auth = true;
	} else {
		assert_int_equal(prop_set_cc(q, CC_ENABLE), 0);
	}
}

static char secret_a[HNVMF_KEY_STR_MAX], ctrl_secret_a[HNVMF_KEY_STR_MAX], other_secret[HNVMF_KEY_STR_MAX];

static const struct tenant_spec *default_tenants(size_t *n)
{
	static struct tenant_spec t[3];
	make_secret(1, 32, secret_a);
	make_secret(3, 64, ctrl_secret_a);
	make_secret(1, 32, other_secret);
	t[0] = (struct tenant_spec){
		.hostnqn = HOST_A, .secret = secret_a, .ctrl_secret = ctrl_secret_a, .mode = HNVMF_CONF_MODE_PQM};
	t[1] = (struct tenant_spec){.hostnqn = HOST_B, .secret = secret_a, .mode = HNVMF_CONF_MODE_PQM};
	t[2] = (struct tenant_spec){.hostnqn = HOST_NOKEY, .mode = HNVMF_CONF_MODE_PQM};
	*n = 3;
	return t;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_connect_atr_and_gate(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q a, b;
	connect_admin(&a, HOST_A, true, 0);
	assert_non_null(a.sq.auth);
	assert_false(a.sq.authenticated);
	/* Only fabrics commands until authenticated. */
	assert_true(is_auth_required(keep_alive(&a)));

	/* A tenant without a secret: no ATR, no gate, and AuthSend is refused outright. */
	connect_admin(&b, HOST_NOKEY, false, 0);
	assert_null(b.sq.auth);
	assert_int_equal(keep_alive(&b), 0);
	struct host h;
	host_init(&h, &b, HOST_NOKEY, secret_a);
	uint8_t m[128];
	size_t len = build_negotiate(&h, m);
	assert_int_equal(auth_send(&b, m, (uint32_t)len) & 0xff, NVME_SC_INVALID_FIELD);
	assert_null(b.sq.auth);
	assert_int_equal(keep_alive(&b), 0);
	struct fake_q *qs[] = {&a, &b};
	env_stop(qs, 2);
}

static void test_one_way_every_hash(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	for (uint8_t hash = 1; hash <= 3; hash++) {
		host_init(&h, &q, HOST_B, secret_a);
		host_offer(&h, hash, HNVMF_DHGROUP_NULL);
		h.t_id = (uint16_t)(100 + hash); /* each (re-)authentication is a new transaction */
		h.s2_zero_one_way = hash == 2;
		assert_int_equal(host_exchange(&h), AUTH_OK);
		assert_int_equal(h.hashid, hash);
		assert_int_equal(h.dhgid, HNVMF_DHGROUP_NULL);
		assert_true(q.sq.authenticated);
		assert_int_equal(keep_alive(&q), 0);
	}
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* Every transformation hash of the secret (hh 00..03) with every negotiated hash: the transform
 * uses the secret's own hash, not the negotiated one. */
static void test_secret_transforms(void **state)
{
	(void)state;
	static const struct {
		int hh;
		size_t len;
	} keys[] = {{0, 32}, {1, 32}, {2, 48}, {3, 64}, {1, 64}, {0, 48}};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char s[HNVMF_KEY_STR_MAX];
		make_secret(keys[i].hh, keys[i].len, s);
		struct tenant_spec t = {.hostnqn = HOST_B, .secret = s, .mode = HNVMF_CONF_MODE_PQM};
		env_start(&t, 1);
		struct fake_q q;
		connect_admin(&q, HOST_B, true, 0);
		struct host h;
		host_init(&h, &q, HOST_B, s);
		host_offer(&h, (uint8_t)(1 + i % 3), HNVMF_DHGROUP_NULL);
		assert_int_equal(host_exchange(&h), AUTH_OK);
		assert_true(q.sq.authenticated);
		struct fake_q *qs[] = {&q};
		env_stop(qs, 1);
	}
}

static void test_picks_strongest(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	host_init(&h, &q, HOST_B, secret_a);
	/* Lists in the host's order, weakest first: the controller picks the strongest. */
	h.nhashes = 3;
	memcpy(h.hashes, (uint8_t[]){1, 2, 3}, 3);
	h.ngroups = 3;
	memcpy(h.groups, (uint8_t[]){0, 1, 2}, 3);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_int_equal(h.hashid, HNVMF_AUTH_HASH_SHA512);
	assert_int_equal(h.dhgid, HNVMF_DHGROUP_FFDHE3072);
	/* Unknown ids in the lists are skipped. */
	host_init(&h, &q, HOST_B, secret_a);
	h.t_id = 7;
	h.nhashes = 2;
	memcpy(h.hashes, (uint8_t[]){9, 2}, 2);
	h.ngroups = 2;
	memcpy(h.groups, (uint8_t[]){0x77, 1}, 2);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_int_equal(h.hashid, HNVMF_AUTH_HASH_SHA384);
	assert_int_equal(h.dhgid, HNVMF_DHGROUP_FFDHE2048);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* The Linux host's full offer (every hash, every group): SHA-512 and ffdhe8192. */
static void test_linux_offer(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_A, true, 0);
	struct host h;
	host_init(&h, &q, HOST_A, secret_a);
	h.ctrl_secret = ctrl_secret_a;
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_int_equal(h.hashid, HNVMF_AUTH_HASH_SHA512);
	assert_int_equal(h.dhgid, HNVMF_DHGROUP_FFDHE8192);
	assert_true(q.sq.authenticated);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_bidirectional_groups(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_A, true, 0);
	static const uint8_t groups[] = {HNVMF_DHGROUP_NULL, HNVMF_DHGROUP_FFDHE2048,
					 HNVMF_DHGROUP_FFDHE4096};
	for (size_t i = 0; i < sizeof(groups); i++) {
		struct host h;
		host_init(&h, &q, HOST_A, secret_a);
		h.ctrl_secret = ctrl_secret_a;
		h.t_id = (uint16_t)(0xfff0 + i);
		host_offer(&h, (uint8_t)(1 + i), groups[i]);
		assert_int_equal(host_exchange(&h), AUTH_OK);
		assert_int_equal(h.dhgid, groups[i]);
		assert_int_equal(h.hashid, 1 + i);
		assert_true(q.sq.authenticated);
		assert_int_equal(keep_alive(&q), 0);
	}
	/* One-way with a DH group as well. */
	struct host h;
	host_init(&h, &q, HOST_A, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_FFDHE2048);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_wrong_host_key(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	static const uint8_t groups[] = {HNVMF_DHGROUP_NULL, HNVMF_DHGROUP_FFDHE2048};
	for (size_t i = 0; i < sizeof(groups); i++) {
		struct fake_q q;
		connect_admin(&q, HOST_B, true, 0);
		struct host h;
		host_init(&h, &q, HOST_B, other_secret);
		host_offer(&h, HNVMF_AUTH_HASH_SHA256, groups[i]);
		assert_int_equal(host_exchange(&h), AUTH_FAILURE1);
		assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_FAILED);
		assert_int_equal(h.failure1_tid, h.t_id);
		assert_false(q.sq.authenticated);
		assert_true(is_auth_required(keep_alive(&q)));
		/* The queue stays usable for a new attempt, which succeeds with the right key. */
		host_init(&h, &q, HOST_B, secret_a);
		host_offer(&h, HNVMF_AUTH_HASH_SHA256, groups[i]);
		h.t_id = 2;
		assert_int_equal(host_exchange(&h), AUTH_OK);
		assert_int_equal(keep_alive(&q), 0);
		struct fake_q *qs[] = {&q};
		hnvmf_reactor_call_sync(env.r, q_destroy_on_reactor, qs[0]);
	}
	env_stop(NULL, 0);
}

static void test_wrong_ctrl_key_detected_by_host(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_A, true, 0);
	struct host h;
	host_init(&h, &q, HOST_A, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA384, HNVMF_DHGROUP_FFDHE2048);
	h.ctrl_secret = other_secret; /* the host expects another controller */
	assert_int_equal(host_exchange(&h), AUTH_CTRL_FAILED);
	assert_int_equal(atomic_load(&q.disconnects), 0);
	assert_false(q.sq.authenticated);
	assert_true(is_auth_required(keep_alive(&q)));
	/* After Failure2 the exchange is over: a new one may start. */
	host_init(&h, &q, HOST_A, secret_a);
	h.ctrl_secret = ctrl_secret_a;
	host_offer(&h, HNVMF_AUTH_HASH_SHA384, HNVMF_DHGROUP_NULL);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_true(q.sq.authenticated);
	/* A re-authentication the host abandons (Failure2) takes the authentication away. */
	h.t_id++;
	h.ctrl_secret = other_secret;
	assert_int_equal(host_exchange(&h), AUTH_CTRL_FAILED);
	assert_false(q.sq.authenticated);
	assert_true(is_auth_required(keep_alive(&q)));
	assert_int_equal(atomic_load(&q.disconnects), 0);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* The host asks to authenticate the controller, but its tenant has no controller secret. */
static void test_bidirectional_without_ctrl_secret(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	host_init(&h, &q, HOST_B, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	h.ctrl_secret = ctrl_secret_a;
	assert_int_equal(host_exchange(&h), AUTH_FAILURE1);
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_FAILED);
	assert_false(q.sq.authenticated);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* Host Failure2 right after the Challenge (the Linux host's reaction to a challenge it cannot
 * use): answered, the queue stays unauthenticated and is not dropped. */
static void test_failure2_after_challenge(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	host_init(&h, &q, HOST_B, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	host_send_failure2(&h, HNVMF_AUTH_FAIL_HASH_UNUSABLE);
	assert_false(q.sq.authenticated);
	assert_int_equal(atomic_load(&q.disconnects), 0);
	/* The abandoned exchange is gone: a Reply for it is out of order now. */
	host_send_reply(&h);
	uint32_t xfer;
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_out_of_order(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	uint32_t xfer;
	host_init(&h, &q, HOST_B, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);

	/* AuthRecv before any Negotiate. */
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);

	/* A Reply before the Challenge was fetched: AuthSend completes, Failure1 follows. */
	host_negotiate(&h);
	h.hl = 32;
	assert_int_equal(
		auth_send(&q, (uint8_t[16]){HNVMF_AUTH_TYPE_DHCHAP, HNVMF_AUTH_REPLY, 0, 0, 0x34, 0x12}, 16),
		0);
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);

	/* Success2 instead of the Reply. */
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	struct hnvmf_auth_success2 s2 = {
		.auth_type = HNVMF_AUTH_TYPE_DHCHAP, .auth_id = HNVMF_AUTH_SUCCESS2, .t_id = htole16(h.t_id)};
	assert_int_equal(auth_send(&q, &s2, sizeof(s2)), 0);
	assert_int_equal(host_finish(&h), AUTH_FAILURE1);
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);

	/* Two AuthRecv in a row: the second one is out of order. */
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);

	/* A message with the wrong AUTH_Type (a Negotiate marked DH-HMAC-CHAP). */
	uint8_t m[128];
	size_t len = build_negotiate(&h, m);
	m[0] = HNVMF_AUTH_TYPE_DHCHAP;
	assert_int_equal(auth_send(&q, m, (uint32_t)len), 0);
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);

	assert_false(q.sq.authenticated);
	/* And after all that, a proper exchange still works. */
	h.t_id = 99;
	assert_int_equal(host_exchange(&h), AUTH_OK);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_bad_transaction_id(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_A, true, 0);
	struct host h;
	host_init(&h, &q, HOST_A, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_FFDHE2048);
	h.t_id = 41;
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	h.t_id = 42; /* R1 computed over 42 too: only the T_ID check can catch it */
	host_send_reply(&h);
	assert_int_equal(host_finish(&h), AUTH_FAILURE1);
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	assert_int_equal(h.failure1_tid, 41);
	assert_false(q.sq.authenticated);

	/* Success2 with a wrong T_ID (bidirectional). */
	host_init(&h, &q, HOST_A, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	h.ctrl_secret = ctrl_secret_a;
	h.t_id = 50;
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	host_send_reply(&h);
	uint32_t xfer;
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_int_equal(h.buf[1], HNVMF_AUTH_SUCCESS1);
	struct hnvmf_auth_success2 s2 = {
		.auth_type = HNVMF_AUTH_TYPE_DHCHAP, .auth_id = HNVMF_AUTH_SUCCESS2, .t_id = htole16(51)};
	assert_int_equal(auth_send(&q, &s2, sizeof(s2)), 0);
	assert_false(q.sq.authenticated);
	assert_true(is_auth_required(keep_alive(&q)));
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void expect_negotiate_failure(struct host *h, const uint8_t *m, size_t len, uint8_t exp)
{
	uint32_t xfer;
	assert_int_equal(auth_send(h->q, m, (uint32_t)len), 0);
	assert_int_equal(auth_recv(h->q, h->buf, &xfer), 0);
	assert_true(got_failure1(h, xfer));
	assert_int_equal(h->failure1_exp, exp);
	assert_int_equal(h->failure1_tid, h->t_id);
}

static void test_unusable_negotiate(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	uint8_t m[256];
	size_t len;
	host_init(&h, &q, HOST_B, secret_a);

	host_offer(&h, 0x07, HNVMF_DHGROUP_NULL); /* no known hash */
	len = build_negotiate(&h, m);
	expect_negotiate_failure(&h, m, len, HNVMF_AUTH_FAIL_HASH_UNUSABLE);

	host_offer(&h, HNVMF_AUTH_HASH_SHA256, 0x09); /* no known group */
	len = build_negotiate(&h, m);
	expect_negotiate_failure(&h, m, len, HNVMF_AUTH_FAIL_DHGROUP_UNUSABLE);

	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	len = build_negotiate(&h, m);
	m[6] = 1; /* SC_C: secure channel concatenation */
	expect_negotiate_failure(&h, m, len, HNVMF_AUTH_FAIL_CONCAT_MISMATCH);

	len = build_negotiate(&h, m);
	m[sizeof(struct hnvmf_auth_negotiate)] = 2; /* AUTHID of another protocol */
	expect_negotiate_failure(&h, m, len, HNVMF_AUTH_FAIL_NOT_USABLE);

	len = build_negotiate(&h, m);
	m[sizeof(struct hnvmf_auth_negotiate) + 2] = 31; /* HALEN beyond the list */
	expect_negotiate_failure(&h, m, len, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD);

	len = build_negotiate(&h, m);
	expect_negotiate_failure(&h, m, 12, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD); /* truncated */

	/* A second descriptor that is DH-HMAC-CHAP, after one of another protocol, is found. */
	len = build_negotiate(&h, m);
	memcpy(m + len, m + sizeof(struct hnvmf_auth_negotiate), sizeof(struct hnvmf_auth_protocol_desc));
	m[sizeof(struct hnvmf_auth_negotiate)] = 2;
	m[7] = 2; /* NAPD */
	assert_int_equal(auth_send(&q, m, (uint32_t)(len + sizeof(struct hnvmf_auth_protocol_desc))), 0);
	assert_true(host_recv_challenge(&h));
	host_send_reply(&h);
	assert_int_equal(host_finish(&h), AUTH_OK);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_bad_command_fields(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_B, true, 0);
	struct host h;
	host_init(&h, &q, HOST_B, secret_a);
	uint8_t m[HNVMF_AUTH_MAX_TL + 16];
	size_t len = build_negotiate(&h, m);
	union hnvmf_sqe sqe;
	struct {
		int field;
		uint8_t value;
	} bad[] = {{0, 0xea}, {1, 0}, {2, 2}};
	for (size_t i = 0; i < 3; i++) {
		auth_sqe(&sqe, nvme_fabrics_type_auth_send, (uint32_t)len);
		if (bad[i].field == 0)
			sqe.auth.secp = bad[i].value;
		else if (bad[i].field == 1)
			sqe.auth.spsp0 = bad[i].value;
		else
			sqe.auth.spsp1 = bad[i].value;
		uint16_t st = run(&q, &sqe, m, (uint32_t)len);
		assert_int_equal(st & 0xff, NVME_SC_INVALID_FIELD);
		assert_int_equal(hnvmf_status_sct(st), NVME_SCT_GENERIC);
	}
	auth_sqe(&sqe, nvme_fabrics_type_auth_send, 0);
	assert_int_equal(run(&q, &sqe, NULL, 0) & 0xff, NVME_SC_INVALID_FIELD);
	auth_sqe(&sqe, nvme_fabrics_type_auth_receive, 0);
	assert_int_equal(run(&q, &sqe, NULL, 0) & 0xff, NVME_SC_INVALID_FIELD);
	auth_sqe(&sqe, nvme_fabrics_type_auth_send, HNVMF_AUTH_MAX_TL + 1);
	assert_int_equal(run(&q, &sqe, m, HNVMF_AUTH_MAX_TL + 1) & 0xff, NVME_SC_INVALID_FIELD);
	/* An AuthRecv buffer too small for the Challenge: a command error, and the exchange ends. */
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	host_negotiate(&h);
	auth_sqe(&sqe, nvme_fabrics_type_auth_receive, 20);
	assert_int_equal(run(&q, &sqe, h.buf, 20) & 0xff, NVME_SC_INVALID_FIELD);
	uint32_t xfer;
	assert_int_equal(auth_recv(&q, h.buf, &xfer), 0);
	assert_true(got_failure1(&h, xfer));
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_PAYLOAD);
	/* The queue was never authenticated by any of it. */
	assert_false(q.sq.authenticated);
	assert_true(is_auth_required(keep_alive(&q)));
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

static void test_reauthentication(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_A, true, 0);
	struct host h;
	host_init(&h, &q, HOST_A, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_FFDHE2048);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	/* A re-authentication: commands keep flowing while it runs. */
	h.t_id++;
	host_negotiate(&h);
	assert_int_equal(keep_alive(&q), 0);
	assert_true(host_recv_challenge(&h));
	assert_int_equal(keep_alive(&q), 0);
	host_send_reply(&h);
	assert_int_equal(host_finish(&h), AUTH_OK);
	assert_true(q.sq.authenticated);
	/* A Negotiate in the middle of an exchange restarts it. */
	h.t_id++;
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));
	h.t_id++;
	assert_int_equal(host_exchange(&h), AUTH_OK);
	/* A failed re-authentication takes the authentication away. */
	h.t_id++;
	h.secret = other_secret;
	assert_int_equal(host_exchange(&h), AUTH_FAILURE1);
	assert_false(q.sq.authenticated);
	assert_true(is_auth_required(keep_alive(&q)));
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* A tenant given a secret after its queue connected (SIGHUP) may authenticate on that queue -
 * and then must: the queue is gated until the exchange succeeds; its path stays. */
static void test_secret_added_after_connect(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	connect_admin(&q, HOST_NOKEY, false, 0);
	enum hnvmf_path_mode mode = q.sq.mode;
	assert_int_equal(keep_alive(&q), 0);

	struct hnvmf_conf_tenant *nt = calloc(1, sizeof(*nt)), *old;
	size_t nold;
	*nt = env.conf->tenants[2];
	nt->subsystems = NULL;
	snprintf(nt->dhchap_secret, sizeof(nt->dhchap_secret), "%s", secret_a);
	hnvmf_tgt_set_tenants(env.tgt, nt, 1, &old, &nold);
	assert_ptr_equal(old, env.conf->tenants); /* freed with the conf */

	struct host h;
	host_init(&h, &q, HOST_NOKEY, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	host_negotiate(&h);
	assert_true(is_auth_required(keep_alive(&q)));
	assert_true(host_recv_challenge(&h));
	host_send_reply(&h);
	assert_int_equal(host_finish(&h), AUTH_OK);
	assert_int_equal(keep_alive(&q), 0);
	assert_int_equal(q.sq.mode, mode);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
	hnvmf_conf_free_tenants(nt, 1);
}

/* A queue the transport secured with TLS (the tenant's PSK, bound to the Connect's host NQN by the
 * transport) is not asked for DH-HMAC-CHAP, as nvmet does not. */
static void test_tls_queue_not_asked(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	q_init(&q);
	q.sq.tls = true; /* as the transport sets it: with the PSK identity the host proved */
	q.sq.tls_hostnqn = HOST_A;
	q.sq.tls_subnqn = SUBNQN;
	uint32_t res;
	assert_int_equal(connect(&q, HOST_A, 0, 0xffff, 0, &res), 0);
	assert_int_equal(res & HNVMF_CONNECT_RESP_ATR, 0);
	assert_null(q.sq.auth);
	assert_int_equal(prop_set_cc(&q, CC_ENABLE), 0);
	assert_int_equal(keep_alive(&q), 0);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* Discovery controllers never ask for authentication (hosts discover without secrets). */
static void test_discovery_not_required(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q q;
	q_init(&q);
	union hnvmf_sqe sqe = {0};
	sqe.connect.opcode = nvme_admin_fabrics;
	sqe.connect.fctype = nvme_fabrics_type_connect;
	sqe.connect.sqsize = htole16(15);
	sqe.connect.kato = htole32(0);
	struct nvmf_connect_data d;
	memset(&d, 0, sizeof(d));
	d.cntlid = htole16(0xffff);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", HNVMF_DISCOVERY_NQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", HOST_A);
	assert_int_equal(run(&q, &sqe, &d, sizeof(d)), 0);
	assert_int_equal(q.cqe.result & HNVMF_CONNECT_RESP_ATR, 0);
	assert_null(q.sq.auth);
	assert_int_equal(q.sq.mode, HNVMF_PATH_DIRECT);
	struct fake_q *qs[] = {&q};
	env_stop(qs, 1);
}

/* An I/O queue authenticates on its own after its Connect; a DAM tenant's queue gets DAM only
 * then (Connect leaves it provisional). */
static void test_io_queue_auth_decides_dam(void **state)
{
	(void)state;
	char s[HNVMF_KEY_STR_MAX];
	make_secret(2, 48, s);
	struct tenant_spec t = {.hostnqn = HOST_A,
				.secret = s,
				.mode = HNVMF_CONF_MODE_DAM,
				.level = 7,
				.max_queues = 2,
				.fallback = HNVMF_DAM_FALLBACK_REFUSE};
	env_start(&t, 1);
	struct fake_q a, io1, io2;
	connect_admin(&a, HOST_A, true, 0);
	struct host h;
	host_init(&h, &a, HOST_A, s);
	host_offer(&h, HNVMF_AUTH_HASH_SHA512, HNVMF_DHGROUP_NULL);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_int_equal(a.sq.mode, HNVMF_PATH_DAM);
	assert_int_equal(prop_set_cc(&a, CC_ENABLE), 0);
	uint16_t cntlid = a.sq.ctrl->cntlid;

	q_init(&io1);
	uint32_t res;
	assert_int_equal(connect(&io1, HOST_A, 1, cntlid, 0, &res), 0);
	assert_true(res & HNVMF_CONNECT_RESP_ATR);
	assert_int_equal(io1.sq.mode, HNVMF_PATH_PQM); /* provisional */
	assert_false(io1.sq.authenticated);
	host_init(&h, &io1, HOST_A, s);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_FFDHE2048);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_true(io1.sq.authenticated);
	assert_int_equal(io1.sq.mode, HNVMF_PATH_DAM);

	/* Another I/O queue that fails: no DAM, and it stays gated. */
	q_init(&io2);
	assert_int_equal(connect(&io2, HOST_A, 2, cntlid, 0, &res), 0);
	assert_true(res & HNVMF_CONNECT_RESP_ATR);
	host_init(&h, &io2, HOST_A, other_secret);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	assert_int_equal(host_exchange(&h), AUTH_FAILURE1);
	assert_int_not_equal(io2.sq.mode, HNVMF_PATH_DAM);
	assert_false(io2.sq.authenticated);
	struct fake_q *qs[] = {&a, &io1, &io2};
	env_stop(qs, 3);
}

static size_t nctrls(void)
{
	size_t n = 0;
	struct hnvmf_list *pos, *tmp;
	pthread_mutex_lock(&env.tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &env.tgt->ctrls) n++;
	pthread_mutex_unlock(&env.tgt->lock);
	return n;
}

/* dam_fallback = refuse: a tenant that cannot get DAM is refused at Connect. */
static void test_refuse_at_connect(void **state)
{
	(void)state;
	char s[HNVMF_KEY_STR_MAX];
	make_secret(1, 32, s);
	struct tenant_spec t[] = {
		/* not on the whitelist (7) */
		{.hostnqn = HOST_A,
		 .secret = s,
		 .mode = HNVMF_CONF_MODE_DAM,
		 .level = 3,
		 .fallback = HNVMF_DAM_FALLBACK_REFUSE},
		/* whitelisted, but nothing authenticates it */
		{.hostnqn = HOST_B,
		 .mode = HNVMF_CONF_MODE_DAM,
		 .level = 7,
		 .fallback = HNVMF_DAM_FALLBACK_REFUSE},
		/* the same with fallback pqm: served, through PQM */
		{.hostnqn = HOST_NOKEY,
		 .mode = HNVMF_CONF_MODE_DAM,
		 .level = 7,
		 .fallback = HNVMF_DAM_FALLBACK_PQM},
	};
	env_start(t, 3);
	struct fake_q a, b, c;
	const char *refused[] = {HOST_A, HOST_B};
	struct fake_q *rq[] = {&a, &b};
	for (int i = 0; i < 2; i++) {
		q_init(rq[i]);
		uint32_t res;
		uint16_t st = connect(rq[i], refused[i], 0, 0xffff, 0, &res);
		assert_int_equal(hnvmf_status_sct(st), NVME_SCT_CMD_SPECIFIC);
		assert_int_equal(hnvmf_status_sc(st), NVME_SC_CONNECT_INVALID_HOST);
		assert_int_equal(res, 1u << 16 | offsetof(struct nvmf_connect_data, hostnqn));
		assert_null(rq[i]->sq.ctrl);
		assert_null(rq[i]->sq.auth);
		assert_int_equal(nctrls(), 0); /* the controller the Connect created is gone */
	}
	/* A refused queue may Connect again later (nothing of the attempt is left). */
	connect_admin(&c, HOST_NOKEY, false, 0);
	assert_int_equal(c.sq.mode, HNVMF_PATH_PQM);
	assert_int_equal(nctrls(), 1);
	struct fake_q *qs[] = {&a, &b, &c};
	env_stop(qs, 3);
}

/* ---- expiry ------------------------------------------------------------------------------ */

static bool wait_disconnect(struct fake_q *q, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (atomic_load(&q->disconnects))
			return true;
		usleep(10000);
	}
	return atomic_load(&q->disconnects) != 0;
}

/* KATO 1 s: a queue that never authenticates is disconnected after about KATO; a stalled
 * re-authentication of an authenticated queue is reset, the queue kept. Keep Alive keeps the
 * controller itself alive meanwhile. */
static void test_expiry(void **state)
{
	(void)state;
	size_t n;
	const struct tenant_spec *t = default_tenants(&n);
	env_start(t, n);
	struct fake_q a, io;
	connect_admin(&a, HOST_B, true, 1000);
	struct host h;
	host_init(&h, &a, HOST_B, secret_a);
	host_offer(&h, HNVMF_AUTH_HASH_SHA256, HNVMF_DHGROUP_NULL);
	assert_int_equal(host_exchange(&h), AUTH_OK);
	assert_int_equal(prop_set_cc(&a, CC_ENABLE), 0);
	q_init(&io);
	uint32_t res;
	uint64_t t0 = hnvmf_now_ns();
	assert_int_equal(connect(&io, HOST_B, 1, a.sq.ctrl->cntlid, 0, &res), 0);
	assert_true(res & HNVMF_CONNECT_RESP_ATR);

	/* The admin queue starts a re-authentication and stalls after the Challenge. */
	h.t_id = 77;
	host_negotiate(&h);
	assert_true(host_recv_challenge(&h));

	bool io_gone = false;
	for (int i = 0; i < 400 && !io_gone; i++) {
		assert_int_equal(keep_alive(&a), 0);
		io_gone = wait_disconnect(&io, 10);
	}
	assert_true(io_gone);
	uint64_t waited_ms = (hnvmf_now_ns() - t0) / 1000000u;
	assert_true(waited_ms >= 900);
	assert_int_equal(atomic_load(&a.disconnects), 0);

	/* Give the admin queue's timer (armed a little after the I/O queue's) time to fire. */
	for (int i = 0; i < 30; i++) {
		assert_int_equal(keep_alive(&a), 0);
		usleep(10000);
	}
	assert_int_equal(atomic_load(&a.disconnects), 0);
	assert_true(a.sq.authenticated);
	host_send_reply(&h); /* too late: that exchange expired */
	assert_int_equal(host_finish(&h), AUTH_FAILURE1);
	assert_int_equal(h.failure1_exp, HNVMF_AUTH_FAIL_INCORRECT_MESSAGE);
	struct fake_q *qs[] = {&a, &io};
	env_stop(qs, 2);
}

int main(void)
{
	hnvmf_log_set_level(HNVMF_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_atr_and_gate),
		cmocka_unit_test(test_one_way_every_hash),
		cmocka_unit_test(test_secret_transforms),
		cmocka_unit_test(test_picks_strongest),
		cmocka_unit_test(test_linux_offer),
		cmocka_unit_test(test_bidirectional_groups),
		cmocka_unit_test(test_wrong_host_key),
		cmocka_unit_test(test_wrong_ctrl_key_detected_by_host),
		cmocka_unit_test(test_bidirectional_without_ctrl_secret),
		cmocka_unit_test(test_failure2_after_challenge),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_bad_transaction_id),
		cmocka_unit_test(test_unusable_negotiate),
		cmocka_unit_test(test_bad_command_fields),
		cmocka_unit_test(test_reauthentication),
		cmocka_unit_test(test_secret_added_after_connect),
		cmocka_unit_test(test_tls_queue_not_asked),
		cmocka_unit_test(test_discovery_not_required),
		cmocka_unit_test(test_io_queue_auth_decides_dam),
		cmocka_unit_test(test_refuse_at_connect),
		cmocka_unit_test(test_expiry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
