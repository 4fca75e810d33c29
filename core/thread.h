/* thread.h - small helpers for the engine's threads. */
#ifndef HNVMF_THREAD_H
#define HNVMF_THREAD_H

#include <pthread.h>

/* Pins thread t to one CPU; cpu < 0 leaves it where the scheduler puts it. A failure (a CPU
 * taken offline, a cpuset that excludes it) is logged with what, and the thread runs unpinned:
 * pinning is a performance setting, not a reason to refuse service. */
void hnvmf_thread_pin(pthread_t t, int cpu, const char *what);

#endif
