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

/* A server after INIT on a fresh mock; the test ends with fuse_server_free(srv). */
#define SETUP()                                                                                    \
	struct mock_fs m;                                                                          \
	struct fuse_server *srv = mk_server(&m, NULL);                                             \
	size_t n, pl

/* With POSIX and flock locks agreed (the lock opcodes are ENOSYS otherwise). */
static struct fuse_server *mk_lock_server(struct mock_fs *m)
{
	struct fuse_server_opts o = {.posix_locks = true, .flock_locks = true};

	return mk_server(m, &o);
}

static void test_lookup(void **state)
{
	SETUP();
	struct fuse_entry_out e;

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
	fuse_server_free(srv);
}

static void test_mkdir(void **state)
{
	SETUP();
	struct fuse_mkdir_in mk = {.mode = 0755, .umask = 022};

	n = mk_req2(buf, FUSE_MKDIR, 2, 6, &mk, sizeof(mk), "d", 2);
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_entry_out));
	assert_int_equal(m.mode, 0755);
	assert_int_equal(m.umask, 022);
	assert_int_equal(m.ctx.umask, 022);
	assert_string_equal(m.name, "d");
	fuse_server_free(srv);
}

static void test_mknod(void **state)
{
	SETUP();
	struct fuse_mknod_in mn = {.mode = S_IFIFO | 0600, .rdev = 7, .umask = 077};

	n = mk_req2(buf, FUSE_MKNOD, 3, 6, &mn, sizeof(mn), "p", 2);
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_int_equal(m.mode, S_IFIFO | 0600);
	assert_int_equal(m.rdev, 7);
	assert_int_equal(m.ctx.umask, 077);
	fuse_server_free(srv);
}

static void test_symlink(void **state)
{
	SETUP();

	n = mk_req(buf, FUSE_SYMLINK, 4, 6, "link\0../target", 15);
	assert_int_equal(send_req(srv, n, 4, &pl), 0);
	assert_string_equal(m.name, "link");
	assert_string_equal(m.name2, "../target");
	fuse_server_free(srv);
}

static void test_link(void **state)
{
	SETUP();
	struct fuse_link_in li = {.oldnodeid = 99};

	n = mk_req2(buf, FUSE_LINK, 5, 6, &li, sizeof(li), "hard", 5);
	assert_int_equal(send_req(srv, n, 5, &pl), 0);
	assert_int_equal(m.ino, 99);
	assert_int_equal(m.newparent, 6);
	assert_string_equal(m.name, "hard");
	fuse_server_free(srv);
}

static void test_create(void **state)
{
	SETUP();
	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT, .mode = 0644, .umask = 2};
	struct fuse_open_out oo;

	n = mk_req2(buf, FUSE_CREATE, 6, 6, &ci, sizeof(ci), "f", 2);
	assert_int_equal(send_req(srv, n, 6, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out));
	memcpy(&oo, out + OHDR + sizeof(struct fuse_entry_out), sizeof(oo));
	assert_int_equal(oo.fh, 8);
	assert_int_equal(m.ctx.umask, 2);
	assert_int_equal(m.mode, 0644);
	assert_int_equal(m.flags, O_RDWR | O_CREAT);
	fuse_server_free(srv);
}

/* TMPFILE: CREATE's arguments, the trailing name unused; entry and open replies. */
static void test_tmpfile(void **state)
{
	SETUP();
	struct fuse_create_in ci = {.flags = O_RDWR | O_EXCL, .mode = 0600, .umask = 027};
	struct fuse_entry_out e;
	struct fuse_open_out oo;

	n = mk_req2(buf, FUSE_TMPFILE, 1, 6, &ci, sizeof(ci), "/", 2);
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(e) + sizeof(oo));
	memcpy(&e, out + OHDR, sizeof(e));
	memcpy(&oo, out + OHDR + sizeof(e), sizeof(oo));
	assert_int_equal(e.nodeid, 47);
	assert_int_equal(oo.fh, 10);
	assert_int_equal(m.calls[M_TMPFILE], 1);
	assert_int_equal(m.ino, 6);
	assert_int_equal(m.mode, 0600);
	assert_int_equal(m.flags, O_RDWR | O_EXCL);
	assert_int_equal(m.umask, 027);
	assert_int_equal(m.ctx.umask, 027);
	/* Without the name, the same. */
	n = mk_req(buf, FUSE_TMPFILE, 2, 6, &ci, sizeof(ci));
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.calls[M_TMPFILE], 2);
	/* A backend error goes back as it is. */
	m.result = -EOPNOTSUPP;
	assert_int_equal(send_req(srv, n, 2, &pl), -EOPNOTSUPP);
	fuse_server_free(srv);
}

