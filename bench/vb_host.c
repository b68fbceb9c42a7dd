/* The data set, and the host ceiling: each workload's operation done directly with system calls
 * on the shared directory, by one thread (what an application on the host itself pays). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vb.h"

static int make_files(int dfd, const char *fmt, unsigned count)
{
	char name[32];

	for (unsigned i = 0; i < count; i++) {
		int fd;

		snprintf(name, sizeof(name), fmt, i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

static int make_dir(int root, const char *name, int *out)
{
	if (mkdirat(root, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	*out = openat(root, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *out < 0 ? -errno : 0;
}

static int make_data(int root, uint64_t file_mb)
{
	uint8_t *buf = malloc(VB_BIG);
	int fd = openat(root, VB_DATA_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc = 0;

	if (!buf || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < VB_BIG; i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	for (uint64_t i = 0; i < file_mb && rc == 0; i++)
		if (pwrite(fd, buf, VB_BIG, (off_t)(i * VB_BIG)) != VB_BIG)
			rc = -EIO;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* dir/meta (VB_META_FILES files), dir/create (empty), dir/dir10k (VB_DIR_FILES files),
 * dir/data (file_mb MiB). */
int vb_prepare(const char *dir, uint64_t file_mb)
{
	int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), meta = -1, cr = -1, big = -1;
	int rc;

	if (root < 0)
		return -errno;
	rc = make_dir(root, "meta", &meta);
	if (rc == 0)
		rc = make_files(meta, "f%05u", VB_META_FILES);
	if (rc == 0)
		rc = make_dir(root, "create", &cr);
	if (rc == 0)
		rc = make_dir(root, "dir10k", &big);
	if (rc == 0)
		rc = make_files(big, "entry-with-a-longer-name-%05u", VB_DIR_FILES);
	if (rc == 0)
		rc = make_data(root, file_mb);
	for (int *fd = (int[]){root, meta, cr, big}, i = 0; i < 4; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

int vb_host_open(struct vb_run *r)
{
	char path[512];
	const char *names[] = {"meta", "create", "dir10k"};
	int *fds[] = {&r->meta_fd, &r->create_fd, &r->rdp_fd};
	struct stat st;

	r->meta_fd = r->create_fd = r->rdp_fd = r->data_fd = r->rdp_list_fd = -1;
	int mfd = memfd_create("vufs-bench-host", MFD_CLOEXEC);

	if (mfd < 0)
		return -errno;
	r->host_buf = ftruncate(mfd, (off_t)VB_MAX_DEPTH * VB_BIG) < 0
			      ? MAP_FAILED
			      : mmap(NULL, (size_t)VB_MAX_DEPTH * VB_BIG, PROT_READ | PROT_WRITE,
				     MAP_SHARED, mfd, 0);
	close(mfd);
	if (r->host_buf == MAP_FAILED) {
		r->host_buf = NULL;
		return -ENOMEM;
	}
	memset(r->host_buf, 0x5a, (size_t)VB_MAX_DEPTH * VB_BIG);
	r->host_next = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->share, names[i]);
		*fds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*fds[i] < 0)
			return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", r->share, VB_DATA_FILE);
	r->data_fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->data_fd < 0 || fstat(r->data_fd, &st) < 0)
		return -errno;
	r->file_size = (uint64_t)st.st_size;
	return r->file_size >= VB_BIG ? 0 : -EINVAL;
}

void vb_host_close(struct vb_run *r)
{
	int fds[] = {r->meta_fd, r->create_fd, r->rdp_fd, r->data_fd, r->rdp_list_fd};

	for (int i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r->host_buf)
		munmap(r->host_buf, (size_t)VB_MAX_DEPTH * VB_BIG);
	r->host_buf = NULL;
}

int vb_host_lookup(struct vb_run *r)
{
	char name[16];
	struct stat st;

	snprintf(name, sizeof(name), "f%05u", (unsigned)(vb_rand(r) % VB_META_FILES));
	return fstatat(r->meta_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int vb_host_create(struct vb_run *r)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "h_%llu", (unsigned long long)r->create_seq++);
	fd = openat(r->create_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return unlinkat(r->create_fd, name, 0) < 0 ? -errno : 0;
}

/* What one READDIRPLUS request does: one page of directory entries, each one stat'ed (as
 * `ls -l` does); the listing starts over at its end. */
int vb_host_readdirplus(struct vb_run *r)
{
	char buf[VB_RDP_BUF];
	long n;

	if (r->rdp_list_fd < 0) {
		r->rdp_list_fd = openat(r->rdp_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r->rdp_list_fd < 0)
			return -errno;
	}
	n = syscall(SYS_getdents64, r->rdp_list_fd, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (n == 0)
		return lseek(r->rdp_list_fd, 0, SEEK_SET) < 0 ? -errno : 0;
	for (long pos = 0; pos < n;) {
		/* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
		unsigned short reclen;
		struct stat st;

		memcpy(&reclen, buf + pos + 16, sizeof(reclen));
		if (reclen == 0)
			return -EIO;
		if (fstatat(r->rdp_list_fd, buf + pos + 19, &st, AT_SYMLINK_NOFOLLOW) == 0)
			r->units++;
		pos += reclen;
	}
	return 0;
}

static uint64_t host_off(struct vb_run *r, uint32_t io)
{
	uint64_t blocks = r->file_size / io, off;

	if (r->w->random)
		return vb_rand(r) % blocks * io;
	off = r->cursor;
	r->cursor = (r->cursor + io) % (blocks * io);
	return off;
}

int vb_host_io(struct vb_run *r)
{
	uint32_t io = r->w->io_size;
	off_t off = (off_t)host_off(r, io);
	uint8_t *buf = r->host_buf + r->host_next++ % (r->depth ? r->depth : 1) * VB_BIG;
	ssize_t n = r->w->write ? pwrite(r->data_fd, buf, io, off)
				: pread(r->data_fd, buf, io, off);

	return n == (ssize_t)io ? 0 : n < 0 ? -errno : -EIO;
}

int vb_host_fsync(struct vb_run *r)
{
	off_t off = (off_t)host_off(r, 4096);

	if (pwrite(r->data_fd, r->host_buf, 4096, off) != 4096)
		return -EIO;
	return fsync(r->data_fd) < 0 ? -errno : 0;
}
