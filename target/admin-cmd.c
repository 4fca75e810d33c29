/* Admin commands of an NVM (I/O) controller: Identify, Get Log Page, Set/Get Features, Keep Alive,
 * Asynchronous Event Request, Abort. The discovery controller reuses the shared pieces (Identify
 * Controller, features, keep-alive, AER) from here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hnvmf-version.h"
#include "target/admin.h"
#include "target/stats.h"

#define KAS_100MS 10 /* keep-alive granularity advertised: 1 s */

/* Identify strings are space padded, not NUL terminated. */
static void copy_padded(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);
	if (l > n)
		l = n;
	memcpy(dst, src, l);
	memset(dst + l, ' ', n - l);
}

void hnvmf_admin_identify_ctrl(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *c = req->sq->ctrl;
	struct hnvmf_subsys *s = c->subsys;
	const struct hnvmf_conf *conf = req->sq->tgt->conf;
	struct nvme_id_ctrl *id = calloc(1, sizeof(*id));
	if (!id) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	copy_padded(id->sn, sizeof(id->sn), s->serial);
	copy_padded(id->mn, sizeof(id->mn), s->model);
	copy_padded(id->fr, sizeof(id->fr), HNVMF_VERSION);
	id->rab = 6;
	/* Several controllers and ports may reach one subsystem (multipath hosts rely on it), and
	 * they report Asymmetric Namespace Access (docs/ana.md): every state, ANATT seconds in
	 * change state at most, ANA group IDs 1..HNVMF_MAX_ANA_GROUPS, a namespace's group fixed
	 * while it is attached. */
	if (!s->discovery) {
		id->cmic = NVME_CTRL_CMIC_MULTI_PORT | NVME_CTRL_CMIC_MULTI_CTRL | NVME_CTRL_CMIC_MULTI_ANA_REPORTING;
		id->anatt = (uint8_t)conf->anatt;
		id->anacap = NVME_CTRL_ANACAP_OPT | NVME_CTRL_ANACAP_NON_OPT | NVME_CTRL_ANACAP_INACCESSIBLE |
			     NVME_CTRL_ANACAP_PERSISTENT_LOSS | NVME_CTRL_ANACAP_CHANGE |
			     NVME_CTRL_ANACAP_GRPID_NO_CHG;
		id->anagrpmax = htole32(HNVMF_MAX_ANA_GROUPS);
		id->nanagrpid = htole32(HNVMF_MAX_ANA_GROUPS);
	}
	unsigned mdts = 0;
	if (conf->mdts_kib) /* in units of the minimum page size (CAP.MPSMIN = 4 KiB) */
		for (unsigned pages = conf->mdts_kib / 4; pages > 1; pages >>= 1)
			mdts++;
	id->mdts = (uint8_t)mdts;
	id->cntlid = htole16(c->cntlid);
	id->ver = htole32(0x00010400);
	/* Events: Discovery Log Page Change; Namespace Attribute and ANA Change Notices. */
	id->oaes = htole32(s->discovery ? (1u << 31) : (1u << 8) | HNVMF_AEC_ANA_CHANGE);
	id->ctratt = htole32(1u << 0); /* 128-bit host identifier */
	id->cntrltype = s->discovery ? NVME_CTRL_CNTRLTYPE_DISCOVERY : NVME_CTRL_CNTRLTYPE_IO;
	id->acl = 3;
	id->aerl = HNVMF_MAX_AER - 1;
	id->frmw = (1 << 0) | (1 << 1); /* slot 1 read-only, one slot */
	id->lpa = 1 << 2;               /* extended data for Get Log Page (offsets) */
	id->elpe = 0;
	id->kas = htole16(KAS_100MS);
	id->sqes = (6 << 4) | 6;
	id->cqes = (4 << 4) | 4;
	id->maxcmd = htole16((uint16_t)(s->discovery ? HNVMF_ADMIN_QUEUE_DEPTH : conf->queue_depth));
	id->nn = htole32(s->discovery ? 0 : HNVMF_MAX_NSID);
	if (!s->discovery) {
		id->oncs = htole16(NVME_CTRL_ONCS_COMPARE | NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES);
		id->vwc = NVME_CTRL_VWC_PRESENT;
	}
	/* SGLs: supported (no alignment needs), keyed for RDMA, in-capsule data at an offset. */
	uint32_t sgls = 1u << 0;
	if (req->sq->port && req->sq->port->conf.trtype == HNVMF_TRTYPE_RDMA)
		sgls |= 1u << 2;
	if (conf->inline_data_size)
		sgls |= 1u << 20;
	id->sgls = htole32(sgls);
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", s->nqn);
	/* Fabrics: capsule sizes in 16-byte units; in-capsule data follows the SQE at offset 0. */
	id->ioccsz = htole32((64 + conf->inline_data_size) / 16);
	id->iorcsz = htole32(16 / 16);
	id->icdoff = 0;
	id->fcatt = 0; /* dynamic controller model */
	id->msdbd = 1;
	id->ofcs = htole16(1); /* Disconnect command supported */
	id->psd[0].mp = htole16(0x9c4);
	id->psd[0].enlat = htole32(0x10);
	id->psd[0].exlat = htole32(0x4);
	hnvmf_req_copy_to(req, id, sizeof(*id));
	free(id);
	hnvmf_req_complete(req, 0);
}

