/* hnvmf_initiator: a userspace NVMe/TCP host, the project's host for tests and benchmarks (the
 * machine's kernel has no nvme-tcp).
 *
 * Three layers:
 *   queue   one NVMe/TCP connection = one NVMe queue pair. Non-blocking socket, asynchronous
 *           submission with a completion callback, and hnvmf_ini_queue_process(), which writes and
 *           reads as much as it can without blocking (PDUs batched into one writev, reads through
 *           a large receive buffer, data of long transfers received straight into the caller's
 *           buffer). Nothing is allocated per I/O.
 *   ctrl    a controller: the admin queue (Connect, Property Get/Set enable sequence, Identify,
 *           Set Features Number of Queues) plus its I/O queues; synchronous helpers for tools
 *           and tests (identify, get_log, discovery log, read, write, ...).
 *   raw     blocking helpers for fault tests: send arbitrary bytes on a connected socket and
 *           read back whole PDUs (a C2HTermReq and its FES, then the close).
 *
 * Return conventions: negative values are -errno (transport or local failure); zero or a
 * positive value is the NVMe status field of the completion (0 = success; SCT/SC/DNR as in
 * proto/nvme-cmd.h, phase bit removed). */
#ifndef HNVMF_INITIATOR_H
#define HNVMF_INITIATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <nvme/types.h>

#include "proto/crc32c.h"
#include "proto/dhchap-crypto.h"
#include "proto/keyfmt.h"
#include "proto/nvme-cmd.h"
#include "proto/tcp-pdu.h"

#define HNVMF_INI_DEFAULT_PORT 4420
#define HNVMF_INI_DISCOVERY_PORT 8009
#define HNVMF_INI_TIMEOUT_MS 10000      /* synchronous commands, ICResp, connect() */
#define HNVMF_INI_MAX_DEPTH 1024        /* per queue; the CID carries a 10-bit slot index */
#define HNVMF_INI_FABRICS_ICD 8192      /* fabrics commands always travel in-capsule, up to 8 KiB */

/* ---- PDU building and checking (pure functions, also used by the raw mode) -------------- */

/* Fills a 128-byte ICReq: pfv 0, hpda 0, maxr2t 0 (one R2T outstanding), digest bits. */
void hnvmf_pdu_icreq(struct hnvmf_tcp_icreq *req, bool hdgst, bool ddgst);
/* Checks an ICResp against what we asked, the way the Linux host does: type, plen 128, pfv 0,
 * digest bits exactly as requested, maxh2cdata a multiple of 4 and >= 4096. cpda is accepted
 * (in-capsule data is then padded). Returns 0 or -EPROTO with a reason in why (may be NULL). */
int hnvmf_pdu_icresp_check(const struct hnvmf_tcp_icresp *rsp, bool hdgst, bool ddgst,
			   const char **why);
/* Builds a CapsuleCmd header (72 bytes + 4 when hdgst) for sqe carrying icd_len bytes of
 * in-capsule data: sets hlen, pdo (padded to cpda), plen, flags and the header digest.
 * Returns the header length written (72 or 76); *pad_out gets the padding before the data. */
size_t hnvmf_pdu_cmd(void *buf, const union hnvmf_sqe *sqe, uint32_t icd_len, bool hdgst,
		     bool ddgst, uint8_t cpda, uint32_t *pad_out);
/* Builds an H2CData header (24 bytes + 4 when hdgst); returns its length and the padding. */
size_t hnvmf_pdu_h2c_data(void *buf, uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t len,
			  bool last, bool hdgst, bool ddgst, uint8_t cpda, uint32_t *pad_out);
/* Header length each PDU type must carry (0 for an unknown type). */
unsigned hnvmf_pdu_expected_hlen(uint8_t type);
/* Name of a PDU type, for messages. */
const char *hnvmf_pdu_type_name(uint8_t type);

/* ---- queue (one connection) -------------------------------------------------------------- */

enum hnvmf_ini_dir {
	HNVMF_INI_NONE,
	HNVMF_INI_TO_CTRL,   /* write-like: host to controller */
	HNVMF_INI_FROM_CTRL, /* read-like: controller to host */
};

struct hnvmf_ini_io;
typedef void (*hnvmf_ini_done_fn)(struct hnvmf_ini_io *io);

