/* FUSE server internals shared by server.c and the per-opcode handler files. */
#ifndef VFSD_FUSE_INTERNAL_H
#define VFSD_FUSE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "fs/fs.h"
#include "fuse/cursor.h"
#include "uapi/fuse_compat.h"
#include "fuse/server.h"
#include "util/iov.h"

#define FUSE_OUR_MAJOR 7
#define FUSE_OUR_MINOR 38
#define FUSE_MIN_MINOR 27
#define FUSE_MAX_WRITE (1u << 20)
#define FUSE_MAX_PAGES_VAL 256u
#define FUSE_PAGE 4096u
/* Largest request accepted: a max_write WRITE plus headers fits well below this. */
#define FUSE_MAX_REQ (FUSE_MAX_WRITE + FUSE_PAGE)
/* Longest symlink target accepted (PATH_MAX including its NUL). */
#define FUSE_TARGET_MAX 4095

enum fuse_phase {
	FUSE_PHASE_NEW = 0, /* waiting for INIT */
	FUSE_PHASE_READY,   /* INIT done: requests served */
};

struct fuse_server {
	const struct fs_ops *ops;
	void *fs;
	struct fuse_server_opts opts;
	pthread_mutex_t lock; /* serialises INIT, DESTROY and reset; guards the fields below */
	_Atomic int phase;    /* enum fuse_phase; READY published after the fields below */
	/* Written under lock by INIT and DESTROY while requests on other queues read them: atomic
	 * (a request racing a guest restart sees the old or the new value, never a torn one). */
	_Atomic uint64_t flags; /* negotiated INIT flags (flags2 in the upper word) */
	_Atomic uint32_t minor; /* guest's protocol minor */
	struct fuse_waitq *waitq; /* requests waiting in their own thread (async.c) */
};

/* The fixed argument of each opcode that has one. The dispatcher fills in_min bytes of it from
 * the request and zeroes the rest; INIT and SETXATTR take more with fuse_in_arg_more(). */
union fuse_in_arg {
	struct fuse_forget_in forget;
	struct fuse_batch_forget_in batch_forget;
	struct fuse_getattr_in getattr;
	struct fuse_setattr_in setattr;
	struct fuse_mknod_in mknod;
	struct fuse_mkdir_in mkdir;
	struct fuse_rename_in rename;
	struct fuse_rename2_in rename2;
	struct fuse_link_in link;
	struct fuse_open_in open;	/* OPEN, OPENDIR */
	struct fuse_read_in read;	/* READ, READDIR, READDIRPLUS */
	struct fuse_write_in write;
	struct fuse_release_in release; /* RELEASE, RELEASEDIR */
	struct fuse_fsync_in fsync;	/* FSYNC, FSYNCDIR */
	struct fuse_setxattr_in setxattr;
	struct fuse_getxattr_in getxattr; /* GETXATTR, LISTXATTR */
	struct fuse_flush_in flush;
	struct fuse_init_in init;
	struct fuse_access_in access;
	struct fuse_create_in create; /* CREATE, TMPFILE */
	struct fuse_interrupt_in interrupt;
	struct fuse_fallocate_in fallocate;
	struct fuse_lseek_in lseek;
	struct fuse_copy_file_range_in copy_file_range;
	struct fuse_syncfs_in syncfs;
	struct fuse_lk_in lk; /* GETLK, SETLK, SETLKW */
	struct fuse_statx_in statx;
};

/* The fixed reply of each opcode that has one, zeroed by the dispatcher for the handler (and
 * the backend) to fill. */
union fuse_out_arg {
	struct fuse_entry_out entry;
	struct fuse_attr_out attr;
	struct fuse_open_out open;
	struct fuse_write_out write;
	struct fuse_statfs_out statfs;
	struct fuse_lseek_out lseek;
	struct fuse_lk_out lk;
	struct fuse_statx_out statx;
	struct fuse_init_out init;
	struct fuse_getxattr_out getxattr;
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} create; /* CREATE, TMPFILE */
};

