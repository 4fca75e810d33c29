/* The daemon's side of a gateway group (see gateway.h). */
#include "target/gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#ifdef HNVMF_WITH_RBD
#include "core/backend/ceph-lib.h"
#include "target/gw-group.h"
#endif

struct hnvmf_gateway {
	struct hnvmf_tgt *tgt;
	uint8_t standby; /* the ANA state of groups it does not own */
	void (*fenced)(void);
#ifdef HNVMF_WITH_RBD
	struct hnvmf_gw_group *group;
	/* what the group was last told (start or update): a change that alters neither skips it */
	char fence[2048];
	uint32_t grpids[HNVMF_GW_MAX_ANA_GROUPS];
	unsigned ngrpids;
#endif
};

/* The ANA groups the configuration's namespaces use, each once. */
static unsigned used_groups(const struct hnvmf_conf *c, uint32_t *out, unsigned max)
{
	bool seen[HNVMF_CONF_MAX_ANA_GROUPS + 1] = {false};
	unsigned n = 0;
	for (size_t i = 0; i < c->nsubsystems; i++)
		for (size_t j = 0; j < c->subsystems[i].nns; j++) {
			uint32_t g = c->subsystems[i].ns[j].anagrpid;
			if (g && g <= HNVMF_CONF_MAX_ANA_GROUPS && !seen[g] && n < max) {
				seen[g] = true;
				out[n++] = g;
			}
		}
	return n;
}

#ifdef HNVMF_WITH_RBD
/* On the group's thread. The state change raises the ANA Change event on every controller of
 * the subsystems concerned (target/ana.c). */
static int on_role(void *arg, uint32_t grpid, bool owner)
{
	struct hnvmf_gateway *gw = arg;
	int rc = hnvmf_tgt_set_gateway_ana(gw->tgt, grpid, owner ? HNVMF_CONF_ANA_OPTIMIZED : gw->standby);
	return rc < 0 ? -1 : 0;
}

static void on_fenced(void *arg)
{
	struct hnvmf_gateway *gw = arg;
	gw->fenced();
}

/* The RADOS client addresses of the RBD backends behind the namespaces, one a line, into out: a
 * gateway that takes over from this one fences them with its own lease client, so that a
 * partitioned or frozen gateway's RBD writes are refused too. */
static void rbd_addrs(struct hnvmf_tgt *tgt, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		for (uint32_t nsid = 1; nsid <= s->max_nsid && off < len; nsid++) {
			struct hnvmf_ns *ns = atomic_load_explicit(&s->ns[nsid], memory_order_acquire);
			char a[256];
			if (ns && hnvmf_rbd_client_addr(ns->be, a, sizeof(a)) == 0) {
				int n = snprintf(out + off, len - off, "%s\n", a);
				off += n > 0 ? (size_t)n : 0;
			}
		}
	}
	pthread_mutex_unlock(&tgt->lock);
}
#endif

int hnvmf_gateway_start(struct hnvmf_tgt *tgt, const struct hnvmf_conf *c, void (*fenced)(void),
			struct hnvmf_gateway **out, char *err, size_t errlen)
{
	const struct hnvmf_conf_gateway *g = &c->gateway;
	*out = NULL;
	if (!g->group[0])
		return 0;
#ifndef HNVMF_WITH_RBD
	(void)tgt;
	(void)fenced;
	(void)used_groups;
	snprintf(err, errlen, "%s:%u: [gateway]: this hnvmfd was built without Ceph (HNVMF_RBD)", c->file,
		 g->line);
	return -1;
#else
	struct hnvmf_gateway *gw = calloc(1, sizeof(*gw));
	if (!gw) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gw->tgt = tgt;
	gw->standby = g->standby_state;
	gw->fenced = fenced;
	struct hnvmf_gw_group_params p = {
		.ceph_conf = g->ceph_conf, .client = g->client, .pool = g->pool, .group = g->group,
		.gateway = g->name, .lease_ms = g->lease_ms, .blocklist_s = g->blocklist_s,
		.failback = g->failback, .on_role = on_role, .on_fenced = on_fenced, .arg = gw,
	};
	p.ngrpids = used_groups(c, p.grpids, HNVMF_GW_MAX_ANA_GROUPS);
	rbd_addrs(tgt, gw->fence, sizeof(gw->fence));
	p.fence_addrs = gw->fence;
	memcpy(gw->grpids, p.grpids, sizeof(gw->grpids));
	gw->ngrpids = p.ngrpids;
	memcpy(p.preferred, g->preferred, sizeof(uint32_t) * g->npreferred);
	p.npreferred = g->npreferred;
	/* no host may see a group optimized before this gateway owns it: every group, also those
	 * only a namespace or subsystem added at run time will use */
	for (uint32_t grp = 1; grp <= HNVMF_MAX_ANA_GROUPS; grp++)
		hnvmf_tgt_set_gateway_ana(tgt, grp, gw->standby);
	char why[512];
	if (hnvmf_gw_group_start(&p, &gw->group, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s:%u: [gateway]: %s", c->file, g->line, why);
		free(gw);
		return -1;
	}
	log_notice("gateway %s of group %s: %u ANA group(s), lease %u ms", g->name, g->group, p.ngrpids,
		   g->lease_ms);
	*out = gw;
	return 0;
#endif
}

void hnvmf_gateway_reconfigured(struct hnvmf_gateway *gw, const struct hnvmf_conf *c)
{
	if (!gw)
		return;
#ifdef HNVMF_WITH_RBD
	uint32_t grpids[HNVMF_GW_MAX_ANA_GROUPS] = {0};
	unsigned n = used_groups(c, grpids, HNVMF_GW_MAX_ANA_GROUPS);
	char fence[2048];
	rbd_addrs(gw->tgt, fence, sizeof(fence));
	/* most changes (hosts, listeners, tenants) touch neither: no RADOS round trip for them */
	if (n == gw->ngrpids && memcmp(grpids, gw->grpids, sizeof(grpids)) == 0 && strcmp(fence, gw->fence) == 0)
		return;
	memcpy(gw->grpids, grpids, sizeof(grpids));
	gw->ngrpids = n;
	snprintf(gw->fence, sizeof(gw->fence), "%s", fence);
	if (hnvmf_gw_group_update(gw->group, grpids, n, fence) != 0)
		log_warn("gateway: the owner marks do not list the new namespaces' RBD clients yet (cluster slow); "
			 "the group's thread retries");
#else
	(void)c;
#endif
}

void hnvmf_gateway_stop(struct hnvmf_gateway *gw)
{
	if (!gw)
		return;
#ifdef HNVMF_WITH_RBD
	hnvmf_gw_group_stop(gw->group);
#endif
	free(gw);
}