/* One command, owned by the caller and untouched by it while in flight. The caller fills sqe
 * (opcode, nsid, cdw10..15); the queue sets cid, PSDT and the SGL. data == NULL with
 * dir FROM_CTRL discards the received data (load generators). */
struct hnvmf_ini_io {
	union hnvmf_sqe sqe;
	void *data;
	uint32_t len;
	enum hnvmf_ini_dir dir;
	hnvmf_ini_done_fn done;
	void *arg;
	/* Set before done runs. */
	int status;            /* NVMe status field (0 success) or -errno when the queue failed */
	struct hnvmf_cqe cqe;  /* as received (little endian); synthesized for C2HData SUCCESS */
	uint64_t t_submit_ns;  /* free for the caller (latency accounting) */
};

struct hnvmf_ini_queue_opts {
	bool hdgst, ddgst;
	unsigned depth;      /* commands in flight at most (<= HNVMF_INI_MAX_DEPTH) */
	int timeout_ms;      /* TCP connect and ICResp wait; 0 = HNVMF_INI_TIMEOUT_MS */
	size_t rbuf_size;    /* receive buffer; 0 = 256 KiB */
	/* NVMe/TCP secure channel (tls.c): TLS 1.3 with a configured PSK; the handshake comes
	 * first on the connection, then ICReq/ICResp inside TLS. tls_key NULL = plain TCP. */
	const char *tls_key;                  /* "NVMeTLSkey-1:hh:...:" */
	const char *tls_hostnqn, *tls_subnqn; /* the PSK identity's NQNs */
	int tls_identity;     /* 0: "NVMe0R0h <hostnqn> <subnqn>"; 1: "NVMe1R0h ... <digest>" */
	bool tls_hkdf_rfc8446; /* HkdfLabel of RFC 8446 (libnvme >= 1.16) instead of the libnvme
				* 1.x encoding nvme-cli 2.x hosts put into the keyring */
};

struct hnvmf_ini_queue;

/* Opens a TCP connection to addr:port (numeric IPv4/IPv6 or a host name), exchanges
 * ICReq/ICResp and leaves the socket non-blocking. Returns 0 or -errno. */
int hnvmf_ini_queue_open(const char *addr, uint16_t port, const struct hnvmf_ini_queue_opts *o,
			 struct hnvmf_ini_queue **out);
/* Closes the socket; every command still in flight completes with -ECONNABORTED. */
void hnvmf_ini_queue_close(struct hnvmf_ini_queue *q);

/* Queues the command (nothing is written until process). Returns 0, -EBUSY when depth
 * commands are in flight, -EINVAL for a bad length, or the queue's fatal error. */
int hnvmf_ini_submit(struct hnvmf_ini_queue *q, struct hnvmf_ini_io *io);
/* Sends and receives without blocking, calling done for each completion. Returns the number
 * of completions (>= 0) or the fatal error (-errno) once the connection failed; after a
 * fatal error every outstanding command has completed with it. */
int hnvmf_ini_queue_process(struct hnvmf_ini_queue *q);
/* Blocks in poll() until the socket is readable (or writable while output is pending), at
 * most timeout_ms. Returns 1 when ready, 0 on timeout, -errno. */
int hnvmf_ini_queue_wait(struct hnvmf_ini_queue *q, int timeout_ms);
/* Submits io and processes until it completes or timeout_ms passes (then -ETIMEDOUT and the
 * queue is failed, since the command can no longer be tracked). Returns io->status. */
int hnvmf_ini_exec(struct hnvmf_ini_queue *q, struct hnvmf_ini_io *io, int timeout_ms);

