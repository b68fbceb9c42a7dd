/* Internal to src/vhost: the state of one vhost-user connection and its queues. */
#ifndef VFSD_VHOST_DEV_H
#define VFSD_VHOST_DEV_H

#include "vhost/handler.h"
#include "vhost/msg.h"
#include "vhost/vhost.h"
#include "virtio/gmem.h"
#include "virtio/virtqueue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* hiprio + request queues. QEMU's vhost-user-fs uses 1 + num-request-queues (default 1). */
#define VU_MAX_QUEUES 16

struct vu_dev;

struct vu_queue {
	struct vu_dev *dev;
	unsigned index;
	/* Set by the vhost thread while the queue thread is stopped: */
	unsigned num; /* 0 until SET_VRING_NUM */
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;
	uint16_t base; /* next avail index; read back by GET_VRING_BASE */
	int kick_fd, err_fd;
	bool log_used; /* VHOST_VRING_F_LOG: used ring writes logged at used_log_gpa */
	uint64_t used_log_gpa;
	bool enabled;
	bool started; /* the queue thread runs */
	pthread_t thread;
	int stop_fd;	   /* eventfd that tells the queue thread to return */
	bool stopping;	   /* atomic: a busy queue thread checks it between chains */
	struct iovec *iov; /* the queue thread's element buffer */
	/* Ring pointers change under dev->mem_lock (write side); the rest of vq belongs to the
	 * queue thread, except push and notify state, which lock guards. */
	struct vq vq;
	pthread_mutex_t lock; /* used ring writes, notify decision, call_fd */
	int call_fd;
	/* When the oldest push whose signal the queue thread held back was made (lock); 0: none
	 * held (queue.c, push_inline). */
	uint64_t held_since_ns;
	/* Queue thread only: the time between its pushes while busy (one chain's service) and
	 * from a signal to the guest's next chain, as moving averages; the last push, the last
	 * signal still unanswered (0: none) and the avail index then. */
	uint64_t serve_ns, answer_ns, last_push_ns, signal_ns;
	uint16_t signal_avail;
	/* Polling after the ring ran dry (queue thread only): the current window and its
	 * ceiling (--poll-us), in ns; 0: sleep at once. */
	uint64_t poll_ns, poll_max_ns;
	unsigned inflight; /* chains handed to the pool, not yet pushed (dev->inflight_lock) */
	/* Chains the handler deferred, not yet completed (dev->inflight_lock). Signed: a
	 * completion may be counted before the deferral that it ends. Not part of inflight:
	 * memory table changes do not wait for them (they hold no guest memory). */
	int deferred;
	/* Replies completed while the ring was unmapped, delivered once it is back (lock). */
	struct vu_parked *parked;
};

struct vu_pool;

/* The dirty log (SET_LOG_BASE): one bit per guest page, set atomically. Changed by the vhost
 * thread under mem_lock (write side), read by queue threads under its read side. */
struct vu_log {
	uint8_t *bits; /* NULL: no log */
	uint64_t size; /* bytes of bits */
	void *map;
	size_t map_len;
	bool on; /* VHOST_F_LOG_ALL acked and a log given */
	int fd;	 /* SET_LOG_FD's eventfd, -1 */
};

/* Device state transfer (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE; state.c). */
struct vu_state_xfer {
	bool busy; /* a transfer thread runs or has not been checked yet */
	pthread_t thread;
	struct vu_dev *dev;
	uint32_t direction;
	int fd;	 /* the front-end's end of the channel, owned by the thread */
	int res; /* the thread's result, read after join */
	char why[256];
};

struct vu_dev {
	int sock;
	const struct vu_handler *h;
	struct vu_opts opts;
	uint64_t features;	    /* acked virtio features */
	uint64_t protocol_features; /* acked protocol features */
	int backend_fd;		    /* backend request channel, unused until DAX */
	/* Queue threads hold the read side while they touch guest memory; the vhost thread holds
	 * the write side while it changes the region table or ring mappings. */
	pthread_rwlock_t mem_lock;
	struct gmem mem;
	struct vu_pool *pool; /* NULL: requests run in the queue threads */
	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_cond; /* an in-flight count dropped */
	unsigned inflight;	      /* chains in flight in the pool, all queues */
	struct vu_log log;
	struct vu_state_xfer xfer;
	struct vu_queue q[VU_MAX_QUEUES];
};

