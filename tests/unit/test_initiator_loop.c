/* The initiator library against a small fake NVMe/TCP controller running in a thread of this
 * test (written from the specification, independent of the library's code paths): Connect,
 * properties, Identify, discovery log, in-capsule and R2T writes (with MAXH2CDATA small enough
 * to need several H2CData PDUs), reads in several C2HData PDUs with and without the SUCCESS
 * optimisation, digests on and off, cpda padding, and the failure paths (bad digest, C2HTermReq,
 * raw-mode termination). */
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/initiator/initiator.h"
#include "tools/perf/perf.h"

/* The unit-test target does not link hnvmf_initiator: compile its sources in. */

/* ---- fake controller ---------------------------------------------------------------------- */

#define FT_BLOCKS 2048u
#define FT_BS 512u
#define FT_ICD 4096u          /* in-capsule data on I/O queues: IOCCSZ = (4096 + 64) / 16 */
#define FT_MAXH2C 8192u       /* forces several H2CData PDUs per R2T */
#define FT_R2T_MAX 20000u     /* forces several R2Ts per write */
#define FT_C2H_CHUNK 5000u    /* forces several C2HData PDUs per read */

enum ft_fault {
	FT_OK,
	FT_BAD_HDGST_ON_RSP,  /* corrupts the header digest of I/O responses */
	FT_TERM_ON_IO,        /* answers I/O commands with a C2HTermReq (FES 0x02) */
	FT_DUP_RSP,           /* answers Flush twice (a stale CID the second time) */
	FT_R2T_BEYOND,        /* asks for data past the end of the command */
	FT_SUCCESS_NO_LAST,   /* C2HData with SUCCESS but without LAST */
};

static struct {
	int lfd;
	uint16_t port;
	uint8_t cpda;
	enum ft_fault fault;
	uint8_t disk[FT_BLOCKS * FT_BS];
	pthread_mutex_t lock;
	uint64_t cc, csts;
	unsigned connects;
} ft = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct ft_pending {
	struct ft_pending *next;
	uint32_t plen;
	uint8_t pdu[];
};

struct ft_conn {
	int fd;
	bool hd, dd;
	uint16_t qid;
	unsigned nreads;
	/* commands that arrived while an R2T was being served, handled afterwards in order */
	struct ft_pending *pend_head, **pend_tail;
};

