/* The passthrough backend with inode file handles: fds stay bounded however many inodes the
 * guest holds, handles survive renames on the host, and the modes fall back or refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "fs_test_util.h"

#define NFILES 600
#define FD_CACHE 64 /* PT_FD_CACHE in pt_inode.c */

static int setup_mandatory(void **state)
{
	*state = fx_new_handles(CACHE_AUTO, false, INODE_HANDLES_MANDATORY);
	return *state ? 0 : -1;
}

static void make_files(struct fs_fixture *fx, int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(fx_write_file(fx, name, "x"), 0);
	}
}

static void test_many_lookups_few_fds(void **state)
{
	struct fs_fixture *fx = *state;
	static uint64_t ids[NFILES];
	struct fuse_attr_out a;
	char name[32];
	int base;

	assert_true(fs_passthrough_uses_handles(fx->fs));
	make_files(fx, NFILES);
	base = count_fds();
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = fx_lookup(fx, FUSE_ROOT_ID, name);
		assert_true(ids[i] != 0);
	}
	assert_true(count_fds() <= base + FD_CACHE);
	/* Every inode opens again from its handle, the cache staying bounded. */
	for (int i = 0; i < NFILES; i++) {
		assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, ids[i], NULL, &a), 0);
		assert_int_equal(a.attr.size, 1);
	}
	assert_true(count_fds() <= base + FD_CACHE);
	/* The same file looked up again is the same inode. */
	assert_int_equal(fx_lookup(fx, FUSE_ROOT_ID, "f7"), ids[7]);
	fx->ops->forget(fx->fs, ids[7], 1);
	for (int i = 0; i < NFILES; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	assert_int_equal(count_fds(), base);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, ids[0], NULL, &a), -EBADF);
}

static void test_rename_on_host(void **state)
{
	struct fs_fixture *fx = *state;
	char from[PATH_MAX], to[PATH_MAX];
	struct fuse_open_out o;
	struct fuse_attr_out a;
	uint64_t d, f, f2;
	char buf[8];

	assert_int_equal(mkdir(fx_path(fx, "d"), 0755), 0);
	assert_int_equal(fx_write_file(fx, "d/file", "hello"), 0);
	d = fx_lookup(fx, FUSE_ROOT_ID, "d");
	f = fx_lookup(fx, d, "file");
	assert_true(d && f);
	/* Push both fds out of the cache: only the handles are left. */
	make_files(fx, FD_CACHE + 8);
	for (int i = 0; i < FD_CACHE + 8; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		fx->ops->forget(fx->fs, fx_lookup(fx, FUSE_ROOT_ID, name), 1);
	}
	snprintf(from, sizeof(from), "%s", fx_path(fx, "d/file"));
	snprintf(to, sizeof(to), "%s", fx_path(fx, "moved"));
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, f, NULL, &a), 0);
	assert_int_equal(a.attr.size, 5);
	assert_int_equal(fx->ops->open(fx->fs, &root_ctx, f, O_RDONLY, &o), 0);
	assert_int_equal(fx->ops->read(fx->fs, &root_ctx, f, o.fh, 0, 0, FX_VIEW(buf, 5)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(fx->ops->release(fx->fs, &root_ctx, f, o.fh, 0, 0, 0), 0);
	/* Under its new name it is the same inode; the old name is gone. */
	f2 = fx_lookup(fx, FUSE_ROOT_ID, "moved");
	assert_int_equal(f2, f);
	assert_int_equal(fx_lookup(fx, d, "file"), 0);
	fx->ops->forget(fx->fs, f, 2);
	fx->ops->forget(fx->fs, d, 1);
}

/* A READDIRPLUS sink that keeps the nodeid of one name and forgets the others' lookups. */
struct find_sink {
	struct fs_dir_sink sink;
	struct fs_fixture *fx;
	const char *name;
	uint64_t id;
};

static bool find_add(struct fs_dir_sink *sink, const struct fs_dirent *d)
{
	struct find_sink *f = (struct find_sink *)sink;
	uint64_t id = d->entry ? d->entry->nodeid : 0;

	if (d->namelen == strlen(f->name) && memcmp(d->name, f->name, d->namelen) == 0)
		f->id = id;
	else if (id)
		f->fx->ops->forget(f->fx->fs, id, 1);
	return true;
}

/* The nodeid READDIRPLUS of the root gives for name, 0 if absent. */
static uint64_t readdirplus_id(struct fs_fixture *fx, const char *name)
{
	struct find_sink f = { .sink = { .add = find_add, .size = 1 << 16 }, .fx = fx, .name = name };
	struct fuse_open_out o;

	assert_int_equal(fx->ops->opendir(fx->fs, &root_ctx, FUSE_ROOT_ID, 0, &o), 0);
	assert_int_equal(fx->ops->readdir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0, true, &f.sink),
			 0);
	assert_int_equal(fx->ops->releasedir(fx->fs, &root_ctx, FUSE_ROOT_ID, o.fh, 0), 0);
	return f.id;
}

