/* Per-reactor cache of large data buffers (128 KiB and MDTS-sized). Transfers that fit a
 * request slot's own buffer never come here; larger ones take a cached buffer and give it back
 * when their response has been sent, so the I/O path does not malloc once the cache is warm.
 * Only the reactor's thread touches its cache. Buffers are page aligned for O_DIRECT backends. */
#include <stdlib.h>

#include "transport/tcp/tcp-internal.h"

#define TCP_BUF_ALIGN 4096
/* Kept at most: a full queue of 128 KiB transfers, fewer of the MDTS size. */
#define TCP_CACHE_MAX_LARGE 256
#define TCP_CACHE_MAX_MDTS 32

void tcp_bufcache_init(struct tcp_bufcache *bc, uint32_t mdts)
{
	bc->free[0] = bc->free[1] = NULL;
	bc->count[0] = bc->count[1] = 0;
	bc->size[0] = TCP_BUF_LARGE;
	bc->max[0] = TCP_CACHE_MAX_LARGE;
	bc->size[1] = mdts > TCP_BUF_LARGE ? mdts : 0;
	bc->max[1] = TCP_CACHE_MAX_MDTS;
}

void tcp_bufcache_fini(struct tcp_bufcache *bc)
{
	for (int i = 0; i < 2; i++) {
		while (bc->free[i]) {
			void *b = bc->free[i];
			bc->free[i] = *(void **)b;
			free(b);
		}
		bc->count[i] = 0;
	}
}

static void *alloc_aligned(size_t len)
{
	size_t rounded = (len + TCP_BUF_ALIGN - 1) / TCP_BUF_ALIGN * TCP_BUF_ALIGN;
	return aligned_alloc(TCP_BUF_ALIGN, rounded);
}

uint64_t tcp_buf_footprint(const struct tcp_bufcache *bc, uint32_t len)
{
	for (int i = 0; i < 2; i++)
		if (bc->size[i] != 0 && len <= bc->size[i])
			return bc->size[i];
	return ((uint64_t)len + TCP_BUF_ALIGN - 1) / TCP_BUF_ALIGN * TCP_BUF_ALIGN;
}

void *tcp_buf_get(struct tcp_bufcache *bc, uint32_t len, enum tcp_buf_class *cls)
{
	for (int i = 0; i < 2; i++) {
		if (bc->size[i] == 0 || len > bc->size[i])
			continue;
		*cls = i == 0 ? TCP_BUF_CACHED : TCP_BUF_MDTS;
		void *b = bc->free[i];
		if (b) {
			bc->free[i] = *(void **)b;
			bc->count[i]--;
			return b;
		}
		return alloc_aligned(bc->size[i]);
	}
	*cls = TCP_BUF_HEAP;
	return alloc_aligned(len);
}

void tcp_buf_put(struct tcp_bufcache *bc, void *buf, enum tcp_buf_class cls)
{
	int i = cls == TCP_BUF_CACHED ? 0 : cls == TCP_BUF_MDTS ? 1 : -1;
	if (i < 0 || bc->count[i] >= bc->max[i]) {
		free(buf);
		return;
	}
	*(void **)buf = bc->free[i];
	bc->free[i] = buf;
	bc->count[i]++;
}
