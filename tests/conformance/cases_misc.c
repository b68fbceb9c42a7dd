/*
 * The multi-process stress run, and the read-only share's cases (EROFS for every change, reads
 * still work) on the fixture that "posix-conformance prepare-ro" made on the host.
 */
#include "posix.h"

#include <dirent.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/xattr.h>

#define NPROC 4
#define NSLOT 8

struct slot {
	int present, korig, gen;
};

struct stress_shared {
	struct slot exp[NPROC][NSLOT];
	unsigned long ops[NPROC];
	char err[NPROC][200];
};

static size_t payload_len(int gen)
{
	return (size_t)(gen * 37) % 5000;
}

static void payload(char *buf, int p, int k, int gen)
{
	int n = sprintf(buf, "p=%d k=%d g=%d\n", p, k, gen);

	for (size_t i = 0; i < payload_len(gen); i++)
		buf[n + i] = (char)((p * 31 + k * 7 + gen + (int)i) & 0xff);
}

static size_t content_len(int p, int k, int gen)
{
	char hdr[64];

	return (size_t)snprintf(hdr, sizeof(hdr), "p=%d k=%d g=%d\n", p, k, gen) + payload_len(gen);
}

static int stress_op(int p, struct slot *exp, int *gen, char *buf, char *err, size_t esz)
{
	char a[32], b[32], tmp[32];
	int k = rand() % NSLOT, k2 = rand() % NSLOT, op = rand() % 10;

	snprintf(a, sizeof(a), "p%d_%d", p, k);
	snprintf(b, sizeof(b), "p%d_%d", p, k2);
	snprintf(tmp, sizeof(tmp), "p%d.tmp", p);
	if (op < 5) {
		int g = ++*gen;

		payload(buf, p, k, g);
		if (cf_write_file(tmp, buf, content_len(p, k, g), 0644) < 0 || rename(tmp, a) < 0)
			return snprintf(err, esz, "write+rename %s: %s", a, cf_errname(errno)), -1;
		exp[k] = (struct slot){1, k, g};
	} else if (op == 5) {
		if (unlink(a) < 0 && !(errno == ENOENT && !exp[k].present))
			return snprintf(err, esz, "unlink %s: %s", a, cf_errname(errno)), -1;
		exp[k].present = 0;
	} else if (op == 6 && exp[k].present && k != k2) {
		/* Same generation: b is a hard link of a (op 7), and POSIX makes renaming a name
		 * onto another link of the same file a no-op that leaves both names. */
		bool same = exp[k2].present && exp[k2].korig == exp[k].korig &&
			    exp[k2].gen == exp[k].gen;

		if (rename(a, b) < 0)
			return snprintf(err, esz, "rename %s %s: %s", a, b, cf_errname(errno)), -1;
		exp[k2] = exp[k];
		exp[k].present = same;
	} else if (op == 7 && exp[k].present && !exp[k2].present) {
		if (link(a, b) < 0)
			return snprintf(err, esz, "link %s %s: %s", a, b, cf_errname(errno)), -1;
		exp[k2] = exp[k];
	} else if (op == 8) {
		snprintf(a, sizeof(a), "p%d_dir", p);
		if (mkdir(a, 0755) < 0 || rmdir(a) < 0)
			return snprintf(err, esz, "mkdir/rmdir %s: %s", a, cf_errname(errno)), -1;
	} else if (op == 9 && exp[k].present) {
		struct stat st;

		if (stat(a, &st) < 0 ||
		    (size_t)st.st_size != content_len(p, exp[k].korig, exp[k].gen))
			return snprintf(err, esz, "stat %s: %s size %ld", a, cf_errname(errno),
					(long)st.st_size),
			       -1;
	}
	return 0;
}

static void stress_child(int p, struct stress_shared *sh, int seconds)
{
	char *buf = malloc(6000);
	time_t end = time(NULL) + seconds;
	int gen = 0;

	srand((unsigned)p * 7919 + 1);
	if (!buf)
		_exit(1);
	while (time(NULL) < end) {
		if (stress_op(p, sh->exp[p], &gen, buf, sh->err[p], sizeof(sh->err[p])) < 0)
			_exit(1);
		sh->ops[p]++;
	}
	_exit(0);
}

