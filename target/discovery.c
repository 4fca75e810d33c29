/* The discovery subsystem (nqn.2014-08.org.nvmexpress.discovery): its controller's admin commands
 * and the discovery log page, listing every subsystem the connecting host may use on every I/O
 * port, one entry for the discovery subsystem at the port the host came through, and a referral
 * to each peer gateway's discovery service ([global] referral, docs/ana.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/admin.h"

static void fill_entry(struct nvmf_disc_log_entry *e, const struct hnvmf_port *p, const char *nqn,
		       uint8_t subtype)
{
	memset(e, 0, sizeof(*e));
	bool tcp = p->conf.trtype == HNVMF_TRTYPE_TCP;
	e->trtype = tcp ? NVMF_TRTYPE_TCP : NVMF_TRTYPE_RDMA;
	e->adrfam = strchr(p->conf.addr, ':') ? NVMF_ADDR_FAMILY_IP6 : NVMF_ADDR_FAMILY_IP4;
	e->subtype = subtype;
	if (tcp && p->conf.tls) {
		e->treq = NVMF_TREQ_REQUIRED;
		e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_TLS13;
	} else {
		/* "Not specified" rather than "not required": some hosts' connect-all stumbled on
		 * the latter. Our queues accept the SQ-flow-control-disabled Connect attribute. */
		e->treq = NVMF_TREQ_NOT_SPECIFIED | NVMF_TREQ_DISABLE_SQFLOW;
		if (tcp)
			e->tsas.tcp.sectype = NVMF_TCP_SECTYPE_NONE;
	}
	if (!tcp) {
		e->tsas.rdma.qptype = NVMF_RDMA_QPTYPE_CONNECTED;
		e->tsas.rdma.prtype = NVMF_RDMA_PRTYPE_NOT_SPECIFIED;
		e->tsas.rdma.cms = NVMF_RDMA_CMS_RDMA_CM;
	}
	e->portid = htole16(p->portid);
	e->cntlid = htole16(0xffff); /* dynamic controller model */
	e->asqsz = htole16(HNVMF_ADMIN_QUEUE_DEPTH);
	e->eflags = htole16(subtype == NVME_NQN_CURR ? NVMF_DISC_EFLAGS_EPCSD : NVMF_DISC_EFLAGS_NONE);
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%u", p->conf.port);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", nqn);
	snprintf(e->traddr, sizeof(e->traddr), "%s", p->conf.addr);
}

size_t hnvmf_discovery_log_build(struct hnvmf_tgt *tgt, const struct hnvmf_port *port,
				 const char *hostnqn, void **out)
{
	pthread_mutex_lock(&tgt->lock);
	const struct hnvmf_conf *conf = tgt->conf;
	size_t max = 1 + conf->nreferrals;
	struct hnvmf_list *pp, *pt, *sp, *st;
	hnvmf_list_for_each_safe(pp, pt, &tgt->ports)
	{
		hnvmf_list_for_each_safe(sp, st, &tgt->subsystems) max++;
	}
	size_t size = sizeof(struct nvmf_discovery_log) + max * sizeof(struct nvmf_disc_log_entry);
	struct nvmf_discovery_log *log = calloc(1, size);
	if (!log) {
		pthread_mutex_unlock(&tgt->lock);
		*out = NULL;
		return 0;
	}
	uint64_t n = 0;
	hnvmf_list_for_each_safe(pp, pt, &tgt->ports)
	{
		struct hnvmf_port *p = container_of(pp, struct hnvmf_port, link);
		if (p->conf.discovery)
			continue;
		hnvmf_list_for_each_safe(sp, st, &tgt->subsystems)
		{
			struct hnvmf_subsys *s = container_of(sp, struct hnvmf_subsys, link);
			if (hnvmf_subsys_on_port(s, p) && hnvmf_host_allowed(tgt, s, hostnqn))
				fill_entry(&log->entries[n++], p, s->nqn, NVME_NQN_NVME);
		}
	}
	if (port)
		fill_entry(&log->entries[n++], port, HNVMF_DISCOVERY_NQN, NVME_NQN_CURR);
	/* A referral names the peer's discovery service, not its subsystems: the host asks the
	 * peer itself, so what it finds there is the peer's own current view. The peer's port ID
	 * is not known here: 0. */
	for (size_t i = 0; i < conf->nreferrals; i++) {
		const struct hnvmf_port peer = {.conf = conf->referrals[i], .portid = 0};
		fill_entry(&log->entries[n++], &peer, HNVMF_DISCOVERY_NQN, NVME_NQN_DISC);
	}
	log->genctr = htole64(atomic_load(&tgt->genctr));
	log->numrec = htole64(n);
	log->recfmt = 0;
	pthread_mutex_unlock(&tgt->lock);
	*out = log;
	return sizeof(*log) + n * sizeof(struct nvmf_disc_log_entry);
}

static void execute_disc_get_log(struct hnvmf_req *req)
{
	uint8_t lid = le32toh(req->cmd->common.cdw10) & 0xff;
	if (lid != NVME_LOG_LID_DISCOVER) {
		hnvmf_req_complete(req, HNVMF_SC_CMD(NVME_SC_INVALID_LOG_PAGE));
		return;
	}
	struct hnvmf_ctrl *c = req->sq->ctrl;
	void *log;
	size_t len = hnvmf_discovery_log_build(req->sq->tgt, req->sq->port, c->hostnqn, &log);
	if (!log) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	/* Reading the log re-arms the Discovery Log Page Change event. */
	pthread_mutex_lock(&c->lock);
	c->aen_masked &= ~(1u << 31);
	pthread_mutex_unlock(&c->lock);
	hnvmf_log_copy(req, log, len);
	free(log);
}

static void execute_disc_identify(struct hnvmf_req *req)
{
	if ((le32toh(req->cmd->common.cdw10) & 0xff) != NVME_IDENTIFY_CNS_CTRL) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
		return;
	}
	hnvmf_admin_identify_ctrl(req);
}

uint16_t hnvmf_parse_discovery_cmd(struct hnvmf_req *req)
{
	static const struct hnvmf_admin_handlers disc = {.identify = execute_disc_identify,
							 .get_log = execute_disc_get_log};
	uint16_t st;
	if (hnvmf_admin_parse_common(req, &disc, &st))
		return st;
	return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
}
