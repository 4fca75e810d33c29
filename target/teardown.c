/* Queue teardown at daemon stop: see target/teardown.h. */
#include "target/teardown.h"

#include <stdint.h>
#include <time.h>

#include "core/log.h"
#include "core/reactor.h"
#include "target/nvmf.h"

bool hnvmf_sq_in_drain(const struct hnvmf_sq *sq, enum hnvmf_drain which)
{
	return which == HNVMF_DRAIN_ALL || !(sq->ctrl && sq->qid == 0);
}

static unsigned count_all(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			  enum hnvmf_drain which)
{
	unsigned c = 0;
	for (unsigned i = 0; i < n; i++)
		c += t[i]->count(which);
	return c;
}

/* Polls (the connections close on their reactors) until none of which is left or deadline. */
static bool wait_queues(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			enum hnvmf_drain which, uint64_t deadline)
{
	while (count_all(t, n, which) > 0) {
		if (hnvmf_now_ns() >= deadline)
			return false;
		nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
	}
	return true;
}

void hnvmf_queues_teardown(const struct hnvmf_queue_teardown_ops *const *t, unsigned n,
			   unsigned timeout_ms)
{
	uint64_t tmo_ns = (uint64_t)timeout_ms * 1000000u;
	uint64_t deadline = hnvmf_now_ns() + tmo_ns;
	for (unsigned i = 0; i < n; i++)
		t[i]->drain(HNVMF_DRAIN_IO);
	wait_queues(t, n, HNVMF_DRAIN_IO, deadline);
	for (unsigned i = 0; i < n; i++)
		t[i]->drain(HNVMF_DRAIN_ALL);
	if (wait_queues(t, n, HNVMF_DRAIN_ALL, deadline))
		return;
	for (unsigned i = 0; i < n; i++) {
		unsigned left = t[i]->count(HNVMF_DRAIN_ALL);
		if (left)
			log_warn("%s: %u connections still busy after %u ms: closing them", t[i]->name,
				 left, timeout_ms);
		t[i]->close_all();
	}
	if (!wait_queues(t, n, HNVMF_DRAIN_ALL, hnvmf_now_ns() + tmo_ns))
		for (unsigned i = 0; i < n; i++)
			if (t[i]->count(HNVMF_DRAIN_ALL))
				log_err("%s: %u connections never finished their I/O", t[i]->name,
					t[i]->count(HNVMF_DRAIN_ALL));
}
