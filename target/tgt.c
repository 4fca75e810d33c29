/* The target object: subsystems, namespaces and ports built from the configuration, host access
 * decisions, and a text description of the live state for the control socket. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "target/auth-limit.h"
#include "target/auth-worker.h"
#include "target/conf-map.h"
#include "target/key-grace.h"
#include "target/nvmf.h"
#include "target/sla.h"
#include "target/stats.h"

static struct hnvmf_subsys *subsys_new(const char *nqn)
{
	struct hnvmf_subsys *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->nqn, sizeof(s->nqn), "%s", nqn);
	return s;
}

void hnvmf_subsys_free(struct hnvmf_subsys *s)
{
	for (uint32_t i = 1; i <= s->max_nsid; i++)
		free(atomic_load(&s->ns[i]));
	free(s->hosts);
	free(s->listeners);
	free(s);
}

static int ns_init(struct hnvmf_ns *ns, uint32_t nsid, struct hnvmf_backend *be, const char *name)
{
	uint32_t bs = hnvmf_backend_block_size(be);
	ns->nsid = nsid;
	ns->be = be;
	ns->lba_shift = (uint8_t)__builtin_ctz(bs);
	ns->nlba = hnvmf_backend_size(be) >> ns->lba_shift;
	ns->readonly = hnvmf_backend_readonly(be);
	ns->anagrpid = 1; /* the default group (a configured namespace names its own) */
	snprintf(ns->backend_name, sizeof(ns->backend_name), "%s", name);
	return 0;
}

struct hnvmf_backend *hnvmf_tgt_backend(struct hnvmf_tgt *tgt, const char *name)
{
	for (size_t i = 0; i < tgt->nbackends; i++)
		if (strcmp(tgt->bconf[i].name, name) == 0)
			return tgt->backends[i];
	return NULL;
}

struct hnvmf_ns *hnvmf_ns_new(const struct hnvmf_conf_ns *cn, struct hnvmf_backend *be)
{
	struct hnvmf_ns *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return NULL;
	ns_init(ns, cn->nsid, be, cn->backend);
	memcpy(ns->nguid, cn->nguid, 16);
	memcpy(ns->uuid, cn->uuid, 16);
	ns->anagrpid = cn->anagrpid;
	return ns;
}

int hnvmf_subsys_build(struct hnvmf_tgt *tgt, const struct hnvmf_conf_subsys *cs, struct hnvmf_subsys **out,
		       char *err, size_t errlen)
{
	struct hnvmf_subsys *s = subsys_new(cs->nqn);
	if (!s)
		return -ENOMEM;
	snprintf(s->serial, sizeof(s->serial), "%s", cs->serial);
	snprintf(s->model, sizeof(s->model), "%s", cs->model);
	s->allow_any_host = cs->allow_any_host;
	hnvmf_ana_init(s, cs->ana_state);
	if (cs->nhosts) {
		s->hosts = calloc(cs->nhosts, sizeof(*s->hosts));
		if (!s->hosts)
			goto nomem;
		memcpy(s->hosts, cs->hosts, cs->nhosts * sizeof(*s->hosts));
		s->nhosts = cs->nhosts;
	}
	if (cs->nlisteners) {
		s->listeners = calloc(cs->nlisteners, sizeof(*s->listeners));
		if (!s->listeners)
			goto nomem;
		memcpy(s->listeners, cs->listeners, cs->nlisteners * sizeof(*s->listeners));
		s->nlisteners = cs->nlisteners;
	}
	for (size_t i = 0; i < cs->nns; i++) {
		const struct hnvmf_conf_ns *cn = &cs->ns[i];
		struct hnvmf_backend *be = hnvmf_tgt_backend(tgt, cn->backend);
		if (!be || cn->nsid == 0 || cn->nsid > HNVMF_MAX_NSID) {
			snprintf(err, errlen, "subsystem %s: namespace %u: bad backend or nsid", cs->nqn, cn->nsid);
			hnvmf_subsys_free(s);
			return -EINVAL;
		}
		struct hnvmf_ns *ns = hnvmf_ns_new(cn, be);
		if (!ns)
			goto nomem;
		atomic_store(&s->ns[cn->nsid], ns);
		if (cn->nsid > s->max_nsid)
			s->max_nsid = cn->nsid;
	}
	*out = s;
	return 0;
nomem:
	hnvmf_subsys_free(s);
	return -ENOMEM;
}

