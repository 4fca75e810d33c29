/* Registered memory pools: fixed-size objects carved out of chunks that are registered with the
 * device once, when the chunk is made, and deregistered only at the end. The I/O path takes and
 * returns objects; it never registers memory. One slab is used by one reactor thread only.
 *
 * A slab grows by one chunk when it runs dry, up to max_chunks; past that rdma_slab_get returns
 * NULL and the caller waits for an object to come back (back-pressure). Chunks are kept until
 * rdma_slab_fini, so their registration is reused by every later connection. */
#ifndef HNVMF_RDMA_SLAB_H
#define HNVMF_RDMA_SLAB_H

#include <stdint.h>

struct ibv_pd;
struct ibv_mr;

/* What a completion's wr_id points at: the first member of every object posted to a QP. */
enum rdma_wr_kind {
	RDMA_WR_RECV = 1, /* a capsule buffer posted as a receive */
	RDMA_WR_REQ,      /* a request's RDMA READ, RDMA WRITE or SEND */
};

struct rdma_slab_obj {
	uint8_t wr_kind;          /* RDMA_WR_RECV when the object is a capsule buffer */
	uint8_t *addr;
	uint32_t lkey;
	uint32_t size;
	struct rdma_slab *slab;
	struct rdma_slab_obj *next; /* free list, or the owner's list */
};

struct rdma_slab_chunk {
	void *mem;
	struct ibv_mr *mr;
	struct rdma_slab_obj *objs;
	struct rdma_slab_chunk *next;
};

struct rdma_slab {
	const char *name;
	struct ibv_pd *pd;      /* NULL: plain memory, lkey 0 (unit tests) */
	int access;             /* ibv_access_flags for the chunks' registration */
	uint32_t obj_size;
	unsigned per_chunk;
	unsigned max_chunks;
	unsigned nchunks;
	unsigned nfree;
	struct rdma_slab_obj *free;
	struct rdma_slab_chunk *chunks;
};

void rdma_slab_init(struct rdma_slab *s, const char *name, struct ibv_pd *pd, int access,
		    uint32_t obj_size, unsigned per_chunk, unsigned max_chunks);
/* An object, or NULL: the slab is at max_chunks and every object is taken, or memory or the
 * registration failed (logged). */
struct rdma_slab_obj *rdma_slab_get(struct rdma_slab *s);
void rdma_slab_put(struct rdma_slab_obj *o);
/* Objects handed out and not returned. */
static inline unsigned rdma_slab_busy(const struct rdma_slab *s)
{
	return s->nchunks * s->per_chunk - s->nfree;
}
/* Deregisters and frees every chunk; every object must have come back. */
void rdma_slab_fini(struct rdma_slab *s);

#endif
