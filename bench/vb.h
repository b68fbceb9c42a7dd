/*
 * vufs-bench: a virtio-fs daemon driven from the host through the fake vhost-user frontend
 * (tests/fake), with N requests in flight, against the same operations done directly on the host.
 * Functions return 0 or a negative errno.
 */
#ifndef VUFS_BENCH_H
#define VUFS_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/fuse.h>

#include "frontend.h"

#define VB_MAX_DEPTH 64
#define VB_BIG (1u << 20)  /* the largest request payload */
#define VB_META_FILES 1000 /* meta/fNNNNN: files the lookup workload looks up */
#define VB_DIR_FILES 10000 /* dir10k/: the readdirplus workload lists it */
#define VB_RDP_BUF 4096	   /* READDIRPLUS buffer: one page, as the guest kernel asks for */

/* Names of the data set inside the share (made by vb_prepare). */
#define VB_DATA_FILE "data"

/* One request in flight at a time per slot; a slot runs one operation (maybe several requests)
 * after the other. Buffers are in guest RAM, laid out as a guest kernel does: header and
 * arguments, payload pages, then out header and reply pages. */
struct vb_slot {
	unsigned idx;
	uint8_t *in, *out, *data; /* host views of the slot's guest buffers */
	uint64_t in_gpa, out_gpa, data_gpa, tbl_gpa;
	struct vring_desc *tbl; /* the slot's indirect descriptor table */
	int step;		/* the workload's step inside the current operation */
	uint64_t op_start_ns, req_start_ns;
	uint64_t nodeid, fh, off, seq; /* workload state */
	bool busy;
	bool aborted; /* cut short at the end of the cell: not counted */
};

/* What a workload asks the engine to send. Arguments are already written at slot->in +
 * sizeof(struct fuse_in_header). */
struct vb_req {
	uint32_t opcode;
	uint64_t nodeid;
	uint32_t arg_len;
	uint32_t payload_len; /* WRITE data, readable, from slot->data */
	uint32_t reply_len; /* writable bytes after the out header (0: none at all, e.g. FORGET) */
	bool reply_in_data; /* reply pages in slot->data (READ, READDIRPLUS), else after out */
};

struct vb_run;

struct vb_work {
	const char *name;
	/* Synchronous set-up before the timed part (open the file, look up the directory). */
	int (*setup)(struct vb_run *r);
	/* Fill the next request of slot s (s->step says which). */
	void (*next)(struct vb_run *r, struct vb_slot *s, struct vb_req *q);
	/* A reply came (used_len bytes at slot->out, payload maybe in slot->data): 1 when the
	 * operation is complete, 0 when it needs another request, <0 on an unexpected reply. */
	int (*done)(struct vb_run *r, struct vb_slot *s, uint32_t used_len);
	/* Undo setup (release the handle); may be NULL. */
	void (*teardown)(struct vb_run *r);
	/* The host ceiling: one operation with plain system calls; <0 on failure. */
	int (*host_op)(struct vb_run *r);
	/* A long operation still running when the cell ends skips to this step (its clean-up)
	 * and is not counted; 0: operations always run to the end. */
	int abort_step;
	uint32_t io_size; /* bytes per operation for MB/s (0: none) */
	/* Count what the workload adds to vb_run.units (directory entries) as operations, and time
	 * each request (each getdents batch on the host) rather than each operation. */
	bool per_unit;
	bool random; /* data workloads: random offsets */
	bool write;
};

struct vb_stats {
	uint64_t ops, reqs, bytes, elapsed_ns, cpu_us;
	uint64_t sleeps; /* the daemon's voluntary context switches over the cell */
	uint64_t kicks, calls; /* the frontend's kicks sent and call notifications woken by */
	double p50_us, p99_us;
	bool cpu_known;
};

struct vb_run {
	struct fe *fe; /* NULL for the host target */
	unsigned q;    /* the request queue this run drives (FE_REQ_Q + n) */
	bool no_cpu;   /* the caller measures the daemon's CPU (several runs at once) */
	bool keep_samples; /* leave samples unsorted for the caller (vb_percentiles) */
	uint16_t head_slot[4096];
	uint64_t *samples;
	size_t nsamples;
	const struct vb_work *w;
	unsigned depth;
	struct vb_slot slots[VB_MAX_DEPTH];
	uint64_t unique;
	uint32_t uid, gid;
	pid_t pid;
	bool ids_known;
	/* workload state shared by all slots */
	uint64_t dir_node, data_node, data_fh, cursor, file_size;
	uint64_t rng;
	/* host target */
	const char *share;
	int meta_fd, create_fd, rdp_fd, data_fd; /* meta/, create/, dir10k/, data */
	/* VB_MAX_DEPTH buffers of VB_BIG in a shared memfd mapping, as the frontend's guest RAM:
	 * at depth N the host's I/O cycles through N of them (the memory N requests in flight
	 * write to or read from), one synchronous thread all the same. */
	uint8_t *host_buf;
	uint64_t host_next;
	uint64_t units; /* see vb_work.per_unit */
	uint64_t create_seq;
	int rdp_list_fd; /* the host's open listing of dir10k/ */
};

/* vb_engine.c */
/* Guest RAM size for fe_opts.mem_size when the slots start at first_off (from FE_GPA_BASE). */
uint64_t vb_mem_needed(uint64_t first_off);
int vb_slots_init(struct vb_run *r, uint64_t first_gpa);
/* Guest RAM one run's slots take. */
uint64_t vb_slots_size(void);
int vb_run_cell(struct vb_run *r, double secs, struct vb_stats *st);
int vb_host_cell(struct vb_run *r, double secs, struct vb_stats *st);
uint64_t vb_now_ns(void);
void vb_percentiles(uint64_t *samples, size_t n, struct vb_stats *st);
uint64_t vb_rand(struct vb_run *r);
int vb_cpu_us(pid_t pid, uint64_t *out);
uint64_t vb_sleeps(pid_t pid);

/* vb_mem.c: RssAnon per cached inode (n LOOKUPs kept) and per open file (nopen OPENs). */
int vb_mem_target(const char *share, const char *label, const char *path, const char *args,
		  unsigned n, unsigned nopen);

/* vb_work.c */
const struct vb_work *vb_work_find(const char *name);
const char *vb_work_names(void);
/* vb_host.c: the data set, and each workload's operation done with plain system calls */
int vb_prepare(const char *dir, uint64_t file_mb);
int vb_host_open(struct vb_run *r);
void vb_host_close(struct vb_run *r);
int vb_host_lookup(struct vb_run *r);
int vb_host_create(struct vb_run *r);
int vb_host_readdirplus(struct vb_run *r);
int vb_host_io(struct vb_run *r);
int vb_host_fsync(struct vb_run *r);

#endif
