/*
 * A tiny static helper for the guest side of the escape tests (the busybox guest has no su
 * without setuid, and no way to set a file capability). Built by vm_escape.sh with
 * `cc -static` and copied into the share.
 *
 *   esctool runas UID GID GROUPS|- CMD [ARGS...]   exec CMD as UID/GID with GROUPS (a,b,c)
 *   esctool creat PATH OCTAL                         open(O_CREAT|O_EXCL) with that mode, umask 0
 *   esctool mkdir PATH OCTAL                         mkdir with that mode, umask 0
 *   esctool setcap PATH                              security.capability := cap_net_raw+ep
 *   esctool hascap PATH                              exit 0 if PATH has security.capability
 *   esctool hasx PATH NAME                           exit 0 if PATH has the xattr NAME
 *   esctool append PATH TEXT                         append TEXT with one write()
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "esctool: %s %s: %s\n", what, arg, strerror(errno));
	return 1;
}

static int runas(int argc, char **argv)
{
	gid_t groups[16];
	size_t n = 0;
	uid_t uid;
	gid_t gid;

	if (argc < 5)
		return fprintf(stderr, "esctool runas UID GID GROUPS|- CMD...\n"), 2;
	uid = (uid_t)strtoul(argv[1], NULL, 10);
	gid = (gid_t)strtoul(argv[2], NULL, 10);
	if (strcmp(argv[3], "-")) {
		char *save = NULL;

		for (char *t = strtok_r(argv[3], ",", &save); t && n < 16;
		     t = strtok_r(NULL, ",", &save))
			groups[n++] = (gid_t)strtoul(t, NULL, 10);
	}
	if (setgroups(n, groups) < 0)
		return die("setgroups", argv[3]);
	if (setresgid(gid, gid, gid) < 0)
		return die("setresgid", argv[2]);
	if (setresuid(uid, uid, uid) < 0)
		return die("setresuid", argv[1]);
	execvp(argv[4], argv + 4);
	return die("exec", argv[4]);
}

static int set_cap(const char *path)
{
	struct vfs_cap_data v;

	memset(&v, 0, sizeof(v));
	v.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	v.data[0].permitted = 1u << CAP_NET_RAW;
	if (setxattr(path, "security.capability", &v, XATTR_CAPS_SZ_2, 0) < 0)
		return die("setxattr security.capability on", path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	mode_t mode = argc > 3 ? (mode_t)strtoul(argv[3], NULL, 8) : 0;
	int fd;

	umask(0);
	if (!strcmp(cmd, "runas"))
		return runas(argc - 1, argv + 1);
	if (argc < 3)
		return fprintf(stderr, "esctool: see the source for usage\n"), 2;
	if (!strcmp(cmd, "creat") && argc == 4) {
		fd = open(argv[2], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
		return fd < 0 ? die("creat", argv[2]) : (close(fd), 0);
	}
	if (!strcmp(cmd, "mkdir") && argc == 4)
		return mkdir(argv[2], mode) < 0 ? die("mkdir", argv[2]) : 0;
	if (!strcmp(cmd, "setcap"))
		return set_cap(argv[2]);
	if (!strcmp(cmd, "hascap"))
		return getxattr(argv[2], "security.capability", NULL, 0) < 0;
	if (!strcmp(cmd, "hasx") && argc == 4)
		return lgetxattr(argv[2], argv[3], NULL, 0) < 0;
	if (!strcmp(cmd, "append") && argc == 4) {
		fd = open(argv[2], O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			return die("open", argv[2]);
		if (write(fd, argv[3], strlen(argv[3])) < 0)
			return die("write", argv[2]);
		return close(fd) < 0 ? die("close", argv[2]) : 0;
	}
	return fprintf(stderr, "esctool: unknown command '%s'\n", cmd), 2;
}
