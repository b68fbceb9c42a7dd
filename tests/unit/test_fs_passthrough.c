/* The passthrough backend, called through fs_passthrough_ops on a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/uio.h>

#include "fs_test_util.h"
#include "fuse/dirent.h"

static void test_root_and_getattr(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_attr_out a;
	struct stat st;

	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, FUSE_ROOT_ID, NULL, &a), 0);
	assert_int_equal(stat(fx->share, &st), 0);
	assert_int_equal(a.attr.ino, st.st_ino);
	assert_true(S_ISDIR(a.attr.mode));
	assert_int_equal(a.attr_valid, 1);
	/* The root is never forgotten. */
	fx->ops->forget(fx->fs, FUSE_ROOT_ID, 1000);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, FUSE_ROOT_ID, NULL, &a), 0);
}

static void test_lookup_forget_counts(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e, e2;
	struct fuse_attr_out a;
	struct stat st;
	int base;

	assert_int_equal(fx_write_file(fx, "f", "data"), 0);
	assert_int_equal(stat(fx_path(fx, "f"), &st), 0);
	base = count_fds();
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", &e), 0);
	assert_int_not_equal(e.nodeid, 0);
	assert_int_not_equal(e.nodeid, FUSE_ROOT_ID);
	assert_int_equal(e.attr.ino, st.st_ino);
	assert_int_equal(e.attr.size, 4);
	assert_int_equal(e.entry_valid, 1);
	assert_int_equal(count_fds(), base + 1);
	/* A second lookup is the same inode, one more count, no new fd. */
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", &e2), 0);
	assert_int_equal(e2.nodeid, e.nodeid);
	assert_int_equal(count_fds(), base + 1);
	fx->ops->forget(fx->fs, e.nodeid, 1);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e.nodeid, NULL, &a), 0);
	fx->ops->forget(fx->fs, e.nodeid, 1);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e.nodeid, NULL, &a), -EBADF);
	assert_int_equal(count_fds(), base);
	/* The slot comes back with another generation: the old id stays dead. */
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", &e2), 0);
	assert_int_not_equal(e2.nodeid, e.nodeid);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e.nodeid, NULL, &a), -EBADF);
	fx->ops->forget(fx->fs, e2.nodeid, 5); /* more than counted: clamps, frees */
	assert_int_equal(count_fds(), base);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "missing", &e), -ENOENT);
}

static void test_lookup_dots(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	uint64_t d;

	/* ".." of the root is the root: never the directory above the share. */
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "..", &e), 0);
	assert_int_equal(e.nodeid, FUSE_ROOT_ID);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, ".", &e), 0);
	assert_int_equal(e.nodeid, FUSE_ROOT_ID);
	assert_int_equal(mkdir(fx_path(fx, "sub"), 0755), 0);
	d = fx_lookup(fx, FUSE_ROOT_ID, "sub");
	assert_int_not_equal(d, 0);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, d, "..", &e), 0);
	assert_int_equal(e.nodeid, FUSE_ROOT_ID);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, d, ".", &e), 0);
	assert_int_equal(e.nodeid, d);
	fx->ops->forget(fx->fs, d, 2);
}

static int do_write(struct fs_fixture *fx, uint64_t ino, uint64_t fh, uint64_t off,
		    const char *s)
{
	/* Two pieces: the backend writes straight from a scattered guest buffer. */
	size_t n = strlen(s), h = n / 2;
	struct iovec iov[2] = { { (void *)s, h }, { (void *)(s + h), n - h } };
	struct iov_view v = { .iov = iov, .cnt = 2, .len = n };

	return fx->ops->write(fx->fs, &root_ctx, ino, fh, off, 0, 0, &v);
}

static int do_read(struct fs_fixture *fx, uint64_t ino, uint64_t fh, uint64_t off, char *buf,
		   size_t size)
{
	struct iovec iov[2] = { { buf, size / 2 }, { buf + size / 2, size - size / 2 } };
	struct iov_view v = { .iov = iov, .cnt = 2, .len = size };

	memset(buf, 0, size);
	return fx->ops->read(fx->fs, &root_ctx, ino, fh, off, 0, &v);
}

