/* The send queue's entries (struct tcp_send) against early data and reuse, with the reactor and
 * the target replaced by the fakes of test_tcp_fakes.h:
 *   - H2CData for a Write whose R2T still waits on the send queue (the socket is full behind a
 *     large read) ends the connection with FES 0x02 after the read's PDUs, with and without
 *     digests;
 *   - a response built over an entry that is still queued (a bug of ours) never corrupts the
 *     queue: a debug build stops on the assertion, a release build fails that connection;
 *   - the reads of one batch go out as all their C2HData, then all their CapsuleResps in order,
 *     while a CapsuleResp alone (a Flush among them) keeps its place, with and without digests;
 *   - a batch that is the host's whole queue (by its command identifiers, or by what the
 *     connection holds against the most it held) goes in two halves, one that is not, or of
 *     fewer than TCP_HALVES_MIN reads, whole;
 *   - only a connection whose host showed a depth asks its reactor to await the next commands. */
#include <signal.h>
#include <sys/wait.h>

#include "test_tcp_fakes.h"

/* setup / teardown: the TCP transport over the fakes (test_tcp_fakes.h). */

static void h2c_before_r2t_sent_terminates(void **state)
{
	(void)state;
	for (int d = 0; d < 4; d++) {
		struct host h = connect_host(d & 1, d & 2);
		h2c_before_r2t_sent(&h);
	}
}

/* Writes one CapsuleCmd PDU at dst (back to back with others: 76 bytes apart with a header
 * digest, so it is built aligned first): a Read of len bytes, or a Flush (no data) if len is 0.
 * Returns its size. */
static size_t put_cmd(const struct host *h, uint8_t *dst, uint16_t cid, uint32_t len)
{
	size_t hl = sizeof(struct hnvmf_tcp_cmd), one = hl + (h->hd ? 4u : 0u);
	uint8_t pdu[sizeof(struct hnvmf_tcp_cmd) + 4] __attribute__((aligned(8)));
	memset(pdu, 0, sizeof(pdu));
	struct hnvmf_tcp_cmd *p = (void *)pdu;
	p->hdr.type = HNVMF_TCP_CMD;
	p->hdr.flags = h->hd ? HNVMF_TCP_F_HDGST : 0;
	p->hdr.hlen = sizeof(*p);
	p->hdr.plen = htole32((uint32_t)one);
	p->sqe.common.cid = htole16(cid);
	if (len) {
		p->sqe.common.opcode = OPC_READ;
		p->sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
		p->sqe.common.dptr.length = htole32(len);
	}
	if (h->hd)
		tcp_digest_append(p, hl);
	memcpy(dst, pdu, one);
	return one;
}

/* Receives n PDUs and checks each one's type and command identifier. */
static void expect_pdus(struct host *h, unsigned n, const uint8_t *type, const uint16_t *cid)
{
	uint8_t pdu[256] __attribute__((aligned(8)));
	static uint8_t data[32768];
	for (unsigned i = 0; i < n; i++) {
		recv_pdu(h, pdu, data, sizeof(data));
		assert_int_equal(pdu[0], type[i]);
		assert_int_equal(pdu_cid(pdu), cid[i]);
	}
}

/* One burst of 3 reads, a Flush and 3 reads, answered in one turn: on the wire the reads' data
 * with the Flush's response where it came, then the six reads' responses (tcp-send.c, "The data
 * first"). Fails if a read's CapsuleResp goes out beside its data again. */
static void reads_data_then_responses(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		struct host h = connect_host(dg & 1, dg & 2);
		uint8_t burst[7 * (sizeof(struct hnvmf_tcp_cmd) + 4)];
		size_t len = 0;
		for (uint16_t i = 0; i < 7; i++)
			len += put_cmd(&h, burst + len, i, i == 3 ? 0 : 4096); /* 3: a Flush */
		send_all(h.fd, burst, len);
		pump();
		static const uint8_t want_type[] = { 7, 7, 7, 5, 7, 7, 7, 5, 5, 5, 5, 5, 5 };
		static const uint16_t want_cid[] = { 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 4, 5, 6 };
		expect_pdus(&h, sizeof(want_type), want_type, want_cid);
		assert_int_equal(h.c->nbusy, 0);
		close_host(&h);
	}
}

/* n reads of len bytes with identifiers first.. in one burst, answered in one turn; then the
 * expected wire order: all their C2HData and all their CapsuleResps, or (halves) the first
 * half's C2HData and CapsuleResps, then the second half's. */
