/* FUSE server: INIT negotiation and gate, hostile framing and arguments, per-opcode decode. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "test_fuse_mock.h"

#define HDR sizeof(struct fuse_in_header)
#define OHDR sizeof(struct fuse_out_header)

static char buf[8192], out[8192];

/* Send a request, return the reply's error (checking len/unique). */
static int send_req(struct fuse_server *srv, size_t n, uint64_t unique)
{
	size_t r = run1(srv, buf, n, out, sizeof(out));

	return reply_error(out, r, unique);
}

static void test_init_gate(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv;
	struct fuse_init_out io;
	size_t n;

	memset(&m, 0, sizeof(m));
	assert_int_equal(fuse_server_new(&mock_ops, &m, NULL, &srv), 0);
	/* Nothing but INIT before INIT. */
	n = mk_req(buf, FUSE_LOOKUP, 5, 1, "a", 2);
	assert_int_equal(send_req(srv, n, 5), -EIO);
	n = mk_req(buf, FUSE_DESTROY, 6, 0, NULL, 0);
	assert_int_equal(send_req(srv, n, 6), -EIO);
	n = mk_req(buf, 200, 7, 0, NULL, 0);
	assert_int_equal(send_req(srv, n, 7), -EIO);
	/* A FORGET before INIT is dropped silently. */
	uint64_t nl = 1;
	n = mk_req(buf, FUSE_FORGET, 8, 3, &nl, sizeof(nl));
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.total_calls, 0);

	/* Old minor, old and new majors. */
	assert_int_equal(do_init(srv, 7, 26, 0, NULL), -EPROTO);
	assert_int_equal(do_init(srv, 6, 38, 0, NULL), -EPROTO);
	assert_int_equal(do_init(srv, 8, 0, 0, &io), 0);
	assert_int_equal(io.major, 7);
	assert_int_equal(io.minor, 38);
	assert_int_equal(m.total_calls, 0);
	n = mk_req(buf, FUSE_LOOKUP, 9, 1, "a", 2);
	assert_int_equal(send_req(srv, n, 9), -EIO);

	/* A good INIT; a second one (a guest reboot without DESTROY) drops the old session's
	 * state and starts a new one. */
	assert_int_equal(do_init(srv, 7, 27, FUSE_ASYNC_READ | FUSE_MAX_PAGES, &io), 0);
	assert_int_equal(m.calls[M_INIT], 1);
	assert_int_equal(io.max_pages, 256);
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), 0);
	assert_int_equal(m.calls[M_DESTROY], 1);
	assert_int_equal(m.calls[M_INIT], 2);
	n = mk_req(buf, FUSE_LOOKUP, 10, 1, "a", 2);
	assert_int_equal(send_req(srv, n, 10), 0);
	assert_int_equal(m.calls[M_LOOKUP], 1);

	/* DESTROY: back to the start. */
	n = mk_req(buf, FUSE_DESTROY, 11, 0, NULL, 0);
	assert_int_equal(send_req(srv, n, 11), 0);
	assert_int_equal(m.calls[M_DESTROY], 2);
	n = mk_req(buf, FUSE_LOOKUP, 12, 1, "a", 2);
	assert_int_equal(send_req(srv, n, 12), -EIO);
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), 0);
	assert_int_equal(m.calls[M_INIT], 3);
	fuse_server_reset(srv);
	assert_int_equal(m.calls[M_DESTROY], 3);
	fuse_server_reset(srv); /* not initialised: nothing to destroy */
	assert_int_equal(m.calls[M_DESTROY], 3);
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), 0);
	fuse_server_free(srv);
}