static void test_unlink(void **state)
{
	SETUP();

	n = mk_req(buf, FUSE_UNLINK, 1, 5, "x", 2);
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, 0);
	assert_int_equal(m.calls[M_UNLINK], 1);
	assert_string_equal(m.name, "x");
	fuse_server_free(srv);
}

static void test_rmdir(void **state)
{
	SETUP();

	m.result = -ENOENT;
	n = mk_req(buf, FUSE_RMDIR, 2, 5, "x", 2);
	assert_int_equal(send_req(srv, n, 2, &pl), -ENOENT);
	/* Out-of-range errors from a backend become EIO. */
	m.result = -5000;
	assert_int_equal(send_req(srv, n, 2, &pl), -EIO);
	m.result = 0;
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.calls[M_RMDIR], 3);
	fuse_server_free(srv);
}

static void test_rename2(void **state)
{
	SETUP();
	struct fuse_rename2_in r2 = {.newdir = 9, .flags = RENAME_NOREPLACE};

	n = mk_req2(buf, FUSE_RENAME2, 3, 5, &r2, sizeof(r2), "a\0b", 4);
	assert_int_equal(send_req(srv, n, 3, &pl), 0);
	assert_string_equal(m.name, "a");
	assert_string_equal(m.name2, "b");
	assert_int_equal(m.newparent, 9);
	assert_int_equal(m.flags, RENAME_NOREPLACE);
	r2.flags = 1u << 7;
	n = mk_req2(buf, FUSE_RENAME2, 4, 5, &r2, sizeof(r2), "a\0b", 4);
	assert_int_equal(send_req(srv, n, 4, &pl), -EINVAL);
	assert_int_equal(m.calls[M_RENAME], 1);
	fuse_server_free(srv);
}

static void test_rename(void **state)
{
	SETUP();
	struct fuse_rename_in r1 = {.newdir = 10};

	m.flags = 77;
	n = mk_req2(buf, FUSE_RENAME, 5, 5, &r1, sizeof(r1), "c\0d", 4);
	assert_int_equal(send_req(srv, n, 5, &pl), 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.newparent, 10);
	assert_string_equal(m.name, "c");
	assert_string_equal(m.name2, "d");
	fuse_server_free(srv);
}

static void test_access(void **state)
{
	SETUP();
	struct fuse_access_in ai = {.mask = 4};

	n = mk_req(buf, FUSE_ACCESS, 6, 5, &ai, sizeof(ai));
	assert_int_equal(send_req(srv, n, 6, &pl), 0);
	assert_int_equal(m.mask, 4);
	m.result = -EACCES;
	assert_int_equal(send_req(srv, n, 6, &pl), -EACCES);
	fuse_server_free(srv);
}

static void test_fsync(void **state)
{
	SETUP();
	struct fuse_fsync_in fi = {.fh = 3, .fsync_flags = 1};

	n = mk_req(buf, FUSE_FSYNC, 7, 5, &fi, sizeof(fi));
	assert_int_equal(send_req(srv, n, 7, &pl), 0);
	assert_true(m.datasync);
	fi.fsync_flags = 0;
	n = mk_req(buf, FUSE_FSYNC, 8, 5, &fi, sizeof(fi));
	assert_int_equal(send_req(srv, n, 8, &pl), 0);
	assert_false(m.datasync);
	fuse_server_free(srv);
}

static void test_fsyncdir(void **state)
{
	SETUP();
	struct fuse_fsync_in fi = {.fh = 3, .fsync_flags = 1};

	n = mk_req(buf, FUSE_FSYNCDIR, 8, 5, &fi, sizeof(fi));
	assert_int_equal(send_req(srv, n, 8, &pl), 0);
	assert_int_equal(m.calls[M_FSYNCDIR], 1);
	assert_int_equal(m.calls[M_FSYNC], 0);
	fuse_server_free(srv);
}

