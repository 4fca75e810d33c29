/* Devices and per-(reactor, device) groups: the shared CQ with its completion channel on the
 * reactor, the registered pools, and the CQ polling.
 *
 * Polling: the reactor's poller drains every group's CQ in bursts each loop iteration. When a
 * CQ is found empty its notification is armed and the CQ is polled once more (a completion that
 * slipped in before the arming would otherwise wait for the next one); the reactor then sleeps
 * in epoll until the completion channel's fd says a completion arrived. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/log.h"
#include "transport/rdma/rdma-internal.h"

struct rdma_device *rdma_device_get(struct ibv_context *ctx)
{
	pthread_mutex_lock(&rdma_g.dev_lock);
	struct rdma_device *d;
	for (d = rdma_g.devices; d; d = d->next)
		if (d->ctx == ctx)
			goto out;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	d->ctx = ctx;
	if (ibv_query_device(ctx, &d->attr) != 0 || !(d->pd = ibv_alloc_pd(ctx))) {
		log_err("rdma: device %s: cannot query it or allocate a protection domain",
			ibv_get_device_name(ctx->device));
		free(d);
		d = NULL;
		goto out;
	}
	d->next = rdma_g.devices;
	rdma_g.devices = d;
	log_info("rdma: using device %s (max_qp_wr %d, max_cqe %d, max_qp_init_rd_atom %d)",
		 ibv_get_device_name(ctx->device), d->attr.max_qp_wr, d->attr.max_cqe,
		 d->attr.max_qp_init_rd_atom);
out:
	pthread_mutex_unlock(&rdma_g.dev_lock);
	return d;
}

void rdma_devices_fini(void)
{
	while (rdma_g.devices) {
		struct rdma_device *d = rdma_g.devices;
		rdma_g.devices = d->next;
		ibv_dealloc_pd(d->pd);
		free(d);
	}
}

static void group_event(struct hnvmf_event *ev, uint32_t revents)
{
	struct rdma_group *g = container_of(ev, struct rdma_group, ev);
	(void)revents;
	struct ibv_cq *cq;
	void *ctx;
	unsigned n = 0;
	while (ibv_get_cq_event(g->cc, &cq, &ctx) == 0)
		n++;
	if (n) {
		ibv_ack_cq_events(g->cq, n);
		g->armed = false;
	}
	/* The poller runs before the reactor sleeps again and drains the CQ. */
}

static void group_pools_init(struct rdma_group *g)
{
	struct ibv_pd *pd = g->dev->pd;
	unsigned depth = rdma_g.io_depth;
	/* Capsules: one chunk holds an I/O queue's receive buffers; grows per connection. */
	rdma_slab_init(&g->capsules, "capsule", pd, IBV_ACCESS_LOCAL_WRITE, rdma_g.capsule_size,
		       depth, 4096);
	/* Data: each chunk holds one queue depth of 16 KiB buffers (2 MiB at depth 128), 16 of
	 * 128 KiB, or 4 of MDTS; the caps bound what one reactor pins per device. We start every
	 * RDMA READ and WRITE ourselves and the host never learns these buffers' keys, so local
	 * write access (READ lands here) is all they are registered with. */
	rdma_slab_init(&g->bufs[0], "data-16k", pd, IBV_ACCESS_LOCAL_WRITE, RDMA_BUF_SMALL, depth,
		       8);
	rdma_slab_init(&g->bufs[1], "data-128k", pd, IBV_ACCESS_LOCAL_WRITE, RDMA_BUF_MEDIUM, 16,
		       16);
	g->nbufs = 2;
	if (rdma_g.buf_large > RDMA_BUF_MEDIUM) {
		rdma_slab_init(&g->bufs[2], "data-mdts", pd, IBV_ACCESS_LOCAL_WRITE,
			       rdma_g.buf_large, 4, 16);
		g->nbufs = 3;
	}
}

