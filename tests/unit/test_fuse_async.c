/*
 * Deferred replies (fuse_server_handle_async): a SETLKW that must wait is handed to a waiter
 * thread and completed later through the transport's callback; INTERRUPT and cancel end it
 * with EINTR; the number of waits is bounded; lock arguments are checked.
 *
 * The backend here blocks its "lock wait" in read() on a pipe: a byte grants the lock, the
 * server's wake-up signal makes it return EINTR, as fcntl(F_OFD_SETLKW) would.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_fuse_mock.h"

struct lk_fs {
	int pipe[2];
	int conflict; /* non-blocking attempts answer EAGAIN */
	int calls, sleeps;
	uint64_t owner, fh;
	bool flock;
	struct fuse_file_lock lk;
};

static int lk_init(void *fs, const struct fs_conn *c, uint64_t *want)
{
	return 0;
}

/* A waiter's thread and the caller's record at once (TSan tier). */
static pthread_mutex_t lk_record_lock = PTHREAD_MUTEX_INITIALIZER;

static int lk_getlk(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct fuse_file_lock *lk, struct fuse_file_lock *out)
{
	struct lk_fs *m = fsp;

	pthread_mutex_lock(&lk_record_lock);
	__atomic_add_fetch(&m->calls, 1, __ATOMIC_SEQ_CST);
	m->owner = owner;
	m->lk = *lk;
	pthread_mutex_unlock(&lk_record_lock);
	out->type = F_WRLCK;
	out->start = 10;
	out->end = 99;
	out->pid = 0;
	return 0;
}

static int lk_setlk(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct fuse_file_lock *lk, bool flock, bool sleep)
{
	struct lk_fs *m = fsp;
	char b;

	__atomic_add_fetch(&m->calls, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&lk_record_lock);
	m->owner = owner;
	m->fh = fh;
	m->flock = flock;
	m->lk = *lk;
	pthread_mutex_unlock(&lk_record_lock);
	if (!sleep)
		return __atomic_load_n(&m->conflict, __ATOMIC_SEQ_CST) ? -EAGAIN : 0;
	__atomic_add_fetch(&m->sleeps, 1, __ATOMIC_SEQ_CST);
	return read(m->pipe[0], &b, 1) == 1 ? 0 : -errno;
}

static const struct fs_ops lk_ops = {
    .init = lk_init,
    .getlk = lk_getlk,
    .setlk = lk_setlk,
};

/* What the transport got back through complete(). */
struct done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int count;
	void *ctx;
	uint32_t id;
	struct fuse_out_header oh;
	size_t len;
};

static struct done done = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void on_complete(void *ctx, uint32_t id, const void *reply, size_t len)
{
	pthread_mutex_lock(&done.lock);
	done.count++;
	done.ctx = ctx;
	done.id = id;
	done.len = len;
	if (len >= sizeof(done.oh))
		memcpy(&done.oh, reply, sizeof(done.oh));
	pthread_cond_broadcast(&done.cond);
	pthread_mutex_unlock(&done.lock);
}

/* Wait until count completions arrived (or 3 s passed); returns the count seen. */
static int wait_done(int count)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	pthread_mutex_lock(&done.lock);
	while (done.count < count &&
	       pthread_cond_timedwait(&done.cond, &done.lock, &ts) != ETIMEDOUT)
		;
	n = done.count;
	pthread_mutex_unlock(&done.lock);
	return n;
}

struct fix {
	struct lk_fs m;
	struct fuse_server *srv;
};

static int setup(void **state)
{
	struct fuse_server_opts o = {.posix_locks = true, .flock_locks = true};
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pipe2(f->m.pipe, O_CLOEXEC), 0);
	assert_int_equal(fuse_server_new(&lk_ops, &f->m, &o, &f->srv), 0);
	assert_int_equal(do_init(f->srv, 7, 38, FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS, NULL), 0);
	pthread_mutex_lock(&done.lock);
	done.count = 0;
	pthread_mutex_unlock(&done.lock);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	fuse_server_free(f->srv);
	close(f->m.pipe[0]);
	close(f->m.pipe[1]);
	free(f);
	return 0;
}

