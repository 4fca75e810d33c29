/* The send side of a connection: PDUs wait on conn->sendq as iovec lists pointing at their
 * headers and straight at the request's data (no copy), and the reactor's poller gathers as
 * many as fit into one sendmsg per loop iteration (at high queue depth it may first wait for
 * more responses: the response window, below). A partial write leaves the rest queued and
 * arms EPOLLOUT; EPOLLOUT is disarmed as soon as the queue is empty again. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "transport/tcp/tcp-internal.h"

void tcp_send_schedule(struct tcp_conn *c)
{
	/* While EPOLLOUT is armed the socket is full: the event, not the poller, resumes. */
	if (c->flush_queued || c->want_out || c->state == TCP_CONN_CLOSED)
		return;
	c->flush_queued = true;
	hnvmf_list_add_tail(&c->rt->flushq, &c->flush_link);
}

bool tcp_send_prepare(struct tcp_conn *c, struct tcp_send *s,
		      void (*sent)(struct tcp_send *s, bool dropped))
{
	/* Rebuilding an entry that is still queued would rewrite bytes that may be partly on the
	 * wire and link the queue to itself (the reactor then loops forever). It is our bug, not
	 * the peer's: stop in a debug build; in a release build fail this connection only. */
	assert(!s->queued);
	if (s->queued) {
		log_err("tcp %s: a PDU was built again while still queued: closing the connection",
			c->sq.peer);
		tcp_conn_close(c, "send entry reused while queued");
		return false;
	}
	s->iovcnt = 0;
	s->rsp = false;
	s->tail = false;
	s->keep = false;
	s->follow = NULL;
	s->lead = NULL;
	s->sent = sent;
	return true;
}

void tcp_send_queue(struct tcp_conn *c, struct tcp_send *s)
{
	assert(!s->queued);
	s->cur = 0;
	s->cur_off = 0;
	s->queued = true;
	if (s->tail) { /* behind its C2HData, which scheduled the flush */
		hnvmf_list_add_tail(&c->tailq, &s->link);
		c->tailq_n++;
		return;
	}
	if (s->rsp)
		c->sendq_rsps++;
	else
		c->sendq_other++;
	hnvmf_list_add_tail(&c->sendq, &s->link);
	tcp_send_schedule(c);
}

static struct tcp_send *first_send(struct tcp_conn *c)
{
	return container_of(c->sendq.next, struct tcp_send, link);
}

static void send_finished(struct tcp_conn *c, struct tcp_send *s, bool dropped)
{
	if (s->tail)
		; /* counted with its C2HData */
	else if (s->rsp)
		c->sendq_rsps--;
	else
		c->sendq_other--;
	if (!dropped && s->follow)
		s->follow->keep = true; /* the host has this read's data: a termination still answers it */
	hnvmf_list_del(&s->link);
	s->queued = false;
	s->sent(s, dropped);
}

static size_t send_remaining(const struct tcp_send *s)
{
	size_t n = 0;
	for (int i = s->cur; i < s->iovcnt; i++)
		n += s->iov[i].iov_len;
	return n - s->cur_off;
}

/* Drops what is queued. keep_started keeps the PDUs already partly on the wire, or (TLS)
 * sealed into records not yet wholly sent: the peer's framing needs them whole before anything
 * else (a C2HTermReq) can follow. */
void tcp_send_drop_all(struct tcp_conn *c, bool keep_started)
{
	size_t held = c->ssl ? tcp_tls_held(c) : 0; /* queue-head bytes TLS already sealed */
	if (c->ssl && !keep_started)
		tcp_tls_drop_unsent(c);
	hnvmf_list_splice_tail(&c->sendq, &c->tailq); /* never started nor sealed: may go last */
	c->tailq_n = 0;
	bool head = true;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &c->sendq) {
		struct tcp_send *s = container_of(pos, struct tcp_send, link);
		bool started = head && (s->cur > 0 || s->cur_off > 0);
		if (keep_started && (started || held > 0 || s->keep)) {
			size_t rem = send_remaining(s);
			held = held > rem ? held - rem : 0;
			s->keep = false;
			/* A read whose data goes whole keeps its CapsuleResp: the host completes it. */
			if (s->follow && s->follow->queued)
				s->follow->keep = true;
			continue; /* still the head of what remains, or behind it */
		}
		head = false;
		send_finished(c, s, true);
	}
}

