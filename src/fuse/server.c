/*
 * FUSE server core: request framing checks, the INIT gate, dispatch by opcode table, reply
 * encoding. Per-opcode handlers live in ops_*.c.
 */
#include "fuse/internal.h"
#include "fuse/ext.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The fs_ops member an opcode's handler calls, for the dispatcher's ENOSYS check. */
#define FS_OP(member) (offsetof(struct fs_ops, member) + 1)
#define NO_OP 0

#define OP(code, fn_, in, out, op_)                                                                \
	[code] = {.fn = fn_, .name = &#code[5], .in_min = in, .out_min = out, .fs_op = op_}
#define OP_NOREPLY(code, fn_, in)                                                                  \
	[code] = {.fn = fn_, .name = &#code[5], .in_min = in, .noreply = true}
/* Served only with --xattr: ENOSYS otherwise, as for a backend without the op. */
#define OP_XATTR(code, fn_, in, op_)                                                               \
	[code] = {.fn = fn_, .name = &#code[5], .in_min = in, .fs_op = op_, .xattr = true}

static const struct fuse_optab opcodes[] = {
    OP(FUSE_LOOKUP, fuse_do_lookup, 0, sizeof(struct fuse_entry_out), FS_OP(lookup)),
    /* The backend's forget is optional: nothing is answered either way. */
    OP_NOREPLY(FUSE_FORGET, fuse_do_forget, sizeof(struct fuse_forget_in)),
    OP(FUSE_GETATTR, fuse_do_getattr, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out),
       FS_OP(getattr)),
    OP(FUSE_SETATTR, fuse_do_setattr, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out),
       FS_OP(setattr)),
    OP(FUSE_READLINK, fuse_do_readlink, 0, 0, FS_OP(readlink)),
    OP(FUSE_SYMLINK, fuse_do_symlink, 0, sizeof(struct fuse_entry_out), FS_OP(symlink)),
    OP(FUSE_MKNOD, fuse_do_mknod, sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out),
       FS_OP(mknod)),
    OP(FUSE_MKDIR, fuse_do_mkdir, sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out),
       FS_OP(mkdir)),
    OP(FUSE_UNLINK, fuse_do_unlink, 0, 0, FS_OP(unlink)),
    OP(FUSE_RMDIR, fuse_do_rmdir, 0, 0, FS_OP(rmdir)),
    OP(FUSE_RENAME, fuse_do_rename, sizeof(struct fuse_rename_in), 0, FS_OP(rename)),
    OP(FUSE_LINK, fuse_do_link, sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out),
       FS_OP(link)),
    OP(FUSE_OPEN, fuse_do_open, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out),
       FS_OP(open)),
    OP(FUSE_READ, fuse_do_read, sizeof(struct fuse_read_in), 0, FS_OP(read)),
    [FUSE_WRITE] = {.fn = fuse_do_write,
		    .name = "WRITE",
		    .in_min = sizeof(struct fuse_write_in),
		    .out_min = sizeof(struct fuse_write_out),
		    .fs_op = FS_OP(write),
		    .payload = true},
    OP(FUSE_STATFS, fuse_do_statfs, 0, sizeof(struct fuse_statfs_out), FS_OP(statfs)),
    OP(FUSE_RELEASE, fuse_do_release, sizeof(struct fuse_release_in), 0, FS_OP(release)),
    OP(FUSE_FSYNC, fuse_do_fsync, sizeof(struct fuse_fsync_in), 0, FS_OP(fsync)),
    OP_XATTR(FUSE_SETXATTR, fuse_do_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, FS_OP(setxattr)),
    OP_XATTR(FUSE_GETXATTR, fuse_do_getxattr, sizeof(struct fuse_getxattr_in), FS_OP(getxattr)),
    OP_XATTR(FUSE_LISTXATTR, fuse_do_listxattr, sizeof(struct fuse_getxattr_in),
	     FS_OP(listxattr)),
    OP_XATTR(FUSE_REMOVEXATTR, fuse_do_removexattr, 0, FS_OP(removexattr)),
    OP(FUSE_FLUSH, fuse_do_flush, sizeof(struct fuse_flush_in), 0, FS_OP(flush)),
    /* Kernels before 7.36 send the 16-byte fuse_init_in. */
    OP(FUSE_INIT, fuse_do_init, 16, sizeof(struct fuse_init_out), NO_OP),
    OP(FUSE_OPENDIR, fuse_do_open, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out),
       FS_OP(opendir)),
    OP(FUSE_READDIR, fuse_do_readdir, sizeof(struct fuse_read_in), 0, FS_OP(readdir)),
    OP(FUSE_RELEASEDIR, fuse_do_release, sizeof(struct fuse_release_in), 0,
       FS_OP(releasedir)),
    OP(FUSE_FSYNCDIR, fuse_do_fsync, sizeof(struct fuse_fsync_in), 0, FS_OP(fsyncdir)),
    OP(FUSE_ACCESS, fuse_do_access, sizeof(struct fuse_access_in), 0, FS_OP(access)),
    OP(FUSE_CREATE, fuse_do_create, sizeof(struct fuse_create_in),
       sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), FS_OP(create)),
    OP_NOREPLY(FUSE_INTERRUPT, fuse_do_interrupt, sizeof(struct fuse_interrupt_in)),
    OP(FUSE_DESTROY, fuse_do_destroy, 0, 0, NO_OP),
    OP_NOREPLY(FUSE_BATCH_FORGET, fuse_do_batch_forget, sizeof(struct fuse_batch_forget_in)),
    OP(FUSE_FALLOCATE, fuse_do_fallocate, sizeof(struct fuse_fallocate_in), 0, FS_OP(fallocate)),
    OP(FUSE_READDIRPLUS, fuse_do_readdir, sizeof(struct fuse_read_in), 0, FS_OP(readdir)),
    OP(FUSE_RENAME2, fuse_do_rename2, sizeof(struct fuse_rename2_in), 0, FS_OP(rename)),
    OP(FUSE_LSEEK, fuse_do_lseek, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out),
       FS_OP(lseek)),
    OP(FUSE_COPY_FILE_RANGE, fuse_do_copy_file_range, sizeof(struct fuse_copy_file_range_in),
       sizeof(struct fuse_write_out), FS_OP(copy_file_range)),
    OP(FUSE_SYNCFS, fuse_do_syncfs, sizeof(struct fuse_syncfs_in), 0, FS_OP(syncfs)),
    OP(FUSE_GETLK, fuse_do_getlk, sizeof(struct fuse_lk_in), sizeof(struct fuse_lk_out),
       FS_OP(getlk)),
    OP(FUSE_SETLK, fuse_do_setlk, sizeof(struct fuse_lk_in), 0, FS_OP(setlk)),
    OP(FUSE_SETLKW, fuse_do_setlk, sizeof(struct fuse_lk_in), 0, FS_OP(setlk)),
    OP(FUSE_TMPFILE, fuse_do_create, sizeof(struct fuse_create_in),
       sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out), FS_OP(tmpfile)),
    OP(FUSE_STATX, fuse_do_statx, sizeof(struct fuse_statx_in), sizeof(struct fuse_statx_out),
       FS_OP(statx)),
};

