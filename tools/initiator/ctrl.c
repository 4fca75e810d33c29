/* A controller as the Linux host brings one up: admin queue Connect (and DH-HMAC-CHAP when it
 * answers ATR), CAP/VS, CC.EN=1 and CSTS.RDY, Identify Controller, Set Features Number of
 * Queues, I/O queue Connects (each authenticated likewise); and down: CC.SHN, CSTS.SHST, close. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/initiator/queue-internal.h"

#define INI_CC_IOSQES (6u << 16) /* 64-byte SQEs */
#define INI_CC_IOCQES (4u << 20) /* 16-byte CQEs */
#define INI_SHUTDOWN_TIMEOUT_MS 5000

void hnvmf_ini_ctrl_opts_default(struct hnvmf_ini_ctrl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nr_io_queues = 1;
	o->io_depth = 128;
	o->admin_depth = 32;
	o->kato_ms = 10000;
	o->timeout_ms = HNVMF_INI_TIMEOUT_MS;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Polls CSTS until (csts & mask) == want, at most timeout_ms. */
static int wait_csts(struct hnvmf_ini_ctrl *c, uint32_t mask, uint32_t want, unsigned timeout_ms)
{
	uint64_t deadline = hnvmf_ini_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		uint64_t csts;
		int r = hnvmf_ini_prop_get(c->admin, NVME_REG_CSTS, 4, &csts, c->timeout_ms);
		if (r)
			return r;
		if (csts & (1u << 1)) /* CFS: controller fatal status */
			return -EIO;
		if ((csts & mask) == want)
			return 0;
		if (hnvmf_ini_now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ms(10);
	}
}

static int enable(struct hnvmf_ini_ctrl *c)
{
	int r = hnvmf_ini_prop_get(c->admin, NVME_REG_CAP, 8, &c->cap, c->timeout_ms);
	uint64_t vs = 0;
	if (!r)
		r = hnvmf_ini_prop_get(c->admin, NVME_REG_VS, 4, &vs, c->timeout_ms);
	if (r)
		return r;
	c->vs = (uint32_t)vs;
	uint32_t cc = INI_CC_IOSQES | INI_CC_IOCQES | 1u; /* CSS NVM, MPS 4 KiB, AMS RR, EN */
	r = hnvmf_ini_prop_set(c->admin, NVME_REG_CC, 4, cc, c->timeout_ms);
	if (r)
		return r;
	unsigned to = (unsigned)((c->cap >> 24) & 0xff) * 500; /* CAP.TO, 500 ms units */
	if (to < 1000)
		to = 1000;
	return wait_csts(c, 1u, 1u, to);
}

/* Why the connect failed, for a caller that gave a buffer. */
static void ctrl_err(const struct hnvmf_ini_ctrl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ctrl_err(const struct hnvmf_ini_ctrl_opts *o, const char *fmt, ...)
{
	if (!o->err || !o->err_len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->err, o->err_len, fmt, ap);
	va_end(ap);
}

/* Connect of one queue, then DH-HMAC-CHAP when the controller requires it (ATR), as the Linux
 * host does per queue: a host without a secret fails like Linux, with the reason. */
static int connect_queue(struct hnvmf_ini_ctrl *c, struct hnvmf_ini_queue *q, uint16_t qid,
			 uint16_t sqsize, uint32_t kato_ms, uint16_t cntlid, const uint8_t hostid[16],
			 uint16_t *cntlid_out, const struct hnvmf_ini_ctrl_opts *o)
{
	int r = hnvmf_ini_fabrics_connect(q, qid, sqsize, kato_ms, cntlid, c->subnqn, c->hostnqn,
					  hostid, cntlid_out, c->timeout_ms);
	if (r != -EACCES)
		return r;
	if (!o->dhchap_secret) {
		ctrl_err(o, "qid %u: the controller requires authentication and no DH-HMAC-CHAP secret is set", qid);
		return -EACCES;
	}
	struct hnvmf_ini_auth *a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = hnvmf_ini_auth_init(a, o->dhchap_secret, o->dhchap_ctrl_secret, o->dhchap_hashes,
				o->nr_dhchap_hashes, o->dhchap_groups, o->nr_dhchap_groups, c->hostnqn,
				c->subnqn, c->auth_tid++);
	if (!r)
		r = hnvmf_ini_auth_queue(q, a, c->timeout_ms);
	if (r)
		ctrl_err(o, "qid %u: DH-HMAC-CHAP: %s", qid, a->why);
	hnvmf_ini_auth_clear(a);
	free(a);
	return r;
}

/* Every queue of the controller is secured alike: TLS with the controller's host and
 * subsystem NQNs as the PSK identity (tls_key NULL = plain TCP). */
static void set_tls(struct hnvmf_ini_queue_opts *qo, const struct hnvmf_ini_ctrl_opts *o,
		    const struct hnvmf_ini_ctrl *c)
{
	qo->tls_key = o->tls_key;
	qo->tls_hostnqn = c->hostnqn;
	qo->tls_subnqn = c->subnqn;
	qo->tls_identity = o->tls_identity;
	qo->tls_hkdf_rfc8446 = o->tls_hkdf_rfc8446;
}

static int connect_io_queues(struct hnvmf_ini_ctrl *c, const char *addr, uint16_t port,
			     const struct hnvmf_ini_ctrl_opts *o, const uint8_t hostid[16])
{
	unsigned granted = 0;
	int r = hnvmf_ini_set_num_queues(c, o->nr_io_queues, &granted);
	if (r)
		return r;
	unsigned n = o->nr_io_queues < granted ? o->nr_io_queues : granted;
	unsigned depth = o->io_depth ? o->io_depth : 128;
	unsigned mqes = (unsigned)(c->cap & 0xffff) + 1;
	if (depth > mqes)
		depth = mqes;
	if (c->id.maxcmd && depth > le16toh(c->id.maxcmd))
		depth = le16toh(c->id.maxcmd);
	if (depth > HNVMF_INI_MAX_DEPTH)
		depth = HNVMF_INI_MAX_DEPTH;
	/* A queue has at least two entries (sqsize 0 is invalid), even when the caller keeps only
	 * one command in flight (QD 1). */
	if (depth < 2)
		depth = 2;
	uint32_t ioccsz = le32toh(c->id.ioccsz);
	uint32_t icd = ioccsz >= 4 ? ioccsz * 16 - 64 : 0;

	c->io = calloc(n ? n : 1, sizeof(*c->io));
	if (!c->io)
		return -ENOMEM;
	struct hnvmf_ini_queue_opts qo = { .hdgst = o->hdgst, .ddgst = o->ddgst, .depth = depth,
					   .timeout_ms = o->timeout_ms };
	set_tls(&qo, o, c);
	for (unsigned i = 0; i < n; i++) {
		r = hnvmf_ini_queue_open(addr, port, &qo, &c->io[i]);
		if (r)
			return r;
		c->nr_io = i + 1;
		r = connect_queue(c, c->io[i], (uint16_t)(i + 1), (uint16_t)(depth - 1), 0, c->cntlid,
				  hostid, NULL, o);
		if (r)
			return r;
		hnvmf_ini_queue_set_icd_max(c->io[i], icd);
	}
	return 0;
}

int hnvmf_ini_ctrl_connect(const char *addr, uint16_t port, const char *subnqn,
			   const char *hostnqn, const struct hnvmf_ini_ctrl_opts *o,
			   struct hnvmf_ini_ctrl **out)
{
	struct hnvmf_ini_ctrl_opts def;
	if (!o) {
		hnvmf_ini_ctrl_opts_default(&def);
		o = &def;
	}
	struct hnvmf_ini_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : HNVMF_INI_TIMEOUT_MS;
	c->kato_ms = o->kato_ms;
	snprintf(c->subnqn, sizeof(c->subnqn), "%s", subnqn);
	snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", hostnqn);
	uint8_t hostid[16], zero[16] = { 0 };
	if (memcmp(o->hostid, zero, sizeof(zero)))
		memcpy(hostid, o->hostid, sizeof(hostid));
	else
		hnvmf_ini_hostid_from_nqn(hostnqn, hostid);

	unsigned adepth = o->admin_depth ? o->admin_depth : 32;
	struct hnvmf_ini_queue_opts qo = { .hdgst = o->hdgst, .ddgst = o->ddgst, .depth = adepth,
					   .timeout_ms = o->timeout_ms };
	set_tls(&qo, o, c);
	int r = hnvmf_ini_queue_open(addr, port, &qo, &c->admin);
	if (!r)
		r = connect_queue(c, c->admin, 0, (uint16_t)(adepth - 1), o->kato_ms, 0xFFFF, hostid,
				  &c->cntlid, o);
	if (!r)
		r = enable(c);
	if (!r)
		r = hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_CTRL, 0, &c->id);
	if (!r && o->nr_io_queues)
		r = connect_io_queues(c, addr, port, o, hostid);
	if (r) {
		/* the controller may be half up: close without the shutdown handshake */
		for (unsigned i = 0; i < c->nr_io; i++)
			hnvmf_ini_queue_close(c->io[i]);
		hnvmf_ini_queue_close(c->admin);
		free(c->io);
		free(c);
		return r;
	}
	c->last_admin_ns = hnvmf_ini_now_ns();
	*out = c;
	return 0;
}

int hnvmf_ini_ctrl_disconnect(struct hnvmf_ini_ctrl *c)
{
	if (!c)
		return 0;
	int ret = 0;
	/* The I/O queues go first, as the Linux host tears them down before the shutdown. */
	for (unsigned i = 0; i < c->nr_io; i++)
		hnvmf_ini_queue_close(c->io[i]);
	c->nr_io = 0;
	if (c->admin && hnvmf_ini_queue_error(c->admin)) {
		ret = hnvmf_ini_queue_error(c->admin); /* no clean shutdown possible */
	} else if (c->admin) {
		uint32_t cc = INI_CC_IOSQES | INI_CC_IOCQES | 1u | (NVME_CC_SHN_NORMAL << NVME_CC_SHN_SHIFT);
		ret = hnvmf_ini_prop_set(c->admin, NVME_REG_CC, 4, cc, c->timeout_ms);
		if (!ret)
			ret = wait_csts(c, NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT,
					NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT,
					INI_SHUTDOWN_TIMEOUT_MS);
	}
	hnvmf_ini_queue_close(c->admin);
	free(c->io);
	free(c);
	return ret;
}

int hnvmf_ini_admin_exec(struct hnvmf_ini_ctrl *c, union hnvmf_sqe *sqe, void *buf, uint32_t len,
			 enum hnvmf_ini_dir dir, struct hnvmf_cqe *cqe_out)
{
	struct hnvmf_ini_io io = { .sqe = *sqe, .data = buf, .len = len, .dir = dir };
	int r = hnvmf_ini_exec(c->admin, &io, c->timeout_ms);
	c->last_admin_ns = hnvmf_ini_now_ns();
	if (cqe_out)
		*cqe_out = io.cqe;
	return r;
}

int hnvmf_ini_identify(struct hnvmf_ini_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k)
{
	union hnvmf_sqe s;
	hnvmf_sqe_identify(&s, cns, nsid, 0);
	return hnvmf_ini_admin_exec(c, &s, buf4k, 4096, HNVMF_INI_FROM_CTRL, NULL);
}

int hnvmf_ini_identify_ns(struct hnvmf_ini_ctrl *c, uint32_t nsid, struct nvme_id_ns *ns)
{
	return hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS, nsid, ns);
}