static int stress_verify(struct stress_shared *sh)
{
	char *want = malloc(6000), *got = malloc(6000), name[32];
	int files = 0, entries = 0;
	struct dirent *e;
	DIR *d;

	CHECK(want && got, "malloc");
	for (int p = 0; p < NPROC; p++) {
		for (int k = 0; k < NSLOT; k++) {
			struct slot *s = &sh->exp[p][k];

			snprintf(name, sizeof(name), "p%d_%d", p, k);
			if (!s->present) {
				CHECK(access(name, F_OK) < 0 && errno == ENOENT,
				      "%s exists, should be gone", name);
				continue;
			}
			size_t len = content_len(p, s->korig, s->gen);
			ssize_t n = cf_read_file(name, got, 6000);

			payload(want, p, s->korig, s->gen);
			CHECK(n == (ssize_t)len && memcmp(want, got, len) == 0,
			      "%s: %ld bytes, want %zu of generation %d (first line: %.20s)", name,
			      (long)n, len, s->gen, n > 0 ? got : "");
			files++;
		}
	}
	CHECK((d = opendir(".")) != NULL, "opendir");
	while ((e = readdir(d)))
		entries += e->d_name[0] != '.';
	closedir(d);
	CHECK(entries == files, "%d entries in the directory, %d expected", entries, files);
	free(want);
	free(got);
	return 0;
}

static int c_stress(void)
{
	struct stress_shared *sh =
	    mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[NPROC];
	unsigned long total = 0;
	int bad = -1;

	CHECK(sh != MAP_FAILED, "mmap");
	memset(sh, 0, sizeof(*sh));
	for (int p = 0; p < NPROC; p++) {
		pids[p] = fork();
		if (pids[p] == 0)
			stress_child(p, sh, cf.stress_seconds);
		CHECK(pids[p] > 0, "fork");
	}
	for (int p = 0; p < NPROC; p++)
		if (cf_wait(pids[p]) != 0)
			bad = p;
	if (bad >= 0)
		FAIL("stress process %d: %s", bad, sh->err[bad][0] ? sh->err[bad] : "crashed");
	for (int p = 0; p < NPROC; p++)
		total += sh->ops[p];
	CHECK(total > 20, "only %lu operations in %d s", total, cf.stress_seconds);
	return stress_verify(sh);
}

/* ---- id translation (--translate-uid/gid map:5000:15000:10) ------------------------------- */

/* The harness made <share>/cf-idmap (0777) and cf-idmap/host-owned (15002:15002, 0600) on the
 * host, and checks afterwards that root-chowned is 15000:15000 and by-user 15001:15001 there. */
static int c_idmap(void)
{
	char d[4200], p[4300];
	struct stat st;
	int r, e;

	snprintf(d, sizeof(d), "%s/cf-idmap", cf.dir);
	snprintf(p, sizeof(p), "%s/host-owned", d);
	TRY(lstat(p, &st));
	CHECK(st.st_uid == 5002 && st.st_gid == 5002, "host 15002:15002 shows as %d:%d, want 5002",
	      st.st_uid, st.st_gid);
	AS_USER(5002, 5002, (r = open(p, O_RDONLY), e = errno));
	CHECK(r >= 0, "the mapped owner cannot open its 0600 file: %s", cf_errname(e));
	close(r);
	snprintf(p, sizeof(p), "%s/root-chowned", d);
	TRY(cf_write_file(p, "x", 1, 0644));
	TRY(chown(p, 5000, 5000));
	TRY(stat(p, &st));
	CHECK(st.st_uid == 5000 && st.st_gid == 5000, "chown 5000:5000 reads back %d:%d", st.st_uid,
	      st.st_gid);
	snprintf(p, sizeof(p), "%s/by-user", d);
	AS_USER(5001, 5001, (r = cf_write_file(p, "y", 1, 0644), e = errno));
	CHECK(r == 0, "create as uid 5001: %s", cf_errname(e));
	TRY(stat(p, &st));
	CHECK(st.st_uid == 5001 && st.st_gid == 5001, "created by 5001:5001, reads back %d:%d",
	      st.st_uid, st.st_gid);
	return 0;
}

