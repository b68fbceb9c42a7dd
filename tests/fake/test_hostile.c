/* Fake frontend: what a hostile guest or VMM can make the daemon spend or suffer (issue 11):
 * log floods, guest RAM truncated behind our back, handles used with the wrong inode, security
 * labels under names they must not have. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)

/* Bytes in the daemon log's lines at levels above DEBUG that contain needle (so a FAKE_DEBUG
 * run counts the same lines as a normal one). */
static long log_bytes(struct fe *fe, const char *needle, long *lines)
{
	FILE *f = fopen(fe->log_path, "re");
	char buf[4096];
	long bytes = 0;

	*lines = 0;
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f)) {
		if (strstr(buf, " DEBUG ") || strstr(buf, " TRACE ") || !strstr(buf, needle))
			continue;
		bytes += (long)strlen(buf);
		(*lines)++;
	}
	fclose(f);
	return bytes;
}

#define NINITS 20000
/* Each INIT call site may print LOG_RATELIMIT_BURST (10) lines and one "suppressed" line per
 * 5 s window; the flood takes a few windows at most under a sanitizer. Unlimited, 20,000 INITs
 * wrote 40,000 lines. */
#define INIT_LINES_MAX 400

/* A guest that sends INIT over and over (each one restarts the session) gets replies, and the
 * host's log grows by a bounded number of lines. */
static void test_init_flood(void **state)
{
	struct fe *fe = *state;
	long lines, bytes;

	for (int i = 0; i < NINITS; i++) {
		int r = fe_init(fe, NULL);

		if (r != 0)
			fail_msg("INIT %d of %d: %d", i, NINITS, r);
	}
	bytes = log_bytes(fe, "INIT", &lines);
	fprintf(stderr, "%d INITs: %ld log lines, %ld bytes about INIT\n", NINITS, lines, bytes);
	assert_true(bytes >= 0);
	assert_true(lines > 0); /* the first ones are still logged */
	if (lines > INIT_LINES_MAX)
		fail_msg("%ld INIT log lines (%ld bytes) for %d INITs, more than %d", lines, bytes,
			 NINITS, INIT_LINES_MAX);
	/* The next window's first line says how many were dropped. */
	sleep(6);
	assert_int_equal(fe_init(fe, NULL), 0);
	assert_true(fe_log_contains(fe, "messages like the next one suppressed"));
	struct fuse_attr_out a;

	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_init_flood),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-hostile", tests, NULL, NULL);
}