#define N_OPCODES (sizeof(opcodes) / sizeof(opcodes[0]))

const struct fuse_optab *fuse_optab_find(uint32_t opcode)
{
	if (opcode >= N_OPCODES || !opcodes[opcode].fn)
		return NULL;
	return &opcodes[opcode];
}

uint32_t fuse_optab_end(void)
{
	return (uint32_t)N_OPCODES;
}

bool fuse_optab_backed(const struct fuse_optab *op, const struct fs_ops *ops)
{
	void (*fn)(void);

	if (op->fs_op == NO_OP)
		return true;
	/* Every member of fs_ops is a function pointer; all share one representation. */
	memcpy(&fn, (const char *)ops + op->fs_op - 1, sizeof(fn));
	return fn != NULL;
}

/* ENOSYS for an op the backend lacks (or an xattr op without --xattr), before the handler. */
static int check_backed(const struct fuse_req *req, const struct fuse_optab *op)
{
	if (op->xattr && !req->srv->opts.xattr) {
		log_debug("FUSE %s unique=%llu: xattrs are off (--xattr)", op->name,
			  (unsigned long long)req->in.unique);
		return -ENOSYS;
	}
	if (!fuse_optab_backed(op, req->srv->ops)) {
		log_debug("FUSE %s unique=%llu: the filesystem does not implement it", op->name,
			  (unsigned long long)req->in.unique);
		return -ENOSYS;
	}
	return 0;
}

int fuse_server_new(const struct fs_ops *ops, void *fs, const struct fuse_server_opts *opts,
		    struct fuse_server **out)
{
	struct fuse_server *srv;
	int r;

	if (!ops)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->ops = ops;
	srv->fs = fs;
	if (opts)
		srv->opts = *opts;
	r = -pthread_mutex_init(&srv->lock, NULL);
	if (r < 0)
		goto out_free;
	r = fuse_waitq_new(&srv->waitq);
	if (r < 0) {
		pthread_mutex_destroy(&srv->lock);
		goto out_free;
	}
	atomic_init(&srv->phase, FUSE_PHASE_NEW);
	*out = srv;
	return 0;

out_free:
	free(srv);
	return r;
}