static void identify_ns(struct hnvmf_req *req)
{
	uint32_t nsid = le32toh(req->cmd->common.nsid);
	struct hnvmf_ns *ns = hnvmf_subsys_ns(req->sq->ctrl->subsys, nsid);
	if (!ns) {
		/* An unallocated nsid within range reads as zeroes; beyond it is an error. */
		if (nsid == 0 || nsid > HNVMF_MAX_NSID) {
			hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_NS));
			return;
		}
		static const uint8_t zero[4096];
		hnvmf_req_copy_to(req, zero, sizeof(zero));
		hnvmf_req_complete(req, 0);
		return;
	}
	struct nvme_id_ns *id = calloc(1, sizeof(*id));
	if (!id) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	id->nsze = id->ncap = id->nuse = htole64(ns->nlba);
	id->nlbaf = 0;
	id->flbas = 0;
	id->lbaf[0].ds = ns->lba_shift;
	id->nmic = 1; /* may be shared by several controllers */
	id->anagrpid = htole32(ns->anagrpid);
	/* Deallocated blocks read back as zeroes; Write Zeroes may deallocate. */
	id->dlfeat = 0x1 | (1 << 3);
	memcpy(id->nguid, ns->nguid, sizeof(id->nguid));
	if (ns->readonly)
		id->nsattr = 1;
	hnvmf_req_copy_to(req, id, sizeof(*id));
	free(id);
	hnvmf_req_complete(req, 0);
}

static void identify_active_ns(struct hnvmf_req *req)
{
	uint32_t start = le32toh(req->cmd->common.nsid);
	/* IDs greater than FFFFFFFEh or FFFFFFFFh do not exist (and start + 1 would wrap). */
	if (start >= 0xfffffffeu) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_NS));
		return;
	}
	uint32_t list[1024] = {0};
	unsigned n = 0;
	struct hnvmf_subsys *s = req->sq->ctrl->subsys;
	for (uint32_t i = start + 1; i <= HNVMF_MAX_NSID && n < 1024; i++)
		if (hnvmf_subsys_ns(s, i))
			list[n++] = htole32(i);
	hnvmf_req_copy_to(req, list, sizeof(list));
	hnvmf_req_complete(req, 0);
}

static size_t put_desc(uint8_t *buf, size_t off, uint8_t type, const void *id, uint8_t len)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)(buf + off);
	d->nidt = type;
	d->nidl = len;
	memcpy(buf + off + sizeof(*d), id, len);
	return off + sizeof(*d) + len;
}

static void identify_ns_desc(struct hnvmf_req *req)
{
	struct hnvmf_ns *ns = hnvmf_subsys_ns(req->sq->ctrl->subsys, le32toh(req->cmd->common.nsid));
	if (!ns) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_NS));
		return;
	}
	uint8_t buf[4096] = {0};
	size_t off = 0;
	uint8_t csi = NVME_CSI_NVM;
	off = put_desc(buf, off, NVME_NIDT_NGUID, ns->nguid, NVME_NIDT_NGUID_LEN);
	off = put_desc(buf, off, NVME_NIDT_UUID, ns->uuid, NVME_NIDT_UUID_LEN);
	off = put_desc(buf, off, NVME_NIDT_CSI, &csi, NVME_NIDT_CSI_LEN);
	(void)off;
	hnvmf_req_copy_to(req, buf, sizeof(buf));
	hnvmf_req_complete(req, 0);
}