int hnvmf_ini_queue_fd(const struct hnvmf_ini_queue *q);
unsigned hnvmf_ini_queue_inflight(const struct hnvmf_ini_queue *q);
bool hnvmf_ini_queue_send_pending(const struct hnvmf_ini_queue *q);
uint32_t hnvmf_ini_queue_maxh2cdata(const struct hnvmf_ini_queue *q);
/* Largest write sent in-capsule (fabrics commands use HNVMF_INI_FABRICS_ICD regardless). */
void hnvmf_ini_queue_set_icd_max(struct hnvmf_ini_queue *q, uint32_t icd_max);
uint32_t hnvmf_ini_queue_icd_max(const struct hnvmf_ini_queue *q);
uint16_t hnvmf_ini_queue_qid(const struct hnvmf_ini_queue *q);
/* The fatal error (0 while healthy) and a human-readable reason. */
int hnvmf_ini_queue_error(const struct hnvmf_ini_queue *q);
const char *hnvmf_ini_queue_error_str(const struct hnvmf_ini_queue *q);
/* FES of the C2HTermReq the controller sent, or -1. */
int hnvmf_ini_queue_term_fes(const struct hnvmf_ini_queue *q);
/* Counters: writes sent in-capsule, H2CData PDUs sent, R2Ts and C2HData PDUs received. */
struct hnvmf_ini_queue_stats {
	uint64_t icd_writes, h2c_pdus, r2ts, c2h_pdus, c2h_success, rsps, sendmsgs, recvs;
};
void hnvmf_ini_queue_stats(const struct hnvmf_ini_queue *q, struct hnvmf_ini_queue_stats *s);

/* Fabrics Connect on this queue (synchronous): recfmt 0, sqsize (0's based), kato (ms, admin
 * only), cntlid (0xFFFF on the admin queue). *cntlid_out gets the controller ID from DW0.
 * -EACCES means the Connect itself succeeded (*cntlid_out is set) but its response has ATR set:
 * the queue must authenticate (hnvmf_ini_auth_queue) before it carries anything else. */
int hnvmf_ini_fabrics_connect(struct hnvmf_ini_queue *q, uint16_t qid, uint16_t sqsize,
			      uint32_t kato_ms, uint16_t cntlid, const char *subnqn,
			      const char *hostnqn, const uint8_t hostid[16], uint16_t *cntlid_out,
			      int timeout_ms);
/* Property Get (size 4 or 8) / Property Set. */
int hnvmf_ini_prop_get(struct hnvmf_ini_queue *q, uint32_t offset, unsigned size, uint64_t *val,
		       int timeout_ms);
int hnvmf_ini_prop_set(struct hnvmf_ini_queue *q, uint32_t offset, unsigned size, uint64_t val,
		       int timeout_ms);
/* Fabrics Disconnect of this queue (the Linux host closes the socket instead). */
int hnvmf_ini_fabrics_disconnect(struct hnvmf_ini_queue *q, int timeout_ms);

/* SQE builders (fill a zeroed sqe; the queue sets cid and the SGL). */
void hnvmf_sqe_identify(union hnvmf_sqe *s, uint8_t cns, uint32_t nsid, uint16_t cntid);
/* len a multiple of 4; offset in bytes. */
void hnvmf_sqe_get_log(union hnvmf_sqe *s, uint8_t lid, uint32_t nsid, uint64_t offset,
		       uint32_t len, uint8_t lsp, bool rae);
void hnvmf_sqe_set_features(union hnvmf_sqe *s, uint8_t fid, uint32_t cdw11);
void hnvmf_sqe_keep_alive(union hnvmf_sqe *s);
/* nlb is the number of blocks (1-based here; the SQE carries nlb - 1). */
void hnvmf_sqe_rw(union hnvmf_sqe *s, bool write, uint32_t nsid, uint64_t slba, uint32_t nlb);
void hnvmf_sqe_flush(union hnvmf_sqe *s, uint32_t nsid);
void hnvmf_sqe_write_zeroes(union hnvmf_sqe *s, uint32_t nsid, uint64_t slba, uint32_t nlb);
/* Dataset Management, deallocate, nr ranges (the data is an array of struct nvme_dsm_range). */
void hnvmf_sqe_dsm(union hnvmf_sqe *s, uint32_t nsid, unsigned nr, bool deallocate);

/* ---- in-band authentication: DH-HMAC-CHAP, the host side (auth.c) ----------------------- */

/* Per queue, after a Connect answered ATR (what the Linux host does, drivers/nvme/host/auth.c):
 *   AuthSend Negotiate (T_ID, the offered HashIDs and DH groups, no secure channel concatenation)
 *   AuthRecv Challenge (the controller's choice, S1, C1, g^y)   or Failure1
 *   AuthSend Reply     (R1, [C2 and S2 != 0 when bidirectional], g^x)
 *   AuthRecv Success1  ([R2], checked when bidirectional)       or Failure1
 *   AuthSend Success2  (bidirectional only)
 * A failure the host detects is reported to the controller with Failure2. Wire layouts and
 * identifiers are proto/auth-msg.h's; computations proto/dhchap-crypto.h's. The message builders
 * and parsers below are pure, so tests can play the controller. */

