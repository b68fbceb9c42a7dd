/*
 * Bounds-checked access to FUSE request bytes.
 *
 * struct fuse_cursor walks a private copy of a request's arguments: every take is checked
 * against what is left, so a short or lying request can never make a handler read past it.
 * Bytes move between that private world and the transport's iovecs (guest memory or a
 * /dev/fuse buffer) through util/iov.h, never past the iovecs' total length.
 */
#ifndef VFSD_FUSE_CURSOR_H
#define VFSD_FUSE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

/* Longest name component FUSE carries (NAME_MAX, and XATTR_NAME_MAX for xattr names). */
#define FUSE_NAME_MAX 255

struct fuse_cursor {
	const uint8_t *buf;
	size_t len;
	size_t pos;
};

static inline void fuse_cur_init(struct fuse_cursor *c, const void *buf, size_t len)
{
	c->buf = buf;
	c->len = len;
	c->pos = 0;
}

static inline size_t fuse_cur_remaining(const struct fuse_cursor *c)
{
	return c->len - c->pos;
}

/* Copy the next n bytes into dst (any alignment). 0, or -EINVAL if fewer than n are left
 * (nothing consumed). */
int fuse_cur_read(struct fuse_cursor *c, void *dst, size_t n);

/* A pointer to the next n bytes (byte access only: no alignment promised), or NULL if fewer
 * than n are left (nothing consumed). */
const void *fuse_cur_take(struct fuse_cursor *c, size_t n);

/*
 * The next NUL-terminated string, at most max bytes before its NUL. 0 and *s on success;
 * -EINVAL when no NUL is found in what is left, -ENAMETOOLONG when it is longer than max.
 * Nothing consumed on failure.
 */
int fuse_cur_str(struct fuse_cursor *c, size_t max, const char **s);

/* A name component: fuse_cur_str with FUSE_NAME_MAX. */
static inline int fuse_cur_name(struct fuse_cursor *c, const char **name)
{
	return fuse_cur_str(c, FUSE_NAME_MAX, name);
}

#endif
