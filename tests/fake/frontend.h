/*
 * A test-only vhost-user frontend: it plays QEMU's part against a virtio-fs daemon binary,
 * without a VM. It starts the daemon as a child on a private temp dir, negotiates like QEMU 7.2's
 * vhost-user-fs-pci, owns a memfd as "guest RAM" (two regions by default), builds split
 * virtqueues in it, and posts FUSE requests on them.
 *
 * Every wait has a timeout: a test must never hang. Functions return 0 or a negative errno.
 */
#ifndef FAKE_FRONTEND_H
#define FAKE_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

#include "vu_proto.h"

#define FE_NUM_QUEUES 2 /* the default: hiprio (0) + one request queue (1) */
#define FE_MAX_QUEUES 4 /* hiprio + up to 3 request queues (fe_opts.req_queues) */
#define FE_HIPRIO_Q 0
#define FE_REQ_Q 1
#define FE_GPA_BASE 0x40000000ull /* guest physical address of the first byte of guest RAM */
#define FE_MEM_SIZE (64ull << 20)
#define FE_TIMEOUT_MS 5000

struct fe_opts {
	unsigned queue_size; /* 0: 1024 */
	bool one_region; /* default: two regions of 32 MiB, adjacent in guest physical space */
	bool set_mem_table; /* use SET_MEM_TABLE even when CONFIGURE_MEM_SLOTS is offered */
	bool no_negotiate; /* only start the daemon and connect */
	bool always_kick; /* kick even when EVENT_IDX says the device does not need it */
	const char *daemon_args; /* extra options for our daemon, space-separated */
	bool ack_config; /* ack VHOST_USER_PROTOCOL_F_CONFIG when offered (QEMU 7.2's fs device
			  * does not; its generic vhost-user-device-pci does) */
	/* Benchmark mode (bench/vufs-bench): */
	uint64_t mem_size; /* guest RAM size, a multiple of 2 MiB, at least 34 MiB; 0: FE_MEM_SIZE
			    * (fe_alloc's "cross" placement needs the default) */
	const char *share_dir; /* serve this existing directory (kept) instead of tmp/share */
	/* Exact command line (tests/cli): argv[0] is the program run; "@SHARE@" and "@SOCK@"
	 * inside any argument become the share's and the socket's paths. daemon_args,
	 * FAKE_DAEMON_ARGS and the legacy rules do not apply. */
	char *const *argv;
	int listen_fd;    /* with argv, >= 3: listen on the socket path and hand it as this fd */
	bool chdir_share; /* with argv: start the daemon in the share (podman: --shared-dir .) */
	/* Move used_event only when about to wait for a completion, as Linux's virtio ring does
	 * (its done work drains with callbacks off); default: also at every publish. */
	bool lazy_used_event;
	unsigned req_queues; /* request queues (1..FE_MAX_QUEUES-1); 0: 1 */
	bool ignore_queue_num; /* set up req_queues even past the device's GET_QUEUE_NUM */
};

struct fe_vq {
	unsigned num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd, call_fd, err_fd;
	uint16_t avail_idx; /* our shadow of avail->idx */
	uint16_t last_used; /* next used entry to consume */
	uint16_t seen_used; /* used->idx as read right after the last notification */
	uint16_t *free_stack;
	unsigned nfree;
	bool *in_use;
	unsigned inflight;
	bool enabled;
	/* The base GET_VRING_BASE returned, where the next SET_VRING_BASE resumes (chains past it
	 * are still to be served), as a frontend sends back what the device said. */
	bool have_stop_base;
	uint16_t stop_base;
	uint64_t kicks, calls; /* kicks sent, call notifications taken (counts for the benchmark) */
};

struct fe {
	/* daemon */
	pid_t pid;
	bool exited;
	int status;
	bool legacy; /* /usr/lib/qemu/virtiofsd style command line */
	char tmp[64]; /* private temp dir */
	char share[96]; /* tmp/share (or opts.share_dir): the shared directory */
	char sock_path[96];
	char log_path[96];
	/* vhost-user */
	int sock;
	int backend_fd; /* our end of the backend request channel, -1 if none */
	uint64_t dev_features, acked_features;
	uint64_t dev_protocol, acked_protocol;
	uint64_t queue_num, max_mem_slots;
	/* guest RAM */
	int mem_fd;
	uint8_t *mem;
	uint64_t mem_size; /* FE_MEM_SIZE unless opts.mem_size says otherwise */
	unsigned nregions;
	struct fe_vu_region regions[2];
	uint64_t alloc_next; /* bump allocator for request buffers, as an offset in mem */
	uint64_t data_start;
	/* queues */
	struct fe_vq vq[FE_MAX_QUEUES];
	unsigned nqueues; /* hiprio + opts.req_queues */
	struct fe_opts opts;
	uint64_t unique;
	uint32_t fuse_minor, max_write; /* from the INIT reply (fe_init) */
};

