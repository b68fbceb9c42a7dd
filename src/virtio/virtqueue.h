/*
 * Split virtqueue, device side: pop descriptor chains the guest made available, push used
 * elements, decide when to notify (EVENT_IDX), all over guest memory we do not trust.
 *
 * Thread contract: one thread pops (the queue thread); pushes and the notify decision are
 * serialised by the caller (the vhost layer's per-queue lock); the region table must not change
 * while any of these run (the vhost layer's memory lock).
 */
#ifndef VFSD_VIRTIO_VIRTQUEUE_H
#define VFSD_VIRTIO_VIRTQUEUE_H

#include "virtio/gmem.h"

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VQ_MAX_SIZE 32768

struct vq {
	unsigned index;		/* for log lines */
	unsigned num;		/* ring size, a power of two */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;		/* the guest broke the ring: never touch it again until reset */
	const struct gmem *mem; /* NULL while unmapped */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail_idx; /* next avail entry to pop */
	uint16_t used_idx;	 /* our copy of used->idx */
	uint16_t used_flags;	 /* our copy of used->flags */
	uint16_t signalled_used; /* used_idx when we last decided about notifying */
	bool signalled_used_valid;
};

/* One popped chain. iov is the caller's array of iov_max entries: readable ones first. */
struct vq_elem {
	uint16_t head;
	unsigned rd_cnt, wr_cnt;
	uint32_t rd_len, wr_len; /* byte totals */
	struct iovec *iov;
	unsigned iov_max;
};

/* iovec capacity a caller should give vq_elem for a ring of num entries. */
unsigned vq_iov_max(unsigned num);

/* Reset to an unmapped ring of size num (1..VQ_MAX_SIZE, power of two). */
int vq_init(struct vq *vq, unsigned index, unsigned num, bool event_idx, bool indirect);
/* Translate the three ring addresses (frontend virtual) through m; -EFAULT if a ring is not
 * inside one region or misaligned. On failure the ring is left unmapped. */
int vq_map(struct vq *vq, const struct gmem *m, uint64_t desc_uva, uint64_t avail_uva,
	   uint64_t used_uva);
void vq_unmap(struct vq *vq);
/* Start consuming at avail index base; the used index is taken from guest memory. */
void vq_start(struct vq *vq, uint16_t base);

/* 1: a chain was popped into e; 0: ring empty; <0: ring broken (logged once, stays broken). */
int vq_pop(struct vq *vq, struct vq_elem *e);
/* Map the chain that starts at head again, into e (as vq_pop would), without touching the
 * avail ring: for a reply deferred past a memory table change. A bad chain is refused
 * (negative errno) but does not mark the ring broken: this may run beside the popping thread. */
int vq_chain_at(struct vq *vq, uint16_t head, struct vq_elem *e);
/* Return a chain with len bytes written (clamped to what the chain can hold). */
void vq_push(struct vq *vq, const struct vq_elem *e, uint32_t len);
/* After pushes: whether the guest wants an interrupt now (EVENT_IDX or NO_INTERRUPT). */
bool vq_should_notify(struct vq *vq);
/* Ask the guest not to kick while we are draining the ring. */
void vq_disable_notify(struct vq *vq);
/* Ask for kicks again; returns true if chains arrived meanwhile (drain again, do not sleep). */
bool vq_enable_notify(struct vq *vq);
/* Whether the guest has made chains available that we have not popped. */
bool vq_has_avail(struct vq *vq);
/* How many (0 when unmapped or broken; at most the ring size as far as we know). */
unsigned vq_avail_pending(struct vq *vq);

#endif
