/* The initiator's TLS client (tools/initiator/tls.c) against an OpenSSL server in this process
 * that plays a small NVMe/TCP controller (ICResp, reads as C2HData with SUCCESS, writes through
 * one R2T, a 1 MiB "disk"). The server finds the PSK from the identity the way the target does
 * (hnvmf_tls_match_identity) and logs what it received: the identity, the cipher suite, the
 * HkdfLabel encoding it could prove, and the plaintext size of every record after the
 * handshake, so the tests check the identity formats, both hashes and encodings, the refusal
 * of a wrong key, that commands and data travel in full 16 KiB records, and a controller that
 * drops the connection; plus hnvmf-perf's TLS options. */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "proto/tls-psk.h"
#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:0c6e7a80-3b43-4d0b-9b9a-2bd0a1a7e2f1"
#define SUBNQN "nqn.2026-01.io.hnvmf:tls-unit"
#define DISK_SIZE (1u << 20)
#define MAX_RECORDS 4096
#define TLS_RECORD 16384u

struct fake {
	int lfd;
	uint16_t port;
	pthread_t thread;
	struct hnvmf_key key; /* the controller's configured PSK for HOSTNQN */
	/* what the controller saw */
	char identity[HNVMF_TLS_IDENTITY_MAX];
	char cipher[64];
	bool handshake_ok, proven;
	enum hnvmf_tls_hkdf_label used;
	bool counting;                    /* after the handshake */
	unsigned close_after;             /* > 0: drop the connection when that command arrives */
	unsigned records[MAX_RECORDS];    /* plaintext bytes of each record received */
	unsigned nrec;
	uint8_t disk[DISK_SIZE];
};

static struct fake *F;

static void make_key(struct hnvmf_key *k, int hh, size_t len, uint8_t seed)
{
	memset(k, 0, sizeof(*k));
	k->hmac = hh;
	k->len = len;
	for (size_t i = 0; i < len; i++)
		k->data[i] = (uint8_t)(seed + 7 * i);
}

/* The target's lookup, minus the tenant table: this controller knows one host's key. */
static int psk_find(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
	struct hnvmf_tls_identity id;
	struct hnvmf_tls_derived d;
	*sess = NULL;
	snprintf(F->identity, sizeof(F->identity), "%.*s", (int)len, (const char *)identity);
	if (hnvmf_tls_identity_parse((const char *)identity, len, &id) < 0 ||
	    strcmp(id.hostnqn, HOSTNQN) || strcmp(id.subnqn, SUBNQN))
		return 1;
	if (hnvmf_tls_match_identity(&id, F->key.hmac, F->key.data, F->key.len,
				     HNVMF_TLS_LABEL_LIBNVME_COMPAT, &d, &F->used, &F->proven) < 0)
		return 1;
	const unsigned char suite[2] = { 0x13, id.cipher == 2 ? 0x02 : 0x01 };
	SSL_SESSION *s = SSL_SESSION_new();
	SSL_SESSION_set1_master_key(s, d.psk, d.psk_len);
	SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, suite));
	SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
	*sess = s;
	return 1;
}

/* Every record header read: TLS 1.3 records carry the inner content type and a 16-byte tag. */
static void on_msg(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
		   void *arg)
{
	(void)version, (void)ssl, (void)arg;
	const uint8_t *h = buf;
	if (write_p || type != SSL3_RT_HEADER || len < 5 || !F->counting || F->nrec == MAX_RECORDS)
		return;
	F->records[F->nrec++] = (((unsigned)h[3] << 8) | h[4]) - 17;
}

static bool rd(SSL *ssl, void *buf, size_t len)
{
	size_t n;
	for (size_t off = 0; off < len; off += n)
		if (SSL_read_ex(ssl, (uint8_t *)buf + off, len - off, &n) != 1)
			return false;
	return true;
}

static bool wr(SSL *ssl, const void *buf, size_t len)
{
	size_t n;
	return SSL_write_ex(ssl, buf, len, &n) == 1 && n == len;
}

static void send_rsp(SSL *ssl, uint16_t cid)
{
	struct hnvmf_tcp_rsp r = { .hdr = { .type = HNVMF_TCP_RSP, .hlen = 24, .plen = htole32(24) } };
	r.cqe.cid = cid;
	wr(ssl, &r, sizeof(r));
}

/* One command: reads answer with one C2HData (SUCCESS), writes take in-capsule data or one R2T
 * for the whole length (the host splits it into MAXH2CDATA pieces). */
