/* Fabrics commands: Connect (admin and I/O queues), Property Get/Set, Disconnect, and the entry to
 * in-band authentication (Authentication Send/Receive, handled in target/auth.c). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "target/auth.h"   /* DH-HMAC-CHAP: hnvmf_auth_required, hnvmf_parse_auth_cmd */
#include "target/nvmf.h"
#include "target/tenant.h" /* admission: the engine path of a queue */

/* Connect refusals name the offending field in DW0: bits 15:0 its byte offset, bit 16 set when
 * it is in the Connect data rather than the SQE (what the Linux host decodes and prints). */
static uint32_t connect_ipo(bool in_data, uint16_t offset) { return (in_data ? 1u << 16 : 0) | offset; }

static uint16_t connect_invalid(struct hnvmf_req *req, bool in_data, uint16_t offset)
{
	req->cqe.result = connect_ipo(in_data, offset);
	return HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_PARAM);
}

static uint16_t connect_invalid_host(struct hnvmf_req *req)
{
	req->cqe.result = connect_ipo(true, offsetof(struct nvmf_connect_data, hostnqn));
	return HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_HOST);
}

static void nul_terminate(char *s, size_t n) { s[n - 1] = '\0'; }

/* NVMe/TCP secure channel (docs/auth.md), on every queue: a TLS queue proved the PSK identity's
 * host (and subsystem), so it is admitted for that host and subsystem only; and a host whose
 * tenant has a tls_psk is admitted only on such a queue: over plain TCP anyone can name it. The
 * discovery subsystem is exempt from the second rule: hosts discover over plain TCP to learn
 * that a port requires TLS (TREQ), and discovery hands out no data. */
static uint16_t tls_admission(struct hnvmf_req *req, const struct hnvmf_subsys *s,
			      const struct nvmf_connect_data *d, uint16_t qid)
{
	struct hnvmf_sq *sq = req->sq;
	if (sq->tls) {
		if (strcmp(d->hostnqn, sq->tls_hostnqn) == 0 &&
		    (!sq->tls_subnqn[0] || strcmp(d->subsysnqn, sq->tls_subnqn) == 0))
			return 0;
		log_ratelimited(HNVMF_LOG_WARN, "%s: Connect for %s / %s qid %u does not match the TLS identity (%s / %s)",
				sq->peer, d->hostnqn, d->subsysnqn, qid, sq->tls_hostnqn, sq->tls_subnqn);
	} else {
		if (s->discovery)
			return 0;
		pthread_mutex_lock(&sq->tgt->lock);
		const struct hnvmf_conf_tenant *t =
			hnvmf_conf_find_tenant(sq->tgt->tenants, sq->tgt->ntenants, d->hostnqn);
		bool needs_tls = t && t->tls_psk[0];
		pthread_mutex_unlock(&sq->tgt->lock);
		if (!needs_tls)
			return 0;
		log_ratelimited(HNVMF_LOG_NOTICE,
				"%s: host %s has a TLS PSK: refused on a connection without TLS (subsystem %s, qid %u)",
				sq->peer, d->hostnqn, d->subsysnqn, qid);
	}
	return connect_invalid_host(req);
}

/* The queue's engine path, or the status refusing the Connect (rules in target/tenant.h). */
static uint16_t queue_mode(struct hnvmf_sq *sq, enum hnvmf_path_mode *mode)
{
	return hnvmf_tenant_admit(sq, mode);
}

/* What every Connect checks before its queue type matters: the data (its NQNs NUL-terminated
 * into d), the queue not yet connected, the record format, the subsystem on this port, the host
 * allowed there and admitted by the secure channel, a non-zero SQSIZE. 0 with *sp set, or the
 * status refusing the Connect. */
