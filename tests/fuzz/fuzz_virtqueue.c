/*
 * Fuzz target: the split-ring walker (src/virtio) over synthetic guest memory. Input, see
 * README.md: u8 ring shape (bits 0-3: log2 size, at most 256; bit 4 EVENT_IDX; bit 5
 * INDIRECT_DESC), u16 start index, u8 pops, then guest memory contents (descriptor table,
 * avail ring and used ring packed from address 0, then anything the descriptors point at).
 * Guest RAM is two adjacent guest-physical regions in separate host allocations, so a buffer
 * may straddle them and ASan sees any access outside either.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "virtio/gmem.h"
#include "virtio/virtqueue.h"

#define REG_SIZE 0x8000ull
#define UVA_BIAS 0x7f0000000000ull

/* Every byte of each readable buffer is read through memcpy (ASan checks the whole range in
 * its interceptor; a byte loop here spent 86 % of the run in coverage callbacks). */
static void read_all(const uint8_t *p, size_t len)
{
	static uint8_t sink[4096];

	for (size_t k = 0; k < len; k += sizeof(sink)) {
		memcpy(sink, p + k, len - k < sizeof(sink) ? len - k : sizeof(sink));
		__asm__ volatile("" : : "r"(sink) : "memory");
	}
}

static void touch(struct vq_elem *e)
{
	uint64_t rd = 0, wr = 0;

	if (e->rd_cnt + e->wr_cnt > e->iov_max)
		abort();
	for (unsigned i = 0; i < e->rd_cnt; i++) {
		read_all(e->iov[i].iov_base, e->iov[i].iov_len);
		rd += e->iov[i].iov_len;
	}
	for (unsigned i = e->rd_cnt; i < e->rd_cnt + e->wr_cnt; i++) {
		memset(e->iov[i].iov_base, 0xa5, e->iov[i].iov_len);
		wr += e->iov[i].iov_len;
	}
	if (rd != e->rd_len || wr != e->wr_len)
		abort();
}

static void walk(struct vq *vq, struct vq_elem *e, unsigned pops)
{
	for (unsigned i = 0; i < pops; i++) {
		int r = vq_pop(vq, e);

		if (r <= 0) {
			if (r == 0 && !vq_enable_notify(vq))
				break;
			if (r < 0)
				break;
			continue;
		}
		touch(e);
		/* Map the same chain again, as a deferred reply does. */
		if (vq_chain_at(vq, e->head, e) == 0)
			touch(e);
		vq_push(vq, e, (i & 1) ? e->wr_len : UINT32_MAX);
		vq_should_notify(vq);
		vq_disable_notify(vq);
	}
	vq_has_avail(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	unsigned shape = (unsigned)fz_take(&f, 1);
	unsigned num = 1u << ((shape & 15) % 9);
	uint16_t base = (uint16_t)fz_take(&f, 2);
	unsigned pops = (unsigned)fz_take(&f, 1) % 64;
	uint64_t avail = 16ull * num, used = (avail + 4 + 2 * num + 2 + 3) & ~3ull;
	static struct gmem mem;
	uint8_t *ram[2];
	struct vq vq;
	struct vq_elem e = {0};
	size_t n;

	log_init(LOG_LVL_OFF, false);
	ram[0] = calloc(1, REG_SIZE);
	ram[1] = calloc(1, REG_SIZE);
	e.iov_max = vq_iov_max(num);
	e.iov = calloc(e.iov_max, sizeof(*e.iov));
	if (!ram[0] || !ram[1] || !e.iov)
		goto out;
	n = f.left < REG_SIZE ? f.left : REG_SIZE;
	memcpy(ram[0], f.p, n);
	if (f.left > n)
		memcpy(ram[1], f.p + n, f.left - n < REG_SIZE ? f.left - n : REG_SIZE);
	gmem_init(&mem);
	if (gmem_add_host(&mem, ram[0], 0, REG_SIZE, UVA_BIAS) < 0 ||
	    gmem_add_host(&mem, ram[1], REG_SIZE, REG_SIZE, UVA_BIAS + 0x100000) < 0)
		goto out;
	if (vq_init(&vq, 1, num, shape & 16, shape & 32) < 0 ||
	    vq_map(&vq, &mem, UVA_BIAS, UVA_BIAS + avail, UVA_BIAS + used) < 0)
		goto out;
	vq_start(&vq, base);
	walk(&vq, &e, pops);
out:
	gmem_clear(&mem);
	free(e.iov);
	free(ram[0]);
	free(ram[1]);
	return 0;
}
