/* A host that sends H2CData before the target's R2T has left its send queue (security issue #10,
 * defect 1). The host keeps its receive window closed behind unread large reads, so the target's
 * socket is full and everything the target queues afterwards waits; then it sends a Write with
 * a transport SGL, whose R2T joins that wait, immediately followed by H2CData carrying the
 * transfer tag it guessed (tags are handed out in order). Data for a transfer whose R2T was not
 * sent is a PDU sequence error: the target must end that connection with a C2HTermReq (FES 0x02)
 * and nothing else. Before the fix it took the data, ran the Write and queued the CapsuleResp
 * through the send entry that still held the queued R2T: the send list pointed to itself and the
 * reactor spun forever, hanging every connection on it and SIGTERM. One reactor, so that the
 * healthy host shares it with the attacker. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/integration/harness.h"
#include "tools/initiator/initiator.h"

#define TMO 5000
#define READ_LEN (16u << 20)      /* more than both socket buffers hold: never wholly sent */
#define WRITE_LEN (16u * 1024)     /* beyond the 8 KiB in-capsule size: an R2T is due */

static const char conf[] =
	"[global]\n"
	"log_level = info\n"
	"control_socket =\n"
	"reactors = 1\n"
	"mdts_kib = 16384\n"
	"\n"
	"[listener tcp]\n"
	"address = 127.0.0.1\n"
	"port = @PORT@\n"
	"\n"
	HNVMF_CONF_RAM("ram0", "64M")
	"\n"
	HNVMF_CONF_SUBSYSTEM_RAM0(HNVMF_HARNESS_SUBNQN)
	"allow_any_host = yes\n";

static struct hnvmf_harness H;
static struct hnvmf_ini_ctrl *healthy;
static const char *HOST_OK = "nqn.2026-01.io.hnvmf.test:sendq-healthy";
static const char *HOST_BAD = "nqn.2026-01.io.hnvmf.test:sendq-attacker";

static struct hnvmf_ini_ctrl *connect_io(const char *host)
{
	struct hnvmf_ini_ctrl_opts o;
	hnvmf_ini_ctrl_opts_default(&o);
	o.nr_io_queues = 1;
	o.io_depth = 64;
	struct hnvmf_ini_ctrl *c = NULL;
	int r = hnvmf_ini_ctrl_connect("127.0.0.1", H.port, HNVMF_HARNESS_SUBNQN, host, &o, &c);
	if (r)
		fail_msg("connect %s: %d", host, r);
	return c;
}

static int setup(void **state)
{
	(void)state;
	if (hnvmf_harness_start(&H, conf))
		return -1;
	healthy = connect_io(HOST_OK);
	return 0;
}

/* The daemon must still stop on SIGTERM within the harness's bound: a spinning reactor fails
 * here. */
static int teardown(void **state)
{
	(void)state;
	int r = hnvmf_ini_ctrl_disconnect(healthy);
	int st = hnvmf_harness_stop(&H);
	if (st != 0)
		fprintf(stderr, "hnvmfd exit status %d\n", st);
	return r == 0 && st == 0 ? 0 : -1;
}

