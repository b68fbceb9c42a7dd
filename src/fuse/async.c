/*
 * Requests that wait: a blocking SETLKW runs in a waiter thread of its own, so the queue that
 * carried it keeps being served. The waiter holds nothing of the transport (no iovec, no guest
 * memory): it hands the finished reply to the transport's complete() callback.
 *
 * INTERRUPT and cancel (device reset, queue stop, DESTROY) wake a waiter with a signal whose
 * handler does nothing and is installed without SA_RESTART, so the blocking fcntl()/flock()
 * returns EINTR. A signal sent just before the waiter enters the call would be lost, so the
 * sender repeats it until the waiter is seen out of the call.
 *
 * Bounded: at most FUSE_MAX_WAITERS requests wait at once per server; more get ENOLCK (what
 * fcntl(2) answers when the lock table is full).
 */
#include "fuse/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define FUSE_MAX_WAITERS 64
#define FUSE_WAKE_SIG SIGURG /* ignored by default: a stray one can do no harm */
#define FUSE_RECENT_INTR 16
#define FUSE_KICK_MS 10

struct fuse_waiter {
	struct fuse_waiter *next;
	struct fuse_server *srv;
	pthread_t thread;
	bool own_thread; /* spawned here (joined once done), else the caller's inline wait */
	bool has_async;
	struct fuse_async a;
	struct fuse_in_header in;
	struct fs_ctx ctx;
	struct fuse_lk_args la;
	/* Under waitq.lock: */
	bool cancel;
	bool in_call;
	bool done;
	unsigned pins; /* a kicker sleeping with a pointer to us: do not free */
};

struct fuse_waitq {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a waiter left its call or finished */
	struct fuse_waiter *list;
	unsigned live; /* waiters not done yet */
	/* INTERRUPTs that found no waiter: the request may not have reached us yet. */
	uint64_t recent[FUSE_RECENT_INTR];
	unsigned recent_pos;
};

static void wake_handler(int sig)
{
	(void)sig; /* only there to make the blocking call return EINTR */
}

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static int wake_err;

static void install_wake(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wake_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the interrupted call must return */
	if (sigaction(FUSE_WAKE_SIG, &sa, NULL) < 0)
		wake_err = -errno;
}

int fuse_waitq_new(struct fuse_waitq **out)
{
	struct fuse_waitq *wq;

	pthread_once(&wake_once, install_wake);
	if (wake_err < 0) {
		log_error("installing the lock-wait wake-up signal handler failed: %s",
			  strerror(-wake_err));
		return wake_err;
	}
	wq = calloc(1, sizeof(*wq));
	if (!wq)
		return -ENOMEM;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	*out = wq;
	return 0;
}

/* Join and free finished waiter threads. Called with wq->lock held. */
static void reap_locked(struct fuse_waitq *wq)
{
	struct fuse_waiter **pp = &wq->list;

	while (*pp) {
		struct fuse_waiter *w = *pp;

		if (!w->done || !w->own_thread || w->pins) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		/* It set done as its last step under the lock: the join is short. */
		pthread_join(w->thread, NULL);
		free(w);
	}
}

static void cond_wait_ms(struct fuse_waitq *wq, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&wq->cond, &wq->lock, &ts);
}

/* Mark w cancelled and signal it until it is out of its blocking call; max_tries < 0: no
 * bound. Called with wq->lock held (released while sleeping). */
static void kick_locked(struct fuse_waitq *wq, struct fuse_waiter *w, int max_tries)
{
	w->cancel = true;
	w->pins++;
	for (int i = 0; w->in_call && (max_tries < 0 || i < max_tries); i++) {
		pthread_kill(w->thread, FUSE_WAKE_SIG);
		cond_wait_ms(wq, FUSE_KICK_MS);
	}
	w->pins--;
	pthread_cond_broadcast(&wq->cond); /* an inline waiter may wait for pins to drop */
}

/* The blocking call, repeated after a signal that was not ours. */
static int waiter_call(struct fuse_waiter *w)
{
	struct fuse_waitq *wq = w->srv->waitq;
	const struct fs_ops *ops = w->srv->ops;
	int r = -EINTR;

	pthread_mutex_lock(&wq->lock);
	while (!w->cancel) {
		w->in_call = true;
		pthread_mutex_unlock(&wq->lock);
		r = ops->setlk(w->srv->fs, &w->ctx, w->la.ino, w->la.fh, w->la.owner, &w->la.lk,
			       w->la.flock, true);
		pthread_mutex_lock(&wq->lock);
		w->in_call = false;
		pthread_cond_broadcast(&wq->cond);
		if (r != -EINTR)
			break;
	}
	pthread_mutex_unlock(&wq->lock);
	return r;
}

static void waiter_finish(struct fuse_waiter *w)
{
	struct fuse_waitq *wq = w->srv->waitq;

	pthread_mutex_lock(&wq->lock);
	w->done = true;
	wq->live--;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

static void *waiter_main(void *arg)
{
	struct fuse_waiter *w = arg;
	struct fuse_out_header oh;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, FUSE_WAKE_SIG);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	r = waiter_call(w);
	if (r > 0 || r < -4095)
		r = -EIO;
	log_debug("FUSE SETLKW unique=%llu: done after waiting: %d",
		  (unsigned long long)w->in.unique, r);
	memset(&oh, 0, sizeof(oh));
	oh.len = sizeof(oh);
	oh.error = r;
	oh.unique = w->in.unique;
	w->a.complete(w->a.ctx, w->a.id, &oh, sizeof(oh));
	waiter_finish(w);
	return NULL;
}