static bool serve_cmd(SSL *ssl, const struct hnvmf_tcp_cmd *c, uint32_t icd)
{
	const struct hnvmf_sqe_common *sqe = &c->sqe.common;
	uint64_t off = (le32toh(sqe->cdw10) | (uint64_t)le32toh(sqe->cdw11) << 32) * 512;
	uint32_t len = le32toh(c->sqe.common.dptr.length);
	if (off + len > DISK_SIZE)
		return false;
	if (sqe->opcode == nvme_cmd_read) {
		uint8_t *pdu = malloc(24 + len);
		struct hnvmf_tcp_data *d = (void *)pdu;
		memset(d, 0, 24);
		d->hdr = (struct hnvmf_tcp_hdr){ .type = HNVMF_TCP_C2H_DATA, .hlen = 24, .pdo = 24,
			.flags = HNVMF_TCP_F_DATA_LAST | HNVMF_TCP_F_DATA_SUCCESS,
			.plen = htole32(24 + len) };
		d->cid = sqe->cid;
		d->length = htole32(len);
		memcpy(pdu + 24, F->disk + off, len);
		bool ok = wr(ssl, pdu, 24 + len);
		free(pdu);
		return ok;
	}
	if (sqe->opcode == nvme_cmd_write && icd) {
		if (!rd(ssl, F->disk + off, icd))
			return false;
	} else if (sqe->opcode == nvme_cmd_write) {
		struct hnvmf_tcp_r2t r2t = { .hdr = { .type = HNVMF_TCP_R2T, .hlen = 24,
						      .plen = htole32(24) },
					     .cid = sqe->cid, .ttag = htole16(1),
					     .length = htole32(len) };
		wr(ssl, &r2t, sizeof(r2t));
		for (uint32_t got = 0; got < len;) {
			struct hnvmf_tcp_data d;
			if (!rd(ssl, &d, sizeof(d)) || d.hdr.type != HNVMF_TCP_H2C_DATA)
				return false;
			uint32_t n = le32toh(d.length), at = le32toh(d.offset);
			if (at != got || got + n > len || !rd(ssl, F->disk + off + at, n))
				return false;
			got += n;
		}
	}
	send_rsp(ssl, sqe->cid);
	return true;
}

static void serve(SSL *ssl)
{
	struct hnvmf_tcp_icreq req;
	if (!rd(ssl, &req, sizeof(req)) || req.hdr.type != HNVMF_TCP_ICREQ)
		return;
	struct hnvmf_tcp_icresp rsp = { .hdr = { .type = HNVMF_TCP_ICRESP, .hlen = 128,
						 .plen = htole32(128) },
					.maxdata = htole32(128 * 1024) };
	wr(ssl, &rsp, sizeof(rsp));
	for (unsigned n = 1;; n++) {
		struct hnvmf_tcp_cmd c;
		if (!rd(ssl, &c, sizeof(c)) || c.hdr.type != HNVMF_TCP_CMD || n == F->close_after)
			return;
		if (!serve_cmd(ssl, &c, le32toh(c.hdr.plen) - 72))
			return;
	}
}

static void *fake_main(void *arg)
{
	(void)arg;
	int fd = accept(F->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_psk_find_session_callback(ctx, psk_find);
	SSL_CTX_set_msg_callback(ctx, on_msg);
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		F->handshake_ok = true;
		snprintf(F->cipher, sizeof(F->cipher), "%s", SSL_get_cipher_name(ssl));
		F->counting = true;
		serve(ssl);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	F = calloc(1, sizeof(*F));
	F->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(F->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(F->lfd, 4), 0);
	getsockname(F->lfd, (struct sockaddr *)&sa, &sl);
	F->port = ntohs(sa.sin_port);
	make_key(&F->key, 1, 32, 0x11);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(F->lfd);
	free(F);
	return 0;
}

static void start_fake(void)
{
	assert_int_equal(pthread_create(&F->thread, NULL, fake_main, NULL), 0);
}

/* Opens a TLS queue with key (hh, len, seed), identity version and encoding. */
static int open_tls(int hh, size_t len, uint8_t seed, int version, bool rfc8446,
		    struct hnvmf_ini_queue **q)
{
	struct hnvmf_key k;
	char key[HNVMF_KEY_STR_MAX];
	make_key(&k, hh, len, seed);
	assert_int_equal(hnvmf_tls_key_format(&k, key, sizeof(key)), 0);
	struct hnvmf_ini_queue_opts o = { .depth = 128, .timeout_ms = 5000, .tls_key = key,
					  .tls_hostnqn = HOSTNQN, .tls_subnqn = SUBNQN,
					  .tls_identity = version, .tls_hkdf_rfc8446 = rfc8446 };
	start_fake();
	return hnvmf_ini_queue_open("127.0.0.1", F->port, &o, q);
}

static void close_and_join(struct hnvmf_ini_queue *q)
{
	hnvmf_ini_queue_close(q);
	pthread_join(F->thread, NULL);
}

static int io(struct hnvmf_ini_queue *q, bool write, uint64_t slba, void *buf, uint32_t len)
{
	struct hnvmf_ini_io x = { .data = buf, .len = len,
				  .dir = write ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL };
	hnvmf_sqe_rw(&x.sqe, write, 1, slba, len / 512);
	return hnvmf_ini_exec(q, &x, 5000);
}

/* Write then read back through TLS; the disk must hold what was written. */
static void write_read_back(struct hnvmf_ini_queue *q, uint32_t len, uint64_t slba, uint8_t seed)
{
	uint8_t *w = malloc(len), *r = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		w[i] = (uint8_t)(seed + i * 13 + (i >> 9));
	assert_int_equal(io(q, true, slba, w, len), 0);
	assert_memory_equal(F->disk + slba * 512, w, len);
	memset(r, 0, len);
	assert_int_equal(io(q, false, slba, r, len), 0);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
}

static void identity_v0_sha256(void **state)
{
	(void)state;
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(1, 32, 0x11, 0, false, &q), 0);
	write_read_back(q, 4096, 8, 1);
	write_read_back(q, 300 * 1024, 100, 2);
	close_and_join(q);
	assert_true(F->handshake_ok);
	assert_string_equal(F->identity, "NVMe0R01 " HOSTNQN " " SUBNQN);
	assert_string_equal(F->cipher, "TLS_AES_128_GCM_SHA256");
	assert_false(F->proven); /* v0: the controller had to assume the libnvme 1.x encoding */
}

