/*
 * Inode file handles (--inode-file-handles): an inode is kept as the bytes of
 * name_to_handle_at() instead of an O_PATH fd, and reopened with open_by_handle_at() when a
 * request needs an fd. The guest can then hold any number of inodes without pinning host fds
 * (CVE-2020-10717), and an inode stays reachable after a rename on the host.
 *
 * open_by_handle_at() needs an fd on the handle's mount: one per mount, kept for the backend's
 * life, found through mountinfo (the mount's root), or else the directory being looked up.
 * Handles need CAP_DAC_READ_SEARCH in the initial user namespace, and filesystem support:
 * a mount where either fails keeps O_PATH fds (prefer), or refuses (mandatory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "fs/pt_internal.h"

/* Mount table bound: each usable mount holds one fd out of the guest's budget. */
#define PT_MAX_MOUNTS 256u
#define MOUNTINFO_MAX (8u << 20)

bool pt_fh_equal(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

int pt_fh_open(const struct pt_inode *in, int flags)
{
	int fd = open_by_handle_at(in->mount_fd, (struct file_handle *)pt_inode_fh(in),
				   flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Reads all of mountinfo (a seq file: one read per page) into a NUL-terminated buffer. */
static int read_mountinfo(int fd, char **out)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *n;
	ssize_t k;

	if (!buf)
		return -ENOMEM;
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto out_errno;
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= MOUNTINFO_MAX) {
				free(buf);
				return -EFBIG;
			}
			n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		k = read(fd, buf + len, cap - len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out_errno;
		if (k == 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
out_errno:
	k = -errno;
	free(buf);
	return (int)k;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. In place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* The mount point of mnt_id (field 5 of its mountinfo line), malloc'd, or NULL. */
char *pt_fh_mount_point(struct pt_fs *fs, int mnt_id)
{
	char *buf = NULL, *line, *save = NULL, *res = NULL;

	if (fs->mountinfo_fd < 0 || read_mountinfo(fs->mountinfo_fd, &buf) < 0)
		return NULL;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char point[4096];
		int id;

		if (sscanf(line, "%d %*d %*s %*s %4095s", &id, point) != 2 || id != mnt_id)
			continue;
		unescape_octal(point);
		res = strdup(point);
		break;
	}
	free(buf);
	return res;
}

/* Reopens an O_PATH fd for reading if it is a directory or a regular file on mnt_id. */
static int reopen_on_mount(struct pt_fs *fs, int pfd, int mnt_id)
{
	struct statx stx;
	int r = pt_stat(pfd, &stx);

	if (r < 0)
		return r;
	if (!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != (uint64_t)mnt_id)
		return -ENOENT;
	/* Never open a device or FIFO to get a mount fd: it could block or have effects. */
	if (S_ISDIR(stx.stx_mode))
		return pt_proc_open(fs, pfd, O_RDONLY | O_DIRECTORY);
	if (S_ISREG(stx.stx_mode))
		return pt_proc_open(fs, pfd, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	return -ENOENT;
}

/* An fd on mount mnt_id: its root from mountinfo, else fd itself (a directory on it). */
static int open_mount_fd(struct pt_fs *fs, int mnt_id, int fd, mode_t type)
{
	char *point = pt_fh_mount_point(fs, mnt_id);
	int pfd, r = -ENOENT;

	if (point) {
		pfd = open(point, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd >= 0) {
			r = reopen_on_mount(fs, pfd, mnt_id);
			close(pfd);
		}
		free(point);
	}
	if (r < 0 && S_ISDIR(type))
		r = reopen_on_mount(fs, fd, mnt_id);
	return r;
}

/* Handles are usable on a mount when one of its handles opens again (EPERM unprivileged). */
static int probe_mount(struct pt_mount *m, struct file_handle *fh)
{
	int fd = open_by_handle_at(m->fd, fh, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void mount_refuse(struct pt_fs *fs, struct pt_mount *m, int err, const char *what)
{
	m->unsupported = true;
	m->err = err;
	if (m->fd >= 0) {
		pt_fd_close(fs, m->fd);
		m->fd = -1;
	}
	if (fs->opts.inode_file_handles == INODE_HANDLES_MANDATORY)
		log_error("inode file handles: %s on mount %d failed: %s; "
			  "--inode-file-handles=mandatory refuses inodes there",
			  what, m->mnt_id, strerror(-err));
	else
		log_info("inode file handles: %s on mount %d failed: %s; using O_PATH fds there",
			 what, m->mnt_id, strerror(-err));
}

/* Called with mounts.lock held: the entry for mnt_id, added (and probed) if new; -ENOSPC when
 * the table is full. */
static int mount_get(struct pt_fs *fs, int mnt_id, int fd, mode_t type, struct file_handle *fh,
		     struct pt_mount **out)
{
	struct pt_mounts *t = &fs->mounts;
	struct pt_mount *m;
	int r;

	for (uint32_t i = 0; i < t->count; i++) {
		if (t->m[i].mnt_id == mnt_id) {
			*out = &t->m[i];
			return 0;
		}
	}
	if (t->count >= PT_MAX_MOUNTS)
		return -ENOSPC;
	if (t->count == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 8;
		struct pt_mount *n = realloc(t->m, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->m = n;
		t->cap = ncap;
	}
	r = pt_fd_reserve(fs);
	if (r < 0)
		return r; /* not recorded: a later lookup tries again */
	m = &t->m[t->count++];
	*m = (struct pt_mount){.mnt_id = mnt_id, .fd = open_mount_fd(fs, mnt_id, fd, type)};
	if (m->fd < 0) {
		r = m->fd;
		m->fd = -1;
		pt_fd_unreserve(fs);
		mount_refuse(fs, m, r, "finding an fd on the mount");
	} else if ((r = probe_mount(m, fh)) < 0) {
		mount_refuse(fs, m, r, "open_by_handle_at");
	}
	*out = m;
	return 0;
}

static int handle_of_fd(int fd, union pt_fh_buf *b, int *mnt_id)
{
	b->fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &b->fh, mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	if (b->fh.handle_bytes > MAX_HANDLE_SZ)
		return -EOVERFLOW;
	return 0;
}

/* Whether an error of name_to_handle_at means "this filesystem has no handles". */
static bool fs_has_no_handles(int err)
{
	return err == -EOPNOTSUPP || err == -EOVERFLOW;
}

int pt_fh_of_fd(struct pt_fs *fs, int fd, mode_t type, union pt_fh_buf *b, int *mount_fd)
{
	bool mandatory = fs->opts.inode_file_handles == INODE_HANDLES_MANDATORY;
	struct pt_mount *m;
	int mnt_id, r;

	if (!fs->use_handles)
		return 0;
	r = handle_of_fd(fd, b, &mnt_id);
	if (r < 0 && fs_has_no_handles(r) && !mandatory)
		return 0;
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->mounts.lock);
	r = mount_get(fs, mnt_id, fd, type, &b->fh, &m);
	if (r == -ENOSPC) {
		/* More mounts under the share than the table holds: the inodes of the ones
		 * past it keep O_PATH fds (under the guest's fd budget), as on a mount without
		 * handles. */
		log_warn_rl("inode file handles: more than %u mounts, mount %d %s", PT_MAX_MOUNTS,
			    mnt_id, mandatory ? "refused" : "uses O_PATH fds");
		r = mandatory ? -ENFILE : 1;
	}
	if (r == 0 && m->unsupported)
		r = mandatory ? m->err : 1;
	if (r == 0)
		*mount_fd = m->fd;
	pthread_mutex_unlock(&fs->mounts.lock);
	return r == 0 ? 1 : r < 0 ? r : 0;
}

/* The share's own mount, added to the table and probed: 0 or why handles cannot work. */
static int probe_root(struct pt_fs *fs, int root_fd)
{
	struct pt_mount *m;
	union pt_fh_buf b;
	int mnt_id, r;

	r = handle_of_fd(root_fd, &b, &mnt_id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&fs->mounts.lock);
	r = mount_get(fs, mnt_id, root_fd, S_IFDIR, &b.fh, &m);
	if (r == 0 && m->unsupported)
		r = m->err;
	pthread_mutex_unlock(&fs->mounts.lock);
	return r;
}

/* Decides whether handles are used at all, from the shared directory's own handle: an
 * unprivileged daemon (a user namespace) gets EPERM from open_by_handle_at everywhere. */
int pt_fh_setup(struct pt_fs *fs, int root_fd, const char *dir)
{
	enum inode_file_handles mode = fs->opts.inode_file_handles;
	int r;

	pthread_mutex_init(&fs->mounts.lock, NULL);
	fs->mountinfo_fd = fs->opts.mountinfo_fd > 0 ? fs->opts.mountinfo_fd : -1;
	if (mode == INODE_HANDLES_NEVER)
		return 0;
	if (fs->mountinfo_fd < 0) {
		fs->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		fs->own_mountinfo_fd = fs->mountinfo_fd >= 0;
	}
	r = probe_root(fs, root_fd);
	if (r == 0) {
		fs->use_handles = true;
		log_debug("inode file handles in use for %s", dir);
		return 0;
	}
	fs->use_handles = false;
	if (mode == INODE_HANDLES_MANDATORY) {
		log_error("--inode-file-handles=mandatory: file handles cannot be used on %s: %s "
			  "(the filesystem must support them and open_by_handle_at needs "
			  "CAP_DAC_READ_SEARCH in the initial user namespace)",
			  dir, strerror(-r));
		return r;
	}
	log_info("inode file handles unavailable on %s (%s): using O_PATH fds", dir, strerror(-r));
	return 0;
}

void pt_fh_fini(struct pt_fs *fs)
{
	struct pt_mounts *t = &fs->mounts;

	for (uint32_t i = 0; i < t->count; i++) {
		if (t->m[i].fd >= 0) {
			pt_fd_close(fs, t->m[i].fd);
		}
	}
	free(t->m);
	t->m = NULL;
	t->count = t->cap = 0;
	if (fs->own_mountinfo_fd)
		close(fs->mountinfo_fd);
	fs->own_mountinfo_fd = false;
	pthread_mutex_destroy(&t->lock);
}