void fuse_server_free(struct fuse_server *srv)
{
	if (!srv)
		return;
	fuse_server_cancel(srv, NULL);
	fuse_waitq_free(srv->waitq);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}


void fuse_server_reset_locked(struct fuse_server *srv)
{
	if (atomic_load(&srv->phase) != FUSE_PHASE_READY)
		return;
	atomic_store(&srv->phase, FUSE_PHASE_NEW);
	srv->flags = 0;
	srv->minor = 0;
	/* From a queue thread (DESTROY, a new INIT) we cannot wait for the waiters' replies:
	 * the transport may need what this thread holds to take them. Wake them only. */
	fuse_waitq_wake_all(srv->waitq);
	if (srv->ops->destroy)
		srv->ops->destroy(srv->fs);
}

void fuse_server_reset(struct fuse_server *srv)
{
	/* Lock waits of the old session end (EINTR) before its files are dropped. */
	fuse_server_cancel(srv, NULL);
	pthread_mutex_lock(&srv->lock);
	fuse_server_reset_locked(srv);
	pthread_mutex_unlock(&srv->lock);
}

int fuse_do_destroy(struct fuse_req *req)
{
	pthread_mutex_lock(&req->srv->lock);
	fuse_server_reset_locked(req->srv);
	pthread_mutex_unlock(&req->srv->lock);
	return fuse_reply(req, NULL, 0, NULL, 0);
}

/*
 * Framing checks on the private header copy. Returns 0 and the argument length (without
 * extensions), or a negative errno for the reply.
 */
static int check_header(const struct fuse_req *req, size_t in_total, size_t *arglen)
{
	const struct fuse_in_header *h = &req->in;
	size_t ext = (size_t)h->total_extlen * 8;

	if (h->len < sizeof(*h)) {
		log_warn_rl("FUSE request unique=%llu: len %u shorter than the header",
			    (unsigned long long)h->unique, h->len);
		return -EINVAL;
	}
	if (h->len > FUSE_MAX_REQ) {
		log_warn_rl("FUSE request unique=%llu: len %u larger than the %u-byte limit",
			    (unsigned long long)h->unique, h->len, FUSE_MAX_REQ);
		return -ENOMEM;
	}
	if (h->len > in_total) {
		log_warn_rl("FUSE request unique=%llu: len %u past the %zu bytes the buffer holds",
			    (unsigned long long)h->unique, h->len, in_total);
		return -EINVAL;
	}
	if (ext > h->len - sizeof(*h)) {
		log_warn_rl("FUSE request unique=%llu: extensions (%zu bytes) past len %u",
			    (unsigned long long)h->unique, ext, h->len);
		return -EINVAL;
	}
	*arglen = h->len - sizeof(*h) - ext;
	return 0;
}

/* Is the opcode allowed in the current phase? INIT checks its own phase under the lock. */
static int check_phase(const struct fuse_req *req, const struct fuse_optab *op)
{
	if (req->in.opcode == FUSE_INIT)
		return 0;
	if (atomic_load_explicit(&req->srv->phase, memory_order_acquire) != FUSE_PHASE_READY) {
		log_debug("FUSE %s unique=%llu before INIT", op ? op->name : "?",
			  (unsigned long long)req->in.unique);
		return -EIO;
	}
	return 0;
}

/* The opcode's fixed argument into in_arg (in_min bytes, zeros after them), the cursor left on
 * what follows it (names, values); out_arg zeroed for the reply. */
static int take_fixed_arg(struct fuse_req *req, const struct fuse_optab *op)
{
	memset(&req->in_arg, 0, sizeof(req->in_arg));
	memset(&req->out_arg, 0, sizeof(req->out_arg));
	req->in_arg_len = op->in_min;
	/* dispatch() checked that the request holds in_min bytes; the table test that in_arg
	 * does. */
	return fuse_cur_read(&req->args, &req->in_arg, op->in_min);
}

size_t fuse_in_arg_more(struct fuse_req *req, size_t len)
{
	size_t n;

	if (len > sizeof(req->in_arg))
		len = sizeof(req->in_arg);
	if (len <= req->in_arg_len)
		return req->in_arg_len;
	n = len - req->in_arg_len;
	if (n > fuse_cur_remaining(&req->args))
		n = fuse_cur_remaining(&req->args);
	memcpy((char *)&req->in_arg + req->in_arg_len, fuse_cur_take(&req->args, n), n);
	req->in_arg_len += n;
	return req->in_arg_len;
}

