/* Option parser: the Rust daemon's long options, the legacy -o forms, and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "fs/xattrmap.h"

#define ARGV(...) ((char *[]){ "virtiofsd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "virtiofsd", __VA_ARGS__ }) / sizeof(char *)))
/* RAW: exactly these arguments. PARSE: after a share and a socket, which the Rust daemon's
 * parser requires (a later --shared-dir or -o source= replaces the first). */
#define RAW(cfg, ...) config_parse(cfg, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))
#define PARSE(cfg, ...) RAW(cfg, "--shared-dir=/base", "--socket-path=/base.sock", __VA_ARGS__)

static void test_defaults(void **state)
{
	struct config c;
	assert_int_equal(RAW(&c, "--shared-dir=/tmp", "--socket-path", "/tmp/s"), 0);
	assert_string_equal(c.shared_dir, "/tmp");
	assert_string_equal(c.socket_path, "/tmp/s");
	assert_int_equal(c.fd, -1);
	assert_int_equal(c.cache, CACHE_AUTO);
	assert_int_equal(c.sandbox, SB_MODE_NAMESPACE);
	assert_int_equal(c.seccomp, SB_SECCOMP_KILL);
	assert_int_equal(c.inode_file_handles, INODE_HANDLES_PREFER);
	assert_int_equal(c.migration_mode, MIGRATION_FIND_PATHS);
	assert_int_equal(c.migration_on_error, MIGRATION_ON_ERROR_ABORT);
	assert_false(c.migration_verify_handles);
	assert_false(c.migration_confirm_paths);
	assert_false(c.xattr);
	assert_int_equal(c.n_warnings, 0);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_true(c.readdirplus);
	assert_true(c.announce_submounts);
	assert_false(c.writeback);
	assert_false(c.killpriv_v2);
	assert_int_equal(c.thread_pool_size, 0);
	assert_int_equal(c.poll_us, CONFIG_POLL_US_DEFAULT);
	config_free(&c);
}

static void test_values(void **state)
{
	struct config c;
	assert_int_equal(RAW(&c, "--shared-dir", "/a", "--fd=3", "--cache=Never",
			       "--sandbox", "NONE", "--log-level=DEBUG", "--thread-pool-size=8",
			       "--syslog", "-f", "--rlimit-nofile=0",
			       "--seccomp=log", "--writeback", "--no-announce-submounts",
			       "--poll-us=0"), 0);
	assert_int_equal(c.poll_us, 0);
	assert_int_equal(c.fd, 3);
	assert_int_equal(c.cache, CACHE_NEVER);
	assert_false(c.readdirplus); /* forced off by cache=never */
	assert_int_equal(c.sandbox, SB_MODE_NONE);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.thread_pool_size, 8);
	assert_true(c.syslog);
	assert_true(c.rlimit_nofile_set);
	assert_int_equal(c.rlimit_nofile, 0);
	assert_int_equal(c.seccomp, SB_SECCOMP_LOG);
	assert_int_equal(c.n_warnings, 1); /* -f */
	assert_true(c.writeback);
	assert_false(c.announce_submounts);
	config_free(&c);
}

static void test_socket_alias_and_flags(void **state)
{
	struct config c;
	assert_int_equal(RAW(&c, "--socket=/s", "--shared-dir=/d"), 0);
	assert_string_equal(c.socket_path, "/s");
	assert_int_equal(c.n_warnings, 1); /* --socket is deprecated */
	config_free(&c);
	/* --socket-path wins over the deprecated alias, wherever it stands */
	assert_int_equal(RAW(&c, "--socket-path=/p", "--socket=/s", "--shared-dir=/d"), 0);
	assert_string_equal(c.socket_path, "/p");
	config_free(&c);
	/* --print-capabilities needs neither a share nor a socket */
	assert_int_equal(RAW(&c, "--print-capabilities"), 0);
	assert_true(c.print_capabilities);
	config_free(&c);
	assert_int_equal(RAW(&c, "-V"), 0);
	assert_true(c.version);
	config_free(&c);
	/* as clap: --help and --version act at once, whatever follows */
	assert_int_equal(RAW(&c, "--help", "--frobnicate"), 0);
	assert_true(c.help);
	config_free(&c);
	assert_int_equal(RAW(&c, "--frobnicate", "--help"), -EINVAL);
	assert_int_equal(RAW(&c, "--help"), 0);
	assert_true(c.help);
	config_free(&c);
}

