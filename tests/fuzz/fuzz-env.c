/* The network fuzz targets' environment (see fuzz-env.h): configuration, target, transport and
 * the host side of a connection. */
#include "tests/fuzz/fuzz-env.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/log.h"
#include "target/nvmf.h"
#include "transport/tcp/tcp-internal.h"

/* One RAM namespace on the direct path (no I/O server threads), a discovery subsystem, and a
 * tenant for FUZZ_AUTH_HOSTNQN with DH-HMAC-CHAP secrets (the documentation's example keys). */
static const char fuzz_conf[] =
	"[global]\n"
	"log_level = err\n"
	"default_mode = direct\n"
	"queue_depth = 32\n"
	"max_io_queues = 2\n"
	"inline_data_size = 8192\n"
	"mdts_kib = 128\n"
	"kato_default_ms = 120000\n"
	"tenants_dir = tenants.d\n"
	"[listener tcp]\n"
	"address = 127.0.0.1\n"
	"port = 4420\n"
	"[backend ram0]\n"
	"type = ram\n"
	"size = 1M\n"
	"block_size = 512\n"
	"[subsystem " FUZZ_SUBNQN "]\n"
	"allow_any_host = yes\n"
	"namespace = 1:ram0\n";

static const char fuzz_tenant[] =
	"[tenant]\n"
	"hostnqn = " FUZZ_AUTH_HOSTNQN "\n"
	"subsystems = " FUZZ_SUBNQN "\n"
	"mode = pqm\n"
	"dhchap_secret = DHHC-1:01:tQ5S/t8at4EAm27z0xwsFre/rilyWIWsEeBNTfe1zWVZiVgh:\n"
	"dhchap_ctrl_secret = DHHC-1:01:XVPhH63TK/ZH5XnkDmxfkMsn3edkd44LfwMtCf6MH2+PfBeO:\n";

static struct {
	bool up;
	struct hnvmf_conf *conf;
	struct hnvmf_engine *engine;
	struct hnvmf_tgt *tgt;
	struct hnvmf_port *port;
	struct hnvmf_reactor *reactor;
} env;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* libFuzzer has no teardown hook: at exit the target is stopped and freed, so what LeakSanitizer
 * reports then is a real leak, not the environment. */
static void env_fini(void)
{
	hnvmf_tcp_transport.fini();
	hnvmf_tgt_destroy(env.tgt);
	hnvmf_engine_destroy(env.engine);
	hnvmf_conf_free(env.conf);
}

