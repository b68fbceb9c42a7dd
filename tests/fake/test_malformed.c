/*
 * Fake frontend: hostile FUSE requests (well-formed virtio, bad FUSE). The daemon must answer
 * each with an error (or return the buffers empty where no header can be read), keep serving
 * the queue, create nothing outside the shared directory, and never crash.
 * Not meant for the legacy daemon, which asserts on some of these.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)

/* The queue still works and the daemon is alive. */
static void still_serving(struct fe *fe)
{
	struct fuse_attr_out a;

	assert_true(fe_alive(fe));
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

/* A completion came; it is either empty or an error reply. Returns the error or 0 if empty. */
static int error_or_empty(int rc, struct fe_reply *r)
{
	int e;

	assert_int_equal(rc, 0);
	if (r->used_len == 0) {
		fe_reply_free(r);
		return 0;
	}
	e = fe_check_reply(rc, r, -1);
	fe_reply_free(r);
	assert_true(e < 0 && e != FE_ETRANSPORT);
	return e;
}

static void test_short_header(void **state)
{
	struct fe *fe = *state;
	struct fuse_in_header h = { .len = sizeof(h), .opcode = FUSE_GETATTR, .unique = 77,
				    .nodeid = FUSE_ROOT_ID };
	struct iovec in[] = { IOV(&h, 20) };
	struct fe_reply r;

	error_or_empty(fe_fuse_raw(fe, in, 1, 256, NULL, &r), &r);
	still_serving(fe);
	/* No readable descriptor at all. */
	error_or_empty(fe_fuse_raw(fe, NULL, 0, 256, NULL, &r), &r);
	still_serving(fe);
}

static void test_len_past_chain(void **state)
{
	struct fe *fe = *state;
	struct fuse_getattr_in g = { 0 };
	struct iovec a[] = { IOV(&g, sizeof(g)) };
	struct fe_req_opts o = { .len_override = sizeof(struct fuse_in_header) + sizeof(g) + 4096 };
	struct fe_reply r;

	error_or_empty(fe_fuse_req(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, 256, &o, &r), &r);
	still_serving(fe);
	o.len_override = 0xffffffff;
	error_or_empty(fe_fuse_req(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, 256, &o, &r), &r);
	still_serving(fe);
	o.len_override = 8; /* shorter than the header itself */
	error_or_empty(fe_fuse_req(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, 256, &o, &r), &r);
	still_serving(fe);
}

static void test_short_args(void **state)
{
	struct fe *fe = *state;
	struct fuse_write_in w = { .size = 4096 };
	struct iovec a[] = { IOV(&w, 8) };
	struct fe_reply r;

	/* Arguments shorter than the opcode's fixed part. */
	error_or_empty(fe_fuse_req(fe, FUSE_WRITE, FUSE_ROOT_ID, a, 1, 256, NULL, &r), &r);
	still_serving(fe);
	error_or_empty(fe_fuse_req(fe, FUSE_SETATTR, FUSE_ROOT_ID, a, 1, 256, NULL, &r), &r);
	still_serving(fe);
	/* WRITE larger than the max_write the daemon announced. */
	if (fe->max_write && fe->max_write < (16u << 20)) {
		uint32_t len = fe->max_write + 4096;
		char *data = calloc(1, len);
		struct fuse_entry_out e;
		uint64_t fh;
		uint32_t n = 0;

		assert_non_null(data);
		assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "w", O_RDWR | O_CREAT, S_IFREG | 0644,
					   &e, &fh),
				 0);
		int rc = fe_write(fe, e.nodeid, fh, 0, data, len, NULL, &n);

		assert_true(rc < 0 && rc != FE_ETRANSPORT);
		free(data);
		assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	}
	/* WRITE claiming more payload than it carries. */
	a[0] = IOV(&w, sizeof(w));
	error_or_empty(fe_fuse_req(fe, FUSE_WRITE, FUSE_ROOT_ID, a, 1, 256, NULL, &r), &r);
	still_serving(fe);
}

static void test_bad_opcode(void **state)
{
	struct fe *fe = *state;
	uint8_t arg[16] = { 0 };
	struct iovec a[] = { IOV(arg, sizeof(arg)) };
	uint32_t ops[] = { 9999, 0, 0xffffffff, FUSE_SETUPMAPPING + 100, CUSE_INIT };
	struct fe_reply r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int rc = fe_fuse_req(fe, ops[i], FUSE_ROOT_ID, a, 1, 256, NULL, &r);

		assert_int_equal(fe_check_reply(rc, &r, 0), -ENOSYS);
		fe_reply_free(&r);
	}
	still_serving(fe);
}

static void test_before_init(void **state)
{
	struct fe *fe = *state;
	struct fuse_attr_out a;
	struct fuse_init_out out;

	assert_true(fe_getattr(fe, FUSE_ROOT_ID, &a) < 0);
	assert_int_not_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), FE_ETRANSPORT);
	assert_int_equal(fe_init(fe, &out), 0);
	still_serving(fe);
}

