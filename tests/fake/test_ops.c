/* Fake frontend: namespace operations, checked in the reply and in the host directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)

/* The legacy daemon answers EIO for a name it has not looked up yet. */
static int noent(struct fe *fe, int r)
{
	return fe->legacy && r == -EIO ? -ENOENT : r;
}

static int host_stat(struct fe *fe, const char *rel, struct stat *st)
{
	char p[256];

	return lstat(fe_share_path(fe, rel, p, sizeof(p)), st) < 0 ? -errno : 0;
}

static void host_write(struct fe *fe, const char *rel, const char *data)
{
	char p[256];
	int fd = open(fe_share_path(fe, rel, p, sizeof(p)), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

static void host_mkdir(struct fe *fe, const char *rel)
{
	char p[256];

	assert_int_equal(mkdir(fe_share_path(fe, rel, p, sizeof(p)), 0755), 0);
}

static void test_lookup_getattr(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, e2;
	struct fuse_attr_out a;
	struct stat st;

	host_write(fe, "a", "hello");
	assert_int_equal(host_stat(fe, "a", &st), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &e), 0);
	assert_true(e.nodeid != 0 && e.nodeid != FUSE_ROOT_ID);
	assert_int_equal(e.attr.size, 5);
	assert_int_equal(e.attr.ino, st.st_ino);
	assert_true(S_ISREG(e.attr.mode));
	assert_int_equal(fe_getattr(fe, e.nodeid, &a), 0);
	assert_int_equal(a.attr.size, 5);
	assert_int_equal(a.attr.mode, st.st_mode);
	/* A second lookup of the same file gives the same node. */
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &e2), 0);
	assert_int_equal(e2.nodeid, e.nodeid);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "missing", &e2), -ENOENT);
	assert_int_equal(fe_forget(fe, e.nodeid, 2, false), 0);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

static void test_batch_forget(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out a, b;
	struct fuse_batch_forget_in in = { .count = 2 };
	struct fuse_forget_one one[2];
	struct iovec args[] = { IOV(&in, sizeof(in)), IOV(one, sizeof(one)) };
	struct fe_req_opts o = { .hiprio = true };
	struct fe_reply r;

	host_write(fe, "a", "1");
	host_write(fe, "b", "2");
	for (int i = 0; i < 3; i++)
		assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &a), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "b", &b), 0);
	one[0] = (struct fuse_forget_one){ .nodeid = a.nodeid, .nlookup = 3 };
	one[1] = (struct fuse_forget_one){ .nodeid = b.nodeid, .nlookup = 1 };
	assert_int_equal(fe_fuse_req(fe, FUSE_BATCH_FORGET, 0, args, 2, OUT_HDR, &o, &r), 0);
	assert_int_equal(r.used_len, 0);
	fe_reply_free(&r);
	/* The names still resolve, to fresh or reused nodes. */
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &a), 0);
	assert_int_equal(a.attr.size, 1);
}

static int setattr(struct fe *fe, uint64_t node, const struct fuse_setattr_in *in,
		   struct fuse_attr_out *out)
{
	struct iovec a[] = { IOV(in, sizeof(*in)) };
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_SETATTR, node, a, 1, OUT_HDR + sizeof(*out) + 64, NULL, &r);

	rc = fe_check_reply(rc, &r, sizeof(*out));
	if (rc == 0)
		memcpy(out, r.data, sizeof(*out));
	fe_reply_free(&r);
	return rc;
}

static void test_setattr(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_setattr_in in;
	struct stat st;
	time_t now = time(NULL);

	host_write(fe, "f", "0123456789");
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "f", &e), 0);

	in = (struct fuse_setattr_in){ .valid = FATTR_MODE, .mode = S_IFREG | 0600 };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(a.attr.mode & 07777, 0600);

	in = (struct fuse_setattr_in){ .valid = FATTR_UID | FATTR_GID, .uid = 1234, .gid = 5678 };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(a.attr.uid, 1234);

	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE, .size = 3 };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(a.attr.size, 3);

	in = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME, .atime = 1000000,
				       .mtime = 2000000, .atimensec = 5, .mtimensec = 7 };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	assert_int_equal(a.attr.mtime, 2000000);

	in = (struct fuse_setattr_in){ .valid = FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
						FATTR_MTIME_NOW };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_true(st.st_mtim.tv_sec >= now - 5 && st.st_mtim.tv_sec <= now + 60);
	assert_true(st.st_atim.tv_sec >= now - 5 && st.st_atim.tv_sec <= now + 60);

	/* Truncate through an open handle. */
	uint64_t fh;

	assert_int_equal(fe_open(fe, e.nodeid, O_RDWR, false, &fh), 0);
	in = (struct fuse_setattr_in){ .valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 1 };
	assert_int_equal(setattr(fe, e.nodeid, &in, &a), 0);
	assert_int_equal(host_stat(fe, "f", &st), 0);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

