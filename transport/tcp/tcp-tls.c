/* NVMe/TCP secure channel (NVMe/TCP 3.6.1): TLS 1.3 with an external PSK, on listeners with
 * tls = yes. The handshake runs non-blocking on the connection's reactor before the ICReq; the
 * host's PSK identity ("NVMe1R01 <hostnqn> <subnqn> <digest>") names the tenant whose configured
 * PSK (tls_psk = NVMeTLSkey-1:...) is turned into the TLS PSK by target/tls-psk.c. The identity's
 * NQNs are then bound to the queue: a Connect naming another host or subsystem is refused.
 *
 * The kernel's TLS offload is not assumed (kTLS may be missing), so records go through OpenSSL:
 * reads decrypt into the receive buffer, writes copy the send queue's iovecs into a staging
 * buffer that SSL_write seals. The staged bytes are always the first bytes of the send queue
 * that the socket has not taken yet, so the send side's bookkeeping is unchanged.
 *
 * OpenSSL's socket BIO writes with write(2), not send(MSG_NOSIGNAL): a peer gone away raises
 * SIGPIPE, which hnvmfd blocks in every thread (the write then fails with EPIPE). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "conf/keyfmt.h"
#include "core/log.h"
#include "target/tls-psk.h"
#include "transport/tcp/tcp-internal.h"

#define TCP_TLS_STAGE_SIZE (64u * 1024) /* four full TLS records per SSL_write */

static SSL_CTX *tls_ctx;

/* Which HkdfLabel encoding to assume when the identity cannot prove it (version 0, or an
 * untransformed PSK): what nvme-cli 2.x / libnvme 1.x inserted into the hosts' keyrings. */
#define TCP_TLS_LABEL_PREFERRED HNVMF_TLS_LABEL_LIBNVME_COMPAT

/* The configured PSK of the identity's host, or -ENOKEY. */
static int find_tenant_key(const char *hostnqn, struct hnvmf_key *key)
{
	struct hnvmf_tgt *tgt = tcp_g.env.tgt;
	char psk[sizeof(((struct hnvmf_conf_tenant *)0)->tls_psk)] = "";
	pthread_mutex_lock(&tgt->lock);
	const struct hnvmf_conf_tenant *t =
		hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
	if (t)
		memcpy(psk, t->tls_psk, sizeof(psk));
	pthread_mutex_unlock(&tgt->lock);
	if (!psk[0])
		return -ENOKEY;
	char err[128];
	int rc = hnvmf_tls_key_parse(psk, key, err, sizeof(err));
	OPENSSL_cleanse(psk, sizeof(psk));
	return rc < 0 ? -EINVAL : 0;
}

/* OpenSSL asks for the PSK of the identity the host offered. Returning 1 with no session
 * refuses the identity (the handshake then fails: there is no certificate). */
static int psk_find(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	struct tcp_conn *c = SSL_get_app_data(ssl);
	struct hnvmf_tls_identity id;
	struct hnvmf_key key;
	struct hnvmf_tls_derived d;
	enum hnvmf_tls_hkdf_label used;
	bool proven;
	*sess = NULL;
	if (hnvmf_tls_identity_parse((const char *)identity, len, &id) < 0) {
		log_warn("tcp %s: TLS: malformed PSK identity", c->sq.peer);
		return 1;
	}
	if (id.generated) {
		log_warn("tcp %s: TLS: generated PSKs (secure concatenation) are not supported",
			 c->sq.peer);
		return 1;
	}
	if (find_tenant_key(id.hostnqn, &key) < 0) {
		log_warn("tcp %s: TLS: no PSK configured for host %s", c->sq.peer, id.hostnqn);
		return 1;
	}
	int rc = hnvmf_tls_match_identity(&id, key.hmac, key.data, key.len, TCP_TLS_LABEL_PREFERRED,
					  &d, &used, &proven);
	hnvmf_key_wipe(&key);
	if (rc < 0) {
		log_warn("tcp %s: TLS: identity of host %s does not match its configured PSK",
			 c->sq.peer, id.hostnqn);
		return 1;
	}
	const unsigned char suite[2] = { 0x13, id.cipher == 2 ? 0x02 : 0x01 };
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, suite);
	SSL_SESSION *s = SSL_SESSION_new();
	if (!cipher || !s || !SSL_SESSION_set1_master_key(s, d.psk, d.psk_len) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		OPENSSL_cleanse(&d, sizeof(d));
		return 0;
	}
	OPENSSL_cleanse(&d, sizeof(d));
	snprintf(c->tls_hostnqn, sizeof(c->tls_hostnqn), "%s", id.hostnqn);
	snprintf(c->tls_subnqn, sizeof(c->tls_subnqn), "%s", id.subnqn);
	*sess = s;
	return 1;
}

int tcp_tls_setup(void)
{
	if (tls_ctx)
		return 0;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return -ENOMEM;
	/* NVMe/TCP 3.6.1.1: TLS 1.3, these two suites, PSK with (EC)DHE; no tickets (no
	 * resumption), no certificate. */
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384")) {
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Hosts often just close: an EOF without close_notify is an ordinary end here. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_psk_find_session_callback(ctx, psk_find);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	tls_ctx = ctx;
	return 0;
}

