/* Helpers shared by the passthrough backend tests: a temporary shared directory and fd counts. */
#ifndef VFSD_TESTS_FS_TEST_UTIL_H
#define VFSD_TESTS_FS_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "fs/passthrough.h"
#include <sched.h>
#include <sys/mount.h>

/* outer/ holds only share/, the directory served: anything else in outer/ is an escape. */
struct fs_fixture {
	char outer[64];
	char share[96];
	void *fs;
	const struct fs_ops *ops;
	enum inode_file_handles handles; /* the mode the backend was made with */
};

static const struct fs_ctx root_ctx = { .uid = 0, .gid = 0, .pid = 1, .umask = 022 };

static inline int fx_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static inline void fx_rmtree(const char *dir)
{
	nftw(dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline struct fs_fixture *fx_new_handles(enum cache_mode cache, bool readonly,
						enum inode_file_handles handles)
{
	struct fs_passthrough_opts o = { .proc_self_fd = -1, .cache = cache,
					 .readonly = readonly, .announce_submounts = true,
					 .inode_file_handles = handles };
	struct fs_conn conn = { .proto_minor = 38, .flags = FUSE_SUBMOUNTS, .max_write = 1 << 20 };
	struct fs_fixture *fx = calloc(1, sizeof(*fx));
	uint64_t want = 0;

	if (!fx)
		return NULL;
	strcpy(fx->outer, "/tmp/vfsd-fs-test-XXXXXX");
	if (!mkdtemp(fx->outer))
		goto out_free;
	snprintf(fx->share, sizeof(fx->share), "%s/share", fx->outer);
	if (mkdir(fx->share, 0777) < 0 || chmod(fx->share, 0777) < 0)
		goto out_rm;
	o.root_dir = fx->share;
	fx->ops = &fs_passthrough_ops;
	fx->handles = handles;
	if (fs_passthrough_new(&o, &fx->fs) < 0)
		goto out_rm;
	if (fx->ops->init(fx->fs, &conn, &want) < 0)
		goto out_fs;
	return fx;

out_fs:
	fs_passthrough_free(fx->fs);
out_rm:
	fx_rmtree(fx->outer);
out_free:
	free(fx);
	return NULL;
}

static inline struct fs_fixture *fx_new(enum cache_mode cache, bool readonly)
{
	return fx_new_handles(cache, readonly, INODE_HANDLES_PREFER);
}

static inline void fx_free(struct fs_fixture *fx)
{
	if (!fx)
		return;
	fs_passthrough_free(fx->fs);
	fx_rmtree(fx->outer);
	free(fx);
}

/* This test's process in a mount namespace of its own, mounts private (root only); otherwise
 * the test is skipped, and says so. Fixtures made after it see the mounts it makes. */
static inline void fx_private_mounts(const char *test)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		print_message("SKIPPED %s: needs root and a private mount namespace\n", test);
		skip();
	}
}

static inline int fx_setup(void **state)
{
	*state = fx_new(CACHE_AUTO, false);
	return *state ? 0 : -1;
}

/* One O_PATH fd per inode (--inode-file-handles=never). */
static inline int fx_setup_fds(void **state)
{
	*state = fx_new_handles(CACHE_AUTO, false, INODE_HANDLES_NEVER);
	return *state ? 0 : -1;
}

static inline int fx_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* Host path of name inside the shared directory (static buffer). */
static inline const char *fx_path(struct fs_fixture *fx, const char *name)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", fx->share, name);
	return buf;
}

static inline int fx_write_file(struct fs_fixture *fx, const char *name, const char *data)
{
	int fd = open(fx_path(fx, name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -EIO;
}

static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* Entries in a directory, "." and ".." excluded. */
static inline int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static inline uint64_t fx_lookup(struct fs_fixture *fx, uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	if (fx->ops->lookup(fx->fs, &root_ctx, parent, name, &e) < 0)
		return 0;
	return e.nodeid;
}

/* A one-piece view of n bytes at p, for the read and write ops (which may consume it). */
#define FX_VIEW(p, n)                                                                              \
	(&(struct iov_view){.iov = &(struct iovec){(void *)(p), (n)}, .cnt = 1, .len = (n)})

#endif
