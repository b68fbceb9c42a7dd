/*
 * The passthrough backend against a hostile guest: names that are paths, special files,
 * forged ids, resource exhaustion, read-only mode and per-request credentials.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include "fs_test_util.h"
#include "fuse/dirent.h"

#define SKIP_UNLESS_ROOT()                                                                         \
	do {                                                                                       \
		if (geteuid() != 0) {                                                              \
			print_message("SKIPPED %s: needs root\n", __func__);                       \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static char long_name[257];

static const char *bad_names(int i)
{
	static const char *const names[] = {
		"..", ".", "a/b", "/etc/passwd", "../victim", "", "/", "x/", NULL,
	};

	if (i == 8) {
		memset(long_name, 'n', 256);
		long_name[256] = '\0';
		return long_name;
	}
	return i < 9 ? names[i] : NULL;
}

static void try_all_ops(struct fs_fixture *fx, const char *bad, uint64_t sub, uint64_t file)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;
	bool dot = strcmp(bad, ".") == 0 || strcmp(bad, "..") == 0;

	if (!dot)
		assert_true(fx->ops->lookup(fx->fs, &root_ctx, sub, bad, &e) < 0);
	assert_true(fx->ops->mknod(fx->fs, &root_ctx, sub, bad, S_IFREG | 0644, 0, 0, &e) < 0);
	assert_true(fx->ops->mknod(fx->fs, &root_ctx, sub, bad, S_IFIFO | 0644, 0, 0, &e) < 0);
	assert_true(fx->ops->mkdir(fx->fs, &root_ctx, sub, bad, 0755, 0, &e) < 0);
	assert_true(fx->ops->symlink(fx->fs, &root_ctx, sub, bad, "/etc", &e) < 0);
	assert_true(fx->ops->unlink(fx->fs, &root_ctx, sub, bad) < 0);
	assert_true(fx->ops->rmdir(fx->fs, &root_ctx, sub, bad) < 0);
	assert_true(fx->ops->rename(fx->fs, &root_ctx, sub, "x", sub, bad, 0) < 0);
	assert_true(fx->ops->rename(fx->fs, &root_ctx, sub, bad, sub, "y", 0) < 0);
	assert_true(fx->ops->rename(fx->fs, &root_ctx, sub, bad, sub, "y", RENAME_EXCHANGE) < 0);
	assert_true(fx->ops->link(fx->fs, &root_ctx, file, sub, bad, &e) < 0);
	assert_true(fx->ops->create(fx->fs, &root_ctx, sub, bad, S_IFREG | 0644,
				    O_RDWR | O_CREAT, 0, &e, &o) < 0);
	assert_true(fx->ops->create(fx->fs, &root_ctx, sub, bad, S_IFREG | 0644,
				    O_RDWR | O_CREAT | O_TRUNC, 0, &e, &o) < 0);
}

static void test_names_refused_everywhere(void **state)
{
	struct fs_fixture *fx = *state;
	char victim[128], outer_sub[128];
	struct stat pw_before, pw_after, st;
	uint64_t sub, file;
	int base;

	/* Things a path-shaped name could reach: outer/victim, the share's parent, /etc. */
	snprintf(victim, sizeof(victim), "%s/victim", fx->outer);
	snprintf(outer_sub, sizeof(outer_sub), "%s/sub", fx->outer);
	assert_int_equal(close(open(victim, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
	assert_int_equal(stat("/etc/passwd", &pw_before), 0);
	assert_int_equal(mkdir(fx_path(fx, "sub"), 0777), 0);
	assert_int_equal(fx_write_file(fx, "sub/x", "x"), 0);
	sub = fx_lookup(fx, FUSE_ROOT_ID, "sub");
	file = fx_lookup(fx, sub, "x");
	assert_true(sub && file);
	base = count_fds();
	for (int i = 0; bad_names(i); i++) {
		try_all_ops(fx, bad_names(i), sub, file);
		try_all_ops(fx, bad_names(i), FUSE_ROOT_ID, file);
	}
	assert_int_equal(count_fds(), base);
	/* Nothing was created, removed or moved anywhere. */
	assert_int_equal(count_entries(fx->outer), 2); /* share, victim */
	assert_int_equal(access(victim, F_OK), 0);
	assert_int_equal(count_entries(fx->share), 1);
	assert_int_equal(count_entries(fx_path(fx, "sub")), 1);
	assert_int_equal(stat(fx_path(fx, "sub/x"), &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(stat("/etc/passwd", &pw_after), 0);
	assert_int_equal(pw_after.st_mtime, pw_before.st_mtime);
	assert_int_equal(pw_after.st_nlink, pw_before.st_nlink);
	fx->ops->forget(fx->fs, file, 1);
	fx->ops->forget(fx->fs, sub, 1);
}

static void test_name_errors(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	char name[256];

	assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "..", 0755, 0, &e),
			 -EINVAL);
	assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "a/b", 0755, 0, &e),
			 -EINVAL);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, bad_names(8), &e),
			 -ENAMETOOLONG);
	/* 255 bytes is a valid name. */
	memset(name, 'k', 255);
	name[255] = '\0';
	assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, name, 0755, 0, &e), 0);
	assert_int_equal(access(fx_path(fx, name), F_OK), 0);
	fx->ops->forget(fx->fs, e.nodeid, 1);
}

