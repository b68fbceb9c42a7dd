/*
 * FUSE request extensions (protocol 7.38): records after a request's arguments, total_extlen
 * 8-byte units long, each starting with a struct fuse_ext_header. Types 0..FUSE_MAX_NR_SECCTX
 * are a security context header (the type is its nr_secctx), FUSE_EXT_GROUPS the caller's
 * supplementary groups for a create. Kernels 5.17 to 6.2 (7.36, 7.37) sent the security context
 * as a trailing argument instead, without total_extlen.
 */
#ifndef VFSD_FUSE_EXT_H
#define VFSD_FUSE_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/fuse.h>

#include "fs/fs.h"

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#define FUSE_EXT_TYPE_GROUPS 32 /* FUSE_EXT_GROUPS, missing from older UAPI headers */
/* Most supplementary groups accepted in one request (the kernel's NGROUPS_MAX). */
#define FUSE_EXT_GROUPS_MAX 65536u

struct fuse_ext {
	bool has_secctx;
	struct fs_secctx secctx; /* points into the parsed buffer */
	bool has_groups;
	const uint32_t *groups; /* points into the parsed buffer (4-byte aligned) */
	uint32_t ngroups;
};

/*
 * Parse an extension area: len bytes at buf, which must be 8-byte aligned. Unknown record types
 * are skipped. Returns 0 and *out (pointers into buf), -EINVAL for a malformed area (a record
 * shorter than its header, not a multiple of 8 bytes, past the area, a repeated record, a
 * security context or group list claiming more than its record holds), or -EOPNOTSUPP for more
 * than one security context.
 */
int fuse_ext_parse(const void *buf, size_t len, struct fuse_ext *out);

/*
 * Parse one security context record (fuse_secctx_header, then for nr_secctx of 0 or 1 a
 * fuse_secctx, a NUL-terminated name and the value), len bytes at buf (any alignment for the
 * fields; value and name point into buf). The record's size field must be within len; bytes
 * after it are left. *present is false for nr_secctx 0. Same errors as fuse_ext_parse.
 */
int fuse_secctx_parse(const void *buf, size_t len, struct fs_secctx *out, bool *present,
		      size_t *used);

struct fuse_req;

/* A request's copied and parsed extension area (on the serving thread's stack). */
struct fuse_ext_area {
	uint64_t small[64]; /* most areas fit: a label and a group or two */
	void *heap;
	struct fuse_ext ext;
};

/*
 * Copy the request's extension area out of the transport, parse it and point req->ctx at what
 * it holds. Payload opcodes (WRITE) carry none and are skipped. Returns 0 or -EINVAL/-ENOMEM/
 * -EOPNOTSUPP for the reply; release a with fuse_ext_release() either way.
 */
int fuse_ext_load(struct fuse_req *req, bool payload, struct fuse_ext_area *a);
void fuse_ext_release(struct fuse_ext_area *a);

/*
 * For CREATE, MKDIR, MKNOD and SYMLINK, after their names: a 7.36/7.37 guest with SECURITY_CTX
 * sends the security context as the last argument. Parses it into *store and points req->ctx
 * at it. No-op when the context came as an extension, was not negotiated, or the guest is
 * 7.38 or later.
 */
int fuse_ext_trailing_secctx(struct fuse_req *req, struct fs_secctx *store);

#endif
