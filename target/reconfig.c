/* Run-time change by difference (reconfig.h). Two phases: prepare checks everything and opens
 * or probes what the new model needs without touching the target, so a refusal changes
 * nothing; commit then applies the difference in an order that keeps every pointer a reactor
 * may hold valid:
 *   - a namespace leaves its subsystem's table first (new commands for it fail with Invalid
 *     Namespace), then each queue's channel to it is closed on the queue's reactor once the
 *     queue holds no request for it (sq->ns_busy), then its Namespace Attribute Changed event
 *     goes out. Its memory is freed then, or, when a controller was being torn down meanwhile
 *     (it may still hold the namespace), retired until the target stops. A backend no
 *     namespace names any more is retired and closed at the first safe point where no channel
 *     uses it (hnvmf_retired_collect: at the end of the change, then on the main loop's tick),
 *     once the engine has closed the queue pairs its servers kept to it;
 *   - a subsystem leaves the list (Connect finds it no more), every reactor passes a quiescent
 *     point (a Connect that found it before has finished), its controllers are disconnected
 *     (their I/O completes first), and it is freed when the last of them is gone;
 *   - a listener stops listening and leaves the discovery log; connections made through it stay,
 *     and it is freed with the last of them (hnvmf_port_put).
 * Only the control thread or the main thread runs it, one change at a time (the caller's lock). */
#include "target/reconfig.h"

#include <errno.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "target/conf-map.h"

#define DRAIN_WAIT_MS 30000 /* a namespace's or subsystem's I/O to finish before we give up waiting */

/* Something taken out of service that a thread may still reach; released with the target. */
struct hnvmf_retired {
	struct hnvmf_list link;
	enum { RETIRED_BACKEND, RETIRED_NS, RETIRED_SUBSYS } kind; /* what mem is (with be NULL) */
	struct hnvmf_backend *be; /* closed, or NULL */
	struct hnvmf_conf_backend *conf; /* be's (a file backend added again is this one again), or NULL */
	void *mem;                /* freed, or NULL */
};

/* A retired ram backend gives its memory back at once (a discard of the whole range, as a host's
 * Deallocate would): only its mapping stays until the target stops. */
static void discard_ram(struct hnvmf_backend *be)
{
	struct hnvmf_bqp *qp;
	if (hnvmf_bqp_open(be, 1, &qp) != 0)
		return;
	struct hnvmf_bio bio = {.op = HNVMF_BIO_DISCARD, .len = hnvmf_backend_size(be)}, *done;
	if (hnvmf_bqp_submit(qp, &bio) == 0)
		hnvmf_bqp_poll(qp, &done, 1);
	hnvmf_bqp_close(qp);
}

static void retire(struct hnvmf_tgt *tgt, struct hnvmf_backend *be, const struct hnvmf_conf_backend *conf,
		   void *mem, int kind)
{
	struct hnvmf_retired *r = calloc(1, sizeof(*r));
	if (!r) { /* kept open and allocated for good: safe, only not reclaimed */
		log_warn("out of memory: a retired namespace or backend is not reclaimed");
		return;
	}
	if (conf && !(r->conf = malloc(sizeof(*r->conf)))) {
		log_warn("out of memory: a retired backend is not reclaimed");
		free(r);
		return;
	}
	if (be && conf->type == HNVMF_CONF_BACKEND_RAM)
		discard_ram(be);
	r->kind = kind;
	r->be = be;
	if (conf)
		*r->conf = *conf;
	r->mem = mem;
	pthread_mutex_lock(&tgt->lock);
	hnvmf_list_add_tail(&tgt->retired, &r->link);
	pthread_mutex_unlock(&tgt->lock);
}

/* Whether a retired namespace or subsystem (kept because a controller being torn down may
 * reach it, and open a channel through it) still points at be. Under tgt->lock. */
static bool retired_ns_uses(struct hnvmf_tgt *tgt, const struct hnvmf_backend *be)
{
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->retired)
	{
		const struct hnvmf_retired *r = container_of(pos, struct hnvmf_retired, link);
		if (r->kind == RETIRED_NS && ((const struct hnvmf_ns *)r->mem)->be == be)
			return true;
		if (r->kind == RETIRED_SUBSYS) {
			struct hnvmf_subsys *rs = r->mem;
			for (uint32_t nsid = 1; nsid <= rs->max_nsid; nsid++) {
				const struct hnvmf_ns *ns = atomic_load_explicit(&rs->ns[nsid], memory_order_acquire);
				if (ns && ns->be == be)
					return true;
			}
		}
	}
	return false;
}