static size_t mk_lk(void *buf, uint32_t op, uint64_t unique, uint32_t type, uint64_t start,
		    uint64_t end, uint32_t lk_flags)
{
	struct fuse_lk_in in;

	memset(&in, 0, sizeof(in));
	in.fh = 5;
	in.owner = 0xabcdef;
	in.lk.type = type;
	in.lk.start = start;
	in.lk.end = end;
	in.lk.pid = 77;
	in.lk_flags = lk_flags;
	return mk_req(buf, op, unique, 2, &in, sizeof(in));
}

static size_t run_async(struct fix *f, const void *buf, size_t len, void *out, size_t outlen,
			void *ctx, uint32_t id)
{
	struct iovec in = {.iov_base = (void *)buf, .iov_len = len};
	struct iovec o = {.iov_base = out, .iov_len = outlen};
	struct fuse_async a = {.complete = on_complete, .ctx = ctx, .id = id};

	return fuse_server_handle_async(f->srv, &in, 1, &o, 1, &a);
}

static void send_interrupt(struct fix *f, uint64_t unique)
{
	struct fuse_interrupt_in ii = {.unique = unique};
	char buf[128], out[64];

	assert_int_equal(run1(f->srv, buf,
			      mk_req(buf, FUSE_INTERRUPT, unique | 1, 0, &ii, sizeof(ii)), out,
			      sizeof(out)),
			 0);
}

static void test_granted_at_once(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 10, F_WRLCK, 0, INT64_MAX, 0);

	n = run_async(f, buf, n, out, sizeof(out), f, 1);
	assert_int_equal(reply_error(out, n, 10), 0);
	assert_int_equal(f->m.sleeps, 0);
	assert_int_equal(f->m.owner, 0xabcdef);
	assert_int_equal(f->m.lk.pid, 0); /* the guest's pid is not passed on */
	assert_int_equal(f->m.lk.end, INT64_MAX);
	assert_int_equal(wait_done(0), 0);
}

static void test_deferred_then_granted(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64], other[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 20, F_RDLCK, 5, 9, 0);

	f->m.conflict = 1;
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), f, 33), FUSE_DEFERRED);
	/* The caller's thread is free: other requests are answered meanwhile. */
	n = mk_lk(buf, FUSE_GETLK, 21, F_RDLCK, 0, 100, 0);
	n = run_async(f, buf, n, other, sizeof(other), f, 34);
	assert_int_equal(reply_error(other, n, 21), 0);
	usleep(50 * 1000);
	assert_int_equal(wait_done(0), 0);
	assert_int_equal(write(f->m.pipe[1], "x", 1), 1);
	assert_int_equal(wait_done(1), 1);
	assert_ptr_equal(done.ctx, f);
	assert_int_equal(done.id, 33);
	assert_int_equal(done.len, sizeof(struct fuse_out_header));
	assert_int_equal(done.oh.unique, 20);
	assert_int_equal(done.oh.error, 0);
	assert_int_equal(done.oh.len, sizeof(struct fuse_out_header));
}

static void test_interrupt(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 40, F_WRLCK, 0, 0, 0);

	f->m.conflict = 1;
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), f, 7), FUSE_DEFERRED);
	while (__atomic_load_n(&f->m.sleeps, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	send_interrupt(f, 999); /* someone else's: nothing happens */
	usleep(20 * 1000);
	assert_int_equal(wait_done(0), 0);
	send_interrupt(f, 40);
	assert_int_equal(wait_done(1), 1);
	assert_int_equal(done.oh.unique, 40);
	assert_int_equal(done.oh.error, -EINTR);
}

/* Interrupted before the request reached the server (another queue thread was faster). */
static void test_interrupt_first(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 50, F_WRLCK, 0, 0, 0);

	f->m.conflict = 1;
	send_interrupt(f, 50);
	n = run_async(f, buf, n, out, sizeof(out), f, 7);
	assert_int_equal(reply_error(out, n, 50), -EINTR);
	assert_int_equal(wait_done(0), 0);
}