void tcp_tls_fini(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
}

int tcp_tls_conn_start(struct tcp_conn *c)
{
	c->tls_stage = malloc(TCP_TLS_STAGE_SIZE);
	c->ssl = tls_ctx ? SSL_new(tls_ctx) : NULL;
	if (!c->ssl || !c->tls_stage || !SSL_set_fd(c->ssl, c->fd))
		return -ENOMEM;
	SSL_set_app_data(c->ssl, c);
	SSL_set_accept_state(c->ssl);
	c->state = TCP_CONN_TLS_HANDSHAKE;
	return 0;
}

void tcp_tls_free(struct tcp_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	free(c->tls_stage);
	c->tls_stage = NULL;
}

static void log_ssl_error(struct tcp_conn *c, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	log_warn("tcp %s: TLS %s failed%s%s", c->sq.peer, what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

void tcp_tls_handshake(struct tcp_conn *c)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		log_info("tcp %s: TLS secured (%s, host %s)", c->sq.peer,
			 SSL_get_cipher_name(c->ssl), c->tls_hostnqn);
		c->sq.tls = true;
		c->state = TCP_CONN_WAIT_ICREQ;
		c->want_out = false;
		tcp_conn_set_events(c);
		/* The ICReq may have come with the handshake's last flight. */
		tcp_conn_readable(c);
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		c->want_out = false;
		tcp_conn_set_events(c);
		return;
	case SSL_ERROR_WANT_WRITE:
		c->want_out = true;
		tcp_conn_set_events(c);
		return;
	default:
		log_ssl_error(c, "handshake");
		tcp_conn_close(c, "TLS handshake failed");
	}
}

ssize_t tcp_tls_recv(struct tcp_conn *c, void *buf, size_t len)
{
	size_t n = 0;
	ERR_clear_error();
	int rc = SSL_read_ex(c->ssl, buf, len, &n);
	if (rc == 1)
		return (ssize_t)n;
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify */
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && errno == 0)
			return 0; /* EOF without close_notify */
		/* fall through */
	default:
		log_ssl_error(c, "read");
		errno = EIO;
		return -1;
	}
}

bool tcp_tls_pending(const struct tcp_conn *c)
{
	return c->ssl && SSL_has_pending(c->ssl);
}

/* Like sendmsg on the concatenation of v: returns how many of its bytes the TLS layer took. */
ssize_t tcp_tls_send(struct tcp_conn *c, const struct iovec *v, int n)
{
	/* Stage more only when no SSL_write waits to be repeated with the same bytes. */
	if (c->tls_write_len == 0) {
		size_t skip = c->tls_staged;
		for (int i = 0; i < n && c->tls_staged < TCP_TLS_STAGE_SIZE; i++) {
			size_t len = v[i].iov_len;
			const uint8_t *p = v[i].iov_base;
			if (skip >= len) {
				skip -= len;
				continue;
			}
			p += skip;
			len -= skip;
			skip = 0;
			size_t room = TCP_TLS_STAGE_SIZE - c->tls_staged;
			size_t take = len < room ? len : room;
			memcpy(c->tls_stage + c->tls_staged, p, take);
			c->tls_staged += (uint32_t)take;
		}
		c->tls_write_len = c->tls_staged;
	}
	if (c->tls_write_len == 0)
		return 0;
	size_t w = 0;
	ERR_clear_error();
	int rc = SSL_write_ex(c->ssl, c->tls_stage, c->tls_write_len, &w);
	if (rc == 1) {
		memmove(c->tls_stage, c->tls_stage + w, c->tls_staged - w);
		c->tls_staged -= (uint32_t)w;
		c->tls_write_len = 0;
		return (ssize_t)w;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	default:
		log_ssl_error(c, "write");
		errno = EIO;
		return -1;
	}
}

/* A Connect on a TLS connection must name the host and subsystem of the PSK identity: the
 * target trusts sq->tls as proof of the host's identity. Returns 0 or the status to fail with. */
uint16_t tcp_tls_check_connect(struct tcp_req *t)
{
	const struct hnvmf_req *req = &t->req;
	if (!t->conn->ssl || req->cmd->common.opcode != nvme_admin_fabrics ||
	    req->cmd->fabrics.fctype != nvme_fabrics_type_connect)
		return 0;
	struct nvmf_connect_data d;
	if (req->data_len < sizeof(d) || !t->data)
		return 0; /* the target refuses a short Connect itself */
	memcpy(&d, t->data, sizeof(d));
	if (strncmp(d.hostnqn, t->conn->tls_hostnqn, sizeof(d.hostnqn)) != 0 ||
	    strncmp(d.subsysnqn, t->conn->tls_subnqn, sizeof(d.subsysnqn)) != 0) {
		log_warn("tcp %s: Connect for %.*s / %.*s does not match the TLS identity (%s / %s)",
			 t->conn->sq.peer, (int)strnlen(d.hostnqn, sizeof(d.hostnqn)), d.hostnqn,
			 (int)strnlen(d.subsysnqn, sizeof(d.subsysnqn)), d.subsysnqn,
			 t->conn->tls_hostnqn, t->conn->tls_subnqn);
		return HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST);
	}
	return 0;
}
