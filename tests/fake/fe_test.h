/* cmocka glue shared by the fake-frontend tests: each test gets its own daemon. */
#ifndef FAKE_FE_TEST_H
#define FAKE_FE_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "fe_ops.h"

/* Start a daemon with opts, negotiate and send FUSE INIT. */
static inline int fe_test_start(void **state, const struct fe_opts *opts, bool init)
{
	struct fe *fe;
	int r = fe_start(&fe, opts);

	*state = fe;
	if (r < 0) {
		fprintf(stderr, "fake frontend: start failed: %d\n", r);
		if (fe)
			fe_dump_log(fe);
		return -1;
	}
	if (init) {
		struct fuse_init_out out;

		r = fe_init(fe, &out);
		if (r != 0) {
			fprintf(stderr, "fake frontend: FUSE INIT failed: %d\n", r);
			fe_dump_log(fe);
			return -1;
		}
	}
	return 0;
}

static inline int fe_setup_init(void **state)
{
	return fe_test_start(state, NULL, true);
}

static inline int fe_setup_noinit(void **state)
{
	return fe_test_start(state, NULL, false);
}

/* Disconnect, require an exit without a signal and a log without sanitizer reports. */
static inline int fe_teardown_checked(void **state)
{
	struct fe *fe = *state;
	int r = 0;

	if (!fe)
		return 0;
	if (fe->pid > 0 && fe_disconnect(fe, FE_TIMEOUT_MS) < 0) {
		fprintf(stderr, "fake frontend: daemon did not exit after disconnect\n");
		r = -1;
	}
	if (fe->exited && WIFSIGNALED(fe->status)) {
		fprintf(stderr, "fake frontend: daemon killed by signal %d\n",
			WTERMSIG(fe->status));
		r = -1;
	}
	if (fe_log_clean(fe) < 0)
		r = -1;
	if (r < 0)
		fe_dump_log(fe);
	fe_destroy(fe);
	*state = NULL;
	return r;
}

/* FAKE_FILTER=glob runs only the matching tests. */
static inline void fe_test_filter(void)
{
	const char *f = getenv("FAKE_FILTER");

	if (f && *f)
		cmocka_set_test_filter(f);
}

#define FE_T(fn) cmocka_unit_test_setup_teardown(fn, fe_setup_init, fe_teardown_checked)
#define FE_T_NOINIT(fn) cmocka_unit_test_setup_teardown(fn, fe_setup_noinit, fe_teardown_checked)

#endif
