/*
 * --sandbox=namespace: new PID, mount and network namespaces (plus a user namespace when not
 * root), then pivot_root into the shared directory.
 *
 * Process layout: the calling process unshares and forks; its child is PID 1 of the new PID
 * namespace and serves the guest; the caller stays outside that namespace only to wait for the
 * child and exit with its status. As non-root, a helper forked before the unshare writes the
 * caller's id maps from the parent user namespace (only a process there may), and the caller
 * then becomes uid/gid 0 inside its namespace before forking the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log.h"
#include "sandbox/internal.h"

/* Log which step failed and return -errno; 0 if rc is not negative. */
static int step(long rc, const char *what)
{
	int e = errno;

	if (rc >= 0)
		return 0;
	log_error("sandbox: %s failed: %s", what, strerror(e));
	return -e;
}

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t got_signal;

/* The child is PID 1 of its namespace and ignores every signal it has no handler for, so a
 * signal meant for the daemon kills it outright. kill() is async-signal-safe. */
static void forward_signal(int sig)
{
	got_signal = sig;
	if (child_pid > 0)
		kill(child_pid, SIGKILL);
}

static _Noreturn void exit_like(int sig)
{
	/* Signals that would dump core here say nothing about this process: report them. */
	if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGKILL || sig == SIGPIPE) {
		sigset_t set;
		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
	}
	_exit(128 + sig);
}

static _Noreturn void wait_for_child(pid_t child, const sigset_t *old_mask)
{
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = forward_signal }; /* no SA_RESTART: see waitpid */
	int status = 0;

	child_pid = child;
	if (geteuid() == 0)
		sb_caps_drop_all(); /* it only waits, and signals a child of its own uid */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, old_mask, NULL);
	for (;;) {
		pid_t w = waitpid(child, &status, 0);
		if (w == child)
			break;
		if (w < 0 && errno != EINTR)
			_exit(1);
	}
	if (got_signal)
		exit_like(got_signal);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	exit_like(WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL);
}

/* Returns 0 in the child only; the parent waits and exits. */
static int fork_serving_child(void)
{
	sigset_t all, old;
	int life[2], r;
	pid_t child;

	r = step(pipe2(life, O_CLOEXEC), "creating the parent-lifeline pipe");
	if (r < 0)
		return r;
	/* Until the parent's handlers know the child's pid, no signal may be handled. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0) {
		r = step(-1, "fork of the process that serves (in the new PID namespace)");
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(life[0]);
		close(life[1]);
		return r;
	}
	if (child > 0) {
		close(life[0]);
		wait_for_child(child, &old); /* keeps life[1] open until it exits */
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(life[1]);
	r = step(prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl(PR_SET_PDEATHSIG)");
	/* The parent never writes: readable means it is gone, maybe before the prctl. */
	struct pollfd p = { .fd = life[0], .events = POLLIN };
	if (r == 0 && poll(&p, 1, 0) != 0)
		r = -ESRCH;
	close(life[0]);
	return r;
}

static int unshare_as_user(const struct sb_opts *o)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	pid_t self = getpid(), helper, w;
	int go[2], status = 0, r;

	r = step(pipe2(go, O_CLOEXEC), "creating the id-map helper pipe");
	if (r < 0)
		return r;
	helper = fork();
	if (helper < 0) {
		r = step(-1, "fork of the id-map helper");
		close(go[0]);
		close(go[1]);
		return r;
	}
	if (helper == 0) {
		char c;
		ssize_t n;
		close(go[1]);
		do
			n = read(go[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 && sb_idmap_write(self, o, uid, gid) == 0 ? 0 : 1);
	}
	close(go[0]);
	r = step(unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET),
		 "unshare(CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET) (unprivileged user "
		 "namespaces may be disabled; --sandbox=none runs without)");
	if (r == 0 && write(go[1], "g", 1) != 1)
		r = step(-1, "waking the id-map helper");
	close(go[1]); /* without the byte, the helper exits */
	do
		w = waitpid(helper, &status, 0);
	while (w < 0 && errno == EINTR);
	if (r < 0)
		return r;
	/* From here this process lives in the new user namespace: without usable ids nothing
	 * can run in it, not even exit-time work (a sanitizer's leak check hangs there). */
	if (w != helper || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("sandbox: writing the id maps of the new user namespace failed");
		_exit(1);
	}
	/* Root inside when the maps give id 0; a map without it (the default one, or
	 * :65534:65534:1:) leaves the caller's ids, with a warning, as the Rust daemon does. */
	if (setresgid(0, 0, 0) < 0)
		log_warn("sandbox: cannot become gid 0 in the user namespace (%s): the gid map "
			 "does not include it; serving as gid %u", strerror(errno), (unsigned)getegid());
	if (setresuid(0, 0, 0) < 0)
		log_warn("sandbox: cannot become uid 0 in the user namespace (%s): the uid map "
			 "does not include it; serving as uid %u", strerror(errno), (unsigned)geteuid());
	/* Denied (EPERM) with the default map, where setgroups is off for good anyway. */
	if (setgroups(0, NULL) < 0 && errno != EPERM) {
		step(-1, "dropping the supplementary groups inside the user namespace");
		_exit(1);
	}
	return 0;
}

