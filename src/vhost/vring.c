/*
 * The SET_VRING_* / GET_VRING_BASE messages and the queue lifecycle they drive. A queue thread
 * (queue.c) runs while its ring is started (size, addresses and kick fd known, and enabled when
 * protocol features were negotiated); it is stopped and joined before anything it reads without
 * locks changes.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

void vu_queue_init(struct vu_dev *d, unsigned i)
{
	struct vu_queue *q = &d->q[i];

	q->dev = d;
	q->index = i;
	q->kick_fd = -1;
	q->call_fd = -1;
	q->err_fd = -1;
	q->stop_fd = -1;
	pthread_mutex_init(&q->lock, NULL);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vu_queue_stop(struct vu_queue *q)
{
	eventfd_t v;

	if (!q->started)
		return;
	__atomic_store_n(&q->stopping, true, __ATOMIC_RELEASE);
	eventfd_write(q->stop_fd, 1);
	pthread_join(q->thread, NULL);
	eventfd_read(q->stop_fd, &v);
	/* The used ring is final only once the pool has pushed this queue's chains, and the
	 * handler has answered the ones it kept waiting. */
	vu_wait_queue_idle(q, 1);
	vu_deferred_cancel(q);
	/* Replies kept while the ring was unmapped go now if they can; otherwise they wait for
	 * the restart (the guest's requests stay in flight across a stop). */
	if (q->vq.mem)
		vu_deferred_deliver_parked(q);
	else if (q->parked)
		log_warn("queue %u: stopped with its ring unmapped: deferred replies wait for the "
			 "queue to restart",
			 q->index);
	q->started = false;
	__atomic_store_n(&q->stopping, false, __ATOMIC_RELEASE);
	q->base = q->vq.last_avail_idx;
	free(q->iov);
	q->iov = NULL;
	log_debug("queue %u: stopped at avail index %u", q->index, q->base);
}

static bool ready(const struct vu_queue *q)
{
	bool need_enable = q->dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES);

	/* A state transfer keeps the device suspended until CHECK_DEVICE_STATE (state.c): no
	 * request may run beside a load that replaces what it uses. */
	return !q->started && q->num > 0 && q->addr_set && q->kick_fd >= 0 &&
	       (q->enabled || !need_enable) && !q->dev->xfer.busy;
}

/* Called by the vhost thread, with or without the memory lock held for writing. */
void vu_queue_try_start(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	int r;

	if (!ready(q))
		return;
	vq_init(&q->vq, q->index, q->num, d->features & (1ull << VIRTIO_RING_F_EVENT_IDX),
		d->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	/* An unmappable ring waits for the memory table that makes it mappable. */
	if (vq_map(&q->vq, &d->mem, q->desc_uva, q->avail_uva, q->used_uva) < 0) {
		log_warn("queue %u: ring addresses desc 0x%" PRIx64 " avail 0x%" PRIx64
			 " used 0x%" PRIx64 " (size %u) are not inside guest memory or misaligned; "
			 "waiting for a memory table that covers them",
			 q->index, q->desc_uva, q->avail_uva, q->used_uva, q->num);
		return;
	}
	vq_start(&q->vq, q->base);
	vu_deferred_deliver_parked(q);
	if (q->stop_fd < 0)
		q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->iov = calloc(vq_iov_max(q->num), sizeof(*q->iov));
	if (q->stop_fd < 0 || !q->iov) {
		log_error("queue %u: cannot start: out of memory or fds", q->index);
		goto fail;
	}
	r = pthread_create(&q->thread, NULL, vu_queue_thread, q);
	if (r != 0) {
		log_error("queue %u: cannot start its thread: %s", q->index, strerror(r));
		goto fail;
	}
	q->started = true;
	log_debug("queue %u: started (size %u, avail index %u)", q->index, q->num, q->base);
	return;
fail:
	free(q->iov);
	q->iov = NULL;
	vq_unmap(&q->vq);
}

void vu_queue_reset(struct vu_queue *q)
{
	unsigned lost;

	vu_queue_stop(q);
	/* The driver is gone: its requests with it (a new INIT drops their locks). */
	lost = vu_deferred_drop_parked(q);
	if (lost)
		log_warn("queue %u: reset with %u deferred replies its unmapped ring never got",
			 q->index, lost);
	close_fd(&q->kick_fd);
	close_fd(&q->err_fd);
	close_fd(&q->stop_fd);
	pthread_mutex_lock(&q->lock);
	close_fd(&q->call_fd);
	pthread_mutex_unlock(&q->lock);
	q->num = 0;
	q->addr_set = false;
	q->base = 0;
	q->enabled = false;
	vq_unmap(&q->vq);
	q->vq.broken = false;
}

void vu_queues_remap(struct vu_dev *d)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		struct vu_queue *q = &d->q[i];

		if (!q->started) {
			vu_queue_try_start(q);
			continue;
		}
		if (vq_map(&q->vq, &d->mem, q->desc_uva, q->avail_uva, q->used_uva) == 0) {
			vu_deferred_deliver_parked(q);
			/* Kicks that arrived while unmapped were consumed: look again. */
			eventfd_write(q->kick_fd, 1);
		} else
			/* Usual while the frontend removes regions before adding new ones. */
			log_debug("queue %u: ring unmapped until guest memory covers it", q->index);
	}
}

static struct vu_queue *queue_of(struct vu_dev *d, uint64_t index, const struct vu_msg *m)
{
	if (index >= VU_MAX_QUEUES) {
		log_error("vhost-user: %s for queue %" PRIu64 " (we have %u), refused",
			  vu_request_name(m->hdr.request), index, VU_MAX_QUEUES);
		return NULL;
	}
	return &d->q[index];
}

