/* NVMe/TCP secure channel (NVMe/TCP 3.6.1): TLS 1.3 with an external PSK, on listeners with
 * tls = yes. The handshake runs non-blocking on the connection's reactor before the ICReq; the
 * host's PSK identity ("NVMe1R01 <hostnqn> <subnqn> <digest>") names the tenant whose configured
 * PSK (tls_psk = NVMeTLSkey-1:...) is turned into the TLS PSK by proto/tls-psk.c; where the
 * identity does not tell which HkdfLabel encoding the host derived with (version 0, hh 00), the
 * ClientHello's PSK binder does (proto/tls-binder.c). The identity's
 * NQNs are then bound to the queue: a Connect naming another host or subsystem is refused.
 *
 * The kernel's TLS offload is not assumed (kTLS may be missing), so records go through OpenSSL,
 * with a BIO of our own between OpenSSL and the socket:
 *  - Send: OpenSSL seals records into conn->tls_tx->out (its BIO write only appends), and one
 *    send(MSG_NOSIGNAL) per flush hands many records to the kernel, instead of one write(2)
 *    per record. A data run of at least a record is sealed straight from the request's buffer
 *    (one full record per SSL_write); short pieces (headers, small data) are gathered into a
 *    one-record stage first, so records are full. A queue byte counts as sent only when the
 *    whole record holding it is on the socket, so "sent" means what it means without TLS (a
 *    C2HTermReq that is "sent" really left, the queue head stays whole in drop_all).
 *  - Receive: read-ahead into a large OpenSSL buffer (one recv for many records); records are
 *    decrypted into the receive buffer, or straight into the request's buffer (tcp-recv.c).
 *  - TLS 1.3 KeyUpdate from the host: OpenSSL answers it from inside SSL_read; the answer lands
 *    in the same out buffer (room for control records is always kept) and a flush is scheduled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/log.h"
#include "proto/keyfmt.h"
#include "proto/tls-binder.h"
#include "proto/tls-psk.h"
#include "transport/tcp/tcp-internal.h"

/* The largest plaintext of one record (RFC 8446 5.1), and the most a sealed record can take on
 * the wire: header 5, content type 1, padding (OpenSSL adds none unless asked) 256, tag 16. */
#define TLS_RECORD 16384u
#define TLS_RECORD_WIRE (TLS_RECORD + 5 + 1 + 256 + 16)
/* Sealed records waiting for the socket: up to 16 full records per send(), plus two records
 * of room that data never takes (control records: KeyUpdate, alerts, handshake). */
#define TCP_TLS_OUT_DATA (16u * TLS_RECORD_WIRE)
#define TCP_TLS_OUT_SIZE (TCP_TLS_OUT_DATA + 2u * TLS_RECORD_WIRE)
#define TCP_TLS_MAX_RECS 64u /* data records in out, not yet wholly sent */
/* OpenSSL's receive buffer with read-ahead: many records per recv(). */
#define TCP_TLS_READ_AHEAD (256u * 1024)

/* One data record in out: its last byte's position in the stream of ciphertext, and how many
 * send queue bytes it carries. */
struct tls_rec {
	uint64_t end;
	uint32_t plain;
};

