/*
 * Fake frontend: locks on the host file (--posix-lock, --flock), SETLKW that waits without
 * holding up its queue, INTERRUPT and queue stop/disconnect with a wait in progress, malformed
 * lock arguments; TMPFILE, STATX, and --allow-mmap negotiation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fe_test.h"
#include "uapi/fuse_compat.h"

#define IOV(p, n) ((struct iovec){.iov_base = (void *)(p), .iov_len = (n)})
#define OUT_HDR sizeof(struct fuse_out_header)
#define OWNER_A 0x1111
#define OWNER_B 0x2222
#define LK_CAP (OUT_HDR + sizeof(struct fuse_lk_out))

static int init_flags(struct fe *fe, uint64_t flags, struct fuse_init_out *out)
{
	struct fuse_init_in in = {
	    .major = 7,
	    .minor = 38,
	    .max_readahead = 128 << 10,
	    .flags = (uint32_t)flags | FUSE_INIT_EXT,
	    .flags2 = (uint32_t)(flags >> 32),
	};
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_INIT, 0, a, 1, OUT_HDR + sizeof(*out), NULL, &r);

	rc = fe_check_reply(rc, &r, sizeof(*out));
	if (rc == 0)
		memcpy(out, r.data, sizeof(*out));
	fe_reply_free(&r);
	return rc;
}

static int setup_locks(void **state)
{
	struct fe_opts o = {.daemon_args = "--posix-lock --flock"};
	struct fuse_init_out io;

	if (fe_test_start(state, &o, false) < 0)
		return -1;
	if (init_flags(*state, FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS, &io) != 0)
		return -1;
	return (io.flags & FUSE_POSIX_LOCKS) && (io.flags & FUSE_FLOCK_LOCKS) ? 0 : -1;
}

static struct fuse_lk_in mk_lk(uint64_t fh, uint64_t owner, uint32_t type, uint64_t start,
			       uint64_t end, uint32_t flags)
{
	struct fuse_lk_in in;

	memset(&in, 0, sizeof(in));
	in.fh = fh;
	in.owner = owner;
	in.lk = (struct fuse_file_lock){.type = type, .start = start, .end = end, .pid = 1};
	in.lk_flags = flags;
	return in;
}

static int setlk(struct fe *fe, uint64_t node, uint64_t fh, uint64_t owner, uint32_t type,
		 uint64_t start, uint64_t end, uint32_t flags)
{
	struct fuse_lk_in in = mk_lk(fh, owner, type, start, end, flags);
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc = fe_check_reply(fe_fuse_req(fe, FUSE_SETLK, node, a, 1, 256, NULL, &r), &r, 0);

	fe_reply_free(&r);
	return rc;
}

static int getlk(struct fe *fe, uint64_t node, uint64_t fh, uint64_t owner, uint32_t type,
		 uint64_t start, uint64_t end, struct fuse_file_lock *out)
{
	struct fuse_lk_in in = mk_lk(fh, owner, type, start, end, 0);
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_GETLK, node, a, 1, LK_CAP, NULL, &r);

	rc = fe_check_reply(rc, &r, sizeof(struct fuse_lk_out));
	if (rc == 0)
		memcpy(out, r.data, sizeof(*out));
	fe_reply_free(&r);
	return rc;
}

static void make_file(struct fe *fe, const char *name, uint64_t *node, uint64_t *fh)
{
	struct fuse_entry_out e;

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, name, O_RDWR, S_IFREG | 0644, &e, fh), 0);
	*node = e.nodeid;
}

static int host_open(struct fe *fe, const char *rel, int flags)
{
	char p[256];
	int fd = open(fe_share_path(fe, rel, p, sizeof(p)), flags | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

/* An OFD lock taken by the host side: F_SETLK never blocks. */
static int host_lock(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static int flush(struct fe *fe, uint64_t node, uint64_t fh, uint64_t owner)
{
	struct fuse_flush_in in = {.fh = fh, .lock_owner = owner};
	struct iovec a[] = {IOV(&in, sizeof(in))};
	struct fe_reply r;
	int rc = fe_check_reply(fe_fuse_req(fe, FUSE_FLUSH, node, a, 1, 256, NULL, &r), &r, 0);

	fe_reply_free(&r);
	return rc;
}

static void test_posix_owners(void **state)
{
	struct fe *fe = *state;
	struct fuse_file_lock l;
	uint64_t node, fh;
	int hfd;

	make_file(fe, "f", &node, &fh);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, 99, 0), 0);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_RDLCK, 0, 9, 0), 0); /* own: converts */
	assert_int_equal(setlk(fe, node, fh, OWNER_B, F_WRLCK, 50, 60, 0), -EAGAIN);
	assert_int_equal(setlk(fe, node, fh, OWNER_B, F_RDLCK, 0, 9, 0), 0); /* shared */
	assert_int_equal(getlk(fe, node, fh, OWNER_B, F_WRLCK, 20, INT64_MAX, &l), 0);
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 10);
	assert_int_equal(l.end, 99);
	assert_int_equal(l.pid, getpid()); /* the guest pid that took it (the request's) */
	assert_int_equal(getlk(fe, node, fh, OWNER_A, F_WRLCK, 20, 30, &l), 0);
	assert_int_equal(l.type, F_UNLCK); /* its own lock is no conflict */
	/* The host sees the guest's locks, and the guest the host's. */
	hfd = host_open(fe, "f", O_RDWR);
	assert_int_equal(host_lock(hfd, F_WRLCK, 50, 1), -EAGAIN);
	assert_int_equal(host_lock(hfd, F_WRLCK, 200, 100), 0);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 250, 260, 0), -EAGAIN);
	assert_int_equal(getlk(fe, node, fh, OWNER_A, F_RDLCK, 0, INT64_MAX, &l), 0);
	assert_int_equal(l.type, F_WRLCK);
	assert_int_equal(l.start, 200);
	assert_int_equal(l.end, 299);
	/* Unlocking a range, then closing: FLUSH drops everything the owner held. */
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_UNLCK, 50, 59, 0), 0);
	assert_int_equal(host_lock(hfd, F_WRLCK, 50, 10), 0);
	assert_int_equal(setlk(fe, node, fh, OWNER_B, F_UNLCK, 0, INT64_MAX, 0), 0);
	assert_int_equal(flush(fe, node, fh, OWNER_A), 0);
	assert_int_equal(host_lock(hfd, F_WRLCK, 0, 50), 0);
	assert_int_equal(host_lock(hfd, F_UNLCK, 0, 0), 0);
	assert_int_equal(setlk(fe, node, fh, OWNER_B, F_WRLCK, 0, INT64_MAX, 0), 0);
	/* An owner that never locked has nothing to unlock. */
	assert_int_equal(setlk(fe, node, fh, 0x9999, F_UNLCK, 0, INT64_MAX, 0), 0);
	/* An OFD lock's owner is the open file: RELEASE (no FLUSH names it) drops its locks. */
	assert_int_equal(setlk(fe, node, fh, OWNER_B, F_UNLCK, 0, INT64_MAX, 0), 0);
	assert_int_equal(setlk(fe, node, fh, 0x7777, F_WRLCK, 0, 0, 0), 0);
	assert_int_equal(host_lock(hfd, F_WRLCK, 0, 1), -EAGAIN);
	assert_int_equal(fe_release(fe, node, fh, false), 0);
	assert_int_equal(host_lock(hfd, F_WRLCK, 0, 1), 0);
	close(hfd);
}

