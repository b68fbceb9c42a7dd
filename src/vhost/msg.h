/* Framing of vhost-user messages on the socket, with the file descriptors they carry. */
#ifndef VFSD_VHOST_MSG_H
#define VFSD_VHOST_MSG_H

#include "vhost/protocol.h"

#include <stdbool.h>
#include <stddef.h>

struct vu_msg {
	struct vu_msg_hdr hdr;
	union vu_payload payload;
	int fds[VHOST_USER_MAX_FDS];
	unsigned nfds;
	bool fds_truncated; /* the frontend sent more fds than a message may carry */
};

/* 1: a message was read; 0: the frontend closed the connection between messages;
 * <0: framing error or I/O error (logged), the connection cannot be used any more. */
int vu_msg_recv(int sock, struct vu_msg *m);
/* Send a reply to req with the given payload. */
int vu_msg_reply(int sock, const struct vu_msg_hdr *req, const void *payload, uint32_t size);
/* Close every fd the message still holds. */
void vu_msg_close_fds(struct vu_msg *m);
/* Take fd i out of the message (the caller now owns it). */
int vu_msg_take_fd(struct vu_msg *m, unsigned i);
const char *vu_request_name(uint32_t req);

#endif
