/*
 * Command line of the Rust virtiofsd 1.13 (clap, `args_override_self`): `--opt value` or
 * `--opt=value`, no abbreviations, a repeated option takes the last value (the repeatable maps
 * add up), then the legacy `-o a,b=c` lists applied on top in the order given, as its
 * parse_compat() does: `-o source=` replaces --shared-dir wherever it stands. Parsing only:
 * main.c decides what a combination means for the sandbox and the filesystem.
 */
#include "config.h"
#include "fs/xattrmap.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	OPT_SHARED_DIR = 256,
	OPT_SOCKET_PATH,
	OPT_SOCKET,
	OPT_FD,
	OPT_SOCKET_GROUP,
	OPT_THREAD_POOL_SIZE,
	OPT_CACHE,
	OPT_SANDBOX,
	OPT_SECCOMP,
	OPT_LOG_LEVEL,
	OPT_SYSLOG,
	OPT_PRINT_CAPS,
	OPT_XATTR,
	OPT_POSIX_ACL,
	OPT_XATTRMAP,
	OPT_NO_READDIRPLUS,
	OPT_WRITEBACK,
	OPT_ALLOW_DIRECT_IO,
	OPT_ANNOUNCE_SUBMOUNTS,
	OPT_NO_ANNOUNCE_SUBMOUNTS,
	OPT_KILLPRIV_V2,
	OPT_NO_KILLPRIV_V2,
	OPT_SECURITY_LABEL,
	OPT_READONLY,
	OPT_ALLOW_MMAP,
	OPT_PRESERVE_NOATIME,
	OPT_MODCAPS,
	OPT_RLIMIT_NOFILE,
	OPT_INODE_FILE_HANDLES,
	OPT_UID_MAP,
	OPT_TRANSLATE_UID,
	OPT_TRANSLATE_GID,
	OPT_GID_MAP,
	OPT_POSIX_LOCK,
	OPT_FLOCK,
	OPT_MIGRATION_MODE,
	OPT_MIGRATION_ON_ERROR,
	OPT_MIGRATION_VERIFY_HANDLES,
	OPT_MIGRATION_CONFIRM_PATHS,
	OPT_TAG,
	OPT_POLL_US,
};

static const struct option long_opts[] = {
	{ "shared-dir", required_argument, NULL, OPT_SHARED_DIR },
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "thread-pool-size", required_argument, NULL, OPT_THREAD_POOL_SIZE },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "xattr", no_argument, NULL, OPT_XATTR },
	{ "posix-acl", no_argument, NULL, OPT_POSIX_ACL },
	{ "xattrmap", required_argument, NULL, OPT_XATTRMAP },
	{ "no-readdirplus", no_argument, NULL, OPT_NO_READDIRPLUS },
	{ "writeback", no_argument, NULL, OPT_WRITEBACK },
	{ "allow-direct-io", no_argument, NULL, OPT_ALLOW_DIRECT_IO },
	{ "announce-submounts", no_argument, NULL, OPT_ANNOUNCE_SUBMOUNTS },
	{ "no-announce-submounts", no_argument, NULL, OPT_NO_ANNOUNCE_SUBMOUNTS },
	{ "killpriv-v2", no_argument, NULL, OPT_KILLPRIV_V2 },
	{ "no-killpriv-v2", no_argument, NULL, OPT_NO_KILLPRIV_V2 },
	{ "security-label", no_argument, NULL, OPT_SECURITY_LABEL },
	{ "readonly", no_argument, NULL, OPT_READONLY },
	{ "allow-mmap", no_argument, NULL, OPT_ALLOW_MMAP },
	{ "preserve-noatime", no_argument, NULL, OPT_PRESERVE_NOATIME },
	{ "modcaps", required_argument, NULL, OPT_MODCAPS },
	{ "rlimit-nofile", required_argument, NULL, OPT_RLIMIT_NOFILE },
	{ "inode-file-handles", required_argument, NULL, OPT_INODE_FILE_HANDLES },
	{ "uid-map", required_argument, NULL, OPT_UID_MAP },
	{ "translate-uid", required_argument, NULL, OPT_TRANSLATE_UID },
	{ "translate-gid", required_argument, NULL, OPT_TRANSLATE_GID },
	{ "gid-map", required_argument, NULL, OPT_GID_MAP },
	{ "posix-lock", no_argument, NULL, OPT_POSIX_LOCK },
	{ "flock", no_argument, NULL, OPT_FLOCK },
	{ "migration-mode", required_argument, NULL, OPT_MIGRATION_MODE },
	{ "migration-on-error", required_argument, NULL, OPT_MIGRATION_ON_ERROR },
	{ "migration-verify-handles", no_argument, NULL, OPT_MIGRATION_VERIFY_HANDLES },
	{ "migration-confirm-paths", no_argument, NULL, OPT_MIGRATION_CONFIRM_PATHS },
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct name_value {
	const char *name;
	int value;
};

