/* NVMe/TCP over TLS 1.3 with a configured PSK: an OpenSSL client derives its identity and TLS
 * PSK as nvme-cli does (proto/tls-psk.c), the transport finds the tenant's key, and then
 * everything of test_tcp_conn.c's happy path runs through the secure channel. Also: the wrong
 * key, an unknown host, and the PSK identity handed to the target with the queue (the target
 * refuses a Connect naming another host: tests/integration/test_admission.c). */
#include "test_tcp_fakes.h"

#include <inttypes.h>
#include <signal.h>

#include <openssl/err.h>

#include "proto/keyfmt.h"
#include "proto/tls-psk.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0b5e7f0c-1111-4222-8333-944455556666"
#define SUBNQN "nqn.2026-01.io.hnvmf:default"

static struct hnvmf_conf_tenant tenant;
static struct hnvmf_key tenant_key;
static struct hnvmf_tls_derived client; /* what the host offers */
static SSL_CTX *client_ctx;

static int client_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		      SSL_SESSION **sess)
{
	(void)md;
	const unsigned char suite[2] = { 0x13, client.id.cipher == 2 ? 0x02 : 0x01 };
	SSL_SESSION *s = SSL_SESSION_new();
	assert_non_null(s);
	assert_int_equal(SSL_SESSION_set1_master_key(s, client.psk, client.psk_len), 1);
	assert_int_equal(SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, suite)), 1);
	assert_int_equal(SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION), 1);
	*id = (const unsigned char *)client.identity;
	*idlen = strlen(client.identity);
	*sess = s;
	return 1;
}

/* The host derives identity and TLS PSK from a configured key, as nvme-cli does. */
static void host_derives(int hh, const uint8_t *key, size_t len, const char *hostnqn,
			 enum hnvmf_tls_hkdf_label enc)
{
	assert_int_equal(hnvmf_tls_derive_configured(hh, key, len, hostnqn, SUBNQN, 1, enc, &client),
			 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&ft, 0, sizeof(ft));
	memset(evs, 0, sizeof(evs));
	memset(pollers, 0, sizeof(pollers));
	pump_thread = pthread_self();
	signal(SIGPIPE, SIG_IGN); /* as hnvmfd blocks it (the target sends with MSG_NOSIGNAL) */
	conf.queue_depth = 64;
	conf.inline_data_size = 8192;
	conf.mdts_kib = 1024;
	default_limits();
	tgt.conf = &conf;
	pthread_mutex_init(&tgt.lock, NULL);
	/* The tenant's configured PSK: hh 01 (SHA-256), 32 bytes. */
	memset(&tenant, 0, sizeof(tenant));
	snprintf(tenant.hostnqn, sizeof(tenant.hostnqn), "%s", HOSTNQN);
	tenant_key.len = 32;
	tenant_key.hmac = 1;
	for (int i = 0; i < 32; i++)
		tenant_key.data[i] = (uint8_t)(0x40 + i);
	assert_int_equal(hnvmf_tls_key_format(&tenant_key, tenant.tls_psk, sizeof(tenant.tls_psk)), 0);
	tgt.tenants = &tenant;
	tgt.ntenants = 1;
	memset(&port, 0, sizeof(port));
	port.conf.tls = true;
	reactor_ptrs[0] = R(0);
	reactor_ptrs[1] = R(1);
	struct hnvmf_transport_env env = { .tgt = &tgt, .reactors = reactor_ptrs, .nreactors = 2 };
	assert_int_equal(hnvmf_tcp_transport.init(&env), 0);
	assert_int_equal(tcp_tls_setup(), 0); /* what listen does for a tls listener */

