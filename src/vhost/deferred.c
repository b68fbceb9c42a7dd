/*
 * Deferred replies: the handler kept a chain (a lock wait) and answers it later from its own
 * thread. That thread holds no guest memory while it waits; to answer, it takes the memory
 * lock for reading, maps the chain again from its head (the memory table may have changed
 * meanwhile), copies the reply into the chain's writable buffers and pushes it.
 *
 * A queue stops only once its deferred chains are answered: stopping cancels them first.
 */
#include "vhost/dev.h"

#include "log.h"
#include "util/iov.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void vu_deferred_add(struct vu_queue *q, int delta)
{
	struct vu_dev *d = q->dev;

	pthread_mutex_lock(&d->inflight_lock);
	q->deferred += delta;
	pthread_cond_broadcast(&d->inflight_cond);
	pthread_mutex_unlock(&d->inflight_lock);
}

void vu_deferred_complete(void *ctx, uint32_t id, const void *reply, size_t len)
{
	struct vu_queue *q = ctx;
	struct vu_dev *d = q->dev;
	struct vq_elem e = {.iov_max = vq_iov_max(q->num)};
	struct iovec *iov; /* e is overwritten below when the chain cannot be mapped */
	int r = -ENOMEM;

	e.iov = iov = calloc(e.iov_max, sizeof(*e.iov));
	pthread_rwlock_rdlock(&d->mem_lock);
	if (e.iov)
		r = vq_chain_at(&q->vq, (uint16_t)id, &e);
	if (r == 0) {
		/* The writable part of the chain takes what fits of the reply. */
		vu_queue_push(q, &e,
			      (uint32_t)iov_copy_to(e.iov + e.rd_cnt, e.wr_cnt, 0, reply, len));
	} else if (q->vq.mem && !q->vq.broken) {
		/* Give the buffers back, empty, rather than leak the guest's request. */
		log_warn_rl("queue %u: the chain of a deferred reply (head %u) cannot be mapped "
			    "(%s): returned without a reply",
			    q->index, id, strerror(-r));
		e = (struct vq_elem){.head = (uint16_t)id};
		vu_queue_push(q, &e, 0);
	} else {
		log_warn_rl("queue %u: ring unmapped or broken: deferred reply (head %u) dropped",
			    q->index, id);
	}
	pthread_rwlock_unlock(&d->mem_lock);
	free(iov);
	vu_deferred_add(q, -1);
}

void vu_deferred_cancel(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	const struct vu_handler *h = d->h;
	int n;

	pthread_mutex_lock(&d->inflight_lock);
	n = q->deferred;
	pthread_mutex_unlock(&d->inflight_lock);
	if (n == 0)
		return;
	log_debug("queue %u: cancelling %d deferred requests", q->index, n);
	if (h->cancel)
		h->cancel(h->opaque, q);
	pthread_mutex_lock(&d->inflight_lock);
	while (q->deferred != 0)
		pthread_cond_wait(&d->inflight_cond, &d->inflight_lock);
	pthread_mutex_unlock(&d->inflight_lock);
}
