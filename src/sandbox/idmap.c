/*
 * Id maps of the user namespace an unprivileged daemon creates.
 *
 * As the Rust daemon: explicit --uid-map/--gid-map ranges go through the setuid helpers
 * newuidmap/newgidmap (they check /etc/subuid and /etc/subgid); the default maps the caller's
 * own uid and gid to themselves, written directly: the kernel allows the namespace owner to map
 * its own ids once setgroups is denied, so the default needs neither the helpers nor
 * subordinate ranges, and the guest sees the caller's files as the caller's, not root's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "log.h"
#include "sandbox/internal.h"
#include "util/parse.h"

/* A decimal field and the ':' that ends it. */
static int parse_field(const char **p, uint32_t *out)
{
	const char *s = *p;
	uint32_t v;

	if (util_parse_u32(&s, &v) < 0 || *s != ':')
		return -EINVAL;
	*out = v;
	*p = s + 1;
	return 0;
}

int sb_idmap_parse(const char *s, struct sb_idmap *out)
{
	struct sb_idmap m;

	if (!s || *s != ':')
		return -EINVAL;
	s++;
	if (parse_field(&s, &m.ns_id) < 0 || parse_field(&s, &m.host_id) < 0 ||
	    parse_field(&s, &m.count) < 0 || *s != '\0')
		return -EINVAL;
	/* (uint32_t)-1 is not a valid id: a range must end below it on both sides. */
	if (m.count == 0 || (uint64_t)m.ns_id + m.count > UINT32_MAX ||
	    (uint64_t)m.host_id + m.count > UINT32_MAX)
		return -EINVAL;
	*out = m;
	return 0;
}

static int write_proc_file(pid_t pid, const char *name, const char *text)
{
	char path[64];
	int fd, r = 0;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_error("sandbox: cannot open %s: %s", path, strerror(errno));
		return r;
	}
	/* An id map must be written in one write(). */
	errno = 0;
	if (write(fd, text, len) != (ssize_t)len) {
		r = errno ? -errno : -EIO;
		log_error("sandbox: cannot write '%.*s' to %s: %s",
			(int)strcspn(text, "\n"), text, path, strerror(-r));
	}
	close(fd);
	return r;
}

/* newuidmap PID ns host count [ns host count...]: argv built on the heap, run and waited. */
static int run_map_tool(const char *kind, pid_t pid, const struct sb_idmap *maps, size_t n)
{
	const char *tool = strcmp(kind, "uid") == 0 ? "newuidmap" : "newgidmap";
	size_t argc = 2 + 3 * n + 1;
	char **argv = calloc(argc, sizeof(*argv));
	char *nums = calloc(1 + 3 * n, 16);
	int r = -ENOMEM, status;
	pid_t child, w;

	if (!argv || !nums)
		goto out_free;
	argv[0] = (char *)tool;
	argv[1] = nums;
	snprintf(nums, 16, "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		const uint32_t v[3] = { maps[i].ns_id, maps[i].host_id, maps[i].count };
		for (size_t j = 0; j < 3; j++) {
			char *slot = nums + 16 * (1 + 3 * i + j);
			snprintf(slot, 16, "%" PRIu32, v[j]);
			argv[2 + 3 * i + j] = slot;
		}
	}
	child = fork();
	if (child < 0) {
		r = -errno;
		log_error("sandbox: cannot fork to run %s: %s", tool,
			strerror(errno));
		goto out_free;
	}
	if (child == 0) {
		execvp(tool, argv);
		log_error("sandbox: cannot run %s (from the uidmap package): %s",
			tool, strerror(errno));
		_exit(127);
	}
	do
		w = waitpid(child, &status, 0);
	while (w < 0 && errno == EINTR);
	r = 0;
	if (w != child) {
		log_error("sandbox: waiting for %s failed: %s (is SIGCHLD ignored?)", tool,
			  strerror(errno));
		r = -ECHILD;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("sandbox: %s failed for the --%s-map given (are its "
				"host ids in /etc/sub%s for this user?)",
			tool, kind, kind);
		r = -EPERM;
	}
out_free:
	free(argv);
	free(nums);
	return r;
}

/* One range mapping only the caller's own id (the default, or the same given explicitly):
 * written directly, as the Rust daemon does; anything else needs the setuid helper. */
static bool own_id_only(const struct sb_idmap *m, size_t n, uint32_t outer)
{
	return n == 0 || (n == 1 && m[0].host_id == outer && m[0].count == 1);
}

static int write_map(pid_t target, const char *kind, const struct sb_idmap *m, size_t n,
		     uint32_t outer)
{
	char line[64], file[16];

	if (!own_id_only(m, n, outer))
		return run_map_tool(kind, target, m, n);
	if (strcmp(kind, "gid") == 0) {
		int r = write_proc_file(target, "setgroups", "deny");
		if (r < 0)
			return r;
	}
	snprintf(line, sizeof(line), "%u %u 1", (unsigned)(n ? m[0].ns_id : outer),
		 (unsigned)outer);
	snprintf(file, sizeof(file), "%s_map", kind);
	return write_proc_file(target, file, line);
}

int sb_idmap_write(pid_t target, const struct sb_opts *o, uid_t outer_uid, gid_t outer_gid)
{
	int r = write_map(target, "uid", o->uid_maps, o->n_uid_maps, outer_uid);

	if (r < 0)
		return r;
	return write_map(target, "gid", o->gid_maps, o->n_gid_maps, outer_gid);
}