static void test_cancel_by_ctx(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	int a, b;
	size_t n;

	f->m.conflict = 1;
	n = mk_lk(buf, FUSE_SETLKW, 60, F_WRLCK, 0, 0, 0);
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), &a, 1), FUSE_DEFERRED);
	n = mk_lk(buf, FUSE_SETLKW, 62, F_WRLCK, 0, 0, FUSE_LK_FLOCK);
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), &b, 2), FUSE_DEFERRED);
	fuse_server_cancel(f->srv, &a); /* returns once a's reply went out */
	assert_int_equal(done.count, 1);
	assert_ptr_equal(done.ctx, &a);
	assert_int_equal(done.oh.unique, 60);
	assert_int_equal(done.oh.error, -EINTR);
	fuse_server_cancel(f->srv, NULL);
	assert_int_equal(done.count, 2);
	assert_ptr_equal(done.ctx, &b);
	assert_int_equal(done.oh.error, -EINTR);
}

static void test_reset_cancels(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 70, F_WRLCK, 0, 0, 0);

	f->m.conflict = 1;
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), f, 1), FUSE_DEFERRED);
	fuse_server_reset(f->srv);
	assert_int_equal(done.count, 1);
	assert_int_equal(done.oh.error, -EINTR);
}

static void test_bounded(void **state)
{
	struct fix *f = *state;
	char buf[256], out[64];
	size_t n;
	int i;

	f->m.conflict = 1;
	for (i = 0; i < 64; i++) {
		n = mk_lk(buf, FUSE_SETLKW, 100 + i, F_WRLCK, 0, 0, 0);
		assert_int_equal(run_async(f, buf, n, out, sizeof(out), f, (uint32_t)i),
				 FUSE_DEFERRED);
	}
	n = mk_lk(buf, FUSE_SETLKW, 200, F_WRLCK, 0, 0, 0);
	n = run_async(f, buf, n, out, sizeof(out), f, 64);
	assert_int_equal(reply_error(out, n, 200), -ENOLCK);
	fuse_server_cancel(f->srv, f);
	assert_int_equal(done.count, 64);
	/* Room again once they are done. */
	n = mk_lk(buf, FUSE_SETLKW, 201, F_WRLCK, 0, 0, 0);
	assert_int_equal(run_async(f, buf, n, out, sizeof(out), f, 65), FUSE_DEFERRED);
	assert_int_equal(write(f->m.pipe[1], "x", 1), 1);
	assert_int_equal(wait_done(65), 65);
	assert_int_equal(done.oh.error, 0);
}

struct inline_arg {
	struct fix *f;
	int err;
};

static void *inline_wait(void *p)
{
	struct inline_arg *a = p;
	char buf[256], out[64];
	size_t n = mk_lk(buf, FUSE_SETLKW, 80, F_WRLCK, 0, 0, 0);

	n = run1(a->f->srv, buf, n, out, sizeof(out)); /* no async: waits right here */
	a->err = reply_error(out, n, 80);
	return NULL;
}

