/*
 * The passthrough filesystem: every guest inode is an O_PATH fd on the host, and every
 * operation is an *at() call relative to such an fd, so a guest name is never a path: it is
 * one checked component below a directory we already hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "fs/pt_internal.h"
#include "fs/pt_ext.h"

/*
 * fds kept out of the guest's reach for the daemon itself, as the reference sizes it: one per
 * possible guest memory region (vhost-user's 509 slots), 100 for sockets, eventfds, logs and
 * the short-lived reopens of requests, and one per worker thread.
 */
#define PT_FD_RESERVE_SLOTS 509
#define PT_FD_RESERVE_MISC 100

int pt_stat(int fd, struct statx *stx)
{
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_MNT_ID, stx) < 0)
		return -errno;
	if (!(stx->stx_mask & STATX_MNT_ID))
		stx->stx_mnt_id = 0;
	return 0;
}

void pt_key_of(const struct statx *stx, struct pt_key *k)
{
	k->dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
	k->ino = stx->stx_ino;
	k->mnt_id = stx->stx_mnt_id;
}

void pt_fill_attr(const struct statx *stx, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = stx->stx_ino;
	a->size = stx->stx_size;
	a->blocks = stx->stx_blocks;
	a->atime = (uint64_t)stx->stx_atime.tv_sec;
	a->mtime = (uint64_t)stx->stx_mtime.tv_sec;
	a->ctime = (uint64_t)stx->stx_ctime.tv_sec;
	a->atimensec = stx->stx_atime.tv_nsec;
	a->mtimensec = stx->stx_mtime.tv_nsec;
	a->ctimensec = stx->stx_ctime.tv_nsec;
	a->mode = stx->stx_mode;
	a->nlink = stx->stx_nlink;
	a->uid = stx->stx_uid;
	a->gid = stx->stx_gid;
	/* The low 32 bits of glibc's dev_t are the kernel's new_encode_dev(), which FUSE uses. */
	a->rdev = (uint32_t)makedev(stx->stx_rdev_major, stx->stx_rdev_minor);
	a->blksize = stx->stx_blksize;
}

static void fill_entry(struct pt_fs *fs, const struct pt_inode *parent, uint64_t id,
		       const struct statx *stx, struct fuse_entry_out *out)
{
	memset(out, 0, sizeof(*out));
	out->nodeid = id;
	out->entry_valid = fs->timeout;
	out->attr_valid = fs->timeout;
	pt_fill_attr(stx, &out->attr);
	pt_attr_to_guest(fs, &out->attr);
	if (fs->submounts && parent && S_ISDIR(stx->stx_mode) && stx->stx_mnt_id != 0 &&
	    stx->stx_mnt_id != parent->key.mnt_id)
		out->attr.flags |= FUSE_ATTR_SUBMOUNT;
}

int pt_entry_from_fd_stat(struct pt_fs *fs, struct pt_inode *parent, int fd,
			  const struct statx *stx, struct fuse_entry_out *out)
{
	struct pt_key key;
	uint64_t id;
	int r;

	pt_key_of(stx, &key);
	r = pt_inode_insert(fs, fd, &key, stx->stx_mode, false, &id);
	if (r < 0)
		return r;
	fill_entry(fs, parent, id, stx, out);
	return 0;
}

int pt_entry_from_fd(struct pt_fs *fs, struct pt_inode *parent, int fd,
		     struct fuse_entry_out *out)
{
	struct statx stx;
	int r = pt_stat(fd, &stx);

	if (r < 0) {
		pt_fd_close(fs, fd);
		return r;
	}
	return pt_entry_from_fd_stat(fs, parent, fd, &stx, out);
}

int pt_entry_of_open_fd(struct pt_fs *fs, struct pt_inode *parent, int fd, struct statx *stx,
			struct fuse_entry_out *out)
{
	struct pt_key key;
	uint64_t id;
	int r = pt_stat(fd, stx);

	if (r < 0)
		return r;
	pt_key_of(stx, &key);
	r = pt_inode_insert_fh(fs, fd, &key, stx->stx_mode, &id);
	if (r != 0)
		return r;
	fill_entry(fs, parent, id, stx, out);
	return 0;
}

