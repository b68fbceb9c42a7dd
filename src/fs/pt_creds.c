/*
 * Acting as the guest's caller while creating files, so new files get the caller's ownership
 * and the request's umask. Both are per thread: the raw setresuid/setresgid syscalls change
 * only the calling thread (glibc's wrappers change every thread), and the umask lives in the
 * fs_struct, which each thread unshares (CLONE_FS) the first time it creates something.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "log.h"
#include "fs/pt_ext.h"

/* 0: not tried yet in this thread; 1: this thread has its own umask; -1: unshare failed. */
static __thread int thread_fs_private;
static atomic_bool unshare_warned;

/* Supplementary groups: this thread's own, saved the first time a request brings some, to be
 * put back after it (the sandbox normally dropped them all: then none). */
#define PT_GROUPS_MAX 64
#define PT_GROUPS_UNKNOWN (-2)
static __thread gid_t thread_groups[PT_GROUPS_MAX];
static __thread int thread_ngroups = -1;
static __thread bool thread_groups_set;
static atomic_bool groups_warned;

bool pt_thread_private_fs(void)
{
	if (thread_fs_private == 0) {
		thread_fs_private = unshare(CLONE_FS) == 0 ? 1 : -1;
		if (thread_fs_private < 0 && !atomic_exchange(&unshare_warned, true))
			log_warn("unshare(CLONE_FS) failed: %s; new files get the process umask",
				 strerror(errno));
	}
	return thread_fs_private > 0;
}

/* This thread's umask, once it has its own fs_struct and has set one; -1: not known yet. */
static __thread int thread_umask = -1;

/*
 * The umask is left as the request set it: nothing else in a request thread creates files
 * without setting the request's umask first, and guests mostly send the same one (022), so the
 * umask() call is made only when it changes (it was two per CREATE/MKDIR/MKNOD).
 */
static void set_umask(uint32_t umask_val)
{
	mode_t want = umask_val & 07777;

	if (!pt_thread_private_fs() || thread_umask == (int)want)
		return;
	umask(want);
	thread_umask = (int)want;
}

/*
 * The caller's supplementary groups (FUSE_EXT_GROUPS), translated, set on this thread only
 * (the raw syscall; glibc's setgroups() changes every thread). Returns 1 when set, 0 when there
 * are none to set, or -errno.
 */
static int enter_groups(struct pt_fs *fs, const struct fs_ctx *c)
{
	gid_t g[PT_GROUPS_MAX];
	size_t n = 0;

	if (c->ngroups == 0)
		return 0;
	if (c->ngroups > PT_GROUPS_MAX) {
		if (!atomic_exchange(&groups_warned, true))
			log_warn_rl("a request carries %u supplementary groups, more than the %u "
				 "supported: creating without them",
				 c->ngroups, PT_GROUPS_MAX);
		return 0;
	}
	if (thread_ngroups < 0) {
		int got = getgroups(PT_GROUPS_MAX, thread_groups);

		/* More than we can restore: never change this thread's groups. */
		thread_ngroups = got < 0 ? PT_GROUPS_UNKNOWN : got;
	}
	if (thread_ngroups == PT_GROUPS_UNKNOWN)
		return 0;
	/* A group the translation forbids is left out: fewer groups, never more rights. */
	for (uint32_t i = 0; i < c->ngroups; i++)
		if (pt_gid_to_host(fs, c->groups[i], &g[n]) == 0)
			n++;
	return syscall(SYS_setgroups, n, g) < 0 ? -errno : 1;
}

static void leave_groups(void)
{
	if (syscall(SYS_setgroups, (size_t)thread_ngroups, thread_groups) < 0)
		log_error("restoring supplementary groups failed: %s", strerror(errno));
}

static int switch_ids(struct pt_fs *fs, uid_t uid, gid_t gid)
{
	if (syscall(SYS_setresgid, -1, gid, -1) < 0)
		return -errno;
	if (syscall(SYS_setresuid, -1, uid, -1) < 0) {
		int r = -errno;

		syscall(SYS_setresgid, -1, fs->egid, -1);
		return r;
	}
	return 0;
}

/* umask_val UINT32_MAX: leave the umask (symlink, link). */
int pt_creds_enter(struct pt_fs *fs, const struct fs_ctx *c, uint32_t umask_val,
		   struct pt_creds *s)
{
	uint32_t uid, gid;
	int r, groups = 0;

	*s = (struct pt_creds){ 0 };
	if (c->uid == (uint32_t)-1 || c->gid == (uint32_t)-1)
		return -EINVAL; /* -1 means "unchanged" to setres*id: we would stay root */
	r = pt_uid_to_host(fs, c->uid, &uid);
	if (r == 0)
		r = pt_gid_to_host(fs, c->gid, &gid);
	if (r < 0)
		return r; /* a forbidden guest id */
	if (umask_val != UINT32_MAX)
		set_umask(umask_val);
	if (!fs->switch_creds || (uid == fs->euid && gid == fs->egid))
		return 0;
	/* Groups first: once the euid is not 0 we have no CAP_SETGID left. */
	groups = enter_groups(fs, c);
	r = groups < 0 ? groups : switch_ids(fs, uid, gid);
	if (r < 0)
		goto out_err;
	s->ids = true;
	thread_groups_set = groups > 0;
	return 0;

out_err:
	log_error_rl("switching to uid %u gid %u failed: %s", uid, gid, strerror(-r));
	if (groups > 0)
		leave_groups();
	return r;
}

void pt_creds_leave(struct pt_fs *fs, struct pt_creds *s)
{
	int e = errno; /* callers read the op's errno after leaving */

	if (s->ids) {
		if (syscall(SYS_setresuid, -1, fs->euid, -1) < 0)
			log_error("restoring euid %u failed: %s", fs->euid, strerror(errno));
		if (syscall(SYS_setresgid, -1, fs->egid, -1) < 0)
			log_error("restoring egid %u failed: %s", fs->egid, strerror(errno));
		if (thread_groups_set)
			leave_groups();
		thread_groups_set = false;
	}
	errno = e;
}
