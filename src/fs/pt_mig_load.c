/*
 * Migration destination: a checked struct mig_state becomes the passthrough's inodes and
 * handles, under the source's ids.
 *
 * Inodes are opened parents first (by depth in the Path tree), each Path child from its
 * parent's fd with O_PATH | O_NOFOLLOW, a FullPath or mount path one component at a time from
 * the shared directory (a symlink on the way fails the open: nothing outside the share is
 * reached), a file handle on an fd of its mount (in file-handles mode only: a handle can name
 * a file outside the share). Every inode is adopted with the source's refcount, which holds
 * one reference for each Path child; when all are open those are dropped, so the guest's count
 * remains (an inode the source named only as a parent goes).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "fs/pt_internal.h"
#include "fs/pt_mig.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif

struct load_ctx {
	struct pt_fs *fs;
	const struct fs_mig_opts *o;
	const struct mig_state *s;
	int root_fd;
	int *mount_fds; /* per s->mounts entry, -1 when its path could not be opened */
	char *why;
	size_t whylen;
};

/* Opens rel (components without '.', '..' or empty ones: mig_state_check) below dirfd, never
 * following a symlink; the last component with flags. */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	char *copy = strdup(rel), *save = NULL, *comp, *next;
	int cur = dirfd, fd = -ENOMEM;

	if (!copy)
		return -ENOMEM;
	for (comp = strtok_r(copy, "/", &save); comp; comp = next) {
		next = strtok_r(NULL, "/", &save);
		fd = openat(cur, comp,
			    (next ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
		if (cur != dirfd)
			close(cur);
		if (fd < 0)
			break;
		cur = fd;
	}
	free(copy);
	return fd;
}

static int fh_matches(int fd, const struct mig_fh *want)
{
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} b;
	int mnt_id;

	b.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &b.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	/* The mount id is the source host's: only type and bytes are compared */
	if (b.fh.handle_type != want->type || b.fh.handle_bytes != want->len ||
	    memcmp(b.fh.f_handle, want->bytes, want->len) != 0)
		return -ESTALE;
	return 0;
}

/* A file handle names any inode of its mount's file system, inside the shared directory or
 * not, and nothing can tell which: a destination opens handles only when its administrator
 * chose file-handles mode, never because a source sent them. Elsewhere the inode is lost, as
 * one the source sent as Invalid (--migration-on-error decides). */
static int open_by_fh(struct load_ctx *c, const struct mig_fh *m, const char **why)
{
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + MIG_HANDLE_SZ];
	} b;
	size_t k;
	int fd;

	if (c->o->mode != FS_MIG_FILE_HANDLES) {
		*why = "it is sent as a file handle, which can name a file outside the shared "
		       "directory: this daemon opens file handles only with "
		       "--migration-mode=file-handles";
		return -EPERM;
	}
	for (k = 0; k < c->s->nmounts && c->s->mounts[k].mnt_id != m->mnt_id; k++)
		;
	if (k == c->s->nmounts || c->mount_fds[k] < 0) {
		*why = k == c->s->nmounts ? "the source sent no path for its mount"
					  : "its mount's path could not be opened";
		return -ENOENT;
	}
	b.fh.handle_bytes = m->len;
	b.fh.handle_type = m->type;
	memcpy(b.fh.f_handle, m->bytes, m->len);
	fd = open_by_handle_at(c->mount_fds[k], &b.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		*why = "open_by_handle_at";
	return fd < 0 ? -errno : fd;
}

/* An O_PATH fd of the inode the state describes, or -errno with *why. */
static int open_location(struct load_ctx *c, const struct mig_inode *m, const char **why)
{
	struct pt_inode *parent;
	int fd;

	switch (m->loc) {
	case MIG_LOC_PATH:
		if (pt_inode_get(c->fs, m->parent, &parent) < 0) {
			*why = "its parent could not be opened";
			return -ENOENT;
		}
		fd = openat(parent->fd, m->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		fd = fd < 0 ? -errno : fd;
		pt_inode_put(c->fs, parent);
		*why = "opening its name in its parent";
		return fd;
	case MIG_LOC_FULL_PATH:
		*why = "opening its path";
		return open_beneath(c->root_fd, m->name, O_PATH);
	case MIG_LOC_FILE_HANDLE:
		return open_by_fh(c, m->fh, why);
	default:
		*why = "the source lost it";
		return -ENOENT;
	}
}

static int fail(struct load_ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, c->whylen, fmt, ap);
	va_end(ap);
	return r;
}

