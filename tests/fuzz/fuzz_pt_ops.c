/*
 * The operation records of the passthrough fuzz target (see README.md): each record is
 *   u8 op (an index into ops[] below), u8 node selector, u8 aux selector (a handle, or a
 *   second node for RENAME, LINK), u8 name selector, u8 bits (0-1 guest uid, 2-3 guest gid,
 *   4-5 reply room, 6 reply in two pieces, 7 request extensions follow: u8 which),
 * then the opcode's own fields, each a few input bytes mapped to values that mean something
 * (flag bits from a table, small offsets, ids from the session).
 */
#include "fuzz_pt.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/fs.h" /* FUSE_STATX and its structs where <linux/fuse.h> lacks them */

struct rec {
	uint64_t node, aux; /* a node id; a handle (or a second node) */
	unsigned name, bits;
};

static uint32_t take(struct fz *f, unsigned n)
{
	return (uint32_t)fz_take(f, n);
}

static const uint32_t open_bits[] = {
    O_WRONLY, O_RDWR,	 O_TRUNC, O_APPEND,   O_DIRECT, O_NOFOLLOW, O_CREAT,     O_EXCL,
    O_DIRECTORY, O_NOATIME, O_SYNC,  O_PATH, O_NONBLOCK, O_NOCTTY,   __O_TMPFILE, O_LARGEFILE,
};

static uint32_t open_flags(struct fz *f)
{
	unsigned b = take(f, 2);
	uint32_t fl = 0;

	for (unsigned i = 0; i < 16; i++)
		if (b & (1u << i))
			fl |= open_bits[i];
	return fl;
}

static uint32_t node_mode(struct fz *f)
{
	static const uint32_t types[] = {S_IFREG,  S_IFIFO, S_IFCHR, S_IFBLK,
					 S_IFSOCK, S_IFDIR, S_IFLNK, 0};
	unsigned m = take(f, 2);

	return types[m >> 13] | (m & 07777);
}

/* Offsets and lengths: mostly small, sometimes near the limits. */
static uint64_t offset(struct fz *f)
{
	unsigned v = take(f, 2);

	switch (v >> 14) {
	case 3:
		return (uint64_t)INT64_MAX - (v & 0xfff);
	case 2:
		return (uint64_t)(v & 0x3fff) << 20;
	default:
		return v & 0x7fff;
	}
}

static void op_name(struct pt_sess *s, struct fz *f, const struct rec *r, uint32_t opcode)
{
	pt_begin(s, opcode, r->node, r->bits);
	pt_put_name(s, f, r->name);
}

static void op_lookup(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	op_name(s, f, r, FUSE_LOOKUP);
}

static void op_unlink(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	op_name(s, f, r, FUSE_UNLINK);
}

static void op_rmdir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	op_name(s, f, r, FUSE_RMDIR);
}

