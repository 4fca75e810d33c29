/* Queues and the request life cycle: parse once (pick the handler, check the data length), execute
 * once, complete exactly once. See the life cycle in target/nvmf.h. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "target/auth.h"
#include "target/nvmf.h"
#include "target/stats.h"
#include "target/tenant.h" /* hnvmf_tenant_release_dam */

void hnvmf_sq_init(struct hnvmf_sq *sq, struct hnvmf_tgt *tgt, struct hnvmf_port *port,
		   struct hnvmf_reactor *r, const struct hnvmf_sq_ops *ops)
{
	sq->tgt = tgt;
	sq->port = port;
	hnvmf_port_get(port); /* a listener removed meanwhile stays until the queue is gone */
	sq->reactor = r;
	sq->home = r;
	sq->ops = ops;
	sq->ctrl = NULL;
	sq->qid = 0;
	sq->size = 0;
	sq->head = 0;
	sq->sqfc_disabled = false;
	sq->authenticated = false;
	atomic_init(&sq->inflight, 0);
	atomic_init(&sq->ncmds, 0);
	atomic_init(&sq->deleted, false);
	sq->mode = HNVMF_PATH_DIRECT;
	sq->path_why = NULL;
	sq->dam_unit = -1;
	memset(sq->chans, 0, sizeof(sq->chans));
	memset(sq->stats, 0, sizeof(sq->stats));
	atomic_init(&sq->io_done, 0);
	atomic_init(&sq->io_hops, 0);
	sq->auth = NULL;
}

static void close_chans(struct hnvmf_sq *sq)
{
	for (unsigned i = 0; i <= HNVMF_MAX_NSID; i++) {
		if (sq->chans[i]) {
			hnvmf_chan_close(sq->chans[i]);
			sq->chans[i] = NULL;
		}
	}
}

void hnvmf_sq_move_out(struct hnvmf_sq *sq, struct hnvmf_reactor *to)
{
	close_chans(sq);
	hnvmf_auth_sq_disarm(sq);
	/* Under the lock hnvmf_ctrl_call_on_queues reads it with: a call that reaches the old
	 * reactor later is passed on to this one (target/ctrl.c). */
	if (sq->ctrl)
		pthread_mutex_lock(&sq->ctrl->lock);
	sq->reactor = to;
	if (sq->ctrl)
		pthread_mutex_unlock(&sq->ctrl->lock);
}

void hnvmf_sq_move_in(struct hnvmf_sq *sq) { hnvmf_auth_sq_rearm(sq); }

void hnvmf_sq_quiesce(struct hnvmf_sq *sq)
{
	struct hnvmf_ctrl *ctrl = sq->ctrl;
	if (!ctrl || sq->qid != 0)
		return;
	struct hnvmf_req *held[HNVMF_MAX_AER];
	unsigned n;
	pthread_mutex_lock(&ctrl->lock);
	n = ctrl->naer;
	memcpy(held, ctrl->aer, n * sizeof(held[0]));
	ctrl->naer = 0;
	pthread_mutex_unlock(&ctrl->lock);
	for (unsigned i = 0; i < n; i++)
		hnvmf_req_complete(held[i], HNVMF_SC_GENERIC(NVME_SC_ABORT_QUEUE));
}

void hnvmf_sq_destroy(struct hnvmf_sq *sq)
{
	hnvmf_auth_sq_free(sq); /* its timer lives on this reactor: cancelled here */
	hnvmf_stats_sq_release(sq);
	close_chans(sq);
	hnvmf_tenant_release_dam(sq);
	hnvmf_port_put(sq->port);
	sq->port = NULL;
	struct hnvmf_ctrl *ctrl = sq->ctrl;
	if (!ctrl)
		return;
	sq->ctrl = NULL;
	hnvmf_ctrl_detach_sq(ctrl, sq);
	if (sq->qid != 0)
		hnvmf_ctrl_io_queue_gone(ctrl);
	if (sq->qid == 0) {
		/* The admin queue is the controller: without it the I/O queues go too (nvmet does
		 * the same), and the keep-alive timer on this reactor is cancelled here. */
		hnvmf_timer_cancel(sq->reactor, &ctrl->ka_timer);
		hnvmf_ctrl_fatal(ctrl, "admin queue closed");
	}
	hnvmf_ctrl_put(ctrl);
}

/* DH-HMAC-CHAP: a queue whose Connect answered "authentication required" executes nothing but
 * Authentication Send/Receive until the exchange succeeded: not even the fabrics Property Get/Set,
 * with which an unauthenticated host would enable or shut down the controller (the Linux host
 * authenticates before it reads a property). */
static bool auth_pending(const struct hnvmf_sq *sq, const union hnvmf_sqe *cmd)
{
	if (sq->auth == NULL || sq->authenticated)
		return false;
	return cmd->common.opcode != nvme_admin_fabrics ||
	       (cmd->fabrics.fctype != nvme_fabrics_type_auth_send &&
		cmd->fabrics.fctype != nvme_fabrics_type_auth_receive);
}

