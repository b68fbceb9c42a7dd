/*
 * Fake frontend: the xattr opcodes, --xattrmap, --posix-acl, --security-label, the request
 * extensions (security context, supplementary groups), --translate-uid/gid and the killpriv
 * rules, checked in the replies and in the host directory. Each test starts its own daemon
 * with the options it needs and sends its own INIT (the flags it offers matter).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){.iov_base = (void *)(p), .iov_len = (n)})
#define NAME(s) IOV((s), strlen(s) + 1)
#define OUT_HDR sizeof(struct fuse_out_header)
#define REPLY_CAP (OUT_HDR + 70000)

#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP (1ULL << 34)
#endif
#define EXT_GROUPS 32

/* INIT offering flags (bits above 31 go to flags2 with INIT_EXT) as protocol 7.minor. */
static int init_with(struct fe *fe, uint32_t minor, uint64_t flags)
{
	struct fuse_init_in in = {
	    .major = FUSE_KERNEL_VERSION,
	    .minor = minor,
	    .max_readahead = 128 << 10,
	    .flags = (uint32_t)(flags | FUSE_INIT_EXT | FUSE_ASYNC_READ | FUSE_BIG_WRITES |
				FUSE_MAX_PAGES),
	    .flags2 = (uint32_t)(flags >> 32),
	};
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc =
	    fe_fuse_req(fe, FUSE_INIT, 0, a, 1, OUT_HDR + sizeof(struct fuse_init_out), NULL, &r);

	rc = fe_check_reply(rc, &r, -1);
	fe_reply_free(&r);
	return rc;
}

static int start_minor(void **state, const char *args, uint32_t minor, uint64_t flags)
{
	struct fe_opts o = {.daemon_args = args};

	if (fe_test_start(state, &o, false) < 0)
		return -1;
	if (init_with(*state, minor, flags) != 0) {
		fe_dump_log(*state);
		return -1;
	}
	return 0;
}

static int start(void **state, const char *args, uint64_t flags)
{
	return start_minor(state, args, 38, flags);
}

static int setup_xattr(void **state)
{
	/* trusted.* and security.* need CAP_SYS_ADMIN, which the daemon drops by default. */
	return start(state, "--xattr --modcaps=+sys_admin", 0);
}

static int setup_plain(void **state)
{
	return start(state, "", 0);
}

static int setup_map(void **state)
{
	return start(state, "--xattrmap=:prefix:all::user.virtiofs.::bad:all:::", 0);
}

/* Everything under user.virtiofs., security.capability included (CVE-2021-20263 case). */
static int setup_capmap(void **state)
{
	return start(state, "--xattrmap=:map::user.virtiofs.: --killpriv-v2",
		     FUSE_HANDLE_KILLPRIV_V2);
}

static int setup_label(void **state)
{
	return start(state, "--security-label --modcaps=+sys_admin",
		     FUSE_SECURITY_CTX | FUSE_CREATE_SUPP_GROUP);
}

/* The capability to write security.* labels, but no --security-label. */
static int setup_nolabel(void **state)
{
	return start(state, "--modcaps=+sys_admin", FUSE_SECURITY_CTX);
}

/* A 7.37 guest (Linux 6.0 to 6.2) sends the context as the last argument. */
static int setup_label37(void **state)
{
	return start_minor(state, "--security-label --modcaps=+sys_admin", 37, FUSE_SECURITY_CTX);
}

static int setup_acl(void **state)
{
	return start(state, "--posix-acl --killpriv-v2",
		     FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT | FUSE_HANDLE_KILLPRIV_V2);
}

static int setup_translate(void **state)
{
	return start(state,
		     "--translate-uid=map:1000:2000:10 --translate-gid=map:1000:2000:10 "
		     "--translate-uid=forbid-guest:3000:1",
		     FUSE_CREATE_SUPP_GROUP);
}

/*
 * A request built by hand: uid/gid chosen, ext (extlen bytes) after the args and counted in
 * total_extlen (ext_units overrides it when not 0), len_add added to in_header.len.
 */
struct rq {
	uint32_t uid, gid;
	const void *ext;
	size_t extlen;
	uint16_t ext_units;
	int32_t len_add;
};

static int raw(struct fe *fe, uint32_t op, uint64_t node, const struct iovec *args, unsigned n,
	       const struct rq *q, struct fe_reply *r)
{
	struct fuse_in_header h = {.opcode = op, .nodeid = node, .pid = 1};
	struct iovec iov[10];
	size_t len = sizeof(h);
	unsigned k = 1;

	for (unsigned i = 0; i < n && k < 9; i++) {
		iov[k++] = args[i];
		len += args[i].iov_len;
	}
	if (q && q->extlen) {
		iov[k++] = IOV(q->ext, q->extlen);
		len += q->extlen;
	}
	fe->unique += 2;
	h.unique = fe->unique;
	h.len = (uint32_t)((int64_t)len + (q ? q->len_add : 0));
	h.uid = q ? q->uid : 0;
	h.gid = q ? q->gid : 0;
	h.total_extlen = q ? (q->ext_units ? q->ext_units : (uint16_t)(q->extlen / 8)) : 0;
	iov[0] = IOV(&h, sizeof(h));
	return fe_fuse_raw(fe, iov, k, REPLY_CAP, NULL, r);
}

