/*
 * vhost-user message handling, driven through a socketpair to vu_serve in a thread: malformed
 * messages are refused without crashing or leaking fds, and a queue served end to end over
 * memfd guest RAM with a throwaway echo handler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vhost/protocol.h"
#include "vhost/vhost.h"

#define RAM_SIZE 0x100000
#define RAM_UVA 0x7f0000000000ull
#define QSIZE 8

struct fx {
	int sock; /* our end */
	pthread_t th;
	int ret;
	bool joined;
	int resets;
	unsigned pool;
	bool flood; /* the "guest" re-posts every chain as soon as it is handled */
	struct vu_handler h;
	int ram_fd;
	uint8_t *ram;
};

static void flood_repost(const struct fx *f);

static size_t echo_upper(void *opaque, const struct iovec *in, unsigned in_cnt,
			 const struct iovec *out, unsigned out_cnt)
{
	const struct fx *f = opaque;
	size_t n = 0;

	/* With a pool, uneven delays make completions come back out of order. */
	if (f->pool && in_cnt > 0)
		usleep((unsigned)(((uintptr_t)in[0].iov_base >> 8) % 5) * 200);
	for (unsigned i = 0; i < in_cnt && out_cnt > 0; i++)
		for (size_t k = 0; k < in[i].iov_len && n < out[0].iov_len; k++, n++)
			((char *)out[0].iov_base)[n] = (char)toupper(((char *)in[i].iov_base)[k]);
	if (__atomic_load_n(&f->flood, __ATOMIC_ACQUIRE))
		flood_repost(f);
	return n;
}

static void count_reset(void *opaque)
{
	struct fx *f = opaque;

	__atomic_add_fetch(&f->resets, 1, __ATOMIC_SEQ_CST); /* the vhost thread; read by the test */
}

static void *serve_thread(void *arg)
{
	struct fx *f = arg;
	struct vu_opts o = {.thread_pool_size = f->pool};

	f->ret = vu_serve(f->sock + 1000, &f->h, &o);
	return NULL;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup_with(void **state, unsigned pool)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct timeval tv = {.tv_sec = 5};
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* The daemon's end is parked at a fixed number so fd counts stay comparable. */
	assert_int_equal(dup3(sv[1], sv[0] + 1000, O_CLOEXEC), sv[0] + 1000);
	close(sv[1]);
	f->sock = sv[0];
	f->h = (struct vu_handler){.handle = echo_upper, .reset = count_reset, .opaque = f};
	f->ram_fd = -1;
	f->pool = pool;
	assert_int_equal(pthread_create(&f->th, NULL, serve_thread, f), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 0);
}

static int setup_pool(void **state)
{
	return setup_with(state, 3);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->sock);
	if (!f->joined)
		pthread_join(f->th, NULL);
	if (f->ram)
		munmap(f->ram, RAM_SIZE);
	if (f->ram_fd >= 0)
		close(f->ram_fd);
	free(f);
	return 0;
}

static ssize_t send_msg_raw(struct fx *f, uint32_t req, uint32_t flags, const void *p,
			    uint32_t size, const int *fds, unsigned nfds)
{
	struct vu_msg_hdr h = {req, VHOST_USER_VERSION | flags, size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)p, size}};
	char cbuf[CMSG_SPACE(16 * sizeof(int))] = {0};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(f->sock, &mh, MSG_NOSIGNAL);
}

static void send_msg(struct fx *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		     const int *fds, unsigned nfds)
{
	assert_int_equal(send_msg_raw(f, req, flags, p, size, fds, nfds),
			 (ssize_t)(sizeof(struct vu_msg_hdr) + size));
}

/* Read one reply; returns its payload size. */
static uint32_t recv_reply(struct fx *f, uint32_t req, void *p, uint32_t max)
{
	struct vu_msg_hdr h;

	assert_int_equal(recv(f->sock, &h, sizeof(h), MSG_WAITALL), sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY);
	assert_true(h.size <= max);
	if (h.size)
		assert_int_equal(recv(f->sock, p, h.size, MSG_WAITALL), h.size);
	return h.size;
}

