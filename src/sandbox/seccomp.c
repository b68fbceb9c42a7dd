/*
 * The syscall allow-list (libseccomp). Names rather than numbers, so the list is the same on
 * every architecture: a name the running architecture does not have (open on aarch64, or a
 * syscall newer than this libseccomp) is skipped. What does differ per architecture is below in
 * arch_notes; add an architecture there.
 *
 * The list covers the daemon after start-up: the passthrough filesystem's *at() calls and
 * per-request credentials, the vhost-user socket and its mmap'ed guest memory, eventfds and
 * epoll, thread creation and exit, glibc's malloc and logging.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/fs.h>
#include <seccomp.h>

#include "log.h"
#include "sandbox/sandbox.h"

static const char *const allowed[] = {
	/* memory, threads, signals, time */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "exit", "exit_group",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"futex", "set_robust_list", "rseq", "membarrier", "set_tid_address", "gettid", "getpid",
	"tgkill", "tkill", "sched_yield", "sched_getaffinity", "nanosleep", "clock_nanosleep",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom", "prctl",
	"prlimit64", "getrlimit", "sysinfo",
	/* credentials: per request, per thread */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "setresuid",
	"setresgid", "setfsuid", "setfsgid", "setgroups", "getgroups", "capget", "capset",
	"unshare", "umask",
	/* descriptors, sockets, events */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl",
	"poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "eventfd2", "recvmsg", "sendmsg", "recvfrom", "sendto", "accept4",
	"accept", "shutdown", "getsockopt", "copy_file_range", "sendfile", "splice",
	/* the passthrough filesystem */
	"openat", "openat2", "open", "newfstatat", "fstat", "statx", "fstatfs", "statfs",
	"getdents64", "mkdirat", "mknodat", "unlinkat", "renameat", "renameat2", "linkat",
	"symlinkat", "readlinkat", "unlink", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchownat",
	"utimensat", "fallocate", "ftruncate", "fsync", "fdatasync", "syncfs", "flock",
	"name_to_handle_at", "open_by_handle_at", "fchdir", "getcwd", "faccessat", "faccessat2",
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
	"llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "getxattrat",
	"setxattrat", "listxattrat", "removexattrat",
};

/* syslog(3): a datagram to /dev/log, reconnected when syslogd restarts. */
static const char *const allowed_syslog[] = { "connect", "sendto" };

/* Ioctls the filesystem may issue on a guest's behalf (inode flags), and isatty(). */
static const unsigned long allowed_ioctls[] = {
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, TCGETS,
};

/*
 * Per architecture: which argument of clone(2) holds the flags (s390 swaps the first two).
 * glibc creates threads with clone3 first, whose flags live in memory a filter cannot read:
 * refuse clone3 with ENOSYS so that glibc falls back to clone, checked for CLONE_THREAD.
 */
struct arch_note {
	uint32_t arch;
	unsigned clone_flags_arg;
};
static const struct arch_note arch_notes[] = {
	{ SCMP_ARCH_X86_64, 0 },
	{ SCMP_ARCH_AARCH64, 0 },
};

static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg),
			 "virtiofsd: seccomp: refused syscall %d (not in the allow-list)\n",
			 si->si_syscall);
	ucontext_t *uc = uctx;

	/* The kernel rolled the return register back to the syscall number: make it ENOSYS. */
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#endif
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		return; /* nothing more a signal handler can do */
}

static int add_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture or unknown to this libseccomp */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0) {
			log_error("seccomp: cannot allow %s: %s", names[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

static int add_special(scmp_filter_ctx ctx, bool with_syslog)
{
	const struct arch_note *note = NULL;
	uint32_t arch = seccomp_arch_native();
	int r;

	for (size_t i = 0; i < sizeof(arch_notes) / sizeof(arch_notes[0]); i++)
		if (arch_notes[i].arch == arch)
			note = &arch_notes[i];
	if (!note) {
		log_error("seccomp: no allow-list for this architecture (0x%x); use --seccomp=none",
			  arch);
		return -ENOTSUP;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SCMP_CMP(note->clone_flags_arg, SCMP_CMP_MASKED_EQ, CLONE_THREAD,
				      CLONE_THREAD));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	for (size_t i = 0; r == 0 && i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i]));
	if (r == 0 && with_syslog)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0));
	if (r == 0 && with_syslog)
		r = add_names(ctx, allowed_syslog, sizeof(allowed_syslog) / sizeof(*allowed_syslog));
	if (r < 0)
		log_error("seccomp: cannot add the conditional rules: %s", strerror(-r));
	return r;
}

static int install_sigsys_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		int r = -errno;
		log_error("seccomp: cannot install the SIGSYS handler: %s", strerror(errno));
		return r;
	}
	return 0;
}

int sb_seccomp_install(enum sb_seccomp action, bool with_syslog)
{
	uint32_t def;
	scmp_filter_ctx ctx;
	int r;

	switch (action) {
	case SB_SECCOMP_NONE:
		return 0;
	case SB_SECCOMP_KILL:
		def = SCMP_ACT_KILL_PROCESS;
		break;
	case SB_SECCOMP_LOG:
		def = SCMP_ACT_LOG;
		break;
	case SB_SECCOMP_TRAP:
		def = SCMP_ACT_TRAP;
		break;
	default:
		return -EINVAL;
	}
	if (action == SB_SECCOMP_TRAP && (r = install_sigsys_handler()) < 0)
		return r;
	ctx = seccomp_init(def);
	if (!ctx) {
		log_error("seccomp: cannot create a filter");
		return -ENOMEM;
	}
	r = add_names(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]));
	if (r == 0)
		r = add_special(ctx, with_syslog);
	/* Threads started before us (none should be) get the filter too. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0) {
		r = seccomp_load(ctx);
		if (r < 0)
			log_error("seccomp: loading the filter failed: %s", strerror(-r));
	}
	seccomp_release(ctx);
	return r;
}
