/*
 * The opcode table (src/fuse/server.c), walked entry by entry: every check the dispatcher
 * makes from it holds for every opcode, before any handler or backend op runs.
 *
 * - a short argument (below in_min, or a missing name) is EINVAL, no backend call;
 * - a NULL fs_ops member is ENOSYS, no backend call, and the member the table names is the
 *   one the handler would call;
 * - a reply buffer below out_min is EINVAL, no backend call;
 * - anything but INIT before INIT is EIO, no backend call.
 * Opcodes that are never answered (FORGET, BATCH_FORGET, INTERRUPT) must send nothing back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fuse/internal.h"
#include "test_fuse_mock.h"

#define OHDR sizeof(struct fuse_out_header)

static char req[4096], out[4096];

/* Opcodes whose in_min is 0: those that need one or two names, and those that take nothing. */
static const uint32_t named[] = {FUSE_LOOKUP, FUSE_SYMLINK, FUSE_UNLINK, FUSE_RMDIR,
				 FUSE_REMOVEXATTR};
static const uint32_t argless[] = {FUSE_READLINK, FUSE_STATFS, FUSE_DESTROY};

/* The mock's counter for each fs_ops member a table entry can name. */
static const struct {
	size_t off;
	enum mock_op op;
} member_op[] = {
#define MEMBER(m, o) {offsetof(struct fs_ops, m), o}
    MEMBER(lookup, M_LOOKUP),	  MEMBER(getattr, M_GETATTR),
    MEMBER(setattr, M_SETATTR),	  MEMBER(readlink, M_READLINK),
    MEMBER(symlink, M_SYMLINK),	  MEMBER(mknod, M_MKNOD),
    MEMBER(mkdir, M_MKDIR),	  MEMBER(unlink, M_UNLINK),
    MEMBER(rmdir, M_RMDIR),	  MEMBER(rename, M_RENAME),
    MEMBER(link, M_LINK),	  MEMBER(open, M_OPEN),
    MEMBER(create, M_CREATE),	  MEMBER(read, M_READ),
    MEMBER(write, M_WRITE),	  MEMBER(statfs, M_STATFS),
    MEMBER(release, M_RELEASE),	  MEMBER(fsync, M_FSYNC),
    MEMBER(flush, M_FLUSH),	  MEMBER(opendir, M_OPENDIR),
    MEMBER(readdir, M_READDIR),	  MEMBER(releasedir, M_RELEASEDIR),
    MEMBER(fsyncdir, M_FSYNCDIR), MEMBER(access, M_ACCESS),
    MEMBER(fallocate, M_FALLOCATE), MEMBER(lseek, M_LSEEK),
    MEMBER(getxattr, M_GETXATTR), MEMBER(setxattr, M_SETXATTR),
    MEMBER(listxattr, M_LISTXATTR), MEMBER(removexattr, M_REMOVEXATTR),
    MEMBER(copy_file_range, M_COPY_FILE_RANGE), MEMBER(syncfs, M_SYNCFS),
    MEMBER(tmpfile, M_TMPFILE),	  MEMBER(statx, M_STATX),
    MEMBER(getlk, M_GETLK),	  MEMBER(setlk, M_SETLK),
#undef MEMBER
};

/* The kernel UAPI's sizes for each served opcode: fixed argument part, reply room needed. An
 * independent statement of the protocol, so a table entry cannot drift from it. */
