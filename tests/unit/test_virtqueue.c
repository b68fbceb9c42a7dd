/* Split ring walking over synthetic guest memory: good chains and every guest mistake we guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/mman.h>

#include "virtio/gmem.h"
#include "virtio/virtqueue.h"

#define NUM 16
#define REG_SIZE 0x10000
#define UVA_BIAS 0x7f0000000000ull
/* Regions A and B are adjacent in guest-physical space (a buffer may straddle them) but not in
 * host memory; C stands alone. */
#define GPA_A 0x0ull
#define GPA_B 0x10000ull
#define GPA_C 0x100000ull
#define GPA_DESC 0x0ull
#define GPA_AVAIL 0x1000ull
#define GPA_USED 0x2000ull
#define GPA_DATA 0x4000ull
#define GPA_IND 0x8000ull

struct fx {
	uint8_t *ram[3];
	struct gmem mem;
	struct vq vq;
	struct iovec iov[64];
	struct vq_elem e;
	uint16_t avail_idx;
};

static uint8_t *host(struct fx *f, uint64_t gpa)
{
	return gmem_gpa_to_host(&f->mem, gpa, 1);
}

static void set_desc_at(struct fx *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(host(f, table + 16ull * i), &d, sizeof(d));
}

static void set_desc(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(f, GPA_DESC, i, addr, len, flags, next);
}

static struct vring_avail *avail(struct fx *f)
{
	return (struct vring_avail *)host(f, GPA_AVAIL);
}

static struct vring_used *used(struct fx *f)
{
	return (struct vring_used *)host(f, GPA_USED);
}

static void make_avail(struct fx *f, uint16_t head)
{
	avail(f)->ring[f->avail_idx % NUM] = head;
	f->avail_idx++;
	avail(f)->idx = f->avail_idx;
}

static int setup_fx(void **state, bool event_idx)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint64_t gpas[3] = {GPA_A, GPA_B, GPA_C};

	gmem_init(&f->mem);
	for (int i = 0; i < 3; i++) {
		f->ram[i] = calloc(1, REG_SIZE);
		assert_int_equal(
		    gmem_add_host(&f->mem, f->ram[i], gpas[i], REG_SIZE, gpas[i] + UVA_BIAS), 0);
	}
	assert_int_equal(vq_init(&f->vq, 1, NUM, event_idx, true), 0);
	assert_int_equal(
	    vq_map(&f->vq, &f->mem, GPA_DESC + UVA_BIAS, GPA_AVAIL + UVA_BIAS, GPA_USED + UVA_BIAS),
	    0);
	vq_start(&f->vq, 0);
	f->e.iov = f->iov;
	f->e.iov_max = 64;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_fx(state, false);
}

static int setup_ei(void **state)
{
	return setup_fx(state, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	for (int i = 0; i < 3; i++)
		free(f->ram[i]);
	free(f);
	return 0;
}

static void expect_broken(struct fx *f, int err)
{
	assert_int_equal(vq_pop(&f->vq, &f->e), err);
	assert_true(f->vq.broken);
	/* Once broken, the ring is never read again. */
	assert_int_equal(vq_pop(&f->vq, &f->e), -EIO);
}

static void test_good_chain(void **state)
{
	struct fx *f = *state;

	memcpy(host(f, GPA_DATA), "hello", 5);
	set_desc(f, 3, GPA_DATA, 5, VRING_DESC_F_NEXT, 7);
	set_desc(f, 7, GPA_DATA + 0x100, 40, VRING_DESC_F_NEXT, 2);
	set_desc(f, 2, GPA_DATA + 0x200, 100, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 0);
	make_avail(f, 3);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(f->e.head, 3);
	assert_int_equal(f->e.rd_cnt, 2);
	assert_int_equal(f->e.wr_cnt, 1);
	assert_int_equal(f->e.rd_len, 45);
	assert_int_equal(f->e.wr_len, 100);
	assert_memory_equal(f->iov[0].iov_base, "hello", 5);
	assert_ptr_equal(f->iov[2].iov_base, host(f, GPA_DATA + 0x200));
	assert_int_equal(vq_pop(&f->vq, &f->e), 0);
	/* The used length is clamped to the writable space. */
	vq_push(&f->vq, &f->e, 1000);
	assert_int_equal(used(f)->idx, 1);
	assert_int_equal(used(f)->ring[0].id, 3);
	assert_int_equal(used(f)->ring[0].len, 100);
	assert_true(vq_should_notify(&f->vq));
	avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_should_notify(&f->vq));
}