/* --- daemon life cycle (fe_daemon.c) --- */

/* Make the temp dir, start the daemon, connect, and (unless opts->no_negotiate) negotiate and
 * start both queues. *out is set even on failure when the daemon was started, so the caller
 * can look at the log; fe_destroy() accepts it. */
int fe_start(struct fe **out, const struct fe_opts *opts);
/* Close our end, wait for the daemon to exit (timeout then SIGKILL of our child), remove the
 * temp dir unless FAKE_KEEP is set. */
void fe_destroy(struct fe *fe);
/* true if our child has not exited yet (reaps it if it has). */
bool fe_alive(struct fe *fe);
/* Wait up to timeout_ms for the child to exit; fills fe->status. */
int fe_wait_exit(struct fe *fe, int timeout_ms);
/* Close the vhost-user socket (as QEMU does on VM shutdown) and wait for the daemon to exit. */
int fe_disconnect(struct fe *fe, int timeout_ms);
/* 0 if the daemon log has no sanitizer report or crash trace; prints the log otherwise. */
int fe_log_clean(struct fe *fe);
bool fe_log_contains(struct fe *fe, const char *needle);
void fe_dump_log(struct fe *fe);
/* Build a path inside the share or the temp dir into buf (static-size, truncation fails). */
const char *fe_share_path(struct fe *fe, const char *rel, char *buf, size_t cap);
const char *fe_tmp_path(struct fe *fe, const char *rel, char *buf, size_t cap);
/* Number of entries in dir (without . and ..), or -errno. */
int fe_count_entries(const char *dir);
/* The open fds of process pid, without the pipes to a sanitizer's symbolizer (a child process
 * ASan or TSan starts, the first time it symbolizes a stack, and keeps). */
int fe_proc_fds(pid_t pid);
/* Each fd of process pid and what it points at, on stderr (for a failure message). */
void fe_proc_fds_print(pid_t pid);

/* --- vhost-user messages (fe_vhost.c) --- */

int fe_vu_send(struct fe *fe, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
	       const int *fds, unsigned nfds);
/* Send raw bytes (a header you built, maybe lying about its size) with optional fds. */
int fe_vu_send_raw(struct fe *fe, const void *buf, size_t len, const int *fds, unsigned nfds);
/* Receive one message; returns the payload size, -ETIMEDOUT, or -ECONNRESET on EOF. */
int fe_vu_recv(struct fe *fe, struct fe_vu_hdr *hdr, void *payload, size_t cap, int timeout_ms);
/* A request with a u64 reply (GET_FEATURES, GET_PROTOCOL_FEATURES, ...). */
int fe_vu_get_u64(struct fe *fe, uint32_t req, uint64_t *out);
/* A request without a reply; asks for REPLY_ACK when negotiated and checks it is 0 (-EPROTO
 * otherwise). */
int fe_vu_set(struct fe *fe, uint32_t req, const void *payload, uint32_t size, const int *fds,
	      unsigned nfds);
int fe_vu_set_u64(struct fe *fe, uint32_t req, uint64_t v, const int *fds, unsigned nfds);
/* The whole QEMU-like sequence: features, owner, memory, queues, enable. */
int fe_negotiate(struct fe *fe);
/* Set up one queue (NUM, BASE, ADDR, KICK, CALL, ERR); SET_VRING_ENABLE is separate. */
int fe_vq_start(struct fe *fe, unsigned q);
int fe_vq_enable(struct fe *fe, unsigned q, bool on);
/* GET_CONFIG of [offset, offset + size): sends the 12-byte header and size zero bytes, then
 * copies the reply payload (header and bytes) into out. Returns the reply's payload size
 * (0: the daemon refused) or -errno. */
int fe_vu_get_config(struct fe *fe, uint32_t offset, uint32_t size, void *out, size_t cap);
/* GET_VRING_BASE: stops the queue in the daemon and returns its next avail index. */
int fe_vu_get_vring_base(struct fe *fe, unsigned q, uint32_t *base);

