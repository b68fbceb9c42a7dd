/*
 * Command line of the Rust virtiofsd (long options, `--opt value` or `--opt=value`) and its
 * legacy `-o a,b=c` forms. Parsing only: main.c decides what a combination means.
 *
 * A value given twice with different meanings (for example --shared-dir and -o source= naming
 * different directories) is refused rather than last-wins: a management layer that appends an
 * option should not silently widen what is shared.
 */
#include "config.h"
#include "fs/xattrmap.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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
	OPT_TAG,
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
	{ "tag", required_argument, NULL, OPT_TAG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct name_value {
	const char *name;
	int value;
};

static const struct name_value cache_names[] = {
	{ "auto", CACHE_AUTO },	    { "always", CACHE_ALWAYS },	    { "never", CACHE_NEVER },
	{ "none", CACHE_NEVER },    { "metadata", CACHE_METADATA }, { NULL, 0 },
};

static const struct name_value sandbox_names[] = {
	{ "namespace", SANDBOX_NAMESPACE },
	{ "chroot", SANDBOX_CHROOT },
	{ "none", SANDBOX_NONE },
	{ NULL, 0 },
};

static const struct name_value seccomp_names[] = {
	{ "kill", SECCOMP_MODE_KILL }, { "none", SECCOMP_MODE_NONE }, { "log", SECCOMP_MODE_LOG },
	{ "trap", SECCOMP_MODE_TRAP }, { NULL, 0 },
};

static const struct name_value log_names[] = {
	{ "error", LOG_LVL_ERROR }, { "err", LOG_LVL_ERROR },	{ "warn", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },   { "debug", LOG_LVL_DEBUG }, { "trace", LOG_LVL_TRACE },
	{ "off", LOG_LVL_OFF },	    { NULL, 0 },
};

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "virtiofsd: invalid value '%s' for '%s': %s\n", val, opt, why);
	return -EINVAL;
}

static int parse_name(const struct name_value *tbl, const char *opt, const char *val, int *out,
		      const char *valid)
{
	for (; tbl->name; tbl++) {
		if (strcasecmp(tbl->name, val) == 0) {
			*out = tbl->value;
			return 0;
		}
	}
	return bad(opt, val, valid);
}

static int parse_u64(const char *opt, const char *val, uint64_t max, uint64_t *out)
{
	char *end;

	if (val[0] < '0' || val[0] > '9')
		return bad(opt, val, "expected a non-negative number");
	errno = 0;
	unsigned long long v = strtoull(val, &end, 10);
	if (errno || *end || v > max)
		return bad(opt, val, "not a number in range");
	*out = v;
	return 0;
}

/* Set a string option once; a second, different value is a conflict. */
static int set_str(char **field, const char *opt, const char *val)
{
	if (*field && strcmp(*field, val) != 0) {
		fprintf(stderr, "virtiofsd: conflicting values for '%s': '%s' and '%s'\n", opt,
			*field, val);
		return -EINVAL;
	}
	if (!*field) {
		*field = strdup(val);
		if (!*field)
			return -ENOMEM;
	}
	return 0;
}

/* Append one ":ns_id:host_id:count:" range; the sandbox decides whether maps may be used. */
static int add_idmap(struct sb_idmap **maps, size_t *n, const char *opt, const char *val)
{
	struct sb_idmap m, *grown;

	if (sb_idmap_parse(val, &m) < 0)
		return bad(opt, val, "expected :namespace_id:host_id:count: with count > 0");
	if (*n >= 64)
		return bad(opt, val, "more than 64 ranges");
	grown = realloc(*maps, (*n + 1) * sizeof(**maps));
	if (!grown)
		return -ENOMEM;
	grown[(*n)++] = m;
	*maps = grown;
	return 0;
}

static int set_enum(int *field, bool *seen, const struct name_value *tbl, const char *opt,
		    const char *val, const char *valid)
{
	int v;
	int r = parse_name(tbl, opt, val, &v, valid);
	if (r < 0)
		return r;
	if (*seen && *field != v) {
		fprintf(stderr, "virtiofsd: conflicting values given for '%s'\n", opt);
		return -EINVAL;
	}
	*field = v;
	*seen = true;
	return 0;
}

struct seen {
	bool cache, sandbox, log_level;
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
	FLAG("announce_submounts", announce_submounts, true),
	FLAG("killpriv_v2", killpriv_v2, true),
	FLAG("no_killpriv_v2", killpriv_v2, false),
	FLAG("posix_acl", posix_acl, true),
	FLAG("no_posix_acl", posix_acl, false),
	FLAG("security_label", security_label, true),
	FLAG("no_security_label", security_label, false),
	FLAG("posix_lock", posix_lock, true),
	FLAG("no_posix_lock", posix_lock, false),
	FLAG("flock", flock, true),
	FLAG("no_flock", flock, false),
};
#undef FLAG