static int load_inode(struct load_ctx *c, const struct mig_inode *m)
{
	const char *why = "";
	struct statx stx;
	struct pt_key key;
	int fd, r = pt_fd_reserve(c->fs);

	if (r < 0)
		return fail(c, -EIO, "inode %" PRIu64 ": over the fd budget", m->id);
	fd = open_location(c, m, &why);
	if (fd >= 0 && (r = pt_stat(fd, &stx)) < 0)
		why = "statx";
	if (fd >= 0 && r == 0 && m->check_fh && (r = fh_matches(fd, m->check_fh)) < 0)
		why = "its file handle differs from the source's (--migration-verify-handles)";
	if (fd >= 0 && r < 0) {
		close(fd);
		fd = r;
	}
	if (fd < 0) {
		pt_fd_unreserve(c->fs);
		if (c->o->on_error == FS_MIG_ABORT)
			return fail(c, -EIO, "inode %" PRIu64 ": %s: %s", m->id, why,
				    strerror(-fd));
		log_warn("migration: inode %" PRIu64 " is lost (every use fails): %s: %s", m->id,
			 why, strerror(-fd));
		return pt_inode_adopt(c->fs, m->id, -1, NULL, 0, m->refcount);
	}
	pt_key_of(&stx, &key);
	r = pt_inode_adopt(c->fs, m->id, fd, &key, stx.stx_mode, m->refcount);
	return r < 0 ? fail(c, r, "inode %" PRIu64 ": %s", m->id, strerror(-r)) : 0;
}

struct ix {
	uint64_t key; /* an id, then a depth */
	size_t i;
};

