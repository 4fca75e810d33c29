/* The Prometheus endpoint (target/metrics.c): GET /metrics on [metrics] listen, served by
 * libmicrohttpd on a thread of its own, off the I/O path; a bounded number of connections, each
 * with a timeout. Off by default. The names, labels and units are listed in docs/operations.md. */
#ifndef HNVMF_TARGET_METRICS_H
#define HNVMF_TARGET_METRICS_H

#include <stddef.h>

#include "target/nvmf.h"

#define HNVMF_METRICS_MAX_CONNECTIONS 16
#define HNVMF_METRICS_TIMEOUT_S 5

struct hnvmf_metrics;
/* Listens on m->addr:m->port. 0, or -errno (the address is in use, ...). */
int hnvmf_metrics_start(struct hnvmf_tgt *tgt, const struct hnvmf_conf_metrics *m, struct hnvmf_metrics **out);
void hnvmf_metrics_stop(struct hnvmf_metrics *mx); /* NULL is allowed */
/* The exposition text (version 0.0.4), malloc'ed; NULL when out of memory. */
char *hnvmf_metrics_render(struct hnvmf_tgt *tgt, size_t *len);

#endif
