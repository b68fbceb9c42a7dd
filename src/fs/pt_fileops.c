/* Passthrough operations on open files and directories (the handle table). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "fs/pt_internal.h"
#include "fs/pt_ext.h"

int pt_open_flags(struct pt_fs *fs, uint32_t guest_flags, int *host_flags)
{
	/* Anything else (O_CREAT, O_PATH, O_TMPFILE, O_NOFOLLOW, ...) means nothing for a reopen
	 * of an inode we already hold, or would change what it opens. */
	const int keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_TRUNC |
			 O_LARGEFILE | O_DIRECT | O_NOATIME;
	int f = (int)guest_flags & keep;

	if (!fs->opts.allow_direct_io)
		f &= ~O_DIRECT;
	if (!fs->opts.preserve_noatime)
		f &= ~O_NOATIME; /* fails with EPERM on files the daemon does not own */
	if (fs->writeback) {
		/* The guest's page cache reads around partial writes and appends itself. */
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	if (fs->opts.readonly && ((guest_flags & O_ACCMODE) != O_RDONLY || (f & O_TRUNC)))
		return -EROFS;
	*host_flags = f;
	return 0;
}

void pt_fill_open(struct pt_fs *fs, bool dir, uint64_t fh, struct fuse_open_out *out)
{
	memset(out, 0, sizeof(*out));
	out->fh = fh;
	switch (fs->opts.cache) {
	case CACHE_NEVER:
		out->open_flags = FOPEN_DIRECT_IO;
		break;
	case CACHE_METADATA:
		out->open_flags = dir ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE : FOPEN_DIRECT_IO;
		break;
	case CACHE_ALWAYS:
		out->open_flags = dir ? FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE : FOPEN_KEEP_CACHE;
		break;
	case CACHE_AUTO:
	default:
		break;
	}
}

/* Opens an inode for real, never a device node, FIFO or socket (CVE-2020-35517). */
int pt_open_inode(struct pt_fs *fs, struct pt_inode *in, int hflags)
{
	if (S_ISDIR(in->type))
		return pt_proc_open(fs, in->fd, hflags | O_DIRECTORY);
	if (S_ISREG(in->type))
		return pt_proc_open(fs, in->fd, hflags);
	return S_ISLNK(in->type) ? -ELOOP : -ENXIO;
}

static int open_handle(struct pt_fs *fs, uint64_t ino, bool dir, uint32_t flags,
		       struct fuse_open_out *out)
{
	struct pt_inode *in;
	int r, fd, hflags;
	uint64_t fh;

	r = pt_open_flags(fs, dir ? O_RDONLY : flags, &hflags);
	if (r < 0)
		return r;
	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	if (dir && !S_ISDIR(in->type)) {
		r = -ENOTDIR;
		goto out_put;
	}
	r = pt_fd_reserve(fs);
	if (r < 0) {
		r = -EMFILE;
		goto out_put;
	}
	fd = pt_open_inode(fs, in, hflags);
	if (fd >= 0 && !dir && (r = pt_trunc_killpriv(fs, fd, flags)) < 0) {
		close(fd);
		fd = r;
	}
	if (fd < 0) {
		r = fd;
		pt_fd_unreserve(fs);
		goto out_put;
	}
	r = pt_handle_add(fs, ino, fd, &fh);
	if (r == 0)
		pt_fill_open(fs, dir, fh, out);
out_put:
	pt_inode_put(fs, in);
	return r;
}

int pt_open(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
	    struct fuse_open_out *out)
{
	return open_handle(fs, ino, false, flags, out);
}

int pt_opendir(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
	       struct fuse_open_out *out)
{
	return open_handle(fs, ino, true, flags, out);
}

int pt_read(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	    uint32_t flags, struct iov_view *dst)
{
	struct pt_handle *h;
	ssize_t n;
	int r;

	if (offset > INT64_MAX || dst->len > INT_MAX) /* the byte count is returned as an int */
		return -EINVAL;
	if (dst->len == 0)
		return 0;
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	n = iov_preadv_all(h->fd, dst, (off_t)offset);
	pt_handle_put(fs, h);
	return (int)n;
}

/*
 * HANDLE_KILLPRIV_V2: the guest leaves clearing set-id bits on write and truncate to us, and
 * the host kernel does not clear them for a writer with CAP_FSETID, which we are as root.
 */
int pt_kill_suidgid(struct pt_fs *fs, int fd, bool opath)
{
	mode_t clear;
	char name[PT_PROC_NAME];
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	clear = S_ISUID | ((st.st_mode & S_IXGRP) ? S_ISGID : 0);
	if (!S_ISREG(st.st_mode) || !(st.st_mode & clear))
		return 0;
	if (opath) {
		r = fchmodat(fs->proc_fd, pt_proc_path(name, fd), st.st_mode & ~clear & 07777, 0);
	} else {
		r = fchmod(fd, st.st_mode & ~clear & 07777);
	}
	return r < 0 ? -errno : 0;
}

