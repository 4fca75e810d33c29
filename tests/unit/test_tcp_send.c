/* The send queue's entries (struct tcp_send) against early data and reuse, with the reactor and
 * the target replaced by the fakes of test_tcp_fakes.h:
 *   - H2CData for a Write whose R2T still waits on the send queue (the socket is full behind a
 *     large read) ends the connection with FES 0x02 after the read's PDUs, with and without
 *     digests;
 *   - a response built over an entry that is still queued (a bug of ours) never corrupts the
 *     queue: a debug build stops on the assertion, a release build fails that connection;
 *   - the reads of one batch go out as all their C2HData, then all their CapsuleResps in order,
 *     while a CapsuleResp alone (a Flush among them) keeps its place, with and without digests. */
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

/* One burst of 3 reads, a Flush and 3 reads, answered in one turn: on the wire the reads' data
 * with the Flush's response where it came, then the six reads' responses (tcp-send.c, "The data
 * first"). Fails if a read's CapsuleResp goes out beside its data again. */
static void reads_data_then_responses(void **state)
{
	(void)state;
	for (int dg = 0; dg < 4; dg++) {
		struct host h = connect_host(dg & 1, dg & 2);
		size_t hl = sizeof(struct hnvmf_tcp_cmd), one = hl + (h.hd ? 4u : 0u);
		uint8_t burst[7 * (sizeof(struct hnvmf_tcp_cmd) + 4)];
		for (uint16_t i = 0; i < 7; i++) {
			uint8_t pdu[sizeof(struct hnvmf_tcp_cmd) + 4] __attribute__((aligned(8)));
			memset(pdu, 0, sizeof(pdu));
			struct hnvmf_tcp_cmd *p = (void *)pdu;
			p->hdr.type = HNVMF_TCP_CMD;
			p->hdr.flags = h.hd ? HNVMF_TCP_F_HDGST : 0;
			p->hdr.hlen = sizeof(*p);
			p->hdr.plen = htole32((uint32_t)one);
			p->sqe.common.cid = htole16(i);
			if (i != 3) { /* 3: opcode 0, a Flush, no data */
				p->sqe.common.opcode = OPC_READ;
				p->sqe.common.dptr.type = HNVMF_SGL_TRANSPORT_DATA;
				p->sqe.common.dptr.length = htole32(4096);
			}
			if (h.hd)
				tcp_digest_append(p, hl);
			memcpy(burst + one * i, pdu, one); /* back to back: 76 bytes apart with a digest */
		}
		send_all(h.fd, burst, one * 7);
		pump();
		static const uint8_t want_type[] = { 7, 7, 7, 5, 7, 7, 7, 5, 5, 5, 5, 5, 5 };
		static const uint16_t want_cid[] = { 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 4, 5, 6 };
		uint8_t pdu[256] __attribute__((aligned(8)));
		static uint8_t data[4096];
		for (unsigned i = 0; i < sizeof(want_type); i++) {
			recv_pdu(&h, pdu, data, sizeof(data));
			assert_int_equal(pdu[0], want_type[i]);
			assert_int_equal(pdu_cid(pdu), want_cid[i]);
		}
		assert_int_equal(h.c->nbusy, 0);
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

int main(void)
{
	alarm(120); /* a corrupted send queue loops forever: fail instead */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(h2c_before_r2t_sent_terminates, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(response_over_queued_r2t, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(reads_data_then_responses, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