/* Whether the backend keeps inodes by file handle: made with --inode-file-handles=prefer, and
 * this process can use handles on the share (CAP_DAC_READ_SEARCH, fs support). */
static bool handles_usable(struct fs_fixture *fx)
{
	union {
		struct file_handle fh;
		char b[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	int mnt, dfd, fd = -1;

	if (fx->handles == INODE_HANDLES_NEVER)
		return false;
	dfd = open(fx->share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && name_to_handle_at(dfd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0)
		fd = open_by_handle_at(dfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return fd >= 0;
}

static void test_create_write_read_append(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	struct fuse_open_out o;
	char buf[64];
	struct stat st;
	int base = count_fds();

	assert_int_equal(fx->ops->create(fx->fs, &root_ctx, FUSE_ROOT_ID, "new", S_IFREG | 0666,
					 O_RDWR | O_CREAT | O_EXCL, 022, &e, &o),
			 0);
	assert_int_equal(stat(fx_path(fx, "new"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(e.attr.ino, st.st_ino);
	assert_int_equal(o.open_flags, 0);
	/* the open file, and an O_PATH fd for the inode unless its handle keeps it */
	assert_int_equal(count_fds(), base + (handles_usable(fx) ? 1 : 2));
	assert_int_equal(do_write(fx, e.nodeid, o.fh, 0, "hello world"), 11);
	assert_int_equal(do_read(fx, e.nodeid, o.fh, 6, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "world");
	assert_int_equal(fx->ops->flush(fx->fs, &root_ctx, e.nodeid, o.fh, 0), 0);
	assert_int_equal(fx->ops->fsync(fx->fs, &root_ctx, e.nodeid, o.fh, true), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, e.nodeid, o.fh, 0, 0, 0), 0);
	/* O_EXCL on an existing name fails; without it the file is opened. */
	assert_int_equal(fx->ops->create(fx->fs, &root_ctx, FUSE_ROOT_ID, "new", S_IFREG | 0666,
					 O_RDWR | O_CREAT | O_EXCL, 022, &e, &o),
			 -EEXIST);
	/* Append: the offset is ignored, the data lands at the end. */
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, e.nodeid, O_WRONLY | O_APPEND, &o), 0);
	assert_int_equal(do_write(fx, e.nodeid, o.fh, 0, "!!"), 2);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, e.nodeid, o.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->create(fx->fs, &root_ctx, FUSE_ROOT_ID, "new", S_IFREG | 0666,
					 O_RDONLY | O_CREAT, 022, &e, &o),
			 0);
	assert_int_equal(do_read(fx, e.nodeid, o.fh, 0, buf, sizeof(buf)), 13);
	assert_string_equal(buf, "hello world!!");
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, e.nodeid, o.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, e.nodeid, 2);
	assert_int_equal(count_fds(), base);
}

/* The same with O_PATH fds for inodes (--inode-file-handles=never): a new file's entry is made
 * from its O_PATH fd and the statx of its open fd. */
static void test_create_write_read_append_fds(void **state)
{
	test_create_write_read_append(state);
}

static void test_mkdir_rmdir_unlink(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e;
	struct stat st;

	assert_int_equal(
		fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d", 0777, 022, &e), 0);
	assert_int_equal(stat(fx_path(fx, "d"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_true(S_ISDIR(e.attr.mode));
	assert_int_equal(fx->ops->mkdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d", 0777, 022, &e),
			 -EEXIST);
	assert_int_equal(fx_write_file(fx, "d/x", "x"), 0);
	assert_int_equal(fx->ops->rmdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d"), -ENOTEMPTY);
	assert_int_equal(fx->ops->unlink(fx->fs, &root_ctx, e.nodeid, "x"), 0);
	assert_int_equal(fx->ops->unlink(fx->fs, &root_ctx, e.nodeid, "x"), -ENOENT);
	assert_int_equal(fx->ops->rmdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d"), 0);
	assert_int_equal(stat(fx_path(fx, "d"), &st), -1);
	fx->ops->forget(fx->fs, e.nodeid, 1);
	assert_int_equal(fx->ops->rmdir(fx->fs, &root_ctx, FUSE_ROOT_ID, "d"), -ENOENT);
}

static void test_rename_flags(void **state)
{
	struct fs_fixture *fx = *state;
	char buf[8] = { 0 };
	uint64_t d;
	FILE *f;

	assert_int_equal(fx_write_file(fx, "a", "A"), 0);
	assert_int_equal(fx_write_file(fx, "b", "B"), 0);
	assert_int_equal(mkdir(fx_path(fx, "dir"), 0755), 0);
	d = fx_lookup(fx, FUSE_ROOT_ID, "dir");
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, FUSE_ROOT_ID, "a", d, "a2", 0), 0);
	assert_int_equal(access(fx_path(fx, "dir/a2"), F_OK), 0);
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, d, "a2", FUSE_ROOT_ID, "b",
					 RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, d, "a2", FUSE_ROOT_ID, "b",
					 RENAME_EXCHANGE),
			 0);
	f = fopen(fx_path(fx, "b"), "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "A");
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, FUSE_ROOT_ID, "b", d, "z", 1u << 7),
			 -EINVAL);
	assert_int_equal(fx->ops->rename(fx->fs, &root_ctx, FUSE_ROOT_ID, "b", d, "a2", 0), 0);
	assert_int_equal(access(fx_path(fx, "b"), F_OK), -1);
	fx->ops->forget(fx->fs, d, 1);
}

static void test_link_symlink_readlink(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_entry_out e, l;
	struct fuse_open_out o;
	char buf[64];
	struct stat st;
	uint64_t f;
	int n;

	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_equal(fx->ops->link(fx->fs, &root_ctx, f, FUSE_ROOT_ID, "f2", &e), 0);
	assert_int_equal(e.nodeid, f);
	assert_int_equal(e.attr.nlink, 2);
	assert_int_equal(stat(fx_path(fx, "f2"), &st), 0);
	assert_int_equal(st.st_nlink, 2);
	/* An absolute target is stored as is: it is the guest's to resolve, never ours. */
	assert_int_equal(fx->ops->symlink(fx->fs, &root_ctx, FUSE_ROOT_ID, "sl", "/etc/passwd", &l),
			 0);
	assert_true(S_ISLNK(l.attr.mode));
	n = (int)readlink(fx_path(fx, "sl"), buf, sizeof(buf));
	assert_int_equal(n, 11);
	n = fx->ops->readlink(fx->fs, &root_ctx, l.nodeid, buf, sizeof(buf));
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "/etc/passwd", 11);
	assert_int_equal(fx->ops->readlink(fx->fs, &root_ctx, f, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, l.nodeid, O_RDONLY, &o), -ELOOP);
	/* A hard link to a symlink is the symlink itself. */
	assert_int_equal(fx->ops->link(fx->fs, &root_ctx, l.nodeid, FUSE_ROOT_ID, "sl2", &e), 0);
	assert_int_equal(lstat(fx_path(fx, "sl2"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	fx->ops->forget(fx->fs, f, 2);
	fx->ops->forget(fx->fs, l.nodeid, 2);
}

/* Walks a READDIR(PLUS) reply; records names into seen[] by the index in their name. */
static size_t parse_dirbuf(const char *buf, size_t len, bool plus, uint64_t *last_off,
			   int *seen, int nseen, uint64_t *nodeids, size_t *nn)
{
	size_t pos = 0, count = 0;

	while (pos < len) {
		const struct fuse_entry_out *e = (const void *)(buf + pos);
		const struct fuse_dirent *d =
			plus ? (const void *)(buf + pos + offsetof(struct fuse_direntplus, dirent))
			     : (const void *)(buf + pos);
		char name[256] = { 0 };
		int idx;

		assert_true(d->namelen > 0 && d->namelen < 256);
		memcpy(name, d->name, d->namelen);
		if (sscanf(name, "file-%d-", &idx) == 1 && idx >= 0 && idx < nseen)
			seen[idx]++;
		if (plus && e->nodeid && nodeids)
			nodeids[(*nn)++] = e->nodeid;
		if (plus && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0))
			assert_int_equal(e->nodeid, 0);
		*last_off = d->off;
		pos += plus ? FUSE_DIRENTPLUS_SIZE((const struct fuse_direntplus *)(buf + pos))
			    : FUSE_DIRENT_SIZE(d);
		count++;
	}
	assert_int_equal(pos, len);
	return count;
}

#define NFILES 300

static void make_many(struct fs_fixture *fx)
{
	char name[128];

	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "file-%d-%s", i, "padding-padding-padding-padding");
		assert_int_equal(fx_write_file(fx, name, ""), 0);
	}
}

static void read_all(struct fs_fixture *fx, uint64_t fh, bool plus, int *seen, uint64_t *ids,
		     size_t *nids)
{
	char buf[700];
	struct fuse_dirbuf db;
	uint64_t off = 0;
	size_t total = 0, n;

	fuse_dirbuf_init(&db, buf, sizeof(buf), plus);
	do {
		db.len = 0;
		assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, fh, off, plus,
						  &db.sink),
				 0);
		n = parse_dirbuf(buf, db.len, plus, &off, seen, NFILES, ids, nids);
		total += n;
	} while (n > 0);
	assert_int_equal(total, NFILES + 2);
}

static void test_readdir_many_resume(void **state)
{
	struct fs_fixture *fx = *state;
	static int seen[NFILES];
	char buf[700];
	struct fuse_dirbuf db;
	struct fuse_open_out o;
	uint64_t off, off2;
	size_t n, n2;

	make_many(fx);
	fuse_dirbuf_init(&db, buf, sizeof(buf), false);
	assert_int_equal(fx->ops->opendir(fx->fs, &root_ctx, FUSE_ROOT_ID, 0, &o), 0);
	memset(seen, 0, sizeof(seen));
	read_all(fx, o.fh, false, seen, NULL, NULL);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(seen[i], 1);
	/* Resuming from an earlier cookie gives the same entries again. */
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0, false, &db.sink),
			 0);
	n = parse_dirbuf(buf, db.len, false, &off, seen, 0, NULL, NULL);
	assert_true(n > 2);
	db.len = 0;
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, off, false, &db.sink),
			 0);
	char first[sizeof(buf)];
	size_t flen = db.len;
	memcpy(first, buf, flen);
	db.len = 0;
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0, false, &db.sink),
			 0);
	db.len = 0;
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, off, false, &db.sink),
			 0);
	assert_int_equal(db.len, flen);
	assert_memory_equal(buf, first, flen);
	n2 = parse_dirbuf(buf, db.len, false, &off2, seen, 0, NULL, NULL);
	assert_true(n2 > 0);
	/* Too small for even one entry: an empty reply, not an error. */
	db.size = 8;
	db.len = 0;
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0, false, &db.sink),
			 0);
	assert_int_equal(db.len, 0);
	assert_int_equal(fx->ops->releasedir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0), 0);
}

