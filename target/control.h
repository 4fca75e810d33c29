/* The control socket: a unix stream socket on which hnvmfctl (and tests) send one text command
 * line and read the answer until the daemon closes the connection.
 *   state                          controllers, queues and their modes, ports
 *   ns-add SUBNQN NSID SIZE_MIB     add a RAM namespace at run time (raises the AEN)
 *   pqm                             the PQM pool: c, last sizing decision, servers, tenants
 *   pqm-c N                         force the pool size to N (0: the sizing decides again)
 *   reload                          re-read the tenants directory (as SIGHUP)
 *   stats                           per transport, the requests in each state
 *   sla                             per tenant, the last SLA epoch (target/sla.h)
 *   log-level [LEVEL]               show or set the log level (err ... debug), no restart
 *   version                         the daemon's version */
#ifndef HNVMF_CONTROL_H
#define HNVMF_CONTROL_H

#include "core/strbuf.h"
#include "target/nvmf.h"

struct hnvmf_control;

/* reload is called for "reload"; it returns 0 or -1 with msg set. stats is called for "stats"
 * and appends the transports' request counts (they are the daemon's, not the target's). */
int hnvmf_control_start(struct hnvmf_tgt *tgt, const char *path,
			int (*reload)(char *msg, size_t len), void (*stats)(struct hnvmf_strbuf *sb),
			struct hnvmf_control **out);
void hnvmf_control_stop(struct hnvmf_control *c);

#endif
