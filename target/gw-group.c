/* The gateway group's ownership of ANA groups through RADOS leases (see gw-group.h).
 *
 * Per ANA group, one RADOS object carries:
 *   the lock "owner"   exclusive, duration lease_ms, held by the owning gateway's instance;
 *   xattr "owner"      "<gateway>\n<address>\n..." of the instance that took it and of the
 *                      gateway's RBD clients (one a line), removed
 *                      by an owner that lets go cleanly: a taker that finds it set fences that
 *                      instance before it reports optimized;
 *   xattr "failback"   a preferred gateway's request to have the group handed back.
 * Why the owner demotes itself in time: it counts its lease from before it sent the renewal,
 * the OSD from when it applied it, so the owner's view always ends first; it stops reporting
 * optimized a sixth of the lease before that. The blocklist covers what the clocks cannot (a
 * gateway frozen for longer than a lease, writes already in flight): the OSDs refuse the fenced
 * instance's I/O, whatever it believes. */
#include "target/gw-group.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend/ceph-lib.h"
#include "core/log.h"
#include "core/reactor.h"

#define LOCK_NAME "owner"
#define XATTR_OWNER "owner"
#define XATTR_FAILBACK "failback"

struct ana_lease {
	uint32_t grpid;
	char oid[160];
	bool owner;
	bool preferred;
	bool failback_asked;     /* this gateway wrote its failback request */
	uint64_t valid_until_ns; /* owner: our lease ends (in our clock) after this */
	uint64_t since_ns;       /* role held since */
	unsigned nfenced;        /* previous owners this gateway blocklisted for the group */
	bool mark_stale;         /* owner: our mark on the object lacks addresses added since */
};

struct hnvmf_gw_group {
	struct hnvmf_gw_group_params p;
	char group[64], gateway[64];
	rados_t cluster;
	rados_ioctx_t io;
	char cookie[96];
	char me[3072]; /* this instance's XATTR_OWNER value */
	char self[256]; /* the lease client's own address, the mark's second line */
	bool fenced;   /* we were blocklisted: nothing works any more */
	uint64_t start_ns;
	struct ana_lease leases[HNVMF_GW_MAX_ANA_GROUPS];
	unsigned nleases; /* the group's thread's copy of p.ngrpids, taken under lock each round */
	pthread_t thread;
	/* stop, p.ngrpids and leases[] being added, the update below, and the leases' owner flags
	 * for hnvmf_gw_group_describe */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	char *new_fence;            /* hnvmf_gw_group_update's addresses, for the thread to mark */
	unsigned update_want, update_done;
};

static uint64_t lease_ns(const struct hnvmf_gw_group *g)
{
	return (uint64_t)g->p.lease_ms * 1000000ull;
}

static bool listed(const uint32_t *v, unsigned n, uint32_t x)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void set_role(struct hnvmf_gw_group *g, struct ana_lease *l, bool owner)
{
	pthread_mutex_lock(&g->lock);
	l->owner = owner;
	l->since_ns = hnvmf_now_ns();
	pthread_mutex_unlock(&g->lock);
}

/* Tells the daemon first, then lets go in RADOS: the group is never reported optimized by a
 * gateway that no longer holds it. clean: also remove our owner mark and unlock, so that the
 * next owner takes the group at once and need not fence us. */
static void demote(struct hnvmf_gw_group *g, struct ana_lease *l, bool clean, const char *why)
{
	set_role(g, l, false);
	g->p.on_role(g->p.arg, l->grpid, false);
	log_notice("gateway %s: ANA group %u released (%s)", g->gateway, l->grpid, why);
	if (!clean)
		return;
	hnvmf_ceph.rados_rmxattr(g->io, l->oid, XATTR_OWNER);
	hnvmf_ceph.rados_unlock(g->io, l->oid, LOCK_NAME, g->cookie);
}

/* Appends a client address to an owner mark in the form the blocklist takes: rados_getaddrs
 * gives "[v2:A:P/N,v1:A:P/N]" with msgr2; one address of the instance fences it (the OSDs match
 * the instance, not the protocol), so the first is kept, without its brackets. */
static void mark_add_addr(char *mark, size_t len, const char *a)
{
	if (*a == '[')
		a++;
	size_t n = strcspn(a, ",]\n");
	size_t off = strlen(mark);
	if (n && off < len)
		snprintf(mark + off, len - off, "\n%.*s", (int)n, a);
}

