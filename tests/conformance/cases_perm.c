/*
 * Permission checks as other users (owner/group/other classes, directory search and write bits,
 * sticky and setgid directories, who may chmod/chown/utimes) and timestamp updates.
 */
#include "posix.h"

#include <unistd.h>
#include <sys/time.h>

#define U1 1000
#define U2 1001
#define G1 1000
#define G2 1001
#define G3 1002

static int c_perm_classes(void)
{
	int fd;

	/* other bits */
	TRY(cf_mkfile("other", 0604, 0, 0));
	AS_USER(U1, G1, fd = open("other", O_RDONLY));
	CHECK(fd >= 0, "other r bit: open as uid %d: %s", U1, cf_errname(errno));
	close(fd);
	AS_USER(U1, G1, fd = open("other", O_WRONLY));
	CHECK(fd < 0 && errno == EACCES, "other w bit clear: open O_WRONLY gave %d/%s", fd,
	      cf_errname(errno));
	/* group bits */
	TRY(cf_mkfile("group", 0640, 0, G1));
	AS_USER(U1, G1, fd = open("group", O_RDONLY));
	CHECK(fd >= 0, "group r bit: %s", cf_errname(errno));
	close(fd);
	AS_USER(U2, G2, fd = open("group", O_RDONLY));
	CHECK(fd < 0 && errno == EACCES, "not in group: open gave %d/%s", fd, cf_errname(errno));
	/* the owner class wins even when group/other would allow */
	TRY(cf_mkfile("owner", 0077, U1, G1));
	AS_USER(U1, G1, fd = open("owner", O_RDONLY));
	CHECK(fd < 0 && errno == EACCES, "owner without r: open gave %d/%s", fd, cf_errname(errno));
	TRY(cf_mkfile("private", 0600, 0, 0));
	AS_USER(U1, G1, fd = open("private", O_RDONLY));
	CHECK(fd < 0 && errno == EACCES, "0600 root file: open gave %d/%s", fd, cf_errname(errno));
	return 0;
}

static int c_perm_supp_group(void)
{
	gid_t g[1] = {G3};
	int fd;

	TRY(cf_mkfile("f", 0640, 0, G3));
	if (cf_become(U1, G1, 1, g) < 0)
		FAIL("become: %s", cf_errname(errno));
	fd = open("f", O_RDONLY);
	cf_unbecome();
	CHECK(fd >= 0, "supplementary group r bit: %s", cf_errname(errno));
	close(fd);
	/* chgrp to a group the owner belongs to is allowed, to another one it is not */
	TRY(cf_mkfile("mine", 0644, U1, G1));
	if (cf_become(U1, G1, 1, g) < 0)
		FAIL("become: %s", cf_errname(errno));
	int r = chown("mine", -1, G3), e = errno;
	int r2 = chown("mine", -1, G2), e2 = errno;

	cf_unbecome();
	CHECK(r == 0, "chgrp to a supplementary group: %s", cf_errname(e));
	CHECK(r2 < 0 && e2 == EPERM, "chgrp to a foreign group: %d/%s", r2, cf_errname(e2));
	return 0;
}

