/* FUSE server: each opcode decodes its arguments into the right fs_ops call and reply. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "test_fuse_mock.h"

#define OHDR sizeof(struct fuse_out_header)

static char buf[80000], out[80000];

static int send_req(struct fuse_server *srv, size_t n, uint64_t unique, size_t *payload)
{
	size_t r = run1(srv, buf, n, out, sizeof(out));
	int err = reply_error(out, r, unique);

	if (payload)
		*payload = r - OHDR;
	return err;
}

static void test_entry_ops(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_entry_out e;
	size_t n, pl;

	n = mk_req(buf, FUSE_LOOKUP, 1, 5, "name", 5);
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(e));
	memcpy(&e, out + OHDR, sizeof(e));
	assert_int_equal(e.nodeid, 42);
	assert_int_equal(m.ino, 5);
	assert_string_equal(m.name, "name");
	assert_int_equal(m.ctx.uid, 1000);
	assert_int_equal(m.ctx.gid, 100);
	assert_int_equal(m.ctx.pid, 4242);
	assert_int_equal(m.ctx.umask, 0);

	struct fuse_mkdir_in mk = {.mode = 0755, .umask = 022};
	n = mk_req2(buf, FUSE_MKDIR, 2, 6, &mk, sizeof(mk), "d", 2);
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.u32a, 0755);
	assert_int_equal(m.u32b, 022);
	assert_int_equal(m.ctx.umask, 022);

	struct fuse_mknod_in mn = {.mode = S_IFIFO | 0600, .rdev = 7, .umask = 077};
	n = mk_req2(buf, FUSE_MKNOD, 3, 6, &mn, sizeof(mn), "p", 2);
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_int_equal(m.u32a, S_IFIFO | 0600);
	assert_int_equal(m.u32b, 7);
	assert_int_equal(m.ctx.umask, 077);

	n = mk_req(buf, FUSE_SYMLINK, 4, 6, "link\0../target", 15);
	assert_int_equal(send_req(srv, n, 4, &pl), 0);
	assert_string_equal(m.name, "link");
	assert_string_equal(m.name2, "../target");

	struct fuse_link_in li = {.oldnodeid = 99};
	n = mk_req2(buf, FUSE_LINK, 5, 6, &li, sizeof(li), "hard", 5);
	assert_int_equal(send_req(srv, n, 5, &pl), 0);
	assert_int_equal(m.ino, 99);
	assert_int_equal(m.u64a, 6);
	assert_string_equal(m.name, "hard");

	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT, .mode = 0644, .umask = 2};
	n = mk_req2(buf, FUSE_CREATE, 6, 6, &ci, sizeof(ci), "f", 2);
	assert_int_equal(send_req(srv, n, 6, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	struct fuse_open_out oo;
	memcpy(&oo, out + OHDR + sizeof(struct fuse_entry_out), sizeof(oo));
	assert_int_equal(oo.fh, 8);
	assert_int_equal(m.ctx.umask, 2);
	fuse_server_free(srv);
}

static void test_status_ops(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	size_t n, pl;

	n = mk_req(buf, FUSE_UNLINK, 1, 5, "x", 2);
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, 0);
	m.result = -ENOENT;
	n = mk_req(buf, FUSE_RMDIR, 2, 5, "x", 2);
	assert_int_equal(send_req(srv, n, 2, &pl), -ENOENT);
	/* Out-of-range errors from a backend become EIO. */
	m.result = -5000;
	assert_int_equal(send_req(srv, n, 2, &pl), -EIO);
	m.result = 0;

	struct fuse_rename2_in r2 = {.newdir = 9, .flags = RENAME_NOREPLACE};
	n = mk_req2(buf, FUSE_RENAME2, 3, 5, &r2, sizeof(r2), "a\0b", 4);
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_string_equal(m.name, "a");
	assert_string_equal(m.name2, "b");
	assert_int_equal(m.u64a, 9);
	assert_int_equal(m.u32a, RENAME_NOREPLACE);
	r2.flags = 1u << 7;
	n = mk_req2(buf, FUSE_RENAME2, 4, 5, &r2, sizeof(r2), "a\0b", 4);
	assert_int_equal(send_req(srv, n, 4, &pl), -EINVAL);
	assert_int_equal(m.calls[M_RENAME], 1);
	struct fuse_rename_in r1 = {.newdir = 10};
	n = mk_req2(buf, FUSE_RENAME, 5, 5, &r1, sizeof(r1), "c\0d", 4);
	assert_int_equal(send_req(srv, n, 5, &pl), 0);
	assert_int_equal(m.u32a, 0);
	assert_int_equal(m.u64a, 10);

	struct fuse_access_in ai = {.mask = 4};
	n = mk_req(buf, FUSE_ACCESS, 6, 5, &ai, sizeof(ai));
	assert_int_equal(send_req(srv, n, 6, &pl), 0);
	assert_int_equal(m.u32a, 4);

	struct fuse_fsync_in fi = {.fh = 3, .fsync_flags = 1};
	n = mk_req(buf, FUSE_FSYNC, 7, 5, &fi, sizeof(fi));
	assert_int_equal(send_req(srv, n, 7, &pl), 0);
	assert_int_equal(m.u32a, 1);
	n = mk_req(buf, FUSE_FSYNCDIR, 8, 5, &fi, sizeof(fi));
	assert_int_equal(send_req(srv, n, 8, &pl), 0);

	struct fuse_release_in ri = {.fh = 77};
	n = mk_req(buf, FUSE_RELEASE, 9, 5, &ri, sizeof(ri));
	assert_int_equal(send_req(srv, n, 9, &pl), 0);
	assert_int_equal(m.u64a, 77);
	n = mk_req(buf, FUSE_RELEASEDIR, 10, 5, &ri, sizeof(ri));
	assert_int_equal(send_req(srv, n, 10, &pl), 0);
	struct fuse_flush_in fl = {.fh = 1};
	n = mk_req(buf, FUSE_FLUSH, 11, 5, &fl, sizeof(fl));
	assert_int_equal(send_req(srv, n, 11, &pl), 0);
	struct fuse_fallocate_in fa = {.length = 10};
	n = mk_req(buf, FUSE_FALLOCATE, 12, 5, &fa, sizeof(fa));
	assert_int_equal(send_req(srv, n, 12, &pl), 0);

	struct fuse_lseek_in ls = {.offset = 100, .whence = 3};
	struct fuse_lseek_out lo;
	n = mk_req(buf, FUSE_LSEEK, 13, 5, &ls, sizeof(ls));
	assert_int_equal(send_req(srv, n, 13, &pl), 0);
	memcpy(&lo, out + OHDR, sizeof(lo));
	assert_int_equal(lo.offset, 101);

	struct fuse_copy_file_range_in cf = {.len = 1ULL << 40};
	struct fuse_write_out wo;
	n = mk_req(buf, FUSE_COPY_FILE_RANGE, 14, 5, &cf, sizeof(cf));
	assert_int_equal(send_req(srv, n, 14, &pl), 0);
	memcpy(&wo, out + OHDR, sizeof(wo));
	assert_int_equal(wo.size, 1000);
	assert_true(m.u64a <= (1u << 30));

	struct fuse_syncfs_in sf = {0};
	n = mk_req(buf, FUSE_SYNCFS, 15, 5, &sf, sizeof(sf));
	assert_int_equal(send_req(srv, n, 15, &pl), 0);
	n = mk_req(buf, FUSE_STATFS, 16, 5, NULL, 0);
	assert_int_equal(send_req(srv, n, 16, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_statfs_out));

	n = mk_req(buf, FUSE_READLINK, 17, 5, NULL, 0);
	assert_int_equal(send_req(srv, n, 17, &pl), 0);
	assert_int_equal(pl, strlen("some/target"));
	assert_memory_equal(out + OHDR, "some/target", pl);

	struct fuse_open_in oi = {.flags = O_RDONLY};
	n = mk_req(buf, FUSE_OPEN, 18, 5, &oi, sizeof(oi));
	assert_int_equal(send_req(srv, n, 18, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_open_out));
	n = mk_req(buf, FUSE_OPENDIR, 19, 5, &oi, sizeof(oi));
	assert_int_equal(send_req(srv, n, 19, &pl), 0);
	fuse_server_free(srv);
}