static void test_cross_region(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, GPA_B - 0x10, 0x30, VRING_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(f->e.rd_cnt, 0);
	assert_int_equal(f->e.wr_cnt, 2);
	assert_ptr_equal(f->iov[0].iov_base, f->ram[0] + REG_SIZE - 0x10);
	assert_int_equal(f->iov[0].iov_len, 0x10);
	assert_ptr_equal(f->iov[1].iov_base, f->ram[1]);
	assert_int_equal(f->iov[1].iov_len, 0x20);
	assert_int_equal(f->e.wr_len, 0x30);
}

static void test_outside_memory(void **state)
{
	struct fx *f = *state;

	/* Starts in B, runs into the hole between B and C. */
	set_desc(f, 0, GPA_B + REG_SIZE - 8, 16, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_outside_memory_far(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, 0x7fffffff0000ull, 16, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_loop(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, GPA_DATA, 8, VRING_DESC_F_NEXT, 0);
	make_avail(f, 0);
	expect_broken(f, -ELOOP);
}

static void test_self_loop(void **state)
{
	struct fx *f = *state;

	set_desc(f, 5, GPA_DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	make_avail(f, 5);
	expect_broken(f, -ELOOP);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_NEXT, NUM);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_len_overflow_32(void **state)
{
	struct fx *f = *state;
	const uint64_t big = 0x200000000ull;
	/* Address space only: the walker never touches buffer bytes. */
	void *res = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_ptr_not_equal(res, MAP_FAILED);
	assert_int_equal(gmem_add_host(&f->mem, res, 0x100000000ull, big, 0x100000000ull), 0);
	set_desc(f, 0, 0x100000000ull, 0xffffffffu, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, 0x100000000ull, 2, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EOVERFLOW);
	munmap(res, big);
}

static void test_len_overflow_64(void **state)
{
	struct fx *f = *state;
	static uint8_t top[0x1000];

	/* A region ending at the top of the guest address space: a buffer running past it must
	 * not wrap around to guest address 0. */
	assert_int_equal(gmem_add_host(&f->mem, top, UINT64_MAX - 0xfff, 0x1000, 0x1000), 0);
	set_desc(f, 0, UINT64_MAX - 0x10, 0x100, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_len_at_top_ok(void **state)
{
	struct fx *f = *state;
	static uint8_t top[0x1000];

	assert_int_equal(gmem_add_host(&f->mem, top, UINT64_MAX - 0xfff, 0x1000, 0x1000), 0);
	set_desc(f, 0, UINT64_MAX - 0xf, 0x10, 0, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_ptr_equal(f->iov[0].iov_base, top + 0xff0);
}

static void test_writable_before_readable(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(f, 1, GPA_DATA, 8, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_avail_jump(void **state)
{
	struct fx *f = *state;

	avail(f)->idx = NUM + 1;
	expect_broken(f, -EPROTO);
}

static void test_avail_full_ring_ok(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < NUM; i++) {
		set_desc(f, i, GPA_DATA, 8, 0, 0);
		make_avail(f, (uint16_t)i);
	}
	for (unsigned i = 0; i < NUM; i++)
		assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(vq_pop(&f->vq, &f->e), 0);
}

static void test_avail_wraps(void **state)
{
	struct fx *f = *state;

	/* Free-running 16-bit indices wrap: 0xffff -> 0 is a move of one. */
	vq_start(&f->vq, 0xffff);
	f->avail_idx = 0xffff;
	set_desc(f, 0, GPA_DATA, 8, 0, 0);
	make_avail(f, 0);
	assert_int_equal(avail(f)->idx, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(f->vq.last_avail_idx, 0);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	make_avail(f, NUM);
	expect_broken(f, -EINVAL);
}

static void test_indirect_good(void **state)
{
	struct fx *f = *state;

	set_desc_at(f, GPA_IND, 0, GPA_DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, GPA_IND, 1, GPA_DATA + 0x100, 32, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc_at(f, GPA_IND, 2, GPA_B - 4, 8, VRING_DESC_F_WRITE, 0);
	/* One direct readable descriptor, then the indirect table (WRITE on it is ignored). */
	set_desc(f, 4, GPA_DATA + 0x300, 4, VRING_DESC_F_NEXT, 9);
	set_desc(f, 9, GPA_IND, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	make_avail(f, 4);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(f->e.head, 4);
	assert_int_equal(f->e.rd_cnt, 2);
	assert_int_equal(f->e.wr_cnt, 3);
	assert_int_equal(f->e.rd_len, 20);
	assert_int_equal(f->e.wr_len, 40);
}

static void test_indirect_split_table(void **state)
{
	struct fx *f = *state;
	uint64_t t = GPA_B - 16; /* entry 0 in A, entry 1 in B */

	set_desc_at(f, t, 0, GPA_DATA, 16, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, t, 1, GPA_DATA, 16, VRING_DESC_F_WRITE, 0);
	set_desc(f, 0, t, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	assert_int_equal(f->e.rd_cnt, 1);
	assert_int_equal(f->e.wr_cnt, 1);
}

static void indirect_bad_size(struct fx *f, uint32_t len)
{
	set_desc(f, 0, GPA_IND, len, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_not_multiple(void **state)
{
	indirect_bad_size(*state, 17);
}

static void test_indirect_zero(void **state)
{
	indirect_bad_size(*state, 0);
}

static void test_indirect_too_large(void **state)
{
	indirect_bad_size(*state, (NUM + 1) * 16);
}

static void test_indirect_nested(void **state)
{
	struct fx *f = *state;

	set_desc_at(f, GPA_IND, 0, GPA_DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, GPA_IND, 1, GPA_IND + 0x100, 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(f, 0, GPA_IND, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_with_next(void **state)
{
	struct fx *f = *state;

	set_desc_at(f, GPA_IND, 0, GPA_DATA, 8, 0, 0);
	set_desc(f, 0, GPA_IND, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, GPA_DATA, 8, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_loop(void **state)
{
	struct fx *f = *state;

	set_desc_at(f, GPA_IND, 0, GPA_DATA, 8, VRING_DESC_F_NEXT, 1);
	set_desc_at(f, GPA_IND, 1, GPA_DATA, 8, VRING_DESC_F_NEXT, 0);
	set_desc(f, 0, GPA_IND, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	expect_broken(f, -ELOOP);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fx *f = *state;

	f->vq.indirect = false;
	set_desc_at(f, GPA_IND, 0, GPA_DATA, 8, 0, 0);
	set_desc(f, 0, GPA_IND, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_too_many_iovecs(void **state)
{
	struct fx *f = *state;

	f->e.iov_max = 1;
	set_desc(f, 0, GPA_B - 0x10, 0x20, 0, 0);
	make_avail(f, 0);
	expect_broken(f, -ENOBUFS);
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;
	uint16_t *used_event = &avail(f)->ring[NUM];
	uint16_t *avail_event = (uint16_t *)&used(f)->ring[NUM];

	for (unsigned i = 0; i < 4; i++) {
		set_desc(f, i, GPA_DATA, 8, VRING_DESC_F_WRITE, 0);
		make_avail(f, (uint16_t)i);
	}
	/* First decision after start: always notify. */
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8);
	assert_true(vq_should_notify(&f->vq));
	/* The guest wants an interrupt once used idx passes 2 (used_event = 2). */
	*used_event = 2;
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8); /* used idx 1 -> 2: event 2 not crossed */
	assert_false(vq_should_notify(&f->vq));
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8); /* 2 -> 3: crosses used_event 2 */
	assert_true(vq_should_notify(&f->vq));
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8); /* 3 -> 4, event still 2 */
	assert_false(vq_should_notify(&f->vq));
	/* The NO_INTERRUPT flag is ignored with EVENT_IDX. */
	*used_event = 4;
	avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8);
	assert_true(vq_should_notify(&f->vq));
	/* Re-enabling publishes avail_event = next index to pop and re-checks the ring. */
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(*avail_event, 5);
	make_avail(f, 0);
	assert_true(vq_enable_notify(&f->vq));
}

/* A ring restarted (device reset, a new driver from index 0) forgets what was signalled: the
 * old session's signalled_used may equal the new used index, and EVENT_IDX would then say
 * "already signalled" to a guest that never got an interrupt. */
static void test_event_idx_after_restart(void **state)
{
	struct fx *f = *state;

	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8); /* used idx 1, signalled at 1 */
	assert_true(vq_should_notify(&f->vq));
	/* The new driver's ring: everything from 0 again. */
	memset(avail(f), 0, sizeof(struct vring_avail) + 2 * NUM + 2);
	memset(used(f), 0, sizeof(struct vring_used) + 8 * NUM + 2);
	f->avail_idx = 0;
	vq_start(&f->vq, 0);
	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8); /* used idx 1 again */
	assert_true(vq_should_notify(&f->vq));
}

/* One chain popped and pushed (the guest made it available at head 0). */
static void pop_push_one(struct fx *f)
{
	set_desc(f, 0, GPA_DATA, 8, VRING_DESC_F_WRITE, 0);
	make_avail(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->e), 1);
	vq_push(&f->vq, &f->e, 8);
}

/* The free-running 16-bit indices cross 65535 -> 0 with used_event around the wrap: the push
 * that moves used idx from used_event to used_event + 1 (and only that one) notifies; a decision
 * over several pushes notifies when they passed used_event; avail_event wraps with the avail
 * index. */
static void test_event_idx_wrap(void **state)
{
	struct fx *f = *state;
	uint16_t *used_event = &avail(f)->ring[NUM];
	uint16_t *avail_event = (uint16_t *)&used(f)->ring[NUM];
	const uint16_t events[] = {0xfffc, 0xfffd, 0xfffe, 0xffff, 0x0000, 0x0001, 0x0002};

	for (unsigned k = 0; k < sizeof(events) / sizeof(events[0]); k++) {
		used(f)->idx = 0xfffa;
		vq_start(&f->vq, 0xfff9);
		f->avail_idx = 0xfff9;
		pop_push_one(f); /* used 0xfffa -> 0xfffb; the first decision always notifies */
		assert_true(vq_should_notify(&f->vq));
		*used_event = events[k];
		for (unsigned i = 0; i < 8; i++) {
			uint16_t before = f->vq.used_idx;

			pop_push_one(f);
			assert_int_equal(used(f)->idx, (uint16_t)(before + 1));
			if (before == events[k])
				assert_true(vq_should_notify(&f->vq));
			else
				assert_false(vq_should_notify(&f->vq));
		}
		assert_int_equal(f->vq.used_idx, 0x0003);
	}
	/* Three pushes (0xfffe -> 0x0001), then one decision. */
	used(f)->idx = 0xfffe;
	vq_start(&f->vq, 0xfffd);
	f->avail_idx = 0xfffd;
	pop_push_one(f);
	assert_true(vq_should_notify(&f->vq)); /* first decision; used idx 0xffff */
	for (unsigned i = 0; i < 3; i++)
		pop_push_one(f);
	*used_event = 0xffff; /* passed by 0xffff -> 0x0000 */
	assert_true(vq_should_notify(&f->vq));
	for (unsigned i = 0; i < 3; i++)
		pop_push_one(f);
	*used_event = 0x0005; /* 0x0002 -> 0x0005: not passed yet */
	assert_false(vq_should_notify(&f->vq));
	pop_push_one(f);
	assert_true(vq_should_notify(&f->vq)); /* 0x0005 -> 0x0006 */
	/* avail_event follows the popped index across the wrap. */
	vq_start(&f->vq, 0xffff);
	f->avail_idx = 0xffff;
	avail(f)->idx = 0xffff;
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(*avail_event, 0xffff);
	pop_push_one(f);
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(*avail_event, 0x0000);
	make_avail(f, 0);
	assert_true(vq_enable_notify(&f->vq));
}

static void test_no_event_idx_flags(void **state)
{
	struct fx *f = *state;

	vq_disable_notify(&f->vq);
	assert_true(used(f)->flags & VRING_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&f->vq));
	assert_false(used(f)->flags & VRING_USED_F_NO_NOTIFY);
	set_desc(f, 0, GPA_DATA, 8, 0, 0);
	make_avail(f, 0);
	assert_true(vq_enable_notify(&f->vq));
}

static void test_map_errors(void **state)
{
	struct fx *f = *state;

	/* Used ring running past the end of region C. */
	assert_int_equal(vq_map(&f->vq, &f->mem, GPA_DESC + UVA_BIAS, GPA_AVAIL + UVA_BIAS,
				GPA_C + REG_SIZE - 64 + UVA_BIAS),
			 -EFAULT);
	assert_int_equal(vq_pop(&f->vq, &f->e), 0);
	/* Misaligned descriptor table. */
	assert_int_equal(vq_map(&f->vq, &f->mem, GPA_DESC + 8 + UVA_BIAS, GPA_AVAIL + UVA_BIAS,
				GPA_USED + UVA_BIAS),
			 -EFAULT);
	/* Guest-physical addresses are not frontend addresses. */
	assert_int_equal(vq_map(&f->vq, &f->mem, GPA_DESC, GPA_AVAIL, GPA_USED), -EFAULT);
	assert_int_equal(vq_init(&f->vq, 0, 3, false, false), -EINVAL);
	assert_int_equal(vq_init(&f->vq, 0, VQ_MAX_SIZE * 2, false, false), -EINVAL);
	assert_int_equal(vq_init(&f->vq, 0, VQ_MAX_SIZE, false, false), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TE(fn) cmocka_unit_test_setup_teardown(fn, setup_ei, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_good_chain),
	    T(test_cross_region),
	    T(test_outside_memory),
	    T(test_outside_memory_far),
	    T(test_loop),
	    T(test_self_loop),
	    T(test_next_out_of_range),
	    T(test_len_overflow_32),
	    T(test_len_overflow_64),
	    T(test_len_at_top_ok),
	    T(test_writable_before_readable),
	    T(test_avail_jump),
	    T(test_avail_full_ring_ok),
	    T(test_avail_wraps),
	    T(test_head_out_of_range),
	    T(test_indirect_good),
	    T(test_indirect_split_table),
	    T(test_indirect_not_multiple),
	    T(test_indirect_zero),
	    T(test_indirect_too_large),
	    T(test_indirect_nested),
	    T(test_indirect_with_next),
	    T(test_indirect_loop),
	    T(test_indirect_not_negotiated),
	    T(test_too_many_iovecs),
	    TE(test_event_idx),
	    TE(test_event_idx_after_restart),
	    TE(test_event_idx_wrap),
	    T(test_no_event_idx_flags),
	    T(test_map_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
