/*
 * The filesystem contract between the FUSE server and a backend (passthrough, or a null/in-memory
 * one in tests). Every op returns 0 (or a byte count where noted) or a negative errno.
 *
 * The FUSE server has validated shapes: sizes, NUL-terminated names, flag masks it knows. Values
 * are still guest-chosen: every name passed here is checked by the backend as one path component
 * (fs_name_check) whatever the sandbox.
 *
 * Out structures are the kernel UAPI ones from <linux/fuse.h>; the backend fills them
 * completely, timeouts included (they follow the backend's cache policy).
 */
#ifndef VFSD_FS_FS_H
#define VFSD_FS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "uapi/fuse_compat.h" /* protocol structs newer than the installed header */
#include "util/iov.h"

/* A security context the guest sent with a create (FUSE_SECURITY_CTX): an xattr to set on the
 * new node, under its guest name (the backend maps it). */
struct fs_secctx {
	const char *name; /* NUL-terminated, at most XATTR_NAME_MAX bytes */
	const void *value;
	uint32_t size; /* at most XATTR_SIZE_MAX */
};

/* Who asks: from fuse_in_header and the request's extensions. The pointers are valid for the
 * call only; NULL/0 when the extension is absent. */
struct fs_ctx {
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint32_t umask;
	const struct fs_secctx *secctx; /* CREATE, MKDIR, MKNOD, SYMLINK (and TMPFILE) */
	const uint32_t *groups;		/* supplementary groups (FUSE_EXT_GROUPS), guest ids */
	uint32_t ngroups;
};

/* Negotiated connection state the backend may need (from INIT). */
struct fs_conn {
	uint32_t proto_minor;
	uint64_t flags; /* FUSE_* INIT flags agreed with the guest (bits above 31 from flags2) */
	uint32_t max_write;
};

/* In open()/create() flags: the guest asked (FUSE_OPEN_KILL_SUIDGID, with HANDLE_KILLPRIV_V2)
 * that an O_TRUNC open clears the file's set-id bits; no open(2) flag uses this bit. */
#define FS_OPEN_KILL_SUIDGID (1u << 31)

struct fs_setattr {
	uint32_t valid; /* FATTR_* */
	uint64_t fh;    /* with FATTR_FH */
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	struct timespec atime; /* tv_nsec may be UTIME_NOW with FATTR_ATIME_NOW */
	struct timespec mtime;
};

/* One directory entry, as the backend hands it to a READDIR/READDIRPLUS sink. */
struct fs_dirent {
	const char *name; /* namelen bytes, not NUL-terminated: 1..255, one component */
	size_t namelen;
	uint32_t type; /* DT_* */
	uint64_t ino;
	uint64_t off; /* the cookie to resume after this entry */
	/* READDIRPLUS: the entry as LOOKUP answers it (a counted lookup unless nodeid is 0);
	 * NULL for READDIR. */
	const struct fuse_entry_out *entry;
};

/*
 * READDIR/READDIRPLUS output: the backend hands entries to add() in order; the FUSE server
 * encodes the records. add() returns false when the entry was not added (the reply is full):
 * the backend stops there, and forgets a READDIRPLUS lookup that did not go out.
 */
struct fs_dir_sink {
	bool (*add)(struct fs_dir_sink *sink, const struct fs_dirent *d);
	size_t size; /* the guest's buffer size: how much is worth reading from the host at once */
};

/* A guest name as one component: 0, -ENAMETOOLONG (over 255 bytes), or -EINVAL (NULL,
 * empty, a '/' in it, "." or ".."). The one name check of the fs layer. */
int fs_name_check(const char *name);

struct mig_state;

struct fs_ops {
	/* INIT: the backend may refuse (e.g. missing a needed flag) and may add wanted flags.
	 * *want holds what the server plans to reply; the backend may clear or set bits that
	 * the guest offered. */
	int (*init)(void *fs, const struct fs_conn *conn, uint64_t *want);
	void (*destroy)(void *fs); /* forget all inodes and handles (DESTROY/reset) */