static void test_compat(void **state)
{
	struct config c;
	/* The Kata default line. */
	assert_int_equal(RAW(&c, "--fd=3", "-o", "source=/srv", "-o", "cache=auto", "--syslog",
			       "-o", "no_posix_lock", "-f"), 0);
	assert_string_equal(c.shared_dir, "/srv");
	assert_int_equal(c.cache, CACHE_AUTO);
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "source=/x,cache=none,writeback,no_readdirplus,"
					"log_level=debug,sandbox=chroot,xattr,no_xattr"), 0);
	assert_int_equal(c.cache, CACHE_NEVER);
	assert_true(c.writeback);
	assert_false(c.readdirplus);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_int_equal(c.sandbox, SB_MODE_CHROOT);
	assert_false(c.xattr);
	config_free(&c);
	assert_int_equal(PARSE(&c, "-d"), 0);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	config_free(&c);
}

/* Locks on the host file are opt-in, in both forms; the no_* forms switch them off again. */
static void test_locks(void **state)
{
	struct config c;

	assert_int_equal(PARSE(&c, "--shared-dir=/tmp"), 0);
	assert_string_equal(c.shared_dir, "/tmp");
	assert_false(c.posix_lock);
	assert_false(c.flock);
	assert_false(c.allow_mmap);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--posix-lock", "--flock", "--allow-mmap"), 0);
	assert_true(c.posix_lock);
	assert_true(c.flock);
	assert_true(c.allow_mmap);
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "posix_lock,flock"), 0);
	assert_true(c.posix_lock);
	assert_true(c.flock);
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "posix_lock,flock,no_posix_lock", "-o", "no_flock"), 0);
	assert_false(c.posix_lock);
	assert_false(c.flock);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--posix-lock=yes"), -EINVAL);
	assert_int_equal(PARSE(&c, "-o", "posix_lock=1"), -EINVAL);
}

