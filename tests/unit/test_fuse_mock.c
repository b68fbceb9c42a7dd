#include "test_fuse_mock.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define M(fs) ((struct mock_fs *)(fs))

static void rec(void *fs, enum mock_op op, const struct fs_ctx *c, uint64_t ino)
{
	M(fs)->calls[op]++;
	M(fs)->total_calls++;
	if (c)
		M(fs)->ctx = *c;
	M(fs)->ino = ino;
}

static void rec_name(void *fs, const char *name, const char *name2)
{
	snprintf(M(fs)->name, sizeof(M(fs)->name), "%s", name ? name : "");
	snprintf(M(fs)->name2, sizeof(M(fs)->name2), "%s", name2 ? name2 : "");
}

static void fill_entry(uint64_t ino, struct fuse_entry_out *e)
{
	e->nodeid = ino;
	e->attr.ino = ino;
	e->attr.mode = 0100644;
}

static int m_init(void *fs, const struct fs_conn *conn, uint64_t *want)
{
	rec(fs, M_INIT, NULL, 0);
	M(fs)->init_offered = conn->flags;
	return M(fs)->result < 0 ? M(fs)->result : 0;
}

static void m_destroy(void *fs)
{
	rec(fs, M_DESTROY, NULL, 0);
}

static int m_lookup(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		    struct fuse_entry_out *out)
{
	rec(fs, M_LOOKUP, c, parent);
	rec_name(fs, name, NULL);
	fill_entry(42, out);
	return 0;
}

static void m_forget(void *fs, uint64_t ino, uint64_t nlookup)
{
	rec(fs, M_FORGET, NULL, ino);
	M(fs)->forgot += nlookup;
}

static int m_getattr(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
		     struct fuse_attr_out *out)
{
	rec(fs, M_GETATTR, c, ino);
	M(fs)->fh = fh ? *fh : UINT64_MAX;
	out->attr.ino = ino;
	return 0;
}

static int m_setattr(void *fs, const struct fs_ctx *c, uint64_t ino, const struct fs_setattr *a,
		     struct fuse_attr_out *out)
{
	rec(fs, M_SETATTR, c, ino);
	M(fs)->sa = *a;
	out->attr.ino = ino;
	return 0;
}

static int m_readlink(void *fs, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size)
{
	static const char t[] = "some/target";
	size_t n = strlen(t) < size ? strlen(t) : size;

	rec(fs, M_READLINK, c, ino);
	memcpy(buf, t, n);
	return (int)n;
}

static int m_symlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		     const char *target, struct fuse_entry_out *out)
{
	rec(fs, M_SYMLINK, c, parent);
	rec_name(fs, name, target);
	fill_entry(43, out);
	return 0;
}

static int m_mknod(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		   uint32_t mode, uint32_t rdev, uint32_t umask, struct fuse_entry_out *out)
{
	rec(fs, M_MKNOD, c, parent);
	rec_name(fs, name, NULL);
	M(fs)->mode = mode;
	M(fs)->rdev = rdev;
	fill_entry(44, out);
	return 0;
}

static int m_mkdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		   uint32_t mode, uint32_t umask, struct fuse_entry_out *out)
{
	rec(fs, M_MKDIR, c, parent);
	rec_name(fs, name, NULL);
	M(fs)->mode = mode;
	M(fs)->umask = umask;
	fill_entry(45, out);
	return 0;
}

static int m_unlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name)
{
	rec(fs, M_UNLINK, c, parent);
	rec_name(fs, name, NULL);
	return M(fs)->result;
}

static int m_rmdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name)
{
	rec(fs, M_RMDIR, c, parent);
	rec_name(fs, name, NULL);
	return M(fs)->result;
}

static int m_rename(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, uint32_t flags)
{
	rec(fs, M_RENAME, c, parent);
	rec_name(fs, name, newname);
	M(fs)->newparent = newparent;
	M(fs)->flags = flags;
	return M(fs)->result;
}

static int m_link(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t newparent,
		  const char *newname, struct fuse_entry_out *out)
{
	rec(fs, M_LINK, c, ino);
	rec_name(fs, newname, NULL);
	M(fs)->newparent = newparent;
	fill_entry(ino, out);
	return 0;
}