/* Whether two owner marks name the same gateway and lease client instance (their first two
 * lines): the RBD addresses after them change when namespaces are added at run time, and a
 * gateway re-taking a group it had let lapse must not fence itself. */
static bool same_instance(const char *a, const char *b)
{
	size_t n = strcspn(a, "\n");
	if (a[n])
		n += 1 + strcspn(a + n + 1, "\n");
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '\n');
}

/* Blocklists every address of an owner mark; 0 or a negative errno. */
static int fence_mark(struct hnvmf_gw_group *g, struct ana_lease *l, char *mark)
{
	unsigned n = 0;
	char *save = NULL;
	strtok_r(mark, "\n", &save); /* the gateway's name */
	for (char *a = strtok_r(NULL, "\n", &save); a; a = strtok_r(NULL, "\n", &save), n++) {
		int rc = hnvmf_ceph.rados_blocklist_add(g->cluster, a, g->p.blocklist_s);
		if (rc < 0) {
			log_warn("gateway %s: ANA group %u: cannot fence %s: %s", g->gateway, l->grpid, a,
				 strerror(-rc));
			return rc;
		}
	}
	return n ? 0 : -EINVAL;
}

/* We hold the lock: fence whoever held the group before without letting go, mark it ours. */
static int fence_previous(struct hnvmf_gw_group *g, struct ana_lease *l)
{
	char prev[3072];
	int n = hnvmf_ceph.rados_getxattr(g->io, l->oid, XATTR_OWNER, prev, sizeof(prev) - 1);
	if (n > 0) {
		prev[n] = '\0';
		if (!same_instance(prev, g->me)) {
			char who[64];
			snprintf(who, sizeof(who), "%.*s", (int)strcspn(prev, "\n"), prev);
			if (fence_mark(g, l, prev) != 0) {
				log_warn("gateway %s: ANA group %u: previous owner %s not fenced; not taking the group",
					 g->gateway, l->grpid, who);
				return -1;
			}
			/* the OSDs refuse the fenced instances once they have the map with them */
			hnvmf_ceph.rados_wait_for_latest_osdmap(g->cluster);
			l->nfenced++;
			log_notice("gateway %s: ANA group %u: previous owner %s fenced (blocklisted)",
				   g->gateway, l->grpid, who);
		}
	} else if (n < 0 && n != -ENODATA && n != -ENOENT) {
		log_warn("gateway %s: ANA group %u: reading its owner: %s", g->gateway, l->grpid, strerror(-n));
		return -1;
	}
	int rc = hnvmf_ceph.rados_setxattr(g->io, l->oid, XATTR_OWNER, g->me, strlen(g->me));
	if (rc < 0) {
		log_warn("gateway %s: ANA group %u: marking it ours: %s", g->gateway, l->grpid, strerror(-rc));
		return -1;
	}
	hnvmf_ceph.rados_rmxattr(g->io, l->oid, XATTR_FAILBACK);
	return 0;
}

/* Ceph reports a blocklisted client's calls as ESHUTDOWN (its EBLOCKLISTED). Every group this
 * gateway owned is released (it can write nothing any more) and the daemon is told, once. */
static bool check_fenced(struct hnvmf_gw_group *g, int rc)
{
	if (rc != -ESHUTDOWN)
		return false;
	if (!g->fenced) {
		g->fenced = true;
		log_err("gateway %s: this gateway was fenced (blocklisted) by another of group %s",
			g->gateway, g->group);
		for (unsigned i = 0; i < g->nleases; i++)
			if (g->leases[i].owner)
				demote(g, &g->leases[i], false, "fenced");
		if (g->p.on_fenced)
			g->p.on_fenced(g->p.arg);
	}
	return true;
}

static int lock_lease(struct hnvmf_gw_group *g, struct ana_lease *l, uint8_t flags)
{
	struct timeval d = {.tv_sec = g->p.lease_ms / 1000, .tv_usec = (g->p.lease_ms % 1000) * 1000};
	char desc[128];
	snprintf(desc, sizeof(desc), "hnvmf gateway %s", g->gateway);
	return hnvmf_ceph.rados_lock_exclusive(g->io, l->oid, LOCK_NAME, g->cookie, desc, &d, flags);
}