unsigned hnvmf_retired_collect(struct hnvmf_tgt *tgt)
{
	struct hnvmf_list done, *pos, *tmp;
	hnvmf_list_init(&done);
	pthread_mutex_lock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &tgt->retired)
	{
		struct hnvmf_retired *r = container_of(pos, struct hnvmf_retired, link);
		if (r->be && hnvmf_backend_users(r->be) == 0 && !retired_ns_uses(tgt, r->be)) {
			hnvmf_list_del(&r->link);
			hnvmf_list_add_tail(&done, &r->link);
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	unsigned n = 0;
	hnvmf_list_for_each_safe(pos, tmp, &done)
	{
		struct hnvmf_retired *r = container_of(pos, struct hnvmf_retired, link);
		hnvmf_list_del(&r->link);
		/* No channel uses it and none can open (no namespace names it): what the engine
		 * kept open to it goes, then the backend (a file backend's data reaches the file). */
		if (tgt->engine)
			hnvmf_engine_forget_backend(tgt->engine, r->be);
		log_info("backend %s closed (its last I/O completed)", r->conf ? r->conf->name : "?");
		hnvmf_backend_close(r->be);
		free(r->conf);
		free(r);
		n++;
	}
	if (n) {
		pthread_mutex_lock(&tgt->lock);
		tgt->retired_closed += n;
		pthread_mutex_unlock(&tgt->lock);
	}
	return n;
}

unsigned hnvmf_retired_held(struct hnvmf_tgt *tgt)
{
	unsigned n = 0;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->retired) n += container_of(pos, struct hnvmf_retired, link)->be != NULL;
	pthread_mutex_unlock(&tgt->lock);
	return n;
}

void hnvmf_retired_release(struct hnvmf_tgt *tgt)
{
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->retired)
	{
		struct hnvmf_retired *r = container_of(pos, struct hnvmf_retired, link);
		hnvmf_list_del(&r->link);
		hnvmf_backend_close(r->be);
		free(r->mem);
		free(r->conf);
		free(r);
	}
}

static const char *file_of(const struct hnvmf_conf *c) { return c->file[0] ? c->file : "embedded default"; }

/* ---- prepare: what cannot change at run time ---- */

/* The first [global] (or [pqm], [limits], [metrics]) setting that differs, or NULL. Those are
 * read by transports and the engine at start only. log_level and tenants_dir may change. */
static const char *fixed_setting_changed(const struct hnvmf_conf *a, const struct hnvmf_conf *b)
{
#define DIFF(f, name)                                                                              \
	if (a->f != b->f)                                                                          \
		return name;
	DIFF(reactors, "[global] reactors")
	DIFF(default_mode, "[global] default_mode")
	DIFF(kato_default_ms, "[global] kato_default_ms")
	DIFF(max_io_queues, "[global] max_io_queues")
	DIFF(queue_depth, "[global] queue_depth")
	DIFF(inline_data_size, "[global] inline_data_size")
	DIFF(mdts_kib, "[global] mdts_kib")
#undef DIFF
	if (a->ndam_whitelist != b->ndam_whitelist ||
	    (a->ndam_whitelist && memcmp(a->dam_whitelist, b->dam_whitelist, a->ndam_whitelist * sizeof(int))))
		return "[global] dam_whitelist";
	if (strcmp(a->control_socket, b->control_socket) != 0)
		return "[global] control_socket";
	if (memcmp(&a->pqm, &b->pqm, sizeof(a->pqm)) != 0)
		return "[pqm]";
	if (memcmp(&a->limits, &b->limits, sizeof(a->limits)) != 0)
		return "[limits]";
	if (memcmp(&a->metrics, &b->metrics, sizeof(a->metrics)) != 0)
		return "[metrics]";
	return NULL;
}

/* ---- prepare: backends ---- */

/* The same storage opened the same way: only its size may differ. */
static bool same_backend(const struct hnvmf_conf_backend *a, const struct hnvmf_conf_backend *b)
{
	return a->type == b->type && a->block_size == b->block_size && a->readonly == b->readonly &&
	       a->direct == b->direct && strcmp(a->path, b->path) == 0;
}