static const struct {
	uint32_t opcode, in, out;
} uapi_size[] = {
#define S(op, in, out) {op, in, out}
    S(FUSE_LOOKUP, 0, sizeof(struct fuse_entry_out)),
    S(FUSE_FORGET, sizeof(struct fuse_forget_in), 0),
    S(FUSE_GETATTR, sizeof(struct fuse_getattr_in), sizeof(struct fuse_attr_out)),
    S(FUSE_SETATTR, sizeof(struct fuse_setattr_in), sizeof(struct fuse_attr_out)),
    S(FUSE_READLINK, 0, 0),
    S(FUSE_SYMLINK, 0, sizeof(struct fuse_entry_out)),
    S(FUSE_MKNOD, sizeof(struct fuse_mknod_in), sizeof(struct fuse_entry_out)),
    S(FUSE_MKDIR, sizeof(struct fuse_mkdir_in), sizeof(struct fuse_entry_out)),
    S(FUSE_UNLINK, 0, 0),
    S(FUSE_RMDIR, 0, 0),
    S(FUSE_RENAME, sizeof(struct fuse_rename_in), 0),
    S(FUSE_LINK, sizeof(struct fuse_link_in), sizeof(struct fuse_entry_out)),
    S(FUSE_OPEN, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out)),
    S(FUSE_READ, sizeof(struct fuse_read_in), 0),
    S(FUSE_WRITE, sizeof(struct fuse_write_in), sizeof(struct fuse_write_out)),
    S(FUSE_STATFS, 0, sizeof(struct fuse_statfs_out)),
    S(FUSE_RELEASE, sizeof(struct fuse_release_in), 0),
    S(FUSE_FSYNC, sizeof(struct fuse_fsync_in), 0),
    S(FUSE_SETXATTR, FUSE_COMPAT_SETXATTR_IN_SIZE, 0),
    S(FUSE_GETXATTR, sizeof(struct fuse_getxattr_in), 0),
    S(FUSE_LISTXATTR, sizeof(struct fuse_getxattr_in), 0),
    S(FUSE_REMOVEXATTR, 0, 0),
    S(FUSE_FLUSH, sizeof(struct fuse_flush_in), 0),
    S(FUSE_INIT, 16, sizeof(struct fuse_init_out)), /* the pre-7.36 fuse_init_in */
    S(FUSE_OPENDIR, sizeof(struct fuse_open_in), sizeof(struct fuse_open_out)),
    S(FUSE_READDIR, sizeof(struct fuse_read_in), 0),
    S(FUSE_RELEASEDIR, sizeof(struct fuse_release_in), 0),
    S(FUSE_FSYNCDIR, sizeof(struct fuse_fsync_in), 0),
    S(FUSE_ACCESS, sizeof(struct fuse_access_in), 0),
    S(FUSE_CREATE, sizeof(struct fuse_create_in),
      sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)),
    S(FUSE_INTERRUPT, sizeof(struct fuse_interrupt_in), 0),
    S(FUSE_DESTROY, 0, 0),
    S(FUSE_BATCH_FORGET, sizeof(struct fuse_batch_forget_in), 0),
    S(FUSE_FALLOCATE, sizeof(struct fuse_fallocate_in), 0),
    S(FUSE_READDIRPLUS, sizeof(struct fuse_read_in), 0),
    S(FUSE_RENAME2, sizeof(struct fuse_rename2_in), 0),
    S(FUSE_LSEEK, sizeof(struct fuse_lseek_in), sizeof(struct fuse_lseek_out)),
    S(FUSE_COPY_FILE_RANGE, sizeof(struct fuse_copy_file_range_in),
      sizeof(struct fuse_write_out)),
    S(FUSE_SYNCFS, sizeof(struct fuse_syncfs_in), 0),
    S(FUSE_GETLK, sizeof(struct fuse_lk_in), sizeof(struct fuse_lk_out)),
    S(FUSE_SETLK, sizeof(struct fuse_lk_in), 0),
    S(FUSE_SETLKW, sizeof(struct fuse_lk_in), 0),
    S(FUSE_TMPFILE, sizeof(struct fuse_create_in),
      sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)),
    S(FUSE_STATX, sizeof(struct fuse_statx_in), sizeof(struct fuse_statx_out)),
#undef S
};

static bool in_list(const uint32_t *l, size_t n, uint32_t opcode)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] == opcode)
			return true;
	return false;
}

#define IN_LIST(l, op) in_list(l, sizeof(l) / sizeof(l[0]), op)

static const char zeros[256];

/* in_min zero bytes, then two names: enough for every handler to reach its backend op. */
static size_t valid_req(uint32_t opcode, uint64_t unique, const struct fuse_optab *t)
{
	assert_true(t->in_min <= sizeof(zeros));
	return mk_req2(req, opcode, unique, 3, zeros, t->in_min, "a\0b", 4);
}

/* Serve with an out buffer of outlen; returns the error, or 1 when nothing was sent back. */
static int serve(struct fuse_server *srv, size_t n, uint64_t unique, size_t outlen)
{
	size_t r = run1(srv, req, n, out, outlen);

	return r == 0 ? 1 : reply_error(out, r, unique);
}