static void try_take(struct hnvmf_gw_group *g, struct ana_lease *l, uint64_t now)
{
	/* at start a gateway that does not prefer the group leaves it to one that does */
	if (!l->preferred && now - g->start_ns < lease_ns(g))
		return;
	int rc = lock_lease(g, l, 0);
	if (check_fenced(g, rc))
		return;
	if (rc == -EBUSY) {
		if (l->preferred && g->p.failback && !l->failback_asked) {
			rc = hnvmf_ceph.rados_setxattr(g->io, l->oid, XATTR_FAILBACK, g->gateway, strlen(g->gateway));
			l->failback_asked = rc == 0;
			if (rc == 0)
				log_notice("gateway %s: ANA group %u: failback asked of its owner", g->gateway, l->grpid);
		}
		return;
	}
	if (rc < 0 && rc != -EEXIST) {
		log_ratelimited(HNVMF_LOG_WARN, "gateway %s: ANA group %u: lease: %s", g->gateway, l->grpid,
				strerror(-rc));
		return;
	}
	l->valid_until_ns = now + lease_ns(g) - lease_ns(g) / 6;
	if (fence_previous(g, l) != 0) {
		hnvmf_ceph.rados_unlock(g->io, l->oid, LOCK_NAME, g->cookie);
		return;
	}
	l->failback_asked = false;
	l->mark_stale = false; /* fence_previous wrote the mark as it is now */
	set_role(g, l, true);
	if (g->p.on_role(g->p.arg, l->grpid, true) != 0) {
		demote(g, l, true, "the daemon refused it");
		return;
	}
	log_notice("gateway %s: ANA group %u owned", g->gateway, l->grpid);
}

static void renew(struct hnvmf_gw_group *g, struct ana_lease *l, uint64_t now)
{
	int rc = lock_lease(g, l, LIBRADOS_LOCK_FLAG_MUST_RENEW);
	if (check_fenced(g, rc))
		return;
	if (rc < 0) {
		char why[96];
		snprintf(why, sizeof(why), "lease not renewed: %s", strerror(-rc));
		demote(g, l, false, why);
		return;
	}
	l->valid_until_ns = now + lease_ns(g) - lease_ns(g) / 6;
	/* Re-marked only right after a renewal and with an op timeout to spare: a mark written when
	 * the lease may already be another gateway's would overwrite that one's. */
	if (l->mark_stale && hnvmf_now_ns() + lease_ns(g) / 3 < l->valid_until_ns) {
		rc = hnvmf_ceph.rados_setxattr(g->io, l->oid, XATTR_OWNER, g->me, strlen(g->me));
		if (check_fenced(g, rc))
			return;
		if (rc == 0)
			l->mark_stale = false;
		else
			log_warn("gateway %s: ANA group %u: re-marking it: %s", g->gateway, l->grpid, strerror(-rc));
	}
	char who[64];
	int n = hnvmf_ceph.rados_getxattr(g->io, l->oid, XATTR_FAILBACK, who, sizeof(who) - 1);
	if (n > 0) {
		who[n] = '\0';
		if (strcmp(who, g->gateway) != 0) {
			char why[128];
			snprintf(why, sizeof(why), "failback to gateway %s", who);
			demote(g, l, true, why);
		}
	}
}

/* An owner whose lease may have ended in the OSD's view is no owner: checked before and after
 * every RADOS call, which are bounded by the op timeouts set at connect. */
static void expire(struct hnvmf_gw_group *g)
{
	uint64_t now = hnvmf_now_ns();
	for (unsigned i = 0; i < g->nleases; i++) {
		struct ana_lease *l = &g->leases[i];
		if (l->owner && now >= l->valid_until_ns)
			demote(g, l, false, "lease lapsed before it could be renewed");
	}
}

/* This instance's owner mark with the RBD client addresses fence (one a line), written on every
 * group it owns, each after a renewal (renew): whoever takes one of them over fences those
 * clients too. A group whose renewal fails is released; one re-marked too late is re-marked at
 * its next renewal. */
static void remark(struct hnvmf_gw_group *g, const char *fence)
{
	snprintf(g->me, sizeof(g->me), "%s\n%s", g->gateway, g->self);
	for (const char *a = fence; *a; a += strcspn(a, "\n"), a += *a == '\n')
		mark_add_addr(g->me, sizeof(g->me), a);
	for (unsigned i = 0; i < g->nleases && !g->fenced; i++) {
		struct ana_lease *l = &g->leases[i];
		expire(g);
		if (!l->owner)
			continue;
		l->mark_stale = true;
		renew(g, l, hnvmf_now_ns());
	}
}