static void test_refusals(void **state)
{
	struct config c;
	assert_int_equal(PARSE(&c, "--bogus"), -EINVAL);
	assert_int_equal(PARSE(&c, "--cache=sometimes"), -EINVAL);
	assert_int_equal(PARSE(&c, "--cache=none"), -EINVAL); /* only -o cache= says none */
	assert_int_equal(PARSE(&c, "--sandbox=jail"), -EINVAL);
	assert_int_equal(PARSE(&c, "--log-level=loud"), -EINVAL);
	assert_int_equal(PARSE(&c, "--log-level=err"), -EINVAL); /* only -o loglevel= says err */
	assert_int_equal(PARSE(&c, "--seccomp=KILL"), -EINVAL); /* case-sensitive, as Rust's */
	assert_int_equal(RAW(&c, "--shared-dir=/d", "--fd=-1"), -EINVAL);
	assert_int_equal(RAW(&c, "--shared-dir=/d", "--fd=3x"), -EINVAL);
	assert_int_equal(PARSE(&c, "--thread-pool-size=4294967296"), -EINVAL); /* > unsigned */
	assert_int_equal(PARSE(&c, "--thread-pool-size=0x10"), -EINVAL);
	assert_int_equal(PARSE(&c, "--rlimit-nofile=-1"), -EINVAL);
	assert_int_equal(PARSE(&c, "--poll-us=10001"), -EINVAL); /* CONFIG_POLL_US_MAX */
	assert_int_equal(PARSE(&c, "--poll-us=5us"), -EINVAL);
	assert_int_equal(PARSE(&c, "--shared-dir"), -EINVAL); /* missing value */
	assert_int_equal(PARSE(&c, "stray"), -EINVAL);
	assert_int_equal(PARSE(&c, "--", "stray"), -EINVAL);
	assert_int_equal(PARSE(&c, "-o", "bogus_flag"), -EINVAL);
	assert_int_equal(PARSE(&c, "-o", "source"), -EINVAL); /* key without value */
	assert_int_equal(PARSE(&c, "-o", "cache=never"), -EINVAL); /* the -o word is none */
	assert_int_equal(PARSE(&c, "-o", "sandbox=none"), -EINVAL); /* not in the -o table */
	assert_int_equal(PARSE(&c, "-o", "cache=auto,"), -EINVAL); /* empty item */
	assert_int_equal(PARSE(&c, "-o", "modcaps=a=b"), -EINVAL); /* Rust splits on each '=' */
	/* getopt would take an abbreviation; clap does not */
	assert_int_equal(PARSE(&c, "--shared=/x"), -EINVAL);
	assert_int_equal(PARSE(&c, "--thread-pool=2"), -EINVAL);
	assert_int_equal(PARSE(&c, "--xattr=yes"), -EINVAL);
	/* the conflicts clap knows */
	assert_int_equal(RAW(&c, "--shared-dir=/d", "--fd=3", "--socket-path=/s"), -EINVAL);
	assert_int_equal(RAW(&c, "--shared-dir=/d", "--fd=3", "--socket=/s"), -EINVAL);
	assert_int_equal(RAW(&c, "--shared-dir=/d", "--fd=3", "--socket-group=kvm"), -EINVAL);
	assert_int_equal(RAW(&c, "--print-capabilities", "--socket-group=kvm"), -EINVAL);
	/* required options */
	assert_int_equal(RAW(&c, "--socket-path=/s"), -EINVAL);
	assert_int_equal(RAW(&c, "--shared-dir=/d"), -EINVAL);
	assert_int_equal(RAW(&c, "--xattr"), -EINVAL);
	/* with -o but no source= the parser lets it through and the daemon refuses (status 1) */
	assert_int_equal(RAW(&c, "--socket-path=/s", "-o", "cache=auto"), -ENOENT);
	assert_int_equal(config_exit_status(-ENOENT), 1);
	assert_int_equal(config_exit_status(-EINVAL), 2);
}

/* clap's args_override_self: a repeated option takes its last value; -o lists apply after
 * every long option, in their order. */