#define HNVMF_INI_AUTH_MAX_HASHES 3
#define HNVMF_INI_AUTH_MAX_GROUPS 6
#define HNVMF_INI_AUTH_RECV_AL 4096u /* the AuthRecv allocation length, as the Linux host */
#define HNVMF_INI_AUTH_NEGOTIATE_LEN 72u /* header + one protocol descriptor */
#define HNVMF_INI_AUTH_SUCCESS2_LEN 16u
#define HNVMF_INI_AUTH_FAILURE2_LEN 8u

/* The host's state of one transaction. Fill with hnvmf_ini_auth_init. */
struct hnvmf_ini_auth {
	uint16_t t_id;
	const char *hostnqn, *subnqn;
	uint8_t hashes[HNVMF_INI_AUTH_MAX_HASHES];
	unsigned nr_hashes;
	uint8_t groups[HNVMF_INI_AUTH_MAX_GROUPS];
	unsigned nr_groups;
	struct hnvmf_key host_key, ctrl_key; /* as parsed; ctrl_key.len 0 = one-way */
	/* from the Challenge */
	uint8_t hash_id, dhgid;
	size_t hl;
	uint32_t s1, s2;
	uint8_t c1[HNVMF_AUTH_MAX_DIGEST], c2[HNVMF_AUTH_MAX_DIGEST];
	uint8_t gy[HNVMF_DH_MAX_SIZE];
	size_t gy_len;
	uint8_t r2[HNVMF_AUTH_MAX_DIGEST]; /* the R2 expected in Success1 (bidirectional) */
	uint8_t fail_exp;  /* Failure2 explanation (enum hnvmf_auth_fail_exp), 0 = none to send */
	char why[160];     /* the last failure, for messages */
	/* Randomness (C2, S2) and the ephemeral DH key pair; tests replace them for fixed vectors. */
	int (*random)(void *buf, size_t len);        /* 0 or -EIO; default RAND_bytes */
	struct hnvmf_dh *(*dh_generate)(int gid);   /* default hnvmf_dh_generate */
};

/* Parses the secrets (ctrl_secret may be NULL) and the offer (0 entries = everything). Returns
 * 0, or -EINVAL with the reason in a->why (a bad secret, an unknown hash or group id). */
int hnvmf_ini_auth_init(struct hnvmf_ini_auth *a, const char *secret, const char *ctrl_secret,
			const uint8_t *hashes, unsigned nr_hashes, const uint8_t *groups,
			unsigned nr_groups, const char *hostnqn, const char *subnqn, uint16_t t_id);
/* Wipes the keys and the values of the transaction. */
void hnvmf_ini_auth_clear(struct hnvmf_ini_auth *a);
/* Builds the Negotiate into buf (HNVMF_INI_AUTH_NEGOTIATE_LEN bytes). */
size_t hnvmf_ini_auth_negotiate(const struct hnvmf_ini_auth *a, uint8_t *buf);
/* Takes the controller's Challenge (len = bytes received). Returns 0; -EKEYREJECTED when it
 * is a Failure1; -EPROTO for anything the host cannot accept (a->fail_exp then says what the
 * Failure2 reports). */
int hnvmf_ini_auth_on_challenge(struct hnvmf_ini_auth *a, const uint8_t *msg, size_t len);
/* Builds the Reply (R1, C2, S2, g^x) to the Challenge taken; also computes the R2 to expect.
 * Returns its length or a negative errno. buf holds at least 16 + 2 * 64 + 1024 bytes. */
int hnvmf_ini_auth_reply(struct hnvmf_ini_auth *a, uint8_t *buf, size_t cap);
/* Takes Success1. Returns 0; -EKEYREJECTED for a Failure1 (the controller refused our
 * response); -EBADE when bidirectional and R2 is absent or wrong (the controller does not know
 * the controller secret); -EPROTO for a malformed message. */
