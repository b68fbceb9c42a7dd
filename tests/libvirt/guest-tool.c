/*
 * Guest-side helper for the libvirt tier (busybox has no setfattr, flock or fcntl locks).
 * Linked statically on the host and put into the guest's initramfs.
 *
 *   guest-tool setxattr FILE NAME VALUE   set a user xattr, then read it back
 *   guest-tool mmap FILE                  map FILE MAP_SHARED (cache=never refuses: ENODEV)
 *   guest-tool flock FILE MARKER ACK      take flock(LOCK_EX), create MARKER, hold the lock
 *   guest-tool posix FILE MARKER ACK      the same with an fcntl F_SETLK write lock
 *
 * The lock commands hold until the host creates ACK (up to 60 s), so the host can look for the
 * lock in its /proc/locks meanwhile. Prints "ok" or "error: <errno name>: <message>"; exits 0
 * on success, 1 on a failed call, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

static int fail(const char *what)
{
	int e = errno;

	printf("error: %s: %s: %s\n", e == ENOTSUP ? "ENOTSUP" : e == ENODEV ? "ENODEV" :
	       e == ENOSYS ? "ENOSYS" : "other", what, strerror(e));
	return 1;
}

static int do_setxattr(const char *file, const char *name, const char *value)
{
	char back[256];
	ssize_t n;

	if (setxattr(file, name, value, strlen(value), 0) < 0)
		return fail("setxattr");
	n = getxattr(file, name, back, sizeof(back) - 1);
	if (n < 0)
		return fail("getxattr");
	back[n] = '\0';
	if (strcmp(back, value) != 0) {
		printf("error: read back '%s', not '%s'\n", back, value);
		return 1;
	}
	printf("ok\n");
	return 0;
}

static int do_mmap(const char *file)
{
	int fd = open(file, O_RDWR);
	void *p;

	if (fd < 0)
		return fail("open");
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int r = fail("mmap");
		close(fd);
		return r;
	}
	munmap(p, 4096);
	close(fd);
	printf("ok\n");
	return 0;
}

static int hold(int fd, const char *marker, const char *ack)
{
	int m = open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (m < 0)
		return fail("create the marker");
	close(m);
	for (int i = 0; i < 600 && access(ack, F_OK) < 0; i++)
		usleep(100 * 1000);
	close(fd);
	printf("ok\n");
	return 0;
}

static int do_lock(const char *kind, const char *file, const char *marker, const char *ack)
{
	int fd = open(file, O_RDWR | O_CREAT, 0644);

	if (fd < 0)
		return fail("open");
	if (strcmp(kind, "flock") == 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			return fail("flock");
	} else {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fcntl(fd, F_SETLK, &fl) < 0)
			return fail("fcntl(F_SETLK)");
	}
	return hold(fd, marker, ack);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "setxattr") == 0)
		return do_setxattr(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "mmap") == 0)
		return do_mmap(argv[2]);
	if (argc == 5 && (strcmp(argv[1], "flock") == 0 || strcmp(argv[1], "posix") == 0))
		return do_lock(argv[1], argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: guest-tool setxattr FILE NAME VALUE | mmap FILE | "
			"flock|posix FILE MARKER ACK\n");
	return 2;
}
