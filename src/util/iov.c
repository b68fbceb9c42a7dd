#include "util/iov.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int iov_total(const struct iovec *iov, size_t cnt, size_t *total)
{
	size_t sum = 0;

	for (size_t i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - sum)
			return -EOVERFLOW;
		sum += iov[i].iov_len;
	}
	*total = sum;
	return 0;
}

/* Index of the entry holding byte off, and the offset inside it; cnt if off is past the end. */
static size_t seek(const struct iovec *iov, size_t cnt, size_t off, size_t *in_off)
{
	size_t i;

	for (i = 0; i < cnt && off >= iov[i].iov_len; i++)
		off -= iov[i].iov_len;
	*in_off = off;
	return i;
}

/* Both copies in one walk: to_iov says which way the bytes go. */
static size_t copy(const struct iovec *iov, size_t cnt, size_t off, uint8_t *buf, size_t len,
		   bool to_iov)
{
	size_t done = 0, skip;

	for (size_t i = seek(iov, cnt, off, &skip); i < cnt && done < len; i++, skip = 0) {
		uint8_t *p = (uint8_t *)iov[i].iov_base + skip;
		size_t n = iov[i].iov_len - skip;

		if (n > len - done)
			n = len - done;
		if (to_iov)
			memcpy(p, buf + done, n);
		else
			memcpy(buf + done, p, n);
		done += n;
	}
	return done;
}

size_t iov_copy_from(const struct iovec *iov, size_t cnt, size_t off, void *dst, size_t len)
{
	return copy(iov, cnt, off, dst, len, false);
}

size_t iov_copy_to(const struct iovec *iov, size_t cnt, size_t off, const void *src, size_t len)
{
	/* Not written through: the to_iov walk only reads buf. */
	return copy(iov, cnt, off, (uint8_t *)src, len, true);
}

int iov_slice(const struct iovec *iov, size_t cnt, size_t off, size_t len, struct iovec *dst,
	      size_t dst_max, struct iov_view *view)
{
	size_t done = 0, used = 0, skip, i = seek(iov, cnt, off, &skip);

	if (i == cnt && skip > 0)
		return -EINVAL; /* off itself is past the end */
	for (; i < cnt && done < len; i++, skip = 0) {
		size_t n = iov[i].iov_len - skip;

		if (n == 0)
			continue;
		if (used == dst_max)
			return -ENOBUFS;
		if (n > len - done)
			n = len - done;
		dst[used].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[used].iov_len = n;
		used++;
		done += n;
	}
	if (done < len)
		return -EINVAL;
	*view = (struct iov_view){.iov = dst, .cnt = used, .len = len};
	return 0;
}

int iov_advance(struct iov_view *v, size_t n)
{
	if (n > v->len)
		return -EINVAL;
	v->len -= n;
	while (v->cnt > 0 && n >= v->iov[0].iov_len) {
		n -= v->iov[0].iov_len;
		v->iov++;
		v->cnt--;
	}
	if (n > 0) { /* n < v->iov[0].iov_len, so an entry is left */
		v->iov[0].iov_base = (uint8_t *)v->iov[0].iov_base + n;
		v->iov[0].iov_len -= n;
	}
	return 0;
}

static ssize_t move_once(int fd, const struct iov_view *v, off_t off, bool write)
{
	int cnt = v->cnt > IOV_MAX ? IOV_MAX : (int)v->cnt;

	if (off == IOV_NO_OFFSET)
		return write ? writev(fd, v->iov, cnt) : readv(fd, v->iov, cnt);
	return write ? pwritev(fd, v->iov, cnt, off) : preadv(fd, v->iov, cnt, off);
}

static ssize_t move_all(int fd, struct iov_view *v, off_t off, bool write)
{
	size_t done = 0;

	if (v->len > SSIZE_MAX || (off < 0 && off != IOV_NO_OFFSET))
		return -EINVAL;
	while (v->len > 0) {
		ssize_t n = move_once(fd, v, off, write);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : -errno;
		if (n == 0)
			break;
		iov_advance(v, (size_t)n); /* n <= v->len: the kernel moved no more than asked */
		done += (size_t)n;
		if (off != IOV_NO_OFFSET)
			off += n;
	}
	return (ssize_t)done;
}

ssize_t iov_preadv_all(int fd, struct iov_view *v, off_t off)
{
	return move_all(fd, v, off, false);
}

ssize_t iov_pwritev_all(int fd, struct iov_view *v, off_t off)
{
	return move_all(fd, v, off, true);
}
