/* Logging to stderr in a form journald reads: "<N>" syslog-level prefixes when stderr is not a
 * terminal (journald strips them and keeps the level), plain "level: " text on a terminal. */
#ifndef HNVMF_LOG_H
#define HNVMF_LOG_H

#include <stdbool.h>

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
void hnvmf_log(enum hnvmf_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
/* hnvmf_log through a limiter of one line a second of its own at each place it is written. */
#define log_ratelimited(lvl, fmt, ...)                                                            \
	do {                                                                                      \
		static struct hnvmf_ratelimit rl_ = HNVMF_RATELIMIT_INIT(1000);                   \
		unsigned n_;                                                                      \
		if (hnvmf_ratelimit_pass(&rl_, &n_))                                              \
			hnvmf_log(lvl, fmt " (%u like it not logged in the last second)", __VA_ARGS__, n_); \
	} while (0)

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
