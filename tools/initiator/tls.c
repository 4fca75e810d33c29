/* TLS 1.3 with an external PSK on an initiator queue (see tls.h). One SSL_CTX per queue: the
 * queue's identity, key and cipher suite are all its own, and opening a queue is rare. The
 * socket is reached through a small BIO of our own rather than OpenSSL's socket BIO, so writes
 * use send(MSG_NOSIGNAL) (a library must not raise SIGPIPE in its caller), the records of one
 * flush are corked together with MSG_MORE, and the queue's counters see every system call. */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "proto/keyfmt.h"
#include "proto/tls-psk.h"
#include "tools/initiator/queue-internal.h"
#include "tools/initiator/tls.h"

/* The largest plaintext of one TLS record (RFC 8446 5.1): what the staging buffer holds. */
#define INI_TLS_RECORD 16384u
/* OpenSSL's receive buffer with read-ahead: many records per recv() system call. */
#define INI_TLS_READ_AHEAD (256u * 1024)

struct ini_tls {
	SSL_CTX *ctx;
	SSL *ssl;
	struct hnvmf_tls_derived d; /* identity and TLS PSK; the keys are wiped after the handshake */
	/* The SSL_write in progress: it must be repeated with the same bytes after WANT_WRITE. */
	const uint8_t *wbuf;
	size_t wlen;
	bool wdirect;               /* wbuf points into the send ring, not at the stage */
	bool more;                  /* more records follow this one at once: send with MSG_MORE */
	uint8_t stage[INI_TLS_RECORD];
};

/* ---- the socket BIO --------------------------------------------------------------------- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_method_once = PTHREAD_ONCE_INIT;

static int sock_write(BIO *b, const char *buf, int len)
{
	struct hnvmf_ini_queue *q = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	/* OpenSSL writes each record on its own; MSG_MORE lets the kernel gather the records of
	 * one flush into large segments (one loopback delivery, fewer wake-ups of the peer)
	 * instead of pushing every 16 KiB. The last record of a flush goes without it. */
	int more = q->tls && q->tls->more ? MSG_MORE : 0;
	ssize_t n = send(q->fd, buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT | more);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	q->stats.sendmsgs++;
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	struct hnvmf_ini_queue *q = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(q->fd, buf, (size_t)len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	q->stats.recvs++;
	return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH; /* nothing is buffered here */
}

static void sock_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hnvmf-ini-socket");
	if (m && BIO_meth_set_write(m, sock_write) && BIO_meth_set_read(m, sock_read) &&
	    BIO_meth_set_ctrl(m, sock_ctrl)) {
		sock_method = m;
		return;
	}
	BIO_meth_free(m);
}

/* ---- handshake --------------------------------------------------------------------------- */

/* OpenSSL asks which PSK to offer: our identity, with a session carrying the TLS PSK and the
 * suite of its hash. md is the hash of a HelloRetryRequest's suite; a PSK of another hash
 * cannot be offered then. */
static int psk_use_session(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
			   SSL_SESSION **sess)
{
	struct ini_tls *t = SSL_get_app_data(ssl);
	const unsigned char suite[2] = { 0x13, t->d.id.cipher == 2 ? 0x02 : 0x01 };
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, suite);
	*sess = NULL;
	if (!cipher)
		return 0;
	if (md && EVP_MD_get_type(md) != EVP_MD_get_type(SSL_CIPHER_get_handshake_digest(cipher)))
		return 1;
	SSL_SESSION *s = SSL_SESSION_new();
	if (!s || !SSL_SESSION_set1_master_key(s, t->d.psk, t->d.psk_len) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		SSL_SESSION_free(s);
		return 0;
	}
	*id = (const unsigned char *)t->d.identity;
	*idlen = strlen(t->d.identity);
	*sess = s;
	return 1;
}

static int remaining_ms(uint64_t deadline_ns)
{
	uint64_t now = hnvmf_ini_now_ns();
	return now >= deadline_ns ? 0 : (int)((deadline_ns - now + 999999) / 1000000);
}

