/*
 * FUSE server: decodes one FUSE request from guest-readable buffers, calls the filesystem
 * backend (struct fs_ops), and encodes the reply into guest-writable buffers.
 *
 * The transport (virtqueue or /dev/fuse) hands over iovecs it has already bounds-checked
 * against guest memory; the contents are untrusted and may change while we read them, so the
 * server copies headers and arguments out before parsing (no double fetch).
 *
 * Thread-safe: several queue/worker threads may call fuse_server_handle() at once.
 */
#ifndef VFSD_FUSE_SERVER_H
#define VFSD_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct fs_ops;
struct fuse_server;

struct fuse_server_opts {
	bool readdirplus;   /* offer DO_READDIRPLUS | READDIRPLUS_AUTO */
	bool writeback;     /* offer WRITEBACK_CACHE */
	bool killpriv_v2;   /* offer HANDLE_KILLPRIV_V2 */
	bool posix_acl;     /* offer POSIX_ACL | DONT_MASK | SETXATTR_EXT (EPROTO if not offered) */
	bool security_label; /* SECURITY_CTX (EPROTO if not offered) */
	bool allow_mmap;    /* DIRECT_IO_ALLOW_MMAP */
	bool xattr;         /* xattr opcodes answered (else ENOSYS) */
	bool posix_locks;   /* offer POSIX_LOCKS: GETLK/SETLK/SETLKW on the host file */
	bool flock_locks;   /* offer FLOCK_LOCKS: flock() on the host file */
};

/* fs is the backend's private data passed back to every fs_ops call. */
int fuse_server_new(const struct fs_ops *ops, void *fs, const struct fuse_server_opts *opts,
		    struct fuse_server **out);
void fuse_server_free(struct fuse_server *srv);

/*
 * Serve one request. in/in_cnt: the request (device-readable part of the chain); out/out_cnt:
 * where the reply goes (device-writable part). Returns the number of bytes written to out
 * (0 when the opcode takes no reply, e.g. FORGET), never more than the total length of out.
 * Guest errors become errno replies; this never fails.
 */
size_t fuse_server_handle(struct fuse_server *srv, const struct iovec *in, unsigned in_cnt,
			  const struct iovec *out, unsigned out_cnt);

/*
 * Deferred replies. A request that must wait (SETLKW) is not served in the calling thread: the
 * server copies what it needs, returns FUSE_DEFERRED, and later (from another thread) calls
 * a->complete(a->ctx, a->id, reply, len) exactly once with the whole reply (out header
 * included, len at most the capacity of out). No iovec of the call is touched after it
 * returns, so the transport may remap or recycle its buffers meanwhile.
 */
#define FUSE_DEFERRED SIZE_MAX

struct fuse_async {
	void (*complete)(void *ctx, uint32_t id, const void *reply, size_t len);
	void *ctx;   /* the transport's (a queue); also the key for fuse_server_cancel() */
	uint32_t id; /* the transport's (a descriptor head) */
};

/* fuse_server_handle(), but a waiting request may be deferred (a NULL: never; it then waits
 * in the calling thread). */
size_t fuse_server_handle_async(struct fuse_server *srv, const struct iovec *in, unsigned in_cnt,
				const struct iovec *out, unsigned out_cnt,
				const struct fuse_async *a);

/* Complete every deferred request whose ctx is ctx (NULL: all) with EINTR, now. Returns once
 * each of their complete() calls has returned. Must not be called from complete(). */
void fuse_server_cancel(struct fuse_server *srv, void *ctx);

/* The connection went away or the device was reset: forget all inodes and handles, back to
 * the pre-INIT state (what DESTROY does). Call with no request in flight. */
void fuse_server_reset(struct fuse_server *srv);

/*
 * Live migration (docs/migration.md): the session's state as the Rust virtiofsd's stream, for
 * vhost-user's device state transfer. Called with no request in flight. save: *buf malloc()ed.
 * load: a stream that is malformed, nonsense, or asks for what this daemon was not started
 * with is refused with why[] naming the reason, and the session stays as it was (a fresh
 * destination: waiting for INIT).
 */
int fuse_server_state_save(struct fuse_server *srv, uint8_t **buf, size_t *len, char *why,
			   size_t whylen);
int fuse_server_state_load(struct fuse_server *srv, const uint8_t *buf, size_t len, char *why,
			   size_t whylen);

#endif
