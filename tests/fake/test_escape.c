/*
 * Fake frontend: the guest must not reach outside the shared directory in any sandbox mode,
 * none included (the mode is argv[1]; see tests/escape/canary.h). Raw requests carry ".." and
 * absolute names in every operation that takes a name, use symlink nodes as directories, and
 * keep using a directory's inode id after the host swapped that directory for a symlink
 * pointing out. After each test the host checks the canaries planted next to the share.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "canary.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static char mode_args[64];

static const char *const tried[] = { "esc-n", "esc-made-through-link", "esc-swap",
				     "esc-swap-dir" };

static int setup(void **state)
{
	struct fe_opts o = { .daemon_args = mode_args[0] ? mode_args : NULL };

	return fe_test_start(state, &o, true);
}

/* The canaries, plus symlinks in the share that point at them or above. */
static void plant(struct fe *fe, struct canary *c)
{
	char p[256], q[256];

	canary_plant(fe, c);
	fe_tmp_path(fe, "secret", p, sizeof(p));
	assert_int_equal(symlink(p, fe_share_path(fe, "abs-link", q, sizeof(q))), 0);
	assert_int_equal(symlink("../secret", fe_share_path(fe, "rel-link", q, sizeof(q))), 0);
	assert_int_equal(symlink("..", fe_share_path(fe, "up", q, sizeof(q))), 0);
	assert_int_equal(symlink("/", fe_share_path(fe, "root", q, sizeof(q))), 0);
}

static void check(struct fe *fe, const struct canary *c)
{
	canary_check(fe, c, tried, N_ELEM(tried));
}

static void test_dotdot_lookup(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, x, s;
	struct canary c;
	struct stat st;
	char p[256];

	plant(fe, &c);
	assert_int_equal(stat(fe->share, &st), 0);
	/* ".." of the root is the root itself, or refused; never the host's parent. */
	if (fe_lookup(fe, FUSE_ROOT_ID, "..", &e) == 0) {
		assert_int_equal(e.attr.ino, st.st_ino);
		assert_true(fe_lookup(fe, e.nodeid, "secret", &x) < 0);
		assert_true(fe_lookup(fe, e.nodeid, "outdir", &x) < 0);
	}
	/* ".." of a subdirectory is the root, and ".." of that the root again. */
	assert_int_equal(mkdir(fe_share_path(fe, "sub", p, sizeof(p)), 0755), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "sub", &s), 0);
	if (fe_lookup(fe, s.nodeid, "..", &e) == 0) {
		assert_int_equal(e.attr.ino, st.st_ino);
		if (fe_lookup(fe, e.nodeid, "..", &x) == 0)
			assert_int_equal(x.attr.ino, st.st_ino);
		assert_true(fe_lookup(fe, e.nodeid, "secret", &x) < 0);
	}
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "../secret", &x) < 0);
	assert_true(fe_lookup(fe, s.nodeid, "../../secret", &x) < 0);
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "up/secret", &x) < 0);
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, fe_tmp_path(fe, "secret", p, sizeof(p)), &x) < 0);
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "/etc/passwd", &x) < 0);
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "/", &x) < 0);
	check(fe, &c);
}

/* Names that are not one component of the share: each operation must refuse every one. */
static const char *bad_names[8];

static void fill_bad_names(struct fe *fe, char *abs_tmp, size_t cap)
{
	fe_tmp_path(fe, "esc-n", abs_tmp, cap);
	bad_names[0] = "..";
	bad_names[1] = ".";
	bad_names[2] = "../esc-n";
	bad_names[3] = "/esc-n";
	bad_names[4] = abs_tmp;
	bad_names[5] = "sub/../../esc-n";
	bad_names[6] = "";
	bad_names[7] = "/tmp/esc-n";
}

static void refuse(int r, const char *op, const char *name)
{
	if (r == 0)
		fail_msg("%s with the name '%s' succeeded", op, name);
	if (r == FE_ETRANSPORT)
		fail_msg("%s with the name '%s': no well-formed reply", op, name);
}