static void *group_thread(void *arg)
{
	struct hnvmf_gw_group *g = arg;
	uint64_t tick = lease_ns(g) / 3;
	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		g->nleases = g->p.ngrpids;
		char *fence = g->new_fence;
		unsigned want = g->update_want;
		g->new_fence = NULL;
		pthread_mutex_unlock(&g->lock);
		if (fence) {
			remark(g, fence);
			free(fence);
		}
		for (unsigned i = 0; i < g->nleases && !g->fenced; i++) {
			struct ana_lease *l = &g->leases[i];
			expire(g);
			uint64_t now = hnvmf_now_ns();
			if (l->owner)
				renew(g, l, now);
			else
				try_take(g, l, now);
			expire(g);
		}
		pthread_mutex_lock(&g->lock);
		g->update_done = want;
		pthread_cond_broadcast(&g->cond);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + tick;
		ts.tv_sec = (time_t)(t / 1000000000ull);
		ts.tv_nsec = (long)(t % 1000000000ull);
		/* an update is served at once: new groups contended for, new namespaces fenceable */
		while (!g->stop && g->update_want == want &&
		       pthread_cond_timedwait(&g->cond, &g->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < g->nleases; i++)
		if (g->leases[i].owner)
			demote(g, &g->leases[i], true, "gateway stopping");
	return NULL;
}

static void lease_init(struct hnvmf_gw_group *g, struct ana_lease *l, uint32_t grpid)
{
	memset(l, 0, sizeof(*l));
	l->grpid = grpid;
	l->preferred = listed(g->p.preferred, g->p.npreferred, grpid);
	snprintf(l->oid, sizeof(l->oid), "hnvmf.%s.ana.%u", g->group, grpid);
}

static int connect_cluster(struct hnvmf_gw_group *g, char *err, size_t errlen)
{
	char name[96], timeout[16];
	if (hnvmf_ceph_load(err, errlen) != 0)
		return -1;
	snprintf(name, sizeof(name), "client.%s", g->p.client);
	int rc = hnvmf_ceph.rados_create2(&g->cluster, "ceph", name, 0);
	if (rc < 0) {
		snprintf(err, errlen, "rados: %s: %s", name, strerror(-rc));
		return -1;
	}
	/* every call of the group's thread is bounded: a slow cluster must not keep an owner from
	 * noticing that its lease ran out */
	snprintf(timeout, sizeof(timeout), "%u", (g->p.lease_ms / 3 + 999) / 1000);
	if ((rc = hnvmf_ceph.rados_conf_read_file(g->cluster, g->p.ceph_conf)) < 0 ||
	    (rc = hnvmf_ceph.rados_conf_set(g->cluster, "rados_osd_op_timeout", timeout)) < 0 ||
	    (rc = hnvmf_ceph.rados_conf_set(g->cluster, "rados_mon_op_timeout", timeout)) < 0 ||
	    (rc = hnvmf_ceph.rados_conf_set(g->cluster, "client_mount_timeout", timeout)) < 0) {
		snprintf(err, errlen, "rados: %s: %s", g->p.ceph_conf, strerror(-rc));
		return -1;
	}
	if ((rc = hnvmf_ceph.rados_connect(g->cluster)) < 0) {
		snprintf(err, errlen, "rados: cannot connect as %s with %s: %s", name, g->p.ceph_conf,
			 strerror(-rc));
		return -1;
	}
	if ((rc = hnvmf_ceph.rados_ioctx_create(g->cluster, g->p.pool, &g->io)) < 0) {
		snprintf(err, errlen, "rados: pool %s: %s", g->p.pool, strerror(-rc));
		return -1;
	}
	char *addrs = NULL;
	if ((rc = hnvmf_ceph.rados_getaddrs(g->cluster, &addrs)) < 0) {
		snprintf(err, errlen, "rados: own address: %s", strerror(-rc));
		return -1;
	}
	snprintf(g->me, sizeof(g->me), "%s", g->gateway);
	mark_add_addr(g->me, sizeof(g->me), addrs);
	hnvmf_ceph.rados_buffer_free(addrs);
	snprintf(g->self, sizeof(g->self), "%s", g->me + strlen(g->gateway) + (g->me[strlen(g->gateway)] == '\n'));
	for (const char *a = g->p.fence_addrs; a && *a; a += strcspn(a, "\n"), a += *a == '\n')
		mark_add_addr(g->me, sizeof(g->me), a);
	snprintf(g->cookie, sizeof(g->cookie), "%s.%llu", g->gateway,
		 (unsigned long long)hnvmf_ceph.rados_get_instance_id(g->cluster));
	return 0;
}

static void group_free(struct hnvmf_gw_group *g)
{
	free(g->new_fence);
	if (g->io)
		hnvmf_ceph.rados_ioctx_destroy(g->io);
	if (g->cluster)
		hnvmf_ceph.rados_shutdown(g->cluster);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int hnvmf_gw_group_start(const struct hnvmf_gw_group_params *p, struct hnvmf_gw_group **out,
			 char *err, size_t errlen)
{
	if (!p->ceph_conf || !p->client || !p->pool || !p->group || !p->gateway || !p->on_role ||
	    p->lease_ms < 1000 || p->ngrpids > HNVMF_GW_MAX_ANA_GROUPS ||
	    p->npreferred > HNVMF_GW_MAX_ANA_GROUPS) {
		snprintf(err, errlen, "gateway group: incomplete parameters");
		return -1;
	}
	struct hnvmf_gw_group *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->p = *p;
	snprintf(g->group, sizeof(g->group), "%s", p->group);
	snprintf(g->gateway, sizeof(g->gateway), "%s", p->gateway);
	g->p.group = g->group;
	g->p.gateway = g->gateway;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < p->ngrpids; i++)
		lease_init(g, &g->leases[i], p->grpids[i]);
	g->nleases = p->ngrpids;
	if (connect_cluster(g, err, errlen) != 0) {
		group_free(g);
		return -1;
	}
	g->start_ns = hnvmf_now_ns();
	int rc = pthread_create(&g->thread, NULL, group_thread, g);
	if (rc) {
		snprintf(err, errlen, "gateway group thread: %s", strerror(rc));
		group_free(g);
		return -1;
	}
	pthread_setname_np(g->thread, "hnvmf-gwgroup");
	*out = g;
	return 0;
}

void hnvmf_gw_group_stop(struct hnvmf_gw_group *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	group_free(g);
}

int hnvmf_gw_group_update(struct hnvmf_gw_group *g, const uint32_t *grpids, unsigned n, const char *fence_addrs)
{
	char *fence = strdup(fence_addrs ? fence_addrs : "");
	if (!fence)
		return -1;
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < n; i++) {
		if (g->p.ngrpids >= HNVMF_GW_MAX_ANA_GROUPS || listed(g->p.grpids, g->p.ngrpids, grpids[i]))
			continue;
		/* the thread reads entries below p.ngrpids only: this one is whole before it counts */
		lease_init(g, &g->leases[g->p.ngrpids], grpids[i]);
		g->p.grpids[g->p.ngrpids++] = grpids[i];
		log_notice("gateway %s: ANA group %u joins the groups contended for", g->gateway, grpids[i]);
	}
	free(g->new_fence);
	g->new_fence = fence;
	unsigned want = ++g->update_want;
	pthread_cond_broadcast(&g->cond);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + lease_ns(g);
	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	int rc = 0;
	while (!g->stop && (int)(g->update_done - want) < 0 && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	bool done = (int)(g->update_done - want) >= 0;
	pthread_mutex_unlock(&g->lock);
	return done ? 0 : -1;
}

void hnvmf_gw_group_describe(struct hnvmf_gw_group *g, char *out, size_t len)
{
	size_t off = 0;
	uint64_t now = hnvmf_now_ns();
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < g->p.ngrpids && off < len; i++) {
		const struct ana_lease *l = &g->leases[i];
		int n = snprintf(out + off, len - off, "group %s gateway %s ana_group %u %s for %.1f s%s fenced %u\n",
				 g->group, g->gateway, l->grpid, l->owner ? "owner" : "standby",
				 (double)(now - (l->since_ns ? l->since_ns : g->start_ns)) / 1e9,
				 l->preferred ? " preferred" : "", l->nfenced);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	pthread_mutex_unlock(&g->lock);
}