static bool rd(int fd, void *b, size_t n)
{
	uint8_t *p = b;
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static bool wr(int fd, const void *b, size_t n)
{
	return send(fd, b, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static uint32_t ft_align(uint32_t v)
{
	uint32_t a = ((uint32_t)ft.cpda + 1) * 4;
	return (v + a - 1) / a * a;
}

/* Sends hdr (hlen bytes, plus digest when hd) and optional data (plus digest when dd). */
static bool ft_send_pdu(struct ft_conn *c, void *hdr, uint8_t hlen, const void *data, uint32_t len)
{
	uint8_t buf[256 + FT_C2H_CHUNK + 8];
	struct hnvmf_tcp_hdr *h = hdr;
	uint32_t hl = hlen + (c->hd ? 4 : 0), pdo = 0, plen = hl;
	if (len) {
		pdo = hl; /* we asked hpda 0: no padding host-bound */
		plen = pdo + len + (c->dd ? 4 : 0);
	}
	h->hlen = hlen;
	h->pdo = (uint8_t)pdo;
	h->plen = htole32(plen);
	h->flags |= (c->hd ? HNVMF_TCP_F_HDGST : 0) | (len && c->dd ? HNVMF_TCP_F_DDGST : 0);
	memcpy(buf, hdr, hlen);
	if (c->hd) {
		uint32_t d = htole32(hnvmf_crc32c(buf, hlen));
		if (ft.fault == FT_BAD_HDGST_ON_RSP && h->type == HNVMF_TCP_RSP && c->qid)
			d ^= 1;
		memcpy(buf + hlen, &d, 4);
	}
	if (len) {
		memcpy(buf + pdo, data, len);
		if (c->dd) {
			uint32_t d = htole32(hnvmf_crc32c(data, len));
			memcpy(buf + pdo + len, &d, 4);
		}
	}
	return wr(c->fd, buf, plen);
}

static bool ft_rsp(struct ft_conn *c, uint16_t cid_le, uint16_t status, uint64_t result)
{
	struct hnvmf_tcp_rsp r = { .hdr.type = HNVMF_TCP_RSP };
	r.cqe.cid = cid_le;
	r.cqe.status = htole16((uint16_t)(status << 1));
	r.cqe.result = htole64(result);
	r.cqe.sq_id = htole16(c->qid);
	return ft_send_pdu(c, &r, sizeof(r), NULL, 0);
}

static bool ft_term(struct ft_conn *c, uint16_t fes)
{
	struct hnvmf_tcp_term t = { .hdr.type = HNVMF_TCP_C2H_TERM, .hdr.hlen = 24 };
	t.hdr.plen = htole32(24);
	t.fes = htole16(fes);
	wr(c->fd, &t, sizeof(t));
	return false;
}

/* Reads one PDU, checks its digests; returns plen or 0. */
static uint32_t ft_recv_pdu(struct ft_conn *c, uint8_t *buf, size_t cap)
{
	if (!rd(c->fd, buf, 8))
		return 0;
	uint32_t plen = le32toh(((struct hnvmf_tcp_hdr *)buf)->plen);
	if (plen < 8 || plen > cap || !rd(c->fd, buf + 8, plen - 8))
		return 0;
	struct hnvmf_tcp_hdr *h = (void *)buf;
	if (h->type == HNVMF_TCP_ICREQ)
		return plen;
	if (c->hd) {
		uint32_t d;
		memcpy(&d, buf + h->hlen, 4);
		if (!(h->flags & HNVMF_TCP_F_HDGST) || d != htole32(hnvmf_crc32c(buf, h->hlen)))
			return ft_term(c, HNVMF_TCP_FES_HDR_DIGEST_ERR);
	}
	if (h->pdo && c->dd) {
		uint32_t dl = plen - h->pdo - 4, d;
		memcpy(&d, buf + plen - 4, 4);
		if (d != htole32(hnvmf_crc32c(buf + h->pdo, dl)))
			return ft_term(c, HNVMF_TCP_FES_HDR_DIGEST_ERR);
	}
	if (h->pdo && h->pdo != ft_align(h->hlen + (c->hd ? 4 : 0)))
		return ft_term(c, HNVMF_TCP_FES_INVALID_PDU_HDR); /* host ignored cpda */
	return plen;
}

static uint8_t *ft_pdu_data(uint8_t *buf, uint32_t plen, uint32_t *len, bool dd)
{
	struct hnvmf_tcp_hdr *h = (void *)buf;
	*len = h->pdo ? plen - h->pdo - (dd ? 4 : 0) : 0;
	return buf + h->pdo;
}

static bool ft_write_r2t(struct ft_conn *c, uint16_t cid_le, uint8_t *dst, uint32_t len, uint8_t *buf,
			 size_t cap)
{
	for (uint32_t off = 0; off < len;) {
		uint32_t n = len - off < FT_R2T_MAX ? len - off : FT_R2T_MAX;
		struct hnvmf_tcp_r2t r = { .hdr.type = HNVMF_TCP_R2T, .cid = cid_le, .ttag = htole16(7) };
		r.offset = htole32(off);
		r.length = htole32(n);
		if (!ft_send_pdu(c, &r, sizeof(r), NULL, 0))
			return false;
		for (uint32_t got = 0; got < n;) {
			uint32_t plen = ft_recv_pdu(c, buf, cap), dl;
			if (!plen)
				return false;
			struct hnvmf_tcp_data *d = (void *)buf;
			if (d->hdr.type == HNVMF_TCP_CMD) {
				struct ft_pending *pp = malloc(sizeof(*pp) + plen);
				pp->next = NULL;
				pp->plen = plen;
				memcpy(pp->pdu, buf, plen);
				*c->pend_tail = pp;
				c->pend_tail = &pp->next;
				continue;
			}
			if (d->hdr.type != HNVMF_TCP_H2C_DATA || d->cid != cid_le || le16toh(d->ttag) != 7 ||
			    le32toh(d->offset) != off + got)
				return ft_term(c, HNVMF_TCP_FES_PDU_SEQ_ERR);
			uint8_t *data = ft_pdu_data(buf, plen, &dl, c->dd);
			if (dl != le32toh(d->length) || dl > FT_MAXH2C || got + dl > n)
				return ft_term(c, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED);
			bool last = d->hdr.flags & HNVMF_TCP_F_DATA_LAST;
			if (last != (got + dl == n))
				return ft_term(c, HNVMF_TCP_FES_PDU_SEQ_ERR);
			memcpy(dst + off + got, data, dl);
			got += dl;
		}
		off += n;
	}
	return true;
}

static bool ft_read(struct ft_conn *c, uint16_t cid_le, const uint8_t *src, uint32_t len)
{
	bool success = c->nreads++ & 1; /* every other read: SUCCESS flag, no CapsuleResp */
	for (uint32_t off = 0; off < len;) {
		uint32_t n = len - off < FT_C2H_CHUNK ? len - off : FT_C2H_CHUNK;
		struct hnvmf_tcp_data d = { .hdr.type = HNVMF_TCP_C2H_DATA, .cid = cid_le };
		d.offset = htole32(off);
		d.length = htole32(n);
		if (off + n == len)
			d.hdr.flags = HNVMF_TCP_F_DATA_LAST | (success ? HNVMF_TCP_F_DATA_SUCCESS : 0);
		if (ft.fault == FT_SUCCESS_NO_LAST && c->qid)
			d.hdr.flags = HNVMF_TCP_F_DATA_SUCCESS;
		if (!ft_send_pdu(c, &d, sizeof(d), src + off, n))
			return false;
		off += n;
	}
	return success ? true : ft_rsp(c, cid_le, 0, 0);
}

static bool ft_admin(struct ft_conn *c, const struct hnvmf_sqe_common *s)
{
	static uint8_t page[4096];
	uint32_t cdw10 = le32toh(s->cdw10);
	switch (s->opcode) {
	case nvme_admin_identify: {
		memset(page, 0, sizeof(page));
		if ((cdw10 & 0xff) == NVME_IDENTIFY_CNS_CTRL) {
			struct nvme_id_ctrl *id = (void *)page;
			id->ioccsz = htole32((FT_ICD + 64) / 16);
			id->iorcsz = htole32(1);
			id->cntlid = htole16(1);
			id->kas = 10;
			memcpy(id->sn, "FAKE0001            ", 20);
			strcpy(id->subnqn, "nqn.test:fake");
		} else if ((cdw10 & 0xff) == NVME_IDENTIFY_CNS_NS) {
			struct nvme_id_ns *ns = (void *)page;
			if (le32toh(s->nsid) == 1) {
				ns->nsze = ns->ncap = ns->nuse = htole64(FT_BLOCKS);
				ns->lbaf[0].ds = 9;
			}
		} else if ((cdw10 & 0xff) == NVME_IDENTIFY_CNS_NS_ACTIVE_LIST) {
			uint32_t one = htole32(1);
			memcpy(page, &one, 4);
		}
		return ft_read(c, s->cid, page, sizeof(page));
	}
	case nvme_admin_get_log_page: {
		uint32_t len = ((cdw10 >> 16) + 1) * 4;
		static uint8_t log[2048];
		struct nvmf_discovery_log *l = (void *)log;
		memset(log, 0, sizeof(log));
		l->genctr = htole64(5);
		l->numrec = htole64(1);
		l->entries[0].trtype = NVMF_TRTYPE_TCP;
		strcpy(l->entries[0].trsvcid, "4420");
		strcpy(l->entries[0].traddr, "127.0.0.1");
		strcpy(l->entries[0].subnqn, "nqn.test:fake");
		if ((cdw10 & 0xff) != NVME_LOG_LID_DISCOVER || len > sizeof(log))
			return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_INVALID_FIELD), 0);
		return ft_read(c, s->cid, log, len);
	}
	case nvme_admin_set_features:
		return ft_rsp(c, s->cid, 0, 3u | 3u << 16); /* 4 SQs and CQs */
	case nvme_admin_keep_alive:
		return ft_rsp(c, s->cid, 0, 0);
	default:
		return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE), 0);
	}
}

