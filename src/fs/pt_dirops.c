/*
 * Passthrough operations that change a directory (and TMPFILE, a new file without a name):
 * every guest name is checked as one component here, in the handler itself, whatever sandbox
 * surrounds us.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs/pt_internal.h"
#include "fs/pt_ext.h"

enum mk_kind { MK_NOD, MK_DIR, MK_SYMLINK };

struct mk_args {
	enum mk_kind kind;
	mode_t mode;
	dev_t rdev;
	const char *target;
	uint32_t umask;
};

static int make_node(struct pt_inode *p, const char *name, const struct mk_args *a)
{
	int r = -1;

	switch (a->kind) {
	case MK_NOD:
		r = mknodat(p->fd, name, a->mode, a->rdev);
		break;
	case MK_DIR:
		r = mkdirat(p->fd, name, a->mode);
		break;
	case MK_SYMLINK:
		r = symlinkat(a->target, p->fd, name);
		break;
	}
	return r < 0 ? -errno : 0;
}

/* The directory in which the guest adds or removes name: a writable share, and name one
 * component. Put *p when done. */
static int parent_for_change(struct pt_fs *fs, uint64_t parent, const char *name,
			     struct pt_inode **p)
{
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	r = fs_name_check(name);
	if (r < 0)
		return r;
	return pt_inode_get(fs, parent, p);
}

/* Creates name under parent as the caller, then looks it up (counting the lookup). */
static int make_entry(struct pt_fs *fs, const struct fs_ctx *c, uint64_t parent,
		      const char *name, const struct mk_args *a, struct fuse_entry_out *out)
{
	struct pt_creds cr;
	struct pt_inode *p;
	int r;

	r = parent_for_change(fs, parent, name, &p);
	if (r < 0)
		return r;
	r = pt_creds_enter(fs, c, a->umask, &cr);
	if (r < 0)
		goto out_put;
	r = make_node(p, name, a);
	pt_creds_leave(fs, &cr);
	if (r == 0 && c->secctx)
		r = pt_secctx_label_new(fs, p, name, a->kind == MK_DIR, c->secctx);
	/* A name just made is a new inode: open it, skip the known-inode statx. */
	if (r == 0)
		r = pt_lookup_new_at(fs, p, name, out);
out_put:
	pt_inode_put(fs, p);
	return r;
}

int pt_mknod(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	     uint32_t rdev, uint32_t umask, struct fuse_entry_out *out)
{
	/* rdev is the kernel's new_encode_dev(), the low half of glibc's dev_t encoding. */
	struct mk_args a = { .kind = MK_NOD, .mode = mode, .rdev = rdev, .umask = umask };

	return make_entry(fs, c, parent, name, &a, out);
}

int pt_mkdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	     uint32_t umask, struct fuse_entry_out *out)
{
	struct mk_args a = { .kind = MK_DIR, .mode = mode & 07777, .umask = umask };

	return make_entry(fs, c, parent, name, &a, out);
}

/* The target is stored, never followed by us: it may be anything, absolute included. */
int pt_symlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
	       const char *target, struct fuse_entry_out *out)
{
	struct mk_args a = { .kind = MK_SYMLINK, .target = target, .umask = UINT32_MAX };

	return make_entry(fs, c, parent, name, &a, out);
}

static int remove_entry(struct pt_fs *fs, uint64_t parent, const char *name, int flags)
{
	struct pt_inode *p;
	int r;

	r = parent_for_change(fs, parent, name, &p);
	if (r < 0)
		return r;
	r = unlinkat(p->fd, name, flags) < 0 ? -errno : 0;
	pt_inode_put(fs, p);
	return r;
}

int pt_unlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name)
{
	return remove_entry(fs, parent, name, 0);
}

int pt_rmdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name)
{
	return remove_entry(fs, parent, name, AT_REMOVEDIR);
}

int pt_rename(void *fsp, const struct fs_ctx *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, uint32_t flags)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *p, *np = NULL;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	r = fs_name_check(name);
	if (r == 0)
		r = fs_name_check(newname);
	if (r < 0)
		return r;
	r = pt_inode_get(fs, parent, &p);
	if (r < 0)
		return r;
	r = pt_inode_get(fs, newparent, &np);
	if (r < 0)
		goto out_put;
	r = renameat2(p->fd, name, np->fd, newname, flags) < 0 ? -errno : 0;
	pt_inode_put(fs, np);
