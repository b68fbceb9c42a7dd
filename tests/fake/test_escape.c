/*
 * Fake frontend: the guest must not reach outside the shared directory, even with the sandbox
 * off (--sandbox=none): ".." lookups, symlinks planted on the host side pointing out, opens
 * and setattrs through symlink nodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define SECRET "outside-secret-content"

/* tmp/secret (outside the share) and, in the share, symlinks that point at it or above. */
static void plant(struct fe *fe)
{
	char p[256], q[256];
	int fd = open(fe_tmp_path(fe, "secret", p, sizeof(p)), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, SECRET, strlen(SECRET)), (ssize_t)strlen(SECRET));
	close(fd);
	assert_int_equal(symlink(p, fe_share_path(fe, "abs-link", q, sizeof(q))), 0);
	assert_int_equal(symlink("../secret", fe_share_path(fe, "rel-link", q, sizeof(q))), 0);
	assert_int_equal(symlink("..", fe_share_path(fe, "up", q, sizeof(q))), 0);
	assert_int_equal(symlink("/", fe_share_path(fe, "root", q, sizeof(q))), 0);
}

static void secret_untouched(struct fe *fe)
{
	char p[256], buf[64] = { 0 };
	struct stat st;
	int fd;

	assert_int_equal(stat(fe_tmp_path(fe, "secret", p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, strlen(SECRET));
	assert_int_equal(st.st_uid, getuid());
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), (ssize_t)strlen(SECRET));
	close(fd);
}

static void test_dotdot_lookup(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, x;
	struct stat st;

	plant(fe);
	assert_int_equal(stat(fe->share, &st), 0);
	/* ".." of the root is the root itself, or refused; never the host's parent. */
	if (fe_lookup(fe, FUSE_ROOT_ID, "..", &e) == 0) {
		assert_int_equal(e.attr.ino, st.st_ino);
		assert_true(fe_lookup(fe, e.nodeid, "secret", &x) < 0);
	}
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "../secret", &x) < 0);
	assert_true(fe_lookup(fe, FUSE_ROOT_ID, "up/secret", &x) < 0);
}

static void test_symlink_not_followed(void **state)
{
	struct fe *fe = *state;
	static const char *const links[] = { "abs-link", "rel-link", "up", "root" };
	struct fuse_entry_out e, x;

	plant(fe);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, links[i], &e), 0);
		assert_true(S_ISLNK(e.attr.mode));
		/* Using a symlink node as a directory must not walk through it. */
		assert_true(fe_lookup(fe, e.nodeid, "secret", &x) < 0);
		assert_true(fe_lookup(fe, e.nodeid, "etc", &x) < 0);
		assert_true(fe_mkdir(fe, e.nodeid, "made-through-link", 0755, &x) < 0);
	}
	{
		char p[256];
		struct stat st;

		assert_true(lstat(fe_tmp_path(fe, "made-through-link", p, sizeof(p)), &st) < 0);
		assert_true(lstat("/made-through-link", &st) < 0);
	}
}

static void test_open_through_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	char buf[256];
	uint64_t fh;
	uint32_t n;

	plant(fe);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "abs-link", &e), 0);
	/* The kernel never opens a symlink; if the daemon lets it, it must not be the target. */
	if (fe_open(fe, e.nodeid, O_RDWR, false, &fh) == 0) {
		if (fe_read(fe, e.nodeid, fh, 0, buf, sizeof(buf), NULL, &n) == 0)
			assert_true(n < strlen(SECRET) || memcmp(buf, SECRET, strlen(SECRET)));
		fe_write(fe, e.nodeid, fh, 0, "PWNED", 5, NULL, &n);
		fe_release(fe, e.nodeid, fh, false);
	}
	secret_untouched(fe);
}

static void test_setattr_through_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fuse_setattr_in in[] = {
		{ .valid = FATTR_MODE, .mode = S_IFREG | 0777 },
		{ .valid = FATTR_SIZE, .size = 0 },
		{ .valid = FATTR_UID | FATTR_GID, .uid = 4321, .gid = 4321 },
	};

	plant(fe);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "abs-link", &e), 0);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct iovec a[] = { IOV(&in[i], sizeof(in[i])) };
		struct fe_reply r;

		assert_int_equal(fe_fuse_req(fe, FUSE_SETATTR, e.nodeid, a, 1, 256, NULL, &r), 0);
		fe_reply_free(&r);
		secret_untouched(fe);
	}
}

static void test_create_over_symlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	uint64_t fh;
	uint32_t n;

	plant(fe);
	/* O_CREAT on an existing name that is a symlink out of the share. */
	if (fe_create(fe, FUSE_ROOT_ID, "abs-link", O_RDWR | O_CREAT | O_TRUNC, S_IFREG | 0644, &e,
		      &fh) == 0) {
		fe_write(fe, e.nodeid, fh, 0, "PWNED", 5, NULL, &n);
		fe_release(fe, e.nodeid, fh, false);
	}
	secret_untouched(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_dotdot_lookup),	  FE_T(test_symlink_not_followed),
		FE_T(test_open_through_symlink),  FE_T(test_setattr_through_symlink),
		FE_T(test_create_over_symlink),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-escape", tests, NULL, NULL);
}