static void set_want_out(struct tcp_conn *c, bool on)
{
	if (c->want_out == on)
		return;
	c->want_out = on;
	tcp_conn_set_events(c);
}

/* Consumes n sent bytes from the head of the queue. */
static void advance(struct tcp_conn *c, size_t n)
{
	while (n > 0 && !hnvmf_list_empty(&c->sendq)) {
		struct tcp_send *s = first_send(c);
		while (n > 0 && s->cur < s->iovcnt) {
			size_t left = s->iov[s->cur].iov_len - s->cur_off;
			if (n < left) {
				s->cur_off += (uint32_t)n;
				return;
			}
			n -= left;
			s->cur++;
			s->cur_off = 0;
		}
		if (s->cur < s->iovcnt)
			return;
		send_finished(c, s, false);
		if (c->state == TCP_CONN_CLOSED)
			return; /* the callback closed the connection (C2HTermReq sent) */
	}
	/* Zero-length tails (an empty iovec) also complete their PDU. */
	while (!hnvmf_list_empty(&c->sendq)) {
		struct tcp_send *s = first_send(c);
		while (s->cur < s->iovcnt && s->iov[s->cur].iov_len == 0)
			s->cur++;
		if (s->cur < s->iovcnt)
			return;
		send_finished(c, s, false);
		if (c->state == TCP_CONN_CLOSED)
			return;
	}
}

/* The turn's send budget is spent with bytes still queued: the socket is not full, so the
 * flusher, not EPOLLOUT, goes on next turn (tcp-turn.c). */
static void send_next_turn(struct tcp_conn *c)
{
	set_want_out(c, false);
	tcp_send_schedule(c);
}

/* The most commands one read brought, in this period of TCP_HOLD_PERIOD reads or the last: the
 * host's depth as far as the target sees it (the response window and the await use it). */
static uint32_t rx_peak(const struct tcp_conn *c)
{
	return c->rx_peak_cur > c->rx_peak_prev ? c->rx_peak_cur : c->rx_peak_prev;
}

/* Whether the reads waiting on tailq have at most max bytes of C2HData to send. */
static bool tails_data_within(const struct tcp_conn *c, size_t max)
{
	size_t n = 0;
	for (const struct hnvmf_list *pos = c->tailq.next; pos != &c->tailq; pos = pos->next) {
		const struct tcp_send *t = container_of(pos, struct tcp_send, link);
		if (t->lead && (n += send_remaining(t->lead)) > max)
			return false;
	}
	return true;
}

/* Whether the flush about to start answers the host's whole queue ("Two halves", below). */
static bool whole_queue(const struct tcp_conn *c)
{
	if (c->tailq_n < TCP_HALVES_MIN)
		return false;
	uint32_t span = c->cid_span_cur > c->cid_span_prev ? c->cid_span_cur : c->cid_span_prev;
	if (c->sendq_rsps >= span)
		return true; /* by the identifiers: all the host can have in flight */
	/* By what the connection holds: all of it, and more than half the most it ever held. */
	return c->sendq_rsps >= c->nbusy && 2 * c->nbusy > c->nbusy_max &&
	       tails_data_within(c, TCP_HALVES_MAX_DATA);
}

/* The batch's CapsuleResps go behind all its data ("The data first", below), or in two halves. */
static void release_tails(struct tcp_conn *c)
{
	if (whole_queue(c)) {
		struct hnvmf_list *last = c->tailq.next; /* the first half's last CapsuleResp */
		for (unsigned i = 1; i < (c->tailq_n + 1) / 2; i++)
			last = last->next;
		struct tcp_send *lead = container_of(last, struct tcp_send, link)->lead;
		/* Its C2HData is still queued unless it went in a flush that began before it was
		 * queued (then its order is kept anyway: all the tails go last). */
		if (lead && lead->queued) {
			hnvmf_list_splice_front_after(&lead->link, &c->tailq, last);
			c->stats.halves++;
		}
	}
	hnvmf_list_splice_tail(&c->sendq, &c->tailq);
	c->tailq_n = 0;
}

