/*
 * vhost-user device: message dispatch, feature negotiation, reset, and the serve loop.
 * Every message is checked against a table (payload size, fd count) before its handler runs;
 * anything refused has its fds closed and, if the frontend asked, a failure ack.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VU_FEATURES                                                                                \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |                    \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |          \
	 (1ull << VHOST_USER_F_LOG_ALL))

int vu_reply_u64(struct vu_dev *d, struct vu_msg *m, uint64_t v)
{
	return vu_msg_reply(d->sock, &m->hdr, &v, sizeof(v));
}

static int get_features(struct vu_dev *d, struct vu_msg *m)
{
	return vu_reply_u64(d, m, VU_FEATURES);
}

static int set_features(struct vu_dev *d, struct vu_msg *m)
{
	uint64_t v = m->payload.u64;

	if (v & ~VU_FEATURES) {
		log_error("vhost-user: SET_FEATURES 0x%" PRIx64 " acks features we never offered "
			  "(0x%" PRIx64 ")",
			  v, (uint64_t)VU_FEATURES);
		return -EINVAL;
	}
	d->features = v;
	vu_log_features(d, v);
	return 0;
}

static int get_protocol_features(struct vu_dev *d, struct vu_msg *m)
{
	return vu_reply_u64(d, m, vu_protocol_features_offered(d));
}

static int set_protocol_features(struct vu_dev *d, struct vu_msg *m)
{
	uint64_t v = m->payload.u64, offered = vu_protocol_features_offered(d);

	if (v & ~offered) {
		log_error("vhost-user: SET_PROTOCOL_FEATURES 0x%" PRIx64
			  " acks features we never offered (0x%" PRIx64 ")",
			  v, offered);
		return -EINVAL;
	}
	d->protocol_features = v;
	return 0;
}

static int get_queue_num(struct vu_dev *d, struct vu_msg *m)
{
	return vu_reply_u64(d, m, VU_MAX_QUEUES);
}

static int get_max_mem_slots(struct vu_dev *d, struct vu_msg *m)
{
	return vu_reply_u64(d, m, VHOST_USER_MAX_MEM_SLOTS);
}

static int set_owner(struct vu_dev *d, struct vu_msg *m)
{
	return 0;
}

/* Back to the state after connect, except the memory table, the protocol features and the
 * backend request channel: the frontend sets each once per connection and does not send them
 * again after a reset (QEMU 10 resets the device while it sets the connection up; closing the
 * channel then made it report "Unexpected end-of-file" on it). */
static int reset_device(struct vu_dev *d, struct vu_msg *m)
{
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		vu_queue_reset(&d->q[i]);
	d->features = 0;
	vu_log_features(d, 0);
	if (d->h->reset)
		d->h->reset(d->h->opaque);
	log_info("vhost-user: device reset by the frontend (%s)", vu_request_name(m->hdr.request));
	return 0;
}

static int set_backend_req_fd(struct vu_dev *d, struct vu_msg *m)
{
	if (d->backend_fd >= 0)
		close(d->backend_fd);
	d->backend_fd = vu_msg_take_fd(m, 0);
	return 0;
}

#define SZ_ANY UINT32_MAX
#define FDS_ANY (-1)

struct vu_req {
	int (*fn)(struct vu_dev *d, struct vu_msg *m);
	uint32_t size; /* exact payload size, or SZ_ANY (ignored or checked by fn) */
	int nfds;      /* exact fd count, or FDS_ANY (checked by fn) */
	bool reply;    /* fn sends a reply body */
};

static const struct vu_req reqs[VHOST_USER_REQUEST_MAX] = {
    [VHOST_USER_GET_FEATURES] = {get_features, SZ_ANY, 0, true},
    [VHOST_USER_SET_FEATURES] = {set_features, 8, 0, false},
    [VHOST_USER_SET_OWNER] = {set_owner, SZ_ANY, 0, false},
    [VHOST_USER_RESET_OWNER] = {reset_device, SZ_ANY, 0, false},
    [VHOST_USER_SET_MEM_TABLE] = {vu_set_mem_table, SZ_ANY, FDS_ANY, false},
    /* replies itself: a body only with LOG_SHMFD (log.c) */
    [VHOST_USER_SET_LOG_BASE] = {vu_set_log_base, sizeof(struct vu_log_desc), FDS_ANY, false},
    [VHOST_USER_SET_LOG_FD] = {vu_set_log_fd, SZ_ANY, 1, false},
    [VHOST_USER_SET_VRING_NUM] = {vu_set_vring_num, 8, 0, false},
    [VHOST_USER_SET_VRING_ADDR] = {vu_set_vring_addr, sizeof(struct vhost_vring_addr), 0, false},
    [VHOST_USER_SET_VRING_BASE] = {vu_set_vring_base, 8, 0, false},
    [VHOST_USER_GET_VRING_BASE] = {vu_get_vring_base, 8, 0, true},
    [VHOST_USER_SET_VRING_KICK] = {vu_set_vring_fd, 8, FDS_ANY, false},
    [VHOST_USER_SET_VRING_CALL] = {vu_set_vring_fd, 8, FDS_ANY, false},
    [VHOST_USER_SET_VRING_ERR] = {vu_set_vring_fd, 8, FDS_ANY, false},
    [VHOST_USER_GET_PROTOCOL_FEATURES] = {get_protocol_features, SZ_ANY, 0, true},
    [VHOST_USER_SET_PROTOCOL_FEATURES] = {set_protocol_features, 8, 0, false},
    [VHOST_USER_GET_QUEUE_NUM] = {get_queue_num, SZ_ANY, 0, true},
    [VHOST_USER_SET_VRING_ENABLE] = {vu_set_vring_enable, 8, 0, false},
    [VHOST_USER_SET_BACKEND_REQ_FD] = {set_backend_req_fd, SZ_ANY, 1, false},
    [VHOST_USER_GET_CONFIG] = {vu_get_config, SZ_ANY, 0, true},
    [VHOST_USER_SET_CONFIG] = {vu_set_config, SZ_ANY, 0, false},
    [VHOST_USER_RESET_DEVICE] = {reset_device, SZ_ANY, 0, false},
    [VHOST_USER_GET_MAX_MEM_SLOTS] = {get_max_mem_slots, SZ_ANY, 0, true},
    [VHOST_USER_ADD_MEM_REG] = {vu_add_mem_reg, sizeof(struct vu_mem_reg), 1, false},
    [VHOST_USER_REM_MEM_REG] = {vu_rem_mem_reg, sizeof(struct vu_mem_reg), FDS_ANY, false},
    [VHOST_USER_SET_DEVICE_STATE_FD] = {vu_set_device_state_fd, sizeof(struct vu_device_state),
					1, true},
    [VHOST_USER_CHECK_DEVICE_STATE] = {vu_check_device_state, SZ_ANY, 0, true},
};