static int m_open(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
		  struct fuse_open_out *out)
{
	rec(fs, M_OPEN, c, ino);
	M(fs)->flags = flags;
	out->fh = 7;
	return 0;
}

static int m_create(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
		    uint32_t mode, uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
		    struct fuse_open_out *open)
{
	rec(fs, M_CREATE, c, parent);
	rec_name(fs, name, NULL);
	M(fs)->mode = mode;
	M(fs)->flags = flags;
	M(fs)->umask = umask;
	fill_entry(46, entry);
	open->fh = 8;
	return 0;
}

/* Byte i of a file is (offset + i) & 0xff. */
static int m_read(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		  uint32_t flags, struct iov_view *dst)
{
	size_t len = dst->len;

	rec(fs, M_READ, c, ino);
	M(fs)->io_size = (uint32_t)len;
	M(fs)->io_iovcnt = (int)dst->cnt;
	/* Byte i of the file is (uint8_t)i; the view takes exactly len of them. */
	for (size_t done = 0; done < len; done += 256) {
		uint8_t chunk[256];

		for (unsigned i = 0; i < sizeof(chunk); i++)
			chunk[i] = (uint8_t)(offset + done + i);
		iov_copy_to(dst->iov, dst->cnt, done, chunk,
			    len - done < sizeof(chunk) ? len - done : sizeof(chunk));
	}
	return (int)len;
}

static int m_write(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		   uint32_t write_flags, uint32_t flags, struct iov_view *src)
{
	size_t n = src->len < sizeof(M(fs)->wbuf) ? src->len : sizeof(M(fs)->wbuf);

	rec(fs, M_WRITE, c, ino);
	M(fs)->io_size = (uint32_t)src->len;
	M(fs)->io_iovcnt = (int)src->cnt;
	M(fs)->wlen = iov_copy_from(src->iov, src->cnt, 0, M(fs)->wbuf, n);
	return (int)M(fs)->wlen; /* what it kept: a short write past 8 KiB */
}

static int m_statfs(void *fs, const struct fs_ctx *c, uint64_t ino, struct fuse_statfs_out *out)
{
	rec(fs, M_STATFS, c, ino);
	out->st.namelen = 255;
	return 0;
}

static int m_release(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags,
		     uint32_t release_flags, uint64_t lock_owner)
{
	rec(fs, M_RELEASE, c, ino);
	M(fs)->fh = fh;
	return 0;
}

static int m_fsync(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync)
{
	rec(fs, M_FSYNC, c, ino);
	M(fs)->datasync = datasync;
	return 0;
}

static int m_flush(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t lock_owner)
{
	rec(fs, M_FLUSH, c, ino);
	return 0;
}

static int m_opendir(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
		     struct fuse_open_out *out)
{
	rec(fs, M_OPENDIR, c, ino);
	out->fh = 9;
	return 0;
}

static int m_readdir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		     bool plus, struct fs_dir_sink *sink)
{
	char name[32];
	int i;

	rec(fs, M_READDIR, c, ino);
	M(fs)->dir_size = sink->size;
	M(fs)->dir_added = 0;
	for (i = 0; M(fs)->dir_entries == 0 || i < M(fs)->dir_entries; i++) {
		struct fuse_entry_out e;
		int n = snprintf(name, sizeof(name), "entry%d", i);
		struct fs_dirent d = {.name = name,
				      .namelen = (size_t)n,
				      .type = 8,
				      .ino = 100 + (uint64_t)i,
				      .off = (uint64_t)i + 1,
				      .entry = plus ? &e : NULL};

		memset(&e, 0, sizeof(e));
		fill_entry(100 + (uint64_t)i, &e);
		if (!sink->add(sink, &d))
			break;
		M(fs)->dir_added++;
	}
	return 0;
}

static int m_releasedir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags)
{
	rec(fs, M_RELEASEDIR, c, ino);
	return 0;
}

static int m_fsyncdir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync)
{
	rec(fs, M_FSYNCDIR, c, ino);
	return 0;
}

