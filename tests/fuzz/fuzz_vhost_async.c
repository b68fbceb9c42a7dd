/*
 * Fuzz target: the vhost-user device (src/vhost) under a driver that behaves like a guest and
 * its VMM at once, with a handler that defers replies and completes them later from another
 * thread. The input is a sequence of actions (see README.md): make chains available and kick,
 * reap the used ring, re-send the memory table, add and remove regions (the rings' own
 * included), stop a queue (GET_VRING_BASE) and restart it, disable and enable it, reset the
 * device, swap the call fd, pause, let the completer answer deferred chains now, or send a raw
 * message. vu_serve() runs in the calling thread, the driver in a second one, the completer in
 * a third.
 *
 * Checks besides the sanitizers: every used element names a chain the driver made available
 * and not yet got back (no chain completed twice), within its writable length, carrying the
 * reply of that chain (its tag); after GET_VRING_BASE every chain the device took is answered
 * (unless a region was missing meanwhile); the handler's cancel() leaves no deferred request
 * of the queue, and none is left once vu_serve() returns; descriptors come back to their count.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "log.h"
#include "vhost/protocol.h"
#include "vhost/vhost.h"

#define RAM 0x10000
#define REG 0x8000 /* region A: the rings; region B: the buffers */
#define UVA 0x7f0000000000ull
#define QSIZE 16
#define SLOTS 8 /* two descriptors per chain */
#define NQ 2
#define RD_LEN 64
#define WR_LEN 128
#define MAX_ACTIONS 128
#define MAX_PENDING (NQ * SLOTS)

__attribute__((noreturn)) static void fail(const char *what)
{
	fprintf(stderr, "fuzz_vhost_async: %s\n", what);
	abort();
}

/* ---- the handler: echo, or keep the chain and let the completer answer it ---- */

struct pending {
	void (*complete)(void *ctx, uint32_t id, const void *reply, size_t len);
	void *ctx;
	uint32_t id;
	uint8_t req[RD_LEN];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond, done; /* done: the completer finished an answer */
	struct pending p[MAX_PENDING];
	void *busy; /* the ctx whose chain the completer is answering, or NULL */
	unsigned n, burst, pace_us; /* pace 0: only on the driver's COMPLETE actions */
	unsigned deferred, cancelled; /* counts, for FUZZ_VA_TRACE */
	uint64_t rnd;
	bool stop;
} H = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

static size_t gather(const struct iovec *iov, unsigned cnt, uint8_t *buf, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; i < cnt; i++)
		for (size_t k = 0; k < iov[i].iov_len && n < max; k++)
			buf[n++] = ((const uint8_t *)iov[i].iov_base)[k];
	return n;
}

static size_t h_async(void *opaque, const struct iovec *in, unsigned in_cnt,
		      const struct iovec *out, unsigned out_cnt,
		      void (*complete)(void *ctx, uint32_t id, const void *reply, size_t len),
		      void *ctx, uint32_t id)
{
	uint8_t req[RD_LEN];
	size_t n = gather(in, in_cnt, req, sizeof(req)), k = 0;

	/* Byte 0 of the request (the driver's choice): bit 0, answer later. */
	if (n == RD_LEN && (req[0] & 1)) {
		pthread_mutex_lock(&H.lock);
		if (H.n < MAX_PENDING) {
			struct pending *p = &H.p[H.n++];

			H.deferred++;
			p->complete = complete;
			p->ctx = ctx;
			p->id = id;
			memcpy(p->req, req, RD_LEN);
			pthread_cond_signal(&H.cond);
			pthread_mutex_unlock(&H.lock);
			return VU_DEFERRED;
		}
		pthread_mutex_unlock(&H.lock);
	}
	for (unsigned i = 0; i < out_cnt && k < n; i++) {
		size_t c = out[i].iov_len < n - k ? out[i].iov_len : n - k;

		memcpy(out[i].iov_base, req + k, c);
		k += c;
	}
	return k;
}

static size_t h_sync(void *opaque, const struct iovec *in, unsigned in_cnt,
		     const struct iovec *out, unsigned out_cnt)
{
	fail("handle() called although handle_async is set");
	return 0;
}

/* Called with H.lock held: forget entry i, returning it. */
static struct pending take_entry(unsigned i)
{
	struct pending p = H.p[i];