int hnvmf_ini_auth_on_success1(struct hnvmf_ini_auth *a, const uint8_t *msg, size_t len);
/* True when Success2 must follow (bidirectional). */
static inline bool hnvmf_ini_auth_bidirectional(const struct hnvmf_ini_auth *a)
{
	return a->ctrl_key.len != 0;
}
size_t hnvmf_ini_auth_success2(const struct hnvmf_ini_auth *a, uint8_t *buf);
/* Failure2 with reason 01h and a->fail_exp. */
size_t hnvmf_ini_auth_failure2(const struct hnvmf_ini_auth *a, uint8_t *buf);

/* Authentication Send / Receive on a queue (SECP E9h, SPSP0 = SPSP1 = 01h, TL / AL = len). */
int hnvmf_ini_auth_send(struct hnvmf_ini_queue *q, const void *msg, uint32_t len, int timeout_ms);
int hnvmf_ini_auth_recv(struct hnvmf_ini_queue *q, void *buf, uint32_t al, int timeout_ms);
/* The whole exchange on q with the transaction a (initialised). Returns 0 when authenticated;
 * -EKEYREJECTED, -EBADE, -EPROTO as above (a Failure2 went out when the host failed it); an
 * NVMe status or -errno when a command failed. a->why explains. */
int hnvmf_ini_auth_queue(struct hnvmf_ini_queue *q, struct hnvmf_ini_auth *a, int timeout_ms);
/* "sha256" / "ffdhe2048" ... to its id, -1 when unknown. */
int hnvmf_ini_auth_hash_id(const char *name);
int hnvmf_ini_auth_group_id(const char *name);

/* ---- controller ------------------------------------------------------------------------ */

struct hnvmf_ini_ctrl_opts {
	bool hdgst, ddgst;
	unsigned nr_io_queues;  /* asked with Set Features Number of Queues; 0 = none (discovery) */
	unsigned io_depth;      /* I/O queue depth (sqsize + 1), clamped to CAP.MQES + 1 */
	unsigned admin_depth;   /* admin queue depth, default 32 (sqsize 31) */
	uint32_t kato_ms;       /* Keep Alive Timeout sent in the admin Connect */
	uint8_t hostid[16];     /* all zero = derived from hostnqn */
	int timeout_ms;         /* each synchronous step; 0 = HNVMF_INI_TIMEOUT_MS */
	/* NVMe/TCP secure channel on every queue (see struct hnvmf_ini_queue_opts); the identity
	 * names this controller's host and subsystem NQNs. */
	const char *tls_key;    /* "NVMeTLSkey-1:hh:...:"; NULL = plain TCP */
	int tls_identity;       /* PSK identity version, 0 or 1 */
	bool tls_hkdf_rfc8446;
	/* In-band authentication (DH-HMAC-CHAP), used on every queue whose Connect answers ATR. */
	const char *dhchap_secret;      /* the host's "DHHC-1:hh:...:" secret; NULL = none */
	const char *dhchap_ctrl_secret; /* the controller's: bidirectional authentication; NULL = none */
	uint8_t dhchap_hashes[HNVMF_INI_AUTH_MAX_HASHES];  /* HashIDs offered; none = all three */
	unsigned nr_dhchap_hashes;
	uint8_t dhchap_groups[HNVMF_INI_AUTH_MAX_GROUPS];  /* DH group ids offered; none = all six */
	unsigned nr_dhchap_groups;
	char *err;              /* optional: why a connect failed, when it knows more than errno */
	size_t err_len;
};
void hnvmf_ini_ctrl_opts_default(struct hnvmf_ini_ctrl_opts *o);

struct hnvmf_ini_ctrl {
	struct hnvmf_ini_queue *admin;
	struct hnvmf_ini_queue **io; /* nr_io entries, qid = index + 1 */
	unsigned nr_io;
	uint16_t cntlid;
	uint64_t cap;
	uint32_t vs;
	struct nvme_id_ctrl id; /* Identify Controller */
	uint32_t kato_ms;
	uint64_t last_admin_ns; /* for the opportunistic keep-alive of the synchronous helpers */
	uint16_t auth_tid;      /* T_ID of the next DH-HMAC-CHAP transaction (one counter per controller) */
	int timeout_ms;
	char subnqn[NVME_NQN_LENGTH + 1];
	char hostnqn[NVME_NQN_LENGTH + 1];
};

