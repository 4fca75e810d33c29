/* Per-host caps ([limits] max_controllers_per_host, max_queues_per_host): what one host NQN holds,
 * across all subsystems. A host NQN is only a name the host picked, so this bounds what one
 * identity (one authenticated tenant, say) can take: controllers, and queues, each of which may
 * hold connections, buffers and, under DAM, threads. A controller counts from its creation until
 * it leaves the controller table (hnvmf_ctrl_fatal); a queue from its Connect until it is detached
 * (hnvmf_ctrl_detach_sq), so a torn-down controller's queues count until they are gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "target/nvmf.h"

struct hnvmf_host {
	char nqn[HNVMF_NQN_MAX];
	unsigned nctrls, nqueues;
	struct hnvmf_list link;
};

/* Connect Controller Busy, retryable (no DNR): the host gets in again once it lets go of
 * something (nvmet answers Controller Busy when it has no controller ID left). */
static uint16_t host_busy(void) { return hnvmf_status(NVME_SCT_CMD_SPECIFIC, NVME_SC_CONNECT_CTRL_BUSY, 0); }

static void host_release_if_unused(struct hnvmf_host *h)
{
	if (h->nctrls || h->nqueues)
		return;
	hnvmf_list_del(&h->link);
	free(h);
}

uint16_t hnvmf_host_add_ctrl(struct hnvmf_tgt *tgt, const char *hostnqn, struct hnvmf_host **out)
{
	struct hnvmf_host *h = NULL;
	struct hnvmf_list *pos, *tmp;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->hosts)
	{
		struct hnvmf_host *e = container_of(pos, struct hnvmf_host, link);
		if (strcmp(e->nqn, hostnqn) == 0) {
			h = e;
			break;
		}
	}
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return HNVMF_SC_GENERIC(NVME_SC_INTERNAL);
		snprintf(h->nqn, sizeof(h->nqn), "%s", hostnqn);
		hnvmf_list_add_tail(&tgt->hosts, &h->link);
	}
	unsigned max = tgt->conf->limits.max_controllers_per_host;
	if (h->nctrls >= max) {
		log_ratelimited(HNVMF_LOG_NOTICE, "host %s holds %u controllers (max_controllers_per_host): Connect refused",
				hostnqn, h->nctrls);
		host_release_if_unused(h);
		return host_busy();
	}
	h->nctrls++;
	*out = h;
	return 0;
}

void hnvmf_host_del_ctrl(struct hnvmf_host *h)
{
	h->nctrls--;
	host_release_if_unused(h);
}

uint16_t hnvmf_host_add_queue(struct hnvmf_tgt *tgt, struct hnvmf_host *h)
{
	unsigned max = tgt->conf->limits.max_queues_per_host;
	if (h->nqueues >= max) {
		log_ratelimited(HNVMF_LOG_NOTICE, "host %s holds %u queues (max_queues_per_host): Connect refused", h->nqn,
				h->nqueues);
		return host_busy();
	}
	h->nqueues++;
	return 0;
}

void hnvmf_host_del_queue(struct hnvmf_host *h)
{
	h->nqueues--;
	host_release_if_unused(h);
}
