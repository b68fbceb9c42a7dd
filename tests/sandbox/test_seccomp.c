/*
 * The seccomp allow-list and the --modcaps parser, each filter in a forked child: a syscall
 * outside the list (personality) is killed with kill, allowed with log, refused with ENOSYS
 * and a stderr line with trap; what the daemon does (threads, files, eventfd, epoll) passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "sandbox/sandbox.h"

/* Child exit codes: 0 ok, 10 + n for the nth failed step. */
typedef int (*child_fn)(void);

static int run_in_child(enum sb_seccomp action, child_fn fn, char *err, size_t errlen)
{
	int pipefd[2], status;
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		dup2(pipefd[1], STDERR_FILENO);
		if (sb_seccomp_install(action, false) < 0)
			_exit(99);
		_exit(fn());
	}
	close(pipefd[1]);
	ssize_t n = read(pipefd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int call_forbidden(void)
{
	long r = syscall(SYS_personality, 0xffffffffUL);
	if (r < 0)
		return errno == ENOSYS ? 3 : 4;
	return 0;
}

static void test_kill(void **state)
{
	char err[256];
	int st = run_in_child(SB_SECCOMP_KILL, call_forbidden, err, sizeof(err));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_log(void **state)
{
	char err[256];
	int st = run_in_child(SB_SECCOMP_LOG, call_forbidden, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_trap(void **state)
{
	char err[256];
	int st = run_in_child(SB_SECCOMP_TRAP, call_forbidden, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3); /* ENOSYS */
	char want[64];
	snprintf(want, sizeof(want), "refused syscall %d", (int)SYS_personality);
	assert_non_null(strstr(err, want));
}

static void test_none(void **state)
{
	char err[256];
	int st = run_in_child(SB_SECCOMP_NONE, call_forbidden, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void *thread_body(void *arg)
{
	int *fd = arg;
	uint64_t one = 1;
	return write(*fd, &one, sizeof(one)) == sizeof(one) ? NULL : (void *)1;
}

static char tmpdir[] = "/tmp/vfsd-seccomp-XXXXXX";

/* A slice of what the daemon does after the filter: threads, eventfd + epoll, *at() calls. */
static int daemon_like(void)
{
	char buf[8];
	struct epoll_event ev = { .events = EPOLLIN }, out;
	pthread_t t;
	void *ret;
	int efd = eventfd(0, EFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);

	if (efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		return 10;
	if (pthread_create(&t, NULL, thread_body, &efd) != 0)
		return 11;
	if (pthread_join(t, &ret) != 0 || ret)
		return 12;
	if (epoll_wait(ep, &out, 1, 1000) != 1)
		return 13;
	int dfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = openat(dfd, "f", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (dfd < 0 || fd < 0 || pwrite(fd, "abc", 3, 0) != 3 || pread(fd, buf, 3, 0) != 3)
		return 15;
	struct stat st;
	if (fstatat(dfd, "f", &st, AT_SYMLINK_NOFOLLOW) < 0 || fsync(fd) < 0)
		return 16;
	if (renameat2(dfd, "f", dfd, "g", 0) < 0 || unlinkat(dfd, "g", 0) < 0)
		return 17;
	close(fd);
	close(dfd);
	return 0;
}

static void test_daemon_syscalls_pass(void **state)
{
	char err[256];
	assert_non_null(mkdtemp(tmpdir));
	int st = run_in_child(SB_SECCOMP_KILL, daemon_like, err, sizeof(err));
	rmdir(tmpdir);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* A new process (clone without CLONE_THREAD) is not something the daemon does once serving. */
static int do_fork(void)
{
	pid_t p = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (p == 0)
		_exit(0);
	return 0;
}

static void test_fork_killed(void **state)
{
	char err[256];
	int st = run_in_child(SB_SECCOMP_KILL, do_fork, err, sizeof(err));
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_modcaps(void **state)
{
	struct sb_caps_opts o = { 0 };

	assert_int_equal(sb_caps_check(&o), 0);
	o.modcaps = "+sys_admin:-mknod";
	assert_int_equal(sb_caps_check(&o), 0);
	o.modcaps = "+SYS_ADMIN:-Chown";
	assert_int_equal(sb_caps_check(&o), 0);
	o.modcaps = "-dac_read_search";
	assert_int_equal(sb_caps_check(&o), 0); /* not needed without file handles */
	o.file_handles = true;
	assert_int_equal(sb_caps_check(&o), -EINVAL);
	o.file_handles = false;
	o.modcaps = "-setuid";
	assert_int_equal(sb_caps_check(&o), -EINVAL); /* per-request credentials need it */
	o.modcaps = "+frobnicate";
	assert_int_equal(sb_caps_check(&o), -EINVAL);
	o.modcaps = "+cap_chown";
	assert_int_equal(sb_caps_check(&o), -EINVAL);
	o.modcaps = "chown";
	assert_int_equal(sb_caps_check(&o), -EINVAL);
	o.modcaps = "+";
	assert_int_equal(sb_caps_check(&o), -EINVAL);
	o.modcaps = "+chown::-mknod";
	assert_int_equal(sb_caps_check(&o), -EINVAL);
}

static void test_idmap_parse(void **state)
{
	struct sb_idmap m;

	assert_int_equal(sb_idmap_parse(":0:1000:1:", &m), 0);
	assert_int_equal(m.ns_id, 0);
	assert_int_equal(m.host_id, 1000);
	assert_int_equal(m.count, 1);
	assert_int_equal(sb_idmap_parse(":1:100000:65536:", &m), 0);
	assert_int_equal(sb_idmap_parse("", &m), -EINVAL);
	assert_int_equal(sb_idmap_parse(":0:1000:1", &m), -EINVAL);
	assert_int_equal(sb_idmap_parse(":0:1000:1::", &m), -EINVAL);
	assert_int_equal(sb_idmap_parse(": 0:1000:1:", &m), -EINVAL);
	assert_int_equal(sb_idmap_parse(":0:+1000:1:", &m), -EINVAL);
	assert_int_equal(sb_idmap_parse(":4294967295:0:1:", &m), -EINVAL);
}

static void test_check_refusals(void **state)
{
	struct sb_idmap map = { 0, 1000, 1 }, map1 = { 1, 100000, 10 };
	struct sb_opts o = { .mode = SB_MODE_NAMESPACE, .shared_dir = "/" };

	assert_int_equal(sb_check(&o), 0);
	o.uid_maps = &map;
	o.n_uid_maps = 1;
	/* Maps are for non-root only; the test suite may run as either. */
	assert_int_equal(sb_check(&o), geteuid() == 0 ? -EINVAL : 0);
	o.mode = SB_MODE_NONE;
	assert_int_equal(sb_check(&o), -EINVAL);
	if (geteuid() != 0) {
		o.mode = SB_MODE_NAMESPACE;
		o.uid_maps = &map1; /* id 0 not mapped */
		assert_int_equal(sb_check(&o), -EINVAL);
		o.n_uid_maps = 0;
		o.mode = SB_MODE_CHROOT;
		assert_int_equal(sb_check(&o), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_trap),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_daemon_syscalls_pass),
		cmocka_unit_test(test_fork_killed),
		cmocka_unit_test(test_modcaps),
		cmocka_unit_test(test_idmap_parse),
		cmocka_unit_test(test_check_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
