/*
 * The scratch tree of the passthrough fuzz target. Layout (top is a private tmpfs when the
 * process may unshare its mount namespace, a plain temporary directory otherwise):
 *
 *   top/outer/secret          a canary file (old times: even a read shows in its atime)
 *   top/outer/outdir/victim   a canary directory and file
 *   top/outer/share/          the shared directory, rebuilt before every input
 *
 * After a session the canaries, outer/, outdir/, top/ and / must have the inode, mode, owner,
 * size, link count and times they had, and no name of pt_names starting "vfz" may exist in
 * /tmp or the working directory unless it was there at start (their times move with what
 * other processes do).
 */
#include "fuzz_pt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define OLD_TIME 1000000000

static char long255[256], long256[257];

const char *const pt_names[] = {
    "vfzf", "vfzd", "vfzg", "vfzl", "vfzup", "vfzabs", "vfzout", "vfzp", "vfzs", "vfzn",
    "vfzm", "..", ".", "", "/", "/tmp/vfzn", "vfzd/vfzg", "../vfzn", "../secret", "secret",
    "share", "../outdir/victim", long255, long256, "vfzq", "outdir", "victim",
};
const unsigned pt_names_n = sizeof(pt_names) / sizeof(pt_names[0]);

#define N_NAMES (sizeof(pt_names) / sizeof(pt_names[0]))
#define N_WATCH 2 /* /tmp and the working directory; top/ and / by their times */

static struct {
	char top[64], outer[80], share[96], secret[96], outdir[96], victim[112];
	struct stat top_st, outer_st, secret_st, outdir_st, victim_st, root_st;
	const char *watch[N_WATCH];
	bool present[N_WATCH][N_NAMES]; /* existed at start: not ours */
	bool tmpfs, ready;
} sc;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_fuse_pt: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static void put_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(data);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) < 0)
		die("cannot write", path);
	close(fd);
}

static void old_times(const char *path)
{
	struct timespec ts[2] = {{.tv_sec = OLD_TIME}, {.tv_sec = OLD_TIME}};

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		die("cannot set the times of", path);
}

static void snap(const char *path, struct stat *st)
{
	if (lstat(path, st) < 0)
		die("cannot stat", path);
}

static void rmtree_at(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d)
		die("cannot list", "a directory of the share");
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		int sub = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0)
			die("cannot open", de->d_name);
		rmtree_at(sub);
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			die("cannot remove", de->d_name);
	}
	closedir(d);
}

/* A private tmpfs on top: nothing the guest writes reaches the host's disk, and a rename or
 * link out of it fails (EXDEV) even if a path check were missing. Optional. */
static void try_tmpfs(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return;
	sc.tmpfs = mount("vfsd-fuzz", sc.top, "tmpfs", MS_NOSUID, "size=64m,mode=0755") == 0;
}

static void cleanup(void)
{
	int fd;

	if (!sc.ready)
		return;
	fd = open(sc.top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		rmtree_at(fd);
	if (sc.tmpfs)
		umount2(sc.top, MNT_DETACH);
	rmdir(sc.top);
}

static void baseline(void)
{
	char cwd[4096];

	sc.watch[0] = "/tmp";
	sc.watch[1] = getcwd(cwd, sizeof(cwd)) ? strdup(cwd) : "/tmp";
	snap("/", &sc.root_st);
	for (unsigned w = 0; w < N_WATCH; w++)
		for (unsigned i = 0; i < N_NAMES; i++) {
			struct stat st;
			char p[4400];

			snprintf(p, sizeof(p), "%s/%s", sc.watch[w], pt_names[i]);
			sc.present[w][i] = lstat(p, &st) == 0;
		}
}

void pt_scratch_init(void)
{
	if (sc.ready)
		return;
	memset(long255, 'x', 255);
	memcpy(long255, "vfz", 3);
	memset(long256, 'y', 256);
	memcpy(long256, "vfz", 3);
	strcpy(sc.top, "/tmp/vfsd-fuzz-pt-XXXXXX");
	if (!mkdtemp(sc.top))
		die("cannot make", sc.top);
	try_tmpfs();
	snprintf(sc.outer, sizeof(sc.outer), "%s/outer", sc.top);
	snprintf(sc.share, sizeof(sc.share), "%s/share", sc.outer);
	snprintf(sc.secret, sizeof(sc.secret), "%s/secret", sc.outer);
	snprintf(sc.outdir, sizeof(sc.outdir), "%s/outdir", sc.outer);
	snprintf(sc.victim, sizeof(sc.victim), "%s/victim", sc.outdir);
	if (mkdir(sc.outer, 0755) < 0 || mkdir(sc.outdir, 0755) < 0 || mkdir(sc.share, 0777) < 0)
		die("cannot make the layout in", sc.top);
	sc.ready = true;
	atexit(cleanup);
	put_file(sc.secret, "outside-secret\n", 0644);
	put_file(sc.victim, "outside-victim\n", 0666);
	old_times(sc.secret);
	old_times(sc.victim);
	old_times(sc.outdir);
	old_times(sc.outer);
	snap(sc.top, &sc.top_st);
	snap(sc.outer, &sc.outer_st);
	snap(sc.secret, &sc.secret_st);
	snap(sc.outdir, &sc.outdir_st);
	snap(sc.victim, &sc.victim_st);
	baseline();
}

const char *pt_scratch_share(void)
{
	return sc.share;
}

static void reset_share_itself(void)
{
	char list[4096];
	ssize_t n = llistxattr(sc.share, list, sizeof(list));

	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1)
		lremovexattr(sc.share, list + off);
	if (chown(sc.share, geteuid(), getegid()) < 0 || chmod(sc.share, 0777) < 0)
		die("cannot reset", sc.share);
}