/* A second INIT (a guest kernel that restarted without DESTROY) starts a new session, as the
 * reference does: accepted, and the daemon keeps serving. */
static void test_second_init(void **state)
{
	struct fe *fe = *state;
	struct fuse_init_out out;

	assert_int_equal(fe_init(fe, &out), 0);
	assert_int_equal(out.major, 7);
	still_serving(fe);
}

static void test_bad_init(void **state)
{
	struct fe *fe = *state;
	struct fuse_init_in in = { .major = 7, .minor = 38 };
	struct iovec a[] = { IOV(&in, 8) };
	struct fuse_init_out out;
	struct fe_reply r;

	/* Truncated INIT arguments (8 of the 16 bytes INIT needs): EINVAL. */
	assert_int_equal(fe_fuse_req(fe, FUSE_INIT, 0, a, 1, 256, NULL, &r), 0);
	assert_int_equal(fe_check_reply(0, &r, 0), -EINVAL);
	fe_reply_free(&r);
	/* A major version from the future: our major and minor and nothing else, so that the
	 * guest can retry with ours. */
	in.major = 99;
	a[0] = IOV(&in, sizeof(in));
	assert_int_equal(fe_fuse_req(fe, FUSE_INIT, 0, a, 1, 256, NULL, &r), 0);
	assert_int_equal(fe_check_reply(0, &r, sizeof(out)), 0);
	memcpy(&out, r.data, sizeof(out));
	fe_reply_free(&r);
	assert_int_equal(out.major, FUSE_KERNEL_VERSION);
	assert_true(out.minor >= 31);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.max_write, 0);
	/* Neither counted as the INIT: requests are still refused until a proper one. */
	struct fuse_attr_out at;

	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &at), -EIO);
	assert_int_equal(fe_init(fe, &out), 0);
	still_serving(fe);
}

static void test_name_not_terminated(void **state)
{
	struct fe *fe = *state;
	struct fuse_mkdir_in m = { .mode = 0755 };
	struct iovec a[] = { IOV("abc", 3) };
	struct iovec b[] = { IOV(&m, sizeof(m)), IOV("newdir", 6) };
	struct fe_reply r;

	error_or_empty(fe_fuse_req(fe, FUSE_LOOKUP, FUSE_ROOT_ID, a, 1, 256, NULL, &r), &r);
	error_or_empty(fe_fuse_req(fe, FUSE_MKDIR, FUSE_ROOT_ID, b, 2, 256, NULL, &r), &r);
	assert_int_equal(fe_count_entries(fe->share), 0);
	/* A NUL inside: the name is "a", the rest must not be taken for anything else. */
	struct iovec c[] = { IOV(&m, sizeof(m)), IOV("a\0/../x", 8) };

	char p[256];
	struct stat st;

	assert_int_equal(fe_fuse_req(fe, FUSE_MKDIR, FUSE_ROOT_ID, c, 2, 256, NULL, &r), 0);
	fe_reply_free(&r);
	assert_int_not_equal(lstat(fe_tmp_path(fe, "x", p, sizeof(p)), &st), 0);
	still_serving(fe);
}

static void test_long_names(void **state)
{
	struct fe *fe = *state;
	char name[300];
	struct fuse_entry_out e;

	memset(name, 'n', 256);
	name[256] = 0;
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, name, &e), -ENAMETOOLONG);
	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, name, 0755, &e), -ENAMETOOLONG);
	assert_int_equal(fe_count_entries(fe->share), 0);
	name[255] = 0;
	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, name, 0755, &e), 0);
	assert_int_equal(fe_count_entries(fe->share), 1);
	still_serving(fe);
}

/* The temp dir holds share/, the socket, the log, and maybe the daemon's pid file. */
static void nothing_escaped(struct fe *fe, int share_entries)
{
	static const char *const outside[] = { "escape", "escape2", "abs-escape", "evil" };
	char p[256];
	struct stat st;

	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		if (lstat(fe_tmp_path(fe, outside[i], p, sizeof(p)), &st) == 0)
			fail_msg("%s was created outside the shared directory", p);
	assert_true(fe_count_entries(fe->tmp) <= 4);
	assert_int_equal(fe_count_entries(fe->share), share_entries);
}

static const char *bad_names(struct fe *fe, unsigned i, char *buf, size_t cap)
{
	switch (i) {
	case 0:
		return "..";
	case 1:
		return "../escape";
	case 2:
		return "sub/../../escape2";
	case 3:
		return fe_tmp_path(fe, "abs-escape", buf, cap);
	case 4:
		return ".";
	case 5:
		return "a/b";
	default:
		return NULL;
	}
}