/* Connects a controller: admin queue (qid 0, cntlid 0xFFFF, sqsize admin_depth - 1, kato),
 * Property Get CAP/VS, CC.EN=1 then wait CSTS.RDY (bounded by CAP.TO), Identify Controller,
 * then when nr_io_queues > 0: Set Features Number of Queues and Connect of each I/O queue
 * with the cntlid from the admin Connect. I/O queues send writes in-capsule up to
 * IOCCSZ * 16 - 64 bytes. A discovery controller is the same with nr_io_queues 0. */
int hnvmf_ini_ctrl_connect(const char *addr, uint16_t port, const char *subnqn,
			   const char *hostnqn, const struct hnvmf_ini_ctrl_opts *o,
			   struct hnvmf_ini_ctrl **out);
/* Shutdown through CC.SHN (normal), wait CSTS.SHST complete (bounded), close every queue and
 * free. Returns 0, or the first error met, including an admin queue that had already failed
 * (everything is freed anyway). NULL is allowed. */
int hnvmf_ini_ctrl_disconnect(struct hnvmf_ini_ctrl *c);

/* Synchronous admin commands; data into buf. */
int hnvmf_ini_admin_exec(struct hnvmf_ini_ctrl *c, union hnvmf_sqe *sqe, void *buf, uint32_t len,
			 enum hnvmf_ini_dir dir, struct hnvmf_cqe *cqe_out);
int hnvmf_ini_identify(struct hnvmf_ini_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k);
int hnvmf_ini_identify_ns(struct hnvmf_ini_ctrl *c, uint32_t nsid, struct nvme_id_ns *ns);
/* Active namespace IDs (Identify CNS 2 from nsid 0, up to max entries). *n gets the count. */
int hnvmf_ini_active_ns(struct hnvmf_ini_ctrl *c, uint32_t *nsids, unsigned max, unsigned *n);
int hnvmf_ini_get_log(struct hnvmf_ini_ctrl *c, uint8_t lid, uint32_t nsid, uint64_t offset,
		      void *buf, uint32_t len);
/* The whole discovery log, read as the Linux host does: header, then header + records, then
 * the header again; retried when genctr changed meanwhile. *log is malloc'ed (free()). */
int hnvmf_ini_discovery_log(struct hnvmf_ini_ctrl *c, struct nvmf_discovery_log **log);
int hnvmf_ini_keep_alive(struct hnvmf_ini_ctrl *c);
/* Sends a Keep Alive when more than kato/2 passed since the last admin command. */
int hnvmf_ini_keep_alive_if_due(struct hnvmf_ini_ctrl *c);
/* Returns the number of I/O queues granted (DW0) through *granted. */
int hnvmf_ini_set_num_queues(struct hnvmf_ini_ctrl *c, unsigned want, unsigned *granted);

/* Namespace geometry from Identify Namespace (the formatted LBA format). */
struct hnvmf_ini_ns_info {
	uint32_t nsid;
	uint64_t nsze;    /* blocks */
	uint32_t lba_size;
};
int hnvmf_ini_ns_info(struct hnvmf_ini_ctrl *c, uint32_t nsid, struct hnvmf_ini_ns_info *info);

/* Largest transfer the controller takes (MDTS in units of CAP.MPSMIN pages), 0 = no limit. */
uint64_t hnvmf_ini_max_transfer(const struct hnvmf_ini_ctrl *c);

/* Synchronous I/O on I/O queue qidx (0-based index into c->io). */
int hnvmf_ini_read(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
		   uint32_t nlb, void *buf, uint32_t len);
int hnvmf_ini_write(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
		    uint32_t nlb, const void *buf, uint32_t len);
int hnvmf_ini_flush(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid);
int hnvmf_ini_write_zeroes(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
			   uint32_t nlb);
int hnvmf_ini_deallocate(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid,
			 const struct nvme_dsm_range *ranges, unsigned nr);

/* Human-readable NVMe status by its name, "Invalid Field in Command (SCT 0x0 SC 0x02, DNR)"
 * (proto/nvme-status.h), or strerror for < 0. The fabrics variant names command-specific codes
 * as a Connect / Property / Authentication command's ("Connect Invalid Host"). */
const char *hnvmf_ini_status_str(int status, char *buf, size_t len);
const char *hnvmf_ini_fabrics_status_str(int status, char *buf, size_t len);