static void test_flock(void **state)
{
	struct fe *fe = *state;
	struct fuse_release_in rel;
	struct iovec a[] = {IOV(&rel, sizeof(rel))};
	struct fe_reply r;
	uint64_t node, fh, fh2;
	int hfd;

	make_file(fe, "g", &node, &fh);
	assert_int_equal(fe_open(fe, node, O_RDONLY, false, &fh2), 0);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, INT64_MAX, FUSE_LK_FLOCK), 0);
	assert_int_equal(setlk(fe, node, fh2, OWNER_B, F_RDLCK, 0, INT64_MAX, FUSE_LK_FLOCK),
			 -EAGAIN);
	hfd = host_open(fe, "g", O_RDONLY);
	assert_int_equal(flock(hfd, LOCK_SH | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	/* The guest closed its file: RELEASE drops the flock. */
	memset(&rel, 0, sizeof(rel));
	rel.fh = fh;
	rel.release_flags = FUSE_RELEASE_FLOCK_UNLOCK;
	rel.lock_owner = OWNER_A;
	assert_int_equal(
	    fe_check_reply(fe_fuse_req(fe, FUSE_RELEASE, node, a, 1, 256, NULL, &r), &r, 0), 0);
	fe_reply_free(&r);
	assert_int_equal(flock(hfd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(setlk(fe, node, fh2, OWNER_B, F_RDLCK, 0, INT64_MAX, FUSE_LK_FLOCK),
			 -EAGAIN);
	assert_int_equal(flock(hfd, LOCK_UN), 0);
	assert_int_equal(setlk(fe, node, fh2, OWNER_B, F_RDLCK, 0, INT64_MAX, FUSE_LK_FLOCK), 0);
	close(hfd);
	assert_int_equal(fe_release(fe, node, fh2, false), 0);
}

/* Post a SETLKW without waiting for it; its reply lands at *reply_gpa. */
static void post_setlkw(struct fe *fe, uint64_t node, uint64_t fh, uint64_t owner, uint64_t *unique,
			uint64_t *reply_gpa)
{
	struct fuse_lk_in in = mk_lk(fh, owner, F_WRLCK, 0, INT64_MAX, 0);
	struct iovec a[] = {IOV(&in, sizeof(in))};

	assert_int_equal(fe_fuse_post(fe, FUSE_SETLKW, node, a, 1, 256, NULL, unique, reply_gpa),
			 0);
}

/* Wait for the next completion on the request queue and read the out header at gpa. */
static void wait_reply(struct fe *fe, uint64_t gpa, uint64_t unique, int32_t error)
{
	struct fuse_out_header oh;
	uint32_t id, len;

	assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len), 0);
	assert_int_equal(len, sizeof(oh));
	memcpy(&oh, fe_gpa_ptr(fe, gpa, sizeof(oh)), sizeof(oh));
	assert_int_equal(oh.unique, unique);
	assert_int_equal(oh.error, error);
	assert_int_equal(oh.len, sizeof(oh));
}

/* A file "name" the host holds a lock of host_type on (from 0, len bytes; 0: all), and a
 * guest SETLKW of owner A on all of it posted behind that lock. Returns the host's fd. */
static int setlkw_behind_host(struct fe *fe, const char *name, short host_type, off_t len,
			      uint64_t *node, uint64_t *fh, uint64_t *unique, uint64_t *gpa)
{
	int hfd;

	make_file(fe, name, node, fh);
	hfd = host_open(fe, name, O_RDWR);
	assert_int_equal(host_lock(hfd, host_type, 0, len), 0);
	post_setlkw(fe, *node, *fh, OWNER_A, unique, gpa);
	return hfd;
}

/* Held by the host; the guest's SETLKW waits while the queue keeps serving. */
static void test_setlkw_waits(void **state)
{
	struct fe *fe = *state;
	struct fuse_attr_out attr;
	struct fuse_file_lock l;
	uint64_t node, fh, unique, gpa;
	uint32_t id, len;
	int hfd;

	hfd = setlkw_behind_host(fe, "w", F_RDLCK, 1, &node, &fh, &unique, &gpa);
	assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, 200, &id, &len), -ETIMEDOUT);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fe_getattr(fe, node, &attr), 0);
	assert_int_equal(getlk(fe, node, fh, OWNER_B, F_WRLCK, 0, INT64_MAX, &l), 0);
	assert_int_equal(l.type, F_RDLCK);
	assert_int_equal(host_lock(hfd, F_UNLCK, 0, 0), 0);
	wait_reply(fe, gpa, unique, 0);
	/* Granted: now the host is the one kept out. */
	assert_int_equal(host_lock(hfd, F_RDLCK, 5, 1), -EAGAIN);
	close(hfd);
}