static void test_readdirplus_counts(void **state)
{
	struct fs_fixture *fx = *state;
	static int seen[NFILES];
	static uint64_t ids[NFILES * 2];
	struct fuse_open_out o;
	size_t nids = 0;
	int base;

	make_many(fx);
	base = count_fds();
	assert_int_equal(fx->ops->opendir(fx->fs, &root_ctx, FUSE_ROOT_ID, 0, &o), 0);
	memset(seen, 0, sizeof(seen));
	read_all(fx, o.fh, true, seen, ids, &nids);
	assert_int_equal(nids, NFILES);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(fx->ops->releasedir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0), 0);
	/* One O_PATH fd per entry: exactly one counted lookup each, no leak after FORGET. */
	assert_int_equal(count_fds(), base + NFILES);
	for (size_t i = 0; i < nids; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	assert_int_equal(count_fds(), base);
}

static void test_setattr(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_setattr sa = { 0 };
	struct fuse_attr_out a;
	struct fuse_open_out o;
	struct stat st;
	uint64_t f;

	assert_int_equal(fx_write_file(fx, "f", "0123456789"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	sa.valid = FATTR_MODE;
	sa.mode = S_IFREG | 0600;
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_int_equal(a.attr.mode & 07777, 0600);
	assert_int_equal(stat(fx_path(fx, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	sa.valid = FATTR_SIZE;
	sa.size = 3;
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_int_equal(a.attr.size, 3);
	sa.valid = FATTR_ATIME | FATTR_MTIME;
	sa.atime = (struct timespec){ 1000000, 5 };
	sa.mtime = (struct timespec){ 2000000, 7 };
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_int_equal(stat(fx_path(fx, "f"), &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000000);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	sa.valid = FATTR_MTIME | FATTR_MTIME_NOW;
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_true(a.attr.mtime > 2000000);
	assert_int_equal(a.attr.atime, 1000000);
	/* Through an open handle. */
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDWR, &o), 0);
	sa.valid = FATTR_SIZE | FATTR_FH | FATTR_UID | FATTR_GID;
	sa.fh = o.fh;
	sa.size = 1;
	sa.uid = getuid(); /* a chown to ourselves works without root too */
	sa.gid = getgid();
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), 0);
	assert_int_equal(a.attr.size, 1);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	sa.fh = o.fh; /* released: a stale handle is refused */
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, f, &sa, &a), -EBADF);
	fx->ops->forget(fx->fs, f, 1);
}

