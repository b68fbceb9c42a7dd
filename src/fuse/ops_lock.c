/*
 * Handlers for locks (GETLK, SETLK, SETLKW).
 *
 * Locks are answered only when negotiated (POSIX_LOCKS for record locks, FLOCK_LOCKS for
 * flock): a guest that was not offered them locks locally and never sends these, so anything
 * else is refused with ENOSYS rather than served half-way.
 */
#include "fuse/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>

#include "log.h"

static int check_negotiated(const struct fuse_req *req, bool flock)
{
	uint64_t need = flock ? FUSE_FLOCK_LOCKS : FUSE_POSIX_LOCKS;

	if (!(req->srv->flags & need)) {
		log_debug("FUSE lock request unique=%llu: %s locks were not negotiated",
			  (unsigned long long)req->in.unique, flock ? "flock" : "POSIX");
		return -ENOSYS;
	}
	return 0;
}

/* The guest's lock description: a known type and a range inside off_t. */
static int check_lock(const struct fuse_req *req, const struct fuse_file_lock *lk, bool get)
{
	bool type_ok = lk->type == F_RDLCK || lk->type == F_WRLCK || (!get && lk->type == F_UNLCK);

	if (!type_ok || lk->start > INT64_MAX || lk->end > INT64_MAX || lk->start > lk->end) {
		log_debug("FUSE lock request unique=%llu: type %u range %llu-%llu refused",
			  (unsigned long long)req->in.unique, lk->type,
			  (unsigned long long)lk->start, (unsigned long long)lk->end);
		return -EINVAL;
	}
	return 0;
}

/* Check the request's fuse_lk_in and copy it into la. */
static int read_lk(struct fuse_req *req, bool get, struct fuse_lk_args *la)
{
	const struct fuse_lk_in *in = &req->in_arg.lk;
	int r;

	memset(la, 0, sizeof(*la));
	la->flock = !get && (in->lk_flags & FUSE_LK_FLOCK);
	if (in->lk_flags & ~(uint32_t)FUSE_LK_FLOCK)
		return -EINVAL;
	r = check_negotiated(req, la->flock);
	if (r == 0)
		r = check_lock(req, &in->lk, get);
	if (r < 0)
		return r;
	la->ino = req->in.nodeid;
	la->fh = in->fh;
	la->owner = in->owner;
	la->lk = in->lk;
	la->lk.pid = 0; /* the guest's pid means nothing on the host */
	return 0;
}

int fuse_do_getlk(struct fuse_req *req)
{
	struct fuse_lk_out *out = &req->out_arg.lk;
	struct fuse_lk_args la;
	int r;

	r = read_lk(req, true, &la);
	if (r < 0)
		return r;
	r = FS_OPS(req)->getlk(FS_PRIV(req), &req->ctx, la.ino, la.fh, la.owner, &la.lk, &out->lk);
	if (r < 0)
		return r;
	if (out->lk.type == F_UNLCK) {
		out->lk.start = out->lk.end = 0;
		out->lk.pid = 0;
	} else if (check_lock(req, &out->lk, true) < 0) {
		log_error_rl("GETLK unique=%llu: the filesystem answered a malformed lock",
			  (unsigned long long)req->in.unique);
		return -EIO;
	}
	return fuse_reply(req, out, sizeof(*out), NULL, 0);
}

/* SETLK and SETLKW (which may wait). */
int fuse_do_setlk(struct fuse_req *req)
{
	bool sleep = req->in.opcode == FUSE_SETLKW;
	struct fuse_lk_args la;
	int r;

	r = read_lk(req, false, &la);
	if (r < 0)
		return r;
	r = FS_OPS(req)->setlk(FS_PRIV(req), &req->ctx, la.ino, la.fh, la.owner, &la.lk, la.flock,
			       false);
	/* Most waits are granted at once: a waiter is only started on a real conflict. */
	if (r == -EAGAIN && sleep && la.lk.type != F_UNLCK) {
		r = fuse_wait_lock(req, &la);
		if (r == 0 && req->deferred)
			return 0;
	}
	return fuse_reply_status(req, r);
}