static void expect_open_refused(struct fs_fixture *fx, const char *name, uint64_t ino)
{
	struct fs_setattr sa = { .valid = FATTR_SIZE, .size = 0 };
	struct fuse_attr_out a;
	struct fuse_entry_out e;
	struct fuse_open_out o;

	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, ino, O_RDONLY, &o), -ENXIO);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, ino, O_RDWR | O_NONBLOCK, &o), -ENXIO);
	/* CREATE without O_EXCL on the existing name must not open it either. */
	assert_int_equal(fx->ops->create(fx->fs, &root_ctx, FUSE_ROOT_ID, name, S_IFREG | 0644,
					 O_RDWR | O_CREAT, 0, &e, &o),
			 -ENXIO);
	assert_int_equal(fx->ops->opendir(fx->fs, &root_ctx, ino, 0, &o), -ENOTDIR);
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, ino, &sa, &a), -EINVAL);
}

static void test_open_fifo_socket_refused(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	struct stat st;

	assert_int_equal(
		fx->ops->mknod(fx->fs, &root_ctx, FUSE_ROOT_ID, "fifo", S_IFIFO | 0666, 0, 0, &e), 0);
	assert_int_equal(stat(fx_path(fx, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	expect_open_refused(fx, "fifo", e.nodeid);
	fx->ops->forget(fx->fs, e.nodeid, 1);
	assert_int_equal(
		fx->ops->mknod(fx->fs, &root_ctx, FUSE_ROOT_ID, "sock", S_IFSOCK | 0666, 0, 0, &e),
		0);
	expect_open_refused(fx, "sock", e.nodeid);
	fx->ops->forget(fx->fs, e.nodeid, 1);
}

static void test_open_device_refused(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	struct stat st;
	/* The guest sends new_encode_dev(): /dev/null is 1:3. */
	uint32_t rdev = (3 & 0xff) | (1 << 8);

	SKIP_UNLESS_ROOT();
	assert_int_equal(fx->ops->mknod(fx->fs, &root_ctx, FUSE_ROOT_ID, "null", S_IFCHR | 0666,
					rdev, 0, &e),
			 0);
	assert_int_equal(stat(fx_path(fx, "null"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	assert_int_equal(e.attr.rdev, rdev);
	expect_open_refused(fx, "null", e.nodeid);
	fx->ops->forget(fx->fs, e.nodeid, 1);
}

static void test_stale_and_garbage_ids(void **state)
{
	struct fs_fixture *fx = *state;
	const uint64_t bad[] = { 0, 2, 12345, (5ull << 32) | 1, (1ull << 32) | 1, UINT64_MAX,
				 (1ull << 32) | 0xffffffffu };
	struct fuse_dirbuf db;
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_open_out o;
	char buf[16];
	char dbuf[256];
	uint64_t f, off;

	fuse_dirbuf_init(&db, dbuf, sizeof(dbuf), false);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t b = bad[i];

		assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, b, NULL, &a), -EBADF);
		assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, b, "x", &e), -EBADF);
		assert_int_equal(fx->ops->open(fx->fs, &root_ctx, b, O_RDONLY, &o), -EBADF);
		assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, b, "x", 0755, 0, &e), -EBADF);
		fx->ops->forget(fx->fs, b, 1);
		/* The same values as file handles. */
		assert_int_equal(fx->ops->read(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, 0,
					       FX_VIEW(buf, 16)),
				 -EBADF);
		assert_int_equal(fx->ops->write(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, 0, 0,
						FX_VIEW(buf, 16)),
				 -EBADF);
		assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, false, &db.sink),
				 -EBADF);
		db.plus = true;
		assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, true, &db.sink),
				 -EBADF);
		db.plus = false;
		assert_int_equal(fx->ops->fsync(fx->fs, &root_ctx, FUSE_ROOT_ID, b, false), -EBADF);
		assert_int_equal(fx->ops->flush(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0), -EBADF);
		assert_int_equal(fx->ops->lseek(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, SEEK_DATA,
						&off),
				 -EBADF);
		assert_int_equal(fx->ops->release(fx->fs, &root_ctx, FUSE_ROOT_ID, b, 0, 0, 0),
				 -EBADF);
	}
	/* A released handle and a forgotten inode are stale, not reused by accident. */
	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDONLY, &o), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), -EBADF);
	assert_int_equal(fx->ops->read(fx->fs, &root_ctx, f, o.fh, 0, 0, FX_VIEW(buf, 16)), -EBADF);
	fx->ops->forget(fx->fs, f, 1);
	fx->ops->forget(fx->fs, f, 1);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, f, NULL, &a), -EBADF);
	/* Root with the wrong generation is not the root. */
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, (7ull << 32) | 1, NULL, &a), -EBADF);
}

