/*
 * READDIR and READDIRPLUS: getdents64 on the handle's directory fd. Offsets are the host's
 * d_off cookies, so the guest resumes exactly where an earlier reply stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs/pt_internal.h"

#define PT_DENTS_MIN 4096u
#define PT_DENTS_MAX (64u * 1024)

struct rd_state {
	struct pt_fs *fs;
	struct pt_inode *dir; /* READDIRPLUS only: the parent of the lookups */
	struct fs_dir_sink *sink;
	size_t added; /* entries the sink took */
};

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Hand one entry to the sink. Returns 0, or 1 when it did not fit (the reply is full). */
static int hand_over(struct rd_state *s, const struct dirent64 *d, size_t len,
		     const struct fuse_entry_out *e)
{
	const struct fs_dirent de = {
		.name = d->d_name,
		.namelen = len,
		.type = d->d_type,
		.ino = d->d_ino,
		.off = (uint64_t)d->d_off,
		.entry = e,
	};

	if (!s->sink->add(s->sink, &de))
		return 1;
	s->added++;
	return 0;
}

/*
 * One READDIRPLUS entry. A counted lookup that does not fit is forgotten again. "." and ".."
 * go out with nodeid 0: the kernel then creates no inode for them and takes no reference.
 */
static int add_plus(struct rd_state *s, const struct dirent64 *d, size_t len)
{
	struct fuse_entry_out e;
	int r = -ENOENT;

	if (!is_dot(d->d_name))
		r = pt_lookup_plus_at(s->fs, s->dir, d->d_name, &e);
	if (r == -ENOENT && !is_dot(d->d_name))
		return 0; /* removed since getdents: skip it */
	if (r < 0) {
		memset(&e, 0, sizeof(e));
		e.attr.ino = d->d_ino;
		e.attr.mode = (uint32_t)DTTOIF(d->d_type);
	}
	r = hand_over(s, d, len, &e);
	if (r && e.nodeid)
		pt_inode_forget(s->fs, e.nodeid, 1);
	return r;
}

static int add_entry(struct rd_state *s, const struct dirent64 *d)
{
	size_t len = strnlen(d->d_name, NAME_MAX + 1);

	if (len == 0 || len > NAME_MAX)
		return 0; /* not from a sane filesystem: nothing the guest could use */
	if (s->dir)
		return add_plus(s, d, len);
	return hand_over(s, d, len, NULL);
}

/* Returns 1 when the guest's buffer is full, 0 at the end of the directory, or -errno. */
static int fill_from(struct rd_state *s, struct pt_handle *h, char *buf, size_t bufsize)
{
	for (;;) {
		ssize_t n = getdents64(h->fd, buf, bufsize);
		size_t pos = 0;

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		while (pos < (size_t)n) {
			const struct dirent64 *d = (const void *)(buf + pos);

			if (d->d_reclen == 0 || d->d_reclen > (size_t)n - pos)
				return -EIO;
			if (add_entry(s, d) > 0) {
				h->dir_pos = -1; /* the fd is past what the guest got */
				return 1;
			}
			h->dir_pos = d->d_off;
			pos += d->d_reclen;
		}
	}
}

static int read_dir(struct rd_state *s, struct pt_handle *h, uint64_t offset)
{
	size_t bufsize = s->sink->size;
	char *buf;
	int r;

	if (offset > INT64_MAX)
		return -EINVAL;
	if (h->dir_pos != (int64_t)offset) {
		if (lseek(h->fd, (off_t)offset, SEEK_SET) < 0)
			return -errno;
		h->dir_pos = (int64_t)offset;
	}
	bufsize = bufsize < PT_DENTS_MIN ? PT_DENTS_MIN : bufsize;
	bufsize = bufsize > PT_DENTS_MAX ? PT_DENTS_MAX : bufsize;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	r = fill_from(s, h, buf, bufsize);
	free(buf);
	/* What was added is a valid reply even if reading further failed. */
	return r < 0 && s->added == 0 ? r : 0;
}

int pt_readdir(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	       bool plus, struct fs_dir_sink *sink)
{
	struct rd_state s = { .fs = fsp, .sink = sink };
	struct pt_handle *h;
	int r;

	if (plus) {
		r = pt_inode_get(s.fs, ino, &s.dir);
		if (r < 0)
			return r;
	}
	r = pt_handle_get(s.fs, ino, fh, &h);
	if (r < 0)
		goto out_put;
	pthread_mutex_lock(&h->dir_lock);
	r = read_dir(&s, h, offset);
	if (r < 0)
		h->dir_pos = -1;
	pthread_mutex_unlock(&h->dir_lock);
	pt_handle_put(s.fs, h);
out_put:
	pt_inode_put(s.fs, s.dir);
	return r;
}
