/* Passthrough internals for xattrs, security labels, id translation and new open files
 * (pt_xattr.c, pt_secctx.c, pt_idmap.c, pt_dirops.c). Not a public interface. */
#ifndef VFSD_FS_PT_EXT_H
#define VFSD_FS_PT_EXT_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/pt_internal.h"

/* pt_creds.c: give this thread its own umask and working directory (unshare(CLONE_FS)) once;
 * false when that failed (they stay the process's). */
bool pt_thread_private_fs(void);

/* pt_dirops.c: the end of CREATE and TMPFILE, a new file both open and looked up. */
/* Reserve its two fds: the inode's O_PATH fd and the open handle's. */
int pt_new_file_reserve(struct pt_fs *fs);
/* A failure before publishing: close fd and path_fd (each when >= 0), drop both reservations. */
void pt_new_file_abandon(struct pt_fs *fs, int fd, int path_fd);
/* Publish it as an entry (path_fd, an O_PATH fd of it) and an open handle (fd). Takes both fds
 * and both reservations, whatever happens. */
int pt_new_file_publish(struct pt_fs *fs, struct pt_inode *p, int fd, int path_fd,
			struct fuse_entry_out *entry, struct fuse_open_out *open);

/* pt_xattr.c: the fs_ops xattr entries. */
int pt_getxattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name, char *buf,
		size_t size);
int pt_setxattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name, const void *value,
		size_t size, uint32_t flags, uint32_t extra_flags);
int pt_listxattr(void *fs, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size);
int pt_removexattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name);

/*
 * Set a host xattr (name already mapped) on an inode we hold: fd is an O_PATH fd (opath) of
 * any type, or a real open file.
 */
int pt_xattr_set_fd(struct pt_fs *fs, int fd, bool opath, const char *host_name, const void *value,
		    size_t size, int flags);

/*
 * CVE-2021-20263: when --xattrmap moves security.capability elsewhere, the host kernel no longer
 * drops file capabilities on write, truncate and chown; remove the mapped name ourselves.
 * fd: a regular file, O_PATH (opath) or open. 0 when there was nothing to remove.
 */
int pt_drop_capability(struct pt_fs *fs, int fd, bool opath);
/* After an open with O_TRUNC (guest_flags): the set-id bits (FS_OPEN_KILL_SUIDGID) and a
 * remapped capability the host kernel kept because we truncate as root. fd: the open file. */
int pt_trunc_killpriv(struct pt_fs *fs, int fd, uint32_t guest_flags);

/* pt_secctx.c: a guest's security label on a new node (--security-label). */
/* Label an unnamed O_TMPFILE (TMPFILE): nobody can reach it before. */
int pt_secctx_label_fd(struct pt_fs *fs, const struct fs_secctx *sc, int fd);
/* After mkdir/mknod/symlink of name in p: label it, or remove it again and fail. */
int pt_secctx_label_new(struct pt_fs *fs, struct pt_inode *p, const char *name, bool dir,
			const struct fs_secctx *sc);
/*
 * CREATE with a label: an O_TMPFILE labelled then linked as name (atomic), or on hosts without
 * O_TMPFILE create, label, and unlink on failure. hflags are the host open flags. Returns the
 * open fd, -EEXIST when name exists (the caller opens it without O_EXCL), or -errno.
 */
int pt_secctx_create(struct pt_fs *fs, const struct fs_ctx *c, struct pt_inode *p, const char *name,
		     uint32_t mode, int hflags, uint32_t umask);

/* pt_idmap.c: --translate-uid/--translate-gid. */
/* Guest ids to host ids: 0, or -EPERM for a forbidden id. */
int pt_uid_to_host(const struct pt_fs *fs, uint32_t guest, uint32_t *host);
int pt_gid_to_host(const struct pt_fs *fs, uint32_t guest, uint32_t *host);
/* Host owner in an attribute going back to the guest. */
void pt_attr_to_guest(const struct pt_fs *fs, struct fuse_attr *a);

#endif
