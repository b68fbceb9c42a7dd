/*
 * Fuzz target: the FUSE server over the REAL passthrough backend (src/fs), as with
 * --sandbox=none, on a scratch directory rebuilt before every input (fuzz_pt_tree.c). The
 * input is a sequence of operations decoded into well-formed FUSE requests: an opcode, node
 * ids and file handles picked among those the session returned so far, names from a small
 * dictionary (with "..", "/", absolute and over-long names) or from the input. See README.md.
 *
 * Findings: any crash or sanitizer report; a canary beside the share or anything outside it
 * that changed (an escape); a descriptor left open once the session is torn down; a leak
 * (LeakSanitizer); a hang (libFuzzer -timeout); a reply that does not fit its buffer or lacks
 * a valid header.
 */
#include "fuzz.h"
#include "fuzz_pt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/fs.h"
#include "fs/passthrough.h"
#include "fuse/server.h"
#include "log.h"

#define MAX_OPS 48
#define EXT_GROUPS 32 /* FUSE_EXT_GROUPS */

static void pt_ids_add(struct pt_ids *t, uint64_t v)
{
	if (v == 0)
		return;
	for (unsigned i = 0; i < t->n; i++)
		if (t->v[i] == v)
			return;
	if (t->n < PT_MAX_IDS) {
		t->v[t->n++] = v;
		return;
	}
	t->v[t->next++ % PT_MAX_IDS] = v;
}

/* A node id or handle: mostly one the session returned; sometimes 0, the root, the largest
 * value, one from the input, or the one after the newest (a guess at the next id). */
uint64_t pt_pick(const struct pt_ids *t, struct fz *f, unsigned sel)
{
	uint64_t last = t->n ? t->v[t->n - 1] : 0;

	if (sel < 0xf8)
		return t->n ? t->v[sel % t->n] : 0;
	switch (sel) {
	case 0xf8:
		return 0;
	case 0xf9:
		return FUSE_ROOT_ID;
	case 0xfa:
		return UINT64_MAX;
	case 0xfb:
		return fz_take(f, 8);
	case 0xfc:
		return last + 1;
	default:
		return last;
	}
}

void pt_put(struct pt_sess *s, const void *p, size_t n)
{
	if (n > PT_REQ_MAX - s->len)
		n = PT_REQ_MAX - s->len;
	memcpy(s->req + s->len, p, n);
	s->len += n;
}

/* A NUL-terminated name from the dictionary, or (selector past it) up to 63 bytes from the
 * input (which may hold a NUL or a slash of their own). */
void pt_put_name(struct pt_sess *s, struct fz *f, unsigned sel)
{
	if (sel < pt_names_n) {
		pt_put(s, pt_names[sel], strlen(pt_names[sel]));
	} else {
		size_t n = (size_t)fz_take(f, 1) & 63;

		if (n > f->left)
			n = f->left;
		pt_put(s, f->p, n);
		f->p += n;
		f->left -= n;
	}
	pt_put(s, "", 1);
}

static const char *const xattr_names[] = {
    "user.vfz", "user.vfz2", "trusted.vfz", "security.vfz", "security.capability",
    "security.selinux", "system.posix_acl_access", "system.posix_acl_default", "",
    "user.", "vfz", "system.vfz",
};
#define N_XATTR_NAMES (sizeof(xattr_names) / sizeof(xattr_names[0]))

void pt_put_xattr_name(struct pt_sess *s, struct fz *f, unsigned sel)
{
	if (sel % 16 < N_XATTR_NAMES) {
		pt_put(s, xattr_names[sel % 16], strlen(xattr_names[sel % 16]) + 1);
		return;
	}
	pt_put_name(s, f, sel);
}

/* An xattr value: an ACL granting user 1000 rwx, a file capability (v2, cap_net_raw), or up to
 * 63 input bytes. */
size_t pt_put_xattr_value(struct pt_sess *s, struct fz *f, unsigned sel)
{
	static const uint32_t acl[] = {2,	 0x00070001, 0xffffffff, 0x00070002, 1000,
				       0x00050004, 0xffffffff, 0x00070010, 0xffffffff,
				       0x00050020, 0xffffffff};
	static const uint32_t cap[] = {0x02000002, 1u << 13, 0, 0, 0};
	size_t n;

	switch (sel & 3) {
	case 0:
		/* acl[] packs u16 tag, u16 perm, u32 id per entry after a u32 version header */
		pt_put(s, acl, sizeof(acl));
		return sizeof(acl);
	case 1:
		pt_put(s, cap, sizeof(cap));
		return sizeof(cap);
	default:
		n = (size_t)fz_take(f, 1) & 63;
		if (n > f->left)
			n = f->left;
		pt_put(s, f->p, n);
		f->p += n;
		f->left -= n;
		return n;
	}
}

static const uint32_t guest_ids[] = {0, 1000, 65534, 1001};

