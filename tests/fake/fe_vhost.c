/* vhost-user messages and the negotiation QEMU 7.2's vhost-user-fs-pci performs. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "frontend.h"

#define PF(bit) (1ull << (bit))

int fe_vu_send_raw(struct fe *fe, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fe->sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int fe_vu_send(struct fe *fe, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds)
{
	uint8_t buf[sizeof(struct fe_vu_hdr) + 512];
	struct fe_vu_hdr h = { .request = req, .flags = flags | FE_VU_VERSION, .size = size };

	if (size > 512)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return fe_vu_send_raw(fe, buf, sizeof(h) + size, fds, nfds);
}

static void close_received_fds(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr = poll(&p, 1, timeout_ms);

		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0 && errno != EINTR)
			return -errno;
		n = read(fd, (uint8_t *)buf + done, len - done);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			done += n;
	}
	return 0;
}

int fe_vu_recv(struct fe *fe, struct fe_vu_hdr *hdr, void *payload, size_t cap, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FE_VU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(*hdr) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	struct pollfd p = { .fd = fe->sock, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&p, 1, timeout_ms);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	n = recvmsg(fe->sock, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	close_received_fds(&m);
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n < sizeof(*hdr)) {
		r = read_full(fe->sock, (uint8_t *)hdr + n, sizeof(*hdr) - n, timeout_ms);
		if (r < 0)
			return r;
	}
	if (hdr->size > cap) {
		fprintf(stderr, "fake frontend: reply to request %u has size %u > %zu\n",
			hdr->request, hdr->size, cap);
		return -EMSGSIZE;
	}
	r = read_full(fe->sock, payload, hdr->size, timeout_ms);
	return r < 0 ? r : (int)hdr->size;
}

static int recv_u64_reply(struct fe *fe, uint32_t req, uint64_t *out)
{
	struct fe_vu_hdr h;
	uint64_t v = 0;
	int r = fe_vu_recv(fe, &h, &v, sizeof(v), FE_TIMEOUT_MS);

	if (r < 0) {
		fprintf(stderr, "fake frontend: no reply to request %u: %s\n", req, strerror(-r));
		return r;
	}
	if (h.request != req || !(h.flags & FE_VU_FLAG_REPLY) || h.size != sizeof(v)) {
		fprintf(stderr, "fake frontend: bad reply to request %u: req %u flags %#x size %u\n",
			req, h.request, h.flags, h.size);
		return -EPROTO;
	}
	*out = v;
	return 0;
}

int fe_vu_get_u64(struct fe *fe, uint32_t req, uint64_t *out)
{
	int r = fe_vu_send(fe, req, 0, NULL, 0, NULL, 0);

	if (r < 0)
		return r;
	return recv_u64_reply(fe, req, out);
}

int fe_vu_get_config(struct fe *fe, uint32_t offset, uint32_t size, void *out, size_t cap)
{
	size_t len = sizeof(struct fe_vu_config) + (size_t)size;
	struct fe_vu_config *c = calloc(1, len);
	struct fe_vu_hdr h;
	int r;

	if (!c)
		return -ENOMEM;
	c->offset = offset;
	c->size = size;
	r = fe_vu_send(fe, FE_VU_GET_CONFIG, 0, c, (uint32_t)len, NULL, 0);
	free(c);
	if (r < 0)
		return r;
	r = fe_vu_recv(fe, &h, out, cap, FE_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (h.request != FE_VU_GET_CONFIG || !(h.flags & FE_VU_FLAG_REPLY)) {
		fprintf(stderr, "fake frontend: GET_CONFIG answered by request %u flags %#x\n",
			h.request, h.flags);
		return -EPROTO;
	}
	return r;
}

int fe_vu_set(struct fe *fe, uint32_t req, const void *payload, uint32_t size, const int *fds,
	      unsigned nfds)
{
	bool ack = fe->acked_protocol & PF(FE_VU_PF_REPLY_ACK);
	uint64_t v;
	int r;

	r = fe_vu_send(fe, req, ack ? FE_VU_FLAG_NEED_REPLY : 0, payload, size, fds, nfds);
	if (r < 0 || !ack)
		return r;
	r = recv_u64_reply(fe, req, &v);
	if (r < 0)
		return r;
	if (v != 0) {
		fprintf(stderr, "fake frontend: request %u refused (ack %llu)\n", req,
			(unsigned long long)v);
		return -EPROTO;
	}
	return 0;
}

int fe_vu_set_u64(struct fe *fe, uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	return fe_vu_set(fe, req, &v, sizeof(v), fds, nfds);
}

static uint64_t uaddr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

int fe_vq_start(struct fe *fe, unsigned q)
{
	struct fe_vq *vq = &fe->vq[q];
	struct fe_vu_vring_state st = { .index = q, .num = vq->num };
	struct fe_vu_vring_addr a = { .index = q,
				      .desc_user_addr = uaddr(vq->desc),
				      .used_user_addr = uaddr(vq->used),
				      .avail_user_addr = uaddr(vq->avail) };
	int r;

	r = fe_vu_set(fe, FE_VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	if (r < 0)
		return r;
	/* A fresh ring starts at 0; a resumed one (after GET_VRING_BASE) where the device said it
	 * stopped (else where the frontend has published up to). */
	st.num = vq->have_stop_base ? vq->stop_base : vq->avail_idx;
	vq->have_stop_base = false;
	r = fe_vu_set(fe, FE_VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
	if (r < 0)
		return r;
	r = fe_vu_set(fe, FE_VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (r < 0)
		return r;
	r = fe_vu_set_u64(fe, FE_VU_SET_VRING_KICK, q, &vq->kick_fd, 1);
	if (r < 0)
		return r;
	r = fe_vu_set_u64(fe, FE_VU_SET_VRING_CALL, q, &vq->call_fd, 1);
	if (r < 0)
		return r;
	return fe_vu_set_u64(fe, FE_VU_SET_VRING_ERR, q, &vq->err_fd, 1);
}

int fe_vq_enable(struct fe *fe, unsigned q, bool on)
{
	struct fe_vu_vring_state st = { .index = q, .num = on };
	int r = fe_vu_set(fe, FE_VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);

	if (r == 0)
		fe->vq[q].enabled = on;
	return r;
}

int fe_vu_get_vring_base(struct fe *fe, unsigned q, uint32_t *base)
{
	struct fe_vu_vring_state st = { .index = q };
	struct fe_vu_hdr h;
	int r = fe_vu_send(fe, FE_VU_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0);

	if (r < 0)
		return r;
	r = fe_vu_recv(fe, &h, &st, sizeof(st), FE_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (h.request != FE_VU_GET_VRING_BASE || r != sizeof(st) || st.index != q) {
		fprintf(stderr, "fake frontend: bad GET_VRING_BASE reply (req %u size %d idx %u)\n",
			h.request, r, st.index);
		return -EPROTO;
	}
	*base = st.num;
	fe->vq[q].stop_base = (uint16_t)st.num;
	fe->vq[q].have_stop_base = true;
	return 0;
}

static int send_memory(struct fe *fe)
{
	int fds[2] = { fe->mem_fd, fe->mem_fd };

	if ((fe->acked_protocol & PF(FE_VU_PF_CONFIGURE_MEM_SLOTS)) && !fe->opts.set_mem_table) {
		for (unsigned i = 0; i < fe->nregions; i++) {
			struct fe_vu_single_region m = { .region = fe->regions[i] };
			int r = fe_vu_set(fe, FE_VU_ADD_MEM_REG, &m, sizeof(m), fds, 1);

			if (r < 0)
				return r;
		}
		return 0;
	}
	struct fe_vu_mem_table t = { .nregions = fe->nregions };

	memcpy(t.regions, fe->regions, sizeof(fe->regions[0]) * fe->nregions);
	return fe_vu_set(fe, FE_VU_SET_MEM_TABLE, &t,
			 8 + sizeof(t.regions[0]) * fe->nregions, fds, fe->nregions);
}

static int negotiate_protocol(struct fe *fe)
{
	const uint64_t want = PF(FE_VU_PF_MQ) | PF(FE_VU_PF_REPLY_ACK) |
			      PF(FE_VU_PF_BACKEND_REQ) | PF(FE_VU_PF_BACKEND_SEND_FD) |
			      PF(FE_VU_PF_CONFIGURE_MEM_SLOTS) |
			      (fe->opts.ack_config ? PF(FE_VU_PF_CONFIG) : 0);
	int r;

	r = fe_vu_get_u64(fe, FE_VU_GET_PROTOCOL_FEATURES, &fe->dev_protocol);
	if (r < 0)
		return r;
	r = fe_vu_send(fe, FE_VU_SET_PROTOCOL_FEATURES, 0, &(uint64_t){ fe->dev_protocol & want },
		       8, NULL, 0);
	if (r < 0)
		return r;
	fe->acked_protocol = fe->dev_protocol & want;
	if (fe->acked_protocol & PF(FE_VU_PF_MQ)) {
		r = fe_vu_get_u64(fe, FE_VU_GET_QUEUE_NUM, &fe->queue_num);
		if (r < 0)
			return r;
	}
	if (fe->acked_protocol & PF(FE_VU_PF_CONFIGURE_MEM_SLOTS)) {
		r = fe_vu_get_u64(fe, FE_VU_GET_MAX_MEM_SLOTS, &fe->max_mem_slots);
		if (r < 0)
			return r;
	}
	if (fe->acked_protocol & PF(FE_VU_PF_BACKEND_REQ)) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		fe->backend_fd = sv[0];
		r = fe_vu_set(fe, FE_VU_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
		close(sv[1]);
		if (r < 0)
			return r;
	}
	return 0;
}

int fe_negotiate(struct fe *fe)
{
	const uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) |
			      (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
			      (1ull << FE_VU_F_PROTOCOL_FEATURES);
	int r;

	r = fe_vu_get_u64(fe, FE_VU_GET_FEATURES, &fe->dev_features);
	if (r < 0)
		return r;
	if (!(fe->dev_features & (1ull << FE_VU_F_PROTOCOL_FEATURES)) ||
	    !(fe->dev_features & (1ull << VIRTIO_F_VERSION_1))) {
		fprintf(stderr, "fake frontend: device features %#llx lack PROTOCOL_FEATURES or "
				"VERSION_1\n", (unsigned long long)fe->dev_features);
		return -EPROTO;
	}
	r = negotiate_protocol(fe);
	if (r < 0)
		return r;
	r = fe_vu_set(fe, FE_VU_SET_OWNER, NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	r = fe_vu_get_u64(fe, FE_VU_GET_FEATURES, &fe->dev_features);
	if (r < 0)
		return r;
	fe->acked_features = fe->dev_features & want;
	r = fe_vu_set_u64(fe, FE_VU_SET_FEATURES, fe->acked_features, NULL, 0);
	if (r < 0)
		return r;
	r = send_memory(fe);
	if (r < 0)
		return r;
	if ((fe->acked_protocol & PF(FE_VU_PF_MQ)) && fe->queue_num < fe->nqueues &&
	    !fe->opts.ignore_queue_num) {
		fprintf(stderr, "fake frontend: the device has %llu queues, %u wanted\n",
			(unsigned long long)fe->queue_num, fe->nqueues);
		return -EOPNOTSUPP;
	}
	for (unsigned q = 0; q < fe->nqueues; q++) {
		r = fe_vq_start(fe, q);
		if (r < 0)
			return r;
	}
	for (unsigned q = 0; q < fe->nqueues; q++) {
		r = fe_vq_enable(fe, q, true);
		if (r < 0)
			return r;
	}
	return 0;
}