static void reads_burst_of(struct host *h, uint16_t first, unsigned n, uint32_t len, bool halves)
{
	uint8_t burst[64 * (sizeof(struct hnvmf_tcp_cmd) + 4)];
	uint8_t type[128];
	uint16_t cid[128];
	size_t blen = 0;
	assert_true(n <= 64 && len <= 32768);
	/* Room for the whole burst's data whatever the host reads meanwhile (the kernel caps it at
	 * net.core.wmem_max and doubles it). */
	int big = 4 << 20;
	setsockopt(h->c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	for (unsigned i = 0; i < n; i++)
		blen += put_cmd(h, burst + blen, (uint16_t)(first + i), len);
	send_all(h->fd, burst, blen);
	pump();
	unsigned half = halves ? (n + 1) / 2 : n, k = 0;
	for (unsigned from = 0; from < n; from += half) {
		unsigned to = from + half < n ? from + half : n;
		for (unsigned i = from; i < to; i++, k++) {
			type[k] = HNVMF_TCP_C2H_DATA;
			cid[k] = (uint16_t)(first + i);
		}
		for (unsigned i = from; i < to; i++, k++) {
			type[k] = HNVMF_TCP_RSP;
			cid[k] = (uint16_t)(first + i);
		}
	}
	expect_pdus(h, k, type, cid);
	assert_int_equal(h->c->nbusy, 0);
}

static void reads_burst(struct host *h, uint16_t first, unsigned n, bool halves)
{
	reads_burst_of(h, first, n, 512, halves);
}

/* A batch that is the host's whole queue goes in two halves (tcp-send.c, "Two halves"). By the
 * identifiers: 32 reads with identifiers 0-31 are all a host using no identifier above 31 can
 * have in flight; the same burst after a command with identifier 200 is not (one whole batch);
 * 15 reads with identifiers 0-14 are too few to halve; 16 reads are halved after them. The
 * reads are of 24 KiB, so that the count below (at most TCP_HALVES_MAX_DATA) does not halve
 * them. Fails with the halves turned off, and if a half's CapsuleResps leave before its data. */
static void whole_queue_in_two_halves(void **state)
{
	(void)state;
	enum { LEN = 24 * 1024 };
	assert_true(32 * LEN > TCP_HALVES_MAX_DATA && 16 * LEN <= TCP_HALVES_MAX_DATA);
	for (int dg = 0; dg < 4; dg++) {
		struct host h = connect_host(dg & 1, dg & 2);
		reads_burst_of(&h, 0, 32, LEN, true);
		reads_burst_of(&h, 200, 1, LEN, false);
		reads_burst_of(&h, 0, 32, LEN, false);
		assert_int_equal(h.c->stats.halves, 1);
		close_host(&h);
		h = connect_host(dg & 1, dg & 2);
		reads_burst_of(&h, 0, 15, LEN, false);
		reads_burst_of(&h, 0, 16, LEN, true);
		assert_int_equal(h.c->stats.halves, 1);
		close_host(&h);
	}
}

/* By the count, for a host whose identifiers carry a generation above the slot (Linux,
 * hnvmf-perf): 32 reads that are all the connection holds and the most it held are halved; 16
 * reads after them (half the most held) are not, 17 are; 32 reads with more data than
 * TCP_HALVES_MAX_DATA are not. Fails without the count (then none is halved). */
static void counted_whole_queue_in_halves(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		struct host h = connect_host(dg & 1, dg & 2);
		reads_burst(&h, 0x1000, 32, true);
		reads_burst(&h, 0x2000, 16, false);
		reads_burst(&h, 0x3000, 17, true);
		reads_burst_of(&h, 0x4000, 32, 24 * 1024, false);
		assert_int_equal(h.c->stats.halves, 2);
		close_host(&h);
	}
}

/* The target answering the Write while its R2T is queued: what early H2CData led to before
 * it was refused, done directly (the data taken, the Write executed, its response queued). */
static void response_over_queued_r2t(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	struct tcp_req *t = r2t_behind_full_socket(&h);
#ifdef NDEBUG
	int destroyed = ft.destroyed;
	t->state = TCP_REQ_EXECUTING;
	hnvmf_req_complete(&t->req, 0);
	assert_int_equal(h.c->state, TCP_CONN_CLOSED);
	assert_true(hnvmf_list_empty(&h.c->sendq));
	assert_int_equal(t->state, TCP_REQ_FREE);
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	close(h.fd);
#else
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		t->state = TCP_REQ_EXECUTING;
		hnvmf_req_complete(&t->req, 0);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	close_host(&h); /* here the Write still waits for its data: the close aborts it */
#endif
}

/* Awaiting the host (tcp-send.c): a connection whose reads bring one command each never asks
 * its reactor to poll on; once a read brought TCP_AWAIT_BATCH commands, each send does, for
 * TCP_AWAIT_NS. */
static void deep_host_awaited(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	int before = fake_awaits;
	for (uint16_t i = 0; i < 4; i++)
		reads_burst(&h, i, 1, false);
	reads_burst(&h, 0, TCP_AWAIT_BATCH - 1, false);
	assert_int_equal(fake_awaits, before);
	reads_burst(&h, 0, TCP_AWAIT_BATCH, false);
	assert_true(fake_awaits > before);
	assert_int_equal(fake_await_ns, TCP_AWAIT_NS);
	int after = fake_awaits;
	reads_burst(&h, 0, 1, false); /* the peak lasts this period and the next */
	assert_true(fake_awaits > after);
	close_host(&h);
}

int main(void)
{
	alarm(120); /* a corrupted send queue loops forever: fail instead */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(h2c_before_r2t_sent_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(response_over_queued_r2t, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(reads_data_then_responses, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(whole_queue_in_two_halves, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(counted_whole_queue_in_halves, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(deep_host_awaited, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
