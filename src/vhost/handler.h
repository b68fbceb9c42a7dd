/*
 * What the vhost-user device asks of the layer above it: serve one descriptor chain.
 * Kept separate so the vhost/virtio layers never include FUSE headers.
 */
#ifndef VFSD_VHOST_HANDLER_H
#define VFSD_VHOST_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vu_handler {
	/* in: readable iovecs (request); out: writable iovecs (reply space).
	 * Returns bytes written into out (the used length). Called from queue threads,
	 * concurrently for different queues, and with a worker pool (vu_opts.thread_pool_size)
	 * concurrently for chains of the same queue too. */
	size_t (*handle)(void *opaque, const struct iovec *in, unsigned in_cnt,
			 const struct iovec *out, unsigned out_cnt);
	/* Device reset / frontend disconnected: drop all per-connection state. May be NULL. */
	void (*reset)(void *opaque);
	void *opaque;
	/* Optional; when set it is used instead of handle. It may return VU_DEFERRED: the
	 * handler keeps the request (a lock wait) and later calls complete(ctx, id, reply, len)
	 * once, from any thread, with the whole reply. It touches no iovec of the call after
	 * returning, so guest memory may be remapped meanwhile (the reply goes to the chain's
	 * buffers as mapped when it completes). complete() may wait for a memory change to
	 * finish, which waits for the chains inside handle_async(): never call it holding a lock
	 * that handle_async() may wait for. */
	size_t (*handle_async)(void *opaque, const struct iovec *in, unsigned in_cnt,
			       const struct iovec *out, unsigned out_cnt,
			       void (*complete)(void *ctx, uint32_t id, const void *reply,
						size_t len),
			       void *ctx, uint32_t id);
	/* Required with handle_async: complete every deferred request of ctx now (an error
	 * reply) and return once their complete() calls have returned. Called when a queue
	 * stops (GET_VRING_BASE, reset, disconnect). */
	void (*cancel)(void *opaque, void *ctx);
	/* Device state for live migration (vhost-user DEVICE_STATE). Optional: without both, the
	 * protocol feature is not offered. Called from a transfer thread while every queue is
	 * stopped (no request in flight). save: *buf is malloc()ed, the caller frees it. load:
	 * buf holds the whole stream. Both return 0 or a negative errno with why[] naming the
	 * reason; a failed load leaves the device as it was before (no state adopted). */
	int (*state_save)(void *opaque, uint8_t **buf, size_t *len, char *why, size_t whylen);
	int (*state_load)(void *opaque, const uint8_t *buf, size_t len, char *why, size_t whylen);
};

#define VU_DEFERRED SIZE_MAX

#endif
