/*
 * src/util/iov.c: every function over a 0..N byte buffer cut into 1..3 iovecs at every pair of
 * cut points (which makes zero-length entries at the front, inside and at the end), at every
 * offset and length; overflowing totals; the preadv/pwritev loops over a real file, over short
 * transfers (a SOCK_SEQPACKET socketpair returns one record per call, RLIMIT_FSIZE cuts a write,
 * a signal cuts a blocked pipe write) and over EINTR.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <cmocka.h>

#include "util/iov.h"

#define N_MAX 12

/* src[i] = i + 1: no byte is 0 or the 0xee filler. */
static uint8_t src[N_MAX + 2];

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i + 1);
	return 0;
}

/* One way to cut n bytes: pieces [0, c1), [c1, c2), [c2, n); cnt 1 or 2 use the first cuts. */
struct cut {
	size_t n, c1, c2;
	unsigned cnt;
};

/* Calls fn for every cut of every n in 0..N_MAX into 1, 2 and 3 pieces. */
static void each_cut(void (*fn)(const struct cut *k))
{
	for (size_t n = 0; n <= N_MAX; n++) {
		fn(&(struct cut){n, n, n, 1});
		for (size_t c1 = 0; c1 <= n; c1++) {
			fn(&(struct cut){n, c1, n, 2});
			for (size_t c2 = c1; c2 <= n; c2++)
				fn(&(struct cut){n, c1, c2, 3});
		}
	}
}

/* The iovecs of cut k over buf; returns their count. */
static unsigned cut_iov(const struct cut *k, uint8_t *buf, struct iovec *iov)
{
	size_t at[4] = {0, k->c1, k->c2, k->n};

	if (k->cnt == 1)
		at[1] = k->n;
	if (k->cnt <= 2)
		at[2] = k->n;
	for (unsigned i = 0; i < k->cnt; i++)
		iov[i] = (struct iovec){buf + at[i], (i + 1 == k->cnt ? k->n : at[i + 1]) - at[i]};
	return k->cnt;
}

static size_t clipped(size_t n, size_t off, size_t len)
{
	size_t left = off < n ? n - off : 0;

	return len < left ? len : left;
}

static void total_one(const struct cut *k)
{
	uint8_t buf[N_MAX];
	struct iovec iov[3];
	unsigned cnt = cut_iov(k, buf, iov);
	size_t t = 1234;

	assert_int_equal(iov_total(iov, cnt, &t), 0);
	assert_int_equal(t, k->n);
}

static void test_total(void **state)
{
	uint8_t b;
	size_t t = 77;

	each_cut(total_one);
	assert_int_equal(iov_total(NULL, 0, &t), 0);
	assert_int_equal(t, 0);
	/* Overflow: refused, *total untouched. */
	struct iovec big[3] = {{&b, SIZE_MAX}, {&b, 0}, {&b, 1}};
	t = 77;
	assert_int_equal(iov_total(big, 3, &t), -EOVERFLOW);
	assert_int_equal(t, 77);
	assert_int_equal(iov_total(big, 2, &t), 0);
	assert_int_equal(t, SIZE_MAX);
	struct iovec halves[2] = {{&b, SIZE_MAX / 2 + 1}, {&b, SIZE_MAX / 2 + 1}};
	assert_int_equal(iov_total(halves, 2, &t), -EOVERFLOW);
	halves[1].iov_len = SIZE_MAX / 2;
	assert_int_equal(iov_total(halves, 2, &t), 0);
	assert_int_equal(t, SIZE_MAX);
}

static void copy_from_one(const struct cut *k)
{
	uint8_t buf[N_MAX], dst[N_MAX + 2];
	struct iovec iov[3];
	unsigned cnt = cut_iov(k, buf, iov);

	memcpy(buf, src, k->n);
	for (size_t off = 0; off <= k->n + 1; off++) {
		for (size_t len = 0; len <= k->n + 1; len++) {
			size_t want = clipped(k->n, off, len);

			memset(dst, 0xee, sizeof(dst));
			assert_int_equal(iov_copy_from(iov, cnt, off, dst, len), want);
			assert_memory_equal(dst, src + off, want);
			for (size_t i = want; i < sizeof(dst); i++)
				assert_int_equal(dst[i], 0xee);
		}
	}
}