static bool ft_fabrics(struct ft_conn *c, const union hnvmf_sqe *s, const uint8_t *icd, uint32_t icd_len)
{
	switch (s->fabrics.fctype) {
	case nvme_fabrics_type_connect: {
		const struct nvmf_connect_data *d = (const void *)icd;
		if (icd_len != sizeof(*d) || s->connect.dptr.type != HNVMF_SGL_DATA_BLOCK_OFFSET)
			return ft_rsp(c, s->connect.cid, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE), 0);
		c->qid = le16toh(s->connect.qid);
		bool ok = c->qid == 0 ? le16toh(d->cntlid) == 0xFFFF && le16toh(s->connect.sqsize) == 31
				      : le16toh(d->cntlid) == 1;
		pthread_mutex_lock(&ft.lock);
		ft.connects++;
		pthread_mutex_unlock(&ft.lock);
		return ft_rsp(c, s->connect.cid, ok ? 0 : HNVMF_SC_CMD(NVME_SC_CONNECT_INVALID_PARAM), 1);
	}
	case nvme_fabrics_type_property_get: {
		uint64_t v = 0;
		uint32_t off = le32toh(s->prop.offset);
		pthread_mutex_lock(&ft.lock);
		if (off == NVME_REG_CAP)
			v = 63 | 1ull << 16 | 2ull << 24 | 1ull << 37; /* MQES 63, CQR, TO 1 s, CSS NVM */
		else if (off == NVME_REG_VS)
			v = 0x10400;
		else if (off == NVME_REG_CC)
			v = ft.cc;
		else if (off == NVME_REG_CSTS)
			v = ft.csts;
		pthread_mutex_unlock(&ft.lock);
		return ft_rsp(c, s->prop.cid, 0, v);
	}
	case nvme_fabrics_type_property_set: {
		uint64_t v = le64toh(s->prop.value);
		pthread_mutex_lock(&ft.lock);
		ft.cc = v;
		ft.csts = (v & 1) | (((v >> 14) & 3) ? 2u << 2 : 0);
		pthread_mutex_unlock(&ft.lock);
		return ft_rsp(c, s->prop.cid, 0, 0);
	}
	default:
		return ft_rsp(c, s->fabrics.cid, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE), 0);
	}
}