struct plan_be {
	struct hnvmf_backend *be;
	bool opened;      /* opened for the new model (closed again when the change is refused) */
	struct hnvmf_retired *was; /* taken back from tgt->retired (put back when refused) */
	bool resize;      /* set_size(size) at commit */
	uint64_t size;
};

struct plan {
	struct plan_be *be;  /* parallel to nw->backends */
	size_t nbe;
	struct hnvmf_backend **backends; /* the target's next table, parallel to nw->backends */
	struct hnvmf_conf_backend *bconf;
};

static void plan_undo(struct hnvmf_tgt *tgt, struct plan *pl)
{
	for (size_t i = 0; pl->be && i < pl->nbe; i++) {
		if (pl->be[i].opened)
			hnvmf_backend_close(pl->be[i].be);
		if (pl->be[i].was) {
			pthread_mutex_lock(&tgt->lock);
			hnvmf_list_add_tail(&tgt->retired, &pl->be[i].was->link);
			pthread_mutex_unlock(&tgt->lock);
		}
	}
	free(pl->be);
	free(pl->backends);
	free(pl->bconf);
}

static ssize_t running_backend(struct hnvmf_tgt *tgt, const char *name)
{
	for (size_t i = 0; i < tgt->nbackends; i++)
		if (strcmp(tgt->bconf[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* A retired file backend of the same file opened the same way, taken off the list: adding a
 * file back after its removal costs no descriptor more. A ram backend is never taken back: a
 * new namespace starts zeroed. */
static struct hnvmf_retired *take_retired(struct hnvmf_tgt *tgt, const struct hnvmf_conf_backend *b)
{
	if (b->type != HNVMF_CONF_BACKEND_FILE)
		return NULL;
	struct hnvmf_retired *found = NULL;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->retired)
	{
		struct hnvmf_retired *r = container_of(pos, struct hnvmf_retired, link);
		if (r->be && same_backend(r->conf, b)) {
			hnvmf_list_del(&r->link);
			found = r;
			break;
		}
	}
	pthread_mutex_unlock(&tgt->lock);
	return found;
}

static int prepare_backends(struct hnvmf_tgt *tgt, const struct hnvmf_conf *nw, struct plan *pl, char *err,
			    size_t errlen)
{
	size_t n = nw->nbackends ? nw->nbackends : 1;
	pl->nbe = nw->nbackends;
	pl->be = calloc(n, sizeof(*pl->be));
	pl->backends = calloc(n, sizeof(*pl->backends));
	pl->bconf = calloc(n, sizeof(*pl->bconf));
	if (!pl->be || !pl->backends || !pl->bconf) {
		snprintf(err, errlen, "%s: out of memory", file_of(nw));
		return -1;
	}
	for (size_t i = 0; i < nw->nbackends; i++) {
		const struct hnvmf_conf_backend *b = &nw->backends[i];
		ssize_t j = running_backend(tgt, b->name);
		char msg[256] = "";
		int rc = 0;
		struct plan_be *p = &pl->be[i];
		bool running = j >= 0 && same_backend(&tgt->bconf[j], b);
		if (!running && (p->was = take_retired(tgt, b)) != NULL)
			p->be = p->was->be;
		if (running || p->was) {
			const struct hnvmf_conf_backend *had = running ? &tgt->bconf[j] : p->was->conf;
			if (running)
				p->be = tgt->backends[j];
			/* A file's own size (size = 0) is looked at again: the file may have grown. */
			if (b->size != had->size || (b->type == HNVMF_CONF_BACKEND_FILE && b->size == 0)) {
				rc = hnvmf_backend_probe_resize(p->be, b->size, &p->size, msg, sizeof(msg));
				p->resize = rc == 0 && p->size != hnvmf_backend_size(p->be);
			}
		} else {
			struct hnvmf_backend_params bp = hnvmf_conf_map_backend(b);
			rc = hnvmf_backend_open(&bp, &pl->be[i].be, msg, sizeof(msg));
			pl->be[i].opened = rc == 0;
		}
		if (rc) {
			snprintf(err, errlen, "%s:%u: backend %s: %s", file_of(nw), b->line, b->name,
				 msg[0] ? msg : strerror(-rc));
			return -1;
		}
		pl->backends[i] = pl->be[i].be;
		pl->bconf[i] = *b;
	}
	return 0;
}

static struct hnvmf_backend *plan_backend(const struct hnvmf_conf *nw, const struct plan *pl, const char *name)
{
	for (size_t i = 0; i < nw->nbackends; i++)
		if (strcmp(nw->backends[i].name, name) == 0)
			return pl->backends[i];
	return NULL;
}

/* ---- commit: namespaces ---- */

struct ns_drain {
	struct hnvmf_tgt *tgt;
	struct hnvmf_subsys *s;
	const uint32_t *nsids;
	unsigned n;
	unsigned busy; /* queues still holding a request for one of them, summed over the reactors */
};

/* On one reactor: its queues of s's live controllers close their channels to the namespaces
 * they hold no request for; the others are counted. A controller being torn down closes its
 * queues' channels itself (hnvmf_sq_destroy). */
static void drain_here(void *arg)
{
	struct ns_drain *dr = arg;
	struct hnvmf_reactor *self = hnvmf_reactor_self();
	pthread_mutex_lock(&dr->tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &dr->tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->subsys != dr->s)
			continue;
		pthread_mutex_lock(&c->lock);
		for (unsigned q = 1; q <= HNVMF_MAX_IO_QUEUES; q++) {
			struct hnvmf_sq *sq = c->sqs[q];
			if (!sq || sq->reactor != self)
				continue;
			for (unsigned k = 0; k < dr->n; k++) {
				uint32_t nsid = dr->nsids[k];
				if (sq->ns_busy[nsid])
					dr->busy++;
				else if (sq->chans[nsid]) {
					hnvmf_chan_close(sq->chans[nsid]);
					sq->chans[nsid] = NULL;
				}
			}
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&dr->tgt->lock);
}

static void quiescent(void *arg) { (void)arg; }

static unsigned live_ctrls(struct hnvmf_tgt *tgt, const struct hnvmf_subsys *s)
{
	unsigned n = 0;
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls) n += container_of(pos, struct hnvmf_ctrl, link)->subsys == s;
	pthread_mutex_unlock(&tgt->lock);
	return n;
}

/* Every live controller of s gets the event for each nsid (its Changed Namespace List). */
static void ns_changed(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const uint32_t *nsids, unsigned n)
{
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->subsys == s)
			for (unsigned k = 0; k < n; k++)
				hnvmf_ctrl_raise_aen(c, HNVMF_AEN_NS_CHANGED, nsids[k]);
	}
	pthread_mutex_unlock(&tgt->lock);
}