static void test_last_wins(void **state)
{
	struct config c;

	assert_int_equal(PARSE(&c, "--cache=auto", "--cache=metadata"), 0); /* Kata extra args */
	assert_int_equal(c.cache, CACHE_METADATA);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--inode-file-handles=prefer", "--inode-file-handles=mandatory"),
			 0);
	assert_int_equal(c.inode_file_handles, INODE_HANDLES_MANDATORY);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--shared-dir=/a", "--shared-dir=/b", "--thread-pool-size=2",
			       "--thread-pool-size=4", "--log-level=debug", "--log-level=warn",
			       "--sandbox=chroot", "--sandbox=none", "--seccomp=log",
			       "--seccomp=trap", "--modcaps=+sys_admin", "--modcaps=-mknod",
			       "--rlimit-nofile=10", "--rlimit-nofile=0", "--socket-path=/s2"), 0);
	assert_string_equal(c.shared_dir, "/b");
	assert_string_equal(c.socket_path, "/s2");
	assert_int_equal(c.thread_pool_size, 4);
	assert_int_equal(c.log_level, LOG_LVL_WARN);
	assert_int_equal(c.sandbox, SB_MODE_NONE);
	assert_int_equal(c.seccomp, SB_SECCOMP_TRAP);
	assert_string_equal(c.modcaps, "-mknod");
	assert_int_equal(c.rlimit_nofile, 0);
	config_free(&c);
	/* -o source= replaces --shared-dir wherever each stands, with a warning */
	assert_int_equal(RAW(&c, "-o", "source=/o", "--shared-dir=/l", "--socket-path=/s"), 0);
	assert_string_equal(c.shared_dir, "/o");
	assert_int_equal(c.n_warnings, 2); /* the replacement, and -o itself */
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "cache=auto", "--cache=never"), 0);
	assert_int_equal(c.cache, CACHE_AUTO);
	assert_true(c.readdirplus); /* cache=never's readdirplus rule follows the final value */
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "cache=auto,cache=none", "-o", "xattr", "-o", "no_xattr"),
			 0);
	assert_int_equal(c.cache, CACHE_NEVER);
	assert_false(c.xattr);
	config_free(&c);
	/* the two spellings of a switch override each other */
	assert_int_equal(PARSE(&c, "--killpriv-v2", "--no-killpriv-v2", "--no-announce-submounts",
			       "--announce-submounts"), 0);
	assert_false(c.killpriv_v2);
	assert_true(c.announce_submounts);
	config_free(&c);
	/* -o announce_submounts has no effect in the Rust daemon: --no- keeps its word */
	assert_int_equal(PARSE(&c, "--no-announce-submounts", "-o", "announce_submounts"), 0);
	assert_false(c.announce_submounts);
	config_free(&c);
	/* -d wins over --log-level and -o loglevel=, as the Rust daemon's compat_debug */
	assert_int_equal(PARSE(&c, "-d", "--log-level=warn", "-o", "loglevel=err"), 0);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--log-level=trace", "-o", "loglevel=warn"), 0);
	assert_int_equal(c.log_level, LOG_LVL_WARN);
	config_free(&c);
	/* a repeated flag is fine */
	assert_int_equal(PARSE(&c, "--xattr", "--xattr", "-d", "-d", "-f", "-f"), 0);
	assert_int_equal(c.n_warnings, 2);
	config_free(&c);
}

/* xattrs come with the features stored in them, whichever form asked. */
static void test_xattr_implied(void **state)
{
	struct config c;

	assert_int_equal(PARSE(&c, "-o", "posix_acl"), 0);
	assert_true(c.posix_acl);
	assert_true(c.xattr);
	config_free(&c);
	assert_int_equal(PARSE(&c, "-o", "security_label"), 0);
	assert_true(c.security_label);
	assert_true(c.xattr);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--posix-acl", "-o", "no_xattr"), 0);
	assert_true(c.xattr);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--posix-acl", "-o", "no_posix_acl"), 0);
	assert_false(c.posix_acl);
	assert_false(c.xattr);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--security-label", "--xattrmap=:ok:all:::", "-o", "no_xattr"),
			 0);
	assert_true(c.xattr);
	config_free(&c);
}