/* Reply error only (payload not checked). */
static int raw_err(struct fe *fe, uint32_t op, uint64_t node, const struct iovec *args, unsigned n,
		   const struct rq *q)
{
	struct fe_reply r;
	int rc = fe_check_reply(raw(fe, op, node, args, n, q, &r), &r, -1);

	fe_reply_free(&r);
	return rc;
}

static const char *host(struct fe *fe, const char *rel)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	return fe_share_path(fe, rel, p[i], sizeof(p[i]));
}

static uint64_t make_file(struct fe *fe, const char *rel, mode_t mode)
{
	struct fuse_entry_out e;
	int fd = open(host(fe, rel), O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, rel, &e), 0);
	return e.nodeid;
}

/* SETXATTR in the layout the session agreed: 8 bytes, or 16 with SETXATTR_EXT. */
static int setx(struct fe *fe, uint64_t node, const char *name, const void *v, uint32_t size,
		uint32_t flags, bool ext, uint32_t ext_flags)
{
	struct fuse_setxattr_in in = {.size = size, .flags = flags, .setxattr_flags = ext_flags};
	struct iovec a[] = {IOV(&in, ext ? sizeof(in) : FUSE_COMPAT_SETXATTR_IN_SIZE), NAME(name),
			    IOV(v, size)};

	return raw_err(fe, FUSE_SETXATTR, node, a, 3, NULL);
}

/* GETXATTR (name) or LISTXATTR (name NULL) with size; *got: the size or the bytes' count. */
static int getx(struct fe *fe, uint64_t node, const char *name, uint32_t size, void *buf,
		uint32_t *got)
{
	struct fuse_getxattr_in in = {.size = size};
	struct iovec a[] = {IOV(&in, sizeof(in)), name ? NAME(name) : IOV(NULL, 0)};
	struct fe_reply r;
	int rc = raw(fe, name ? FUSE_GETXATTR : FUSE_LISTXATTR, node, a, name ? 2 : 1, NULL, &r);

	rc = fe_check_reply(rc, &r, -1);
	if (rc == 0 && size == 0) {
		assert_int_equal(r.data_len, sizeof(struct fuse_getxattr_out));
		*got = ((struct fuse_getxattr_out *)(void *)r.data)->size;
	} else if (rc == 0) {
		assert_true(r.data_len <= size);
		memcpy(buf, r.data, r.data_len);
		*got = (uint32_t)r.data_len;
	}
	fe_reply_free(&r);
	return rc;
}

static int rmx(struct fe *fe, uint64_t node, const char *name)
{
	struct iovec a[] = {NAME(name)};

	return raw_err(fe, FUSE_REMOVEXATTR, node, a, 1, NULL);
}

static void test_roundtrip(void **state)
{
	struct fe *fe = *state;
	uint64_t f = make_file(fe, "f", 0644);
	char buf[256];
	uint32_t n;

	assert_int_equal(setx(fe, f, "user.k", "v1", 2, 0, false, 0), 0);
	assert_int_equal(getxattr(host(fe, "f"), "user.k", buf, sizeof(buf)), 2);
	assert_int_equal(getx(fe, f, "user.k", 0, NULL, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(getx(fe, f, "user.k", sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "v1", 2);
	assert_int_equal(getx(fe, f, "user.k", 1, buf, &n), -ERANGE);
	assert_int_equal(setx(fe, f, "user.k", "x", 1, XATTR_CREATE, false, 0), -EEXIST);
	assert_int_equal(setx(fe, f, "user.none", "x", 1, XATTR_REPLACE, false, 0), -ENODATA);
	assert_int_equal(getx(fe, f, NULL, 0, NULL, &n), 0);
	assert_int_equal(n, sizeof("user.k"));
	assert_int_equal(getx(fe, f, NULL, sizeof(buf), buf, &n), 0);
	assert_memory_equal(buf, "user.k", sizeof("user.k"));
	assert_int_equal(rmx(fe, f, "user.k"), 0);
	assert_int_equal(getx(fe, f, "user.k", sizeof(buf), buf, &n), -ENODATA);
	assert_int_equal(rmx(fe, f, "user.k"), -ENODATA);
	/* A symlink and a FIFO are reached without being opened: trusted.* works on both. */
	assert_int_equal(symlink("f", host(fe, "l")), 0);
	assert_int_equal(mkfifo(host(fe, "p"), 0600), 0);
	struct fuse_entry_out e;

	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "l", &e), 0);
	assert_int_equal(setx(fe, e.nodeid, "trusted.t", "s", 1, 0, false, 0), 0);
	assert_int_equal(lgetxattr(host(fe, "l"), "trusted.t", buf, sizeof(buf)), 1);
	assert_int_equal(getxattr(host(fe, "f"), "trusted.t", buf, sizeof(buf)), -1);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "p", &e), 0);
	assert_int_equal(setx(fe, e.nodeid, "trusted.t", "p", 1, 0, false, 0), 0);
	assert_int_equal(getx(fe, e.nodeid, "trusted.t", sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 1);
	/* The largest value (64 KiB) round trip needs a filesystem that holds it: ext4 without
	 * ea_inode does not; fake-hostile's test_xattr_largest_value runs it on tmpfs. */
}