/* Waits for what OpenSSL asked (err is SSL_get_error's value). Returns 0, -ETIMEDOUT, -errno. */
static int wait_for(int fd, int err, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN };
	for (;;) {
		int r = poll(&p, 1, remaining_ms(deadline_ns));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r ? 0 : -ETIMEDOUT;
	}
}

/* The failure of an SSL call that is neither WANT_READ nor WANT_WRITE, as -errno + reason. */
static int ssl_failure(int err, const char *what, char *why, size_t whylen)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && !e)) {
		snprintf(why, whylen, "TLS %s: connection closed by the controller", what);
		return -ECONNRESET;
	}
	if (err == SSL_ERROR_SYSCALL) {
		snprintf(why, whylen, "TLS %s: %s", what, buf);
		return -EIO;
	}
	/* A PSK-only handshake the controller refuses means it did not accept our identity or
	 * key: it answers with an alert instead of a ServerHello that selects our PSK. */
	snprintf(why, whylen, "TLS %s refused: %s", what, buf[0] ? buf : "protocol error");
	return -EKEYREJECTED;
}

static int derive(struct ini_tls *t, const struct ini_tls_params *p, char *why, size_t whylen)
{
	struct hnvmf_key key;
	char err[96];
	if (!p->key || hnvmf_tls_key_parse(p->key, &key, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "TLS key: %s", p->key ? err : "none given");
		return -EINVAL;
	}
	int r = hnvmf_tls_derive_configured(key.hmac, key.data, key.len, p->hostnqn, p->subnqn,
					    p->identity_version,
					    (enum hnvmf_tls_hkdf_label)p->hkdf_label, &t->d);
	hnvmf_key_wipe(&key);
	if (r < 0) {
		snprintf(why, whylen, "TLS PSK identity/derivation failed (identity version %d): %s",
			 p->identity_version, strerror(-r));
		return -EINVAL;
	}
	return 0;
}

static int setup(struct ini_tls *t, struct hnvmf_ini_queue *q)
{
	pthread_once(&sock_method_once, sock_method_init);
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!sock_method || !t->ctx)
		return -ENOMEM;
	/* NVMe/TCP 3.6.1.1: TLS 1.3 only, the suite of the PSK's hash, PSK with (EC)DHE. */
	const char *suite = t->d.id.cipher == 2 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
	if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(t->ctx, suite))
		return -EINVAL;
	SSL_CTX_set_psk_use_session_callback(t->ctx, psk_use_session);
	/* Partial writes: one record per SSL_write, so the send ring advances record by record. */
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	/* The controller may just close: an EOF without close_notify ends the stream normally. */
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl)
		return -ENOMEM;
	BIO *bio = BIO_new(sock_method);
	if (!bio)
		return -ENOMEM;
	BIO_set_data(bio, q);
	BIO_set_init(bio, 1);
	SSL_set_bio(t->ssl, bio, bio);
	SSL_set_app_data(t->ssl, t);
	SSL_set_read_ahead(t->ssl, 1);
	SSL_set_default_read_buffer_len(t->ssl, INI_TLS_READ_AHEAD);
	SSL_set_connect_state(t->ssl);
	return 0;
}

int ini_tls_open(struct hnvmf_ini_queue *q, const struct ini_tls_params *p, uint64_t deadline_ns,
		 char *why, size_t whylen)
{
	struct ini_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	int r = derive(t, p, why, whylen);
	if (!r) {
		r = setup(t, q);
		if (r)
			snprintf(why, whylen, "TLS setup: %s", strerror(-r));
	}
	while (!r) {
		ERR_clear_error();
		int rc = SSL_do_handshake(t->ssl);
		if (rc == 1)
			break;
		int err = SSL_get_error(t->ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			r = ssl_failure(err, "handshake", why, whylen);
			break;
		}
		r = wait_for(q->fd, err, deadline_ns);
		if (r)
			snprintf(why, whylen, "TLS handshake: %s", strerror(-r));
	}
	/* The PSKs are in the session now; nothing else needs them. */
	OPENSSL_cleanse(t->d.retained, sizeof(t->d.retained));
	OPENSSL_cleanse(t->d.psk, sizeof(t->d.psk));
	if (r) {
		ini_tls_close(t);
		return r;
	}
	q->tls = t;
	return 0;
}

