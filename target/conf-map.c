/* Configuration enums to engine enums (see target/conf-map.h). */
#include "target/conf-map.h"

enum hnvmf_path_mode hnvmf_conf_map_mode(enum hnvmf_conf_mode m)
{
	switch (m) {
	case HNVMF_CONF_MODE_DIRECT: return HNVMF_PATH_DIRECT;
	case HNVMF_CONF_MODE_PQM: return HNVMF_PATH_PQM;
	case HNVMF_CONF_MODE_DAM: return HNVMF_PATH_DAM;
	case HNVMF_CONF_MODE_BASELINE: return HNVMF_PATH_BASELINE;
	}
	/* The loader stores only the values above. */
	return HNVMF_PATH_PQM;
}

enum hnvmf_poll_mode hnvmf_conf_map_poll(enum hnvmf_conf_poll p)
{
	switch (p) {
	case HNVMF_CONF_POLL_NO: return HNVMF_POLL_NO;
	case HNVMF_CONF_POLL_AUTO: return HNVMF_POLL_AUTO;
	case HNVMF_CONF_POLL_YES: return HNVMF_POLL_YES;
	}
	return HNVMF_POLL_AUTO;
}

struct hnvmf_tenant_qos hnvmf_conf_map_qos(const struct hnvmf_conf_tenant *t)
{
	return (struct hnvmf_tenant_qos){
		.weight = t->weight,
		.max_iops = t->max_iops,
		.max_read_bps = t->max_read_mbps << 20,
		.max_write_bps = t->max_write_mbps << 20,
		.max_bps = t->max_mbps << 20,
		.reserved_iops = t->reserved_iops,
	};
}

static enum hnvmf_backend_type map_backend_type(enum hnvmf_conf_backend_type t)
{
	switch (t) {
	case HNVMF_CONF_BACKEND_RAM: return HNVMF_BACKEND_RAM;
	case HNVMF_CONF_BACKEND_NULL: return HNVMF_BACKEND_NULL;
	case HNVMF_CONF_BACKEND_FILE: return HNVMF_BACKEND_FILE;
	case HNVMF_CONF_BACKEND_RBD: return HNVMF_BACKEND_RBD;
	}
	/* The loader stores only the values above. */
	return HNVMF_BACKEND_NULL;
}

struct hnvmf_backend_params hnvmf_conf_map_backend(const struct hnvmf_conf_backend *b)
{
	return (struct hnvmf_backend_params){
		.type = map_backend_type(b->type),
		.path = b->type == HNVMF_CONF_BACKEND_FILE ? b->path : NULL,
		.size = b->size,
		.block_size = b->block_size,
		.readonly = b->readonly,
		.direct = b->direct,
		.rbd = {
			.ceph_conf = b->ceph_conf,
			.client = b->client,
			.pool = b->pool,
			.image = b->image,
			.rados_namespace = b->rados_namespace,
			.timeout_s = b->rbd_timeout_s,
		},
	};
}