static const struct hnvmf_conf_ns *conf_ns(const struct hnvmf_conf_subsys *cs, uint32_t nsid)
{
	for (size_t i = 0; i < cs->nns; i++)
		if (cs->ns[i].nsid == nsid)
			return &cs->ns[i];
	return NULL;
}

/* The namespaces of s become those of cs: removed (drained), replaced (another backend or
 * identifiers: removed, then added), added, grown. */
static void commit_namespaces(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const struct hnvmf_conf_subsys *cs,
			      const struct hnvmf_conf *nw, const struct plan *pl,
			      const struct hnvmf_reconfig_ops *ops)
{
	static uint32_t gone[HNVMF_MAX_NSID], changed[HNVMF_MAX_NSID]; /* one change at a time */
	static struct hnvmf_ns *gone_ns[HNVMF_MAX_NSID];
	unsigned ngone = 0, nchanged = 0;
	for (uint32_t nsid = 1; nsid <= HNVMF_MAX_NSID; nsid++) {
		struct hnvmf_ns *ns = hnvmf_subsys_ns(s, nsid);
		const struct hnvmf_conf_ns *cn = conf_ns(cs, nsid);
		if (!ns && !cn)
			continue;
		if (ns && cn && ns->be == plan_backend(nw, pl, cn->backend) &&
		    strcmp(ns->backend_name, cn->backend) == 0 && memcmp(ns->nguid, cn->nguid, 16) == 0 &&
		    memcmp(ns->uuid, cn->uuid, 16) == 0 && ns->anagrpid == cn->anagrpid) {
			uint64_t nlba = hnvmf_backend_size(ns->be) >> ns->lba_shift;
			if (nlba != ns->nlba) { /* its backend grew (set_size ran before) */
				__atomic_store_n(&ns->nlba, nlba, __ATOMIC_RELAXED);
				changed[nchanged++] = nsid;
				log_notice("subsystem %s: namespace %u resized to %llu blocks", s->nqn, nsid,
					   (unsigned long long)nlba);
			}
			continue;
		}
		if (ns) {
			gone_ns[ngone] = ns;
			gone[ngone++] = nsid;
			pthread_mutex_lock(&tgt->lock);
			atomic_store_explicit(&s->ns[nsid], NULL, memory_order_release);
			pthread_mutex_unlock(&tgt->lock);
		}
		changed[nchanged++] = nsid;
	}
	if (ngone) {
		/* After this round every request that found a namespace before it left the table
		 * counts in its queue's ns_busy. */
		ops->each_reactor(ops->arg, quiescent, NULL);
		struct ns_drain dr = {.tgt = tgt, .s = s, .nsids = gone, .n = ngone};
		for (unsigned waited = 0;; waited++) {
			dr.busy = 0;
			ops->each_reactor(ops->arg, drain_here, &dr);
			if (!dr.busy)
				break;
			if (waited >= DRAIN_WAIT_MS) {
				log_warn("subsystem %s: %u queue(s) still hold I/O for removed namespaces after %u ms; "
					 "their channels close with the queues",
					 s->nqn, dr.busy, DRAIN_WAIT_MS);
				break;
			}
			usleep(1000);
		}
		/* Drained on every live controller's queues; a controller being torn down (counted
		 * in nctrls, gone from the list) may still hold one, then they are kept. */
		bool none_dying = !dr.busy && atomic_load(&s->nctrls) == live_ctrls(tgt, s);
		for (unsigned k = 0; k < ngone; k++) {
			log_notice("subsystem %s: namespace %u removed", s->nqn, gone[k]);
			/* The struct, not its backend: that is the backend table's (retired with it). */
			if (none_dying)
				free(gone_ns[k]);
			else
				retire(tgt, NULL, NULL, gone_ns[k], RETIRED_NS);
		}
	}
	for (unsigned k = 0; k < nchanged; k++) {
		uint32_t nsid = changed[k];
		const struct hnvmf_conf_ns *cn = conf_ns(cs, nsid);
		if (!cn || hnvmf_subsys_ns(s, nsid))
			continue;
		struct hnvmf_ns *ns = hnvmf_ns_new(cn, plan_backend(nw, pl, cn->backend));
		if (!ns) {
			log_err("subsystem %s: namespace %u: out of memory: not added", s->nqn, nsid);
			continue;
		}
		pthread_mutex_lock(&tgt->lock);
		atomic_store_explicit(&s->ns[nsid], ns, memory_order_release);
		if (nsid > s->max_nsid)
			s->max_nsid = nsid;
		pthread_mutex_unlock(&tgt->lock);
		log_notice("subsystem %s: namespace %u added (backend %s)", s->nqn, nsid, cn->backend);
	}
	if (nchanged)
		ns_changed(tgt, s, changed, nchanged);
}

