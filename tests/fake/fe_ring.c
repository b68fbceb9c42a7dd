/* Guest RAM (a memfd) and split virtqueues built in it, driven like a guest driver would. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

/* Layout of guest RAM (offsets from FE_GPA_BASE):
 *   [0, 1 MiB)       rings, FE_RING_AREA per queue (region 0)
 *   around 32 MiB    one "crossing" allocation per request, straddling the region boundary
 *   [34 MiB, 64 MiB) request buffers (region 1) */
#define FE_RING_AREA (256u << 10)
#define FE_BOUNDARY (32ull << 20)
#define FE_DATA_START (34ull << 20)

int fe_mem_init(struct fe *fe)
{
	fe->mem_fd = memfd_create("fake-guest-ram", MFD_CLOEXEC);
	if (fe->mem_fd < 0)
		return -errno;
	fe->mem_size = fe->opts.mem_size ? fe->opts.mem_size : FE_MEM_SIZE;
	if (fe->mem_size < FE_DATA_START || fe->mem_size % (2ull << 20))
		return -EINVAL;
	if (ftruncate(fe->mem_fd, fe->mem_size) < 0)
		return -errno;
	fe->mem = mmap(NULL, fe->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->mem_fd, 0);
	if (fe->mem == MAP_FAILED) {
		fe->mem = NULL;
		return -errno;
	}
	fe->nregions = fe->opts.one_region ? 1 : 2;
	for (unsigned i = 0; i < fe->nregions; i++) {
		uint64_t size = fe->mem_size / fe->nregions, off = size * i;

		fe->regions[i] = (struct fe_vu_region){
			.guest_phys_addr = FE_GPA_BASE + off,
			.memory_size = size,
			.userspace_addr = (uint64_t)(uintptr_t)(fe->mem + off),
			.mmap_offset = off,
		};
	}
	fe->data_start = FE_DATA_START;
	fe_alloc_reset(fe);
	return 0;
}

void fe_mem_fini(struct fe *fe)
{
	if (fe->mem)
		munmap(fe->mem, fe->mem_size);
	fe->mem = NULL;
	if (fe->mem_fd >= 0)
		close(fe->mem_fd);
	fe->mem_fd = -1;
}

void *fe_gpa_ptr(struct fe *fe, uint64_t gpa, uint64_t len)
{
	if (gpa < FE_GPA_BASE || gpa - FE_GPA_BASE > fe->mem_size ||
	    len > fe->mem_size - (gpa - FE_GPA_BASE))
		return NULL;
	return fe->mem + (gpa - FE_GPA_BASE);
}

static bool cross_used;

uint64_t fe_alloc(struct fe *fe, uint64_t len, bool cross)
{
	uint64_t off;

	if (cross) {
		if (cross_used || len / 2 > FE_BOUNDARY - FE_RING_AREA * FE_MAX_QUEUES ||
		    len - len / 2 > FE_DATA_START - FE_BOUNDARY)
			return 0;
		cross_used = true;
		off = (FE_BOUNDARY - len / 2) & ~63ull;
		return FE_GPA_BASE + off;
	}
	off = (fe->alloc_next + 63) & ~63ull;
	if (len > fe->mem_size - off)
		return 0;
	fe->alloc_next = off + len;
	return FE_GPA_BASE + off;
}

void fe_alloc_reset(struct fe *fe)
{
	fe->alloc_next = fe->data_start;
	cross_used = false;
}

