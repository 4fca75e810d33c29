/* crash-report.c - why a daemon that died in the field died.
 *
 * hnvmfd runs under journald or a test harness that keeps only its stderr; a core dump is often
 * disabled there. So a fatal signal first writes what it can to stderr: which signal, where, and
 * the call stack (glibc's backtrace; addresses resolve with addr2line -e hnvmfd). Only
 * async-signal-safe calls are made after the fault; backtrace() is called once at install time
 * because its first call loads libgcc, which must not happen inside the handler. */
#include "crash-report.h"

#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HNVMF_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HNVMF_SANITIZER_BUILD 1
#endif
#endif

#ifndef HNVMF_SANITIZER_BUILD
static void put(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

/* Formats V in BASE into BUF (at least 24 bytes) without stdio, which is not signal-safe. */
static const char *fmt_uint(char *buf, uintptr_t v, unsigned base)
{
	char *p = buf + 23;
	*p = '\0';
	do {
		*--p = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	return p;
}

static void on_fatal(int sig, siginfo_t *si, void *uctx)
{
	(void)uctx;
	char num[24];
	void *frames[64];

	put("<2>hnvmfd: fatal signal ");
	put(fmt_uint(num, (uintptr_t)sig, 10));
	put(" (");
	put(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	put(") at address 0x");
	put(fmt_uint(num, (uintptr_t)si->si_addr, 16));
	put(", thread ");
	put(fmt_uint(num, (uintptr_t)gettid(), 10));
	put("; backtrace:\n");
	int n = backtrace(frames, (int)(sizeof(frames) / sizeof(frames[0])));
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	/* SA_RESETHAND restored the default action: re-raise so the process dies of the same
	 * signal (exit status, core dump) as it would have without us. */
	raise(sig);
}

void hnvmf_crash_report_install(void)
{
	void *warm[2];
	(void)backtrace(warm, 2);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fatal;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}
#else
void hnvmf_crash_report_install(void)
{
}
#endif
