#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static enum log_level cur_level = LOG_LVL_INFO;
static bool to_syslog;

void log_init(enum log_level level, bool use_syslog)
{
	cur_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		/* Connect now: after chroot or pivot_root, /dev/log is out of reach. */
		openlog("virtiofsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

enum log_level log_get_level(void)
{
	return cur_level;
}

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "ERROR", [LOG_LVL_WARN] = "WARN",   [LOG_LVL_INFO] = "INFO",
	[LOG_LVL_DEBUG] = "DEBUG", [LOG_LVL_TRACE] = "TRACE",
};

static const int syslog_prio[] = {
	[LOG_LVL_ERROR] = LOG_ERR,    [LOG_LVL_WARN] = LOG_WARNING, [LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,  [LOG_LVL_TRACE] = LOG_DEBUG,
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level == LOG_LVL_OFF || level > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(syslog_prio[level], "%s", buf);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	/* One write per line so lines from several threads never interleave. */
	dprintf(STDERR_FILENO, "[%04d-%02d-%02dT%02d:%02d:%02dZ %s virtiofsd] %s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		level_names[level], buf);
}
