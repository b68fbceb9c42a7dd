/* Handlers for name and inode opcodes: lookup, attributes (GETATTR, SETATTR, STATX), directory
 * entries. */
#include "fuse/internal.h"
#include "fuse/ext.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

int fuse_reply_entry(struct fuse_req *req, int r, const struct fuse_entry_out *e,
		     const struct fuse_open_out *o)
{
	if (r < 0)
		return r;
	return fuse_reply(req, e, sizeof(*e), o, o ? sizeof(*o) : 0);
}

int fuse_reply_out(struct fuse_req *req, int r, const void *out, size_t size)
{
	if (r < 0)
		return r;
	return fuse_reply(req, out, size, NULL, 0);
}

int fuse_read_new_node(struct fuse_req *req, uint32_t umask, bool named, struct fuse_new_node *n)
{
	int r = 0;

	memset(n, 0, sizeof(*n));
	if (named)
		r = fuse_cur_name(&req->args, &n->name);
	if (r == 0 && named)
		r = fuse_ext_trailing_secctx(req, &n->sc);
	if (r < 0)
		return r;
	req->ctx.umask = umask;
	return 0;
}

int fuse_do_name_op(struct fuse_req *req,
		    int (*op)(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name))
{
	const char *name;
	int r = fuse_cur_name(&req->args, &name);

	if (r == 0)
		r = op(FS_PRIV(req), &req->ctx, req->in.nodeid, name);
	return fuse_reply_status(req, r);
}

int fuse_do_lookup(struct fuse_req *req)
{
	struct fuse_entry_out *e = &req->out_arg.entry;
	const char *name;
	int r;

	r = fuse_cur_name(&req->args, &name);
	if (r == 0)
		r = FS_OPS(req)->lookup(FS_PRIV(req), &req->ctx, req->in.nodeid, name, e);
	return fuse_reply_entry(req, r, e, NULL);
}

int fuse_do_forget(struct fuse_req *req)
{
	if (FS_OPS(req)->forget)
		FS_OPS(req)->forget(FS_PRIV(req), req->in.nodeid, req->in_arg.forget.nlookup);
	return 0;
}

int fuse_do_batch_forget(struct fuse_req *req)
{
	uint32_t count = req->in_arg.batch_forget.count;
	struct fuse_forget_one one;
	uint32_t i;

	if (count > fuse_cur_remaining(&req->args) / sizeof(one))
		log_warn_rl("BATCH_FORGET unique=%llu: count %u but room for %zu entries",
			 (unsigned long long)req->in.unique, count,
			 fuse_cur_remaining(&req->args) / sizeof(one));
	for (i = 0; i < count; i++) {
		if (fuse_cur_read(&req->args, &one, sizeof(one)) < 0)
			break;
		if (FS_OPS(req)->forget)
			FS_OPS(req)->forget(FS_PRIV(req), one.nodeid, one.nlookup);
	}
	return 0;
}

int fuse_do_getattr(struct fuse_req *req)
{
	const struct fuse_getattr_in *in = &req->in_arg.getattr;
	struct fuse_attr_out *out = &req->out_arg.attr;
	int r;

	r = FS_OPS(req)->getattr(FS_PRIV(req), &req->ctx, req->in.nodeid,
				 (in->getattr_flags & FUSE_GETATTR_FH) ? &in->fh : NULL, out);
	return fuse_reply_out(req, r, out, sizeof(*out));
}

int fuse_do_statx(struct fuse_req *req)
{
	const struct fuse_statx_in *in = &req->in_arg.statx;
	struct fuse_statx_out *out = &req->out_arg.statx;
	int r;

	if (in->getattr_flags & ~(uint32_t)FUSE_GETATTR_FH)
		return -EINVAL;
	r = FS_OPS(req)->statx(FS_PRIV(req), &req->ctx, req->in.nodeid,
			       (in->getattr_flags & FUSE_GETATTR_FH) ? &in->fh : NULL,
			       in->sx_flags, in->sx_mask, out);
	return fuse_reply_out(req, r, out, sizeof(*out));
}

/* A FUSE time (seconds, nanoseconds) as a timespec; NOW and absent map to UTIME_*. */
static int setattr_time(uint32_t valid, uint32_t set_bit, uint32_t now_bit, uint64_t sec,
			uint32_t nsec, struct timespec *ts)
{
	ts->tv_sec = 0;
	ts->tv_nsec = UTIME_OMIT;
	if (valid & now_bit) {
		ts->tv_nsec = UTIME_NOW;
	} else if (valid & set_bit) {
		if (nsec >= 1000000000u)
			return -EINVAL;
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = nsec;
	}
	return 0;
}