/* ---- commit: subsystems ---- */

/* An `ana_state` line changed: the group takes the file's state as `hnvmfctl ana set` would give
 * it (ANA log and event). A group whose line did not change keeps the state it has now, which
 * the gateway group or the API may have set. */
static void commit_ana(struct hnvmf_tgt *tgt, const struct hnvmf_conf_subsys *was, const struct hnvmf_conf_subsys *cs)
{
	/* In a gateway group ownership decides (tgt->gw_ana), not the file: a reload must not make a
	 * standby report a group optimized. */
	for (uint32_t g = 1; was && g <= HNVMF_CONF_MAX_ANA_GROUPS; g++) {
		pthread_mutex_lock(&tgt->lock);
		bool gw = tgt->gw_ana[g] != 0;
		pthread_mutex_unlock(&tgt->lock);
		if (was->ana_state[g] != cs->ana_state[g] && !gw)
			hnvmf_tgt_set_ana_state(tgt, cs->nqn, g,
						cs->ana_state[g] ? cs->ana_state[g] : HNVMF_CONF_ANA_OPTIMIZED);
	}
}

/* Two lists of names, entry by entry (the bytes after each name's end are not compared). */
static bool same_names(const char *a, size_t na, const char *b, size_t nb, size_t width)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a + i * width, b + i * width) != 0)
			return false;
	return true;
}
#define SAME_NAMES(a, na, b, nb) same_names((const char *)(a), na, (const char *)(b), nb, sizeof(*(a)))

