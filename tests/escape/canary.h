/*
 * Escape tests over the fake frontend: canaries planted next to the share (in the frontend's
 * temp dir, outside the shared directory) and checked after each attempt, the sandbox mode a
 * test binary runs under, and FUSE requests sent as a chosen guest uid/gid.
 *
 * A test binary takes the sandbox mode as argv[1] (namespace, chroot or none); without it the
 * daemon runs with the frontend's default (--sandbox=none for ours, the legacy daemon's own).
 */
#ifndef ESCAPE_CANARY_H
#define ESCAPE_CANARY_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define ESC_IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define ESC_NAME(s) ESC_IOV((s), strlen(s) + 1)
#define ESC_SECRET "outside-secret-content"
#define ESC_VICTIM "outside-victim-content"
#define ESC_MTIME 1000000000 /* canaries get this mtime; any change shows */

/* The host side of tmp/ (the share's parent): secret (a file), outdir/ (a directory holding
 * victim), as the test planted them. */
struct canary {
	struct stat secret, outdir, victim, tmp;
	int tmp_entries;
};

static inline void esc_put_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static inline void esc_old_mtime(const char *path)
{
	struct timespec ts[2] = { { .tv_sec = ESC_MTIME }, { .tv_sec = ESC_MTIME } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Entries of a directory (without . and ..), read without touching its atime: a canary's atime
 * tells whether anyone read it (relatime updates an atime that is not newer than the mtime). */
static inline int esc_count(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC), n = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static inline void canary_plant(struct fe *fe, struct canary *c)
{
	char p[256];

	esc_put_file(fe_tmp_path(fe, "secret", p, sizeof(p)), ESC_SECRET, 0600);
	esc_old_mtime(p);
	assert_int_equal(lstat(p, &c->secret), 0);
	assert_int_equal(mkdir(fe_tmp_path(fe, "outdir", p, sizeof(p)), 0777), 0);
	assert_int_equal(chmod(p, 0777), 0);
	esc_put_file(fe_tmp_path(fe, "outdir/victim", p, sizeof(p)), ESC_VICTIM, 0666);
	esc_old_mtime(p);
	assert_int_equal(lstat(p, &c->victim), 0);
	esc_old_mtime(fe_tmp_path(fe, "outdir", p, sizeof(p)));
	assert_int_equal(lstat(p, &c->outdir), 0);
	esc_old_mtime(fe->tmp);
	assert_int_equal(lstat(fe->tmp, &c->tmp), 0);
	c->tmp_entries = esc_count(fe->tmp);
}

static inline void esc_same(const char *what, const struct stat *a, const struct stat *b)
{
	if (a->st_ino != b->st_ino || a->st_mode != b->st_mode || a->st_uid != b->st_uid ||
	    a->st_gid != b->st_gid || a->st_size != b->st_size || a->st_nlink != b->st_nlink ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
	    a->st_ctim.tv_nsec != b->st_ctim.tv_nsec || a->st_atim.tv_sec != b->st_atim.tv_sec)
		fail_msg("host canary %s changed (or was read): mode %o->%o uid %u->%u gid %u->%u "
			 "size %ld->%ld nlink %lu->%lu mtime %ld->%ld atime %ld->%ld",
			 what, a->st_mode, b->st_mode, a->st_uid, b->st_uid, a->st_gid, b->st_gid,
			 (long)a->st_size, (long)b->st_size, (unsigned long)a->st_nlink,
			 (unsigned long)b->st_nlink, (long)a->st_mtim.tv_sec,
			 (long)b->st_mtim.tv_sec, (long)a->st_atim.tv_sec, (long)b->st_atim.tv_sec);
}

static inline void esc_content(const char *path, const char *want)
{
	char buf[128] = { 0 };
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC);

	if (fd < 0)
		fail_msg("host canary %s: %s", path, strerror(errno));
	assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
	close(fd);
	if (strcmp(buf, want))
		fail_msg("host canary %s now holds '%s'", path, buf);
}

/* Nothing outside the share was read, created, changed or removed: same inodes, modes,
 * owners, sizes, times and contents, the same entries next to the share, and none of the names
 * the test tried in /, /tmp or next to the share. */
static inline void canary_check(struct fe *fe, const struct canary *c,
				const char *const *names, size_t n)
{
	char p[256];
	struct stat st;

	assert_int_equal(lstat(fe_tmp_path(fe, "secret", p, sizeof(p)), &st), 0);
	esc_same("secret", &c->secret, &st);
	esc_content(p, ESC_SECRET);
	assert_int_equal(lstat(fe_tmp_path(fe, "outdir/victim", p, sizeof(p)), &st), 0);
	esc_same("outdir/victim", &c->victim, &st);
	esc_content(p, ESC_VICTIM);
	assert_int_equal(lstat(fe_tmp_path(fe, "outdir", p, sizeof(p)), &st), 0);
	esc_same("outdir", &c->outdir, &st);
	if (esc_count(p) != 1)
		fail_msg("host canary outdir/ now has %d entries", esc_count(p));
	assert_int_equal(lstat(fe->tmp, &st), 0);
	esc_same("the share's parent", &c->tmp, &st);
	assert_int_equal(esc_count(fe->tmp), c->tmp_entries);
	for (size_t i = 0; i < n; i++) {
		static const char *const where[] = { "/", "/tmp/", "/etc/" };

		for (size_t w = 0; w < 3; w++) {
			snprintf(p, sizeof(p), "%s%s", where[w], names[i]);
			if (lstat(p, &st) == 0)
				fail_msg("%s exists on the host", p);
		}
		if (lstat(fe_tmp_path(fe, names[i], p, sizeof(p)), &st) == 0)
			fail_msg("%s exists next to the share", p);
	}
}

/* One request with the given guest uid/gid in its header. Returns the FUSE error (0, -errno)
 * or FE_ETRANSPORT; on success copies out_len reply bytes to out (when out is set). */
static inline int esc_req_as(struct fe *fe, uint32_t opcode, uint64_t nodeid, uint32_t uid,
			     uint32_t gid, const struct iovec *args, unsigned nargs, void *out,
			     size_t out_len)
{
	struct fuse_in_header h = { .opcode = opcode, .nodeid = nodeid, .uid = uid, .gid = gid,
				    .pid = (uint32_t)getpid() };
	struct iovec iov[8];
	struct fe_reply r;
	int rc;

	assert_true(nargs < 8);
	h.len = sizeof(h);
	for (unsigned i = 0; i < nargs; i++) {
		iov[i + 1] = args[i];
		h.len += (uint32_t)args[i].iov_len;
	}
	fe->unique += 2;
	h.unique = fe->unique;
	iov[0] = ESC_IOV(&h, sizeof(h));
	rc = fe_fuse_raw(fe, iov, nargs + 1, sizeof(struct fuse_out_header) + out_len + 256, NULL,
			 &r);
	rc = fe_check_reply(rc, &r, out ? (long)out_len : -1);
	if (rc == 0 && out)
		memcpy(out, r.data, out_len);
	fe_reply_free(&r);
	return rc;
}

/* The sandbox mode from argv[1] as daemon options, then any further arguments as they are;
 * "" for the frontend's default. */
static inline const char *esc_mode_args(int argc, char **argv, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = 0;
	if (argc > 1 && argv[1][0])
		snprintf(buf, cap, "--sandbox=%s", argv[1]);
	for (int i = 2; i < argc; i++) {
		len = strlen(buf);
		snprintf(buf + len, cap - len, " %s", argv[i]);
	}
	return buf;
}

#endif
