/* The passthrough backend's ids: a stale open-file id whose slot a new file took, a stale inode
 * id whose slot a new inode took, and a forgotten inode that a request still holds all answer
 * EBADF, and never reach the new object; the /proc/self/fd name of a host fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <cmocka.h>

#include "fs_test_util.h"
#include "fs/pt_internal.h"
#include "util/iov.h"

static const char *host_content(struct fs_fixture *fx, const char *name)
{
	static char buf[64];
	int fd = open(fx_path(fx, name), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static int write_str(struct fs_fixture *fx, uint64_t ino, uint64_t fh, const char *s)
{
	struct iovec iov = { .iov_base = (void *)s, .iov_len = strlen(s) };
	struct iov_view v = { .iov = &iov, .cnt = 1, .len = iov.iov_len };

	return fx->ops->write(fx->fs, &root_ctx, ino, fh, 0, 0, 0, &v);
}

/* RELEASE frees the handle's slot; the next OPEN takes it with a new generation. The old id,
 * even with the new file's own nodeid, is EBADF, and the new file is not written. */
static void test_stale_fh_slot_reused(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_open_out o1, o2;
	uint64_t a, b;

	assert_int_equal(fx_write_file(fx, "a", "aa"), 0);
	assert_int_equal(fx_write_file(fx, "b", "bb"), 0);
	a = fx_lookup(fx, FUSE_ROOT_ID, "a");
	b = fx_lookup(fx, FUSE_ROOT_ID, "b");
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, a, O_RDWR, &o1), 0);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, a, o1.fh, O_RDWR, 0, 0), 0);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, b, O_RDWR, &o2), 0);
	assert_int_equal((uint32_t)o2.fh, (uint32_t)o1.fh); /* the same slot... */
	assert_true(o2.fh != o1.fh);			     /* ... another generation */
	assert_int_equal(write_str(fx, b, o1.fh, "XX"), -EBADF);
	assert_string_equal(host_content(fx, "b"), "bb");
	assert_int_equal(write_str(fx, b, o2.fh, "B"), 1);
	assert_string_equal(host_content(fx, "b"), "Bb");
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, b, o2.fh, O_RDWR, 0, 0), 0);
	fx->ops->forget(fx->fs, a, 1);
	fx->ops->forget(fx->fs, b, 1);
}

/* FORGET frees the inode's slot; the next new inode takes it with a new generation. The old
 * nodeid is EBADF: no attributes of, and no truncation of, the new file. */
static void test_stale_nodeid_slot_reused(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_setattr sa = { .valid = FATTR_SIZE, .size = 0 };
	struct fuse_attr_out at;
	uint64_t c, d;

	assert_int_equal(fx_write_file(fx, "c", "cc"), 0);
	assert_int_equal(fx_write_file(fx, "d", "dddd"), 0);
	c = fx_lookup(fx, FUSE_ROOT_ID, "c");
	fx->ops->forget(fx->fs, c, 1);
	d = fx_lookup(fx, FUSE_ROOT_ID, "d");
	assert_int_equal((uint32_t)d, (uint32_t)c);
	assert_true(d != c);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, c, NULL, &at), -EBADF);
	assert_int_equal(fx->ops->setattr(fx->fs, &root_ctx, c, &sa, &at), -EBADF);
	assert_string_equal(host_content(fx, "d"), "dddd");
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, d, NULL, &at), 0);
	assert_int_equal(at.attr.size, 4);
	fx->ops->forget(fx->fs, d, 1);
}

/* A request holds the inode (its reference) while the guest forgets it: the entry lives on
 * for that request only; a new request naming the forgotten id gets EBADF. */
static void test_forgotten_inode_still_held(void **state)
{
	struct fs_fixture *fx = *state;
	struct fuse_attr_out at;
	struct pt_inode *in;
	uint64_t e;

	assert_int_equal(fx_write_file(fx, "e", "e"), 0);
	e = fx_lookup(fx, FUSE_ROOT_ID, "e");
	assert_int_equal(pt_inode_get(fx->fs, e, &in), 0); /* the request in flight */
	fx->ops->forget(fx->fs, e, 1);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e, NULL, &at), -EBADF);
	assert_true(in->fd >= 0); /* the holder's inode is intact */
	pt_inode_put(fx->fs, in);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e, NULL, &at), -EBADF);
}

/* pt_proc_path writes what snprintf("%d") would: a negative fd names no entry (never fd 0). */
static void test_proc_path(void **state)
{
	const int fds[] = {0, 1, 7, 9, 10, 99, 100, 1023, 65536, 123456789, INT_MAX, -1, -42,
			   INT_MIN};
	char got[PT_PROC_NAME], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		snprintf(want, sizeof(want), "%d", fds[i]);
		assert_string_equal(pt_proc_path(got, fds[i]), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stale_fh_slot_reused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_stale_nodeid_slot_reused, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_forgotten_inode_still_held, fx_setup,
					    fx_teardown),
	    cmocka_unit_test(test_proc_path),
	};
	return cmocka_run_group_tests_name("fs_ids", tests, NULL, NULL);
}