int hnvmf_ini_active_ns(struct hnvmf_ini_ctrl *c, uint32_t *nsids, unsigned max, unsigned *n)
{
	uint32_t list[1024];
	int r = hnvmf_ini_identify(c, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, list);
	*n = 0;
	if (r)
		return r;
	for (unsigned i = 0; i < 1024 && list[i] && *n < max; i++)
		nsids[(*n)++] = le32toh(list[i]);
	return 0;
}

int hnvmf_ini_get_log(struct hnvmf_ini_ctrl *c, uint8_t lid, uint32_t nsid, uint64_t offset,
		      void *buf, uint32_t len)
{
	union hnvmf_sqe s;
	if (!len || len % 4)
		return -EINVAL;
	hnvmf_sqe_get_log(&s, lid, nsid, offset, len, 0, false);
	return hnvmf_ini_admin_exec(c, &s, buf, len, HNVMF_INI_FROM_CTRL, NULL);
}

int hnvmf_ini_discovery_log(struct hnvmf_ini_ctrl *c, struct nvmf_discovery_log **out)
{
	const size_t hsz = sizeof(struct nvmf_discovery_log);
	struct nvmf_discovery_log *hdr = malloc(hsz), *log = NULL;
	if (!hdr)
		return -ENOMEM;
	int r = -EAGAIN;
	for (int attempt = 0; attempt < 10; attempt++) {
		r = hnvmf_ini_get_log(c, NVME_LOG_LID_DISCOVER, 0, 0, hdr, (uint32_t)hsz);
		if (r)
			break;
		uint64_t genctr = le64toh(hdr->genctr), numrec = le64toh(hdr->numrec);
		if (numrec > 1024) {
			r = -E2BIG;
			break;
		}
		size_t len = hsz + numrec * sizeof(struct nvmf_disc_log_entry);
		free(log);
		log = malloc(len);
		if (!log) {
			r = -ENOMEM;
			break;
		}
		r = hnvmf_ini_get_log(c, NVME_LOG_LID_DISCOVER, 0, 0, log, (uint32_t)len);
		if (r)
			break;
		/* re-read the header: a changed genctr means the records may be torn */
		r = hnvmf_ini_get_log(c, NVME_LOG_LID_DISCOVER, 0, 0, hdr, (uint32_t)hsz);
		if (r)
			break;
		if (le64toh(hdr->genctr) == genctr && le64toh(log->numrec) == numrec) {
			free(hdr);
			*out = log;
			return 0;
		}
		r = -EAGAIN;
	}
	free(hdr);
	free(log);
	return r;
}

