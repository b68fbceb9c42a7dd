/* RLIMIT_NOFILE, set before the sandbox (raising the hard limit needs the host's privileges). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "sandbox/sandbox.h"

#define DEFAULT_NOFILE 1000000u

static uint64_t nr_open(void)
{
	unsigned long v = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 1048576;
		fclose(f);
	}
	return v;
}

static int set_both(uint64_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };

	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

/*
 * As the Rust daemon (limits.rs): an explicit value is set or the daemon stops; the default,
 * min(1000000, fs.nr_open), never lowers a soft limit already at least that high, and where
 * it cannot be set (no CAP_SYS_RESOURCE above the hard limit) the hard limit is used instead.
 */
int sb_set_rlimit_nofile(bool set, uint64_t value)
{
	uint64_t max = nr_open(), target = value;
	struct rlimit rl;
	int r;

	if (set && value == 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		r = -errno;
		log_error("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return r;
	}
	if (!set) {
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= DEFAULT_NOFILE)
			return 0;
		target = max < DEFAULT_NOFILE ? max : DEFAULT_NOFILE;
	}
	if (target > max) {
		log_error("--rlimit-nofile=%llu: the open file limit cannot be raised above "
			  "fs.nr_open (%llu)", (unsigned long long)target, (unsigned long long)max);
		return -EINVAL;
	}
	r = set_both(target);
	if (r == 0)
		return 0;
	if (set) {
		log_error("--rlimit-nofile=%llu: cannot set the open file limit: %s",
			  (unsigned long long)target, strerror(-r));
		return r;
	}
	log_warn("cannot set the open file limit to %llu (%s): using the hard limit (%llu) instead",
		 (unsigned long long)target, strerror(-r), (unsigned long long)rl.rlim_max);
	r = set_both(rl.rlim_max);
	if (r < 0)
		log_error("cannot raise the open file limit to the hard limit %llu: %s",
			  (unsigned long long)rl.rlim_max, strerror(-r));
	return r;
}
