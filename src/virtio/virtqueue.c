/*
 * Split ring walker. The guest owns every byte we read here and may rewrite it concurrently, so
 * each descriptor is copied once into a local before any field is checked or used.
 */
#include "virtio/virtqueue.h"

#include "log.h"
#include "util/iov.h"
#include "virtio/barrier.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INDIRECT_BOUNCE_IOV 16

unsigned vq_iov_max(unsigned num)
{
	/* A descriptor that straddles regions needs two iovecs; a chain has at most num direct
	 * descriptors plus one indirect table of at most num entries. */
	return num < 32 ? 64 : 2 * num;
}

int vq_init(struct vq *vq, unsigned index, unsigned num, bool event_idx, bool indirect)
{
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0)
		return -EINVAL;
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->num = num;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	return 0;
}

static void *map_ring(const struct gmem *m, uint64_t uva, uint64_t len, uintptr_t align)
{
	void *p = gmem_uva_to_host(m, uva, len);

	if (!p || ((uintptr_t)p & (align - 1)) != 0)
		return NULL;
	return p;
}

int vq_map(struct vq *vq, const struct gmem *m, uint64_t desc_uva, uint64_t avail_uva,
	   uint64_t used_uva)
{
	uint64_t n = vq->num;
	void *d = map_ring(m, desc_uva, 16 * n, 16);
	/* Both event words (used_event, avail_event) are always mapped so that EVENT_IDX needs no
	 * second translation. */
	void *a = map_ring(m, avail_uva, 4 + 2 * n + 2, 2);
	void *u = map_ring(m, used_uva, 4 + 8 * n + 2, 4);

	vq_unmap(vq);
	if (!d || !a || !u)
		return -EFAULT;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->mem = m;
	return 0;
}

void vq_unmap(struct vq *vq)
{
	vq->mem = NULL;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
}

void vq_start(struct vq *vq, uint16_t base)
{
	vq->last_avail_idx = base;
	vq->used_idx = le16toh(vq_load16(&vq->used->idx));
	vq->used_flags = 0;
	vq_store16(&vq->used->flags, 0);
	vq->signalled_used_valid = false;
}

static int vq_fail(struct vq *vq, int err, const char *why)
{
	if (!vq->broken)
		log_error_rl("queue %u: guest broke the ring (%s); the queue stops until reset",
			     vq->index, why);
	vq->broken = true;
	return err;
}

/* State of one chain walk. */
struct walk {
	const uint8_t *table; /* descriptor table being walked */
	unsigned table_len;
	bool in_indirect;
	bool seen_write;
	uint64_t rd_len, wr_len;
	unsigned cnt;	 /* iovecs filled */
	uint8_t *bounce; /* private copy of an indirect table split across regions */
	const char *why;
};

static void read_desc(const uint8_t *table, unsigned i, struct vring_desc *out)
{
	struct vring_desc d;

	memcpy(&d, table + (size_t)i * sizeof(d), sizeof(d));
	/* From here on only the local copy is used, whatever the guest writes. */
	vq_compiler_barrier();
	out->addr = le64toh(d.addr);
	out->len = le32toh(d.len);
	out->flags = le16toh(d.flags);
	out->next = le16toh(d.next);
}

/* Switch the walk to the indirect table that d points to. */
static int enter_indirect(struct vq *vq, struct walk *w, const struct vring_desc *d)
{
	struct iovec iov[INDIRECT_BOUNCE_IOV];
	unsigned n = 0;

	if (!vq->indirect)
		return w->why = "indirect descriptor without INDIRECT_DESC", -EINVAL;
	if (w->in_indirect)
		return w->why = "nested indirect table", -EINVAL;
	if (d->flags & VRING_DESC_F_NEXT)
		return w->why = "indirect descriptor with NEXT", -EINVAL;
	if (d->len == 0 || d->len % sizeof(struct vring_desc) != 0 ||
	    d->len / sizeof(struct vring_desc) > vq->num)
		return w->why = "indirect table of bad size", -EINVAL;
	w->table = gmem_gpa_to_host(vq->mem, d->addr, d->len);
	if (!w->table) {
		if (gmem_map_iov(vq->mem, d->addr, d->len, iov, &n, INDIRECT_BOUNCE_IOV) < 0)
			return w->why = "indirect table outside guest memory", -EFAULT;
		w->bounce = malloc(d->len);
		if (!w->bounce)
			return w->why = "out of memory for an indirect table", -ENOMEM;
		iov_copy_from(iov, n, 0, w->bounce, d->len); /* the map covered d->len exactly */
		w->table = w->bounce;
	}
	w->table_len = d->len / sizeof(struct vring_desc);
	w->in_indirect = true;
	return 0;
}

/* Add one data descriptor's buffer to the element. */
static int add_buffer(struct vq *vq, struct walk *w, struct vq_elem *e, const struct vring_desc *d)
{
	bool wr = d->flags & VRING_DESC_F_WRITE;
	uint64_t *total = wr ? &w->wr_len : &w->rd_len;
	int r;

	if (!wr && w->seen_write)
		return w->why = "readable descriptor after a writable one", -EINVAL;
	w->seen_write |= wr;
	/* Each total stays within 32 bits, so the 64-bit sum cannot overflow. */
	*total += d->len;
	if (*total > UINT32_MAX)
		return w->why = "chain length overflows 32 bits", -EOVERFLOW;
	r = gmem_map_iov(vq->mem, d->addr, d->len, e->iov, &w->cnt, e->iov_max);
	if (r == -EFAULT)
		return w->why = "buffer outside guest memory", r;
	if (r < 0)
		return w->why = "chain needs too many iovecs", r;
	if (wr)
		e->wr_cnt = w->cnt - e->rd_cnt;
	else
		e->rd_cnt = w->cnt;
	return 0;
}

