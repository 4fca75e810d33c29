/* Tenant admission (the rules are in target/tenant.h): the engine path of each queue, DAM only
 * for proven, whitelisted identities within their SLA. */
#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>

#include "core/log.h"
#include "core/pqm.h"
#include "target/conf-map.h"
#include "target/stats.h"
#include "target/tenant.h"

/* What admission reads of the tenant, copied under tgt->lock: a SIGHUP re-points ctrl->tenant at
 * a new tenant set under that lock. */
struct tenant_view {
	bool has_tenant;
	enum hnvmf_path_mode mode;
	int permission_level;
	unsigned max_queues;
	enum hnvmf_dam_fallback fallback;
	uint64_t reserved_iops;
};

static struct tenant_view tenant_snapshot(struct hnvmf_sq *sq)
{
	struct tenant_view v = {0};
	pthread_mutex_lock(&sq->tgt->lock);
	const struct hnvmf_conf_tenant *t = sq->ctrl->tenant;
	if (t) {
		v.has_tenant = true;
		v.mode = hnvmf_conf_map_mode(t->mode);
		v.permission_level = t->permission_level;
		v.max_queues = t->max_queues;
		v.fallback = t->dam_fallback;
		v.reserved_iops = t->reserved_iops;
	}
	pthread_mutex_unlock(&sq->tgt->lock);
	return v;
}

static bool dam_whitelisted(const struct hnvmf_conf *conf, int level)
{
	for (size_t i = 0; i < conf->ndam_whitelist; i++)
		if (conf->dam_whitelist[i] == level)
			return true;
	return false;
}

/* An exchange was asked for at Connect and has not succeeded yet. */
static bool auth_pending(const struct hnvmf_sq *sq) { return sq->auth != NULL && !sq->authenticated; }

/* sq->tls: the transport negotiated TLS with the PSK configured for the identity's host, and
 * Connect refuses another host on that queue (target/fabrics-cmd.c), so TLS proves the identity. */
static bool identity_proven(const struct hnvmf_sq *sq) { return sq->authenticated || sq->tls; }

void hnvmf_tenant_release_dam(struct hnvmf_sq *sq)
{
	if (sq->dam_unit < 0)
		return;
	hnvmf_dam_unit_put(sq->tgt->engine, sq->dam_unit);
	sq->dam_unit = -1;
}

/* An I/O queue granted DAM holds a unit (one per queue, whatever its namespaces) from the
 * decision until it closes or loses the grant. It is taken at Connect even while DH-HMAC-CHAP is
 * pending, so that a refusal for capacity is the Connect's status. false: none left. */
static bool take_unit(struct hnvmf_sq *sq, const struct tenant_view *t)
{
	if (sq->qid == 0 || sq->dam_unit >= 0)
		return true;
	int unit = hnvmf_dam_unit_get(sq->tgt->engine);
	if (unit < 0)
		return false;
	sq->dam_unit = unit;
	struct hnvmf_dam_usage u = hnvmf_dam_usage(sq->tgt->engine);
	if (t->reserved_iops && u.unit_iops && t->reserved_iops > u.unit_iops)
		log_ratelimited_f(HNVMF_LOG_NOTICE, sq_log_fields(sq),
				"host %s qid %u: reserved_iops %" PRIu64 " exceeds what one DAM unit was measured "
				"to sustain (%" PRIu64 " IOPS): this queue alone may not deliver it",
				sq->ctrl->hostnqn, sq->qid, t->reserved_iops, u.unit_iops);
	return true;
}

/* The decision. at_connect: rule 3 may still be pending; the fallback notice is given at the
 * admin queue's Connect only (once per controller: every queue of a controller shares the
 * tenant, and every reason for a fallback is known at Connect). */
