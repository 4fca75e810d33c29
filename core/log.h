/* Logging. Under journald (stderr is the journal's stream: $JOURNAL_STREAM names it) each line
 * goes through sd_journal_send with its priority and, when the call site has them, the
 * structured fields HOSTNQN, SUBNQN, CNTLID and QID; elsewhere (a terminal, a file, a pipe) to
 * stderr as "2026-12-06T23:16:19.123456Z level: text", UTC. The level may change at any time
 * (hnvmfctl log-level), from any thread. */
#ifndef HNVMF_LOG_H
#define HNVMF_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum hnvmf_log_level {
	HNVMF_LOG_ERR = 3,
	HNVMF_LOG_WARN = 4,
	HNVMF_LOG_NOTICE = 5,
	HNVMF_LOG_INFO = 6,
	HNVMF_LOG_DEBUG = 7,
};

void hnvmf_log_set_level(enum hnvmf_log_level max);
enum hnvmf_log_level hnvmf_log_get_level(void);
/* Parses "err", "warn", "notice", "info", "debug"; returns -1 when unknown. */
int hnvmf_log_level_parse(const char *s);
const char *hnvmf_log_level_name(enum hnvmf_log_level l);
void hnvmf_log(enum hnvmf_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a line is about, for the journal's structured fields; NULL / -1 when not known. Call
 * sites that know a queue pass them (target/ has a helper that fills them from a queue). */
struct hnvmf_log_fields {
	const char *hostnqn, *subnqn;
	int cntlid, qid;
};
void hnvmf_log_f(enum hnvmf_log_level lvl, const struct hnvmf_log_fields *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The line as written to a terminal or file (no journal), for tests: returns its length. */
size_t hnvmf_log_format(char *out, size_t len, enum hnvmf_log_level lvl, const struct timespec *utc,
			const char *msg);

/* At most one line per interval, for lines a remote peer can cause at will (refusals, back-offs):
 * a flood must not fill the log. Lines held back are counted; the next one that passes gets the
 * count. Lock-free, so any thread may use one. */
struct hnvmf_ratelimit {
	unsigned long long interval_ns;
	_Atomic unsigned long long last_ns; /* 0: nothing logged yet */
	_Atomic unsigned suppressed;
};
#define HNVMF_RATELIMIT_INIT(ms) { .interval_ns = (unsigned long long)(ms) * 1000000ull }
/* True when a line may go out now; *suppressed is then how many were held back before it. */
bool hnvmf_ratelimit_pass(struct hnvmf_ratelimit *rl, unsigned *suppressed);
/* hnvmf_log through a limiter of one line a second of its own at each place it is written;
 * log_ratelimited_f with structured fields (struct hnvmf_log_fields *, may be NULL). */
#define log_ratelimited_f(lvl, fields, fmt, ...)                                                 \
	do {                                                                                      \
		static struct hnvmf_ratelimit rl_ = HNVMF_RATELIMIT_INIT(1000);                   \
		unsigned n_;                                                                      \
		if (hnvmf_log_get_level() >= (lvl) && hnvmf_ratelimit_pass(&rl_, &n_))          \
			hnvmf_log_f(lvl, fields, fmt " (%u like it not logged in the last second)", \
				    __VA_ARGS__, n_);                                             \
	} while (0)
#define log_ratelimited(lvl, fmt, ...) log_ratelimited_f(lvl, NULL, fmt, __VA_ARGS__)

#define log_err(...) hnvmf_log(HNVMF_LOG_ERR, __VA_ARGS__)
#define log_warn(...) hnvmf_log(HNVMF_LOG_WARN, __VA_ARGS__)
#define log_notice(...) hnvmf_log(HNVMF_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) hnvmf_log(HNVMF_LOG_INFO, __VA_ARGS__)
/* Debug messages cost one branch when disabled: the arguments are not evaluated. */
#define log_debug(...)                                                                            \
	do {                                                                                      \
		if (hnvmf_log_get_level() >= HNVMF_LOG_DEBUG)                                     \
			hnvmf_log(HNVMF_LOG_DEBUG, __VA_ARGS__);                                  \
	} while (0)

#endif
