/*
 * Data and directory contents: truncate, O_APPEND, O_TRUNC, large I/O, SEEK_DATA/HOLE,
 * fallocate, FIFOs and sockets, readdir (complete, stable under concurrent creates, telldir),
 * O_TMPFILE, statx, many live inodes, and a multi-process stress run.
 */
#include "posix.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static int c_truncate(void)
{
	char buf[64];
	struct stat st;
	int fd;

	TRY(cf_write_file("f", "0123456789", 10, 0644));
	TRY(truncate("f", 4));
	CHECK(cf_read_file("f", buf, sizeof(buf)) == 4 && memcmp(buf, "0123", 4) == 0, "shrink");
	TRY(truncate("f", 20));
	TRY(stat("f", &st));
	CHECK(st.st_size == 20, "size %ld after growing truncate", (long)st.st_size);
	CHECK(cf_read_file("f", buf, sizeof(buf)) == 20 && buf[4] == 0 && buf[19] == 0,
	      "grown part is not zeros");
	TRY(fd = open("f", O_RDONLY));
	EXPECT_ERR2(ftruncate(fd, 0), EINVAL, EBADF);
	close(fd);
	TRY(mkdir("d", 0755));
	EXPECT_ERR(truncate("d", 0), EISDIR);
	EXPECT_ERR(truncate("f", -1), EINVAL);
	EXPECT_ERR(truncate("missing", 0), ENOENT);
	/* O_TRUNC */
	TRY(fd = open("f", O_WRONLY | O_TRUNC));
	TRY(fstat(fd, &st));
	CHECK(st.st_size == 0, "O_TRUNC left size %ld", (long)st.st_size);
	close(fd);
	return 0;
}

#define APPEND_RECS 100
#define APPEND_LEN 64

static int append_writer(char tag)
{
	char rec[APPEND_LEN];
	int fd = open("log", O_WRONLY | O_APPEND);

	if (fd < 0)
		return 1;
	memset(rec, tag, sizeof(rec));
	rec[APPEND_LEN - 1] = '\n';
	for (int i = 0; i < APPEND_RECS; i++)
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			return 1;
	return close(fd) < 0;
}

static int c_append(void)
{
	char *buf = malloc(2 * APPEND_RECS * APPEND_LEN + 1);
	pid_t pids[2];
	int fd, counts[2] = {0, 0};
	ssize_t n;

	CHECK(buf, "malloc");
	TRY(cf_write_file("log", "", 0, 0644));
	TRY(fd = open("log", O_WRONLY | O_APPEND));
	TRY(lseek(fd, 0, SEEK_SET));
	CHECK(write(fd, "head\n", 5) == 5, "write");
	TRY(lseek(fd, 0, SEEK_SET));
	CHECK(write(fd, "tail\n", 5) == 5, "write");
	close(fd);
	CHECK(cf_read_file("log", buf, 20) == 10 && memcmp(buf, "head\ntail\n", 10) == 0,
	      "O_APPEND ignored the seek");
	TRY(truncate("log", 0));
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(append_writer(i ? 'b' : 'a'));
	}
	for (int i = 0; i < 2; i++)
		CHECK(cf_wait(pids[i]) == 0, "appender %d failed", i);
	n = cf_read_file("log", buf, 2 * APPEND_RECS * APPEND_LEN + 1);
	CHECK(n == 2 * APPEND_RECS * APPEND_LEN, "log is %ld bytes, want %d", (long)n,
	      2 * APPEND_RECS * APPEND_LEN);
	for (int r = 0; r < 2 * APPEND_RECS; r++) {
		char *rec = buf + r * APPEND_LEN;

		for (int j = 1; j < APPEND_LEN - 1; j++)
			CHECK(rec[j] == rec[0], "record %d is torn", r);
		counts[rec[0] == 'b']++;
	}
	CHECK(counts[0] == APPEND_RECS && counts[1] == APPEND_RECS, "records %d/%d", counts[0],
	      counts[1]);
	free(buf);
	return 0;
}