/* The long forms' words, with the Rust daemon's case rules (flagged per table). */
static const struct name_value cache_names[] = {
	{ "auto", CACHE_AUTO },
	{ "always", CACHE_ALWAYS },
	{ "never", CACHE_NEVER },
	{ "metadata", CACHE_METADATA },
	{ NULL, 0 },
};

static const struct name_value sandbox_names[] = {
	{ "namespace", SB_MODE_NAMESPACE },
	{ "chroot", SB_MODE_CHROOT },
	{ "none", SB_MODE_NONE },
	{ NULL, 0 },
};

static const struct name_value seccomp_names[] = {
	{ "kill", SB_SECCOMP_KILL }, { "none", SB_SECCOMP_NONE }, { "log", SB_SECCOMP_LOG },
	{ "trap", SB_SECCOMP_TRAP }, { NULL, 0 },
};

static const struct name_value log_names[] = {
	{ "error", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN },	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG }, { "trace", LOG_LVL_TRACE }, { "off", LOG_LVL_OFF },
	{ NULL, 0 },
};

/* "fallback" is the deprecated alias of prefer (a warning says so). */
static const struct name_value handles_names[] = {
	{ "never", INODE_HANDLES_NEVER },	  { "prefer", INODE_HANDLES_PREFER },
	{ "fallback", INODE_HANDLES_PREFER },	  { "mandatory", INODE_HANDLES_MANDATORY },
	{ NULL, 0 },
};

static const struct name_value migration_mode_names[] = {
	{ "find-paths", MIGRATION_FIND_PATHS },
	{ "file-handles", MIGRATION_FILE_HANDLES },
	{ NULL, 0 },
};

static const struct name_value migration_error_names[] = {
	{ "abort", MIGRATION_ON_ERROR_ABORT },
	{ "guest-error", MIGRATION_ON_ERROR_GUEST_ERROR },
	{ NULL, 0 },
};

/* The legacy -o words (case-sensitive, as parse_compat matches them). */
static const struct name_value compat_cache_names[] = {
	{ "auto", CACHE_AUTO },	    { "always", CACHE_ALWAYS }, { "none", CACHE_NEVER },
	{ "metadata", CACHE_METADATA }, { NULL, 0 },
};

static const struct name_value compat_log_names[] = {
	{ "debug", LOG_LVL_DEBUG }, { "info", LOG_LVL_INFO }, { "warn", LOG_LVL_WARN },
	{ "err", LOG_LVL_ERROR },   { NULL, 0 },
};

static const struct name_value compat_sandbox_names[] = {
	{ "namespace", SB_MODE_NAMESPACE },
	{ "chroot", SB_MODE_CHROOT },
	{ NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "virtiofsd: invalid value '%s' for '%s': %s\n", val, opt, why);
	return -EINVAL;
}

