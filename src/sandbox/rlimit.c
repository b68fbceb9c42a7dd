/* RLIMIT_NOFILE, set before the sandbox (raising the hard limit needs the host's privileges). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "sandbox/sandbox.h"

/* As the Rust daemon: min(1000000, fs.nr_open) unless the user chose. */
static uint64_t default_nofile(void)
{
	unsigned long nr_open = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1048576;
		fclose(f);
	}
	return nr_open < 1000000 ? nr_open : 1000000;
}

int sb_set_rlimit_nofile(bool set, uint64_t value)
{
	struct rlimit rl;

	if (set && value == 0)
		return 0;
	if (!set)
		value = default_nofile();
	rl.rlim_cur = rl.rlim_max = value;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int r = -errno;
		log_warn("cannot set the open file limit to %llu: %s", (unsigned long long)value,
			 strerror(errno));
		return r;
	}
	return 0;
}