/* Awaiting the host. A reactor with nothing to do polls for idle_spin_us (10 us by default)
 * and sleeps in epoll_wait; the next PDU then costs a wake-up. At light load that saves a CPU
 * (issue 13), but a host that keeps many commands in flight and answers each batch of
 * responses with the next batch comes back within tens of microseconds, and each of its
 * batches found the reactor asleep: against spdk_nvme_perf at QD 32 hnvmfd was at 53-60 % of
 * its CPU, and its 128 KiB writes did 34-37K IOPS against nvmf_tgt's 59-63K (nvmf_tgt polls
 * always). idle_spin_us = 100 fixed those, and raised the light-load bench's CPU at 10 % from
 * 0.81 to 0.985 CPU-s/s. So only a connection whose host showed a depth (one read brought
 * TCP_AWAIT_BATCH commands or more, this period or the last) keeps its reactor polling, for
 * TCP_AWAIT_NS after each send; a light load's reads bring one or two commands each. The
 * figures are in the commit message. */
static void await_host(struct tcp_conn *c)
{
	if (rx_peak(c) >= TCP_AWAIT_BATCH)
		hnvmf_reactor_await(c->rt->r, TCP_AWAIT_NS);
}

void tcp_send_flush(struct tcp_conn *c)
{
	struct iovec v[TCP_SEND_BATCH_IOV];
	release_tails(c);
	/* TLS: records may wait with the queue empty (a KeyUpdate answer, the queue's last). */
	while (c->state != TCP_CONN_CLOSED &&
	       (!hnvmf_list_empty(&c->sendq) || (c->ssl && tcp_tls_unsent(c)))) {
		unsigned sends_left;
		size_t bytes_left;
		tcp_turn_tx_room(c, &sends_left, &bytes_left);
		if (!sends_left) {
			send_next_turn(c);
			return;
		}
		int n = 0;
		unsigned sends = 0;
		size_t total = 0;
		struct hnvmf_list *pos;
		for (pos = c->sendq.next; pos != &c->sendq && sends < sends_left && total < bytes_left;
		     pos = pos->next) {
			struct tcp_send *s = container_of(pos, struct tcp_send, link);
			if (n + (s->iovcnt - s->cur) > TCP_SEND_BATCH_IOV)
				break;
			sends += !s->tail; /* a read's response counts once, as it did whole */
			for (int i = s->cur; i < s->iovcnt && total < bytes_left; i++) {
				v[n] = s->iov[i];
				if (i == s->cur) {
					v[n].iov_base = (uint8_t *)v[n].iov_base + s->cur_off;
					v[n].iov_len -= s->cur_off;
				}
				/* The byte budget may end inside a PDU: the rest goes next turn. */
				if (v[n].iov_len > bytes_left - total)
					v[n].iov_len = bytes_left - total;
				total += v[n].iov_len;
				n++;
			}
		}
		struct msghdr msg = { .msg_iov = v, .msg_iovlen = (size_t)n };
		ssize_t w;
		if (c->ssl) {
			w = tcp_tls_send(c, v, n); /* counts its own system calls */
		} else {
			w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
			c->stats.syscalls++;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_want_out(c, true);
				return;
			}
			log_info("tcp %s: send failed: %s", c->sq.peer, strerror(errno));
			tcp_conn_close(c, "send error");
			return;
		}
		c->stats.tx_bytes += (uint64_t)w;
		await_host(c);
		tcp_turn_tx_count(c, sends, (size_t)w);
		advance(c, (size_t)w);
		/* TLS seals what fits its record buffer per call: sealed bytes left over mean full. */
		if (c->ssl ? tcp_tls_unsent(c) : (size_t)w < total) {
			if (c->state != TCP_CONN_CLOSED)
				set_want_out(c, true);
			return;
		}
	}
	if (c->state != TCP_CONN_CLOSED) {
		set_want_out(c, false);
		tcp_conn_check_idle(c);
	}
}