static void test_copy_from(void **state)
{
	each_cut(copy_from_one);
}

static void copy_to_one(const struct cut *k)
{
	uint8_t buf[N_MAX];
	struct iovec iov[3];
	unsigned cnt = cut_iov(k, buf, iov);

	for (size_t off = 0; off <= k->n + 1; off++) {
		for (size_t len = 0; len <= k->n + 1; len++) {
			size_t want = clipped(k->n, off, len);

			memset(buf, 0xee, sizeof(buf));
			assert_int_equal(iov_copy_to(iov, cnt, off, src, len), want);
			for (size_t i = 0; i < k->n; i++) {
				if (i >= off && i < off + want)
					assert_int_equal(buf[i], src[i - off]);
				else
					assert_int_equal(buf[i], 0xee);
			}
		}
	}
}

static void test_copy_to(void **state)
{
	each_cut(copy_to_one);
}

/* A successful slice: exactly len bytes, no empty entry, pointing into buf (not a copy). */
static void check_view(const struct iov_view *v, const struct iovec *dst, const uint8_t *buf,
		       size_t off, size_t len)
{
	uint8_t got[N_MAX + 2];
	size_t t;

	assert_ptr_equal(v->iov, dst);
	assert_int_equal(v->len, len);
	assert_int_equal(iov_total(v->iov, v->cnt, &t), 0);
	assert_int_equal(t, len);
	for (size_t i = 0; i < v->cnt; i++) {
		assert_true(v->iov[i].iov_len > 0);
		assert_true((const uint8_t *)v->iov[i].iov_base >= buf);
		assert_true((const uint8_t *)v->iov[i].iov_base + v->iov[i].iov_len <= buf + N_MAX);
	}
	if (v->cnt > 0)
		assert_ptr_equal(v->iov[0].iov_base, buf + off);
	assert_int_equal(iov_copy_from(v->iov, v->cnt, 0, got, sizeof(got)), len);
	assert_memory_equal(got, src + off, len);
}

static void slice_one(const struct cut *k)
{
	uint8_t buf[N_MAX];
	struct iovec iov[3], dst[3];
	unsigned cnt = cut_iov(k, buf, iov);
	struct iov_view v;

	memcpy(buf, src, k->n);
	for (size_t off = 0; off <= k->n + 1; off++) {
		for (size_t len = 0; len <= k->n + 1; len++) {
			if (off + len > k->n) {
				assert_int_equal(iov_slice(iov, cnt, off, len, dst, 3, &v), -EINVAL);
				continue;
			}
			assert_int_equal(iov_slice(iov, cnt, off, len, dst, cnt, &v), 0);
			check_view(&v, dst, buf, off, len);
			/* One entry fewer than it takes: refused. */
			if (v.cnt > 0)
				assert_int_equal(
				    iov_slice(iov, cnt, off, len, dst, v.cnt - 1, &v), -ENOBUFS);
		}
	}
}

static void test_slice(void **state)
{
	uint8_t b[4];
	struct iovec iov[1] = {{b, 4}}, dst[1];
	struct iov_view v = {NULL, 0, 0};

	each_cut(slice_one);
	/* off + len past SIZE_MAX does not wrap into the buffer. */
	assert_int_equal(iov_slice(iov, 1, SIZE_MAX, 2, dst, 1, &v), -EINVAL);
	assert_int_equal(iov_slice(iov, 1, 2, SIZE_MAX, dst, 1, &v), -EINVAL);
	/* An empty slice of nothing. */
	assert_int_equal(iov_slice(NULL, 0, 0, 0, dst, 0, &v), 0);
	assert_int_equal(v.cnt, 0);
	assert_int_equal(v.len, 0);
}