static void test_init_flags(void **state)
{
	const uint64_t base = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
			      FUSE_HAS_IOCTL_DIR | FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO |
			      FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_SUBMOUNTS |
			      FUSE_INIT_EXT;
	struct fuse_server_opts o = {.readdirplus = true};
	struct mock_fs m;
	struct fuse_server *srv;
	struct fuse_init_out io;

	memset(&m, 0, sizeof(m));
	assert_int_equal(fuse_server_new(&mock_ops, &m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, ~0ULL, &io), 0);
	assert_int_equal(m.init_offered, ~0ULL);
	assert_int_equal(io.flags, (uint32_t)(base | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO));
	/* CREATE_SUPP_GROUP (bit 34) and ALLOW_IDMAP (bit 40) whenever offered, as the
	 * reference. */
	assert_int_equal(io.flags2, (1u << 2) | (1u << 8));
	assert_int_equal(io.max_readahead, 131072);
	assert_int_equal(io.max_write, 1 << 20);
	assert_int_equal(io.max_background, 65535);
	assert_int_equal(io.congestion_threshold, 49149);
	assert_int_equal(io.time_gran, 1);
	assert_int_equal(io.max_pages, 256);
	assert_int_equal(io.map_alignment, 0);
	fuse_server_free(srv);

	/* Only what the guest offered, and every option. */
	o = (struct fuse_server_opts){.writeback = true,
				      .killpriv_v2 = true,
				      .posix_acl = true,
				      .security_label = true,
				      .allow_mmap = true};
	assert_int_equal(fuse_server_new(&mock_ops, &m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, FUSE_ASYNC_READ | FUSE_POSIX_ACL, NULL), -EPROTO);
	uint64_t offer = FUSE_ASYNC_READ | FUSE_WRITEBACK_CACHE | FUSE_HANDLE_KILLPRIV_V2 |
			 FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT | FUSE_INIT_EXT |
			 FUSE_SECURITY_CTX | (1ULL << 36) | FUSE_DO_READDIRPLUS;
	assert_int_equal(do_init(srv, 7, 38, offer & ~FUSE_SECURITY_CTX, NULL), -EPROTO);
	assert_int_equal(do_init(srv, 7, 38, offer, &io), 0);
	assert_int_equal(io.flags, (uint32_t)(offer & ~FUSE_DO_READDIRPLUS));
	assert_int_equal(io.flags2, 1 | (1 << 4));
	assert_int_equal(io.max_pages, 0); /* MAX_PAGES not offered */
	fuse_server_free(srv);

	/* Without INIT_EXT the upper word is ignored. */
	o = (struct fuse_server_opts){.security_label = false};
	assert_int_equal(fuse_server_new(&mock_ops, &m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, FUSE_ASYNC_READ | FUSE_SECURITY_CTX, &io), 0);
	assert_int_equal(io.flags, FUSE_ASYNC_READ);
	assert_int_equal(io.flags2, 0);
	fuse_server_free(srv);

	/* The backend may refuse. */
	memset(&m, 0, sizeof(m));
	m.result = -EPERM;
	assert_int_equal(fuse_server_new(&mock_ops, &m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), -EPERM);
	m.result = 0;
	assert_int_equal(do_init(srv, 7, 38, 0, NULL), 0);
	fuse_server_free(srv);
}

static void test_init_short_compat(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv;
	uint32_t in16[4] = {7, 31, 65536, FUSE_ASYNC_READ | FUSE_INIT_EXT};
	size_t n;

	memset(&m, 0, sizeof(m));
	assert_int_equal(fuse_server_new(&mock_ops, &m, NULL, &srv), 0);
	n = mk_req(buf, FUSE_INIT, 3, 0, in16, 12);
	assert_int_equal(send_req(srv, n, 3), -EINVAL);
	n = mk_req(buf, FUSE_INIT, 4, 0, in16, sizeof(in16));
	assert_int_equal(send_req(srv, n, 4), 0);
	assert_int_equal(m.init_offered, FUSE_ASYNC_READ | FUSE_INIT_EXT);
	fuse_server_free(srv);
}