static void test_release(void **state)
{
	SETUP();
	struct fuse_release_in ri = {.fh = 77};

	n = mk_req(buf, FUSE_RELEASE, 9, 5, &ri, sizeof(ri));
	assert_int_equal(send_req(srv, n, 9, &pl), 0);
	assert_int_equal(m.fh, 77);
	assert_int_equal(m.calls[M_RELEASE], 1);
	fuse_server_free(srv);
}

static void test_releasedir(void **state)
{
	SETUP();
	struct fuse_release_in ri = {.fh = 77};

	n = mk_req(buf, FUSE_RELEASEDIR, 10, 5, &ri, sizeof(ri));
	assert_int_equal(send_req(srv, n, 10, &pl), 0);
	assert_int_equal(m.calls[M_RELEASEDIR], 1);
	assert_int_equal(m.calls[M_RELEASE], 0);
	fuse_server_free(srv);
}

static void test_flush(void **state)
{
	SETUP();
	struct fuse_flush_in fl = {.fh = 1};

	n = mk_req(buf, FUSE_FLUSH, 11, 5, &fl, sizeof(fl));
	assert_int_equal(send_req(srv, n, 11, &pl), 0);
	assert_int_equal(m.calls[M_FLUSH], 1);
	fuse_server_free(srv);
}

static void test_fallocate(void **state)
{
	SETUP();
	struct fuse_fallocate_in fa = {.length = 10};

	n = mk_req(buf, FUSE_FALLOCATE, 12, 5, &fa, sizeof(fa));
	assert_int_equal(send_req(srv, n, 12, &pl), 0);
	assert_int_equal(m.calls[M_FALLOCATE], 1);
	fuse_server_free(srv);
}

static void test_lseek(void **state)
{
	SETUP();
	struct fuse_lseek_in ls = {.offset = 100, .whence = 3};
	struct fuse_lseek_out lo;

	n = mk_req(buf, FUSE_LSEEK, 13, 5, &ls, sizeof(ls));
	assert_int_equal(send_req(srv, n, 13, &pl), 0);
	memcpy(&lo, out + OHDR, sizeof(lo));
	assert_int_equal(lo.offset, 101);
	fuse_server_free(srv);
}

static void test_copy_file_range(void **state)
{
	SETUP();
	struct fuse_copy_file_range_in cf = {.len = 1ULL << 40};
	struct fuse_write_out wo;

	n = mk_req(buf, FUSE_COPY_FILE_RANGE, 14, 5, &cf, sizeof(cf));
	assert_int_equal(send_req(srv, n, 14, &pl), 0);
	memcpy(&wo, out + OHDR, sizeof(wo));
	assert_int_equal(wo.size, 1000);
	assert_true(m.len <= (1u << 30));
	fuse_server_free(srv);
}

static void test_syncfs(void **state)
{
	SETUP();
	struct fuse_syncfs_in sf = {0};

	n = mk_req(buf, FUSE_SYNCFS, 15, 5, &sf, sizeof(sf));
	assert_int_equal(send_req(srv, n, 15, &pl), 0);
	assert_int_equal(m.calls[M_SYNCFS], 1);
	fuse_server_free(srv);
}

static void test_statfs(void **state)
{
	SETUP();

	n = mk_req(buf, FUSE_STATFS, 16, 5, NULL, 0);
	assert_int_equal(send_req(srv, n, 16, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_statfs_out));
	fuse_server_free(srv);
}

static void test_readlink(void **state)
{
	SETUP();

	n = mk_req(buf, FUSE_READLINK, 17, 5, NULL, 0);
	assert_int_equal(send_req(srv, n, 17, &pl), 0);
	assert_int_equal(pl, strlen("some/target"));
	assert_memory_equal(out + OHDR, "some/target", pl);
	fuse_server_free(srv);
}

