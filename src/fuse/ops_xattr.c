/* Handlers for the optional opcodes: xattrs (with --xattr) and SYNCFS. */
#include "fuse/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

#include "log.h"

/* GETXATTR of name, or LISTXATTR when name is NULL. */
static int get_or_list(struct fuse_req *req, const char *name, char *buf, size_t size)
{
	if (name)
		return FS_OPS(req)->getxattr(FS_PRIV(req), &req->ctx, req->in.nodeid, name, buf,
					     size);
	return FS_OPS(req)->listxattr(FS_PRIV(req), &req->ctx, req->in.nodeid, buf, size);
}

/* GETXATTR and LISTXATTR share a reply shape: a size probe or the bytes themselves. */
static int reply_xattr_bytes(struct fuse_req *req, uint32_t size, const char *name)
{
	struct fuse_getxattr_out *out = &req->out_arg.getxattr;
	size_t bufsize = size;
	char *buf = NULL;
	int r;

	if (size == 0) {
		r = get_or_list(req, name, NULL, 0);
		if (r < 0)
			return r;
		out->size = (uint32_t)r;
		return fuse_reply(req, out, sizeof(*out), NULL, 0);
	}
	if (bufsize > XATTR_SIZE_MAX)
		bufsize = XATTR_SIZE_MAX;
	if (bufsize > fuse_reply_room(req))
		bufsize = fuse_reply_room(req);
	buf = malloc(bufsize ? bufsize : 1);
	if (!buf)
		return -ENOMEM;
	r = get_or_list(req, name, buf, bufsize);
	if (r >= 0 && (size_t)r > bufsize)
		r = -EIO;
	if (r >= 0)
		r = fuse_reply(req, buf, (size_t)r, NULL, 0);
	free(buf);
	return r;
}

int fuse_do_getxattr(struct fuse_req *req)
{
	const char *name;
	int r;

	r = fuse_cur_name(&req->args, &name);
	return r < 0 ? r : reply_xattr_bytes(req, req->in_arg.getxattr.size, name);
}

int fuse_do_listxattr(struct fuse_req *req)
{
	return reply_xattr_bytes(req, req->in_arg.getxattr.size, NULL);
}

int fuse_do_setxattr(struct fuse_req *req)
{
	/* The table takes the 8-byte layout; the 16-byte one once SETXATTR_EXT was agreed. */
	const struct fuse_setxattr_in *in = &req->in_arg.setxattr;
	const char *name;
	const void *value;
	int r;

	if ((req->srv->flags & FUSE_SETXATTR_EXT) &&
	    fuse_in_arg_more(req, sizeof(*in)) < sizeof(*in))
		return -EINVAL;
	r = fuse_cur_name(&req->args, &name);
	if (r < 0)
		return r;
	if (in->size > XATTR_SIZE_MAX)
		return -E2BIG;
	value = fuse_cur_take(&req->args, in->size);
	if (!value)
		return -EINVAL;
	r = FS_OPS(req)->setxattr(FS_PRIV(req), &req->ctx, req->in.nodeid, name, value, in->size,
				  in->flags, in->setxattr_flags);
	return fuse_reply_status(req, r);
}

int fuse_do_removexattr(struct fuse_req *req)
{
	return fuse_do_name_op(req, FS_OPS(req)->removexattr);
}

int fuse_do_syncfs(struct fuse_req *req)
{
	int r;

	r = FS_OPS(req)->syncfs(FS_PRIV(req), &req->ctx, req->in.nodeid);
	return fuse_reply_status(req, r);
}