static uint16_t admit(struct hnvmf_sq *sq, bool at_connect, enum hnvmf_path_mode *mode)
{
	struct hnvmf_ctrl *c = sq->ctrl;
	if (c->subsys->discovery) {
		*mode = HNVMF_PATH_DIRECT;
		return 0;
	}
	struct tenant_view t = tenant_snapshot(sq);
	if (!t.has_tenant) {
		/* DAM is for tenants only: a host without a file has no permission level. */
		enum hnvmf_path_mode m = hnvmf_conf_map_mode(sq->tgt->conf->default_mode);
		*mode = m == HNVMF_PATH_DAM ? HNVMF_PATH_PQM : m;
		return 0;
	}
	if (t.mode != HNVMF_PATH_DAM) {
		*mode = t.mode;
		return 0;
	}

	bool pending = at_connect && auth_pending(sq);
	const char *why = NULL;
	if (!dam_whitelisted(sq->tgt->conf, t.permission_level))
		why = "its permission level is not on the DAM whitelist";
	else if (!pending && !identity_proven(sq))
		why = "the connection is not authenticated (no DH-HMAC-CHAP, no TLS)";
	if (why) {
		if (t.fallback == HNVMF_DAM_FALLBACK_REFUSE) {
			log_notice("host %s qid %u: DAM refused: %s (level %d); dam_fallback = refuse, "
				   "refusing the connection",
				   c->hostnqn, sq->qid, why, t.permission_level);
			return HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST);
		}
		if (at_connect && sq->qid == 0)
			log_notice("host %s (ctrl %u): DAM refused: %s (level %d); serving through PQM",
				   c->hostnqn, c->cntlid, why, t.permission_level);
		*mode = HNVMF_PATH_PQM;
		return 0;
	}
	if (sq->qid > 0 && t.max_queues && sq->qid > t.max_queues) {
		if (!pending)
			log_notice("host %s (ctrl %u): I/O queue %u is beyond the SLA's %u queues: served "
				   "through PQM, not DAM",
				   c->hostnqn, c->cntlid, sq->qid, t.max_queues);
		*mode = HNVMF_PATH_PQM;
		return 0;
	}
	if (!take_unit(sq, &t)) {
		if (t.fallback == HNVMF_DAM_FALLBACK_REFUSE) {
			log_ratelimited_f(HNVMF_LOG_NOTICE, sq_log_fields(sq),
					"host %s qid %u: no DAM capacity left; dam_fallback = refuse, refusing "
					"the queue's Connect",
					c->hostnqn, sq->qid);
			return HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_PARAM);
		}
		log_ratelimited_f(HNVMF_LOG_NOTICE, sq_log_fields(sq), "host %s qid %u: no DAM capacity left: serving the queue through PQM",
				c->hostnqn, sq->qid);
		sq->path_why = "dam: no capacity";
		*mode = HNVMF_PATH_PQM;
		return 0;
	}
	sq->path_why = NULL;
	/* pending: provisional, decided when the exchange succeeds (the unit is held meanwhile) */
	*mode = pending ? HNVMF_PATH_PQM : HNVMF_PATH_DAM;
	return 0;
}

/* Asks the transport to move the queue onto reactor to (hnvmf_sq_ops.move); a transport that
 * cannot leaves it where it is, and its DAM channels get dedicated servers (core/path-dam.c). */
static void move_queue(struct hnvmf_sq *sq, struct hnvmf_reactor *to)
{
	if (to && to != sq->reactor && sq->ops->move)
		sq->ops->move(sq, to);
}

/* A queue gets DAM: counted, logged at info level (rate-limited: a host may reconnect at will),
 * and moved onto the DAM reactor of its unit, where it runs to completion. */
static void dam_granted(struct hnvmf_sq *sq)
{
	hnvmf_stats_count_dam(sq->tgt->stats, true);
	log_ratelimited_f(HNVMF_LOG_INFO, sq_log_fields(sq), "host %s qid %u: DAM granted", sq->ctrl->hostnqn, sq->qid);
	move_queue(sq, hnvmf_dam_reactor(sq->tgt->engine, sq->dam_unit));
}

