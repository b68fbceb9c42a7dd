/* The daemon under test as a child process: temp dir, command line, start, connect, exit. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

#ifndef FAKE_DEFAULT_DAEMON
#define FAKE_DEFAULT_DAEMON "virtiofsd"
#endif

static const char *daemon_path(void)
{
	const char *p = getenv("VIRTIOFSD");

	return p && *p ? p : FAKE_DEFAULT_DAEMON;
}

static bool daemon_is_legacy(const char *path)
{
	const char *e = getenv("VIRTIOFSD_LEGACY");

	if (e && *e)
		return strcmp(e, "0") != 0;
	return strstr(path, "/qemu/virtiofsd") != NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sanitizer reports must turn into a signal exit, so a test cannot mistake one for a clean exit
 * with status 1. */
static void child_sanitizer_env(void)
{
	static const char add_asan[] = "abort_on_error=1:detect_leaks=1";
	static const char add_ubsan[] = "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
	char buf[1024];
	const char *old = getenv("ASAN_OPTIONS");

	snprintf(buf, sizeof(buf), "%s%s%s", old ? old : "", old && *old ? ":" : "", add_asan);
	setenv("ASAN_OPTIONS", buf, 1);
	old = getenv("UBSAN_OPTIONS");
	snprintf(buf, sizeof(buf), "%s%s%s", old ? old : "", old && *old ? ":" : "", add_ubsan);
	setenv("UBSAN_OPTIONS", buf, 1);
}

static void add_args(const char **argv, int *n, const char *args, char *buf, size_t cap)
{
	char *save = NULL;

	if (!args || snprintf(buf, cap, "%s", args) >= (int)cap)
		return;
	for (char *t = strtok_r(buf, " ", &save); t && *n < 30; t = strtok_r(NULL, " ", &save))
		argv[(*n)++] = t;
}

/* "@SHARE@"/"@SOCK@" replaced in one argument (heap; the child execs or exits). */
static char *subst(const struct fe *fe, const char *a)
{
	size_t cap = strlen(a) + 1;
	char *out, *o;

	for (const char *p = a; (p = strchr(p, '@')); p++)
		cap += sizeof(fe->share) + sizeof(fe->sock_path);
	out = o = malloc(cap);
	if (!out)
		_exit(126);
	while (*a) {
		if (strncmp(a, "@SHARE@", 7) == 0) {
			o += sprintf(o, "%s", fe->share);
			a += 7;
		} else if (strncmp(a, "@SOCK@", 6) == 0) {
			o += sprintf(o, "%s", fe->sock_path);
			a += 6;
		} else {
			*o++ = *a++;
		}
	}
	*o = 0;
	return out;
}

/* A listening socket on the socket path, handed to the daemon as fd n (Kata, libvirt and
 * systemd socket activation pass --fd=N). */
static void child_listen_fd(struct fe *fe, int n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fe->sock_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, "fake frontend: listening socket %s: %s\n", fe->sock_path,
			strerror(errno));
		_exit(126);
	}
	if (fd != n && (dup2(fd, n) < 0 || close(fd) < 0))
		_exit(126);
}

