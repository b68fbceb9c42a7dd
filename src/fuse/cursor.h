/*
 * Bounds-checked access to FUSE request bytes.
 *
 * struct fuse_cursor walks a private copy of a request's arguments: every take is checked
 * against what is left, so a short or lying request can never make a handler read past it.
 * The fuse_iov_* helpers move bytes between that private world and the transport's iovecs
 * (guest memory or a /dev/fuse buffer), never past the iovecs' total length.
 */
#ifndef VFSD_FUSE_CURSOR_H
#define VFSD_FUSE_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

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

/* Sum of the iovec lengths, saturating at SIZE_MAX. */
size_t fuse_iov_total(const struct iovec *iov, unsigned cnt);

/* Copy up to len bytes starting at byte off of the iovecs into dst; returns bytes copied. */
size_t fuse_iov_copy_from(const struct iovec *iov, unsigned cnt, size_t off, void *dst, size_t len);

/* Copy up to len bytes from src into the iovecs at byte off; returns bytes copied. */
size_t fuse_iov_copy_to(const struct iovec *iov, unsigned cnt, size_t off, const void *src,
			size_t len);

/*
 * Describe bytes [off, off + len) of iov as a new iovec array in dst (room for dst_max
 * entries; cnt entries always suffice). Clipped to what iov holds. Returns the number of
 * entries used and the bytes they cover in *covered.
 */
unsigned fuse_iov_slice(const struct iovec *iov, unsigned cnt, size_t off, size_t len,
			struct iovec *dst, unsigned dst_max, size_t *covered);

#endif