static void test_setlkw_interrupt(void **state)
{
	struct fe *fe = *state;
	struct fuse_interrupt_in ii;
	struct iovec a[] = {IOV(&ii, sizeof(ii))};
	struct fe_req_opts hi = {.hiprio = true};
	uint64_t node, fh, unique, gpa;
	struct fe_reply r;
	int hfd;

	hfd = setlkw_behind_host(fe, "i", F_WRLCK, 0, &node, &fh, &unique, &gpa);
	usleep(100 * 1000);
	ii.unique = unique;
	assert_int_equal(fe_fuse_req(fe, FUSE_INTERRUPT, 0, a, 1, 256, &hi, &r), 0);
	assert_int_equal(r.used_len, 0); /* INTERRUPT itself takes no reply */
	fe_reply_free(&r);
	wait_reply(fe, gpa, unique, -EINTR);
	assert_true(fe_alive(fe));
	close(hfd);
}

/* GET_VRING_BASE (the frontend stops the queue) answers the waiting SETLKW first. */
static void test_setlkw_queue_stop(void **state)
{
	struct fe *fe = *state;
	uint64_t node, fh, unique, gpa;
	uint32_t base;
	int hfd;

	hfd = setlkw_behind_host(fe, "s", F_WRLCK, 0, &node, &fh, &unique, &gpa);
	usleep(100 * 1000);
	assert_int_equal(fe_vu_get_vring_base(fe, FE_REQ_Q, &base), 0);
	assert_int_equal(base, fe->vq[FE_REQ_Q].avail_idx);
	wait_reply(fe, gpa, unique, -EINTR);
	close(hfd);
}

