/*
 * Extended attributes (--xattr, --xattrmap, --posix-acl).
 *
 * Inodes are O_PATH fds, which f*xattr() refuse (and so do the *xattrat() calls with
 * AT_EMPTY_PATH). The path calls on /proc/self/fd/N work for every inode type: following the
 * magic link lands on the inode itself, a symlink included, without opening it (no open of a
 * device or FIFO, no read permission needed). The name "N" is resolved relative to the working
 * directory, which each thread points at /proc/self/fd before the call (no absolute /proc
 * path: the sandbox may have none).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <linux/limits.h>

#include "log.h"
#include "fs/pt_ext.h"
#include "fs/xattrmap.h"

#define ACL_ACCESS "system.posix_acl_access"

struct xpath {
	char name[PT_PROC_NAME];
};

/* Point this thread at /proc/self/fd and name fd in it. The working directory is made the
 * thread's own first, so that the process's (the transport's relative paths, core dumps) stays
 * where it was; if that fails it is shared, which is still correct for us. */
static int proc_path(struct pt_fs *fs, int fd, struct xpath *p)
{
	pt_thread_private_fs();
	if (fchdir(fs->proc_fd) < 0)
		return -errno;
	pt_proc_path(p->name, fd);
	return 0;
}

/* The host name (through --xattrmap) of the guest's xattr name, and the inode it is on. Put
 * *in when done. */
static int xattr_target(struct pt_fs *fs, uint64_t ino, const char *name,
			char hname[XATTR_NAME_MAX + 1], struct pt_inode **in)
{
	int r = xattrmap_to_host(fs->opts.xattrmap, name, hname, XATTR_NAME_MAX + 1);

	if (r < 0)
		return r;
	return pt_inode_get(fs, ino, in);
}

static ssize_t do_get(struct pt_fs *fs, int fd, const char *hname, void *buf, size_t size)
{
	struct xpath p;
	int r = proc_path(fs, fd, &p);

	if (r < 0)
		return r;
	ssize_t n = getxattr(p.name, hname, buf, size);

	return n < 0 ? -errno : n;
}

int pt_xattr_set_fd(struct pt_fs *fs, int fd, bool opath, const char *host_name, const void *value,
		    size_t size, int flags)
{
	struct xpath p;
	int r;

	if (!opath)
		return fsetxattr(fd, host_name, value, size, flags) < 0 ? -errno : 0;
	r = proc_path(fs, fd, &p);
	if (r < 0)
		return r;
	return setxattr(p.name, host_name, value, size, flags) < 0 ? -errno : 0;
}

static int do_remove(struct pt_fs *fs, int fd, bool opath, const char *hname)
{
	struct xpath p;
	int r;

	if (!opath)
		return fremovexattr(fd, hname) < 0 ? -errno : 0;
	r = proc_path(fs, fd, &p);
	if (r < 0)
		return r;
	return removexattr(p.name, hname) < 0 ? -errno : 0;
}

int pt_getxattr(void *fsp, const struct fs_ctx *c, uint64_t ino, const char *name, char *buf,
		size_t size)
{
	struct pt_fs *fs = fsp;
	char hname[XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	ssize_t n;
	int r;

	if (size > XATTR_SIZE_MAX)
		size = XATTR_SIZE_MAX;
	r = xattr_target(fs, ino, name, hname, &in);
	if (r < 0)
		return r;
	n = do_get(fs, in->fd, hname, size ? buf : NULL, size);
	pt_inode_put(fs, in);
	return (int)n;
}

/* FUSE_SETXATTR_ACL_KILL_SGID: the guest found the caller outside the file's group and without
 * CAP_FSETID; we set the ACL as root, so the host kernel kept S_ISGID: clear it. */
static int acl_kill_sgid(struct pt_fs *fs, int fd)
{
	struct xpath p;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(st.st_mode & S_ISGID) || S_ISLNK(st.st_mode))
		return 0;
	r = proc_path(fs, fd, &p);
	if (r < 0)
		return r;
	if (fchmodat(fs->proc_fd, p.name, st.st_mode & 07777 & ~(mode_t)S_ISGID, 0) < 0)
		return -errno;
	return 0;
}