/* --- guest memory and virtqueues (fe_ring.c) --- */

int fe_mem_init(struct fe *fe);
void fe_mem_fini(struct fe *fe);
/* Host pointer for a guest physical range, NULL if it is not all inside guest RAM. */
void *fe_gpa_ptr(struct fe *fe, uint64_t gpa, uint64_t len);
/* Allocate len bytes of guest RAM for a request. cross: make the buffer straddle the boundary
 * between the two regions. Returns the gpa, 0 when out of space. */
uint64_t fe_alloc(struct fe *fe, uint64_t len, bool cross);
/* Forget every allocation; only valid when no request is in flight. */
void fe_alloc_reset(struct fe *fe);
int fe_vq_init(struct fe *fe, unsigned q, unsigned num);
void fe_vq_fini(struct fe_vq *vq);
/* Forget the ring's contents and indexes (a new driver), keeping its place and eventfds. */
void fe_vq_reset(struct fe *fe, unsigned q);

struct fe_seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Write a chain of descriptors (or one indirect descriptor and its table) for segs; does not
 * publish it. */
int fe_vq_add_chain(struct fe *fe, unsigned q, const struct fe_seg *segs, unsigned n,
		    bool indirect, uint16_t *head);
/* Put head on the avail ring, publish the new avail idx, and kick if needed. */
int fe_vq_publish(struct fe *fe, unsigned q, uint16_t head);
/* Set avail->idx directly (to test a jump) and kick. */
int fe_vq_set_avail_idx(struct fe *fe, unsigned q, uint16_t idx);
int fe_vq_kick(struct fe *fe, unsigned q);
/* Wait until the device has taken every published chain of queue q and re-armed its kick
 * (its avail_event reached our avail idx; EVENT_IDX only, else -ENOTSUP): -ETIMEDOUT. */
int fe_vq_wait_popped(struct fe *fe, unsigned q, int timeout_ms);
/* Wait for the next used element. -ETIMEDOUT if none, -EPROTO if one arrived without the
 * notification EVENT_IDX promised. Frees the chain's descriptors. */
int fe_vq_wait(struct fe *fe, unsigned q, int timeout_ms, uint32_t *id, uint32_t *len);
/* Allocate one descriptor index (for hand-built chains); -ENOSPC if none. */
int fe_vq_get_desc(struct fe *fe, unsigned q);

/* --- FUSE requests (fe_fuse.c) --- */

struct fe_req_opts {
	unsigned queue; /* 0 means FE_REQ_Q (use hiprio explicitly with hiprio = true) */
	bool hiprio;
	bool indirect;
	unsigned seg_max; /* split every buffer into descriptors of at most seg_max bytes */
	bool cross; /* place the buffers across the boundary between the two regions */
	bool one_in_desc; /* header and args in a single readable descriptor */
	int timeout_ms;
	uint32_t len_override; /* put this in in_header.len instead of the real length */
	uint64_t unique; /* 0: next unique */
};

struct fe_reply {
	uint32_t used_len; /* what the device wrote in the used ring */
	int32_t error; /* out_header.error, 0 or -errno */
	uint32_t out_len; /* out_header.len */
	uint64_t unique;
	uint8_t *raw; /* reply bytes (used_len of them, at most the capacity) */
	uint8_t *data; /* raw + sizeof(out_header) */
	size_t data_len; /* used_len - sizeof(out_header), 0 if shorter */
};

/* Post one FUSE request (header built here from opcode/nodeid/args) and wait for its reply.
 * Returns 0 when a reply came (look at r->error), a negative errno on transport trouble. */
int fe_fuse_req(struct fe *fe, uint32_t opcode, uint64_t nodeid, const struct iovec *args,
		unsigned nargs, size_t reply_cap, const struct fe_req_opts *o, struct fe_reply *r);
/* Post raw request bytes (you built the header) and wait. */
int fe_fuse_raw(struct fe *fe, const struct iovec *in, unsigned nin, size_t reply_cap,
		const struct fe_req_opts *o, struct fe_reply *r);
void fe_reply_free(struct fe_reply *r);
/* Post without waiting (for INTERRUPT tests); returns the head in *head. */
int fe_fuse_post(struct fe *fe, uint32_t opcode, uint64_t nodeid, const struct iovec *args,
		 unsigned nargs, size_t reply_cap, const struct fe_req_opts *o, uint64_t *unique,
		 uint64_t *reply_gpa);

#endif
