/* Namespace operations: create, open, mkdir, rmdir, unlink, link, symlink, rename. */
#include "posix.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/syscall.h>

static int c_create_basic(void)
{
	struct stat st;
	char buf[16];
	int fd;

	TRY(fd = open("f", O_RDWR | O_CREAT | O_EXCL, 0640));
	TRY(fstat(fd, &st));
	CHECK(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640, "mode %o, want 0640",
	      st.st_mode);
	CHECK(st.st_size == 0 && st.st_nlink == 1 && st.st_uid == 0, "size %ld nlink %ld uid %d",
	      (long)st.st_size, (long)st.st_nlink, st.st_uid);
	CHECK(write(fd, "hello", 5) == 5, "write: %s", cf_errname(errno));
	CHECK(pread(fd, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0,
	      "pread after write");
	TRY(close(fd));
	return 0;
}

static int c_create_umask(void)
{
	struct stat st;

	umask(027);
	TRY(close(open("f", O_WRONLY | O_CREAT, 0777)));
	TRY(mkdir("d", 0777));
	TRY(stat("f", &st));
	CHECK((st.st_mode & 07777) == 0750, "file mode %o, want 0750", st.st_mode & 07777);
	TRY(stat("d", &st));
	CHECK((st.st_mode & 07777) == 0750, "dir mode %o, want 0750", st.st_mode & 07777);
	return 0;
}

static int c_create_excl(void)
{
	TRY(close(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644)));
	EXPECT_ERR(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	TRY(mkdir("d", 0755));
	EXPECT_ERR(open("d", O_RDONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	/* O_EXCL does not follow a symlink, even a dangling one. */
	TRY(symlink("nowhere", "dangling"));
	EXPECT_ERR(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK(access("nowhere", F_OK) < 0 && errno == ENOENT, "O_EXCL created the link's target");
	/* Without O_EXCL a dangling symlink's target is created. */
	TRY(close(open("dangling", O_WRONLY | O_CREAT, 0644)));
	TRY(access("nowhere", F_OK));
	return 0;
}

static int c_create_errors(void)
{
	TRY(close(open("file", O_WRONLY | O_CREAT, 0644)));
	TRY(mkdir("dir", 0755));
	EXPECT_ERR(open("nodir/f", O_WRONLY | O_CREAT, 0644), ENOENT);
	EXPECT_ERR(open("file/f", O_WRONLY | O_CREAT, 0644), ENOTDIR);
	EXPECT_ERR(open("missing", O_RDONLY), ENOENT);
	EXPECT_ERR(open("dir", O_WRONLY), EISDIR);
	EXPECT_ERR(open("dir", O_RDWR), EISDIR);
	EXPECT_ERR(open("dir", O_WRONLY | O_CREAT, 0644), EISDIR);
	EXPECT_ERR(open("file", O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(open("file/", O_RDONLY), ENOTDIR);
	EXPECT_ERR(open("", O_RDONLY), ENOENT);
	return 0;
}

static int c_mkdir_basic(void)
{
	struct stat before, after, st;

	TRY(stat(".", &before));
	TRY(mkdir("d", 0751));
	TRY(stat("d", &st));
	CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0751, "mode %o", st.st_mode);
	CHECK(st.st_nlink == 2, "new dir nlink %ld, want 2", (long)st.st_nlink);
	TRY(stat(".", &after));
	CHECK(after.st_nlink == before.st_nlink + 1, "parent nlink %ld -> %ld",
	      (long)before.st_nlink, (long)after.st_nlink);
	TRY(close(open("file", O_WRONLY | O_CREAT, 0644)));
	EXPECT_ERR(mkdir("d", 0755), EEXIST);
	EXPECT_ERR(mkdir("file", 0755), EEXIST);
	EXPECT_ERR(mkdir("nodir/d", 0755), ENOENT);
	EXPECT_ERR(mkdir("file/d", 0755), ENOTDIR);
	return 0;
}

static int c_rmdir(void)
{
	struct stat before, after;

	TRY(mkdir("d", 0755));
	TRY(stat(".", &before));
	TRY(rmdir("d"));
	TRY(stat(".", &after));
	CHECK(after.st_nlink + 1 == before.st_nlink, "parent nlink %ld -> %ld",
	      (long)before.st_nlink, (long)after.st_nlink);
	EXPECT_ERR(rmdir("d"), ENOENT);
	TRY(mkdir("full", 0755));
	TRY(close(open("full/f", O_WRONLY | O_CREAT, 0644)));
	EXPECT_ERR2(rmdir("full"), ENOTEMPTY, EEXIST);
	TRY(close(open("file", O_WRONLY | O_CREAT, 0644)));
	EXPECT_ERR(rmdir("file"), ENOTDIR);
	EXPECT_ERR(rmdir("full/."), EINVAL);
	return 0;
}

static int c_unlink(void)
{
	struct stat st;
	char buf[8];
	int fd;

	TRY(fd = open("f", O_RDWR | O_CREAT, 0644));
	TRY(unlink("f"));
	EXPECT_ERR(stat("f", &st), ENOENT);
	/* The open file lives on. */
	CHECK(write(fd, "abc", 3) == 3, "write after unlink: %s", cf_errname(errno));
	CHECK(pread(fd, buf, 3, 0) == 3 && memcmp(buf, "abc", 3) == 0, "read after unlink");
	TRY(fstat(fd, &st));
	CHECK(st.st_nlink == 0, "nlink of an unlinked open file %ld", (long)st.st_nlink);
	close(fd);
	EXPECT_ERR(unlink("f"), ENOENT);
	TRY(mkdir("d", 0755));
	EXPECT_ERR(unlink("d"), EISDIR);
	EXPECT_ERR(unlink("nodir/f"), ENOENT);
	return 0;
}

static int c_link(void)
{
	struct stat a, b;

	TRY(cf_write_file("f", "x", 1, 0644));
	TRY(link("f", "g"));
	TRY(stat("f", &a));
	TRY(stat("g", &b));
	CHECK(a.st_ino == b.st_ino && a.st_nlink == 2 && b.st_nlink == 2, "ino %lu/%lu nlink %ld",
	      (unsigned long)a.st_ino, (unsigned long)b.st_ino, (long)a.st_nlink);
	TRY(link("g", "h"));
	TRY(stat("f", &a));
	CHECK(a.st_nlink == 3, "nlink %ld after a second link", (long)a.st_nlink);
	TRY(unlink("f"));
	TRY(stat("h", &a));
	CHECK(a.st_nlink == 2, "nlink %ld after unlink", (long)a.st_nlink);
	EXPECT_ERR(link("g", "h"), EEXIST);
	EXPECT_ERR(link("missing", "x"), ENOENT);
	TRY(mkdir("d", 0755));
	EXPECT_ERR(link("d", "d2"), EPERM);
	EXPECT_ERR(link("g", "nodir/x"), ENOENT);
	return 0;
}

static int c_symlink(void)
{
	char buf[256];
	struct stat st;
	ssize_t n;

	TRY(cf_write_file("target", "content", 7, 0644));
	TRY(symlink("target", "l"));
	TRY(n = readlink("l", buf, sizeof(buf)));
	CHECK(n == 6 && memcmp(buf, "target", 6) == 0, "readlink gave %.*s", (int)n, buf);
	TRY(lstat("l", &st));
	CHECK(S_ISLNK(st.st_mode) && st.st_size == 6, "lstat mode %o size %ld", st.st_mode,
	      (long)st.st_size);
	TRY(stat("l", &st));
	CHECK(S_ISREG(st.st_mode) && st.st_size == 7, "stat through link");
	EXPECT_ERR(symlink("x", "l"), EEXIST);
	EXPECT_ERR(symlink("x", "target"), EEXIST);
	EXPECT_ERR(readlink("target", buf, sizeof(buf)), EINVAL);
	/* A long target (near PATH_MAX) round-trips. */
	char *t = malloc(4000);

	CHECK(t, "malloc");
	memset(t, 'a', 3999);
	t[3999] = 0;
	TRY(symlink(t, "long"));
	char *r = malloc(4096);

	CHECK(r, "malloc");
	TRY(n = readlink("long", r, 4096));
	CHECK(n == 3999 && memcmp(r, t, 3999) == 0, "long symlink target: %ld bytes", (long)n);
	free(t);
	free(r);
	return 0;
}

static int c_eloop(void)
{
	struct stat st;

	TRY(symlink("b", "a"));
	TRY(symlink("a", "b"));
	TRY(symlink("self", "self"));
	EXPECT_ERR(open("a", O_RDONLY), ELOOP);
	EXPECT_ERR(stat("a", &st), ELOOP);
	EXPECT_ERR(stat("self", &st), ELOOP);
	EXPECT_ERR(open("a/x", O_RDONLY | O_CREAT, 0644), ELOOP);
	TRY(lstat("a", &st));
	/* O_NOFOLLOW refuses a final symlink, follows earlier ones. */
	TRY(cf_write_file("file", "x", 1, 0644));
	TRY(symlink("file", "lf"));
	EXPECT_ERR(open("lf", O_RDONLY | O_NOFOLLOW), ELOOP);
	TRY(close(open("lf", O_RDONLY | O_NOFOLLOW | O_PATH)));
	TRY(mkdir("d", 0755));
	TRY(cf_write_file("d/in", "y", 1, 0644));
	TRY(symlink("d", "ld"));
	TRY(close(open("ld/in", O_RDONLY | O_NOFOLLOW)));
	return 0;
}

static int c_nametoolong(void)
{
	char n255[256], n256[257];

	memset(n255, 'n', 255);
	n255[255] = 0;
	memset(n256, 'm', 256);
	n256[256] = 0;
	TRY(close(open(n255, O_WRONLY | O_CREAT, 0644)));
	TRY(access(n255, F_OK));
	EXPECT_ERR(open(n256, O_WRONLY | O_CREAT, 0644), ENAMETOOLONG);
	EXPECT_ERR(open(n256, O_RDONLY), ENAMETOOLONG);
	EXPECT_ERR(mkdir(n256, 0755), ENAMETOOLONG);
	EXPECT_ERR(symlink("x", n256), ENAMETOOLONG);
	EXPECT_ERR(link(n255, n256), ENAMETOOLONG);
	EXPECT_ERR(rename(n255, n256), ENAMETOOLONG);
	EXPECT_ERR(mknod(n256, S_IFIFO | 0644, 0), ENAMETOOLONG);
	TRY(unlink(n255));
	return 0;
}

static int c_longpath(void)
{
	char *p = malloc(PATH_MAX + 64);
	size_t len = 0;

	CHECK(p, "malloc");
	TRY(mkdir("a", 0755));
	while (len < PATH_MAX + 10) {
		memcpy(p + len, "a/", 2);
		len += 2;
	}
	memcpy(p + len, "f", 2);
	EXPECT_ERR(open(p, O_RDONLY), ENAMETOOLONG);
	EXPECT_ERR(mkdir(p, 0755), ENAMETOOLONG);
	free(p);
	return 0;
}

static int c_rename_file(void)
{
	struct stat a, b;
	char buf[8];

	TRY(cf_write_file("a", "AAA", 3, 0644));
	TRY(cf_write_file("b", "BB", 2, 0644));
	TRY(stat("a", &a));
	TRY(rename("a", "c"));
	EXPECT_ERR(stat("a", &b), ENOENT);
	TRY(stat("c", &b));
	CHECK(a.st_ino == b.st_ino, "rename changed the inode number");
	TRY(rename("c", "b")); /* replaces b */
	CHECK(cf_read_file("b", buf, sizeof(buf)) == 3 && memcmp(buf, "AAA", 3) == 0,
	      "rename over a file: old content");
	TRY(rename("b", "b")); /* to itself: nothing happens */
	TRY(link("b", "b2"));
	TRY(rename("b", "b2")); /* two links of one inode: POSIX says do nothing */
	TRY(stat("b", &a));
	TRY(stat("b2", &b));
	CHECK(a.st_nlink == 2, "rename between hard links changed nlink to %ld", (long)a.st_nlink);
	EXPECT_ERR(rename("missing", "x"), ENOENT);
	EXPECT_ERR(rename("b", "nodir/x"), ENOENT);
	EXPECT_ERR(rename("b/x", "y"), ENOTDIR);
	return 0;
}

static int c_rename_dir(void)
{
	struct stat st;

	TRY(mkdir("d1", 0755));
	TRY(cf_write_file("d1/f", "x", 1, 0644));
	TRY(mkdir("empty", 0755));
	TRY(mkdir("full", 0755));
	TRY(cf_write_file("full/g", "y", 1, 0644));
	TRY(cf_write_file("file", "z", 1, 0644));
	TRY(rename("d1", "empty")); /* over an empty dir */
	TRY(stat("empty/f", &st));
	EXPECT_ERR2(rename("empty", "full"), ENOTEMPTY, EEXIST);
	EXPECT_ERR(rename("empty", "file"), ENOTDIR);
	EXPECT_ERR(rename("file", "full"), EISDIR);
	TRY(mkdir("empty/sub", 0755));
	EXPECT_ERR(rename("empty", "empty/sub/x"), EINVAL);
	EXPECT_ERR(rename("empty", "empty/x"), EINVAL);
	TRY(rename("empty/sub", "moved"));
	TRY(stat("moved", &st));
	CHECK(S_ISDIR(st.st_mode), "moved dir is not a dir");
	return 0;
}

static int renameat2_(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

static int c_rename_noreplace(void)
{
	char buf[8];

	TRY(cf_write_file("a", "A", 1, 0644));
	TRY(cf_write_file("b", "B", 1, 0644));
	EXPECT_ERR(renameat2_("a", "b", RENAME_NOREPLACE), EEXIST);
	CHECK(cf_read_file("b", buf, sizeof(buf)) == 1 && buf[0] == 'B', "target replaced");
	TRY(renameat2_("a", "c", RENAME_NOREPLACE));
	CHECK(access("a", F_OK) < 0 && cf_read_file("c", buf, sizeof(buf)) == 1 && buf[0] == 'A',
	      "RENAME_NOREPLACE to a free name did not move the file");
	return 0;
}

static int c_rename_exchange(void)
{
	char buf[8];
	struct stat st;

	TRY(cf_write_file("a", "A", 1, 0644));
	TRY(cf_write_file("b", "B", 1, 0644));
	TRY(renameat2_("a", "b", RENAME_EXCHANGE));
	CHECK(cf_read_file("a", buf, sizeof(buf)) == 1 && buf[0] == 'B', "a after exchange");
	CHECK(cf_read_file("b", buf, sizeof(buf)) == 1 && buf[0] == 'A', "b after exchange");
	TRY(mkdir("d", 0755));
	TRY(renameat2_("a", "d", RENAME_EXCHANGE)); /* a file and a dir swap too */
	TRY(stat("a", &st));
	CHECK(S_ISDIR(st.st_mode), "a is not the dir after exchange");
	EXPECT_ERR(renameat2_("a", "missing", RENAME_EXCHANGE), ENOENT);
	EXPECT_ERR(renameat2_("a", "b", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	return 0;
}

static int c_rename_whiteout(void)
{
	struct stat st;

	TRY(cf_write_file("a", "A", 1, 0644));
	TRY(renameat2_("a", "b", RENAME_WHITEOUT));
	TRY(lstat("a", &st));
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == 0, "whiteout is mode %o rdev %lx", st.st_mode,
	      (unsigned long)st.st_rdev);
	TRY(lstat("b", &st));
	CHECK(S_ISREG(st.st_mode), "moved file mode %o", st.st_mode);
	return 0;
}

/* The harness mounts a tmpfs on <share>/submnt with a marker file before the daemon starts. */
static int c_exdev_submount(void)
{
	char sub[4096], p[4200];

	snprintf(sub, sizeof(sub), "%s/submnt", cf.dir);
	snprintf(p, sizeof(p), "%s/.cf-submount", sub);
	if (access(p, F_OK) < 0)
		SKIP("NO SUBMOUNT: %s is missing (the harness mounts one); EXDEV not tested", p);
	TRY(cf_write_file("f", "x", 1, 0644));
	snprintf(p, sizeof(p), "%s/cf-exdev-%d", sub, (int)getpid());
	EXPECT_ERR(rename("f", p), EXDEV);
	EXPECT_ERR(link("f", p), EXDEV);
	TRY(cf_write_file(p, "y", 1, 0644));
	EXPECT_ERR(rename(p, "g"), EXDEV);
	TRY(unlink(p));
	return 0;
}

const struct cf_case cf_cases_ns[] = {
    {"create_basic", c_create_basic, CF_RW},
    {"create_umask", c_create_umask, CF_RW},
    {"create_excl", c_create_excl, CF_RW},
    {"create_open_errors", c_create_errors, CF_RW},
    {"mkdir", c_mkdir_basic, CF_RW},
    {"rmdir", c_rmdir, CF_RW},
    {"unlink", c_unlink, CF_RW},
    {"link", c_link, CF_RW},
    {"symlink", c_symlink, CF_RW},
    {"eloop_nofollow", c_eloop, CF_RW},
    {"nametoolong", c_nametoolong, CF_RW},
    {"longpath", c_longpath, CF_RW},
    {"rename_file", c_rename_file, CF_RW},
    {"rename_dir", c_rename_dir, CF_RW},
    {"rename_noreplace", c_rename_noreplace, CF_RW},
    {"rename_exchange", c_rename_exchange, CF_RW},
    {"rename_whiteout", c_rename_whiteout, CF_RW},
    {"exdev_submount", c_exdev_submount, CF_RW},
    {NULL, NULL, 0},
};