static bool ft_io(struct ft_conn *c, const struct hnvmf_sqe_common *s, const uint8_t *icd,
		  uint32_t icd_len, uint8_t *buf, size_t cap)
{
	if (ft.fault == FT_TERM_ON_IO)
		return ft_term(c, HNVMF_TCP_FES_PDU_SEQ_ERR);
	uint64_t slba = le32toh(s->cdw10) | (uint64_t)le32toh(s->cdw11) << 32;
	uint32_t nlb = (le32toh(s->cdw12) & 0xffff) + 1, len = nlb * FT_BS;
	if (s->opcode == nvme_cmd_flush) {
		if (ft.fault == FT_DUP_RSP && !ft_rsp(c, s->cid, 0, 0))
			return false;
		return ft_rsp(c, s->cid, 0, 0);
	}
	if (ft.fault == FT_R2T_BEYOND && s->opcode == nvme_cmd_write) {
		struct hnvmf_tcp_r2t r = { .hdr.type = HNVMF_TCP_R2T, .cid = s->cid };
		r.offset = htole32(0);
		r.length = htole32(le32toh(s->dptr.length) + 512);
		ft_send_pdu(c, &r, sizeof(r), NULL, 0);
		return false;
	}
	if ((s->opcode != nvme_cmd_read && s->opcode != nvme_cmd_write) || le32toh(s->nsid) != 1)
		return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_INVALID_OPCODE), 0);
	if (slba + nlb > FT_BLOCKS)
		return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_LBA_RANGE), 0);
	if (le32toh(s->dptr.length) != len || !(s->flags & 0x40))
		return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_DATA), 0);
	uint8_t *blk = ft.disk + slba * FT_BS;
	if (s->opcode == nvme_cmd_read)
		return ft_read(c, s->cid, blk, len);
	if (s->dptr.type == HNVMF_SGL_DATA_BLOCK_OFFSET) {
		if (icd_len != len || len > FT_ICD)
			return ft_term(c, HNVMF_TCP_FES_DATA_LIMIT_EXCEEDED);
		memcpy(blk, icd, len);
	} else {
		if (icd_len || len <= FT_ICD) /* the host must use in-capsule up to FT_ICD */
			return ft_rsp(c, s->cid, HNVMF_SC_GENERIC(NVME_SC_SGL_INVALID_TYPE), 0);
		if (!ft_write_r2t(c, s->cid, blk, len, buf, cap))
			return false;
	}
	return ft_rsp(c, s->cid, 0, 0);
}

