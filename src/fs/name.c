/* The one-component name rule shared by every backend op that takes a guest name. */
#include "fs/fs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

int fs_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strnlen(name, NAME_MAX + 1);
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || memchr(name, '/', n))
		return -EINVAL;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	return 0;
}