int hnvmf_ini_keep_alive(struct hnvmf_ini_ctrl *c)
{
	union hnvmf_sqe s;
	hnvmf_sqe_keep_alive(&s);
	return hnvmf_ini_admin_exec(c, &s, NULL, 0, HNVMF_INI_NONE, NULL);
}

int hnvmf_ini_keep_alive_if_due(struct hnvmf_ini_ctrl *c)
{
	if (!c->kato_ms)
		return 0;
	if (hnvmf_ini_now_ns() - c->last_admin_ns < (uint64_t)c->kato_ms * 1000000ull / 2)
		return 0;
	return hnvmf_ini_keep_alive(c);
}

int hnvmf_ini_set_num_queues(struct hnvmf_ini_ctrl *c, unsigned want, unsigned *granted)
{
	union hnvmf_sqe s;
	struct hnvmf_cqe cqe;
	uint32_t v = (want - 1) & 0xffff;
	hnvmf_sqe_set_features(&s, NVME_FEAT_FID_NUM_QUEUES, v | v << 16);
	int r = hnvmf_ini_admin_exec(c, &s, NULL, 0, HNVMF_INI_NONE, &cqe);
	if (r)
		return r;
	uint32_t dw0 = (uint32_t)le64toh(cqe.result);
	unsigned nsq = (dw0 & 0xffff) + 1, ncq = (dw0 >> 16) + 1;
	*granted = nsq < ncq ? nsq : ncq;
	return 0;
}