static void test_bad_new_names(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e, f, sub;
	char buf[256];
	const char *n;
	uint64_t fh;

	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "sub", 0755, &sub), 0);
	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "file", O_RDWR | O_CREAT, S_IFREG | 0644, &f,
				   &fh),
			 0);
	assert_int_equal(fe_release(fe, f.nodeid, fh, false), 0);
	for (unsigned i = 0; (n = bad_names(fe, i, buf, sizeof(buf))); i++) {
		print_message("new-entry name \"%s\"\n", n);
		assert_true(fe_mkdir(fe, sub.nodeid, n, 0755, &e) < 0);
		assert_true(fe_mknod(fe, sub.nodeid, n, S_IFREG | 0644, 0, &e) < 0);
		assert_true(fe_mknod(fe, sub.nodeid, n, S_IFIFO | 0644, 0, &e) < 0);
		assert_true(fe_create(fe, sub.nodeid, n, O_RDWR | O_CREAT, S_IFREG | 0644, &e,
				      &fh) < 0);
		assert_true(fe_symlink(fe, sub.nodeid, n, "/etc/passwd", &e) < 0);
		assert_true(fe_link(fe, f.nodeid, sub.nodeid, n, &e) < 0);
		assert_true(fe_rename(fe, FUSE_ROOT_ID, "file", sub.nodeid, n, 0, false) < 0);
		assert_true(fe_rename(fe, FUSE_ROOT_ID, "file", sub.nodeid, n, 0, true) < 0);
		nothing_escaped(fe, 2);
		assert_int_equal(fe_count_entries(fe_share_path(fe, "sub", buf, sizeof(buf))), 0);
	}
	/* Bad names as the OLD name of RENAME, and in UNLINK/RMDIR, cannot reach outside either. */
	assert_true(fe_rename(fe, sub.nodeid, "../file", FUSE_ROOT_ID, "moved", 0, false) < 0);
	assert_true(fe_unlink(fe, sub.nodeid, "../file", false) < 0);
	assert_true(fe_unlink(fe, sub.nodeid, "..", true) < 0);
	nothing_escaped(fe, 2);
	still_serving(fe);
}

static void test_bad_nodeids(void **state)
{
	struct fe *fe = *state;
	struct fuse_attr_out a;
	struct fuse_entry_out e;
	uint64_t ids[] = { 0, 2, 0xdeadbeef, ~0ull, 1ull << 63 };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int rc = fe_getattr(fe, ids[i], &a);

		assert_true(rc < 0 && rc != FE_ETRANSPORT);
		rc = fe_lookup(fe, ids[i], "x", &e);
		assert_true(rc < 0 && rc != FE_ETRANSPORT);
		assert_int_equal(fe_forget(fe, ids[i], 1, false), 0);
	}
	assert_true(fe_release(fe, FUSE_ROOT_ID, 0xdeadbeef, false) <= 0);
	still_serving(fe);
}

static void test_reply_space_too_small(void **state)
{
	struct fe *fe = *state;
	struct fuse_getattr_in g = { 0 };
	struct iovec a[] = { IOV(&g, sizeof(g)) };
	struct fe_reply r;

	/* Room for the header only: the daemon must not write past it. */
	assert_int_equal(fe_fuse_req(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, OUT_HDR, NULL, &r), 0);
	assert_true(r.used_len <= OUT_HDR);
	fe_reply_free(&r);
	/* A READ asking for far more than the writable space. */
	struct fuse_entry_out e;
	struct fuse_read_in rd = { .size = 1 << 20 };
	struct iovec ra[] = { IOV(&rd, sizeof(rd)) };
	uint64_t fh;
	uint32_t n;
	static char big[64 << 10];

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "r", O_RDWR | O_CREAT, S_IFREG | 0644, &e,
				   &fh),
			 0);
	assert_int_equal(fe_write(fe, e.nodeid, fh, 0, big, sizeof(big), NULL, &n), 0);
	rd.fh = fh;
	assert_int_equal(fe_fuse_req(fe, FUSE_READ, e.nodeid, ra, 1, OUT_HDR + 4096, NULL, &r), 0);
	assert_true(r.used_len <= OUT_HDR + 4096);
	fe_reply_free(&r);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	/* No writable space at all. */
	assert_int_equal(fe_fuse_req(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, 0, NULL, &r), 0);
	assert_int_equal(r.used_len, 0);
	fe_reply_free(&r);
	still_serving(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_short_header),	  FE_T(test_len_past_chain),
		FE_T(test_short_args),		  FE_T(test_bad_opcode),
		FE_T_NOINIT(test_before_init),	  FE_T(test_second_init),
		FE_T_NOINIT(test_bad_init),	  FE_T(test_name_not_terminated),
		FE_T(test_long_names),		  FE_T(test_bad_new_names),
		FE_T(test_bad_nodeids),		  FE_T(test_reply_space_too_small),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-malformed", tests, NULL, NULL);
}