int pt_lookup_new_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		     struct fuse_entry_out *out)
{
	int r, fd;

	r = pt_fd_reserve(fs);
	if (r < 0)
		return r;
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		pt_fd_unreserve(fs);
		return r;
	}
	return pt_entry_from_fd(fs, parent, fd, out);
}

/*
 * The handle of a name, for matching a known inode only. NULL (no error) when this filesystem
 * has none: the table then matches entries that hold their inode open, by key alone.
 */
static int handle_of_name(int dirfd, const char *name, union pt_fh_buf *b,
			  struct file_handle **out)
{
	int mnt_id;

	b->fh.handle_bytes = MAX_HANDLE_SZ;
	/* flags 0: a symlink's own handle, never its target's. */
	if (name_to_handle_at(dirfd, name, &b->fh, &mnt_id, 0) < 0) {
		if (errno == EOPNOTSUPP || errno == EOVERFLOW) {
			*out = NULL;
			return 0;
		}
		return -errno;
	}
	if (b->fh.handle_bytes > MAX_HANDLE_SZ)
		return -EOVERFLOW;
	*out = &b->fh;
	return 0;
}

/*
 * A LOOKUP or READDIRPLUS entry usually names an inode the table holds: the name's statx and,
 * with handles, its handle identify it without opening anything. Only a new inode is opened,
 * and then its identity comes from the new fd (pt_entry_from_fd), never from this statx: the
 * name may have been swapped in between. The attributes returned with a known id are this
 * statx's, of the very inode the id names (same key; with handles, same handle). No call
 * follows a symlink (AT_SYMLINK_NOFOLLOW, flags 0, O_NOFOLLOW), and AT_NO_AUTOMOUNT as O_PATH
 * triggers none either.
 */
int pt_lookup_plus_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		      struct fuse_entry_out *out)
{
	struct file_handle *fh = NULL;
	union pt_fh_buf hb;
	struct statx stx;
	struct pt_key key;
	uint64_t id;
	int r;

	if (statx(parent->fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_AS_STAT,
		  STATX_BASIC_STATS | STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		stx.stx_mnt_id = 0;
	if (fs->use_handles) {
		r = handle_of_name(parent->fd, name, &hb, &fh);
		if (r < 0)
			return pt_lookup_new_at(fs, parent, name, out);
	}
	pt_key_of(&stx, &key);
	if (pt_inode_find_known(fs, &key, fh, &id) < 0)
		return pt_lookup_new_at(fs, parent, name, out);
	fill_entry(fs, parent, id, &stx, out);
	return 0;
}

/*
 * With handles, a LOOKUP still opens the name first: an inode kept as a handle usually has no
 * fd cached (64 are), the request that follows a LOOKUP (GETATTR, OPEN) needs one, and the
 * lookup's own fd, adopted, costs less than an open_by_handle_at then (vufs-bench lookup, tmpfs:
 * 5.9 against 5.0 us of daemon CPU per LOOKUP + GETATTR with the statx-first path).
 */
int pt_lookup_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		 struct fuse_entry_out *out)
{
	if (fs->use_handles)
		return pt_lookup_new_at(fs, parent, name, out);
	return pt_lookup_plus_at(fs, parent, name, out);
}

/* "." (and ".." of the root, which never leads out of the shared directory) is the parent. */
static int lookup_self(struct pt_fs *fs, struct pt_inode *in, uint64_t id,
		       struct fuse_entry_out *out)
{
	struct statx stx;
	int r;

	r = pt_stat(in->fd, &stx);
	if (r < 0)
		return r;
	pt_inode_count_lookup(fs, in);
	fill_entry(fs, NULL, id, &stx, out);
	return 0;
}

static int pt_lookup(void *fsp, const struct fs_ctx *c, uint64_t parent, const char *name,
		     struct fuse_entry_out *out)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *p;
	int r;

	r = pt_inode_get(fs, parent, &p);
	if (r < 0)
		return r;
	if (!S_ISDIR(p->type))
		r = -ENOTDIR;
	else if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && p->pinned))
		r = lookup_self(fs, p, parent, out);
	else if (strcmp(name, "..") == 0)
		r = pt_lookup_at(fs, p, name, out);
	else if ((r = fs_name_check(name)) == 0)
		r = pt_lookup_at(fs, p, name, out);
	pt_inode_put(fs, p);
	return r;
}