static void test_fd_limit(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_conn conn = { .proto_minor = 38 };
	struct rlimit old, rl;
	struct fuse_open_out o;
	uint64_t ids[80], want = 0;
	int n = 0, refused = 0, base;
	char name[32];

	for (int i = 0; i < 80; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fx_write_file(fx, name, ""), 0);
	}
	base = count_fds();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)base + 60;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
	for (int i = 0; i < 80; i++) {
		struct fuse_entry_out e;
		int r;

		snprintf(name, sizeof(name), "f%d", i);
		r = fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, name, &e);
		if (r == 0)
			ids[n++] = e.nodeid;
		else
			refused += r == -ENFILE;
	}
	assert_true(n > 0 && n < 80);
	assert_int_equal(refused, 80 - n);
	/* Handles share the budget: refused, the daemon keeps its reserve. */
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, ids[0], O_RDONLY, &o), -EMFILE);
	assert_true(count_fds() < (int)rl.rlim_cur - 8);
	for (int i = 0; i < n; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	assert_int_equal(count_fds(), base);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
}

/* GETLK as ever new lock owners (a guest picks them freely): none keeps a host fd or a lock
 * table slot, so a new owner can still lock afterwards (the table holds 4096). */
static void test_getlk_owners_keep_nothing(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_file_lock lk = { .type = F_WRLCK, .start = 0, .end = INT64_MAX }, out;
	struct flock hl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5 };
	uint64_t f;
	int base, hfd;

	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	base = count_fds();
	for (uint64_t owner = 1; owner <= 5000; owner++) {
		int r = fx->ops->getlk(fx->fs, &root_ctx, f, 0, owner, &lk, &out);

		if (r != 0 || out.type != F_UNLCK)
			fail_msg("GETLK as owner %llu: %d, type %u", (unsigned long long)owner, r,
				 out.type);
	}
	assert_int_equal(count_fds(), base);
	assert_int_equal(fx->ops->setlk(fx->fs, &root_ctx, f, 0, 6000, &lk, false, false), 0);
	assert_int_equal(count_fds(), base + 1);
	/* A new owner still sees the conflict, and a host process's lock. */
	assert_int_equal(fx->ops->getlk(fx->fs, &root_ctx, f, 0, 6001, &lk, &out), 0);
	assert_int_equal(out.type, F_WRLCK);
	lk.type = F_UNLCK;
	assert_int_equal(fx->ops->setlk(fx->fs, &root_ctx, f, 0, 6000, &lk, false, false), 0);
	hfd = open(fx_path(fx, "f"), O_RDONLY | O_CLOEXEC);
	assert_true(hfd >= 0);
	assert_int_equal(fcntl(hfd, F_OFD_SETLK, &hl), 0);
	lk.type = F_WRLCK;
	assert_int_equal(fx->ops->getlk(fx->fs, &root_ctx, f, 0, 6002, &lk, &out), 0);
	assert_int_equal(out.type, F_RDLCK);
	assert_int_equal(out.start, 10);
	assert_int_equal(out.end, 14);
	close(hfd);
	fx->ops->flush(fx->fs, &root_ctx, f, 0, 6000);
	assert_int_equal(count_fds(), base);
	fx->ops->forget(fx->fs, f, 1);
}