static void advance_one(const struct cut *k)
{
	uint8_t buf[N_MAX], got[N_MAX];
	struct iovec orig[3], iov[3];
	unsigned cnt = cut_iov(k, buf, orig);

	memcpy(buf, src, k->n);
	for (size_t n = 0; n <= k->n + 1; n++) {
		struct iov_view v = {iov, cnt, k->n};
		size_t t;

		memcpy(iov, orig, sizeof(orig));
		if (n > k->n) {
			assert_int_equal(iov_advance(&v, n), -EINVAL);
			assert_ptr_equal(v.iov, iov);
			assert_int_equal(v.cnt, cnt);
			assert_int_equal(v.len, k->n);
			assert_memory_equal(iov, orig, sizeof(orig));
			continue;
		}
		assert_int_equal(iov_advance(&v, n), 0);
		assert_int_equal(v.len, k->n - n);
		assert_int_equal(iov_total(v.iov, v.cnt, &t), 0);
		assert_int_equal(t, v.len);
		assert_int_equal(iov_copy_from(v.iov, v.cnt, 0, got, sizeof(got)), k->n - n);
		assert_memory_equal(got, src + n, k->n - n);
		if (v.len == 0)
			assert_int_equal(v.cnt, 0); /* trailing empty entries gone too */
		else
			assert_true(v.iov[0].iov_len > 0);
	}
	/* Byte by byte to the end. */
	struct iov_view v = {iov, cnt, k->n};

	memcpy(iov, orig, sizeof(orig));
	for (size_t i = 0; i < k->n; i++) {
		assert_ptr_equal(v.iov[0].iov_base, buf + i);
		assert_int_equal(iov_advance(&v, 1), 0);
	}
	assert_int_equal(iov_advance(&v, 0), 0); /* n = 0: only empty entries were left */
	assert_int_equal(v.len, 0);
	assert_int_equal(v.cnt, 0);
}

static void test_advance(void **state)
{
	each_cut(advance_one);
}

/* A file holding src[0..N_MAX). */
static int data_file(void)
{
	int fd = memfd_create("test_iov", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, src, N_MAX, 0), N_MAX);
	return fd;
}

static int cur_fd;

static void preadv_one(const struct cut *k)
{
	uint8_t buf[N_MAX];
	struct iovec iov[3];
	unsigned cnt;

	for (size_t off = 0; off <= N_MAX + 1; off++) {
		size_t want = clipped(N_MAX, off, k->n);
		struct iov_view v;

		cnt = cut_iov(k, buf, iov);
		v = (struct iov_view){iov, cnt, k->n};
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(iov_preadv_all(cur_fd, &v, (off_t)off), (ssize_t)want);
		assert_memory_equal(buf, src + off, want);
		for (size_t i = want; i < k->n; i++)
			assert_int_equal(buf[i], 0xee);
		assert_int_equal(v.len, k->n - want); /* what EOF left unread */
	}
}

static void pwritev_one(const struct cut *k)
{
	uint8_t buf[N_MAX], back[2 * N_MAX + 2];
	struct iovec iov[3];

	memcpy(buf, src, k->n);
	for (size_t off = 0; off <= N_MAX; off++) {
		unsigned cnt = cut_iov(k, buf, iov);
		struct iov_view v = {iov, cnt, k->n};

		assert_int_equal(ftruncate(cur_fd, 0), 0);
		assert_int_equal(iov_pwritev_all(cur_fd, &v, (off_t)off), (ssize_t)k->n);
		assert_int_equal(v.len, 0);
		assert_int_equal(pread(cur_fd, back, sizeof(back), 0), k->n ? (ssize_t)(off + k->n) : 0);
		if (k->n)
			assert_memory_equal(back + off, src, k->n);
	}
}

static void test_file_loops(void **state)
{
	uint8_t b[4];
	struct iovec iov = {b, sizeof(b)};
	struct iov_view v = {&iov, 1, sizeof(b)};

	cur_fd = data_file();
	each_cut(preadv_one);
	each_cut(pwritev_one);
	/* Bad arguments and errors: a negative errno, nothing moved. */
	assert_int_equal(iov_preadv_all(cur_fd, &v, -2), -EINVAL);
	assert_int_equal(iov_pwritev_all(cur_fd, &v, -2), -EINVAL);
	v.len = (size_t)SSIZE_MAX + 1;
	assert_int_equal(iov_preadv_all(cur_fd, &v, 0), -EINVAL);
	v.len = sizeof(b);
	assert_int_equal(iov_preadv_all(-1, &v, 0), -EBADF);
	assert_int_equal(iov_pwritev_all(-1, &v, 0), -EBADF);
	assert_int_equal(v.len, sizeof(b));
	close(cur_fd);
}