static void child_exec_exact(struct fe *fe, int log_fd)
{
	size_t n = 0;
	char **argv;

	while (fe->opts.argv[n])
		n++;
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		_exit(126);
	for (size_t i = 0; i < n; i++)
		argv[i] = subst(fe, fe->opts.argv[i]);
	if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		_exit(126);
	if (log_fd > STDERR_FILENO && log_fd != fe->opts.listen_fd)
		close(log_fd);
	if (fe->opts.listen_fd >= 3)
		child_listen_fd(fe, fe->opts.listen_fd);
	if (fe->opts.chdir_share && chdir(fe->share) < 0)
		_exit(126);
	child_sanitizer_env();
	execv(argv[0], argv);
	fprintf(stderr, "fake frontend: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static void child_exec(struct fe *fe, const char *path, int log_fd)
{
	if (fe->opts.argv)
		child_exec_exact(fe, log_fd);
	char a_sock[160], a_dir[160], extra[512], extra1[512], a_poll[64];
	const char *argv[32];
	int n = 0;
	bool debug = getenv("FAKE_DEBUG") != NULL;
	const char *more = getenv("FAKE_DAEMON_ARGS");

	if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
		_exit(126);
	child_sanitizer_env();
	argv[n++] = path;
	snprintf(a_sock, sizeof(a_sock), "--socket-path=%s", fe->sock_path);
	argv[n++] = a_sock;
	if (fe->legacy) {
		snprintf(a_dir, sizeof(a_dir), "source=%s", fe->share);
		argv[n++] = "-o";
		argv[n++] = a_dir;
		argv[n++] = "-o";
		argv[n++] = "cache=auto";
		if (debug)
			argv[n++] = "-d";
	} else {
		snprintf(a_dir, sizeof(a_dir), "--shared-dir=%s", fe->share);
		argv[n++] = a_dir;
		/* --sandbox=none unless the test picks a mode (left out then, so the command
		 * line in the log says what counts). */
		if (!strstr(fe->opts.daemon_args ? fe->opts.daemon_args : "", "--sandbox") &&
		    !strstr(more ? more : "", "--sandbox"))
			argv[n++] = "--sandbox=none";
		argv[n++] = "--cache=auto";
		if (debug)
			argv[n++] = "--log-level=debug";
		/* FAKE_POLL_US: the whole tier again with the queue threads' polling set so. */
		if (getenv("FAKE_POLL_US") && *getenv("FAKE_POLL_US")) {
			snprintf(a_poll, sizeof(a_poll), "--poll-us=%s", getenv("FAKE_POLL_US"));
			argv[n++] = a_poll;
		}
	}
	/* Extra options, space-separated: the test's own, then FAKE_DAEMON_ARGS (e.g.
	 * --seccomp=none for a sanitizer build, whose exit-time leak check uses system calls the
	 * filter rightly forbids). */
	add_args(argv, &n, fe->opts.daemon_args, extra1, sizeof(extra1));
	add_args(argv, &n, more, extra, sizeof(extra));
	argv[n] = NULL;
	execv(path, (char *const *)argv);
	fprintf(stderr, "fake frontend: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

static int spawn_daemon(struct fe *fe)
{
	const char *path = fe->opts.argv ? fe->opts.argv[0] : daemon_path();
	int log_fd;

	if (access(path, X_OK) < 0) {
		int r = -errno;

		fprintf(stderr, "fake frontend: daemon %s is not executable: %s (set VIRTIOFSD)\n",
			path, strerror(-r));
		return r;
	}
	fe->legacy = daemon_is_legacy(path);
	log_fd = open(fe->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -errno;
	fe->pid = fork();
	if (fe->pid < 0) {
		int r = -errno;

		close(log_fd);
		return r;
	}
	if (fe->pid == 0)
		child_exec(fe, path, log_fd);
	close(log_fd);
	return 0;
}

static int connect_daemon(struct fe *fe)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = now_ms() + FE_TIMEOUT_MS;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fe->sock_path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			fe->sock = fd;
			return 0;
		}
		close(fd);
		if (!fe_alive(fe)) {
			fprintf(stderr, "fake frontend: daemon exited before accepting a connection\n");
			return -ECHILD;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "fake frontend: no listener on %s after %d ms\n",
				fe->sock_path, FE_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		usleep(5000);
	}
}

static int make_dirs(struct fe *fe)
{
	const char *base = getenv("TMPDIR");

	snprintf(fe->tmp, sizeof(fe->tmp), "%s/fakefe.XXXXXX", base && *base ? base : "/tmp");
	if (strlen(fe->tmp) > 40 || !mkdtemp(fe->tmp)) {
		fe->tmp[0] = 0;
		return -EINVAL;
	}
	snprintf(fe->sock_path, sizeof(fe->sock_path), "%s/vhost.sock", fe->tmp);
	snprintf(fe->log_path, sizeof(fe->log_path), "%s/daemon.log", fe->tmp);
	/* A caller's own share lives outside tmp, so fe_destroy() leaves it alone. */
	if (fe->opts.share_dir) {
		if (snprintf(fe->share, sizeof(fe->share), "%s", fe->opts.share_dir) >=
		    (int)sizeof(fe->share))
			return -ENAMETOOLONG;
		return 0;
	}
	snprintf(fe->share, sizeof(fe->share), "%s/share", fe->tmp);
	if (mkdir(fe->share, 0755) < 0)
		return -errno;
	return 0;
}

int fe_start(struct fe **out, const struct fe_opts *opts)
{
	struct fe *fe = calloc(1, sizeof(*fe));
	int r;

	*out = fe;
	if (!fe)
		return -ENOMEM;
	fe->sock = fe->backend_fd = fe->mem_fd = -1;
	fe->pid = -1;
	if (opts)
		fe->opts = *opts;
	if (!fe->opts.queue_size)
		fe->opts.queue_size = 1024;
	if (fe->opts.req_queues >= FE_MAX_QUEUES)
		return -EINVAL;
	fe->nqueues = 1 + (fe->opts.req_queues ? fe->opts.req_queues : 1);
	for (unsigned q = 0; q < FE_MAX_QUEUES; q++)
		fe->vq[q].kick_fd = fe->vq[q].call_fd = fe->vq[q].err_fd = -1;
	r = make_dirs(fe);
	if (r < 0)
		return r;
	r = spawn_daemon(fe);
	if (r < 0)
		return r;
	r = connect_daemon(fe);
	if (r < 0)
		return r;
	r = fe_mem_init(fe);
	if (r < 0)
		return r;
	for (unsigned q = 0; q < fe->nqueues; q++) {
		r = fe_vq_init(fe, q, fe->opts.queue_size);
		if (r < 0)
			return r;
	}
	if (fe->opts.no_negotiate)
		return 0;
	return fe_negotiate(fe);
}

bool fe_alive(struct fe *fe)
{
	int st;
	pid_t p;

	if (fe->pid <= 0 || fe->exited)
		return false;
	p = waitpid(fe->pid, &st, WNOHANG);
	if (p == fe->pid) {
		fe->exited = true;
		fe->status = st;
		return false;
	}
	return true;
}

int fe_wait_exit(struct fe *fe, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (fe_alive(fe)) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		usleep(2000);
	}
	return fe->pid > 0 ? 0 : -ECHILD;
}

int fe_disconnect(struct fe *fe, int timeout_ms)
{
	if (fe->sock >= 0) {
		close(fe->sock);
		fe->sock = -1;
	}
	if (fe->backend_fd >= 0) {
		close(fe->backend_fd);
		fe->backend_fd = -1;
	}
	return fe_wait_exit(fe, timeout_ms);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fe_destroy(struct fe *fe)
{
	if (!fe)
		return;
	if (fe_disconnect(fe, FE_TIMEOUT_MS) == -ETIMEDOUT) {
		fprintf(stderr, "fake frontend: daemon %d still running after disconnect, killing\n",
			(int)fe->pid);
		kill(fe->pid, SIGKILL);
		waitpid(fe->pid, &fe->status, 0);
		fe->exited = true;
	}
	for (unsigned q = 0; q < FE_MAX_QUEUES; q++)
		fe_vq_fini(&fe->vq[q]);
	fe_mem_fini(fe);
	if (fe->tmp[0] && !getenv("FAKE_KEEP"))
		nftw(fe->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else if (fe->tmp[0])
		fprintf(stderr, "fake frontend: kept %s\n", fe->tmp);
	free(fe);
}

static char *read_log(struct fe *fe)
{
	FILE *f = fopen(fe->log_path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

bool fe_log_contains(struct fe *fe, const char *needle)
{
	char *log = read_log(fe);
	bool found = log && strstr(log, needle);

	free(log);
	return found;
}

void fe_dump_log(struct fe *fe)
{
	char *log = read_log(fe);

	fprintf(stderr, "---- daemon log (%s) ----\n%s---- end of daemon log ----\n",
		fe->log_path, log ? log : "(unreadable)\n");
	free(log);
}

int fe_log_clean(struct fe *fe)
{
	static const char *const bad[] = { "AddressSanitizer", "LeakSanitizer",
					   "runtime error:", "UndefinedBehaviorSanitizer",
					   "ThreadSanitizer", "stack-buffer", "Segmentation fault" };
	char *log = read_log(fe);
	int r = 0;

	for (size_t i = 0; log && i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(log, bad[i]))
			r = -EPROTO;
	free(log);
	if (r < 0)
		fe_dump_log(fe);
	return r;
}

const char *fe_share_path(struct fe *fe, const char *rel, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", fe->share, rel);

	return n > 0 && (size_t)n < cap ? buf : "/nonexistent-truncated";
}

const char *fe_tmp_path(struct fe *fe, const char *rel, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", fe->tmp, rel);

	return n > 0 && (size_t)n < cap ? buf : "/nonexistent-truncated";
}

/* What fd name of /proc/PID/fd (dir) points at, "" if it cannot be read. */
static void fd_link(const char *dir, const char *name, char *buf, size_t cap)
{
	char lp[128];
	ssize_t len;

	snprintf(lp, sizeof(lp), "%s/%.20s", dir, name);
	len = readlink(lp, buf, cap - 1);
	buf[len < 0 ? 0 : len] = '\0';
}

/* Pipe inodes ("pipe:[N]") that a sanitizer's symbolizer, a child process of pid, holds. */
static int symbolizer_pipes(pid_t pid, unsigned long *ino, int max)
{
	char path[96], buf[512];
	struct dirent *t;
	int n = 0;
	DIR *tasks;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	if (!tasks)
		return 0;
	while ((t = readdir(tasks)) && n < max) {
		FILE *f;
		int child;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", (int)pid, t->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1 && n < max) {
			char comm[32] = "";
			FILE *c;
			DIR *fds;
			struct dirent *fd;

			snprintf(path, sizeof(path), "/proc/%d/comm", child);
			c = fopen(path, "re");
			if (c) {
				if (!fgets(comm, sizeof(comm), c))
					comm[0] = '\0';
				fclose(c);
			}
			if (strncmp(comm, "llvm-symbolizer", 15) && strncmp(comm, "addr2line", 9))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd", child);
			fds = opendir(path);
			while (fds && (fd = readdir(fds)) && n < max) {
				fd_link(path, fd->d_name, buf, sizeof(buf));
				if (sscanf(buf, "pipe:[%lu]", &ino[n]) == 1)
					n++;
			}
			if (fds)
				closedir(fds);
		}
		fclose(f);
	}
	closedir(tasks);
	return n;
}

int fe_proc_fds(pid_t pid)
{
	unsigned long sym[16], ino;
	int nsym = symbolizer_pipes(pid, sym, 16), n = 0;
	char path[64], buf[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		bool theirs = false;

		if (de->d_name[0] == '.')
			continue;
		fd_link(path, de->d_name, buf, sizeof(buf));
		if (sscanf(buf, "pipe:[%lu]", &ino) == 1)
			for (int i = 0; i < nsym; i++)
				theirs |= sym[i] == ino;
		n += !theirs;
	}
	closedir(d);
	return n;
}

void fe_proc_fds_print(pid_t pid)
{
	char path[64], buf[256];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			fd_link(path, de->d_name, buf, sizeof(buf));
			fprintf(stderr, "  process %d fd %s -> %s\n", (int)pid, de->d_name, buf);
		}
	if (d)
		closedir(d);
}

int fe_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}