static void *ft_conn_thread(void *arg)
{
	struct ft_conn c = { .fd = (int)(intptr_t)arg };
	c.pend_tail = &c.pend_head;
	size_t cap = 256 * 1024;
	uint8_t *buf = malloc(cap), *rbuf = malloc(cap);
	for (;;) {
		uint32_t plen;
		if (c.pend_head) {
			struct ft_pending *pp = c.pend_head;
			c.pend_head = pp->next;
			if (!c.pend_head)
				c.pend_tail = &c.pend_head;
			plen = pp->plen;
			memcpy(buf, pp->pdu, plen);
			free(pp);
		} else {
			plen = ft_recv_pdu(&c, buf, cap);
		}
		if (!plen)
			break;
		struct hnvmf_tcp_hdr *h = (void *)buf;
		if (h->type == HNVMF_TCP_ICREQ) {
			struct hnvmf_tcp_icreq *q = (void *)buf;
			struct hnvmf_tcp_icresp r = { .hdr.type = HNVMF_TCP_ICRESP, .hdr.hlen = 128 };
			r.hdr.plen = htole32(128);
			r.cpda = ft.cpda;
			r.digest = q->digest;
			r.maxdata = htole32(FT_MAXH2C);
			c.hd = q->digest & 1;
			c.dd = q->digest & 2;
			wr(c.fd, &r, sizeof(r));
			continue;
		}
		if (h->type != HNVMF_TCP_CMD) {
			ft_term(&c, HNVMF_TCP_FES_INVALID_PDU_HDR);
			break;
		}
		union hnvmf_sqe s;
		memcpy(&s, buf + 8, sizeof(s));
		uint32_t icd_len;
		uint8_t *icd = ft_pdu_data(buf, plen, &icd_len, c.dd);
		bool ok;
		if (s.common.opcode == nvme_admin_fabrics)
			ok = ft_fabrics(&c, &s, icd, icd_len);
		else if (c.qid == 0)
			ok = ft_admin(&c, &s.common);
		else
			ok = ft_io(&c, &s.common, icd, icd_len, rbuf, cap);
		if (!ok)
			break;
	}
	while (c.pend_head) {
		struct ft_pending *pp = c.pend_head;
		c.pend_head = pp->next;
		free(pp);
	}
	free(buf);
	free(rbuf);
	close(c.fd);
	return NULL;
}