/* ---- read-only share -------------------------------------------------------------------- */

static int c_ro_read(void)
{
	char buf[64];
	ssize_t n;
	int seen = 0;
	struct dirent *e;
	DIR *d;

	n = cf_read_file("cf-ro/file", buf, sizeof(buf));
	CHECK(n == 17 && memcmp(buf, "readonly fixture\n", 17) == 0, "fixture content (%ld): %s",
	      (long)n, cf_errname(errno));
	TRY(n = readlink("cf-ro/link", buf, sizeof(buf)));
	CHECK(n == 4 && memcmp(buf, "file", 4) == 0, "readlink");
	CHECK((d = opendir("cf-ro")) != NULL, "opendir: %s", cf_errname(errno));
	while ((e = readdir(d)))
		seen += !strcmp(e->d_name, "file") + !strcmp(e->d_name, "dir") +
			!strcmp(e->d_name, "link");
	closedir(d);
	CHECK(seen == 3, "readdir found %d of 3 fixture entries", seen);
	return 0;
}

/* Reading xattrs still works; changing them is EROFS (the daemon runs with xattrs on). */
static int c_ro_xattr(void)
{
	char buf[16];
	ssize_t n;

	TRY(n = getxattr("cf-ro/file", "user.cf", buf, sizeof(buf)));
	CHECK(n == 2 && memcmp(buf, "ro", 2) == 0, "getxattr user.cf");
	EXPECT_ERR(setxattr("cf-ro/file", "user.cf2", "v", 1, 0), EROFS);
	EXPECT_ERR(removexattr("cf-ro/file", "user.cf"), EROFS);
	return 0;
}

static int c_ro_create(void)
{
	EXPECT_ERR(open("cf-ro/new", O_WRONLY | O_CREAT, 0644), EROFS);
	EXPECT_ERR(mkdir("cf-ro/newdir", 0755), EROFS);
	EXPECT_ERR(mknod("cf-ro/fifo", S_IFIFO | 0644, 0), EROFS);
	EXPECT_ERR(symlink("x", "cf-ro/sl"), EROFS);
	EXPECT_ERR(link("cf-ro/file", "cf-ro/hl"), EROFS);
	EXPECT_ERR(open("cf-ro", O_TMPFILE | O_RDWR, 0600), EROFS);
	return 0;
}

static int c_ro_modify(void)
{
	EXPECT_ERR(open("cf-ro/file", O_WRONLY), EROFS);
	EXPECT_ERR(open("cf-ro/file", O_RDWR), EROFS);
	EXPECT_ERR(open("cf-ro/file", O_RDONLY | O_TRUNC), EROFS);
	EXPECT_ERR(truncate("cf-ro/file", 0), EROFS);
	EXPECT_ERR(chmod("cf-ro/file", 0600), EROFS);
	EXPECT_ERR(chown("cf-ro/file", 1000, 1000), EROFS);
	EXPECT_ERR(utimensat(AT_FDCWD, "cf-ro/file", NULL, 0), EROFS);
	return 0;
}

static int c_ro_remove(void)
{
	struct stat st;

	EXPECT_ERR(unlink("cf-ro/file"), EROFS);
	EXPECT_ERR(rmdir("cf-ro/dir"), EROFS);
	EXPECT_ERR(rename("cf-ro/file", "cf-ro/moved"), EROFS);
	TRY(stat("cf-ro/file", &st));
	return 0;
}

const struct cf_case cf_cases_misc[] = {
    {"stress", c_stress, CF_RW},
    {"idmap", c_idmap, CF_IDMAP},
    {"many_inodes", cf_case_many_inodes, CF_RW},
    {"ro_read", c_ro_read, CF_RO},
    {"ro_create", c_ro_create, CF_RO},
    {"ro_modify", c_ro_modify, CF_RO},
    {"ro_remove", c_ro_remove, CF_RO},
    {"ro_xattr", c_ro_xattr, CF_RO},
    {NULL, NULL, 0},
};
