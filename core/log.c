#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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