/* More entries than one preadv takes (IOV_MAX): the loop goes on past them. */
static void test_many_entries(void **state)
{
	size_t n = 3 * IOV_MAX + 5;
	uint8_t *buf = malloc(n), *back = malloc(n);
	struct iovec *iov = calloc(n, sizeof(*iov));
	struct iov_view v;
	int fd = memfd_create("test_iov", MFD_CLOEXEC);

	assert_true(buf && back && iov && fd >= 0);
	for (size_t i = 0; i < n; i++) {
		buf[i] = (uint8_t)(i * 13);
		iov[i] = (struct iovec){buf + i, 1};
	}
	v = (struct iov_view){iov, n, n};
	assert_int_equal(iov_pwritev_all(fd, &v, 0), (ssize_t)n);
	assert_int_equal(pread(fd, back, n, 0), (ssize_t)n);
	assert_memory_equal(back, buf, n);
	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){back + i, 1};
	memset(back, 0, n);
	v = (struct iov_view){iov, n, n};
	assert_int_equal(iov_preadv_all(fd, &v, 0), (ssize_t)n);
	assert_memory_equal(back, buf, n);
	close(fd);
	free(iov);
	free(back);
	free(buf);
}

/*
 * Each readv of a SOCK_SEQPACKET socket returns one record: short reads on demand. The records
 * (1, 4, 2, 5 bytes, clipped) carry `limit` bytes, then the peer closes: EOF.
 */
static void seqpacket_read(const struct cut *k, size_t limit)
{
	static const size_t rec[] = {1, 4, 2, 5};
	uint8_t buf[N_MAX];
	struct iovec iov[3];
	unsigned cnt = cut_iov(k, buf, iov);
	struct iov_view v = {iov, cnt, k->n};
	size_t sent = 0;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	for (unsigned i = 0; i < 4 && sent < limit; i++) {
		size_t l = rec[i] < limit - sent ? rec[i] : limit - sent;

		assert_int_equal(send(sv[1], src + sent, l, 0), (ssize_t)l);
		sent += l;
	}
	close(sv[1]);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(iov_preadv_all(sv[0], &v, IOV_NO_OFFSET), (ssize_t)limit);
	assert_memory_equal(buf, src, limit);
	for (size_t i = limit; i < k->n; i++)
		assert_int_equal(buf[i], 0xee);
	assert_int_equal(v.len, k->n - limit);
	if (v.len > 0) /* at EOF already: nothing more, and not an error */
		assert_int_equal(iov_preadv_all(sv[0], &v, IOV_NO_OFFSET), 0);
	close(sv[0]);
}

static void short_read_one(const struct cut *k)
{
	seqpacket_read(k, k->n);
	if (k->n > 0)
		seqpacket_read(k, k->n - 1);
	if (k->n > 5)
		seqpacket_read(k, 5);
}

static void test_short_reads(void **state)
{
	each_cut(short_read_one);
}

/* A write cut short by RLIMIT_FSIZE, then refused (EFBIG): the bytes written are returned. */
static void test_short_write_then_error(void **state)
{
	char path[] = "/tmp/test_iov.XXXXXX";
	int fd = mkstemp(path);
	struct rlimit old, lim;
	uint8_t buf[10];
	struct iovec iov[3] = {{buf, 3}, {buf + 3, 0}, {buf + 3, 7}};
	struct iov_view v = {iov, 3, 10};

	assert_true(fd >= 0);
	unlink(path);
	memcpy(buf, src, sizeof(buf));
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = (struct rlimit){5, old.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ssize_t n = iov_pwritev_all(fd, &v, 0);
	ssize_t n2 = iov_pwritev_all(fd, &v, 5);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(n, 5);
	assert_int_equal(v.len, 5); /* what is left to write */
	assert_ptr_equal(v.iov[0].iov_base, buf + 5);
	assert_int_equal(n2, -EFBIG);
	assert_int_equal(v.len, 5);
	uint8_t back[10];
	assert_int_equal(pread(fd, back, sizeof(back), 0), 5);
	assert_memory_equal(back, src, 5);
	close(fd);
}

/* Signals without SA_RESTART: a blocked call ends with EINTR (nothing moved) or short. */
static int sig_peer = -1;
static uint8_t sig_buf[3 * 4096];
static size_t sig_got;

static void on_alarm_send(int sig)
{
	(void)sig;
	if (send(sig_peer, src + 2, 4, 0) < 0)
		abort();
}

static void on_alarm_drain(int sig)
{
	ssize_t n;

	(void)sig;
	n = read(sig_peer, sig_buf + sig_got, sizeof(sig_buf) - sig_got);
	if (n > 0)
		sig_got += (size_t)n;
}

static void arm(void (*fn)(int), long usec, long interval)
{
	struct sigaction sa = {.sa_handler = fn}; /* no SA_RESTART */
	struct itimerval t = {{0, interval}, {0, usec}};

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &t, NULL), 0);
}