static void test_open(void **state)
{
	SETUP();
	struct fuse_open_in oi = {.flags = O_RDONLY};

	n = mk_req(buf, FUSE_OPEN, 18, 5, &oi, sizeof(oi));
	assert_int_equal(send_req(srv, n, 18, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_open_out));
	assert_int_equal(m.calls[M_OPEN], 1);
	fuse_server_free(srv);
}

static void test_opendir(void **state)
{
	SETUP();
	struct fuse_open_in oi = {.flags = O_RDONLY};

	n = mk_req(buf, FUSE_OPENDIR, 19, 5, &oi, sizeof(oi));
	assert_int_equal(send_req(srv, n, 19, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_open_out));
	assert_int_equal(m.calls[M_OPENDIR], 1);
	fuse_server_free(srv);
}

static void test_getattr(void **state)
{
	SETUP();
	struct fuse_getattr_in gi = {.getattr_flags = 0, .fh = 5};

	n = mk_req(buf, FUSE_GETATTR, 1, 3, &gi, sizeof(gi));
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(struct fuse_attr_out));
	assert_int_equal(m.fh, UINT64_MAX);
	gi.getattr_flags = FUSE_GETATTR_FH;
	n = mk_req(buf, FUSE_GETATTR, 2, 3, &gi, sizeof(gi));
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.fh, 5);
	fuse_server_free(srv);
}

static void test_setattr(void **state)
{
	SETUP();
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

/* STATX: the sync flags and mask go to the backend, the fh only with GETATTR_FH; other
 * getattr_flags are refused. */
static void test_statx(void **state)
{
	SETUP();
	struct fuse_statx_in si = {.fh = 12, .sx_flags = 0x2000, .sx_mask = 0x800 | 0x7ff};
	struct fuse_statx_out so;

	n = mk_req(buf, FUSE_STATX, 1, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(so));
	memcpy(&so, out + OHDR, sizeof(so));
	assert_int_equal(so.stat.ino, 3);
	assert_int_equal(so.stat.mask, si.sx_mask);
	assert_int_equal(m.sx_flags, 0x2000);
	assert_int_equal(m.sx_mask, si.sx_mask);
	assert_int_equal(m.fh, UINT64_MAX);
	si.getattr_flags = FUSE_GETATTR_FH;
	n = mk_req(buf, FUSE_STATX, 2, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_int_equal(m.fh, 12);
	si.getattr_flags = 1u << 5;
	n = mk_req(buf, FUSE_STATX, 3, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 3, &pl), -EINVAL);
	assert_int_equal(m.calls[M_STATX], 2);
	m.result = -ENOENT;
	si.getattr_flags = 0;
	n = mk_req(buf, FUSE_STATX, 4, 3, &si, sizeof(si));
	assert_int_equal(send_req(srv, n, 4, &pl), -ENOENT);
	fuse_server_free(srv);
}

/* GETLK: the lock asked for reaches the backend (the guest's pid dropped); the answer goes
 * back, an unlocked answer without a range; a malformed answer is EIO. */
static void test_getlk(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_lock_server(&m);
	struct fuse_lk_in li = {.fh = 4, .owner = 0xabc,
				.lk = {.start = 10, .end = 19, .type = F_WRLCK, .pid = 77}};
	struct fuse_lk_out lo;
	size_t n, pl;

	m.conflict = (struct fuse_file_lock){.start = 0, .end = 99, .type = F_RDLCK, .pid = 5};
	n = mk_req(buf, FUSE_GETLK, 1, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, sizeof(lo));
	memcpy(&lo, out + OHDR, sizeof(lo));
	assert_int_equal(lo.lk.type, F_RDLCK);
	assert_int_equal(lo.lk.end, 99);
	assert_int_equal(m.fh, 4);
	assert_int_equal(m.lock_owner, 0xabc);
	assert_int_equal(m.lk.start, 10);
	assert_int_equal(m.lk.end, 19);
	assert_int_equal(m.lk.type, F_WRLCK);
	assert_int_equal(m.lk.pid, 0);
	m.conflict = (struct fuse_file_lock){.start = 3, .end = 4, .type = F_UNLCK, .pid = 5};
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	memcpy(&lo, out + OHDR, sizeof(lo));
	assert_int_equal(lo.lk.type, F_UNLCK);
	assert_int_equal(lo.lk.start, 0);
	assert_int_equal(lo.lk.end, 0);
	assert_int_equal(lo.lk.pid, 0);
	m.conflict = (struct fuse_file_lock){.start = 9, .end = 4, .type = F_WRLCK};
	assert_int_equal(send_req(srv, n, 1, &pl), -EIO);
	/* Unlock is no question to ask. */
	li.lk.type = F_UNLCK;
	n = mk_req(buf, FUSE_GETLK, 2, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 2, &pl), -EINVAL);
	assert_int_equal(m.calls[M_GETLK], 3);
	fuse_server_free(srv);

	/* Not negotiated: ENOSYS, backend untouched. */
	srv = mk_server(&m, NULL);
	li.lk.type = F_RDLCK;
	n = mk_req(buf, FUSE_GETLK, 3, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 3, &pl), -ENOSYS);
	assert_int_equal(m.total_calls, 0);
	fuse_server_free(srv);
}

