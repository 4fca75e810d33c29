#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum hnvmf_log_level max_level = HNVMF_LOG_INFO;

void hnvmf_log_set_level(enum hnvmf_log_level max) { max_level = max; }
enum hnvmf_log_level hnvmf_log_get_level(void) { return max_level; }

static const char *const level_names[] = {
	[HNVMF_LOG_ERR] = "err",   [HNVMF_LOG_WARN] = "warn",   [HNVMF_LOG_NOTICE] = "notice",
	[HNVMF_LOG_INFO] = "info", [HNVMF_LOG_DEBUG] = "debug",
};

int hnvmf_log_level_parse(const char *s)
{
	for (int l = HNVMF_LOG_ERR; l <= HNVMF_LOG_DEBUG; l++)
		if (strcmp(s, level_names[l]) == 0)
			return l;
	return -1;
}

void hnvmf_log(enum hnvmf_log_level lvl, const char *fmt, ...)
{
	if (lvl > max_level)
		return;
	/* One fprintf-sized buffer and a single write keeps lines from different threads whole. */
	char line[1024];
	int n;
	if (isatty(STDERR_FILENO))
		n = snprintf(line, sizeof(line), "%s: ", level_names[lvl]);
	else
		n = snprintf(line, sizeof(line), "<%d>", (int)lvl);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

bool hnvmf_ratelimit_pass(struct hnvmf_ratelimit *rl, unsigned *suppressed)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned long long now = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
	unsigned long long last = atomic_load_explicit(&rl->last_ns, memory_order_relaxed);
	/* Of threads racing for the same slot only the one whose exchange succeeds logs. */
	if ((last && now - last < rl->interval_ns) ||
	    !atomic_compare_exchange_strong_explicit(&rl->last_ns, &last, now, memory_order_relaxed,
						     memory_order_relaxed)) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return false;
	}
	*suppressed = atomic_exchange_explicit(&rl->suppressed, 0, memory_order_relaxed);
	return true;
}
