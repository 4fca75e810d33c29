/* Asymmetric Namespace Access (docs/ana.md): several gateways export one subsystem, each with
 * its own state of each ANA group. Here: the states from the configuration, the ANA log page
 * (LID 0Ch) and the run-time state change that raises the ANA Change event. The per-I/O check
 * is hnvmf_ana_io_status (target/nvmf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "target/admin.h"

void hnvmf_ana_init(struct hnvmf_subsys *s, const uint8_t conf_state[HNVMF_MAX_ANA_GROUPS + 1])
{
	for (unsigned g = 1; g <= HNVMF_MAX_ANA_GROUPS; g++)
		atomic_init(&s->ana_state[g], conf_state[g] ? conf_state[g] : NVME_ANA_STATE_OPTIMIZED);
}

static bool state_valid(uint8_t st)
{
	return st == NVME_ANA_STATE_OPTIMIZED || st == NVME_ANA_STATE_NONOPTIMIZED ||
	       st == NVME_ANA_STATE_INACCESSIBLE || st == NVME_ANA_STATE_PERSISTENT_LOSS ||
	       st == NVME_ANA_STATE_CHANGE;
}

/* The log's counts wrap from FFFFFFFF_FFFFFFFFh to 0. */
static uint64_t chgcnt_next(uint64_t v) { return v == UINT64_MAX ? 0 : v + 1; }

size_t hnvmf_ana_log_build(const struct hnvmf_subsys *s, bool rgo, void **out)
{
	uint32_t nns[HNVMF_MAX_ANA_GROUPS + 1] = {0};
	unsigned ngrps = 0;
	size_t nsids = 0;
	for (uint32_t i = 1; i <= s->max_nsid; i++) {
		const struct hnvmf_ns *ns = atomic_load_explicit(&s->ns[i], memory_order_acquire);
		if (!ns)
			continue;
		ngrps += nns[ns->anagrpid]++ == 0;
		nsids++;
	}
	size_t size = sizeof(struct nvme_ana_log) + ngrps * sizeof(struct nvme_ana_group_desc) +
		      (rgo ? 0 : nsids * sizeof(uint32_t));
	uint8_t *buf = calloc(1, size);
	*out = buf;
	if (!buf)
		return 0;
	struct nvme_ana_log *log = (struct nvme_ana_log *)buf;
	log->chgcnt = htole64(s->ana_chgcnt);
	log->ngrps = htole16((uint16_t)ngrps);
	size_t off = sizeof(*log);
	/* Groups in ascending ID, each followed by its NSIDs in ascending order. */
	for (uint32_t g = 1; g <= HNVMF_MAX_ANA_GROUPS; g++) {
		if (!nns[g])
			continue;
		/* After a group with an odd number of NSIDs a descriptor is only 4-byte aligned:
		 * built aside and copied. */
		struct nvme_ana_group_desc d = {
			.grpid = htole32(g),
			.nnsids = htole32(rgo ? 0 : nns[g]),
			.chgcnt = htole64(s->ana_grp_chgcnt[g]),
			.state = atomic_load_explicit(&s->ana_state[g], memory_order_relaxed),
		};
		memcpy(buf + off, &d, sizeof(d));
		off += sizeof(d);
		if (rgo)
			continue;
		for (uint32_t i = 1; i <= s->max_nsid; i++) {
			const struct hnvmf_ns *ns = atomic_load_explicit(&s->ns[i], memory_order_acquire);
			if (ns && ns->anagrpid == g) {
				uint32_t id = htole32(i);
				memcpy(buf + off, &id, sizeof(id));
				off += sizeof(id);
			}
		}
	}
	return off;
}

