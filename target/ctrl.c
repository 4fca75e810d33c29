/* Controllers: creation by an admin Connect, the controller table, properties (CAP, VS, CC, CSTS),
 * keep-alive, asynchronous events, and teardown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "target/nvmf.h"

#define HNVMF_VS 0x00010400u /* NVMe 1.4 */
#define CAP_TO_500MS 30      /* CAP.TO: worst case CC.EN -> CSTS.RDY, in 500 ms units */

/* CC / CSTS fields */
#define CC_EN 0x1u
#define CC_SHN_SHIFT 14
#define CC_SHN_MASK (3u << CC_SHN_SHIFT)
#define CC_IOSQES_SHIFT 16
#define CC_IOCQES_SHIFT 20
#define CSTS_RDY 0x1u
#define CSTS_CFS 0x2u
#define CSTS_SHST_OCCURRING (1u << 2)
#define CSTS_SHST_CMPLT (2u << 2)
#define CSTS_SHST_MASK (3u << 2)

static void ka_expired(struct hnvmf_timer *t);

uint16_t hnvmf_ctrl_create(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const char *hostnqn,
			   const uint8_t hostid[16], uint32_t kato_ms, struct hnvmf_ctrl **out)
{
	struct hnvmf_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
	c->tgt = tgt;
	c->subsys = s;
	snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", hostnqn);
	memcpy(c->hostid, hostid, 16);
	pthread_mutex_init(&c->lock, NULL);
	c->kato_ms = kato_ms;
	c->ka_timer.cb = ka_expired;
	atomic_store(&c->last_keepalive_ns, hnvmf_now_ns());
	c->max_io_queues = (uint16_t)tgt->conf->max_io_queues;
	if (c->max_io_queues > HNVMF_MAX_IO_QUEUES || c->max_io_queues == 0)
		c->max_io_queues = HNVMF_MAX_IO_QUEUES;
	atomic_init(&c->refs, 1); /* the table's */

	pthread_mutex_lock(&tgt->lock);
	/* Removed at run time after this Connect found it (target/reconfig.c): refused. */
	uint16_t st = s->removed ? HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_PARAM)
				 : hnvmf_host_add_ctrl(tgt, hostnqn, &c->host);
	if (st) {
		pthread_mutex_unlock(&tgt->lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return st;
	}
	c->tenant = hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
	if (c->tenant && c->tenant->max_queues && c->tenant->max_queues < c->max_io_queues)
		c->max_io_queues = (uint16_t)c->tenant->max_queues;
	/* Dynamic controller model: an ID from this gateway's range [cntlid_min, cntlid_max], which
	 * other gateways exporting the same subsystem do not use (the Linux host refuses a second
	 * controller with the same ID in a subsystem), never one in use in the subsystem.
	 * A model built in code rather than loaded (tests, fuzzing) may leave the range at 0: the
	 * loader's default, the whole range, then. */
	unsigned lo = tgt->conf->cntlid_min ? tgt->conf->cntlid_min : 1;
	unsigned hi = tgt->conf->cntlid_max ? tgt->conf->cntlid_max : HNVMF_CONF_CNTLID_MAX;
	for (unsigned tries = 0; tries <= hi - lo; tries++) {
		uint16_t id = tgt->next_cntlid < lo || tgt->next_cntlid > hi ? (uint16_t)lo : tgt->next_cntlid;
		tgt->next_cntlid = id >= hi ? (uint16_t)lo : (uint16_t)(id + 1);
		bool used = false;
		struct hnvmf_list *pos, *tmp;
		hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
		{
			const struct hnvmf_ctrl *o = container_of(pos, struct hnvmf_ctrl, link);
			if (o->cntlid == id && o->subsys == s) {
				used = true;
				break;
			}
		}
		if (!used) {
			c->cntlid = id;
			break;
		}
	}
	if (!c->cntlid) { /* the range is exhausted: a controller may go, so no DNR */
		hnvmf_host_del_ctrl(c->host);
		pthread_mutex_unlock(&tgt->lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return hnvmf_status(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY, 0);
	}
	hnvmf_list_add_tail(&tgt->ctrls, &c->link);
	atomic_fetch_add(&s->nctrls, 1); /* a subsystem removed at run time waits for 0 */
	pthread_mutex_unlock(&tgt->lock);
	hnvmf_log_f(HNVMF_LOG_INFO, ctrl_log_fields(c), "ctrl %u created: subsystem %s host %s kato %u ms", c->cntlid,
		    s->nqn, hostnqn, kato_ms);
	*out = c;
	return 0;
}

struct hnvmf_ctrl *hnvmf_ctrl_find_get(struct hnvmf_tgt *tgt, const char *subnqn,
				       const char *hostnqn, uint16_t cntlid)
{
	struct hnvmf_ctrl *found = NULL;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->cntlid == cntlid && !c->dead && strcmp(c->subsys->nqn, subnqn) == 0 &&
		    strcmp(c->hostnqn, hostnqn) == 0) {
			atomic_fetch_add(&c->refs, 1);
			found = c;
			break;
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	return found;
}

void hnvmf_ctrl_put(struct hnvmf_ctrl *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	hnvmf_log_f(HNVMF_LOG_INFO, ctrl_log_fields(c), "ctrl %u destroyed", c->cntlid);
	struct hnvmf_subsys *s = c->subsys;
	pthread_mutex_destroy(&c->lock);
	free(c);
	atomic_fetch_sub(&s->nctrls, 1); /* last: the subsystem may be freed right after */
}

struct queue_call {
	struct hnvmf_ctrl *ctrl;
	uint16_t qid;
	void (*fn)(struct hnvmf_sq *sq);
};

/* Runs on the queue's reactor: the queue, if still there and still ours, gets fn there. */
static void queue_call_run(void *arg)
{
	struct queue_call *m = arg;
	struct hnvmf_ctrl *c = m->ctrl;
	pthread_mutex_lock(&c->lock);
	struct hnvmf_sq *sq = c->sqs[m->qid];
	struct hnvmf_reactor *r = sq ? sq->reactor : NULL;
	pthread_mutex_unlock(&c->lock);
	/* A queue that moved meanwhile (DAM, hnvmf_sq_move_in) gets the call where it is now. */
	if (r && r != hnvmf_reactor_self() && hnvmf_reactor_call(r, queue_call_run, m) == 0)
		return;
	if (r == hnvmf_reactor_self())
		m->fn(sq);
	hnvmf_ctrl_put(c);
	free(m);
}

/* Called with c->lock held. */
static void queue_call_locked(struct hnvmf_ctrl *c, uint16_t qid, void (*fn)(struct hnvmf_sq *sq))
{
	struct hnvmf_sq *sq = c->sqs[qid];
	struct queue_call *m = sq ? malloc(sizeof(*m)) : NULL;
	if (!m)
		return;
	m->ctrl = c;
	m->qid = qid;
	m->fn = fn;
	atomic_fetch_add(&c->refs, 1);
	if (hnvmf_reactor_call(sq->reactor, queue_call_run, m) != 0) {
		atomic_fetch_sub(&c->refs, 1);
		free(m);
	}
}

void hnvmf_ctrl_call_on_queues(struct hnvmf_ctrl *c, bool (*filter)(const struct hnvmf_sq *sq),
			       void (*fn)(struct hnvmf_sq *sq))
{
	pthread_mutex_lock(&c->lock);
	for (unsigned q = 0; q <= HNVMF_MAX_IO_QUEUES; q++)
		if (c->sqs[q] && (!filter || filter(c->sqs[q])))
			queue_call_locked(c, (uint16_t)q, fn);
	pthread_mutex_unlock(&c->lock);
}

static void queue_disconnect(struct hnvmf_sq *sq) { sq->ops->disconnect(sq); }

/* Leaving the table, the controller stops counting against its host's controllers and drops
 * its tenant: a reload frees tenant sets once no live controller points into them. */
void hnvmf_ctrl_fatal_locked(struct hnvmf_ctrl *c, const char *why)
{
	bool was_dead = c->dead;
	if (!was_dead) {
		c->dead = true;
		hnvmf_list_del(&c->link);
		c->tenant = NULL;
		hnvmf_host_del_ctrl(c->host);
		hnvmf_log_f(HNVMF_LOG_NOTICE, ctrl_log_fields(c), "ctrl %u (host %s): %s, tearing down", c->cntlid,
			    c->hostnqn, why);
	}
	hnvmf_ctrl_call_on_queues(c, NULL, queue_disconnect);
	if (!was_dead)
		hnvmf_ctrl_put(c); /* the table's reference; the caller holds one of its own */
}

void hnvmf_ctrl_fatal(struct hnvmf_ctrl *c, const char *why)
{
	pthread_mutex_lock(&c->tgt->lock);
	hnvmf_ctrl_fatal_locked(c, why);
	pthread_mutex_unlock(&c->tgt->lock);
}

/* A dead controller takes no queue: its host entry may be gone with its last queue. Nor does a
 * controller being reset take an I/O queue. */
uint16_t hnvmf_ctrl_attach_sq(struct hnvmf_ctrl *c, struct hnvmf_sq *sq, uint16_t qid)
{
	struct hnvmf_tgt *tgt = c->tgt;
	pthread_mutex_lock(&tgt->lock);
	uint16_t st = c->dead ? HNVMF_SC_CMD(NVME_SC_CONNECT_CTRL_BUSY) : hnvmf_host_add_queue(tgt, c->host);
	if (!st) {
		pthread_mutex_lock(&c->lock);
		if (c->sqs[qid]) { /* lost a race with another Connect for the same qid */
			st = HNVMF_SC_CMD(NVME_SC_CONNECT_CTRL_BUSY);
			hnvmf_host_del_queue(c->host);
		} else if (qid && !(c->csts & 1u)) {
			/* Connect checked CSTS.RDY before; a reset that began since then must not
			 * get an I/O queue it will never delete. */
			st = HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR);
			hnvmf_host_del_queue(c->host);
		} else {
			c->sqs[qid] = sq;
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	return st;
}

void hnvmf_ctrl_detach_sq(struct hnvmf_ctrl *c, struct hnvmf_sq *sq)
{
	pthread_mutex_lock(&c->tgt->lock);
	pthread_mutex_lock(&c->lock);
	bool ours = c->sqs[sq->qid] == sq;
	if (ours)
		c->sqs[sq->qid] = NULL;
	pthread_mutex_unlock(&c->lock);
	if (ours)
		hnvmf_host_del_queue(c->host);
	pthread_mutex_unlock(&c->tgt->lock);
}

/* ---- keep-alive: the timer lives on the admin queue's reactor ---- */

/* Commands on any of the controller's queues since the last check count as a sign of life, as a
 * Keep Alive would: a busy host is not torn down for a late Keep Alive. */
static void ka_note_traffic(struct hnvmf_ctrl *c, uint64_t now)
{
	uint64_t sum = 0;
	pthread_mutex_lock(&c->lock);
	for (unsigned q = 0; q <= HNVMF_MAX_IO_QUEUES; q++)
		if (c->sqs[q])
			sum += atomic_load_explicit(&c->sqs[q]->ncmds, memory_order_relaxed);
	pthread_mutex_unlock(&c->lock);
	if (sum != c->ka_cmds_seen) {
		c->ka_cmds_seen = sum;
		atomic_store(&c->last_keepalive_ns, now);
	}
}

static void ka_expired(struct hnvmf_timer *t)
{
	struct hnvmf_ctrl *c = container_of(t, struct hnvmf_ctrl, ka_timer);
	uint64_t now = hnvmf_now_ns();
	ka_note_traffic(c, now);
	uint64_t last = atomic_load(&c->last_keepalive_ns);
	/* Half a KATO of slack past the timeout: hosts send Keep Alive every KATO/2 or (older
	 * kernels) every KATO, and a slow path (an emulated guest) must not lose its controller
	 * for a Keep Alive that is a few milliseconds late. A silent host still goes. */
	uint64_t limit_ns = (uint64_t)c->kato_ms * 1000000ull * 3 / 2;
	if (now - last < limit_ns) {
		hnvmf_timer_arm(c->sqs[0] ? c->sqs[0]->reactor : hnvmf_reactor_self(), t,
				(limit_ns - (now - last)) / 1000000ull + 1);
		return;
	}
	hnvmf_ctrl_fatal(c, "keep-alive timeout");
}

/* (Re)starts the timer for the current KATO; KATO 0 disables keep-alive, so a timer armed for
 * an earlier KATO is cancelled rather than left to fire. On the admin queue's reactor. */
void hnvmf_ctrl_start_keepalive(struct hnvmf_ctrl *c)
{
	if (!c->sqs[0])
		return;
	if (!c->kato_ms) {
		hnvmf_timer_cancel(c->sqs[0]->reactor, &c->ka_timer);
		return;
	}
	atomic_store(&c->last_keepalive_ns, hnvmf_now_ns());
	hnvmf_timer_arm(c->sqs[0]->reactor, &c->ka_timer, c->kato_ms);
}

void hnvmf_ctrl_keepalive(struct hnvmf_ctrl *c)
{
	atomic_store_explicit(&c->last_keepalive_ns, hnvmf_now_ns(), memory_order_relaxed);
}

/* ---- asynchronous events ---- */

/* Completes one held AER with result if an event is pending and not masked. Lock held. */
static struct hnvmf_req *take_aer_locked(struct hnvmf_ctrl *c)
{
	if (!c->naer)
		return NULL;
	return c->aer[--c->naer];
}

/* An event's Asynchronous Event Configuration bit: Namespace Attribute Notices (8) or Discovery
 * Log Page Change Notices (31). */
static uint32_t aen_bit(uint32_t result)
{
	return result == HNVMF_AEN_NS_CHANGED	 ? (1u << 8)
	       : result == HNVMF_AEN_ANA_CHANGED ? HNVMF_AEC_ANA_CHANGE
						 : (1u << 31);
}

void hnvmf_ctrl_queue_aer(struct hnvmf_ctrl *c, struct hnvmf_req *req)
{
	pthread_mutex_lock(&c->lock);
	if (c->naer >= HNVMF_MAX_AER) {
		pthread_mutex_unlock(&c->lock);
		hnvmf_req_complete(req, HNVMF_SC_CMD(NVME_SC_ASYNC_LIMIT));
		return;
	}
	/* An event that came while no request was outstanding is reported by the next one. */
	uint32_t result = 0;
	if (c->aen_pending & aen_bit(HNVMF_AEN_NS_CHANGED))
		result = HNVMF_AEN_NS_CHANGED;
	else if (c->aen_pending & aen_bit(HNVMF_AEN_ANA_CHANGED))
		result = HNVMF_AEN_ANA_CHANGED;
	else if (c->aen_pending & aen_bit(HNVMF_AEN_DISC_CHANGED))
		result = HNVMF_AEN_DISC_CHANGED;
	if (result) {
		c->aen_pending &= ~aen_bit(result);
		c->aen_masked |= aen_bit(result);
	} else {
		c->aer[c->naer++] = req;
	}
	pthread_mutex_unlock(&c->lock);
	if (result) {
		req->cqe.result = result;
		hnvmf_req_complete(req, 0);
	}
}

/* The Changed Namespace List is a Namespace List: NSIDs in increasing order, each once, however
 * often it changed before the host read the log; past 1024 of them, FFFFFFFFh alone. */
static void changed_ns_add_locked(struct hnvmf_ctrl *c, uint32_t nsid)
{
	const unsigned max = sizeof(c->changed_ns) / sizeof(c->changed_ns[0]);
	if (c->nchanged_ns == 1 && c->changed_ns[0] == 0xffffffffu)
		return; /* overflowed: stays so until the log is read */
	unsigned i = 0;
	while (i < c->nchanged_ns && c->changed_ns[i] < nsid)
		i++;
	if (i < c->nchanged_ns && c->changed_ns[i] == nsid)
		return;
	if (c->nchanged_ns == max) {
		c->changed_ns[0] = 0xffffffffu;
		c->nchanged_ns = 1;
		return;
	}
	memmove(&c->changed_ns[i + 1], &c->changed_ns[i], (c->nchanged_ns - i) * sizeof(c->changed_ns[0]));
	c->changed_ns[i] = nsid;
	c->nchanged_ns++;
}

void hnvmf_ctrl_raise_aen(struct hnvmf_ctrl *c, uint32_t result, uint32_t changed_nsid)
{
	struct hnvmf_req *req = NULL;
	pthread_mutex_lock(&c->lock);
	if (result == HNVMF_AEN_NS_CHANGED && changed_nsid)
		changed_ns_add_locked(c, changed_nsid);
	/* Each event type is reported once until the host reads its log page (which clears the
	 * mask); and only when the host enabled it (Namespace Attribute Notices: bit 8; ANA Change
	 * Notices: bit 11; Discovery Log Page Change: bit 31). */
	uint32_t bit = aen_bit(result);
	bool enabled = (c->aen_config & bit) != 0;
	if (enabled && !(c->aen_masked & bit)) {
		req = take_aer_locked(c);
		if (req)
			c->aen_masked |= bit;
		else
			c->aen_pending |= bit;
	}
	pthread_mutex_unlock(&c->lock);
	if (req) {
		req->cqe.result = result;
		hnvmf_req_complete(req, 0);
	}
}

/* ---- properties ---- */

uint64_t hnvmf_ctrl_cap(const struct hnvmf_ctrl *c)
{
	uint64_t mqes = (c->subsys->discovery ? HNVMF_ADMIN_QUEUE_DEPTH : c->tgt->conf->queue_depth) - 1;
	return mqes | (1ull << 16) /* CQR: contiguous queues required */ |
	       ((uint64_t)CAP_TO_500MS << 24) | (1ull << 37) /* CSS: NVM command set */;
}

uint16_t hnvmf_ctrl_prop_get(struct hnvmf_ctrl *c, uint32_t off, int size8, uint64_t *val)
{
	switch (off) {
	case NVME_REG_CAP:
		if (!size8)
			return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
		*val = hnvmf_ctrl_cap(c);
		return 0;
	case NVME_REG_VS:
		*val = HNVMF_VS;
		return 0;
	case NVME_REG_CC:
		pthread_mutex_lock(&c->lock);
		*val = c->cc;
		pthread_mutex_unlock(&c->lock);
		return 0;
	case NVME_REG_CSTS:
		pthread_mutex_lock(&c->lock);
		*val = c->csts;
		pthread_mutex_unlock(&c->lock);
		return 0;
	default:
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	}
}

/* CC.EN 0 -> 1: I/O queue entry sizes must be the NVMe ones (64-byte SQE, 16-byte CQE). Lock held. */
static void enable_locked(struct hnvmf_ctrl *c)
{
	uint32_t cc = c->cc;
	if (!c->subsys->discovery &&
	    (((cc >> CC_IOSQES_SHIFT) & 0xf) != 6 || ((cc >> CC_IOCQES_SHIFT) & 0xf) != 4))
		c->csts = (c->csts & ~CSTS_RDY) | CSTS_CFS;
	else
		c->csts = (c->csts & ~CSTS_CFS) | CSTS_RDY;
}

static bool has_io_queues_locked(const struct hnvmf_ctrl *c)
{
	for (unsigned q = 1; q <= HNVMF_MAX_IO_QUEUES; q++)
		if (c->sqs[q])
			return true;
	return false;
}

/* The last I/O queue of a reset or shutdown is gone, so every command on it has completed:
 * only now is a shutdown complete, and an enable the host asked for meanwhile takes effect. */
static void reset_done_locked(struct hnvmf_ctrl *c)
{
	c->resetting = false;
	if ((c->csts & CSTS_SHST_MASK) == CSTS_SHST_OCCURRING)
		c->csts = (c->csts & ~CSTS_SHST_MASK) | CSTS_SHST_CMPLT;
	if (c->cc & CC_EN)
		enable_locked(c);
}

/* Controller reset or shutdown over fabrics: the I/O queues are deleted. Commands not yet
 * executed on them fail at once (sq->deleted); the transport closes their connections, and
 * what is in flight completes in the backend before a queue is destroyed. The admin queue
 * stays. Lock held. */
static void delete_io_queues_locked(struct hnvmf_ctrl *c)
{
	c->resetting = false;
	for (unsigned q = 1; q <= HNVMF_MAX_IO_QUEUES; q++) {
		if (!c->sqs[q])
			continue;
		atomic_store_explicit(&c->sqs[q]->deleted, true, memory_order_relaxed);
		queue_call_locked(c, (uint16_t)q, queue_disconnect);
		c->resetting = true;
	}
	if (!c->resetting)
		reset_done_locked(c);
}

void hnvmf_ctrl_io_queue_gone(struct hnvmf_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	if (c->resetting && !has_io_queues_locked(c))
		reset_done_locked(c);
	pthread_mutex_unlock(&c->lock);
}

uint16_t hnvmf_ctrl_prop_set(struct hnvmf_ctrl *c, uint32_t off, int size8, uint64_t val)
{
	if (off != NVME_REG_CC || size8)
		return HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
	uint32_t cc = (uint32_t)val;
	pthread_mutex_lock(&c->lock);
	uint32_t old = c->cc;
	c->cc = cc;
	if ((cc & CC_SHN_MASK) && !(old & CC_SHN_MASK)) {
		/* Shutdown: complete once the I/O queues' commands are done. Nothing is cached above
		 * the backends; acknowledged writes are already in them (FUA/flush semantics live
		 * in the backends). The controller is disabled too: CC.EN = 1 enables it again. */
		c->cc &= ~CC_EN;
		c->csts = (c->csts & ~(CSTS_SHST_MASK | CSTS_RDY)) | CSTS_SHST_OCCURRING;
		delete_io_queues_locked(c);
	} else {
		if (!(cc & CC_SHN_MASK))
			c->csts &= ~CSTS_SHST_MASK;
		if (!(cc & CC_EN) && (old & CC_EN)) {
			c->csts &= ~(CSTS_RDY | CSTS_CFS);
			delete_io_queues_locked(c);
		} else if ((cc & CC_EN) && !(old & CC_EN) && !c->resetting) {
			enable_locked(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return 0;
}
