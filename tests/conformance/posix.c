/*
 * posix-conformance: POSIX conformance cases on a mounted share. Linked statically, so the same
 * binary runs on the host (over /dev/fuse) and in the busybox VM guest (over virtio-fs).
 *
 *   posix-conformance [--readonly|--idmap] [--filter=SUBSTR] [--stress-seconds=N] [--list] DIR
 *       runs the cases in DIR (--readonly: the share is read-only; --idmap: also the id translation
 *       case, for a daemon mapping guest ids 5000-5009 to host ids 15000-15009) ("ok N - name" /
 * "not ok N - name: detail" lines, then "N passed, N failed"); exit status 0 only when nothing
 * failed posix-conformance prepare-ro DIR      (host) creates the fixture the --readonly cases read
 *   posix-conformance hold-locks DIR      (host) holds an fcntl lock on DIR/.cf-locks/posix and
 *       a flock on DIR/.cf-locks/flock until SIGTERM; DIR/.cf-locks/ready says they are held
 *   posix-conformance getxattr PATH NAME  (host) prints a host-side xattr value
 */
#include "posix.h"

#include <dirent.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define CASE_TIMEOUT_S 120

struct cf_conf cf = {.stress_seconds = 3};
static char msg[700];
static int msg_fd = -1;

const char *cf_errname(int e)
{
	const char *n = strerrorname_np(e);
	static char buf[32];

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

int cf_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

int cf_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return 1;
}

int cf_become(uid_t uid, gid_t gid, int ngroups, const gid_t *groups)
{
	if (setgroups(ngroups, groups) < 0)
		return -1;
	if (setresgid(-1, gid, -1) < 0)
		return -1;
	return setresuid(-1, uid, -1);
}

void cf_unbecome(void)
{
	int e = errno; /* the caller checks the errno of the call it made as the user */

	if (setresuid(-1, 0, -1) < 0 || setresgid(-1, 0, -1) < 0 || setgroups(0, NULL) < 0) {
		perror("posix-conformance: returning to root");
		_exit(3);
	}
	errno = e;
}

int cf_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len) {
		int e = errno ? errno : EIO;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

ssize_t cf_read_file(const char *path, void *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < size && (n = read(fd, (char *)buf + total, size - total)) > 0)
		total += n;
	close(fd);
	return total;
}

int cf_mkfile(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (cf_write_file(path, "data", 4, 0600) < 0 || chown(path, uid, gid) < 0)
		return -1;
	return chmod(path, mode);
}