/* Copy the arguments out of the transport and call the opcode's handler (fuse_handler_fn). */
static int call_op(struct fuse_req *req, const struct fuse_optab *op)
{
	uint64_t small[512]; /* 4 KiB covers every request but large SETXATTRs */
	struct fuse_ext_area ext;
	size_t copy = op->payload ? op->in_min : req->arglen;
	void *buf = small;
	size_t got;
	int r;

	if (copy > sizeof(small)) {
		buf = malloc(copy);
		if (!buf)
			return -ENOMEM;
	}
	got = iov_copy_from(req->in_iov, req->in_cnt, sizeof(req->in), buf, copy);
	if (got != copy) {
		r = -EINVAL; /* cannot happen: len was checked against the buffer */
		goto out_free;
	}
	fuse_cur_init(&req->args, buf, copy);
	r = fuse_ext_load(req, op->payload, &ext);
	if (r == 0)
		r = take_fixed_arg(req, op);
	if (r == 0)
		r = check_backed(req, op);
	if (r == 0)
		r = op->fn(req);
	fuse_ext_release(&ext);
out_free:
	if (buf != small)
		free(buf);
	return r;
}

static int dispatch(struct fuse_req *req, const struct fuse_optab *op)
{
	if (req->arglen < op->in_min) {
		log_debug("FUSE %s unique=%llu: %zu argument bytes, need %u", op->name,
			  (unsigned long long)req->in.unique, req->arglen, op->in_min);
		return -EINVAL;
	}
	if (!op->noreply && fuse_reply_room(req) < op->out_min) {
		log_warn_rl("FUSE %s unique=%llu: reply buffer of %zu bytes too small", op->name,
			    (unsigned long long)req->in.unique, req->out_cap);
		return -EINVAL;
	}
	req->ctx.uid = req->in.uid;
	req->ctx.gid = req->in.gid;
	req->ctx.pid = req->in.pid;
	req->ctx.umask = 0;
	log_debug("FUSE %s unique=%llu nodeid=%llu len=%u", op->name,
		  (unsigned long long)req->in.unique, (unsigned long long)req->in.nodeid,
		  req->in.len);
	return call_op(req, op);
}

size_t fuse_server_handle(struct fuse_server *srv, const struct iovec *in, unsigned in_cnt,
			  const struct iovec *out, unsigned out_cnt)
{
	return fuse_server_handle_async(srv, in, in_cnt, out, out_cnt, NULL);
}

size_t fuse_server_handle_async(struct fuse_server *srv, const struct iovec *in, unsigned in_cnt,
				const struct iovec *out, unsigned out_cnt,
				const struct fuse_async *a)
{
	struct fuse_req req = {
	    .srv = srv,
	    .in_iov = in,
	    .in_cnt = in_cnt,
	    .out = out,
	    .out_cnt = out_cnt,
	    .async = a,
	};
	const struct fuse_optab *op;
	size_t in_total;
	int r;

	if (iov_total(in, in_cnt, &in_total) < 0 || iov_total(out, out_cnt, &req.out_cap) < 0) {
		log_warn_rl("FUSE request: its buffer lengths overflow a size_t: dropped");
		return 0; /* not a buffer a transport can hand over: nowhere to reply */
	}
	if (iov_copy_from(in, in_cnt, 0, &req.in, sizeof(req.in)) < sizeof(req.in)) {
		log_warn_rl("FUSE request of %zu bytes shorter than its header", in_total);
		memset(&req.in, 0, sizeof(req.in));
		fuse_reply_err(&req, -EINVAL);
		return req.reply_len;
	}
	op = fuse_optab_find(req.in.opcode);
	if (op && op->noreply) {
		req.out_cap = 0; /* whatever room there is, these are never answered */
	} else if (req.out_cap < sizeof(struct fuse_out_header)) {
		log_warn_rl("FUSE opcode %u unique=%llu: no room for a reply (%zu bytes), dropped",
			    req.in.opcode, (unsigned long long)req.in.unique, req.out_cap);
		return 0;
	}
	r = check_header(&req, in_total, &req.arglen);
	if (r == 0)
		r = check_phase(&req, op);
	if (r == 0 && !op) {
		log_debug("FUSE opcode %u unique=%llu not implemented", req.in.opcode,
			  (unsigned long long)req.in.unique);
		r = -ENOSYS;
	}
	if (r == 0)
		r = dispatch(&req, op);
	if (r == 0 && req.deferred)
		return FUSE_DEFERRED;
	if (r < 0 && !(op && op->noreply))
		fuse_reply_err(&req, r);
	return req.reply_len;
}