static void test_misc_ops(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_statfs_out sf;
	struct fuse_open_out o;
	struct statvfs sv;
	uint64_t f, off = 0;

	assert_int_equal(fx->ops->statfs(fx->fs, &root_ctx, FUSE_ROOT_ID, &sf), 0);
	assert_int_equal(statvfs(fx->share, &sv), 0);
	assert_int_equal(sf.st.bsize, sv.f_bsize);
	assert_int_equal(sf.st.namelen, sv.f_namemax);
	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_equal(fx->ops->access(fx->fs, &root_ctx, f, R_OK | W_OK), 0);
	assert_int_equal(fx->ops->access(fx->fs, &root_ctx, f, 0x100), -EINVAL);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDWR, &o), 0);
	assert_int_equal(fx->ops->fallocate(fx->fs, &root_ctx, f, o.fh, 0, 0, 1 << 20), 0);
	assert_int_equal(fx->ops->lseek(fx->fs, &root_ctx, f, o.fh, 0, SEEK_DATA, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(fx->ops->lseek(fx->fs, &root_ctx, f, o.fh, 0, SEEK_CUR, &off), -EINVAL);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, f, 1);
	assert_int_equal(fx->ops->syncfs(fx->fs, &root_ctx, FUSE_ROOT_ID), 0);
}