struct tcp_tls_tx {
	uint8_t *out;              /* TCP_TLS_OUT_SIZE bytes: ciphertext [out_start, out_end) */
	uint32_t out_start, out_end;
	uint64_t written, sent;    /* ciphertext bytes ever appended / handed to the socket */
	struct tls_rec recs[TCP_TLS_MAX_RECS];
	unsigned rec_head, nrecs;
	size_t sealed;             /* queue-head bytes in recs (sealed, not yet wholly sent) */
	/* An SSL_write that returned WANT_WRITE must be repeated with the same bytes: the next
	 * retry_len queue bytes after the sealed ones (from the stage when retry_staged). */
	uint32_t retry_len;
	bool retry_staged;
	uint8_t stage[TLS_RECORD];
	/* During the handshake: a copy of the host's ClientHello, whose PSK binder tells which
	 * HkdfLabel encoding it used (proto/tls-binder.h); hellos counts the ClientHellos (a
	 * second one follows a HelloRetryRequest). */
	uint8_t *hello;
	uint32_t hello_len;
	unsigned hellos;
	/* The host's encoding; label_proven once an identity or a binder showed it, so that the
	 * ClientHello after a HelloRetryRequest (offering the same PSK) keeps it. */
	enum hnvmf_tls_hkdf_label label;
	bool label_proven;
	/* The PSK a reload replaced (in its grace period) is the one the host holds: the
	 * ClientHello after a HelloRetryRequest, whose binder is not checked here, gets it too. */
	bool psk_previous;
};

static SSL_CTX *tls_ctx;
static BIO_METHOD *tls_bio_method;

/* Which HkdfLabel encoding to assume when neither the identity nor a ClientHello's binder
 * tells (the second ClientHello's binder covers a longer transcript, not rebuilt here; the
 * first one's decision carries over): what nvme-cli 2.x / libnvme 1.x inserted into the hosts'
 * keyrings. */
#define TCP_TLS_LABEL_PREFERRED HNVMF_TLS_LABEL_LIBNVME_COMPAT
/* The largest ClientHello kept for the binder check; hosts send a few hundred bytes. */
#define TCP_TLS_HELLO_MAX 4096u

static void hello_forget(struct tcp_tls_tx *tx)
{
	free(tx->hello);
	tx->hello = NULL;
	tx->hello_len = 0;
}

/* OpenSSL shows each handshake message before it processes it: keep the ClientHello for
 * psk_find. Set only while the handshake runs (it would be called for every record). */
static void hello_keep(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
		       void *arg)
{
	(void)version, (void)arg;
	struct tcp_conn *c = SSL_get_app_data(ssl);
	struct tcp_tls_tx *tx = c->tls_tx;
	const uint8_t *m = buf;
	if (write_p || type != SSL3_RT_HANDSHAKE || len < 4 || m[0] != SSL3_MT_CLIENT_HELLO)
		return;
	tx->hellos++;
	hello_forget(tx);
	if (tx->hellos > 1 || len > TCP_TLS_HELLO_MAX)
		return;
	tx->hello = malloc(len);
	if (tx->hello) {
		memcpy(tx->hello, m, len);
		tx->hello_len = (uint32_t)len;
	}
}

/* The TLS PSK the host derived from the configured PSK key (hnvmf_tls_match_hello): 0 with *d,
 * *used, *proven, or a negative errno. previous: key is the one a reload replaced. */
static int match_key(struct tcp_conn *c, const struct hnvmf_tls_identity *id, bool previous,
		     struct hnvmf_tls_derived *d, enum hnvmf_tls_hkdf_label *used, bool *proven)
{
	struct hnvmf_key key;
	int rc = previous ? hnvmf_tgt_tls_psk_previous(tcp_g.env.tgt, id->hostnqn, &key)
			  : hnvmf_tgt_tls_psk(tcp_g.env.tgt, id->hostnqn, &key);
	if (rc < 0)
		return rc;
	struct tcp_tls_tx *tx = c->tls_tx;
	rc = hnvmf_tls_match_hello(id, tx->hello, tx->hello_len, key.hmac, key.data, key.len,
				   tx->label_proven ? tx->label : TCP_TLS_LABEL_PREFERRED, d, used, proven);
	hnvmf_key_wipe(&key);
	return rc;
}

/* Key rotation (docs/auth.md): while the PSK a reload replaced is in its grace period, a host
 * whose identity or binder the current PSK does not match may hold that one. 0 when it does
 * (*d, *used, *proven replaced); the current PSK's outcome stands otherwise. */
