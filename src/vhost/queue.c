/*
 * The hot path: the queue thread and the worker pool serve chains here. A queue thread pops
 * chains while its ring is started (vring.c starts and stops it), hands each to the layer above
 * (handler.h), pushes the used element and signals the guest, batching notifications when it
 * serves inline.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

/* A queue thread serving chains inline notifies once per batch rather than once per chain:
 * the call eventfd write (a wake-up of the guest's vCPU) costs more than a small request. The
 * batch ends when the ring is empty, after VU_NOTIFY_BATCH chains, or before the next chain
 * once the oldest unsignalled one has waited VU_NOTIFY_WAIT_NS. */
#define VU_NOTIFY_BATCH 16
#define VU_NOTIFY_WAIT_NS 50000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Called with q->lock held, and with the memory lock held for reading or no memory change
 * possible (a pool worker counted in flight): the decision reads the ring. The call fd is
 * non-blocking (vring.c): a frontend that passes a pipe nobody reads gets a log line, not a
 * queue thread stuck with both locks held.
 */
static void notify_locked(struct vu_queue *q)
{
	q->unsignalled = 0;
	if (vq_should_notify(&q->vq) && q->call_fd >= 0 && eventfd_write(q->call_fd, 1) < 0)
		log_warn_rl("queue %u: signalling the call fd failed: %s", q->index,
			    strerror(errno));
}

/* Push one used element and interrupt the guest if it asked for it. */
void vu_queue_push(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	pthread_mutex_lock(&q->lock);
	vu_log_chain(q, e, len);
	vq_push(&q->vq, e, len);
	vu_log_used(q);
	notify_locked(q);
	pthread_mutex_unlock(&q->lock);
}

static void push_batched(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	pthread_mutex_lock(&q->lock);
	vu_log_chain(q, e, len);
	vq_push(&q->vq, e, len);
	vu_log_used(q);
	if (q->unsignalled++ == 0)
		q->unsignalled_since_ns = now_ns();
	if (q->unsignalled >= VU_NOTIFY_BATCH)
		notify_locked(q);
	pthread_mutex_unlock(&q->lock);
}

/* all: the batch ends; otherwise only if the oldest unsignalled chain has waited too long.
 * Called with the memory lock held for reading. */
static void flush_notify(struct vu_queue *q, bool all)
{
	pthread_mutex_lock(&q->lock);
	if (q->unsignalled && (all || now_ns() - q->unsignalled_since_ns >= VU_NOTIFY_WAIT_NS))
		notify_locked(q);
	pthread_mutex_unlock(&q->lock);
}

/* Hand the chain to the layer above; true with *len when the reply is complete, false when it
 * was deferred (deferred.c pushes it later). */
static bool handle_chain(struct vu_queue *q, const struct vq_elem *e, uint32_t *len)
{
	const struct vu_handler *h = q->dev->h;
	size_t n;

	if (h->handle_async && h->cancel) {
		n = h->handle_async(h->opaque, e->iov, e->rd_cnt, e->iov + e->rd_cnt, e->wr_cnt,
				    vu_deferred_complete, q, e->head);
		if (n == VU_DEFERRED) {
			vu_deferred_add(q, 1);
			return false;
		}
	} else {
		n = h->handle(h->opaque, e->iov, e->rd_cnt, e->iov + e->rd_cnt, e->wr_cnt);
	}
	*len = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	return true;
}

void vu_serve_elem(struct vu_queue *q, const struct vq_elem *e)
{
	uint32_t len;

	if (handle_chain(q, e, &len))
		vu_queue_push(q, e, len);
}

/* Serve one chain; false when the ring is empty, unmapped or broken. */
static bool serve_one(struct vu_queue *q)
{
	struct vu_dev *d = q->dev;
	struct vq_elem e = {.iov = q->iov, .iov_max = vq_iov_max(q->num)};
	int r;

	/* A guest can make a chain available again while it is still in flight: bound what it
	 * can make us hold. */
	if (d->pool)
		vu_wait_queue_idle(q, q->num);
	pthread_rwlock_rdlock(&d->mem_lock);
	flush_notify(q, false);
	r = vq_pop(&q->vq, &e);
	if (r == 1 && (!d->pool || vu_pool_submit(d->pool, q, &e) < 0)) {
		uint32_t len;

		if (handle_chain(q, &e, &len))
			push_batched(q, &e, len);
	}
	pthread_rwlock_unlock(&d->mem_lock);
	return r == 1;
}

static void drain(struct vu_queue *q)
{
	bool more;

	do {
		pthread_rwlock_rdlock(&q->dev->mem_lock);
		vq_disable_notify(&q->vq);
		pthread_rwlock_unlock(&q->dev->mem_lock);
		/* A guest that keeps the ring full must not keep us from stopping. */
		while (!__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) && serve_one(q))
			;
		pthread_rwlock_rdlock(&q->dev->mem_lock);
		/* Before sleeping (or stopping), every pushed chain is signalled. */
		flush_notify(q, true);
		/* Re-arm, then look once more: a chain made available between our last pop and
		 * the re-arm would otherwise wait for a kick that never comes. */
		more = vq_enable_notify(&q->vq);
		pthread_rwlock_unlock(&q->dev->mem_lock);
	} while (more && !__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE));
}

void *vu_queue_thread(void *arg)
{
	struct vu_queue *q = arg;

	for (;;) {
		struct pollfd p[2] = {{q->kick_fd, POLLIN, 0}, {q->stop_fd, POLLIN, 0}};
		eventfd_t v;

		/* Chains may already wait (kicked before we started): look before sleeping. */
		drain(q);
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("queue %u: poll failed: %s", q->index, strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		/* An eventfd never hangs up: a kick fd that does (a pipe whose writer closed)
		 * would report it forever, and we would spin. */
		if (p[0].revents & (POLLERR | POLLNVAL | POLLHUP)) {
			log_error("queue %u: the kick fd %s; the queue stops until the frontend sets "
				  "a new one",
				  q->index, p[0].revents & POLLHUP ? "hung up" : "failed");
			break;
		}
		if (eventfd_read(q->kick_fd, &v) < 0 && errno != EAGAIN)
			log_warn_rl("queue %u: reading the kick eventfd failed: %s", q->index,
				    strerror(errno));
	}
	return NULL;
}