void fuzz_env_init(void)
{
	if (env.up)
		return;
	char dir[] = "/tmp/hnvmf-fuzz-XXXXXX", path[256], err[1024] = "";
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/tenants.d", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tenants.d/auth.conf", dir);
	write_file(path, fuzz_tenant);
	chmod(path, 0600);
	snprintf(path, sizeof(path), "%s/hnvmf.conf", dir);
	write_file(path, fuzz_conf);
	if (hnvmf_conf_load(path, &env.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz configuration: %s\n", err);
		abort();
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/tenants.d/auth.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tenants.d", dir);
	rmdir(path);
	rmdir(dir);
	/* Quiet: hostile input makes the target log on every run. HNVMF_FUZZ_VERBOSE=1 shows
	 * everything, to follow one input. */
	const char *v = getenv("HNVMF_FUZZ_VERBOSE");
	hnvmf_log_set_level(v && *v == '1' ? HNVMF_LOG_DEBUG : (enum hnvmf_log_level)0);

	struct hnvmf_engine_opts eo = {.backend_depth = env.conf->queue_depth * 2};
	if (hnvmf_engine_create(&eo, &env.engine) != 0 ||
	    hnvmf_tgt_create(env.conf, env.engine, &env.tgt, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz target: %s\n", err);
		abort();
	}
	env.port = hnvmf_tgt_add_port(env.tgt, &env.conf->listeners[0]);
	hnvmf_reactor_create("fuzz", &env.reactor);
	struct hnvmf_transport_env te = {.tgt = env.tgt, .reactors = &env.reactor, .nreactors = 1};
	if (!env.port || hnvmf_tcp_transport.init(&te) != 0)
		abort();
	env.up = true;
	atexit(env_fini);
}

struct hnvmf_tgt *fuzz_env_tgt(void) { return env.tgt; }

int fuzz_host_open(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct tcp_conn *c = tcp_conn_create(&tcp_g.rts[0], env.port, sv[0], "fuzz-host");
	if (!c)
		abort();
	hnvmf_reactor_send(env.reactor, &c->start_msg);
	fuzz_reactor_pump();
	return sv[1];
}

void fuzz_host_drain(int fd)
{
	uint8_t buf[16384];
	for (;;) {
		fuzz_reactor_pump();
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return;
	}
}

void fuzz_host_send(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			return; /* the target closed the connection */
		/* Full: the target reads only while its responses can go out, so drain them. */
		size_t before = len;
		fuzz_host_drain(fd);
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (len == before) {
			return; /* the target stopped reading (it terminated the connection) */
		}
	}
	fuzz_reactor_pump();
}

/* Exactly len bytes, running the target's loop while they are not there; false when the
 * connection ended or the target went idle without sending them. */
static bool recv_exact(int fd, uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			return false;
		fuzz_reactor_pump();
		n = recv(fd, buf, len, MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else {
			return false;
		}
	}
	return true;
}

size_t fuzz_host_recv_pdu(int fd, uint8_t *buf, size_t cap)
{
	struct hnvmf_tcp_hdr h;
	if (cap < sizeof(h) || !recv_exact(fd, (uint8_t *)&h, sizeof(h)))
		return 0;
	memcpy(buf, &h, sizeof(h));
	uint32_t plen = le32toh(h.plen);
	if (plen < sizeof(h))
		return 0;
	size_t keep = plen < cap ? plen : cap;
	if (!recv_exact(fd, buf + sizeof(h), keep - sizeof(h)))
		return 0;
	for (size_t left = plen - keep; left;) {
		uint8_t junk[4096];
		size_t n = left < sizeof(junk) ? left : sizeof(junk);
		if (!recv_exact(fd, junk, n))
			return 0;
		left -= n;
	}
	return plen;
}

void fuzz_host_close(int fd)
{
	close(fd);
	fuzz_reactor_pump();
}

void fuzz_env_check_released(void)
{
	if (atomic_load(&tcp_g.nconns) != 0) {
		fprintf(stderr, "fuzz: %u connection(s) not released after the host closed\n",
			atomic_load(&tcp_g.nconns));
		abort();
	}
}

bool fuzz_host_icreq(int fd)
{
	struct hnvmf_tcp_icreq ic;
	memset(&ic, 0, sizeof(ic));
	ic.hdr.type = HNVMF_TCP_ICREQ;
	ic.hdr.hlen = sizeof(ic);
	ic.hdr.plen = htole32(sizeof(ic));
	fuzz_host_send(fd, &ic, sizeof(ic));
	uint8_t r[sizeof(struct hnvmf_tcp_icresp)];
	return fuzz_host_recv_pdu(fd, r, sizeof(r)) == sizeof(r) && r[0] == HNVMF_TCP_ICRESP;
}

void fuzz_host_cmd(int fd, const union hnvmf_sqe *sqe, const void *icd, uint32_t icd_len)
{
	struct hnvmf_tcp_cmd p;
	memset(&p, 0, sizeof(p));
	p.hdr.type = HNVMF_TCP_CMD;
	p.hdr.hlen = sizeof(p);
	p.hdr.pdo = icd_len ? sizeof(p) : 0;
	p.hdr.plen = htole32(sizeof(p) + icd_len);
	p.sqe = *sqe;
	fuzz_host_send(fd, &p, sizeof(p));
	if (icd_len)
		fuzz_host_send(fd, icd, icd_len);
}

uint16_t fuzz_host_connect(int fd, const char *hostnqn, uint16_t qid, uint16_t cntlid,
			   uint32_t *result)
{
	union hnvmf_sqe sqe;
	memset(&sqe, 0, sizeof(sqe));
	sqe.connect.opcode = nvme_admin_fabrics;
	sqe.connect.fctype = nvme_fabrics_type_connect;
	sqe.connect.cid = htole16(0xc0);
	sqe.connect.qid = htole16(qid);
	sqe.connect.sqsize = htole16(qid ? 31 : HNVMF_ADMIN_QUEUE_DEPTH - 1);
	sqe.connect.dptr.type = HNVMF_SGL_DATA_BLOCK_OFFSET;
	sqe.connect.dptr.length = htole32(sizeof(struct nvmf_connect_data));
	struct nvmf_connect_data d;
	memset(&d, 0, sizeof(d));
	d.hostid[0] = 1;
	d.cntlid = htole16(cntlid);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", FUZZ_SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	fuzz_host_cmd(fd, &sqe, &d, sizeof(d));
	uint8_t r[sizeof(struct hnvmf_tcp_rsp)];
	if (fuzz_host_recv_pdu(fd, r, sizeof(r)) != sizeof(r) || r[0] != HNVMF_TCP_RSP)
		return 0xffff;
	struct hnvmf_tcp_rsp rsp;
	memcpy(&rsp, r, sizeof(rsp));
	*result = (uint32_t)le64toh(rsp.cqe.result);
	return le16toh(rsp.cqe.status) >> 1;
}