static int m_access(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t mask)
{
	rec(fs, M_ACCESS, c, ino);
	M(fs)->mask = mask;
	return M(fs)->result;
}

static int m_fallocate(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t mode,
		       uint64_t offset, uint64_t length)
{
	rec(fs, M_FALLOCATE, c, ino);
	return 0;
}

static int m_lseek(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
		   uint32_t whence, uint64_t *out_offset)
{
	rec(fs, M_LSEEK, c, ino);
	*out_offset = offset + 1;
	return 0;
}

static int m_getxattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name, char *buf,
		      size_t size)
{
	rec(fs, M_GETXATTR, c, ino);
	rec_name(fs, name, NULL);
	if (size == 0)
		return 5;
	if (size < 5)
		return -ERANGE;
	memcpy(buf, "value", 5);
	return 5;
}

static int m_setxattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name,
		      const void *value, size_t size, uint32_t flags, uint32_t extra_flags)
{
	rec(fs, M_SETXATTR, c, ino);
	rec_name(fs, name, NULL);
	M(fs)->wlen = size < sizeof(M(fs)->wbuf) ? size : sizeof(M(fs)->wbuf);
	memcpy(M(fs)->wbuf, value, M(fs)->wlen);
	M(fs)->flags = flags;
	M(fs)->setxattr_flags = extra_flags;
	return 0;
}

static int m_listxattr(void *fs, const struct fs_ctx *c, uint64_t ino, char *buf, size_t size)
{
	rec(fs, M_LISTXATTR, c, ino);
	if (size == 0)
		return 4;
	if (size < 4)
		return -ERANGE;
	memcpy(buf, "a\0b", 4);
	return 4;
}

static int m_removexattr(void *fs, const struct fs_ctx *c, uint64_t ino, const char *name)
{
	rec(fs, M_REMOVEXATTR, c, ino);
	rec_name(fs, name, NULL);
	return 0;
}

static int m_copy_file_range(void *fs, const struct fs_ctx *c, uint64_t ino_in, uint64_t fh_in,
			     uint64_t off_in, uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
			     uint64_t len, uint64_t flags)
{
	rec(fs, M_COPY_FILE_RANGE, c, ino_in);
	M(fs)->len = len;
	return (int)(len > 1000 ? 1000 : len);
}

static int m_syncfs(void *fs, const struct fs_ctx *c, uint64_t ino)
{
	rec(fs, M_SYNCFS, c, ino);
	return 0;
}

static int m_tmpfile(void *fs, const struct fs_ctx *c, uint64_t parent, uint32_t mode,
		     uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
		     struct fuse_open_out *open)
{
	rec(fs, M_TMPFILE, c, parent);
	M(fs)->mode = mode;
	M(fs)->flags = flags;
	M(fs)->umask = umask;
	fill_entry(47, entry);
	open->fh = 10;
	return M(fs)->result;
}

static int m_statx(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
		   uint32_t sx_flags, uint32_t sx_mask, struct fuse_statx_out *out)
{
	rec(fs, M_STATX, c, ino);
	M(fs)->fh = fh ? *fh : UINT64_MAX;
	M(fs)->sx_flags = sx_flags;
	M(fs)->sx_mask = sx_mask;
	out->stat.mask = sx_mask;
	out->stat.ino = ino;
	return M(fs)->result;
}

static int m_getlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		   const struct fuse_file_lock *lk, struct fuse_file_lock *out)
{
	rec(fs, M_GETLK, c, ino);
	M(fs)->fh = fh;
	M(fs)->lock_owner = owner;
	M(fs)->lk = *lk;
	*out = M(fs)->conflict;
	return M(fs)->result;
}

static int m_setlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		   const struct fuse_file_lock *lk, bool flock, bool sleep)
{
	rec(fs, M_SETLK, c, ino);
	M(fs)->fh = fh;
	M(fs)->lock_owner = owner;
	M(fs)->lk = *lk;
	M(fs)->flock = flock;
	M(fs)->sleep = sleep;
	return M(fs)->result;
}