static uint64_t get_u64(struct fx *f, uint32_t req)
{
	uint64_t v = 0;

	send_msg(f, req, 0, NULL, 0, NULL, 0);
	assert_int_equal(recv_reply(f, req, &v, 8), 8);
	return v;
}

/* Send with NEED_REPLY and return the ack value (0 = success). */
static uint64_t acked(struct fx *f, uint32_t req, const void *p, uint32_t size, const int *fds,
		      unsigned nfds)
{
	uint64_t v = 99;

	send_msg(f, req, VHOST_USER_FLAG_NEED_REPLY, p, size, fds, nfds);
	assert_int_equal(recv_reply(f, req, &v, 8), 8);
	return v;
}

static void expect_alive(struct fx *f)
{
	assert_true(get_u64(f, VHOST_USER_GET_FEATURES) & (1ull << VIRTIO_F_VERSION_1));
}

static void expect_closed(struct fx *f, int ret)
{
	char c;

	assert_int_equal(recv(f->sock, &c, 1, 0), 0);
	pthread_join(f->th, NULL);
	f->joined = true;
	assert_int_equal(f->ret, ret);
}

static void test_negotiation(void **state)
{
	struct fx *f = *state;
	uint64_t feat = get_u64(f, VHOST_USER_GET_FEATURES);
	uint64_t pf = get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);

	assert_true(feat & (1ull << VIRTIO_RING_F_EVENT_IDX));
	assert_true(feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(feat & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	assert_true(feat & (1ull << VHOST_USER_F_LOG_ALL)); /* dirty logging for migration */
	for (int b = 0; b < 16; b++) {
		bool want = b == VHOST_USER_PROTOCOL_F_MQ || b == VHOST_USER_PROTOCOL_F_REPLY_ACK ||
			    b == VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS ||
			    b == VHOST_USER_PROTOCOL_F_BACKEND_REQ ||
			    b == VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD ||
			    b == VHOST_USER_PROTOCOL_F_RESET_DEVICE ||
			    b == VHOST_USER_PROTOCOL_F_LOG_SHMFD;
		if (want)
			assert_true(pf & (1ull << b));
	}
	assert_int_equal(acked(f, VHOST_USER_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0), 0);
	assert_true(get_u64(f, VHOST_USER_GET_QUEUE_NUM) >= 2);
	assert_int_equal(get_u64(f, VHOST_USER_GET_MAX_MEM_SLOTS), 509);
	assert_int_equal(acked(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 0);
	/* Features we never offered are refused. */
	feat |= 1ull << 27; /* VIRTIO_F_ANY_LAYOUT */
	assert_int_not_equal(acked(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 0);
	pf = ~0ull;
	assert_int_not_equal(acked(f, VHOST_USER_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0), 0);
	expect_alive(f);
}

static void test_wrong_size(void **state)
{
	struct fx *f = *state;
	uint8_t junk[64] = {0};
	int before = count_fds();

	assert_int_not_equal(acked(f, VHOST_USER_SET_FEATURES, junk, 4, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_NUM, junk, 12, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_ADDR, junk, 8, NULL, 0), 0);
	/* SET_MEM_TABLE claiming more regions than its payload holds (and than fds sent). */
	junk[0] = 3;
	assert_int_not_equal(acked(f, VHOST_USER_SET_MEM_TABLE, junk, 8 + 32, &f->sock, 1), 0);
	junk[0] = 9;
	assert_int_not_equal(acked(f, VHOST_USER_SET_MEM_TABLE, junk, 8, NULL, 0), 0);
	/* Without NEED_REPLY a refusal is silent. */
	send_msg(f, VHOST_USER_SET_VRING_BASE, 0, junk, 3, NULL, 0);
	expect_alive(f);
	assert_int_equal(count_fds(), before);
}

static void test_fds(void **state)
{
	struct fx *f = *state;
	int fds[12], before;
	uint64_t v;

	for (int i = 0; i < 12; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	before = count_fds();
	/* More fds than any message may carry. */
	v = 0;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, fds, 12), 0);
	/* An fd where none belongs, and none where one is required. */
	assert_int_not_equal(acked(f, VHOST_USER_GET_FEATURES + 2, NULL, 0, fds, 1), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_KICK, &v, 8, NULL, 0), 0);
	v = VHOST_USER_VRING_NOFD_MASK;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_ERR, &v, 8, fds, 1), 0);
	assert_int_not_equal(acked(f, VHOST_USER_ADD_MEM_REG, (uint8_t[40]){0}, 40, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_BACKEND_REQ_FD, NULL, 0, fds, 2), 0);
	/* Accepted fds are kept; replaced ones closed. */
	v = 0;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, fds, 1), 0);
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, fds + 1, 1), 0);
	assert_int_equal(count_fds(), before + 1);
	v = VHOST_USER_VRING_NOFD_MASK;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, NULL, 0), 0);
	assert_int_equal(count_fds(), before);
	/* Refused messages leak nothing. */
	send_msg(f, 77, 0, NULL, 0, fds, 5);
	expect_alive(f);
	assert_int_equal(count_fds(), before);
	for (int i = 0; i < 12; i++)
		close(fds[i]);
}