/* The Rust daemon's spellings of --inode-file-handles and the migration options. */
static void test_rust_forms(void **state)
{
	struct config c;

	assert_int_equal(PARSE(&c, "--inode-file-handles=never"), 0);
	assert_int_equal(c.inode_file_handles, INODE_HANDLES_NEVER);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--inode-file-handles=fallback"), 0);
	assert_int_equal(c.inode_file_handles, INODE_HANDLES_PREFER);
	assert_int_equal(c.n_warnings, 1); /* deprecated alias */
	config_free(&c);
	/* clap's require_equals: the value must follow '=' */
	assert_int_equal(PARSE(&c, "--inode-file-handles", "prefer"), -EINVAL);
	assert_int_equal(PARSE(&c, "--inode-file-handles=Prefer"), -EINVAL);
	assert_int_equal(PARSE(&c, "--inode-file-handles="), -EINVAL);

	assert_int_equal(PARSE(&c, "--migration-mode=file-handles", "--migration-on-error",
			       "guest-error"), 0);
	assert_int_equal(c.migration_mode, MIGRATION_FILE_HANDLES);
	assert_int_equal(c.migration_on_error, MIGRATION_ON_ERROR_GUEST_ERROR);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--migration-verify-handles", "--migration-confirm-paths"), 0);
	assert_true(c.migration_verify_handles);
	assert_true(c.migration_confirm_paths);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--migration-mode=bogus"), -EINVAL);
	assert_int_equal(PARSE(&c, "--migration-on-error=Abort"), -EINVAL);
	/* refused after parsing (status 1), as the Rust daemon's main() does */
	assert_int_equal(PARSE(&c, "--migration-mode=file-handles", "--migration-confirm-paths"),
			 -ENOTSUP);
	assert_int_equal(PARSE(&c, "--migration-verify-handles", "--migration-mode=file-handles"),
			 -ENOTSUP);
	/* no arguments at all: the help, as a usage error */
	assert_int_equal(config_parse(&c, 1, (char *[]){ "virtiofsd", NULL }), -EINVAL);
}

static void test_id_maps(void **state)
{
	struct config c;
	assert_int_equal(PARSE(&c, "--uid-map=:0:1000:1:", "--uid-map", ":1:100000:65536:",
			       "--gid-map=:0:1000:1:"), 0);
	assert_int_equal(c.n_uid_maps, 2);
	assert_int_equal(c.uid_maps[0].ns_id, 0);
	assert_int_equal(c.uid_maps[0].host_id, 1000);
	assert_int_equal(c.uid_maps[0].count, 1);
	assert_int_equal(c.uid_maps[1].ns_id, 1);
	assert_int_equal(c.uid_maps[1].host_id, 100000);
	assert_int_equal(c.uid_maps[1].count, 65536);
	assert_int_equal(c.n_gid_maps, 1);
	assert_int_equal(c.gid_maps[0].host_id, 1000);
	config_free(&c);
	assert_int_equal(c.n_uid_maps, 0);
	assert_null(c.uid_maps);

	assert_int_equal(PARSE(&c, "--uid-map=0:1000:1"), -EINVAL);      /* no colons around */
	assert_int_equal(PARSE(&c, "--uid-map=:0:1000:1"), -EINVAL);     /* no trailing colon */
	assert_int_equal(PARSE(&c, "--uid-map=:0:1000:0:"), -EINVAL);    /* empty range */
	assert_int_equal(PARSE(&c, "--gid-map=:0:-1:1:"), -EINVAL);      /* sign */
	assert_int_equal(PARSE(&c, "--gid-map=:0:1000:1:x"), -EINVAL);   /* trailing junk */
	assert_int_equal(PARSE(&c, "--gid-map=:a:1000:1:"), -EINVAL);    /* not a number */
	assert_int_equal(PARSE(&c, "--uid-map=::1000:1:"), -EINVAL);     /* empty field */
	assert_int_equal(PARSE(&c, "--uid-map=:0:4294967295:1:"), -EINVAL); /* id -1 */
	assert_int_equal(PARSE(&c, "--uid-map=:4294967294:0:2:"), -EINVAL); /* past the end */
	assert_int_equal(PARSE(&c, "--uid-map=:0:99999999999:1:"), -EINVAL); /* overflow */
	assert_int_equal(PARSE(&c, "--uid-map=:0:4294967294:1:"), 0);       /* the last id */
	config_free(&c);
}