/* One request being served; lives on the serving thread's stack. */
struct fuse_req {
	struct fuse_server *srv;
	struct fuse_in_header in; /* private copy */
	struct fs_ctx ctx;
	struct fuse_cursor args; /* private copy of the arguments (WRITE: fuse_write_in only),
				  * positioned after the fixed part in in_arg */
	size_t arglen;		 /* argument bytes in the request (WRITE: with the payload) */
	union fuse_in_arg in_arg;   /* the opcode's fixed argument */
	size_t in_arg_len;	    /* bytes of in_arg that came from the request */
	union fuse_out_arg out_arg; /* zeroed: the opcode's fixed reply */
	const struct iovec *in_iov;
	unsigned in_cnt;
	const struct iovec *out;
	unsigned out_cnt;
	size_t out_cap;	  /* total bytes of out */
	size_t reply_len; /* bytes written to out */
	const struct fuse_async *async; /* NULL: the transport cannot take a deferred reply */
	bool deferred;			/* a waiter thread owns the reply now */
};

/* Handlers return 0 once they replied (or when the opcode takes no reply), or a negative
 * errno for the dispatcher to send back. */
typedef int (*fuse_handler_fn)(struct fuse_req *req);

#define FS_OPS(req) ((req)->srv->ops)
#define FS_PRIV(req) ((req)->srv->fs)

/* One opcode in the dispatch table (server.c). */
struct fuse_optab {
	fuse_handler_fn fn;
	const char *name;
	uint32_t in_min;  /* argument bytes the opcode needs (names are checked by the handler) */
	uint32_t out_min; /* reply payload bytes the opcode needs room for */
	/* offsetof(struct fs_ops, member) + 1 of the op the handler calls, 0 for none: the
	 * dispatcher answers ENOSYS when the backend leaves it NULL. */
	uint16_t fs_op;
	bool xattr;   /* served only with --xattr (ENOSYS otherwise) */
	bool noreply; /* FORGET and friends: never answered */
	bool payload; /* only in_min bytes are copied; the rest stays in the transport */
};

/* The entry of an opcode, or NULL when it is not served; opcodes are below fuse_optab_end(). */
const struct fuse_optab *fuse_optab_find(uint32_t opcode);
uint32_t fuse_optab_end(void);
/* Does ops implement what op's handler calls? */
bool fuse_optab_backed(const struct fuse_optab *op, const struct fs_ops *ops);

/* INIT and SETXATTR, whose fixed argument may be longer than in_min: read more of it into
 * in_arg, up to len bytes in all, as far as the request holds them. Returns the bytes in_arg
 * now holds from the request. */
size_t fuse_in_arg_more(struct fuse_req *req, size_t len);

/* Reply helpers: header plus up to two payload parts, never past out (checked). */
int fuse_reply(struct fuse_req *req, const void *a, size_t alen, const void *b, size_t blen);
void fuse_reply_err(struct fuse_req *req, int err);
/* r < 0: return it for the dispatcher; else an empty success reply. */
int fuse_reply_status(struct fuse_req *req, int r);
/* Write only the header of a reply whose payload the handler already placed after it. */
void fuse_reply_hdr(struct fuse_req *req, size_t payload);
size_t fuse_reply_room(const struct fuse_req *req); /* payload bytes available */

/* The view of a READ or WRITE payload: bytes [off, off+len) of src, exactly. Its entries live
 * on the stack when they fit, else on the heap: release with fuse_iov_put. */
struct fuse_iov_tmp {
	struct iovec small[16];
	struct iovec *heap;
	struct iov_view v;
};
int fuse_iov_get(struct fuse_iov_tmp *t, const struct iovec *src, unsigned cnt, size_t off,
		 size_t len);
void fuse_iov_put(struct fuse_iov_tmp *t);

/* ops_node.c */
/* r < 0: return it for the dispatcher; else reply with the new entry, then o unless NULL. */
int fuse_reply_entry(struct fuse_req *req, int r, const struct fuse_entry_out *e,
		     const struct fuse_open_out *o);