/* Migration starting: QEMU sends the running queue's addresses again with VHOST_VRING_F_LOG
 * (and again without when it is cancelled). The queue keeps running: the waiting SETLKW is
 * not answered EINTR (a guest process would see fcntl fail with no signal), it is granted. */
static void test_setlkw_logging_toggled(void **state)
{
	struct fe *fe = *state;
	struct fe_vq *vq = &fe->vq[FE_REQ_Q];
	struct fe_vu_vring_addr a = {.index = FE_REQ_Q,
				     .desc_user_addr = (uintptr_t)vq->desc,
				     .used_user_addr = (uintptr_t)vq->used,
				     .avail_user_addr = (uintptr_t)vq->avail,
				     .log_guest_addr = vq->used_gpa};
	struct fuse_attr_out attr;
	uint64_t node, fh, unique, gpa;
	uint32_t id, len;
	int hfd;

	hfd = setlkw_behind_host(fe, "m", F_WRLCK, 0, &node, &fh, &unique, &gpa);
	usleep(100 * 1000);
	for (uint32_t flags = 1; flags <= 2; flags++) {
		a.flags = flags & 1;
		assert_int_equal(fe_vu_set(fe, FE_VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
		assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, 200, &id, &len), -ETIMEDOUT);
	}
	assert_int_equal(host_lock(hfd, F_UNLCK, 0, 0), 0);
	wait_reply(fe, gpa, unique, 0);
	assert_int_equal(fe_getattr(fe, node, &attr), 0); /* and the queue still serves */
	assert_int_equal(host_lock(hfd, F_RDLCK, 0, 1), -EAGAIN);
	close(hfd);
}

/* The frontend goes away with a SETLKW waiting: the daemon still exits cleanly. */
static void test_setlkw_disconnect(void **state)
{
	struct fe *fe = *state;
	uint64_t node, fh, unique, gpa;
	int hfd;

	hfd = setlkw_behind_host(fe, "d", F_WRLCK, 0, &node, &fh, &unique, &gpa);
	usleep(100 * 1000);
	assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
	assert_int_equal(WEXITSTATUS(fe->status), 0);
	close(hfd);
}