/* CNS 05h/06h for the NVM command set: nothing beyond the base structures (no limits). */
static void identify_zeroes(struct hnvmf_req *req)
{
	static const uint8_t zero[4096];
	hnvmf_req_copy_to(req, zero, sizeof(zero));
	hnvmf_req_complete(req, 0);
}

static void execute_identify(struct hnvmf_req *req)
{
	uint32_t cdw10 = le32toh(req->cmd->common.cdw10);
	uint8_t cns = cdw10 & 0xff;
	uint8_t csi = (uint8_t)(le32toh(req->cmd->common.cdw11) >> 24);
	switch (cns) {
	case NVME_IDENTIFY_CNS_NS:
		identify_ns(req);
		return;
	case NVME_IDENTIFY_CNS_CTRL:
		hnvmf_admin_identify_ctrl(req);
		return;
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST:
		identify_active_ns(req);
		return;
	case NVME_IDENTIFY_CNS_NS_DESC_LIST:
		identify_ns_desc(req);
		return;
	case NVME_IDENTIFY_CNS_CSI_NS:
		if (csi == NVME_CSI_NVM && hnvmf_subsys_ns(req->sq->ctrl->subsys, le32toh(req->cmd->common.nsid))) {
			identify_zeroes(req);
			return;
		}
		break;
	case NVME_IDENTIFY_CNS_CSI_CTRL:
		if (csi == NVME_CSI_NVM) {
			identify_zeroes(req);
			return;
		}
		break;
	default:
		break;
	}
	hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
}

/* ---- Get Log Page ---- */

uint64_t hnvmf_log_offset(const struct hnvmf_req *req)
{
	return (uint64_t)le32toh(req->cmd->common.cdw13) << 32 | le32toh(req->cmd->common.cdw12);
}

/* 0 when the host asks for more than any log here could need (1 MiB): refused by the caller. */
uint32_t hnvmf_log_len(const struct hnvmf_req *req)
{
	uint64_t numdl = le32toh(req->cmd->common.cdw10) >> 16;
	uint64_t numdu = le32toh(req->cmd->common.cdw11) & 0xffff;
	uint64_t len = ((numdu << 16 | numdl) + 1) * 4;
	return len > (1u << 20) ? 0 : (uint32_t)len;
}

/* Copies the part [offset, offset + len) of a log of size total into the request. */
void hnvmf_log_copy(struct hnvmf_req *req, const void *log, size_t total)
{
	uint64_t off = hnvmf_log_offset(req);
	if (off & 3 || off > total) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
		return;
	}
	/* Bytes past the end of the log read as zero. */
	size_t avail = total - off;
	size_t want = req->data_len;
	uint8_t *tmp = calloc(1, want ? want : 1);
	if (!tmp) {
		hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INTERNAL));
		return;
	}
	memcpy(tmp, (const uint8_t *)log + off, avail < want ? avail : want);
	hnvmf_req_copy_to(req, tmp, want);
	free(tmp);
	hnvmf_req_complete(req, 0);
}

static void log_changed_ns(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *c = req->sq->ctrl;
	uint32_t list[1024] = {0};
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nchanged_ns; i++)
		list[i] = htole32(c->changed_ns[i]);
	/* Reading the log (unless Retain Asynchronous Event) clears it and re-arms the event. */
	if (!(le32toh(req->cmd->common.cdw10) & (1u << 15))) {
		c->nchanged_ns = 0;
		c->aen_masked &= ~(1u << 8);
	}
	pthread_mutex_unlock(&c->lock);
	hnvmf_log_copy(req, list, sizeof(list));
}

