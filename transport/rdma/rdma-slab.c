/* Registered memory pools (see rdma-slab.h). */
#include <infiniband/verbs.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "transport/rdma/rdma-slab.h"

void rdma_slab_init(struct rdma_slab *s, const char *name, struct ibv_pd *pd, int access,
		    uint32_t obj_size, unsigned per_chunk, unsigned max_chunks)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->pd = pd;
	s->access = access;
	/* Page-aligned objects: DMA-friendly, and data buffers never share a page. */
	s->obj_size = (obj_size + 4095u) / 4096u * 4096u;
	s->per_chunk = per_chunk ? per_chunk : 1;
	s->max_chunks = max_chunks;
}

static int grow(struct rdma_slab *s)
{
	if (s->nchunks >= s->max_chunks)
		return -1;
	struct rdma_slab_chunk *c = calloc(1, sizeof(*c));
	size_t bytes = (size_t)s->obj_size * s->per_chunk;
	if (!c)
		return -1;
	c->objs = calloc(s->per_chunk, sizeof(*c->objs));
	c->mem = aligned_alloc(4096, bytes);
	if (!c->objs || !c->mem)
		goto fail;
	if (s->pd) {
		c->mr = ibv_reg_mr(s->pd, c->mem, bytes, s->access);
		if (!c->mr) {
			log_err("rdma: cannot register %zu bytes for the %s pool: %m", bytes, s->name);
			goto fail;
		}
	}
	for (unsigned i = 0; i < s->per_chunk; i++) {
		struct rdma_slab_obj *o = &c->objs[i];
		o->addr = (uint8_t *)c->mem + (size_t)i * s->obj_size;
		o->lkey = c->mr ? c->mr->lkey : 0;
		o->size = s->obj_size;
		o->slab = s;
		o->next = s->free;
		s->free = o;
	}
	s->nfree += s->per_chunk;
	c->next = s->chunks;
	s->chunks = c;
	s->nchunks++;
	log_debug("rdma: %s pool grew to %u chunks of %u x %u bytes", s->name, s->nchunks,
		  s->per_chunk, s->obj_size);
	return 0;
fail:
	free(c->objs);
	free(c->mem);
	free(c);
	return -1;
}

struct rdma_slab_obj *rdma_slab_get(struct rdma_slab *s)
{
	if (!s->free && grow(s) < 0)
		return NULL;
	struct rdma_slab_obj *o = s->free;
	s->free = o->next;
	o->next = NULL;
	s->nfree--;
	return o;
}

void rdma_slab_put(struct rdma_slab_obj *o)
{
	struct rdma_slab *s = o->slab;
	o->next = s->free;
	s->free = o;
	s->nfree++;
}

void rdma_slab_fini(struct rdma_slab *s)
{
	if (rdma_slab_busy(s))
		log_warn("rdma: %s pool freed with %u objects still out", s->name, rdma_slab_busy(s));
	while (s->chunks) {
		struct rdma_slab_chunk *c = s->chunks;
		s->chunks = c->next;
		if (c->mr)
			ibv_dereg_mr(c->mr);
		free(c->mem);
		free(c->objs);
		free(c);
	}
	s->free = NULL;
	s->nchunks = 0;
	s->nfree = 0;
}