static void populate(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/vfzf", sc.share);
	put_file(p, "hello from the share\n", 0644);
	snprintf(p, sizeof(p), "%s/vfzd", sc.share);
	if (mkdir(p, 0755) < 0)
		die("cannot make", p);
	snprintf(p, sizeof(p), "%s/vfzd/vfzg", sc.share);
	put_file(p, "g\n", 0600);
	snprintf(p, sizeof(p), "%s/vfzs", sc.share);
	put_file(p, "#!/bin/sh\n", 0755);
	/* set-id bits for the kill-on-write paths (a file of another user when we are root) */
	if ((geteuid() == 0 && chown(p, 1000, 1000) < 0) || chmod(p, 06755) < 0)
		die("cannot make set-id", p);
	snprintf(p, sizeof(p), "%s/vfzp", sc.share);
	if (mkfifo(p, 0666) < 0)
		die("cannot make", p);
	/* Bait: links that lead out of the share, for a backend that would follow them. */
	const char *links[][2] = {
	    {"vfzl", "vfzf"}, {"vfzup", "../secret"}, {"vfzabs", sc.secret}, {"vfzout", "../outdir"}};

	for (unsigned i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", sc.share, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			die("cannot make", p);
	}
}

void pt_scratch_reset(void)
{
	int fd = open(sc.share, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die("cannot open", sc.share);
	rmtree_at(fd);
	reset_share_itself();
	populate();
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same(const struct stat *a, const struct stat *b, bool atime)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_mode == b->st_mode &&
	       a->st_uid == b->st_uid && a->st_gid == b->st_gid && a->st_size == b->st_size &&
	       a->st_nlink == b->st_nlink && (!atime || same_time(&a->st_atim, &b->st_atim)) &&
	       same_time(&a->st_mtim, &b->st_mtim) && same_time(&a->st_ctim, &b->st_ctim);
}

/* atime: also the access time (our own tree: nobody else reads it). */
static void check_one(const char *path, const struct stat *then, bool atime)
{
	struct stat now;

	if (lstat(path, &now) < 0 || !same(&now, then, atime)) {
		fprintf(stderr, "fuzz_fuse_pt: ESCAPE: %s changed outside the share\n", path);
		abort();
	}
}

void pt_scratch_check(void)
{
	check_one(sc.top, &sc.top_st, true);
	check_one(sc.outer, &sc.outer_st, true);
	check_one(sc.secret, &sc.secret_st, true);
	check_one(sc.outdir, &sc.outdir_st, true);
	check_one(sc.victim, &sc.victim_st, true);
	check_one("/", &sc.root_st, false);
	for (unsigned w = 0; w < N_WATCH; w++)
		for (unsigned i = 0; i < N_NAMES; i++) {
			struct stat st;
			char p[4400];

			if (sc.present[w][i] || strncmp(pt_names[i], "vfz", 3) != 0 ||
			    strchr(pt_names[i], '/'))
				continue;
			snprintf(p, sizeof(p), "%s/%s", sc.watch[w], pt_names[i]);
			if (lstat(p, &st) == 0) {
				fprintf(stderr, "fuzz_fuse_pt: ESCAPE: %s exists\n", p);
				abort();
			}
		}
}
