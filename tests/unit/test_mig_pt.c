/*
 * The passthrough's migration state: a source saves what the guest holds, the bytes go
 * through the stream codec, a second passthrough on the same directory loads them and serves
 * the same node ids and handle ids; states shaped like the Rust daemon's (Path trees, refcounts
 * that count children, handle id 0) load too; what cannot be found fails in abort mode and
 * turns into EIO in guest-error mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mount.h>
#include <cmocka.h>

#include "fs_test_util.h"
#include "fs/mig_stream.h"
#include "fs/pt_mig.h"
#include "util/iov.h"

static char why[512];

static void *new_dest(struct fs_fixture *fx, enum inode_file_handles h, bool submounts)
{
	struct fs_passthrough_opts o = { .proc_self_fd = -1, .cache = CACHE_AUTO,
					 .announce_submounts = submounts, .inode_file_handles = h,
					 .root_dir = fx->share };
	struct fs_conn conn = { .proto_minor = 38, .max_write = 1 << 20 };
	uint64_t want = 0;
	void *fs;

	assert_int_equal(fs_passthrough_new(&o, &fs), 0);
	assert_int_equal(fs_passthrough_ops.init(fs, &conn, &want), 0);
	return fs;
}

static uint64_t lookup(void *fs, uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	assert_int_equal(fs_passthrough_ops.lookup(fs, &root_ctx, parent, name, &e), 0);
	return e.nodeid;
}

static uint64_t ino_of(void *fs, uint64_t id)
{
	struct fuse_attr_out a;
	int r = fs_passthrough_ops.getattr(fs, &root_ctx, id, NULL, &a);

	return r < 0 ? (uint64_t)r : a.attr.ino;
}

static int read_fh(void *fs, uint64_t id, uint64_t fh, char *buf, size_t size)
{
	struct iovec iov = { buf, size };
	struct iov_view v = { .iov = &iov, .cnt = 1, .len = size };

	return fs_passthrough_ops.read(fs, &root_ctx, id, fh, 0, 0, &v);
}

/* save -> bytes -> checked state: what a destination receives */
static void through_stream(void *src, const struct fs_mig_opts *o, struct mig_state *out)
{
	struct mig_state s;
	uint8_t *b;
	size_t n;

	assert_int_equal(fs_passthrough_mig_save(src, o, &s, why, sizeof(why)), 0);
	assert_int_equal(mig_state_encode(&s, 1 << 24, &b, &n), 0);
	mig_state_free(&s);
	if (mig_state_decode(b, n, NULL, out, why, sizeof(why)) < 0)
		fail_msg("our own state refused: %s", why);
	free(b);
}

static const struct mig_inode *find_inode(const struct mig_state *s, uint64_t id)
{
	for (size_t i = 0; i < s->ninodes; i++)
		if (s->inodes[i].id == id)
			return &s->inodes[i];
	return NULL;
}

