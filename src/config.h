/*
 * Command line: the Rust virtiofsd 1.13's options and its legacy -o forms, parsed the way its
 * clap parser does (docs/status.md lists where ours deliberately differs). Values land in the
 * layers' own types (sb_mode, sb_seccomp, inode_file_handles, cache_mode), each parsed once.
 */
#ifndef VFSD_CONFIG_H
#define VFSD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"
#include "fs/passthrough.h" /* enum cache_mode, enum inode_file_handles */
#include "sandbox/sandbox.h" /* enum sb_mode, enum sb_seccomp, struct sb_idmap */
#include "fs/idmap.h"

struct xattrmap;

/* --poll-us: the default, and the largest value accepted (10 ms). */
#define CONFIG_POLL_US_DEFAULT 50
#define CONFIG_POLL_US_DEFAULT_STR "50"
#define CONFIG_POLL_US_MAX 10000

/* --migration-mode and --migration-on-error (main.c hands them to the passthrough). */
enum migration_mode {
	MIGRATION_FIND_PATHS,
	MIGRATION_FILE_HANDLES,
};

enum migration_on_error {
	MIGRATION_ON_ERROR_ABORT,
	MIGRATION_ON_ERROR_GUEST_ERROR,
};

#define CONFIG_MAX_WARNINGS 8

struct config {
	char *shared_dir;
	char *socket_path; /* --socket-path, else the deprecated --socket */
	int fd; /* inherited listening socket, -1 if none */
	char *socket_group;
	char *tag; /* --tag: served in the vhost-user config space, NULL if not given */
	unsigned thread_pool_size;
	unsigned poll_us; /* --poll-us (ours only): vu_opts.poll_us */
	enum cache_mode cache;
	enum sb_mode sandbox;
	enum sb_seccomp seccomp;
	enum log_level log_level; /* RUST_LOG, when set, wins on stderr (log_init) */
	bool syslog;
	bool print_capabilities;
	bool help;
	bool version;

	bool xattr; /* also implied by --xattrmap, --posix-acl and --security-label */
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
	bool posix_lock; /* --posix-lock / -o posix_lock (ours only): POSIX locks on the host */
	bool flock;      /* --flock / -o flock (ours only): flock() on the host file */
	bool preserve_noatime;
	char *modcaps;
	uint64_t rlimit_nofile; /* 0 leaves it */
	bool rlimit_nofile_set; /* false: the default, min(1000000, fs.nr_open) */
	enum inode_file_handles inode_file_handles;
	struct sb_idmap *uid_maps; /* --uid-map, repeatable, in the order given */
	size_t n_uid_maps;
	struct sb_idmap *gid_maps;
	size_t n_gid_maps;
	struct idmap translate_uid; /* --translate-uid, repeatable */
	struct idmap translate_gid; /* --translate-gid, repeatable */
	enum migration_mode migration_mode;
	enum migration_on_error migration_on_error;
	bool migration_verify_handles;
	bool migration_confirm_paths;

	/* Deprecation notes, logged once logging is set up (config_log_warnings). */
	const char *warnings[CONFIG_MAX_WARNINGS];
	size_t n_warnings;
};

/*
 * Parse argv into cfg. Returns 0, or a negative errno after printing what is wrong to stderr:
 * -EINVAL for a usage error (what clap refuses in the Rust daemon: exit status 2), anything
 * else for a refusal the Rust daemon makes after parsing (exit status 1). Does not exit.
 * On failure cfg holds nothing to free.
 */
int config_parse(struct config *cfg, int argc, char **argv);
/* The process exit status for a config_parse() failure, as the Rust daemon's. */
int config_exit_status(int r);
void config_log_warnings(const struct config *cfg);
void config_free(struct config *cfg);
void config_print_help(const char *prog);
void config_print_help_to(FILE *f, const char *prog);

#endif