/* A copy of n entries of size sz (NULL for none); *ok false when out of memory. */
static void *dup_array(const void *a, size_t n, size_t sz, bool *ok)
{
	if (!n)
		return NULL;
	void *b = malloc(n * sz);
	if (!b)
		*ok = false;
	else
		memcpy(b, a, n * sz);
	return b;
}

/* Why a live controller of s may not stay after the change, or NULL: its host is no longer
 * allowed (by the new model's hosts, allow_any_host and tenants), or it came through a
 * listener that no longer exports s. tgt->lock held. */
static const char *ctrl_revoked(struct hnvmf_ctrl *c, const struct hnvmf_conf_subsys *cs, const struct hnvmf_conf *nw)
{
	if (!hnvmf_conf_host_allowed(cs, nw->tenants, nw->ntenants, c->hostnqn))
		return "its host was removed from the subsystem";
	pthread_mutex_lock(&c->lock);
	const struct hnvmf_port *p = c->sqs[0] ? c->sqs[0]->port : NULL;
	bool exported = !p || hnvmf_subsys_on_port(c->subsys, p);
	pthread_mutex_unlock(&c->lock);
	return exported ? NULL : "its listener no longer exports the subsystem";
}

/* Hosts, allow_any_host, listeners, serial and model of s become cs's. Returns whether what
 * the discovery log shows may have changed. */
static bool commit_access(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const struct hnvmf_conf_subsys *cs,
			  const struct hnvmf_conf *nw)
{
	bool access = s->allow_any_host != cs->allow_any_host || !SAME_NAMES(s->hosts, s->nhosts, cs->hosts, cs->nhosts) ||
		      !SAME_NAMES(s->listeners, s->nlisteners, cs->listeners, cs->nlisteners);
	bool ok = true;
	char(*hosts)[HNVMF_NQN_MAX] = access ? dup_array(cs->hosts, cs->nhosts, sizeof(*cs->hosts), &ok) : NULL;
	char(*listeners)[HNVMF_NAME_MAX] = access ? dup_array(cs->listeners, cs->nlisteners, sizeof(*cs->listeners), &ok) : NULL;
	if (!ok) {
		log_err("subsystem %s: out of memory: hosts and listeners unchanged", s->nqn);
		free(hosts);
		free(listeners);
		return false;
	}
	pthread_mutex_lock(&tgt->lock);
	snprintf(s->serial, sizeof(s->serial), "%s", cs->serial);
	snprintf(s->model, sizeof(s->model), "%s", cs->model);
	if (access) {
		char(*oh)[HNVMF_NQN_MAX] = s->hosts;
		char(*ol)[HNVMF_NAME_MAX] = s->listeners;
		s->hosts = hosts;
		s->nhosts = cs->nhosts;
		s->listeners = listeners;
		s->nlisteners = cs->nlisteners;
		s->allow_any_host = cs->allow_any_host;
		hosts = oh;
		listeners = ol;
	}
	/* Also when only tenants changed: a tenant file may have been what let a host in. */
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		const char *why = c->subsys == s ? ctrl_revoked(c, cs, nw) : NULL;
		if (why)
			hnvmf_ctrl_fatal_locked(c, why);
	}
	pthread_mutex_unlock(&tgt->lock);
	free(hosts);
	free(listeners);
	return access;
}

/* s has left the list: after a quiescent round no Connect holds it any more; its controllers
 * are disconnected (their I/O answered first) and it is freed when the last one is gone. */
static void remove_subsys(struct hnvmf_tgt *tgt, struct hnvmf_subsys *s, const struct hnvmf_reconfig_ops *ops)
{
	ops->each_reactor(ops->arg, quiescent, NULL);
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->subsys == s)
			hnvmf_ctrl_fatal_locked(c, "its subsystem was removed");
	}
	pthread_mutex_unlock(&tgt->lock);
	unsigned waited = 0;
	while (atomic_load(&s->nctrls) && waited++ < DRAIN_WAIT_MS)
		usleep(1000);
	if (atomic_load(&s->nctrls)) {
		log_warn("subsystem %s: controllers still closing after %u ms: kept until stop", s->nqn, DRAIN_WAIT_MS);
		retire(tgt, NULL, NULL, s, RETIRED_SUBSYS); /* its namespaces stay allocated: a late controller reads them */
		return;
	}
	log_notice("subsystem %s removed", s->nqn);
	hnvmf_subsys_free(s);
}