struct rdma_group *rdma_group_get(struct rdma_reactor *rt, struct rdma_device *dev)
{
	for (struct rdma_group *g = rt->groups; g; g = g->next)
		if (g->dev == dev)
			return g;
	struct rdma_group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->rt = rt;
	g->dev = dev;
	hnvmf_list_init(&g->buf_waiters);
	hnvmf_list_init(&g->conns);
	g->cq_size = dev->attr.max_cqe < RDMA_CQ_MAX_ENTRIES ? dev->attr.max_cqe
							     : RDMA_CQ_MAX_ENTRIES;
	g->cc = ibv_create_comp_channel(dev->ctx);
	if (!g->cc)
		goto fail;
	int fl = fcntl(g->cc->fd, F_GETFL);
	if (fl < 0 || fcntl(g->cc->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	g->cq = ibv_create_cq(dev->ctx, g->cq_size, g, g->cc, 0);
	if (!g->cq)
		goto fail;
	g->ev.fd = g->cc->fd;
	g->ev.cb = group_event;
	if (hnvmf_reactor_add_fd(rt->r, &g->ev, EPOLLIN) < 0)
		goto fail;
	group_pools_init(g);
	g->next = rt->groups;
	rt->groups = g;
	if (!rt->poller_on) {
		rt->poller.fn = rdma_reactor_poll;
		hnvmf_reactor_add_poller(rt->r, &rt->poller);
		rt->poller_on = true;
	}
	log_debug("rdma: %s: group for %s, CQ of %d entries", hnvmf_reactor_name(rt->r),
		  ibv_get_device_name(dev->ctx->device), g->cq_size);
	return g;
fail:
	log_err("rdma: %s: cannot set up a completion queue on %s: %m", hnvmf_reactor_name(rt->r),
		ibv_get_device_name(dev->ctx->device));
	if (g->cq)
		ibv_destroy_cq(g->cq);
	if (g->cc)
		ibv_destroy_comp_channel(g->cc);
	free(g);
	return NULL;
}

void rdma_group_unregister(struct rdma_group *g)
{
	if (g->ev.fd >= 0)
		hnvmf_reactor_del_fd(g->rt->r, &g->ev);
	g->ev.fd = -1;
}

void rdma_group_free(struct rdma_group *g)
{
	if (!hnvmf_list_empty(&g->conns))
		log_warn("rdma: group freed with connections left");
	ibv_destroy_cq(g->cq);
	ibv_destroy_comp_channel(g->cc);
	rdma_slab_fini(&g->capsules);
	for (unsigned i = 0; i < g->nbufs; i++)
		rdma_slab_fini(&g->bufs[i]);
	free(g);
}

struct rdma_slab_obj *rdma_group_buf_get(struct rdma_group *g, uint32_t len)
{
	for (unsigned i = 0; i < g->nbufs; i++)
		if (len <= g->bufs[i].obj_size)
			return rdma_slab_get(&g->bufs[i]);
	return NULL;
}

void rdma_group_kick_waiters(struct rdma_group *g)
{
	/* In arrival order; stop at the first that still finds no buffer, so a large request is
	 * not starved by small ones behind it. */
	while (!hnvmf_list_empty(&g->buf_waiters)) {
		struct rdma_req *t = container_of(g->buf_waiters.next, struct rdma_req, wait_link);
		hnvmf_list_del(&t->wait_link);
		rdma_req_continue(t);
		if (t->state == RDMA_REQ_WAIT_BUF)
			break; /* it went back to the head of the list */
	}
}

static struct rdma_conn *conn_of_qp(struct rdma_group *g, uint32_t qp_num)
{
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &g->conns) {
		struct rdma_conn *c = container_of(pos, struct rdma_conn, grp_link);
		if (c->qp_num == qp_num)
			return c;
	}
	return NULL;
}

static int poll_group(struct rdma_group *g)
{
	struct ibv_wc wc[RDMA_CQ_BURST];
	int total = 0;
	for (;;) {
		int n = ibv_poll_cq(g->cq, RDMA_CQ_BURST, wc);
		if (n < 0) {
			log_err("rdma: ibv_poll_cq failed");
			return total;
		}
		if (n == 0) {
			if (g->armed)
				break;
			/* Arm, then look once more: a completion queued in between would not
			 * raise an event. */
			if (ibv_req_notify_cq(g->cq, 0) != 0)
				log_err("rdma: cannot arm the completion queue");
			g->armed = true;
			continue;
		}
		total += n;
		for (int i = 0; i < n; i++) {
			/* A QP already destroyed (its flush never came in time) may leave
			 * completions behind: only live connections' wr_ids are followed. Nor
			 * those of WRs already given up on: counted again, they would keep the
			 * connection from ever looking idle. */
			struct rdma_conn *c = conn_of_qp(g, wc[i].qp_num);
			if (!c || c->wrs_abandoned)
				continue;
			uint8_t kind = *(const uint8_t *)(uintptr_t)wc[i].wr_id;
			if (kind == RDMA_WR_RECV) {
				c->posted_recv--;
				rdma_req_recv(c, (struct rdma_slab_obj *)(uintptr_t)wc[i].wr_id,
					      &wc[i]);
			} else {
				c->posted_send--;
				rdma_req_wr_done((struct rdma_req *)(uintptr_t)wc[i].wr_id, &wc[i]);
				rdma_conn_kick_wr_waiters(c);
			}
			rdma_conn_check_idle(c);
		}
		if (n < RDMA_CQ_BURST || total >= 8 * RDMA_CQ_BURST)
			break; /* let other groups and the reactor's inbox have a turn */
	}
	if (!hnvmf_list_empty(&g->buf_waiters))
		rdma_group_kick_waiters(g);
	return total;
}

int rdma_reactor_poll(struct hnvmf_poller *p)
{
	struct rdma_reactor *rt = container_of(p, struct rdma_reactor, poller);
	int work = 0;
	for (struct rdma_group *g = rt->groups; g; g = g->next)
		work += poll_group(g);
	return work;
}
