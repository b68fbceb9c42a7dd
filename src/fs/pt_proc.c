/*
 * Reaching a file through its /proc/self/fd magic link (fs->proc_fd, opened before any
 * sandbox): reopening an O_PATH fd with real flags, and the path calls that take no fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fs/pt_internal.h"

/* The decimal name of fd in /proc/self/fd, written by hand: snprintf was 3 % of the
 * daemon's CPU in CREATE (the new file's O_PATH fd is opened through it). */
char *pt_proc_path(char buf[PT_PROC_NAME], int fd)
{
	char tmp[PT_PROC_NAME];
	unsigned v = fd < 0 ? 0u - (unsigned)fd : (unsigned)fd, n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (fd < 0) /* no such entry, as with snprintf: never fd 0's */
		buf[k++] = '-';
	while (n)
		buf[k++] = tmp[--n];
	buf[k] = '\0';
	return buf;
}

int pt_proc_open(struct pt_fs *fs, int fd, int flags)
{
	char name[PT_PROC_NAME];
	int r;

	r = openat(fs->proc_fd, pt_proc_path(name, fd), (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

int pt_proc_link(struct pt_fs *fs, int fd, int dirfd, const char *name)
{
	char proc[PT_PROC_NAME];

	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc magic link does not. */
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	return linkat(fs->proc_fd, pt_proc_path(proc, fd), dirfd, name, AT_SYMLINK_FOLLOW) < 0
		   ? -errno
		   : 0;
}