static void op_forget(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_forget_in in = {.nlookup = take(f, 1)};

	pt_begin(s, FUSE_FORGET, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_batch_forget(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_batch_forget_in in = {.count = r->name % 5};

	pt_begin(s, FUSE_BATCH_FORGET, 0, r->bits);
	PT_PUT(s, in);
	for (unsigned i = 0; i < in.count; i++) {
		struct fuse_forget_one one = {.nodeid = pt_pick(&s->nodes, f, take(f, 1)),
					      .nlookup = take(f, 1)};

		PT_PUT(s, one);
	}
}

static void op_getattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_getattr_in in = {.getattr_flags = r->name & 1 ? FUSE_GETATTR_FH : 0,
				     .fh = r->aux};

	pt_begin(s, FUSE_GETATTR, r->node, r->bits);
	PT_PUT(s, in);
}

static const uint32_t guest_ids[] = {0, 1000, 65534, 4242};

static void op_setattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_setattr_in in = {.valid = take(f, 2), .fh = r->aux};
	unsigned who = take(f, 1);

	in.size = take(f, 1) & 1 ? offset(f) : take(f, 1);
	in.mode = node_mode(f);
	in.uid = guest_ids[who & 3];
	in.gid = guest_ids[(who >> 2) & 3];
	in.lock_owner = who >> 4;
	in.atime = in.mtime = take(f, 1) * 1000000ull;
	in.atimensec = in.mtimensec = who & 0x10 ? UTIME_NOW : 0;
	pt_begin(s, FUSE_SETATTR, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_readlink(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	pt_begin(s, FUSE_READLINK, r->node, r->bits);
}

static void op_symlink(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	op_name(s, f, r, FUSE_SYMLINK);
	pt_put_name(s, f, take(f, 1)); /* the target */
}

static void op_mknod(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_mknod_in in = {.mode = node_mode(f), .umask = take(f, 1) & 077};
	const uint32_t rdev[] = {0, makedev(1, 3), makedev(1, 5), makedev(8, 0)};

	in.rdev = rdev[r->name >> 6];
	pt_begin(s, FUSE_MKNOD, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_name(s, f, r->name & 0x3f);
}

static void op_mkdir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_mkdir_in in = {.mode = node_mode(f), .umask = take(f, 1) & 077};

	pt_begin(s, FUSE_MKDIR, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_name(s, f, r->name);
}

static void op_rename(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_rename_in in = {.newdir = pt_pick(&s->nodes, f, take(f, 1))};

	pt_begin(s, FUSE_RENAME, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_name(s, f, r->name);
	pt_put_name(s, f, take(f, 1));
}

static void op_rename2(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	static const uint32_t flags[] = {0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT,
					 RENAME_NOREPLACE | RENAME_EXCHANGE, 8, 0, 0};
	struct fuse_rename2_in in = {.newdir = pt_pick(&s->nodes, f, take(f, 1))};

	in.flags = flags[take(f, 1) & 7];
	pt_begin(s, FUSE_RENAME2, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_name(s, f, r->name);
	pt_put_name(s, f, take(f, 1));
}

static void op_link(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_link_in in = {.oldnodeid = pt_pick(&s->nodes, f, take(f, 1))};

	pt_begin(s, FUSE_LINK, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_name(s, f, r->name);
}

static void open_common(struct pt_sess *s, struct fz *f, const struct rec *r, uint32_t opcode)
{
	struct fuse_open_in in = {.flags = open_flags(f),
				  .open_flags = r->name & 1 ? FUSE_OPEN_KILL_SUIDGID : 0};

	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_open(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	open_common(s, f, r, FUSE_OPEN);
}

static void op_opendir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	open_common(s, f, r, FUSE_OPENDIR);
}

static void create_common(struct pt_sess *s, struct fz *f, const struct rec *r,
			  uint32_t opcode)
{
	struct fuse_create_in in = {.flags = open_flags(f), .mode = node_mode(f)};

	in.umask = take(f, 1);
	in.open_flags = in.umask & 0x80 ? FUSE_OPEN_KILL_SUIDGID : 0;
	in.umask &= 077;
	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
	if (opcode == FUSE_CREATE)
		pt_put_name(s, f, r->name);
}

static void op_create(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	create_common(s, f, r, FUSE_CREATE);
}

static void op_tmpfile(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	create_common(s, f, r, FUSE_TMPFILE);
}

static void read_common(struct pt_sess *s, struct fz *f, const struct rec *r, uint32_t opcode)
{
	struct fuse_read_in in = {.fh = r->aux, .offset = offset(f), .size = take(f, 2)};

	in.flags = open_flags(f);
	in.read_flags = r->name & 2 ? FUSE_READ_LOCKOWNER : 0;
	in.lock_owner = r->name >> 2;
	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_read(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	read_common(s, f, r, FUSE_READ);
}

static void op_readdir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	read_common(s, f, r, FUSE_READDIR);
}

static void op_readdirplus(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	read_common(s, f, r, FUSE_READDIRPLUS);
}

/* WRITE: size bytes of payload, a pattern; name bit 0: a payload shorter than size says. */
static void op_write(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	static uint8_t pattern[0x4000];
	struct fuse_write_in in = {.fh = r->aux, .offset = offset(f), .size = take(f, 2) & 0x3fff};
	size_t n = in.size;

	if (!pattern[1])
		for (unsigned i = 0; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)(i * 7 + 1);
	in.write_flags = take(f, 1) & 7; /* CACHE, LOCKOWNER, KILL_SUIDGID */
	in.lock_owner = r->name >> 4;
	if ((r->name & 1) && n > 0)
		n -= 1 + take(f, 1) % n;
	pt_begin(s, FUSE_WRITE, r->node, r->bits);
	PT_PUT(s, in);
	pt_put(s, pattern, n);
}

static void op_statfs(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	pt_begin(s, FUSE_STATFS, r->node, r->bits);
}

static void release_common(struct pt_sess *s, struct fz *f, const struct rec *r,
			   uint32_t opcode)
{
	struct fuse_release_in in = {.fh = r->aux, .release_flags = r->name & 3,
				     .lock_owner = r->name >> 2};

	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_release(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	release_common(s, f, r, FUSE_RELEASE);
}

static void op_releasedir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	release_common(s, f, r, FUSE_RELEASEDIR);
}

static void fsync_common(struct pt_sess *s, struct fz *f, const struct rec *r, uint32_t opcode)
{
	struct fuse_fsync_in in = {.fh = r->aux, .fsync_flags = r->name & 1};

	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_fsync(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	fsync_common(s, f, r, FUSE_FSYNC);
}

static void op_fsyncdir(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	fsync_common(s, f, r, FUSE_FSYNCDIR);
}

static void op_flush(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_flush_in in = {.fh = r->aux, .lock_owner = r->name};

	pt_begin(s, FUSE_FLUSH, r->node, r->bits);
	PT_PUT(s, in);
}

/* SETXATTR: the name selector's bit 7 picks the 16-byte (SETXATTR_EXT) argument. */
static void op_setxattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_setxattr_in in = {.flags = take(f, 1)};
	size_t at, len;

	in.setxattr_flags = in.flags >> 7;
	in.flags &= 3; /* XATTR_CREATE, XATTR_REPLACE */
	pt_begin(s, FUSE_SETXATTR, r->node, r->bits);
	at = s->len;
	pt_put(s, &in, r->name & 0x80 ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE);
	pt_put_xattr_name(s, f, r->name);
	len = pt_put_xattr_value(s, f, r->name >> 4);
	in.size = (uint32_t)len;
	memcpy(s->req + at, &in, sizeof(in.size));
}

static const uint32_t xattr_sizes[] = {0, 4, 100, 65536};

static void op_getxattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_getxattr_in in = {.size = xattr_sizes[r->name >> 6]};

	pt_begin(s, FUSE_GETXATTR, r->node, r->bits);
	PT_PUT(s, in);
	pt_put_xattr_name(s, f, r->name);
}

static void op_listxattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_getxattr_in in = {.size = xattr_sizes[r->name & 3]};

	pt_begin(s, FUSE_LISTXATTR, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_removexattr(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	pt_begin(s, FUSE_REMOVEXATTR, r->node, r->bits);
	pt_put_xattr_name(s, f, r->name);
}

static void op_access(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_access_in in = {.mask = r->name & 0xf};

	pt_begin(s, FUSE_ACCESS, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_fallocate(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	static const uint32_t modes[] = {0, FALLOC_FL_KEEP_SIZE,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
					 FALLOC_FL_INSERT_RANGE, FALLOC_FL_PUNCH_HOLE, 0x80};
	struct fuse_fallocate_in in = {.fh = r->aux, .offset = offset(f), .length = offset(f),
				       .mode = modes[r->name & 7]};

	pt_begin(s, FUSE_FALLOCATE, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_lseek(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_lseek_in in = {.fh = r->aux, .offset = offset(f), .whence = r->name % 6};

	pt_begin(s, FUSE_LSEEK, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_copy_file_range(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_copy_file_range_in in = {.fh_in = r->aux, .off_in = offset(f)};

	in.nodeid_out = pt_pick(&s->nodes, f, take(f, 1));
	in.fh_out = pt_pick(&s->fhs, f, take(f, 1));
	in.off_out = offset(f);
	in.len = offset(f);
	in.flags = r->name & 1 ? take(f, 1) : 0;
	pt_begin(s, FUSE_COPY_FILE_RANGE, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_syncfs(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_syncfs_in in = {0};

	pt_begin(s, FUSE_SYNCFS, r->node, r->bits);
	PT_PUT(s, in);
}

/* Lock requests: a few owners, so that they conflict; name bit 0: flock() semantics. */
static void lock_common(struct pt_sess *s, struct fz *f, const struct rec *r, uint32_t opcode)
{
	static const uint32_t types[] = {F_RDLCK, F_WRLCK, F_UNLCK, 7};
	struct fuse_lk_in in = {.fh = r->aux, .owner = 1 + (r->name >> 1 & 3),
				.lk_flags = r->name & 1 ? FUSE_LK_FLOCK : 0};
	unsigned v = take(f, 1);

	in.lk.start = v & 0x40 ? offset(f) : v & 7;
	in.lk.end = v & 0x80 ? UINT64_MAX >> 1 : in.lk.start + (v >> 3 & 7);
	if (v & 0x20)
		in.lk.end = in.lk.start - 1; /* end before start */
	in.lk.type = types[r->name >> 3 & 3];
	in.lk.pid = 4242;
	pt_begin(s, opcode, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_getlk(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	lock_common(s, f, r, FUSE_GETLK);
}

static void op_setlk(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	lock_common(s, f, r, FUSE_SETLK);
}

static void op_setlkw(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	lock_common(s, f, r, FUSE_SETLKW);
}

static void op_statx(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_statx_in in = {.getattr_flags = r->name & 1 ? FUSE_GETATTR_FH : 0,
				   .fh = r->aux, .sx_flags = take(f, 2), .sx_mask = take(f, 4)};

	pt_begin(s, FUSE_STATX, r->node, r->bits);
	PT_PUT(s, in);
}

static void op_interrupt(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_interrupt_in in = {.unique = s->unique - (r->name & 7)};

	pt_begin(s, FUSE_INTERRUPT, 0, r->bits);
	PT_PUT(s, in);
}

static void op_destroy(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	pt_begin(s, FUSE_DESTROY, 0, r->bits);
}

/* INIT (again, or the first one when the harness sent none): the input's minor and flags. */
static void op_init(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	struct fuse_init_in in = {.major = 7, .minor = 25 + (r->name & 15),
				  .max_readahead = 65536};

	in.flags = take(f, 4) | FUSE_INIT_EXT;
	in.flags2 = take(f, 4);
	pt_begin(s, FUSE_INIT, 0, r->bits);
	PT_PUT(s, in);
}

/* Any opcode (up to 63), with up to 63 bytes of input as its arguments. */
static void op_raw(struct pt_sess *s, struct fz *f, const struct rec *r)
{
	uint32_t opcode = take(f, 1) & 63;
	size_t n = r->name & 63;

	if (n > f->left)
		n = f->left;
	pt_begin(s, opcode, r->node, r->bits);
	pt_put(s, f->p, n);
	f->p += n;
	f->left -= n;
}

typedef void (*op_fn)(struct pt_sess *s, struct fz *f, const struct rec *r);

/* The order is the input format: the seeds (gen_corpus.py) index this table. */
static const op_fn ops[] = {
    op_lookup,	 op_forget,	op_batch_forget, op_getattr,  op_setattr,	  op_readlink,
    op_symlink,	 op_mknod,	op_mkdir,	 op_unlink,   op_rmdir,		  op_rename,
    op_rename2,	 op_link,	op_open,	 op_opendir,  op_create,	  op_tmpfile,
    op_read,	 op_readdir,	op_readdirplus,	 op_write,    op_statfs,	  op_release,
    op_releasedir, op_fsync,	op_fsyncdir,	 op_flush,    op_setxattr,	  op_getxattr,
    op_listxattr, op_removexattr, op_access,	 op_fallocate, op_lseek,	  op_copy_file_range,
    op_syncfs,	 op_getlk,	op_setlk,	 op_setlkw,   op_statx,		  op_interrupt,
    op_destroy,	 op_init,	op_raw,
};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

static const size_t rooms[] = {65536 + 4096, 4096, 300};

void pt_one_op(struct pt_sess *s, struct fz *f)
{
	unsigned op = take(f, 1) % N_OPS, nsel = take(f, 1), asel = take(f, 1);
	struct rec r = {.name = take(f, 1), .bits = take(f, 1)};
	unsigned ext = r.bits & 0x80 ? take(f, 1) : 0;
	size_t room;

	r.node = pt_pick(&s->nodes, f, nsel);
	/* The second id of RENAME, LINK and COPY_FILE_RANGE's output come from their fields. */
	r.aux = pt_pick(&s->fhs, f, asel);
	room = (r.bits >> 4 & 3) == 3 ? take(f, 1) : rooms[r.bits >> 4 & 3];
	ops[op](s, f, &r);
	if (r.bits & 0x80)
		pt_put_ext(s, f, ext);
	pt_send(s, room, r.bits & 0x40);
}