static uint16_t connect_check(struct hnvmf_req *req, struct nvmf_connect_data *d, struct hnvmf_subsys **sp)
{
	struct hnvmf_sq *sq = req->sq;
	struct hnvmf_sqe_connect *c = &req->cmd->connect;
	if (hnvmf_req_copy_from(req, d, sizeof(*d)) != sizeof(*d))
		return HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA);
	nul_terminate(d->subsysnqn, sizeof(d->subsysnqn));
	nul_terminate(d->hostnqn, sizeof(d->hostnqn));
	if (sq->ctrl) /* a second Connect on a connected queue */
		return HNVMF_SC_CMD(NVME_SC_CONNECT_CTRL_BUSY);
	if (le16toh(c->recfmt) != 0)
		return HNVMF_SC_CMD(NVME_SC_CONNECT_FORMAT);
	/* The subsystem list and a subsystem's hosts and listeners change at run time under the
	 * lock (target/reconfig.c); a subsystem removed after this stays allocated until every
	 * reactor has passed a quiescent point, so s may be used for the rest of this Connect. */
	pthread_mutex_lock(&sq->tgt->lock);
	struct hnvmf_subsys *s = hnvmf_tgt_find_subsys(sq->tgt, d->subsysnqn);
	bool found = s && hnvmf_subsys_on_port(s, sq->port);
	bool allowed = found && hnvmf_host_allowed(sq->tgt, s, d->hostnqn);
	pthread_mutex_unlock(&sq->tgt->lock);
	if (!found) {
		log_ratelimited_f(HNVMF_LOG_NOTICE, (&(struct hnvmf_log_fields){d->hostnqn, d->subsysnqn, -1, le16toh(c->qid)}),
				  "%s: connect to unknown subsystem '%s' from host %s", sq->peer, d->subsysnqn, d->hostnqn);
		return connect_invalid(req, true, offsetof(struct nvmf_connect_data, subsysnqn));
	}
	if (!allowed) {
		log_ratelimited_f(HNVMF_LOG_NOTICE, (&(struct hnvmf_log_fields){d->hostnqn, s->nqn, -1, le16toh(c->qid)}),
				  "%s: host %s is not allowed on subsystem %s", sq->peer, d->hostnqn, s->nqn);
		return connect_invalid_host(req);
	}
	uint16_t st = tls_admission(req, s, d, le16toh(c->qid));
	if (st)
		return st;
	if (le16toh(c->sqsize) == 0)
		return connect_invalid(req, false, offsetof(struct hnvmf_sqe_connect, sqsize));
	*sp = s;
	return 0;
}

/* A Connect refused after it took its reference to ctrl: the reference goes, and a controller
 * the admin Connect created goes with it (it has no admin queue). */
static void connect_drop_ctrl(struct hnvmf_ctrl *ctrl, uint16_t qid, const char *why)
{
	if (qid == 0)
		hnvmf_ctrl_fatal(ctrl, why);
	hnvmf_ctrl_put(ctrl);
}

/* sq becomes queue qid of ctrl on the engine path its tenant is granted; the Connect's reference
 * to ctrl passes to the queue. On a refusal nothing stays attached (connect_drop_ctrl). */
static uint16_t connect_attach(struct hnvmf_req *req, struct hnvmf_ctrl *ctrl, const struct nvmf_connect_data *d,
			       const struct hnvmf_subsys *s)
{
	struct hnvmf_sq *sq = req->sq;
	struct hnvmf_sqe_connect *c = &req->cmd->connect;
	uint16_t qid = le16toh(c->qid);
	uint16_t st = hnvmf_ctrl_attach_sq(ctrl, sq, qid);
	if (st) {
		connect_drop_ctrl(ctrl, qid, "admin queue refused");
		return st;
	}
	sq->ctrl = ctrl;
	sq->qid = qid;
	sq->size = (uint16_t)(le16toh(c->sqsize) + 1);
	sq->head = 0;
	sq->sqfc_disabled = (c->cattr & HNVMF_CONNECT_CATTR_SQ_FC_DISABLE) != 0;
	uint32_t result = ctrl->cntlid;
	if (hnvmf_auth_required(sq))
		result |= HNVMF_CONNECT_RESP_ATR;
	st = queue_mode(sq, &sq->mode);
	if (st) {
		/* Admission refused this tenant: the Connect fails as a whole. */
		hnvmf_auth_sq_free(sq);
		hnvmf_ctrl_detach_sq(ctrl, sq);
		sq->ctrl = NULL;
		connect_drop_ctrl(ctrl, qid, "admission refused");
		/* Invalid Parameters: no DAM capacity for another queue (target/tenant.h) */
		req->cqe.result = st == HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_PARAM)
					  ? connect_ipo(false, offsetof(struct hnvmf_sqe_connect, qid))
					  : connect_ipo(true, offsetof(struct nvmf_connect_data, hostnqn));
		return st;
	}
	log_debug("%s: host %s connected qid %u size %u to %s (ctrl %u, %s)", sq->peer, d->hostnqn, qid,
		  sq->size, s->nqn, ctrl->cntlid, hnvmf_path_mode_name(sq->mode));
	req->cqe.result = result;
	return 0;
}

