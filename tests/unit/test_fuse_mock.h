/* A recording fs_ops backend and request builders for the FUSE server unit tests. */
#ifndef TEST_FUSE_MOCK_H
#define TEST_FUSE_MOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "fs/fs.h"
#include "fuse/server.h"

enum mock_op {
	M_INIT,
	M_DESTROY,
	M_LOOKUP,
	M_FORGET,
	M_GETATTR,
	M_SETATTR,
	M_READLINK,
	M_SYMLINK,
	M_MKNOD,
	M_MKDIR,
	M_UNLINK,
	M_RMDIR,
	M_RENAME,
	M_LINK,
	M_OPEN,
	M_CREATE,
	M_READ,
	M_WRITE,
	M_STATFS,
	M_RELEASE,
	M_FSYNC,
	M_FLUSH,
	M_OPENDIR,
	M_READDIR,
	M_RELEASEDIR,
	M_FSYNCDIR,
	M_ACCESS,
	M_FALLOCATE,
	M_LSEEK,
	M_GETXATTR,
	M_SETXATTR,
	M_LISTXATTR,
	M_REMOVEXATTR,
	M_COPY_FILE_RANGE,
	M_SYNCFS,
	M_TMPFILE,
	M_STATX,
	M_GETLK,
	M_SETLK,
	M_NOPS
};

struct mock_fs {
	int calls[M_NOPS];
	int total_calls;
	int result;	     /* returned by status ops when negative */
	struct fs_ctx ctx;   /* last context */
	uint64_t ino;	     /* last inode */
	char name[512];	     /* last name */
	char name2[4096];    /* second string (new name, target) */
	/* Arguments of the last call, by what they hold (set by the ops that take them). */
	uint32_t mode;		 /* MKNOD, MKDIR, CREATE, TMPFILE */
	uint32_t rdev;		 /* MKNOD */
	uint32_t umask;		 /* MKDIR, CREATE, TMPFILE: the op's own argument */
	uint32_t flags;		 /* OPEN, CREATE, TMPFILE, RENAME, SETXATTR */
	uint32_t setxattr_flags; /* SETXATTR's extra flags (fuse_setxattr_in.setxattr_flags) */
	uint32_t mask;		 /* ACCESS */
	bool datasync;		 /* FSYNC */
	uint64_t fh;		 /* GETATTR and STATX (UINT64_MAX: none), RELEASE, GETLK, SETLK */
	uint64_t newparent;	 /* RENAME, LINK */
	uint64_t len;		 /* COPY_FILE_RANGE */
	uint32_t sx_flags, sx_mask; /* STATX */
	uint64_t lock_owner;	    /* GETLK, SETLK */
	struct fuse_file_lock lk;   /* GETLK, SETLK: the lock asked for */
	bool flock, sleep;	    /* SETLK */
	struct fuse_file_lock conflict; /* GETLK answers it (type 0 = F_RDLCK: set it) */
	struct fs_setattr sa;
	uint64_t init_offered; /* conn->flags seen by init */
	uint64_t forgot;       /* sum of nlookup forgotten */
	/* READ: bytes served and iovec count seen; WRITE: payload captured. */
	uint32_t io_size;
	int io_iovcnt;
	uint8_t wbuf[8192];
	size_t wlen;
	size_t dir_size; /* db->size seen by readdir */
	int dir_entries; /* entries to add (0: until full) */
	int dir_added;
};

extern const struct fs_ops mock_ops;

/* Build a request in buf: header (len covers arglen) + args. Returns the total length. */
size_t mk_req(void *buf, uint32_t opcode, uint64_t unique, uint64_t nodeid, const void *args,
	      size_t arglen);
/* Concatenate two argument parts (e.g. a struct and a name including its NUL). */
size_t mk_req2(void *buf, uint32_t opcode, uint64_t unique, uint64_t nodeid, const void *a,
	       size_t alen, const void *b, size_t blen);

/* Serve buf[0..len) with one in and one out iovec. */
size_t run1(struct fuse_server *srv, const void *buf, size_t len, void *out, size_t outlen);

/* The reply's error field (0 on success), checking its len and unique fields. */
int reply_error(const void *out, size_t n, uint64_t unique);

/* A server on a fresh mock after a successful INIT offering every flag. */
struct fuse_server *mk_server(struct mock_fs *m, const struct fuse_server_opts *opts);
int do_init(struct fuse_server *srv, uint32_t major, uint32_t minor, uint64_t flags,
	    struct fuse_init_out *io);

#endif
