/* A connection's own completion queue and completion channel, and their polling.
 *
 * Why one CQ per connection rather than one per reactor: a QP's CQ is fixed when the QP is made,
 * and a CQ shared by a reactor's connections cannot follow one of them to another reactor. With
 * its own CQ and channel, a queue granted DAM takes its completions along to its DAM reactor
 * (rdma-move.c), which then receives, submits, reaps and sends for it alone.
 *
 * Polling: a reactor polls only the CQs on its active list. A CQ found empty is armed
 * (ibv_req_notify_cq) and polled once more (a completion queued in between raises no event);
 * still empty, it leaves the list, and its channel's fd, on the reactor, puts it back when a
 * completion arrives. An idle connection costs its reactor nothing; a busy one is polled every
 * loop turn, at most 8 bursts at a time so that the others and the inbox get their turn.
 *
 * Held receives: while a move is asked for (c->mv.to), a receive completion is a command that
 * must not start on this reactor. It is kept, in order, in c->held, while the completions of
 * the RDMA READs, WRITEs and SENDs of the commands already started are handled as usual, so that
 * those finish and the connection becomes movable. When no move is pending any more (it is over,
 * or was cancelled), the held commands start first, in the order they came, before the CQ is
 * polled again: nothing is lost or reordered. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

static void activate(struct rdma_conn *c)
{
	if (c->active || !c->cq_ev_on)
		return;
	c->active = true;
	hnvmf_list_add_tail(&c->rt->active, &c->active_link);
}

void rdma_cq_kick(struct rdma_conn *c) { activate(c); }

static void deactivate(struct rdma_conn *c)
{
	if (!c->active)
		return;
	c->active = false;
	hnvmf_list_del(&c->active_link);
}

static void cq_event(struct hnvmf_event *ev, uint32_t revents)
{
	struct rdma_conn *c = container_of(ev, struct rdma_conn, cq_ev);
	(void)revents;
	struct ibv_cq *cq;
	void *ctx;
	unsigned n = 0;
	while (ibv_get_cq_event(c->cc, &cq, &ctx) == 0)
		n++;
	if (n) {
		ibv_ack_cq_events(c->cq, n);
		c->cq_armed = false;
	}
	activate(c); /* the poller runs before the reactor sleeps again */
}

int rdma_cq_open(struct rdma_conn *c, int entries)
{
	struct ibv_context *ctx = c->dev->ctx;
	hnvmf_list_init(&c->active_link);
	c->cq_ev.fd = -1;
	c->held = calloc(c->cm.recv_depth, sizeof(*c->held));
	if (!c->held)
		return -ENOMEM;
	c->cc = ibv_create_comp_channel(ctx);
	if (!c->cc)
		return errno ? -errno : -ENOMEM;
	int fl = fcntl(c->cc->fd, F_GETFL);
	if (fl < 0 || fcntl(c->cc->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (entries > c->dev->attr.max_cqe)
		entries = c->dev->attr.max_cqe;
	c->cq = ibv_create_cq(ctx, entries, c, c->cc, 0);
	if (!c->cq)
		return errno ? -errno : -ENOMEM;
	c->cq_ev.fd = c->cc->fd;
	c->cq_ev.cb = cq_event;
	return 0;
}

int rdma_cq_attach(struct rdma_conn *c)
{
	int rc = hnvmf_reactor_add_fd(c->rt->r, &c->cq_ev, EPOLLIN);
	if (rc < 0)
		return rc;
	c->cq_ev_on = true;
	activate(c); /* completions may have come while it was elsewhere */
	return 0;
}

void rdma_cq_detach(struct rdma_conn *c)
{
	deactivate(c);
	if (c->cq_ev_on)
		hnvmf_reactor_del_fd(c->rt->r, &c->cq_ev);
	c->cq_ev_on = false;
}

void rdma_cq_close(struct rdma_conn *c)
{
	rdma_cq_detach(c);
	if (c->cq)
		ibv_destroy_cq(c->cq);
	if (c->cc)
		ibv_destroy_comp_channel(c->cc);
	c->cq = NULL;
	c->cc = NULL;
	free(c->held);
	c->held = NULL;
	c->nheld = 0;
}

/* The held commands start, oldest first, until a move is asked for again (one of them may be
 * the command whose completion grants DAM): the rest stay held, in order. */
static void start_held(struct rdma_conn *c)
{
	unsigned i = 0;
	while (i < c->nheld && !c->mv.to && c->state != RDMA_CONN_CLOSING) {
		struct ibv_wc wc = c->held[i++];
		rdma_req_recv(c, (struct rdma_slab_obj *)(uintptr_t)wc.wr_id, &wc);
		rdma_conn_check_idle(c);
	}
	if (c->state == RDMA_CONN_CLOSING)
		i = c->nheld; /* no new command: the capsules stay with the connection until it goes */
	memmove(c->held, c->held + i, (c->nheld - i) * sizeof(*c->held));
	c->nheld -= i;
}

static void handle(struct rdma_conn *c, struct ibv_wc *wc)
{
	uint8_t kind = *(const uint8_t *)(uintptr_t)wc->wr_id;
	if (kind == RDMA_WR_RECV) {
		c->posted_recv--;
		if (wc->status == IBV_WC_SUCCESS && c->state != RDMA_CONN_CLOSING &&
		    (c->mv.to || c->nheld) && c->nheld < c->cm.recv_depth) {
			c->held[c->nheld++] = *wc; /* a command for after the move */
			return;
		}
		rdma_req_recv(c, (struct rdma_slab_obj *)(uintptr_t)wc->wr_id, wc);
	} else {
		c->posted_send--;
		rdma_req_wr_done((struct rdma_req *)(uintptr_t)wc->wr_id, wc);
		rdma_conn_kick_wr_waiters(c);
	}
	rdma_conn_check_idle(c);
}

static int poll_conn(struct rdma_conn *c)
{
	if (c->nheld && !c->mv.to)
		start_held(c);
	struct ibv_wc wc[RDMA_CQ_BURST];
	int total = 0;
	while (c->active) {
		int n = ibv_poll_cq(c->cq, RDMA_CQ_BURST, wc);
		if (n < 0) {
			log_err("rdma %s: ibv_poll_cq failed", c->sq.peer);
			deactivate(c);
			rdma_conn_close(c, "cannot poll its completion queue");
			break;
		}
		if (n == 0) {
			if (c->cq_armed) {
				deactivate(c); /* the channel's fd brings it back */
				break;
			}
			/* Arm, then look once more: a completion queued in between would not raise
			 * an event. */
			if (ibv_req_notify_cq(c->cq, 0) != 0)
				log_err("rdma %s: cannot arm the completion queue", c->sq.peer);
			c->cq_armed = true;
			continue;
		}
		total += n;
		for (int i = 0; i < n; i++) {
			/* WRs given up after a flush timeout: counted again, they would keep the
			 * connection from ever looking idle. */
			if (!c->wrs_abandoned)
				handle(c, &wc[i]);
		}
		if (n < RDMA_CQ_BURST || total >= 8 * RDMA_CQ_BURST)
			break; /* let the other connections and the reactor's inbox have a turn */
	}
	return total;
}

int rdma_reactor_poll(struct hnvmf_poller *p)
{
	struct rdma_reactor *rt = container_of(p, struct rdma_reactor, poller);
	int work = 0;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &rt->active)
		work += poll_conn(container_of(pos, struct rdma_conn, active_link));
	for (struct rdma_group *g = rt->groups; g; g = g->next)
		if (!hnvmf_list_empty(&g->buf_waiters))
			rdma_group_kick_waiters(g);
	return work;
}
