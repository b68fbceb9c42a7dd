/*
 * --security-label: the guest's LSM label for a node it creates (FUSE_SECURITY_CTX), stored
 * under its (xattrmap-mapped) name as the node is created. A regular file is created as an
 * unnamed O_TMPFILE, labelled, then linked in: no other process ever sees it unlabelled. Where
 * the host has no O_TMPFILE, and for directories, nodes and symlinks, the node is created,
 * labelled, and removed again if the label cannot be set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>
#include <linux/limits.h>

#include "log.h"
#include "fs/pt_ext.h"
#include "fs/xattrmap.h"

static int label_name(struct pt_fs *fs, const struct fs_secctx *sc, char *buf, size_t size)
{
	int r = xattrmap_to_host(fs->opts.xattrmap, sc->name, buf, size);

	if (r < 0)
		log_debug("security label %s refused by the xattr map: %s", sc->name, strerror(-r));
	return r;
}

int pt_secctx_label_fd(struct pt_fs *fs, const struct fs_secctx *sc, int fd)
{
	char hname[XATTR_NAME_MAX + 1];
	int r = label_name(fs, sc, hname, sizeof(hname));

	if (r < 0)
		return r;
	return fsetxattr(fd, hname, sc->value, sc->size, 0) < 0 ? -errno : 0;
}

int pt_secctx_label_new(struct pt_fs *fs, struct pt_inode *p, const char *name, bool dir,
			const struct fs_secctx *sc)
{
	char hname[XATTR_NAME_MAX + 1];
	int fd, r;

	r = label_name(fs, sc, hname, sizeof(hname));
	if (r < 0)
		goto out_remove;
	fd = openat(p->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out_remove;
	}
	r = pt_xattr_set_fd(fs, fd, true, hname, sc->value, sc->size, 0);
	close(fd);
	if (r == 0)
		return 0;
out_remove:
	if (unlinkat(p->fd, name, dir ? AT_REMOVEDIR : 0) < 0)
		log_warn_rl("removing %s after its security label failed: %s", name, strerror(errno));
	return r;
}

/* An unnamed file in p as the caller. O_TMPFILE needs write access: O_RDONLY becomes O_RDWR. */
static int open_tmpfile(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p, uint32_t mode,
			int hflags, uint32_t umask)
{
	int acc = (hflags & O_ACCMODE) == O_WRONLY ? O_WRONLY : O_RDWR;
	int f = (hflags & ~(O_ACCMODE | O_TRUNC)) | acc | O_TMPFILE | O_CLOEXEC;
	struct pt_creds cr;
	int fd, r;

	r = pt_creds_enter(fs, c, umask, &cr);
	if (r < 0)
		return r;
	fd = openat(p->fd, ".", f, mode & 07777);
	r = fd < 0 ? -errno : fd;
	pt_creds_leave(fs, &cr);
	return r;
}

/* Takes fd, an unnamed file: labels it and links it in as name. */
static int label_and_link(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p,
			  const char *name, int fd, const char *hname)
{
	int r;

	r = fsetxattr(fd, hname, c->secctx->value, c->secctx->size, 0) < 0 ? -errno : 0;
	if (r == 0)
		r = pt_proc_link(fs, fd, p->fd, name);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int create_then_label(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p,
			     const char *name, uint32_t mode, int hflags, uint32_t umask,
			     const char *hname)
{
	struct pt_creds cr;
	int fd, r;

	r = pt_creds_enter(fs, c, umask, &cr);
	if (r < 0)
		return r;
	fd = openat(p->fd, name, hflags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	r = fd < 0 ? -errno : 0;
	pt_creds_leave(fs, &cr);
	if (r < 0)
		return r;
	r = fsetxattr(fd, hname, c->secctx->value, c->secctx->size, 0) < 0 ? -errno : 0;
	if (r == 0)
		return fd;
	close(fd);
	if (unlinkat(p->fd, name, 0) < 0)
		log_warn_rl("removing %s after its security label failed: %s", name, strerror(errno));
	return r;
}

int pt_secctx_create(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p, const char *name,
		     uint32_t mode, int hflags, uint32_t umask)
{
	char hname[XATTR_NAME_MAX + 1];
	int r;

	r = label_name(fs, c->secctx, hname, sizeof(hname));
	if (r < 0)
		return r;
	r = open_tmpfile(fs, c, p, mode, hflags, umask);
	if (r >= 0)
		return label_and_link(fs, c, p, name, r, hname);
	/* EOPNOTSUPP: the filesystem has no O_TMPFILE; EISDIR: the kernel has none. */
	if (r == -EOPNOTSUPP || r == -EISDIR)
		r = create_then_label(fs, c, p, name, mode, hflags, umask, hname);
	return r;
}