static int cmp_ix(const void *a, const void *b)
{
	const struct ix *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Index of the parent of inode i (a Path: it exists, mig_state_check). */
static size_t parent_of(const struct mig_state *s, const struct ix *by_id, size_t i)
{
	struct ix key = {s->inodes[i].parent, 0};
	const struct ix *lo = by_id, *hi = by_id + s->ninodes;

	while (lo < hi) { /* lower bound: ids are unique, index 0 sorts first */
		const struct ix *mid = lo + (hi - lo) / 2;

		if (cmp_ix(mid, &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo->i;
}

/*
 * The inodes in an order that opens every parent before its children: by depth in the Path
 * tree (0: root, full path, handle, invalid). Parents exist and form no cycle
 * (mig_state_check), so each walk up ends; depths already known end it early.
 */
static int sort_by_depth(const struct mig_state *s, size_t **out)
{
	size_t n = s->ninodes, *order = malloc((n ? n : 1) * sizeof(*order));
	struct ix *by_id = malloc((n ? n : 1) * sizeof(*by_id));
	uint64_t *depth = calloc(n ? n : 1, sizeof(*depth)); /* depth + 1, 0: not known yet */

	if (!order || !by_id || !depth) {
		free(order);
		free(by_id);
		free(depth);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		by_id[i] = (struct ix){s->inodes[i].id, i};
	qsort(by_id, n, sizeof(*by_id), cmp_ix);
	for (size_t i = 0; i < n; i++) {
		uint64_t d = 0;
		size_t k = i;

		while (!depth[k] && s->inodes[k].loc == MIG_LOC_PATH) {
			k = parent_of(s, by_id, k);
			d++;
		}
		d += depth[k] ? depth[k] : 1; /* the depth + 1 of where the walk ended */
		for (k = i; !depth[k]; k = parent_of(s, by_id, k), d--) {
			depth[k] = d;
			if (s->inodes[k].loc != MIG_LOC_PATH)
				break;
		}
	}
	for (size_t i = 0; i < n; i++)
		by_id[i] = (struct ix){depth[i], i};
	qsort(by_id, n, sizeof(*by_id), cmp_ix);
	for (size_t i = 0; i < n; i++)
		order[i] = by_id[i].i;
	free(by_id);
	free(depth);
	*out = order;
	return 0;
}

static void open_mounts(struct load_ctx *c)
{
	for (size_t k = 0; k < c->s->nmounts; k++) {
		const char *p = c->s->mounts[k].path;
		int fd = strcmp(p, ".") == 0
			     ? pt_proc_open(c->fs, c->root_fd, O_RDONLY | O_DIRECTORY)
			     : open_beneath(c->root_fd, p, O_RDONLY | O_DIRECTORY);

		c->mount_fds[k] = fd;
		if (fd < 0)
			log_warn("migration: mount path %s (source mount id %" PRIu64
				 ") could not be opened: %s; its inodes cannot be found",
				 p, c->s->mounts[k].mnt_id, strerror(-fd));
	}
}

static int load_handle(struct load_ctx *c, const struct mig_handle *m)
{
	struct pt_inode *in;
	int hflags, fd, r;

	r = pt_inode_get(c->fs, m->inode, &in);
	if (r < 0) {
		fd = r;
		goto out_fail;
	}
	r = pt_open_flags(c->fs, (uint32_t)(m->flags & ~MIG_HANDLE_BAD_FLAGS), &hflags);
	if (r == 0)
		r = pt_fd_reserve(c->fs);
	fd = r < 0 ? r : pt_open_inode(c->fs, in, hflags);
	if (r == 0 && fd < 0)
		pt_fd_unreserve(c->fs);
	pt_inode_put(c->fs, in);
	if (fd >= 0) {
		r = pt_handle_adopt(c->fs, m->id, fd, m->inode);
		return r < 0 ? fail(c, r, "handle %" PRIu64 ": %s", m->id, strerror(-r)) : 0;
	}
out_fail:
	if (c->o->on_error == FS_MIG_ABORT)
		return fail(c, -EIO, "handle %" PRIu64 " (inode %" PRIu64 ", flags 0%o): %s", m->id,
			    m->inode, (unsigned)m->flags, strerror(-fd));
	log_warn("migration: handle %" PRIu64 " (inode %" PRIu64 ") is lost: %s", m->id, m->inode,
		 strerror(-fd));
	return 0;
}

static int load_all(struct load_ctx *c, const size_t *order)
{
	const struct mig_state *s = c->s;
	int r = 0;

	for (size_t k = 0; k < s->ninodes && r == 0; k++) {
		const struct mig_inode *m = &s->inodes[order[k]];

		if (m->loc == MIG_LOC_ROOT)
			r = m->check_fh && fh_matches(c->root_fd, m->check_fh) < 0
				? fail(c, -EIO,
				       "the shared directory is not the source's "
				       "(its file handle differs)")
				: 0;
		else
			r = load_inode(c, m);
	}
	/* The source counted one reference for each Path child: dropped now they are open. */
	for (size_t i = 0; i < s->ninodes && r == 0; i++)
		if (s->inodes[i].loc == MIG_LOC_PATH)
			pt_inode_forget(c->fs, s->inodes[i].parent, 1);
	for (size_t i = 0; i < s->nhandles && r == 0; i++)
		r = load_handle(c, &s->handles[i]);
	return r;
}

static void clear_guest_state(struct pt_fs *fs)
{
	pt_locks_clear(fs);
	pt_handle_release_all(fs);
	pt_inode_forget_all(fs);
}

static int apply_opts(struct load_ctx *c)
{
	const struct mig_opts *o = &c->s->opts;
	struct pt_fs *fs = c->fs;

	if (o->announce_submounts && !fs->opts.announce_submounts)
		return fail(c, -EINVAL,
			    "the source announced submounts, this daemon was started "
			    "without --announce-submounts");
	fs->writeback = o->writeback;
	fs->submounts = o->announce_submounts;
	fs->conn_flags &= ~(FUSE_POSIX_ACL | FUSE_CREATE_SUPP_GROUP | FUSE_WRITEBACK_CACHE |
			    (uint64_t)FUSE_SUBMOUNTS);
	fs->conn_flags |= (o->writeback ? FUSE_WRITEBACK_CACHE : 0) |
			  (o->announce_submounts ? (uint64_t)FUSE_SUBMOUNTS : 0) |
			  (o->posix_acl ? FUSE_POSIX_ACL : 0) |
			  (o->sup_group_extension ? FUSE_CREATE_SUPP_GROUP : 0);
	return 0;
}

int fs_passthrough_mig_load(void *fsp, const struct fs_mig_opts *o, const struct mig_state *s,
			    char *why, size_t whylen)
{
	struct load_ctx c = {.fs = fsp, .o = o, .s = s, .why = why, .whylen = whylen};
	struct pt_inode *root;
	size_t *order = NULL;
	int r;

	r = pt_inode_get(c.fs, MIG_ROOT_ID, &root);
	if (r < 0)
		return fail(&c, r, "the shared directory's inode is gone");
	c.root_fd = root->fd;
	c.mount_fds = calloc(s->nmounts ? s->nmounts : 1, sizeof(*c.mount_fds));
	r = c.mount_fds ? sort_by_depth(s, &order) : -ENOMEM;
	if (r == 0)
		r = apply_opts(&c);
	if (r == 0) {
		clear_guest_state(c.fs);
		open_mounts(&c);
		r = load_all(&c, order);
		for (size_t k = 0; k < s->nmounts; k++)
			if (c.mount_fds[k] >= 0)
				close(c.mount_fds[k]);
		if (r < 0)
			clear_guest_state(c.fs);
	} else if (r == -ENOMEM) {
		fail(&c, r, "out of memory");
	}
	free(order);
	free(c.mount_fds);
	pt_inode_put(c.fs, root);
	return r;
}

void fs_passthrough_set_migration(void *fs, const struct fs_mig_opts *o)
{
	((struct pt_fs *)fs)->mig = *o;
}

int pt_mig_save(void *fs, struct mig_state *out, char *why, size_t whylen)
{
	return fs_passthrough_mig_save(fs, &((struct pt_fs *)fs)->mig, out, why, whylen);
}

int pt_mig_load(void *fs, const struct mig_state *s, char *why, size_t whylen)
{
	return fs_passthrough_mig_load(fs, &((struct pt_fs *)fs)->mig, s, why, whylen);
}
