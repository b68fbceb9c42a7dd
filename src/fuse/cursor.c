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
