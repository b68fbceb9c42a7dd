/*
 * Sandbox entry: option checks, the modes none and chroot, and what every mode hands to the
 * filesystem (root directory, /proc/self/fd, mountinfo). Namespace mode is in namespace.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "sandbox/internal.h"

int sb_check(const struct sb_opts *o)
{
	bool root = geteuid() == 0;
	bool maps = o->n_uid_maps || o->n_gid_maps;

	if (o->mode == SB_MODE_CHROOT && !root) {
		fprintf(stderr, "virtiofsd: --sandbox=chroot needs root; as a non-root user use "
				"--sandbox=namespace\n");
		return -EINVAL;
	}
	if (maps && root) {
		fprintf(stderr, "virtiofsd: --uid-map/--gid-map are only for a non-root user "
				"(as root the daemon keeps the host's ids)\n");
		return -EINVAL;
	}
	if (maps && o->mode != SB_MODE_NAMESPACE) {
		fprintf(stderr, "virtiofsd: --uid-map/--gid-map need --sandbox=namespace\n");
		return -EINVAL;
	}
	return 0;
}

void sb_env_free(struct sb_env *env)
{
	free(env->root_dir);
	env->root_dir = NULL;
	if (env->proc_self_fd >= 0)
		close(env->proc_self_fd);
	if (env->mountinfo_fd >= 0)
		close(env->mountinfo_fd);
	env->proc_self_fd = env->mountinfo_fd = -1;
}

/* Both opened before chroot, which hides /proc. */
static int open_proc_fds(struct sb_env *env)
{
	env->proc_self_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (env->proc_self_fd < 0) {
		int r = -errno;
		log_error("sandbox: cannot open /proc/self/fd: %s", strerror(errno));
		return r;
	}
	env->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (env->mountinfo_fd < 0) {
		int r = -errno;
		log_error("sandbox: cannot open /proc/self/mountinfo: %s", strerror(errno));
		return r;
	}
	return 0;
}

static int enter_chroot(const char *real_dir, struct sb_env *env)
{
	int r = open_proc_fds(env);
	if (r < 0)
		return r;
	if (chroot(real_dir) < 0) {
		r = -errno;
		log_error("sandbox: chroot(%s) failed: %s", real_dir, strerror(errno));
		return r;
	}
	if (chdir("/") < 0) {
		r = -errno;
		log_error("sandbox: chdir(\"/\") after chroot failed: %s", strerror(errno));
		return r;
	}
	env->root_dir = strdup("/");
	return env->root_dir ? 0 : -ENOMEM;
}

static int enter_none(char *real_dir, struct sb_env *env)
{
	int r = open_proc_fds(env);
	if (r < 0)
		return r;
	env->root_dir = real_dir;
	return 0;
}

static int resolve_shared_dir(const char *dir, char **out)
{
	struct stat st;
	char *real = realpath(dir, NULL);
	int r;

	if (!real) {
		r = -errno;
		log_error("sandbox: cannot resolve the shared directory %s: %s", dir,
			  strerror(errno));
		return r;
	}
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error("sandbox: the shared directory %s is not a directory", dir);
		free(real);
		return -ENOTDIR;
	}
	*out = real;
	return 0;
}

int sb_enter(const struct sb_opts *o, struct sb_env *env)
{
	struct sb_env e = { .root_dir = NULL, .proc_self_fd = -1, .mountinfo_fd = -1 };
	char *real = NULL;
	int r = resolve_shared_dir(o->shared_dir, &real);

	if (r < 0)
		return r;
	/* Supplementary groups would widen what the daemon may open (CVE-2022-0358). */
	if (geteuid() == 0 && setgroups(0, NULL) < 0) {
		r = -errno;
		log_error("sandbox: cannot drop the supplementary groups: %s", strerror(errno));
		goto out_free;
	}
	switch (o->mode) {
	case SB_MODE_NONE:
		r = enter_none(real, &e);
		if (r == 0)
			real = NULL; /* owned by e.root_dir */
		break;
	case SB_MODE_CHROOT:
		r = enter_chroot(real, &e);
		break;
	case SB_MODE_NAMESPACE:
		r = sb_enter_namespace(o, real, &e);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0) {
		sb_env_free(&e);
		goto out_free;
	}
	*env = e;
out_free:
	free(real);
	return r;
}