static int c_rw_large(void)
{
	size_t len = 3u << 20;
	unsigned char *w = malloc(len), *r = malloc(len);
	int fd;

	CHECK(w && r, "malloc");
	for (size_t i = 0; i < len; i++)
		w[i] = (unsigned char)(i * 7 + i / 4096);
	TRY(fd = open("f", O_RDWR | O_CREAT, 0644));
	CHECK(pwrite(fd, w, len, 12345) == (ssize_t)len, "pwrite: %s", cf_errname(errno));
	TRY(fsync(fd));
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	CHECK(pread(fd, r, len, 12345) == (ssize_t)len, "pread: %s", cf_errname(errno));
	CHECK(memcmp(w, r, len) == 0, "data read back differs");
	CHECK(pread(fd, r, 100, 0) == 100, "pread head");
	for (int i = 0; i < 100; i++)
		CHECK(r[i] == 0, "the hole before the data is not zero");
	CHECK(pread(fd, r, 10, 12345 + len) == 0, "read at EOF is not 0");
	close(fd);
	free(w);
	free(r);
	return 0;
}

static int c_seek_data_hole(void)
{
	char blk[4096];
	off_t far = 4 << 20, d, h;
	int fd;

	memset(blk, 'x', sizeof(blk));
	TRY(fd = open("f", O_RDWR | O_CREAT, 0644));
	CHECK(pwrite(fd, blk, sizeof(blk), 0) == 4096, "pwrite");
	CHECK(pwrite(fd, blk, sizeof(blk), far) == 4096, "pwrite far");
	TRY(fsync(fd));
	TRY(d = lseek(fd, 0, SEEK_DATA));
	CHECK(d == 0, "SEEK_DATA from 0 gave %ld", (long)d);
	TRY(h = lseek(fd, 0, SEEK_HOLE));
	CHECK(h == 4096, "SEEK_HOLE from 0 gave %ld, want 4096 (the host fs has holes)", (long)h);
	TRY(d = lseek(fd, 8192, SEEK_DATA));
	CHECK(d == far, "SEEK_DATA from the hole gave %ld, want %ld", (long)d, (long)far);
	TRY(h = lseek(fd, far, SEEK_HOLE));
	CHECK(h == far + 4096, "SEEK_HOLE at the end gave %ld", (long)h);
	EXPECT_ERR(lseek(fd, far + 4096, SEEK_DATA), ENXIO);
	EXPECT_ERR(lseek(fd, far + 10000, SEEK_HOLE), ENXIO);
	close(fd);
	return 0;
}

static int c_fallocate(void)
{
	char buf[4096];
	struct stat st;
	int fd;

	TRY(fd = open("f", O_RDWR | O_CREAT, 0644));
	TRY(fallocate(fd, 0, 0, 1 << 20));
	TRY(fstat(fd, &st));
	CHECK(st.st_size == 1 << 20 && st.st_blocks >= (1 << 20) / 512,
	      "fallocate: size %ld blocks %ld", (long)st.st_size, (long)st.st_blocks);
	TRY(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20));
	TRY(fstat(fd, &st));
	CHECK(st.st_size == 1 << 20, "KEEP_SIZE changed the size to %ld", (long)st.st_size);
	memset(buf, 'y', sizeof(buf));
	CHECK(pwrite(fd, buf, sizeof(buf), 8192) == 4096, "pwrite");
	TRY(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 4096));
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	CHECK(pread(fd, buf, sizeof(buf), 8192) == 4096, "pread");
	for (int i = 0; i < 4096; i++)
		CHECK(buf[i] == 0, "punched range is not zero at %d", i);
	close(fd);
	TRY(fd = open("f", O_RDONLY));
	EXPECT_ERR(fallocate(fd, 0, 0, 4096), EBADF);
	close(fd);
	return 0;
}

