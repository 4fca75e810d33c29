/* [limits] against hostile peers on a running hnvmfd (security issue #10, defects 3 and 4):
 * connections that stall at any transport stage are reaped (and the daemon's descriptors come
 * back), connections beyond max_connections / max_connections_per_address are refused while a
 * host from another address still gets in, and reads the host never takes pin no more than
 * conn_buffer_mib per queue (buffer_mib in all) yet all complete with the right data once the
 * host reads. Each test runs its own daemon with small limits. */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define TMO 5000
#define REAP_MS 4000  /* what the tests wait for a stalled connection to be closed */
#define NIDLE 40

static const char *HOST = "nqn.2026-01.io.hnvmf.test:limits";

static const char timeout_conf[] =
	"[global]\nlog_level = info\ncontrol_socket =\n\n"
	"[limits]\nicreq_timeout_ms = 1000\nconnect_timeout_ms = 1000\npdu_timeout_ms = 500\n\n"
	"[listener tcp]\naddress = 127.0.0.1\nport = @PORT@\n\n"
	"[listener discovery]\naddress = 127.0.0.1\nport = @DISC_PORT@\ndiscovery = yes\n\n"
	"[backend ram0]\ntype = ram\nsize = 64M\n\n"
	"[subsystem " HNVMF_HARNESS_SUBNQN "]\nallow_any_host = yes\nnamespace = 1:ram0\n";

static const char conn_limit_conf[] =
	"[global]\nlog_level = info\ncontrol_socket =\n\n"
	"[limits]\nmax_connections = 6\nmax_connections_per_address = 3\n\n"
	"[listener tcp]\naddress = 127.0.0.1\nport = @PORT@\n\n"
	"[listener discovery]\naddress = 127.0.0.1\nport = @DISC_PORT@\ndiscovery = yes\n\n"
	"[backend ram0]\ntype = ram\nsize = 64M\n\n"
	"[subsystem " HNVMF_HARNESS_SUBNQN "]\nallow_any_host = yes\nnamespace = 1:ram0\n";

#define CONN_BUF_MIB 4
#define BUF_MIB 6
static const char buffer_conf[] =
	"[global]\nlog_level = info\ncontrol_socket =\nmdts_kib = 1024\nqueue_depth = 128\n\n"
	"[limits]\nconn_buffer_mib = 4\nbuffer_mib = 6\n\n"
	"[listener tcp]\naddress = 127.0.0.1\nport = @PORT@\n\n"
	"[listener discovery]\naddress = 127.0.0.1\nport = @DISC_PORT@\ndiscovery = yes\n\n"
	"[backend ram0]\ntype = ram\nsize = 64M\n\n"
	"[subsystem " HNVMF_HARNESS_SUBNQN "]\nallow_any_host = yes\nnamespace = 1:ram0\n";

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The daemon's descriptors settle back to at most base within timeout_ms. */
static void fds_back_to(const struct hnvmf_harness *h, int base, int timeout_ms)
{
	int n = (int)hnvmf_harness_fds(h->pid);
	for (int waited = 0; n > base && waited < timeout_ms; waited += 50) {
		sleep_ms(50);
		n = (int)hnvmf_harness_fds(h->pid);
	}
	if (n > base)
		fail_msg("hnvmfd holds %d descriptors, %d before the idle connections", n, base);
}

/* The daemon's descriptors reach at least want within 2 s. */
static void fds_reach(const struct hnvmf_harness *h, int want)
{
	int n = (int)hnvmf_harness_fds(h->pid);
	for (int waited = 0; n < want && waited < 2000; waited += 20) {
		sleep_ms(20);
		n = (int)hnvmf_harness_fds(h->pid);
	}
	if (n < want)
		fail_msg("hnvmfd holds %d descriptors, expected at least %d", n, want);
}

static struct hnvmf_ini_ctrl *connect_ctrl(const char *addr, uint16_t port, unsigned nio)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = nio;
	o.io_depth = 128;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect(addr, port, HNVMF_HARNESS_SUBNQN, HOST, &o, &c);
	if (r)
		fail_msg("connect from %s: %d", addr, r);
	return c;
}

static void start(struct hnvmf_harness *h, const char *conf)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(hnvmf_harness_start(h, conf), 0);
	sleep_ms(200); /* the harness's own probe connection is gone */
}

static void stop(struct hnvmf_harness *h)
{
	assert_int_equal(hnvmf_harness_stop(h), 0);
}