/* [pqm] dam_poll = yes on a backend that cannot poll is known at load: said there, as a warning
 * (a namespace only hosts without DAM use is no error); a DAM queue's I/O to it fails later, with
 * the reason logged again (core/path-dam.c). */
static void warn_dam_poll(const struct hnvmf_conf *conf, const struct hnvmf_conf_backend *cb,
			  const struct hnvmf_backend *be)
{
	char why[160] = "";
	if (conf->pqm.dam_poll == HNVMF_CONF_POLL_YES && !hnvmf_backend_can_poll(be, why, sizeof(why)))
		log_warn("%s:%u: backend %s: [pqm] dam_poll = yes, but %s: a DAM queue's I/O to it will fail",
			 conf->file[0] ? conf->file : "embedded default", cb->line, cb->name, why);
}

/* Opens every backend into be[] (parallel to conf->backends), or none: on a failure the ones
 * opened are closed and err says "file:line: backend NAME: why". */
static int open_backends(const struct hnvmf_conf *conf, struct hnvmf_backend **be, char *err,
			 size_t errlen)
{
	for (size_t i = 0; i < conf->nbackends; i++) {
		char msg[256] = "";
		struct hnvmf_backend_params bp = hnvmf_conf_map_backend(&conf->backends[i]);
		int rc = hnvmf_backend_open(&bp, &be[i], msg, sizeof(msg));
		if (rc) {
			snprintf(err, errlen, "%s:%u: backend %s: %s",
				 conf->file[0] ? conf->file : "embedded default", conf->backends[i].line,
				 conf->backends[i].name, msg[0] ? msg : strerror(-rc));
			while (i--) {
				hnvmf_backend_close(be[i]);
				be[i] = NULL;
			}
			return rc;
		}
		warn_dam_poll(conf, &conf->backends[i], be[i]);
	}
	return 0;
}

static int subsys_from_conf(struct hnvmf_tgt *tgt, const struct hnvmf_conf_subsys *cs, char *err,
			    size_t errlen)
{
	struct hnvmf_subsys *s;
	int rc = hnvmf_subsys_build(tgt, cs, &s, err, errlen);
	if (rc == 0)
		hnvmf_list_add_tail(&tgt->subsystems, &s->link);
	return rc;
}

int hnvmf_tgt_check(const struct hnvmf_conf *conf, char *err, size_t errlen)
{
	struct hnvmf_backend **be = calloc(conf->nbackends ? conf->nbackends : 1, sizeof(*be));
	if (!be) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = open_backends(conf, be, err, errlen);
	for (size_t i = 0; !rc && i < conf->nbackends; i++)
		hnvmf_backend_close(be[i]);
	free(be);
	return rc;
}

