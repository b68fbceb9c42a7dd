/*
 * Locks: POSIX record locks between processes (conflict, F_GETLK holder, F_SETLKW waiting,
 * release on close), OFD locks, flock, and locks held by a process on the host (the harness runs
 * "posix-conformance hold-locks" on the host side of the share before the run).
 */
#include "posix.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	return fcntl(fd, cmd, &fl);
}

/* Child: waits on a pipe's EOF (parent's signal), after running fn on a fresh fd. */
static pid_t spawn_holder(int (*fn)(int fd), int *ready_rd, int *go_wr)
{
	int ready[2], go[2];

	if (pipe(ready) < 0 || pipe(go) < 0)
		return -1;
	pid_t pid = fork();

	if (pid == 0) {
		char c;
		int fd = open("lockfile", O_RDWR);

		close(ready[0]);
		close(go[1]);
		if (fd < 0 || fn(fd) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(go[0], &c, 1) < 0) /* until the parent says so (or exits) */
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	*ready_rd = ready[0];
	*go_wr = go[1];
	return pid;
}

static int hold_write_0_100(int fd)
{
	return lk(fd, F_SETLK, F_WRLCK, 0, 100);
}

static int c_lock_posix(void)
{
	int rd, go, fd;
	char c;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10};

	TRY(cf_write_file("lockfile", "", 0, 0644));
	pid_t pid = spawn_holder(hold_write_0_100, &rd, &go);

	CHECK(pid > 0, "fork");
	CHECK(read(rd, &c, 1) == 1, "the holder could not take its lock");
	TRY(fd = open("lockfile", O_RDWR));
	EXPECT_ERR2(lk(fd, F_SETLK, F_WRLCK, 50, 10), EAGAIN, EACCES);
	EXPECT_ERR2(lk(fd, F_SETLK, F_RDLCK, 0, 1), EAGAIN, EACCES);
	TRY(lk(fd, F_SETLK, F_WRLCK, 100, 10)); /* beyond the held range */
	TRY(fcntl(fd, F_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 100,
	      "F_GETLK: type %d start %ld len %ld, want the holder's write lock on 0+100",
	      fl.l_type, (long)fl.l_start, (long)fl.l_len);
	close(go);
	CHECK(cf_wait(pid) == 0, "holder failed");
	TRY(lk(fd, F_SETLK, F_WRLCK, 0, 100));
	close(fd);
	close(rd);
	return 0;
}

static int c_lock_getlk_pid(void)
{
	int rd, go, fd;
	char c;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};

	TRY(cf_write_file("lockfile", "", 0, 0644));
	pid_t pid = spawn_holder(hold_write_0_100, &rd, &go);

	CHECK(pid > 0 && read(rd, &c, 1) == 1, "holder");
	TRY(fd = open("lockfile", O_RDWR));
	TRY(fcntl(fd, F_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == pid, "F_GETLK: type %d l_pid %d, want %d",
	      fl.l_type, fl.l_pid, pid);
	close(go);
	cf_wait(pid);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int hold_write_all(int fd)
{
	return lk(fd, F_SETLK, F_WRLCK, 0, 0);
}

static int c_lock_setlkw(void)
{
	int rd, go, fd;
	char c;

	TRY(cf_write_file("lockfile", "", 0, 0644));
	pid_t pid = spawn_holder(hold_write_all, &rd, &go);

	CHECK(pid > 0 && read(rd, &c, 1) == 1, "holder");
	TRY(fd = open("lockfile", O_RDWR));
	pid_t rel = fork();

	if (rel == 0) { /* let the holder go after 300 ms */
		cf_msleep(300);
		close(go);
		_exit(0);
	}
	close(go);
	double t0 = now_s();
	int r = lk(fd, F_SETLKW, F_WRLCK, 0, 0), e = errno;
	double dt = now_s() - t0;

	cf_wait(rel);
	cf_wait(pid);
	CHECK(r == 0, "F_SETLKW: %s", cf_errname(e));
	CHECK(dt > 0.2, "F_SETLKW returned after %.3f s, before the holder released", dt);
	close(fd);
	return 0;
}

static int c_lock_close_releases(void)
{
	int fd, fd2, r;
	char c;
	int p[2];

	TRY(cf_write_file("lockfile", "", 0, 0644));
	TRY(fd = open("lockfile", O_RDWR));
	TRY(lk(fd, F_SETLK, F_WRLCK, 0, 0));
	TRY(fd2 = open("lockfile", O_RDONLY));
	TRY(close(fd2)); /* closing any fd of the file drops the process's locks */
	TRY(pipe(p));
	pid_t pid = fork();

	if (pid == 0) {
		int f = open("lockfile", O_RDWR);

		c = (f >= 0 && lk(f, F_SETLK, F_WRLCK, 0, 0) == 0) ? 'y' : 'n';
		_exit(write(p[1], &c, 1) != 1);
	}
	CHECK(read(p[0], &c, 1) == 1, "child");
	r = cf_wait(pid);
	CHECK(r == 0 && c == 'y', "the lock survived closing another fd of the file");
	close(fd);
	return 0;
}

static int c_lock_ofd(void)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int a, b;

	TRY(cf_write_file("lockfile", "", 0, 0644));
	TRY(a = open("lockfile", O_RDWR));
	TRY(b = open("lockfile", O_RDWR));
	TRY(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
	EXPECT_ERR2(lk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN, EACCES);
	TRY(fcntl(b, F_OFD_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1 && fl.l_len == 10,
	      "F_OFD_GETLK: type %d pid %d len %ld", fl.l_type, fl.l_pid, (long)fl.l_len);
	/* a traditional lock of this process conflicts with the OFD lock too */
	EXPECT_ERR2(lk(b, F_SETLK, F_WRLCK, 0, 1), EAGAIN, EACCES);
	TRY(close(a));
	/* The guest kernel sends RELEASE after close() has returned (FUSE releases files in the
	 * background), and the OFD lock goes with it: give it up to 2 s, never forever. */
	int r = -1;
	for (int i = 0; i < 200; i++) {
		r = lk(b, F_OFD_SETLK, F_WRLCK, 5, 1);
		if (r == 0 || (errno != EAGAIN && errno != EACCES))
			break;
		usleep(10000);
	}
	TRY(r);
	close(b);
	return 0;
}

static int flock_ex(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB);
}

static int flock_sh(int fd)
{
	return flock(fd, LOCK_SH | LOCK_NB);
}

static int c_flock(void)
{
	int rd, go, fd;
	char c;

	TRY(cf_write_file("lockfile", "", 0, 0644));
	pid_t pid = spawn_holder(flock_ex, &rd, &go);

	CHECK(pid > 0 && read(rd, &c, 1) == 1, "holder");
	TRY(fd = open("lockfile", O_RDWR));
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	EXPECT_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	close(go);
	cf_wait(pid);
	close(rd);
	TRY(flock(fd, LOCK_EX | LOCK_NB));
	TRY(flock(fd, LOCK_UN));
	pid = spawn_holder(flock_sh, &rd, &go);
	CHECK(pid > 0 && read(rd, &c, 1) == 1, "shared holder");
	TRY(flock(fd, LOCK_SH | LOCK_NB));
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	close(go);
	cf_wait(pid);
	close(fd);
	return 0;
}

static int host_lock_file(char *p, size_t size, const char *name)
{
	snprintf(p, size, "%s/.cf-locks/ready", cf.dir);
	if (access(p, F_OK) < 0)
		return -1;
	snprintf(p, size, "%s/.cf-locks/%s", cf.dir, name);
	return 0;
}

static int c_host_lock_posix(void)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	char p[4200];
	int fd;

	if (host_lock_file(p, sizeof(p), "posix") < 0)
		FAIL("no host lock holder (%s/.cf-locks/ready): run through tests/conformance/"
		     "run.sh",
		     cf.dir);
	TRY(fd = open(p, O_RDWR));
	TRY(fcntl(fd, F_GETLK, &fl));
	CHECK(fl.l_type == F_WRLCK, "F_GETLK does not see the host's write lock (type %d)",
	      fl.l_type);
	EXPECT_ERR2(lk(fd, F_SETLK, F_RDLCK, 0, 1), EAGAIN, EACCES);
	fl = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET};
	EXPECT_ERR2(fcntl(fd, F_OFD_SETLK, &fl), EAGAIN, EACCES);
	close(fd);
	return 0;
}

static int c_host_flock(void)
{
	char p[4200];
	int fd;

	if (host_lock_file(p, sizeof(p), "flock") < 0)
		FAIL("no host lock holder (%s/.cf-locks/ready): run through tests/conformance/"
		     "run.sh",
		     cf.dir);
	TRY(fd = open(p, O_RDWR));
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	EXPECT_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	close(fd);
	return 0;
}

const struct cf_case cf_cases_lock[] = {
    {"lock_posix_conflict", c_lock_posix, CF_RW},
    {"lock_getlk_pid", c_lock_getlk_pid, CF_RW},
    {"lock_setlkw_waits", c_lock_setlkw, CF_RW},
    {"lock_close_releases", c_lock_close_releases, CF_RW},
    {"lock_ofd", c_lock_ofd, CF_RW},
    {"flock", c_flock, CF_RW},
    {"host_lock_posix", c_host_lock_posix, CF_RW},
    {"host_flock", c_host_flock, CF_RW},
    {NULL, NULL, 0},
};
