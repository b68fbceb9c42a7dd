/*
 * vhost-user wire protocol (QEMU docs/interop/vhost-user.rst). There is no UAPI header for the
 * message codes, so this is the one place they are spelled out. Payload layouts reuse the
 * kernel's vhost structs where the wire format is the same.
 */
#ifndef VFSD_VHOST_PROTOCOL_H
#define VFSD_VHOST_PROTOCOL_H

#include <linux/vhost_types.h>
#include <stdint.h>

enum vu_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SEND_RARP = 19,
	VHOST_USER_NET_SET_MTU = 20,
	VHOST_USER_SET_BACKEND_REQ_FD = 21, /* formerly SET_SLAVE_REQ_FD */
	VHOST_USER_IOTLB_MSG = 22,
	VHOST_USER_SET_VRING_ENDIAN = 23,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_CREATE_CRYPTO_SESSION = 26,
	VHOST_USER_CLOSE_CRYPTO_SESSION = 27,
	VHOST_USER_POSTCOPY_ADVISE = 28,
	VHOST_USER_POSTCOPY_LISTEN = 29,
	VHOST_USER_POSTCOPY_END = 30,
	VHOST_USER_GET_INFLIGHT_FD = 31,
	VHOST_USER_SET_INFLIGHT_FD = 32,
	VHOST_USER_GPU_SET_SOCKET = 33,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_VRING_KICK = 35,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_SET_STATUS = 39,
	VHOST_USER_GET_STATUS = 40,
	VHOST_USER_GET_SHARED_OBJECT = 41,
	VHOST_USER_SET_DEVICE_STATE_FD = 42,
	VHOST_USER_CHECK_DEVICE_STATE = 43,
	VHOST_USER_REQUEST_MAX,
};

/* Header flags. */
#define VHOST_USER_VERSION_MASK 0x3u
#define VHOST_USER_VERSION 0x1u
#define VHOST_USER_FLAG_REPLY (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY (1u << 3)

/* The virtio feature bit that says protocol features exist. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

enum vu_protocol_feature {
	VHOST_USER_PROTOCOL_F_MQ = 0,
	VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
	VHOST_USER_PROTOCOL_F_RARP = 2,
	VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
	VHOST_USER_PROTOCOL_F_MTU = 4,
	VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5, /* formerly SLAVE_REQ */
	VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
	VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
	VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
	VHOST_USER_PROTOCOL_F_CONFIG = 9,
	VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10, /* formerly SLAVE_SEND_FD */
	VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
	VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
	VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
	VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
	VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
	VHOST_USER_PROTOCOL_F_STATUS = 16,
	VHOST_USER_PROTOCOL_F_XEN_MMAP = 17,
	VHOST_USER_PROTOCOL_F_SHARED_OBJECT = 18,
	VHOST_USER_PROTOCOL_F_DEVICE_STATE = 19,
};

/* Dirty logging ("Migration" in the spec): the virtio feature bit VHOST_F_LOG_ALL (26, from
 * <linux/vhost.h>) turns it on; a ring's VHOST_VRING_F_LOG (bit 0 of its address flags) asks
 * for its used ring writes to be logged at log_guest_addr. One bit per 4 KiB guest page. */
#define VHOST_USER_F_LOG_ALL 26
#define VHOST_USER_VRING_F_LOG 0
#define VHOST_USER_LOG_PAGE 0x1000ull

/* SET_LOG_BASE payload */
struct vu_log_desc {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* SET_DEVICE_STATE_FD payload; its reply is a u64: bits 0-7 nonzero on error, bit 8 set when
 * the back-end returns no fd of its own. */
struct vu_device_state {
	uint32_t direction; /* VU_STATE_SAVE or VU_STATE_LOAD */
	uint32_t phase;	    /* VU_STATE_PHASE_STOPPED is the only one defined */
};
#define VU_STATE_SAVE 0u
#define VU_STATE_LOAD 1u
#define VU_STATE_PHASE_STOPPED 0u
#define VU_STATE_REPLY_NOFD (1ull << 8)

/* SET_VRING_KICK/CALL/ERR payload: queue index and "no fd" flag in one u64. */
#define VHOST_USER_VRING_IDX_MASK 0xffull
#define VHOST_USER_VRING_NOFD_MASK (1ull << 8)

/* Memory regions sent in one SET_MEM_TABLE (one fd each). */
#define VHOST_USER_MAX_FDS 8
#define VHOST_USER_MAX_MEM_SLOTS 509

struct vu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
} __attribute__((packed));

struct vu_mem_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VHOST_USER_MAX_FDS];
};

/* ADD_MEM_REG / REM_MEM_REG */
struct vu_mem_reg {
	uint64_t padding;
	struct vu_mem_region region;
};

/* GET_CONFIG / SET_CONFIG payload: this header, then size bytes of the config space. */
struct vu_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
} __attribute__((packed));

/* QEMU's VHOST_USER_MAX_CONFIG_SIZE: no device config space is larger. */
#define VHOST_USER_MAX_CONFIG_SIZE 256

/* Largest payload we accept; anything bigger is a framing error. */
#define VU_MAX_PAYLOAD 4096

union vu_payload {
	uint64_t u64;
	struct vhost_vring_state state;
	struct vhost_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_mem_reg reg;
	struct vu_log_desc log;
	struct vu_device_state state_xfer;
	uint8_t raw[VU_MAX_PAYLOAD];
};

#endif
