/* gw-group.h - a gateway group: which gateway owns which ANA group, decided through RADOS.
 *
 * Several hnvmfd gateways export the same subsystems over the same RBD images. Each ANA group
 * has one owner at a time: the gateway holding a lease on the group's RADOS object
 * ("hnvmf.<group>.ana.<grpid>", an exclusive cls_lock with a duration, renewed every third of
 * it). The owner reports the group optimized, the others the standby state. A gateway that takes
 * a group whose previous owner did not let go (crashed, partitioned, stopped renewing) first
 * fences that owner (Ceph's OSD blocklist of its client instance, so a partitioned gateway can no
 * longer write) and only then reports optimized. An owner that cannot renew before its lease
 * ends demotes itself first (docs/scale-out.md has the timeline and why it is safe).
 *
 * One thread per gateway group does all RADOS calls; on_role runs on that thread, in order, never
 * two at a time, and may block (it acquires RBD exclusive locks, raises ANA change events). */
#ifndef HNVMF_GW_GROUP_H
#define HNVMF_GW_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HNVMF_GW_MAX_ANA_GROUPS 32

struct hnvmf_gw_group;

struct hnvmf_gw_group_params {
	const char *ceph_conf;    /* ceph.conf path; its keyring line names the key */
	const char *client;       /* cephx name without "client.", e.g. "admin" */
	const char *pool;         /* the coordination pool (its objects are tiny) */
	const char *group;        /* the gateway group's name: every gateway of it uses the same */
	const char *gateway;      /* this gateway's name, unique in the group */
	unsigned lease_ms;        /* lock duration; failover takes at most about 1.4x this */
	unsigned blocklist_s;     /* how long a fenced gateway stays blocklisted (0: Ceph's default) */
	uint32_t grpids[HNVMF_GW_MAX_ANA_GROUPS]; /* the ANA groups contended for */
	unsigned ngrpids;
	/* Groups this gateway prefers: it takes them at start while free and, with failback, asks
	 * their owner to hand them back when it comes back. Others wait one lease at start. */
	uint32_t preferred[HNVMF_GW_MAX_ANA_GROUPS];
	unsigned npreferred;
	bool failback;
	/* owner true: the group is this gateway's now (fencing done); false: it is not (any more).
	 * Returns 0, or -1 to refuse ownership (e.g. the RBD lock could not be had): the group is
	 * released again and retried at the next tick. */
	int (*on_role)(void *arg, uint32_t grpid, bool owner);
	/* This gateway's other RADOS client instances whose writes a takeover must fence too (the
	 * RBD backends' clients), one address a line as rados_getaddrs gives them; may be NULL. */
	const char *fence_addrs;
	/* Called once when this gateway finds itself fenced (blocklisted: every RADOS and RBD call
	 * of its instances fails from now on), after every group was released: the daemon stops so
	 * that its supervisor restarts it and it rejoins as a non-owner. */
	void (*on_fenced)(void *arg);
	void *arg;
};

/* Connects to the cluster (bounded by lease_ms per call) and starts the group's thread. Returns
 * 0, or -1 with err set (the cluster unreachable, the pool missing, bad parameters). */
int hnvmf_gw_group_start(const struct hnvmf_gw_group_params *p, struct hnvmf_gw_group **out,
			 char *err, size_t errlen);
/* Releases the groups it owns (on_role false, then unlock: the others take over without waiting
 * for a lease or fencing) and stops. */
void hnvmf_gw_group_stop(struct hnvmf_gw_group *g);
/* A run-time change of the daemon's configuration: grpids are the ANA groups its namespaces use
 * now (the ones not contended for yet join, standby until taken; none leaves: a group no
 * namespace uses is harmless) and fence_addrs the RBD backends' client addresses now (as in the
 * parameters). The owner mark of every group this gateway owns is rewritten with them before
 * this returns (on the group's thread, right after a renewal of that group's lease; one whose
 * lease is too close to its end for that is re-marked at its next renewal), waited for at most
 * lease_ms: 0, or -1 when the thread did not get to it in time (the cluster slow: it happens at
 * the next tick). */
int hnvmf_gw_group_update(struct hnvmf_gw_group *g, const uint32_t *grpids, unsigned n, const char *fence_addrs);
/* One line per ANA group: owner or standby, since when, fencings done. */
void hnvmf_gw_group_describe(struct hnvmf_gw_group *g, char *out, size_t len);

#endif