/* The header; its len, and the extension length, are set by finish(). */
void pt_begin(struct pt_sess *s, uint32_t opcode, uint64_t nodeid, unsigned cred)
{
	struct fuse_in_header h = {
	    .opcode = opcode,
	    .unique = ++s->unique,
	    .nodeid = nodeid,
	    .uid = guest_ids[cred & 3],
	    .gid = guest_ids[(cred >> 2) & 3],
	    .pid = 4242,
	};

	s->len = 0;
	PT_PUT(s, h);
}

static void pad8(struct pt_sess *s)
{
	static const uint8_t zero[8];

	pt_put(s, zero, (8 - s->len % 8) % 8);
}

/* The extensions a creating request may carry: a security context, supplementary groups. */
void pt_put_ext(struct pt_sess *s, struct fz *f, unsigned which)
{
	size_t start;

	pad8(s);
	start = s->len;
	if (which & 1) {
		struct fuse_secctx_header sh = {.nr_secctx = 1};
		struct fuse_secctx sx = {.size = 8};
		size_t at = s->len;

		PT_PUT(s, sh);
		PT_PUT(s, sx);
		pt_put_xattr_name(s, f, 3 + (which >> 2 & 1));
		pt_put(s, "vfzlabel", 8);
		pad8(s);
		sh.size = (uint32_t)(s->len - at);
		memcpy(s->req + at, &sh, sizeof(sh));
	}
	if (which & 2) {
		struct fuse_ext_header eh = {.size = 24, .type = EXT_GROUPS};
		uint32_t g[4] = {2, 1000, 4242, 0};

		PT_PUT(s, eh);
		pt_put(s, g, sizeof(g));
	}
	struct fuse_in_header h;

	memcpy(&h, s->req, sizeof(h));
	h.total_extlen = (uint16_t)((s->len - start) / 8);
	memcpy(s->req, &h, sizeof(h));
}

static void finish(struct pt_sess *s)
{
	struct fuse_in_header h;

	memcpy(&h, s->req, sizeof(h));
	h.len = (uint32_t)s->len;
	memcpy(s->req, &h, sizeof(h));
}

/* A deferred (SETLKW) reply, from a waiter thread: a whole header, within the room. */
static void on_complete(void *ctx, uint32_t room, const void *reply, size_t len)
{
	struct fuse_out_header oh;

	if (len < sizeof(oh) || len > room)
		abort();
	memcpy(&oh, reply, sizeof(oh));
	if (oh.len != len || oh.error > 0 || oh.error < -4095)
		abort();
}

static void learn(struct pt_sess *s, uint32_t opcode, const uint8_t *r, size_t n);

/* FUZZ_PT_TRACE=1: each request's opcode and answer on stderr (to check what a seed does). */
static bool trace;

/* Serve the built request with room reply bytes (in two pieces when split) and learn the ids
 * of the reply. */
void pt_send(struct pt_sess *s, size_t room, bool split)
{
	struct iovec in = {s->req, s->len}, out[2];
	struct fuse_async a = {.complete = on_complete, .ctx = s, .id = (uint32_t)room};
	struct fuse_out_header oh = {0};
	struct fuse_in_header h;
	size_t cut = split ? room / 3 : room, n;
	uint8_t *flat = malloc(room ? room : 1);

	finish(s);
	memcpy(&h, s->req, sizeof(h));
	out[0].iov_base = malloc(cut ? cut : 1);
	out[0].iov_len = cut;
	out[1].iov_base = malloc(room - cut ? room - cut : 1);
	out[1].iov_len = room - cut;
	n = fuse_server_handle_async(s->srv, &in, 1, out, split ? 2 : 1, &a);
	if (n != FUSE_DEFERRED && n > 0) {
		if (n > room || n < sizeof(oh))
			abort();
		memcpy(flat, out[0].iov_base, n < cut ? n : cut);
		if (n > cut)
			memcpy(flat + cut, out[1].iov_base, n - cut);
		memcpy(&oh, flat, sizeof(oh));
		if (oh.len != n || oh.error > 0 || oh.error < -4095 || oh.unique != h.unique)
			abort();
		if (oh.error == 0)
			learn(s, h.opcode, flat + sizeof(oh), n - sizeof(oh));
	}
	if (trace)
		fprintf(stderr, "opcode %u node %llu: %s %d, %zu bytes\n", h.opcode,
			(unsigned long long)h.nodeid, n == FUSE_DEFERRED ? "deferred" : "error",
			n == FUSE_DEFERRED || n == 0 ? 0 : oh.error, n == FUSE_DEFERRED ? 0 : n);
	free(out[0].iov_base);
	free(out[1].iov_base);
	free(flat);
}

static void learn_dirplus(struct pt_sess *s, const uint8_t *r, size_t n)
{
	while (n >= sizeof(struct fuse_direntplus)) {
		struct fuse_direntplus d;
		size_t sz;

		memcpy(&d, r, sizeof(d));
		sz = FUSE_DIRENTPLUS_SIZE(&d);
		if (sz > n)
			abort(); /* an entry cut short */
		pt_ids_add(&s->nodes, d.entry_out.nodeid);
		r += sz;
		n -= sz;
	}
}

