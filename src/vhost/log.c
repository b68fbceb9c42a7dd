/*
 * Dirty page logging for live migration (vhost-user spec, "Migration"): while the frontend has
 * acked VHOST_F_LOG_ALL and given a log (SET_LOG_BASE, a shared memory fd), every guest page we
 * write is marked in it, one bit per 4 KiB page: the reply bytes of each chain (READ data
 * included) and, for rings with VHOST_VRING_F_LOG, the used ring. The frontend copies marked
 * pages again, so a page we write but do not mark would reach the destination stale.
 *
 * The log is swapped under the memory lock's write side, queue threads mark under its read
 * side; bits are set with atomic ORs, since the frontend clears them concurrently.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* 1 GiB of bits covers 32 TiB of guest-physical space. */
#define VU_LOG_MAX (1ull << 30)

static void log_unmap(struct vu_log *l)
{
	if (l->map)
		munmap(l->map, l->map_len);
	l->map = NULL;
	l->bits = NULL;
	l->size = 0;
}

static bool log_wanted(const struct vu_dev *d, uint64_t features)
{
	return (features & (1ull << VHOST_USER_F_LOG_ALL)) && d->log.bits;
}

/* Maps [offset, offset + size) of fd, refusing a file that does not hold it (touching a page
 * past its end would be SIGBUS). */
static int log_map(int fd, const struct vu_log_desc *ld, struct vu_log *out)
{
	struct stat st;
	size_t len;
	void *p;

	if (ld->mmap_size == 0 || ld->mmap_size > VU_LOG_MAX || ld->mmap_offset > VU_LOG_MAX) {
		log_error("vhost-user: SET_LOG_BASE of %" PRIu64 " bytes at offset %" PRIu64
			  " refused (at most %llu)",
			  ld->mmap_size, ld->mmap_offset, (unsigned long long)VU_LOG_MAX);
		return -EINVAL;
	}
	len = (size_t)(ld->mmap_offset + ld->mmap_size);
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size < len) {
		log_error("vhost-user: SET_LOG_BASE: the log fd holds fewer than the %zu bytes "
			  "announced, refused",
			  len);
		return -EINVAL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_error("vhost-user: SET_LOG_BASE: mapping the log failed: %s", strerror(errno));
		return -errno;
	}
	out->map = p;
	out->map_len = len;
	out->bits = (uint8_t *)p + ld->mmap_offset;
	out->size = ld->mmap_size;
	return 0;
}

int vu_set_log_base(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_log nl = {0}, old;
	int r;

	/* Without LOG_SHMFD the log would be a frontend address we cannot reach (the kernel's
	 * vhost form): refused, and no reply body is expected. */
	if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD)) || m->nfds != 1) {
		log_error(
		    "vhost-user: SET_LOG_BASE without LOG_SHMFD acked or with %u fds, refused",
		    m->nfds);
		return -EINVAL;
	}
	/* The frontend waits for the reply: without a log we cannot honour, the migration must
	 * not go on as if its pages were tracked, so the connection closes. */
	r = log_map(m->fds[0], &m->payload.log, &nl);
	if (r < 0) {
		log_error("vhost-user: no dirty log: closing the connection");
		return -ECONNABORTED;
	}
	pthread_rwlock_wrlock(&d->mem_lock);
	vu_wait_idle(d);
	old = d->log;
	d->log.map = nl.map;
	d->log.map_len = nl.map_len;
	d->log.bits = nl.bits;
	d->log.size = nl.size;
	d->log.on = log_wanted(d, d->features);
	pthread_rwlock_unlock(&d->mem_lock);
	log_unmap(&old);
	log_info("vhost-user: dirty log of %" PRIu64 " bytes (guest memory up to 0x%" PRIx64 ")%s",
		 nl.size, (uint64_t)(nl.size * 8 * VHOST_USER_LOG_PAGE),
		 d->log.on ? ", logging" : "");
	/* This reply body is the answer; no REPLY_ACK on top of it. */
	r = vu_reply_u64(d, m, 0);
	m->hdr.flags &= ~VHOST_USER_FLAG_NEED_REPLY;
	return r < 0 ? -ECONNABORTED : 0;
}

int vu_set_log_fd(struct vu_dev *d, struct vu_msg *m)
{
	if (d->log.fd >= 0)
		close(d->log.fd);
	d->log.fd = vu_msg_take_fd(m, 0);
	return 0;
}

void vu_log_features(struct vu_dev *d, uint64_t features)
{
	bool on;

	pthread_rwlock_wrlock(&d->mem_lock);
	vu_wait_idle(d);
	on = log_wanted(d, features);
	if (on != d->log.on)
		log_info("vhost-user: dirty logging %s", on ? "on" : "off");
	d->log.on = on;
	pthread_rwlock_unlock(&d->mem_lock);
}

void vu_log_fini(struct vu_dev *d)
{
	log_unmap(&d->log);
	d->log.on = false;
	if (d->log.fd >= 0)
		close(d->log.fd);
	d->log.fd = -1;
}

/* Marks the pages of [gpa, gpa + len); false (nothing marked) if any is outside the log. */
static bool log_mark(struct vu_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (len == 0)
		return true;
	if (len - 1 > UINT64_MAX - gpa)
		return false;
	first = gpa / VHOST_USER_LOG_PAGE;
	last = (gpa + len - 1) / VHOST_USER_LOG_PAGE;
	if (last / 8 >= l->size)
		return false;
	for (uint64_t p = first; p <= last; p++)
		__atomic_fetch_or(&l->bits[p / 8], (uint8_t)(1u << (p % 8)), __ATOMIC_SEQ_CST);
	return true;
}

void vu_log_chain(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	struct vu_dev *d = q->dev;
	uint64_t left = len, gpa;

	if (!d->log.on)
		return;
	for (unsigned i = e->rd_cnt; i < e->rd_cnt + e->wr_cnt && left; i++) {
		const struct iovec *v = &e->iov[i];
		uint64_t n = v->iov_len < left ? v->iov_len : left;

		if (gmem_host_to_gpa(&d->mem, v->iov_base, n, &gpa) < 0 ||
		    !log_mark(&d->log, gpa, n))
			log_error_rl("vhost-user: queue %u: a reply buffer (%" PRIu64
				     " bytes) is outside the dirty log: the migrated guest may "
				     "see stale data",
				     q->index, n);
		left -= n;
	}
}

void vu_log_used(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	/* flags, idx, num elements of 8 bytes, avail_event */
	uint64_t bytes = 4 + 8ull * q->num + 2;

	if (!d->log.on || !q->log_used)
		return;
	if (!log_mark(&d->log, q->used_log_gpa, bytes))
		log_error_rl("vhost-user: queue %u: used ring at 0x%" PRIx64
			     " is outside the dirty log (%" PRIu64 " bytes)",
			     q->index, q->used_log_gpa, d->log.size);
}