static void roundtrip(void **state, enum fs_mig_mode mode, enum inode_file_handles h)
{
	struct fs_fixture *fx = *state;
	struct fs_mig_opts o = { .mode = mode, .verify_handles = mode == FS_MIG_FIND_PATHS };
	struct fuse_open_out op, dop;
	struct mig_state s;
	uint64_t d, f, g, g2;
	char buf[16] = { 0 };
	void *dst;

	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	assert_int_equal(fx_write_file(fx, "d/f", "hello"), 0);
	assert_int_equal(fx_write_file(fx, "g", "x"), 0);
	d = lookup(fx->fs, 1, "d");
	f = lookup(fx->fs, d, "f");
	g = lookup(fx->fs, 1, "g");
	assert_int_equal(fs_passthrough_ops.open(fx->fs, &root_ctx, f, O_RDWR, &op), 0);
	assert_int_equal(fs_passthrough_ops.opendir(fx->fs, &root_ctx, d, O_RDONLY, &dop), 0);

	through_stream(fx->fs, &o, &s);
	assert_int_equal(s.ninodes, 4);
	assert_int_equal(s.nhandles, 2);
	if (mode == FS_MIG_FIND_PATHS) {
		assert_int_equal(find_inode(&s, f)->loc, MIG_LOC_FULL_PATH);
		assert_string_equal(find_inode(&s, f)->name, "d/f");
		assert_non_null(find_inode(&s, f)->check_fh);
	} else {
		assert_int_equal(find_inode(&s, f)->loc, MIG_LOC_FILE_HANDLE);
		assert_int_equal(s.nmounts, 1);
		assert_string_equal(s.mounts[0].path, ".");
	}

	dst = new_dest(fx, h, true);
	if (fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)) < 0)
		fail_msg("load: %s", why);
	mig_state_free(&s);
	/* the source's ids, the same host inodes */
	assert_int_equal(ino_of(dst, d), ino_of(fx->fs, d));
	assert_int_equal(ino_of(dst, f), ino_of(fx->fs, f));
	assert_int_equal(ino_of(dst, g), ino_of(fx->fs, g));
	assert_int_equal(read_fh(dst, f, op.fh, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	assert_int_equal(fs_passthrough_ops.releasedir(dst, &root_ctx, d, dop.fh, 0), 0);
	/* a lookup of a known inode finds the adopted entry; a new one gets a fresh id */
	assert_int_equal(lookup(dst, 1, "g"), g);
	assert_int_equal(fx_write_file(fx, "new", "n"), 0);
	g2 = lookup(dst, 1, "new");
	assert_true(g2 != d && g2 != f && g2 != g && g2 != 1);
	/* the lookup counts came along: g was looked up twice on dst, forgotten twice it goes */
	fs_passthrough_ops.forget(dst, g, 1);
	assert_int_equal(ino_of(dst, g), ino_of(fx->fs, g));
	fs_passthrough_ops.forget(dst, g, 1);
	assert_int_equal((int)ino_of(dst, g), -EBADF);
	fs_passthrough_free(dst);
}

static void test_find_paths(void **state)
{
	roundtrip(state, FS_MIG_FIND_PATHS, INODE_HANDLES_PREFER);
}

static void test_find_paths_fds(void **state)
{
	roundtrip(state, FS_MIG_FIND_PATHS, INODE_HANDLES_NEVER);
}

static void test_file_handles(void **state)
{
	roundtrip(state, FS_MIG_FILE_HANDLES, INODE_HANDLES_PREFER);
}

/* An open file unlinked by the guest has no path: sent as its file handle in both modes (in
 * find-paths mode too, where the Rust daemon would lose it), and it reads on a destination in
 * file-handles mode; one in find-paths mode opens no handle: the inode is lost there (abort
 * refuses the state). */
static void test_unlinked(void **state)
{
	struct fs_fixture *fx = *state;
	enum fs_mig_mode modes[] = { FS_MIG_FIND_PATHS, FS_MIG_FILE_HANDLES };
	struct fs_mig_opts fp = { .mode = FS_MIG_FIND_PATHS };
	struct fs_mig_opts fh = { .mode = FS_MIG_FILE_HANDLES };
	struct fuse_open_out op;
	struct mig_state s;
	uint64_t t;

	assert_int_equal(fx_write_file(fx, "tmp", "data"), 0);
	t = lookup(fx->fs, 1, "tmp");
	assert_int_equal(fs_passthrough_ops.open(fx->fs, &root_ctx, t, O_RDWR, &op), 0);
	assert_int_equal(fs_passthrough_ops.unlink(fx->fs, &root_ctx, 1, "tmp"), 0);
	for (size_t i = 0; i < 2; i++) {
		struct fs_mig_opts o = { .mode = modes[i] };
		char buf[8] = { 0 };
		void *dst;

		through_stream(fx->fs, &o, &s);
		assert_int_equal(find_inode(&s, t)->loc, MIG_LOC_FILE_HANDLE);
		assert_int_equal(s.nmounts, 1);
		dst = new_dest(fx, INODE_HANDLES_PREFER, true);
		assert_int_equal(fs_passthrough_mig_load(dst, &fp, &s, why, sizeof(why)), -EIO);
		assert_non_null(strstr(why, "--migration-mode=file-handles"));
		assert_int_equal((int)ino_of(dst, t), -EBADF);
		if (fs_passthrough_mig_load(dst, &fh, &s, why, sizeof(why)) < 0)
			fail_msg("load: %s", why);
		assert_int_equal(read_fh(dst, t, op.fh, buf, sizeof(buf)), 4);
		assert_string_equal(buf, "data");
		mig_state_free(&s);
		fs_passthrough_free(dst);
	}
}

/* A file handle on a mount whose path is not UTF-8 (a name no peer can read): that inode goes
 * as Invalid, the rest of the state as usual (the whole save failed with EINVAL). */
static void test_mount_not_utf8(void **state)
{
	struct fs_mig_opts o = { .mode = FS_MIG_FIND_PATHS };
	struct fs_fixture *fx;
	struct mig_state s;
	uint64_t m, f, g;

	(void)state;
	fx_private_mounts("test_mount_not_utf8");
	fx = fx_new(CACHE_AUTO, false); /* after unshare: its root fd sees the new mounts */
	assert_non_null(fx);
	assert_int_equal(mkdir(fx_path(fx, "mnt\xff"), 0755), 0);
	assert_int_equal(mount("tmpfs", fx_path(fx, "mnt\xff"), "tmpfs", 0, "size=1m"), 0);
	assert_int_equal(fx_write_file(fx, "mnt\xff/f", "tmp"), 0);
	assert_int_equal(fx_write_file(fx, "g", "x"), 0);
	m = lookup(fx->fs, 1, "mnt\xff");
	f = lookup(fx->fs, m, "f");
	g = lookup(fx->fs, 1, "g");
	through_stream(fx->fs, &o, &s);
	assert_int_equal(find_inode(&s, m)->loc, MIG_LOC_INVALID);
	assert_int_equal(find_inode(&s, f)->loc, MIG_LOC_INVALID);
	assert_int_equal(find_inode(&s, g)->loc, MIG_LOC_FULL_PATH);
	assert_int_equal(s.nmounts, 0);
	mig_state_free(&s);
	fs_passthrough_ops.destroy(fx->fs);
	assert_int_equal(umount2(fx_path(fx, "mnt\xff"), MNT_DETACH), 0);
	fx_free(fx);
}

/* A state naming a file outside the shared directory by its handle (a file handle can name any
 * inode of the file system): a destination in find-paths mode never opens it (abort refuses
 * the state, guest-error keeps the inode as lost); in file-handles mode its administrator
 * trusts the source's handles, and it is opened. */
static struct mig_inode onodes[2];
static struct mig_handle ohandles[1];
static struct mig_mount omounts[1];

static void test_handle_outside_share(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_mig_opts o = { .mode = FS_MIG_FIND_PATHS };
	struct mig_state s = { .version = MIG_V2, .inodes = onodes, .ninodes = 2, .next_inode = 6,
			       .handles = ohandles, .nhandles = 1, .next_handle = 1,
			       .mounts = omounts, .nmounts = 1 };
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} b = { .fh.handle_bytes = MAX_HANDLE_SZ };
	char secret[160], buf[8] = { 0 };
	struct stat st;
	int fd, mnt_id;
	void *dst;

	snprintf(secret, sizeof(secret), "%s/secret", fx->outer);
	fd = open(secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret", 6), 6);
	close(fd);
	assert_int_equal(name_to_handle_at(AT_FDCWD, secret, &b.fh, &mnt_id, 0), 0);
	assert_int_equal(stat(secret, &st), 0);
	onodes[0] = (struct mig_inode){ .id = 1, .refcount = 2, .loc = MIG_LOC_ROOT };
	onodes[1] = (struct mig_inode){ .id = 5, .refcount = 1, .loc = MIG_LOC_FILE_HANDLE };
	onodes[1].fh = mig_fh_new((uint64_t)mnt_id, b.fh.handle_type, b.fh.f_handle,
				  b.fh.handle_bytes);
	assert_non_null(onodes[1].fh);
	ohandles[0] = (struct mig_handle){ .id = 0, .inode = 5, .flags = O_RDONLY };
	omounts[0] = (struct mig_mount){ .mnt_id = (uint64_t)mnt_id, .path = "." };
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);

	dst = new_dest(fx, INODE_HANDLES_PREFER, true);
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "inode 5"));
	assert_non_null(strstr(why, "--migration-mode=file-handles"));
	assert_int_equal((int)ino_of(dst, 5), -EBADF);
	/* guest-error: the inode is lost (EIO), as an Invalid one, never opened */
	o.on_error = FS_MIG_GUEST_ERROR;
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), 0);
	assert_int_equal((int)ino_of(dst, 5), -EIO);
	assert_int_equal(read_fh(dst, 5, 0, buf, sizeof(buf)), -EBADF);
	o = (struct fs_mig_opts){ .mode = FS_MIG_FILE_HANDLES };
	if (fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)) < 0)
		fail_msg("load in file-handles mode: %s", why);
	assert_int_equal(ino_of(dst, 5), st.st_ino);
	fs_passthrough_free(dst);
	free(onodes[1].fh);
	onodes[1].fh = NULL;
}