int hnvmf_tgt_create(struct hnvmf_conf *conf, struct hnvmf_engine *engine, struct hnvmf_tgt **out,
		     char *err, size_t errlen)
{
	struct hnvmf_tgt *tgt = calloc(1, sizeof(*tgt));
	if (!tgt)
		return -ENOMEM;
	tgt->conf = conf;
	tgt->engine = engine;
	pthread_mutex_init(&tgt->lock, NULL);
	hnvmf_list_init(&tgt->subsystems);
	hnvmf_list_init(&tgt->ports);
	hnvmf_list_init(&tgt->ctrls);
	tgt->next_cntlid = (uint16_t)conf->cntlid_min;
	atomic_init(&tgt->genctr, 1);
	tgt->tenants = conf->tenants;
	tgt->ntenants = conf->ntenants;
	hnvmf_list_init(&tgt->hosts);
	hnvmf_list_init(&tgt->retired);

	int rc = -ENOMEM;
	tgt->backends = calloc(conf->nbackends ? conf->nbackends : 1, sizeof(*tgt->backends));
	tgt->bconf = calloc(conf->nbackends ? conf->nbackends : 1, sizeof(*tgt->bconf));
	if (!tgt->backends || !tgt->bconf)
		goto fail;
	rc = open_backends(conf, tgt->backends, err, errlen);
	if (rc)
		goto fail;
	if (conf->nbackends)
		memcpy(tgt->bconf, conf->backends, conf->nbackends * sizeof(*tgt->bconf));
	tgt->nbackends = conf->nbackends;
	tgt->start_ns = hnvmf_now_ns();
	rc = hnvmf_stats_create(&tgt->stats);
	if (!rc)
		rc = hnvmf_sla_start(tgt, conf->metrics.sla_epoch_ms, &tgt->sla);
	if (rc)
		goto fail;
	rc = hnvmf_auth_pool_create(conf->limits.auth_workers, &tgt->auth_pool);
	if (!rc)
		rc = hnvmf_auth_limit_create(conf->limits.auth_max_failures, conf->limits.auth_backoff_ms,
					     &tgt->auth_limit);
	if (rc) {
		snprintf(err, errlen, "DH-HMAC-CHAP workers and limits: %s", strerror(-rc));
		goto fail;
	}
	rc = -ENOMEM;
	tgt->discovery = subsys_new(HNVMF_DISCOVERY_NQN);
	if (!tgt->discovery)
		goto fail;
	tgt->discovery->discovery = true;
	tgt->discovery->allow_any_host = true;
	snprintf(tgt->discovery->serial, sizeof(tgt->discovery->serial), "hnvmf-discovery");
	snprintf(tgt->discovery->model, sizeof(tgt->discovery->model), "hnvmf discovery");
	for (size_t i = 0; i < conf->nsubsystems; i++) {
		rc = subsys_from_conf(tgt, &conf->subsystems[i], err, errlen);
		if (rc)
			goto fail;
	}
	*out = tgt;
	return 0;
fail:
	hnvmf_tgt_destroy(tgt);
	return rc;
}

void hnvmf_tgt_destroy(struct hnvmf_tgt *tgt)
{
	if (!tgt)
		return;
	hnvmf_sla_stop(tgt->sla); /* it reads the statistics and the tenants */
	hnvmf_key_grace_free(tgt);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		hnvmf_list_del(&s->link);
		hnvmf_subsys_free(s);
	}
	if (tgt->discovery)
		hnvmf_subsys_free(tgt->discovery);
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ports)
	{
		struct hnvmf_port *p = container_of(pos, struct hnvmf_port, link);
		hnvmf_list_del(&p->link);
		free(p);
	}
	hnvmf_list_for_each_safe(pos, tmp, &tgt->hosts) /* none once every queue is gone */
	{
		hnvmf_list_del(pos);
		free(pos);
	}
	hnvmf_retired_release(tgt);
	if (tgt->backends) {
		for (size_t i = 0; i < tgt->nbackends; i++)
			hnvmf_backend_close(tgt->backends[i]);
		free(tgt->backends);
	}
	free(tgt->bconf);
	hnvmf_auth_pool_destroy(tgt->auth_pool);
	hnvmf_auth_limit_destroy(tgt->auth_limit);
	hnvmf_stats_destroy(tgt->stats);
	pthread_mutex_destroy(&tgt->lock);
	free(tgt);
}

void hnvmf_tgt_stop_auth(struct hnvmf_tgt *tgt)
{
	hnvmf_auth_pool_destroy(tgt->auth_pool);
	tgt->auth_pool = NULL;
}

struct hnvmf_subsys *hnvmf_tgt_find_subsys(struct hnvmf_tgt *tgt, const char *nqn)
{
	if (strcmp(nqn, HNVMF_DISCOVERY_NQN) == 0)
		return tgt->discovery;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		if (strcmp(s->nqn, nqn) == 0)
			return s;
	}
	return NULL;
}

