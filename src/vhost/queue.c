/*
 * The hot path: the queue thread and the worker pool serve chains here. A queue thread pops
 * chains while its ring is started (vring.c starts and stops it), hands each to the layer above
 * (handler.h), pushes the used element and signals the guest as soon as it wants a signal
 * (unless the chains still waiting in the ring will keep us busy until the guest could answer
 * it: see push_inline).
 * After the ring runs dry, the thread may keep looking at it for a short adaptive window before
 * it re-arms notifications and sleeps (--poll-us; inline service only, not with a pool).
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

/* A held signal (push_inline) goes out at the latest this long after the first push it covers
 * (a slow chain behind it). */
#define VU_SIGNAL_HOLD_NS 50000u

/* The polling window grows from this when a kick came soon after the ring ran dry. */
#define VU_POLL_MIN_NS 2000u
/* While polling, give the CPU away this often: a guest vCPU (or the frontend) may be waiting
 * for it on a small machine. */
#define VU_POLL_YIELD_NS 5000u

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Called with q->lock held, after a push, and with the memory lock held for reading or no memory
 * change possible (a pool worker counted in flight): the decision reads the ring. With EVENT_IDX
 * the guest's used_event says whether it waits for this completion (Linux moves it only when it
 * is about to sleep), so asking after every push costs a load, and a signal only when one is
 * wanted. The call fd is non-blocking (vring.c): a frontend that passes a pipe nobody reads gets
 * a log line, not a queue thread stuck with both locks held. true when it signalled.
 */
static bool notify_locked(struct vu_queue *q)
{
	if (!vq_should_notify(&q->vq) || q->call_fd < 0)
		return false;
	if (eventfd_write(q->call_fd, 1) < 0)
		log_warn_rl("queue %u: signalling the call fd failed: %s", q->index,
			    strerror(errno));
	return true;
}

static uint64_t ewma(uint64_t avg, uint64_t sample)
{
	return avg ? (avg * 7 + sample) / 8 : sample;
}

/* Push one used element and interrupt the guest if it asked for it. */
void vu_queue_push(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	pthread_mutex_lock(&q->lock);
	vu_log_chain(q, e, len);
	vq_push(&q->vq, e, len);
	vu_log_used(q);
	notify_locked(q);
	q->held_since_ns = 0;
	pthread_mutex_unlock(&q->lock);
}

/*
 * The queue thread's push of a chain it served inline. The signal the guest wants is held back
 * while the chains still waiting in the ring will keep us busy for longer than the guest takes
 * to answer a signal with new chains (both learnt as we go: the time between our pushes, and
 * from a signal to the next chain made available): a guest woken now would take one completion
 * and sleep again, a wake-up per chain on both sides, while one woken a little later takes them
 * all at once and still refills the ring before it runs dry. Nothing is held until both are
 * known, at depth 1, or past VU_SIGNAL_HOLD_NS.
 */
static void push_inline(struct vu_queue *q, const struct vq_elem *e, uint32_t len)
{
	uint64_t now = now_ns(), pending = vq_avail_pending(&q->vq);
	uint16_t avail = (uint16_t)(q->vq.last_avail_idx + pending);
	bool hold;

	if (q->last_push_ns)
		q->serve_ns = ewma(q->serve_ns, now - q->last_push_ns);
	q->last_push_ns = now;
	if (q->signal_ns && avail != q->signal_avail) {
		q->answer_ns = ewma(q->answer_ns, now - q->signal_ns);
		q->signal_ns = 0;
	}
	hold = pending && q->answer_ns && pending * q->serve_ns > q->answer_ns;
	pthread_mutex_lock(&q->lock);
	vu_log_chain(q, e, len);
	vq_push(&q->vq, e, len);
	vu_log_used(q);
	if (hold && !q->held_since_ns)
		q->held_since_ns = now;
	else if (hold && now - q->held_since_ns >= VU_SIGNAL_HOLD_NS)
		hold = false;
	if (!hold) {
		if (notify_locked(q) && !q->signal_ns) {
			q->signal_ns = now;
			q->signal_avail = avail;
		}
		q->held_since_ns = 0;
	}
	pthread_mutex_unlock(&q->lock);
}

/* Before sleeping or stopping: a held signal goes out (the decision reads the ring: under the
 * memory lock). */
static void flush_held(struct vu_queue *q)
{
	pthread_rwlock_rdlock(&q->dev->mem_lock);
	pthread_mutex_lock(&q->lock);
	if (q->held_since_ns) {
		notify_locked(q);
		q->held_since_ns = 0;
	}
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&q->dev->mem_lock);
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
	r = vq_pop(&q->vq, &e);
	if (r == 1 && (!d->pool || vu_pool_submit(d->pool, q, &e) < 0)) {
		uint32_t len;

		if (handle_chain(q, &e, &len))
			push_inline(q, &e, len);
	}
	pthread_rwlock_unlock(&d->mem_lock);
	return r == 1;
}

