/* Fake frontend: inode file handles and the guest fd limit, seen from outside the daemon
 * (/proc/<daemon>/fd): lookups of many files keep the fd count low, FORGET frees entries, a file
 * renamed on the host stays reachable by its inode id, and without handles a small open-file
 * limit answers ENFILE instead of starving the daemon. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define NFILES 2000
#define FD_CACHE 64 /* the daemon's idle-fd cache (PT_FD_CACHE) */
#define FD_SLACK 16 /* threads, a racing reopen, the log */

/* The process that serves: the daemon itself, or its child in the namespace sandbox. */
static pid_t serving_pid(struct fe *fe)
{
	char path[64];
	long child = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)fe->pid, (int)fe->pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child > 0 ? (pid_t)child : fe->pid;
}

static int daemon_fds(struct fe *fe)
{
	return fe_proc_fds(serving_pid(fe));
}

static void make_files(struct fe *fe, int n)
{
	char rel[32], path[256];

	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "f%d", i);
		int fd = open(fe_share_path(fe, rel, path, sizeof(path)),
			      O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "abc", 3), 3);
		close(fd);
	}
}

static uint64_t lookup_ok(struct fe *fe, uint64_t parent, const char *name)
{
	struct fuse_entry_out e;
	int r = fe_lookup(fe, parent, name, &e);

	if (r != 0)
		fail_msg("LOOKUP %s: %d", name, r);
	return e.nodeid;
}

static int start_with(void **state, const char *args)
{
	struct fe_opts o = {.daemon_args = args};

	return fe_test_start(state, &o, true);
}

static int setup_mandatory(void **state)
{
	return start_with(state, "--inode-file-handles=mandatory");
}

static int setup_mandatory_ns(void **state)
{
	return start_with(state, "--inode-file-handles=mandatory --sandbox=namespace");
}

static int setup_never_low(void **state)
{
	return start_with(state, "--inode-file-handles=never --rlimit-nofile=1000");
}

static void many_lookups(struct fe *fe)
{
	static uint64_t ids[NFILES];
	struct fuse_attr_out a;
	char name[32];
	int base, peak;

	if (!fe || fe->legacy)
		skip();
	make_files(fe, NFILES);
	base = daemon_fds(fe);
	assert_true(base > 0);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = lookup_ok(fe, FUSE_ROOT_ID, name);
	}
	peak = daemon_fds(fe);
	for (int i = 0; i < NFILES; i += 7) {
		assert_int_equal(fe_getattr(fe, ids[i], &a), 0);
		assert_int_equal(a.attr.size, 3);
	}
	if (daemon_fds(fe) > peak)
		peak = daemon_fds(fe);
	fprintf(stderr, "%d lookups: daemon fds %d before, %d at most\n", NFILES, base, peak);
	assert_true(peak <= base + FD_CACHE + FD_SLACK);
	/* FORGET frees the entries and their cached fds; their ids stop working. */
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(fe_forget(fe, ids[i], 1, false), 0);
	assert_true(daemon_fds(fe) <= base + 2);
	assert_int_equal(fe_getattr(fe, ids[0], &a), -EBADF);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

static void test_many_lookups(void **state)
{
	many_lookups(*state);
}

/* The namespace sandbox hands the backend its mountinfo: handles work behind pivot_root. */
static void test_many_lookups_namespace(void **state)
{
	many_lookups(*state);
}

/* The sanitizer tier runs with --seccomp=none; LeakSanitizer cannot scan the namespace
 * sandbox's PID 1 (its /proc is the fd directory only), as fake-escape-namespace shows. */
static int setup_mandatory_ns_unless_asan(void **state)
{
	const char *more = getenv("FAKE_DAEMON_ARGS");

	if (more && strstr(more, "--seccomp=none")) {
		*state = NULL;
		return 0;
	}
	return setup_mandatory_ns(state);
}

static void test_renamed_on_host(void **state)
{
	struct fe *fe = *state;
	char from[256], to[256], name[32], buf[8];
	struct fuse_attr_out a;
	uint32_t got = 0;
	uint64_t d, f, fh;

	if (fe->legacy)
		skip();
	assert_int_equal(mkdir(fe_share_path(fe, "d", from, sizeof(from)), 0755), 0);
	make_files(fe, FD_CACHE + 16);
	assert_int_equal(rename(fe_share_path(fe, "f0", from, sizeof(from)),
				fe_share_path(fe, "d/file", to, sizeof(to))),
			 0);
	d = lookup_ok(fe, FUSE_ROOT_ID, "d");
	f = lookup_ok(fe, d, "file");
	/* Other lookups push the file's fd out of the cache: only its handle is left. */
	for (int i = 1; i < FD_CACHE + 16; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fe_forget(fe, lookup_ok(fe, FUSE_ROOT_ID, name), 1, false), 0);
	}
	assert_int_equal(rename(fe_share_path(fe, "d/file", from, sizeof(from)),
				fe_share_path(fe, "elsewhere", to, sizeof(to))),
			 0);
	assert_int_equal(rmdir(fe_share_path(fe, "d", from, sizeof(from))), 0);
	assert_int_equal(fe_getattr(fe, f, &a), 0);
	assert_int_equal(a.attr.size, 3);
	assert_int_equal(fe_open(fe, f, O_RDONLY, false, &fh), 0);
	assert_int_equal(fe_read(fe, f, fh, 0, buf, sizeof(buf), NULL, &got), 0);
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(fe_release(fe, f, fh, false), 0);
	/* Its new name leads to the same inode id. */
	assert_int_equal(lookup_ok(fe, FUSE_ROOT_ID, "elsewhere"), f);
	assert_int_equal(fe_forget(fe, f, 2, false), 0);
	assert_int_equal(fe_forget(fe, d, 1, false), 0);
}

/* One O_PATH fd per inode under --rlimit-nofile=1000: the guest gets ENFILE past its share,
 * the daemon keeps its reserve, and FORGET gives the budget back. */
static void test_never_low_limit(void **state)
{
	static uint64_t ids[NFILES];
	struct fe *fe = *state;
	struct fuse_entry_out e;
	int n = 0, refused = 0, peak;
	char name[32];

	if (fe->legacy)
		skip();
	make_files(fe, NFILES);
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		int r = fe_lookup(fe, FUSE_ROOT_ID, name, &e);

		if (r == 0)
			ids[n++] = e.nodeid;
		else if (r == -ENFILE || r == -EMFILE)
			refused++;
		else
			fail_msg("LOOKUP %s: %d", name, r);
	}
	peak = daemon_fds(fe);
	fprintf(stderr, "never, rlimit 1000: %d lookups held, %d refused, daemon fds %d\n", n,
		refused, peak);
	assert_true(n > 100 && refused > 0 && n + refused == NFILES);
	assert_true(peak < 1000 - 100);
	assert_true(fe_alive(fe));
	for (int i = 0; i < n; i++)
		assert_int_equal(fe_forget(fe, ids[i], 1, false), 0);
	assert_int_equal(fe_forget(fe, lookup_ok(fe, FUSE_ROOT_ID, "f1999"), 1, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_lookups, setup_mandatory,
					    fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_many_lookups_namespace,
					    setup_mandatory_ns_unless_asan, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_renamed_on_host, setup_mandatory,
					    fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_never_low_limit, setup_never_low,
					    fe_teardown_checked),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-handles", tests, NULL, NULL);
}
