/* hnvmfd's service notifications to systemd (sd_notify(3), hnvmfd.service is Type=notify).
 * Started otherwise (no NOTIFY_SOCKET in the environment), every call does nothing. */
#ifndef HNVMF_TARGET_NOTIFY_H
#define HNVMF_TARGET_NOTIFY_H

#include <stdint.h>

struct hnvmf_reactor;
struct hnvmf_tgt;

/* READY=1 with the first STATUS=: call once the listeners accept connections. */
void hnvmf_notify_ready(struct hnvmf_tgt *tgt);
/* RELOADING=1 before a reload (SIGHUP); hnvmf_notify_ready again when it is done. */
void hnvmf_notify_reloading(void);
/* STATUS= with the one-line summary, sent only when it changed since the last one. */
void hnvmf_notify_status(struct hnvmf_tgt *tgt);
void hnvmf_notify_stopping(void);

/* The service's watchdog interval in µs (WatchdogSec=), 0 when it has none. */
uint64_t hnvmf_notify_watchdog_usec(void);
/* One watchdog round, from the main thread's housekeeping: WATCHDOG=1 only if every reactor ran
 * the previous round's message, then a new round is sent. */
void hnvmf_notify_watchdog(struct hnvmf_reactor *const *reactors, unsigned n);

#endif