static int parse_compat_one(struct config *cfg, struct seen *seen, const char *item)
{
	const char *eq = strchr(item, '=');
	size_t klen = eq ? (size_t)(eq - item) : strlen(item);
	const char *val = eq ? eq + 1 : NULL;

#define KEY(k) (klen == strlen(k) && strncmp(item, k, klen) == 0)
	for (size_t i = 0; !val && i < sizeof(compat_flags) / sizeof(compat_flags[0]); i++) {
		if (KEY(compat_flags[i].name)) {
			*(bool *)((char *)cfg + compat_flags[i].off) = compat_flags[i].value;
			return 0;
		}
	}
	if (val && KEY("source"))
		return set_str(&cfg->shared_dir, "-o source", val);
	if (val && KEY("cache"))
		return set_enum((int *)&cfg->cache, &seen->cache, cache_names, "-o cache", val,
				"expected auto, always, none or metadata");
	if (val && (KEY("loglevel") || KEY("log_level")))
		return set_enum((int *)&cfg->log_level, &seen->log_level, log_names, "-o loglevel",
				val, "expected debug, info, warn or err");
	if (val && KEY("sandbox"))
		return set_enum((int *)&cfg->sandbox, &seen->sandbox, sandbox_names, "-o sandbox",
				val, "expected namespace, chroot or none");
	if (val && KEY("xattrmap"))
		return set_str(&cfg->xattrmap, "-o xattrmap", val);
	if (val && KEY("modcaps"))
		return set_str(&cfg->modcaps, "-o modcaps", val);
#undef KEY
	fprintf(stderr, "virtiofsd: invalid compat argument '-o %s'\n", item);
	return -EINVAL;
}

static int parse_compat(struct config *cfg, struct seen *seen, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	fprintf(stderr, "virtiofsd: warning: use of deprecated parameter '-o': "
			"use the equivalent --long-options instead\n");
	for (char *tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save))
		r = parse_compat_one(cfg, seen, tok);
	free(copy);
	return r;
}

static int parse_long(struct config *cfg, struct seen *seen, int c, const char *arg)
{
	uint64_t v;
	int r;

	switch (c) {
	case OPT_SHARED_DIR:
		return set_str(&cfg->shared_dir, "--shared-dir", arg);
	case OPT_SOCKET_PATH:
	case OPT_SOCKET:
		return set_str(&cfg->socket_path, "--socket-path", arg);
	case OPT_FD:
		r = parse_u64("--fd", arg, INT_MAX, &v);
		cfg->fd = r < 0 ? cfg->fd : (int)v;
		return r;
	case OPT_SOCKET_GROUP:
		return set_str(&cfg->socket_group, "--socket-group", arg);
	case OPT_TAG:
		/* struct virtio_fs_config's tag[36], as the Rust daemon checks it (UTF-8 bytes). */
		if (arg[0] == '\0' || strlen(arg) > 36) {
			fprintf(stderr, "virtiofsd: invalid --tag '%s': the tag may not be empty or "
					"longer than 36 bytes\n", arg);
			return -EINVAL;
		}
		return set_str(&cfg->tag, "--tag", arg);
	case OPT_THREAD_POOL_SIZE:
		r = parse_u64("--thread-pool-size", arg, 1024, &v);
		cfg->thread_pool_size = r < 0 ? 0 : (unsigned)v;
		return r;
	case OPT_CACHE:
		return set_enum((int *)&cfg->cache, &seen->cache, cache_names, "--cache", arg,
				"expected auto, always, never or metadata");
	case OPT_SANDBOX:
		return set_enum((int *)&cfg->sandbox, &seen->sandbox, sandbox_names, "--sandbox",
				arg, "expected namespace, chroot or none");
	case OPT_SECCOMP:
		return parse_name(seccomp_names, "--seccomp", arg, (int *)&cfg->seccomp,
				  "expected none, kill, log or trap");
	case OPT_LOG_LEVEL:
		return set_enum((int *)&cfg->log_level, &seen->log_level, log_names, "--log-level",
				arg, "expected error, warn, info, debug, trace or off");
	case OPT_RLIMIT_NOFILE:
		r = parse_u64("--rlimit-nofile", arg, UINT64_MAX - 1, &cfg->rlimit_nofile);
		cfg->rlimit_nofile_set = r == 0;
		return r;
	case OPT_XATTRMAP:
		cfg->xattr = true;
		return set_str(&cfg->xattrmap, "--xattrmap", arg);
	case OPT_MODCAPS:
		return set_str(&cfg->modcaps, "--modcaps", arg);
	case OPT_INODE_FILE_HANDLES:
		if (strcmp(arg, "never") && strcmp(arg, "prefer") && strcmp(arg, "mandatory") &&
		    strcmp(arg, "fallback"))
			return bad("--inode-file-handles", arg,
				   "expected never, prefer or mandatory");
		return set_str(&cfg->inode_file_handles, "--inode-file-handles", arg);
	case OPT_UID_MAP:
		return add_idmap(&cfg->uid_maps, &cfg->n_uid_maps, "--uid-map", arg);
	case OPT_GID_MAP:
		return add_idmap(&cfg->gid_maps, &cfg->n_gid_maps, "--gid-map", arg);
	case OPT_TRANSLATE_UID:
		return idmap_add(&cfg->translate_uid, arg); /* logs its own line */
	case OPT_TRANSLATE_GID:
		return idmap_add(&cfg->translate_gid, arg);
	}
	return 1; /* not a value option */
}

