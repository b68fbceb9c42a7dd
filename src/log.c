#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static enum log_level cur_level = LOG_LVL_INFO;
static bool to_syslog;
static regex_t msg_filter; /* RUST_LOG's "/regex" part */
static bool have_filter;

void log_init(enum log_level level, bool use_syslog)
{
	cur_level = level;
	to_syslog = use_syslog;
	if (use_syslog)
		/* Connect now: after chroot or pivot_root, /dev/log is out of reach. */
		openlog("virtiofsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* What syslog(3) will write to: a datagram (or stream) socket at /dev/log. 0 or -errno. */
static int syslog_socket_check(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int r = -ENOENT;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
		close(fd);
		if (r == 0 || r != -EPROTOTYPE)
			return r;
	}
	return r;
}

void log_setup(enum log_level level, bool use_syslog, const char *rust_log)
{
	int sr = use_syslog ? syslog_socket_check() : 0;
	char *filter = NULL;

	if (use_syslog && sr == 0) {
		log_init(level, true); /* the Rust daemon's syslog logger ignores RUST_LOG too */
		return;
	}
	if (rust_log)
		level = log_spec_level(rust_log, &filter);
	log_init(level, false);
	if (filter) {
		have_filter = regcomp(&msg_filter, filter, REG_EXTENDED | REG_NOSUB) == 0;
		if (!have_filter)
			fprintf(stderr, "warning: invalid regex filter '%s' in RUST_LOG\n", filter);
		free(filter);
	}
	if (use_syslog)
		log_warn("can't enable syslog: /dev/log: %s; logging to stderr", strerror(-sr));
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

/* Guest-chosen names reach log lines: a control character could forge a line or drive the
 * reader's terminal, so each one is shown as '?'. */
static void defang(char *buf)
{
	for (unsigned char *p = (unsigned char *)buf; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void emit(enum log_level level, char *buf)
{
	if (have_filter && regexec(&msg_filter, buf, 0, NULL, 0) != 0)
		return;
	defang(buf);
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

void log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level == LOG_LVL_OFF || level > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns, unsigned *suppressed_before)
{
	const uint64_t interval = (uint64_t)LOG_RATELIMIT_INTERVAL_S * 1000000000u;

	*suppressed_before = 0;
	if (rl->window_start_ns == 0 || now_ns - rl->window_start_ns >= interval) {
		*suppressed_before = rl->suppressed;
		/* 0 marks "no window": a clock that reads 0 still starts one. */
		rl->window_start_ns = now_ns ? now_ns : 1;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < LOG_RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	if (rl->suppressed < UINT32_MAX)
		rl->suppressed++;
	return false;
}

/* One lock for every call site's state: only taken on the (rare) logging path. */
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

void log_msg_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
	struct timespec ts;
	unsigned dropped;
	bool ok;
	char buf[1024];
	va_list ap;

	if (level == LOG_LVL_OFF || level > cur_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&rl_lock);
	ok = log_ratelimit_allow(rl, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
				 &dropped);
	pthread_mutex_unlock(&rl_lock);
	if (!ok)
		return;
	if (dropped > 0) {
		snprintf(buf, sizeof(buf), "%u messages like the next one suppressed in %d s",
			 dropped, LOG_RATELIMIT_INTERVAL_S);
		emit(level, buf);
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
}
