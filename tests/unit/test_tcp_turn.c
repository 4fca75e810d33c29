/* Turn budgets of the TCP transport (transport/tcp/tcp-turn.c), with the reactor and the target
 * replaced by the fakes of test_tcp_fakes.h (one loop_once is one reactor turn):
 *   - test_fair_turn: a connection with thousands of PDUs queued cannot starve another one on
 *     the same reactor: the quiet connection's command runs after at most one turn's budget of
 *     the noisy one's and is answered within two turns, while the noise is still queued;
 *   - with two connections flooding, the small budgets apply from the second turn on, and the
 *     large one again once one is left alone and the window has passed; two queues of one
 *     controller keep the large budget;
 *   - PDUs the budget left in the receive buffer are parsed in the next turns although the
 *     socket is empty (no epoll event comes for them): no stall;
 *   - responses past the send budget (entries, then bytes, cut inside a PDU) leave in the next
 *     turns without EPOLLOUT, whole and in order;
 *   - a connection closed while it waits on the reactor's rx_more list leaves it. */
#include "test_tcp_fakes.h"

static void send_flood(struct host *h, unsigned n, uint16_t first)
{
	size_t len;
	uint8_t *buf = flush_pdus(n, first, &len);
	int executed = ft.executed;
	send_all(h->fd, buf, len);
	assert_int_equal(ft.executed, executed); /* all of it waits in the socket, unread */
	free(buf);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_fair_turn(void **state)
{
	(void)state;
	enum { N = 2000 };
	tcp_g.queue_slots = 2048; /* so that only the budget, never the queue size, stops the noise */
	struct host noisy = connect_host(false, false);
	struct host quiet = connect_host(false, false);
	int e0 = ft.executed;
	send_flood(&noisy, N, 0);
	send_cmd(&quiet, 0x00, 7, HNVMF_SGL_TRANSPORT_DATA, 0, NULL, 0, false);
	ft.watch_sq = &quiet.c->sq;
	ft.watch_at = -1;
	int turns = 0;
	while (!readable(quiet.fd) && turns < 50) {
		loop_once();
		turns++;
	}
	int noisy_before = ft.watch_at - e0;
	print_message("quiet answered after %d turns, %d noisy commands before it, %d in all\n",
		      turns, noisy_before, ft.executed - e0 - 1);
	assert_true(ft.watch_at >= 0);
	/* The noisy connection is first in the loop: one turn's budget of it, then the quiet one. */
	assert_true(noisy_before <= (int)TCP_TURN_PDUS);
	assert_true(turns <= 2); /* parsed in the first turn, its response sent in the second */
	assert_true(ft.executed - e0 - 1 < N); /* and the noise was still queued meanwhile */
	expect_rsp(&quiet, 7, 0);
	/* The noise is served whole afterwards. */
	pump();
	assert_int_equal(ft.executed, e0 + N + 1);
	assert_int_equal(noisy.c->state, TCP_CONN_LIVE);
	for (uint16_t cid = 0; cid < N; cid++)
		expect_rsp(&noisy, cid, 0);
	close_host(&noisy);
	close_host(&quiet);
}

/* Two connections busy on one reactor: the small budgets. A floods 2000 PDUs, B 48. From the
 * second turn on (the first showed two connections), neither parses more than
 * TCP_TURN_PDUS_SHARED a turn, and both progress. Once B is done and TCP_TURN_SHARED_NS has
 * passed, A, alone again, gets the large budget: TCP_TURN_PDUS in one turn. */
static void test_turn_shared(void **state)
{
	(void)state;
	enum { NA = 2000, NB = 48 };
	tcp_g.queue_slots = 2048; /* only the budget, never the queue size, stops the noise */
	struct host a = connect_host(false, false);
	struct host b = connect_host(false, false);
	struct tcp_reactor *rt = a.c->rt;
	assert_ptr_equal(b.c->rt, rt);
	assert_false(rt->shared);
	int e0 = ft.executed;
	send_flood(&a, NA, 0);
	send_flood(&b, NB, 0);
	loop_once();
	assert_true(rt->shared); /* the second connection in the turn switched it */
	int turns = 0;
	bool b_busy = true;
	while (b_busy && turns < 20) {
		int before = ft.executed;
		loop_once();
		turns++;
		assert_true(rt->shared);
		assert_true(a.c->turn_no == rt->turn); /* A, flooding, is served every turn */
		assert_true(a.c->turn_rx_pdus > 0);
		assert_true(a.c->turn_rx_pdus <= TCP_TURN_PDUS_SHARED);
		b_busy = b.c->turn_no == rt->turn;
		if (b_busy)
			assert_true(b.c->turn_rx_pdus <= TCP_TURN_PDUS_SHARED);
		assert_true(ft.executed - before <= 2 * (int)TCP_TURN_PDUS_SHARED);
	}
	print_message("B done after %d shared turns, %d commands in all\n", turns, ft.executed - e0);
	assert_false(b_busy);
	/* A alone: the small budgets last until the window has passed. */
	usleep(TCP_TURN_SHARED_NS / 1000 + 1000);
	loop_once();
	assert_false(rt->shared);
	assert_int_equal(a.c->turn_rx_pdus, TCP_TURN_PDUS);
	assert_true(ft.executed - e0 < NA + NB); /* still A's noise left: the budget cut it */
	pump();
	assert_int_equal(ft.executed - e0, NA + NB);
	for (uint16_t cid = 0; cid < NB; cid++)
		expect_rsp(&b, cid, 0);
	for (uint16_t cid = 0; cid < NA; cid++)
		expect_rsp(&a, cid, 0);
	close_host(&a);
	close_host(&b);
}

/* Two queues of one controller (a host spreading its load over its I/O queues) flooding the
 * same reactor: not contention, both keep the large budget. */
static void test_turn_same_ctrl(void **state)
{
	(void)state;
	enum { N = 600 };
	static char ctrl_stub; /* only compared, never read: the fake target has no controllers */
	tcp_g.queue_slots = 1024;
	struct host a = connect_host(false, false);
	struct host b = connect_host(false, false);
	struct tcp_reactor *rt = a.c->rt;
	assert_ptr_equal(b.c->rt, rt);
	a.c->sq.ctrl = b.c->sq.ctrl = (struct hnvmf_ctrl *)(void *)&ctrl_stub;
	int e0 = ft.executed;
	send_flood(&a, N, 0);
	send_flood(&b, N, 0);
	for (int turn = 0; turn < 3; turn++) {
		loop_once();
		assert_false(rt->shared);
		assert_int_equal(a.c->turn_rx_pdus, TCP_TURN_PDUS);
		assert_int_equal(b.c->turn_rx_pdus, TCP_TURN_PDUS);
	}
	/* Another controller's connection joins: the small budgets. */
	b.c->sq.ctrl = NULL;
	loop_once();
	assert_true(rt->shared);
	loop_once();
	assert_true(a.c->turn_rx_pdus <= TCP_TURN_PDUS_SHARED);
	assert_true(b.c->turn_rx_pdus <= TCP_TURN_PDUS_SHARED);
	a.c->sq.ctrl = NULL;
	pump();
	assert_int_equal(ft.executed - e0, 2 * N);
	for (uint16_t cid = 0; cid < N; cid++) {
		expect_rsp(&a, cid, 0);
		expect_rsp(&b, cid, 0);
	}
	close_host(&a);
	close_host(&b);
}

/* 500 PDUs come in one read; the budget parses TCP_TURN_PDUS a turn and the rest, in rxbuf with
 * the socket empty, must be parsed without any readiness event (a queue of 512: only the budget
 * holds them). */
static void test_turn_leftover_no_event(void **state)
{
	(void)state;
	enum { N = 500 };
	tcp_g.queue_slots = 512; /* the 500 fit in the queue: only the budget holds them */
	struct host h = connect_host(false, false);
	int e0 = ft.executed;
	send_flood(&h, N, 0);
	loop_once();
	assert_false(h.c->rt->shared); /* alone on its reactor: the large budget */
	assert_int_equal(ft.executed - e0, TCP_TURN_PDUS);
	assert_true(h.c->rx_held);
	assert_true(h.c->rx_more);
	for (int turn = 0; turn < 20 && ft.executed - e0 < N; turn++) {
		assert_false(readable(h.c->fd)); /* everything was read: no event will come */
		int before = ft.executed;
		loop_once();
		assert_true(ft.executed > before);                      /* progress each turn */
		assert_true(ft.executed - before <= (int)TCP_TURN_PDUS); /* within the budget */
	}
	assert_int_equal(ft.executed - e0, N);
	assert_false(h.c->rx_more);
	for (uint16_t cid = 0; cid < N; cid++)
		expect_rsp(&h, cid, 0);
	close_host(&h);
}

/* TCP_TURN_SENDS + 36 responses completed at once (a queue deeper than the budget):
 * TCP_TURN_SENDS leave in the first turn, the rest in the next one, with the socket never full
 * (no EPOLLOUT). */
static void test_turn_send_entries(void **state)
{
	(void)state;
	enum { N = TCP_TURN_SENDS + 36, RSP = sizeof(struct hnvmf_tcp_rsp) };
	tcp_g.queue_slots = 256; /* a queue deeper than the budget (queue_depth up to 1024) */
	struct host h = connect_host(false, false);
	ft.hold = true;
	send_flood(&h, N, 0);
	pump();
	assert_int_equal(ft.nheld, N);
	ft.hold = false;
	uint64_t tx0 = h.c->stats.tx_bytes;
	for (int i = 0; i < N; i++)
		fake_finish(ft.held[i]);
	loop_once();
	assert_int_equal(h.c->stats.tx_bytes - tx0, TCP_TURN_SENDS * RSP);
	assert_false(h.c->want_out);
	assert_true(h.c->flush_queued); /* the rest goes with the next turn's flusher */
	loop_once();
	assert_int_equal(h.c->stats.tx_bytes - tx0, N * RSP);
	for (uint16_t cid = 0; cid < N; cid++)
		expect_rsp(&h, cid, 0);
	close_host(&h);
}

/* Forty 128 KiB reads completed at once: TCP_TURN_TX_BYTES (4 MiB) leave in the first turn (the
 * cut inside a C2HData PDU), the rest later; the host gets every PDU whole and the data intact. */
static void test_turn_send_bytes(void **state)
{
	(void)state;
	enum { N = 40, LEN = 128 * 1024 };
	struct host h = connect_host(false, false);
	int big = 8 << 20; /* the kernel caps it (net.core.wmem_max) and doubles it: above the budget */
	setsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	int got = 0;
	socklen_t gl = sizeof(got);
	getsockopt(h.c->fd, SOL_SOCKET, SO_SNDBUF, &got, &gl);
	assert_true(got > (int)TCP_TURN_TX_BYTES + 64 * 1024);
	ft.hold = true;
	for (uint16_t cid = 1; cid <= N; cid++)
		send_cmd(&h, OPC_READ, cid, HNVMF_SGL_TRANSPORT_DATA, LEN, NULL, 0, false);
	pump();
	assert_int_equal(ft.nheld, N);
	ft.hold = false;
	uint64_t tx0 = h.c->stats.tx_bytes;
	for (int i = 0; i < N; i++)
		fake_finish(ft.held[i]);
	loop_once();
	assert_int_equal(h.c->stats.tx_bytes - tx0, TCP_TURN_TX_BYTES);
	assert_false(h.c->want_out);
	assert_true(h.c->flush_queued);
	for (uint16_t cid = 1; cid <= N; cid++)
		expect_read(&h, cid, LEN);
	close_host(&h);
}

/* Closed with PDUs held for the next turn: it leaves rx_more (ASan would see the list use a
 * freed connection otherwise) and nothing more of it is parsed. */
static void test_turn_close_while_held(void **state)
{
	(void)state;
	struct host h = connect_host(false, false);
	int e0 = ft.executed;
	send_flood(&h, 500, 0);
	loop_once();
	assert_true(h.c->rx_more);
	int destroyed = ft.destroyed;
	tcp_conn_close(h.c, "test");
	assert_true(hnvmf_list_empty(&tcp_g.rts[0].rx_more));
	pump();
	assert_int_equal(ft.destroyed, destroyed + 1);
	assert_int_equal(ft.executed - e0, TCP_TURN_PDUS);
	close(h.fd);
}

int main(void)
{
	alarm(120);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fair_turn, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_shared, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_same_ctrl, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_leftover_no_event, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_send_entries, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_send_bytes, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_turn_close_while_held, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
