/*
 * Migration source: the passthrough's inodes and handles as a struct mig_state.
 *
 * find-paths: an inode is sent as a FullPath (relative to the shared directory), read from
 * /proc/self/fd and confirmed by a stat of that path from the root (same device and inode);
 * one without such a path (an open file the guest unlinked, a path outside the share or not
 * UTF-8) as its file handle, or Invalid when it has none.
 * file-handles: an inode is sent as its file handle, with each mount's root as a path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "fs/pt_internal.h"
#include "fs/pt_mig.h"
#include "util/postcard.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif

union mig_fh_buf {
	struct file_handle fh;
	char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

struct save_ctx {
	struct pt_fs *fs;
	const struct fs_mig_opts *o;
	struct mig_state *s;
	char root[PATH_MAX]; /* the shared directory as /proc/self/fd shows it */
	int root_fd;
	struct pt_inode *root_in;
	size_t invalid;
};

static int proc_path(struct pt_fs *fs, int fd, char *buf, size_t size)
{
	char name[PT_PROC_NAME];
	ssize_t n;

	n = readlinkat(fs->proc_fd, pt_proc_path(name, fd), buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

static int fh_of(int fd, struct mig_fh **out)
{
	union mig_fh_buf b;
	int mnt_id;

	b.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &b.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	if (b.fh.handle_bytes > MIG_HANDLE_SZ)
		return -EOVERFLOW;
	*out = mig_fh_new((uint64_t)mnt_id, b.fh.handle_type, b.fh.f_handle, b.fh.handle_bytes);
	return *out ? 0 : -ENOMEM;
}

/* The path of fd relative to the shared directory, confirmed to still name fd's inode. */
static const char *rel_path_of(struct save_ctx *c, int fd, char *buf, size_t size)
{
	size_t rl = strlen(c->root);
	struct stat a, b;
	const char *rel;

	if (proc_path(c->fs, fd, buf, size) < 0)
		return "no path in /proc/self/fd";
	if (strcmp(c->root, "/") == 0)
		rel = buf + 1;
	else if (strncmp(buf, c->root, rl) == 0 && buf[rl] == '/')
		rel = buf + rl + 1;
	else
		return "its path is outside the shared directory";
	if (!*rel || strlen(rel) > MIG_PATH_MAX)
		return "its path is empty or too long";
	if (!pc_utf8_valid((const uint8_t *)rel, strlen(rel)))
		return "its path is not UTF-8";
	if (fstat(fd, &a) < 0 || fstatat(c->root_fd, rel, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return "it is unlinked, or its path names another file now";
	memmove(buf, rel, strlen(rel) + 1);
	return NULL;
}

/* One non-root inode's location; NULL or why it is sent as Invalid. */
static const char *locate(struct save_ctx *c, struct pt_inode *in, struct mig_inode *m)
{
	char path[PATH_MAX];
	const char *why;

	if (c->o->mode == FS_MIG_FILE_HANDLES) {
		if (fh_of(in->fd, &m->fh) < 0)
			return "no file handle for it";
		m->loc = MIG_LOC_FILE_HANDLE;
		return NULL;
	}
	why = rel_path_of(c, in->fd, path, sizeof(path));
	if (why) {
		/* No path (an open file the guest unlinked, most often): its file handle still
		 * names it, for a destination that can open handles (ours as root; the Rust one
		 * in file-handles mode). Never worse than Invalid, which no destination opens. */
		if (fh_of(in->fd, &m->fh) < 0)
			return why;
		log_info("migration: inode %" PRIu64 " sent as its file handle: %s", m->id, why);
		m->loc = MIG_LOC_FILE_HANDLE;
		return NULL;
	}
	if (c->o->verify_handles) {
		if (fh_of(in->fd, &m->check_fh) < 0)
			return "no file handle for it (--migration-verify-handles)";
	}
	m->name = strdup(path);
	if (!m->name)
		return "out of memory";
	m->loc = MIG_LOC_FULL_PATH;
	return NULL;
}

/* The destination will know it lost this inode (abort, or EIO for its uses). */
static void send_invalid(struct save_ctx *c, struct mig_inode *m, const char *why)
{
	log_warn("migration: inode %" PRIu64 " sent as invalid: %s", m->id, why);
	free(m->name);
	m->name = NULL;
	free(m->fh);
	m->fh = NULL;
	free(m->check_fh);
	m->check_fh = NULL;
	m->loc = MIG_LOC_INVALID;
	c->invalid++;
}

static void save_inode(struct save_ctx *c, struct mig_inode *m)
{
	struct pt_inode *in;
	const char *why = "it could not be opened";

	if (pt_inode_get(c->fs, m->id, &in) == 0) {
		why = locate(c, in, m);
		pt_inode_put(c->fs, in);
	}
	if (why)
		send_invalid(c, m, why);
}

/* Ids and lookup counts, under the lock; the locations are found after it, one get/put each. */
static int snapshot_inodes(struct save_ctx *c)
{
	struct pt_itable *t = &c->fs->inodes;
	struct mig_state *s = c->s;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	s->inodes = calloc(t->count ? t->count : 1, sizeof(*s->inodes));
	if (!s->inodes)
		r = -ENOMEM;
	for (uint32_t i = 1; r == 0 && i < t->hwm; i++) {
		struct pt_inode *in = pt_inode_at(t, i);
		struct mig_inode *m;

		if (!in->in_use || (in->nlookup == 0 && !in->pinned) || s->ninodes >= t->count)
			continue;
		m = &s->inodes[s->ninodes++];
		m->id = pt_inode_id(in);
		/* The Rust root starts at 2 and takes the guest's FORGETs: never let it reach 0 */
		m->refcount = in->pinned ? in->nlookup + 1 : in->nlookup;
		m->loc = in->pinned ? MIG_LOC_ROOT : in->broken ? MIG_LOC_INVALID : MIG_LOC_PATH;
		if (s->next_inode <= m->id)
			s->next_inode = m->id + 1;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

static bool inode_sent(const struct mig_state *s, uint64_t id)
{
	for (size_t i = 0; i < s->ninodes; i++)
		if (s->inodes[i].id == id)
			return true;
	return false;
}

static int snapshot_handles(struct save_ctx *c)
{
	struct pt_htable *t = &c->fs->handles;
	struct mig_state *s = c->s;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	s->handles = calloc(t->hwm, sizeof(*s->handles));
	if (!s->handles)
		r = -ENOMEM;
	for (uint32_t i = 1; r == 0 && i < t->hwm; i++) {
		struct pt_handle *h = t->slots[i];
		struct mig_handle *m;
		int fl;

		if (!h->in_use || h->released)
			continue;
		fl = fcntl(h->fd, F_GETFL);
		m = &s->handles[s->nhandles++];
		m->id = pt_handle_id(h);
		m->inode = h->ino;
		m->flags = (fl < 0 ? O_RDONLY : fl) & ~MIG_HANDLE_BAD_FLAGS;
		if (s->next_handle <= m->id)
			s->next_handle = m->id + 1;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Handles whose inode the guest no longer holds cannot be described: dropped, logged. */
static void drop_orphan_handles(struct mig_state *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nhandles; i++) {
		if (inode_sent(s, s->handles[i].inode)) {
			s->handles[k++] = s->handles[i];
			continue;
		}
		log_warn("migration: handle %" PRIu64 " not sent: its inode %" PRIu64
			 " is not held by the guest",
			 s->handles[i].id, s->handles[i].inode);
	}
	s->nhandles = k;
}

/* Mount mnt_id's root as a path in the share ("." above it) into s->mounts[k]: 0, -ENOMEM, or
 * -EINVAL for a path that is not UTF-8 (no peer could read the state then). */
static int add_mount_path(struct save_ctx *c, uint64_t mnt_id, size_t k)
{
	size_t rl = strlen(c->root);
	char *point = pt_fh_mount_point(c->fs, (int)mnt_id);
	const char *rel = ".";
	int r = 0;

	if (point && strcmp(c->root, "/") == 0 && point[1])
		rel = point + 1;
	else if (point && strncmp(point, c->root, rl) == 0 && point[rl] == '/')
		rel = point + rl + 1;
	if (!pc_utf8_valid((const uint8_t *)rel, strlen(rel)))
		r = -EINVAL;
	else if (!(c->s->mounts[k].path = strdup(rel)))
		r = -ENOMEM;
	else
		c->s->mounts[k].mnt_id = mnt_id;
	free(point);
	return r;
}

/* Each mount a handle names. A handle whose mount cannot be named makes its inode Invalid,
 * not the whole state unreadable. */
static int add_mount_paths(struct save_ctx *c)
{
	struct mig_state *s = c->s;

	s->mounts = calloc(MIG_MOUNTS_MAX, sizeof(*s->mounts));
	if (!s->mounts)
		return -ENOMEM;
	for (size_t i = 0; i < s->ninodes; i++) {
		struct mig_inode *m = &s->inodes[i];
		size_t k;
		int r;

		if (m->loc != MIG_LOC_FILE_HANDLE)
			continue;
		for (k = 0; k < s->nmounts && s->mounts[k].mnt_id != m->fh->mnt_id; k++)
			;
		if (k < s->nmounts)
			continue;
		if (k == MIG_MOUNTS_MAX) {
			send_invalid(c, m, "its mount is past the 256 a state can name");
			continue;
		}
		r = add_mount_path(c, m->fh->mnt_id, k);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			send_invalid(c, m, "the path of its mount is not UTF-8");
		else
			s->nmounts++;
	}
	return 0;
}

static int save_all(struct save_ctx *c)
{
	struct mig_state *s = c->s;
	int r;

	s->version = MIG_V2;
	s->next_inode = 2;
	s->next_handle = 1;
	s->opts.writeback = c->fs->writeback;
	s->opts.announce_submounts = c->fs->submounts;
	s->opts.posix_acl = c->fs->conn_flags & FUSE_POSIX_ACL;
	s->opts.sup_group_extension = c->fs->conn_flags & FUSE_CREATE_SUPP_GROUP;
	if ((r = snapshot_inodes(c)) < 0 || (r = snapshot_handles(c)) < 0)
		return r;
	for (size_t i = 0; i < s->ninodes; i++)
		if (s->inodes[i].loc == MIG_LOC_PATH)
			save_inode(c, &s->inodes[i]);
	drop_orphan_handles(s);
	return add_mount_paths(c);
}

int fs_passthrough_mig_save(void *fsp, const struct fs_mig_opts *o, struct mig_state *out,
			    char *why, size_t whylen)
{
	struct save_ctx c = {.fs = fsp, .o = o, .s = out};
	int r;

	*out = (struct mig_state){0};
	r = pt_inode_get(c.fs, MIG_ROOT_ID, &c.root_in);
	if (r < 0) {
		snprintf(why, whylen, "the shared directory's inode is gone");
		return r;
	}
	c.root_fd = c.root_in->fd;
	r = proc_path(c.fs, c.root_fd, c.root, sizeof(c.root));
	if (r == 0)
		r = save_all(&c);
	pt_inode_put(c.fs, c.root_in);
	if (r < 0) {
		snprintf(why, whylen, "collecting the state failed: %s", strerror(-r));
		mig_state_free(out);
		return r;
	}
	snprintf(why, whylen, "%zu inodes (%zu sent as invalid), %zu handles", out->ninodes,
		 c.invalid, out->nhandles);
	return 0;
}