out_put:
	pt_inode_put(fs, p);
	return r;
}

int pt_link(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t newparent,
	    const char *newname, struct fuse_entry_out *out)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *in, *np;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	r = fs_name_check(newname);
	if (r < 0)
		return r;
	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	r = pt_inode_get(fs, newparent, &np);
	if (r < 0)
		goto out_put;
	r = pt_proc_link(fs, in->fd, np->fd, newname);
	/* The new name is the same inode: look it up by name to count and describe it. */
	if (r == 0)
		r = pt_lookup_at(fs, np, newname, out);
	pt_inode_put(fs, np);
out_put:
	pt_inode_put(fs, in);
	return r;
}

/* An existing file for CREATE without O_EXCL: never a device node or FIFO (CVE-2020-35517). */
static int open_existing(struct pt_fs *fs, struct pt_inode *p, const char *name, int hflags,
			 int *path_fd)
{
	struct stat st;
	int pfd, fd;

	pfd = openat(p->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0) {
		fd = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		fd = S_ISDIR(st.st_mode) ? -EISDIR : S_ISLNK(st.st_mode) ? -ELOOP : -ENXIO;
		goto out_close;
	}
	fd = pt_proc_open(fs, pfd, hflags);
	if (fd >= 0) {
		*path_fd = pfd;
		return fd;
	}
out_close:
	close(pfd);
	return fd;
}

/* The same, as the caller: its permissions decide, O_TRUNC included, as they did for the
 * O_EXCL attempt (as the daemon, a guest user could truncate or write any file it can name). */
static int open_existing_as(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p,
			    const char *name, int hflags, int *path_fd)
{
	struct pt_creds cr;
	int r;

	r = pt_creds_enter(fs, c, UINT32_MAX, &cr);
	if (r < 0)
		return r;
	r = open_existing(fs, p, name, hflags, path_fd);
	pt_creds_leave(fs, &cr);
	return r;
}

/* Returns the open fd and, in *path_fd, an O_PATH fd of the same inode (-1 for a file just
 * made: pt_new_file_publish keeps it by its handle where it can). */
static int create_open(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p,
		       const char *name, uint32_t mode, uint32_t flags, uint32_t umask,
		       int *path_fd)
{
	int hflags, fd, r;
	struct pt_creds cr;

	r = pt_open_flags(fs, flags, &hflags);
	if (r < 0)
		return r;
	if (c->secctx) {
		fd = pt_secctx_create(fs, c, p, name, mode, hflags, umask);
		r = fd < 0 ? fd : 0;
	} else {
		r = pt_creds_enter(fs, c, umask, &cr);
		if (r < 0)
			return r;
		fd = openat(p->fd, name, hflags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode & 07777);
		r = fd < 0 ? -errno : 0;
		pt_creds_leave(fs, &cr);
	}
	if (r == -EEXIST && !(flags & O_EXCL))
		return open_existing_as(fs, c, p, name, hflags, path_fd);
	if (r < 0)
		return r;
	*path_fd = -1;
	return fd;
}

int pt_new_file_reserve(struct pt_fs *fs)
{
	int r = pt_fd_reserve(fs);

	if (r < 0)
		return r;
	r = pt_fd_reserve(fs);
	if (r < 0)
		pt_fd_unreserve(fs);
	return r;
}

void pt_new_file_abandon(struct pt_fs *fs, int fd, int path_fd)
{
	if (fd >= 0)
		close(fd);
	if (path_fd >= 0)
		close(path_fd);
	pt_fd_unreserve(fs);
	pt_fd_unreserve(fs);
}

int pt_new_file_publish(struct pt_fs *fs, struct pt_inode *p, int fd, int path_fd,
			struct fuse_entry_out *entry, struct fuse_open_out *open)
{
	struct statx stx;
	bool have_stx = false;
	uint64_t fh;
	int r = 1;