static void test_bad_index(void **state)
{
	struct fx *f = *state;
	struct vhost_vring_state s = {.index = 200, .num = 8};
	struct vhost_vring_addr a = {.index = 16};
	uint64_t v = 0x20;
	int efd = eventfd(0, EFD_CLOEXEC), before = count_fds();

	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_BASE, &s, 8, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_ENABLE, &s, 8, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_KICK, &v, 8, &efd, 1), 0);
	/* Bits beyond the index and the no-fd flag. */
	v = 1ull << 20;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, &efd, 1), 0);
	/* Bad values on a good index. */
	s.index = 0;
	s.num = 3;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 0);
	s.num = 65536;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_BASE, &s, 8, NULL, 0), 0);
	s.num = 2;
	assert_int_not_equal(acked(f, VHOST_USER_SET_VRING_ENABLE, &s, 8, NULL, 0), 0);
	expect_alive(f);
	assert_int_equal(count_fds(), before);
	close(efd);
}

static void test_unknown_request(void **state)
{
	struct fx *f = *state;

	assert_int_not_equal(acked(f, 99, NULL, 0, NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_SET_LOG_BASE, (uint8_t[16]){0}, 16, NULL, 0), 0);
	assert_int_not_equal(acked(f, 0, NULL, 0, NULL, 0), 0);
	send_msg(f, 0xffffffffu, 0, "abc", 3, NULL, 0);
	expect_alive(f);
}

static void test_get_vring_base_bad_index(void **state)
{
	struct fx *f = *state;
	struct vhost_vring_state s = {.index = 16};

	/* No reply body exists for a queue we do not have: the connection is dropped. */
	send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	expect_closed(f, -EPROTO);
}

static void test_bad_header(void **state)
{
	struct fx *f = *state;
	struct vu_msg_hdr h = {VHOST_USER_GET_FEATURES, 2, 0};

	assert_int_equal(send(f->sock, &h, sizeof(h), 0), sizeof(h));
	expect_closed(f, -EPROTO);
}

static void test_huge_size(void **state)
{
	struct fx *f = *state;

	send_msg(f, VHOST_USER_SET_FEATURES, 0, NULL, 0, NULL, 0);
	{
		struct vu_msg_hdr h = {VHOST_USER_SET_FEATURES, 1, 0x10000000};

		assert_int_equal(send(f->sock, &h, sizeof(h), 0), sizeof(h));
	}
	expect_closed(f, -EPROTO);
}

static void test_disconnect(void **state)
{
	struct fx *f = *state;

	expect_alive(f);
	shutdown(f->sock, SHUT_WR);
	expect_closed(f, 0);
	assert_int_equal(__atomic_load_n(&f->resets, __ATOMIC_SEQ_CST), 1);
}

/* --- a queue served end to end --- */