static void test_bad_framing(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_in_header h;
	size_t n, r;

	/* Shorter than a header: unique unknown, EINVAL. */
	n = mk_req(buf, FUSE_LOOKUP, 77, 1, "a", 2);
	r = run1(srv, buf, 20, out, sizeof(out));
	assert_int_equal(reply_error(out, r, 0), -EINVAL);

	/* len below the header. */
	memcpy(&h, buf, sizeof(h));
	h.len = 10;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 77), -EINVAL);
	/* len past the buffer. */
	h.len = (uint32_t)n + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 77), -EINVAL);
	/* Oversize. */
	h.len = (1u << 20) + 4096 + 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 77), -ENOMEM);
	h.len = UINT32_MAX;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 77), -ENOMEM);
	/* Extensions longer than the arguments. */
	h.len = (uint32_t)n;
	h.total_extlen = 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 77), -EINVAL);
	/* Extensions are not arguments: "ab\0" + 5 bytes + an 8-byte extension record (size 8,
	 * a type nobody knows yet: skipped). */
	n = mk_req(buf, FUSE_LOOKUP, 78, 1, "ab\0\0\0\0\0\0\x08\0\0\0zzzz", 16);
	memcpy(&h, buf, sizeof(h));
	h.total_extlen = 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 78), 0);
	assert_string_equal(m.name, "ab");
	assert_int_equal(m.total_calls, 1);
	m.total_calls = 0;
	/* Extensions eating the only NUL. */
	n = mk_req(buf, FUSE_LOOKUP, 79, 1, "abcdefg\0", 8);
	memcpy(&h, buf, sizeof(h));
	h.total_extlen = 1;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(send_req(srv, n, 79), -EINVAL);

	/* Unknown and unimplemented opcodes. */
	uint32_t ops[] = {0,
			  7,
			  FUSE_BMAP,
			  FUSE_IOCTL,
			  FUSE_POLL,
			  FUSE_NOTIFY_REPLY,
			  FUSE_SETUPMAPPING,
			  FUSE_REMOVEMAPPING,
			  53,
			  63,
			  64,
			  1000,
			  CUSE_INIT,
			  UINT32_MAX};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = mk_req(buf, ops[i], 100 + i, 1, "abcdefgh", 8);
		assert_int_equal(send_req(srv, n, 100 + i), -ENOSYS);
	}
	assert_int_equal(m.total_calls, 0);
	fuse_server_free(srv);
}