	H.p[i] = H.p[--H.n];
	return p;
}

/* complete() is called without H.lock: it may wait for a memory change, which waits for the
 * chains in handle_async(), which take H.lock (a lock held across complete() deadlocks). */
static void answer(const struct pending *p, bool cancelled)
{
	p->complete(p->ctx, p->id, p->req, cancelled ? 16 : RD_LEN);
}

/* Every deferred chain of ctx answered (with its tag only) before returning, including one
 * the completer is answering at the moment. */
static void h_cancel(void *opaque, void *ctx)
{
	struct pending mine[MAX_PENDING];
	unsigned n = 0;

	pthread_mutex_lock(&H.lock);
	for (unsigned i = 0; i < H.n;)
		if (H.p[i].ctx == ctx)
			mine[n++] = take_entry(i);
		else
			i++;
	H.cancelled += n;
	pthread_mutex_unlock(&H.lock);
	for (unsigned i = 0; i < n; i++)
		answer(&mine[i], true);
	pthread_mutex_lock(&H.lock);
	while (H.busy == ctx)
		pthread_cond_wait(&H.done, &H.lock);
	pthread_mutex_unlock(&H.lock);
}

static void h_reset(void *opaque)
{
	pthread_mutex_lock(&H.lock);
	if (H.n)
		fail("device reset with deferred requests not cancelled");
	pthread_mutex_unlock(&H.lock);
}

/* The completer: answers a random pending chain now and then (or when the driver says). */
static void *completer(void *arg)
{
	pthread_mutex_lock(&H.lock);
	while (!H.stop) {
		if (H.n && (H.burst || (H.pace_us && fz_rand(&H.rnd) % 4 == 0))) {
			struct pending p = take_entry(fz_rand(&H.rnd) % H.n);

			if (H.burst)
				H.burst--;
			H.busy = p.ctx;
			pthread_mutex_unlock(&H.lock);
			answer(&p, false);
			pthread_mutex_lock(&H.lock);
			H.busy = NULL;
			pthread_cond_broadcast(&H.done);
		}
		/* Paced: a random pause between looks while there is something to answer;
		 * with nothing pending, sleep until a chain is deferred. */
		if (H.pace_us && !H.burst && H.n) {
			unsigned us = fz_rand(&H.rnd) % H.pace_us;

			pthread_mutex_unlock(&H.lock);
			usleep(us);
			pthread_mutex_lock(&H.lock);
		} else if (!H.burst || !H.n) {
			pthread_cond_wait(&H.cond, &H.lock);
		}
	}
	pthread_mutex_unlock(&H.lock);
	return NULL;
}

/* ---- the driver: the guest's rings and the frontend's messages ---- */

struct gq {
	uint16_t avail_idx, used_seen, base;
	uint8_t outstanding; /* slots made available, not yet back */
	uint32_t tag[SLOTS];
	int kick;
	bool set_up, stopped;
};

struct drv {
	int sock, memfd;
	uint8_t *ram;
	struct gq q[NQ];
	unsigned nq;
	uint32_t seq;
	unsigned reaped;
	bool ack, event_idx, use_add_reg, reg[2];
	bool alive;
	bool lax;   /* a raw message may have changed anything: no ring invariants */
	bool dirty; /* a region went missing: a chain may be lost (ring unmapped or broken) */
	struct fz f;
};

static uint64_t ring_gpa(unsigned q)
{
	return (uint64_t)q * 0x1000;
}

static uint64_t buf_gpa(unsigned q, unsigned slot)
{
	return REG + ((uint64_t)q * SLOTS + slot) * 256;
}

static bool send_fds(struct drv *d, uint32_t req, uint32_t flags, const void *p, uint32_t size,
		     const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct vu_msg_hdr h = {req, flags, size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)p, size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	if (!d->alive)
		return false;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(d->sock, &mh, MSG_NOSIGNAL) != (ssize_t)(sizeof(h) + size))
		d->alive = false;
	return d->alive;
}

