/*
 * Back-end state transfer (vhost-user spec, "Migrating back-end state"): SET_DEVICE_STATE_FD
 * hands us one end of a pipe and a direction; we write our state into it (save, on the
 * source) or read it to its end (load, on the destination) in a thread of our own, since the
 * frontend only starts reading or writing once we have replied. CHECK_DEVICE_STATE then waits
 * for that thread and says whether it worked. Only the "stopped" phase exists: every queue
 * must be stopped, so no request is in flight while the layer above saves or loads.
 *
 * A load that fails changes nothing above (handler.h), and a save never changes anything: a
 * destination that refuses the state leaves the source able to resume.
 */
#include "vhost/dev.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The largest state we read: far above what 2^24 inodes with long names need. */
#define VU_STATE_MAX (1ull << 30)

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t **out, size_t *outlen)
{
	size_t cap = 64 << 10, len = 0;
	uint8_t *buf = malloc(cap), *nb;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap >= VU_STATE_MAX) {
				free(buf);
				return -EFBIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static void xfer_save(struct vu_state_xfer *x)
{
	const struct vu_handler *h = x->dev->h;
	uint8_t *buf = NULL;
	size_t len = 0;

	x->res = h->state_save(h->opaque, &buf, &len, x->why, sizeof(x->why));
	if (x->res == 0) {
		x->res = write_all(x->fd, buf, len);
		if (x->res < 0)
			snprintf(x->why, sizeof(x->why), "writing %zu bytes of state: %s", len,
				 strerror(-x->res));
		else
			log_info("vhost-user: state saved (%zu bytes): %s", len, x->why);
	}
	free(buf);
}

static void xfer_load(struct vu_state_xfer *x)
{
	const struct vu_handler *h = x->dev->h;
	uint8_t *buf = NULL;
	size_t len = 0;

	x->res = read_all(x->fd, &buf, &len);
	if (x->res == -EFBIG)
		snprintf(x->why, sizeof(x->why), "the state is larger than %llu bytes",
			 (unsigned long long)VU_STATE_MAX);
	else if (x->res < 0)
		snprintf(x->why, sizeof(x->why), "reading the state: %s", strerror(-x->res));
	else
		x->res = h->state_load(h->opaque, buf, len, x->why, sizeof(x->why));
	if (x->res == 0)
		log_info("vhost-user: state loaded (%zu bytes): %s", len, x->why);
	free(buf);
}

static void *xfer_thread(void *arg)
{
	struct vu_state_xfer *x = arg;

	if (x->direction == VU_STATE_SAVE)
		xfer_save(x);
	else
		xfer_load(x);
	close(x->fd);
	x->fd = -1;
	return NULL;
}

/* Why this transfer cannot start, or NULL. */
static const char *refuse_reason(struct vu_dev *d, const struct vu_device_state *p)
{
	if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE)))
		return "DEVICE_STATE was not acked";
	if (!d->h->state_save || !d->h->state_load)
		return "this device has no state transfer";
	if (p->direction != VU_STATE_SAVE && p->direction != VU_STATE_LOAD)
		return "unknown transfer direction";
	if (p->phase != VU_STATE_PHASE_STOPPED)
		return "unknown migration phase (only \"stopped\" exists)";
	if (d->xfer.busy)
		return "a transfer is still under way (no CHECK_DEVICE_STATE yet)";
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		if (d->q[i].started)
			return "a queue is running: the device is not suspended";
	return NULL;
}

int vu_set_device_state_fd(struct vu_dev *d, struct vu_msg *m)
{
	const struct vu_device_state *p = &m->payload.state_xfer;
	const char *why = refuse_reason(d, p);
	struct vu_state_xfer *x = &d->xfer;
	int r;

	if (why) {
		log_error("vhost-user: SET_DEVICE_STATE_FD (direction %u, phase %u) refused: %s",
			  p->direction, p->phase, why);
		return vu_reply_u64(d, m, VU_STATE_REPLY_NOFD | 1);
	}
	x->dev = d;
	x->direction = p->direction;
	x->fd = vu_msg_take_fd(m, 0);
	x->res = 0;
	x->why[0] = '\0';
	log_info("vhost-user: %s of the device state started",
		 p->direction == VU_STATE_SAVE ? "save" : "load");
	r = pthread_create(&x->thread, NULL, xfer_thread, x);
	if (r != 0) {
		log_error("vhost-user: SET_DEVICE_STATE_FD: no transfer thread: %s", strerror(r));
		close(x->fd);
		x->fd = -1;
		return vu_reply_u64(d, m, VU_STATE_REPLY_NOFD | 1);
	}
	x->busy = true;
	return vu_reply_u64(d, m, VU_STATE_REPLY_NOFD);
}

int vu_check_device_state(struct vu_dev *d, struct vu_msg *m)
{
	struct vu_state_xfer *x = &d->xfer;

	if (!x->busy) {
		log_error("vhost-user: CHECK_DEVICE_STATE without a transfer, refused");
		return vu_reply_u64(d, m, 1);
	}
	pthread_join(x->thread, NULL);
	x->busy = false;
	/* Queues the frontend set up meanwhile start now. */
	for (unsigned i = 0; i < VU_MAX_QUEUES; i++)
		vu_queue_try_start(&d->q[i]);
	if (x->res < 0) {
		log_error("vhost-user: migration: %s of the device state failed: %s",
			  x->direction == VU_STATE_SAVE ? "save" : "load", x->why);
		return vu_reply_u64(d, m, 1);
	}
	return vu_reply_u64(d, m, 0);
}

void vu_state_fini(struct vu_dev *d)
{
	if (d->xfer.busy)
		pthread_join(d->xfer.thread, NULL);
	d->xfer.busy = false;
}
