/* Logging: one line per event, to stderr or syslog. Levels follow the Rust daemon's --log-level. */
#ifndef VFSD_LOG_H
#define VFSD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_OFF = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

void log_init(enum log_level level, bool use_syslog);
enum log_level log_get_level(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_DEBUG)                                              \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)
#define log_trace(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_LVL_TRACE)                                              \
			log_msg(LOG_LVL_TRACE, __VA_ARGS__);                                       \
	} while (0)

#endif