static void test_readonly(void **state)
{
	struct fs_fixture *fx = fx_new(CACHE_AUTO, true);
	struct fs_setattr sa = { .valid = FATTR_MODE, .mode = 0600 };
	char data[] = "zz";
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fuse_open_out o;
	uint64_t f, d;

	assert_non_null(fx);
	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	d = fx_lookup(fx, FUSE_ROOT_ID, "d");
	assert_int_equal(fx->ops->create(fx->fs, &root_ctx, FUSE_ROOT_ID, "n", S_IFREG | 0644,
					 O_RDWR | O_CREAT, 0, &e, &o),
			 -EROFS);
	assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "n", 0755, 0, &e), -EROFS);
	assert_int_equal(fx->ops->mknod(fx->fs, &root_ctx, FUSE_ROOT_ID, "n", S_IFIFO, 0, 0, &e),
			 -EROFS);
	assert_int_equal(fx->ops->symlink(fx->fs, &root_ctx, FUSE_ROOT_ID, "n", "t", &e), -EROFS);
	assert_int_equal(fx->ops->link(fx->fs, &root_ctx, f, FUSE_ROOT_ID, "n", &e), -EROFS);
	assert_int_equal(fx->ops->unlink(fx->fs, &root_ctx, FUSE_ROOT_ID, "f"), -EROFS);
	assert_int_equal(fx->ops->rmdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d"), -EROFS);
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", d, "f", 0), -EROFS);
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), -EROFS);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_WRONLY, &o), -EROFS);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDONLY | O_TRUNC, &o), -EROFS);
	assert_int_equal(fx->ops->access(fx->fs, &root_ctx, f, W_OK), -EROFS);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDONLY, &o), 0);
	assert_int_equal(fx->ops->write(fx->fs, &root_ctx, f, o.fh, 0, 0, 0, FX_VIEW(data, 2)), -EROFS);
	assert_int_equal(fx->ops->fallocate(fx->fs, &root_ctx, f, o.fh, 0, 0, 10), -EROFS);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	assert_int_equal(count_entries(fx->share), 2);
	fx->ops->forget(fx->fs, f, 1);
	fx->ops->forget(fx->fs, d, 1);
	fx_free(fx);
}