/* A transport without deferred replies: the wait happens in its thread, still interruptible. */
static void test_inline_interrupt(void **state)
{
	struct fix *f = *state;
	struct inline_arg a = {.f = f, .err = 1};
	pthread_t t;

	f->m.conflict = 1;
	assert_int_equal(pthread_create(&t, NULL, inline_wait, &a), 0);
	while (__atomic_load_n(&f->m.sleeps, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	send_interrupt(f, 80);
	pthread_join(t, NULL);
	assert_int_equal(a.err, -EINTR);
	assert_int_equal(done.count, 0);
}

static void test_getlk(void **state)
{
	struct fix *f = *state;
	char buf[256], out[128];
	struct fuse_lk_out lo;
	size_t n = mk_lk(buf, FUSE_GETLK, 90, F_WRLCK, 0, INT64_MAX, 0);

	n = run1(f->srv, buf, n, out, sizeof(out));
	assert_int_equal(reply_error(out, n, 90), 0);
	assert_int_equal(n, sizeof(struct fuse_out_header) + sizeof(lo));
	memcpy(&lo, out + sizeof(struct fuse_out_header), sizeof(lo));
	assert_int_equal(lo.lk.type, F_WRLCK);
	assert_int_equal(lo.lk.start, 10);
	assert_int_equal(lo.lk.end, 99);
}

static int lk_err(struct fix *f, uint32_t op, uint32_t type, uint64_t start, uint64_t end,
		  uint32_t flags)
{
	char buf[256], out[128];
	size_t n = mk_lk(buf, op, 300, type, start, end, flags);

	n = run1(f->srv, buf, n, out, sizeof(out));
	return reply_error(out, n, 300);
}

static void test_malformed(void **state)
{
	struct fix *f = *state;
	struct fuse_lk_in in;
	char buf[256], out[64];
	size_t n;

	for (uint32_t op = FUSE_GETLK; op <= FUSE_SETLKW; op++) {
		assert_int_equal(lk_err(f, op, 7, 0, 0, 0), -EINVAL);	     /* bad type */
		assert_int_equal(lk_err(f, op, F_RDLCK, 10, 9, 0), -EINVAL); /* start > end */
		assert_int_equal(lk_err(f, op, F_RDLCK, 0, UINT64_MAX, 0),
				 -EINVAL); /* past off_t */
		assert_int_equal(lk_err(f, op, F_RDLCK, (uint64_t)INT64_MAX + 1, UINT64_MAX, 0),
				 -EINVAL);
		assert_int_equal(lk_err(f, op, F_RDLCK, 0, 0, 0x80), -EINVAL); /* unknown flag */
		/* Short arguments. */
		memset(&in, 0, sizeof(in));
		n = mk_req(buf, op, 301, 2, &in, sizeof(in) - 1);
		n = run1(f->srv, buf, n, out, sizeof(out));
		assert_int_equal(reply_error(out, n, 301), -EINVAL);
	}
	assert_int_equal(lk_err(f, FUSE_GETLK, F_UNLCK, 0, 0, 0), -EINVAL);
	assert_int_equal(f->m.calls, 0);
	/* Unlocking is never a wait. */
	f->m.conflict = 1;
	assert_int_equal(lk_err(f, FUSE_SETLKW, F_UNLCK, 0, 5, 0), -EAGAIN);
	assert_int_equal(f->m.sleeps, 0);
}

/* Not offered at INIT: the guest locks locally, and requests are refused. */
static void test_not_negotiated(void **state)
{
	struct fuse_server_opts o = {.posix_locks = true};
	struct fuse_server *srv;
	struct fuse_init_out io;
	struct fix f2;

	memset(&f2, 0, sizeof(f2));
	assert_int_equal(fuse_server_new(&lk_ops, &f2.m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS, &io), 0);
	assert_true(io.flags & FUSE_POSIX_LOCKS);
	assert_false(io.flags & FUSE_FLOCK_LOCKS);
	f2.srv = srv;
	assert_int_equal(lk_err(&f2, FUSE_SETLK, F_WRLCK, 0, INT64_MAX, FUSE_LK_FLOCK), -ENOSYS);
	assert_int_equal(lk_err(&f2, FUSE_SETLK, F_WRLCK, 0, INT64_MAX, 0), 0);
	fuse_server_free(srv);
	o.posix_locks = false;
	assert_int_equal(fuse_server_new(&lk_ops, &f2.m, &o, &srv), 0);
	assert_int_equal(do_init(srv, 7, 38, FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS, &io), 0);
	assert_false(io.flags & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS));
	f2.srv = srv;
	assert_int_equal(lk_err(&f2, FUSE_GETLK, F_WRLCK, 0, INT64_MAX, 0), -ENOSYS);
	assert_int_equal(lk_err(&f2, FUSE_SETLKW, F_WRLCK, 0, INT64_MAX, 0), -ENOSYS);
	fuse_server_free(srv);
	assert_int_equal(f2.m.calls, 1); /* only the negotiated one reached the backend */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_granted_at_once), T(test_deferred_then_granted), T(test_interrupt),
	    T(test_interrupt_first), T(test_cancel_by_ctx),	    T(test_reset_cancels),
	    T(test_bounded),	     T(test_inline_interrupt),	    T(test_getlk),
	    T(test_malformed),	     T(test_not_negotiated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