static void test_no_reply_room(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	size_t n;

	n = mk_req(buf, FUSE_UNLINK, 5, 1, "a", 2);
	assert_int_equal(run1(srv, buf, n, out, OHDR - 1), 0);
	assert_int_equal(run1(srv, buf, n, NULL, 0), 0);
	/* Room for a header but not the entry: EINVAL, lookup not run. */
	n = mk_req(buf, FUSE_LOOKUP, 6, 1, "a", 2);
	assert_int_equal(reply_error(out, run1(srv, buf, n, out, OHDR + 10), 6), -EINVAL);
	n = mk_req(buf, FUSE_CREATE, 7, 1, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0a", 18);
	assert_int_equal(reply_error(out, run1(srv, buf, n, out, OHDR + 128), 7), -EINVAL);
	/* Header-only replies fit exactly. */
	n = mk_req(buf, FUSE_UNLINK, 8, 1, "a", 2);
	assert_int_equal(reply_error(out, run1(srv, buf, n, out, OHDR), 8), 0);
	assert_int_equal(m.total_calls, 1);
	/* A short header with no room: nothing written. */
	assert_int_equal(run1(srv, buf, 10, out, 4), 0);
	fuse_server_free(srv);
}

struct minarg {
	uint32_t opcode;
	size_t min;
};

static void test_short_args(void **state)
{
	static const struct minarg t[] = {
	    {FUSE_GETATTR, 16},	   {FUSE_SETATTR, 88},
	    {FUSE_MKNOD, 16},	   {FUSE_MKDIR, 8},
	    {FUSE_RENAME, 8},	   {FUSE_RENAME2, 16},
	    {FUSE_LINK, 8},	   {FUSE_OPEN, 8},
	    {FUSE_READ, 40},	   {FUSE_WRITE, 40},
	    {FUSE_RELEASE, 24},	   {FUSE_FSYNC, 16},
	    {FUSE_SETXATTR, 8},	   {FUSE_GETXATTR, 8},
	    {FUSE_LISTXATTR, 8},   {FUSE_FLUSH, 24},
	    {FUSE_OPENDIR, 8},	   {FUSE_READDIR, 40},
	    {FUSE_RELEASEDIR, 24}, {FUSE_FSYNCDIR, 16},
	    {FUSE_ACCESS, 8},	   {FUSE_CREATE, 16},
	    {FUSE_FALLOCATE, 32},  {FUSE_READDIRPLUS, 40},
	    {FUSE_LSEEK, 24},	   {FUSE_COPY_FILE_RANGE, 56},
	    {FUSE_SYNCFS, 8},
	};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	char args[128];
	size_t n;

	memset(args, 0, sizeof(args));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (size_t len = 0; len < t[i].min; len += (len < 8 ? 1 : 7)) {
			n = mk_req(buf, t[i].opcode, 1000 + i, 1, args, len);
			if (send_req(srv, n, 1000 + i) != -EINVAL)
				fail_msg("opcode %u with %zu argument bytes", t[i].opcode, len);
		}
	}
	assert_int_equal(m.total_calls, 0);
	/* Name-only opcodes with no argument at all. */
	uint32_t named[] = {FUSE_LOOKUP, FUSE_UNLINK, FUSE_RMDIR, FUSE_SYMLINK, FUSE_REMOVEXATTR};
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		n = mk_req(buf, named[i], 2000 + i, 1, NULL, 0);
		assert_int_equal(send_req(srv, n, 2000 + i), -EINVAL);
	}
	/* FORGET/BATCH_FORGET/INTERRUPT too short: dropped without a reply. */
	n = mk_req(buf, FUSE_FORGET, 3000, 1, args, 7);
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	n = mk_req(buf, FUSE_BATCH_FORGET, 3001, 1, args, 7);
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	n = mk_req(buf, FUSE_INTERRUPT, 3002, 1, args, 7);
	assert_int_equal(run1(srv, buf, n, out, sizeof(out)), 0);
	assert_int_equal(m.total_calls, 0);
	fuse_server_free(srv);
}

/* Every name-carrying opcode: unterminated name and 256-byte name refused. */
static void test_bad_names(void **state)
{
	struct {
		uint32_t opcode;
		size_t fixed; /* struct before the name */
	} t[] = {
	    {FUSE_LOOKUP, 0},	   {FUSE_UNLINK, 0},   {FUSE_RMDIR, 0},	   {FUSE_SYMLINK, 0},
	    {FUSE_MKNOD, 16},	   {FUSE_MKDIR, 8},    {FUSE_CREATE, 16},  {FUSE_LINK, 8},
	    {FUSE_RENAME, 8},	   {FUSE_RENAME2, 16}, {FUSE_GETXATTR, 8}, {FUSE_SETXATTR, 8},
	    {FUSE_REMOVEXATTR, 0},
	};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	char args[1024];
	size_t n;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(args, 0, t[i].fixed);
		memset(args + t[i].fixed, 'n', 300);
		/* No NUL anywhere. */
		n = mk_req(buf, t[i].opcode, 10 + i, 1, args, t[i].fixed + 300);
		if (send_req(srv, n, 10 + i) != -EINVAL)
			fail_msg("opcode %u: unterminated name accepted", t[i].opcode);
		/* 256 bytes, terminated, and a second name after it. */
		args[t[i].fixed + 256] = '\0';
		memcpy(args + t[i].fixed + 257, "ok\0", 3);
		n = mk_req(buf, t[i].opcode, 10 + i, 1, args, t[i].fixed + 260);
		if (send_req(srv, n, 10 + i) != -ENAMETOOLONG)
			fail_msg("opcode %u: 256-byte name accepted", t[i].opcode);
	}
	/* Second name bad in RENAME, LINK-free pairs. */
	memset(args, 0, 8);
	memcpy(args + 8, "a\0bbb", 5);
	n = mk_req(buf, FUSE_RENAME, 50, 1, args, 13);
	assert_int_equal(send_req(srv, n, 50), -EINVAL);
	assert_int_equal(m.total_calls, 0);
	/* SYMLINK target: 4095 bytes ok, 4096 too long, unterminated EINVAL. */
	static char big[8192];
	memcpy(big, "a\0", 2);
	memset(big + 2, 't', 4097);
	big[2 + 4095] = '\0';
	n = mk_req(buf, FUSE_SYMLINK, 51, 1, big, 2 + 4096);
	assert_int_equal(send_req(srv, n, 51), 0);
	assert_int_equal(strlen(m.name2), 4095);
	big[2 + 4095] = 't';
	big[2 + 4096] = '\0';
	n = mk_req(buf, FUSE_SYMLINK, 52, 1, big, 2 + 4097);
	assert_int_equal(send_req(srv, n, 52), -ENAMETOOLONG);
	n = mk_req(buf, FUSE_SYMLINK, 53, 1, big, 2 + 4096);
	assert_int_equal(send_req(srv, n, 53), -EINVAL);
	assert_int_equal(m.total_calls, 1);
	/* A 255-byte name is fine. */
	memset(args, 'n', 255);
	args[255] = '\0';
	n = mk_req(buf, FUSE_LOOKUP, 54, 1, args, 256);
	assert_int_equal(send_req(srv, n, 54), 0);
	assert_int_equal(m.calls[M_LOOKUP], 1);
	fuse_server_free(srv);
}