/* A lost inode (the source's Invalid): abort refuses the state, guest-error keeps the inode
 * with every use failing (EIO) and its handle gone (EBADF). */
static struct mig_inode lnodes[2];
static struct mig_handle lhandles[1];

static void test_lost_inode(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_mig_opts o = { .mode = FS_MIG_FIND_PATHS };
	struct mig_state s = { .version = MIG_V2, .inodes = lnodes, .ninodes = 2, .next_inode = 6,
			       .handles = lhandles, .nhandles = 1, .next_handle = 1 };
	char buf[8];
	void *dst;

	lnodes[0] = (struct mig_inode){ .id = 1, .refcount = 2, .loc = MIG_LOC_ROOT };
	lnodes[1] = (struct mig_inode){ .id = 5, .refcount = 1, .loc = MIG_LOC_INVALID };
	lhandles[0] = (struct mig_handle){ .id = 0, .inode = 5, .flags = O_RDWR };
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
	dst = new_dest(fx, INODE_HANDLES_PREFER, true);
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "inode 5: the source lost it"));
	assert_int_equal((int)ino_of(dst, 1), (int)ino_of(fx->fs, 1)); /* root still serves */
	o.on_error = FS_MIG_GUEST_ERROR;
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), 0);
	assert_int_equal((int)ino_of(dst, 5), -EIO);
	assert_int_equal(read_fh(dst, 5, 0, buf, sizeof(buf)), -EBADF);
	fs_passthrough_free(dst);
}

