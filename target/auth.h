/* In-band authentication: the DH-HMAC-CHAP exchange (NVMe TP 8006, NVMe Base 2.0 section 8.13.5)
 * carried by the fabrics commands Authentication Send and Authentication Receive, per queue.
 *
 * The exchange, as the Linux host drives it (drivers/nvme/host/auth.c):
 *
 *   host                                    controller (this file's state after each step)
 *   Connect                       ->        ATR set in the response          IDLE
 *   AuthSend  Negotiate (t_id, hash and DH group lists)                      CHALLENGE
 *   AuthRecv                      <-        Challenge (hash, group, S1, C1, g^y)  REPLY
 *   AuthSend  Reply (R1, [C2, S2], g^x)     R1 checked                        SUCCESS1
 *   AuthRecv                      <-        Success1 ([R2])                  SUCCESS2 or done
 *   AuthSend  Success2 (bidirectional only)                                   done
 *
 * Any failure the controller detects is reported by the next AuthRecv as Failure1; a host that
 * gives up sends Failure2, which is answered like any other AuthSend (completed with success).
 * AuthSend always completes with success when its command fields are valid: protocol errors
 * travel in messages, never in the CQE, as the host expects. A new Negotiate restarts the
 * exchange at any time (re-authentication). Each queue, admin and I/O, authenticates on its own,
 * on the queue's reactor, except the Diffie-Hellman steps: those run on the worker pool
 * (target/auth-worker.h) and the command waits for them. A queue must authenticate within
 * [limits] auth_timeout_ms of its Connect; failures back off (target/auth-limit.h).
 *
 * The message layouts are in proto/auth-msg.h. */
#ifndef HNVMF_AUTH_H
#define HNVMF_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/auth-msg.h"
#include "target/nvmf.h"

/* Called by Connect once sq->ctrl and sq->qid are set, on the queue's reactor: true when the
 * queue must authenticate before it carries anything but fabrics commands (the Connect response
 * then has ATR set). Allocates the queue's exchange state in sq->auth then and starts the timer
 * that disconnects a queue which has not authenticated within auth_timeout_ms. */
bool hnvmf_auth_required(struct hnvmf_sq *sq);

/* AuthSend / AuthRecv (fctype 5 / 6): checks the command fields and picks the handler, or
 * returns a status. */
uint16_t hnvmf_parse_auth_cmd(struct hnvmf_req *req);

/* Releases the queue's exchange state (stops its timer, wipes its secrets). On the queue's
 * reactor, when the queue is destroyed; idempotent. */
void hnvmf_auth_sq_free(struct hnvmf_sq *sq);
/* The queue moves to another reactor (hnvmf_sq_move_out / _in): its timer leaves the old
 * reactor's list and is armed again, with the deadline it had, on the new one. */
void hnvmf_auth_sq_disarm(struct hnvmf_sq *sq);
void hnvmf_auth_sq_rearm(struct hnvmf_sq *sq);

#endif
