/*
 * Fake frontend: live migration as QEMU drives it. Dirty logging (SET_LOG_BASE, VHOST_F_LOG_ALL,
 * VHOST_VRING_F_LOG: the pages the daemon writes are marked, nothing outside the log is
 * touched), the device state transfer (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE) from one daemon
 * to a second one on the same directory that then serves the first one's node and handle ids
 * without an INIT, streams a destination must refuse (with the reason in its log), and a
 * source that serves on after its destination refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fe_test.h"
#include "fs/mig_stream.h"

#define VU_SET_DEVICE_STATE_FD 42
#define VU_CHECK_DEVICE_STATE 43
#define VU_PF_DEVICE_STATE 19
#define VU_F_LOG_ALL 26
#define LOG_PAGE 4096ull

#define IOV(p, n) ((struct iovec){.iov_base = (void *)(p), .iov_len = (n)})
#define OUT_HDR sizeof(struct fuse_out_header)

static uint64_t pf(unsigned b)
{
	return 1ull << b;
}

/* Ack LOG_SHMFD and DEVICE_STATE on top of what fe_negotiate acked (QEMU acks them up front;
 * a second SET_PROTOCOL_FEATURES is as good for the daemon). */
static void ack_migration_features(struct fe *fe)
{
	uint64_t want = pf(FE_VU_PF_LOG_SHMFD) | pf(VU_PF_DEVICE_STATE);

	assert_int_equal(fe->dev_protocol & want, want);
	fe->acked_protocol |= want;
	assert_int_equal(
	    fe_vu_send(fe, FE_VU_SET_PROTOCOL_FEATURES, 0, &fe->acked_protocol, 8, NULL, 0), 0);
}

static uint64_t recv_u64(struct fe *fe, uint32_t req)
{
	struct fe_vu_hdr h;
	uint64_t v = ~0ull;
	int r = fe_vu_recv(fe, &h, &v, sizeof(v), FE_TIMEOUT_MS);

	if (r != 8 || h.request != req)
		fail_msg("reply to %u: size %d, request %u", req, r, h.request);
	return v;
}

struct log {
	int fd;
	uint8_t *bits;
	size_t size;   /* bytes the daemon is told */
	size_t mapped; /* bytes of the memfd */
};

/* A dirty log of size bytes in a memfd of mapped bytes, given with SET_LOG_BASE. */
static struct log give_log(struct fe *fe, size_t size, size_t mapped)
{
	struct log l = {.size = size, .mapped = mapped};
	uint64_t desc[2] = {size, 0};

	l.fd = memfd_create("dirty-log", MFD_CLOEXEC);
	assert_true(l.fd >= 0);
	assert_int_equal(ftruncate(l.fd, (off_t)mapped), 0);
	l.bits = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_SHARED, l.fd, 0);
	assert_true(l.bits != MAP_FAILED);
	assert_int_equal(fe_vu_send(fe, FE_VU_SET_LOG_BASE, 0, desc, sizeof(desc), &l.fd, 1), 0);
	assert_int_equal(recv_u64(fe, FE_VU_SET_LOG_BASE), 0);
	return l;
}

static void drop_log(struct log *l)
{
	munmap(l->bits, l->mapped);
	close(l->fd);
}

static bool page_marked(const struct log *l, uint64_t gpa)
{
	uint64_t p = gpa / LOG_PAGE;

	return p / 8 < l->size && (l->bits[p / 8] >> (p % 8)) & 1;
}

static unsigned marked_pages(const struct log *l)
{
	unsigned n = 0;

	for (size_t i = 0; i < l->size; i++)
		n += __builtin_popcount(l->bits[i]);
	return n;
}

/* Logging as QEMU turns it on: LOG_ALL in the features, each ring's address again with
 * VHOST_VRING_F_LOG and its used ring's guest address. */
