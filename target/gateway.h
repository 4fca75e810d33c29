/* gateway.h - the daemon's side of a gateway group ([gateway], docs/scale-out.md): every ANA
 * group of the configuration starts in the standby state and becomes optimized here only while
 * this gateway owns it (target/gw-group.c decides, through RADOS leases). */
#ifndef HNVMF_GATEWAY_H
#define HNVMF_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "target/nvmf.h"

struct hnvmf_gateway;

/* Without [gateway] *out is NULL and nothing runs. Returns 0, or -1 with err set (the cluster
 * unreachable, a build without Ceph). stopped is called once if this gateway is fenced: the
 * daemon must stop (and be restarted by its supervisor, to rejoin with a new RADOS instance). */
int hnvmf_gateway_start(struct hnvmf_tgt *tgt, const struct hnvmf_conf *c, void (*fenced)(void),
			struct hnvmf_gateway **out, char *err, size_t errlen);
/* After a run-time change of the configuration (c: the model now served): the ANA groups its
 * namespaces use now are contended for, and the owner marks list the RBD clients of the
 * namespaces added (so that a takeover fences them too). Subsystems added at run time already
 * took the gateway's states (tgt->gw_ana). NULL gw: nothing. */
void hnvmf_gateway_reconfigured(struct hnvmf_gateway *gw, const struct hnvmf_conf *c);
/* Hands the groups it owns over (standby first, then the leases are released). NULL: nothing. */
void hnvmf_gateway_stop(struct hnvmf_gateway *gw);

#endif