static int c_mknod_fifo_socket(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	char buf[8];
	int fd, s;

	TRY(mknod("fifo", S_IFIFO | 0644, 0));
	TRY(lstat("fifo", &st));
	CHECK(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0644, "fifo mode %o", st.st_mode);
	EXPECT_ERR(mknod("fifo", S_IFIFO | 0644, 0), EEXIST);
	TRY(mkfifo("fifo2", 0600));
	pid_t pid = fork();

	if (pid == 0) {
		int w = open("fifo", O_WRONLY);

		_exit(w < 0 || write(w, "ping", 4) != 4);
	}
	TRY(fd = open("fifo", O_RDONLY));
	CHECK(read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0, "fifo read");
	close(fd);
	CHECK(cf_wait(pid) == 0, "fifo writer failed");
	TRY(mknod("sock", S_IFSOCK | 0644, 0));
	TRY(lstat("sock", &st));
	CHECK(S_ISSOCK(st.st_mode), "mknod S_IFSOCK made mode %o", st.st_mode);
	TRY(s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "bound");
	TRY(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	TRY(lstat("bound", &st));
	CHECK(S_ISSOCK(st.st_mode), "bound socket mode %o", st.st_mode);
	close(s);
	return 0;
}

/* Counts names in "." with a prefix; every one must appear once. */
static int scan_dir(const char *prefix, int n, unsigned char *seen, int *dups)
{
	DIR *d = opendir(".");
	struct dirent *e;

	if (!d)
		return -1;
	*dups = 0;
	memset(seen, 0, n);
	while ((e = readdir(d))) {
		size_t pl = strlen(prefix);

		if (strncmp(e->d_name, prefix, pl) != 0)
			continue;
		int i = atoi(e->d_name + pl);

		if (i >= 0 && i < n && seen[i]++)
			(*dups)++;
	}
	closedir(d);
	return 0;
}

static int c_readdir_complete(void)
{
	enum { N = 300 };
	unsigned char seen[N];
	char name[32];
	int dups, dots = 0;
	DIR *d;
	struct dirent *e;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		TRY(cf_write_file(name, "", 0, 0644));
	}
	TRY(mkdir("adir", 0755));
	TRY(symlink("f0", "alink"));
	TRY(scan_dir("f", N, seen, &dups));
	for (int i = 0; i < N; i++)
		CHECK(seen[i] == 1, "f%d seen %d times", i, seen[i]);
	CHECK(dups == 0, "%d duplicates", dups);
	CHECK((d = opendir(".")) != NULL, "opendir: %s", cf_errname(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			dots++;
		else if (!strcmp(e->d_name, "adir"))
			CHECK(e->d_type == DT_DIR || e->d_type == DT_UNKNOWN, "adir d_type %d",
			      e->d_type);
		else if (!strcmp(e->d_name, "alink"))
			CHECK(e->d_type == DT_LNK || e->d_type == DT_UNKNOWN, "alink d_type %d",
			      e->d_type);
		else if (!strcmp(e->d_name, "f1"))
			CHECK(e->d_type == DT_REG || e->d_type == DT_UNKNOWN, "f1 d_type %d",
			      e->d_type);
	}
	closedir(d);
	CHECK(dots == 2, "%d of . and ..", dots);
	/* telldir/seekdir: the rest after a saved position is the same twice */
	CHECK((d = opendir(".")) != NULL, "opendir");
	for (int i = 0; i < N / 2; i++)
		CHECK(readdir(d), "short directory");
	long pos = telldir(d);
	char first[256];

	CHECK((e = readdir(d)), "readdir after telldir");
	snprintf(first, sizeof(first), "%s", e->d_name);
	for (int i = 0; i < 20; i++)
		readdir(d);
	seekdir(d, pos);
	CHECK((e = readdir(d)) && strcmp(e->d_name, first) == 0, "seekdir: got %s, want %s",
	      e ? e->d_name : "(end)", first);
	closedir(d);
	return 0;
}

/* Entries present from start to end must be listed exactly once while others are created. */
static int c_readdir_concurrent(void)
{
	enum { N = 300 };
	unsigned char seen[N];
	char name[32];
	int dups;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		TRY(cf_write_file(name, "", 0, 0644));
	}
	pid_t pid = fork();

	if (pid == 0) {
		for (int i = 0; i < 600; i++) { /* few enough live inodes for a 1024-fd daemon */
			snprintf(name, sizeof(name), "new%d", i);
			if (cf_write_file(name, "", 0, 0644) < 0)
				_exit(1);
			if (i % 3 == 0)
				unlink(name);
		}
		_exit(0);
	}
	for (int round = 0; round < 5; round++) {
		if (scan_dir("s", N, seen, &dups) < 0)
			FAIL("opendir: %s", cf_errname(errno));
		for (int i = 0; i < N; i++)
			CHECK(seen[i] == 1, "round %d: s%d listed %d times", round, i, seen[i]);
	}
	CHECK(cf_wait(pid) == 0, "the creating child failed");
	return 0;
}