/* Several threads serving at once, with INITs racing: each INIT starts a new session under
 * the lock, and no request is lost or answered twice meanwhile. */
static atomic_int t_lookups, t_inits;

static int t_init(void *fs, const struct fs_conn *conn, uint64_t *want)
{
	atomic_fetch_add(&t_inits, 1);
	return 0;
}

static int t_lookup(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		    struct fuse_entry_out *e)
{
	atomic_fetch_add(&t_lookups, 1);
	e->nodeid = parent;
	return 0;
}

static const struct fs_ops t_ops = {.init = t_init, .lookup = t_lookup};

static atomic_int t_init_ok;

static void *t_worker(void *arg)
{
	struct fuse_server *srv = arg;
	char req[256], rep[256];
	struct fuse_init_in in = {.major = 7, .minor = 38};
	size_t n;
	int ok = 0;

	n = mk_req(req, FUSE_INIT, 1, 0, &in, sizeof(in));
	n = run1(srv, req, n, rep, sizeof(rep));
	if (reply_error(rep, n, 1) == 0)
		atomic_fetch_add(&t_init_ok, 1);
	for (int i = 0; i < 20000; i++) {
		n = mk_req(req, FUSE_LOOKUP, (uint64_t)i + 2, 7, "x", 2);
		n = run1(srv, req, n, rep, sizeof(rep));
		if (reply_error(rep, n, (uint64_t)i + 2) == 0)
			ok++;
	}
	return (void *)(intptr_t)ok;
}

static void test_threads(void **state)
{
	struct fuse_server *srv;
	pthread_t th[4];
	intptr_t ok = 0;

	assert_int_equal(fuse_server_new(&t_ops, NULL, NULL, &srv), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, t_worker, srv), 0);
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(th[i], &r);
		ok += (intptr_t)r;
	}
	assert_int_equal(atomic_load(&t_inits), 4);
	assert_int_equal(atomic_load(&t_init_ok), 4);
	/* Lookups in a reset window got EIO; every successful one reached the backend. */
	assert_int_equal(ok, atomic_load(&t_lookups));
	assert_true(ok >= 3 * 20000);
	fuse_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_gate),	      cmocka_unit_test(test_init_flags),
	    cmocka_unit_test(test_init_short_compat), cmocka_unit_test(test_bad_framing),
	    cmocka_unit_test(test_no_reply_room),     cmocka_unit_test(test_short_args),
	    cmocka_unit_test(test_bad_names),	      cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("fuse_server", tests, NULL, NULL);
}
