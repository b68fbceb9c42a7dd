#include "fuse/cursor.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int fuse_cur_read(struct fuse_cursor *c, void *dst, size_t n)
{
	const void *p = fuse_cur_take(c, n);

	if (!p)
		return -EINVAL;
	memcpy(dst, p, n);
	return 0;
}

const void *fuse_cur_take(struct fuse_cursor *c, size_t n)
{
	const void *p;

	if (n > fuse_cur_remaining(c))
		return NULL;
	p = c->buf + c->pos;
	c->pos += n;
	return p;
}

int fuse_cur_str(struct fuse_cursor *c, size_t max, const char **s)
{
	size_t left = fuse_cur_remaining(c);
	const char *start = (const char *)c->buf + c->pos;
	size_t n = strnlen(start, left);

	if (n == left)
		return -EINVAL; /* no NUL inside the request */
	if (n > max)
		return -ENAMETOOLONG;
	c->pos += n + 1;
	*s = start;
	return 0;
}

size_t fuse_iov_total(const struct iovec *iov, unsigned cnt)
{
	size_t total = 0;

	for (unsigned i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Index of the iovec holding byte off, and the offset inside it; cnt if off is past the end. */
static unsigned iov_seek(const struct iovec *iov, unsigned cnt, size_t off, size_t *in_off)
{
	unsigned i;

	for (i = 0; i < cnt && off >= iov[i].iov_len; i++)
		off -= iov[i].iov_len;
	*in_off = off;
	return i;
}

size_t fuse_iov_copy_from(const struct iovec *iov, unsigned cnt, size_t off, void *dst, size_t len)
{
	size_t done = 0, skip;
	unsigned i = iov_seek(iov, cnt, off, &skip);

	for (; i < cnt && done < len; i++, skip = 0) {
		size_t n = iov[i].iov_len - skip;

		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)iov[i].iov_base + skip, n);
		done += n;
	}
	return done;
}

size_t fuse_iov_copy_to(const struct iovec *iov, unsigned cnt, size_t off, const void *src,
			size_t len)
{
	size_t done = 0, skip;
	unsigned i = iov_seek(iov, cnt, off, &skip);

	for (; i < cnt && done < len; i++, skip = 0) {
		size_t n = iov[i].iov_len - skip;

		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)iov[i].iov_base + skip, (const uint8_t *)src + done, n);
		done += n;
	}
	return done;
}

unsigned fuse_iov_slice(const struct iovec *iov, unsigned cnt, size_t off, size_t len,
			struct iovec *dst, unsigned dst_max, size_t *covered)
{
	size_t done = 0, skip;
	unsigned i = iov_seek(iov, cnt, off, &skip), used = 0;

	for (; i < cnt && done < len && used < dst_max; i++, skip = 0) {
		size_t n = iov[i].iov_len - skip;

		if (n == 0)
			continue;
		if (n > len - done)
			n = len - done;
		dst[used].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[used].iov_len = n;
		used++;
		done += n;
	}
	*covered = done;
	return used;
}