static void logging(struct fe *fe, bool on)
{
	uint64_t f = fe->acked_features | (on ? 1ull << VU_F_LOG_ALL : 0);

	assert_int_equal(fe_vu_set_u64(fe, FE_VU_SET_FEATURES, f, NULL, 0), 0);
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++) {
		struct fe_vq *vq = &fe->vq[q];
		struct fe_vu_vring_addr a = {.index = q,
					     .flags = on ? 1 : 0,
					     .desc_user_addr = (uintptr_t)vq->desc,
					     .used_user_addr = (uintptr_t)vq->used,
					     .avail_user_addr = (uintptr_t)vq->avail,
					     .log_guest_addr = vq->used_gpa};

		assert_int_equal(fe_vu_set(fe, FE_VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	}
}

/* One GETATTR of the root; returns the guest address of its reply. */
static uint64_t getattr_gpa(struct fe *fe)
{
	struct fuse_getattr_in g = {0};
	struct iovec a[] = {IOV(&g, sizeof(g))};
	const size_t cap = OUT_HDR + sizeof(struct fuse_attr_out);
	uint64_t uniq, gpa;
	uint32_t id, len;

	assert_int_equal(fe_fuse_post(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, cap, NULL, &uniq, &gpa),
			 0);
	assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len), 0);
	assert_int_equal(len, cap);
	return gpa;
}

static void test_dirty_log(void **state)
{
	struct fe *fe = *state;
	/* one bit per page of everything up to the end of guest RAM */
	size_t size = (FE_GPA_BASE + fe->mem_size) / LOG_PAGE / 8;
	struct log l;
	uint64_t gpa;

	ack_migration_features(fe);
	l = give_log(fe, size, size);
	logging(fe, true);
	memset(l.bits, 0, l.size);
	gpa = getattr_gpa(fe);
	assert_true(page_marked(&l, gpa));				      /* the reply */
	assert_true(page_marked(&l, fe->vq[FE_REQ_Q].used_gpa));	      /* the used ring */
	assert_false(page_marked(&l, FE_GPA_BASE + fe->mem_size - LOG_PAGE)); /* untouched */
	/* the reply's page (two if it straddles) and the used ring's three (8198 bytes) */
	assert_true(marked_pages(&l) <= 5);
	assert_false(page_marked(&l, fe->vq[FE_REQ_Q].desc_gpa)); /* read, never written */

	/* off again: nothing is marked */
	logging(fe, false);
	memset(l.bits, 0, l.size);
	getattr_gpa(fe);
	assert_int_equal(marked_pages(&l), 0);
	drop_log(&l);
}

/* A log smaller than guest memory: the daemon marks nothing outside it and says so. */
static void test_dirty_log_bounds(void **state)
{
	struct fe *fe = *state;
	struct log l;

	ack_migration_features(fe);
	l = give_log(fe, 16, 4096); /* 128 pages from guest address 0: below guest RAM */
	logging(fe, true);
	getattr_gpa(fe);
	for (size_t i = 0; i < l.mapped; i++)
		assert_int_equal(l.bits[i], 0);
	assert_true(fe_log_contains(fe, "outside the dirty log"));
	drop_log(&l);
	/* a log larger than its fd: refused, and the connection closes (no log to honour) */
	{
		int fd = memfd_create("short-log", MFD_CLOEXEC);
		uint64_t desc[2] = {1 << 20, 0};
		struct fe_vu_hdr h;
		uint64_t v;

		assert_int_equal(ftruncate(fd, 4096), 0);
		assert_int_equal(fe_vu_send(fe, FE_VU_SET_LOG_BASE, 0, desc, 16, &fd, 1), 0);
		close(fd);
		assert_int_equal(fe_vu_recv(fe, &h, &v, sizeof(v), FE_TIMEOUT_MS), -ECONNRESET);
		assert_true(fe_log_contains(fe, "holds fewer than"));
	}
}

static void stop_queues(struct fe *fe)
{
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++) {
		uint32_t base;

		assert_int_equal(fe_vu_get_vring_base(fe, q, &base), 0);
	}
}

static void start_queues(struct fe *fe)
{
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_start(fe, q), 0);
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_enable(fe, q, true), 0);
}