/* ---- raw mode (fault tests) ------------------------------------------------------------ */

/* A blocking TCP connection (TCP_NODELAY). Returns the fd or -errno. */
int hnvmf_raw_connect(const char *addr, uint16_t port, int timeout_ms);
/* Sends ICReq and reads the ICResp into *rsp (unchecked). Returns 0 or -errno. */
int hnvmf_raw_icreq(int fd, bool hdgst, bool ddgst, struct hnvmf_tcp_icresp *rsp, int timeout_ms);
int hnvmf_raw_send(int fd, const void *buf, size_t len, int timeout_ms);
/* Reads exactly one PDU (common header, then plen - 8 bytes) into buf. Returns plen, 0 when
 * the peer closed before a header, -EMSGSIZE when plen > cap, -ETIMEDOUT, -errno. */
int hnvmf_raw_recv_pdu(int fd, void *buf, size_t cap, int timeout_ms);
/* Waits for the peer to close: returns 0 on EOF (or reset), -ETIMEDOUT, or -EPROTO if more
 * data came (skipped up to 64 KiB). */
int hnvmf_raw_wait_closed(int fd, int timeout_ms);
/* Reads PDUs until a C2HTermReq (skipping others, e.g. a pending CapsuleResp), then waits for
 * the close. Returns the FES (>= 0), -ENOMSG when the connection closed without one,
 * -ETIMEDOUT, -errno. */
int hnvmf_raw_expect_term(int fd, int timeout_ms);
/* Hands the socket of a connected, idle queue to the raw helpers: makes it blocking and
 * detaches it (the queue no longer closes it). Returns the fd or -EBUSY. */
int hnvmf_ini_queue_take_fd(struct hnvmf_ini_queue *q);

/* ---- pattern verification ---------------------------------------------------------------- */

/* The data written for block lba: its first 8 bytes hold lba, the rest a pseudo-random
 * sequence of (seed, lba), so a misplaced or stale block is told apart from a good one. */
void hnvmf_ini_pattern_fill(void *buf, uint32_t len, uint64_t lba, uint32_t lba_size, uint64_t seed);
/* Number of blocks in buf that differ from the pattern; *first_bad gets the first one. */
uint64_t hnvmf_ini_pattern_check(const void *buf, uint32_t len, uint64_t lba, uint32_t lba_size,
				 uint64_t seed, uint64_t *first_bad);

struct hnvmf_ini_verify_opts {
	uint32_t nsid;
	uint64_t slba, nblocks;
	uint32_t lba_size;
	uint32_t io_size;   /* bytes per command, a multiple of lba_size */
	unsigned qd;        /* per I/O queue; every queue of the controller is used */
	uint64_t seed;
	bool write, read;   /* the phases to run (both: write everything, then read it back) */
	int timeout_ms;     /* without any completion; 0 = HNVMF_INI_TIMEOUT_MS */
};
struct hnvmf_ini_verify_result {
	uint64_t writes, reads, bad_blocks, first_bad_lba;
	int status; /* first failed command's status (NVMe status or -errno), 0 if none */
};
/* Writes the pattern over [slba, slba + nblocks) then reads it back and compares, spreading
 * the commands over all the controller's I/O queues at depth qd. Returns 0 when every command
 * succeeded and every block matched, else -EIO (details in res). */
int hnvmf_ini_verify(struct hnvmf_ini_ctrl *c, const struct hnvmf_ini_verify_opts *o,
		     struct hnvmf_ini_verify_result *res);

/* ---- misc ------------------------------------------------------------------------------ */

/* The host NQN to use: /etc/nvme/hostnqn when present, else a generated
 * "nqn.2014-08.org.nvmexpress:uuid:<random uuid>" (stable for the process). */
void hnvmf_ini_default_hostnqn(char *buf, size_t len);
/* A host ID derived from the host NQN (the uuid it contains, else a hash). */
void hnvmf_ini_hostid_from_nqn(const char *hostnqn, uint8_t hostid[16]);
/* The first 32 hex digits of s (dashes between them ignored) into id; returns the number of
 * characters read, or -1 when s does not start with 32 hex digits. */
int hnvmf_ini_uuid_parse(const char *s, uint8_t id[16]);
uint64_t hnvmf_ini_now_ns(void);

#endif