static void test_bad_names_create(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, f;
	struct canary c;
	char abs_tmp[256], p[256];
	uint64_t fh;

	plant(fe, &c);
	fill_bad_names(fe, abs_tmp, sizeof(abs_tmp));
	assert_int_equal(mkdir(fe_share_path(fe, "sub", p, sizeof(p)), 0755), 0);
	esc_put_file(fe_share_path(fe, "file", p, sizeof(p)), "in-share", 0644);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "file", &f), 0);
	for (size_t i = 0; i < N_ELEM(bad_names); i++) {
		const char *n = bad_names[i];

		refuse(fe_create(fe, FUSE_ROOT_ID, n, O_CREAT | O_RDWR, S_IFREG | 0644, &e, &fh),
		       "CREATE", n);
		refuse(fe_mkdir(fe, FUSE_ROOT_ID, n, 0755, &e), "MKDIR", n);
		refuse(fe_mknod(fe, FUSE_ROOT_ID, n, S_IFREG | 0644, 0, &e), "MKNOD (file)", n);
		refuse(fe_mknod(fe, FUSE_ROOT_ID, n, S_IFIFO | 0644, 0, &e), "MKNOD (fifo)", n);
		refuse(fe_symlink(fe, FUSE_ROOT_ID, n, "target", &e), "SYMLINK", n);
		refuse(fe_link(fe, f.nodeid, FUSE_ROOT_ID, n, &e), "LINK", n);
	}
	check(fe, &c);
	/* Only what the test made is in the share. */
	assert_int_equal(esc_count(fe->share), 6);
}

static void test_bad_names_rename_unlink(void **state)
{
	struct fe *fe = *state;
	struct canary c;
	char abs_tmp[256], abs_secret[256], p[256];
	struct fuse_entry_out e;

	plant(fe, &c);
	fill_bad_names(fe, abs_tmp, sizeof(abs_tmp));
	fe_tmp_path(fe, "secret", abs_secret, sizeof(abs_secret));
	assert_int_equal(mkdir(fe_share_path(fe, "sub", p, sizeof(p)), 0755), 0);
	esc_put_file(fe_share_path(fe, "file", p, sizeof(p)), "in-share", 0644);
	for (size_t i = 0; i < N_ELEM(bad_names); i++) {
		const char *n = bad_names[i];

		refuse(fe_rename(fe, FUSE_ROOT_ID, "file", FUSE_ROOT_ID, n, 0, false), "RENAME to",
		       n);
		refuse(fe_rename(fe, FUSE_ROOT_ID, "file", FUSE_ROOT_ID, n, 0, true), "RENAME2 to",
		       n);
		refuse(fe_rename(fe, FUSE_ROOT_ID, "file", FUSE_ROOT_ID, n, RENAME_EXCHANGE, true),
		       "RENAME2 (exchange) with", n);
	}
	/* Sources outside: pulling the canaries into the share, or swapping them. */
	static const char *const outside[] = { "../secret", "../outdir", "../outdir/victim",
					       "/etc/passwd" };
	for (size_t i = 0; i < N_ELEM(outside) + 1; i++) {
		const char *n = i < N_ELEM(outside) ? outside[i] : abs_secret;

		refuse(fe_rename(fe, FUSE_ROOT_ID, n, FUSE_ROOT_ID, "pulled", 0, false),
		       "RENAME from", n);
		refuse(fe_rename(fe, FUSE_ROOT_ID, n, FUSE_ROOT_ID, "file", RENAME_EXCHANGE, true),
		       "RENAME2 (exchange) from", n);
		refuse(fe_unlink(fe, FUSE_ROOT_ID, n, false), "UNLINK", n);
		refuse(fe_unlink(fe, FUSE_ROOT_ID, n, true), "RMDIR", n);
	}
	refuse(fe_unlink(fe, FUSE_ROOT_ID, "..", true), "RMDIR", "..");
	refuse(fe_unlink(fe, FUSE_ROOT_ID, "up/secret", false), "UNLINK", "up/secret");
	check(fe, &c);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "file", &e), 0);
	esc_content(fe_share_path(fe, "file", p, sizeof(p)), "in-share");
	assert_int_equal(esc_count(fe->share), 6);
}