static void test_creds_and_umask(void **state)
{
	struct fs_fixture *fx = *state;
	const struct fs_ctx user = { .uid = 1000, .gid = 1001, .pid = 2, .umask = 077 };
	struct fuse_entry_out e, e2;
	struct fuse_open_out o;
	struct stat st;

	SKIP_UNLESS_ROOT();
	assert_int_equal(fx->ops->create(fx->fs, &user, FUSE_ROOT_ID, "uf", S_IFREG | 0666,
					 O_RDWR | O_CREAT | O_EXCL, 077, &e, &o),
			 0);
	assert_int_equal(stat(fx_path(fx, "uf"), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(geteuid(), 0);
	assert_int_equal(getegid(), 0);
	assert_int_equal(fx->ops->release(fx->fs, &user, e.nodeid, o.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->mkdir(fx->fs, &user, FUSE_ROOT_ID, "ud", 0777, 027, &e2), 0);
	assert_int_equal(stat(fx_path(fx, "ud"), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode & 07777, 0750);
	fx->ops->forget(fx->fs, e2.nodeid, 1);
	assert_int_equal(fx->ops->symlink(fx->fs, &user, FUSE_ROOT_ID, "us", "t", &e2), 0);
	assert_int_equal(lstat(fx_path(fx, "us"), &st), 0);
	assert_int_equal(st.st_uid, 1000);
	fx->ops->forget(fx->fs, e2.nodeid, 1);
	/* The caller's permissions apply: a root-only directory refuses them. */
	assert_int_equal(mkdir(fx_path(fx, "private"), 0700), 0);
	e2.nodeid = fx_lookup(fx, FUSE_ROOT_ID, "private");
	assert_int_equal(fx->ops->mkdir(fx->fs, &user, e2.nodeid, "x", 0777, 0, &e), -EACCES);
	assert_int_equal(fx->ops->access(fx->fs, &user, e2.nodeid, W_OK), -EACCES);
	assert_int_equal(fx->ops->access(fx->fs, &root_ctx, e2.nodeid, W_OK), 0);
	fx->ops->forget(fx->fs, e2.nodeid, 1);
	assert_int_equal(geteuid(), 0);
	/* uid -1 would mean "unchanged" to setresuid: refused, not run as root. */
	const struct fs_ctx bad = { .uid = UINT32_MAX, .gid = 0 };
	assert_int_equal(fx->ops->mkdir(fx->fs, &bad, FUSE_ROOT_ID, "y", 0777, 0, &e), -EINVAL);
}

/* CREATE without O_EXCL of a name that exists opens it as the caller, with or without a
 * security label to set: a root-only file is refused (and not truncated), one the caller may
 * write is opened and truncated. */
static void test_create_existing_as_caller(void **state)
{
	struct fs_fixture *fx = *state;
	const struct fs_secctx sc = { .name = "security.selinux", .value = "lbl", .size = 3 };
	struct fs_ctx user = { .uid = 1000, .gid = 1001, .pid = 2, .umask = 022 };
	const uint32_t fl = O_RDWR | O_CREAT | O_TRUNC;
	struct fuse_entry_out e;
	struct fuse_open_out o;
	struct stat st;

	SKIP_UNLESS_ROOT();
	assert_int_equal(fx_write_file(fx, "secret", "data"), 0);
	assert_int_equal(chmod(fx_path(fx, "secret"), 0600), 0);
	for (int i = 0; i < 2; i++) {
		user.secctx = i ? &sc : NULL;
		assert_int_equal(fx->ops->create(fx->fs, &user, FUSE_ROOT_ID, "secret",
						 S_IFREG | 0644, fl, 0, &e, &o),
				 -EACCES);
		assert_int_equal(fx->ops->create(fx->fs, &user, FUSE_ROOT_ID, "secret",
						 S_IFREG | 0644, O_RDONLY | O_CREAT, 0, &e, &o),
				 -EACCES);
		assert_int_equal(stat(fx_path(fx, "secret"), &st), 0);
		assert_int_equal(st.st_size, 4);
		assert_int_equal(geteuid(), 0);
	}
	assert_int_equal(fx_write_file(fx, "mine", "data"), 0);
	assert_int_equal(chown(fx_path(fx, "mine"), 1000, 1001), 0);
	assert_int_equal(chmod(fx_path(fx, "mine"), 0600), 0);
	user.secctx = NULL;
	assert_int_equal(fx->ops->create(fx->fs, &user, FUSE_ROOT_ID, "mine", S_IFREG | 0644, fl,
					 0, &e, &o),
			 0);
	assert_int_equal(stat(fx_path(fx, "mine"), &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(fx->ops->release(fx->fs, &user, e.nodeid, o.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, e.nodeid, 1);
}

/* HANDLE_KILLPRIV_V2: a write or truncate flagged by the guest drops the set-id bits. */
static void test_kill_suidgid(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_setattr sa = { .valid = FATTR_SIZE | FATTR_KILL_SUIDGID, .size = 0 };
	char data[] = "zz";
	struct fuse_attr_out a;
	struct fuse_open_out o;
	struct stat st;
	uint64_t f;

	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	assert_int_equal(chmod(fx_path(fx, "f"), 06755), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDWR, &o), 0);
	assert_int_equal(fx->ops->write(fx->fs, &root_ctx, f, o.fh, 0, 0, 0, FX_VIEW(data, 2)), 2);
	assert_int_equal(stat(fx_path(fx, "f"), &st), 0);
	/* Not asked: kept (a writer without CAP_FSETID has them cleared by the host anyway). */
	if (geteuid() == 0)
		assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(chmod(fx_path(fx, "f"), 06755), 0);
	assert_int_equal(fx->ops->write(fx->fs, &root_ctx, f, o.fh, 0, FUSE_WRITE_KILL_SUIDGID,
					0, FX_VIEW(data, 2)),
			 2);
	assert_int_equal(stat(fx_path(fx, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	/* Truncate without a handle; setgid without group exec is file locking: kept. */
	assert_int_equal(chmod(fx_path(fx, "f"), 06745), 0);
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_int_equal(a.attr.mode & 07777, 02745);
	assert_int_equal(a.attr.size, 0);
	fx->ops->forget(fx->fs, f, 1);
}

/* HANDLE_KILLPRIV_V2: copy_file_range into a set-id file clears the bits as a WRITE by the
 * same caller does (the guest's root keeps them, anyone else loses them); without it the guest
 * clears them itself (SETATTR) and the copy keeps them. */
static void test_copy_kill_suidgid(void **state)
{
	struct fs_fixture *fx = *state;
	const struct fs_ctx user = { .uid = 1000, .gid = 1001, .pid = 2, .umask = 022 };
	struct fs_conn conn = { .proto_minor = 38, .max_write = 1 << 20 };
	struct fuse_open_out a, b;
	uint64_t fa, fb, want = FUSE_HANDLE_KILLPRIV_V2;
	struct stat st;

	SKIP_UNLESS_ROOT(); /* a writer without CAP_FSETID has the bits cleared by the host */
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
	assert_int_equal(fx_write_file(fx, "a", "0123456789"), 0);
	assert_int_equal(fx_write_file(fx, "b", "abcdefghij"), 0);
	assert_int_equal(chmod(fx_path(fx, "b"), 06755), 0);
	fa = fx_lookup(fx, FUSE_ROOT_ID, "a");
	fb = fx_lookup(fx, FUSE_ROOT_ID, "b");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, fa, O_RDONLY, &a), 0);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, fb, O_RDWR, &b), 0);
	assert_int_equal(fx->ops->copy_file_range(fx->fs, &root_ctx, fa, a.fh, 0, fb, b.fh, 0, 3,
						  0),
			 3);
	assert_int_equal(stat(fx_path(fx, "b"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(fx->ops->copy_file_range(fx->fs, &user, fa, a.fh, 0, fb, b.fh, 0, 3, 0),
			 3);
	assert_int_equal(stat(fx_path(fx, "b"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Setgid without group exec is file locking: kept. */
	assert_int_equal(chmod(fx_path(fx, "b"), 06745), 0);
	assert_int_equal(fx->ops->copy_file_range(fx->fs, &user, fa, a.fh, 0, fb, b.fh, 0, 3, 0),
			 3);
	assert_int_equal(stat(fx_path(fx, "b"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 02745);
	want = 0;
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
	assert_int_equal(chmod(fx_path(fx, "b"), 06755), 0);
	assert_int_equal(fx->ops->copy_file_range(fx->fs, &user, fa, a.fh, 0, fb, b.fh, 0, 3, 0),
			 3);
	assert_int_equal(stat(fx_path(fx, "b"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, fa, a.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, fb, b.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, fa, 1);
	fx->ops->forget(fx->fs, fb, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_refused_everywhere, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_name_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_fifo_socket_refused, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_open_device_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_garbage_ids, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fd_limit, fx_setup_fds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_getlk_owners_keep_nothing, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test_setup_teardown(test_kill_suidgid, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_kill_suidgid, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_creds_and_umask, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_existing_as_caller, fx_setup,
						fx_teardown),
	};
	return cmocka_run_group_tests_name("fs_security", tests, NULL, NULL);
}