/* vring.c: SET_VRING_* messages and starting, stopping, resetting queues. */
void vu_queue_init(struct vu_dev *d, unsigned i);
void vu_queue_stop(struct vu_queue *q);
void vu_queue_try_start(struct vu_queue *q);
void vu_queue_reset(struct vu_queue *q);
/* With mem_lock held for writing: re-translate the rings of running queues. */
void vu_queues_remap(struct vu_dev *d);
int vu_set_vring_num(struct vu_dev *d, struct vu_msg *m);
int vu_set_vring_addr(struct vu_dev *d, struct vu_msg *m);
int vu_set_vring_base(struct vu_dev *d, struct vu_msg *m);
int vu_get_vring_base(struct vu_dev *d, struct vu_msg *m);
int vu_set_vring_fd(struct vu_dev *d, struct vu_msg *m);
int vu_set_vring_enable(struct vu_dev *d, struct vu_msg *m);

/* queue.c: the hot path. */
/* The queue thread (arg: its struct vu_queue), started by vu_queue_try_start. */
void *vu_queue_thread(void *arg);
/* Hand one popped chain to the handler and push it (queue thread or worker). */
void vu_serve_elem(struct vu_queue *q, const struct vq_elem *e);
/* Push one used element and notify if needed (memory read lock held). */
void vu_queue_push(struct vu_queue *q, const struct vq_elem *e, uint32_t len);

/* deferred.c: replies the handler completes later (handler.h, handle_async). */
void vu_deferred_complete(void *ctx, uint32_t id, const void *reply, size_t len);
void vu_deferred_add(struct vu_queue *q, int delta);
/* Cancel q's deferred requests and wait until each is completed (queue stop). */
void vu_deferred_cancel(struct vu_queue *q);
/* Push the parked replies; the ring must be mapped and memory unchanging (the memory lock
 * held, either side). Returns how many were delivered. */
unsigned vu_deferred_deliver_parked(struct vu_queue *q);
/* Forget the parked replies (the queue is reset: its driver is gone); returns how many. */
unsigned vu_deferred_drop_parked(struct vu_queue *q);

/* pool.c */
struct vu_pool *vu_pool_new(unsigned size);
void vu_pool_free(struct vu_pool *p);
int vu_pool_submit(struct vu_pool *p, struct vu_queue *q, const struct vq_elem *e);
void vu_inflight_add(struct vu_queue *q, int delta);
/* Wait until fewer than below chains of q are in flight. */
void vu_wait_queue_idle(struct vu_queue *q, unsigned below);
/* Wait until no chain is in flight: with the memory lock held for writing, nobody touches
 * guest memory afterwards. */
void vu_wait_idle(struct vu_dev *d);

/* mem.c */
int vu_set_mem_table(struct vu_dev *d, struct vu_msg *m);
int vu_add_mem_reg(struct vu_dev *d, struct vu_msg *m);
int vu_rem_mem_reg(struct vu_dev *d, struct vu_msg *m);

/* device.c */
int vu_reply_u64(struct vu_dev *d, struct vu_msg *m, uint64_t v);

/* log.c: dirty logging. */
int vu_set_log_base(struct vu_dev *d, struct vu_msg *m);
int vu_set_log_fd(struct vu_dev *d, struct vu_msg *m);
/* SET_FEATURES: logging follows VHOST_F_LOG_ALL (takes mem_lock for writing). */
void vu_log_features(struct vu_dev *d, uint64_t features);
void vu_log_fini(struct vu_dev *d);
/* With mem_lock read-held, before vq_push: the reply bytes written into e's buffers. */
void vu_log_chain(struct vu_queue *q, const struct vq_elem *e, uint32_t len);
/* With mem_lock read-held, after vq_push (and when a queue stops): the used ring. */
void vu_log_used(struct vu_queue *q);

/* state.c: device state transfer. */
int vu_set_device_state_fd(struct vu_dev *d, struct vu_msg *m);
int vu_check_device_state(struct vu_dev *d, struct vu_msg *m);
/* Waits for a transfer thread still running (disconnect). */
void vu_state_fini(struct vu_dev *d);

/* Protocol features offered whatever the options; devcfg.c adds CONFIG with a tag and
 * DEVICE_STATE when the layer above can save and load its state. */
#define VU_PROTOCOL_FEATURES                                                                       \
	((1ull << VHOST_USER_PROTOCOL_F_MQ) | (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) |          \
	 (1ull << VHOST_USER_PROTOCOL_F_BACKEND_REQ) |                                             \
	 (1ull << VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD) |                                         \
	 (1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE) |                                            \
	 (1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS) |                                     \
	 (1ull << VHOST_USER_PROTOCOL_F_LOG_SHMFD))

/* devcfg.c: the config space (GET_CONFIG / SET_CONFIG). */
uint64_t vu_protocol_features_offered(const struct vu_dev *d);
int vu_get_config(struct vu_dev *d, struct vu_msg *m);
int vu_set_config(struct vu_dev *d, struct vu_msg *m);

#endif
