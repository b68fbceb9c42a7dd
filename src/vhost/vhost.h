/* vhost-user backend for a virtio-fs device: socket set-up and serving one frontend. */
#ifndef VFSD_VHOST_H
#define VFSD_VHOST_H

#include "vhost/handler.h"

struct vu_listener {
	int listen_fd;
	int pid_fd; /* <socket>.pid, locked; -1 with an inherited fd */
	char *socket_path; /* unlinked on close; NULL with an inherited fd */
	char *pid_path;
};

/* Create the UNIX socket at path (removing a stale one), <path>.pid with a lock held, and
 * chgrp to group if given (umask 007 then, else 077). Errors are logged with the path. */
int vu_listen_path(const char *path, const char *group, struct vu_listener *l);
/* Use an inherited listening socket. */
int vu_listen_fd(int fd, struct vu_listener *l);
void vu_listener_close(struct vu_listener *l);
/* Block until one frontend connects; returns the connected fd (O_CLOEXEC) or -errno. */
int vu_accept(struct vu_listener *l);

struct vu_opts {
	unsigned thread_pool_size; /* 0: requests run in the queue thread */
	/* virtio-fs tag served in the config space (1..36 bytes), or NULL: no config space and
	 * VHOST_USER_PROTOCOL_F_CONFIG not offered (the frontend sets the tag, as QEMU's
	 * vhost-user-fs-pci does). Must outlive vu_serve(). */
	const char *tag;
	/* After a queue runs dry, look at its ring for up to this long (adaptive window) before
	 * sleeping; 0: never. */
	unsigned poll_us;
};

/*
 * Serve the vhost-user protocol on conn_fd until the frontend disconnects (returns 0) or
 * sends something unrecoverable (returns -errno after logging). Starts one thread per started
 * queue and stops them all before returning. Closes conn_fd.
 */
int vu_serve(int conn_fd, const struct vu_handler *h, const struct vu_opts *opts);

#endif
