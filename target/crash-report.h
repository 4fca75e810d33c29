/* crash-report.h - a fatal signal leaves a backtrace in the daemon's log before the process dies. */
#ifndef HNVMF_CRASH_REPORT_H
#define HNVMF_CRASH_REPORT_H

/* Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT that write the signal, the
 * faulting address and a backtrace to stderr (journald priority 2), then let the signal kill the
 * process as it would have (core dump included). Does nothing in a sanitizer build, whose own
 * report is better. */
void hnvmf_crash_report_install(void);

#endif