static int match_previous(struct tcp_conn *c, const struct hnvmf_tls_identity *id,
			  struct hnvmf_tls_derived *d, enum hnvmf_tls_hkdf_label *used, bool *proven)
{
	struct tcp_tls_tx *tx = c->tls_tx;
	struct hnvmf_tls_derived pd;
	enum hnvmf_tls_hkdf_label pu;
	bool pp = false;
	int rc = match_key(c, id, true, &pd, &pu, &pp);
	if (rc == 0 && (pp || tx->psk_previous)) {
		if (!tx->psk_previous)
			hnvmf_tgt_tls_psk_previous_used(tcp_g.env.tgt, id->hostnqn);
		tx->psk_previous = true;
		*d = pd;
		*used = pu;
		*proven = pp;
	} else {
		rc = -EKEYREJECTED;
	}
	OPENSSL_cleanse(&pd, sizeof(pd));
	return rc;
}

/* OpenSSL asks for the PSK of the identity the host offered. Returning 1 with no session
 * refuses the identity (the handshake then fails: there is no certificate). */
static int psk_find(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	struct tcp_conn *c = SSL_get_app_data(ssl);
	struct hnvmf_tls_identity id;
	struct hnvmf_tls_derived d;
	enum hnvmf_tls_hkdf_label used;
	bool proven = false;
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
	struct tcp_tls_tx *tx = c->tls_tx;
	int rc = tx->psk_previous ? -EKEYREJECTED : match_key(c, &id, false, &d, &used, &proven);
	if ((rc < 0 || !proven) && match_previous(c, &id, &d, &used, &proven) == 0)
		rc = 0;
	if (rc == -ENOKEY) {
		log_warn("tcp %s: TLS: no PSK configured for host %s", c->sq.peer, id.hostnqn);
		return 1;
	}
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
	tx->label = used;
	tx->label_proven |= proven;
	snprintf(c->tls_hostnqn, sizeof(c->tls_hostnqn), "%s", id.hostnqn);
	snprintf(c->tls_subnqn, sizeof(c->tls_subnqn), "%s", id.subnqn);
	*sess = s;
	return 1;
}

/* ---- the BIO between OpenSSL and the socket ------------------------------------------- */

/* Appends a sealed record (or a control record) to out; never a partial write. */
static int bio_write(BIO *b, const char *buf, int len)
{
	struct tcp_conn *c = BIO_get_data(b);
	struct tcp_tls_tx *tx = c->tls_tx;
	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (TCP_TLS_OUT_SIZE - tx->out_end < (uint32_t)len && tx->out_start > 0) {
		/* Only after a partial send (the socket was full): move the unsent rest down. */
		memmove(tx->out, tx->out + tx->out_start, tx->out_end - tx->out_start);
		tx->out_end -= tx->out_start;
		tx->out_start = 0;
	}
	if (TCP_TLS_OUT_SIZE - tx->out_end < (uint32_t)len) {
		BIO_set_retry_write(b);
		return -1;
	}
	memcpy(tx->out + tx->out_end, buf, (size_t)len);
	tx->out_end += (uint32_t)len;
	tx->written += (uint64_t)len;
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct tcp_conn *c = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(c->fd, buf, (size_t)len, MSG_DONTWAIT);
	c->stats.syscalls++;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH; /* out is sent by tcp_tls_send, not on OpenSSL's flush */
}