static void test_symlink_not_followed(void **state)
{
	struct fe *fe = *state;
	static const char *const links[] = { "abs-link", "rel-link", "up", "root" };
	struct fuse_entry_out e, x;
	struct canary c;
	uint64_t fh;

	plant(fe, &c);
	for (size_t i = 0; i < N_ELEM(links); i++) {
		assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, links[i], &e), 0);
		assert_true(S_ISLNK(e.attr.mode));
		/* Using a symlink node as a directory must not walk through it. */
		assert_true(fe_lookup(fe, e.nodeid, "secret", &x) < 0);
		assert_true(fe_lookup(fe, e.nodeid, "outdir", &x) < 0);
		assert_true(fe_lookup(fe, e.nodeid, "etc", &x) < 0);
		assert_true(fe_mkdir(fe, e.nodeid, "esc-made-through-link", 0755, &x) < 0);
		assert_true(fe_create(fe, e.nodeid, "esc-made-through-link", O_CREAT | O_RDWR,
				      S_IFREG | 0644, &x, &fh) < 0);
		assert_true(fe_unlink(fe, e.nodeid, "secret", false) < 0);
		assert_true(fe_unlink(fe, e.nodeid, "outdir", true) < 0);
		assert_true(fe_rename(fe, e.nodeid, "secret", FUSE_ROOT_ID, "pulled", 0, false) < 0);
		assert_true(fe_open(fe, e.nodeid, O_RDONLY, true, &fh) < 0);
	}
	check(fe, &c);
}

static void test_open_through_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct canary c;
	char buf[256];
	uint64_t fh;
	uint32_t n;

	plant(fe, &c);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "abs-link", &e), 0);
	/* The kernel never opens a symlink; if the daemon lets it, it must not be the target. */
	if (fe_open(fe, e.nodeid, O_RDWR, false, &fh) == 0) {
		if (fe_read(fe, e.nodeid, fh, 0, buf, sizeof(buf), NULL, &n) == 0)
			assert_true(n < strlen(ESC_SECRET) ||
				    memcmp(buf, ESC_SECRET, strlen(ESC_SECRET)));
		fe_write(fe, e.nodeid, fh, 0, "PWNED", 5, NULL, &n);
		fe_release(fe, e.nodeid, fh, false);
	}
	check(fe, &c);
}

static void test_setattr_through_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct canary c;
	struct fuse_setattr_in in[] = {
		{ .valid = FATTR_MODE, .mode = S_IFREG | 0777 },
		{ .valid = FATTR_SIZE, .size = 0 },
		{ .valid = FATTR_UID | FATTR_GID, .uid = 4321, .gid = 4321 },
		{ .valid = FATTR_MTIME | FATTR_ATIME, .mtime = 5, .atime = 5 },
	};

	plant(fe, &c);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "abs-link", &e), 0);
	for (size_t i = 0; i < N_ELEM(in); i++) {
		struct iovec a[] = { ESC_IOV(&in[i], sizeof(in[i])) };
		struct fe_reply r;

		assert_int_equal(fe_fuse_req(fe, FUSE_SETATTR, e.nodeid, a, 1, 256, NULL, &r), 0);
		fe_reply_free(&r);
		check(fe, &c);
	}
}

static void test_create_over_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct canary c;
	uint64_t fh;
	uint32_t n;

	plant(fe, &c);
	/* O_CREAT on an existing name that is a symlink out of the share. */
	if (fe_create(fe, FUSE_ROOT_ID, "abs-link", O_RDWR | O_CREAT | O_TRUNC, S_IFREG | 0644,
		      &e, &fh) == 0) {
		fe_write(fe, e.nodeid, fh, 0, "PWNED", 5, NULL, &n);
		fe_release(fe, e.nodeid, fh, false);
	}
	check(fe, &c);
}

/* The guest looked up share/dN; the host then moves it aside and puts a symlink to outdir (an
 * absolute one and a relative one) in its place. Work by the old inode ids must land in the
 * moved directory, never in outdir. */
static void swap_dir(struct fe *fe, const char *name, const char *target, uint64_t *node)
{
	char p[256], q[256], aside[64];
	struct fuse_entry_out e;

	assert_int_equal(mkdir(fe_share_path(fe, name, p, sizeof(p)), 0777), 0);
	snprintf(aside, sizeof(aside), "%s/victim", name);
	esc_put_file(fe_share_path(fe, aside, q, sizeof(q)), "in-share-victim", 0666);
	snprintf(aside, sizeof(aside), "%s/file", name);
	esc_put_file(fe_share_path(fe, aside, q, sizeof(q)), "in-share-file", 0666);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, name, &e), 0);
	*node = e.nodeid;
	snprintf(aside, sizeof(aside), "%s.moved", name);
	assert_int_equal(rename(p, fe_share_path(fe, aside, q, sizeof(q))), 0);
	assert_int_equal(symlink(target, p), 0);
}

