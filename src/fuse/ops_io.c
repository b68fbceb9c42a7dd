/* Handlers for open files and directories (CREATE and TMPFILE: a new file, opened): data goes
 * between the file and the transport's iovecs without a bounce buffer (READDIR excepted: entries
 * are built in a private buffer). */
#include "fuse/internal.h"
#include "fuse/dirent.h"
#include "fuse/ext.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The guest's open flags, with FS_OPEN_KILL_SUIDGID standing for FUSE_OPEN_KILL_SUIDGID. */
static uint32_t fuse_open_flags(const struct fuse_req *req, uint32_t flags, uint32_t open_flags)
{
	flags &= ~FS_OPEN_KILL_SUIDGID;
	if ((open_flags & FUSE_OPEN_KILL_SUIDGID) && (req->srv->flags & FUSE_HANDLE_KILLPRIV_V2))
		flags |= FS_OPEN_KILL_SUIDGID;
	return flags;
}

/* OPEN and OPENDIR. */
int fuse_do_open(struct fuse_req *req)
{
	const struct fuse_open_in *in = &req->in_arg.open;
	bool dir = req->in.opcode == FUSE_OPENDIR;
	struct fuse_open_out *out = &req->out_arg.open;
	int r;

	if (dir)
		r = FS_OPS(req)->opendir(FS_PRIV(req), &req->ctx, req->in.nodeid, in->flags, out);
	else
		r = FS_OPS(req)->open(FS_PRIV(req), &req->ctx, req->in.nodeid,
				      fuse_open_flags(req, in->flags, in->open_flags), out);
	return fuse_reply_out(req, r, out, sizeof(*out));
}

/* CREATE and TMPFILE: the same arguments. TMPFILE does not use the name after them (the kernel
 * sends "/" or nothing): the file has none. */
int fuse_do_create(struct fuse_req *req)
{
	const struct fuse_create_in *in = &req->in_arg.create;
	struct fuse_entry_out *e = &req->out_arg.create.e;
	struct fuse_open_out *o = &req->out_arg.create.o;
	bool tmp = req->in.opcode == FUSE_TMPFILE;
	struct fuse_new_node n;
	int r = fuse_read_new_node(req, in->umask, !tmp, &n);

	if (r == 0 && tmp)
		r = FS_OPS(req)->tmpfile(FS_PRIV(req), &req->ctx, req->in.nodeid, in->mode,
					 in->flags, in->umask, e, o);
	else if (r == 0)
		r = FS_OPS(req)->create(FS_PRIV(req), &req->ctx, req->in.nodeid, n.name, in->mode,
					fuse_open_flags(req, in->flags, in->open_flags), in->umask,
					e, o);
	return fuse_reply_entry(req, r, e, o);
}

/* What a READ or READDIR may send back: the size asked, within the reply room and max_pages. */
static size_t read_size(const struct fuse_req *req, uint32_t asked)
{
	size_t size = asked;

	if (size > fuse_reply_room(req))
		size = fuse_reply_room(req);
	if (size > FUSE_MAX_PAGES_VAL * FUSE_PAGE)
		size = FUSE_MAX_PAGES_VAL * FUSE_PAGE;
	return size;
}

int fuse_do_read(struct fuse_req *req)
{
	const struct fuse_read_in *in = &req->in_arg.read;
	size_t size = read_size(req, in->size);
	struct fuse_iov_tmp t;
	int r;

	/* The one slice of the reply space: the backend reads straight into it, no more. */
	r = fuse_iov_get(&t, req->out, req->out_cnt, sizeof(struct fuse_out_header), size);
	if (r < 0)
		return r;
	r = FS_OPS(req)->read(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->offset,
			      in->flags, &t.v);
	fuse_iov_put(&t);
	if (r < 0)
		return r;
	if ((size_t)r > size) {
		log_error_rl("READ unique=%llu: the filesystem returned %d bytes for %zu asked",
			  (unsigned long long)req->in.unique, r, size);
		return -EIO;
	}
	fuse_reply_hdr(req, (size_t)r);
	return 0;
}