/* SETLK: record lock or flock (FUSE_LK_FLOCK), never sleeping; ranges and types checked. */
static void test_setlk(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_lock_server(&m);
	struct fuse_lk_in li = {.fh = 4, .owner = 9, .lk = {.start = 0, .end = 5, .type = F_RDLCK}};
	size_t n, pl;

	n = mk_req(buf, FUSE_SETLK, 1, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 1, &pl), 0);
	assert_int_equal(pl, 0);
	assert_int_equal(m.lk.type, F_RDLCK);
	assert_int_equal(m.lock_owner, 9);
	assert_false(m.flock);
	assert_false(m.sleep);
	li.lk_flags = FUSE_LK_FLOCK;
	li.lk.type = F_UNLCK;
	n = mk_req(buf, FUSE_SETLK, 2, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 2, &pl), 0);
	assert_true(m.flock);
	assert_int_equal(m.lk.type, F_UNLCK);
	/* A conflict is the backend's answer, not waited for. */
	m.result = -EAGAIN;
	assert_int_equal(send_req(srv, n, 2, &pl), -EAGAIN);
	m.result = 0;
	assert_int_equal(m.calls[M_SETLK], 3);
	/* Unknown lk_flags, unknown type, a range past off_t or backwards. */
	li.lk_flags = 1u << 4;
	n = mk_req(buf, FUSE_SETLK, 3, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 3, &pl), -EINVAL);
	li.lk_flags = 0;
	li.lk.type = 9;
	n = mk_req(buf, FUSE_SETLK, 4, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 4, &pl), -EINVAL);
	li.lk.type = F_WRLCK;
	li.lk.end = (uint64_t)INT64_MAX + 1;
	n = mk_req(buf, FUSE_SETLK, 5, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 5, &pl), -EINVAL);
	li.lk.start = 10;
	li.lk.end = 9;
	n = mk_req(buf, FUSE_SETLK, 6, 3, &li, sizeof(li));
	assert_int_equal(send_req(srv, n, 6, &pl), -EINVAL);
	assert_int_equal(m.calls[M_SETLK], 3);
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
	assert_int_equal(m.flags, 1);
	assert_int_equal(m.setxattr_flags, 0);
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
	assert_int_equal(m.setxattr_flags, 0xdead);
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

#define T(f) cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_lookup),	  T(test_mkdir),      T(test_mknod),	    T(test_symlink),
	    T(test_link),	  T(test_create),     T(test_tmpfile),	    T(test_unlink),
	    T(test_rmdir),	  T(test_rename2),    T(test_rename),	    T(test_access),
	    T(test_fsync),	  T(test_fsyncdir),   T(test_release),	    T(test_releasedir),
	    T(test_flush),	  T(test_fallocate),  T(test_lseek),	    T(test_copy_file_range),
	    T(test_syncfs),	  T(test_statfs),     T(test_readlink),	    T(test_open),
	    T(test_opendir),	  T(test_getattr),    T(test_setattr),	    T(test_statx),
	    T(test_getlk),	  T(test_setlk),      T(test_forget),	    T(test_xattr),
	    T(test_missing_ops),
	};
	return cmocka_run_group_tests_name("fuse_ops", tests, NULL, NULL);
}