static void test_attr_ops(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	size_t n, pl;

	struct fuse_getattr_in gi = {.getattr_flags = 0, .fh = 5};
	n = mk_req(buf, FUSE_GETATTR, 1, 3, &gi, sizeof(gi));
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_attr_out));
	assert_int_equal(m.u64a, UINT64_MAX);
	gi.getattr_flags = FUSE_GETATTR_FH;
	n = mk_req(buf, FUSE_GETATTR, 2, 3, &gi, sizeof(gi));
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.u64a, 5);

	struct fuse_setattr_in si;
	memset(&si, 0, sizeof(si));
	si.valid = FATTR_MODE | FATTR_SIZE | FATTR_ATIME | FATTR_ATIME_NOW | FATTR_MTIME |
		   FATTR_FH | (1u << 30);
	si.mode = 0600;
	si.size = 1234;
	si.fh = 11;
	si.mtime = 99;
	si.mtimensec = 5;
	n = mk_req(buf, FUSE_SETATTR, 3, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_int_equal(m.sa.valid, si.valid & ~(1u << 30));
	assert_int_equal(m.sa.mode, 0600);
	assert_int_equal(m.sa.size, 1234);
	assert_int_equal(m.sa.fh, 11);
	assert_int_equal(m.sa.atime.tv_nsec, UTIME_NOW);
	assert_int_equal(m.sa.mtime.tv_sec, 99);
	assert_int_equal(m.sa.mtime.tv_nsec, 5);
	si.valid = FATTR_MTIME_NOW;
	n = mk_req(buf, FUSE_SETATTR, 4, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 4, &pl), 0);
	assert_int_equal(m.sa.mtime.tv_nsec, UTIME_NOW);
	assert_int_equal(m.sa.atime.tv_nsec, UTIME_OMIT);
	si.valid = FATTR_UID | FATTR_GID;
	si.uid = 5;
	si.gid = 6;
	n = mk_req(buf, FUSE_SETATTR, 5, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 5, &pl), 0);
	assert_int_equal(m.sa.uid, 5);
	assert_int_equal(m.sa.gid, 6);
	/* Nanoseconds out of range. */
	si.valid = FATTR_ATIME;
	si.atimensec = 1000000000;
	n = mk_req(buf, FUSE_SETATTR, 6, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 6, &pl), -EINVAL);
	assert_int_equal(m.calls[M_SETATTR], 3);
	fuse_server_free(srv);
}