	client_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(client_ctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(client_ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	SSL_CTX_set_psk_use_session_callback(client_ctx, client_psk);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pump();
	assert_int_equal(atomic_load(&tcp_g.nconns), 0);
	hnvmf_tcp_transport.fini();
	SSL_CTX_free(client_ctx);
	pthread_mutex_destroy(&tgt.lock);
	free(ft.last_write);
	ft.last_write = NULL;
	return 0;
}

/* Groups the target's side of the next connection takes (NULL: OpenSSL's default). */
static const char *server_groups;

/* A connection on the TLS listener and the client's handshake; returns whether it succeeded. */
static bool tls_open(struct host *h)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(h, 0, sizeof(*h));
	h->fd = sv[1];
	h->c = tcp_conn_create(&tcp_g.rts[0], &port, sv[0], "tls-host");
	hnvmf_reactor_send(R(0), &h->c->start_msg);
	pump();
	assert_int_equal(h->c->state, TCP_CONN_TLS_HANDSHAKE);
	if (server_groups)
		assert_int_equal(SSL_set1_groups_list(h->c->ssl, server_groups), 1);
	SSL *ssl = SSL_new(client_ctx);
	SSL_set_fd(ssl, h->fd);
	SSL_set_connect_state(ssl);
	for (int i = 0; i < 10000; i++) {
		int rc = SSL_do_handshake(ssl);
		if (rc == 1) {
			host_tls[h->fd] = ssl;
			pump();
			return true;
		}
		int e = SSL_get_error(ssl, rc);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
		pump();
	}
	ERR_clear_error();
	SSL_free(ssl);
	return false;
}

static void tls_close(struct host *h)
{
	SSL_free(host_tls[h->fd]);
	host_tls[h->fd] = NULL;
	close_host(h);
}

static void icreq(struct host *h)
{
	send_icreq(h, 0);
	struct hnvmf_tcp_icresp r;
	recv_all(h->fd, &r, sizeof(r));
	assert_int_equal(r.hdr.type, HNVMF_TCP_ICRESP);
	assert_int_equal(h->c->state, TCP_CONN_LIVE);
}

static void send_connect(struct host *h, uint16_t cid, const char *hostnqn, const char *subnqn)
{
	struct nvmf_connect_data d;
	memset(&d, 0, sizeof(d));
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", subnqn);
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = sizeof(p);
	p.hdr.pdo = sizeof(p);
	p.hdr.plen = htole32(sizeof(p) + sizeof(d));
	p.sqe.connect.opcode = nvme_admin_fabrics;
	p.sqe.connect.cid = htole16(cid);
	p.sqe.connect.fctype = nvme_fabrics_type_connect;
	p.sqe.connect.dptr.type = HNVMF_SGL_DATA_BLOCK_OFFSET;
	p.sqe.connect.dptr.length = htole32(sizeof(d));
	send_all(h->fd, &p, sizeof(p));
	send_all(h->fd, &d, sizeof(d));
}

static void io_over_tls(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	assert_true(h.c->sq.tls);
	assert_string_equal(h.c->tls_hostnqn, HOSTNQN);
	icreq(&h);
	send_connect(&h, 1, HOSTNQN, SUBNQN);
	expect_rsp(&h, 1, 0);
	assert_int_equal(ft.executed, 1);
	send_cmd(&h, OPC_READ, 2, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	expect_read(&h, 2, 4096);
	/* Larger than the staging buffer: several SSL_writes carry one C2HData PDU. */
	send_cmd(&h, OPC_READ, 3, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	expect_read(&h, 3, 1024 * 1024);
	/* A write through R2T and H2CData. */
	static uint8_t data[256 * 1024];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 5 + 1);
	send_cmd(&h, OPC_WRITE, 4, HNVMF_SGL_TRANSPORT_DATA, sizeof(data), NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	uint16_t ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	send_h2c(&h, 4, ttag, 0, data, sizeof(data) / 2, false);
	send_h2c(&h, 4, ttag, sizeof(data) / 2, data + sizeof(data) / 2, sizeof(data) / 2, true);
	expect_rsp(&h, 4, 0);
	assert_memory_equal(ft.last_write, data, sizeof(data));
	tls_close(&h);
}

/* The hh 01 identity's digest tells which HkdfLabel encoding the host used: both work. */
static void both_label_encodings(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_LIBNVME_COMPAT);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	tls_close(&h);
}

/* A version 0 identity reads the same under both encodings, yet the TLS PSKs differ (the
 * reference initiator derives with RFC 8446, nvme-cli 2.x with the compat one): the binder
 * of the ClientHello tells the target which the host used, so both connect. */
static void v0_identity_either_encoding(void **state)
{
	(void)state;
	const enum hnvmf_tls_hkdf_label encs[] = { HNVMF_TLS_LABEL_RFC8446,
						   HNVMF_TLS_LABEL_LIBNVME_COMPAT };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hnvmf_tls_derive_configured(1, tenant_key.data, 32, HOSTNQN, SUBNQN,
							     0, encs[i], &client), 0);
		assert_memory_equal(client.identity, "NVMe0R01 ", 9);
		struct host h;
		assert_true(tls_open(&h));
		icreq(&h);
		tls_close(&h);
	}
}