static int walk_chain(struct vq *vq, struct walk *w, struct vq_elem *e, unsigned idx)
{
	unsigned seen = 0;
	struct vring_desc d;
	int r;

	for (;;) {
		/* A chain never holds more descriptors than its table: more means a loop. */
		if (++seen > w->table_len)
			return w->why = "descriptor loop or chain too long", -ELOOP;
		read_desc(w->table, idx, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			r = enter_indirect(vq, w, &d);
			if (r < 0)
				return r;
			idx = 0;
			seen = 0;
			continue;
		}
		r = add_buffer(vq, w, e, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= w->table_len)
			return w->why = "next index out of range", -EINVAL;
	}
}

static int fetch_head(struct vq *vq, uint16_t *head)
{
	uint16_t avail_idx = le16toh(vq_load16(&vq->avail->idx));
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	uint16_t h;

	if (pending > vq->num)
		return vq_fail(vq, -EPROTO, "avail index moved by more than the ring size");
	if (pending == 0)
		return 0;
	/* Entries up to avail->idx are valid only once we have seen that idx. */
	vq_rmb();
	h = le16toh(vq_load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]));
	if (h >= vq->num)
		return vq_fail(vq, -EINVAL, "head index out of range");
	*head = h;
	return 1;
}

/* Maps the chain that starts at head into e; on failure *why says what was wrong with it. */
static int map_chain(struct vq *vq, uint16_t head, struct vq_elem *e, const char **why)
{
	struct walk w = {.table = (const uint8_t *)vq->desc, .table_len = vq->num};
	int r;

	e->rd_cnt = 0;
	e->wr_cnt = 0;
	r = walk_chain(vq, &w, e, head);
	free(w.bounce);
	*why = w.why;
	if (r < 0)
		return r;
	e->head = head;
	e->rd_len = (uint32_t)w.rd_len;
	e->wr_len = (uint32_t)w.wr_len;
	return 0;
}

int vq_pop(struct vq *vq, struct vq_elem *e)
{
	const char *why;
	uint16_t head;
	int r;

	if (vq->broken)
		return -EIO;
	if (!vq->mem)
		return 0;
	r = fetch_head(vq, &head);
	if (r <= 0)
		return r;
	r = map_chain(vq, head, e, &why);
	if (r < 0)
		return vq_fail(vq, r, why);
	vq->last_avail_idx++;
	return 1;
}

int vq_chain_at(struct vq *vq, uint16_t head, struct vq_elem *e)
{
	const char *why;

	if (!vq->mem || head >= vq->num)
		return -EFAULT;
	return map_chain(vq, head, e, &why);
}

void vq_push(struct vq *vq, const struct vq_elem *e, uint32_t len)
{
	struct vring_used_elem *u = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	if (len > e->wr_len)
		len = e->wr_len;
	vq_store32(&u->id, htole32(e->head));
	vq_store32(&u->len, htole32(len));
	/* The element and the reply data must be visible before the index that publishes them. */
	vq_wmb();
	vq->used_idx++;
	vq_store16(&vq->used->idx, htole16(vq->used_idx));
}

bool vq_should_notify(struct vq *vq)
{
	uint16_t old, used_event;
	bool valid;

	/* Unmapped (the frontend removed the ring's memory): the guest's suppression state is
	 * out of reach, so signal (a spurious interrupt is harmless, a missing one hangs it), and
	 * decide afresh once the ring is back. */
	if (!vq->mem) {
		vq->signalled_used_valid = false;
		return true;
	}
	/* used->idx must be visible before we read the guest's suppression state. */
	vq_mb();
	if (!vq->event_idx)
		return !(le16toh(vq_load16(&vq->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	used_event = le16toh(vq_load16(&vq->avail->ring[vq->num]));
	return vring_need_event(used_event, vq->used_idx, old);
}

static uint16_t *avail_event(struct vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

void vq_disable_notify(struct vq *vq)
{
	/* With EVENT_IDX, leaving avail_event behind is what suppresses kicks. */
	if (vq->event_idx || !vq->mem)
		return;
	vq->used_flags |= VRING_USED_F_NO_NOTIFY;
	vq_store16(&vq->used->flags, htole16(vq->used_flags));
}

bool vq_enable_notify(struct vq *vq)
{
	if (!vq->mem || vq->broken)
		return false;
	if (vq->event_idx) {
		vq_store16(avail_event(vq), htole16(vq->last_avail_idx));
	} else {
		vq->used_flags &= (uint16_t)~VRING_USED_F_NO_NOTIFY;
		vq_store16(&vq->used->flags, htole16(vq->used_flags));
	}
	/* The guest checks our flag after publishing; we check its index after publishing ours. */
	vq_mb();
	return vq_has_avail(vq);
}

unsigned vq_avail_pending(struct vq *vq)
{
	uint16_t n;

	if (!vq->mem || vq->broken)
		return 0;
	n = (uint16_t)(le16toh(vq_load16(&vq->avail->idx)) - vq->last_avail_idx);
	return n > vq->num ? vq->num : n;
}

bool vq_has_avail(struct vq *vq)
{
	if (!vq->mem || vq->broken)
		return false;
	return le16toh(vq_load16(&vq->avail->idx)) != vq->last_avail_idx;
}