static void identity_v1_both_encodings(void **state)
{
	(void)state;
	for (int rfc = 0; rfc < 2; rfc++) {
		struct hnvmf_ini_queue *q = NULL;
		memset(F->identity, 0, sizeof(F->identity));
		assert_int_equal(open_tls(1, 32, 0x11, 1, rfc, &q), 0);
		write_read_back(q, 64 * 1024, 0, (uint8_t)rfc);
		close_and_join(q);
		/* "NVMe1R01 <hostnqn> <subnqn> <44 base64 characters>" */
		const char *pre = "NVMe1R01 " HOSTNQN " " SUBNQN " ";
		assert_int_equal(strncmp(F->identity, pre, strlen(pre)), 0);
		assert_int_equal(strlen(F->identity), strlen(pre) + 44);
		/* A transformed key's v1 digest proves which HkdfLabel the host used. */
		assert_true(F->proven);
		assert_int_equal(F->used, rfc ? HNVMF_TLS_LABEL_RFC8446 : HNVMF_TLS_LABEL_LIBNVME_COMPAT);
	}
}

static void sha384_key(void **state)
{
	(void)state;
	make_key(&F->key, 2, 48, 0x22);
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(2, 48, 0x22, 1, false, &q), 0);
	write_read_back(q, 8192, 16, 3);
	close_and_join(q);
	assert_string_equal(F->cipher, "TLS_AES_256_GCM_SHA384");
	assert_int_equal(strncmp(F->identity, "NVMe1R02 ", 9), 0);
}

static void untransformed_key(void **state)
{
	(void)state;
	make_key(&F->key, 0, 32, 0x33);
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(0, 32, 0x33, 0, false, &q), 0);
	write_read_back(q, 4096, 0, 4);
	close_and_join(q);
	assert_string_equal(F->identity, "NVMe0R01 " HOSTNQN " " SUBNQN);
}

static void wrong_key_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(1, 32, 0x99, 0, false, &q), -EKEYREJECTED);
	assert_null(q);
	pthread_join(F->thread, NULL);
	assert_false(F->handshake_ok);
}

/* The encoding matters when nothing proves it: a v0 identity derived with RFC 8446 labels
 * does not give the PSK the controller assumes (libnvme 1.x). */
static void wrong_encoding_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(1, 32, 0x11, 0, true, &q), -EKEYREJECTED);
	pthread_join(F->thread, NULL);
}

static void bad_key_string(void **state)
{
	(void)state;
	struct hnvmf_ini_queue_opts o = { .depth = 4, .timeout_ms = 2000,
					  .tls_key = "NVMeTLSkey-1:01:bm90IGEga2V5:",
					  .tls_hostnqn = HOSTNQN, .tls_subnqn = SUBNQN };
	struct hnvmf_ini_queue *q = NULL;
	start_fake();
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", F->port, &o, &q), -EINVAL);
	pthread_join(F->thread, NULL); /* the connection closed before any ClientHello */
	assert_false(F->handshake_ok);
}

static void done_count(struct hnvmf_ini_io *x)
{
	(*(unsigned *)x->arg)++;
}

/* 64 commands submitted together leave in one record; a 256 KiB write (two H2CData PDUs of
 * 128 KiB + 24-byte headers) leaves in full records but the last. */