static int expect_err(const struct fuse_optab *t, int err)
{
	return t->noreply ? 1 : err;
}

static struct fuse_server *lock_server(struct mock_fs *m, const struct fs_ops *ops, bool xattr)
{
	struct fuse_server_opts o = {.xattr = xattr, .posix_locks = true, .flock_locks = true};
	struct fuse_server *srv = NULL;

	memset(m, 0, sizeof(*m));
	assert_int_equal(fuse_server_new(ops, m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, ~0ULL, NULL), 0);
	memset(m->calls, 0, sizeof(m->calls));
	m->total_calls = 0;
	return srv;
}

/* The table has what this test walks: the served opcodes, each named, INIT among them. */
static void test_table_shape(void **state)
{
	unsigned served = 0;

	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);

		if (!t)
			continue;
		served++;
		assert_non_null(t->name);
		assert_non_null(t->fn);
		/* An opcode without a fixed part is classified here, so a new one is too. */
		if (t->in_min == 0)
			assert_true(IN_LIST(named, op) || IN_LIST(argless, op));
		if (t->noreply)
			assert_int_equal(t->out_min, 0);
		/* The dispatcher reads in_min bytes into the request's in_arg. */
		assert_true(t->in_min <= sizeof(union fuse_in_arg));
	}
	/* Every served opcode has the UAPI's sizes, and the test knows every served opcode. */
	for (size_t i = 0; i < sizeof(uapi_size) / sizeof(uapi_size[0]); i++) {
		const struct fuse_optab *t = fuse_optab_find(uapi_size[i].opcode);

		if (!t)
			fail_msg("opcode %u is not served", uapi_size[i].opcode);
		if (t->in_min != uapi_size[i].in || t->out_min != uapi_size[i].out)
			fail_msg("%s: in_min %u out_min %u, the UAPI says %u and %u", t->name,
				 t->in_min, t->out_min, uapi_size[i].in, uapi_size[i].out);
	}
	assert_int_equal(served, sizeof(uapi_size) / sizeof(uapi_size[0]));
	assert_non_null(fuse_optab_find(FUSE_INIT));
	assert_null(fuse_optab_find(fuse_optab_end()));
	assert_null(fuse_optab_find(UINT32_MAX));
}

static void test_short_argument(void **state)
{
	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct mock_fs m;
		struct fuse_server *srv;
		size_t n;

		if (!t || IN_LIST(argless, op))
			continue;
		srv = lock_server(&m, &mock_ops, true);
		/* One byte short of the fixed part, or no name at all. */
		n = mk_req(req, op, 9, 3, zeros, t->in_min ? t->in_min - 1 : 0);
		if (serve(srv, n, 9, sizeof(out)) != expect_err(t, -EINVAL))
			fail_msg("%s with %u argument bytes: not %s", t->name,
				 t->in_min ? t->in_min - 1 : 0, t->noreply ? "dropped" : "EINVAL");
		if (m.total_calls != 0)
			fail_msg("%s with a short argument reached the backend", t->name);
		fuse_server_free(srv);
	}
}

static void test_null_op(void **state)
{
	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct fs_ops ops = mock_ops;
		struct mock_fs m;
		struct fuse_server *srv;

		if (!t || !t->fs_op)
			continue;
		assert_true(fuse_optab_backed(t, &ops));
		memset((char *)&ops + t->fs_op - 1, 0, sizeof(void (*)(void)));
		assert_false(fuse_optab_backed(t, &ops));
		srv = lock_server(&m, &ops, true);
		if (serve(srv, valid_req(op, 10, t), 10, sizeof(out)) != -ENOSYS)
			fail_msg("%s without its fs_ops member: not ENOSYS", t->name);
		if (m.total_calls != 0)
			fail_msg("%s without its fs_ops member reached the backend", t->name);
		fuse_server_free(srv);
	}
}

