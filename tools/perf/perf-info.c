/* discover and identify: what a target offers, printed like nvme-cli does. */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/perf/perf.h"

int perf_connect(const struct perf_opts *o, unsigned host_idx, const char *subnqn,
		 unsigned nr_io_queues, unsigned io_depth, struct hnvmf_ini_ctrl **c)
{
	struct hnvmf_ini_ctrl_opts co;
	hnvmf_ini_ctrl_opts_default(&co);
	co.hdgst = o->hdgst;
	co.ddgst = o->ddgst;
	co.nr_io_queues = nr_io_queues;
	co.io_depth = io_depth;
	co.kato_ms = o->kato_ms;
	co.timeout_ms = o->timeout_ms;
	memcpy(co.hostid, o->hostid, sizeof(co.hostid));
	co.tls_key = o->tls ? o->tls_key : NULL;
	co.tls_identity = o->tls_identity;
	co.tls_hkdf_rfc8446 = o->tls_rfc8446;
	co.dhchap_secret = o->dhchap_secret[0] ? o->dhchap_secret : NULL;
	co.dhchap_ctrl_secret = o->dhchap_ctrl_secret[0] ? o->dhchap_ctrl_secret : NULL;
	memcpy(co.dhchap_hashes, o->dhchap_hashes, sizeof(co.dhchap_hashes));
	co.nr_dhchap_hashes = o->nr_dhchap_hashes;
	memcpy(co.dhchap_groups, o->dhchap_groups, sizeof(co.dhchap_groups));
	co.nr_dhchap_groups = o->nr_dhchap_groups;
	char why[256] = "";
	co.err = why;
	co.err_len = sizeof(why);
	const char *host = o->hostnqn[host_idx % o->nhostnqn];
	int r = hnvmf_ini_ctrl_connect(o->addr, o->port, subnqn, host, &co, c);
	if (r) {
		char sb[96];
		fprintf(stderr, "hnvmf-perf: connect %s:%u %s as %s: %s%s%s\n", o->addr, o->port, subnqn,
			host, hnvmf_ini_fabrics_status_str(r, sb, sizeof(sb)), why[0] ? ": " : "", why);
	}
	return r;
}

int perf_disconnect(struct hnvmf_ini_ctrl *c)
{
	if (!c)
		return 0;
	int r = hnvmf_ini_ctrl_disconnect(c);
	if (r) {
		char sb[96];
		fprintf(stderr, "hnvmf-perf: disconnect (CC.SHN / CSTS.SHST): %s\n",
			hnvmf_ini_status_str(r, sb, sizeof(sb)));
	}
	return r;
}

/* Identify strings are space padded, not terminated. */
static void field(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
	for (size_t i = n; i > 0 && (dst[i - 1] == ' ' || dst[i - 1] == 0); i--)
		dst[i - 1] = 0;
}

static const char *trtype_name(uint8_t t)
{
	switch (t) {
	case NVMF_TRTYPE_RDMA:
		return "rdma";
	case NVMF_TRTYPE_FC:
		return "fc";
	case NVMF_TRTYPE_TCP:
		return "tcp";
	case NVMF_TRTYPE_LOOP:
		return "loop";
	default:
		return "unknown";
	}
}

static const char *subtype_name(uint8_t t)
{
	switch (t) {
	case NVME_NQN_DISC:
		return "discovery subsystem referral";
	case NVME_NQN_NVME:
		return "nvme subsystem";
	case NVME_NQN_CURR:
		return "current discovery subsystem";
	default:
		return "unknown";
	}
}

