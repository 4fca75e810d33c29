/* systemd service notifications through libsystemd's sd_notify: the daemon says when it serves,
 * what it serves, when it reloads and stops, and that its reactors still run. */
#include "target/notify.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "core/list.h"
#include "core/reactor.h"
#include "target/nvmf.h"

/* The main thread's housekeeping and a reload from the control thread both send the status. */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_status[128];

/* "2 listeners, 3 controllers, 2 tenants": what `systemctl status hnvmfd` shows. */
static void summary(struct hnvmf_tgt *tgt, char *buf, size_t len)
{
	size_t nports = 0, nctrls = 0;
	struct hnvmf_list *pos, *tmp;
	pthread_mutex_lock(&tgt->lock);
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ports) nports++;
	hnvmf_list_for_each_safe(pos, tmp, &tgt->ctrls) nctrls++;
	size_t ntenants = tgt->ntenants;
	pthread_mutex_unlock(&tgt->lock);
	snprintf(buf, len, "%zu listener%s, %zu controller%s, %zu tenant%s", nports, nports == 1 ? "" : "s",
		 nctrls, nctrls == 1 ? "" : "s", ntenants, ntenants == 1 ? "" : "s");
}

void hnvmf_notify_status(struct hnvmf_tgt *tgt)
{
	char s[sizeof(last_status)];
	summary(tgt, s, sizeof(s));
	pthread_mutex_lock(&status_lock);
	if (strcmp(s, last_status) != 0) {
		memcpy(last_status, s, sizeof(s));
		sd_notifyf(0, "STATUS=%s", s);
	}
	pthread_mutex_unlock(&status_lock);
}

void hnvmf_notify_ready(struct hnvmf_tgt *tgt)
{
	pthread_mutex_lock(&status_lock);
	summary(tgt, last_status, sizeof(last_status));
	sd_notifyf(0, "READY=1\nSTATUS=%s", last_status);
	pthread_mutex_unlock(&status_lock);
}

void hnvmf_notify_reloading(void)
{
	/* MONOTONIC_USEC lets systemd (253 and later) tell this reload from an earlier one. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(hnvmf_now_ns() / 1000));
}

void hnvmf_notify_stopping(void) { sd_notify(0, "STOPPING=1\nSTATUS=stopping"); }

uint64_t hnvmf_notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

static atomic_uint answered;
static unsigned asked;

static void answer(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&answered, 1, memory_order_relaxed);
}

void hnvmf_notify_watchdog(struct hnvmf_reactor *const *reactors, unsigned n)
{
	/* A reactor stuck in a loop never answers: the pings stop and systemd restarts the service
	 * after WatchdogSec, which a ping from this (healthy) thread alone would never let happen. */
	if (atomic_load_explicit(&answered, memory_order_relaxed) == asked)
		sd_notify(0, "WATCHDOG=1");
	for (unsigned i = 0; i < n; i++)
		if (hnvmf_reactor_call(reactors[i], answer, NULL) == 0)
			asked++;
}
