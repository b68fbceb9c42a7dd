/*
 * The device configuration space over vhost-user (VHOST_USER_PROTOCOL_F_CONFIG), offered only
 * when the daemon was given a tag (--tag): the frontend (QEMU's generic vhost-user-device-pci,
 * for one) then reads struct virtio_fs_config from us instead of filling it itself.
 * The space is read-only: the virtio spec gives the driver no writable field in it.
 */
#include "vhost/dev.h"

#include "log.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_fs.h>
#include <string.h>

/* Request queues announced in num_request_queues: 1, as the Rust daemon does. The frontend
 * decides how many queues exist (num_vqs of vhost-user-device-pci); a guest told of more
 * than the frontend made would fail to set up its queues, one fewer is always usable. */
#define VU_CONFIG_REQUEST_QUEUES 1

uint64_t vu_protocol_features_offered(const struct vu_dev *d)
{
	uint64_t f = VU_PROTOCOL_FEATURES;

	if (d->opts.tag)
		f |= 1ull << VHOST_USER_PROTOCOL_F_CONFIG;
	if (d->h->state_save && d->h->state_load)
		f |= 1ull << VHOST_USER_PROTOCOL_F_DEVICE_STATE;
	return f;
}

/* The bytes of the config space at [off, off + size): struct virtio_fs_config, then zeros
 * (fields of later spec versions, like notify_buf_size, read as absent). */
static void fill_config(const struct vu_dev *d, uint32_t off, uint32_t size, uint8_t *out)
{
	uint8_t space[VHOST_USER_MAX_CONFIG_SIZE] = { 0 };
	struct virtio_fs_config c = { .num_request_queues = htole32(VU_CONFIG_REQUEST_QUEUES) };

	/* Checked at start-up to be 1..36 bytes; not NUL-terminated when it is 36. */
	memcpy(c.tag, d->opts.tag, strnlen(d->opts.tag, sizeof(c.tag)));
	memcpy(space, &c, sizeof(c));
	memcpy(out, space + off, size);
}

static const char *config_refusal(const struct vu_dev *d, const struct vu_msg *m)
{
	const struct vu_config_hdr *h = (const void *)m->payload.raw;

	if (!(d->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_CONFIG)))
		return d->opts.tag ? "CONFIG was not negotiated"
				   : "no config space without --tag (CONFIG not offered)";
	if (m->hdr.size < sizeof(*h))
		return "payload shorter than its offset/size/flags header";
	if (h->size == 0 || h->size > VHOST_USER_MAX_CONFIG_SIZE ||
	    h->offset > VHOST_USER_MAX_CONFIG_SIZE - h->size)
		return "offset/size outside the 256-byte config space";
	if (m->hdr.size != sizeof(*h) + h->size)
		return "payload size does not match its size field";
	return NULL;
}

int vu_get_config(struct vu_dev *d, struct vu_msg *m)
{
	const char *why = config_refusal(d, m);
	struct vu_config_hdr *h = (void *)m->payload.raw;

	if (why) {
		/* vhost-user.rst: a zero-length payload tells the frontend of the error. */
		log_warn("vhost-user: GET_CONFIG refused: %s (payload %u bytes)", why, m->hdr.size);
		return vu_msg_reply(d->sock, &m->hdr, NULL, 0);
	}
	fill_config(d, h->offset, h->size, m->payload.raw + sizeof(*h));
	return vu_msg_reply(d->sock, &m->hdr, m->payload.raw, m->hdr.size);
}

int vu_set_config(struct vu_dev *d, struct vu_msg *m)
{
	const char *why = config_refusal(d, m);

	log_warn("vhost-user: SET_CONFIG refused: %s", why ? why : "the virtio-fs config space is read-only");
	return -EPERM;
}