int pt_setxattr(void *fsp, const struct fs_ctx *c, uint64_t ino, const char *name,
		const void *value, size_t size, uint32_t flags, uint32_t extra_flags)
{
	struct pt_fs *fs = fsp;
	char hname[XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	if (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE) || size > XATTR_SIZE_MAX)
		return -EINVAL;
	r = xattr_target(fs, ino, name, hname, &in);
	if (r < 0)
		return r;
	r = pt_xattr_set_fd(fs, in->fd, true, hname, value, size, (int)flags);
	if (r == 0 && (extra_flags & FUSE_SETXATTR_ACL_KILL_SGID) && strcmp(name, ACL_ACCESS) == 0)
		r = acl_kill_sgid(fs, in->fd);
	pt_inode_put(fs, in);
	return r;
}

/* The host's whole list: the map may drop or shorten names, so any size needs all of it. */
static int list_all(struct pt_fs *fs, int fd, char **out)
{
	char *buf = malloc(XATTR_LIST_MAX);
	struct xpath p;
	ssize_t n;
	int r;

	if (!buf)
		return -ENOMEM;
	r = proc_path(fs, fd, &p);
	if (r < 0)
		goto out_free;
	n = listxattr(p.name, buf, XATTR_LIST_MAX);
	if (n < 0) {
		r = -errno;
		goto out_free;
	}
	*out = buf;
	return (int)n;
out_free:
	free(buf);
	return r;
}

static int list_plain(struct pt_fs *fs, int fd, char *buf, size_t size)
{
	struct xpath p;
	ssize_t n;
	int r = proc_path(fs, fd, &p);

	if (r < 0)
		return r;
	n = listxattr(p.name, size ? buf : NULL, size);
	return n < 0 ? -errno : (int)n;
}

int pt_listxattr(void *fsp, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *in;
	char *all = NULL;
	int r;

	if (size > XATTR_LIST_MAX)
		size = XATTR_LIST_MAX;
	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	if (!fs->opts.xattrmap) {
		r = list_plain(fs, in->fd, buf, size);
	} else {
		r = list_all(fs, in->fd, &all);
		if (r >= 0)
			r = xattrmap_list_to_guest(fs->opts.xattrmap, all, (size_t)r, buf, size);
		free(all);
	}
	pt_inode_put(fs, in);
	return r;
}

int pt_removexattr(void *fsp, const struct fs_ctx *c, uint64_t ino, const char *name)
{
	struct pt_fs *fs = fsp;
	char hname[XATTR_NAME_MAX + 1];
	struct pt_inode *in;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	r = xattr_target(fs, ino, name, hname, &in);
	if (r < 0)
		return r;
	r = do_remove(fs, in->fd, true, hname);
	pt_inode_put(fs, in);
	return r;
}

int pt_drop_capability(struct pt_fs *fs, int fd, bool opath)
{
	const char *cap = xattrmap_capability_name(fs->opts.xattrmap);
	int r;

	if (!cap)
		return 0;
	r = do_remove(fs, fd, opath, cap);
	if (r == -ENODATA || r == -EOPNOTSUPP)
		return 0;
	if (r < 0)
		log_warn_rl("removing the mapped file capability %s failed: %s", cap, strerror(-r));
	return r;
}

int pt_trunc_killpriv(struct pt_fs *fs, int fd, uint32_t guest_flags)
{
	int r = 0;

	if (!(guest_flags & O_TRUNC))
		return 0;
	if (guest_flags & FS_OPEN_KILL_SUIDGID)
		r = pt_kill_suidgid(fs, fd, false);
	if (r == 0)
		r = pt_drop_capability(fs, fd, false);
	return r;
}