static int c_perm_dir_bits(void)
{
	struct stat st;
	int r, e;

	TRY(cf_mkdir_owned("nosearch", 0766, 0, 0));
	TRY(cf_mkfile("nosearch/f", 0666, 0, 0));
	AS_USER(U1, G1, (r = stat("nosearch/f", &st), e = errno));
	CHECK(r < 0 && e == EACCES, "stat through a dir without x: %d/%s", r, cf_errname(e));
	TRY(cf_mkdir_owned("nowrite", 0755, 0, 0));
	TRY(cf_mkfile("nowrite/f", 0666, 0, 0));
	AS_USER(U1, G1, (r = open("nowrite/new", O_WRONLY | O_CREAT, 0644), e = errno));
	CHECK(r < 0 && e == EACCES, "create in a dir without w: %d/%s", r, cf_errname(e));
	AS_USER(U1, G1, (r = unlink("nowrite/f"), e = errno));
	CHECK(r < 0 && e == EACCES, "unlink in a dir without w: %d/%s", r, cf_errname(e));
	AS_USER(U1, G1, (r = mkdir("nowrite/d", 0755), e = errno));
	CHECK(r < 0 && e == EACCES, "mkdir in a dir without w: %d/%s", r, cf_errname(e));
	AS_USER(U1, G1, (r = rename("nowrite/f", "nowrite/g"), e = errno));
	CHECK(r < 0 && e == EACCES, "rename in a dir without w: %d/%s", r, cf_errname(e));
	/* a writable dir (through the group) allows it */
	TRY(cf_mkdir_owned("gw", 0770, 0, G1));
	AS_USER(U1, G1, (r = open("gw/new", O_WRONLY | O_CREAT, 0644), e = errno));
	CHECK(r >= 0, "create in a group-writable dir: %s", cf_errname(e));
	close(r);
	TRY(stat("gw/new", &st));
	CHECK(st.st_uid == U1 && st.st_gid == G1, "new file owned %d:%d, want %d:%d", st.st_uid,
	      st.st_gid, U1, G1);
	return 0;
}

static int c_perm_chmod_chown(void)
{
	struct stat st;
	int r, e;

	TRY(cf_mkfile("root", 0644, 0, 0));
	TRY(cf_mkfile("mine", 0644, U1, G1));
	AS_USER(U1, G1, (r = chmod("root", 0777), e = errno));
	CHECK(r < 0 && e == EPERM, "chmod of another's file: %d/%s", r, cf_errname(e));
	AS_USER(U1, G1, (r = chmod("mine", 0600), e = errno));
	CHECK(r == 0, "chmod of one's own file: %s", cf_errname(e));
	TRY(stat("mine", &st));
	CHECK((st.st_mode & 07777) == 0600, "mode %o after chmod", st.st_mode & 07777);
	AS_USER(U1, G1, (r = chown("mine", U2, -1), e = errno));
	CHECK(r < 0 && e == EPERM, "giving a file away: %d/%s", r, cf_errname(e));
	/* root may */
	TRY(chown("mine", U2, G2));
	TRY(stat("mine", &st));
	CHECK(st.st_uid == U2 && st.st_gid == G2, "owner %d:%d after chown", st.st_uid, st.st_gid);
	/* a non-member owner's chmod g+s is silently dropped */
	TRY(cf_mkfile("sg", 0644, U1, G2));
	AS_USER(U1, G1, (r = chmod("sg", 02755), e = errno));
	CHECK(r == 0, "chmod g+s: %s", cf_errname(e));
	TRY(stat("sg", &st));
	CHECK((st.st_mode & 07777) == 0755, "mode %o: setgid kept for a non-member",
	      st.st_mode & 07777);
	return 0;
}

static int c_perm_utimes(void)
{
	struct timespec ts[2] = {{CF_OLD, 0}, {CF_OLD, 0}};
	int r, e;

	TRY(cf_mkfile("rw", 0666, 0, 0));
	TRY(cf_mkfile("ro", 0644, 0, 0));
	AS_USER(U1, G1, (r = utimensat(AT_FDCWD, "rw", NULL, 0), e = errno));
	CHECK(r == 0, "utimes(now) with write permission: %s", cf_errname(e));
	AS_USER(U1, G1, (r = utimensat(AT_FDCWD, "ro", NULL, 0), e = errno));
	CHECK(r < 0 && e == EACCES, "utimes(now) without write permission: %d/%s", r,
	      cf_errname(e));
	AS_USER(U1, G1, (r = utimensat(AT_FDCWD, "rw", ts, 0), e = errno));
	CHECK(r < 0 && e == EPERM, "explicit utimes on another's file: %d/%s", r, cf_errname(e));
	AS_USER(U1, G1, (r = truncate("ro", 0), e = errno));
	CHECK(r < 0 && e == EACCES, "truncate without write permission: %d/%s", r, cf_errname(e));
	return 0;
}

