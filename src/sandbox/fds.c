/* Descriptors inherited from the launcher, closed before anything of ours is open. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox/sandbox.h"

/* Without close_range (Linux before 5.9): the entries of /proc/self/fd, one by one. */
static int close_listed(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || end == e->d_name || fd < 3 || fd == keep || fd == dirfd(d))
			continue;
		close((int)fd);
	}
	closedir(d);
	return 0;
}

int sb_close_inherited(int keep)
{
	unsigned from = 3;
	int r = 0;

	if (keep >= 3) {
		if (keep > 3)
			r = close_range(3, (unsigned)keep - 1, 0);
		from = (unsigned)keep + 1;
	}
	if (r == 0)
		r = close_range(from, ~0u, 0);
	if (r == 0)
		return 0;
	r = close_listed(keep);
	if (r < 0)
		log_error("closing the descriptors inherited from the launcher failed: %s",
			  strerror(-r));
	return r;
}
