/* Passthrough attribute ops: GETATTR, SETATTR and STATX (birth time), one conversion for all. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs/pt_internal.h"
#include "fs/pt_ext.h"

/* statx(2) of an inode, as pt_stat() does it but with the guest's sync flags and mask. */
static int stat_inode(struct pt_fs *fs, uint64_t ino, int sync, unsigned mask, struct statx *stx)
{
	struct pt_inode *in;
	int r;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	r = statx(in->fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | sync, mask, stx);
	r = r < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	if (r == 0 && !(stx->stx_mask & STATX_MNT_ID))
		stx->stx_mnt_id = 0;
	return r;
}

int pt_getattr(void *fsp, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
	       struct fuse_attr_out *out)
{
	struct pt_fs *fs = fsp;
	struct statx stx;
	int r;

	r = stat_inode(fs, ino, AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_MNT_ID, &stx);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->attr_valid = fs->timeout;
	pt_fill_attr(&stx, &out->attr);
	pt_attr_to_guest(fs, &out->attr);
	return 0;
}

static int setattr_size(struct pt_fs *fs, struct pt_inode *in, struct pt_handle *h, uint64_t size)
{
	int fd, r = 0;

	if (size > INT64_MAX)
		return -EFBIG;
	if (h)
		return ftruncate(h->fd, (off_t)size) < 0 ? -errno : 0;
	/* Never reopen a device or FIFO through /proc (CVE-2020-35517). */
	if (!S_ISREG(in->type))
		return S_ISDIR(in->type) ? -EISDIR : -EINVAL;
	fd = pt_proc_open(fs, in->fd, O_WRONLY);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int setattr_times(struct pt_fs *fs, struct pt_inode *in, struct pt_handle *h,
			 const struct fs_setattr *a)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	char name[PT_PROC_NAME];
	int r;

	if (a->valid & FATTR_ATIME)
		ts[0] = (a->valid & FATTR_ATIME_NOW) ? (struct timespec){.tv_nsec = UTIME_NOW}
						     : a->atime;
	if (a->valid & FATTR_MTIME)
		ts[1] = (a->valid & FATTR_MTIME_NOW) ? (struct timespec){.tv_nsec = UTIME_NOW}
						     : a->mtime;
	if (h)
		r = futimens(h->fd, ts);
	else
		r = utimensat(fs->proc_fd, pt_proc_path(name, in->fd), ts, 0);
	return r < 0 ? -errno : 0;
}

/* chown with guest ids translated (--translate-*); the host kernel drops set-id bits itself,
 * a remapped file capability we drop (CVE-2021-20263). */
static int setattr_owner(struct pt_fs *fs, struct pt_inode *in, const struct fs_setattr *a)
{
	uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;
	int r = 0;

	if (a->valid & FATTR_UID)
		r = pt_uid_to_host(fs, a->uid, &uid);
	if (r == 0 && (a->valid & FATTR_GID))
		r = pt_gid_to_host(fs, a->gid, &gid);
	if (r < 0)
		return r;
	if (fchownat(in->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(in->type) ? pt_drop_capability(fs, in->fd, true) : 0;
}

static int setattr_apply(struct pt_fs *fs, struct pt_inode *in, struct pt_handle *h,
			 const struct fs_setattr *a)
{
	char name[PT_PROC_NAME];
	int r;

	if (a->valid & FATTR_MODE) {
		r = h ? fchmod(h->fd, a->mode)
		      : fchmodat(fs->proc_fd, pt_proc_path(name, in->fd), a->mode, 0);
		if (r < 0)
			return -errno;
	}
	if (a->valid & (FATTR_UID | FATTR_GID)) {
		r = setattr_owner(fs, in, a);
		if (r < 0)
			return r;
	}
	if (a->valid & FATTR_SIZE) {
		r = setattr_size(fs, in, h, a->size);
		if (r == 0 && S_ISREG(in->type))
			r = pt_drop_capability(fs, h ? h->fd : in->fd, !h);
		if (r < 0)
			return r;
	}
	if ((a->valid & FATTR_KILL_SUIDGID) && !(a->valid & FATTR_MODE)) {
		r = h ? pt_kill_suidgid(fs, h->fd, false) : pt_kill_suidgid(fs, in->fd, true);
		if (r < 0)
			return r;
	}
	if (a->valid & (FATTR_ATIME | FATTR_MTIME))
		return setattr_times(fs, in, h, a);
	return 0;
}

int pt_setattr(void *fsp, const struct fs_ctx *c, uint64_t ino, const struct fs_setattr *a,
	       struct fuse_attr_out *out)
{
	struct pt_fs *fs = fsp;
	struct pt_handle *h = NULL;
	struct pt_inode *in;
	int r;

	if (fs->opts.readonly)
		return -EROFS;
	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	if (a->valid & FATTR_FH) {
		r = pt_handle_get(fs, ino, a->fh, &h);
		if (r < 0)
			goto out_put;
	}
	r = setattr_apply(fs, in, h, a);
	pt_handle_put(fs, h);
	if (r < 0)
		goto out_put;
	r = pt_getattr(fs, c, ino, NULL, out);
out_put:
	pt_inode_put(fs, in);
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
	struct statx stx;
	int r;

	r = stat_inode(fs, ino, (int)(sx_flags & AT_STATX_SYNC_TYPE),
		       (sx_mask & served) | STATX_BASIC_STATS, &stx);
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