static void full_records(void **state)
{
	(void)state;
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(1, 32, 0x11, 0, false, &q), 0);
	static struct hnvmf_ini_io ios[64];
	static uint8_t bufs[64][512];
	unsigned done = 0;
	for (unsigned i = 0; i < 64; i++) {
		ios[i] = (struct hnvmf_ini_io){ .data = bufs[i], .len = 512, .dir = HNVMF_INI_FROM_CTRL,
						.done = done_count, .arg = &done };
		hnvmf_sqe_rw(&ios[i].sqe, false, 1, i, 1);
		assert_int_equal(hnvmf_ini_submit(q, &ios[i]), 0);
	}
	while (done < 64) {
		assert_true(hnvmf_ini_queue_process(q) >= 0);
		if (done < 64)
			hnvmf_ini_queue_wait(q, 100);
	}
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(ios[i].status, 0);
	uint32_t len = 256 * 1024;
	uint8_t *w = malloc(len);
	memset(w, 0x5a, len);
	assert_int_equal(io(q, true, 512, w, len), 0);
	close_and_join(q);
	free(w);

	/* records: ICReq, the 64 commands, the write command, then the H2CData PDUs */
	assert_true(F->nrec >= 3);
	assert_int_equal(F->records[0], 128);
	assert_int_equal(F->records[1], 64 * 72);
	assert_int_equal(F->records[2], 72);
	unsigned total = 0, n = F->nrec - 3;
	for (unsigned i = 3; i < F->nrec; i++) {
		total += F->records[i];
		if (i + 1 < F->nrec)
			assert_int_equal(F->records[i], TLS_RECORD);
	}
	assert_int_equal(total, 2 * (24 + 128 * 1024));
	assert_int_equal(n, (total + TLS_RECORD - 1) / TLS_RECORD);
	assert_memory_equal(F->disk + 512 * 512, (uint8_t[512]){ [0 ... 511] = 0x5a }, 512);
}

/* The controller goes away (no close_notify) with a command in flight: the command completes
 * with the connection's error and the queue stays failed. */
static void controller_closes(void **state)
{
	(void)state;
	F->close_after = 2;
	struct hnvmf_ini_queue *q = NULL;
	assert_int_equal(open_tls(1, 32, 0x11, 0, false, &q), 0);
	uint8_t buf[4096];
	assert_int_equal(io(q, false, 0, buf, sizeof(buf)), 0);
	assert_int_equal(io(q, false, 0, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(hnvmf_ini_queue_error(q), -ECONNRESET);
	assert_int_equal(io(q, false, 0, buf, sizeof(buf)), -ECONNRESET);
	close_and_join(q);
}

/* hnvmf-perf's TLS options. */
static void perf_options(void **state)
{
	(void)state;
	struct perf_opts o;
	char err[256], key[HNVMF_KEY_STR_MAX];
	struct hnvmf_key k;
	make_key(&k, 1, 32, 0x44);
	assert_int_equal(hnvmf_tls_key_format(&k, key, sizeof(key)), 0);
	char *a1[] = { "hnvmf-perf", "identify", "--tls", NULL };
	assert_int_equal(perf_parse_args(3, a1, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--tls-key"));
	char *a2[] = { "hnvmf-perf", "discover", "--tls-key", "NVMeTLSkey-1:01:eA==:", NULL };
	assert_int_equal(perf_parse_args(4, a2, &o, err, sizeof(err)), -1);
	char *a3[] = { "hnvmf-perf", "discover", "--tls-key", key, NULL };
	assert_int_equal(perf_parse_args(4, a3, &o, err, sizeof(err)), 0);
	assert_true(o.tls);
	assert_string_equal(o.tls_key, key);
	assert_int_equal(o.tls_identity, 0);
	char *a4[] = { "hnvmf-perf", "perf", "--tls", "--tls-key", key, "--tls-identity-v1", NULL };
	assert_int_equal(perf_parse_args(6, a4, &o, err, sizeof(err)), 0);
	assert_true(o.tls);
	assert_int_equal(o.tls_identity, 1);
	char *a5[] = { "hnvmf-perf", "perf", NULL };
	assert_int_equal(perf_parse_args(2, a5, &o, err, sizeof(err)), 0);
	assert_false(o.tls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(identity_v0_sha256, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_v1_both_encodings, setup, teardown),
		cmocka_unit_test_setup_teardown(sha384_key, setup, teardown),
		cmocka_unit_test_setup_teardown(untransformed_key, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_key_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_encoding_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_key_string, setup, teardown),
		cmocka_unit_test_setup_teardown(full_records, setup, teardown),
		cmocka_unit_test_setup_teardown(controller_closes, setup, teardown),
		cmocka_unit_test(perf_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