static void use_swapped(struct fe *fe, uint64_t d)
{
	struct fuse_entry_out e, f;
	uint64_t fh;
	uint32_t n;

	if (fe_create(fe, d, "esc-swap", O_CREAT | O_RDWR, S_IFREG | 0644, &e, &fh) == 0) {
		fe_write(fe, e.nodeid, fh, 0, "x", 1, NULL, &n);
		fe_release(fe, e.nodeid, fh, false);
	}
	fe_mkdir(fe, d, "esc-swap-dir", 0755, &e);
	fe_mknod(fe, d, "esc-n", S_IFIFO | 0644, 0, &e);
	fe_symlink(fe, d, "esc-made-through-link", "/", &e);
	fe_unlink(fe, d, "victim", false);
	fe_rename(fe, d, "file", d, "renamed", 0, false);
	if (fe_lookup(fe, d, "renamed", &f) == 0)
		fe_link(fe, f.nodeid, d, "linked", &e);
	fe_rename(fe, d, "renamed", FUSE_ROOT_ID, "back-in-root", 0, false);
	/* An existing outdir name looked up through the stale id must not be outdir's. */
	if (fe_lookup(fe, d, "victim", &f) == 0) {
		if (fe_open(fe, f.nodeid, O_RDWR | O_TRUNC, false, &fh) == 0) {
			fe_write(fe, f.nodeid, fh, 0, "PWNED", 5, NULL, &n);
			fe_release(fe, f.nodeid, fh, false);
		}
	}
	if (fe_open(fe, d, O_RDONLY, true, &fh) == 0)
		fe_release(fe, d, fh, true);
}

static void expect_in(struct fe *fe, const char *dir, const char *name, bool present)
{
	char rel[96], p[256];
	struct stat st;

	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	if ((lstat(fe_share_path(fe, rel, p, sizeof(p)), &st) == 0) != present)
		fail_msg("%s should %sbe there", p, present ? "" : "not ");
}

static void test_swapped_dir(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, x;
	struct canary c;
	uint64_t d1, d2;
	char abs_out[256];

	plant(fe, &c);
	swap_dir(fe, "d1", fe_tmp_path(fe, "outdir", abs_out, sizeof(abs_out)), &d1);
	swap_dir(fe, "d2", "../outdir", &d2);
	use_swapped(fe, d1);
	use_swapped(fe, d2);
	check(fe, &c);
	/* The work landed in the moved directories (the legacy daemon refuses some of it by
	 * name, which is no escape either). */
	for (int i = 0; i < 2 && !fe->legacy; i++) {
		const char *m = i ? "d2.moved" : "d1.moved";

		expect_in(fe, m, "esc-swap", true);
		expect_in(fe, m, "esc-swap-dir", true);
		expect_in(fe, m, "victim", false);
		expect_in(fe, m, "file", false);
		expect_in(fe, m, "linked", true);
	}
	/* The names now lead to symlinks: used as directories they must refuse. */
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "d1", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
	assert_true(fe_lookup(fe, e.nodeid, "victim", &x) < 0);
	use_swapped(fe, e.nodeid);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "d2", &e), 0);
	use_swapped(fe, e.nodeid);
	check(fe, &c);
}

/* The same, but the host removes the looked-up directory and puts the symlink in its place:
 * the stale id must fail, not follow the new name. */
static void test_removed_dir(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct canary c;
	char p[256], q[256];

	plant(fe, &c);
	assert_int_equal(mkdir(fe_share_path(fe, "gone", p, sizeof(p)), 0777), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "gone", &e), 0);
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(symlink(fe_tmp_path(fe, "outdir", q, sizeof(q)), p), 0);
	use_swapped(fe, e.nodeid);
	check(fe, &c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fe_teardown_checked)
		T(test_dotdot_lookup),		 T(test_bad_names_create),
		T(test_bad_names_rename_unlink), T(test_symlink_not_followed),
		T(test_open_through_symlink),	 T(test_setattr_through_symlink),
		T(test_create_over_symlink),	 T(test_swapped_dir),
		T(test_removed_dir),
#undef T
	};
	char name[64];

	esc_mode_args(argc, argv, mode_args, sizeof(mode_args));
	if (argc > 1 && strcmp(argv[1], "chroot") == 0 && geteuid() != 0) {
		printf("SKIP: --sandbox=chroot needs root\n");
		return 77;
	}
	snprintf(name, sizeof(name), "fake-escape%s%s", argc > 1 ? "-" : "", argc > 1 ? argv[1] : "");
	fe_test_filter();
	return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