void ini_tls_close(struct ini_tls *t)
{
	if (!t)
		return;
	if (t->ssl && SSL_is_init_finished(t->ssl)) {
		t->more = false; /* close_notify must not wait corked behind MSG_MORE */
		ERR_clear_error();
		SSL_shutdown(t->ssl); /* close_notify if the socket takes it; no wait for the reply */
	}
	ERR_clear_error();
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

const char *ini_tls_cipher(const struct ini_tls *t)
{
	return t && t->ssl ? SSL_get_cipher_name(t->ssl) : "";
}

/* ---- blocking transfers (ICReq / ICResp) ------------------------------------------------- */

int ini_tls_send_all(struct hnvmf_ini_queue *q, const void *buf, size_t len, uint64_t deadline_ns)
{
	struct ini_tls *t = q->tls;
	size_t off = 0;
	char why[256];
	while (off < len) {
		size_t w = 0;
		ERR_clear_error();
		int rc = SSL_write_ex(t->ssl, (const uint8_t *)buf + off, len - off, &w);
		if (rc == 1) {
			off += w;
			continue;
		}
		int err = SSL_get_error(t->ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return ssl_failure(err, "write", why, sizeof(why));
		int r = wait_for(q->fd, err, deadline_ns);
		if (r)
			return r;
	}
	return 0;
}

int ini_tls_recv_all(struct hnvmf_ini_queue *q, void *buf, size_t len, uint64_t deadline_ns)
{
	struct ini_tls *t = q->tls;
	size_t off = 0;
	char why[256];
	while (off < len) {
		size_t n = 0;
		ERR_clear_error();
		int rc = SSL_read_ex(t->ssl, (uint8_t *)buf + off, len - off, &n);
		if (rc == 1) {
			off += n;
			continue;
		}
		int err = SSL_get_error(t->ssl, rc);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
			return ssl_failure(err, "read", why, sizeof(why));
		int r = wait_for(q->fd, err, deadline_ns);
		if (r)
			return r;
	}
	return 0;
}

/* ---- the I/O path ---------------------------------------------------------------------- */

ssize_t ini_tls_readv(struct hnvmf_ini_queue *q, const struct iovec *iov, int niov)
{
	struct ini_tls *t = q->tls;
	size_t total = 0;
	for (int i = 0; i < niov; i++) {
		size_t off = 0;
		while (off < iov[i].iov_len) {
			size_t n = 0;
			ERR_clear_error();
			/* At most one record per call: loop until the iovec is full or the socket
			 * and OpenSSL's read-ahead buffer are both empty. */
			int rc = SSL_read_ex(t->ssl, (uint8_t *)iov[i].iov_base + off,
					     iov[i].iov_len - off, &n);
			if (rc == 1) {
				off += n;
				continue;
			}
			total += off;
			int err = SSL_get_error(t->ssl, rc);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
				if (total)
					return (ssize_t)total;
				errno = EAGAIN;
				return -1;
			}
			if (total)
				return (ssize_t)total; /* the end or the error shows on the next call */
			if (err == SSL_ERROR_ZERO_RETURN) {
				ERR_clear_error();
				return 0;
			}
			char why[256];
			int r = ssl_failure(err, "read", why, sizeof(why));
			ini_queue_fail(q, r == -EKEYREJECTED ? -EIO : r, "qid %u: %s", q->qid, why);
			errno = r == -ECONNRESET ? ECONNRESET : EIO;
			return -1;
		}
		total += off;
	}
	return (ssize_t)total;
}

/* The first unsent byte of the send ring and how many follow it in the same iovec. */
static bool ring_head_piece(const struct hnvmf_ini_queue *q, const uint8_t **p, size_t *len)
{
	size_t skip = q->send_off;
	for (unsigned i = q->ring_head; i != q->ring_tail; i++) {
		const struct ini_send_ent *e = &q->ring[i & q->ring_mask];
		for (unsigned k = 0; k < e->niov; k++) {
			if (skip >= e->iov[k].iov_len) {
				skip -= e->iov[k].iov_len;
				continue;
			}
			*p = (const uint8_t *)e->iov[k].iov_base + skip;
			*len = e->iov[k].iov_len - skip;
			return true;
		}
	}
	return false;
}

/* Chooses the next SSL_write from the send ring: a data run of at least a record is sealed
 * straight from where it is (OpenSSL takes one record of it per call); anything shorter is
 * gathered with what follows into the staging buffer, up to a full record. Bytes copied into
 * the stage count as sent for the ring at once: the stage owns them now, and the entry that
 * ends meanwhile lets the next H2CData PDU of its command join the same record (instead of a
 * tiny record holding the tail of one PDU). False when there is nothing to send. */
static bool next_write(struct hnvmf_ini_queue *q, struct ini_tls *t)
{
	const uint8_t *p;
	size_t len, n = 0;
	while (n < INI_TLS_RECORD && ring_head_piece(q, &p, &len)) {
		if (n == 0 && len >= INI_TLS_RECORD) {
			t->wbuf = p;
			t->wlen = len;
			t->wdirect = true;
			return true;
		}
		size_t take = len < INI_TLS_RECORD - n ? len : INI_TLS_RECORD - n;
		memcpy(t->stage + n, p, take);
		n += take;
		ini_sent(q, take);
	}
	t->wbuf = t->stage;
	t->wlen = n;
	t->wdirect = false;
	return n != 0;
}

/* Whether the send ring holds bytes beyond its first skip unsent ones. */
static bool ring_has_more(const struct hnvmf_ini_queue *q, size_t skip)
{
	skip += q->send_off;
	for (unsigned i = q->ring_head; i != q->ring_tail; i++) {
		const struct ini_send_ent *e = &q->ring[i & q->ring_mask];
		for (unsigned k = 0; k < e->niov; k++) {
			if (skip < e->iov[k].iov_len)
				return true;
			skip -= e->iov[k].iov_len;
		}
	}
	return false;
}

int ini_tls_flush(struct hnvmf_ini_queue *q)
{
	struct ini_tls *t = q->tls;
	while (t->wlen || next_write(q, t)) {
		/* a direct write seals one record of the ring's bytes; the stage's are out of it */
		t->more = t->wdirect ? ring_has_more(q, t->wlen < INI_TLS_RECORD ? t->wlen : INI_TLS_RECORD)
				     : t->wlen > INI_TLS_RECORD || ring_has_more(q, 0);
		size_t w = 0;
		ERR_clear_error();
		int rc = SSL_write_ex(t->ssl, t->wbuf, t->wlen, &w);
		if (rc == 1) {
			if (t->wdirect) {
				t->wlen = 0;
				ini_sent(q, w);
			} else {
				/* a staged record is sealed whole; keep any rest for the next call */
				memmove(t->stage, t->stage + w, t->wlen - w);
				t->wlen -= w;
			}
			continue;
		}
		int err = SSL_get_error(t->ssl, rc);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
			return 0; /* repeated with the same bytes when the socket has room */
		char why[256];
		int r = ssl_failure(err, "write", why, sizeof(why));
		return ini_queue_fail(q, r == -EKEYREJECTED ? -EIO : r, "qid %u: %s", q->qid, why);
	}
	return 0;
}

bool ini_tls_send_pending(const struct ini_tls *t)
{
	return t && t->wlen;
}

void ini_tls_reset_send(struct ini_tls *t)
{
	if (t)
		t->wlen = 0;
}