/* --translate-uid/--translate-gid: repeatable, validated while parsing. */
static void test_translate(void **state)
{
	struct config c;
	uint32_t h;

	assert_int_equal(PARSE(&c, "--translate-uid=map:0:100000:65536", "--translate-uid",
			       "forbid-guest:65536:1", "--translate-gid=squash-guest:0:100:10",
			       "--translate-gid=host:100:0:1"), 0);
	assert_int_equal(idmap_guest_to_host(&c.translate_uid, 5, &h), 0);
	assert_int_equal(h, 100005);
	assert_int_equal(idmap_guest_to_host(&c.translate_uid, 65536, &h), -EPERM);
	assert_int_equal(idmap_host_to_guest(&c.translate_uid, 100000), 0);
	assert_int_equal(idmap_guest_to_host(&c.translate_gid, 9, &h), 0);
	assert_int_equal(h, 100);
	assert_int_equal(idmap_host_to_guest(&c.translate_gid, 100), 0);
	config_free(&c);
	assert_true(idmap_is_empty(&c.translate_uid));
	assert_true(idmap_is_empty(&c.translate_gid));

	assert_int_equal(PARSE(&c, "--shared-dir=/a"), 0);
	assert_true(idmap_is_empty(&c.translate_uid));
	config_free(&c);

	assert_int_equal(PARSE(&c, "--translate-uid=guest:0:1000"), -EINVAL);
	assert_int_equal(PARSE(&c, "--translate-gid=bogus:0:1:1"), -EINVAL);
	assert_int_equal(PARSE(&c, "--translate-uid=guest:0:1000:0"), -EINVAL);
	assert_int_equal(PARSE(&c, "--translate-uid=map:0:1000:10", "--translate-uid=guest:9:0:1"),
			 -EINVAL); /* overlap */
	/* uid and gid maps are separate: the same range in each is fine */
	assert_int_equal(PARSE(&c, "--translate-uid=map:0:1000:10",
			       "--translate-gid=map:0:1000:10"), 0);
	config_free(&c);
	/* ACL xattrs carry raw ids: the reference refuses the combination too. */
	assert_int_equal(PARSE(&c, "--posix-acl", "--translate-uid=map:0:1000:10"), -EINVAL);
	assert_int_equal(PARSE(&c, "--translate-gid=map:0:1000:10", "-o", "posix_acl"), -EINVAL);
}

/* --xattrmap / -o xattrmap=: parsed while parsing the command line, so a bad map stops here. */
static void test_xattrmap(void **state)
{
	struct config c;

	assert_int_equal(PARSE(&c, "--xattrmap=:map::user.virtiofs.:"), 0);
	assert_non_null(c.xattr_rules);
	assert_true(c.xattr);
	assert_string_equal(xattrmap_capability_name(c.xattr_rules),
			    "user.virtiofs.security.capability");
	config_free(&c);
	assert_null(c.xattr_rules);

	assert_int_equal(PARSE(&c, "-o", "xattrmap=/bad/all/security./security./ /ok/all///"), 0);
	assert_non_null(c.xattr_rules);
	assert_true(c.xattr);
	config_free(&c);

	assert_int_equal(PARSE(&c, "--xattr"), 0);
	assert_null(c.xattr_rules);
	config_free(&c);

	/* no catch-all for host names */
	assert_int_equal(PARSE(&c, "--xattrmap=:prefix:all::user.virtiofs.:"), -EINVAL);
	assert_int_equal(PARSE(&c, "--xattrmap="), -EINVAL);
	assert_int_equal(PARSE(&c, "--xattrmap=:nope:all:::"), -EINVAL);
	/* -o xattrmap= replaces --xattrmap; the map that counts is the one checked */
	assert_int_equal(PARSE(&c, "--xattrmap=:nope:all:::", "-o", "xattrmap=:ok:all:::"), 0);
	config_free(&c);
	assert_int_equal(PARSE(&c, "--xattrmap=:ok:all:::", "-o", "xattrmap=:nope:all:::"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_socket_alias_and_flags),
		cmocka_unit_test(test_compat),
		cmocka_unit_test(test_locks),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_xattr_implied),
		cmocka_unit_test(test_rust_forms),
		cmocka_unit_test(test_id_maps),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_xattrmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
