/* The host side of the NVMe/TCP secure channel (NVMe/TCP 3.6.1, TP 8011): TLS 1.3 with an
 * external PSK, through OpenSSL 3, on a queue's socket. Private to the initiator: queue.c opens
 * it, queue-send.c and queue-recv.c route their socket I/O through it.
 *
 *   configured PSK "NVMeTLSkey-1:hh:..:" (proto/keyfmt.h)
 *     -> identity "NVMe0R0h <hostnqn> <subnqn>" (v0) or "NVMe1R0h <hostnqn> <subnqn> <digest>" (v1)
 *        and the TLS PSK, both from hnvmf_tls_derive_configured (proto/tls-psk.h), as
 *        nvme-cli derives what it inserts into the Linux host's keyring;
 *     -> a TLS 1.3 client offering exactly that identity and the cipher suite of its hash
 *        (TLS_AES_128_GCM_SHA256 for 01, TLS_AES_256_GCM_SHA384 for 02), no certificate.
 *
 * Sending: OpenSSL seals one record per SSL_write; to keep records full (16 KiB) the send ring's
 * small pieces (command headers, short in-capsule data, the tail of a data run) are gathered
 * into one record-sized staging buffer, while long data runs are sealed straight from the
 * caller's buffer, so only the bytes that complete a record around a header are copied. Receiving: records are read
 * ahead into a large OpenSSL buffer (one recv for many records) and decrypted straight into the
 * caller's read buffer when a C2HData payload is due. */
#ifndef HNVMF_INI_TLS_H
#define HNVMF_INI_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct hnvmf_ini_queue;
struct ini_tls;

/* What a queue needs to secure its connection (copied from the queue options). */
struct ini_tls_params {
	const char *key;      /* "NVMeTLSkey-1:hh:...:" */
	const char *hostnqn;  /* the identity's NQNs */
	const char *subnqn;
	int identity_version; /* 0 or 1 */
	int hkdf_label;       /* enum hnvmf_tls_hkdf_label */
};

/* Derives the identity and TLS PSK, then runs the handshake on q->fd (non-blocking, waits with
 * poll until deadline_ns). On success q->tls is set. Returns 0; -EINVAL for a bad key or NQN;
 * -EKEYREJECTED when the controller refused the handshake (unknown identity, wrong key);
 * -ECONNRESET when it closed the connection; -ETIMEDOUT; -ENOMEM. why gets a reason. */
int ini_tls_open(struct hnvmf_ini_queue *q, const struct ini_tls_params *p, uint64_t deadline_ns,
		 char *why, size_t whylen);
/* Sends close_notify when the socket takes it, frees everything. NULL is allowed. */
void ini_tls_close(struct ini_tls *t);
/* Exactly len bytes through TLS, waiting with poll until deadline_ns (ICReq / ICResp). */
int ini_tls_send_all(struct hnvmf_ini_queue *q, const void *buf, size_t len, uint64_t deadline_ns);
int ini_tls_recv_all(struct hnvmf_ini_queue *q, void *buf, size_t len, uint64_t deadline_ns);

/* Like readv on the decrypted stream: fills the iovecs in order with what can be read without
 * blocking. Returns the bytes read (> 0), 0 at the end of the stream, or -1 with errno EAGAIN
 * (nothing to read now) or EIO/ECONNRESET. A count short of the iovecs' total means nothing
 * more can be read now. */
ssize_t ini_tls_readv(struct hnvmf_ini_queue *q, const struct iovec *iov, int niov);
/* The TLS form of ini_flush: seals the send ring into records until the socket is full.
 * Returns 0 or a fatal -errno (the queue is then failed). */
int ini_tls_flush(struct hnvmf_ini_queue *q);
/* True while sealed-but-unwritten or staged bytes wait for the socket (want POLLOUT). */
bool ini_tls_send_pending(const struct ini_tls *t);
/* Forgets a write in progress (the queue failed and its ring was emptied). */
void ini_tls_reset_send(struct ini_tls *t);
/* Name of the negotiated cipher suite ("" before the handshake). */
const char *ini_tls_cipher(const struct ini_tls *t);

#endif