/* Admin Connect (QID 0): creates the controller; the host asks for a new one (CNTLID FFFFh,
 * the dynamic controller model). */
static uint16_t admin_connect_ctrl(struct hnvmf_req *req, const struct nvmf_connect_data *d, struct hnvmf_subsys *s,
				   struct hnvmf_ctrl **ctrl)
{
	struct hnvmf_sq *sq = req->sq;
	struct hnvmf_sqe_connect *c = &req->cmd->connect;
	if (le16toh(d->cntlid) != 0xffff)
		return connect_invalid(req, true, offsetof(struct nvmf_connect_data, cntlid));
	if (le16toh(c->sqsize) + 1u > HNVMF_ADMIN_QUEUE_DEPTH)
		return connect_invalid(req, false, offsetof(struct hnvmf_sqe_connect, sqsize));
	uint32_t kato = le32toh(c->kato);
	/* A discovery controller without keep-alive would live as long as its connection:
	 * give it the configured default so an abandoned one is reaped (nvmet: 120 s). */
	if (s->discovery && kato == 0)
		kato = sq->tgt->conf->kato_default_ms;
	uint16_t st = hnvmf_ctrl_create(sq->tgt, s, d->hostnqn, d->hostid, kato, ctrl);
	if (!st)
		atomic_fetch_add(&(*ctrl)->refs, 1); /* the admin queue's */
	return st;
}

/* I/O Connect: joins the controller CNTLID names, once it is ready (CSTS.RDY, re-checked by
 * hnvmf_ctrl_attach_sq against a reset begun since), with a free QID within what the
 * controller grants and SQSIZE within the configured queue depth. A discovery controller has
 * no I/O queues (nvmet refuses them too). */
static uint16_t io_connect_ctrl(struct hnvmf_req *req, const struct nvmf_connect_data *d, struct hnvmf_subsys *s,
				struct hnvmf_ctrl **out)
{
	struct hnvmf_sq *sq = req->sq;
	struct hnvmf_sqe_connect *c = &req->cmd->connect;
	uint16_t qid = le16toh(c->qid);
	if (s->discovery)
		return connect_invalid(req, false, offsetof(struct hnvmf_sqe_connect, qid));
	struct hnvmf_ctrl *ctrl = hnvmf_ctrl_find_get(sq->tgt, d->subsysnqn, d->hostnqn, le16toh(d->cntlid));
	if (!ctrl)
		return connect_invalid(req, true, offsetof(struct nvmf_connect_data, cntlid));
	pthread_mutex_lock(&ctrl->lock);
	bool ready = ctrl->csts & 1u;
	bool busy = qid <= HNVMF_MAX_IO_QUEUES && ctrl->sqs[qid] != NULL;
	uint16_t maxq = ctrl->max_io_queues;
	pthread_mutex_unlock(&ctrl->lock);
	uint16_t st = 0;
	if (qid > maxq)
		st = connect_invalid(req, false, offsetof(struct hnvmf_sqe_connect, qid));
	else if (busy)
		st = HNVMF_SC_CMD(NVME_SC_CONNECT_CTRL_BUSY);
	else if (!ready)
		st = HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR);
	else if (le16toh(c->sqsize) + 1u > sq->tgt->conf->queue_depth)
		st = connect_invalid(req, false, offsetof(struct hnvmf_sqe_connect, sqsize));
	if (st)
		hnvmf_ctrl_put(ctrl);
	else
		*out = ctrl;
	return st;
}

