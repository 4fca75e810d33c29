/* The fuzz targets' environment for network input: the real NVMe/TCP transport, the real target
 * (Connect, admin, I/O, discovery, DH-HMAC-CHAP) and the real engine's direct path on a RAM
 * namespace, all on one single-threaded stand-in reactor (fuzz-reactor.c) so an input runs start
 * to end inside LLVMFuzzerTestOneInput, without threads or forks. A host is the other end of a
 * socketpair; the reactor's loop runs whenever the host waits. */
#ifndef HNVMF_FUZZ_ENV_H
#define HNVMF_FUZZ_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/nvme-cmd.h"

#define FUZZ_SUBNQN "nqn.2026-01.io.hnvmf:fuzz"
#define FUZZ_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"
/* A host whose tenant file requires DH-HMAC-CHAP (bidirectional, any hash and group). */
#define FUZZ_AUTH_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000a1"

/* Loads the fuzz configuration and starts the target; once per process (first call). */
void fuzz_env_init(void);

/* The running target (after fuzz_env_init). */
struct hnvmf_tgt *fuzz_env_tgt(void);

/* A new connection to the target (before ICReq); returns the host's socket. */
int fuzz_host_open(void);
/* Writes all of buf to the target, running its loop while the socket is full. */
void fuzz_host_send(int fd, const void *buf, size_t len);
/* One whole PDU from the target into buf (at most cap bytes, the rest discarded); its length,
 * or 0 when the target closed the connection or sent nothing while its loop ran idle. */
size_t fuzz_host_recv_pdu(int fd, uint8_t *buf, size_t cap);
/* Runs the target's loop and throws away whatever it sent. */
void fuzz_host_drain(int fd);
/* Closes the host's end and runs the target's loop. */
void fuzz_host_close(int fd);
/* Aborts when a connection outlived its host (every input ends with this check). */
void fuzz_env_check_released(void);

/* Host helpers built on the above (no digests). */
bool fuzz_host_icreq(int fd);
/* A command capsule with icd_len bytes of in-capsule data (its SGL must describe them). */
void fuzz_host_cmd(int fd, const union hnvmf_sqe *sqe, const void *icd, uint32_t icd_len);
/* Connect (qid 0: a new controller); the CQE's status field (0 success), *result its DW0. */
uint16_t fuzz_host_connect(int fd, const char *hostnqn, uint16_t qid, uint16_t cntlid,
			   uint32_t *result);

/* The stand-in reactor's loop: runs until nothing is left to do. */
void fuzz_reactor_pump(void);

#endif