static void *ft_accept_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(ft.lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t t;
		pthread_create(&t, NULL, ft_conn_thread, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int ft_setup(void **state)
{
	(void)state;
	ft.lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	if (bind(ft.lfd, (void *)&sa, sizeof(sa)) || listen(ft.lfd, 16) ||
	    getsockname(ft.lfd, (void *)&sa, &sl))
		return -1;
	ft.port = ntohs(sa.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, ft_accept_thread, NULL);
	pthread_detach(t);
	return 0;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static struct hnvmf_ini_ctrl *connect_ctrl(bool hd, bool dd, unsigned nq)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.hdgst = hd;
	o.ddgst = dd;
	o.nr_io_queues = nq;
	o.io_depth = 32;
	o.timeout_ms = 5000;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", ft.port, "nqn.test:fake",
				       "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001",
				       &o, &c);
	assert_int_equal(r, 0);
	return c;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

static void rw_roundtrip(bool hd, bool dd, uint8_t cpda)
{
	ft.cpda = cpda;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(hd, dd, 2);
	assert_int_equal(c->cntlid, 1);
	assert_int_equal(c->nr_io, 2);
	assert_int_equal(le32toh(c->id.ioccsz), (FT_ICD + 64) / 16);
	assert_int_equal(hnvmf_ini_queue_icd_max(c->io[0]), FT_ICD);

	struct hnvmf_ini_ns_info ni;
	assert_int_equal(hnvmf_ini_ns_info(c, 1, &ni), 0);
	assert_int_equal(ni.nsze, FT_BLOCKS);
	assert_int_equal(ni.lba_size, FT_BS);
	uint32_t nsids[4];
	unsigned nn;
	assert_int_equal(hnvmf_ini_active_ns(c, nsids, 4, &nn), 0);
	assert_int_equal(nn, 1);
	assert_int_equal(nsids[0], 1);

	/* sizes: in-capsule (<= 4096), one R2T with several H2CData, several R2Ts */
	static const uint32_t sizes[] = { 512, 4096, 4608, 16384, 65536 };
	uint8_t *w = malloc(65536), *r = malloc(65536);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i], nlb = n / FT_BS;
		fill(w, n, i + cpda);
		for (unsigned k = 0; k < 2; k++) { /* twice: even and odd CIDs (SUCCESS optimisation) */
			memset(r, 0xee, n);
			assert_int_equal(hnvmf_ini_write(c, i % 2, 1, 100 + i * 128, nlb, w, n), 0);
			assert_int_equal(hnvmf_ini_read(c, (i + 1) % 2, 1, 100 + i * 128, nlb, r, n), 0);
			assert_memory_equal(w, r, n);
		}
	}
	struct hnvmf_ini_queue_stats s0, s1;
	hnvmf_ini_queue_stats(c->io[0], &s0);
	hnvmf_ini_queue_stats(c->io[1], &s1);
	/* 512 and 4096 in-capsule; 4608: 1 R2T, 1 H2CData; 16384: 1 R2T, 2 H2CData (MAXH2CDATA
	 * 8192); 65536: R2Ts of 20000, 20000, 20000, 5536 with 3 + 3 + 3 + 1 H2CData. Twice. */
	assert_int_equal(s0.icd_writes + s1.icd_writes, 2 + 2 * 2); /* + the two Connects */
	assert_int_equal(s0.r2ts + s1.r2ts, 2 * (1 + 1 + 4));
	assert_int_equal(s0.h2c_pdus + s1.h2c_pdus, 2 * (1 + 2 + 10));
	/* reads in C2HData of 5000: 1 + 1 + 1 + 4 + 14, twice */
	assert_int_equal(s0.c2h_pdus + s1.c2h_pdus, 2 * 21);
	assert_true(s0.c2h_success + s1.c2h_success >= 1);
	assert_true(s0.c2h_success + s1.c2h_success < 2 * 5);
	assert_int_equal(s0.c2h_success + s1.c2h_success + s0.rsps + s1.rsps, 2 + 2 * 5 * 2);

	/* out of range: the status comes back, the queue stays usable */
	int st = hnvmf_ini_read(c, 0, 1, FT_BLOCKS - 1, 2, r, 1024);
	assert_int_equal(hnvmf_status_sc((uint16_t)st), NVME_SC_LBA_RANGE);
	assert_int_equal(hnvmf_ini_flush(c, 0, 1), 0);
	assert_int_equal(hnvmf_ini_keep_alive(c), 0);
	free(w);
	free(r);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	assert_int_equal(ft.csts & (3u << 2), 2u << 2); /* shutdown complete was reached */
}

static void test_rw_plain(void **state) { (void)state; rw_roundtrip(false, false, 0); }
static void test_rw_hdgst(void **state) { (void)state; rw_roundtrip(true, false, 0); }
static void test_rw_digests_cpda(void **state) { (void)state; rw_roundtrip(true, true, 3); }

struct async_ctx {
	unsigned done, errors;
};

static void async_done(struct hnvmf_ini_io *io)
{
	struct async_ctx *a = io->arg;
	a->done++;
	if (io->status)
		a->errors++;
}