int perf_cmd_discover(const struct perf_opts *o)
{
	struct hnvmf_ini_ctrl *c;
	if (perf_connect(o, 0, o->subnqn, 0, 0, &c))
		return 1;
	struct nvmf_discovery_log *log = NULL;
	char sb[96];
	int r = hnvmf_ini_discovery_log(c, &log);
	if (r) {
		fprintf(stderr, "hnvmf-perf: discovery log: %s\n", hnvmf_ini_status_str(r, sb, sizeof(sb)));
		perf_disconnect(c);
		return 1;
	}
	uint64_t n = le64toh(log->numrec);
	printf("Discovery Log Number of Records %" PRIu64 ", Generation counter %" PRIu64 "\n", n,
	       (uint64_t)le64toh(log->genctr));
	for (uint64_t i = 0; i < n; i++) {
		const struct nvmf_disc_log_entry *e = &log->entries[i];
		char svc[NVMF_TRSVCID_SIZE + 1], addr[NVMF_TRADDR_SIZE + 1], nqn[NVME_NQN_LENGTH + 1];
		field(svc, e->trsvcid, NVMF_TRSVCID_SIZE);
		field(addr, e->traddr, NVMF_TRADDR_SIZE);
		field(nqn, e->subnqn, NVME_NQN_LENGTH);
		printf("=====Discovery Log Entry %" PRIu64 "======\n", i);
		printf("trtype:  %s\n", trtype_name(e->trtype));
		printf("adrfam:  %s\n", e->adrfam == NVMF_ADDR_FAMILY_IP6 ? "ipv6" : "ipv4");
		printf("subtype: %s\n", subtype_name(e->subtype));
		printf("treq:    0x%x\n", e->treq);
		printf("portid:  %u\n", le16toh(e->portid));
		printf("trsvcid: %s\n", svc);
		printf("subnqn:  %s\n", nqn);
		printf("traddr:  %s\n", addr);
		if (e->trtype == NVMF_TRTYPE_TCP)
			printf("sectype: %u\n", e->tsas.tcp.sectype);
	}
	free(log);
	r = perf_disconnect(c);
	return r ? 1 : 0;
}

int perf_cmd_identify(const struct perf_opts *o)
{
	struct hnvmf_ini_ctrl *c;
	if (perf_connect(o, 0, o->subnqn, 0, 0, &c))
		return 1;
	const struct nvme_id_ctrl *id = &c->id;
	char sn[21], mn[41], fr[9], nqn[NVME_NQN_LENGTH + 1];
	field(sn, id->sn, 20);
	field(mn, id->mn, 40);
	field(fr, id->fr, 8);
	field(nqn, id->subnqn, NVME_NQN_LENGTH);
	printf("subnqn   : %s\n", nqn);
	printf("sn       : %s\nmn       : %s\nfr       : %s\n", sn, mn, fr);
	printf("cntlid   : 0x%x\n", le16toh(id->cntlid));
	printf("ver      : 0x%x (VS property 0x%x)\n", le32toh(id->ver), c->vs);
	printf("cap      : 0x%" PRIx64 " (mqes %u, to %u ms)\n", c->cap, (unsigned)(c->cap & 0xffff) + 1,
	       (unsigned)((c->cap >> 24) & 0xff) * 500);
	printf("mdts     : %u\n", id->mdts);
	printf("kas      : %u (x100 ms)\n", le16toh(id->kas));
	printf("ioccsz   : %u (in-capsule %u bytes)\n", le32toh(id->ioccsz),
	       le32toh(id->ioccsz) >= 4 ? le32toh(id->ioccsz) * 16 - 64 : 0);
	printf("iorcsz   : %u\n", le32toh(id->iorcsz));
	printf("sgls     : 0x%x\n", le32toh(id->sgls));
	printf("maxcmd   : %u\n", le16toh(id->maxcmd));
	printf("nn       : %u\n", le32toh(id->nn));
	printf("cntrltype: %u\n", id->cntrltype);
	printf("maxh2cdata: %u\n", hnvmf_ini_queue_maxh2cdata(c->admin));
	int ret = 0;
	if (strcmp(o->subnqn, PERF_DISCOVERY_NQN)) {
		uint32_t nsids[1024];
		unsigned n = 0;
		char sb[96];
		int r = hnvmf_ini_active_ns(c, nsids, 1024, &n);
		if (r) {
			fprintf(stderr, "hnvmf-perf: active namespace list: %s\n",
				hnvmf_ini_status_str(r, sb, sizeof(sb)));
			ret = 1;
		}
		for (unsigned i = 0; i < n; i++) {
			struct hnvmf_ini_ns_info ni;
			r = hnvmf_ini_ns_info(c, nsids[i], &ni);
			if (r) {
				printf("nsid %u: identify failed: %s\n", nsids[i],
				       hnvmf_ini_status_str(r, sb, sizeof(sb)));
				ret = 1;
				continue;
			}
			printf("nsid %u: %" PRIu64 " blocks of %u bytes (%.2f GiB)\n", ni.nsid, ni.nsze,
			       ni.lba_size, (double)ni.nsze * ni.lba_size / (1024.0 * 1024 * 1024));
		}
	}
	if (perf_disconnect(c))
		ret = 1;
	return ret;
}