void hnvmf_ana_get_log(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *c = req->sq->ctrl;
	struct hnvmf_tgt *tgt = req->sq->tgt;
	uint32_t cdw10 = le32toh(req->cmd->common.cdw10);
	/* LSP (CDW10 bits 11:08) bit 0: Return Groups Only. */
	bool rgo = (cdw10 >> 8) & NVME_LOG_ANA_LSP_RGO_GROUPS_ONLY;
	void *log;
	pthread_mutex_lock(&tgt->lock);
	size_t len = hnvmf_ana_log_build(c->subsys, rgo, &log);
	pthread_mutex_unlock(&tgt->lock);
	if (!log) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	/* Reading the log (unless Retain Asynchronous Event) re-arms the ANA Change event. */
	if (!(cdw10 & (1u << 15))) {
		pthread_mutex_lock(&c->lock);
		c->aen_masked &= ~HNVMF_AEC_ANA_CHANGE;
		pthread_mutex_unlock(&c->lock);
	}
	hnvmf_log_copy(req, log, len);
	free(log);
}

/* Whether a namespace of s is in group g (a state change of an unused group is not worth a log
 * line: a gateway sets all of them at start). */
static bool group_used(const struct hnvmf_subsys *s, uint32_t g)
{
	for (uint32_t i = 1; i <= s->max_nsid; i++) {
		const struct hnvmf_ns *ns = atomic_load_explicit(&s->ns[i], memory_order_acquire);
		if (ns && ns->anagrpid == g)
			return true;
	}
	return false;
}

/* tgt->lock held. */
static bool set_locked(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, uint32_t grpid, uint8_t state)
{
	uint8_t old = atomic_load_explicit(&s->ana_state[grpid], memory_order_relaxed);
	if (old == state)
		return false;
	atomic_store_explicit(&s->ana_state[grpid], state, memory_order_relaxed);
	s->ana_grp_chgcnt[grpid] = chgcnt_next(s->ana_grp_chgcnt[grpid]);
	s->ana_chgcnt = chgcnt_next(s->ana_chgcnt);
	if (group_used(s, grpid))
		log_notice("subsystem %s: ANA group %u %s -> %s", s->nqn, grpid, hnvmf_conf_ana_state_name(old),
			   hnvmf_conf_ana_state_name(state));
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->subsys == s)
			hnvmf_ctrl_raise_aen(c, HNVMF_AEN_ANA_CHANGED, 0);
	}
	return true;
}

int hnvmf_tgt_set_ana_state(struct hnvmf_tgt *tgt, const char *subnqn, uint32_t grpid, uint8_t state)
{
	if (grpid == 0 || grpid > HNVMF_MAX_ANA_GROUPS || !state_valid(state))
		return -EINVAL;
	int changed = 0;
	bool found = false;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		if (subnqn && strcmp(s->nqn, subnqn) != 0)
			continue;
		found = true;
		changed += set_locked(tgt, s, grpid, state);
	}
	pthread_mutex_unlock(&tgt->lock);
	return found ? changed : -ENOENT;
}

int hnvmf_tgt_set_gateway_ana(struct hnvmf_tgt *tgt, uint32_t grpid, uint8_t state)
{
	if (grpid == 0 || grpid > HNVMF_MAX_ANA_GROUPS || !state_valid(state))
		return -EINVAL;
	int changed = 0;
	pthread_mutex_lock(&tgt->lock);
	/* under the same lock as the subsystems' states: a subsystem added meanwhile either is in
	 * the list (changed here) or adopts the new value when it enters it */
	tgt->gw_ana[grpid] = state;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		changed += set_locked(tgt, s, grpid, state);
	}
	pthread_mutex_unlock(&tgt->lock);
	return changed;
}

void hnvmf_ana_adopt_gateway(const struct hnvmf_tgt *tgt, struct hnvmf_subsys *s)
{
	for (uint32_t g = 1; g <= HNVMF_MAX_ANA_GROUPS; g++)
		if (tgt->gw_ana[g])
			atomic_store_explicit(&s->ana_state[g], tgt->gw_ana[g], memory_order_relaxed);
}