static int lookup(const struct name_value *tbl, bool icase, const char *val, int *out)
{
	for (; tbl->name; tbl++) {
		if ((icase ? strcasecmp(tbl->name, val) : strcmp(tbl->name, val)) == 0) {
			*out = tbl->value;
			return 0;
		}
	}
	return -EINVAL;
}

#define SET_ENUM(field, tbl, icase, opt, val, valid)                                               \
	({                                                                                         \
		int v_, r_ = lookup(tbl, icase, val, &v_);                                         \
		if (r_ == 0)                                                                       \
			(field) = v_;                                                              \
		r_ == 0 ? 0 : bad(opt, val, valid);                                                \
	})

/* Digits only, as Rust's integer parsing (no sign, no 0x, no spaces). */
static int parse_u64(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *digits = val + (*val == '+'); /* Rust's integer parsing takes one '+' */

	if (!*val)
		return bad(opt, val, "cannot parse integer from empty string");
	if (!*digits)
		return bad(opt, val, "invalid digit found in string");
	for (const char *p = digits; *p; p++) {
		if (*p < '0' || *p > '9')
			return bad(opt, val, "invalid digit found in string");
		if (v > (max - (uint64_t)(*p - '0')) / 10)
			return bad(opt, val, "number too large to fit in target type");
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* Last value wins (clap's args_override_self). */
static int set_str(char **field, const char *val)
{
	char *copy = strdup(val);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Append one ":ns_id:host_id:count:" range; the sandbox decides whether maps may be used. */
static int add_idmap(struct sb_idmap **maps, size_t *n, const char *opt, const char *val)
{
	struct sb_idmap m, *grown;

	if (sb_idmap_parse(val, &m) < 0)
		return bad(opt, val, "expected :namespace_id:host_id:count:");
	if (*n >= 64)
		return bad(opt, val, "more than 64 ranges");
	grown = realloc(*maps, (*n + 1) * sizeof(**maps));
	if (!grown)
		return -ENOMEM;
	grown[(*n)++] = m;
	*maps = grown;
	return 0;
}

static void warn_later(struct config *cfg, const char *text)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (cfg->warnings[i] == text)
			return;
	if (cfg->n_warnings < CONFIG_MAX_WARNINGS)
		cfg->warnings[cfg->n_warnings++] = text;
}

/* What was given on the command line, beyond the values, for the checks at the end. */
struct seen {
	char *socket;      /* --socket (deprecated alias) */
	bool compat;
	char **compat_args; /* the -o lists, applied after the long options */
	size_t n_compat;
	bool fallback; /* --inode-file-handles=fallback */
	bool debug;    /* -d */
};

/* Legacy "-o" flags: name, field, value. */
struct compat_flag {
	const char *name;
	size_t off;
	bool value;
};

#define FLAG(n, f, v) { n, offsetof(struct config, f), v }
static const struct compat_flag compat_flags[] = {
	FLAG("xattr", xattr, true),
	FLAG("no_xattr", xattr, false),
	FLAG("readdirplus", readdirplus, true),
	FLAG("no_readdirplus", readdirplus, false),
	FLAG("writeback", writeback, true),
	FLAG("no_writeback", writeback, false),
	FLAG("allow_direct_io", allow_direct_io, true),
	FLAG("no_allow_direct_io", allow_direct_io, false),
	FLAG("killpriv_v2", killpriv_v2, true),
	FLAG("no_killpriv_v2", killpriv_v2, false),
	FLAG("posix_acl", posix_acl, true),
	FLAG("no_posix_acl", posix_acl, false),
	FLAG("security_label", security_label, true),
	FLAG("no_security_label", security_label, false),
	/* ours only: the Rust daemon accepts only the no_ forms, and ignores them */
	FLAG("posix_lock", posix_lock, true),
	FLAG("no_posix_lock", posix_lock, false),
	FLAG("flock", flock, true),
	FLAG("no_flock", flock, false),
};
#undef FLAG

static int compat_flag(struct config *cfg, const char *item)
{
	for (size_t i = 0; i < sizeof(compat_flags) / sizeof(compat_flags[0]); i++) {
		if (strcmp(item, compat_flags[i].name) == 0) {
			*(bool *)((char *)cfg + compat_flags[i].off) = compat_flags[i].value;
			return 0;
		}
	}
	/* Accepted and without effect in the Rust daemon too: submounts are announced unless
	 * --no-announce-submounts says otherwise. */
	if (strcmp(item, "announce_submounts") == 0)
		return 0;
	fprintf(stderr, "virtiofsd: invalid compat argument '-o %s'\n", item);
	return -EINVAL;
}

static int compat_value(struct config *cfg, const char *key, const char *val)
{
	int v;

	if (strcmp(key, "source") == 0) {
		if (cfg->shared_dir && strcmp(cfg->shared_dir, val) != 0)
			warn_later(cfg, "-o source= replaces the --shared-dir given (as the Rust "
					"daemon does)");
		return set_str(&cfg->shared_dir, val);
	}
	if (strcmp(key, "xattrmap") == 0)
		return set_str(&cfg->xattrmap, val);
	if (strcmp(key, "modcaps") == 0)
		return set_str(&cfg->modcaps, val);
	if (strcmp(key, "cache") == 0) {
		if (lookup(compat_cache_names, false, val, &v) < 0)
			goto bad_value;
		cfg->cache = v;
	} else if (strcmp(key, "loglevel") == 0 || strcmp(key, "log_level") == 0) {
		/* log_level= is ours only (the C daemon's spelling) */
		if (lookup(compat_log_names, false, val, &v) < 0)
			goto bad_value;
		cfg->log_level = v;
	} else if (strcmp(key, "sandbox") == 0) {
		if (lookup(compat_sandbox_names, false, val, &v) < 0)
			goto bad_value;
		cfg->sandbox = v;
	} else {
		fprintf(stderr, "virtiofsd: invalid compat argument '-o %s=%s'\n", key, val);
		return -EINVAL;
	}
	return 0;
bad_value:
	fprintf(stderr, "virtiofsd: invalid compat value '%s' for '-o %s'\n", val, key);
	return -EINVAL;
}

/* One item of a -o list: "flag" or "key=value" (a second '=' makes it invalid, as the Rust
 * daemon splits on every '=' and wants two parts). */
static int compat_item(struct config *cfg, char *item)
{
	char *eq = strchr(item, '=');
	int r;

	if (!eq)
		return compat_flag(cfg, item);
	if (strchr(eq + 1, '=')) {
		fprintf(stderr, "virtiofsd: invalid compat argument '-o %s'\n", item);
		return -EINVAL;
	}
	*eq = '\0';
	r = compat_value(cfg, item, eq + 1);
	*eq = '=';
	return r;
}

static int parse_compat(struct config *cfg, const char *arg)
{
	char *copy = strdup(arg), *next;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	/* strtok_r would merge ",," and drop a trailing ','; the Rust daemon refuses the empty
	 * item, so split by hand. */
	for (char *tok = copy; tok && r == 0; tok = next) {
		char *comma = strchr(tok, ',');

		next = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		r = compat_item(cfg, tok);
	}
	free(copy);
	return r;
}

static int keep_compat(struct seen *seen, const char *arg)
{
	char **grown = realloc(seen->compat_args, (seen->n_compat + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	seen->compat_args = grown;
	grown[seen->n_compat] = strdup(arg);
	if (!grown[seen->n_compat])
		return -ENOMEM;
	seen->n_compat++;
	seen->compat = true;
	return 0;
}

static int parse_number(struct config *cfg, int c, const char *arg)
{
	uint64_t v;
	int r;

	switch (c) {
	case OPT_FD:
		r = parse_u64("--fd", arg, INT_MAX, &v);
		if (r == 0)
			cfg->fd = (int)v;
		return r;
	case OPT_THREAD_POOL_SIZE:
		r = parse_u64("--thread-pool-size", arg, UINT_MAX, &v);
		if (r == 0)
			cfg->thread_pool_size = (unsigned)v;
		return r;
	case OPT_POLL_US:
		r = parse_u64("--poll-us", arg, CONFIG_POLL_US_MAX, &v);
		if (r == 0)
			cfg->poll_us = (unsigned)v;
		return r;
	case OPT_RLIMIT_NOFILE:
		r = parse_u64("--rlimit-nofile", arg, UINT64_MAX, &v);
		if (r == 0) {
			cfg->rlimit_nofile = v;
			cfg->rlimit_nofile_set = true;
		}
		return r;
	}
	return 1;
}

static int parse_word(struct config *cfg, struct seen *seen, int c, const char *arg)
{
	int r;

	switch (c) {
	case OPT_CACHE:
		return SET_ENUM(cfg->cache, cache_names, true, "--cache", arg,
				"expected auto, always, never or metadata");
	case OPT_SANDBOX:
		return SET_ENUM(cfg->sandbox, sandbox_names, true, "--sandbox", arg,
				"expected namespace, chroot or none");
	case OPT_SECCOMP:
		return SET_ENUM(cfg->seccomp, seccomp_names, false, "--seccomp", arg,
				"expected none, kill, log or trap");
	case OPT_LOG_LEVEL:
		return SET_ENUM(cfg->log_level, log_names, true, "--log-level", arg,
				"expected error, warn, info, debug, trace or off");
	case OPT_INODE_FILE_HANDLES:
		r = SET_ENUM(cfg->inode_file_handles, handles_names, false, "--inode-file-handles",
			     arg, "expected never, prefer or mandatory");
		if (r == 0)
			seen->fallback = strcmp(arg, "fallback") == 0;
		return r;
	case OPT_MIGRATION_MODE:
		return SET_ENUM(cfg->migration_mode, migration_mode_names, false,
				"--migration-mode", arg, "expected find-paths or file-handles");
	case OPT_MIGRATION_ON_ERROR:
		return SET_ENUM(cfg->migration_on_error, migration_error_names, false,
				"--migration-on-error", arg, "expected abort or guest-error");
	}
	return 1;
}

static int parse_value(struct config *cfg, struct seen *seen, int c, const char *arg)
{
	int r = parse_number(cfg, c, arg);

	if (r == 1)
		r = parse_word(cfg, seen, c, arg);
	if (r != 1)
		return r;
	switch (c) {
	case OPT_SHARED_DIR:
		return set_str(&cfg->shared_dir, arg);
	case OPT_SOCKET_PATH:
		return set_str(&cfg->socket_path, arg);
	case OPT_SOCKET:
		return set_str(&seen->socket, arg);
	case OPT_SOCKET_GROUP:
		return set_str(&cfg->socket_group, arg);
	case OPT_TAG:
		/* struct virtio_fs_config's tag[36], as the Rust daemon checks it (UTF-8 bytes). */
		if (arg[0] == '\0' || strlen(arg) > 36) {
			fprintf(stderr, "virtiofsd: invalid --tag '%s': the tag may not be empty or "
					"longer than 36 bytes\n", arg);
			return -EINVAL;
		}
		return set_str(&cfg->tag, arg);
	case OPT_XATTRMAP:
		return set_str(&cfg->xattrmap, arg);
	case OPT_MODCAPS:
		return set_str(&cfg->modcaps, arg);
	case OPT_UID_MAP:
		return add_idmap(&cfg->uid_maps, &cfg->n_uid_maps, "--uid-map", arg);
	case OPT_GID_MAP:
		return add_idmap(&cfg->gid_maps, &cfg->n_gid_maps, "--gid-map", arg);
	case OPT_TRANSLATE_UID:
		return idmap_add(&cfg->translate_uid, arg); /* logs its own line */
	case OPT_TRANSLATE_GID:
		return idmap_add(&cfg->translate_gid, arg);
	case 'o':
		return keep_compat(seen, arg);
	}
	return 1; /* not a value option */
}

static int parse_flag(struct config *cfg, struct seen *seen, int c)
{
	switch (c) {
	case OPT_SYSLOG: cfg->syslog = true; break;
	case OPT_PRINT_CAPS: cfg->print_capabilities = true; break;
	case OPT_XATTR: cfg->xattr = true; break;
	case OPT_POSIX_ACL: cfg->posix_acl = true; break;
	case OPT_NO_READDIRPLUS: cfg->readdirplus = false; break;
	case OPT_WRITEBACK: cfg->writeback = true; break;
	case OPT_ALLOW_DIRECT_IO: cfg->allow_direct_io = true; break;
	case OPT_ANNOUNCE_SUBMOUNTS: cfg->announce_submounts = true; break;
	case OPT_NO_ANNOUNCE_SUBMOUNTS: cfg->announce_submounts = false; break;
	case OPT_KILLPRIV_V2: cfg->killpriv_v2 = true; break;
	case OPT_NO_KILLPRIV_V2: cfg->killpriv_v2 = false; break;
	case OPT_SECURITY_LABEL: cfg->security_label = true; break;
	case OPT_READONLY: cfg->readonly = true; break;
	case OPT_ALLOW_MMAP: cfg->allow_mmap = true; break;
	case OPT_PRESERVE_NOATIME: cfg->preserve_noatime = true; break;
	case OPT_POSIX_LOCK: cfg->posix_lock = true; break;
	case OPT_FLOCK: cfg->flock = true; break;
	case OPT_MIGRATION_VERIFY_HANDLES: cfg->migration_verify_handles = true; break;
	case OPT_MIGRATION_CONFIRM_PATHS: cfg->migration_confirm_paths = true; break;
	case 'h': cfg->help = true; break;
	case 'V': cfg->version = true; break;
	case 'f':
		warn_later(cfg, "use of deprecated flag '-f': this flag has no effect, please "
				"remove it");
		break;
	case 'd':
		seen->debug = true; /* beats --log-level and -o loglevel=, wherever it stands */
		warn_later(cfg, "use of deprecated flag '-d': please use the '--log-level debug' "
				"option instead");
		break;
	default: return -EINVAL;
	}
	return 0;
}

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = -1;
	cfg->cache = CACHE_AUTO;
	cfg->sandbox = SB_MODE_NAMESPACE;
	cfg->seccomp = SB_SECCOMP_KILL;
	cfg->log_level = LOG_LVL_INFO;
	cfg->inode_file_handles = INODE_HANDLES_PREFER;
	cfg->readdirplus = true;
	cfg->announce_submounts = true;
	cfg->migration_mode = MIGRATION_FIND_PATHS;
	cfg->migration_on_error = MIGRATION_ON_ERROR_ABORT;
	cfg->poll_us = CONFIG_POLL_US_DEFAULT;
	idmap_init(&cfg->translate_uid, "--translate-uid");
	idmap_init(&cfg->translate_gid, "--translate-gid");
}

static int usage(const char *what)
{
	fprintf(stderr, "virtiofsd: %s\nFor more information, try '--help'.\n", what);
	return -EINVAL;
}

/* What clap checks once every argument is in: required and conflicting options. */
static int check_args(const struct config *cfg, const struct seen *seen)
{
	bool socket = cfg->socket_path || seen->socket;

	if (cfg->socket_group && cfg->print_capabilities)
		return usage("--print-capabilities cannot be used with --socket-group");
	if (cfg->fd >= 0 && socket)
		return usage("--fd cannot be used with --socket-path or --socket");
	if (cfg->fd >= 0 && cfg->socket_group)
		return usage("--socket-group cannot be used with --fd (the socket is not ours "
			     "to chown)");
	if (cfg->print_capabilities)
		return 0;
	if (!cfg->shared_dir && !seen->compat)
		return usage("missing the required option --shared-dir");
	if (!socket && cfg->fd < 0)
		return usage("missing one of the required options --socket-path, --socket or "
			     "--fd");
	return 0;
}

/* After the -o lists: what the Rust daemon refuses or derives in main(). */
static int check_combination(struct config *cfg, struct seen *seen)
{
	int r;

	if (seen->socket && !cfg->socket_path) {
		cfg->socket_path = seen->socket;
		seen->socket = NULL;
		warn_later(cfg, "use of deprecated parameter '--socket': please use the "
				"'--socket-path' option instead");
	}
	if (seen->compat)
		warn_later(cfg, "use of deprecated option format '-o': please specify options "
				"without it (e.g., '--cache auto' instead of '-o cache=auto')");
	if (seen->debug)
		cfg->log_level = LOG_LVL_DEBUG;
	if (seen->fallback)
		warn_later(cfg, "use of deprecated value 'fallback' for '--inode-file-handles': "
				"please use 'prefer' instead");
	if (cfg->print_capabilities)
		return 0;
	if (!cfg->shared_dir) {
		fprintf(stderr, "virtiofsd: missing \"--shared-dir\" or \"-o source\" option\n");
		return -ENOENT;
	}
	/* The Rust daemon checks the long --posix-acl only; ours also -o posix_acl (an ACL
	 * would hold untranslated ids either way). */
	if (cfg->posix_acl &&
	    (!idmap_is_empty(&cfg->translate_uid) || !idmap_is_empty(&cfg->translate_gid)))
		return usage("--translate-uid/--translate-gid cannot be used with --posix-acl: "
			     "ACL xattrs hold untranslated ids");
	if (cfg->migration_mode == MIGRATION_FILE_HANDLES &&
	    (cfg->migration_confirm_paths || cfg->migration_verify_handles)) {
		fprintf(stderr, "virtiofsd: cannot use --migration-%s with "
				"--migration-mode=file-handles (because it is unnecessary)\n",
			cfg->migration_confirm_paths ? "confirm-paths" : "verify-handles");
		return -ENOTSUP;
	}
	if (cfg->cache == CACHE_NEVER)
		cfg->readdirplus = false; /* as the reference: nothing to cache the entries in */
	/* xattrs are implied by the features that live in them, whichever form gave them
	 * (so "--posix-acl -o no_xattr" keeps them, as in the Rust daemon). */
	if (cfg->xattrmap || cfg->posix_acl || cfg->security_label)
		cfg->xattr = true;
	if (!cfg->xattrmap)
		return 0;
	r = xattrmap_parse(cfg->xattrmap, &cfg->xattr_rules); /* logs its own line */
	return r < 0 ? -EINVAL : 0;
}

/* The option's own spelling, whole: getopt_long would take "--shared" for "--shared-dir",
 * clap does not; and --inode-file-handles wants its value after '=' (require_equals). */
static int check_spelling(int argc, char **argv, int c, int idx)
{
	const struct option *o = &long_opts[idx];
	int at = optind - 1;

	if (o->has_arg == required_argument && at > 0 && optarg == argv[at])
		at--; /* the value came as the next argument */
	if (at < 1 || at >= argc)
		return 0;
	const char *tok = argv[at];
	size_t n = strlen(o->name);
	if (strncmp(tok, "--", 2) != 0 || strncmp(tok + 2, o->name, n) != 0 ||
	    (tok[2 + n] != '\0' && tok[2 + n] != '=')) {
		fprintf(stderr, "virtiofsd: unknown option '%s' (did you mean '--%s'?)\n", tok,
			o->name);
		return -EINVAL;
	}
	if (c == OPT_INODE_FILE_HANDLES && tok[2 + n] != '=')
		return usage("equal sign is needed when assigning values to "
			     "'--inode-file-handles=<MODE>'");
	return 0;
}

static int parse_args(struct config *cfg, struct seen *seen, int argc, char **argv)
{
	int c, idx, r = 0;

	optind = 1;
	opterr = 0;
	while (r == 0 && (idx = -1, c = getopt_long(argc, argv, "+:hVfdo:", long_opts, &idx)) != -1) {
		if (c == '?') {
			if (optopt && optopt < 256 && argv[optind - 1][1] != '-')
				fprintf(stderr, "virtiofsd: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "virtiofsd: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
		if (c == ':') {
			fprintf(stderr, "virtiofsd: option '%s' needs a value\n", argv[optind - 1]);
			return -EINVAL;
		}
		/* clap takes no value that looks like an option from the next argument (one after
		 * '=' it takes): "--socket-path --syslog" is a missing value, not a socket named
		 * "--syslog". */
		if (optarg && optarg == argv[optind - 1] && optarg[0] == '-' && optarg[1]) {
			fprintf(stderr,
				"virtiofsd: a value is required for '%s%s' but none was supplied\n",
				idx >= 0 ? "--" : "-", idx >= 0 ? long_opts[idx].name : "o");
			return -EINVAL;
		}
		if (idx >= 0)
			r = check_spelling(argc, argv, c, idx);
		if (r == 0 && (r = parse_value(cfg, seen, c, optarg)) == 1)
			r = parse_flag(cfg, seen, c);
		if (r == 0 && (c == 'h' || c == 'V'))
			return 0; /* clap acts on --help/--version at once: the rest is not read */
	}
	if (r == 0 && optind < argc) {
		fprintf(stderr, "virtiofsd: unexpected argument '%s'\n", argv[optind]);
		r = -EINVAL;
	}
	return r;
}

static void free_seen(struct seen *seen)
{
	for (size_t i = 0; i < seen->n_compat; i++)
		free(seen->compat_args[i]);
	free(seen->compat_args);
	free(seen->socket);
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	struct seen seen = { 0 };
	int r;

	config_defaults(cfg);
	if (argc < 2) { /* clap's arg_required_else_help: the help, as a usage error */
		config_print_help_to(stderr, argv[0]);
		return -EINVAL;
	}
	r = parse_args(cfg, &seen, argc, argv);
	if (r == 0 && (cfg->help || cfg->version))
		goto out;
	if (r == 0)
		r = check_args(cfg, &seen);
	for (size_t i = 0; r == 0 && i < seen.n_compat; i++)
		r = parse_compat(cfg, seen.compat_args[i]);
	if (r == 0)
		r = check_combination(cfg, &seen);
out:
	free_seen(&seen);
	if (r < 0)
		config_free(cfg);
	return r;
}

int config_exit_status(int r)
{
	return r == -EINVAL ? 2 : 1;
}

void config_log_warnings(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		log_warn("%s", cfg->warnings[i]);
}

void config_free(struct config *cfg)
{
	free(cfg->shared_dir);
	free(cfg->socket_path);
	free(cfg->socket_group);
	free(cfg->xattrmap);
	free(cfg->modcaps);
	free(cfg->tag);
	cfg->tag = NULL;
	free(cfg->uid_maps);
	free(cfg->gid_maps);
	cfg->uid_maps = cfg->gid_maps = NULL;
	cfg->n_uid_maps = cfg->n_gid_maps = 0;
	idmap_free(&cfg->translate_uid);
	idmap_free(&cfg->translate_gid);
	xattrmap_free(cfg->xattr_rules);
	cfg->xattr_rules = NULL;
	cfg->shared_dir = cfg->socket_path = cfg->socket_group = NULL;
	cfg->xattrmap = cfg->modcaps = NULL;
}
