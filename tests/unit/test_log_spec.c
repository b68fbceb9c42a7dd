/* RUST_LOG as env_logger 0.8 reads it, for our one target "virtiofsd" (src/log_spec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

static enum log_level level(const char *spec)
{
	char *filter = NULL;
	enum log_level l = log_spec_level(spec, &filter);

	free(filter);
	return l;
}

static void test_bare_levels(void **state)
{
	assert_int_equal(level("ERROR"), LOG_LVL_ERROR); /* podman machine; case-insensitive */
	assert_int_equal(level("debug"), LOG_LVL_DEBUG);
	assert_int_equal(level("Trace"), LOG_LVL_TRACE);
	assert_int_equal(level("off"), LOG_LVL_OFF);
	assert_int_equal(level("warn,info"), LOG_LVL_INFO); /* the last default wins */
	/* no directive at all: errors only */
	assert_int_equal(level(""), LOG_LVL_ERROR);
	assert_int_equal(level(",,"), LOG_LVL_ERROR);
	/* "err" is no level name: a target called "err", which is not ours */
	assert_int_equal(level("err"), LOG_LVL_OFF);
}

static void test_targets(void **state)
{
	assert_int_equal(level("virtiofsd=debug"), LOG_LVL_DEBUG);
	assert_int_equal(level("virtiofsd"), LOG_LVL_TRACE); /* a bare target: everything */
	assert_int_equal(level("virtiofsd="), LOG_LVL_TRACE);
	assert_int_equal(level("virt=warn"), LOG_LVL_WARN); /* a prefix of the target matches */
	assert_int_equal(level("vhost=debug"), LOG_LVL_OFF); /* another target only: nothing */
	assert_int_equal(level("info,vhost=debug"), LOG_LVL_INFO);
	assert_int_equal(level("debug,virtiofsd=warn"), LOG_LVL_WARN); /* the specific one wins */
	assert_int_equal(level("virtiofsd=warn,debug"), LOG_LVL_WARN);
	assert_int_equal(level("v=error,virtiofsd=info"), LOG_LVL_INFO); /* the longest name */
	/* a submodule of the Rust daemon: ours has no submodules, so every line gets it */
	assert_int_equal(level("warn,virtiofsd::passthrough=debug"), LOG_LVL_DEBUG);
	assert_int_equal(level("virtiofsd::limits=error"), LOG_LVL_ERROR);
	assert_int_equal(level("virtiofsdx=debug"), LOG_LVL_OFF);
}

static void test_malformed_parts_are_skipped(void **state)
{
	/* warned and dropped; nothing left is no directive at all: errors only */
	assert_int_equal(level("virtiofsd=loud"), LOG_LVL_ERROR);
	assert_int_equal(level("info,virtiofsd=loud"), LOG_LVL_INFO);
	assert_int_equal(level("a=b=c,debug"), LOG_LVL_DEBUG);
	assert_int_equal(level("debug/a/b"), LOG_LVL_ERROR); /* too many '/': all ignored */
}

static void test_filter(void **state)
{
	char *filter = NULL;

	assert_int_equal(log_spec_level("info/Waiting", &filter), LOG_LVL_INFO);
	assert_non_null(filter);
	assert_string_equal(filter, "Waiting");
	free(filter);
	assert_int_equal(log_spec_level("info", &filter), LOG_LVL_INFO);
	assert_null(filter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_levels),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_malformed_parts_are_skipped),
		cmocka_unit_test(test_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