/* Connections that never send an ICReq, then connections that stop after it (no Connect): each
 * is closed after its stage timeout, and the daemon's descriptors come back. */
static void test_idle_connections_reaped(void **state)
{
	(void)state;
	struct hnvmf_harness h;
	start(&h, timeout_conf);
	int base = (int)hnvmf_harness_fds(h.pid);
	for (int stage = 0; stage < 2; stage++) {
		int fds[NIDLE];
		for (int i = 0; i < NIDLE; i++) {
			fds[i] = hnvmf_raw_connect("127.0.0.1", h.port, TMO);
			assert_true(fds[i] >= 0);
			if (stage == 1) {
				struct hnvmf_tcp_icresp rsp;
				assert_int_equal(hnvmf_raw_icreq(fds[i], false, false, &rsp, TMO), 0);
				assert_int_equal(hnvmf_pdu_icresp_check(&rsp, false, false, NULL), 0);
			}
		}
		fds_reach(&h, base + NIDLE); /* they did reach the daemon */
		for (int i = 0; i < NIDLE; i++) {
			int r = hnvmf_raw_wait_closed(fds[i], REAP_MS);
			if (r != 0)
				fail_msg("stage %d: idle connection %d not closed: %d", stage, i, r);
			close(fds[i]);
		}
		fds_back_to(&h, base, 2000);
	}
	assert_true(hnvmf_harness_log_wait(&h, "no ICReq within 1000 ms", TMO));
	assert_true(hnvmf_harness_log_wait(&h, "no Fabrics Connect within 1000 ms", TMO));
	stop(&h);
}

/* Half a command header, then nothing: C2HTermReq after pdu_timeout_ms. And a write whose R2T
 * the host never answers with H2CData: the same. */
static void test_stalled_pdu_and_transfer(void **state)
{
	(void)state;
	struct hnvmf_harness h;
	start(&h, timeout_conf);
	struct hnvmf_ini_ctrl *c = connect_ctrl("127.0.0.1", h.port, 2);

	union hnvmf_sqe s;
	uint8_t pdu[128];
	uint32_t pad;
	int fd = hnvmf_ini_queue_take_fd(c->io[0]);
	assert_true(fd >= 0);
	hnvmf_sqe_rw(&s, false, 1, 0, 8);
	s.common.cid = htole16(1);
	s.common.flags = 0x40;
	s.common.dptr.length = htole32(4096);
	s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
	size_t hl = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
	assert_int_equal(hnvmf_raw_send(fd, pdu, hl / 2, TMO), 0);
	int fes = hnvmf_raw_expect_term(fd, REAP_MS);
	if (fes != HNVMF_TCP_FES_PDU_SEQ_ERR)
		fail_msg("half-sent PDU: expected C2HTermReq FES 2, got %d", fes);
	close(fd);

	fd = hnvmf_ini_queue_take_fd(c->io[1]);
	assert_true(fd >= 0);
	hnvmf_sqe_rw(&s, true, 1, 0, 32);
	s.common.cid = htole16(1);
	s.common.flags = 0x40;
	s.common.dptr.length = htole32(16384);
	s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
	hl = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
	assert_int_equal(hnvmf_raw_send(fd, pdu, hl, TMO), 0);
	uint8_t r2t[64];
	assert_int_equal(hnvmf_raw_recv_pdu(fd, r2t, sizeof(r2t), TMO), 24);
	assert_int_equal(r2t[0], HNVMF_TCP_R2T);
	fes = hnvmf_raw_expect_term(fd, REAP_MS);
	if (fes != HNVMF_TCP_FES_PDU_SEQ_ERR)
		fail_msg("R2T without H2CData: expected C2HTermReq FES 2, got %d", fes);
	close(fd);
	assert_true(hnvmf_harness_log_wait(&h, "PDU not complete within 500 ms", TMO));
	assert_true(hnvmf_harness_log_wait(&h, "no H2CData within 500 ms", TMO));
	hnvmf_ini_ctrl_disconnect(c);
	stop(&h);
}

/* A connection to the listener from source address src: all of 127.0.0.0/8 is loopback, but
 * the kernel picks 127.0.0.1 as the source unless told. */
