/*
 * What the vhost-user device asks of the layer above it: serve one descriptor chain.
 * Kept separate so the vhost/virtio layers never include FUSE headers.
 */
#ifndef VFSD_VHOST_HANDLER_H
#define VFSD_VHOST_HANDLER_H

#include <stddef.h>
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
};

#endif