/* A write by a non-owner clears set-user-ID (and set-group-ID with group exec). */
static int c_perm_write_clears_suid(void)
{
	struct stat st;
	int fd, r = 0, e = 0;

	TRY(cf_mkfile("f", 06777, U2, G2));
	AS_USER(U1, G1, fd = open("f", O_WRONLY));
	CHECK(fd >= 0, "open as uid %d: %s", U1, cf_errname(errno));
	AS_USER(U1, G1, (r = (int)write(fd, "x", 1), e = errno));
	CHECK(r == 1, "write: %s", cf_errname(e));
	close(fd);
	TRY(stat("f", &st));
	CHECK((st.st_mode & 06000) == 0, "mode %o after an unprivileged write: suid/sgid kept",
	      st.st_mode & 07777);
	/* truncate too */
	TRY(chmod("f", 06777));
	AS_USER(U1, G1, (r = truncate("f", 0), e = errno));
	CHECK(r == 0, "truncate: %s", cf_errname(e));
	TRY(stat("f", &st));
	CHECK((st.st_mode & 06000) == 0, "mode %o after an unprivileged truncate",
	      st.st_mode & 07777);
	return 0;
}

static int c_sticky_dir(void)
{
	int r, e;

	TRY(cf_mkdir_owned("t", 01777, 0, 0));
	AS_USER(U1, G1, (r = cf_write_file("t/mine", "x", 1, 0666), e = errno));
	CHECK(r == 0, "create in a sticky dir: %s", cf_errname(e));
	AS_USER(U1, G1, (r = cf_write_file("t/mine2", "x", 1, 0666), e = errno));
	CHECK(r == 0, "create in a sticky dir: %s", cf_errname(e));
	AS_USER(U2, G2, (r = unlink("t/mine"), e = errno));
	CHECK(r < 0 && e == EPERM, "another user's unlink in a sticky dir: %d/%s", r,
	      cf_errname(e));
	AS_USER(U2, G2, (r = rename("t/mine", "t/stolen"), e = errno));
	CHECK(r < 0 && e == EPERM, "another user's rename in a sticky dir: %d/%s", r,
	      cf_errname(e));
	AS_USER(U2, G2, (r = cf_write_file("t/theirs", "y", 1, 0666), e = errno));
	CHECK(r == 0, "create in a sticky dir: %s", cf_errname(e));
	AS_USER(U2, G2, (r = rename("t/theirs", "t/mine"), e = errno));
	CHECK(r < 0 && e == EPERM, "rename over another's file in a sticky dir: %d/%s", r,
	      cf_errname(e));
	AS_USER(U1, G1, (r = unlink("t/mine"), e = errno));
	CHECK(r == 0, "the owner's unlink in a sticky dir: %s", cf_errname(e));
	TRY(chown("t", U2, G2)); /* the dir's owner may delete anything */
	AS_USER(U2, G2, (r = unlink("t/mine2"), e = errno));
	CHECK(r == 0, "the dir owner's unlink in a sticky dir: %s", cf_errname(e));
	return 0;
}