static void map_ram(struct fx *f)
{
	struct vu_mem_table t = {.nregions = 1};

	f->ram_fd = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_int_equal(ftruncate(f->ram_fd, RAM_SIZE), 0);
	f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->ram_fd, 0);
	assert_ptr_not_equal(f->ram, MAP_FAILED);
	t.regions[0] = (struct vu_mem_region){0, RAM_SIZE, RAM_UVA, 0};
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, &f->ram_fd, 1), 0);
}

#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define IN_BUF(n) (BUF + ((n) % 64) * 0x100)
#define OUT_BUF(n) (BUF + 0x8000 + ((n) % 64) * 0x100)

static void setup_queue(struct fx *f, int kick, int call)
{
	uint64_t feat = get_u64(f, VHOST_USER_GET_FEATURES);
	uint64_t pf = get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	struct vhost_vring_state s = {.index = 1, .num = QSIZE};
	struct vhost_vring_addr a = {.index = 1,
				     .desc_user_addr = RAM_UVA + DESC,
				     .used_user_addr = RAM_UVA + USED,
				     .avail_user_addr = RAM_UVA + AVAIL};
	uint64_t v = 1;

	assert_int_equal(acked(f, VHOST_USER_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 0);
	map_ram(f);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_NUM, &s, 8, NULL, 0), 0);
	s.num = 0;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_BASE, &s, 8, NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_KICK, &v, 8, &kick, 1), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &v, 8, &call, 1), 0);
	s.num = 1;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_ENABLE, &s, 8, NULL, 0), 0);
}

static void post(struct fx *f, uint16_t n, const char *text)
{
	struct vring_desc *d = (struct vring_desc *)(f->ram + DESC);
	struct vring_avail *av = (struct vring_avail *)(f->ram + AVAIL);
	uint16_t head = (uint16_t)((n * 2) % QSIZE);

	strcpy((char *)f->ram + IN_BUF(n), text);
	d[head] = (struct vring_desc){IN_BUF(n), (uint32_t)strlen(text), VRING_DESC_F_NEXT,
				      (uint16_t)(head + 1)};
	d[head + 1] = (struct vring_desc){OUT_BUF(n), 0x100, VRING_DESC_F_WRITE, 0};
	av->ring[n % QSIZE] = head;
	av->ring[QSIZE] = n; /* used_event: interrupt us once this chain is used */
	__atomic_store_n(&av->idx, (uint16_t)(n + 1), __ATOMIC_RELEASE);
}

static void wait_used(struct fx *f, int kick, int call, uint16_t n, const char *want)
{
	struct vring_used *u = (struct vring_used *)(f->ram + USED);
	struct pollfd p = {call, POLLIN, 0};
	eventfd_t v;

	assert_int_equal(eventfd_write(kick, 1), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	eventfd_read(call, &v);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), n + 1);
	assert_int_equal(u->ring[n % QSIZE].len, strlen(want));
	assert_memory_equal(f->ram + OUT_BUF(n), want, strlen(want));
}

static void test_serve_queue(void **state)
{
	struct fx *f = *state;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC);
	struct vu_mem_reg reg = {0, {0, RAM_SIZE, RAM_UVA, 0}};
	struct vhost_vring_state s = {.index = 1};

	setup_queue(f, kick, call);
	post(f, 0, "hello");
	wait_used(f, kick, call, 0, "HELLO");
	/* Memory goes away and comes back (memory hot-plug): the queue follows. */
	assert_int_equal(acked(f, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), 0);
	assert_int_not_equal(acked(f, VHOST_USER_REM_MEM_REG, &reg, sizeof(reg), NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &f->ram_fd, 1), 0);
	post(f, 1, "world");
	wait_used(f, kick, call, 1, "WORLD");
	/* Stop: the frontend reads back where to resume. */
	send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, 8), 8);
	assert_int_equal(s.index, 1);
	assert_int_equal(s.num, 2);
	assert_int_equal(acked(f, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(__atomic_load_n(&f->resets, __ATOMIC_SEQ_CST), 1);
	close(kick);
	close(call);
}

static void test_broken_ring(void **state)
{
	struct fx *f = *state;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC);
	struct vring_avail *av;
	struct vhost_vring_state s = {.index = 1};

	setup_queue(f, kick, call);
	av = (struct vring_avail *)(f->ram + AVAIL);
	av->ring[0] = 200; /* head out of range */
	__atomic_store_n(&av->idx, 1, __ATOMIC_RELEASE);
	eventfd_write(kick, 1);
	usleep(50 * 1000);
	/* The daemon survives; the queue stopped at the bad chain. */
	send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, 8), 8);
	assert_int_equal(s.num, 0);
	expect_alive(f);
	close(kick);
	close(call);
}