int tcp_tls_setup(void)
{
	if (tls_ctx)
		return 0;
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "hnvmf-tcp");
	if (!m || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
	    !BIO_meth_set_ctrl(m, bio_ctrl)) {
		BIO_meth_free(m);
		return -ENOMEM;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		BIO_meth_free(m);
		return -ENOMEM;
	}
	/* NVMe/TCP 3.6.1.1: TLS 1.3, these two suites, PSK with (EC)DHE; no tickets (no
	 * resumption), no certificate. */
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384")) {
		SSL_CTX_free(ctx);
		BIO_meth_free(m);
		return -EINVAL;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	/* Hosts often just close: an EOF without close_notify is an ordinary end here. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_psk_find_session_callback(ctx, psk_find);
	/* Partial writes: one record per SSL_write, so out's room is checked before each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	tls_ctx = ctx;
	tls_bio_method = m;
	return 0;
}

void tcp_tls_fini(void)
{
	SSL_CTX_free(tls_ctx);
	tls_ctx = NULL;
	BIO_meth_free(tls_bio_method);
	tls_bio_method = NULL;
}

int tcp_tls_conn_start(struct tcp_conn *c)
{
	c->tls_tx = calloc(1, sizeof(*c->tls_tx));
	if (!c->tls_tx || !tls_ctx)
		return -ENOMEM;
	c->tls_tx->out = malloc(TCP_TLS_OUT_SIZE);
	c->ssl = SSL_new(tls_ctx);
	BIO *bio = BIO_new(tls_bio_method);
	if (!c->tls_tx->out || !c->ssl || !bio) {
		BIO_free(bio);
		return -ENOMEM;
	}
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_app_data(c->ssl, c);
	SSL_set_msg_callback(c->ssl, hello_keep);
	SSL_set_read_ahead(c->ssl, 1);
	SSL_set_default_read_buffer_len(c->ssl, TCP_TLS_READ_AHEAD);
	SSL_set_accept_state(c->ssl);
	c->state = TCP_CONN_TLS_HANDSHAKE;
	return 0;
}

void tcp_tls_free(struct tcp_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->tls_tx) {
		hello_forget(c->tls_tx);
		free(c->tls_tx->out);
		OPENSSL_cleanse(c->tls_tx->stage, sizeof(c->tls_tx->stage));
		free(c->tls_tx);
		c->tls_tx = NULL;
	}
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

/* ---- send ------------------------------------------------------------------------------ */

/* One send() of the ciphertext in out. more: the caller seals and sends again at once. Returns
 * 0 (a full socket is not an error: the rest stays), or -1 with errno. */
static int push(struct tcp_conn *c, bool more)
{
	struct tcp_tls_tx *tx = c->tls_tx;
	if (tx->out_start == tx->out_end)
		return 0;
	ssize_t n = send(c->fd, tx->out + tx->out_start, tx->out_end - tx->out_start,
			 MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0));
	c->stats.syscalls++;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	tx->out_start += (uint32_t)n;
	tx->sent += (uint64_t)n;
	if (tx->out_start == tx->out_end)
		tx->out_start = tx->out_end = 0;
	return 0;
}

/* Queue bytes of the data records now wholly on the socket. */
static size_t records_sent(struct tcp_tls_tx *tx)
{
	size_t done = 0;
	while (tx->nrecs && tx->recs[tx->rec_head].end <= tx->sent) {
		done += tx->recs[tx->rec_head].plain;
		tx->rec_head = (tx->rec_head + 1) % TCP_TLS_MAX_RECS;
		tx->nrecs--;
	}
	tx->sealed -= done;
	return done;
}

/* Room for one more data record, with the control records' reserve kept free. */
static bool room_for_record(const struct tcp_tls_tx *tx)
{
	return tx->nrecs < TCP_TLS_MAX_RECS &&
	       (tx->out_end - tx->out_start) + TLS_RECORD_WIRE <= TCP_TLS_OUT_DATA;
}

/* Seals len (<= TLS_RECORD) queue bytes at p into one record. Returns 1 sealed, 0 WANT_*
 * (retry later with the same bytes), -1 failed. */