int vu_set_vring_num(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = queue_of(d, m->payload.state.index, m);
	unsigned num = m->payload.state.num;

	if (!q)
		return -EINVAL;
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)) != 0) {
		log_error("vhost-user: queue %u: size %u refused (a power of two up to %u)",
			  q->index, num, VQ_MAX_SIZE);
		return -EINVAL;
	}
	if (q->started) {
		log_error("vhost-user: queue %u: SET_VRING_NUM while started, refused", q->index);
		return -EBUSY;
	}
	q->num = num;
	return 0;
}

int vu_set_vring_addr(struct vu_dev *d, struct vu_msg *m)
{
	const struct vhost_vring_addr *a = &m->payload.addr;
	struct vu_queue *q = queue_of(d, a->index, m);

	if (!q)
		return -EINVAL;
	/* QEMU sends a running queue's addresses again with VHOST_VRING_F_LOG when migration
	 * starts (and without it when migration fails): the queue keeps running, and its lock
	 * waits and deferred replies with it; only the logging of its used ring changes (read
	 * under q->lock by every push). */
	if (q->started && q->addr_set && q->desc_uva == a->desc_user_addr &&
	    q->avail_uva == a->avail_user_addr && q->used_uva == a->used_user_addr) {
		pthread_mutex_lock(&q->lock);
		q->log_used = a->flags & (1u << VHOST_USER_VRING_F_LOG);
		q->used_log_gpa = a->log_guest_addr;
		pthread_mutex_unlock(&q->lock);
		return 0;
	}
	vu_queue_stop(q);
	q->desc_uva = a->desc_user_addr;
	q->avail_uva = a->avail_user_addr;
	q->used_uva = a->used_user_addr;
	q->log_used = a->flags & (1u << VHOST_USER_VRING_F_LOG);
	q->used_log_gpa = a->log_guest_addr;
	q->addr_set = true;
	vu_queue_try_start(q);
	return 0;
}

int vu_set_vring_base(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = queue_of(d, m->payload.state.index, m);

	if (!q)
		return -EINVAL;
	if (m->payload.state.num > UINT16_MAX || q->started) {
		log_error("vhost-user: queue %u: SET_VRING_BASE %u refused (%s)", q->index,
			  m->payload.state.num, q->started ? "queue started" : "out of range");
		return -EINVAL;
	}
	q->base = (uint16_t)m->payload.state.num;
	return 0;
}

int vu_get_vring_base(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = queue_of(d, m->payload.state.index, m);
	struct vhost_vring_state s;

	if (!q)
		return -EINVAL;
	vu_queue_stop(q);
	/* The ring's last state reaches the destination even if no push marked it (an
	 * avail_event written while re-enabling notifications). */
	pthread_rwlock_rdlock(&d->mem_lock);
	vu_log_used(q);
	pthread_rwlock_unlock(&d->mem_lock);
	/* Stopped until the frontend sends a new kick fd, as the protocol says. */
	close_fd(&q->kick_fd);
	s.index = q->index;
	s.num = q->base;
	return vu_msg_reply(d->sock, &m->hdr, &s, sizeof(s));
}

int vu_set_vring_fd(struct vu_dev *d, struct vu_msg *m)
{
	uint64_t v = m->payload.u64;
	bool nofd = v & VHOST_USER_VRING_NOFD_MASK;
	struct vu_queue *q = queue_of(d, v & VHOST_USER_VRING_IDX_MASK, m);
	int fd;

	if (!q)
		return -EINVAL;
	if ((v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD_MASK)) ||
	    m->nfds != (nofd ? 0u : 1u)) {
		log_error("vhost-user: %s 0x%" PRIx64 " with %u fds, refused",
			  vu_request_name(m->hdr.request), v, m->nfds);
		return -EINVAL;
	}
	fd = nofd ? -1 : vu_msg_take_fd(m, 0);
	/* Eventfds, by the protocol; a pipe instead must not block a queue thread (a full call
	 * pipe) or a read (an empty kick pipe). */
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		log_warn("queue %u: making the %s fd non-blocking failed: %s", q->index,
			 vu_request_name(m->hdr.request), strerror(errno));
	switch (m->hdr.request) {
	case VHOST_USER_SET_VRING_KICK:
		if (nofd)
			log_warn("queue %u: polling mode (no kick fd) is not supported", q->index);
		vu_queue_stop(q);
		close_fd(&q->kick_fd);
		q->kick_fd = fd;
		vu_queue_try_start(q);
		break;
	case VHOST_USER_SET_VRING_CALL:
		/* The frontend swaps call fds on a running queue (interrupt masking). */
		pthread_mutex_lock(&q->lock);
		close_fd(&q->call_fd);
		q->call_fd = fd;
		pthread_mutex_unlock(&q->lock);
		break;
	default:
		close_fd(&q->err_fd);
		q->err_fd = fd;
		break;
	}
	return 0;
}

int vu_set_vring_enable(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_queue *q = queue_of(d, m->payload.state.index, m);
	unsigned on = m->payload.state.num;

	if (!q)
		return -EINVAL;
	if (on > 1) {
		log_error("vhost-user: queue %u: SET_VRING_ENABLE %u refused", q->index, on);
		return -EINVAL;
	}
	q->enabled = on;
	if (on)
		vu_queue_try_start(q);
	else
		vu_queue_stop(q);
	return 0;
}