/* Many chains in flight at once, memory table replaced mid-stream. */
static void test_many_chains(void **state)
{
	struct fx *f = *state;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC);
	struct vring_used *u;
	struct vu_mem_table t = {.nregions = 1};
	struct vhost_vring_state s = {.index = 1};
	uint16_t n = 0;

	setup_queue(f, kick, call);
	u = (struct vring_used *)(f->ram + USED);
	t.regions[0] = (struct vu_mem_region){0, RAM_SIZE, RAM_UVA, 0};
	for (int round = 0; round < 50; round++) {
		char text[32];
		struct pollfd p = {call, POLLIN, 0};
		eventfd_t v;

		/* Up to QSIZE / 2 chains of two descriptors each. */
		for (int k = 0; k < QSIZE / 2; k++, n++) {
			snprintf(text, sizeof(text), "chain-%u", n);
			post(f, n, text);
		}
		eventfd_write(kick, 1);
		if (round % 10 == 0)
			assert_int_equal(
			    acked(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, &f->ram_fd, 1), 0);
		while (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != n) {
			assert_int_equal(poll(&p, 1, 5000), 1);
			eventfd_read(call, &v);
		}
		for (uint16_t i = (uint16_t)(n - QSIZE / 2); i != n; i++) {
			snprintf(text, sizeof(text), "CHAIN-%u", i);
			assert_memory_equal(f->ram + OUT_BUF(i), text, strlen(text));
		}
	}
	send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, 8), 8);
	assert_int_equal(s.num, n);
	close(kick);
	close(call);
}

static void flood_repost(const struct fx *f)
{
	struct vring_avail *av = (struct vring_avail *)(f->ram + AVAIL);
	uint16_t idx = __atomic_load_n(&av->idx, __ATOMIC_ACQUIRE);

	av->ring[idx % QSIZE] = 0;
	__atomic_store_n(&av->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

/* A guest that keeps the ring busy forever cannot keep the queue from stopping. */
static void test_stop_under_flood(void **state)
{
	struct fx *f = *state;
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), call = eventfd(0, EFD_CLOEXEC);
	struct vring_used *u;
	struct vhost_vring_state s = {.index = 1};

	setup_queue(f, kick, call);
	u = (struct vring_used *)(f->ram + USED);
	__atomic_store_n(&f->flood, true, __ATOMIC_RELEASE);
	post(f, 0, "flood");
	eventfd_write(kick, 1);
	while (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) < 1000)
		usleep(1000);
	send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &s, 8, NULL, 0);
	assert_int_equal(recv_reply(f, VHOST_USER_GET_VRING_BASE, &s, 8), 8);
	assert_true(s.num >= 1000);
	assert_int_equal((uint16_t)s.num, __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE));
	__atomic_store_n(&f->flood, false, __ATOMIC_RELEASE);
	close(kick);
	close(call);
}

/* Random, well-framed but otherwise arbitrary messages: the daemon must neither crash nor leak
 * fds, whatever it decides to refuse. Deterministic seed. */