/*
 * A deleted file's inode number comes back for a new file (ext4 hands a freed number out
 * again soon): the handle tells them apart. The old inode stays known to the guest (no
 * FORGET) but holds no fd, so nothing keeps its number from being reused; no request touches
 * it until the number is back.
 */
static void test_deleted_and_recreated(void **state)
{
	struct fs_fixture *fx = *state;
	static uint64_t held[FD_CACHE + 8];
	struct fuse_attr_out a;
	char name[32];
	struct stat st;
	uint64_t f, g;
	ino_t old;
	int i;

	assert_int_equal(fx_write_file(fx, "a", "1"), 0);
	f = fx_lookup(fx, FUSE_ROOT_ID, "a");
	assert_int_equal(stat(fx_path(fx, "a"), &st), 0);
	old = st.st_ino;
	/* Enough other inodes held at once push f's fd out of the cache. */
	make_files(fx, FD_CACHE + 8);
	for (i = 0; i < FD_CACHE + 8; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		held[i] = fx_lookup(fx, FUSE_ROOT_ID, name);
	}
	for (i = 0; i < FD_CACHE + 8; i++)
		fx->ops->forget(fx->fs, held[i], 1);
	assert_int_equal(unlink(fx_path(fx, "a")), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		assert_int_equal(fx_write_file(fx, name, "22"), 0);
		assert_int_equal(stat(fx_path(fx, name), &st), 0);
		if (st.st_ino == old)
			break;
	}
	if (i == 1000)
		fail_msg("no new file got the deleted file's inode number %lu back in 1000 tries: "
			 "this filesystem does not reuse them soon (tmpfs?); the test needs one that "
			 "does (ext4)",
			 (unsigned long)old);
	/* The new file is a new inode, not the old one's entry, whether READDIRPLUS (which
	 * looks known inodes up by number and handle) or LOOKUP finds it... */
	g = readdirplus_id(fx, name);
	assert_true(g != 0);
	assert_true(g != f);
	assert_int_equal(fx_lookup(fx, FUSE_ROOT_ID, name), g);
	fx->ops->forget(fx->fs, g, 1);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, g, NULL, &a), 0);
	assert_int_equal(a.attr.size, 2);
	assert_int_equal(a.attr.ino, (uint64_t)old);
	/* ... and the old entry does not reach the new file: its handle is stale. */
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, f, NULL, &a), -ESTALE);
	fx->ops->forget(fx->fs, f, 1);
	fx->ops->forget(fx->fs, g, 1);
}

/* The budget counts open files; inodes never run it out, the idle cache gives way. */
static void test_fd_limit_handles(void **state)
{
	struct fs_fixture *fx = *state;
	struct fs_conn conn = {.proto_minor = 38};
	struct rlimit old, rl;
	struct fuse_open_out o;
	static uint64_t ids[200], fhs[200];
	int base, nopen = 0, refused = 0;
	uint64_t want = 0;
	char name[32];

	make_files(fx, 200);
	base = count_fds();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)base + 60;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = fx_lookup(fx, FUSE_ROOT_ID, name);
		assert_true(ids[i] != 0);
	}
	for (int i = 0; i < 200; i++) {
		int r = fx->ops->open(fx->fs, &root_ctx, ids[i], O_RDONLY, &o);

		if (r == 0)
			fhs[nopen++] = o.fh;
		else
			refused += r == -EMFILE || r == -ENFILE;
	}
	assert_true(nopen > 0 && nopen < 200);
	assert_int_equal(refused, 200 - nopen);
	assert_true(count_fds() < (int)rl.rlim_cur - 8);
	/* Inodes still answer with the budget spent: the reopen is the request's own fd. */
	for (int i = 0; i < 200; i++) {
		struct fuse_attr_out a;
		int before = count_fds();

		assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, ids[i], NULL, &a), 0);
		assert_true(count_fds() <= before);
	}
	for (int i = 0; i < nopen; i++)
		assert_int_equal(fx->ops->release(fx->fs, &root_ctx, 0, fhs[i], 0, 0, 0), 0);
	for (int i = 0; i < 200; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	assert_int_equal(count_fds(), base);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(fx->ops->init(fx->fs, &conn, &want), 0);
}

#define NTHREADS 4
#define NSHARED 200

struct race {
	struct fs_fixture *fx;
	uint64_t *ids;
	int seed;
	int errors;
};

