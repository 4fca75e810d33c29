/* Moving an NVMe/RDMA connection to another reactor (hnvmf_sq_ops.move): the RDMA side of the
 * protocol in transport/conn-move.h. A queue granted DAM moves to its DAM reactor, which from
 * then receives its capsules, submits to the queue's own backend queue pair, reaps the
 * completions and posts the responses itself: no ring and no second thread per io.
 *
 * Between commands: while a move is asked for, receive completions are held, in order, instead
 * of started (rdma-cq.c); the commands already started finish, and their RDMA READs, WRITEs and
 * SENDs complete. Movable once no request is busy: then nothing of the connection is in the old
 * reactor's group (no data buffer, no waiter) and no WR is posted but receives.
 *
 * Leaving (old reactor): the CM id is migrated to the new reactor's event channel first (if that
 * fails the connection stays where it is), then the CQ's channel leaves the old loop and the
 * connection the old lists. The QP, its CQ and channel, the posted receives, the held commands
 * and the capsules go along untouched: completions that arrive meanwhile wait in the CQ.
 * Arriving (new reactor): data buffers now come from the new reactor's group for the device, the
 * channel joins the new loop, and the poller starts the held commands, then polls the CQ. A CM
 * event that ends the connection and reaches the new reactor before the connection does is kept
 * (cm_close_why) and acted on at arrival. */
#include <string.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

static struct rdma_reactor *reactor_of(struct hnvmf_reactor *r)
{
	int i = hnvmf_transport_reactor_index(&rdma_g.env, r);
	return i < 0 ? NULL : &rdma_g.rts[i];
}

static bool movable(struct hnvmf_conn_move *m)
{
	const struct rdma_conn *c = container_of(m, struct rdma_conn, mv);
	return c->state == RDMA_CONN_LIVE && c->nbusy == 0 && c->posted_send == 0 &&
	       !c->destroy_queued && !c->wrs_abandoned && reactor_of(m->to);
}

static bool leave(struct hnvmf_conn_move *m, struct hnvmf_reactor *to)
{
	struct rdma_conn *c = container_of(m, struct rdma_conn, mv);
	struct rdma_reactor *from = c->rt, *rt = reactor_of(to);
	/* Every event of the id was acknowledged on this thread (channel_event), so the
	 * migration does not wait; events still unread move to the new channel. */
	if (rdma_migrate_id(c->id, rt->ch) != 0) {
		log_err("rdma %s: qid %u cannot move to %s: rdma_migrate_id: %m", c->sq.peer, c->sq.qid,
			hnvmf_reactor_name(to));
		rdma_cq_kick(c); /* the held commands start here after all */
		return false;
	}
	rdma_cq_detach(c);
	hnvmf_list_del(&c->link);
	from->nconns--;
	c->rt = rt;
	c->grp = NULL; /* the new reactor's group, found there */
	return true;
}

static void arrive(struct hnvmf_conn_move *m)
{
	struct rdma_conn *c = container_of(m, struct rdma_conn, mv);
	struct rdma_reactor *rt = c->rt;
	hnvmf_list_add_tail(&rt->conns, &c->link);
	rt->nconns++;
	c->grp = rdma_group_get(rt, c->dev);
	if (!c->grp) {
		c->grp = c->cap_grp; /* untouched by a closing connection: it starts nothing */
		rdma_conn_close(c, "no buffer pools on the new reactor");
	} else if (rdma_cq_attach(c) < 0) {
		log_err("rdma %s: cannot watch the completion channel on %s", c->sq.peer,
			hnvmf_reactor_name(rt->r));
		rdma_conn_close(c, "epoll failed");
	} else if (c->cm_close_why) {
		rdma_conn_close(c, c->cm_close_why);
	}
	if (atomic_load(&rdma_g.shutting_down))
		rdma_conn_drain(c);
	rdma_conn_check_idle(c); /* closed in transit: its destroy waited for the arrival */
}

const struct hnvmf_conn_move_ops rdma_move_ops = {.movable = movable, .leave = leave, .arrive = arrive};

void rdma_sq_move(struct hnvmf_sq *sq, struct hnvmf_reactor *to)
{
	struct rdma_conn *c = container_of(sq, struct rdma_conn, sq);
	if (!reactor_of(to))
		return;
	hnvmf_conn_move_request(&c->mv, to);
	if (!c->mv.to && c->nheld && !c->active)
		rdma_cq_kick(c); /* cancelled: the held commands start from the poller */
}