/* An untransformed (hh 00) PSK: retained = configured, so even a version 1 identity's digest
 * is the same under both encodings; the binder decides here too. */
static void untransformed_key_either_encoding(void **state)
{
	(void)state;
	tenant_key.hmac = 0;
	assert_int_equal(hnvmf_tls_key_format(&tenant_key, tenant.tls_psk, sizeof(tenant.tls_psk)), 0);
	const enum hnvmf_tls_hkdf_label encs[] = { HNVMF_TLS_LABEL_RFC8446,
						   HNVMF_TLS_LABEL_LIBNVME_COMPAT };
	for (int i = 0; i < 4; i++) { /* identity version i / 2 */
		assert_int_equal(hnvmf_tls_derive_configured(0, tenant_key.data, 32, HOSTNQN, SUBNQN,
							     i / 2, encs[i % 2], &client), 0);
		struct host h;
		assert_true(tls_open(&h));
		icreq(&h);
		tls_close(&h);
	}
}

/* Counts the ServerHellos a client receives: a HelloRetryRequest is one too. */
static unsigned server_hellos;
static void count_server_hellos(int write_p, int version, int type, const void *buf, size_t len,
				SSL *ssl, void *arg)
{
	(void)version, (void)ssl, (void)arg;
	if (!write_p && type == SSL3_RT_HANDSHAKE && len >= 4 &&
	    ((const uint8_t *)buf)[0] == SSL3_MT_SERVER_HELLO)
		server_hellos++;
}

/* The host's key share is for a group the target does not take: HelloRetryRequest, and a
 * second ClientHello whose binder covers a longer transcript. The encoding found in the first
 * ClientHello still holds. */
static void v0_identity_after_hello_retry(void **state)
{
	(void)state;
	assert_int_equal(SSL_CTX_set1_groups_list(client_ctx, "X25519:P-256"), 1);
	SSL_CTX_set_msg_callback(client_ctx, count_server_hellos);
	server_groups = "P-256";
	for (int i = 0; i < 2; i++) {
		enum hnvmf_tls_hkdf_label enc = i ? HNVMF_TLS_LABEL_LIBNVME_COMPAT
						  : HNVMF_TLS_LABEL_RFC8446;
		assert_int_equal(hnvmf_tls_derive_configured(1, tenant_key.data, 32, HOSTNQN, SUBNQN,
							     0, enc, &client), 0);
		server_hellos = 0;
		struct host h;
		assert_true(tls_open(&h));
		assert_int_equal(server_hellos, 2); /* the retry request, then the ServerHello */
		icreq(&h);
		tls_close(&h);
	}
	server_groups = NULL;
}

/* With a version 0 identity a wrong key matches the identity; its binder verifies under
 * neither encoding and the handshake fails. */