	/* Lookup count: every successful reply that hands the guest an entry (a nonzero
	 * nodeid) is one lookup the backend counts on that inode: LOOKUP ("." too), MKNOD,
	 * MKDIR, SYMLINK, LINK, CREATE, TMPFILE, and each READDIRPLUS entry but "." and ".."
	 * (nodeid 0); an entry counted but then not sent is forgotten again by the backend.
	 * FORGET and BATCH_FORGET subtract nlookup (clamped at 0): the guest dropped its inode
	 * and will not use the id again; at 0, and once no request in flight holds it, the
	 * backend drops the inode and its fd, and the id goes stale (EBADF). The root is never
	 * forgotten. destroy (DESTROY, a new INIT on a live session, device reset, disconnect)
	 * zeroes every count at once. */
	int (*lookup)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		      struct fuse_entry_out *out);
	void (*forget)(void *fs, uint64_t ino, uint64_t nlookup);
	int (*getattr)(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
		       struct fuse_attr_out *out);
	int (*setattr)(void *fs, const struct fs_ctx *c, uint64_t ino, const struct fs_setattr *a,
		       struct fuse_attr_out *out);
	/* Returns the target length written to buf (not NUL-terminated), at most size. */
	int (*readlink)(void *fs, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size);
	int (*symlink)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		       const char *target, struct fuse_entry_out *out);
	int (*mknod)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		     uint32_t mode, uint32_t rdev, uint32_t umask, struct fuse_entry_out *out);
	int (*mkdir)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		     uint32_t mode, uint32_t umask, struct fuse_entry_out *out);
	int (*unlink)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name);
	int (*rmdir)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name);
	int (*rename)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname, uint32_t flags);
	int (*link)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t newparent,
		    const char *newname, struct fuse_entry_out *out);
	int (*open)(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
		    struct fuse_open_out *out);
	int (*create)(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		      uint32_t mode, uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
		      struct fuse_open_out *open);
	/*
	 * READ and WRITE move data straight between the file and guest memory, through a view the
	 * server cut once: dst->len is what READ may read (the size asked, clipped to the reply
	 * space and max_pages), src->len exactly what WRITE writes (the request's size). The
	 * backend does no iovec arithmetic: it hands the view to iov_preadv_all/iov_pwritev_all,
	 * which may consume it. Returns the bytes moved (at most the view's len).
	 */
	int (*read)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		    uint32_t flags, struct iov_view *dst);
	int (*write)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		     uint32_t write_flags, uint32_t flags, struct iov_view *src);
	int (*statfs)(void *fs, const struct fs_ctx *c, uint64_t ino, struct fuse_statfs_out *out);
	int (*release)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags,
		       uint32_t release_flags, uint64_t lock_owner);
	int (*fsync)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync);
	int (*flush)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh,
		     uint64_t lock_owner);
	int (*opendir)(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
		       struct fuse_open_out *out);
	int (*readdir)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		       bool plus, struct fs_dir_sink *sink);
	int (*releasedir)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh,
			  uint32_t flags);
	int (*fsyncdir)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync);
	int (*access)(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t mask);
	int (*fallocate)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh,
			 uint32_t mode, uint64_t offset, uint64_t length);
	int (*lseek)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		     uint32_t whence, uint64_t *out_offset);
	/* Optional (NULL: the server answers ENOSYS). Added by later work: xattrs, locks,
	 * copy_file_range, syncfs, tmpfile, statx. */
	int (*getxattr)(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name,
			char *buf, size_t size); /* size 0: return the needed size */
	int (*setxattr)(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name,
			const void *value, size_t size, uint32_t flags, uint32_t extra_flags);
	int (*listxattr)(void *fs, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size);
	int (*removexattr)(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name);
	int (*copy_file_range)(void *fs, const struct fs_ctx *c, uint64_t ino_in, uint64_t fh_in,
			       uint64_t off_in, uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
			       uint64_t len, uint64_t flags); /* returns bytes copied */
	int (*syncfs)(void *fs, const struct fs_ctx *c, uint64_t ino);
	/* O_TMPFILE in directory parent: an unnamed file, opened (same replies as create). */
	int (*tmpfile)(void *fs, const struct fs_ctx *c, uint64_t parent, uint32_t mode,
		       uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
		       struct fuse_open_out *open);
	/* statx(2) of an inode: sx_flags are AT_STATX_* sync flags, sx_mask the STATX_* wanted. */
	int (*statx)(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
		     uint32_t sx_flags, uint32_t sx_mask, struct fuse_statx_out *out);
	/* Record locks of one lock owner (the guest's files_struct), shared with every other
	 * user of the host file. lk: type F_RDLCK, F_WRLCK or F_UNLCK, start <= end <= INT64_MAX
	 * (INT64_MAX: to the end of the file), already checked. getlk: the first conflicting
	 * lock, or type F_UNLCK. */
	int (*getlk)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		     const struct fuse_file_lock *lk, struct fuse_file_lock *out);
	/* flock: a BSD flock() of the whole open file fh instead of a record lock.
	 * sleep false: -EAGAIN on conflict. sleep true: blocks until granted or a signal
	 * arrives in the calling thread (-EINTR); the server calls it from a thread it can
	 * signal, never from a queue thread. */
	int (*setlk)(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		     const struct fuse_file_lock *lk, bool flock, bool sleep);
	/* Live migration (optional; fs/mig_stream.h): save describes every inode and handle the
	 * guest holds; load replaces them with a checked state's, under its ids, or changes
	 * nothing and says why. Called with no request in flight. */
	int (*mig_save)(void *fs, struct mig_state *out, char *why, size_t whylen);
	int (*mig_load)(void *fs, const struct mig_state *s, char *why, size_t whylen);
};

#endif