static void test_symlink_readlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fe_reply r;
	char p[256], buf[256];
	ssize_t n;

	assert_int_equal(fe_symlink(fe, FUSE_ROOT_ID, "l", "target/x", &e), 0);
	assert_true(S_ISLNK(e.attr.mode));
	n = readlink(fe_share_path(fe, "l", p, sizeof(p)), buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "target/x", 8);
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_READLINK, e.nodeid, NULL, 0, 4096,
						     NULL, &r),
					&r, 8),
			 0);
	assert_memory_equal(r.data, "target/x", 8);
	fe_reply_free(&r);
	/* An absolute target is only data: the guest resolves it, not the daemon. */
	assert_int_equal(fe_symlink(fe, FUSE_ROOT_ID, "abs", "/etc/passwd", &e), 0);
	n = readlink(fe_share_path(fe, "abs", p, sizeof(p)), buf, sizeof(buf));
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "/etc/passwd", 11);
	assert_int_equal(fe_symlink(fe, FUSE_ROOT_ID, "l", "again", &e), -EEXIST);
}

static void test_mknod(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct stat st;

	assert_int_equal(fe_mknod(fe, FUSE_ROOT_ID, "reg", S_IFREG | 0640, 0, &e), 0);
	assert_int_equal(host_stat(fe, "reg", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(fe_mknod(fe, FUSE_ROOT_ID, "fifo", S_IFIFO | 0600, 0, &e), 0);
	assert_int_equal(host_stat(fe, "fifo", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_true(S_ISFIFO(e.attr.mode));
	assert_int_equal(fe_mknod(fe, FUSE_ROOT_ID, "sock", S_IFSOCK | 0600, 0, &e), 0);
	assert_int_equal(host_stat(fe, "sock", &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(fe_mknod(fe, FUSE_ROOT_ID, "reg", S_IFREG | 0640, 0, &e), -EEXIST);
}

static void test_mkdir_rmdir_unlink(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, x;
	struct stat st;

	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "d", 0750, &e), 0);
	assert_true(S_ISDIR(e.attr.mode));
	assert_int_equal(host_stat(fe, "d", &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750);
	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "d", 0750, NULL), -EEXIST);
	host_write(fe, "d/x", "x");
	/* As the kernel does: a name is looked up before it is unlinked or renamed (the legacy
	 * daemon answers EIO otherwise). */
	assert_int_equal(fe_lookup(fe, e.nodeid, "x", &x), 0);
	assert_int_equal(fe_unlink(fe, FUSE_ROOT_ID, "d", true), -ENOTEMPTY);
	assert_int_equal(fe_unlink(fe, e.nodeid, "x", false), 0);
	assert_int_equal(host_stat(fe, "d/x", &st), -ENOENT);
	assert_int_equal(fe_unlink(fe, FUSE_ROOT_ID, "d", true), 0);
	assert_int_equal(host_stat(fe, "d", &st), -ENOENT);
	assert_int_equal(noent(fe, fe_unlink(fe, FUSE_ROOT_ID, "d", true)), -ENOENT);
	assert_int_equal(noent(fe, fe_unlink(fe, FUSE_ROOT_ID, "nothing", false)), -ENOENT);
}

static void check_content(struct fe *fe, const char *rel, const char *want)
{
	char p[256], buf[256] = { 0 };
	int fd = open(fe_share_path(fe, rel, p, sizeof(p)), O_RDONLY);

	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
	close(fd);
	assert_string_equal(buf, want);
}

static void test_rename(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out d, x;
	struct stat st;

	host_write(fe, "a", "A");
	host_write(fe, "b", "B");
	host_mkdir(fe, "sub");
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "sub", &d), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &x), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "b", &x), 0);
	assert_int_equal(fe_rename(fe, FUSE_ROOT_ID, "a", FUSE_ROOT_ID, "c", 0, false), 0);
	assert_int_equal(host_stat(fe, "a", &st), -ENOENT);
	check_content(fe, "c", "A");
	assert_int_equal(fe_rename(fe, FUSE_ROOT_ID, "c", d.nodeid, "c2", 0, false), 0);
	check_content(fe, "sub/c2", "A");
	assert_int_equal(noent(fe, fe_rename(fe, FUSE_ROOT_ID, "nope", FUSE_ROOT_ID, "x", 0, false)),
			 -ENOENT);
	assert_int_equal(fe_lookup(fe, d.nodeid, "c2", &x), 0);
	/* RENAME2 */
	assert_int_equal(fe_rename(fe, d.nodeid, "c2", FUSE_ROOT_ID, "b", RENAME_NOREPLACE, true),
			 -EEXIST);
	assert_int_equal(fe_rename(fe, d.nodeid, "c2", FUSE_ROOT_ID, "b", RENAME_EXCHANGE, true),
			 0);
	check_content(fe, "b", "A");
	check_content(fe, "sub/c2", "B");
	assert_int_equal(fe_rename(fe, FUSE_ROOT_ID, "b", FUSE_ROOT_ID, "n", RENAME_NOREPLACE,
				   true),
			 0);
	check_content(fe, "n", "A");
}