static bool read_all(int fd, void *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		if (poll(&pf, 1, 10000) == 0)
			fail("no reply from the device for 10 s (hung)");
		r = recv(fd, (uint8_t *)p + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* Read messages until the reply to req (others, answers to raw messages, are dropped). */
static bool wait_reply(struct drv *d, uint32_t req, void *out, size_t len)
{
	while (d->alive) {
		struct vu_msg_hdr h;
		uint8_t body[VU_MAX_PAYLOAD];

		if (!read_all(d->sock, &h, sizeof(h)) || h.size > sizeof(body) ||
		    !read_all(d->sock, body, h.size)) {
			d->alive = false;
			break;
		}
		if (h.request == req && (h.flags & VHOST_USER_FLAG_REPLY)) {
			memcpy(out, body, h.size < len ? h.size : len);
			return true;
		}
	}
	return false;
}

/* A message without a reply body; with REPLY_ACK, wait for its ack. */
static bool msg(struct drv *d, uint32_t req, const void *p, uint32_t size, const int *fds,
		unsigned nfds)
{
	uint64_t ack;

	if (!send_fds(d, req, 1 | (d->ack ? VHOST_USER_FLAG_NEED_REPLY : 0), p, size, fds, nfds))
		return false;
	return !d->ack || wait_reply(d, req, &ack, sizeof(ack));
}

static bool query(struct drv *d, uint32_t req, const void *p, uint32_t size, void *out,
		  size_t len)
{
	return send_fds(d, req, 1, p, size, NULL, 0) && wait_reply(d, req, out, len);
}

/* Everything sent before has been handled once this returns. */
static void sync_dev(struct drv *d)
{
	uint64_t v;

	query(d, VHOST_USER_GET_FEATURES, NULL, 0, &v, sizeof(v));
}

static struct vu_mem_region region(unsigned r)
{
	return (struct vu_mem_region){.guest_addr = r * REG, .size = REG, .user_addr = UVA + r * REG,
				      .mmap_offset = r * REG};
}

static void mem_table(struct drv *d, bool a, bool b)
{
	struct vu_mem_table t = {0};
	int fds[2] = {d->memfd, d->memfd};

	if (a)
		t.regions[t.nregions++] = region(0);
	if (b)
		t.regions[t.nregions++] = region(1);
	msg(d, VHOST_USER_SET_MEM_TABLE, &t, 8 + t.nregions * sizeof(t.regions[0]), fds,
	    t.nregions);
	d->dirty |= d->reg[0] > a || d->reg[1] > b;
	d->reg[0] = a;
	d->reg[1] = b;
}

static void add_reg(struct drv *d, unsigned r)
{
	struct vu_mem_reg m = {.region = region(r)};

	if (msg(d, VHOST_USER_ADD_MEM_REG, &m, sizeof(m), &d->memfd, 1))
		d->reg[r] = true;
}

static void rem_reg(struct drv *d, unsigned r, bool with_fd)
{
	struct vu_mem_reg m = {.region = region(r)};

	msg(d, VHOST_USER_REM_MEM_REG, &m, sizeof(m), &d->memfd, with_fd);
	d->dirty |= d->reg[r];
	d->reg[r] = false;
}

static void new_eventfd_msg(struct drv *d, uint32_t req, unsigned q, int *keep)
{
	uint64_t v = q;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		fail("eventfd");
	msg(d, req, &v, sizeof(v), &fd, 1);
	if (keep) {
		if (*keep >= 0)
			close(*keep);
		*keep = fd;
	} else {
		close(fd);
	}
}

static void queue_setup(struct drv *d, unsigned q, uint16_t base)
{
	struct vhost_vring_state num = {q, QSIZE}, b = {q, base}, on = {q, 1};
	uint64_t r = UVA + ring_gpa(q);
	struct vhost_vring_addr a = {.index = q, .desc_user_addr = r, .avail_user_addr = r + 0x100,
				     .used_user_addr = r + 0x200};

	msg(d, VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0);
	msg(d, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	msg(d, VHOST_USER_SET_VRING_BASE, &b, sizeof(b), NULL, 0);
	new_eventfd_msg(d, VHOST_USER_SET_VRING_CALL, q, NULL);
	new_eventfd_msg(d, VHOST_USER_SET_VRING_KICK, q, &d->q[q].kick);
	msg(d, VHOST_USER_SET_VRING_ENABLE, &on, sizeof(on), NULL, 0);
	d->q[q].set_up = true;
	d->q[q].stopped = false;
}

static void features(struct drv *d)
{
	uint64_t v = (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
		     (d->event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0);

	sync_dev(d);
	msg(d, VHOST_USER_SET_FEATURES, &v, sizeof(v), NULL, 0);
}

static void dev_setup(struct drv *d)
{
	uint64_t pf = (1ull << VHOST_USER_PROTOCOL_F_MQ) |
		      (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |
		      (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |
		      (d->ack ? 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK : 0);
	uint64_t v;

	query(d, VHOST_USER_GET_PROTOCOL_FEATURES, NULL, 0, &v, sizeof(v));
	send_fds(d, VHOST_USER_SET_PROTOCOL_FEATURES, 1, &pf, sizeof(pf), NULL, 0);
	features(d);
	msg(d, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (d->use_add_reg) {
		add_reg(d, 0);
		add_reg(d, 1);
	} else {
		mem_table(d, true, true);
	}
	for (unsigned q = 0; q < d->nq; q++)
		queue_setup(d, q, 0);
}

/* ---- the guest's side of the rings (region A at gpa 0, one 4 KiB page per queue: the
 * descriptor table, avail at +0x100, used at +0x200; region B: one 256-byte buffer pair per
 * chain, RD_LEN readable bytes then WR_LEN writable at +128) ---- */

static struct vring_desc *ring_desc(struct drv *d, unsigned q)
{
	return (struct vring_desc *)(void *)(d->ram + ring_gpa(q));
}

static struct vring_avail *ring_avail(struct drv *d, unsigned q)
{
	return (struct vring_avail *)(void *)(d->ram + ring_gpa(q) + 0x100);
}

static struct vring_used *ring_used(struct drv *d, unsigned q)
{
	return (struct vring_used *)(void *)(d->ram + ring_gpa(q) + 0x200);
}

/* Make up to count chains available on q, chain i deferred if bit i % 4 of defer is set. */
static void post(struct drv *d, unsigned q, unsigned count, unsigned defer, bool kick)
{
	struct gq *g = &d->q[q];
	struct vring_desc *desc = ring_desc(d, q);
	struct vring_avail *av = ring_avail(d, q);

	for (unsigned i = 0; i < count && g->set_up; i++) {
		unsigned s = 0;

		while (s < SLOTS && (g->outstanding >> s & 1))
			s++;
		if (s == SLOTS)
			break;
		uint8_t *rd = d->ram + buf_gpa(q, s), *wr = rd + 128;
		uint32_t tag = ++d->seq;

		memset(rd, 0, RD_LEN);
		rd[0] = defer >> (i % 4) & 1;
		memcpy(rd + 4, &tag, sizeof(tag));
		memset(wr, 0, WR_LEN);
		desc[2 * s] = (struct vring_desc){buf_gpa(q, s), RD_LEN, VRING_DESC_F_NEXT,
						  (uint16_t)(2 * s + 1)};
		desc[2 * s + 1] = (struct vring_desc){buf_gpa(q, s) + 128, WR_LEN,
						      VRING_DESC_F_WRITE, 0};
		av->ring[g->avail_idx % QSIZE] = (uint16_t)(2 * s);
		__atomic_store_n(&av->idx, ++g->avail_idx, __ATOMIC_RELEASE);
		g->outstanding |= (uint8_t)(1u << s);
		g->tag[s] = tag;
	}
	if (kick && g->kick >= 0)
		eventfd_write(g->kick, 1);
}

/* Take back what the device used, checking each element. */
static void reap(struct drv *d, unsigned q)
{
	struct gq *g = &d->q[q];
	struct vring_used *u = ring_used(d, q);
	uint16_t idx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);

	if ((uint16_t)(idx - g->used_seen) > QSIZE && !d->lax)
		fail("the used index moved past what was made available");
	for (; g->used_seen != idx; g->used_seen++) {
		struct vring_used_elem e = u->ring[g->used_seen % QSIZE];
		unsigned s = e.id / 2;
		const uint8_t *rd = d->ram + buf_gpa(q, s % SLOTS);

		if (d->lax) {
			if (e.id < QSIZE)
				g->outstanding &= (uint8_t)~(1u << s);
			continue;
		}
		if (e.id >= QSIZE || e.id % 2 || !(g->outstanding >> s & 1))
			fail("a used element names a chain that is not available (done twice?)");
		if (e.len > WR_LEN)
			fail("a used length past the chain's writable buffer");
		if (e.len >= 8 && memcmp(rd + 128, rd, 8) != 0)
			fail("a reply landed in another chain (tag mismatch)");
		g->outstanding &= (uint8_t)~(1u << s);
		d->reaped++;
	}
}

/* After GET_VRING_BASE: the chains still out are exactly those the device never took. */
static void check_stopped(struct drv *d, unsigned q)
{
	struct gq *g = &d->q[q];
	unsigned out = (unsigned)__builtin_popcount(g->outstanding);

	if (d->lax || d->dirty)
		return;
	if (out != (uint16_t)(g->avail_idx - g->base)) {
		fprintf(stderr, "fuzz_vhost_async: queue %u stopped at %u, %u made available, "
				"%u not answered\n", q, g->base, g->avail_idx, out);
		fail("a chain the device took was never answered");
	}
}

static void ring_zero(struct drv *d)
{
	for (unsigned q = 0; q < NQ; q++) {
		memset(d->ram + ring_gpa(q), 0, 0x1000);
		if (d->q[q].kick >= 0)
			close(d->q[q].kick);
		d->q[q] = (struct gq){.kick = -1};
	}
}

/* ---- the actions ---- */

static void act_stop(struct drv *d, unsigned q)
{
	struct vhost_vring_state s = {q, 0}, got = {0};
	struct gq *g = &d->q[q];

	if (!g->set_up || g->stopped)
		return;
	if (!query(d, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), &got, sizeof(got)))
		return;
	g->stopped = true;
	g->base = (uint16_t)got.num;
	if (g->kick >= 0)
		close(g->kick);
	g->kick = -1;
	reap(d, q);
	check_stopped(d, q);
}

static void act_restart(struct drv *d, unsigned q)
{
	struct vhost_vring_state b = {q, d->q[q].base};

	if (!d->q[q].stopped)
		return;
	msg(d, VHOST_USER_SET_VRING_BASE, &b, sizeof(b), NULL, 0);
	new_eventfd_msg(d, VHOST_USER_SET_VRING_KICK, q, &d->q[q].kick);
	d->q[q].stopped = false;
}

static void act_reset(struct drv *d)
{
	send_fds(d, VHOST_USER_RESET_DEVICE, 1, NULL, 0, NULL, 0);
	sync_dev(d);
	ring_zero(d);
	d->dirty = false;
	features(d);
	for (unsigned q = 0; q < d->nq; q++)
		queue_setup(d, q, 0);
}

/* Any message: u8 length, then the 12-byte header and payload from the input. */
static void act_raw(struct drv *d, unsigned arg)
{
	struct vu_msg_hdr h = {0};
	uint8_t p[64];
	size_t n = arg & 63;

	memcpy(&h, d->f.p, d->f.left < sizeof(h) ? d->f.left : sizeof(h));
	d->f.p += d->f.left < sizeof(h) ? d->f.left : sizeof(h);
	d->f.left -= d->f.left < sizeof(h) ? d->f.left : sizeof(h);
	if (n > d->f.left)
		n = d->f.left;
	memcpy(p, d->f.p, n);
	d->f.p += n;
	d->f.left -= n;
	d->lax = true;
	int fd = arg & 0x80 ? eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK) : (arg & 0x40 ? d->memfd : -1);

	send_fds(d, h.request, h.flags & ~VHOST_USER_FLAG_NEED_REPLY, p, (uint32_t)n, &fd,
		 fd >= 0);
	if (arg & 0x80)
		close(fd);
	sync_dev(d);
}

static void act(struct drv *d, unsigned op, unsigned arg)
{
	unsigned q = (arg >> 3 & 1) % d->nq;
	struct vhost_vring_state en = {q, arg >> 1 & 1};

	switch (op % 16) {
	case 0:
	case 1:
		post(d, q, (arg & 7) + 1, arg >> 4, op == 0);
		break;
	case 2:
		if (d->q[q].kick >= 0)
			eventfd_write(d->q[q].kick, 1);
		break;
	case 3:
		reap(d, q);
		break;
	case 4:
		mem_table(d, true, true); /* the same regions again */
		break;
	case 5:
		mem_table(d, !(arg & 1), arg & 1);
		break;
	case 6:
		rem_reg(d, arg & 1, arg & 2);
		break;
	case 7:
		add_reg(d, arg & 1);
		break;
	case 8:
		act_stop(d, q);
		break;
	case 9:
		act_restart(d, q);
		break;
	case 10:
		msg(d, VHOST_USER_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0);
		break;
	case 11:
		act_reset(d);
		break;
	case 12:
		usleep(arg * 10);
		break;
	case 13:
		pthread_mutex_lock(&H.lock);
		H.burst += (arg & 3) + 1;
		pthread_cond_signal(&H.cond);
		pthread_mutex_unlock(&H.lock);
		break;
	case 14:
		new_eventfd_msg(d, VHOST_USER_SET_VRING_CALL, q, NULL);
		break;
	default:
		act_raw(d, arg);
		break;
	}
}

static void *drive(void *arg)
{
	struct drv *d = arg;

	dev_setup(d);
	for (unsigned i = 0; i < MAX_ACTIONS && d->f.left > 0 && d->alive; i++) {
		unsigned op = (unsigned)fz_take(&d->f, 1);

		act(d, op, (unsigned)fz_take(&d->f, 1));
	}
	/* Stop every queue: each chain the device took must be answered by then. */
	for (unsigned q = 0; q < d->nq && d->alive; q++)
		act_stop(d, q);
	shutdown(d->sock, SHUT_WR);
	/* FUZZ_VA_TRACE=1: what an input did (to check a seed). */
	if (getenv("FUZZ_VA_TRACE"))
		fprintf(stderr, "chains made available %u, answered %u (deferred %u, cancelled %u)%s%s%s\n",
			d->seq, d->reaped, H.deferred, H.cancelled, d->alive ? "" : ", connection lost",
			d->lax ? ", lax" : "", d->dirty ? ", dirty" : "");
	return NULL;
}

/* Config byte: bit 0 worker pool; 1 EVENT_IDX; 2 memory by ADD_MEM_REG; 3 REPLY_ACK; 4 two
 * queues; 5-6 completer pace (none: only COMPLETE actions, 50 us, 500 us, 5 ms). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned paces[] = {0, 50, 500, 5000};
	struct fz f = {data, size};
	unsigned cfg = (unsigned)fz_take(&f, 1);
	struct vu_handler h = {.handle = h_sync, .handle_async = h_async, .cancel = h_cancel,
			       .reset = h_reset};
	struct vu_opts o = {.thread_pool_size = cfg & 1 ? 2 : 0};
	int fds = fz_count_fds(), sv[2];
	struct drv *d = calloc(1, sizeof(*d));
	pthread_t drv_th, cpl_th;

	log_init(LOG_LVL_OFF, false);
	if (!d)
		abort();
	*d = (struct drv){.event_idx = cfg & 2, .use_add_reg = cfg & 4, .ack = cfg & 8,
			  .nq = cfg & 16 ? 2 : 1, .alive = true};
	H.rnd = fz_take(&f, 4) | 1;
	H.pace_us = paces[cfg >> 5 & 3];
	H.stop = false;
	H.burst = 0;
	H.deferred = H.cancelled = 0;
	d->f = f;
	d->memfd = memfd_create("fuzz-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (d->memfd < 0 || ftruncate(d->memfd, RAM) < 0 ||
	    fcntl(d->memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		fail("memfd");
	d->ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd, 0);
	if (d->ram == MAP_FAILED || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail("guest memory or socket");
	for (unsigned q = 0; q < NQ; q++)
		d->q[q].kick = -1;
	d->sock = sv[0];
	if (pthread_create(&cpl_th, NULL, completer, NULL) != 0 ||
	    pthread_create(&drv_th, NULL, drive, d) != 0)
		fail("threads");
	vu_serve(sv[1], &h, &o); /* closes sv[1] */
	pthread_join(drv_th, NULL);
	pthread_mutex_lock(&H.lock);
	if (H.n || H.busy)
		fail("a deferred request outlived the device (never cancelled)");
	H.stop = true;
	pthread_cond_signal(&H.cond);
	pthread_mutex_unlock(&H.lock);
	pthread_join(cpl_th, NULL);
	for (unsigned q = 0; q < NQ; q++)
		if (d->q[q].kick >= 0)
			close(d->q[q].kick);
	close(sv[0]);
	munmap(d->ram, RAM);
	close(d->memfd);
	free(d);
	if (fz_count_fds() != fds)
		fail("descriptors leaked");
	return 0;
}
