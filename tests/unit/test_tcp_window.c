/* The response window of the TCP transport (transport/tcp/tcp-send.c), with the reactor, the
 * target and the clock replaced by the fakes of test_tcp_fakes.h (one loop_once is one reactor
 * turn; the clock is stopped, so a window that opened would never time out by itself):
 *   - a host that never sends more than TCP_HOLD_BATCH - 1 commands in one write (39, then
 *     1, for two periods) gets every response in the turn after its commands ran: no window
 *     opens;
 *   - after a read of TCP_HOLD_BATCH commands, a few responses are held, still held one
 *     nanosecond before TCP_HOLD_NS, and sent once it has passed (bounded), in order;
 *   - a held window is sent as soon as TCP_HOLD_RSPS responses are queued, without waiting for
 *     the deadline;
 *   - an R2T queued behind held responses is not held: it goes out with them. */
#include <signal.h>

#include "test_tcp_fakes.h"

/* n Flush commands (no data) with command ids first.., in one write: one read takes them all. */
static void send_batch(struct host *h, unsigned n, uint16_t first)
{
	size_t len;
	uint8_t *buf = flush_pdus(n, first, &len);
	send_all(h->fd, buf, len);
	free(buf);
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void turns(int n)
{
	for (int i = 0; i < n; i++)
		loop_once();
}

static void expect_rsps(struct host *h, unsigned n, uint16_t first)
{
	for (unsigned i = 0; i < n; i++)
		expect_rsp(h, (uint16_t)(first + i), 0);
	assert_false(readable(h->fd));
}

static void test_no_window_at_low_depth(void **state)
{
	(void)state;
	fake_clock_frozen = true;
	fake_clock_ns = 1000000000ull;
	struct host h = connect_host(false, false);
	/* The deepest read that must not open a window, each followed by a single command (which
	 * a window would hold: the clock is stopped, so it would never be answered), over more
	 * than two periods of reads. */
	for (unsigned round = 0; round < 2 * TCP_HOLD_PERIOD; round++) {
		unsigned n = round % 2 ? 1 : TCP_HOLD_BATCH - 1;
		send_batch(&h, n, 0);
		turns(2); /* read and executed in the first turn, sent by the second's flusher */
		assert_true(readable(h.fd));
		expect_rsps(&h, n, 0);
	}
	assert_int_equal(h.c->stats.holds, 0);
	close_host(&h);
}

/* A connection on which one read brought TCP_HOLD_BATCH commands (answered at once: as many
 * responses as close a window). */
static struct host deep_host(void)
{
	fake_clock_frozen = true;
	fake_clock_ns = 1000000000ull;
	struct host h = connect_host(false, false);
	send_batch(&h, TCP_HOLD_BATCH, 0);
	turns(2);
	expect_rsps(&h, TCP_HOLD_BATCH, 0);
	assert_int_equal(h.c->stats.holds, 0);
	return h;
}

static void test_window_bounded(void **state)
{
	(void)state;
	struct host h = deep_host();
	send_batch(&h, 5, 100);
	turns(10);
	assert_false(readable(h.fd)); /* held */
	assert_int_equal(h.c->stats.holds, 1);
	fake_clock_ns += TCP_HOLD_NS - 1;
	turns(3);
	assert_false(readable(h.fd));
	fake_clock_ns += 1; /* the deadline */
	turns(1);
	assert_true(readable(h.fd));
	expect_rsps(&h, 5, 100);
	assert_int_equal(h.c->stats.hold_timeouts, 1);
	/* The next responses open a new window, bounded the same way. */
	send_batch(&h, 1, 200);
	turns(3);
	assert_false(readable(h.fd));
	fake_clock_ns += TCP_HOLD_NS;
	turns(1);
	expect_rsps(&h, 1, 200);
	assert_int_equal(h.c->stats.holds, 2);
	assert_int_equal(h.c->stats.hold_timeouts, 2);
	close_host(&h);
}

static void test_window_full(void **state)
{
	(void)state;
	struct host h = deep_host();
	send_batch(&h, 5, 100);
	turns(3);
	assert_false(readable(h.fd));
	send_batch(&h, TCP_HOLD_RSPS - 5, 105);
	turns(2); /* read, then flushed: the clock never moved */
	assert_true(readable(h.fd));
	expect_rsps(&h, TCP_HOLD_RSPS, 100);
	assert_int_equal(h.c->stats.holds, 1);
	assert_int_equal(h.c->stats.hold_timeouts, 0);
	close_host(&h);
}

static void test_r2t_not_held(void **state)
{
	(void)state;
	struct host h = deep_host();
	send_batch(&h, 3, 100);
	turns(3);
	assert_false(readable(h.fd));
	/* A Write without in-capsule data needs an R2T: it goes out now, and the held
	 * responses before it. */
	send_cmd(&h, OPC_WRITE, 7, HNVMF_SGL_TRANSPORT_DATA, 4096, NULL, 0, false);
	turns(2);
	assert_true(readable(h.fd));
	for (uint16_t cid = 100; cid < 103; cid++)
		expect_rsp(&h, cid, 0);
	uint8_t pdu[256] __attribute__((aligned(8)));
	recv_pdu(&h, pdu, NULL, 0);
	struct hnvmf_tcp_r2t *r = (void *)pdu;
	assert_int_equal(r->hdr.type, HNVMF_TCP_R2T);
	assert_int_equal(le16toh(r->cid), 7);
	close_host(&h);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_window_at_low_depth, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_window_bounded, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_window_full, tcp_fake_setup, tcp_fake_teardown),
		cmocka_unit_test_setup_teardown(test_r2t_not_held, tcp_fake_setup, tcp_fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