static void test_forget(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	char args[8 + 3 * 16];
	struct fuse_batch_forget_in bf = {.count = 3};
	struct fuse_forget_one one[3] = {{10, 1}, {11, 2}, {12, 4}};
	size_t n;

	uint64_t nl = 3;
	n = mk_req(buf, FUSE_FORGET, 1, 9, &nl, sizeof(nl));
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.calls[M_FORGET], 1);
	assert_int_equal(m.ino, 9);
	assert_int_equal(m.forgot, 3);

	memcpy(args, &bf, 8);
	memcpy(args + 8, one, sizeof(one));
	n = mk_req(buf, FUSE_BATCH_FORGET, 2, 0, args, sizeof(args));
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.calls[M_FORGET], 4);
	assert_int_equal(m.forgot, 10);
	/* A count larger than the entries present: only those present. */
	bf.count = 1000000;
	memcpy(args, &bf, 8);
	n = mk_req(buf, FUSE_BATCH_FORGET, 3, 0, args, 8 + 2 * 16 + 5);
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.calls[M_FORGET], 6);
	assert_int_equal(m.forgot, 13);

	/* INTERRUPT: no reply, no call. */
	uint64_t u = 2;
	n = mk_req(buf, FUSE_INTERRUPT, 4, 0, &u, sizeof(u));
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.total_calls, 6);
	fuse_server_free(srv);
}

