/* Command line: the Rust virtiofsd's options plus the legacy -o forms. */
#ifndef VFSD_CONFIG_H
#define VFSD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "fs/passthrough.h" /* enum cache_mode */
#include "sandbox/sandbox.h" /* struct sb_idmap */
#include "fs/idmap.h"

struct xattrmap;

enum sandbox_mode {
	SANDBOX_NAMESPACE,
	SANDBOX_CHROOT,
	SANDBOX_NONE,
};

enum seccomp_mode {
	SECCOMP_MODE_KILL,
	SECCOMP_MODE_NONE,
	SECCOMP_MODE_LOG,
	SECCOMP_MODE_TRAP,
};

struct config {
	char *shared_dir;
	char *socket_path;
	int fd; /* inherited listening socket, -1 if none */
	char *socket_group;
	char *tag; /* --tag: served in the vhost-user config space, NULL if not given */
	unsigned thread_pool_size;
	enum cache_mode cache;
	enum sandbox_mode sandbox;
	enum seccomp_mode seccomp;
	enum log_level log_level;
	bool syslog;
	bool print_capabilities;
	bool help;
	bool version;

	bool xattr;
	bool posix_acl;
	char *xattrmap;
	struct xattrmap *xattr_rules; /* xattrmap parsed (validated at parse time), or NULL */
	bool readdirplus;
	bool writeback;
	bool allow_direct_io;
	bool announce_submounts;
	bool killpriv_v2;
	bool security_label;
	bool readonly;
	bool allow_mmap;
	bool posix_lock; /* --posix-lock / -o posix_lock: POSIX locks on the host file */
	bool flock;      /* --flock / -o flock: flock() on the host file */
	bool preserve_noatime;
	char *modcaps;
	uint64_t rlimit_nofile; /* 0 leaves it; UINT64_MAX = default */
	bool rlimit_nofile_set;
	char *inode_file_handles;
	struct sb_idmap *uid_maps; /* --uid-map, repeatable, in the order given */
	size_t n_uid_maps;
	struct sb_idmap *gid_maps;
	size_t n_gid_maps;
	struct idmap translate_uid; /* --translate-uid, repeatable */
	struct idmap translate_gid; /* --translate-gid, repeatable */
};

/*
 * Parse argv into cfg. Returns 0, or -EINVAL after printing one line to stderr naming the
 * offending option. Does not exit.
 */
int config_parse(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);
void config_print_help(const char *prog);

#endif