static int seal(struct tcp_conn *c, const uint8_t *p, uint32_t len, bool staged)
{
	struct tcp_tls_tx *tx = c->tls_tx;
	size_t w = 0;
	ERR_clear_error();
	int rc = SSL_write_ex(c->ssl, p, len, &w);
	if (rc == 1) {
		/* Partial-write mode seals one record: all of len, as len <= TLS_RECORD. */
		struct tls_rec *r = &tx->recs[(tx->rec_head + tx->nrecs) % TCP_TLS_MAX_RECS];
		r->end = tx->written;
		r->plain = (uint32_t)w;
		tx->nrecs++;
		tx->sealed += w;
		tx->retry_len = 0;
		return 1;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		tx->retry_len = len;
		tx->retry_staged = staged;
		return 0;
	default:
		log_ssl_error(c, "write");
		return -1;
	}
}

/* A position in the iovecs of tcp_tls_send. */
struct cursor {
	const struct iovec *v;
	int n, i;
	size_t off;
};

static void cursor_skip(struct cursor *k, size_t bytes)
{
	while (k->i < k->n) {
		size_t left = k->v[k->i].iov_len - k->off;
		if (bytes < left) {
			k->off += bytes;
			return;
		}
		bytes -= left;
		k->i++;
		k->off = 0;
	}
}

/* The rest of the current iovec; false at the end. */
static bool cursor_piece(struct cursor *k, const uint8_t **p, size_t *len)
{
	while (k->i < k->n && k->off == k->v[k->i].iov_len) {
		k->i++;
		k->off = 0;
	}
	if (k->i >= k->n)
		return false;
	*p = (const uint8_t *)k->v[k->i].iov_base + k->off;
	*len = k->v[k->i].iov_len - k->off;
	return true;
}

/* Gathers short pieces into the stage, up to a full record. A large run that follows gives
 * only its unaligned head (len % TLS_RECORD), so that the rest of it is sealed in full records
 * straight from its buffer: a 128 KiB read costs no copy. Returns the bytes staged. */
static uint32_t gather(struct tcp_tls_tx *tx, struct cursor *k)
{
	uint32_t n = 0;
	const uint8_t *p;
	size_t len;
	while (n < TLS_RECORD && cursor_piece(k, &p, &len)) {
		size_t take = len < TLS_RECORD - n ? len : TLS_RECORD - n;
		bool large = len >= TLS_RECORD;
		if (large && n > 0) {
			take = len % TLS_RECORD;
			if (take > TLS_RECORD - n)
				take = TLS_RECORD - n;
		}
		memcpy(tx->stage + n, p, take);
		n += (uint32_t)take;
		cursor_skip(k, take);
		if (large)
			break;
	}
	return n;
}

ssize_t tcp_tls_send(struct tcp_conn *c, const struct iovec *v, int n)
{
	struct tcp_tls_tx *tx = c->tls_tx;
	struct cursor k = { .v = v, .n = n };
	cursor_skip(&k, tx->sealed);
	int rc = 1;
	if (tx->retry_len) {
		/* OpenSSL holds that record already: it must be given the same bytes again. */
		uint32_t again = tx->retry_len;
		const uint8_t *p = tx->stage;
		size_t len = again;
		if (!tx->retry_staged && !cursor_piece(&k, &p, &len))
			len = 0; /* cannot happen: those bytes stay queued until sealed */
		rc = len >= again ? seal(c, p, again, tx->retry_staged) : 0;
		if (rc == 1)
			cursor_skip(&k, again);
	}
	const uint8_t *p;
	size_t len;
	while (rc == 1 && room_for_record(tx) && cursor_piece(&k, &p, &len)) {
		if (len >= TLS_RECORD) {
			rc = seal(c, p, TLS_RECORD, false);
			if (rc == 1)
				cursor_skip(&k, TLS_RECORD);
		} else {
			uint32_t staged = gather(tx, &k);
			rc = seal(c, tx->stage, staged, true);
		}
	}
	if (rc < 0) {
		errno = EIO;
		return -1;
	}
	/* Stopped for room with bytes left: the flush calls again at once, so cork this send. */
	bool left = cursor_piece(&k, &p, &len);
	if (push(c, rc == 1 && left) < 0)
		return -1;
	size_t done = records_sent(tx);
	if (!done && left && !tcp_tls_unsent(c)) {
		/* Nothing sealed, sent or waiting for the socket: the caller would spin. */
		log_warn("tcp %s: TLS send made no progress", c->sq.peer);
		errno = EIO;
		return -1;
	}
	return (ssize_t)done;
}