static void test_link(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, l;
	struct stat st;

	host_write(fe, "a", "A");
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "a", &e), 0);
	assert_int_equal(fe_link(fe, e.nodeid, FUSE_ROOT_ID, "hard", &l), 0);
	assert_int_equal(l.attr.nlink, 2);
	assert_int_equal(l.attr.ino, e.attr.ino);
	assert_int_equal(host_stat(fe, "hard", &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, e.attr.ino);
	assert_int_equal(fe_link(fe, e.nodeid, FUSE_ROOT_ID, "hard", &l), -EEXIST);
}

static void test_access(void **state)
{
	struct fe *fe = *state;
	struct fuse_access_in in = { .mask = R_OK | X_OK };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fe_reply r;
	int rc = fe_check_reply(fe_fuse_req(fe, FUSE_ACCESS, FUSE_ROOT_ID, a, 1, 64, NULL, &r),
				&r, 0);

	fe_reply_free(&r);
	if (fe->legacy && rc == -ENOSYS) /* the legacy daemon leaves ACCESS to the kernel */
		return;
	assert_int_equal(rc, 0);
	in.mask = F_OK;
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_ACCESS, FUSE_ROOT_ID, a, 1, 64, NULL,
						     &r),
					&r, 0),
			 0);
	fe_reply_free(&r);
}

static void test_statfs(void **state)
{
	struct fe *fe = *state;
	struct fuse_statfs_out out;
	struct fe_reply r;

	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, 256,
						     NULL, &r),
					&r, sizeof(out)),
			 0);
	memcpy(&out, r.data, sizeof(out));
	fe_reply_free(&r);
	assert_true(out.st.blocks > 0);
	assert_true(out.st.bsize > 0);
	assert_true(out.st.namelen >= 255);
}

static void test_interrupt(void **state)
{
	struct fe *fe = *state;
	struct fuse_interrupt_in in = { .unique = 0x12345678 };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fuse_attr_out attr;
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_INTERRUPT, 0, a, 1, 256, NULL, &r);

	/* Nothing to interrupt: the buffers come back, empty or with an error reply. */
	assert_int_equal(rc, 0);
	if (r.used_len)
		assert_true(fe_check_reply(rc, &r, 0) < 0);
	fe_reply_free(&r);
	assert_true(fe_alive(fe));
	/* The legacy daemon keeps the stray interrupt and answers it later in the next request's
	 * buffers: nothing more to check there. */
	if (fe->legacy)
		return;
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &attr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_lookup_getattr), FE_T(test_batch_forget), FE_T(test_setattr),
		FE_T(test_symlink_readlink), FE_T(test_mknod), FE_T(test_mkdir_rmdir_unlink),
		FE_T(test_rename), FE_T(test_link), FE_T(test_access), FE_T(test_statfs),
		FE_T(test_interrupt),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-ops", tests, NULL, NULL);
}