/* Getattr and open on more inodes than the idle-fd cache holds: reopen, evict and adopt race. */
static void *race_worker(void *arg)
{
	struct race *r = arg;
	unsigned x = (unsigned)r->seed * 2654435761u + 1;

	for (int i = 0; i < 3000; i++) {
		struct fuse_attr_out a;
		struct fuse_open_out o;
		uint64_t id;
		char name[32];

		x = x * 1103515245u + 12345u;
		id = r->ids[(x >> 8) % NSHARED];
		if (r->fx->ops->getattr(r->fx->fs, &root_ctx, id, NULL, &a) != 0)
			r->errors++;
		if ((x & 7) == 0 && r->fx->ops->open(r->fx->fs, &root_ctx, id, O_RDONLY, &o) == 0)
			r->fx->ops->release(r->fx->fs, &root_ctx, id, o.fh, 0, 0, 0);
		if ((x & 15) == 1) {
			snprintf(name, sizeof(name), "f%u", (x >> 12) % NSHARED);
			id = fx_lookup(r->fx, FUSE_ROOT_ID, name);
			if (!id)
				r->errors++;
			r->fx->ops->forget(r->fx->fs, id, 1);
		}
	}
	return NULL;
}

static void test_concurrent_reopen(void **state)
{
	struct fs_fixture *fx = *state;
	static uint64_t ids[NSHARED];
	struct race rc[NTHREADS];
	pthread_t th[NTHREADS];
	char name[32];
	int base;

	make_files(fx, NSHARED);
	base = count_fds();
	for (int i = 0; i < NSHARED; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ids[i] = fx_lookup(fx, FUSE_ROOT_ID, name);
		assert_true(ids[i] != 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		rc[i] = (struct race){.fx = fx, .ids = ids, .seed = i + 1};
		assert_int_equal(pthread_create(&th[i], NULL, race_worker, &rc[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rc[i].errors, 0);
	}
	assert_true(count_fds() <= base + FD_CACHE);
	for (int i = 0; i < NSHARED; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	assert_int_equal(count_fds(), base);
}

/* procfs has no file handles: prefer serves it with O_PATH fds, mandatory refuses. */
static void test_modes_without_fs_support(void **state)
{
	struct fs_passthrough_opts o = {.proc_self_fd = -1,
					.root_dir = "/proc/self",
					.inode_file_handles = INODE_HANDLES_PREFER};
	struct fs_conn conn = {.proto_minor = 38};
	struct fuse_entry_out e;
	uint64_t want = 0;
	void *fs = NULL;

	assert_int_equal(fs_passthrough_new(&o, &fs), 0);
	assert_false(fs_passthrough_uses_handles(fs));
	assert_int_equal(fs_passthrough_ops.init(fs, &conn, &want), 0);
	assert_int_equal(fs_passthrough_ops.lookup(fs, &root_ctx, FUSE_ROOT_ID, "status", &e), 0);
	fs_passthrough_ops.forget(fs, e.nodeid, 1);
	fs_passthrough_free(fs);

	fs = NULL;
	o.inode_file_handles = INODE_HANDLES_MANDATORY;
	assert_true(fs_passthrough_new(&o, &fs) < 0);
	assert_null(fs);

	o.root_dir = "/tmp";
	o.inode_file_handles = INODE_HANDLES_NEVER;
	assert_int_equal(fs_passthrough_new(&o, &fs), 0);
	assert_false(fs_passthrough_uses_handles(fs));
	fs_passthrough_free(fs);
}

/* Per mount: a tmpfs under the share gets its own mount fd (from mountinfo) and handles, a
 * procfs (no handles) keeps O_PATH fds with prefer and is refused with mandatory. */
static void test_submount_fallback(void **state)
{
	struct fs_fixture *fx, *fm;
	struct fuse_attr_out a;
	struct fuse_entry_out e;
	uint64_t t, x, p;
	int base;

	fx_private_mounts("test_submount_fallback");
	fx = fx_new_handles(CACHE_AUTO, false, INODE_HANDLES_PREFER);
	assert_non_null(fx);
	if (!fx)
		return;
	assert_int_equal(mkdir(fx_path(fx, "t"), 0755), 0);
	assert_int_equal(mkdir(fx_path(fx, "p"), 0755), 0);
	assert_int_equal(mount("tmpfs", fx_path(fx, "t"), "tmpfs", 0, "size=1m"), 0);
	assert_int_equal(mount("proc", fx_path(fx, "p"), "proc", 0, NULL), 0);
	assert_int_equal(fx_write_file(fx, "t/x", "tmp"), 0);
	t = fx_lookup(fx, FUSE_ROOT_ID, "t");
	x = fx_lookup(fx, t, "x");
	p = fx_lookup(fx, FUSE_ROOT_ID, "p");
	assert_true(t && x && p);
	assert_int_equal(fx->ops->lookup(fx->fs, &root_ctx, p, "self", &e), 0);
	base = count_fds();
	make_files(fx, FD_CACHE + 8); /* x's fd leaves the cache: the tmpfs handle reopens */
	for (int i = 0; i < FD_CACHE + 8; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		fx->ops->forget(fx->fs, fx_lookup(fx, FUSE_ROOT_ID, name), 1);
	}
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, x, NULL, &a), 0);
	assert_int_equal(a.attr.size, 3);
	assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, e.nodeid, NULL, &a), 0);
	assert_true(count_fds() <= base + FD_CACHE);

	fm = fx_new_handles(CACHE_AUTO, false, INODE_HANDLES_MANDATORY);
	assert_non_null(fm);
	if (fm) {
		assert_int_equal(mkdir(fx_path(fm, "p"), 0755), 0);
		assert_int_equal(mount("proc", fx_path(fm, "p"), "proc", 0, NULL), 0);
		assert_int_equal(fm->ops->lookup(fm->fs, &root_ctx, FUSE_ROOT_ID, "p", &e),
				 -EOPNOTSUPP);
		fm->ops->destroy(fm->fs);
		assert_int_equal(umount2(fx_path(fm, "p"), MNT_DETACH), 0);
		fx_free(fm);
	}
	fx->ops->destroy(fx->fs);
	assert_int_equal(umount2(fx_path(fx, "t"), MNT_DETACH), 0);
	assert_int_equal(umount2(fx_path(fx, "p"), MNT_DETACH), 0);
	fx_free(fx);
}