static void test_random_messages(void **state)
{
	struct fx *f = *state;
	unsigned seed = 12345;
	uint8_t p[320];
	int before, mfd = memfd_create("rand-ram", MFD_CLOEXEC);
	static const uint32_t sizes[] = {0, 4, 8, 12, 40, 72, 264, 300};

	assert_int_equal(ftruncate(mfd, 0x10000), 0);
	before = count_fds();
	for (int i = 0; i < 3000; i++) {
		uint32_t req = (uint32_t)rand_r(&seed) % 44, size = sizes[rand_r(&seed) % 8];
		int fds[3], nfds = rand_r(&seed) % 4;
		char c[512];
		ssize_t sent;

		for (uint32_t k = 0; k < size; k++)
			p[k] = (uint8_t)rand_r(&seed);
		/* Mostly small queue indexes and region counts, so handlers get past the first
		 * check. */
		if (size >= 8 && rand_r(&seed) % 4)
			p[0] = (uint8_t)(rand_r(&seed) % 3), p[1] = p[2] = p[3] = 0;
		for (int k = 0; k < nfds; k++)
			fds[k] = k == 0 && rand_r(&seed) % 2 ? dup(mfd) : eventfd(0, EFD_CLOEXEC);
		sent = send_msg_raw(f, req, rand_r(&seed) % 2 ? VHOST_USER_FLAG_NEED_REPLY : 0, p,
				    size, fds, (unsigned)nfds);
		for (int k = 0; k < nfds; k++)
			close(fds[k]);
		/* Replies are not checked here, only drained; a dropped connection restarts. */
		usleep(100);
		while (recv(f->sock, c, sizeof(c), MSG_DONTWAIT) > 0)
			;
		if (sent < 0 || recv(f->sock, c, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {
			pthread_join(f->th, NULL);
			f->joined = true; /* teardown must not join it again (TSan tier) */
			assert_true(f->ret < 0);
			close(f->sock);
			teardown(state);
			setup(state);
			f = *state;
		}
	}
	shutdown(f->sock, SHUT_WR);
	{
		char c;

		while (recv(f->sock, &c, 1, 0) > 0)
			;
	}
	pthread_join(f->th, NULL);
	f->joined = true;
	close(mfd);
	/* Gone since the start: the daemon's end of the socket and our memfd. */
	assert_int_equal(count_fds(), before - 2);
}

/* --- listener --- */

static void test_listener(void **state)
{
	char dir[] = "/tmp/vhost-test-XXXXXX", path[128], pid[140];
	struct vu_listener l, l2;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int c, a;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(pid, sizeof(pid), "%s.pid", path);
	/* Anything but a socket is left alone: a mistyped path must not cost the user a file. */
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	assert_int_equal(vu_listen_path(path, NULL, &l), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	unlink(path);
	assert_int_equal(symlink("/", path), 0);
	assert_int_equal(vu_listen_path(path, NULL, &l), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	unlink(path);
	unlink(pid);
	/* A stale socket (bound, its daemon gone) is replaced. */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	assert_int_equal(vu_listen_path(path, NULL, &l), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0077, 0);
	assert_int_equal(stat(pid, &st), 0);
	/* A second daemon on the same socket is refused. */
	assert_int_equal(vu_listen_path(path, NULL, &l2), -EADDRINUSE);
	assert_int_equal(stat(path, &st), 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	a = vu_accept(&l);
	assert_true(a >= 0);
	close(a);
	close(c);
	vu_listener_close(&l);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(pid, &st), -1);
	assert_int_equal(vu_listen_path(path, "no-such-group-xyz", &l), -EINVAL);
	assert_true(vu_listen_path("", NULL, &l) < 0);
	/* Inherited fd: must be a listening stream socket. */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(vu_listen_fd(c, &l) < 0);
	sa.sun_path[0] = 0; /* abstract: nothing to clean up */
	assert_int_equal(bind(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(c, 1), 0);
	assert_int_equal(vu_listen_fd(c, &l), 0);
	vu_listener_close(&l);
	unlink(pid);
	rmdir(dir);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TP(fn) cmocka_unit_test_setup_teardown(fn, setup_pool, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_negotiation),  T(test_wrong_size),	   T(test_fds),
	    T(test_bad_index),	  T(test_unknown_request), T(test_get_vring_base_bad_index),
	    T(test_bad_header),	  T(test_huge_size),	   T(test_disconnect),
	    T(test_serve_queue),  T(test_broken_ring),	   cmocka_unit_test(test_listener),
	    TP(test_serve_queue), TP(test_broken_ring),	   TP(test_many_chains),
	    T(test_many_chains),  T(test_random_messages), T(test_stop_under_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
