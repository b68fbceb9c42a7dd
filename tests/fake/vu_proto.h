/* Test-local vhost-user wire definitions (docs/interop/vhost-user.rst). Kept apart from the
 * daemon's own headers on purpose: the fake frontend is a black-box test. */
#ifndef FAKE_VU_PROTO_H
#define FAKE_VU_PROTO_H

#include <stdint.h>

enum fe_vu_request {
	FE_VU_GET_FEATURES = 1,
	FE_VU_SET_FEATURES = 2,
	FE_VU_SET_OWNER = 3,
	FE_VU_RESET_OWNER = 4,
	FE_VU_SET_MEM_TABLE = 5,
	FE_VU_SET_LOG_BASE = 6,
	FE_VU_SET_LOG_FD = 7,
	FE_VU_SET_VRING_NUM = 8,
	FE_VU_SET_VRING_ADDR = 9,
	FE_VU_SET_VRING_BASE = 10,
	FE_VU_GET_VRING_BASE = 11,
	FE_VU_SET_VRING_KICK = 12,
	FE_VU_SET_VRING_CALL = 13,
	FE_VU_SET_VRING_ERR = 14,
	FE_VU_GET_PROTOCOL_FEATURES = 15,
	FE_VU_SET_PROTOCOL_FEATURES = 16,
	FE_VU_GET_QUEUE_NUM = 17,
	FE_VU_SET_VRING_ENABLE = 18,
	FE_VU_SET_BACKEND_REQ_FD = 21,
	FE_VU_GET_CONFIG = 24,
	FE_VU_SET_CONFIG = 25,
	FE_VU_RESET_DEVICE = 34,
	FE_VU_GET_MAX_MEM_SLOTS = 36,
	FE_VU_ADD_MEM_REG = 37,
	FE_VU_REM_MEM_REG = 38,
};

#define FE_VU_VERSION 0x1u
#define FE_VU_FLAG_REPLY (1u << 2)
#define FE_VU_FLAG_NEED_REPLY (1u << 3)

#define FE_VU_F_PROTOCOL_FEATURES 30

enum fe_vu_protocol_feature {
	FE_VU_PF_MQ = 0,
	FE_VU_PF_LOG_SHMFD = 1,
	FE_VU_PF_REPLY_ACK = 3,
	FE_VU_PF_BACKEND_REQ = 5,
	FE_VU_PF_CONFIG = 9,
	FE_VU_PF_BACKEND_SEND_FD = 10,
	FE_VU_PF_CONFIGURE_MEM_SLOTS = 15,
};

#define FE_VU_VRING_IDX_MASK 0xffu
#define FE_VU_VRING_NOFD (1u << 8)
#define FE_VU_MAX_FDS 8
#define FE_VU_MAX_REGIONS 8

struct fe_vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct fe_vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct fe_vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct fe_vu_region regions[FE_VU_MAX_REGIONS];
};

struct fe_vu_single_region {
	uint64_t padding;
	struct fe_vu_region region;
};

struct fe_vu_vring_state {
	uint32_t index;
	uint32_t num;
};

/* GET_CONFIG / SET_CONFIG: this header, then size bytes of the device config space. */
struct fe_vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[];
} __attribute__((packed));

struct fe_vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

#endif