static void disarm(void)
{
	struct itimerval t = {{0, 0}, {0, 0}};

	setitimer(ITIMER_REAL, &t, NULL);
	signal(SIGALRM, SIG_IGN); /* one generated before the timer stopped is harmless */
}

static void test_eintr_read(void **state)
{
	uint8_t buf[6];
	struct iovec iov[2] = {{buf, 1}, {buf + 1, 5}};
	struct iov_view v = {iov, 2, 6};
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	sig_peer = sv[1];
	/* The setup does interrupt: a plain readv sees EINTR, and the record comes after it. */
	arm(on_alarm_send, 50000, 0);
	ssize_t plain = readv(sv[0], iov, 2);
	int plain_errno = errno;
	disarm();
	assert_int_equal(plain, -1);
	assert_int_equal(plain_errno, EINTR);
	assert_int_equal(recv(sv[0], buf, sizeof(buf), 0), 4);
	/* The loop: 2 bytes at once (short), then blocked until the signal, EINTR, retried. */
	assert_int_equal(send(sv[1], src, 2, 0), 2);
	arm(on_alarm_send, 50000, 0);
	ssize_t n = iov_preadv_all(sv[0], &v, IOV_NO_OFFSET);
	disarm();
	assert_int_equal(n, 6);
	assert_memory_equal(buf, src, 6);
	assert_int_equal(v.len, 0);
	close(sv[0]);
	close(sv[1]);
}

/* A pipe of one page: each writev blocks once the page is full, a signal drains it and cuts
 * the write short; the loop writes the rest. */
static void test_short_writes_pipe(void **state)
{
	static uint8_t data[sizeof(sig_buf)];
	struct iovec iov[3] = {{data, 1000}, {data + 1000, 0}, {data + 1000, sizeof(data) - 1000}};
	struct iov_view v = {iov, 3, sizeof(data)};
	int p[2];
	ssize_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 256);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(p[1], F_SETPIPE_SZ, 4096), 4096);
	sig_peer = p[0];
	sig_got = 0;
	arm(on_alarm_drain, 20000, 20000);
	n = iov_pwritev_all(p[1], &v, IOV_NO_OFFSET);
	disarm();
	assert_int_equal(n, (ssize_t)sizeof(data));
	assert_int_equal(v.len, 0);
	assert_true(sig_got >= 4096); /* the handler did run while the loop wrote */
	while (sig_got < sizeof(sig_buf)) {
		ssize_t r = read(p[0], sig_buf + sig_got, sizeof(sig_buf) - sig_got);

		assert_true(r > 0);
		sig_got += (size_t)r;
	}
	assert_memory_equal(sig_buf, data, sizeof(data));
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_total),
	    cmocka_unit_test(test_copy_from),
	    cmocka_unit_test(test_copy_to),
	    cmocka_unit_test(test_slice),
	    cmocka_unit_test(test_advance),
	    cmocka_unit_test(test_file_loops),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_short_reads),
	    cmocka_unit_test(test_short_write_then_error),
	    cmocka_unit_test(test_eintr_read),
	    cmocka_unit_test(test_short_writes_pipe),
	};
	return cmocka_run_group_tests_name("iov", tests, setup, NULL);
}