/* With every op present, the handler calls exactly the member the table names. */
static void test_named_member_is_called(void **state)
{
	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct mock_fs m;
		struct fuse_server *srv;
		int want = -1, err;

		if (!t || !t->fs_op)
			continue;
		for (size_t i = 0; i < sizeof(member_op) / sizeof(member_op[0]); i++)
			if (member_op[i].off == t->fs_op - 1u)
				want = (int)member_op[i].op;
		if (want < 0)
			fail_msg("%s names an fs_ops member the test does not know", t->name);
		srv = lock_server(&m, &mock_ops, true);
		err = serve(srv, valid_req(op, 11, t), 11, sizeof(out));
		if (err == -ENOSYS || m.total_calls != 1 || m.calls[want] != 1)
			fail_msg("%s: error %d, %d backend calls, not one to the member the table "
				 "names",
				 t->name, err, m.total_calls);
		fuse_server_free(srv);
	}
}

/* Xattr opcodes are ENOSYS without --xattr even when the backend has them. */
static void test_xattr_off(void **state)
{
	unsigned seen = 0;

	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct mock_fs m;
		struct fuse_server *srv;

		if (!t || !t->xattr)
			continue;
		seen++;
		srv = lock_server(&m, &mock_ops, false);
		assert_int_equal(serve(srv, valid_req(op, 12, t), 12, sizeof(out)), -ENOSYS);
		assert_int_equal(m.total_calls, 0);
		fuse_server_free(srv);
	}
	assert_int_equal(seen, 4);
}

static void test_reply_below_minimum(void **state)
{
	for (uint32_t op = 0; op < fuse_optab_end(); op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct mock_fs m;
		struct fuse_server *srv;

		if (!t || t->out_min == 0)
			continue;
		srv = lock_server(&m, &mock_ops, true);
		if (serve(srv, valid_req(op, 13, t), 13, OHDR + t->out_min - 1) != -EINVAL)
			fail_msg("%s with %u reply bytes: not EINVAL", t->name, t->out_min - 1);
		if (m.total_calls != 0)
			fail_msg("%s with a short reply buffer reached the backend", t->name);
		/* The minimum itself passes that check. */
		if (serve(srv, valid_req(op, 14, t), 14, OHDR + t->out_min) == -EINVAL &&
		    m.total_calls == 0)
			fail_msg("%s with %u reply bytes refused", t->name, t->out_min);
		fuse_server_free(srv);
	}
}

static void test_before_init(void **state)
{
	for (uint32_t op = 0; op < fuse_optab_end() + 2; op++) {
		const struct fuse_optab *t = fuse_optab_find(op);
		struct fuse_optab unknown = {.name = "?"};
		struct mock_fs m;
		struct fuse_server *srv = NULL;

		if (op == FUSE_INIT)
			continue;
		memset(&m, 0, sizeof(m));
		assert_int_equal(fuse_server_new(&mock_ops, &m, NULL, &srv), 0);
		if (serve(srv, valid_req(op, 15, t ? t : &unknown), 15, sizeof(out)) !=
		    expect_err(t ? t : &unknown, -EIO))
			fail_msg("opcode %u (%s) before INIT: not %s", op, t ? t->name : "unknown",
				 t && t->noreply ? "dropped" : "EIO");
		assert_int_equal(m.total_calls, 0);
		fuse_server_free(srv);
	}
}

/* After INIT, the holes in the table (and past its end) are ENOSYS. */
static void test_unknown_opcode(void **state)
{
	struct fuse_optab unknown = {.name = "?"};
	struct mock_fs m;
	struct fuse_server *srv = lock_server(&m, &mock_ops, true);
	unsigned holes = 0;

	for (uint32_t op = 0; op < fuse_optab_end() + 2; op++) {
		if (fuse_optab_find(op))
			continue;
		holes++;
		assert_int_equal(serve(srv, valid_req(op, 16, &unknown), 16, sizeof(out)), -ENOSYS);
	}
	assert_true(holes >= 3); /* opcode 0 and the two past the end at least */
	assert_int_equal(m.total_calls, 0);
	fuse_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_shape),
	    cmocka_unit_test(test_short_argument),
	    cmocka_unit_test(test_null_op),
	    cmocka_unit_test(test_named_member_is_called),
	    cmocka_unit_test(test_xattr_off),
	    cmocka_unit_test(test_reply_below_minimum),
	    cmocka_unit_test(test_before_init),
	    cmocka_unit_test(test_unknown_opcode),
	};
	return cmocka_run_group_tests_name("fuse_optab", tests, NULL, NULL);
}
