/* Passthrough TMPFILE (O_TMPFILE, which overlayfs upper layers need) and STATX (birth time). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs/pt_internal.h"
#include "fs/pt_ext.h"

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

static void sx_time(struct fuse_sx_time *t, const struct statx_timestamp *s)
{
	t->tv_sec = s->tv_sec;
	t->tv_nsec = s->tv_nsec;
}

int pt_statx(void *fsp, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh, uint32_t sx_flags,
	     uint32_t sx_mask, struct fuse_statx_out *out)
{
	const unsigned served = STATX_BASIC_STATS | STATX_BTIME;
	struct pt_fs *fs = fsp;
	struct fuse_statx *sx = &out->stat;
	struct fuse_attr attr;
	struct pt_inode *in;
	struct statx stx;
	int r;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	r = statx(in->fd, "",
		  AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | (int)(sx_flags & AT_STATX_SYNC_TYPE),
		  (sx_mask & served) | STATX_BASIC_STATS, &stx);
	r = r < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	if (r < 0)
		return r;
	/* Through the same conversion as GETATTR (ids as the guest sees them), so both
	 * answers agree. */
	pt_fill_attr(&stx, &attr);
	pt_attr_to_guest(fs, &attr);
	memset(out, 0, sizeof(*out));
	out->attr_valid = fs->timeout;
	/* Every basic field is filled below (from the host's answer): the guest wants them all. */
	sx->mask = (stx.stx_mask & served) | STATX_BASIC_STATS;
	sx->blksize = stx.stx_blksize;
	sx->attributes = stx.stx_attributes;
	sx->attributes_mask = stx.stx_attributes_mask;
	sx->nlink = attr.nlink;
	sx->uid = attr.uid;
	sx->gid = attr.gid;
	sx->mode = (uint16_t)attr.mode;
	sx->ino = attr.ino;
	sx->size = attr.size;
	sx->blocks = attr.blocks;
	sx_time(&sx->atime, &stx.stx_atime);
	sx_time(&sx->ctime, &stx.stx_ctime);
	sx_time(&sx->mtime, &stx.stx_mtime);
	if (stx.stx_mask & STATX_BTIME)
		sx_time(&sx->btime, &stx.stx_btime);
	sx->rdev_major = stx.stx_rdev_major;
	sx->rdev_minor = stx.stx_rdev_minor;
	/* dev_*: the guest has its own device number for the mount; ours stays here. */
	return 0;
}
