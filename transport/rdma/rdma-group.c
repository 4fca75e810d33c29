/* Devices and per-(reactor, device) groups: the registered pools a reactor's connections take
 * their capsule and data buffers from. Completion queues are per connection (rdma-cq.c). */
#include <stdlib.h>

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
	pthread_mutex_init(&g->capsule_lock, NULL);
	hnvmf_list_init(&g->buf_waiters);
	group_pools_init(g);
	g->next = rt->groups;
	rt->groups = g;
	if (!rt->poller_on) {
		rt->poller.fn = rdma_reactor_poll;
		hnvmf_reactor_add_poller(rt->r, &rt->poller);
		rt->poller_on = true;
	}
	log_debug("rdma: %s: group for %s", hnvmf_reactor_name(rt->r), ibv_get_device_name(dev->ctx->device));
	return g;
}

void rdma_group_free(struct rdma_group *g)
{
	pthread_mutex_destroy(&g->capsule_lock);
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
