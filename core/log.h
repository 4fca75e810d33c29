/* Logging to stderr in a form journald reads: "<N>" syslog-level prefixes when stderr is not a
 * terminal (journald strips them and keeps the level), plain "level: " text on a terminal. */
#ifndef HNVMF_LOG_H
#define HNVMF_LOG_H

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
