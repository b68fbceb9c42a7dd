/*
 * Guest helper for the ALLOW_IDMAP check (tests/vm/guest-idmap.sh), built static on the host:
 *   idmap-mount SRC DST NSID HOSTID COUNT
 * makes DST an idmapped bind mount of SRC whose ids are mapped as the uid/gid map
 * "NSID HOSTID COUNT" of a new user namespace says (open_tree, mount_setattr with
 * MOUNT_ATTR_IDMAP, move_mount). Prints what failed, with errno, and exits 1; 0 when mounted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* A child in a new user namespace that waits; returns its pid, or -1. */
static pid_t userns_child(int *release)
{
	int ready[2], hold[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0 || pipe(hold) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWUSER) < 0) {
			perror("idmap-mount: unshare(CLONE_NEWUSER)");
			_exit(1);
		}
		c = 'r';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Until the parent is done with our namespace. */
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		return -1;
	close(ready[0]);
	*release = hold[1];
	return pid;
}

int main(int argc, char **argv)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	char path[64], map[96];
	int release = -1, nsfd, tree, r;
	pid_t pid;

	if (argc != 6) {
		fprintf(stderr, "usage: idmap-mount SRC DST NSID HOSTID COUNT\n");
		return 2;
	}
	snprintf(map, sizeof(map), "%s %s %s\n", argv[3], argv[4], argv[5]);
	pid = userns_child(&release);
	if (pid < 0) {
		perror("idmap-mount: user namespace child");
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	r = write_file(path, map);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if (r == 0)
		r = write_file(path, map);
	if (r < 0) {
		fprintf(stderr, "idmap-mount: writing the id maps: %s\n", strerror(-r));
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		perror("idmap-mount: open the user namespace");
		return 1;
	}
	attr.userns_fd = (unsigned)nsfd;
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0) {
		perror("idmap-mount: open_tree");
		return 1;
	}
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		fprintf(stderr, "idmap-mount: mount_setattr(MOUNT_ATTR_IDMAP) on %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[2], MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		perror("idmap-mount: move_mount");
		return 1;
	}
	close(release);
	waitpid(pid, NULL, 0);
	printf("idmap-mount: %s on %s with ids %s", argv[1], argv[2], map);
	return 0;
}
