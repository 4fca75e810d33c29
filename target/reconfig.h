/* Run-time change: the difference between the running configuration model and a new one
 * (already validated by the loader) applied to the live target, touching only what changed.
 * The main file's reload (SIGHUP, control "reload") goes through it; so does every API call
 * that changes the model. Tenants are not its business: the caller hands the new model's
 * tenant set to hnvmf_tgt_set_tenants afterwards. */
#ifndef HNVMF_RECONFIG_H
#define HNVMF_RECONFIG_H

#include <stddef.h>

#include "target/nvmf.h"

/* What only the daemon can do: it owns the transports, the listener retries and the reactors. */
struct hnvmf_reconfig_ops {
	void *arg;
	/* p is in tgt->ports: start serving it (a port that cannot listen yet is the daemon's to
	 * retry). Non-zero only when its transport cannot run at all; p is then left idle. */
	int (*listen)(void *arg, struct hnvmf_port *p);
	/* p left tgt->ports: stop listening on it (connections made through it stay). */
	void (*unlisten)(void *arg, struct hnvmf_port *p);
	/* Runs fn(fnarg) on every reactor, one after the other, and returns when all have run. */
	void (*each_reactor)(void *arg, void (*fn)(void *fnarg), void *fnarg);
};

/* Applies nw over cur (the model the target serves now): subsystems, namespaces (added,
 * removed, resized: backends opened, grown, retired), hosts, allow_any_host, listeners; raises
 * the Namespace Attribute Changed and Discovery Log Change events, disconnects controllers
 * whose host or listener is gone. What cannot change at run time (reactors, queue sizes,
 * [pqm], [limits], [metrics], control_socket, ...) or cannot be opened refuses the whole
 * change: returns -1 with "file:line: why" in err and the target as it was. 0 on success. */
int hnvmf_reconfig_apply(struct hnvmf_tgt *tgt, const struct hnvmf_conf *cur, const struct hnvmf_conf *nw,
			 const struct hnvmf_reconfig_ops *ops, char *err, size_t errlen);

#endif