static void test_malformed_locks(void **state)
{
	struct fe *fe = *state;
	struct fuse_file_lock l;
	struct fuse_lk_in in;
	struct iovec a[] = {IOV(&in, sizeof(in) - 8)};
	uint64_t node, fh;
	struct fe_reply r;

	make_file(fe, "m", &node, &fh);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, 3, 0, 0, 0), -EINVAL);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 10, 5, 0), -EINVAL);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, UINT64_MAX, 0), -EINVAL);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, 1, 0x100), -EINVAL);
	assert_int_equal(getlk(fe, node, fh, OWNER_A, F_UNLCK, 0, 1, &l), -EINVAL);
	assert_int_equal(getlk(fe, node, fh, OWNER_A, 99, 0, 1, &l), -EINVAL);
	/* Short arguments, and a handle or node that does not exist. */
	in = mk_lk(fh, OWNER_A, F_WRLCK, 0, 1, 0);
	assert_int_equal(
	    fe_check_reply(fe_fuse_req(fe, FUSE_SETLKW, node, a, 1, 256, NULL, &r), &r, 0),
	    -EINVAL);
	fe_reply_free(&r);
	assert_true(setlk(fe, 0xdead00000007ull, fh, OWNER_A, F_WRLCK, 0, 1, 0) < 0);
	assert_true(setlk(fe, node, 0xbeef, OWNER_A, F_WRLCK, 0, 1, FUSE_LK_FLOCK) < 0);
	assert_true(fe_alive(fe));
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, 1, 0), 0);
}

/* Without --posix-lock/--flock nothing is offered, and lock requests are refused. */
static void test_not_enabled(void **state)
{
	struct fe *fe = *state;
	uint64_t node, fh;

	make_file(fe, "n", &node, &fh);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, 1, 0), -ENOSYS);
	assert_int_equal(setlk(fe, node, fh, OWNER_A, F_WRLCK, 0, 1, FUSE_LK_FLOCK), -ENOSYS);
}

static void test_tmpfile_statx(void **state)
{
	struct fe *fe = *state;
	struct fuse_create_in ci = {.flags = O_RDWR, .mode = S_IFREG | 0640};
	struct iovec a[] = {IOV(&ci, sizeof(ci)), IOV("/", 2)};
	struct fuse_statx_in si = {.sx_mask = STATX_BASIC_STATS | STATX_BTIME};
	struct iovec sa[] = {IOV(&si, sizeof(si))};
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	struct fuse_statx_out so;
	struct fuse_link_in li;
	struct fuse_entry_out le;
	struct iovec la[] = {IOV(&li, sizeof(li)), IOV("named", 6)};
	struct statx hs;
	struct fe_reply r;
	char p[256];
	uint32_t n;

	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_TMPFILE, FUSE_ROOT_ID, a, 2,
						    OUT_HDR + sizeof(out), NULL, &r),
					&r, sizeof(out)),
			 0);
	memcpy(&out, r.data, sizeof(out));
	fe_reply_free(&r);
	assert_int_equal(out.e.attr.nlink, 0);
	assert_int_equal(out.e.attr.mode, S_IFREG | 0640);
	assert_int_equal(fe_count_entries(fe->share), 0); /* no name anywhere */
	assert_int_equal(fe_write(fe, out.e.nodeid, out.o.fh, 0, "hello", 5, NULL, &n), 0);
	assert_int_equal(n, 5);
	/* linkat() of the unnamed file gives it a name. */
	li.oldnodeid = out.e.nodeid;
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_LINK, FUSE_ROOT_ID, la, 2,
						    OUT_HDR + sizeof(le), NULL, &r),
					&r, sizeof(le)),
			 0);
	fe_reply_free(&r);
	assert_int_equal(statx(AT_FDCWD, fe_share_path(fe, "named", p, sizeof(p)), 0,
			       STATX_BASIC_STATS | STATX_BTIME, &hs),
			 0);
	assert_int_equal(hs.stx_size, 5);
	/* STATX on it agrees with the host. */
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_STATX, out.e.nodeid, sa, 1,
						    OUT_HDR + sizeof(so), NULL, &r),
					&r, sizeof(so)),
			 0);
	memcpy(&so, r.data, sizeof(so));
	fe_reply_free(&r);
	assert_int_equal(so.stat.mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
	assert_int_equal(so.stat.size, 5);
	assert_int_equal(so.stat.nlink, 1);
	assert_int_equal(so.stat.ino, hs.stx_ino);
	assert_int_equal(so.stat.mode, S_IFREG | 0640);
	assert_int_equal(so.stat.mtime.tv_sec, hs.stx_mtime.tv_sec);
	assert_int_equal(so.stat.mtime.tv_nsec, hs.stx_mtime.tv_nsec);
	if (hs.stx_mask & STATX_BTIME) {
		assert_true(so.stat.mask & STATX_BTIME);
		assert_int_equal(so.stat.btime.tv_sec, hs.stx_btime.tv_sec);
	}
	/* Malformed: short STATX arguments, TMPFILE of a non-regular mode. */
	sa[0].iov_len = sizeof(si) - 4;
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_STATX, out.e.nodeid, sa, 1,
						    OUT_HDR + sizeof(so), NULL, &r),
					&r, 0),
			 -EINVAL);
	fe_reply_free(&r);
	ci.mode = S_IFDIR | 0755;
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_TMPFILE, FUSE_ROOT_ID, a, 2,
						    OUT_HDR + sizeof(out), NULL, &r),
					&r, 0),
			 -EINVAL);
	fe_reply_free(&r);
}