static void pt_forget(void *fsp, uint64_t ino, uint64_t nlookup)
{
	pt_inode_forget(fsp, ino, nlookup);
}

static int pt_readlink(void *fsp, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *in;
	ssize_t n;
	int r;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	if (!S_ISLNK(in->type)) {
		pt_inode_put(fs, in);
		return -EINVAL;
	}
	if (size > INT32_MAX)
		size = INT32_MAX;
	n = readlinkat(in->fd, "", buf, size);
	r = n < 0 ? -errno : (int)n;
	pt_inode_put(fs, in);
	return r;
}

static int pt_statfs(void *fsp, const struct fs_ctx *c, uint64_t ino, struct fuse_statfs_out *out)
{
	struct pt_fs *fs = fsp;
	struct pt_inode *in;
	struct statvfs sv;
	int r;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	r = fstatvfs(in->fd, &sv) < 0 ? -errno : 0;
	pt_inode_put(fs, in);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->st.blocks = sv.f_blocks;
	out->st.bfree = sv.f_bfree;
	out->st.bavail = sv.f_bavail;
	out->st.files = sv.f_files;
	out->st.ffree = sv.f_ffree;
	out->st.bsize = (uint32_t)sv.f_bsize;
	out->st.namelen = (uint32_t)sv.f_namemax;
	out->st.frsize = (uint32_t)sv.f_frsize;
	return 0;
}

static int pt_access(void *fsp, const struct fs_ctx *c, uint64_t ino, uint32_t mask)
{
	struct pt_fs *fs = fsp;
	struct pt_creds cr;
	struct pt_inode *in;
	int r;

	if (mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((mask & W_OK) && fs->opts.readonly)
		return -EROFS;
	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	r = pt_creds_enter(fs, c, UINT32_MAX, &cr);
	if (r == 0) {
		r = faccessat(in->fd, "", (int)mask, AT_EMPTY_PATH | AT_EACCESS) < 0 ? -errno : 0;
		pt_creds_leave(fs, &cr);
	}
	pt_inode_put(fs, in);
	return r;
}

/* The guest's share of RLIMIT_NOFILE: what is left after the reserve. A limit too small to
 * hold the reserve (tests) still leaves the daemon a quarter. */
static long fd_limit_now(const struct pt_fs *fs)
{
	long reserve = PT_FD_RESERVE_SLOTS + PT_FD_RESERVE_MISC + (long)fs->opts.thread_pool_size;
	struct rlimit rl;
	rlim_t cur = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		cur = rl.rlim_cur;
	if (cur == RLIM_INFINITY || cur > (1u << 24))
		cur = 1u << 24;
	if ((long)cur >= 2 * reserve)
		return (long)cur - reserve;
	return (long)cur * 3 / 4;
}

static int pt_init(void *fsp, const struct fs_conn *conn, uint64_t *want)
{
	struct pt_fs *fs = fsp;

	if (fs->opts.announce_submounts && (conn->flags & FUSE_SUBMOUNTS))
		*want |= FUSE_SUBMOUNTS;
	fs->submounts = fs->opts.announce_submounts && (*want & FUSE_SUBMOUNTS);
	fs->writeback = *want & FUSE_WRITEBACK_CACHE;
	fs->conn_flags = *want;
	/* The sandbox may have changed RLIMIT_NOFILE since fs_passthrough_new(). */
	fs->fd_limit = fd_limit_now(fs);
	return 0;
}

static void pt_destroy(void *fsp)
{
	struct pt_fs *fs = fsp;

	pt_locks_clear(fs);
	pt_handle_release_all(fs);
	pt_inode_forget_all(fs);
}

static int open_root(struct pt_fs *fs, const char *dir)
{
	struct statx stx;
	struct pt_key key;
	uint64_t id;
	int fd, r;

	fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("opening shared directory %s failed: %s", dir, strerror(errno));
		return r;
	}
	r = pt_stat(fd, &stx);
	if (r < 0) {
		log_error("stat of shared directory %s failed: %s", dir, strerror(-r));
		close(fd);
		return r;
	}
	r = pt_fh_setup(fs, fd, dir);
	if (r < 0) {
		close(fd);
		return r;
	}
	pt_key_of(&stx, &key);
	atomic_fetch_add(&fs->nfds, 1);
	r = pt_inode_insert(fs, fd, &key, stx.stx_mode, true, &id);
	if (r == 0 && id != FUSE_ROOT_ID)
		r = -EINVAL; /* the first slot is the root's by construction */
	return r;
}