typedef uint16_t connect_ctrl_fn(struct hnvmf_req *req, const struct nvmf_connect_data *d, struct hnvmf_subsys *s,
				  struct hnvmf_ctrl **ctrl);

/* Either Connect: the common checks, the controller (created or joined), the attach. */
static uint16_t connect_queue(struct hnvmf_req *req, connect_ctrl_fn *get_ctrl, struct hnvmf_ctrl **ctrl)
{
	struct nvmf_connect_data d;
	struct hnvmf_subsys *s;
	uint16_t st = connect_check(req, &d, &s);
	if (!st)
		st = get_ctrl(req, &d, s, ctrl);
	if (!st)
		st = connect_attach(req, *ctrl, &d, s);
	return st;
}

static void execute_admin_connect(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *ctrl;
	uint16_t st = connect_queue(req, admin_connect_ctrl, &ctrl);
	if (!st)
		hnvmf_ctrl_start_keepalive(ctrl);
	hnvmf_req_complete(req, st);
}

static void execute_io_connect(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *ctrl;
	hnvmf_req_complete(req, connect_queue(req, io_connect_ctrl, &ctrl));
}

/* As nvmet: the admin Connect creates a controller, an I/O Connect joins one. */
static void parse_connect(struct hnvmf_req *req)
{
	req->dir = HNVMF_DIR_H2C;
	req->data_len = sizeof(struct nvmf_connect_data);
	req->execute = le16toh(req->cmd->connect.qid) == 0 ? execute_admin_connect : execute_io_connect;
}

uint16_t hnvmf_parse_connect_cmd(struct hnvmf_req *req)
{
	if (req->cmd->fabrics.fctype != nvme_fabrics_type_connect)
		return HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR); /* only Connect before Connect */
	parse_connect(req);
	return 0;
}

static void execute_prop_get(struct hnvmf_req *req)
{
	struct hnvmf_sqe_prop *p = &req->cmd->prop;
	uint64_t val = 0;
	uint16_t st = hnvmf_ctrl_prop_get(req->sq->ctrl, le32toh(p->offset), p->attrib & 1, &val);
	req->cqe.result = htole64(val);
	hnvmf_req_complete(req, st);
}

static void execute_prop_set(struct hnvmf_req *req)
{
	struct hnvmf_sqe_prop *p = &req->cmd->prop;
	hnvmf_req_complete(req, hnvmf_ctrl_prop_set(req->sq->ctrl, le32toh(p->offset), p->attrib & 1,
						    le64toh(p->value)));
}

static void execute_disconnect(struct hnvmf_req *req)
{
	/* The host deletes the queue after this completes; the transport sees the close. */
	hnvmf_req_complete(req, 0);
}

uint16_t hnvmf_parse_fabrics_cmd(struct hnvmf_req *req)
{
	switch (req->cmd->fabrics.fctype) {
	case nvme_fabrics_type_connect:
		parse_connect(req); /* refused there: the queue is connected */
		return 0;
	case nvme_fabrics_type_property_get:
		if (req->sq->qid != 0)
			return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
		req->execute = execute_prop_get;
		return 0;
	case nvme_fabrics_type_property_set:
		if (req->sq->qid != 0)
			return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
		req->execute = execute_prop_set;
		return 0;
	case nvme_fabrics_type_disconnect:
		req->execute = execute_disconnect;
		return 0;
	case nvme_fabrics_type_auth_send:
	case nvme_fabrics_type_auth_receive:
		return hnvmf_parse_auth_cmd(req);
	default:
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
	}
}