static void test_allow_mmap(void **state)
{
	struct fe_opts o = {.daemon_args = "--allow-mmap"};
	struct fuse_init_out io;
	struct fe *fe;

	/* The default daemon of this test does not offer it. */
	assert_int_equal(init_flags(*state, FUSE_DIRECT_IO_ALLOW_MMAP, &io), 0);
	assert_int_equal(io.flags2 & (uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32), 0);
	assert_int_equal(fe_teardown_checked(state), 0);
	assert_int_equal(fe_test_start(state, &o, false), 0);
	fe = *state;
	assert_int_equal(init_flags(fe, FUSE_DIRECT_IO_ALLOW_MMAP, &io), 0);
	assert_true(io.flags2 & (uint32_t)(FUSE_DIRECT_IO_ALLOW_MMAP >> 32));
}

/* Record locks on a FIFO or a device node in the share: refused (ENOLCK) without opening the
 * node (CVE-2020-35517: opening a device is what a guest must never make the daemon do). A
 * FIFO the daemon opened would have a writer, which its host reader would see. */
static void test_lock_special_nodes(void **state)
{
	struct fe *fe = *state;
	static const uint32_t ops[] = { FUSE_GETLK, FUSE_SETLK, FUSE_SETLKW };
	struct fuse_entry_out fifo, dev;
	char p[256], b;
	int rd;

	assert_int_equal(mkfifo(fe_share_path(fe, "fifo", p, sizeof(p)), 0666), 0);
	rd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	assert_int_equal(mknod(fe_share_path(fe, "null", p, sizeof(p)), S_IFCHR | 0666,
			       makedev(1, 3)),
			 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "fifo", &fifo), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "null", &dev), 0);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (int n = 0; n < 2; n++) {
			struct fuse_lk_in in = mk_lk(0, OWNER_A, F_WRLCK, 0, 10, 0);
			struct iovec a[] = {IOV(&in, sizeof(in))};
			struct fe_reply r;
			uint64_t node = n ? dev.nodeid : fifo.nodeid;
			int rc = fe_fuse_req(fe, ops[i], node, a, 1, LK_CAP, NULL, &r);

			rc = fe_check_reply(rc, &r, -1);
			fe_reply_free(&r);
			if (rc != -ENOLCK)
				fail_msg("lock opcode %u on the %s: %d, want ENOLCK", ops[i],
					 n ? "device node" : "FIFO", rc);
		}
	}
	/* No writer ever had the FIFO open: a read says end of file, not "would block". */
	assert_int_equal(read(rd, &b, 1), 0);
	close(rd);
}

#define FE_L(fn) cmocka_unit_test_setup_teardown(fn, setup_locks, fe_teardown_checked)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    FE_L(test_posix_owners),	  FE_L(test_flock),
	    FE_L(test_setlkw_waits),	  FE_L(test_setlkw_interrupt),
	    FE_L(test_setlkw_queue_stop), FE_L(test_setlkw_logging_toggled),
	    FE_L(test_setlkw_disconnect),
	    FE_L(test_malformed_locks),	  FE_T(test_not_enabled),
	    FE_L(test_tmpfile_statx),	  FE_T_NOINIT(test_allow_mmap),
	    FE_L(test_lock_special_nodes),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-locks", tests, NULL, NULL);
}