static void test_copy_file_range(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_open_out a, b;
	uint64_t fa, fb;
	char buf[16];

	assert_int_equal(fx_write_file(fx, "a", "0123456789"), 0);
	assert_int_equal(fx_write_file(fx, "b", "abcdefghij"), 0);
	fa = fx_lookup(fx, FUSE_ROOT_ID, "a");
	fb = fx_lookup(fx, FUSE_ROOT_ID, "b");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, fa, O_RDONLY, &a), 0);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, fb, O_RDWR, &b), 0);
	assert_int_equal(
		fx->ops->copy_file_range(fx->fs, &root_ctx, fa, a.fh, 2, fb, b.fh, 4, 3, 0), 3);
	assert_int_equal(do_read(fx, fb, b.fh, 0, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "abcd234hij");
	assert_int_equal(
		fx->ops->copy_file_range(fx->fs, &root_ctx, fa, a.fh, 0, fb, b.fh, 0, 3, 1), -EINVAL);
	assert_int_equal(
		fx->ops->copy_file_range(fx->fs, &root_ctx, fa, 99, 0, fb, b.fh, 0, 3, 0), -EBADF);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, fa, a.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, fb, b.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, fa, 1);
	fx->ops->forget(fx->fs, fb, 1);
}

static void test_destroy_releases_all(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_attr_out a;
	struct fuse_open_out o;
	int base = count_fds();
	uint64_t f;

	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_not_equal(fx_lookup(fx, FUSE_ROOT_ID, "d"), 0);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDONLY, &o), 0);
	assert_int_equal(count_fds(), base + 3);
	fx->ops->destroy(fx->fs);
	assert_int_equal(count_fds(), base);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, f, NULL, &a), -EBADF);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, FUSE_ROOT_ID, NULL, &a), 0);
}