/* Appends a CapsuleCmd without in-capsule data (transport SGL for len bytes) to p. */
static size_t put_cmd(uint8_t *p, bool write, uint16_t cid, uint64_t slba, uint32_t len)
{
	union hnvmf_sqe s;
	hnvmf_sqe_rw(&s, write, 1, slba, len / 512);
	s.common.cid = htole16(cid);
	s.common.flags = 0x40; /* SGL */
	s.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
	s.common.dptr.length = htole32(len);
	uint32_t pad;
	return hnvmf_pdu_cmd(p, &s, 0, false, false, 0, &pad) + pad;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Reads PDUs (skipping their data) until a C2HTermReq, then waits for the close. Returns the
 * FES, or -1 when the connection closed or stalled first. hnvmf_raw_expect_term cannot skip
 * the 16 MiB C2HData in front. */
static int read_until_term(int fd)
{
	struct timeval tv = { .tv_sec = TMO / 1000 };
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	static uint8_t skip[1 << 20];
	for (;;) {
		struct hnvmf_tcp_term t;
		if (recv(fd, &t, sizeof(t.hdr), MSG_WAITALL) != (ssize_t)sizeof(t.hdr))
			return -1;
		size_t left = le32toh(t.hdr.plen) - sizeof(t.hdr);
		bool term = t.hdr.type == HNVMF_TCP_C2H_TERM;
		if (term) {
			size_t n = sizeof(t) - sizeof(t.hdr);
			if (left < n || recv(fd, (uint8_t *)&t + sizeof(t.hdr), n, MSG_WAITALL) !=
						(ssize_t)n)
				return -1;
			left -= n; /* the offending header, copied back */
		}
		while (left > 0) {
			ssize_t r = recv(fd, skip, left < sizeof(skip) ? left : sizeof(skip), 0);
			if (r <= 0)
				return -1;
			left -= (size_t)r;
		}
		if (term)
			return hnvmf_raw_wait_closed(fd, TMO) == 0 ? le16toh(t.fes) : -1;
	}
}

static void test_h2c_before_r2t_sent(void **state)
{
	(void)state;
	struct hnvmf_ini_ctrl *c = connect_io(HOST_BAD);
	int fd = hnvmf_ini_queue_take_fd(c->io[0]);
	assert_true(fd >= 0);
	/* A receive buffer far smaller than the read (yet above the loopback MSS, so that the
	 * final drain is quick) and never read until the fault: the window closes, the target's
	 * socket fills up and the rest of the C2HData waits on its send queue. */
	int rcvbuf = 256 * 1024;
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);

	uint8_t rd[128];
	size_t n = put_cmd(rd, false, 1, 0, READ_LEN);
	assert_int_equal(hnvmf_raw_send(fd, rd, n, TMO), 0);
	/* Its C2HData has started (the first bytes are here): the rest fills the target's socket
	 * and waits on its send queue. */
	int avail = 0;
	for (int i = 0; i < TMO / 10 && avail == 0; i++) {
		sleep_ms(10);
		assert_int_equal(ioctl(fd, FIONREAD, &avail), 0);
	}
	assert_true(avail > 0);
	sleep_ms(100);

	/* The Write and, right behind it, its data. The Connect gave its slot (tag 0) back, the
	 * read took it and still holds it, so the Write's transfer tag is 1. */
	static uint8_t wr[128 + WRITE_LEN];
	const uint16_t wcid = 2;
	n = put_cmd(wr, true, wcid, 100000, WRITE_LEN);
	uint32_t pad;
	n += hnvmf_pdu_h2c_data(wr + n, htole16(wcid), htole16(1), 0, WRITE_LEN, true, false,
				false, 0, &pad);
	n += pad;
	memset(wr + n, 0xa5, WRITE_LEN);
	n += WRITE_LEN;
	assert_int_equal(hnvmf_raw_send(fd, wr, n, TMO), 0);

	/* Reading again gets the C2HData already started, then the C2HTermReq. */
	int fes = read_until_term(fd);
	if (fes != HNVMF_TCP_FES_PDU_SEQ_ERR)
		fail_msg("expected C2HTermReq FES %d (PDU sequence error), got %d",
			 HNVMF_TCP_FES_PDU_SEQ_ERR, fes);
	close(fd);
	hnvmf_ini_ctrl_disconnect(c);

	/* The reactor both hosts share still serves the healthy one. */
	struct hnvmf_ini_verify_opts vo = { .nsid = 1, .slba = 20000, .nblocks = 256, .lba_size = 512,
					    .io_size = 16384, .qd = 4, .seed = 7,
					    .write = true, .read = true };
	struct hnvmf_ini_verify_result res;
	assert_int_equal(hnvmf_ini_verify(healthy, &vo, &res), 0);
	assert_true(hnvmf_harness_alive(&H));
	assert_true(hnvmf_harness_log_wait(&H, "FES 2", TMO));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2c_before_r2t_sent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
