/* thread.c - pinning the engine's threads (reactors, I/O servers) to CPUs. */
#include "core/thread.h"

#include <sched.h>
#include <string.h>

#include "core/log.h"

void hnvmf_thread_pin(pthread_t t, int cpu, const char *what)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(t, sizeof(set), &set);
	if (rc)
		log_warn("%s: cannot pin to cpu %d: %s", what, cpu, strerror(rc));
}

void hnvmf_thread_request_stop(pthread_mutex_t *lock, pthread_cond_t *cond, bool *stop)
{
	pthread_mutex_lock(lock);
	*stop = true;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
}
