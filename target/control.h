/* The control socket: a unix stream socket carrying the JSON-RPC 2.0 API (target/rpc.h,
 * docs/control.md). A client sends request objects one after the other, with no other framing
 * (as SPDK's rpc.py does), on one connection or several, and reads one response object per
 * request (none for a notification), in order. A request is at most HNVMF_CONTROL_REQUEST_MAX
 * bytes; an answer has no size limit. */
#ifndef HNVMF_CONTROL_H
#define HNVMF_CONTROL_H

#include <sys/types.h>

#include "target/nvmf.h"
#include "target/rpc.h"

#define HNVMF_CONTROL_REQUEST_MAX (1u << 20)

struct hnvmf_control;

/* Binds path (mode 0600, or 0660 owned by group when group is not (gid_t)-1) and starts the
 * control thread. daemon is kept (not copied): it must outlive the control socket. */
int hnvmf_control_start(struct hnvmf_tgt *tgt, const char *path, gid_t group,
			const struct hnvmf_rpc_daemon *daemon, struct hnvmf_control **out);
void hnvmf_control_stop(struct hnvmf_control *c);

#endif