static int c_tmpfile(void)
{
	char buf[16], proc[64];
	struct stat st;
	int fd;

	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	CHECK(fd >= 0, "open(O_TMPFILE): %s", cf_errname(errno));
	CHECK(write(fd, "tmpdata", 7) == 7, "write: %s", cf_errname(errno));
	TRY(fstat(fd, &st));
	CHECK(st.st_nlink == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600,
	      "tmpfile nlink %ld mode %o", (long)st.st_nlink, st.st_mode);
	TRY(linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH));
	CHECK(cf_read_file("named", buf, sizeof(buf)) == 7 && memcmp(buf, "tmpdata", 7) == 0,
	      "linked tmpfile content");
	close(fd);
	/* through /proc/self/fd */
	TRY(fd = open(".", O_TMPFILE | O_WRONLY, 0644));
	CHECK(write(fd, "p", 1) == 1, "write");
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	TRY(linkat(AT_FDCWD, proc, AT_FDCWD, "named2", AT_SYMLINK_FOLLOW));
	TRY(stat("named2", &st));
	CHECK(st.st_size == 1 && st.st_nlink == 1, "named2 size %ld nlink %ld", (long)st.st_size,
	      (long)st.st_nlink);
	close(fd);
	/* O_EXCL: never linkable */
	TRY(fd = open(".", O_TMPFILE | O_WRONLY | O_EXCL, 0644));
	EXPECT_ERR(linkat(fd, "", AT_FDCWD, "named3", AT_EMPTY_PATH), ENOENT);
	close(fd);
	TRY(cf_write_file("file", "", 0, 0644));
	EXPECT_ERR(open("file", O_TMPFILE | O_RDWR, 0600), ENOTDIR);
	return 0;
}

static bool kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return true;
	return a > maj || (a == maj && b >= min);
}

static int c_statx(void)
{
	struct statx sx;
	struct stat st;

	TRY(cf_write_file("f", "12345", 5, 0640));
	TRY(stat("f", &st));
	TRY(statx(AT_FDCWD, "f", 0, STATX_BASIC_STATS | STATX_BTIME, &sx));
	CHECK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS, "mask %x", sx.stx_mask);
	CHECK(sx.stx_ino == st.st_ino && sx.stx_size == 5 && sx.stx_nlink == 1 &&
		  (sx.stx_mode & 07777) == 0640 && sx.stx_uid == st.st_uid,
	      "statx fields differ from stat");
	CHECK(sx.stx_mtime.tv_sec == st.st_mtim.tv_sec &&
		  sx.stx_mtime.tv_nsec == (unsigned)st.st_mtim.tv_nsec,
	      "statx mtime differs from stat");
	TRY(statx(AT_FDCWD, "f", AT_STATX_DONT_SYNC, STATX_SIZE, &sx));
	if (!kernel_at_least(6, 6))
		SKIP("KERNEL TOO OLD for FUSE_STATX (btime) in this kernel (< 6.6); basic "
		     "statx passed");
	TRY(statx(AT_FDCWD, "f", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS | STATX_BTIME, &sx));
	CHECK(sx.stx_mask & STATX_BTIME, "no STATX_BTIME in mask %x (the host fs has btime)",
	      sx.stx_mask);
	CHECK(sx.stx_btime.tv_sec > CF_OLD && sx.stx_btime.tv_sec <= sx.stx_ctime.tv_sec,
	      "btime %lld", (long long)sx.stx_btime.tv_sec);
	return 0;
}

/* More live inodes than the daemon's fd limit (the harness runs it with a low RLIMIT_NOFILE):
 * a daemon holding one O_PATH fd per inode runs out, one using file handles does not. Listed
 * last (cases_misc.c): a daemon that ran out may stay out for a while. */
int cf_case_many_inodes(void)
{
	enum { N = 1500 };
	char name[32];
	struct stat st;

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "i%d", i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);

		CHECK(fd >= 0, "create %s (live inodes: %d): %s", name, i, cf_errname(errno));
		CHECK(write(fd, name, strlen(name)) == (ssize_t)strlen(name), "write %s", name);
		close(fd);
	}
	for (int i = 0; i < N; i++) {
		char buf[32];

		snprintf(name, sizeof(name), "i%d", i);
		TRY(stat(name, &st));
		CHECK(cf_read_file(name, buf, sizeof(buf)) == (ssize_t)strlen(name) &&
			  memcmp(buf, name, strlen(name)) == 0,
		      "reread %s: %s", name, cf_errname(errno));
	}
	return 0;
}

const struct cf_case cf_cases_io[] = {
    {"truncate_otrunc", c_truncate, CF_RW},
    {"append", c_append, CF_RW},
    {"rw_large", c_rw_large, CF_RW},
    {"seek_data_hole", c_seek_data_hole, CF_RW},
    {"fallocate", c_fallocate, CF_RW},
    {"mknod_fifo_socket", c_mknod_fifo_socket, CF_RW},
    {"readdir_complete", c_readdir_complete, CF_RW},
    {"readdir_concurrent", c_readdir_concurrent, CF_RW},
    {"tmpfile", c_tmpfile, CF_RW},
    {"statx", c_statx, CF_RW},
    {NULL, NULL, 0},
};
