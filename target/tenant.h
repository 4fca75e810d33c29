/* Tenant admission: which engine path a queue's I/O takes, and whether a tenant whose policy
 * cannot be honoured is served at all.
 *
 * A queue gets DAM (direct access mode) only when
 *   1. its host's tenant file says mode = dam,
 *   2. the tenant's permission_level is on the global dam_whitelist,
 *   3. the connection is authenticated: DH-HMAC-CHAP succeeded on this queue, or the transport
 *      secured it with TLS (always a PSK for NVMe/TCP, which proves the identity), and
 *   4. it is an I/O queue within the tenant's SLA (qid <= max_queues, when max_queues is set);
 *      queues beyond it are served through PQM, with a notice (rule 4 never refuses), and
 *   5. a DAM unit is free (capacity: [pqm] dam_cpus x dam_queues_per_cpu, or dam_max_queues):
 *      each granted I/O queue holds one until it closes or loses the grant. When none is left the
 *      tenant's dam_fallback decides: pqm (the queue is served through PQM, sq->path_why says
 *      so) or refuse (the Connect fails with Connect Invalid Parameters, DNR, pointing at QID).
 * When 1 holds but 2 or 3 fails, the tenant's dam_fallback decides: pqm (serve through PQM and
 * say why, once per controller: at its admin queue's Connect) or refuse (the Connect fails with
 * Connect Invalid Host, DNR). Hosts without a tenant file get conf->default_mode (never DAM);
 * baseline tenants get BASELINE; discovery controllers are DIRECT.
 *
 * DH-HMAC-CHAP completes after Connect (the host authenticates a queue once its Connect answered
 * ATR), so rule 3 cannot be decided at Connect for a queue with an exchange pending. Such a queue
 * gets a provisional PQM at Connect - harmless: no channel is opened before the first I/O, and
 * target/req.c refuses I/O until the queue authenticated - and target/auth.c calls
 * hnvmf_tenant_admit_authenticated when its first exchange succeeds; that decision is final for
 * the queue (later re-authentications do not move a queue whose channels may be open). Every
 * reason that can refuse a queue with a pending exchange (rule 2, a refusing fallback) is known at
 * Connect, so refused tenants are refused there. */
#ifndef HNVMF_TENANT_H
#define HNVMF_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/nvmf.h"

/* At Connect, once sq->ctrl and sq->qid are set and hnvmf_auth_required has run: returns 0 and
 * stores the queue's path in *mode, or returns the status that fails the Connect (*mode is then
 * untouched; the caller points the CQE's DW0 at the Connect data's host NQN). */
uint16_t hnvmf_tenant_admit(struct hnvmf_sq *sq, enum hnvmf_path_mode *mode);

/* When the queue's first DH-HMAC-CHAP exchange succeeded (sq->authenticated is set): decides the
 * mode Connect left provisional and stores it in sq->mode. Returns 0, or a non-zero status when
 * the tenant must now be refused (its file changed since Connect); the caller disconnects. */
uint16_t hnvmf_tenant_admit_authenticated(struct hnvmf_sq *sq);

/* Returns the DAM unit the queue holds, if any, to the engine; on the queue's reactor, once its
 * DAM channels are closed (queue teardown, a revoked grant). */
void hnvmf_tenant_release_dam(struct hnvmf_sq *sq);

/* After the tenant set was replaced (SIGHUP, "reload"): every I/O queue is re-admitted on its own
 * reactor; a revoked grant drains its dedicated queue pairs and moves the queue to the path
 * admission now gives (PQM) and back to its shared reactor, or disconnects it when the tenant's
 * dam_fallback is refuse; a PQM queue now granted DAM moves onto its DAM reactor (transports
 * that can move a connection: TCP and RDMA). No acknowledged or in-flight I/O is lost either way. */
void hnvmf_tenant_reload(struct hnvmf_tgt *tgt);

/* The PQM share (weight, limits, reservation) of the queue's tenant into *q; false when its host
 * has no tenant file (it then shares the engine's default tenant). */
bool hnvmf_tenant_qos(struct hnvmf_sq *sq, struct hnvmf_tenant_qos *q);

/* Hands the tenant set now in force to the engine: each tenant's share, applied to its live
 * channels from their next io (no reconnection); tenants of the previous set (old, nold) that
 * are gone get the default share. Then the reservations are checked against the capacity
 * measured so far (logged, not refused): PQM's against the pool's, and a DAM tenant's
 * reserved_iops that is new or changed against what one DAM unit sustains (once, at notice).
 * At start old is NULL. */
void hnvmf_tenant_apply_qos(struct hnvmf_tgt *tgt, const struct hnvmf_conf_tenant *old, size_t nold);

#endif