int fe_vq_init(struct fe *fe, unsigned q, unsigned num)
{
	struct fe_vq *vq = &fe->vq[q];
	uint64_t base = (uint64_t)q * FE_RING_AREA;

	if (!num || num > 4096 || (num & (num - 1)))
		return -EINVAL;
	vq->num = num;
	vq->desc_gpa = FE_GPA_BASE + base;
	vq->avail_gpa = vq->desc_gpa + 16ull * num;
	vq->used_gpa = (vq->avail_gpa + 6 + 2ull * num + 4095) & ~4095ull;
	vq->desc = fe_gpa_ptr(fe, vq->desc_gpa, 16ull * num);
	vq->avail = fe_gpa_ptr(fe, vq->avail_gpa, 6 + 2ull * num);
	vq->used = fe_gpa_ptr(fe, vq->used_gpa, 6 + 8ull * num);
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->free_stack = calloc(num, sizeof(*vq->free_stack));
	vq->in_use = calloc(num, sizeof(*vq->in_use));
	if (vq->kick_fd < 0 || vq->call_fd < 0 || vq->err_fd < 0 || !vq->free_stack ||
	    !vq->in_use)
		return -ENOMEM;
	for (unsigned i = 0; i < num; i++)
		vq->free_stack[i] = num - 1 - i;
	vq->nfree = num;
	return 0;
}

void fe_vq_reset(struct fe *fe, unsigned q)
{
	struct fe_vq *vq = &fe->vq[q];

	memset(vq->desc, 0, 16ull * vq->num);
	memset(vq->avail, 0, 6 + 2ull * vq->num);
	memset(vq->used, 0, 6 + 8ull * vq->num);
	vq->avail_idx = vq->last_used = vq->seen_used = 0;
	vq->inflight = 0;
	vq->have_stop_base = false;
	for (unsigned i = 0; i < vq->num; i++) {
		vq->free_stack[i] = vq->num - 1 - i;
		vq->in_use[i] = false;
	}
	vq->nfree = vq->num;
}

void fe_vq_fini(struct fe_vq *vq)
{
	int *fds[] = { &vq->kick_fd, &vq->call_fd, &vq->err_fd };

	for (unsigned i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	free(vq->free_stack);
	free(vq->in_use);
	vq->free_stack = NULL;
	vq->in_use = NULL;
}

int fe_vq_get_desc(struct fe *fe, unsigned q)
{
	struct fe_vq *vq = &fe->vq[q];
	uint16_t i;

	if (!vq->nfree)
		return -ENOSPC;
	i = vq->free_stack[--vq->nfree];
	vq->in_use[i] = true;
	return i;
}

static void free_chain(struct fe_vq *vq, uint32_t head)
{
	uint32_t i = head;

	for (unsigned n = 0; n < vq->num && i < vq->num && vq->in_use[i]; n++) {
		uint16_t flags = vq->desc[i].flags;

		vq->in_use[i] = false;
		vq->free_stack[vq->nfree++] = i;
		if (!(flags & VRING_DESC_F_NEXT) || (flags & VRING_DESC_F_INDIRECT))
			break;
		i = vq->desc[i].next;
	}
}

static int add_indirect(struct fe *fe, unsigned q, const struct fe_seg *segs, unsigned n,
			uint16_t *head)
{
	uint64_t table = fe_alloc(fe, 16ull * n, false);
	struct vring_desc *t = fe_gpa_ptr(fe, table, 16ull * n);
	int d;

	if (!table || !t)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		t[i].addr = segs[i].gpa;
		t[i].len = segs[i].len;
		t[i].flags = (i + 1 < n ? VRING_DESC_F_NEXT : 0) |
			     (segs[i].writable ? VRING_DESC_F_WRITE : 0);
		t[i].next = i + 1 < n ? i + 1 : 0;
	}
	d = fe_vq_get_desc(fe, q);
	if (d < 0)
		return d;
	fe->vq[q].desc[d] = (struct vring_desc){ .addr = table, .len = 16 * n,
						 .flags = VRING_DESC_F_INDIRECT };
	*head = d;
	return 0;
}