static int c_setgid_dir(void)
{
	struct stat st;
	int r, e;

	TRY(cf_mkdir_owned("s", 02777, 0, G3));
	AS_USER(U1, G1, (r = cf_write_file("s/f", "x", 1, 0644), e = errno));
	CHECK(r == 0, "create in a setgid dir: %s", cf_errname(e));
	TRY(stat("s/f", &st));
	CHECK(st.st_uid == U1 && st.st_gid == G3, "file owned %d:%d, want %d:%d", st.st_uid,
	      st.st_gid, U1, G3);
	AS_USER(U1, G1, (r = mkdir("s/d", 0755), e = errno));
	CHECK(r == 0, "mkdir in a setgid dir: %s", cf_errname(e));
	TRY(stat("s/d", &st));
	CHECK(st.st_gid == G3 && (st.st_mode & S_ISGID), "subdir gid %d mode %o: want gid %d + g+s",
	      st.st_gid, st.st_mode & 07777, G3);
	AS_USER(U1, G1, (r = mknod("s/fifo", S_IFIFO | 0644, 0), e = errno));
	CHECK(r == 0, "mkfifo in a setgid dir: %s", cf_errname(e));
	TRY(lstat("s/fifo", &st));
	CHECK(st.st_gid == G3, "fifo gid %d", st.st_gid);
	AS_USER(U1, G1, (r = symlink("x", "s/l"), e = errno));
	CHECK(r == 0, "symlink in a setgid dir: %s", cf_errname(e));
	TRY(lstat("s/l", &st));
	CHECK(st.st_gid == G3, "symlink gid %d", st.st_gid);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */

static int old_times(const char *p)
{
	return cf_set_old_times(p, CF_OLD, CF_OLD);
}

static int c_time_write(void)
{
	struct stat a, b;
	int fd;

	TRY(cf_write_file("f", "x", 1, 0644));
	TRY(old_times("f"));
	TRY(stat("f", &a));
	cf_msleep(30);
	TRY(fd = open("f", O_WRONLY));
	CHECK(write(fd, "yy", 2) == 2, "write: %s", cf_errname(errno));
	TRY(close(fd));
	TRY(stat("f", &b));
	CHECK(b.st_mtime > CF_OLD + 1000, "mtime not updated by write");
	CHECK(cf_ts_after(&b.st_ctim, &a.st_ctim), "ctime not updated by write");
	CHECK(b.st_atime == CF_OLD, "atime changed by write");
	return 0;
}

static int c_time_chmod_chown(void)
{
	struct stat a, b;

	TRY(cf_write_file("f", "x", 1, 0644));
	TRY(old_times("f"));
	TRY(stat("f", &a));
	cf_msleep(30);
	TRY(chmod("f", 0600));
	TRY(stat("f", &b));
	CHECK(cf_ts_after(&b.st_ctim, &a.st_ctim), "ctime not updated by chmod");
	CHECK(b.st_mtime == CF_OLD, "mtime changed by chmod");
	cf_msleep(30);
	TRY(chown("f", U1, G1));
	TRY(stat("f", &a));
	CHECK(cf_ts_after(&a.st_ctim, &b.st_ctim), "ctime not updated by chown");
	CHECK(a.st_mtime == CF_OLD, "mtime changed by chown");
	return 0;
}

/* atime < mtime so that relatime (host or guest) updates it on the next read. */
static int c_time_read_atime(void)
{
	char buf[8];
	struct stat st;
	int fd;

	TRY(cf_write_file("f", "content", 7, 0644));
	TRY(cf_set_old_times("f", CF_OLD, CF_OLD + 100));
	TRY(fd = open("f", O_RDONLY));
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* read from the host, not a cache */
	CHECK(read(fd, buf, sizeof(buf)) == 7, "read: %s", cf_errname(errno));
	close(fd);
	TRY(stat("f", &st));
	CHECK(st.st_atime > CF_OLD + 100, "atime %ld not updated by read (relatime: atime<mtime)",
	      (long)st.st_atime);
	CHECK(st.st_mtime == CF_OLD + 100, "mtime changed by read");
	return 0;
}

static int c_time_dir_ops(void)
{
	struct stat a, b, f1, f2;

	TRY(mkdir("d1", 0755));
	TRY(mkdir("d2", 0755));
	TRY(cf_write_file("d1/f", "x", 1, 0644));
	TRY(old_times("d1"));
	TRY(old_times("d2"));
	TRY(stat("d1/f", &f1));
	cf_msleep(30);
	TRY(rename("d1/f", "d2/f"));
	TRY(stat("d1", &a));
	TRY(stat("d2", &b));
	CHECK(a.st_mtime > CF_OLD && cf_ts_after(&a.st_ctim, &f1.st_ctim),
	      "rename: source dir mtime/ctime not updated");
	CHECK(b.st_mtime > CF_OLD && cf_ts_after(&b.st_ctim, &f1.st_ctim),
	      "rename: target dir mtime/ctime not updated");
	TRY(stat("d2/f", &f2));
	CHECK(cf_ts_after(&f2.st_ctim, &f1.st_ctim), "rename: the file's ctime not updated");
	/* link: the file's ctime and the dir's mtime */
	TRY(old_times("d1"));
	cf_msleep(30);
	TRY(link("d2/f", "d1/g"));
	TRY(stat("d1/g", &f1));
	CHECK(cf_ts_after(&f1.st_ctim, &f2.st_ctim), "link: the file's ctime not updated");
	TRY(stat("d1", &a));
	CHECK(a.st_mtime > CF_OLD, "link: the dir's mtime not updated");
	/* unlink: the dir's mtime and the remaining link's ctime */
	TRY(old_times("d1"));
	cf_msleep(30);
	TRY(unlink("d1/g"));
	TRY(stat("d1", &a));
	CHECK(a.st_mtime > CF_OLD, "unlink: the dir's mtime not updated");
	TRY(stat("d2/f", &f2));
	CHECK(cf_ts_after(&f2.st_ctim, &f1.st_ctim), "unlink: the other link's ctime not updated");
	/* create and mkdir */
	TRY(old_times("d1"));
	TRY(mkdir("d1/sub", 0755));
	TRY(stat("d1", &a));
	CHECK(a.st_mtime > CF_OLD, "mkdir: the dir's mtime not updated");
	TRY(old_times("d1"));
	TRY(cf_write_file("d1/new", "", 0, 0644));
	TRY(stat("d1", &a));
	CHECK(a.st_mtime > CF_OLD, "create: the dir's mtime not updated");
	return 0;
}

static int c_time_truncate_utimens(void)
{
	struct timespec ts[2] = {{1234567890, 123456789}, {1234567891, 987654321}};
	struct stat st;
	int fd;

	TRY(cf_write_file("f", "0123456789", 10, 0644));
	TRY(old_times("f"));
	TRY(fd = open("f", O_RDWR));
	TRY(ftruncate(fd, 4));
	TRY(fstat(fd, &st));
	CHECK(st.st_mtime > CF_OLD && st.st_size == 4, "ftruncate: mtime %ld size %ld",
	      (long)st.st_mtime, (long)st.st_size);
	close(fd);
	TRY(utimensat(AT_FDCWD, "f", ts, 0));
	TRY(stat("f", &st));
	CHECK(st.st_atim.tv_sec == ts[0].tv_sec && st.st_atim.tv_nsec == ts[0].tv_nsec &&
		  st.st_mtim.tv_sec == ts[1].tv_sec && st.st_mtim.tv_nsec == ts[1].tv_nsec,
	      "utimensat: got %ld.%09ld %ld.%09ld", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	      (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit[2] = {{0, UTIME_OMIT}, {CF_OLD, 0}};

	TRY(utimensat(AT_FDCWD, "f", omit, 0));
	TRY(stat("f", &st));
	CHECK(st.st_atim.tv_sec == ts[0].tv_sec && st.st_mtime == CF_OLD,
	      "UTIME_OMIT: atime %ld mtime %ld", (long)st.st_atime, (long)st.st_mtime);
	/* on a symlink itself */
	TRY(symlink("f", "l"));
	TRY(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	TRY(lstat("l", &st));
	CHECK(st.st_mtim.tv_sec == ts[1].tv_sec, "lutimes on a symlink: mtime %ld",
	      (long)st.st_mtime);
	return 0;
}

const struct cf_case cf_cases_perm[] = {
    {"perm_classes", c_perm_classes, CF_RW},
    {"perm_supplementary_group", c_perm_supp_group, CF_RW},
    {"perm_dir_bits", c_perm_dir_bits, CF_RW},
    {"perm_chmod_chown", c_perm_chmod_chown, CF_RW},
    {"perm_utimes_truncate", c_perm_utimes, CF_RW},
    {"perm_write_clears_suid", c_perm_write_clears_suid, CF_RW},
    {"sticky_dir", c_sticky_dir, CF_RW},
    {"setgid_dir", c_setgid_dir, CF_RW},
    {"time_write", c_time_write, CF_RW},
    {"time_chmod_chown", c_time_chmod_chown, CF_RW},
    {"time_read_atime", c_time_read_atime, CF_RW},
    {"time_dir_ops", c_time_dir_ops, CF_RW},
    {"time_truncate_utimens", c_time_truncate_utimens, CF_RW},
    {NULL, NULL, 0},
};
