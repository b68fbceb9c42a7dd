/*
 * Memory table messages. The region table changes only with the memory lock held for writing,
 * so no queue thread is inside guest memory; ring mappings are redone before it is released.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

static int add_region(struct vu_dev *d, int fd, const struct vu_mem_region *r)
{
	int ret = gmem_add(&d->mem, fd, r->guest_addr, r->size, r->user_addr, r->mmap_offset);

	if (ret == 0)
		log_debug("vhost-user: guest memory gpa 0x%" PRIx64 " size 0x%" PRIx64
			  " uva 0x%" PRIx64 " offset 0x%" PRIx64,
			  r->guest_addr, r->size, r->user_addr, r->mmap_offset);
	return ret;
}

int vu_set_mem_table(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_mem_table *t = &m->payload.mem;
	uint32_t n;
	int r = 0;

	if (m->hdr.size < offsetof(struct vu_mem_table, regions) || m->hdr.size > sizeof(*t)) {
		log_error("vhost-user: SET_MEM_TABLE with a %u-byte payload, refused", m->hdr.size);
		return -EINVAL;
	}
	n = t->nregions;
	if (n > VHOST_USER_MAX_FDS ||
	    m->hdr.size < offsetof(struct vu_mem_table, regions) + n * sizeof(t->regions[0]) ||
	    m->nfds != n) {
		log_error("vhost-user: SET_MEM_TABLE with %u regions, %u fds and %u bytes, refused",
			  n, m->nfds, m->hdr.size);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&d->mem_lock);
	vu_wait_idle(d);
	gmem_clear(&d->mem);
	for (uint32_t i = 0; i < n && r == 0; i++)
		r = add_region(d, m->fds[i], &t->regions[i]);
	/* A partial table would translate some guest addresses and not others: none at all. */
	if (r < 0)
		gmem_clear(&d->mem);
	vu_queues_remap(d);
	pthread_rwlock_unlock(&d->mem_lock);
	return r;
}

int vu_add_mem_reg(struct vu_dev *d, struct vu_msg *m)
{
	int r;

	pthread_rwlock_wrlock(&d->mem_lock);
	vu_wait_idle(d);
	r = add_region(d, m->fds[0], &m->payload.reg.region);
	if (r == 0)
		vu_queues_remap(d);
	pthread_rwlock_unlock(&d->mem_lock);
	return r;
}

int vu_rem_mem_reg(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_mem_region *reg = &m->payload.reg.region;
	int r;

	/* Some frontends send the region's fd along; it is not needed to find the region. */
	if (m->nfds > 1) {
		log_error("vhost-user: REM_MEM_REG with %u fds, refused", m->nfds);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&d->mem_lock);
	vu_wait_idle(d);
	r = gmem_remove(&d->mem, reg->guest_addr, reg->size);
	if (r == 0)
		vu_queues_remap(d);
	pthread_rwlock_unlock(&d->mem_lock);
	if (r < 0)
		log_warn("vhost-user: REM_MEM_REG gpa 0x%" PRIx64 " size 0x%" PRIx64
			 ": no such region",
			 reg->guest_addr, reg->size);
	return r;
}