/* Commands of an I/O queue a controller reset deleted (target/ctrl.c) fail, without DNR: not
 * executed, they may be retried on the queues the host connects after the reset. */
#define IO_QUEUE_DELETED hnvmf_status(NVME_SCT_GENERIC, NVME_SC_ABORT_QUEUE, 0)

static bool io_queue_deleted(const struct hnvmf_req *req)
{
	return req->sq->qid != 0 && req->cmd->common.opcode != nvme_admin_fabrics &&
	       atomic_load_explicit(&req->sq->deleted, memory_order_relaxed);
}

bool hnvmf_req_init(struct hnvmf_req *req, struct hnvmf_sq *sq, union hnvmf_sqe *cmd)
{
	req->cmd = cmd;
	req->sq = sq;
	req->ns = NULL;
	req->data_len = 0;
	req->xfer_len = 0;
	req->dir = HNVMF_DIR_NONE;
	req->iovcnt = 0;
	req->iov_replaceable = false; /* per command: set by a transport that maps req->iov itself */
	req->execute = NULL;
	memset(&req->cqe, 0, sizeof(req->cqe));
	req->cqe.cid = cmd->common.cid;
	hnvmf_stats_start(req);
	atomic_fetch_add_explicit(&sq->inflight, 1, memory_order_relaxed);
	/* Single writer (this reactor): a plain increment, no locked instruction. */
	atomic_store_explicit(&sq->ncmds, atomic_load_explicit(&sq->ncmds, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	if (sq->size)
		sq->head = (uint16_t)((sq->head + 1) % sq->size);

	uint16_t st;
	if (cmd->common.opcode == nvme_admin_fabrics && !sq->ctrl)
		st = hnvmf_parse_connect_cmd(req);
	else if (!sq->ctrl)
		st = HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR);
	else if (auth_pending(sq, cmd))
		st = HNVMF_SC_CMD(NVME_SC_AUTH_REQUIRED);
	else if (cmd->common.opcode == nvme_admin_fabrics)
		st = hnvmf_parse_fabrics_cmd(req);
	else if (sq->qid == 0)
		st = sq->ctrl->subsys->discovery ? hnvmf_parse_discovery_cmd(req) : hnvmf_parse_admin_cmd(req);
	else if (io_queue_deleted(req))
		st = IO_QUEUE_DELETED;
	else
		st = hnvmf_parse_io_cmd(req);
	st = hnvmf_req_check_data(req, st);
	if (st) {
		req->dir = HNVMF_DIR_NONE;
		req->data_len = 0;
		hnvmf_req_complete(req, st);
		return false;
	}
	return true;
}

void hnvmf_req_execute(struct hnvmf_req *req)
{
	/* A reset may have deleted the queue while the command's data was on its way. */
	if (io_queue_deleted(req)) {
		hnvmf_req_complete(req, IO_QUEUE_DELETED);
		return;
	}
	req->execute(req);
}

static void complete_here(struct hnvmf_req *req)
{
	struct hnvmf_sq *sq = req->sq;
	hnvmf_req_build_cqe(req, sq->sqfc_disabled ? 0xffff : sq->head);
	hnvmf_stats_complete(req);
	if (req->ns)
		sq->ns_busy[req->ns->nsid]--;
	atomic_fetch_sub_explicit(&sq->inflight, 1, memory_order_relaxed);
	/* The transport owns the request from here; it may free the queue once inflight is 0. */
	sq->ops->queue_response(req);
}

static void complete_msg(struct hnvmf_msg *m)
{
	complete_here(container_of(m, struct hnvmf_req, done_msg));
}

void hnvmf_req_complete(struct hnvmf_req *req, uint16_t status)
{
	req->status = status;
	if (status && req->dir == HNVMF_DIR_C2H)
		req->xfer_len = 0; /* a failed command returns no data */
	/* Completions from the control path (an AEN raised by another thread) travel to the
	 * queue's reactor: everything about a queue happens on its own thread. The message is the
	 * request's own: no allocation that could fail and leave the completion here. */
	if (hnvmf_reactor_self() != req->sq->reactor) {
		req->done_msg.fn = complete_msg;
		hnvmf_reactor_send(req->sq->reactor, &req->done_msg);
		return;
	}
	complete_here(req);
}

void hnvmf_req_copy_to(struct hnvmf_req *req, const void *buf, size_t len)
{
	if (len > req->data_len)
		len = req->data_len;
	const uint8_t *p = buf;
	size_t left = len;
	for (int i = 0; i < req->iovcnt && left; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		memcpy(req->iov[i].iov_base, p, n);
		p += n;
		left -= n;
	}
	req->xfer_len = (uint32_t)(len - left);
}

size_t hnvmf_req_copy_from(struct hnvmf_req *req, void *buf, size_t len)
{
	if (len > req->data_len)
		len = req->data_len;
	uint8_t *p = buf;
	size_t left = len;
	for (int i = 0; i < req->iovcnt && left; i++) {
		size_t n = req->iov[i].iov_len < left ? req->iov[i].iov_len : left;
		memcpy(p, req->iov[i].iov_base, n);
		p += n;
		left -= n;
	}
	return len - left;
}
