/* Typed FUSE helpers over fe_fuse_req(). Each returns the reply's error (0 or -errno), or
 * FE_ETRANSPORT when no well-formed reply came (the reason is printed). */
#ifndef FAKE_FE_OPS_H
#define FAKE_FE_OPS_H

#include <linux/fuse.h>

#include "frontend.h"

#define FE_ETRANSPORT (-100000)

/* Check a reply: transport ok, out_header.len == used len, and (when error is 0) exactly
 * want_len payload bytes (want_len < 0: any). Returns the FUSE error or FE_ETRANSPORT. */
int fe_check_reply(int rc, const struct fe_reply *r, long want_len);

int fe_init(struct fe *fe, struct fuse_init_out *out);
int fe_lookup(struct fe *fe, uint64_t parent, const char *name, struct fuse_entry_out *e);
int fe_forget(struct fe *fe, uint64_t nodeid, uint64_t nlookup, bool hiprio);
int fe_getattr(struct fe *fe, uint64_t nodeid, struct fuse_attr_out *a);
int fe_mkdir(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
	     struct fuse_entry_out *e);
int fe_mknod(struct fe *fe, uint64_t parent, const char *name, uint32_t mode, uint32_t rdev,
	     struct fuse_entry_out *e);
int fe_symlink(struct fe *fe, uint64_t parent, const char *name, const char *target,
	       struct fuse_entry_out *e);
int fe_link(struct fe *fe, uint64_t oldnode, uint64_t newparent, const char *name,
	    struct fuse_entry_out *e);
int fe_rename(struct fe *fe, uint64_t parent, const char *old, uint64_t newparent,
	      const char *new, uint32_t flags, bool rename2);
int fe_create(struct fe *fe, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	      struct fuse_entry_out *e, uint64_t *fh);
int fe_open(struct fe *fe, uint64_t nodeid, uint32_t flags, bool dir, uint64_t *fh);
int fe_release(struct fe *fe, uint64_t nodeid, uint64_t fh, bool dir);
int fe_unlink(struct fe *fe, uint64_t parent, const char *name, bool dir);
int fe_write(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf,
	     uint32_t len, const struct fe_req_opts *o, uint32_t *written);
int fe_read(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t len,
	    const struct fe_req_opts *o, uint32_t *got);

#endif
