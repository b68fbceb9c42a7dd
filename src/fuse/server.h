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

/* The connection went away or the device was reset: forget all inodes and handles, back to
 * the pre-INIT state (what DESTROY does). Call with no request in flight. */
void fuse_server_reset(struct fuse_server *srv);

#endif