int fuse_do_write(struct fuse_req *req)
{
	const size_t off = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in);
	const struct fuse_write_in *in = &req->in_arg.write;
	struct fuse_write_out *out = &req->out_arg.write;
	struct fuse_iov_tmp t;
	int r;

	if (in->size > req->arglen - sizeof(*in) || in->size > FUSE_MAX_WRITE) {
		log_warn_rl("WRITE unique=%llu: size %u but %zu payload bytes (max %u)",
			 (unsigned long long)req->in.unique, in->size, req->arglen - sizeof(*in),
			 FUSE_MAX_WRITE);
		return -EINVAL;
	}
	/* The payload stays in the transport: the backend writes exactly these size bytes
	 * straight to the file. (The check above bounds size by len, not by the buffer: bytes of
	 * the chain past len are not the request's.) */
	r = fuse_iov_get(&t, req->in_iov, req->in_cnt, off, in->size);
	if (r < 0)
		return r;
	r = FS_OPS(req)->write(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->offset,
			       in->write_flags, in->flags, &t.v);
	fuse_iov_put(&t);
	if (r < 0)
		return r;
	if ((uint32_t)r > in->size)
		return -EIO;
	out->size = (uint32_t)r;
	return fuse_reply(req, out, sizeof(*out), NULL, 0);
}

/* RELEASE and RELEASEDIR. */
int fuse_do_release(struct fuse_req *req)
{
	const struct fuse_release_in *in = &req->in_arg.release;
	int r;

	if (req->in.opcode == FUSE_RELEASEDIR)
		r = FS_OPS(req)->releasedir(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh,
					    in->flags);
	else
		r = FS_OPS(req)->release(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh,
					 in->flags, in->release_flags, in->lock_owner);
	return fuse_reply_status(req, r);
}

/* FSYNC and FSYNCDIR. */
int fuse_do_fsync(struct fuse_req *req)
{
	const struct fuse_fsync_in *in = &req->in_arg.fsync;
	bool datasync = in->fsync_flags & 1;
	int r;

	if (req->in.opcode == FUSE_FSYNCDIR)
		r = FS_OPS(req)->fsyncdir(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, datasync);
	else
		r = FS_OPS(req)->fsync(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, datasync);
	return fuse_reply_status(req, r);
}

int fuse_do_flush(struct fuse_req *req)
{
	const struct fuse_flush_in *in = &req->in_arg.flush;
	int r;

	r = FS_OPS(req)->flush(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->lock_owner);
	return fuse_reply_status(req, r);
}

/* READDIR and READDIRPLUS. */
int fuse_do_readdir(struct fuse_req *req)
{
	const struct fuse_read_in *in = &req->in_arg.read;
	bool plus = req->in.opcode == FUSE_READDIRPLUS;
	size_t size = read_size(req, in->size);
	struct fuse_dirbuf db;
	char *buf;
	int r;

	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	fuse_dirbuf_init(&db, buf, size, plus);
	r = FS_OPS(req)->readdir(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->offset, plus,
				 &db.sink);
	if (r == 0 && db.err < 0)
		r = db.err; /* a backend bug: do not send what it handed */
	if (r == 0)
		r = fuse_reply(req, db.buf, db.len, NULL, 0);
	free(buf);
	return r;
}

int fuse_do_fallocate(struct fuse_req *req)
{
	const struct fuse_fallocate_in *in = &req->in_arg.fallocate;
	int r;

	r = FS_OPS(req)->fallocate(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->mode,
				   in->offset, in->length);
	return fuse_reply_status(req, r);
}

int fuse_do_lseek(struct fuse_req *req)
{
	const struct fuse_lseek_in *in = &req->in_arg.lseek;
	struct fuse_lseek_out *out = &req->out_arg.lseek;
	uint64_t off = 0;
	int r;

	r = FS_OPS(req)->lseek(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh, in->offset,
			       in->whence, &off);
	out->offset = off;
	return fuse_reply_out(req, r, out, sizeof(*out));
}

int fuse_do_copy_file_range(struct fuse_req *req)
{
	/* The op returns an int byte count; the guest's kernel copes with short copies. */
	const uint64_t max_len = 1u << 30;
	const struct fuse_copy_file_range_in *in = &req->in_arg.copy_file_range;
	struct fuse_write_out *out = &req->out_arg.write;
	int r;

	r = FS_OPS(req)->copy_file_range(FS_PRIV(req), &req->ctx, req->in.nodeid, in->fh_in,
					 in->off_in, in->nodeid_out, in->fh_out, in->off_out,
					 in->len > max_len ? max_len : in->len, in->flags);
	if (r < 0)
		return r;
	out->size = (uint32_t)r;
	return fuse_reply(req, out, sizeof(*out), NULL, 0);
}