/* A 128-bit little-endian SMART counter (our counts fit 64 bits). */
static void put_u128(uint8_t out[16], uint64_t v)
{
	memset(out, 0, 16);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

/* The SMART / Health log's counters, for the controller's NVM subsystem (every controller,
 * every namespace, since the daemon started; it holds no state across restarts). Data units
 * are thousands of 512-byte units, rounded up; power-on hours count from the start. */
static void smart_counters(struct hnvmf_req *req, struct nvme_smart_log *smart)
{
	struct hnvmf_tgt *tgt = req->sq->tgt;
	const char *subnqn = req->sq->ctrl->subsys->nqn;
	uint64_t rd_bytes = 0, wr_bytes = 0, rd_cmds = 0, wr_cmds = 0;
	struct hnvmf_stats_snap *s;
	int n = tgt->stats ? hnvmf_stats_collect(tgt->stats, &s) : -1;
	for (int i = 0; i < n; i++) {
		if (strcmp(s[i].key.subnqn, subnqn) != 0)
			continue;
		rd_bytes += s[i].v[HNVMF_ST_BYTES + HNVMF_STATS_READ];
		wr_bytes += s[i].v[HNVMF_ST_BYTES + HNVMF_STATS_WRITE];
		rd_cmds += s[i].v[HNVMF_ST_CMDS + HNVMF_STATS_READ];
		wr_cmds += s[i].v[HNVMF_ST_CMDS + HNVMF_STATS_WRITE];
	}
	if (n >= 0)
		free(s);
	put_u128(smart->data_units_read, (rd_bytes / 512 + 999) / 1000);
	put_u128(smart->data_units_written, (wr_bytes / 512 + 999) / 1000);
	put_u128(smart->host_reads, rd_cmds);
	put_u128(smart->host_writes, wr_cmds);
	put_u128(smart->power_on_hours, (hnvmf_now_ns() - tgt->start_ns) / 3600000000000ull);
}

static void execute_get_log(struct hnvmf_req *req)
{
	uint8_t lid = le32toh(req->cmd->common.cdw10) & 0xff;
	switch (lid) {
	case NVME_LOG_LID_ERROR: {
		static const uint8_t zero[64];
		hnvmf_log_copy(req, zero, sizeof(zero));
		return;
	}
	case NVME_LOG_LID_SMART: {
		struct nvme_smart_log smart = {0};
		smart.temperature[0] = 0x41; /* 321 K: 48 C, a plausible constant */
		smart.temperature[1] = 0x01;
		smart.avail_spare = 100;
		smart.spare_thresh = 10;
		smart_counters(req, &smart);
		hnvmf_log_copy(req, &smart, sizeof(smart));
		return;
	}
	case NVME_LOG_LID_FW_SLOT: {
		struct nvme_firmware_slot fw = {0};
		fw.afi = 1;
		copy_padded(fw.frs[0], sizeof(fw.frs[0]), HNVMF_VERSION);
		hnvmf_log_copy(req, &fw, sizeof(fw));
		return;
	}
	case NVME_LOG_LID_CHANGED_NS:
		log_changed_ns(req);
		return;
	case NVME_LOG_LID_ANA:
		hnvmf_ana_get_log(req);
		return;
	default:
		hnvmf_req_complete(req, HNVMF_SC_CMD(NVME_SC_INVALID_LOG_PAGE));
		return;
	}
}

/* ---- features ---- */

void hnvmf_admin_set_features(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *c = req->sq->ctrl;
	uint32_t cdw10 = le32toh(req->cmd->common.cdw10);
	uint32_t cdw11 = le32toh(req->cmd->common.cdw11);
	uint8_t fid = cdw10 & 0xff;
	if (cdw10 & (1u << 31)) { /* SV: nothing is saveable */
		hnvmf_req_complete(req, HNVMF_SC_CMD(NVME_SC_FEATURE_NOT_SAVEABLE));
		return;
	}
	switch (fid) {
	case NVME_FEAT_FID_NUM_QUEUES: {
		if (c->subsys->discovery)
			break;
		uint32_t nsqr = cdw11 & 0xffff, ncqr = cdw11 >> 16;
		if (nsqr == 0xffff || ncqr == 0xffff)
			break;
		uint32_t n = c->max_io_queues;
		if (nsqr + 1 < n)
			n = nsqr + 1;
		if (ncqr + 1 < n)
			n = ncqr + 1;
		req->cqe.result = htole32((n - 1) | (n - 1) << 16);
		hnvmf_req_complete(req, 0);
		return;
	}
	case NVME_FEAT_FID_KATO:
		/* As at Connect: a discovery controller is never without keep-alive, or an
		 * abandoned one would live as long as its connection. */
		c->kato_ms = cdw11 || !c->subsys->discovery ? cdw11 : req->sq->tgt->conf->kato_default_ms;
		hnvmf_ctrl_start_keepalive(c);
		hnvmf_req_complete(req, 0);
		return;
	case NVME_FEAT_FID_ASYNC_EVENT:
		pthread_mutex_lock(&c->lock);
		c->aen_config = cdw11;
		pthread_mutex_unlock(&c->lock);
		hnvmf_req_complete(req, 0);
		return;
	case NVME_FEAT_FID_VOLATILE_WC:
	case NVME_FEAT_FID_TIMESTAMP:
	case NVME_FEAT_FID_HOST_BEHAVIOR:
		if (c->subsys->discovery)
			break;
		hnvmf_req_complete(req, 0); /* accepted; the backends' caching does not change */
		return;
	default:
		break;
	}
	hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
}

void hnvmf_admin_get_features(struct hnvmf_req *req)
{
	struct hnvmf_ctrl *c = req->sq->ctrl;
	uint8_t fid = le32toh(req->cmd->common.cdw10) & 0xff;
	uint32_t result;
	switch (fid) {
	case NVME_FEAT_FID_NUM_QUEUES:
		if (c->subsys->discovery)
			goto invalid;
		result = (uint32_t)(c->max_io_queues - 1) | (uint32_t)(c->max_io_queues - 1) << 16;
		break;
	case NVME_FEAT_FID_KATO:
		result = c->kato_ms;
		break;
	case NVME_FEAT_FID_ASYNC_EVENT:
		pthread_mutex_lock(&c->lock);
		result = c->aen_config;
		pthread_mutex_unlock(&c->lock);
		break;
	case NVME_FEAT_FID_VOLATILE_WC:
		if (c->subsys->discovery)
			goto invalid;
		result = 1;
		break;
	default:
		goto invalid;
	}
	req->cqe.result = htole32(result);
	hnvmf_req_complete(req, 0);
	return;
invalid:
	hnvmf_req_complete(req, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD));
}

