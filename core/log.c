#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* CODE_FILE/CODE_LINE would name this file, not the caller: leave them out. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

static _Atomic int max_level = HNVMF_LOG_INFO;

void hnvmf_log_set_level(enum hnvmf_log_level max) { atomic_store_explicit(&max_level, (int)max, memory_order_relaxed); }
enum hnvmf_log_level hnvmf_log_get_level(void)
{
	return (enum hnvmf_log_level)atomic_load_explicit(&max_level, memory_order_relaxed);
}

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

const char *hnvmf_log_level_name(enum hnvmf_log_level l)
{
	return l >= HNVMF_LOG_ERR && l <= HNVMF_LOG_DEBUG ? level_names[l] : "?";
}

/* journald passes "DEVICE:INODE" of the stream it gave us; stderr may have been redirected
 * since (a shell script's 2>file), so it counts only while stderr is still that stream. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* 0 unknown, 1 journal, 2 stderr: decided at the first line (the environment does not change). */
static _Atomic int sink;

size_t hnvmf_log_format(char *out, size_t len, enum hnvmf_log_level lvl, const struct timespec *utc,
			const char *msg)
{
	struct tm tm;
	gmtime_r(&utc->tv_sec, &tm);
	int n = snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s: %s\n", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, utc->tv_nsec / 1000,
			 hnvmf_log_level_name(lvl), msg);
	if (n < 0)
		return 0;
	if ((size_t)n >= len) { /* truncated: keep the line a line */
		n = (int)len - 1;
		out[n - 1] = '\n';
	}
	return (size_t)n;
}

static void to_journal(enum hnvmf_log_level lvl, const struct hnvmf_log_fields *f, const char *msg)
{
	char prio[16], cntlid[16], qid[16], *host = NULL, *sub = NULL, *m = NULL;
	struct iovec iov[6];
	int n = 0;
	snprintf(prio, sizeof(prio), "PRIORITY=%d", (int)lvl);
	iov[n++] = (struct iovec){prio, strlen(prio)};
	if (asprintf(&m, "MESSAGE=%s", msg) >= 0)
		iov[n++] = (struct iovec){m, strlen(m)};
	if (f && f->hostnqn && asprintf(&host, "HOSTNQN=%s", f->hostnqn) >= 0)
		iov[n++] = (struct iovec){host, strlen(host)};
	if (f && f->subnqn && asprintf(&sub, "SUBNQN=%s", f->subnqn) >= 0)
		iov[n++] = (struct iovec){sub, strlen(sub)};
	if (f && f->cntlid >= 0) {
		snprintf(cntlid, sizeof(cntlid), "CNTLID=%d", f->cntlid);
		iov[n++] = (struct iovec){cntlid, strlen(cntlid)};
	}
	if (f && f->qid >= 0) {
		snprintf(qid, sizeof(qid), "QID=%d", f->qid);
		iov[n++] = (struct iovec){qid, strlen(qid)};
	}
	sd_journal_sendv(iov, n);
	free(m);
	free(host);
	free(sub);
}

static void vlog(enum hnvmf_log_level lvl, const struct hnvmf_log_fields *f, const char *fmt, va_list ap)
{
	if ((int)lvl > atomic_load_explicit(&max_level, memory_order_relaxed))
		return;
	char msg[960], line[1024];
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	int k = atomic_load_explicit(&sink, memory_order_relaxed);
	if (!k) {
		k = stderr_is_journal() ? 1 : 2;
		atomic_store_explicit(&sink, k, memory_order_relaxed);
	}
	if (k == 1) {
		to_journal(lvl, f, msg);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* One buffer and a single write keeps lines from different threads whole. */
	size_t len = hnvmf_log_format(line, sizeof(line), lvl, &ts, msg);
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void hnvmf_log(enum hnvmf_log_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, NULL, fmt, ap);
	va_end(ap);
}

void hnvmf_log_f(enum hnvmf_log_level lvl, const struct hnvmf_log_fields *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, f, fmt, ap);
	va_end(ap);
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
