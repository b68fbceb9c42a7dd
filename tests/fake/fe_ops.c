/* Typed FUSE helpers used by the tests. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fe_ops.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define NAME(s) IOV((s), strlen(s) + 1)
#define OUT_HDR sizeof(struct fuse_out_header)

int fe_check_reply(int rc, const struct fe_reply *r, long want_len)
{
	if (rc < 0)
		return FE_ETRANSPORT;
	if (r->used_len < OUT_HDR) {
		fprintf(stderr, "fake frontend: reply of %u bytes, shorter than a header\n",
			r->used_len);
		return FE_ETRANSPORT;
	}
	if (r->out_len != r->used_len) {
		fprintf(stderr, "fake frontend: out_header.len %u != used len %u\n", r->out_len,
			r->used_len);
		return FE_ETRANSPORT;
	}
	if (r->error > 0 || r->error < -4095) {
		fprintf(stderr, "fake frontend: bad error %d in reply\n", r->error);
		return FE_ETRANSPORT;
	}
	if (r->error == 0 && want_len >= 0 && r->data_len != (size_t)want_len) {
		fprintf(stderr, "fake frontend: reply payload %zu bytes, expected %ld\n",
			r->data_len, want_len);
		return FE_ETRANSPORT;
	}
	if (r->error && r->data_len) {
		fprintf(stderr, "fake frontend: error reply %d carries %zu payload bytes\n",
			r->error, r->data_len);
		return FE_ETRANSPORT;
	}
	return r->error;
}

/* One request whose successful reply is exactly out_len bytes, copied to out. */
static int simple(struct fe *fe, uint32_t op, uint64_t node, const struct iovec *a, unsigned n,
		  void *out, size_t out_len)
{
	struct fe_reply r;
	int rc = fe_fuse_req(fe, op, node, a, n, OUT_HDR + out_len + 256, NULL, &r);

	rc = fe_check_reply(rc, &r, out_len);
	if (rc == 0 && out)
		memcpy(out, r.data, out_len);
	fe_reply_free(&r);
	return rc;
}

int fe_init(struct fe *fe, struct fuse_init_out *out)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 << 10,
		.flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_BIG_WRITES | FUSE_DONT_MASK |
			 FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
			 FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES,
	};
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fuse_init_out tmp;
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_INIT, 0, a, 1, OUT_HDR + sizeof(tmp), NULL, &r);

	/* Older servers reply with a shorter init_out: accept any size up to ours. */
	rc = fe_check_reply(rc, &r, -1);
	if (rc == 0 && (r.data_len < 24 || r.data_len > sizeof(tmp))) {
		fprintf(stderr, "fake frontend: INIT reply of %zu bytes\n", r.data_len);
		rc = FE_ETRANSPORT;
	}
	if (rc == 0 && out) {
		memset(out, 0, sizeof(*out));
		memcpy(out, r.data, r.data_len);
	}
	if (rc == 0) {
		memcpy(&tmp, r.data, 24);
		fe->fuse_minor = tmp.minor;
		fe->max_write = tmp.max_write;
	}
	fe_reply_free(&r);
	return rc;
}

int fe_lookup(struct fe *fe, uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	struct iovec a[] = { NAME(name) };

	return simple(fe, FUSE_LOOKUP, parent, a, 1, e, sizeof(*e));
}

int fe_forget(struct fe *fe, uint64_t nodeid, uint64_t nlookup, bool hiprio)
{
	struct fuse_forget_in in = { .nlookup = nlookup };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fe_req_opts o = { .hiprio = hiprio };
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_FORGET, nodeid, a, 1, OUT_HDR, &o, &r);

	/* FORGET has no reply: the device returns the buffers with length 0. */
	if (rc == 0 && r.used_len != 0) {
		fprintf(stderr, "fake frontend: FORGET completed with used len %u\n", r.used_len);
		rc = FE_ETRANSPORT;
	}
	fe_reply_free(&r);
	return rc < 0 ? FE_ETRANSPORT : 0;
}

int fe_getattr(struct fe *fe, uint64_t nodeid, struct fuse_attr_out *attr)
{
	struct fuse_getattr_in in = { 0 };
	struct iovec a[] = { IOV(&in, sizeof(in)) };

	return simple(fe, FUSE_GETATTR, nodeid, a, 1, attr, sizeof(*attr));
}

