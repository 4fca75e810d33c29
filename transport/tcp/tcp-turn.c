/* Turn budgets: what one connection may do in one reactor turn (issue 13, fairness).
 *
 * A reactor turn runs the pollers, the inbox, the timers, the send flusher and the epoll
 * callbacks of every ready socket. Without a bound, a connection that has hundreds of PDUs in its
 * socket (a tenant flooding at QD 128) is served whole in its callback, and so is its send queue
 * in the flusher: with 8 such connections a turn took 0.5-1 ms before a quiet connection's
 * capsule was read or its response sent. So each connection gets, per turn:
 *
 *   TCP_TURN_PDUS   128 PDU headers parsed. About 1 us of reactor work each (parse, init, hand
 *                   to an I/O server): a whole QD 128 queue per turn, so one recv's batch is not
 *                   cut and the turn's fixed cost (an epoll_wait and the pollers) is spread over
 *                   128 commands. The same number as the messages one turn takes from the inbox
 *                   (core/reactor.c).
 *   TCP_TURN_SENDS  128 send entries (a PDU, or a request's C2HData and response) gathered: the
 *                   responses of a QD 128 queue.
 *   TCP_TURN_RX_BYTES  1 MiB received: eight 128 KiB transfers (TCP_BUF_LARGE, MAXH2CDATA).
 *                   This is what bounds a tenant of large transfers, whose PDUs are few.
 *   TCP_TURN_TX_BYTES  4 MiB sent: what the socket's send buffer holds (SO_SNDBUF of
 *                   TCP_SOCK_BUF_SIZE, doubled by the kernel), so a lone connection fills its
 *                   socket and goes on at EPOLLOUT. At 1 MiB (eight transfers per turn, the
 *                   socket never full) 128 KiB reads at QD 32 did 55-58K IOPS with SPDK's
 *                   initiator against 62-67K at 4 MiB, and 35-38K against 46-53K with
 *                   hnvmf-perf (2026-12-08, alternating runs; 2 MiB was no better than 1 MiB,
 *                   16 MiB no better than 4 MiB). The receive budget made no difference to
 *                   128 KiB writes between 256 KiB and 4 MiB.
 *
 * The first values (64, 64, 256 KiB) cost a lone connection its throughput: on the direct path,
 * hnvmf-perf on one queue, 128 KiB reads at QD 16 27.7K against 35.6K IOPS with these values
 * (44.4K without budgets) and 4 KiB reads at QD 128 658K against 1038K (bench/tcp-bench.sh,
 * 3 s per row, 2026-12-07 14:25 UTC): a turn's fixed cost, and sends cut at 256 KiB while the
 * socket could take 2 MiB. But those are the values a noisy neighbour should get. So the budget
 * depends on contention:
 *
 *   alone    the values above, while the connection's controller is the only one whose
 *            connections used a budget of the reactor lately: a lone connection keeps its
 *            throughput, and so does a host's set of queues (they do not count against each
 *            other; a connection before its Connect counts as a controller of its own);
 *   shared   TCP_TURN_PDUS_SHARED 16 PDUs, TCP_TURN_SENDS_SHARED 16 sends and
 *            TCP_TURN_BYTES_SHARED 128 KiB each way (one 128 KiB transfer), from the moment a
 *            second controller's connection uses a budget in the same turn until
 *            TCP_TURN_SHARED_NS (2 ms) after the last turn in which two did. A noisy tenant's
 *            8 connections then hold a turn for 128 PDUs or 1 MiB each way in all, what one
 *            lone connection may parse or receive.
 *
 * The window, not the current turn alone, decides: a quiet connection at QD 1 uses the reactor
 * in one turn out of many (its next command is on its way from the host), and the noisy one
 * must already be on the small budget when that command arrives. 2 ms covers a host's round
 * trip, and a connection left alone gets its large budget back 2 ms later. The reactor notes the
 * controllers of each turn's connections (at their first use of the budget in it: a pointer
 * compare); the clock is read once per turn, and only while the budgets are small.
 *
 * Past a budget the connection stops where it is and yields to the others. What is left must be
 * served next turn without a new epoll event (the socket may be empty, its bytes already in
 * rxbuf, or decrypted by OpenSSL): the connection goes on its reactor's rx_more list, which the
 * turn poller (a poller: it runs first in every iteration, and its work keeps the loop from
 * sleeping) serves at the start of the next turn. Sends left by the budget stay on the send
 * queue and the connection goes back on the flush queue for the next turn's flusher.
 *
 * A turn is counted by the turn poller; a connection's counts are reset lazily, at its first use
 * of the budget in a newer turn. Tenant weights are not applied here: a budget is the same for
 * every connection of a reactor (docs/pqm.md says why), and the I/O servers' scheduler
 * (core/sched.c) shares the devices by weight. */
#include "transport/tcp/tcp-internal.h"