static uint64_t cache_timeout(enum cache_mode m)
{
	switch (m) {
	case CACHE_NEVER:
		return 0;
	case CACHE_ALWAYS:
	case CACHE_METADATA:
		return 86400;
	case CACHE_AUTO:
	default:
		return 1;
	}
}

int fs_passthrough_new(const struct fs_passthrough_opts *opts, void **out)
{
	struct pt_fs *fs;
	int r;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->opts = *opts;
	fs->opts.root_dir = NULL; /* not kept: the caller owns the string */
	fs->proc_fd = opts->proc_self_fd;
	if (fs->proc_fd < 0) {
		fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fs->proc_fd < 0) {
			r = -errno;
			log_error("opening /proc/self/fd failed: %s", strerror(errno));
			free(fs);
			return r;
		}
		fs->own_proc_fd = true;
	}
	fs->euid = geteuid();
	fs->egid = getegid();
	fs->switch_creds = fs->euid == 0;
	fs->timeout = cache_timeout(opts->cache);
	fs->fd_limit = fd_limit_now(fs);
	pt_htable_init(&fs->handles);
	r = pt_locks_new(&fs->locks);
	if (r == 0)
		r = pt_itable_init(&fs->inodes);
	if (r == 0)
		r = open_root(fs, opts->root_dir);
	if (r < 0) {
		fs_passthrough_free(fs);
		return r;
	}
	*out = fs;
	return 0;
}

void fs_passthrough_free(void *fsp)
{
	struct pt_fs *fs = fsp;

	if (!fs)
		return;
	pt_locks_free(fs);
	if (fs->inodes.buckets)
		pt_itable_fini(fs);
	pt_htable_fini(fs);
	pt_fh_fini(fs);
	if (fs->own_proc_fd)
		close(fs->proc_fd);
	free(fs);
}

bool fs_passthrough_uses_handles(const void *fsp)
{
	const struct pt_fs *fs = fsp;

	return fs && fs->use_handles;
}

const struct fs_ops fs_passthrough_ops = {
	.init = pt_init,
	.destroy = pt_destroy,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.readlink = pt_readlink,
	.symlink = pt_symlink,
	.mknod = pt_mknod,
	.mkdir = pt_mkdir,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.rename = pt_rename,
	.link = pt_link,
	.open = pt_open,
	.create = pt_create,
	.read = pt_read,
	.write = pt_write,
	.statfs = pt_statfs,
	.release = pt_release,
	.fsync = pt_fsync,
	.flush = pt_flush,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.releasedir = pt_releasedir,
	.fsyncdir = pt_fsync,
	.access = pt_access,
	.fallocate = pt_fallocate,
	.lseek = pt_lseek,
	.copy_file_range = pt_copy_file_range,
	.syncfs = pt_syncfs,
	.tmpfile = pt_tmpfile,
	.statx = pt_statx,
	.getlk = pt_getlk,
	.setlk = pt_setlk,
	.getxattr = pt_getxattr,
	.setxattr = pt_setxattr,
	.listxattr = pt_listxattr,
	.removexattr = pt_removexattr,
	.mig_save = pt_mig_save,
	.mig_load = pt_mig_load,
};
