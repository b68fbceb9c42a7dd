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
#include "fs/pt_internal.h"

/* 0: not tried yet in this thread; 1: this thread has its own umask; -1: unshare failed. */
static __thread int thread_fs_private;
static atomic_bool unshare_warned;

int pt_check_name(const char *name)
{
	if (strnlen(name, NAME_MAX + 1) > NAME_MAX)
		return -ENAMETOOLONG;
	if (!fs_name_valid(name))
		return -EINVAL;
	return 0;
}

/* Reopens an O_PATH fd with real open flags through /proc/self/fd (no path walk). */
int pt_proc_open(struct pt_fs *fs, int fd, int flags)
{
	char name[16];
	int r;

	snprintf(name, sizeof(name), "%d", fd);
	r = openat(fs->proc_fd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static void set_umask(uint32_t umask_val, struct pt_creds *s)
{
	if (thread_fs_private == 0) {
		thread_fs_private = unshare(CLONE_FS) == 0 ? 1 : -1;
		if (thread_fs_private < 0 && !atomic_exchange(&unshare_warned, true))
			log_warn("unshare(CLONE_FS) failed: %s; new files get the process umask",
				 strerror(errno));
	}
	if (thread_fs_private > 0) {
		s->old_umask = umask(umask_val & 07777);
		s->mask = true;
	}
}

/* umask_val UINT32_MAX: leave the umask (symlink, link). */
int pt_creds_enter(struct pt_fs *fs, const struct fs_ctx *c, uint32_t umask_val,
		   struct pt_creds *s)
{
	int r;

	*s = (struct pt_creds){ 0 };
	if (c->uid == (uint32_t)-1 || c->gid == (uint32_t)-1)
		return -EINVAL; /* -1 means "unchanged" to setres*id: we would stay root */
	if (umask_val != UINT32_MAX)
		set_umask(umask_val, s);
	if (!fs->switch_creds || (c->uid == fs->euid && c->gid == fs->egid))
		return 0;
	if (syscall(SYS_setresgid, -1, (gid_t)c->gid, -1) < 0)
		goto out_err;
	if (syscall(SYS_setresuid, -1, (uid_t)c->uid, -1) < 0) {
		int e = errno;

		syscall(SYS_setresgid, -1, fs->egid, -1);
		errno = e;
		goto out_err;
	}
	s->ids = true;
	return 0;

out_err:
	r = -errno;
	log_error("switching to uid %u gid %u failed: %s", c->uid, c->gid, strerror(-r));
	if (s->mask)
		umask(s->old_umask);
	s->mask = false;
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
	}
	if (s->mask)
		umask(s->old_umask);
	errno = e;
}
