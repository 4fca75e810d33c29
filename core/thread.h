/* thread.h - small helpers for the engine's threads. */
#ifndef HNVMF_THREAD_H
#define HNVMF_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Pins thread t to one CPU; cpu < 0 leaves it where the scheduler puts it. A failure (a CPU
 * taken offline, a cpuset that excludes it) is logged with what, and the thread runs unpinned:
 * pinning is a performance setting, not a reason to refuse service. */
void hnvmf_thread_pin(pthread_t t, int cpu, const char *what);

/* Tells the threads that wait on cond under lock for work or a deadline to end: sets *stop
 * under lock and wakes them all. The caller then joins them. */
void hnvmf_thread_request_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop);

#endif