uint16_t hnvmf_tenant_admit(struct hnvmf_sq *sq, enum hnvmf_path_mode *mode)
{
	uint16_t st = admit(sq, true, mode);
	if (!st && *mode == HNVMF_PATH_DAM)
		dam_granted(sq);
	return st;
}

uint16_t hnvmf_tenant_admit_authenticated(struct hnvmf_sq *sq)
{
	enum hnvmf_path_mode m;
	uint16_t st = admit(sq, false, &m);
	if (st || m != HNVMF_PATH_DAM)
		hnvmf_tenant_release_dam(sq); /* no channel is open yet: I/O waited for the exchange */
	if (!st) {
		if (m != sq->mode)
			log_debug("host %s qid %u: authenticated, path %s", sq->ctrl->hostnqn, sq->qid,
				  hnvmf_path_mode_name(m));
		if (m == HNVMF_PATH_DAM && sq->mode != HNVMF_PATH_DAM)
			dam_granted(sq);
		sq->mode = m;
	}
	return st;
}

/* On the queue's reactor, after a reload: a queue holding DAM keeps it only while admission still
 * grants it. A revoked queue's dedicated channels drain (what is in flight on them completes and
 * is answered as usual), later I/O opens channels in the new path, and the queue moves back to
 * the shared reactor that accepted it; with the refuse policy the queue is disconnected instead
 * (its in-flight commands still complete). */
static void revalidate_dam(struct hnvmf_sq *sq)
{
	if (sq->mode != HNVMF_PATH_DAM || !sq->ctrl)
		return;
	enum hnvmf_path_mode m;
	uint16_t st = admit(sq, false, &m);
	if (st || m != HNVMF_PATH_DAM)
		hnvmf_stats_count_dam(sq->tgt->stats, false);
	if (st) {
		log_ratelimited_f(HNVMF_LOG_NOTICE, sq_log_fields(sq),
				  "host %s qid %u: DAM grant revoked by reload; dam_fallback = refuse: disconnecting",
				  sq->ctrl->hostnqn, sq->qid);
		sq->ops->disconnect(sq);
		return;
	}
	if (m == HNVMF_PATH_DAM)
		return;
	log_ratelimited_f(HNVMF_LOG_INFO, sq_log_fields(sq),
			  "host %s qid %u: DAM grant revoked by reload: draining its dedicated queue pairs, "
			  "continuing through %s",
			  sq->ctrl->hostnqn, sq->qid, hnvmf_path_mode_name(m));
	for (size_t i = 0; i < sizeof(sq->chans) / sizeof(sq->chans[0]); i++) {
		if (sq->chans[i]) {
			hnvmf_chan_close(sq->chans[i]);
			sq->chans[i] = NULL;
		}
	}
	hnvmf_tenant_release_dam(sq);
	sq->mode = m;
	move_queue(sq, sq->home); /* off the reserved CPU; its channels reopen there */
}

/* On the queue's reactor, after a reload: an I/O queue served through PQM whose tenant is now
 * granted DAM (its file asks for it, its level is whitelisted, its identity proven, within
 * max_queues, a unit free) gets DAM where its transport can move it: its PQM channels close at the
 * move, once their ios completed (hnvmf_sq_move_out), and it runs on its DAM reactor from then.
 * A transport without a move would keep it in PQM until it reconnects (TCP and RDMA both move). Nothing is logged when it does not
 * qualify: the reload's own log says what changed. */
static void regrant_dam(struct hnvmf_sq *sq)
{
	if (sq->mode != HNVMF_PATH_PQM || !sq->ctrl || sq->qid == 0 || !sq->ops->move)
		return;
	struct tenant_view t = tenant_snapshot(sq);
	if (!t.has_tenant || t.mode != HNVMF_PATH_DAM || !dam_whitelisted(sq->tgt->conf, t.permission_level) ||
	    !identity_proven(sq) || (t.max_queues && sq->qid > t.max_queues) || !take_unit(sq, &t))
		return;
	sq->path_why = NULL;
	sq->mode = HNVMF_PATH_DAM;
	dam_granted(sq);
}

