/*
 * The one iovec module: every walk over a scatter list (guest memory, a /dev/fuse buffer, a
 * socket message) goes through these helpers, so the arithmetic is written and tested once.
 *
 * An iovec array may hold zero-length entries anywhere; every function copes with them. Offsets
 * and lengths are in bytes from the start of the array as a whole.
 */
#ifndef VFSD_UTIL_IOV_H
#define VFSD_UTIL_IOV_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/*
 * A view of len bytes held by iov[0..cnt): the data is not owned, not copied. Invariant: len is
 * exactly the sum of the entries' lengths. The READ and WRITE payload is handed to the
 * filesystem as one of these: what may be moved, no more, no less.
 */
struct iov_view {
	struct iovec *iov;
	size_t cnt;
	size_t len;
};

/* Sum of the lengths of iov[0..cnt): 0 and *total, or -EOVERFLOW (nothing written) when it
 * does not fit in a size_t. */
int iov_total(const struct iovec *iov, size_t cnt, size_t *total);

/* Copy up to len bytes, from byte off of the iovecs, into dst. Returns the bytes copied: len,
 * or fewer when the iovecs end first (0 when off is at or past their end). */
size_t iov_copy_from(const struct iovec *iov, size_t cnt, size_t off, void *dst, size_t len);

/* Copy up to len bytes from src into the iovecs at byte off. Returns the bytes copied, as
 * iov_copy_from. */
size_t iov_copy_to(const struct iovec *iov, size_t cnt, size_t off, const void *src, size_t len);

/*
 * A view of bytes [off, off + len) of iov, built in dst (room for dst_max entries; cnt always
 * suffices) without copying data; zero-length pieces are left out. 0 and *view; -EINVAL when the
 * iovecs hold fewer than off + len bytes, -ENOBUFS when dst_max entries are too few. *view and
 * dst's contents are unspecified on failure.
 */
int iov_slice(const struct iovec *iov, size_t cnt, size_t off, size_t len, struct iovec *dst,
	      size_t dst_max, struct iov_view *view);

/* Consume the first n bytes of v: entries used up leave the front, a partly used one is trimmed
 * in place (v->iov's entries are modified). 0, or -EINVAL when n > v->len (v untouched). */
int iov_advance(struct iov_view *v, size_t n);

/* The file's own position instead of an offset: readv/writev (pipes, sockets). */
#define IOV_NO_OFFSET ((off_t)-1)

/*
 * Move v->len bytes between fd at offset off (or IOV_NO_OFFSET) and v, as many preadv/pwritev
 * calls as it takes: short transfers and EINTR are retried, at most IOV_MAX entries per call.
 * Stops early at EOF (a call that moves 0 bytes) or on an error. Returns the bytes moved, or a
 * negative errno when nothing was moved (-EINVAL for v->len > SSIZE_MAX or a negative off other
 * than IOV_NO_OFFSET). v is consumed: on return it describes what was not moved. (IOV_MAX
 * empty entries in a row would read as EOF; a view from iov_slice has none.)
 */
ssize_t iov_preadv_all(int fd, struct iov_view *v, off_t off);
ssize_t iov_pwritev_all(int fd, struct iov_view *v, off_t off);

#endif