static void test_xattr(void **state)
{
	struct fuse_server_opts o = {.xattr = false};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, &o);
	struct fuse_getxattr_in gi = {.size = 0};
	struct fuse_getxattr_out go;
	size_t n, pl;

	/* Without --xattr: ENOSYS, backend untouched. */
	n = mk_req2(buf, FUSE_GETXATTR, 1, 3, &gi, sizeof(gi), "user.a", 7);
	assert_int_equal(send_req(srv, n, 1, &pl), -ENOSYS);
	n = mk_req(buf, FUSE_REMOVEXATTR, 2, 3, "user.a", 7);
	assert_int_equal(send_req(srv, n, 2, &pl), -ENOSYS);
	assert_int_equal(m.total_calls, 0);
	fuse_server_free(srv);

	o.xattr = true;
	srv = mk_server(&m, &o);
	n = mk_req2(buf, FUSE_GETXATTR, 3, 3, &gi, sizeof(gi), "user.a", 7);
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_int_equal(pl, sizeof(go));
	memcpy(&go, out + OHDR, sizeof(go));
	assert_int_equal(go.size, 5);
	gi.size = 100;
	n = mk_req2(buf, FUSE_GETXATTR, 4, 3, &gi, sizeof(gi), "user.a", 7);
	assert_int_equal(send_req(srv, n, 4, &pl), 0);
	assert_int_equal(pl, 5);
	assert_memory_equal(out + OHDR, "value", 5);
	assert_string_equal(m.name, "user.a");
	/* The value buffer is bounded by the reply room. */
	n = mk_req2(buf, FUSE_GETXATTR, 5, 3, &gi, sizeof(gi), "user.a", 7);
	assert_int_equal(reply_error(out, run1(srv, buf, n, out, OHDR + 3), 5), -ERANGE);

	n = mk_req(buf, FUSE_LISTXATTR, 6, 3, &gi, sizeof(gi));
	assert_int_equal(send_req(srv, n, 6, &pl), 0);
	assert_int_equal(pl, 4);

	/* SETXATTR before SETXATTR_EXT: the 8-byte layout. */
	struct fuse_setxattr_in si = {.size = 3, .flags = 1, .setxattr_flags = 0xdead};
	n = mk_req2(buf, FUSE_SETXATTR, 7, 3, &si, 8, "user.b\0xyz", 10);
	assert_int_equal(send_req(srv, n, 7, &pl), 0);
	assert_string_equal(m.name, "user.b");
	assert_int_equal(m.wlen, 3);
	assert_memory_equal(m.wbuf, "xyz", 3);
	assert_int_equal(m.u32a, 1);
	assert_int_equal(m.u32b, 0);
	/* Value shorter than size. */
	si.size = 4;
	n = mk_req2(buf, FUSE_SETXATTR, 8, 3, &si, 8, "user.b\0xyz", 10);
	assert_int_equal(send_req(srv, n, 8, &pl), -EINVAL);
	si.size = 65537;
	n = mk_req2(buf, FUSE_SETXATTR, 9, 3, &si, 8, "user.b\0xyz", 10);
	assert_int_equal(send_req(srv, n, 9, &pl), -E2BIG);
	assert_int_equal(m.calls[M_SETXATTR], 1);
	/* A large value (over the 4 KiB stack copy). */
	static char val[65536 + 16];
	memcpy(val, "user.c\0", 7);
	memset(val + 7, 'v', 65536);
	si.size = 65536;
	n = mk_req2(buf, FUSE_SETXATTR, 10, 3, &si, 8, val, 7 + 65536);
	assert_int_equal(send_req(srv, n, 10, &pl), 0);
	assert_int_equal(m.wlen, 8192); /* the mock keeps the first 8 KiB */
	fuse_server_free(srv);

	/* With SETXATTR_EXT agreed (posix_acl), the 16-byte layout. */
	memset(&m, 0, sizeof(m));
	o = (struct fuse_server_opts){.xattr = true, .posix_acl = true};
	assert_int_equal(fuse_server_new(&mock_ops, &m, &o, &srv), 0);
	assert_int_equal(
	    do_init(srv, 7, 38, FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT, NULL), 0);
	si.size = 3;
	n = mk_req2(buf, FUSE_SETXATTR, 11, 3, &si, 16, "user.d\0xyz", 10);
	assert_int_equal(send_req(srv, n, 11, &pl), 0);
	assert_int_equal(m.u32b, 0xdead);
	assert_string_equal(m.name, "user.d");
	n = mk_req2(buf, FUSE_SETXATTR, 12, 3, &si, 8, NULL, 0);
	assert_int_equal(send_req(srv, n, 12, &pl), -EINVAL);
	fuse_server_free(srv);
}

/* A backend without optional ops: ENOSYS. */
static void test_missing_ops(void **state)
{
	struct fs_ops ops = mock_ops;
	struct mock_fs m;
	struct fuse_server *srv;
	struct fuse_server_opts o = {.xattr = true};
	struct fuse_getxattr_in gi = {0};
	struct fuse_syncfs_in sf = {0};
	size_t n, pl;

	ops.getxattr = NULL;
	ops.syncfs = NULL;
	ops.copy_file_range = NULL;
	memset(&m, 0, sizeof(m));
	assert_int_equal(fuse_server_new(&ops, &m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), 0);
	n = mk_req2(buf, FUSE_GETXATTR, 1, 3, &gi, sizeof(gi), "user.a", 7);
	assert_int_equal(send_req(srv, n, 1, &pl), -ENOSYS);
	n = mk_req(buf, FUSE_SYNCFS, 2, 3, &sf, sizeof(sf));
	assert_int_equal(send_req(srv, n, 2, &pl), -ENOSYS);
	struct fuse_copy_file_range_in cf = {0};
	n = mk_req(buf, FUSE_COPY_FILE_RANGE, 3, 3, &cf, sizeof(cf));
	assert_int_equal(send_req(srv, n, 3, &pl), -ENOSYS);
	assert_int_equal(m.total_calls, 1); /* init only */
	fuse_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entry_ops), cmocka_unit_test(test_status_ops),
	    cmocka_unit_test(test_attr_ops),  cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_xattr),     cmocka_unit_test(test_missing_ops),
	};
	return cmocka_run_group_tests_name("fuse_ops", tests, NULL, NULL);
}