static int connect_from(const char *src, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int raw_live(const char *src, uint16_t port)
{
	int fd = connect_from(src, port);
	struct hnvmf_tcp_icresp rsp;
	assert_int_equal(hnvmf_raw_icreq(fd, false, false, &rsp, TMO), 0);
	assert_int_equal(hnvmf_pdu_icresp_check(&rsp, false, false, NULL), 0);
	return fd;
}

/* Refused at once: closed without an ICResp. */
static void refused(const char *src, uint16_t port)
{
	int fd = connect_from(src, port);
	int r = hnvmf_raw_wait_closed(fd, 1000);
	if (r != 0)
		fail_msg("connection from %s beyond the limit was not refused: %d", src, r);
	close(fd);
}

static void test_connection_limits(void **state)
{
	(void)state;
	struct hnvmf_harness h;
	start(&h, conn_limit_conf);
	int fds[4];
	for (int i = 0; i < 3; i++)
		fds[i] = raw_live("127.0.0.2", h.port);
	refused("127.0.0.2", h.port); /* max_connections_per_address = 3 */
	assert_true(hnvmf_harness_log_wait(&h, "max_connections_per_address", TMO));

	/* An honest host from another address (127.0.0.1) still gets in and does verified I/O
	 * (two queues). */
	struct hnvmf_ini_ctrl *c = connect_ctrl("127.0.0.1", h.port, 1);
	struct hnvmf_ini_verify_opts vo = { .nsid = 1, .slba = 0, .nblocks = 256, .lba_size = 512,
					    .io_size = 16384, .qd = 4, .seed = 7,
					    .write = true, .read = true };
	struct hnvmf_ini_verify_result res;
	assert_int_equal(hnvmf_ini_verify(c, &vo, &res), 0);

	fds[3] = raw_live("127.0.0.3", h.port); /* the sixth connection */
	refused("127.0.0.4", h.port);            /* max_connections = 6 */
	assert_true(hnvmf_harness_log_wait(&h, "max_connections reached", TMO));

	/* Freed places are given again. */
	close(fds[0]);
	sleep_ms(300);
	int fd = raw_live("127.0.0.5", h.port);
	close(fd);
	for (int i = 1; i < 4; i++)
		close(fds[i]);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	stop(&h);
}

#define NREADS 120
#define READ_LEN (1024u * 1024)
#define READ_BLOCKS (READ_LEN / 512)
#define SPAN 8 /* MiB written with the pattern; reads cycle over it */
#define SEED 11

static void send_reads(int fd)
{
	for (unsigned i = 0; i < NREADS; i++) {
		union hnvmf_sqe s;
		uint8_t pdu[128];
		uint32_t pad;
		hnvmf_sqe_rw(&s, false, 1, (uint64_t)(i % SPAN) * READ_BLOCKS, READ_BLOCKS);
		s.common.cid = htole16((uint16_t)i);
		s.common.flags = 0x40;
		s.common.dptr.length = htole32(READ_LEN);
		s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		size_t hl = hnvmf_pdu_cmd(pdu, &s, 0, false, false, 0, &pad);
		assert_int_equal(hnvmf_raw_send(fd, pdu, hl, TMO), 0);
	}
}

/* Reads every response: NREADS commands, each with its 1 MiB of the right data. */
static void take_reads(int fd, uint8_t *buf)
{
	unsigned done = 0;
	while (done < NREADS) {
		int n = hnvmf_raw_recv_pdu(fd, buf, READ_LEN + 256, 10000);
		if (n <= 0)
			fail_msg("after %u of %u reads: recv %d", done, NREADS, n);
		if (buf[0] == HNVMF_TCP_C2H_DATA) {
			struct hnvmf_tcp_data d;
			memcpy(&d, buf, sizeof(d));
			unsigned cid = le16toh(d.cid);
			assert_true(cid < NREADS);
			assert_int_equal(le32toh(d.length), READ_LEN);
			uint64_t bad;
			uint64_t lba = (uint64_t)(cid % SPAN) * READ_BLOCKS;
			if (hnvmf_ini_pattern_check(buf + d.hdr.pdo, READ_LEN, lba, 512, SEED, &bad))
				fail_msg("cid %u: wrong data at block %llu", cid, (unsigned long long)bad);
			if (d.hdr.flags & HNVMF_TCP_F_DATA_SUCCESS)
				done++;
		} else {
			assert_int_equal(buf[0], HNVMF_TCP_RSP);
			struct hnvmf_tcp_rsp r;
			memcpy(&r, buf, sizeof(r));
			assert_int_equal(le16toh(r.cqe.status) >> 1, 0);
			done++;
		}
	}
}

/* Two queues pipeline 120 reads of 1 MiB each and read nothing back: the daemon may buffer
 * conn_buffer_mib per queue and buffer_mib in all, so its RSS grows by little more than
 * buffer_mib (not 240 MiB); once the host reads, every command completes with its data. */
static void test_unread_responses_bounded(void **state)
{
	(void)state;
	struct hnvmf_harness h;
	start(&h, buffer_conf);
	struct hnvmf_ini_ctrl *c = connect_ctrl("127.0.0.1", h.port, 2);
	uint8_t *buf = malloc(READ_LEN + 256);
	assert_non_null(buf);
	for (unsigned i = 0; i < SPAN; i++) {
		hnvmf_ini_pattern_fill(buf, READ_LEN, (uint64_t)i * READ_BLOCKS, 512, SEED);
		assert_int_equal(hnvmf_ini_write(c, 0, 1, (uint64_t)i * READ_BLOCKS, READ_BLOCKS, buf,
						 READ_LEN), 0);
	}
	int fd[2];
	for (int q = 0; q < 2; q++) {
		fd[q] = hnvmf_ini_queue_take_fd(c->io[q]);
		assert_true(fd[q] >= 0);
	}
	sleep_ms(200);
	long base = hnvmf_harness_rss_kib(h.pid);
	for (int q = 0; q < 2; q++)
		send_reads(fd[q]);
	sleep_ms(2000);
	long grown = hnvmf_harness_rss_kib(h.pid) - base;
	long bound = (2 * CONN_BUF_MIB + 8) * 1024L;
	print_message("hnvmfd RSS grew by %ld KiB with %u MiB of reads unread (bound %ld KiB)\n",
		      grown, 2 * NREADS, bound);
	if (grown > bound)
		fail_msg("RSS grew by %ld KiB, more than %ld KiB", grown, bound);
	assert_true(hnvmf_harness_alive(&h));
	for (int q = 0; q < 2; q++) {
		take_reads(fd[q], buf);
		close(fd[q]);
	}
	free(buf);
	hnvmf_ini_ctrl_disconnect(c);
	stop(&h);
}

/* Writes and reads of 1 MiB at depth 16 on two queues need 32 MiB buffered against 4 MiB per
 * queue and 6 MiB in all: commands wait for room (R2Ts go out as it comes, from the queue's own
 * releases and from the other queue's), none fails, and the data reads back. */
static void test_pipelined_io_waits_for_room(void **state)
{
	(void)state;
	struct hnvmf_harness h;
	start(&h, buffer_conf);
	struct hnvmf_ini_ctrl *c = connect_ctrl("127.0.0.1", h.port, 2);
	struct hnvmf_ini_verify_opts vo = { .nsid = 1, .slba = 0, .nblocks = 32 * READ_BLOCKS,
					    .lba_size = 512, .io_size = READ_LEN, .qd = 16,
					    .seed = 5, .write = true, .read = true,
					    .timeout_ms = 10000 };
	struct hnvmf_ini_verify_result res;
	int r = hnvmf_ini_verify(c, &vo, &res);
	if (r != 0)
		fail_msg("verify: %d (status %d, %llu bad blocks)", r, res.status,
			 (unsigned long long)res.bad_blocks);
	assert_int_equal(hnvmf_ini_ctrl_disconnect(c), 0);
	stop(&h);
}

/* hnvmfd started with a low soft RLIMIT_NOFILE runs with its hard limit (each connection is a
 * descriptor: 1024, a common default, would cap the daemon far below max_connections). */
static void test_open_files_raised(void **state)
{
	(void)state;
	struct rlimit saved, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	if (saved.rlim_max <= 256)
		skip();
	low = saved;
	low.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0); /* inherited by hnvmfd */
	struct hnvmf_harness h;
	memset(&h, 0, sizeof(h));
	int started = hnvmf_harness_start(&h, timeout_conf);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	assert_int_equal(started, 0);
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)h.pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	unsigned long long soft = 0, hard = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Max open files %llu %llu", &soft, &hard) == 2)
			break;
	fclose(f);
	if (soft != hard)
		fail_msg("hnvmfd runs with %llu open files (hard limit %llu)", soft, hard);
	assert_true(hnvmf_harness_log_wait(&h, "open files limit", TMO));
	stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_connections_reaped),
		cmocka_unit_test(test_stalled_pdu_and_transfer),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_unread_responses_bounded),
		cmocka_unit_test(test_pipelined_io_waits_for_room),
		cmocka_unit_test(test_open_files_raised),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