static void check_cache(enum cache_mode m, uint64_t timeout, uint32_t file_flags,
			uint32_t dir_flags)
{
	struct fs_fixture *fx = fx_new(m, false);
	struct fuse_entry_out e;
	struct fuse_open_out o;

	assert_non_null(fx);
	assert_int_equal(fx_write_file(fx, "f", "x"), 0);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", &e), 0);
	assert_int_equal(e.entry_valid, timeout);
	assert_int_equal(e.attr_valid, timeout);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, e.nodeid, O_RDONLY, &o), 0);
	assert_int_equal(o.open_flags, file_flags);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, e.nodeid, o.fh, 0, 0, 0), 0);
	assert_int_equal(fx->ops->opendir(fx->fs, &root_ctx, FUSE_ROOT_ID, 0, &o), 0);
	assert_int_equal(o.open_flags, dir_flags);
	assert_int_equal(fx->ops->releasedir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0), 0);
	fx_free(fx);
}

static void test_cache_modes(void **state)
{
	check_cache(CACHE_AUTO, 1, 0, 0);
	check_cache(CACHE_NEVER, 0, FOPEN_DIRECT_IO, FOPEN_DIRECT_IO);
	check_cache(CACHE_ALWAYS, 86400, FOPEN_KEEP_CACHE, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
	check_cache(CACHE_METADATA, 86400, FOPEN_DIRECT_IO, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
}

/* With the guest's writeback cache, the guest appends itself and reads around partial
 * writes: O_APPEND is dropped and write-only becomes read-write. */
static void test_writeback_flags(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_conn conn = { .proto_minor = 38, .flags = FUSE_WRITEBACK_CACHE };
	uint64_t want = FUSE_WRITEBACK_CACHE, f;
	struct fuse_open_out o;
	char buf[16];

	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
	assert_int_equal(fx_write_file(fx, "f", "abcdef"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "f");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_WRONLY | O_APPEND, &o), 0);
	assert_int_equal(do_write(fx, f, o.fh, 1, "XY"), 2);
	assert_int_equal(do_read(fx, f, o.fh, 0, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "aXYdef");
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	fx->ops->forget(fx->fs, f, 1);
}

#define STRESS_THREADS 4
#define STRESS_LOOPS 400

static void *stress_worker(void *arg)
{
	struct fs_fixture *fx = arg;
	char buf[16], dbuf[512];
	struct fuse_dirbuf db;
	struct fuse_open_out o, od;
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	long bad = 0;

	fuse_dirbuf_init(&db, dbuf, sizeof(dbuf), true);
	for (int i = 0; i < STRESS_LOOPS; i++) {
		if (fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "f", &e) < 0) {
			bad++;
			continue;
		}
		bad += fx->ops->getattr(fx->fs, &root_ctx, e.nodeid, NULL, &a) != 0;
		if (fx->ops->open(fx->fs, &root_ctx, e.nodeid, O_RDONLY, &o) == 0) {
			bad += do_read(fx, e.nodeid, o.fh, 0, buf, sizeof(buf)) != 4;
			bad += fx->ops->release(fx->fs, &root_ctx, e.nodeid, o.fh, 0, 0, 0) != 0;
		} else {
			bad++;
		}
		if (fx->ops->opendir(fx->fs, &root_ctx, FUSE_ROOT_ID, 0, &od) == 0) {
			/* Entries looked up by READDIRPLUS are forgotten right away, racing the
			 * other threads' lookups of the same inode. */
			db.len = 0;
			fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, od.fh, 0, true, &db.sink);
			for (size_t p = 0; p < db.len;) {
				const struct fuse_direntplus *d = (const void *)(dbuf + p);

				if (d->entry_out.nodeid)
					fx->ops->forget(fx->fs, d->entry_out.nodeid, 1);
				p += FUSE_DIRENTPLUS_SIZE(d);
			}
			fx->ops->releasedir(fx->fs, &root_ctx, FUSE_ROOT_ID, od.fh, 0);
		}
		fx->ops->forget(fx->fs, e.nodeid, 1);
	}
	return (void *)bad;
}