static void learn(struct pt_sess *s, uint32_t opcode, const uint8_t *r, size_t n)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;

	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (n < sizeof(e))
			abort();
		memcpy(&e, r, sizeof(e));
		pt_ids_add(&s->nodes, e.nodeid);
		if ((opcode == FUSE_CREATE || opcode == FUSE_TMPFILE) && n >= sizeof(e) + sizeof(o)) {
			memcpy(&o, r + sizeof(e), sizeof(o));
			pt_ids_add(&s->fhs, o.fh);
		}
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		if (n < sizeof(o))
			abort();
		memcpy(&o, r, sizeof(o));
		pt_ids_add(&s->fhs, o.fh);
		break;
	case FUSE_READDIRPLUS:
		learn_dirplus(s, r, n);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_LVL_OFF, false);
	trace = getenv("FUZZ_PT_TRACE") != NULL;
	pt_scratch_init();
	return 0;
}

static void do_init(struct pt_sess *s, struct fz *f, bool custom)
{
	struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 131072,
				  .flags = ~0u, .flags2 = ~0u};

	if (custom) {
		in.minor = (uint32_t)fz_take(f, 1);
		in.flags = (uint32_t)fz_take(f, 4);
		in.flags2 = (uint32_t)fz_take(f, 4);
	}
	pt_begin(s, FUSE_INIT, 0, 0);
	PT_PUT(s, in);
	pt_send(s, 4096, false);
}

static void options(struct fz *f, struct fs_passthrough_opts *fo, struct fuse_server_opts *so)
{
	unsigned a = (unsigned)fz_take(f, 1), b = (unsigned)fz_take(f, 1);
	static const enum cache_mode cache[] = {CACHE_AUTO, CACHE_ALWAYS, CACHE_NEVER,
						CACHE_METADATA};

	*so = (struct fuse_server_opts){
	    .readdirplus = a & 1, .writeback = a & 2, .killpriv_v2 = a & 4, .posix_acl = a & 8,
	    .security_label = a & 16, .xattr = a & 32, .posix_locks = a & 64,
	    .flock_locks = a & 128, .allow_mmap = b & 128,
	};
	*fo = (struct fs_passthrough_opts){
	    .root_dir = pt_scratch_share(), .proc_self_fd = -1, .cache = cache[b & 3],
	    .inode_file_handles = b & 4 ? INODE_HANDLES_NEVER : INODE_HANDLES_PREFER,
	    .readonly = b & 8, .allow_direct_io = b & 16, .announce_submounts = b & 32,
	    .xattr = a & 32, .preserve_noatime = b & 64,
	};
}

struct serve_arg {
	struct pt_sess *s;
	struct fz *f;
	unsigned mode;
};

static void *serve_ops(void *arg)
{
	struct serve_arg *a = arg;

	/* mode bit 0: no INIT from the harness (the input may send its own); bit 1: INIT with the
	 * input's minor and flags. */
	if (!(a->mode & 1))
		do_init(a->s, a->f, a->mode & 2);
	for (unsigned i = 0; i < MAX_OPS && a->f->left > 0; i++)
		pt_one_op(a->s, a->f);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	struct fs_passthrough_opts fo;
	struct fuse_server_opts so;
	struct pt_sess *s = calloc(1, sizeof(*s));
	unsigned mode;
	void *fs = NULL;
	int fds;

	LLVMFuzzerInitialize(NULL, NULL);
	if (!s)
		abort();
	options(&f, &fo, &so);
	mode = (unsigned)fz_take(&f, 1);
	pt_scratch_reset();
	fds = fz_count_fds();
	if (fs_passthrough_new(&fo, &fs) < 0 || fuse_server_new(&fs_passthrough_ops, fs, &so,
								&s->srv) < 0)
		abort();
	pt_ids_add(&s->nodes, FUSE_ROOT_ID);
	/* In a thread of their own, as a queue thread serves them: the backend makes the serving
	 * thread's working directory and umask its own and changes them. */
	struct serve_arg sa = {s, &f, mode};
	pthread_t th;

	if (pthread_create(&th, NULL, serve_ops, &sa) != 0)
		abort();
	pthread_join(th, NULL);
	/* What the transport does when the frontend goes away, then what main() does at exit. */
	fuse_server_cancel(s->srv, NULL);
	fuse_server_reset(s->srv);
	fuse_server_free(s->srv);
	fs_passthrough_free(fs);
	if (fz_count_fds() != fds) {
		fprintf(stderr, "fuzz_fuse_pt: %d descriptors before the session, %d after\n", fds,
			fz_count_fds());
		abort();
	}
	pt_scratch_check();
	free(s);
	return 0;
}