/* ---- commit: listeners ---- */

static bool same_listener(const struct hnvmf_conf_listener *a, const struct hnvmf_conf_listener *b)
{
	return a->trtype == b->trtype && strcmp(a->addr, b->addr) == 0 && a->port == b->port && a->tls == b->tls &&
	       a->discovery == b->discovery;
}

/* Returns whether a port came or went. */
static bool commit_listeners(struct hnvmf_tgt *tgt, const struct hnvmf_conf *nw, const struct hnvmf_reconfig_ops *ops)
{
	bool changed = false;
	struct hnvmf_list *pos, *tmp;
	struct hnvmf_list gone;
	hnvmf_list_init(&gone);
	pthread_mutex_lock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ports)
	{
		struct hnvmf_port *p = container_of(pos, struct hnvmf_port, link);
		const struct hnvmf_conf_listener *l = hnvmf_conf_find_listener(nw, p->conf.name);
		if (l && same_listener(l, &p->conf))
			continue;
		hnvmf_list_del(&p->link);
		hnvmf_list_add_tail(&gone, &p->link);
	}
	pthread_mutex_unlock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &gone)
	{
		struct hnvmf_port *p = container_of(pos, struct hnvmf_port, link);
		ops->unlisten(ops->arg, p);
		log_notice("listener %s (%s:%u) removed", p->conf.name, p->conf.addr, p->conf.port);
		changed = true;
	}
	if (!hnvmf_list_empty(&gone)) {
		/* A connection accepted before the listener stopped starts its queue (hnvmf_sq_init,
		 * which takes a reference) in a message to its reactor: after this round every such
		 * queue holds its reference, and each port is freed by the last queue made through
		 * it, or here. */
		ops->each_reactor(ops->arg, quiescent, NULL);
		hnvmf_list_for_each_safe(pos, tmp, &gone)
		{
			hnvmf_list_del(pos);
			hnvmf_port_put(container_of(pos, struct hnvmf_port, link));
		}
	}
	for (size_t i = 0; i < nw->nlisteners; i++) {
		const struct hnvmf_conf_listener *l = &nw->listeners[i];
		bool have = false;
		pthread_mutex_lock(&tgt->lock);
		hnvmf_list_for_each_safe(pos, tmp, &tgt->ports)
		{
			if (strcmp(container_of(pos, struct hnvmf_port, link)->conf.name, l->name) == 0)
				have = true;
		}
		pthread_mutex_unlock(&tgt->lock);
		if (have)
			continue;
		struct hnvmf_port *p = hnvmf_tgt_add_port(tgt, l);
		if (!p) {
			log_err("listener %s: out of memory: not added", l->name);
			continue;
		}
		if (ops->listen(ops->arg, p) != 0)
			log_err("listener %s: its transport cannot run here: it serves nothing", l->name);
		else
			log_notice("listener %s (%s:%u) added", l->name, l->addr, l->port);
		changed = true;
	}
	return changed;
}

/* GENCTR moves and every live discovery controller gets the Discovery Log Page Change event
 * (raised once until it reads the log, and only if it enabled it: persistent controllers). */
static void discovery_changed(struct hnvmf_tgt *tgt)
{
	atomic_fetch_add(&tgt->genctr, 1);
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls)
	{
		struct hnvmf_ctrl *c = container_of(pos, struct hnvmf_ctrl, link);
		if (c->subsys->discovery)
			hnvmf_ctrl_raise_aen(c, HNVMF_AEN_DISC_CHANGED, 0);
	}
	pthread_mutex_unlock(&tgt->lock);
}

static bool same_tenant_access(const struct hnvmf_conf *a, const struct hnvmf_conf *b)
{
	if (a->ntenants != b->ntenants)
		return false;
	for (size_t i = 0; i < a->ntenants; i++)
		if (strcmp(a->tenants[i].hostnqn, b->tenants[i].hostnqn) != 0 ||
		    !SAME_NAMES(a->tenants[i].subsystems, a->tenants[i].nsubsystems, b->tenants[i].subsystems,
				b->tenants[i].nsubsystems))
			return false;
	return true;
}