const struct fs_ops mock_ops = {
    .init = m_init,
    .destroy = m_destroy,
    .lookup = m_lookup,
    .forget = m_forget,
    .getattr = m_getattr,
    .setattr = m_setattr,
    .readlink = m_readlink,
    .symlink = m_symlink,
    .mknod = m_mknod,
    .mkdir = m_mkdir,
    .unlink = m_unlink,
    .rmdir = m_rmdir,
    .rename = m_rename,
    .link = m_link,
    .open = m_open,
    .create = m_create,
    .read = m_read,
    .write = m_write,
    .statfs = m_statfs,
    .release = m_release,
    .fsync = m_fsync,
    .flush = m_flush,
    .opendir = m_opendir,
    .readdir = m_readdir,
    .releasedir = m_releasedir,
    .fsyncdir = m_fsyncdir,
    .access = m_access,
    .fallocate = m_fallocate,
    .lseek = m_lseek,
    .getxattr = m_getxattr,
    .setxattr = m_setxattr,
    .listxattr = m_listxattr,
    .removexattr = m_removexattr,
    .copy_file_range = m_copy_file_range,
    .syncfs = m_syncfs,
    .tmpfile = m_tmpfile,
    .statx = m_statx,
    .getlk = m_getlk,
    .setlk = m_setlk,
};

size_t mk_req2(void *buf, uint32_t opcode, uint64_t unique, uint64_t nodeid, const void *a,
	       size_t alen, const void *b, size_t blen)
{
	struct fuse_in_header h;

	memset(&h, 0, sizeof(h));
	h.len = (uint32_t)(sizeof(h) + alen + blen);
	h.opcode = opcode;
	h.unique = unique;
	h.nodeid = nodeid;
	h.uid = 1000;
	h.gid = 100;
	h.pid = 4242;
	memcpy(buf, &h, sizeof(h));
	if (alen)
		memcpy((char *)buf + sizeof(h), a, alen);
	if (blen)
		memcpy((char *)buf + sizeof(h) + alen, b, blen);
	return h.len;
}

size_t mk_req(void *buf, uint32_t opcode, uint64_t unique, uint64_t nodeid, const void *args,
	      size_t arglen)
{
	return mk_req2(buf, opcode, unique, nodeid, args, arglen, NULL, 0);
}

size_t run1(struct fuse_server *srv, const void *buf, size_t len, void *out, size_t outlen)
{
	struct iovec in = {.iov_base = (void *)buf, .iov_len = len};
	struct iovec o = {.iov_base = out, .iov_len = outlen};

	return fuse_server_handle(srv, &in, 1, &o, 1);
}

int reply_error(const void *out, size_t n, uint64_t unique)
{
	struct fuse_out_header oh;

	assert_true(n >= sizeof(oh));
	memcpy(&oh, out, sizeof(oh));
	assert_int_equal(oh.len, n);
	assert_int_equal(oh.unique, unique);
	return oh.error;
}

int do_init(struct fuse_server *srv, uint32_t major, uint32_t minor, uint64_t flags,
	    struct fuse_init_out *io)
{
	struct fuse_init_in in;
	char buf[256], out[256];
	size_t n;
	int err;

	memset(&in, 0, sizeof(in));
	in.major = major;
	in.minor = minor;
	in.max_readahead = 131072;
	in.flags = (uint32_t)flags;
	in.flags2 = (uint32_t)(flags >> 32);
	n = mk_req(buf, FUSE_INIT, 1, 0, &in, sizeof(in));
	n = run1(srv, buf, n, out, sizeof(out));
	err = reply_error(out, n, 1);
	if (err == 0 && io) {
		assert_int_equal(n, sizeof(struct fuse_out_header) + sizeof(*io));
		memcpy(io, out + sizeof(struct fuse_out_header), sizeof(*io));
	}
	return err;
}

struct fuse_server *mk_server(struct mock_fs *m, const struct fuse_server_opts *opts)
{
	struct fuse_server_opts def = {.readdirplus = true, .xattr = true};
	struct fuse_server *srv = NULL;

	memset(m, 0, sizeof(*m));
	assert_int_equal(fuse_server_new(&mock_ops, m, opts ? opts : &def, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, ~0ULL, NULL), 0);
	memset(m->calls, 0, sizeof(m->calls));
	m->total_calls = 0;
	return srv;
}