static int parse_flag(struct config *cfg, int c)
{
	switch (c) {
	case OPT_SYSLOG: cfg->syslog = true; break;
	case OPT_PRINT_CAPS: cfg->print_capabilities = true; break;
	case OPT_XATTR: cfg->xattr = true; break;
	case OPT_POSIX_ACL: cfg->posix_acl = cfg->xattr = true; break;
	case OPT_NO_READDIRPLUS: cfg->readdirplus = false; break;
	case OPT_WRITEBACK: cfg->writeback = true; break;
	case OPT_ALLOW_DIRECT_IO: cfg->allow_direct_io = true; break;
	case OPT_ANNOUNCE_SUBMOUNTS: cfg->announce_submounts = true; break;
	case OPT_NO_ANNOUNCE_SUBMOUNTS: cfg->announce_submounts = false; break;
	case OPT_KILLPRIV_V2: cfg->killpriv_v2 = true; break;
	case OPT_NO_KILLPRIV_V2: cfg->killpriv_v2 = false; break;
	case OPT_SECURITY_LABEL: cfg->security_label = cfg->xattr = true; break;
	case OPT_READONLY: cfg->readonly = true; break;
	case OPT_ALLOW_MMAP: cfg->allow_mmap = true; break;
	case OPT_PRESERVE_NOATIME: cfg->preserve_noatime = true; break;
	case OPT_POSIX_LOCK: cfg->posix_lock = true; break;
	case OPT_FLOCK: cfg->flock = true; break;
	case 'h': cfg->help = true; break;
	case 'V': cfg->version = true; break;
	case 'f': break; /* foreground is the only mode; accepted for compatibility */
	case 'd': cfg->log_level = LOG_LVL_DEBUG; break;
	default: return -EINVAL;
	}
	return 0;
}

static void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = -1;
	cfg->cache = CACHE_AUTO;
	cfg->sandbox = SANDBOX_NAMESPACE;
	cfg->seccomp = SECCOMP_MODE_KILL;
	cfg->log_level = LOG_LVL_INFO;
	cfg->readdirplus = true;
	cfg->announce_submounts = true;
	idmap_init(&cfg->translate_uid, "--translate-uid");
	idmap_init(&cfg->translate_gid, "--translate-gid");
}

/* Checks that need the whole command line: a bad map fails here, before anything starts. */
static int config_check(struct config *cfg)
{
	if (cfg->posix_acl &&
	    (!idmap_is_empty(&cfg->translate_uid) || !idmap_is_empty(&cfg->translate_gid))) {
		fprintf(stderr, "virtiofsd: --translate-uid/--translate-gid cannot be used with "
				"--posix-acl: ACL xattrs hold untranslated ids\n");
		return -EINVAL;
	}
	if (!cfg->xattrmap)
		return 0;
	cfg->xattr = true; /* as the reference: a map implies xattrs, whichever form gave it */
	return xattrmap_parse(cfg->xattrmap, &cfg->xattr_rules); /* logs its own line */
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	struct seen seen = { 0 };
	int c, r = 0;

	config_defaults(cfg);
	optind = 1;
	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, ":hVfdo:", long_opts, NULL)) != -1) {
		if (c == '?') {
			fprintf(stderr, "virtiofsd: unknown option '%s'\n", argv[optind - 1]);
			r = -EINVAL;
		} else if (c == ':') {
			fprintf(stderr, "virtiofsd: option '%s' needs a value\n", argv[optind - 1]);
			r = -EINVAL;
		} else if (c == 'o') {
			r = parse_compat(cfg, &seen, optarg);
		} else if ((r = parse_long(cfg, &seen, c, optarg)) == 1) {
			r = parse_flag(cfg, c);
		}
	}
	if (r == 0 && optind < argc) {
		fprintf(stderr, "virtiofsd: unexpected argument '%s'\n", argv[optind]);
		r = -EINVAL;
	}
	if (r == 0 && cfg->cache == CACHE_NEVER)
		cfg->readdirplus = false; /* as the reference: nothing to cache the entries in */
	if (r == 0)
		r = config_check(cfg);
	if (r < 0)
		config_free(cfg);
	return r;
}