/* Shape checks common to all requests; returns 0 or -errno after logging. */
static int check_shape(const struct vu_req *rq, const struct vu_msg *m)
{
	const char *name = vu_request_name(m->hdr.request);

	if (!rq || !rq->fn) {
		log_warn("vhost-user: %s (%u) is not supported, refused", name, m->hdr.request);
		return -ENOSYS;
	}
	if (m->fds_truncated) {
		log_error("vhost-user: %s carries more than %d fds, refused", name,
			  VHOST_USER_MAX_FDS);
		return -E2BIG;
	}
	if (rq->size != SZ_ANY && m->hdr.size != rq->size) {
		log_error("vhost-user: %s with a %u-byte payload (expected %u), refused", name,
			  m->hdr.size, rq->size);
		return -EINVAL;
	}
	if (rq->nfds != FDS_ANY && m->nfds != (unsigned)rq->nfds) {
		log_error("vhost-user: %s with %u fds (expected %d), refused", name, m->nfds,
			  rq->nfds);
		return -EINVAL;
	}
	return 0;
}

/* Returns <0 only when the connection must be dropped. */
static int dispatch(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_req *rq =
	    m->hdr.request < VHOST_USER_REQUEST_MAX ? &reqs[m->hdr.request] : NULL;
	bool reply = rq && rq->fn && rq->reply;
	int r;

	log_debug("vhost-user: %s (size %u, %u fds, flags 0x%x)", vu_request_name(m->hdr.request),
		  m->hdr.size, m->nfds, m->hdr.flags);
	r = check_shape(rq, m);
	if (r == 0)
		r = rq->fn(d, m);
	vu_msg_close_fds(m);
	/* The handler could not answer a message whose reply the frontend waits for. */
	if (r == -ECONNABORTED)
		return r;
	if (reply) {
		/* The frontend waits for a body we cannot produce: stop rather than hang it. */
		if (r < 0)
			log_error("vhost-user: cannot answer %s: closing the connection",
				  vu_request_name(m->hdr.request));
		return r < 0 ? -EPROTO : 0;
	}
	if (m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY)
		return vu_reply_u64(d, m, r < 0 ? 1 : 0);
	return 0;
}

static struct vu_dev *dev_new(int sock, const struct vu_handler *h, const struct vu_opts *opts)
{
	struct vu_dev *d = calloc(1, sizeof(*d));
	pthread_rwlockattr_t a;

	if (!d)
		return NULL;
	d->sock = sock;
	d->h = h;
	if (opts)
		d->opts = *opts;
	d->backend_fd = -1;
	d->log.fd = -1;
	gmem_init(&d->mem);
	/* A busy guest must not starve memory table updates. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->mem_lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&d->inflight_lock, NULL);
	pthread_cond_init(&d->inflight_cond, NULL);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		vu_queue_init(d, i);
	if (d->opts.thread_pool_size > 0) {
		d->pool = vu_pool_new(d->opts.thread_pool_size);
		if (!d->pool)
			log_warn("vhost-user: no worker pool: requests run in the queue threads");
	}
	return d;
}

static void dev_free(struct vu_dev *d)
{
	vu_state_fini(d);
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++) {
		vu_queue_reset(&d->q[i]);
		pthread_mutex_destroy(&d->q[i].lock);
	}
	vu_pool_free(d->pool);
	pthread_cond_destroy(&d->inflight_cond);
	pthread_mutex_destroy(&d->inflight_lock);
	gmem_clear(&d->mem);
	vu_log_fini(d);
	if (d->backend_fd >= 0)
		close(d->backend_fd);
	if (d->h->reset)
		d->h->reset(d->h->opaque);
	pthread_rwlock_destroy(&d->mem_lock);
	free(d);
}

int vu_serve(int conn_fd, const struct vu_handler *h, const struct vu_opts *opts)
{
	struct vu_msg *m = malloc(sizeof(*m));
	struct vu_dev *d = dev_new(conn_fd, h, opts);
	int r = -ENOMEM;

	if (!m || !d) {
		log_error("vhost-user: out of memory for the connection state");
		goto out;
	}
	for (;;) {
		r = vu_msg_recv(conn_fd, m);
		if (r == 0) {
			log_info("vhost-user: frontend disconnected");
			break;
		}
		if (r < 0)
			break;
		r = dispatch(d, m);
		if (r < 0)
			break;
	}
out:
	if (d)
		dev_free(d);
	free(m);
	close(conn_fd);
	return r;
}
