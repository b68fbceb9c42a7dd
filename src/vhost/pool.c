/*
 * Optional worker pool (--thread-pool-size): queue threads pop chains and hand them here, so a
 * slow request does not hold up the ones behind it. Virtio-fs allows completions out of order.
 *
 * A handed-off chain points into guest memory without the memory lock held, so the chains in
 * flight are counted: whoever changes memory or stops a queue waits for the count to drop.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vu_job {
	struct vu_job *next;
	struct vu_queue *q;
	struct vq_elem e;
	struct iovec iov[];
};

struct vu_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vu_job *head, *tail;
	bool stop;
	unsigned nthreads;
	pthread_t threads[];
};

void vu_inflight_add(struct vu_queue *q, int delta)
{
	struct vu_dev *d = q->dev;

	pthread_mutex_lock(&d->inflight_lock);
	q->inflight += delta;
	d->inflight += delta;
	if (delta < 0)
		pthread_cond_broadcast(&d->inflight_cond);
	pthread_mutex_unlock(&d->inflight_lock);
}

void vu_wait_queue_idle(struct vu_queue *q, unsigned below)
{
	struct vu_dev *d = q->dev;

	pthread_mutex_lock(&d->inflight_lock);
	while (q->inflight >= below)
		pthread_cond_wait(&d->inflight_cond, &d->inflight_lock);
	pthread_mutex_unlock(&d->inflight_lock);
}

void vu_wait_idle(struct vu_dev *d)
{
	pthread_mutex_lock(&d->inflight_lock);
	while (d->inflight > 0)
		pthread_cond_wait(&d->inflight_cond, &d->inflight_lock);
	pthread_mutex_unlock(&d->inflight_lock);
}

static void *worker(void *arg)
{
	struct vu_pool *p = arg;

	for (;;) {
		struct vu_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		j = p->head;
		if (j) {
			p->head = j->next;
			if (!p->head)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->lock);
		if (!j)
			return NULL;
		vu_serve_elem(j->q, &j->e);
		vu_inflight_add(j->q, -1);
		free(j);
	}
}

/* Copy the element (its iovecs live in the queue thread's buffer) and queue it. */
int vu_pool_submit(struct vu_pool *p, struct vu_queue *q, const struct vq_elem *e)
{
	unsigned n = e->rd_cnt + e->wr_cnt;
	struct vu_job *j = malloc(sizeof(*j) + n * sizeof(j->iov[0]));

	if (!j)
		return -ENOMEM;
	j->next = NULL;
	j->q = q;
	j->e = *e;
	memcpy(j->iov, e->iov, n * sizeof(j->iov[0]));
	j->e.iov = j->iov;
	j->e.iov_max = n;
	vu_inflight_add(q, 1);
	pthread_mutex_lock(&p->lock);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

struct vu_pool *vu_pool_new(unsigned size)
{
	struct vu_pool *p;

	p = calloc(1, sizeof(*p) + size * sizeof(p->threads[0]));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (; p->nthreads < size; p->nthreads++) {
		int r = pthread_create(&p->threads[p->nthreads], NULL, worker, p);

		if (r != 0) {
			log_error("cannot start worker thread %u of %u: %s", p->nthreads + 1, size,
				  strerror(r));
			vu_pool_free(p);
			return NULL;
		}
	}
	return p;
}

/* Called once every queue is stopped and idle: no job is left. */
void vu_pool_free(struct vu_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
