/* The log rate limiter: a burst per window, then silence, then one "suppressed" line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

#define SEC 1000000000ull

static void test_burst_then_silence(void **state)
{
	struct log_ratelimit rl = {0};
	unsigned d;

	for (unsigned i = 0; i < LOG_RATELIMIT_BURST; i++) {
		assert_true(log_ratelimit_allow(&rl, 100 * SEC + i, &d));
		assert_int_equal(d, 0);
	}
	for (unsigned i = 0; i < 1000; i++) {
		assert_false(log_ratelimit_allow(&rl, 100 * SEC + 50 + i, &d));
		assert_int_equal(d, 0);
	}
	/* Still inside the window. */
	assert_false(log_ratelimit_allow(&rl, 100 * SEC + LOG_RATELIMIT_INTERVAL_S * SEC - 1, &d));
	/* A new window: allowed, and told what the last one dropped. */
	assert_true(log_ratelimit_allow(&rl, 100 * SEC + LOG_RATELIMIT_INTERVAL_S * SEC, &d));
	assert_int_equal(d, 1001);
	assert_true(log_ratelimit_allow(&rl, 100 * SEC + LOG_RATELIMIT_INTERVAL_S * SEC + 1, &d));
	assert_int_equal(d, 0);
}

static void test_quiet_window_reports_nothing(void **state)
{
	struct log_ratelimit rl = {0};
	unsigned d;

	assert_true(log_ratelimit_allow(&rl, 0, &d)); /* a clock at 0 still opens a window */
	assert_true(log_ratelimit_allow(&rl, 10 * SEC, &d));
	assert_int_equal(d, 0);
}

/* log_warn_rl() through the real logger, stderr captured: a flood yields the burst only. */
static void test_flood_through_logger(void **state)
{
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char buf[8192];
	ssize_t n;
	unsigned lines = 0;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	log_init(LOG_LVL_INFO, false);
	dup2(fd, STDERR_FILENO);
	for (int i = 0; i < 10000; i++)
		log_warn_rl("malformed request %d", i);
	log_debug("not printed at INFO");
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	for (char *p = buf; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, LOG_RATELIMIT_BURST);
	assert_non_null(strstr(buf, "WARN virtiofsd] malformed request 0\n"));
	assert_null(strstr(buf, "malformed request 10\n"));
}

/* A guest-chosen name with a newline or an escape sequence stays on one harmless line. */
static void test_control_characters(void **state)
{
	char path[] = "/tmp/test_log_XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char buf[1024];
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	log_init(LOG_LVL_INFO, false);
	dup2(fd, STDERR_FILENO);
	log_warn("bad name '%s'", "a\n[2026-01-01T00:00:00Z ERROR virtiofsd] forged\x1b[2J\x7f");
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1); /* one line */
	assert_null(strchr(buf, 0x1b));
	assert_null(strchr(buf, 0x7f));
	assert_non_null(strstr(buf, "bad name 'a?[2026-01-01T00:00:00Z ERROR virtiofsd] forged?[2J?'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_silence),
	    cmocka_unit_test(test_quiet_window_reports_nothing),
	    cmocka_unit_test(test_flood_through_logger),
	    cmocka_unit_test(test_control_characters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