int fuse_do_setattr(struct fuse_req *req)
{
	const uint32_t known = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME |
			       FATTR_MTIME | FATTR_FH | FATTR_ATIME_NOW | FATTR_MTIME_NOW |
			       FATTR_LOCKOWNER | FATTR_CTIME | FATTR_KILL_SUIDGID;
	const struct fuse_setattr_in *in = &req->in_arg.setattr;
	struct fuse_attr_out *out = &req->out_arg.attr;
	struct fs_setattr a;
	int r;

	memset(&a, 0, sizeof(a));
	a.valid = in->valid & known;
	a.fh = in->fh;
	a.mode = in->mode;
	a.uid = in->uid;
	a.gid = in->gid;
	a.size = in->size;
	r = setattr_time(in->valid, FATTR_ATIME, FATTR_ATIME_NOW, in->atime, in->atimensec,
			 &a.atime);
	if (r == 0)
		r = setattr_time(in->valid, FATTR_MTIME, FATTR_MTIME_NOW, in->mtime, in->mtimensec,
				 &a.mtime);
	if (r == 0)
		r = FS_OPS(req)->setattr(FS_PRIV(req), &req->ctx, req->in.nodeid, &a, out);
	return fuse_reply_out(req, r, out, sizeof(*out));
}

int fuse_do_readlink(struct fuse_req *req)
{
	char buf[FUSE_TARGET_MAX + 1];
	size_t size = fuse_reply_room(req);
	int r;

	if (size > sizeof(buf))
		size = sizeof(buf);
	r = FS_OPS(req)->readlink(FS_PRIV(req), &req->ctx, req->in.nodeid, buf, size);
	if (r < 0)
		return r;
	if ((size_t)r > size)
		return -EIO;
	return fuse_reply(req, buf, (size_t)r, NULL, 0);
}

int fuse_do_symlink(struct fuse_req *req)
{
	struct fuse_entry_out *e = &req->out_arg.entry;
	const char *name, *target;
	struct fs_secctx sc;
	int r;

	r = fuse_cur_name(&req->args, &name);
	if (r == 0)
		r = fuse_cur_str(&req->args, FUSE_TARGET_MAX, &target);
	if (r == 0)
		r = fuse_ext_trailing_secctx(req, &sc);
	if (r == 0)
		r = FS_OPS(req)->symlink(FS_PRIV(req), &req->ctx, req->in.nodeid, name, target, e);
	return fuse_reply_entry(req, r, e, NULL);
}

int fuse_do_mknod(struct fuse_req *req)
{
	const struct fuse_mknod_in *in = &req->in_arg.mknod;
	struct fuse_entry_out *e = &req->out_arg.entry;
	struct fuse_new_node n;
	int r = fuse_read_new_node(req, in->umask, true, &n);

	if (r == 0)
		r = FS_OPS(req)->mknod(FS_PRIV(req), &req->ctx, req->in.nodeid, n.name, in->mode,
				       in->rdev, in->umask, e);
	return fuse_reply_entry(req, r, e, NULL);
}

int fuse_do_mkdir(struct fuse_req *req)
{
	const struct fuse_mkdir_in *in = &req->in_arg.mkdir;
	struct fuse_entry_out *e = &req->out_arg.entry;
	struct fuse_new_node n;
	int r = fuse_read_new_node(req, in->umask, true, &n);

	if (r == 0)
		r = FS_OPS(req)->mkdir(FS_PRIV(req), &req->ctx, req->in.nodeid, n.name, in->mode,
				       in->umask, e);
	return fuse_reply_entry(req, r, e, NULL);
}

int fuse_do_unlink(struct fuse_req *req)
{
	return fuse_do_name_op(req, FS_OPS(req)->unlink);
}

int fuse_do_rmdir(struct fuse_req *req)
{
	return fuse_do_name_op(req, FS_OPS(req)->rmdir);
}

static int do_rename_common(struct fuse_req *req, uint64_t newdir, uint32_t flags)
{
	const uint32_t known = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;
	const char *name, *newname;
	int r;

	if (flags & ~known)
		return -EINVAL;
	r = fuse_cur_name(&req->args, &name);
	if (r == 0)
		r = fuse_cur_name(&req->args, &newname);
	if (r < 0)
		return r;
	r = FS_OPS(req)->rename(FS_PRIV(req), &req->ctx, req->in.nodeid, name, newdir, newname,
				flags);
	return fuse_reply_status(req, r);
}

int fuse_do_rename(struct fuse_req *req)
{
	return do_rename_common(req, req->in_arg.rename.newdir, 0);
}

int fuse_do_rename2(struct fuse_req *req)
{
	return do_rename_common(req, req->in_arg.rename2.newdir, req->in_arg.rename2.flags);
}

int fuse_do_link(struct fuse_req *req)
{
	uint64_t oldnodeid = req->in_arg.link.oldnodeid;
	struct fuse_entry_out *e = &req->out_arg.entry;
	const char *name;
	int r;

	r = fuse_cur_name(&req->args, &name);
	if (r == 0)
		r = FS_OPS(req)->link(FS_PRIV(req), &req->ctx, oldnodeid, req->in.nodeid, name, e);
	return fuse_reply_entry(req, r, e, NULL);
}

int fuse_do_statfs(struct fuse_req *req)
{
	struct fuse_statfs_out *out = &req->out_arg.statfs;
	int r;

	r = FS_OPS(req)->statfs(FS_PRIV(req), &req->ctx, req->in.nodeid, out);
	return fuse_reply_out(req, r, out, sizeof(*out));
}

int fuse_do_access(struct fuse_req *req)
{
	int r;

	r = FS_OPS(req)->access(FS_PRIV(req), &req->ctx, req->in.nodeid, req->in_arg.access.mask);
	return fuse_reply_status(req, r);
}