static uint64_t set_state_fd(struct fe *fe, uint32_t dir, uint32_t phase, int fd)
{
	uint32_t p[2] = {dir, phase};

	assert_int_equal(fe_vu_send(fe, VU_SET_DEVICE_STATE_FD, 0, p, sizeof(p), &fd, 1), 0);
	return recv_u64(fe, VU_SET_DEVICE_STATE_FD);
}

static uint64_t check_state(struct fe *fe)
{
	assert_int_equal(fe_vu_send(fe, VU_CHECK_DEVICE_STATE, 0, NULL, 0, NULL, 0), 0);
	return recv_u64(fe, VU_CHECK_DEVICE_STATE);
}

/* SAVE on a stopped device: the bytes the daemon writes into the pipe. */
static uint8_t *save(struct fe *fe, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap);
	int p[2];
	ssize_t k;

	assert_non_null(buf);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_state_fd(fe, 0, 0, p[1]), 0x100); /* ok, no fd of its own */
	close(p[1]);
	while ((k = read(p[0], buf + n, cap - n)) > 0)
		n += (size_t)k;
	close(p[0]);
	assert_int_equal(check_state(fe), 0);
	*len = n;
	return buf;
}

/* LOAD: 0 when the destination took the state. */
static uint64_t load(struct fe *fe, const uint8_t *buf, size_t len)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_state_fd(fe, 1, 0, p[0]), 0x100);
	close(p[0]);
	assert_int_equal(write(p[1], buf, len), (ssize_t)len);
	close(p[1]);
	return check_state(fe);
}

/* A destination daemon on the source's directory, negotiated, queues stopped, no INIT. */
static struct fe *destination(struct fe *src)
{
	struct fe_opts o = {.share_dir = src->share};
	void *st = NULL;

	assert_int_equal(fe_test_start(&st, &o, false), 0);
	ack_migration_features(st);
	stop_queues(st);
	return st;
}

struct src_files {
	struct fuse_entry_out d, f;
	uint64_t fh;
};

static void populate(struct fe *fe, struct src_files *s)
{
	uint32_t n;

	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "d", S_IFDIR | 0755, &s->d), 0);
	assert_int_equal(
	    fe_create(fe, s->d.nodeid, "f", O_RDWR | O_CREAT, S_IFREG | 0644, &s->f, &s->fh), 0);
	assert_int_equal(fe_write(fe, s->f.nodeid, s->fh, 0, "migrated", 8, NULL, &n), 0);
}

/* The source with files in use, stopped and saved: its bytes, and them decoded into *ms. */
static uint8_t *populate_and_save(struct fe *src, struct src_files *s, size_t *len,
				  struct mig_state *ms)
{
	char why[256];
	uint8_t *bytes;

	populate(src, s);
	ack_migration_features(src);
	stop_queues(src);
	bytes = save(src, len);
	if (mig_state_decode(bytes, *len, NULL, ms, why, sizeof(why)) < 0)
		fail_msg("the source's stream: %s", why);
	return bytes;
}