int fe_mkdir(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
	     struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = 0 };
	struct iovec a[] = { IOV(&in, sizeof(in)), NAME(name) };

	return simple(fe, FUSE_MKDIR, parent, a, 2, e, sizeof(*e));
}

int fe_mknod(struct fe *fe, uint64_t parent, const char *name, uint32_t mode, uint32_t rdev,
	     struct fuse_entry_out *e)
{
	struct fuse_mknod_in in = { .mode = mode, .rdev = rdev };
	struct iovec a[] = { IOV(&in, sizeof(in)), NAME(name) };

	return simple(fe, FUSE_MKNOD, parent, a, 2, e, sizeof(*e));
}

int fe_symlink(struct fe *fe, uint64_t parent, const char *name, const char *target,
	       struct fuse_entry_out *e)
{
	struct iovec a[] = { NAME(name), NAME(target) };

	return simple(fe, FUSE_SYMLINK, parent, a, 2, e, sizeof(*e));
}

int fe_link(struct fe *fe, uint64_t oldnode, uint64_t newparent, const char *name,
	    struct fuse_entry_out *e)
{
	struct fuse_link_in in = { .oldnodeid = oldnode };
	struct iovec a[] = { IOV(&in, sizeof(in)), NAME(name) };

	return simple(fe, FUSE_LINK, newparent, a, 2, e, sizeof(*e));
}

int fe_rename(struct fe *fe, uint64_t parent, const char *old, uint64_t newparent,
	      const char *new, uint32_t flags, bool rename2)
{
	struct fuse_rename2_in in2 = { .newdir = newparent, .flags = flags };
	struct fuse_rename_in in = { .newdir = newparent };
	struct iovec a[] = { rename2 ? IOV(&in2, sizeof(in2)) : IOV(&in, sizeof(in)), NAME(old),
			     NAME(new) };

	return simple(fe, rename2 ? FUSE_RENAME2 : FUSE_RENAME, parent, a, 3, NULL, 0);
}

int fe_create(struct fe *fe, uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
	      struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = { .flags = flags, .mode = mode };
	struct iovec a[] = { IOV(&in, sizeof(in)), NAME(name) };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	int rc = simple(fe, FUSE_CREATE, parent, a, 2, &out, sizeof(out));

	if (rc == 0 && e)
		*e = out.e;
	if (rc == 0 && fh)
		*fh = out.o.fh;
	return rc;
}

int fe_open(struct fe *fe, uint64_t nodeid, uint32_t flags, bool dir, uint64_t *fh)
{
	struct fuse_open_in in = { .flags = flags };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fuse_open_out out;
	int rc = simple(fe, dir ? FUSE_OPENDIR : FUSE_OPEN, nodeid, a, 1, &out, sizeof(out));

	if (rc == 0 && fh)
		*fh = out.fh;
	return rc;
}

int fe_release(struct fe *fe, uint64_t nodeid, uint64_t fh, bool dir)
{
	struct fuse_release_in in = { .fh = fh };
	struct iovec a[] = { IOV(&in, sizeof(in)) };

	return simple(fe, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid, a, 1, NULL, 0);
}

int fe_unlink(struct fe *fe, uint64_t parent, const char *name, bool dir)
{
	struct iovec a[] = { NAME(name) };

	return simple(fe, dir ? FUSE_RMDIR : FUSE_UNLINK, parent, a, 1, NULL, 0);
}

int fe_write(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, const void *buf,
	     uint32_t len, const struct fe_req_opts *o, uint32_t *written)
{
	struct fuse_write_in in = { .fh = fh, .offset = off, .size = len };
	struct iovec a[] = { IOV(&in, sizeof(in)), IOV(buf, len) };
	struct fuse_write_out out;
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_WRITE, nodeid, a, 2, OUT_HDR + sizeof(out), o, &r);

	rc = fe_check_reply(rc, &r, sizeof(out));
	if (rc == 0 && written) {
		memcpy(&out, r.data, sizeof(out));
		*written = out.size;
	}
	fe_reply_free(&r);
	return rc;
}

int fe_read(struct fe *fe, uint64_t nodeid, uint64_t fh, uint64_t off, void *buf, uint32_t len,
	    const struct fe_req_opts *o, uint32_t *got)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = len };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_READ, nodeid, a, 1, OUT_HDR + len, o, &r);

	rc = fe_check_reply(rc, &r, -1);
	if (rc == 0) {
		memcpy(buf, r.data, r.data_len);
		*got = r.data_len;
	}
	fe_reply_free(&r);
	return rc;
}