static void test_async_batch(void **state)
{
	(void)state;
	ft.cpda = 0;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, true, 1);
	struct hnvmf_ini_queue *q = c->io[0];
	enum { N = 32 };
	struct hnvmf_ini_io ios[N + 1];
	static uint8_t bufs[N][8192];
	struct async_ctx a = { 0 };
	for (unsigned i = 0; i < N; i++) {
		memset(&ios[i], 0, sizeof(ios[i]));
		bool wr = i % 2 == 0;
		fill(bufs[i], sizeof(bufs[i]), i);
		hnvmf_sqe_rw(&ios[i].sqe, wr, 1, i * 16, 16);
		ios[i].data = wr ? bufs[i] : NULL; /* reads discard their data */
		ios[i].len = 8192;
		ios[i].dir = wr ? HNVMF_INI_TO_CTRL : HNVMF_INI_FROM_CTRL;
		ios[i].done = async_done;
		ios[i].arg = &a;
		assert_int_equal(hnvmf_ini_submit(q, &ios[i]), 0);
	}
	assert_int_equal(hnvmf_ini_queue_inflight(q), N);
	ios[N] = ios[0];
	assert_int_equal(hnvmf_ini_submit(q, &ios[N]), -EBUSY); /* depth 32 reached */
	uint64_t deadline = hnvmf_ini_now_ns() + 5000000000ull;
	while (a.done < N && hnvmf_ini_now_ns() < deadline) {
		int pr = hnvmf_ini_queue_process(q);
		if (pr < 0)
			fail_msg("process: %d %s", pr, hnvmf_ini_queue_error_str(q));
		hnvmf_ini_queue_wait(q, 100);
	}
	assert_int_equal(a.done, N);
	assert_int_equal(a.errors, 0);
	uint8_t r[8192];
	assert_int_equal(hnvmf_ini_read(c, 0, 1, 2 * 16, 16, r, sizeof(r)), 0);
	assert_memory_equal(r, bufs[2], sizeof(r));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_discovery_log(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, false, 0);
	assert_int_equal(c->nr_io, 0);
	struct nvmf_discovery_log *log = NULL;
	assert_int_equal(hnvmf_ini_discovery_log(c, &log), 0);
	assert_int_equal(le64toh(log->numrec), 1);
	assert_string_equal(log->entries[0].subnqn, "nqn.test:fake");
	assert_string_equal(log->entries[0].trsvcid, "4420");
	free(log);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_bad_header_digest_fails_queue(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(true, false, 1);
	ft.fault = FT_BAD_HDGST_ON_RSP;
	int r = hnvmf_ini_flush(c, 0, 1);
	ft.fault = FT_OK;
	assert_int_equal(r, -EBADMSG);
	assert_non_null(strstr(hnvmf_ini_queue_error_str(c->io[0]), "header digest"));
	assert_int_equal(hnvmf_ini_submit(c->io[0], &(struct hnvmf_ini_io){ 0 }), -EBADMSG);
	assert_int_equal(hnvmf_ini_keep_alive(c), 0); /* the admin queue is unaffected */
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_term_req_reported(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, false, 1);
	ft.fault = FT_TERM_ON_IO;
	uint8_t b[512];
	int r = hnvmf_ini_read(c, 0, 1, 0, 1, b, sizeof(b));
	ft.fault = FT_OK;
	assert_int_equal(r, -ECONNRESET);
	assert_int_equal(hnvmf_ini_queue_term_fes(c->io[0]), HNVMF_TCP_FES_PDU_SEQ_ERR);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_stale_cid_fails_queue(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, false, 1);
	ft.fault = FT_DUP_RSP;
	assert_int_equal(hnvmf_ini_flush(c, 0, 1), 0);
	ft.fault = FT_OK;
	/* the duplicate names a CID no longer in flight: the queue is no longer trusted */
	int r = hnvmf_ini_flush(c, 0, 1);
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(hnvmf_ini_queue_error_str(c->io[0]), "not in flight"));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_r2t_beyond_data_fails_queue(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, false, 1);
	static uint8_t b[16384];
	ft.fault = FT_R2T_BEYOND;
	int r = hnvmf_ini_write(c, 0, 1, 0, 32, b, sizeof(b));
	ft.fault = FT_OK;
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(hnvmf_ini_queue_error_str(c->io[0]), "R2T"));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_success_without_last_fails_queue(void **state)
{
	(void)state;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(false, false, 1);
	static uint8_t b[4096];
	ft.fault = FT_SUCCESS_NO_LAST;
	int r = hnvmf_ini_read(c, 0, 1, 0, 8, b, sizeof(b));
	ft.fault = FT_OK;
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(hnvmf_ini_queue_error_str(c->io[0]), "SUCCESS"));
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_raw_expect_term(void **state)
{
	(void)state;
	int fd = hnvmf_raw_connect("127.0.0.1", ft.port, 2000);
	assert_true(fd >= 0);
	struct hnvmf_tcp_icresp rsp;
	assert_int_equal(hnvmf_raw_icreq(fd, false, false, &rsp, 2000), 0);
	assert_int_equal(hnvmf_pdu_icresp_check(&rsp, false, false, NULL), 0);
	/* an R2T is never host-to-controller: the fake answers FES 1 and closes */
	struct hnvmf_tcp_r2t bogus = { .hdr.type = HNVMF_TCP_R2T, .hdr.hlen = 24 };
	bogus.hdr.plen = htole32(24);
	assert_int_equal(hnvmf_raw_send(fd, &bogus, sizeof(bogus), 2000), 0);
	assert_int_equal(hnvmf_raw_expect_term(fd, 2000), HNVMF_TCP_FES_INVALID_PDU_HDR);
	close(fd);
}