int hnvmf_ini_ns_info(struct hnvmf_ini_ctrl *c, uint32_t nsid, struct hnvmf_ini_ns_info *info)
{
	struct nvme_id_ns *ns = malloc(sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	int r = hnvmf_ini_identify_ns(c, nsid, ns);
	if (!r) {
		unsigned fmt = ns->flbas & 0xf;
		info->nsid = nsid;
		info->nsze = le64toh(ns->nsze);
		info->lba_size = 1u << ns->lbaf[fmt].ds;
		if (ns->lbaf[fmt].ds < 9)
			r = -ENODEV; /* inactive namespace, or not formatted */
	}
	free(ns);
	return r;
}

uint64_t hnvmf_ini_max_transfer(const struct hnvmf_ini_ctrl *c)
{
	if (!c->id.mdts)
		return 0;
	unsigned mpsmin = (unsigned)((c->cap >> 48) & 0xf); /* 2^(12 + MPSMIN) bytes */
	return (uint64_t)1 << (12 + mpsmin + c->id.mdts);
}

static int io_exec(struct hnvmf_ini_ctrl *c, unsigned qidx, struct hnvmf_ini_io *io)
{
	if (qidx >= c->nr_io)
		return -EINVAL;
	int r = hnvmf_ini_keep_alive_if_due(c);
	if (r)
		return r;
	return hnvmf_ini_exec(c->io[qidx], io, c->timeout_ms);
}

int hnvmf_ini_read(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
		   uint32_t nlb, void *buf, uint32_t len)
{
	struct hnvmf_ini_io io = { .data = buf, .len = len, .dir = HNVMF_INI_FROM_CTRL };
	hnvmf_sqe_rw(&io.sqe, false, nsid, slba, nlb);
	return io_exec(c, qidx, &io);
}

int hnvmf_ini_write(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
		    uint32_t nlb, const void *buf, uint32_t len)
{
	struct hnvmf_ini_io io = { .data = (void *)buf, .len = len, .dir = HNVMF_INI_TO_CTRL };
	hnvmf_sqe_rw(&io.sqe, true, nsid, slba, nlb);
	return io_exec(c, qidx, &io);
}

int hnvmf_ini_flush(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid)
{
	struct hnvmf_ini_io io = { .dir = HNVMF_INI_NONE };
	hnvmf_sqe_flush(&io.sqe, nsid);
	return io_exec(c, qidx, &io);
}

int hnvmf_ini_write_zeroes(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid, uint64_t slba,
			   uint32_t nlb)
{
	struct hnvmf_ini_io io = { .dir = HNVMF_INI_NONE };
	hnvmf_sqe_write_zeroes(&io.sqe, nsid, slba, nlb);
	return io_exec(c, qidx, &io);
}

int hnvmf_ini_deallocate(struct hnvmf_ini_ctrl *c, unsigned qidx, uint32_t nsid,
			 const struct nvme_dsm_range *ranges, unsigned nr)
{
	struct hnvmf_ini_io io = { .data = (void *)ranges, .len = nr * sizeof(*ranges),
				   .dir = HNVMF_INI_TO_CTRL };
	hnvmf_sqe_dsm(&io.sqe, nsid, nr, true);
	return io_exec(c, qidx, &io);
}
