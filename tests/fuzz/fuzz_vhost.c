/*
 * Fuzz target: the vhost-user message decoder and device state machine (src/vhost), whole:
 * the input is turned into messages that a second thread writes into one end of a
 * socketpair, and vu_serve() runs on the other end until it reads EOF or gives up. Input, see
 * README.md:
 *   u16 length (bit 15: a worker pool of 2 threads) and that many bytes (at most 32 KiB): the
 *   initial contents of the memfd every memory message carries (rings and chains come from
 *   the input too);
 *   then messages: u8 (bit 7: pause 1 ms first, at most twice; bits 0-6 % 10: fd count, 9
 *   being more than a message may carry), the 12-byte header, and as many payload bytes as
 *   its size field says (or what is left of the input).
 * Memory messages carry the memfd, the others eventfds (kick eventfds are already signalled
 * so started queues pop chains at once). Chains are echoed back by a trivial handler.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "log.h"
#include "vhost/protocol.h"
#include "vhost/vhost.h"

#define RAM_SIZE 0x10000
#define MAX_MSGS 256
#define MAX_PAUSES 2

static size_t echo(void *opaque, const struct iovec *in, unsigned in_cnt,
		   const struct iovec *out, unsigned out_cnt)
{
	size_t n = 0;

	for (unsigned i = 0; i < in_cnt && out_cnt > 0; i++)
		for (size_t k = 0; k < in[i].iov_len && n < out[0].iov_len; k++, n++)
			((uint8_t *)out[0].iov_base)[n] = ((uint8_t *)in[i].iov_base)[k];
	return n;
}

static bool is_mem_msg(uint32_t req)
{
	return req == VHOST_USER_SET_MEM_TABLE || req == VHOST_USER_ADD_MEM_REG ||
	       req == VHOST_USER_REM_MEM_REG;
}

/* Send one message with nfds descriptors on its first byte; false: stop sending. */
static bool send_one(int sock, int memfd, const uint8_t *msg, size_t len, unsigned nfds,
		     uint32_t req)
{
	union {
		char buf[CMSG_SPACE(9 * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	int fds[9];
	struct iovec iov = {(void *)msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	bool ok;

	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = is_mem_msg(req) ? dup(memfd) : eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[i] < 0)
			nfds = i;
	}
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ok = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return ok;
}

struct sender {
	int sock, memfd;
	struct fz f;
};

static void pause_1ms(void)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
}

/* Runs beside vu_serve() so that a pause lets started queues pop before what follows. */
static void *send_all(void *arg)
{
	struct sender *snd = arg;
	struct fz *f = &snd->f;
	unsigned pauses = 0;

	for (unsigned i = 0; i < MAX_MSGS && f->left > 0; i++) {
		unsigned b = (unsigned)fz_take(f, 1), nfds = (b & 0x7f) % 10;
		uint8_t msg[sizeof(struct vu_msg_hdr) + VU_MAX_PAYLOAD];
		struct vu_msg_hdr h = {0};
		size_t len;

		memcpy(&h, f->p, f->left < sizeof(h) ? f->left : sizeof(h));
		len = sizeof(h) + (h.size < VU_MAX_PAYLOAD ? h.size : VU_MAX_PAYLOAD);
		if (len > f->left)
			len = f->left;
		memcpy(msg, f->p, len);
		f->p += len;
		f->left -= len;
		if ((b & 0x80) && pauses++ < MAX_PAUSES)
			pause_1ms();
		if (!send_one(snd->sock, snd->memfd, msg, len, nfds, h.request))
			break;
	}
	shutdown(snd->sock, SHUT_WR);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	size_t ram_len = (size_t)fz_take(&f, 2);
	struct vu_handler h = {.handle = echo};
	/* Bit 15 of the RAM length: chains run in a worker pool instead of the queue thread. */
	struct vu_opts o = {.thread_pool_size = ram_len & 0x8000 ? 2 : 0};
	int sv[2], memfd, big = 1 << 20;
	int fds_before = fz_count_fds();

	log_init(LOG_LVL_OFF, false);
	ram_len &= 0x7fff;
	if (ram_len > f.left)
		ram_len = f.left;
	memfd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, RAM_SIZE) < 0 ||
	    pwrite(memfd, f.p, ram_len, 0) != (ssize_t)ram_len)
		abort();
	f.p += ram_len;
	f.left -= ram_len;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct sender snd = {sv[0], memfd, f};
	pthread_t th;

	if (pthread_create(&th, NULL, send_all, &snd) != 0)
		abort();
	vu_serve(sv[1], &h, &o); /* closes sv[1]; ends at EOF, after the sender's shutdown */
	pthread_join(th, NULL);
	close(sv[0]);
	close(memfd);
	if (fz_count_fds() != fds_before)
		abort();
	return 0;
}