/* What the Rust daemon sends: Path trees whose refcounts count the children, handle id 0. */
static struct mig_inode rnodes[8];
static struct mig_handle rhandles[2];

static struct mig_state rust_state(void)
{
	memset(rnodes, 0, sizeof(rnodes));
	rnodes[0] = (struct mig_inode){ .id = 1, .refcount = 4, .loc = MIG_LOC_ROOT };
	rnodes[1] = (struct mig_inode){ .id = 2, .refcount = 2, .loc = MIG_LOC_PATH, .parent = 1,
					.name = "d" };
	rnodes[2] = (struct mig_inode){ .id = 3, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 2,
					.name = "f" };
	/* x: only named as y's parent (the source's /proc walk looked it up), guest count 0 */
	rnodes[3] = (struct mig_inode){ .id = 7, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 6,
					.name = "y" };
	rnodes[4] = (struct mig_inode){ .id = 6, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 1,
					.name = "x" };
	rhandles[0] = (struct mig_handle){ .id = 0, .inode = 3, .flags = O_RDWR };
	return (struct mig_state){ .version = MIG_V2, .inodes = rnodes, .ninodes = 5,
				   .next_inode = 8, .handles = rhandles, .nhandles = 1,
				   .next_handle = 1 };
}

static void test_rust_shaped(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_mig_opts o = { .mode = FS_MIG_FIND_PATHS };
	struct mig_state s = rust_state(), again;
	char buf[8] = { 0 };
	void *dst, *third;

	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	assert_int_equal(mkdir(fx_path(fx, "x"), 0755), 0);
	assert_int_equal(fx_write_file(fx, "d/f", "rust"), 0);
	assert_int_equal(fx_write_file(fx, "x/y", "yy"), 0);
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
	dst = new_dest(fx, INODE_HANDLES_PREFER, true);
	if (fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)) < 0)
		fail_msg("load: %s", why);
	assert_int_equal(read_fh(dst, 3, 0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "rust");
	assert_true((int64_t)ino_of(dst, 7) > 0);
	assert_int_equal((int)ino_of(dst, 6), -EBADF); /* held by its child only: dropped */
	assert_true((int64_t)ino_of(dst, 2) > 0);

	/* and on to a third daemon: the same ids again (migrating twice) */
	through_stream(dst, &o, &again);
	assert_non_null(find_inode(&again, 2));
	assert_non_null(find_inode(&again, 3));
	assert_null(find_inode(&again, 6));
	assert_int_equal(again.nhandles, 1);
	assert_int_equal(again.handles[0].id, 0);
	assert_int_equal(again.handles[0].inode, 3);
	third = new_dest(fx, INODE_HANDLES_NEVER, true);
	if (fs_passthrough_mig_load(third, &o, &again, why, sizeof(why)) < 0)
		fail_msg("second load: %s", why);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_fh(third, 3, 0, buf, sizeof(buf)), 4);
	/* d: one guest lookup (refcount 2 minus the child f) */
	fs_passthrough_ops.forget(third, 2, 1);
	assert_int_equal((int)ino_of(third, 2), -EBADF);
	mig_state_free(&again);
	fs_passthrough_free(third);
	fs_passthrough_free(dst);
}