void hnvmf_admin_set_features_data(struct hnvmf_req *req)
{
	if (req->sgl_len) {
		req->dir = HNVMF_DIR_H2C;
		req->data_len = req->sgl_len <= 4096 ? req->sgl_len : 4096;
	}
	req->execute = hnvmf_admin_set_features;
}

void hnvmf_admin_keep_alive(struct hnvmf_req *req)
{
	hnvmf_ctrl_keepalive(req->sq->ctrl);
	hnvmf_req_complete(req, 0);
}

void hnvmf_admin_aer(struct hnvmf_req *req)
{
	hnvmf_ctrl_queue_aer(req->sq->ctrl, req);
}

static void execute_abort(struct hnvmf_req *req)
{
	/* Commands run to completion quickly here; report "not aborted" (DW0 bit 0). */
	req->cqe.result = htole32(1);
	hnvmf_req_complete(req, 0);
}

bool hnvmf_admin_parse_common(struct hnvmf_req *req, const struct hnvmf_admin_handlers *h,
			      uint16_t *status)
{
	*status = 0;
	hnvmf_ctrl_keepalive(req->sq->ctrl); /* any admin traffic proves the host is alive */
	if (!(req->sq->ctrl->csts & 1u)) {   /* CSTS.RDY: the controller is enabled */
		*status = HNVMF_SC_GENERIC(NVME_SC_CMD_SEQ_ERROR);
		return true;
	}
	switch (req->cmd->common.opcode) {
	case nvme_admin_identify:
		req->dir = HNVMF_DIR_C2H;
		req->data_len = 4096;
		req->execute = h->identify;
		return true;
	case nvme_admin_get_log_page:
		req->dir = HNVMF_DIR_C2H;
		req->data_len = hnvmf_log_len(req);
		req->execute = h->get_log;
		if (!req->data_len)
			*status = HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD);
		return true;
	case nvme_admin_set_features:
		hnvmf_admin_set_features_data(req);
		return true;
	case nvme_admin_get_features:
		req->execute = hnvmf_admin_get_features;
		return true;
	case nvme_admin_keep_alive:
		req->execute = hnvmf_admin_keep_alive;
		return true;
	case nvme_admin_async_event:
		req->execute = hnvmf_admin_aer;
		return true;
	default:
		return false;
	}
}

uint16_t hnvmf_parse_admin_cmd(struct hnvmf_req *req)
{
	static const struct hnvmf_admin_handlers nvm = {.identify = execute_identify, .get_log = execute_get_log};
	uint16_t st;
	if (hnvmf_admin_parse_common(req, &nvm, &st))
		return st;
	if (req->cmd->common.opcode == nvme_admin_abort_cmd) {
		req->execute = execute_abort;
		return 0;
	}
	return HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE);
}