static void test_malformed(void **state)
{
	struct fe *fe = *state;
	uint64_t f = make_file(fe, "f", 0644);
	struct fuse_setxattr_in in = {.size = 2};
	struct fuse_getxattr_in gin = {.size = 64};
	char unterminated[300];
	char *big = calloc(1, 70000);
	uint32_t n;

	assert_non_null(big);
	memset(unterminated, 'a', sizeof(unterminated));
	/* SETXATTR shorter than its 8-byte header. */
	struct iovec a1[] = {IOV(&in, 4)};
	assert_int_equal(raw_err(fe, FUSE_SETXATTR, f, a1, 1, NULL), -EINVAL);
	/* A name without its NUL. */
	struct iovec a2[] = {IOV(&in, 8), IOV("user.x", 6)};
	assert_int_equal(raw_err(fe, FUSE_SETXATTR, f, a2, 2, NULL), -EINVAL);
	struct iovec a3[] = {IOV(&gin, sizeof(gin)), IOV(unterminated, sizeof(unterminated))};
	assert_int_equal(raw_err(fe, FUSE_GETXATTR, f, a3, 2, NULL), -EINVAL);
	/* A name longer than XATTR_NAME_MAX. */
	unterminated[sizeof(unterminated) - 1] = '\0';
	assert_int_equal(raw_err(fe, FUSE_GETXATTR, f, a3, 2, NULL), -ENAMETOOLONG);
	struct iovec a4[] = {IOV(unterminated, 20)};
	assert_int_equal(raw_err(fe, FUSE_REMOVEXATTR, f, a4, 1, NULL), -EINVAL);
	/* The value claims more bytes than the request holds. */
	in.size = 100;
	struct iovec a5[] = {IOV(&in, 8), NAME("user.x"), IOV("ab", 2)};
	assert_int_equal(raw_err(fe, FUSE_SETXATTR, f, a5, 3, NULL), -EINVAL);
	/* A value over 64 KiB. */
	in.size = 65537;
	struct iovec a6[] = {IOV(&in, 8), NAME("user.x"), IOV(big, 65537)};
	assert_int_equal(raw_err(fe, FUSE_SETXATTR, f, a6, 3, NULL), -E2BIG);
	/* An empty name is what the kernel answers ERANGE for. */
	assert_int_equal(setx(fe, f, "", "v", 1, 0, false, 0), -ERANGE);
	assert_int_equal(setx(fe, f, "user.x", "v", 1, 0x100, false, 0), -EINVAL);
	/* A GETXATTR or LISTXATTR without its fuse_getxattr_in. */
	struct iovec a7[] = {IOV(&gin, 4)};
	assert_int_equal(raw_err(fe, FUSE_LISTXATTR, f, a7, 1, NULL), -EINVAL);
	/* A huge size is clipped to what fits; the size-0 query needs nothing. */
	assert_int_equal(setx(fe, f, "user.x", "v", 1, 0, false, 0), 0);
	assert_int_equal(getx(fe, f, "user.x", 0xffffffffu, big, &n), 0);
	assert_int_equal(n, 1);
	/* An inode the guest never looked up. */
	assert_true(getx(fe, 0xdead0000beefULL, "user.x", 0, NULL, &n) < 0);
	free(big);
	assert_true(fe_alive(fe));
}

static void test_disabled(void **state)
{
	struct fe *fe = *state;
	uint64_t f = make_file(fe, "f", 0644);
	uint32_t n;

	assert_int_equal(setx(fe, f, "user.k", "v", 1, 0, false, 0), -ENOSYS);
	assert_int_equal(getx(fe, f, "user.k", 0, NULL, &n), -ENOSYS);
	assert_int_equal(getx(fe, f, NULL, 0, NULL, &n), -ENOSYS);
	assert_int_equal(rmx(fe, f, "user.k"), -ENOSYS);
}