static void v0_wrong_key_fails_handshake(void **state)
{
	(void)state;
	uint8_t other[32];
	memset(other, 0x77, sizeof(other));
	assert_int_equal(hnvmf_tls_derive_configured(1, other, 32, HOSTNQN, SUBNQN, 0,
						     HNVMF_TLS_LABEL_RFC8446, &client), 0);
	struct host h;
	assert_false(tls_open(&h));
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

static void identity_reaches_the_target(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	ft.hold = true;
	send_connect(&h, 1, "nqn.2014-08.org.nvmexpress:uuid:someone-else", SUBNQN);
	pump();
	assert_int_equal(ft.nheld, 1);
	const struct hnvmf_sq *sq = ft.held[0]->sq;
	assert_true(sq->tls);
	assert_string_equal(sq->tls_hostnqn, HOSTNQN);
	assert_string_equal(sq->tls_subnqn, SUBNQN);
	fake_finish(ft.held[0]);
	expect_rsp(&h, 1, 0);
	tls_close(&h);
}

static void wrong_key_fails_handshake(void **state)
{
	(void)state;
	uint8_t other[32];
	memset(other, 0x77, sizeof(other));
	host_derives(1, other, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_false(tls_open(&h));
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	assert_int_equal(ft.inits, 1);
	close(h.fd);
}

static void unknown_host_fails_handshake(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, "nqn.2014-08.org.nvmexpress:uuid:stranger",
		     HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_false(tls_open(&h));
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

/* Staged TLS bytes count as started: the read in progress still arrives whole. */
static void terminate_over_tls(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	term_after_partial_send(&h);
	SSL_free(host_tls[h.fd]);
	host_tls[h.fd] = NULL;
}

/* H2CData before its R2T left the send queue (records sealed but not wholly sent count as
 * queued): FES 02h, as in plain text. */
static void early_h2c_over_tls(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	h2c_before_r2t_sent(&h);
	SSL_free(host_tls[h.fd]);
	host_tls[h.fd] = NULL;
}

/* Staged bytes span several responses not yet taken by OpenSSL: they are sent whole. */
static void terminate_over_tls_many(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	term_after_many_responses(&h);
	SSL_free(host_tls[h.fd]);
	host_tls[h.fd] = NULL;
}

/* A TLS record cut short after ICReq: its bytes wait inside OpenSSL, not in the receive buffer,
 * and the PDU timeout must still end the connection. */
static void partial_record_times_out(void **state)
{
	(void)state;
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	static const uint8_t record_hdr[5] = { 0x17, 0x03, 0x03, 0x00, 0x40 }; /* 64 bytes to come */
	assert_int_equal(send(h.fd, record_hdr, sizeof(record_hdr), 0), 5);
	pump();
	tcp_g.pdu_timeout_ns = 0; /* any tick after the one that saw it stalled */
	struct hnvmf_timer *tick = &tcp_g.rts[0].tick;
	tick->cb(tick);
	tick->cb(tick);
	expect_term(&h, HNVMF_TCP_FES_PDU_SEQ_ERR, 0, NULL, 0);
	SSL_free(host_tls[h.fd]);
	host_tls[h.fd] = NULL;
}

/* What the host's SSL saw arrive: data records (plaintext sizes) and KeyUpdate messages. */
static struct {
	unsigned records, full_records, key_updates;
} seen;

static void host_msg_cb(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
			void *arg)
{
	(void)version, (void)ssl, (void)arg;
	const uint8_t *b = buf;
	if (write_p)
		return;
	if (type == SSL3_RT_HEADER && len == 5 && b[0] == SSL3_RT_APPLICATION_DATA) {
		/* TLS 1.3 record: plaintext + content type (1) + AES-GCM tag (16) */
		unsigned clen = (unsigned)b[3] << 8 | b[4];
		seen.records++;
		if (clen == 16384 + 17)
			seen.full_records++;
	}
	if (type == SSL3_RT_HANDSHAKE && len > 0 && b[0] == SSL3_MT_KEY_UPDATE)
		seen.key_updates++;
}

static struct host tls_live(void)
{
	host_derives(1, tenant_key.data, 32, HOSTNQN, HNVMF_TLS_LABEL_RFC8446);
	struct host h;
	assert_true(tls_open(&h));
	icreq(&h);
	send_connect(&h, 1, HOSTNQN, SUBNQN);
	expect_rsp(&h, 1, 0);
	SSL_set_msg_callback(host_tls[h.fd], host_msg_cb);
	memset(&seen, 0, sizeof(seen));
	return h;
}

/* Read commands without data, many in one host record (what a queue-depth burst looks like). */
static void send_reads(struct host *h, uint16_t cid0, unsigned n, uint32_t len)
{
	static struct hnvmf_tcp_cmd p[64];
	assert_true(n <= 64);
	memset(p, 0, sizeof(p));
	for (unsigned i = 0; i < n; i++) {
		p[i].hdr.type = HNVMF_TCP_CMD;
		p[i].hdr.hlen = sizeof(p[i]);
		p[i].hdr.plen = htole32(sizeof(p[i]));
		p[i].sqe.common.opcode = OPC_READ;
		p[i].sqe.common.flags = 0x40;
		p[i].sqe.common.cid = htole16((uint16_t)(cid0 + i));
		p[i].sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		p[i].sqe.common.dptr.length = htole32(len);
	}
	send_all(h->fd, p, n * sizeof(p[0]));
}

/* Sealed records leave in one send per flush, read-ahead takes many records per recv, and the
 * records are full: a 128 KiB read is 8 full records sealed from the data buffer, a burst of
 * 32 x 4 KiB reads is packed into full records. (One write(2) per record and two read(2) per
 * record cost 10+ calls here.) */
static void records_full_and_batched(void **state)
{
	(void)state;
	struct host h = tls_live();
	uint64_t before = h.c->stats.syscalls;
	send_reads(&h, 10, 1, 128 * 1024);
	pump();
	uint64_t calls = h.c->stats.syscalls - before;
	expect_read(&h, 10, 128 * 1024);
	print_message("128 KiB read: %" PRIu64 " target calls, %u records (%u full)\n", calls,
		      seen.records, seen.full_records);
	assert_true(calls <= 3);
	assert_int_equal(seen.full_records, 8);
	assert_true(seen.records <= 10);

	memset(&seen, 0, sizeof(seen));
	before = h.c->stats.syscalls;
	send_reads(&h, 100, 32, 4096);
	pump();
	calls = h.c->stats.syscalls - before;
	for (uint16_t cid = 100; cid < 132; cid++)
		expect_read(&h, cid, 4096);
	print_message("32 x 4 KiB reads: %" PRIu64 " target calls, %u records (%u full)\n", calls,
		      seen.records, seen.full_records);
	/* 32 x (24 + 4096 + 24) bytes = 8 full records and a part */
	assert_true(calls <= 3);
	assert_int_equal(seen.full_records, 8);
	assert_int_equal(seen.records, 9);

	/* 256 KiB of H2CData (16+ host records) read with read-ahead, decrypted in place. */
	static uint8_t data[256 * 1024];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3 + 7);
	send_cmd(&h, OPC_WRITE, 200, HNVMF_SGL_TRANSPORT_DATA, sizeof(data), NULL, 0, false);
	uint8_t pdu[64] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	uint16_t ttag = le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag);
	int big = 1 << 20; /* the whole write fits the socket: the target reads it at once */
	setsockopt(h.fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(h.c->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	before = h.c->stats.syscalls;
	send_h2c(&h, 200, ttag, 0, data, sizeof(data) / 2, false); /* MAXH2CDATA each */
	send_h2c(&h, 200, ttag, sizeof(data) / 2, data + sizeof(data) / 2, sizeof(data) / 2, true);
	expect_rsp(&h, 200, 0);
	calls = h.c->stats.syscalls - before;
	print_message("256 KiB write: %" PRIu64 " target calls\n", calls);
	assert_memory_equal(ft.last_write, data, sizeof(data));
	assert_true(calls <= 8);
	tls_close(&h);
}

/* TLS 1.3 KeyUpdate (RFC 8446 4.6.3), the renegotiation-free rekey: the host updates its keys
 * and asks the target to update too. The target's KeyUpdate must precede its next data (OpenSSL
 * sends it with the next record), and I/O goes on in both directions under the new keys. */
static void key_update_both_ways(void **state)
{
	(void)state;
	struct host h = tls_live();
	SSL *ssl = host_tls[h.fd];
	for (int round = 0; round < 3; round++) {
		unsigned updates = seen.key_updates;
		assert_int_equal(SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED), 1);
		assert_int_equal(SSL_do_handshake(ssl), 1); /* sends the KeyUpdate alone */
		pump();
		uint16_t cid = (uint16_t)(20 + round * 2);
		send_cmd(&h, OPC_READ, cid, HNVMF_SGL_TRANSPORT_DATA, 64 * 1024, NULL, 0, false);
		expect_read(&h, cid, 64 * 1024);
		assert_int_equal(seen.key_updates, updates + 1);
		static uint8_t data[40000];
		for (size_t i = 0; i < sizeof(data); i++)
			data[i] = (uint8_t)(i ^ (size_t)round);
		send_cmd(&h, OPC_WRITE, cid + 1, HNVMF_SGL_TRANSPORT_DATA, sizeof(data), NULL, 0, false);
		uint8_t pdu[64] __attribute__((aligned(8)));
		recv_pdu(&h, pdu, NULL, 0);
		send_h2c(&h, cid + 1, le16toh(((struct hnvmf_tcp_r2t *)pdu)->ttag), 0, data,
			 sizeof(data), true);
		expect_rsp(&h, cid + 1, 0);
		assert_memory_equal(ft.last_write, data, sizeof(data));
	}
	tls_close(&h);
}

/* A 1 MiB read into a socket that takes 16 KiB at a time while the host reads slowly: sealed
 * records wait for EPOLLOUT, partial sends resume where they stopped, the data arrives intact,
 * and the slot is released only once its last record left. */
static void partial_sends(void **state)
{
	(void)state;
	struct host h = tls_live();
	int small = 16384;
	setsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(h.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_cmd(&h, OPC_READ, 30, HNVMF_SGL_TRANSPORT_DATA, 1024 * 1024, NULL, 0, false);
	send_cmd(&h, OPC_READ, 31, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	pump();
	assert_true(h.c->want_out);
	assert_true(tcp_tls_unsent(h.c));
	assert_true(h.c->nbusy >= 1);
	expect_read(&h, 30, 1024 * 1024);
	expect_read(&h, 31, 4096);
	pump();
	assert_false(h.c->want_out);
	assert_false(tcp_tls_unsent(h.c));
	assert_int_equal(tcp_tls_held(h.c), 0);
	assert_int_equal(h.c->nbusy, 0);
	assert_true(seen.full_records >= 64);
	tls_close(&h);
}

/* A plain-text ICReq on the TLS listener is not a ClientHello: the connection is closed. */
static void plaintext_on_tls_listener(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	struct host h = { .fd = sv[1] };
	h.c = tcp_conn_create(&tcp_g.rts[0], &port, sv[0], "plain-host");
	hnvmf_reactor_send(R(0), &h.c->start_msg);
	pump();
	send_icreq(&h, 0);
	assert_true(peer_closed(h.fd));
	assert_int_equal(ft.destroyed, 1);
	close(h.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(io_over_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(both_label_encodings, setup, teardown),
		cmocka_unit_test_setup_teardown(v0_identity_either_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(untransformed_key_either_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(v0_identity_after_hello_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(v0_wrong_key_fails_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_reaches_the_target, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_key_fails_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_host_fails_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(plaintext_on_tls_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(terminate_over_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(terminate_over_tls_many, setup, teardown),
		cmocka_unit_test_setup_teardown(early_h2c_over_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(records_full_and_batched, setup, teardown),
		cmocka_unit_test_setup_teardown(key_update_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(partial_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(partial_record_times_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