struct hnvmf_port *hnvmf_tgt_add_port(struct hnvmf_tgt *tgt, const struct hnvmf_conf_listener *l)
{
	struct hnvmf_port *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->conf = *l;
	p->tgt = tgt;
	atomic_init(&p->refs, 1); /* tgt->ports' */
	pthread_mutex_lock(&tgt->lock);
	/* PORTID is unique among the ports listed: one more than the highest (ports come and go). */
	uint16_t id = 1;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ports)
	{
		uint16_t used = container_of(pos, struct hnvmf_port, link)->portid;
		if (used >= id)
			id = (uint16_t)(used + 1);
	}
	p->portid = id;
	hnvmf_list_add_tail(&tgt->ports, &p->link);
	pthread_mutex_unlock(&tgt->lock);
	return p;
}

void hnvmf_port_get(struct hnvmf_port *p)
{
	if (p)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void hnvmf_port_put(struct hnvmf_port *p)
{
	if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		free(p);
}

bool hnvmf_subsys_on_port(const struct hnvmf_subsys *s, const struct hnvmf_port *p)
{
	if (s->discovery)
		return true;
	if (p->conf.discovery)
		return false;
	if (!s->nlisteners)
		return true;
	for (size_t i = 0; i < s->nlisteners; i++)
		if (strcmp(s->listeners[i], p->conf.name) == 0)
			return true;
	return false;
}

/* A host may use a subsystem that allows any host, lists the host, or that the host's tenant
 * file names. Called with tgt->lock held or on the control path. */
bool hnvmf_host_allowed(struct hnvmf_tgt *tgt, const struct hnvmf_subsys *s, const char *hostnqn)
{
	if (s->allow_any_host)
		return true;
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i], hostnqn) == 0)
			return true;
	const struct hnvmf_conf_tenant *t = hnvmf_conf_find_tenant(tgt->tenants, tgt->ntenants, hostnqn);
	if (t)
		for (size_t i = 0; i < t->nsubsystems; i++)
			if (strcmp(t->subsystems[i], s->nqn) == 0)
				return true;
	return false;
}

/* Every queue of the controller is on a TLS connection. */
static bool ctrl_all_tls(struct hnvmf_ctrl *c)
{
	bool all = true;
	pthread_mutex_lock(&c->lock);
	for (unsigned q = 0; q <= HNVMF_MAX_IO_QUEUES; q++)
		if (c->sqs[q] && !c->sqs[q]->tls)
			all = false;
	pthread_mutex_unlock(&c->lock);
	return all;
}

/* Why the tenant set now in force would not admit the controller at Connect, or NULL. The
 * discovery controller serves any host and no data. */
static const char *reload_revokes(struct hnvmf_tgt *tgt, struct hnvmf_ctrl *c, bool had_tenant)
{
	if (c->subsys->discovery)
		return NULL;
	if (had_tenant && !c->tenant)
		return "its tenant file was removed by reload";
	if (!hnvmf_host_allowed(tgt, c->subsys, c->hostnqn))
		return "its host is no longer allowed on the subsystem after reload";
	if (c->tenant && c->tenant->tls_psk[0] && !ctrl_all_tls(c))
		return "its tenant has a TLS PSK after reload and a queue is not on TLS";
	return NULL;
}

void hnvmf_tgt_set_tenants(struct hnvmf_tgt *tgt, struct hnvmf_conf_tenant *t, size_t n,
			   struct hnvmf_conf_tenant **old, size_t *nold)
{
	pthread_mutex_lock(&tgt->lock);
	*old = tgt->tenants;
	*nold = tgt->ntenants;
	tgt->tenants = t;
	tgt->ntenants = n;
	hnvmf_key_grace_update(tgt, *old, *nold);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		bool had_tenant = c->tenant != NULL;
		c->tenant = hnvmf_conf_find_tenant(t, n, c->hostnqn);
		const char *why = reload_revokes(tgt, c, had_tenant);
		if (why)
			hnvmf_ctrl_fatal_locked(c, why);
	}
	pthread_mutex_unlock(&tgt->lock);
}