static void reload_queue(struct hnvmf_sq *sq)
{
	if (sq->mode == HNVMF_PATH_DAM)
		revalidate_dam(sq);
	else
		regrant_dam(sq);
}

static bool io_queue(const struct hnvmf_sq *sq) { return sq->qid > 0; }

bool hnvmf_tenant_qos(struct hnvmf_sq *sq, struct hnvmf_tenant_qos *q)
{
	pthread_mutex_lock(&sq->tgt->lock);
	const struct hnvmf_conf_tenant *t = sq->ctrl->tenant;
	if (t)
		*q = hnvmf_conf_map_qos(t);
	pthread_mutex_unlock(&sq->tgt->lock);
	return t != NULL;
}

/* A DAM tenant whose reserved_iops is new (a new file, a changed value or mode) and exceeds what
 * one DAM unit was measured to sustain is told so once, at notice: DAM does not enforce a
 * reservation, and one queue cannot deliver more than its unit (docs/dam.md). Nothing is said
 * before the first measurement. Under tgt->lock. */
static void check_dam_reservations(struct hnvmf_tgt *tgt, const struct hnvmf_conf_tenant *old, size_t nold)
{
	uint64_t unit = hnvmf_dam_usage(tgt->engine).unit_iops;
	if (!unit)
		return;
	for (size_t i = 0; i < tgt->ntenants; i++) {
		const struct hnvmf_conf_tenant *t = &tgt->tenants[i];
		if (t->mode != HNVMF_CONF_MODE_DAM || t->reserved_iops <= unit)
			continue;
		const struct hnvmf_conf_tenant *was = hnvmf_conf_find_tenant(old, nold, t->hostnqn);
		if (was && was->mode == t->mode && was->reserved_iops == t->reserved_iops)
			continue;
		log_notice("tenant %s: reserved_iops %" PRIu64 " exceeds what one DAM unit was measured to "
			   "sustain (%" PRIu64 " IOPS): one DAM queue may not deliver it, and DAM does not "
			   "enforce reservations (docs/dam.md)",
			   t->hostnqn, t->reserved_iops, unit);
	}
}

void hnvmf_tenant_apply_qos(struct hnvmf_tgt *tgt, const struct hnvmf_conf_tenant *old, size_t nold)
{
	static const struct hnvmf_tenant_qos none = {.weight = 1};
	pthread_mutex_lock(&tgt->lock);
	for (size_t i = 0; i < nold; i++)
		if (!hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, old[i].hostnqn) &&
		    hnvmf_engine_set_tenant_qos(tgt->engine, old[i].hostnqn, &none) != 0)
			log_err("tenant %s: cannot reset its PQM share: out of memory", old[i].hostnqn);
	check_dam_reservations(tgt, old, nold);
	for (size_t i = 0; i < tgt->ntenants; i++) {
		struct hnvmf_tenant_qos q = hnvmf_conf_map_qos(&tgt->tenants[i]);
		if (hnvmf_engine_set_tenant_qos(tgt->engine, tgt->tenants[i].hostnqn, &q) != 0)
			log_err("tenant %s: cannot apply its PQM share: out of memory or too many tenants",
				tgt->tenants[i].hostnqn);
	}
	pthread_mutex_unlock(&tgt->lock);
	hnvmf_pqm_check_reservations(tgt->engine);
}

void hnvmf_tenant_reload(struct hnvmf_tgt *tgt)
{
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		hnvmf_ctrl_call_on_queues(c, io_queue, reload_queue);
	}
	pthread_mutex_unlock(&tgt->lock);
}