size_t tcp_tls_held(const struct tcp_conn *c)
{
	return c->tls_tx ? c->tls_tx->sealed + c->tls_tx->retry_len : 0;
}

bool tcp_tls_unsent(const struct tcp_conn *c)
{
	return c->tls_tx && c->tls_tx->out_start != c->tls_tx->out_end;
}

void tcp_tls_drop_unsent(struct tcp_conn *c)
{
	struct tcp_tls_tx *tx = c->tls_tx;
	if (!tx)
		return;
	tx->out_start = tx->out_end = 0;
	tx->sent = tx->written;
	tx->nrecs = 0;
	tx->sealed = 0;
	tx->retry_len = 0;
}

/* ---- handshake and receive ------------------------------------------------------------ */

/* Sends what the handshake wrote; EPOLLOUT while some of it waits. False: the socket failed. */
static bool handshake_push(struct tcp_conn *c)
{
	if (push(c, false) < 0)
		return false;
	c->want_out = tcp_tls_unsent(c);
	return true;
}

void tcp_tls_handshake(struct tcp_conn *c)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		SSL_set_msg_callback(c->ssl, NULL);
		hello_forget(c->tls_tx);
		log_info("tcp %s: TLS secured (%s, host %s, PSK derived %s)", c->sq.peer,
			 SSL_get_cipher_name(c->ssl), c->tls_hostnqn,
			 hnvmf_tls_label_name(c->tls_tx->label));
		c->sq.tls = true;
		c->sq.tls_hostnqn = c->tls_hostnqn;
		c->sq.tls_subnqn = c->tls_subnqn;
		c->state = TCP_CONN_WAIT_ICREQ;
		if (!handshake_push(c)) {
			tcp_conn_close(c, "TLS send failed");
			return;
		}
		tcp_conn_set_events(c);
		/* The ICReq may have come with the handshake's last flight. */
		tcp_conn_readable(c);
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		if (!handshake_push(c)) {
			tcp_conn_close(c, "TLS send failed");
			return;
		}
		tcp_conn_set_events(c);
		return;
	default:
		log_ssl_error(c, "handshake");
		push(c, false); /* the alert, if the socket takes it */
		tcp_conn_close(c, "TLS handshake failed");
	}
}

/* Decrypts into buf as many records as OpenSSL already holds (after at most one recv). */
ssize_t tcp_tls_recv(struct tcp_conn *c, void *buf, size_t len)
{
	size_t got = 0;
	int err = SSL_ERROR_NONE;
	while (got < len) {
		size_t n = 0;
		ERR_clear_error();
		int rc = SSL_read_ex(c->ssl, (uint8_t *)buf + got, len - got, &n);
		if (rc != 1) {
			err = SSL_get_error(c->ssl, rc);
			break;
		}
		got += n;
		if (!SSL_has_pending(c->ssl))
			break; /* the next record would cost a recv that the caller decides on */
	}
	/* A KeyUpdate (or an alert) written while reading waits in out. */
	if (tcp_tls_unsent(c))
		tcp_send_schedule(c);
	if (got)
		return (ssize_t)got; /* an end or an error shows on the next call */
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0; /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
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

bool tcp_tls_partial_record(const struct tcp_conn *c)
{
	/* A record whose header is in waits for its body ("RB"); an unfinished header is
	 * read-ahead bytes not parsed yet (pending). */
	return c->ssl && (SSL_has_pending(c->ssl) || strcmp(SSL_rstate_string(c->ssl), "RB") == 0);
}
