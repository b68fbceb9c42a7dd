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

/* A reply whose ring was unmapped when it came (the frontend removed the ring's memory). */
struct vu_parked {
	struct vu_parked *next;
	uint16_t head;
	size_t len;
	uint8_t reply[];
};

/* Map the chain at head again and push the reply into it. Memory lock held. */
static void deliver(struct vu_queue *q, uint16_t head, const void *reply, size_t len)
{
	struct vq_elem e = {.iov_max = vq_iov_max(q->num)};
	struct iovec *iov; /* e is overwritten below when the chain cannot be mapped */
	int r = -ENOMEM;

	e.iov = iov = calloc(e.iov_max, sizeof(*e.iov));
	if (e.iov)
		r = vq_chain_at(&q->vq, head, &e);
	if (r == 0) {
		/* The writable part of the chain takes what fits of the reply. */
		vu_queue_push(q, &e,
			      (uint32_t)iov_copy_to(e.iov + e.rd_cnt, e.wr_cnt, 0, reply, len));
	} else {
		/* Give the buffers back, empty, rather than leak the guest's request. */
		log_warn_rl("queue %u: the chain of a deferred reply (head %u) cannot be mapped "
			    "(%s): returned without a reply",
			    q->index, head, strerror(-r));
		e = (struct vq_elem){.head = head};
		vu_queue_push(q, &e, 0);
	}
	free(iov);
}

/* Keep the reply for when the ring is back: the guest waits for it (a lock it was granted:
 * dropping it would leave the guest process blocked and the host lock held). */
static void park(struct vu_queue *q, uint16_t head, const void *reply, size_t len)
{
	struct vu_parked *p = malloc(sizeof(*p) + len), **tail;

	if (!p) {
		log_error("queue %u: out of memory keeping a deferred reply (head %u) while the "
			  "ring is unmapped: dropped",
			  q->index, head);
		return;
	}
	p->next = NULL;
	p->head = head;
	p->len = len;
	memcpy(p->reply, reply, len);
	pthread_mutex_lock(&q->lock);
	for (tail = &q->parked; *tail; tail = &(*tail)->next)
		;
	*tail = p;
	pthread_mutex_unlock(&q->lock);
	log_info_rl("queue %u: ring unmapped: the reply to a deferred request (head %u) waits "
		    "for it to be mapped again",
		    q->index, head);
}

void vu_deferred_complete(void *ctx, uint32_t id, const void *reply, size_t len)
{
	struct vu_queue *q = ctx;
	struct vu_dev *d = q->dev;

	pthread_rwlock_rdlock(&d->mem_lock);
	if (q->vq.broken)
		log_warn_rl("queue %u: ring broken: deferred reply (head %u) dropped", q->index,
			    id);
	else if (!q->vq.mem)
		park(q, (uint16_t)id, reply, len);
	else
		deliver(q, (uint16_t)id, reply, len);
	pthread_rwlock_unlock(&d->mem_lock);
	vu_deferred_add(q, -1);
}

static struct vu_parked *take_parked(struct vu_queue *q)
{
	struct vu_parked *p;

	pthread_mutex_lock(&q->lock);
	p = q->parked;
	q->parked = NULL;
	pthread_mutex_unlock(&q->lock);
	return p;
}

unsigned vu_deferred_deliver_parked(struct vu_queue *q)
{
	struct vu_parked *p = take_parked(q), *next;
	unsigned n = 0;

	for (; p; p = next, n++) {
		next = p->next;
		deliver(q, p->head, p->reply, p->len);
		free(p);
	}
	if (n)
		log_info("queue %u: ring mapped again: %u deferred replies delivered", q->index, n);
	return n;
}

unsigned vu_deferred_drop_parked(struct vu_queue *q)
{
	struct vu_parked *p = take_parked(q), *next;
	unsigned n = 0;

	for (; p; p = next, n++) {
		next = p->next;
		free(p);
	}
	return n;
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