void config_free(struct config *cfg)
{
	free(cfg->shared_dir);
	free(cfg->socket_path);
	free(cfg->socket_group);
	free(cfg->xattrmap);
	free(cfg->modcaps);
	free(cfg->inode_file_handles);
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
	cfg->xattrmap = cfg->modcaps = cfg->inode_file_handles = NULL;
}

void config_print_help(const char *prog)
{
	printf("virtio-fs vhost-user device daemon\n\n"
	       "Usage: %s [OPTIONS] --shared-dir <DIR> (--socket-path <PATH> | --fd <FD>)\n\n"
	       "Options:\n"
	       "      --shared-dir <DIR>          Shared directory path\n"
	       "      --socket-path <PATH>        vhost-user socket path\n"
	       "      --socket <PATH>             vhost-user socket path (deprecated alias)\n"
	       "      --fd <FD>                   File descriptor of a listening socket\n"
	       "      --socket-group <GROUP>      Name of the group for the vhost-user socket\n"
	       "      --thread-pool-size <N>      Worker threads (0: requests run in the queue "
	       "thread) [default: 0]\n"
	       "      --cache <MODE>              auto, always, never or metadata [default: auto]\n"
	       "      --sandbox <MODE>            namespace, chroot or none [default: namespace]\n"
	       "      --seccomp <ACTION>          none, kill, log or trap [default: kill]\n"
	       "      --uid-map <:ns:host:count:> UIDs of the namespace (non-root, namespace "
	       "sandbox; repeatable)\n"
	       "      --gid-map <:ns:host:count:> GIDs of the namespace (same)\n"
	       "      --translate-uid <TYPE:A:B:COUNT>  UID translation in the daemon, repeatable:\n"
	       "                                  guest, host, squash-guest, squash-host or map\n"
	       "                                  (A:B:COUNT), forbid-guest (GUEST:COUNT)\n"
	       "      --translate-gid <TYPE:A:B:COUNT>  GID translation, the same forms\n"
	       "      --modcaps <+cap:-cap...>    Add or remove capabilities, e.g. "
	       "+sys_admin:-mknod\n"
	       "      --log-level <LEVEL>         error, warn, info, debug, trace or off "
	       "[default: info]\n"
	       "      --syslog                    Log to syslog instead of stderr\n"
	       "      --xattr                     Enable extended attributes\n"
	       "      --xattrmap <MAP>            Rules renaming xattrs between guest and host "
	       "(implies --xattr)\n"
	       "      --posix-acl                 POSIX ACLs (implies --xattr)\n"
	       "      --security-label            Apply the guest's security label at create "
	       "(implies --xattr)\n"
	       "      --inode-file-handles <MODE> never, prefer or mandatory [default: prefer]\n"
	       "      --no-readdirplus            Disable READDIRPLUS\n"
	       "      --writeback                 Enable the guest's writeback cache\n"
	       "      --allow-direct-io           Honour the guest's O_DIRECT\n"
	       "      --announce-submounts        Announce submounts to the guest [default]\n"
	       "      --no-announce-submounts     Do not announce submounts\n"
	       "      --killpriv-v2               Negotiate HANDLE_KILLPRIV_V2 (not on NFS shares)\n"
	       "      --no-killpriv-v2            Do not negotiate HANDLE_KILLPRIV_V2 [default]\n"
	       "      --readonly                  Refuse every write with EROFS\n"
	       "      --preserve-noatime          Keep the guest's O_NOATIME\n"
	       "      --posix-lock                POSIX record locks (fcntl) on the host file, seen "
	       "by\n"
	       "                                  other guests and host processes [default: off]\n"
	       "      --flock                     flock() locks on the host file [default: off]\n"
	       "      --allow-mmap                Let the guest mmap files with --cache=never or "
	       "metadata\n"
	       "      --rlimit-nofile <N>         Maximum open files (0 leaves it unchanged)\n"
	       "      --tag <TAG>                 virtio-fs tag (1..36 bytes) served in the device "
	       "config\n"
	       "                                  space (VHOST_USER_PROTOCOL_F_CONFIG), for "
	       "frontends\n"
	       "                                  that read it, e.g. QEMU's vhost-user-device-pci; "
	       "QEMU's\n"
	       "                                  vhost-user-fs-pci sets its own tag= and ignores "
	       "it\n"
	       "      --print-capabilities        Print the vhost-user.json capabilities and exit\n"
	       "  -o <OPTIONS>                    Legacy options (deprecated), e.g. "
	       "-o source=DIR,cache=auto\n"
	       "  -f                              Accepted and ignored (always in the foreground)\n"
	       "  -d                              Same as --log-level debug (deprecated)\n"
	       "  -h, --help                      Print help\n"
	       "  -V, --version                   Print version\n",
	       prog);
}