static void test_map(void **state)
{
	struct fe *fe = *state;
	uint64_t f = make_file(fe, "f", 0644);
	char buf[512];
	uint32_t n;

	assert_int_equal(setx(fe, f, "user.a", "1", 1, 0, false, 0), 0);
	assert_int_equal(getxattr(host(fe, "f"), "user.virtiofs.user.a", buf, sizeof(buf)), 1);
	assert_int_equal(getxattr(host(fe, "f"), "user.a", buf, sizeof(buf)), -1);
	/* A host name outside the prefix is hidden from the list and unreachable. */
	assert_int_equal(setxattr(host(fe, "f"), "user.hidden", "h", 1, 0), 0);
	assert_int_equal(getx(fe, f, NULL, 0, NULL, &n), 0);
	assert_int_equal(n, sizeof("user.a"));
	assert_int_equal(getx(fe, f, NULL, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, sizeof("user.a"));
	assert_memory_equal(buf, "user.a", n);
	assert_int_equal(getx(fe, f, NULL, 3, buf, &n), -ERANGE);
	assert_int_equal(getx(fe, f, "user.a", sizeof(buf), buf, &n), 0);
	assert_int_equal(rmx(fe, f, "user.a"), 0);
	assert_int_equal(getxattr(host(fe, "f"), "user.virtiofs.user.a", buf, sizeof(buf)), -1);
}

/* A remapped security.capability goes on write, truncate, chown, O_TRUNC open and
 * copy_file_range. */
static void test_capability_killpriv(void **state)
{
	struct fe *fe = *state;
	const char *cap = "user.virtiofs.security.capability";
	uint64_t f = make_file(fe, "f", 04755), fh;
	struct fuse_setattr_in sa = {0};
	struct iovec a[] = {IOV(&sa, sizeof(sa))};
	char buf[64];
	struct stat st;

	assert_int_equal(setxattr(host(fe, "f"), cap, "c", 1, 0), 0);
	assert_int_equal(fe_open(fe, f, O_RDWR, false, &fh), 0);
	assert_int_equal(fe_write(fe, f, fh, 0, "data", 4, NULL, NULL), 0);
	assert_int_equal(getxattr(host(fe, "f"), cap, buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);

	assert_int_equal(setxattr(host(fe, "f"), cap, "c", 1, 0), 0);
	sa.valid = FATTR_SIZE;
	sa.size = 1;
	assert_int_equal(raw_err(fe, FUSE_SETATTR, f, a, 1, NULL), 0);
	assert_int_equal(getxattr(host(fe, "f"), cap, buf, sizeof(buf)), -1);

	assert_int_equal(setxattr(host(fe, "f"), cap, "c", 1, 0), 0);
	sa.valid = FATTR_UID;
	sa.uid = 4242;
	assert_int_equal(raw_err(fe, FUSE_SETATTR, f, a, 1, NULL), 0);
	assert_int_equal(getxattr(host(fe, "f"), cap, buf, sizeof(buf)), -1);
	assert_int_equal(fe_release(fe, f, fh, false), 0);

	/* FUSE_OPEN_KILL_SUIDGID with O_TRUNC: the daemon opens as root and must clear it. */
	assert_int_equal(chown(host(fe, "f"), 0, 0), 0);
	assert_int_equal(chmod(host(fe, "f"), 04755), 0);
	assert_int_equal(setxattr(host(fe, "f"), cap, "c", 1, 0), 0);
	struct fuse_open_in oi = {.flags = O_WRONLY | O_TRUNC,
				  .open_flags = FUSE_OPEN_KILL_SUIDGID};
	struct iovec ao[] = {IOV(&oi, sizeof(oi))};
	assert_int_equal(raw_err(fe, FUSE_OPEN, f, ao, 1, NULL), 0);
	assert_int_equal(stat(host(fe, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(getxattr(host(fe, "f"), cap, buf, sizeof(buf)), -1);
	/* COPY_FILE_RANGE into it by a user, as a WRITE by that user: both go. */
	const struct rq user = {.uid = 1000, .gid = 1000};
	uint64_t g = make_file(fe, "g", 0644), gh;
	int hfd = open(host(fe, "g"), O_WRONLY | O_CLOEXEC);

	assert_true(hfd >= 0);
	assert_int_equal(write(hfd, "xyz", 3), 3);
	close(hfd);
	assert_int_equal(chmod(host(fe, "f"), 04755), 0);
	assert_int_equal(setxattr(host(fe, "f"), cap, "c", 1, 0), 0);
	assert_int_equal(fe_open(fe, f, O_RDWR, false, &fh), 0);
	assert_int_equal(fe_open(fe, g, O_RDONLY, false, &gh), 0);
	struct fuse_copy_file_range_in ci = {.fh_in = gh, .nodeid_out = f, .fh_out = fh, .len = 3};
	struct iovec ac[] = {IOV(&ci, sizeof(ci))};
	assert_int_equal(raw_err(fe, FUSE_COPY_FILE_RANGE, g, ac, 1, &user), 0);
	assert_int_equal(stat(host(fe, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(getxattr(host(fe, "f"), cap, buf, sizeof(buf)), -1);
	assert_int_equal(fe_release(fe, f, fh, false), 0);
	assert_int_equal(fe_release(fe, g, gh, false), 0);
	/* The guest cannot reach the host name directly (the map's bad rule). */
	uint32_t n;

	assert_int_equal(getx(fe, f, "user.virtiofs.x", 0, NULL, &n), -ENODATA);
}

/* --- request extensions --- */

struct extbuf {
	uint8_t b[1024];
	size_t len;
};

static void ext_raw(struct extbuf *x, uint32_t size, uint32_t type, const void *body, size_t blen)
{
	struct fuse_ext_header h = {.size = size, .type = type};

	memcpy(x->b + x->len, &h, sizeof(h));
	if (blen)
		memcpy(x->b + x->len + sizeof(h), body, blen);
	x->len += FUSE_REC_ALIGN(sizeof(h) + blen);
}

/* A security context record with nr contexts (the body describes one). */
static void ext_secctx(struct extbuf *x, const char *name, const void *v, uint32_t vlen,
		       uint32_t nr)
{
	uint8_t body[512] = {0};
	struct fuse_secctx c = {.size = vlen};
	size_t nlen = strlen(name) + 1, blen = 0;

	if (nr) {
		memcpy(body, &c, sizeof(c));
		memcpy(body + sizeof(c), name, nlen);
		memcpy(body + sizeof(c) + nlen, v, vlen);
		blen = sizeof(c) + nlen + vlen;
	}
	ext_raw(x, (uint32_t)FUSE_REC_ALIGN(sizeof(struct fuse_ext_header) + blen), nr, body, blen);
}

static void ext_groups(struct extbuf *x, const uint32_t *g, uint32_t n, uint32_t claimed)
{
	uint32_t body[64];

	body[0] = claimed;
	memcpy(&body[1], g, n * sizeof(*g));
	ext_raw(x, (uint32_t)FUSE_REC_ALIGN(sizeof(struct fuse_ext_header) + 4 + 4 * n), EXT_GROUPS,
		body, 4 + 4 * n);
}

static int mkdir_rq(struct fe *fe, uint64_t parent, const char *name, uint32_t mode, uint32_t umask,
		    const struct rq *q, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = {.mode = mode, .umask = umask};
	struct iovec a[] = {IOV(&in, sizeof(in)), NAME(name)};
	struct fe_reply r;
	int rc = fe_check_reply(raw(fe, FUSE_MKDIR, parent, a, 2, q, &r), &r, -1);

	if (rc == 0 && e) {
		assert_int_equal(r.data_len, sizeof(*e));
		memcpy(e, r.data, sizeof(*e));
	}
	fe_reply_free(&r);
	return rc;
}

static bool host_has_label(struct fe *fe, const char *rel, const char *want)
{
	char buf[64] = {0};
	ssize_t n = lgetxattr(host(fe, rel), "security.selinux", buf, sizeof(buf) - 1);

	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static void test_label(void **state)
{
	struct fe *fe = *state;
	struct extbuf x = {0};
	struct rq q = {0};
	struct fe_reply r;

	ext_secctx(&x, "security.selinux", "lbl", 3, 1);
	q.ext = x.b;
	q.extlen = x.len;
	/* CREATE: O_TMPFILE, label, link. */
	struct fuse_create_in ci = {.flags = O_WRONLY | O_CREAT | O_EXCL, .mode = S_IFREG | 0640};
	struct iovec ac[] = {IOV(&ci, sizeof(ci)), NAME("c")};

	assert_int_equal(
	    fe_check_reply(raw(fe, FUSE_CREATE, FUSE_ROOT_ID, ac, 2, &q, &r), &r,
			   sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)),
	    0);
	fe_reply_free(&r);
	assert_true(host_has_label(fe, "c", "lbl"));
	struct stat st;

	assert_int_equal(stat(host(fe, "c"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* The name exists: EEXIST with O_EXCL, opened (unlabelled as it was) without. */
	assert_int_equal(raw_err(fe, FUSE_CREATE, FUSE_ROOT_ID, ac, 2, &q), -EEXIST);
	assert_int_equal(close(open(host(fe, "e"), O_CREAT | O_WRONLY, 0600)), 0);
	ci.flags = O_WRONLY | O_CREAT;
	struct iovec ae[] = {IOV(&ci, sizeof(ci)), NAME("e")};
	assert_int_equal(raw_err(fe, FUSE_CREATE, FUSE_ROOT_ID, ae, 2, &q), 0);
	assert_false(host_has_label(fe, "e", "lbl"));
	/* MKDIR, SYMLINK, MKNOD: create, then label. */
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d", 0755, 0, &q, NULL), 0);
	assert_true(host_has_label(fe, "d", "lbl"));
	struct iovec as[] = {NAME("s"), NAME("target")};
	assert_int_equal(raw_err(fe, FUSE_SYMLINK, FUSE_ROOT_ID, as, 2, &q), 0);
	assert_true(host_has_label(fe, "s", "lbl"));
	struct fuse_mknod_in mi = {.mode = S_IFIFO | 0600};
	struct iovec am[] = {IOV(&mi, sizeof(mi)), NAME("n")};
	assert_int_equal(raw_err(fe, FUSE_MKNOD, FUSE_ROOT_ID, am, 2, &q), 0);
	assert_true(host_has_label(fe, "n", "lbl"));
	/* TMPFILE: the unnamed file is labelled before anyone can link it. */
	struct fuse_create_in ti = {.flags = O_RDWR, .mode = S_IFREG | 0600};
	struct iovec at[] = {IOV(&ti, sizeof(ti))};
	struct fuse_entry_out te;
	char buf[16];
	uint32_t n;

	assert_int_equal(fe_check_reply(raw(fe, FUSE_TMPFILE, FUSE_ROOT_ID, at, 1, &q, &r), &r,
					sizeof(te) + sizeof(struct fuse_open_out)),
			 0);
	memcpy(&te, r.data, sizeof(te));
	fe_reply_free(&r);
	assert_int_equal(getx(fe, te.nodeid, "security.selinux", sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "lbl", 3);
	/* No context (nr_secctx 0), or no extension at all: created without a label. */
	memset(&x, 0, sizeof(x));
	ext_secctx(&x, "", NULL, 0, 0);
	q.extlen = x.len;
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d0", 0755, 0, &q, NULL), 0);
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d1", 0755, 0, NULL, NULL), 0);
	assert_false(host_has_label(fe, "d0", "lbl"));
	assert_false(host_has_label(fe, "d1", "lbl"));
}

/* Without --security-label a context in the extension area is refused (EINVAL), nothing is
 * created and no label written: the session did not agree FUSE_SECURITY_CTX, so only a guest
 * choosing its own host label sends one. */
static void test_label_not_agreed(void **state)
{
	struct fe *fe = *state;
	struct extbuf x = {0};
	struct rq q = {0};
	struct fuse_create_in ci = {.flags = O_WRONLY | O_CREAT | O_EXCL, .mode = S_IFREG | 0640};
	struct iovec ac[] = {IOV(&ci, sizeof(ci)), NAME("c")};
	struct stat st;

	ext_secctx(&x, "security.selinux", "lbl", 3, 1);
	q.ext = x.b;
	q.extlen = x.len;
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d", 0755, 0, &q, NULL), -EINVAL);
	assert_int_equal(lstat(host(fe, "d"), &st), -1);
	assert_int_equal(raw_err(fe, FUSE_CREATE, FUSE_ROOT_ID, ac, 2, &q), -EINVAL);
	assert_int_equal(lstat(host(fe, "c"), &st), -1);
	/* The same requests without the context are served. */
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d", 0755, 0, NULL, NULL), 0);
	assert_false(host_has_label(fe, "d", "lbl"));
	assert_true(fe_alive(fe));
}

static void test_label_trailing(void **state)
{
	struct fe *fe = *state;
	struct extbuf x = {0};
	struct fe_reply r;

	ext_secctx(&x, "security.selinux", "old", 3, 1);
	struct fuse_mkdir_in mi = {.mode = 0755};
	struct iovec a[] = {IOV(&mi, sizeof(mi)), NAME("d"), IOV(x.b, x.len)};
	assert_int_equal(raw_err(fe, FUSE_MKDIR, FUSE_ROOT_ID, a, 3, NULL), 0);
	assert_true(host_has_label(fe, "d", "old"));
	struct iovec as[] = {NAME("s"), NAME("target"), IOV(x.b, x.len)};
	assert_int_equal(raw_err(fe, FUSE_SYMLINK, FUSE_ROOT_ID, as, 3, NULL), 0);
	assert_true(host_has_label(fe, "s", "old"));
	struct fuse_create_in ci = {.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0600};
	struct iovec ac[] = {IOV(&ci, sizeof(ci)), NAME("c"), IOV(x.b, x.len)};
	assert_int_equal(
	    fe_check_reply(raw(fe, FUSE_CREATE, FUSE_ROOT_ID, ac, 3, NULL, &r), &r, -1), 0);
	fe_reply_free(&r);
	assert_true(host_has_label(fe, "c", "old"));
	/* A trailing record that lies about its size: nothing created. */
	((struct fuse_ext_header *)(void *)x.b)->size = 4096;
	struct iovec ab[] = {IOV(&mi, sizeof(mi)), NAME("bad"), IOV(x.b, x.len)};
	assert_int_equal(raw_err(fe, FUSE_MKDIR, FUSE_ROOT_ID, ab, 3, NULL), -EINVAL);
	struct stat st;

	assert_int_equal(lstat(host(fe, "bad"), &st), -1);
}

/* Each malformed area: EINVAL (or EOPNOTSUPP), and nothing created. A macro, for the line. */
#define check_bad_ext(fe, x, units, want)                                                          \
	do {                                                                                       \
		struct rq q_ = {.ext = (x)->b, .extlen = (x)->len, .ext_units = (units)};          \
		struct stat st_;                                                                   \
                                                                                                   \
		assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "bad", 0755, 0, &q_, NULL), want);     \
		assert_int_equal(lstat(host(fe, "bad"), &st_), -1);                                \
	} while (0)

static void test_ext_malformed(void **state)
{
	struct fe *fe = *state;
	struct extbuf x;
	uint32_t g[2] = {1, 2};
	static const uint8_t zero[64];

	/* total_extlen past the request. */
	x = (struct extbuf){0};
	ext_secctx(&x, "security.selinux", "l", 1, 1);
	check_bad_ext(fe, &x, 200, -EINVAL);
	/* A record claiming more than the area holds, one shorter than its header, one not a
	 * multiple of 8 bytes. */
	x = (struct extbuf){0};
	ext_raw(&x, 64, 1, zero, 8);
	check_bad_ext(fe, &x, 0, -EINVAL);
	x = (struct extbuf){0};
	ext_raw(&x, 0, 40, zero, 8);
	check_bad_ext(fe, &x, 0, -EINVAL);
	x = (struct extbuf){0};
	ext_raw(&x, 12, 40, zero, 8);
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* A context whose value runs past its record. */
	x = (struct extbuf){0};
	ext_secctx(&x, "security.selinux", "l", 1, 1);
	((struct fuse_secctx *)(void *)(x.b + 8))->size = 4000;
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* A name without its NUL inside the record. */
	x = (struct extbuf){0};
	ext_secctx(&x, "security.selinux", "", 0, 1);
	memset(x.b + 16, 'a', x.len - 16);
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* Not a security.* name; two contexts in one record; two context records. */
	x = (struct extbuf){0};
	ext_secctx(&x, "trusted.vfsdtest", "l", 1, 1);
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* A security.* name that is no LSM's label: file capabilities (no --xattr here), integrity
	 * data. */
	static const char *const not_labels[] = { "security.capability", "security.ima",
						  "security.vfsdtest" };

	for (size_t i = 0; i < sizeof(not_labels) / sizeof(not_labels[0]); i++) {
		x = (struct extbuf){0};
		ext_secctx(&x, not_labels[i], "\x01\0\0\x02", 4, 1);
		check_bad_ext(fe, &x, 0, -EINVAL);
	}
	x = (struct extbuf){0};
	ext_secctx(&x, "security.selinux", "l", 1, 2);
	check_bad_ext(fe, &x, 0, -EOPNOTSUPP);
	x = (struct extbuf){0};
	ext_secctx(&x, "security.selinux", "l", 1, 1);
	ext_secctx(&x, "security.selinux", "m", 1, 1);
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* Group lists claiming more than their record carries (3 would fit in its padding). */
	x = (struct extbuf){0};
	ext_groups(&x, g, 2, 4);
	check_bad_ext(fe, &x, 0, -EINVAL);
	x = (struct extbuf){0};
	ext_groups(&x, g, 1, 0x7fffffff);
	check_bad_ext(fe, &x, 0, -EINVAL);
	x = (struct extbuf){0};
	ext_groups(&x, g, 1, 1);
	ext_groups(&x, g, 1, 1);
	check_bad_ext(fe, &x, 0, -EINVAL);
	/* An unknown record type is skipped. */
	x = (struct extbuf){0};
	ext_raw(&x, 16, 77, "12345678", 8);
	struct rq q = {.ext = x.b, .extlen = x.len};
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "ok", 0755, 0, &q, NULL), 0);
	assert_true(fe_alive(fe));
}

/* FUSE_EXT_GROUPS: the parent's group lets the caller in, for that request only. */
static void test_supp_groups(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out d, e;
	struct extbuf x = {0};
	uint32_t g = 4321;
	struct stat st;

	assert_int_equal(mkdir(host(fe, "g"), 0770), 0);
	assert_int_equal(chown(host(fe, "g"), 0, 4321), 0);
	assert_int_equal(chmod(host(fe, "g"), 0770), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "g", &d), 0);
	struct rq q = {.uid = 1234, .gid = 1234};

	assert_int_equal(mkdir_rq(fe, d.nodeid, "x", 0755, 0, &q, NULL), -EACCES);
	ext_groups(&x, &g, 1, 1);
	q.ext = x.b;
	q.extlen = x.len;
	assert_int_equal(mkdir_rq(fe, d.nodeid, "x", 0755, 0, &q, &e), 0);
	assert_int_equal(stat(host(fe, "g/x"), &st), 0);
	assert_int_equal(st.st_uid, 1234);
	/* Dropped again after the request. */
	q.extlen = 0;
	assert_int_equal(mkdir_rq(fe, d.nodeid, "y", 0755, 0, &q, NULL), -EACCES);
}

/* --- POSIX ACLs --- */

static size_t acl_blob(uint8_t *b, uint16_t uperm, uint16_t gperm, uint16_t operm)
{
	const uint16_t tags[3] = {0x01, 0x04, 0x20}, perms[3] = {uperm, gperm, operm};
	uint32_t v = 2, id = 0xffffffffu;

	memcpy(b, &v, 4);
	for (int i = 0; i < 3; i++) {
		memcpy(b + 4 + i * 8, &tags[i], 2);
		memcpy(b + 6 + i * 8, &perms[i], 2);
		memcpy(b + 8 + i * 8, &id, 4);
	}
	return 28;
}

static void test_acl(void **state)
{
	struct fe *fe = *state;
	uint64_t f = make_file(fe, "a", 02770);
	uint8_t acl[64];
	size_t n = acl_blob(acl, 7, 7, 0);
	struct stat st;

	/* Without ACL_KILL_SGID the set-group-id bit stays; with it, it goes. */
	assert_int_equal(setx(fe, f, "system.posix_acl_access", acl, (uint32_t)n, 0, true, 0), 0);
	assert_int_equal(stat(host(fe, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 02770);
	n = acl_blob(acl, 7, 5, 0);
	assert_int_equal(setx(fe, f, "system.posix_acl_access", acl, (uint32_t)n, 0, true,
			      FUSE_SETXATTR_ACL_KILL_SGID),
			 0);
	assert_int_equal(stat(host(fe, "a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* DONT_MASK: the request's umask applies only where no default ACL decides. */
	struct fuse_entry_out e;

	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "m", 0777, 022, NULL, &e), 0);
	assert_int_equal(stat(host(fe, "m"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	n = acl_blob(acl, 7, 7, 7);
	assert_int_equal(
	    setx(fe, e.nodeid, "system.posix_acl_default", acl, (uint32_t)n, 0, true, 0), 0);
	assert_int_equal(mkdir_rq(fe, e.nodeid, "in", 0777, 022, NULL, NULL), 0);
	assert_int_equal(stat(host(fe, "m/in"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0777);
}

/* --- --translate-uid/--translate-gid --- */

static void test_translate(void **state)
{
	struct fe *fe = *state;
	struct rq q = {.uid = 1000, .gid = 1000};
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct stat st;

	assert_int_equal(chmod(host(fe, ""), 0777), 0);
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "d", 0755, 0, &q, &e), 0);
	assert_int_equal(stat(host(fe, "d"), &st), 0);
	assert_int_equal(st.st_uid, 2000);
	assert_int_equal(st.st_gid, 2000);
	assert_int_equal(e.attr.uid, 1000);
	assert_int_equal(e.attr.gid, 1000);
	/* Host owners come back translated; ids outside every range pass. */
	assert_int_equal(close(open(host(fe, "h"), O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(chown(host(fe, "h"), 2005, 2006), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "h", &e), 0);
	assert_int_equal(e.attr.uid, 1005);
	assert_int_equal(e.attr.gid, 1006);
	assert_int_equal(chown(host(fe, "h"), 5, 6), 0);
	assert_int_equal(fe_getattr(fe, e.nodeid, &a), 0);
	assert_int_equal(a.attr.uid, 5);
	assert_int_equal(a.attr.gid, 6);
	/* chown translates the new owner. */
	struct fuse_setattr_in sa = {.valid = FATTR_UID | FATTR_GID, .uid = 1001, .gid = 1002};
	struct iovec as[] = {IOV(&sa, sizeof(sa))};
	struct fe_reply r;

	assert_int_equal(
	    fe_check_reply(raw(fe, FUSE_SETATTR, e.nodeid, as, 1, NULL, &r), &r, sizeof(a)), 0);
	memcpy(&a, r.data, sizeof(a));
	fe_reply_free(&r);
	assert_int_equal(stat(host(fe, "h"), &st), 0);
	assert_int_equal(st.st_uid, 2001);
	assert_int_equal(st.st_gid, 2002);
	assert_int_equal(a.attr.uid, 1001);
	/* A forbidden guest id creates nothing. */
	q.uid = 3000;
	assert_int_equal(mkdir_rq(fe, FUSE_ROOT_ID, "no", 0755, 0, &q, NULL), -EPERM);
	/* Supplementary groups are translated too: guest 1500 is host 2500. */
	struct extbuf x = {0};
	uint32_t g = 1005;
	struct fuse_entry_out d;

	assert_int_equal(mkdir(host(fe, "g"), 0770), 0);
	assert_int_equal(chown(host(fe, "g"), 0, 2005), 0);
	assert_int_equal(chmod(host(fe, "g"), 0770), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "g", &d), 0);
	assert_int_equal(d.attr.gid, 1005);
	ext_groups(&x, &g, 1, 1);
	q = (struct rq){.uid = 1000, .gid = 1000, .ext = x.b, .extlen = x.len};
	assert_int_equal(mkdir_rq(fe, d.nodeid, "x", 0755, 0, &q, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup_xattr, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_malformed, setup_xattr, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_disabled, setup_plain, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_map, setup_map, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_capability_killpriv, setup_capmap,
					    fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_label, setup_label, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_label_not_agreed, setup_nolabel,
					    fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_label_trailing, setup_label37,
					    fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_ext_malformed, setup_label, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_supp_groups, setup_label, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_acl, setup_acl, fe_teardown_checked),
	    cmocka_unit_test_setup_teardown(test_translate, setup_translate, fe_teardown_checked),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-xattr", tests, NULL, NULL);
}