int hnvmf_reconfig_apply(struct hnvmf_tgt *tgt, const struct hnvmf_conf *cur, const struct hnvmf_conf *nw,
			 const struct hnvmf_reconfig_ops *ops, char *err, size_t errlen)
{
	const char *fixed = fixed_setting_changed(cur, nw);
	if (fixed) {
		snprintf(err, errlen, "%s: %s differs from the running configuration and is read only at start: "
			 "restart hnvmfd to change it", file_of(nw), fixed);
		return -1;
	}
	struct plan pl = {0};
	if (prepare_backends(tgt, nw, &pl, err, errlen) != 0) {
		plan_undo(tgt, &pl);
		return -1;
	}

	/* Commit. The backend table first: new subsystems and namespaces look names up in it. */
	pthread_mutex_lock(&tgt->lock);
	struct hnvmf_backend **oldbe = tgt->backends;
	size_t nold = tgt->nbackends;
	struct hnvmf_conf_backend *oldconf = tgt->bconf;
	tgt->backends = pl.backends;
	tgt->bconf = pl.bconf;
	tgt->nbackends = nw->nbackends;
	pthread_mutex_unlock(&tgt->lock);
	for (size_t i = 0; i < pl.nbe; i++)
		if (pl.be[i].resize) {
			log_notice("backend %s: %llu -> %llu bytes", nw->backends[i].name,
				   (unsigned long long)hnvmf_backend_size(pl.be[i].be), (unsigned long long)pl.be[i].size);
			hnvmf_backend_set_size(pl.be[i].be, pl.be[i].size);
		}

	bool disc = !same_tenant_access(cur, nw);
	struct hnvmf_list *pos, *tmp;
	struct hnvmf_list gone;
	hnvmf_list_init(&gone);
	pthread_mutex_lock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &tgt->subsystems)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		if (hnvmf_conf_find_subsys(nw, s->nqn))
			continue;
		hnvmf_list_del(&s->link);
		s->removed = true;
		hnvmf_list_add_tail(&gone, &s->link);
	}
	pthread_mutex_unlock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &gone)
	{
		struct hnvmf_subsys *s = container_of(pos, struct hnvmf_subsys, link);
		hnvmf_list_del(&s->link);
		remove_subsys(tgt, s, ops);
		disc = true;
	}
	for (size_t i = 0; i < nw->nsubsystems; i++) {
		const struct hnvmf_conf_subsys *cs = &nw->subsystems[i];
		pthread_mutex_lock(&tgt->lock);
		struct hnvmf_subsys *s = hnvmf_tgt_find_subsys(tgt, cs->nqn);
		pthread_mutex_unlock(&tgt->lock);
		if (s) {
			disc |= commit_access(tgt, s, cs, nw);
			commit_namespaces(tgt, s, cs, nw, &pl, ops);
			commit_ana(tgt, hnvmf_conf_find_subsys(cur, cs->nqn), cs);
			continue;
		}
		char msg[256] = "";
		if (hnvmf_subsys_build(tgt, cs, &s, msg, sizeof(msg)) != 0) {
			log_err("subsystem %s: not added: %s", cs->nqn, msg[0] ? msg : "out of memory");
			continue;
		}
		pthread_mutex_lock(&tgt->lock);
		hnvmf_ana_adopt_gateway(tgt, s); /* a standby gateway's new subsystem is standby too */
		hnvmf_list_add_tail(&tgt->subsystems, &s->link);
		pthread_mutex_unlock(&tgt->lock);
		log_notice("subsystem %s added (%zu namespace(s))", cs->nqn, cs->nns);
		disc = true;
	}
	disc |= commit_listeners(tgt, nw, ops);
	if (disc)
		discovery_changed(tgt);

	/* Backends the new model no longer has: no namespace names them any more. */
	for (size_t i = 0; i < nold; i++) {
		bool kept = false;
		for (size_t k = 0; k < pl.nbe && !kept; k++)
			kept = pl.backends[k] == oldbe[i];
		if (!kept) {
			log_notice("backend %s retired", oldconf[i].name);
			retire(tgt, oldbe[i], &oldconf[i], NULL, RETIRED_BACKEND);
		}
	}
	/* Drained above: a backend whose namespaces all went closes now (when a controller being
	 * torn down still has a channel to it, at a later collection). */
	hnvmf_retired_collect(tgt);
	for (size_t i = 0; i < pl.nbe; i++)
		if (pl.be[i].was) {
			free(pl.be[i].was->conf);
			free(pl.be[i].was);
		}
	free(oldbe);
	free(oldconf);
	free(pl.be);
	return 0;
}
