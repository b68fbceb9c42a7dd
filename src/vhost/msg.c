/* vhost-user message framing: header, fds (SCM_RIGHTS), payload. */
#include "vhost/msg.h"

#include "log.h"
#include "util/iov.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static const char *const req_names[VHOST_USER_REQUEST_MAX] = {
    [VHOST_USER_GET_FEATURES] = "GET_FEATURES",
    [VHOST_USER_SET_FEATURES] = "SET_FEATURES",
    [VHOST_USER_SET_OWNER] = "SET_OWNER",
    [VHOST_USER_RESET_OWNER] = "RESET_OWNER",
    [VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
    [VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
    [VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
    [VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
    [VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
    [VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
    [VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
    [VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VHOST_USER_GET_CONFIG] = "GET_CONFIG",
    [VHOST_USER_SET_CONFIG] = "SET_CONFIG",
    [VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
    [VHOST_USER_VRING_KICK] = "VRING_KICK",
    [VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VHOST_USER_ADD_MEM_REG] = "ADD_MEM_REG",
    [VHOST_USER_REM_MEM_REG] = "REM_MEM_REG",
    [VHOST_USER_SET_STATUS] = "SET_STATUS",
    [VHOST_USER_GET_STATUS] = "GET_STATUS",
    [VHOST_USER_GET_SHARED_OBJECT] = "GET_SHARED_OBJECT",
    [VHOST_USER_SET_DEVICE_STATE_FD] = "SET_DEVICE_STATE_FD",
    [VHOST_USER_CHECK_DEVICE_STATE] = "CHECK_DEVICE_STATE",
};

const char *vu_request_name(uint32_t req)
{
	if (req < VHOST_USER_REQUEST_MAX && req_names[req])
		return req_names[req];
	return "unknown request";
}

void vu_msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

int vu_msg_take_fd(struct vu_msg *m, unsigned i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

static void collect_fds(struct vu_msg *m, struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VHOST_USER_MAX_FDS) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				m->fds_truncated = true;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		m->fds_truncated = true;
}

/* Read exactly len bytes; the fds ride on the first byte of the header. 1 ok, 0 EOF at start. */
static int read_full(int sock, struct vu_msg *m, void *buf, size_t len, bool with_fds)
{
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	size_t got = 0;

	while (got < len) {
		struct iovec iov = {(char *)buf + got, len - got};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (with_fds && got == 0) {
			mh.msg_control = cbuf.buf;
			mh.msg_controllen = sizeof(cbuf.buf);
		}
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET && got == 0 && with_fds ? 0 : -errno;
		if (mh.msg_controllen > 0)
			collect_fds(m, &mh);
		if (n == 0)
			return got == 0 && with_fds ? 0 : -ECONNRESET;
		got += (size_t)n;
	}
	return 1;
}

int vu_msg_recv(int sock, struct vu_msg *m)
{
	int r;

	m->nfds = 0;
	m->fds_truncated = false;
	r = read_full(sock, m, &m->hdr, sizeof(m->hdr), true);
	if (r <= 0)
		goto fail;
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    m->hdr.size > VU_MAX_PAYLOAD) {
		log_error("vhost-user: bad message header (request %u, flags 0x%x, size %u): "
			  "closing the connection",
			  m->hdr.request, m->hdr.flags, m->hdr.size);
		r = -EPROTO;
		goto fail;
	}
	r = read_full(sock, m, &m->payload, m->hdr.size, false);
	if (r < 0) {
		log_error("vhost-user: reading the payload of %s failed: %s",
			  vu_request_name(m->hdr.request), strerror(-r));
		goto fail;
	}
	return 1;
fail:
	if (r < 0 && r != -EPROTO)
		log_error("vhost-user: reading a message failed: %s", strerror(-r));
	vu_msg_close_fds(m);
	return r;
}

int vu_msg_reply(int sock, const struct vu_msg_hdr *req, const void *payload, uint32_t size)
{
	struct vu_msg_hdr h = {
	    .request = req->request,
	    .flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY,
	    .size = size,
	};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	struct iov_view left = {.iov = iov, .cnt = 2, .len = sizeof(h) + size};

	while (left.len > 0) {
		struct msghdr mh = {.msg_iov = left.iov, .msg_iovlen = left.cnt};
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			log_error("vhost-user: sending the reply to %s failed: %s",
				  vu_request_name(req->request), strerror(e));
			return -e;
		}
		/* Skip what was sent; short writes on a UNIX stream socket are rare. */
		iov_advance(&left, (size_t)n);
	}
	return 0;
}