static int pivot_into(const char *dir)
{
	int r = step(mount(dir, dir, NULL, MS_BIND | MS_REC, NULL),
		     "bind-mounting the shared directory on itself");
	if (r == 0)
		r = step(chdir(dir), "chdir into the shared directory");
	if (r == 0)
		r = step(syscall(SYS_pivot_root, ".", "."), "pivot_root into the shared directory");
	/* The old root is now stacked on "/": stop propagation back to the host, then drop it. */
	if (r == 0)
		r = step(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL),
			 "making the old root a slave mount");
	if (r == 0)
		r = step(umount2(".", MNT_DETACH), "detaching the old root");
	if (r == 0)
		r = step(chdir("/"), "chdir(\"/\") after pivot_root");
	if (r < 0)
		log_error("sandbox: shared directory: %s", dir);
	return r;
}

/* In the child, PID 1 of the new namespace. */
static int setup_mounts(const char *real_dir, struct sb_env *env)
{
	int proc_self = -1, r;

	r = step(mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL),
		 "making / a recursive slave mount");
	if (r == 0)
		r = step(mount("proc", "/proc", "proc", MS_NODEV | MS_NOEXEC | MS_NOSUID, NULL),
			 "mounting a fresh /proc");
	if (r == 0)
		r = step(proc_self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC),
			 "opening /proc/self");
	/* What the filesystem needs of /proc is its fd directory, to reopen O_PATH fds. */
	if (r == 0)
		r = step(mount("/proc/self/fd", "/proc", NULL, MS_BIND, NULL),
			 "bind-mounting /proc/self/fd over /proc");
	if (r == 0)
		r = step(env->proc_self_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC),
			 "opening the /proc/self/fd bind mount");
	if (r == 0 && strcmp(real_dir, "/") != 0)
		r = pivot_into(real_dir);
	/* Opened after the pivot so that it lists the mounts as the filesystem sees them. */
	if (r == 0)
		r = step(env->mountinfo_fd = openat(proc_self, "mountinfo", O_RDONLY | O_CLOEXEC),
			 "opening mountinfo through the saved /proc/self");
	if (proc_self >= 0)
		close(proc_self);
	if (r == 0 && !(env->root_dir = strdup("/")))
		r = -ENOMEM;
	return r;
}

int sb_enter_namespace(const struct sb_opts *o, const char *real_dir, struct sb_env *env)
{
	int r;

	if (geteuid() == 0)
		r = step(unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET),
			 "unshare(CLONE_NEWPID|CLONE_NEWNS|CLONE_NEWNET)");
	else
		r = unshare_as_user(o);
	if (r == 0)
		r = fork_serving_child();
	if (r == 0)
		r = setup_mounts(real_dir, env);
	return r;
}