static void sync_turn(struct tcp_conn *c)
{
	struct tcp_reactor *rt = c->rt;
	if (c->turn_no == rt->turn)
		return;
	c->turn_no = rt->turn;
	c->turn_rx_pdus = c->turn_tx_sends = 0;
	c->turn_rx_bytes = c->turn_tx_bytes = 0;
	/* Another controller's connection in this turn: the small budgets from now on, this turn
	 * included (the turn poller keeps them for TCP_TURN_SHARED_NS). The queues of one
	 * controller (a host's admin and I/O queues) do not count against each other: one host
	 * spreading its load over 8 queues keeps the large budgets. A connection without a
	 * controller yet (before Connect) is its own. */
	const void *who = c->sq.ctrl ? (const void *)c->sq.ctrl : (const void *)c;
	if (!rt->turn_who) {
		rt->turn_who = who;
	} else if (who != rt->turn_who && !rt->turn_mixed) {
		rt->turn_mixed = true;
		rt->shared = true;
	}
}

static uint32_t max_pdus(const struct tcp_conn *c)
{
	return c->rt->shared ? TCP_TURN_PDUS_SHARED : TCP_TURN_PDUS;
}

static uint32_t max_sends(const struct tcp_conn *c)
{
	return c->rt->shared ? TCP_TURN_SENDS_SHARED : TCP_TURN_SENDS;
}

static uint32_t max_rx_bytes(const struct tcp_conn *c)
{
	return c->rt->shared ? TCP_TURN_BYTES_SHARED : TCP_TURN_RX_BYTES;
}

static uint32_t max_tx_bytes(const struct tcp_conn *c)
{
	return c->rt->shared ? TCP_TURN_BYTES_SHARED : TCP_TURN_TX_BYTES;
}

static void more_next_turn(struct tcp_conn *c)
{
	if (c->rx_more)
		return;
	c->rx_more = true;
	hnvmf_list_add_tail(&c->rt->rx_more, &c->more_link);
}

bool tcp_turn_rx_pdus_spent(struct tcp_conn *c)
{
	sync_turn(c);
	if (c->turn_rx_pdus < max_pdus(c))
		return false;
	c->rx_held = true;
	more_next_turn(c);
	return true;
}

bool tcp_turn_rx_bytes_spent(struct tcp_conn *c)
{
	sync_turn(c);
	if (c->turn_rx_bytes < max_rx_bytes(c))
		return false;
	more_next_turn(c);
	return true;
}

void tcp_turn_rx_count(struct tcp_conn *c, size_t bytes)
{
	sync_turn(c);
	c->turn_rx_bytes += bytes > TCP_TURN_RX_BYTES ? TCP_TURN_RX_BYTES : (uint32_t)bytes;
}

void tcp_turn_tx_room(struct tcp_conn *c, unsigned *sends, size_t *bytes)
{
	sync_turn(c);
	uint32_t ms = max_sends(c), mb = max_tx_bytes(c);
	bool spent = c->turn_tx_sends >= ms || c->turn_tx_bytes >= mb;
	*sends = spent ? 0 : ms - c->turn_tx_sends;
	*bytes = spent ? 0 : mb - c->turn_tx_bytes;
}

void tcp_turn_tx_count(struct tcp_conn *c, unsigned sends, size_t bytes)
{
	sync_turn(c);
	c->turn_tx_sends += sends;
	c->turn_tx_bytes += bytes > TCP_TURN_TX_BYTES ? TCP_TURN_TX_BYTES : (uint32_t)bytes;
}

void tcp_turn_forget(struct tcp_conn *c)
{
	c->rx_held = false; /* rxbuf is kept: a moved connection parses it on arrival */
	if (!c->rx_more)
		return;
	c->rx_more = false;
	hnvmf_list_del(&c->more_link);
}

/* At the start of a turn: whether the small budgets apply in it. Two controllers in the last
 * turn (re)start the window; a turn with fewer ends it once the window has passed. The clock
 * is read only while the budgets are small, so a lone connection pays nothing. */
static void turn_contention(struct tcp_reactor *rt)
{
	bool mixed = rt->turn_mixed;
	rt->turn_who = NULL;
	rt->turn_mixed = false;
	if (mixed) {
		rt->shared = true;
		rt->shared_until_ns = hnvmf_now_ns() + TCP_TURN_SHARED_NS;
	} else if (rt->shared && hnvmf_now_ns() >= rt->shared_until_ns) {
		rt->shared = false;
	}
}

int tcp_turn_poller(struct hnvmf_poller *p)
{
	struct tcp_reactor *rt = container_of(p, struct tcp_reactor, turn_poller);
	rt->turn++;
	turn_contention(rt);
	/* Those put back during this walk (budget spent again) wait for the next turn. */
	struct hnvmf_list now;
	hnvmf_list_init(&now);
	while (!hnvmf_list_empty(&rt->rx_more)) {
		struct hnvmf_list *n = rt->rx_more.next;
		hnvmf_list_del(n);
		hnvmf_list_add_tail(&now, n);
	}
	int work = 0;
	while (!hnvmf_list_empty(&now)) {
		struct tcp_conn *c = container_of(now.next, struct tcp_conn, more_link);
		hnvmf_list_del(&c->more_link);
		c->rx_more = false;
		if (c->state == TCP_CONN_CLOSED || c->mv.moving)
			continue;
		tcp_conn_readable(c);
		work++;
	}
	return work;
}