int cf_mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(path, 0700) < 0 || chown(path, uid, gid) < 0)
		return -1;
	return chmod(path, mode);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int cf_rm_rf(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void cf_msleep(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool cf_ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

int cf_set_old_times(const char *path, time_t atime, time_t mtime)
{
	struct timespec ts[2] = {{atime, 0}, {mtime, 0}};

	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

int cf_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* The mode's case flag; only read-write runs get a fresh directory per case. */
static unsigned mode_flag(void)
{
	return cf.readonly ? CF_RO : CF_RW;
}

/* The child's side of one case: a fresh directory, root, umask 022, then the case. */
static void case_child(const struct cf_case *c, const char *casedir)
{
	int r;

	signal(SIGALRM, SIG_DFL);
	alarm(CASE_TIMEOUT_S);
	umask(022);
	if (mode_flag() == CF_RW && chdir(casedir) < 0)
		r = cf_fail(__FILE__, __LINE__, "chdir %s: %s", casedir, cf_errname(errno));
	else if (mode_flag() != CF_RW && chdir(cf.dir) < 0)
		r = cf_fail(__FILE__, __LINE__, "chdir %s: %s", cf.dir, cf_errname(errno));
	else
		r = c->fn();
	if (r != 0 && write(msg_fd, msg, strlen(msg)) < 0)
		_exit(3);
	_exit(r == 0 ? 0 : r == 1 ? 77 : 1);
}

/* Returns 0 pass, 1 skip, -1 fail, printing the result line. */
static int run_case(const struct cf_case *c, int n, const char *rundir)
{
	char casedir[8192], detail[sizeof(msg)] = "";
	int p[2], st;
	ssize_t len;
	pid_t pid;

	snprintf(casedir, sizeof(casedir), "%s/%s", rundir, c->name);
	if (mode_flag() == CF_RW && mkdir(casedir, 0755) < 0) {
		printf("not ok %d - %s: mkdir %s: %s\n", n, c->name, casedir, cf_errname(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		msg_fd = p[1];
		case_child(c, casedir);
	}
	close(p[1]);
	len = pid < 0 ? 0 : read(p[0], detail, sizeof(detail) - 1);
	detail[len > 0 ? len : 0] = 0;
	close(p[0]);
	st = pid < 0 ? 255 : cf_wait(pid);
	if (mode_flag() == CF_RW && cf_rm_rf(casedir) < 0 && st == 0)
		snprintf(detail, sizeof(detail), "cleanup of %.300s: %s", casedir,
			 cf_errname(errno)),
		    st = 1;
	if (st == 0) {
		printf("ok %d - %s\n", n, c->name);
		return 0;
	}
	if (st == 77) {
		printf("ok %d - %s # SKIP %s\n", n, c->name, detail);
		return 1;
	}
	if (st == 128 + SIGALRM)
		snprintf(detail, sizeof(detail), "timed out after %d s", CASE_TIMEOUT_S);
	else if (!detail[0])
		snprintf(detail, sizeof(detail), "exit status %d", st);
	printf("not ok %d - %s: %s\n", n, c->name, detail);
	return -1;
}

static const struct cf_case *const groups[] = {
    cf_cases_ns, cf_cases_perm, cf_cases_io, cf_cases_xattr, cf_cases_lock, cf_cases_misc,
};

static int run_all(const char *filter, bool list)
{
	int n = 0, passed = 0, failed = 0, skipped = 0;
	char rundir[4096];

	snprintf(rundir, sizeof(rundir), "%s/cf-run-%d", cf.dir, (int)getpid());
	if (!list && mode_flag() == CF_RW && mkdir(rundir, 0755) < 0) {
		printf("not ok 1 - setup: mkdir %s: %s\n0 passed, 1 failed\n", rundir,
		       cf_errname(errno));
		return 1;
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		for (const struct cf_case *c = groups[g]; c->name; c++) {
			if (!(c->flags & mode_flag()) &&
			    !(cf.idmap && !cf.readonly && (c->flags & CF_IDMAP)))
				continue;
			if (filter && !strstr(c->name, filter))
				continue;
			n++;
			if (list) {
				printf("%s\n", c->name);
				continue;
			}
			int r = run_case(c, n, rundir);

			passed += r >= 0;
			skipped += r == 1;
			failed += r < 0;
		}
	}
	if (list)
		return 0;
	if (mode_flag() == CF_RW && rmdir(rundir) < 0)
		printf("# could not remove %s: %s\n", rundir, cf_errname(errno));
	printf("# %d skipped (counted as passed; each says why above)\n", skipped);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

static int prepare_ro(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/cf-ro", dir);
	cf_rm_rf(p);
	if (mkdir(p, 0755) < 0)
		return perror(p), 1;
	snprintf(p, sizeof(p), "%s/cf-ro/file", dir);
	if (cf_write_file(p, "readonly fixture\n", 17, 0644) < 0)
		return perror(p), 1;
	if (setxattr(p, "user.cf", "ro", 2, 0) < 0)
		fprintf(stderr, "prepare-ro: setxattr %s: %s (xattr cases will fail)\n", p,
			strerror(errno));
	snprintf(p, sizeof(p), "%s/cf-ro/dir", dir);
	if (mkdir(p, 0755) < 0)
		return perror(p), 1;
	snprintf(p, sizeof(p), "%s/cf-ro/link", dir);
	if (symlink("file", p) < 0)
		return perror(p), 1;
	return 0;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int hold_locks(const char *dir)
{
	char p[4096];
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	int pfd, ffd;

	snprintf(p, sizeof(p), "%s/.cf-locks", dir);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return perror(p), 1;
	snprintf(p, sizeof(p), "%s/.cf-locks/posix", dir);
	pfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (pfd < 0 || fcntl(pfd, F_SETLK, &fl) < 0)
		return perror(p), 1;
	snprintf(p, sizeof(p), "%s/.cf-locks/flock", dir);
	ffd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (ffd < 0 || flock(ffd, LOCK_EX | LOCK_NB) < 0)
		return perror(p), 1;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	snprintf(p, sizeof(p), "%s/.cf-locks/ready", dir);
	if (cf_write_file(p, "held\n", 5, 0644) < 0)
		return perror(p), 1;
	while (!stop)
		pause();
	unlink(p);
	return 0;
}

static int host_getxattr(const char *path, const char *name)
{
	char v[4096];
	ssize_t n = getxattr(path, name, v, sizeof(v) - 1);

	if (n < 0) {
		fprintf(stderr, "getxattr %s %s: %s\n", path, name, strerror(errno));
		return 1;
	}
	v[n] = 0;
	printf("%s\n", v);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: posix-conformance [--readonly|--idmap] [--filter=SUBSTR] "
			"[--stress-seconds=N] [--list] DIR\n"
			"       posix-conformance prepare-ro DIR | hold-locks DIR | "
			"getxattr PATH NAME\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	bool list = false;
	static char dir[4096];
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "prepare-ro") == 0)
		return prepare_ro(argv[2]);
	if (argc == 3 && strcmp(argv[1], "hold-locks") == 0)
		return hold_locks(argv[2]);
	if (argc == 4 && strcmp(argv[1], "getxattr") == 0)
		return host_getxattr(argv[2], argv[3]);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--readonly") == 0)
			cf.readonly = true;
		else if (strcmp(argv[i], "--idmap") == 0)
			cf.idmap = true;
		else if (strncmp(argv[i], "--filter=", 9) == 0)
			filter = argv[i] + 9;
		else if (strncmp(argv[i], "--stress-seconds=", 17) == 0)
			cf.stress_seconds = atoi(argv[i] + 17);
		else if (strcmp(argv[i], "--list") == 0)
			list = true;
		else
			usage();
	}
	if (i != argc - 1)
		usage();
	if (!realpath(argv[i], dir)) {
		fprintf(stderr, "posix-conformance: %s: %s\n", argv[i], strerror(errno));
		return 2;
	}
	cf.dir = dir;
	if (!list && geteuid() != 0) {
		printf("not ok 1 - setup: must run as root (cases switch to other uids)\n"
		       "0 passed, 1 failed\n");
		return 1;
	}
	return run_all(filter, list);
}