/* More mounts under the share than the mount table holds (256, the share's own included):
 * with prefer the inodes of the mounts past it keep O_PATH fds, with mandatory they are
 * refused. Bind mounts of directories onto themselves are mounts enough. */
static void test_mount_table_full(void **state)
{
	struct fs_passthrough_opts o = {.proc_self_fd = -1,
					.inode_file_handles = INODE_HANDLES_MANDATORY};
	struct fs_conn conn = {.proto_minor = 38};
	enum { NMOUNTS = 260, TABLE = 256 };
	static uint64_t ids[NMOUNTS];
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct fs_fixture *fx;
	uint64_t want = 0;
	void *fm = NULL;
	char name[32];

	fx_private_mounts("test_mount_table_full");
	fx = fx_new_handles(CACHE_AUTO, false, INODE_HANDLES_PREFER);
	assert_non_null(fx);
	if (!fx)
		return;
	assert_true(fs_passthrough_uses_handles(fx->fs));
	for (int i = 0; i < NMOUNTS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		assert_int_equal(mkdir(fx_path(fx, name), 0755), 0);
		assert_int_equal(mount(fx_path(fx, name), fx_path(fx, name), NULL, MS_BIND, NULL),
				 0);
	}
	for (int i = 0; i < NMOUNTS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		if (fx->ops->lookup(fx->fs, &root_ctx, FUSE_ROOT_ID, name, &e) != 0)
			fail_msg("LOOKUP of mount %d of %d failed", i + 1, NMOUNTS);
		ids[i] = e.nodeid;
		assert_int_equal(fx->ops->getattr(fx->fs, &root_ctx, ids[i], NULL, &a), 0);
		assert_true(S_ISDIR(a.attr.mode));
	}
	o.root_dir = fx->share;
	assert_int_equal(fs_passthrough_new(&o, &fm), 0);
	assert_int_equal(fs_passthrough_ops.init(fm, &conn, &want), 0);
	for (int i = 0; i < NMOUNTS; i++) {
		int r;

		snprintf(name, sizeof(name), "m%d", i);
		r = fs_passthrough_ops.lookup(fm, &root_ctx, FUSE_ROOT_ID, name, &e);
		assert_int_equal(r, i < TABLE - 1 ? 0 : -ENFILE);
		if (r == 0)
			fs_passthrough_ops.forget(fm, e.nodeid, 1);
	}
	fs_passthrough_free(fm);
	for (int i = 0; i < NMOUNTS; i++)
		fx->ops->forget(fx->fs, ids[i], 1);
	fx->ops->destroy(fx->fs);
	for (int i = 0; i < NMOUNTS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		assert_int_equal(umount2(fx_path(fx, name), MNT_DETACH), 0);
	}
	fx_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_lookups_few_fds, setup_mandatory,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_on_host, setup_mandatory, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_deleted_and_recreated, setup_mandatory,
					    fx_teardown),
	    cmocka_unit_test_setup_teardown(test_fd_limit_handles, setup_mandatory, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_reopen, setup_mandatory, fx_teardown),
	    cmocka_unit_test(test_modes_without_fs_support),
	    /* last: they unshare the mount namespace */
	    cmocka_unit_test(test_submount_fallback), cmocka_unit_test(test_mount_table_full),
	};
	return cmocka_run_group_tests_name("fs_handles", tests, NULL, NULL);
}