/* The data first. A read's response is two PDUs, C2HData and CapsuleResp, and a host that keeps
 * the SQ flow control on (SPDK's initiator does; the C2HData SUCCESS flag is then not allowed)
 * completes the command only at the CapsuleResp. Sent in pairs, data and response interleaved,
 * the host's receive loop met the responses one at a time between 4 KiB payloads: SPDK's
 * initiator reads up to its receive pipe's 32 KiB per pass, so it completed ~8 commands per
 * pass and answered each pass with a sendmsg of ~8 new commands (0.12 sendmsg per I/O against
 * 0.045 with nvmf_tgt at QD 128, whose CapsuleResps leave in a later sendmsg than their data).
 * Each of its sendmsg calls also runs our side's TCP receive on its CPU. So a read's
 * CapsuleResp waits on conn->tailq and goes behind all the data queued with it, in the same
 * sendmsg when the budgets allow: the host sees the batch's data, then all its completions at
 * once. Order within one command holds (its CapsuleResp follows its C2HData); NVMe/TCP
 * requires no order between commands. A CapsuleResp alone (writes, errors, the SUCCESS case)
 * keeps its place.
 *
 * Two halves. When a batch is the host's whole queue, the data first makes host and target take
 * turns: the host waits for the last CapsuleResp, completes everything, sends its next batch and
 * waits again, and the target waits meanwhile. SPDK's initiator at QD 32 sent its 32 commands in
 * one call and found the target idle half the time (53-58 % of its CPU); at QD 128 it sends 64
 * per call (its socket layer gathers at most 64 iovecs), so two batches are in flight and the
 * two sides overlap. So a flush that answers as many commands as the host can have in flight
 * sends the CapsuleResps of the first half of its reads right behind that half's data: the host
 * completes those and sends their successors while the second half is on its way, and from then
 * on two batches of half the size take turns. Halves are never halved again: a batch of half
 * the queue is not the whole queue.
 *
 * How many commands the host can have in flight is not said on the wire (SQSIZE is a bound, not
 * the depth), but each command in flight holds its own command identifier, so a host that had
 * N of them in flight used at least N identifiers, and one that uses only identifiers below N
 * (SPDK's initiator reuses its request slots' indexes, most recently freed first) cannot have
 * more than N. The bound is 1 + the largest identifier received in this period of
 * TCP_HOLD_PERIOD reads or the last. A host whose identifiers carry other bits (Linux puts a
 * generation counter in the top four, our initiator one above its slot index) gets a bound no
 * batch reaches; for it the target counts instead: a flush that answers every request the
 * connection holds (nbusy: the host has nothing else at the target) while that is more than
 * half the most the connection ever held is the whole queue as far as the target can tell. The
 * most ever held never shrinks, so a half (at most half of it) is never halved again, and a
 * host whose depth drops only loses the halves. hnvmf-perf at QD 128 sent ~94 commands per
 * call and was idle 60 % of its CPU waiting for the target, which waited for it in turn: 4 KiB
 * reads 1.25-1.69M IOPS in halves against 0.83-1.32M whole (spdk_nvme_perf 1.11-1.52M against
 * 1.13-1.68M, nvmf_tgt 0.90-1.20M). Large transfers lost by it (128 KiB reads at QD 32 with
 * hnvmf-perf 40-47K against 42-53K, 32 KiB 114-119K against 129-137K: the data, not the
 * host's turnaround, is what they wait for), so this count applies only to a batch of at
 * most TCP_HALVES_MAX_DATA of read data (4 KiB reads at QD 128 are 527 KiB). Fewer than
 * TCP_HALVES_MIN reads are sent whole: at QD 8 halves of 4 cost 10 % (2026-12-07, ad-hoc A/B
 * with spdk_nvme_perf; these figures and those of the count, of 2026-12-08, are in the commit
 * messages). */

