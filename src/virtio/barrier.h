/*
 * Memory ordering for rings shared with the guest: every barrier the virtqueue code needs lives
 * here, so the ordering argument can be read in one place.
 *
 * The guest runs on other CPUs and writes the avail ring and descriptors while we read them; we
 * write the used ring while it reads. Loads of shared indices go through vq_load16() so the
 * compiler emits exactly one access (no double fetch), stores through vq_store16/32().
 */
#ifndef VFSD_VIRTIO_BARRIER_H
#define VFSD_VIRTIO_BARRIER_H

#include <stdint.h>

/* Order earlier loads before later loads (avail->idx before the ring entries it covers). */
static inline void vq_rmb(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}

/* Order earlier stores before later stores (used element before used->idx). */
static inline void vq_wmb(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Full fence: a store (used->idx, avail_event) must be visible before a following load
 * (used_event, avail->idx), or a notification can be lost in both directions. */
static inline void vq_mb(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Stop the compiler from re-reading guest memory instead of a local copy. */
static inline void vq_compiler_barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

static inline uint16_t vq_load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static inline void vq_store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static inline void vq_store32(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

#endif