static void test_refusals(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_mig_opts o = { .mode = FS_MIG_FIND_PATHS };
	struct mig_state s;
	void *dst;

	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	assert_int_equal(fx_write_file(fx, "d/f", "rust"), 0);
	assert_int_equal(symlink("/etc", fx_path(fx, "link")), 0);
	dst = new_dest(fx, INODE_HANDLES_PREFER, false);
	/* announce-submounts asked by the source, not offered here */
	s = rust_state();
	s.ninodes = 3;
	s.opts.announce_submounts = true;
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "--announce-submounts"));
	/* a full path through a symlink out of the share */
	s = rust_state();
	s.ninodes = 3;
	rnodes[2] = (struct mig_inode){ .id = 3, .refcount = 1, .loc = MIG_LOC_FULL_PATH,
					.name = "link/passwd" };
	rnodes[1].refcount = 1;
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "inode 3: opening its path"));
	assert_int_equal((int)ino_of(dst, 2), -EBADF); /* nothing kept */
	/* a file handle that is not the one of the file under the path */
	s = rust_state();
	s.ninodes = 3;
	rnodes[2].check_fh = mig_fh_new(0, 1, "\0\0\0\0\0\0\0\0", 8);
	assert_non_null(rnodes[2].check_fh);
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "inode 3: its file handle differs"));
	free(rnodes[2].check_fh);
	rnodes[2].check_fh = NULL;
	/* a handle on a name that is gone on the destination */
	s = rust_state();
	s.ninodes = 3;
	rnodes[2].name = "gone";
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), -EIO);
	assert_non_null(strstr(why, "inode 3: opening its name in its parent"));
	o.on_error = FS_MIG_GUEST_ERROR;
	assert_int_equal(fs_passthrough_mig_load(dst, &o, &s, why, sizeof(why)), 0);
	assert_int_equal((int)ino_of(dst, 3), -EIO);
	assert_true((int64_t)ino_of(dst, 2) > 0);
	fs_passthrough_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_paths, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_find_paths_fds, fx_setup_fds, fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_handles, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unlinked, fx_setup, fx_teardown),
		cmocka_unit_test(test_mount_not_utf8),
		cmocka_unit_test_setup_teardown(test_handle_outside_share, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lost_inode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rust_shaped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