/* The response window. A host that keeps many commands in flight answers each batch of
 * completions with a batch of commands; the target answered each read's commands with one
 * sendmsg as soon as they ran, and against spdk_nvme_perf at QD 128 that settled at ~5 commands
 * per system call (recv or sendmsg), each costing both sides a segment's fixed cost (the sender
 * also runs the loopback receiver's TCP path). Holding the flush until TCP_HOLD_RSPS responses
 * are queued, or TCP_HOLD_NS at most, made it 5.4-9 per call and +5-11 % IOPS at QD 64-128
 * (2026-12-07, alternating runs; the figures are in the commit message).
 *
 * Never at low depth: a "read" here is one readable callback (the recv calls of one turn, counted
 * by tcp_conn_readable), and it cannot bring more commands than the host has in flight (their
 * responses go out only after it, in the flusher), so the window opens only on a connection where
 * a read brought TCP_HOLD_BATCH commands or more in this period of TCP_HOLD_PERIOD reads or the
 * last one. A host below that depth (QD 1 to 39) never
 * waits; at QD 8 a window (opened on a 4-command average) cost a third of the IOPS. A window
 * holds only responses (an R2T, ICResp or C2HTermReq on the queue sends at once), never on a TLS
 * connection or one whose socket is full (EPOLLOUT decides then), and its reactor polls on
 * meanwhile: the flusher's work keeps the loop from sleeping, so reads go on. A host whose depth
 * drops keeps the window for up to two periods (512 reads), each response then waiting up to
 * TCP_HOLD_NS: bounded, and passed. */
void tcp_send_note_batch(struct tcp_conn *c, uint64_t cmds)
{
	if (cmds == 0)
		return;
	uint32_t n = cmds > 0xffff ? 0xffff : (uint32_t)cmds;
	if (n > c->rx_peak_cur)
		c->rx_peak_cur = n;
	if (++c->rx_reads >= TCP_HOLD_PERIOD) {
		c->rx_peak_prev = c->rx_peak_cur;
		c->rx_peak_cur = 0;
		c->cid_span_prev = c->cid_span_cur;
		c->cid_span_cur = 0;
		c->rx_reads = 0;
	}
}

bool tcp_send_hold(struct tcp_conn *c)
{
	if (c->state != TCP_CONN_LIVE || c->ssl || c->want_out || c->sendq_other > 0 ||
	    c->sendq_rsps == 0 || c->sendq_rsps >= TCP_HOLD_RSPS) {
		c->hold_since_ns = 0; /* nothing to hold, or the window is full: send */
		return false;
	}
	if (c->hold_since_ns == 0) {
		if (rx_peak(c) < TCP_HOLD_BATCH)
			return false;
		c->hold_since_ns = hnvmf_now_ns();
		c->stats.holds++;
		return true;
	}
	if (hnvmf_now_ns() - c->hold_since_ns < TCP_HOLD_NS)
		return true;
	c->hold_since_ns = 0;
	c->stats.hold_timeouts++;
	return false;
}

int tcp_send_poller(struct hnvmf_poller *p)
{
	struct tcp_reactor *rt = container_of(p, struct tcp_reactor, poller);
	/* The connections queued now; one its budget sends back to flushq waits for next turn. */
	struct hnvmf_list now;
	hnvmf_list_init(&now);
	while (!hnvmf_list_empty(&rt->flushq)) {
		struct hnvmf_list *n = rt->flushq.next;
		hnvmf_list_del(n);
		hnvmf_list_add_tail(&now, n);
	}
	int work = 0;
	while (!hnvmf_list_empty(&now)) {
		struct tcp_conn *c = container_of(now.next, struct tcp_conn, flush_link);
		hnvmf_list_del(&c->flush_link);
		c->flush_queued = false;
		if (tcp_send_hold(c))
			tcp_send_schedule(c); /* next turn: reads first, then this again */
		else
			tcp_send_flush(c);
		work++;
	}
	return work;
}
