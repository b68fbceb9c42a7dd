/*
 * POSIX conformance cases for a mounted share (virtio-fs in a guest, or the /dev/fuse transport on
 * the host). Each case runs in a forked child, in a fresh directory of its own, as root; it may
 * switch its effective ids to act as another user. A case returns 0 (pass), 1 (skip, with a loud
 * reason) or -1 (fail, with a detail).
 */
#ifndef CF_POSIX_H
#define CF_POSIX_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

struct cf_conf {
	const char *dir; /* the share's root, absolute */
	bool readonly;	 /* the daemon runs with --readonly */
	bool idmap;	 /* run the idmap case too: the daemon maps guest ids 5000+N to 15000+N */
	int stress_seconds;
};
extern struct cf_conf cf;

/* Case flags: which mode a case belongs to. */
#define CF_RW 1u /* needs a writable share */
#define CF_RO 2u /* only meaningful on a read-only share */
#define CF_IDMAP                                                                                   \
	4u /* only with --translate-uid/gid map:5000:15000:10 (the harness checks the host) */

struct cf_case {
	const char *name;
	int (*fn)(void);
	unsigned flags;
};

extern const struct cf_case cf_cases_ns[];
extern const struct cf_case cf_cases_perm[];
extern const struct cf_case cf_cases_io[];
extern const struct cf_case cf_cases_xattr[];
extern const struct cf_case cf_cases_lock[];
extern const struct cf_case cf_cases_misc[];
int cf_case_many_inodes(void);

int cf_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cf_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cf_errname(int e);

#define FAIL(...) return cf_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) return cf_skip(__VA_ARGS__)
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAIL(__VA_ARGS__);                                                         \
	} while (0)
/* The call must succeed (return >= 0). */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((long)(expr) < 0)                                                              \
			FAIL("%s: %s", #expr, cf_errname(errno));                                  \
	} while (0)
/* The call must fail with errno e. */
#define EXPECT_ERR(expr, e)                                                                        \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		int e_ = errno;                                                                    \
		if (r_ >= 0)                                                                       \
			FAIL("%s succeeded, expected %s", #expr, cf_errname(e));                   \
		if (e_ != (e))                                                                     \
			FAIL("%s: %s, expected %s", #expr, cf_errname(e_), cf_errname(e));         \
	} while (0)
/* The call must fail with e1 or e2 (where POSIX allows either). */
#define EXPECT_ERR2(expr, e1, e2)                                                                  \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		int e_ = errno;                                                                    \
		if (r_ >= 0)                                                                       \
			FAIL("%s succeeded, expected %s", #expr, cf_errname(e1));                  \
		if (e_ != (e1) && e_ != (e2))                                                      \
			FAIL("%s: %s, expected %s or %s", #expr, cf_errname(e_), cf_errname(e1),   \
			     cf_errname(e2));                                                      \
	} while (0)
/* Runs a call as another user (effective ids only; root comes back after it). */
#define AS_USER(uid, gid, stmt)                                                                    \
	do {                                                                                       \
		if (cf_become(uid, gid, 0, NULL) < 0)                                              \
			FAIL("become uid %d: %s", (int)(uid), cf_errname(errno));                  \
		stmt;                                                                              \
		cf_unbecome();                                                                     \
	} while (0)

/* Effective uid/gid and supplementary groups of another user; cf_unbecome() returns to root. */
int cf_become(uid_t uid, gid_t gid, int ngroups, const gid_t *groups);
void cf_unbecome(void);

/* Small file helpers; they return 0 or -1 with errno set. */
int cf_write_file(const char *path, const void *buf, size_t len, mode_t mode);
ssize_t cf_read_file(const char *path, void *buf, size_t size);
/* Creates a file (content "data") and sets its owner and exact mode. */
int cf_mkfile(const char *path, mode_t mode, uid_t uid, gid_t gid);
int cf_mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid);
int cf_rm_rf(const char *path);
void cf_msleep(unsigned ms);
/* A timestamp compare: a later than b. */
bool cf_ts_after(const struct timespec *a, const struct timespec *b);
/* Sets atime and mtime to fixed old values (seconds since the epoch). */
int cf_set_old_times(const char *path, time_t atime, time_t mtime);
/* Waits for a child; returns its exit status, or 128+signal. */
int cf_wait(pid_t pid);

#define CF_OLD 1000000000 /* 2001-09-09: every "was updated" check compares with this */

#endif