/* Was this request interrupted before it got here? Consumes the record. */
static bool take_recent_locked(struct fuse_waitq *wq, uint64_t unique)
{
	for (unsigned i = 0; i < FUSE_RECENT_INTR; i++) {
		if (wq->recent[i] == unique && unique != 0) {
			wq->recent[i] = 0;
			return true;
		}
	}
	return false;
}

/* Add w to the list; -ENOLCK when full, -EINTR when already interrupted. */
static int register_locked(struct fuse_waitq *wq, struct fuse_waiter *w)
{
	reap_locked(wq);
	if (take_recent_locked(wq, w->in.unique))
		return -EINTR;
	if (wq->live >= FUSE_MAX_WAITERS) {
		log_warn_rl("FUSE SETLKW unique=%llu: %u lock waits already, refused (ENOLCK)",
			    (unsigned long long)w->in.unique, wq->live);
		return -ENOLCK;
	}
	w->next = wq->list;
	wq->list = w;
	wq->live++;
	return 0;
}

static int wait_async(struct fuse_req *req, struct fuse_waiter *w)
{
	struct fuse_waitq *wq = req->srv->waitq;
	int r;

	w->own_thread = true;
	w->has_async = true;
	w->a = *req->async;
	pthread_mutex_lock(&wq->lock);
	r = register_locked(wq, w);
	if (r == 0) {
		r = -pthread_create(&w->thread, NULL, waiter_main, w);
		if (r < 0) {
			log_error_rl("FUSE SETLKW unique=%llu: cannot start a waiter thread: %s",
				     (unsigned long long)w->in.unique, strerror(-r));
			wq->list = w->next; /* still the head: added above under the lock */
			wq->live--;
			r = -ENOLCK;
		}
	}
	pthread_mutex_unlock(&wq->lock);
	if (r < 0) {
		free(w);
		return r;
	}
	req->deferred = true;
	return 0;
}

/* No deferred replies on this transport: wait here, still interruptible. */
static int wait_inline(struct fuse_req *req, struct fuse_waiter *w)
{
	struct fuse_waitq *wq = req->srv->waitq;
	struct fuse_waiter **pp;
	int r;

	w->thread = pthread_self();
	pthread_mutex_lock(&wq->lock);
	r = register_locked(wq, w);
	pthread_mutex_unlock(&wq->lock);
	if (r == 0)
		r = waiter_call(w);
	pthread_mutex_lock(&wq->lock);
	for (pp = &wq->list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			wq->live--;
			break;
		}
	}
	/* A kicker may still hold a pointer to w: let it go first. */
	while (w->pins)
		pthread_cond_wait(&wq->cond, &wq->lock);
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	free(w);
	return r;
}

int fuse_wait_lock(struct fuse_req *req, const struct fuse_lk_args *la)
{
	struct fuse_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->srv = req->srv;
	w->in = req->in;
	w->ctx = req->ctx;
	w->la = *la;
	if (req->async && req->async->complete)
		return wait_async(req, w);
	return wait_inline(req, w);
}

int fuse_do_interrupt(struct fuse_req *req)
{
	struct fuse_waitq *wq = req->srv->waitq;
	uint64_t unique = req->in_arg.interrupt.unique;
	struct fuse_waiter *w;

	pthread_mutex_lock(&wq->lock);
	for (w = wq->list; w; w = w->next)
		if (w->in.unique == unique && !w->done && !w->cancel)
			break;
	if (w) {
		log_debug("FUSE INTERRUPT of unique=%llu: waking its lock wait",
			  (unsigned long long)unique);
		/* Bounded: INTERRUPT runs in a queue thread; the race it covers (a signal
		 * just before the waiter entered its call) lasts a few instructions. */
		kick_locked(wq, w, 100);
	} else {
		wq->recent[wq->recent_pos++ % FUSE_RECENT_INTR] = unique;
	}
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

static bool matches(const struct fuse_waiter *w, void *ctx)
{
	return !ctx || (w->has_async && w->a.ctx == ctx);
}

void fuse_server_cancel(struct fuse_server *srv, void *ctx)
{
	struct fuse_waitq *wq = srv->waitq;
	struct fuse_waiter *w;
	bool again;

	if (!wq)
		return;
	pthread_mutex_lock(&wq->lock);
	do {
		again = false;
		for (w = wq->list; w; w = w->next) {
			if (!w->done && matches(w, ctx) && (!w->cancel || w->in_call)) {
				kick_locked(wq, w, -1);
				again = true; /* the list may have changed while we slept */
				break;
			}
		}
	} while (again);
	do {
		again = false;
		for (w = wq->list; w && !again; w = w->next)
			again = !w->done && matches(w, ctx);
		if (again)
			pthread_cond_wait(&wq->cond, &wq->lock);
	} while (again);
	reap_locked(wq);
	pthread_mutex_unlock(&wq->lock);
}

void fuse_waitq_wake_all(struct fuse_waitq *wq)
{
	struct fuse_waiter *w;
	bool again;

	pthread_mutex_lock(&wq->lock);
	do {
		again = false;
		for (w = wq->list; w; w = w->next) {
			if (!w->done && !w->cancel) {
				kick_locked(wq, w, 100);
				again = true;
				break;
			}
		}
	} while (again);
	pthread_mutex_unlock(&wq->lock);
}

void fuse_waitq_free(struct fuse_waitq *wq)
{
	if (!wq)
		return;
	pthread_mutex_lock(&wq->lock);
	reap_locked(wq);
	if (wq->list)
		log_error("FUSE: %u lock waits left at exit", wq->live);
	pthread_mutex_unlock(&wq->lock);
	pthread_cond_destroy(&wq->cond);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
}