/* r < 0: return it for the dispatcher; else reply with the size bytes at out. */
int fuse_reply_out(struct fuse_req *req, int r, const void *out, size_t size);
/* MKNOD, MKDIR, CREATE and TMPFILE: what the handler decodes after its fixed argument. */
struct fuse_new_node {
	const char *name;    /* NULL for TMPFILE: the file gets no name */
	struct fs_secctx sc; /* a 7.36/7.37 guest's trailing security context */
};
/* The new node's name (when named) and a trailing security context; the request's umask
 * becomes the guest's (the fixed argument's umask field). */
int fuse_read_new_node(struct fuse_req *req, uint32_t umask, bool named, struct fuse_new_node *n);
/* UNLINK, RMDIR, REMOVEXATTR: one name argument, an empty reply. */
int fuse_do_name_op(struct fuse_req *req,
		    int (*op)(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name));
int fuse_do_lookup(struct fuse_req *req);
int fuse_do_forget(struct fuse_req *req);
int fuse_do_batch_forget(struct fuse_req *req);
int fuse_do_getattr(struct fuse_req *req);
int fuse_do_setattr(struct fuse_req *req);
int fuse_do_readlink(struct fuse_req *req);
int fuse_do_symlink(struct fuse_req *req);
int fuse_do_mknod(struct fuse_req *req);
int fuse_do_mkdir(struct fuse_req *req);
int fuse_do_unlink(struct fuse_req *req);
int fuse_do_rmdir(struct fuse_req *req);
int fuse_do_rename(struct fuse_req *req);
int fuse_do_rename2(struct fuse_req *req);
int fuse_do_link(struct fuse_req *req);
int fuse_do_statfs(struct fuse_req *req);
int fuse_do_access(struct fuse_req *req);
int fuse_do_statx(struct fuse_req *req);

/* ops_io.c */
int fuse_do_open(struct fuse_req *req); /* and OPENDIR */
int fuse_do_create(struct fuse_req *req); /* and TMPFILE */
int fuse_do_read(struct fuse_req *req);
int fuse_do_write(struct fuse_req *req);
int fuse_do_flush(struct fuse_req *req);
int fuse_do_release(struct fuse_req *req); /* and RELEASEDIR */
int fuse_do_fsync(struct fuse_req *req);   /* and FSYNCDIR */
int fuse_do_readdir(struct fuse_req *req); /* and READDIRPLUS */
int fuse_do_fallocate(struct fuse_req *req);
int fuse_do_lseek(struct fuse_req *req);
int fuse_do_copy_file_range(struct fuse_req *req);

/* ops_xattr.c */
int fuse_do_getxattr(struct fuse_req *req);
int fuse_do_setxattr(struct fuse_req *req);
int fuse_do_listxattr(struct fuse_req *req);
int fuse_do_removexattr(struct fuse_req *req);
int fuse_do_syncfs(struct fuse_req *req);

/* ops_lock.c: record locks and flock */
int fuse_do_getlk(struct fuse_req *req);
int fuse_do_setlk(struct fuse_req *req); /* and SETLKW */

/* async.c: requests that wait (SETLKW) in a thread of their own, INTERRUPT, cancel. */
struct fuse_lk_args {
	uint64_t ino, fh, owner;
	struct fuse_file_lock lk;
	bool flock;
};
int fuse_waitq_new(struct fuse_waitq **out);
void fuse_waitq_free(struct fuse_waitq *wq);
/* Cancel every waiter (EINTR) without waiting for its reply. */
void fuse_waitq_wake_all(struct fuse_waitq *wq);
/* Wait for the lock: deferred to a waiter thread when the transport allows (req->deferred
 * set, returns 0), else in the calling thread (returns the result). */
int fuse_wait_lock(struct fuse_req *req, const struct fuse_lk_args *la);

/* init.c: what this server can offer at INIT, before looking at what the guest offered. */
uint64_t fuse_supported_flags(const struct fuse_server_opts *o);

/* server.c */
int fuse_do_init(struct fuse_req *req);
int fuse_do_destroy(struct fuse_req *req);
/* Back to the pre-INIT state (DESTROY); the caller holds srv->lock. */
void fuse_server_reset_locked(struct fuse_server *srv);
int fuse_do_interrupt(struct fuse_req *req);

#endif
