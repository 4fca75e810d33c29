/* The configuration (conf/, plain data) in the engine's terms: conf has its own enums and bounds
 * so that it includes nothing of core/ or target/; they are mapped here by name, never by a cast,
 * and the bounds that must agree are checked at compile time. */
#ifndef HNVMF_CONF_MAP_H
#define HNVMF_CONF_MAP_H

#include "conf/conf.h"
#include "core/backend/backend.h"
#include "core/io.h"
#include "core/pqm-sizing.h"
#include "target/nvmf.h"

_Static_assert(HNVMF_CONF_MAX_NSID == HNVMF_MAX_NSID, "conf's namespace bound is the target's");
_Static_assert(HNVMF_CONF_MAX_IO_QUEUES == HNVMF_MAX_IO_QUEUES,
	       "conf's max_io_queues bound is the target's");
_Static_assert(HNVMF_CONF_MAX_SERVER_CPUS == HNVMF_MAX_SERVER_CPUS,
	       "[pqm] server_cpus fits the engine's CPU list");
_Static_assert(HNVMF_CONF_MAX_ANA_GROUPS == HNVMF_MAX_ANA_GROUPS, "conf's ANA group IDs are the target's");
_Static_assert((int)HNVMF_CONF_ANA_OPTIMIZED == (int)NVME_ANA_STATE_OPTIMIZED &&
		       (int)HNVMF_CONF_ANA_NON_OPTIMIZED == (int)NVME_ANA_STATE_NONOPTIMIZED &&
		       (int)HNVMF_CONF_ANA_INACCESSIBLE == (int)NVME_ANA_STATE_INACCESSIBLE &&
		       (int)HNVMF_CONF_ANA_PERSISTENT_LOSS == (int)NVME_ANA_STATE_PERSISTENT_LOSS &&
		       (int)HNVMF_CONF_ANA_CHANGE == (int)NVME_ANA_STATE_CHANGE,
	       "conf's ANA states are NVMe's encoding");
_Static_assert(HNVMF_CONF_PQM_CMAX_MAX == HNVMF_PQM_CMAX_LIMIT,
	       "[pqm] cmax accepts exactly the pool sizes the engine runs");

enum hnvmf_path_mode hnvmf_conf_map_mode(enum hnvmf_conf_mode m);
enum hnvmf_poll_mode hnvmf_conf_map_poll(enum hnvmf_conf_poll p);
/* A tenant file's PQM share: weight, limits (MiB/s to bytes per second), reservation. */
struct hnvmf_tenant_qos hnvmf_conf_map_qos(const struct hnvmf_conf_tenant *t);
/* The parameters to open backend b with; they point into b (its path), which must outlive them. */
struct hnvmf_backend_params hnvmf_conf_map_backend(const struct hnvmf_conf_backend *b);

#endif