static void test_take_fd_then_raw(void **state)
{
	(void)state;
	struct hnvmf_ini_queue_opts o = { .depth = 4, .timeout_ms = 2000 };
	struct hnvmf_ini_queue *q;
	assert_int_equal(hnvmf_ini_queue_open("127.0.0.1", ft.port, &o, &q), 0);
	int fd = hnvmf_ini_queue_take_fd(q);
	assert_true(fd >= 0);
	hnvmf_ini_queue_close(q); /* must not close the handed-over socket */
	uint8_t junk[8] = { 0x42, 0, 8, 0, 8, 0, 0, 0 };
	assert_int_equal(hnvmf_raw_send(fd, junk, sizeof(junk), 2000), 0);
	assert_int_equal(hnvmf_raw_expect_term(fd, 2000), HNVMF_TCP_FES_INVALID_PDU_HDR);
	close(fd);
}

static void test_verify_pattern(void **state)
{
	(void)state;
	ft.cpda = 0;
	ft.fault = FT_OK;
	struct hnvmf_ini_ctrl *c = connect_ctrl(true, true, 2);
	struct hnvmf_ini_verify_opts o = { .nsid = 1, .slba = 8, .nblocks = 1000, .lba_size = FT_BS,
					   .qd = 8, .seed = 42, .write = true, .read = true };
	struct hnvmf_ini_verify_result res;
	static const uint32_t sizes[] = { 4096, 12288, 65536 };
	for (unsigned i = 0; i < 3; i++) {
		o.io_size = sizes[i];
		o.seed = 42 + i;
		assert_int_equal(hnvmf_ini_verify(c, &o, &res), 0);
		uint64_t n = (o.nblocks * FT_BS + o.io_size - 1) / o.io_size;
		assert_int_equal(res.writes, n);
		assert_int_equal(res.reads, n);
		assert_int_equal(res.bad_blocks, 0);
	}
	/* reading back with another seed must find every block wrong */
	o.write = false;
	o.seed = 7;
	assert_int_equal(hnvmf_ini_verify(c, &o, &res), -EIO);
	assert_int_equal(res.bad_blocks, o.nblocks);
	assert_int_equal(res.first_bad_lba, o.slba);
	/* one block overwritten behind its back is found, and only that one */
	o.write = o.read = true;
	o.seed = 9;
	assert_int_equal(hnvmf_ini_verify(c, &o, &res), 0);
	memset(ft.disk + 500 * FT_BS + 100, 0, 8);
	o.write = false;
	assert_int_equal(hnvmf_ini_verify(c, &o, &res), -EIO);
	assert_int_equal(res.bad_blocks, 1);
	assert_int_equal(res.first_bad_lba, 500);
	/* out of range: the status is reported */
	o.write = true;
	o.slba = FT_BLOCKS - 4;
	o.nblocks = 8;
	assert_int_equal(hnvmf_ini_verify(c, &o, &res), -EIO);
	assert_int_equal(hnvmf_status_sc((uint16_t)res.status), NVME_SC_LBA_RANGE);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
}

static void test_connect_refused(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = NULL;
	/* port 1 on loopback: nothing listens there */
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", 1, "nqn.x", "nqn.y", NULL, &c);
	assert_int_equal(r, -ECONNREFUSED);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rw_plain),
		cmocka_unit_test(test_rw_hdgst),
		cmocka_unit_test(test_rw_digests_cpda),
		cmocka_unit_test(test_async_batch),
		cmocka_unit_test(test_discovery_log),
		cmocka_unit_test(test_bad_header_digest_fails_queue),
		cmocka_unit_test(test_term_req_reported),
		cmocka_unit_test(test_stale_cid_fails_queue),
		cmocka_unit_test(test_r2t_beyond_data_fails_queue),
		cmocka_unit_test(test_success_without_last_fails_queue),
		cmocka_unit_test(test_raw_expect_term),
		cmocka_unit_test(test_take_fd_then_raw),
		cmocka_unit_test(test_verify_pattern),
		cmocka_unit_test(test_connect_refused),
	};
	return cmocka_run_group_tests(tests, ft_setup, NULL);
}