int pt_write(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	     uint32_t write_flags, uint32_t flags, struct iov_view *src)
{
	struct pt_fs *fs = fsp;
	struct pt_handle *h;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	if (offset > INT64_MAX || src->len > INT_MAX) /* the byte count is returned as an int */
		return -EINVAL;
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	if (write_flags & FUSE_WRITE_KILL_SUIDGID)
		r = pt_kill_suidgid(fs, h->fd, false);
	if (r == 0)
		r = pt_drop_capability(fs, h->fd, false);
	if (r == 0)
		r = (int)iov_pwritev_all(h->fd, src, (off_t)offset);
	pt_handle_put(fs, h);
	return r;
}

int pt_release(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags,
	       uint32_t release_flags, uint64_t lock_owner)
{
	pt_locks_release(fs, ino, fh, release_flags);
	return pt_handle_release(fs, fh);
}

int pt_releasedir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags)
{
	return pt_handle_release(fs, fh);
}

int pt_fsync(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync)
{
	struct pt_handle *h;
	int r;

	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	r = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	return r;
}

/* FLUSH is the guest's close(): closing a duplicate gives the host its close-time semantics
 * (POSIX lock release, NFS flush-on-close) while the handle stays open until RELEASE. */
int pt_flush(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	struct pt_handle *h;
	int r, d;

	pt_locks_flush(fs, ino, lock_owner);
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	d = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		r = -errno;
	else if (close(d) < 0 && errno != EINTR)
		r = -errno;
	pt_handle_put(fs, h);
	return r;
}

int pt_fallocate(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t mode,
		 uint64_t offset, uint64_t length)
{
	struct pt_fs *fs = fsp;
	struct pt_handle *h;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	if (offset > INT64_MAX || length > INT64_MAX)
		return -EINVAL;
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	r = fallocate(h->fd, (int)mode, (off_t)offset, (off_t)length) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	return r;
}

int pt_lseek(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	     uint32_t whence, uint64_t *out_offset)
{
	struct pt_handle *h;
	off_t o;
	int r;

	if (offset > INT64_MAX)
		return -EINVAL;
	if (whence != SEEK_SET && whence != SEEK_END && whence != SEEK_DATA &&
	    whence != SEEK_HOLE)
		return -EINVAL;
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	pthread_mutex_lock(&h->dir_lock);
	o = lseek(h->fd, (off_t)offset, (int)whence);
	h->dir_pos = -1; /* a directory handle must seek again before reading */
	pthread_mutex_unlock(&h->dir_lock);
	r = o < 0 ? -errno : 0;
	if (r == 0)
		*out_offset = (uint64_t)o;
	pt_handle_put(fs, h);
	return r;
}

/*
 * The destination of copy_file_range is written as by WRITE: the mapped file capability goes,
 * and with HANDLE_KILLPRIV_V2 the set-id bits are ours to clear (we copy as root, with
 * CAP_FSETID, so the host keeps them). No flag says whether the guest's writer may keep them,
 * as FUSE_WRITE_KILL_SUIDGID does for WRITE: a caller other than the guest's root is taken to
 * have no CAP_FSETID, which is what its kernel does for a local copy by such a writer.
 */
static int copy_killpriv(struct pt_fs *fs, const struct fs_ctx *c, int fd)
{
	int r = 0;

	if ((fs->conn_flags & FUSE_HANDLE_KILLPRIV_V2) && c->uid != 0)
		r = pt_kill_suidgid(fs, fd, false);
	if (r == 0)
		r = pt_drop_capability(fs, fd, false);
	return r;
}

int pt_copy_file_range(void *fsp, const struct fs_ctx *c, uint64_t ino_in, uint64_t fh_in,
		       uint64_t off_in, uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
		       uint64_t len, uint64_t flags)
{
	struct pt_fs *fs = fsp;
	struct pt_handle *in, *out;
	off_t oi = (off_t)off_in, oo = (off_t)off_out;
	ssize_t n;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	if (flags != 0 || off_in > INT64_MAX || off_out > INT64_MAX)
		return -EINVAL;
	if (len > (1u << 30))
		len = 1u << 30; /* the byte count is returned as an int; the guest loops */
	r = pt_handle_get(fs, ino_in, fh_in, &in);
	if (r < 0)
		return r;
	r = pt_handle_get(fs, ino_out, fh_out, &out);
	if (r < 0)
		goto out_put;
	r = copy_killpriv(fs, c, out->fd);
	if (r == 0) {
		n = copy_file_range(in->fd, &oi, out->fd, &oo, (size_t)len, 0);
		r = n < 0 ? -errno : (int)n;
	}
	pt_handle_put(fs, out);
out_put:
	pt_handle_put(fs, in);
	return r;
}

/* syncfs() wants a real open file: an O_PATH fd is refused. */
int pt_syncfs(void *fsp, const struct fs_ctx *c, uint64_t ino)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *in;
	int r, fd;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	fd = (S_ISDIR(in->type) || S_ISREG(in->type)) ? pt_open_inode(fs, in, O_RDONLY) : -EINVAL;
	pt_inode_put(fs, in);
	if (fd < 0)
		return fd;
	r = syncfs(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}
