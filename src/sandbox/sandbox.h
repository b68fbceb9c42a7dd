/*
 * The sandbox: runs once at start-up, before any worker thread exists.
 *
 * Order in main.c: set the open-file limit, create the listening socket (its path is outside
 * the share), sb_enter() (namespaces + pivot_root, or chroot), open the filesystem with the
 * sb_env it returned, then sb_drop_caps() and sb_seccomp_install(), then accept and serve.
 */
#ifndef VFSD_SANDBOX_H
#define VFSD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sb_mode {
	SB_MODE_NAMESPACE,
	SB_MODE_CHROOT,
	SB_MODE_NONE,
};

enum sb_seccomp {
	SB_SECCOMP_NONE,
	SB_SECCOMP_KILL, /* the whole process dies (SIGSYS) on a syscall outside the list */
	SB_SECCOMP_LOG,  /* allowed, and the kernel logs it (audit / dmesg) */
	SB_SECCOMP_TRAP, /* refused with ENOSYS, and a line on stderr names the syscall number */
};

/* One line of an id map: ids [ns_id, ns_id+count) inside are [host_id, host_id+count) outside. */
struct sb_idmap {
	uint32_t ns_id;
	uint32_t host_id;
	uint32_t count;
};

/* Parse ":ns_id:host_id:count:" (the Rust daemon's --uid-map syntax). 0 or -EINVAL. */
int sb_idmap_parse(const char *s, struct sb_idmap *out);

struct sb_opts {
	enum sb_mode mode;
	const char *shared_dir;
	const struct sb_idmap *uid_maps; /* only as non-root with SB_MODE_NAMESPACE */
	size_t n_uid_maps;
	const struct sb_idmap *gid_maps;
	size_t n_gid_maps;
};

/* What the filesystem layer needs from the sandbox, whatever the mode. */
struct sb_env {
	char *root_dir;   /* "/" after chroot or pivot_root, else the shared dir's real path */
	int proc_self_fd; /* O_PATH fd of this process's /proc/self/fd */
	int mountinfo_fd; /* this process's /proc/self/mountinfo, as seen from root_dir */
};

/* Refuse combinations that cannot work (chroot as non-root, id maps as root...) with one line
 * on stderr, before anything is changed. 0 or -EINVAL. */
int sb_check(const struct sb_opts *o);

/*
 * Enter the sandbox. Returns 0 with *env filled, or a negative errno after logging which step
 * failed. In namespace mode the calling process does not return: it stays outside the new PID
 * namespace, waits for the child that serves, and _exit()s with its status (a SIGTERM, SIGINT
 * or SIGHUP it receives kills the child, then itself with the same signal). The function
 * returns in that child.
 */
int sb_enter(const struct sb_opts *o, struct sb_env *env);
void sb_env_free(struct sb_env *env);

/* Closes every descriptor but 0, 1, 2 and keep (-1: none): one a launcher left open without
 * O_CLOEXEC (a directory, say) would survive pivot_root and chroot, a way back to the host's
 * file system for a compromised daemon. Called first, before anything of ours is open. */
int sb_close_inherited(int keep);

/* --rlimit-nofile: set=false takes the default min(1000000, fs.nr_open), falling back to the
 * hard limit and never lowering a higher soft limit; value 0 leaves the limit. An explicit value
 * that cannot be set fails (logged): the daemon stops, as the Rust daemon does. */
int sb_set_rlimit_nofile(bool set, uint64_t value);

struct sb_caps_opts {
	const char *modcaps;    /* "+cap:-cap..." or NULL */
	bool file_handles;      /* inode file handles in use: keep DAC_READ_SEARCH */
};

/* Validate --modcaps before anything starts: unknown names, removing a needed one. 0/-EINVAL. */
int sb_caps_check(const struct sb_caps_opts *o);
/* As (namespace) root: keep exactly the daemon's capability set, adjusted by --modcaps, in the
 * effective, permitted and bounding sets. As non-root: nothing (a warning with --modcaps). */
int sb_drop_caps(const struct sb_caps_opts *o);

/* Load the syscall allow-list (with_syslog adds what syslog(3) needs). Before any thread. */
int sb_seccomp_install(enum sb_seccomp action, bool with_syslog);

#endif