int fe_vq_add_chain(struct fe *fe, unsigned q, const struct fe_seg *segs, unsigned n,
		    bool indirect, uint16_t *head)
{
	struct fe_vq *vq = &fe->vq[q];
	int prev = -1, first = -1;

	if (!n)
		return -EINVAL;
	if (indirect)
		return add_indirect(fe, q, segs, n, head);
	if (n > vq->nfree)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		int d = fe_vq_get_desc(fe, q);

		vq->desc[d] = (struct vring_desc){
			.addr = segs[i].gpa,
			.len = segs[i].len,
			.flags = segs[i].writable ? VRING_DESC_F_WRITE : 0,
		};
		if (prev >= 0) {
			vq->desc[prev].flags |= VRING_DESC_F_NEXT;
			vq->desc[prev].next = d;
		} else {
			first = d;
		}
		prev = d;
	}
	*head = first;
	return 0;
}

static volatile uint16_t *used_event(struct fe_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static volatile uint16_t *avail_event(struct fe_vq *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->num];
}

int fe_vq_wait_popped(struct fe *fe, unsigned q, int timeout_ms)
{
	struct fe_vq *vq = &fe->vq[q];

	if (!(fe->acked_features & (1ull << VIRTIO_RING_F_EVENT_IDX)))
		return -ENOTSUP;
	for (int waited = 0; __atomic_load_n(avail_event(vq), __ATOMIC_ACQUIRE) != vq->avail_idx;
	     waited++) {
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

int fe_vq_kick(struct fe *fe, unsigned q)
{
	uint64_t one = 1;

	if (write(fe->vq[q].kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	fe->vq[q].kicks++;
	return 0;
}

int fe_vq_publish(struct fe *fe, unsigned q, uint16_t head)
{
	struct fe_vq *vq = &fe->vq[q];
	uint16_t old = vq->avail_idx, new = old + 1;
	bool kick;

	vq->avail->ring[old % vq->num] = head;
	if (!fe->opts.lazy_used_event)
		*used_event(vq) = vq->last_used;
	__atomic_store_n(&vq->avail->idx, new, __ATOMIC_RELEASE);
	vq->avail_idx = new;
	vq->inflight++;
	/* The device may be re-enabling notifications right now: order our idx store before
	 * reading its avail_event / flags, as a guest driver does. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (fe->acked_features & (1ull << VIRTIO_RING_F_EVENT_IDX))
		kick = (uint16_t)(new - *avail_event(vq) - 1) < (uint16_t)(new - old);
	else
		kick = !(__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) &
			 VRING_USED_F_NO_NOTIFY);
	if (kick || fe->opts.always_kick)
		return fe_vq_kick(fe, q);
	return 0;
}

int fe_vq_set_avail_idx(struct fe *fe, unsigned q, uint16_t idx)
{
	struct fe_vq *vq = &fe->vq[q];

	__atomic_store_n(&vq->avail->idx, idx, __ATOMIC_RELEASE);
	vq->avail_idx = idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return fe_vq_kick(fe, q);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void consume(struct fe_vq *vq, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem e;

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	e = vq->used->ring[vq->last_used % vq->num];
	vq->last_used++;
	if (vq->inflight)
		vq->inflight--;
	free_chain(vq, e.id);
	if (id)
		*id = e.id;
	if (len)
		*len = e.len;
}

int fe_vq_wait(struct fe *fe, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len)
{
	struct fe_vq *vq = &fe->vq[q];
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = vq->call_fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		uint64_t cnt;

		if (vq->last_used != vq->seen_used) {
			consume(vq, id, len);
			return 0;
		}
		/* As a driver does before sleeping: publish used_event, then look again. Entries
		 * pushed while used_event was stale needed no notification; any pushed after this
		 * point must bring one (the device stores used->idx, then reads used_event). */
		*used_event(vq) = vq->last_used;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		vq->seen_used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
		if (vq->seen_used != vq->last_used)
			continue;
		if (left < 0 || poll(&p, 1, (int)left) == 0) {
			if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used) {
				fprintf(stderr, "fake frontend: queue %u: used idx moved to %u without "
						"a call notification\n", q, vq->used->idx);
				return -EPROTO;
			}
			return -ETIMEDOUT;
		}
		if (read(vq->call_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			return -errno;
		vq->calls++;
		vq->seen_used = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	}
}