static bool ring_has_avail(struct vu_queue *q)
{
	bool more;

	pthread_rwlock_rdlock(&q->dev->mem_lock);
	more = vq_has_avail(&q->vq);
	pthread_rwlock_unlock(&q->dev->mem_lock);
	return more;
}

/* The ring ran dry at dry_ns: look at it (notifications still off, so the guest need not kick)
 * until the window closes. true when a chain came. */
static bool poll_ring(struct vu_queue *q, uint64_t dry_ns)
{
	uint64_t end = dry_ns + q->poll_ns, next_yield = dry_ns + VU_POLL_YIELD_NS, now;

	do {
		for (int i = 0; i < 32; i++)
			cpu_relax();
		if (ring_has_avail(q))
			return true;
		now = now_ns();
		if (now >= next_yield) {
			sched_yield();
			next_yield = now + VU_POLL_YIELD_NS;
		}
	} while (now < end && !__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE));
	return false;
}

/* Adapt the window to the time from the ring running dry to the next chain, as seen after a
 * sleep: a chain that came soon after would have been caught by a longer window (grow, up to
 * --poll-us), one that came later than that means the guest went idle (shrink, down to off).
 * A chain caught while polling leaves the window as it is. */
static void poll_adapt(struct vu_queue *q, uint64_t gap_ns)
{
	uint64_t max = q->poll_max_ns;

	if (gap_ns <= max) {
		uint64_t want = gap_ns + gap_ns / 2;

		if (want < 2 * (uint64_t)q->poll_ns)
			want = 2 * (uint64_t)q->poll_ns;
		if (want < VU_POLL_MIN_NS)
			want = VU_POLL_MIN_NS;
		q->poll_ns = want > max ? max : want;
	} else {
		q->poll_ns /= 2;
		if (q->poll_ns < VU_POLL_MIN_NS)
			q->poll_ns = 0;
	}
}

/* Serve until the ring is empty with notifications re-armed; returns when the ring ran dry
 * (its time in *dry_ns; 0 with polling off). */
static void drain(struct vu_queue *q, uint64_t *dry_ns)
{
	bool more;

	do {
		pthread_rwlock_rdlock(&q->dev->mem_lock);
		vq_disable_notify(&q->vq);
		pthread_rwlock_unlock(&q->dev->mem_lock);
		do {
			/* A guest that keeps the ring full must not keep us from stopping. */
			while (!__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE) && serve_one(q))
				;
			flush_held(q);
			q->last_push_ns = 0; /* an idle gap is no chain's service time */
			*dry_ns = q->poll_max_ns ? now_ns() : 0;
		} while (q->poll_ns && poll_ring(q, *dry_ns));
		/* Re-arm, then look once more: a chain made available between our last pop and
		 * the re-arm would otherwise wait for a kick that never comes. */
		pthread_rwlock_rdlock(&q->dev->mem_lock);
		more = vq_enable_notify(&q->vq);
		pthread_rwlock_unlock(&q->dev->mem_lock);
	} while (more && !__atomic_load_n(&q->stopping, __ATOMIC_ACQUIRE));
}

void *vu_queue_thread(void *arg)
{
	struct vu_queue *q = arg;

	/* With a worker pool the chain just popped is still being served when the ring runs dry:
	 * a polling queue thread only takes the CPU its worker and the guest need (bench, tmpfs,
	 * --thread-pool-size=1, lookup at depth 16: 33k ops/s polling, 121k not). */
	q->poll_max_ns = q->dev->pool ? 0 : (uint64_t)q->dev->opts.poll_us * 1000u;
	q->poll_ns = 0;
	q->serve_ns = q->answer_ns = q->last_push_ns = q->signal_ns = 0;
	for (;;) {
		struct pollfd p[2] = {{q->kick_fd, POLLIN, 0}, {q->stop_fd, POLLIN, 0}};
		uint64_t dry_ns;
		eventfd_t v;

		/* Chains may already wait (kicked before we started): look before sleeping. */
		drain(q, &dry_ns);
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
		if (dry_ns)
			poll_adapt(q, now_ns() - dry_ns);
		if (eventfd_read(q->kick_fd, &v) < 0 && errno != EAGAIN)
			log_warn_rl("queue %u: reading the kick eventfd failed: %s", q->index,
				    strerror(errno));
	}
	return NULL;
}