static void test_concurrent_lookup_forget(void **state)
{
	struct fs_fixture *fx = *state;
	pthread_t t[STRESS_THREADS];
	int base;

	assert_int_equal(fx_write_file(fx, "f", "data"), 0);
	assert_int_equal(fx_write_file(fx, "g", "data"), 0);
	base = count_fds();
	for (int i = 0; i < STRESS_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, stress_worker, fx), 0);
	for (int i = 0; i < STRESS_THREADS; i++) {
		void *bad;

		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_int_equal((long)bad, 0);
	}
	assert_int_equal(count_fds(), base);
}

/* Needs root: a private mount namespace with bind mounts inside the share. Runs last, since
 * the process stays in that namespace. */
static void test_submounts(void **state)
{
	struct fs_fixture *fx;
	struct fuse_entry_out d, m, plain;
	char src[128];

	fx_private_mounts("test_submounts");
	fx = fx_new(CACHE_AUTO, false);
	assert_non_null(fx);
	if (!fx)
		return;
	snprintf(src, sizeof(src), "%s/src", fx->outer);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_int_equal(mkdir(fx_path(fx, "m"), 0755), 0);
	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	assert_int_equal(mkdir(fx_path(fx, "d2"), 0755), 0);
	assert_int_equal(mount(src, fx_path(fx, "m"), NULL, MS_BIND, NULL), 0);
	snprintf(src, sizeof(src), "%s/d", fx->share);
	assert_int_equal(mount(src, fx_path(fx, "d2"), NULL, MS_BIND, NULL), 0);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "m", &m), 0);
	assert_true(m.attr.flags & FUSE_ATTR_SUBMOUNT);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "d", &plain), 0);
	assert_false(plain.attr.flags & FUSE_ATTR_SUBMOUNT);
	/* The same directory through a bind mount is another inode (another mount id). */
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, "d2", &d), 0);
	assert_true(d.attr.flags & FUSE_ATTR_SUBMOUNT);
	assert_int_equal(d.attr.ino, plain.attr.ino);
	assert_int_not_equal(d.nodeid, plain.nodeid);
	fx->ops->destroy(fx->fs);
	assert_int_equal(umount2(fx_path(fx, "m"), MNT_DETACH), 0);
	assert_int_equal(umount2(fx_path(fx, "d2"), MNT_DETACH), 0);
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_root_and_getattr, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_forget_counts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_dots, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_write_read_append, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_create_write_read_append_fds, fx_setup_fds,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rmdir_unlink, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rename_flags, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_link_symlink_readlink, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readdir_many_resume, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_readdirplus_counts, fx_setup_fds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_setattr, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_misc_ops, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_copy_file_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_destroy_releases_all, fx_setup, fx_teardown),
		cmocka_unit_test(test_cache_modes),
		cmocka_unit_test_setup_teardown(test_writeback_flags, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_lookup_forget, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_submounts),
	};
	return cmocka_run_group_tests_name("fs_passthrough", tests, NULL, NULL);
}