	/* A new file kept by its handle needs no O_PATH fd (an openat and a close saved); one
	 * that needs it has its statx made already (the O_PATH fd opens the same file). */
	if (path_fd < 0) {
		r = pt_entry_of_open_fd(fs, p, fd, &stx, entry);
		have_stx = r > 0;
		if (r < 0) {
			pt_new_file_abandon(fs, fd, -1);
			return r;
		}
		if (r == 0)
			pt_fd_unreserve(fs); /* the O_PATH fd's */
		else
			path_fd = pt_proc_open(fs, fd, O_PATH);
		if (path_fd < 0 && r) {
			pt_new_file_abandon(fs, fd, -1);
			return path_fd;
		}
	}
	if (r) {
		/* owns path_fd and one reservation */
		r = have_stx ? pt_entry_from_fd_stat(fs, p, path_fd, &stx, entry)
			     : pt_entry_from_fd(fs, p, path_fd, entry);
		if (r < 0) {
			pt_fd_close(fs, fd);
			return r;
		}
	}
	r = pt_handle_add(fs, entry->nodeid, fd, &fh); /* owns fd and the other one */
	if (r < 0) {
		pt_inode_forget(fs, entry->nodeid, 1);
		return r;
	}
	pt_fill_open(fs, false, fh, open);
	return 0;
}

int pt_create(void *fsp, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
	      struct fuse_open_out *open)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *p;
	int r, fd, path_fd = -1;

	r = parent_for_change(fs, parent, name, &p);
	if (r < 0)
		return r;
	r = pt_new_file_reserve(fs);
	if (r < 0)
		goto out_put;
	fd = create_open(fs, c, p, name, mode, flags, umask, &path_fd);
	r = fd < 0 ? fd : pt_trunc_killpriv(fs, fd, flags);
	if (r < 0) {
		pt_new_file_abandon(fs, fd, path_fd);
		goto out_put;
	}
	r = pt_new_file_publish(fs, p, fd, path_fd, entry, open);
out_put:
	pt_inode_put(fs, p);
	return r;
}

/* Returns the open fd of a new unnamed file in p. */
static int tmpfile_open(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p, uint32_t mode,
			uint32_t flags, uint32_t umask)
{
	struct pt_creds cr;
	int hflags, fd, r;

	r = pt_open_flags(fs, flags, &hflags);
	if (r < 0)
		return r;
	/* O_EXCL keeps the file from ever getting a name (linkat); the rest of the creation
	 * flags mean nothing here. */
	hflags &= ~O_TRUNC;
	hflags |= (int)(flags & O_EXCL);
	r = pt_creds_enter(fs, c, umask, &cr);
	if (r < 0)
		return r;
	fd = openat(p->fd, ".", hflags | O_TMPFILE | O_CLOEXEC, mode & 07777);
	r = fd < 0 ? -errno : fd;
	pt_creds_leave(fs, &cr);
	return r;
}

int pt_tmpfile(void *fsp, const struct fs_ctx *c, uint64_t parent, uint32_t mode, uint32_t flags,
	       uint32_t umask, struct fuse_entry_out *entry, struct fuse_open_out *open)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *p;
	int r, fd, path_fd = -1;

	if (fs->opts.readonly)
		return -EROFS;
	if ((mode & S_IFMT) && !S_ISREG(mode))
		return -EINVAL;
	r = pt_inode_get(fs, parent, &p);
	if (r < 0)
		return r;
	if (!S_ISDIR(p->type)) {
		r = -ENOTDIR;
		goto out_put;
	}
	r = pt_new_file_reserve(fs);
	if (r < 0)
		goto out_put;
	fd = tmpfile_open(fs, c, p, mode, flags, umask);
	r = fd < 0 ? fd : 0;
	if (r == 0 && c->secctx)
		r = pt_secctx_label_fd(fs, c->secctx, fd);
	if (r == 0) {
		path_fd = pt_proc_open(fs, fd, O_PATH);
		r = path_fd < 0 ? path_fd : 0;
	}
	if (r < 0) {
		pt_new_file_abandon(fs, fd, -1);
		goto out_put;
	}
	r = pt_new_file_publish(fs, p, fd, path_fd, entry, open);
out_put:
	pt_inode_put(fs, p);
	return r;
}
