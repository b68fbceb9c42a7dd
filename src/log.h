/* Logging: one line per event, to stderr or syslog. Levels follow the Rust daemon's --log-level. */
#ifndef VFSD_LOG_H
#define VFSD_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_OFF = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

void log_init(enum log_level level, bool use_syslog);
/*
 * The daemon's logging, as the Rust daemon sets it up: with use_syslog, syslog at `level` when
 * /dev/log takes a connection, else stderr and a warning; on stderr, RUST_LOG (rust_log, NULL
 * when unset) replaces `level` the way env_logger reads it (log_spec_level).
 */
void log_setup(enum log_level level, bool use_syslog, const char *rust_log);
/* The level RUST_LOG's directives give our lines; *filter gets its "/regex" part (or NULL),
 * to free. Malformed parts are ignored with a warning on stderr, as env_logger does. */
enum log_level log_spec_level(const char *spec, char **filter);
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

/*
 * Rate limiting for messages a guest or frontend can trigger at will (one per malformed
 * request): at most LOG_RATELIMIT_BURST lines per LOG_RATELIMIT_INTERVAL_S seconds per call
 * site, then silence; the first line after the window says how many were suppressed. State is
 * per call site (a zero-initialised static); the logger serialises access to it.
 */
#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_S 5

struct log_ratelimit {
	uint64_t window_start_ns; /* 0: no window yet */
	unsigned printed;	  /* lines printed in the current window */
	unsigned suppressed;	  /* lines dropped in the current window */
};

/* Whether a line may be printed at time now_ns (monotonic). *suppressed_before gets how many
 * lines the previous window dropped when a new window starts with this line, else 0. */
bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns, unsigned *suppressed_before);
void log_msg_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_ratelimited_(level, ...)                                                               \
	do {                                                                                       \
		static struct log_ratelimit log_rl_;                                               \
		if (log_get_level() >= (level))                                                    \
			log_msg_ratelimited(&log_rl_, (level), __VA_ARGS__);                       \
	} while (0)
#define log_error_rl(...) log_ratelimited_(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn_rl(...) log_ratelimited_(LOG_LVL_WARN, __VA_ARGS__)
#define log_info_rl(...) log_ratelimited_(LOG_LVL_INFO, __VA_ARGS__)

#endif