static void test_save_load(void **state)
{
	struct fe *src = *state, *dst;
	struct src_files s;
	struct mig_state ms;
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	char buf[16] = {0};
	uint8_t *bytes;
	size_t len;
	uint32_t got;

	bytes = populate_and_save(src, &s, &len, &ms);
	/* what the source sent: its ids, in the Rust daemon's layout */
	assert_int_equal(ms.version, MIG_V2);
	assert_int_equal(ms.ninodes, 3);
	assert_int_equal(ms.nhandles, 1);
	assert_true(ms.handles[0].id == s.fh && ms.handles[0].inode == s.f.nodeid);
	assert_true(ms.fuse.present);
	mig_state_free(&ms);

	dst = destination(src);
	assert_int_equal(load(dst, bytes, len), 0);
	start_queues(dst);
	/* no INIT: the source's node and handle ids work */
	assert_int_equal(fe_getattr(dst, s.f.nodeid, &a), 0);
	assert_int_equal(a.attr.ino, s.f.attr.ino);
	assert_int_equal(fe_read(dst, s.f.nodeid, s.fh, 0, buf, 8, NULL, &got), 0);
	assert_int_equal(got, 8);
	assert_string_equal(buf, "migrated");
	assert_int_equal(fe_lookup(dst, s.d.nodeid, "f", &e), 0);
	assert_true(e.nodeid == s.f.nodeid);
	assert_int_equal(fe_release(dst, s.f.nodeid, s.fh, false), 0);
	assert_true(fe_log_contains(dst, "state loaded"));
	free(bytes);
	void *st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

static void expect_refused(struct fe *dst, const uint8_t *b, size_t n, const char *reason)
{
	assert_int_not_equal(load(dst, b, n), 0);
	if (!fe_log_contains(dst, reason)) {
		fe_dump_log(dst);
		fail_msg("no \"%s\" in the destination's log", reason);
	}
}

static void test_bad_streams(void **state)
{
	struct fe *src = *state, *dst;
	struct fuse_attr_out a;
	/* V2, the root, a handle on inode 9 that is not in the stream */
	const uint8_t orphan[] = {0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x02, 0x01, 0x00,
				  0x09, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
	/* V2, the root and inode 2 named ".." under it */
	const uint8_t dotdot[] = {0x01, 0x02, 0x01, 0x03, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01, 0x02,
				  '.',	'.',  0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	const uint8_t version9[] = {0x09, 0x00};
	uint8_t *good;
	size_t len;

	dst = destination(src);
	expect_refused(dst, NULL, 0, "empty state");
	expect_refused(dst, version9, sizeof(version9), "unknown state version");
	expect_refused(dst, orphan, sizeof(orphan), "handle 0: inode 9 is not in the state");
	expect_refused(dst, dotdot, sizeof(dotdot), "inode 2: name is not one path component");
	ack_migration_features(src);
	stop_queues(src);
	good = save(src, &len);
	expect_refused(dst, good, len - 1, "truncated");
	/* direction, phase, suspension, checks without a transfer */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	assert_int_equal(set_state_fd(dst, 1, 1, null), 0x101);
	assert_true(fe_log_contains(dst, "unknown migration phase"));
	assert_int_equal(set_state_fd(dst, 7, 0, null), 0x101);
	assert_true(fe_log_contains(dst, "unknown transfer direction"));
	assert_int_not_equal(check_state(dst), 0);
	assert_true(fe_log_contains(dst, "CHECK_DEVICE_STATE without a transfer"));
	/* after all that, the real state loads */
	assert_int_equal(load(dst, good, len), 0);
	start_queues(dst);
	assert_int_equal(set_state_fd(dst, 0, 0, null), 0x101); /* queues run again */
	close(null);
	assert_true(fe_log_contains(dst, "the device is not suspended"));
	assert_int_equal(fe_getattr(dst, FUSE_ROOT_ID, &a), 0);
	free(good);
	void *st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

/* SETLK of a write lock on the whole file: the reply's errno. */
static int setlk_whole(struct fe *fe, uint64_t node, uint64_t fh)
{
	struct fuse_lk_in in = {
	    .fh = fh, .owner = 7, .lk = {.type = F_WRLCK, .end = INT64_MAX, .pid = 1}};
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc = fe_check_reply(fe_fuse_req(fe, FUSE_SETLK, node, a, 1, 256, NULL, &r), &r, 0);

	fe_reply_free(&r);
	return rc;
}

static uint8_t *encode(const struct mig_state *ms, size_t *len)
{
	uint8_t *b;

	assert_int_equal(mig_state_encode(ms, 1u << 20, &b, len), 0);
	return b;
}

/* The source's FUSE block is checked, not trusted: a protocol this daemon does not speak is
 * refused; a flag it was not started to offer stays off (a source that claims POSIX_LOCKS does
 * not turn on locks that this daemon's user left off). */
static void test_forged_session(void **state)
{
	const uint32_t bad_minor[] = {0, 26};
	struct fe *src = *state, *dst;
	struct src_files s;
	struct mig_state ms;
	uint8_t *bytes, *forged;
	size_t len, flen;

	bytes = populate_and_save(src, &s, &len, &ms);
	assert_true(ms.fuse.present);
	assert_false(ms.fuse.flags & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS));
	dst = destination(src);
	for (size_t i = 0; i < sizeof(bad_minor) / sizeof(bad_minor[0]); i++) {
		char reason[96];

		ms.fuse.minor = bad_minor[i];
		forged = encode(&ms, &flen);
		snprintf(reason, sizeof(reason),
			 "has protocol 7.%u, this daemon needs 7.27 or newer", bad_minor[i]);
		expect_refused(dst, forged, flen, reason);
		free(forged);
	}
	ms.fuse.minor = 41; /* the guest's minor, as a 6.12 guest sends: above ours is fine */
	ms.fuse.flags |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
	forged = encode(&ms, &flen);
	assert_int_equal(load(dst, forged, flen), 0);
	start_queues(dst);
	assert_int_equal(setlk_whole(dst, s.f.nodeid, s.fh), -ENOSYS);
	assert_true(fe_log_contains(dst, "this daemon does not offer with its options"));
	assert_int_equal(fe_release(dst, s.f.nodeid, s.fh, false), 0);
	mig_state_free(&ms);
	free(forged);
	free(bytes);
	void *st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

/* Queues set up while a load runs do not start before CHECK_DEVICE_STATE: no request runs
 * beside the load. */
static void test_queues_wait_for_load(void **state)
{
	struct fe *src = *state, *dst;
	struct fuse_getattr_in g = {0};
	struct iovec a[] = {IOV(&g, sizeof(g))};
	const size_t cap = OUT_HDR + sizeof(struct fuse_attr_out);
	uint64_t uniq, gpa;
	uint32_t id, len;
	uint8_t *bytes;
	size_t n;
	int p[2];

	ack_migration_features(src);
	stop_queues(src);
	bytes = save(src, &n);
	dst = destination(src);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_state_fd(dst, 1, 0, p[0]), 0x100);
	close(p[0]);
	start_queues(dst);
	assert_int_equal(
	    fe_fuse_post(dst, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, cap, NULL, &uniq, &gpa), 0);
	assert_int_equal(fe_vq_wait(dst, FE_REQ_Q, 300, &id, &len), -ETIMEDOUT);
	assert_int_equal(write(p[1], bytes, n), (ssize_t)n);
	close(p[1]);
	assert_int_equal(check_state(dst), 0);
	assert_int_equal(fe_vq_wait(dst, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len), 0);
	assert_int_equal(len, cap);
	free(bytes);
	void *st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

/* The destination refuses; the source resumes (QEMU restarts its rings) and serves on. */
static void test_refusing_destination(void **state)
{
	struct fe *src = *state, *dst;
	struct src_files s;
	struct fuse_attr_out a;
	char buf[16] = {0};
	uint8_t *bytes;
	size_t len;
	uint32_t got;

	populate(src, &s);
	ack_migration_features(src);
	stop_queues(src);
	bytes = save(src, &len);
	dst = destination(src);
	expect_refused(dst, bytes, len / 2, "truncated");
	start_queues(src);
	assert_int_equal(fe_getattr(src, s.f.nodeid, &a), 0);
	assert_int_equal(fe_read(src, s.f.nodeid, s.fh, 0, buf, 8, NULL, &got), 0);
	assert_string_equal(buf, "migrated");
	/* and it can be saved again (a second attempt) */
	stop_queues(src);
	free(bytes);
	bytes = save(src, &len);
	assert_int_equal(load(dst, bytes, len), 0);
	free(bytes);
	void *st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

/*
 * Against the Rust virtiofsd (RUST_VIRTIOFSD: its binary, e.g. from scripts/peers.sh): its
 * stream decodes here and loads into ours; ours loads into it. Skipped, and said so, without.
 */
static struct fe *start_rust(const struct fe_opts *o, bool init)
{
	const char *rust = getenv("RUST_VIRTIOFSD");
	const char *old = getenv("VIRTIOFSD");
	char *saved = old ? strdup(old) : NULL;
	void *st = NULL;
	int r;

	setenv("VIRTIOFSD", rust, 1);
	r = fe_test_start(&st, o, init);
	if (saved)
		setenv("VIRTIOFSD", saved, 1);
	else
		unsetenv("VIRTIOFSD");
	free(saved);
	assert_int_equal(r, 0);
	return st;
}

static bool have_rust(void)
{
	const char *rust = getenv("RUST_VIRTIOFSD");

	if (rust && *rust && access(rust, X_OK) == 0)
		return true;
	fprintf(stderr, "SKIP: RUST_VIRTIOFSD is not set to the Rust virtiofsd binary "
			"(scripts/peers.sh fetches it)\n");
	return false;
}

static void test_rust_to_ours(void **state)
{
	struct fe *src, *dst;
	struct src_files s;
	struct mig_state ms;
	struct fuse_attr_out a;
	char buf[16] = {0}, why[256];
	uint8_t *bytes;
	size_t len;
	uint32_t got;
	void *st;

	if (!have_rust())
		skip();
	src = start_rust(NULL, true);
	populate(src, &s);
	ack_migration_features(src);
	stop_queues(src);
	bytes = save(src, &len);
	if (mig_state_decode(bytes, len, NULL, &ms, why, sizeof(why)) < 0)
		fail_msg("the Rust daemon's stream (%zu bytes) refused: %s", len, why);
	assert_int_equal(ms.version, MIG_V2);
	assert_false(ms.fuse.present);
	assert_int_equal(ms.nhandles, 1);
	assert_true(ms.handles[0].id == s.fh && ms.handles[0].inode == s.f.nodeid);
	mig_state_free(&ms);

	dst = destination(src);
	assert_int_equal(load(dst, bytes, len), 0);
	start_queues(dst);
	assert_int_equal(fe_getattr(dst, s.f.nodeid, &a), 0);
	assert_int_equal(a.attr.ino, s.f.attr.ino);
	assert_int_equal(fe_read(dst, s.f.nodeid, s.fh, 0, buf, 8, NULL, &got), 0);
	assert_string_equal(buf, "migrated");
	free(bytes);
	st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
	st = src;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

static void test_ours_to_rust(void **state)
{
	struct fe *src = *state, *dst;
	struct src_files s;
	struct fuse_attr_out a;
	struct fe_opts o = {.share_dir = src->share};
	char buf[16] = {0};
	uint8_t *bytes;
	size_t len;
	uint32_t got;
	void *st;

	if (!have_rust())
		skip();
	populate(src, &s);
	ack_migration_features(src);
	stop_queues(src);
	bytes = save(src, &len);
	dst = start_rust(&o, false);
	ack_migration_features(dst);
	stop_queues(dst);
	if (load(dst, bytes, len) != 0) {
		fe_dump_log(dst);
		fail_msg("the Rust daemon refused our stream");
	}
	start_queues(dst);
	assert_int_equal(fe_getattr(dst, s.f.nodeid, &a), 0);
	assert_int_equal(a.attr.ino, s.f.attr.ino);
	assert_int_equal(fe_read(dst, s.f.nodeid, s.fh, 0, buf, 8, NULL, &got), 0);
	assert_string_equal(buf, "migrated");
	free(bytes);
	st = dst;
	assert_int_equal(fe_teardown_checked(&st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    FE_T(test_dirty_log),
	    FE_T(test_dirty_log_bounds),
	    FE_T(test_save_load),
	    FE_T(test_bad_streams),
	    FE_T(test_forged_session),
	    FE_T(test_refusing_destination),
	    FE_T(test_queues_wait_for_load),
	    cmocka_unit_test(test_rust_to_ours),
	    FE_T(test_ours_to_rust),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-migration", tests, NULL, NULL);
}
