/* The workloads, as FUSE request sequences (and, in vb_host.c, as plain system calls). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fe_ops.h"
#include "vb.h"

#define ANY_LEN UINT32_MAX

static void *args(struct vb_slot *s)
{
	return s->in + sizeof(struct fuse_in_header);
}

static uint32_t put_name(struct vb_slot *s, uint32_t off, const char *name)
{
	size_t n = strlen(name) + 1;

	memcpy((uint8_t *)args(s) + off, name, n);
	return off + (uint32_t)n;
}

/* 0 when the reply is well formed, carries no error and want payload bytes. */
static int check(const struct vb_run *r, const struct vb_slot *s, uint32_t used, uint32_t want)
{
	const struct fuse_out_header *oh = (const struct fuse_out_header *)s->out;

	if (used < sizeof(*oh) || oh->len != used) {
		fprintf(stderr, "vufs-bench: %s: malformed reply (used %u, out len %u)\n",
			r->w->name, used, used >= sizeof(*oh) ? oh->len : 0);
		return -EPROTO;
	}
	if (oh->error) {
		fprintf(stderr, "vufs-bench: %s step %d: %s\n", r->w->name, s->step,
			strerror(-oh->error));
		return oh->error < 0 ? oh->error : -EPROTO;
	}
	if (want != ANY_LEN && used - sizeof(*oh) != want) {
		fprintf(stderr, "vufs-bench: %s step %d: reply of %zu bytes, expected %u\n",
			r->w->name, s->step, used - sizeof(*oh), want);
		return -EPROTO;
	}
	return 0;
}

static int lookup_dir(struct vb_run *r, const char *name, uint64_t *node, uint64_t *size)
{
	struct fuse_entry_out e;
	int rc = fe_lookup(r->fe, FUSE_ROOT_ID, name, &e);

	if (rc != 0) {
		fprintf(stderr, "vufs-bench: LOOKUP %s: %s\n", name,
			rc == FE_ETRANSPORT ? "transport error" : strerror(-rc));
		return rc == FE_ETRANSPORT ? -EPROTO : rc;
	}
	*node = e.nodeid;
	if (size)
		*size = e.attr.size;
	return 0;
}

/* --- LOOKUP + GETATTR of an existing file (a stat() with a cold dentry cache) --- */

static int lookup_setup(struct vb_run *r)
{
	return lookup_dir(r, "meta", &r->dir_node, NULL);
}

static void lookup_next(struct vb_run *r, struct vb_slot *s, struct vb_req *q)
{
	char name[16];

	if (s->step == 0) {
		snprintf(name, sizeof(name), "f%05u", (unsigned)(vb_rand(r) % VB_META_FILES));
		*q = (struct vb_req){.opcode = FUSE_LOOKUP,
				     .nodeid = r->dir_node,
				     .arg_len = put_name(s, 0, name),
				     .reply_len = sizeof(struct fuse_entry_out)};
		return;
	}
	memset(args(s), 0, sizeof(struct fuse_getattr_in));
	*q = (struct vb_req){.opcode = FUSE_GETATTR,
			     .nodeid = s->nodeid,
			     .arg_len = sizeof(struct fuse_getattr_in),
			     .reply_len = sizeof(struct fuse_attr_out)};
}

static int lookup_done(struct vb_run *r, struct vb_slot *s, uint32_t used)
{
	int rc = check(r, s, used,
		       s->step == 0 ? sizeof(struct fuse_entry_out) : sizeof(struct fuse_attr_out));

	if (rc < 0)
		return rc;
	if (s->step == 0) {
		struct fuse_entry_out e;

		memcpy(&e, s->out + sizeof(struct fuse_out_header), sizeof(e));
		s->nodeid = e.nodeid;
		s->step = 1;
		return 0;
	}
	return 1;
}

/* --- CREATE + RELEASE + UNLINK (+ the FORGET the guest kernel sends later) --- */

static int create_setup(struct vb_run *r)
{
	return lookup_dir(r, "create", &r->dir_node, NULL);
}

static void create_name(const struct vb_run *r, const struct vb_slot *s, char *buf, size_t cap)
{
	snprintf(buf, cap, "c%u_%02u_%llu", r->q, s->idx, (unsigned long long)s->seq);
}

static void create_next(struct vb_run *r, struct vb_slot *s, struct vb_req *q)
{
	char name[40];

	create_name(r, s, name, sizeof(name));
	if (s->step == 0) {
		struct fuse_create_in *in = args(s);

		*in = (struct fuse_create_in){.flags = O_RDWR | O_CREAT | O_EXCL,
					      .mode = S_IFREG | 0644};
		*q = (struct vb_req){.opcode = FUSE_CREATE,
				     .nodeid = r->dir_node,
				     .arg_len = put_name(s, sizeof(*in), name),
				     .reply_len = sizeof(struct fuse_entry_out) +
						  sizeof(struct fuse_open_out)};
	} else if (s->step == 1) {
		struct fuse_release_in *in = args(s);

		*in = (struct fuse_release_in){.fh = s->fh, .flags = O_RDWR};
		*q = (struct vb_req){
		    .opcode = FUSE_RELEASE, .nodeid = s->nodeid, .arg_len = sizeof(*in)};
	} else if (s->step == 2) {
		*q = (struct vb_req){
		    .opcode = FUSE_UNLINK, .nodeid = r->dir_node, .arg_len = put_name(s, 0, name)};
	} else {
		struct fuse_forget_in *in = args(s);

		*in = (struct fuse_forget_in){.nlookup = 1};
		*q = (struct vb_req){
		    .opcode = FUSE_FORGET, .nodeid = s->nodeid, .arg_len = sizeof(*in)};
	}
}

static int create_done(struct vb_run *r, struct vb_slot *s, uint32_t used)
{
	int rc;

	if (s->step == 3) {
		s->seq += VB_MAX_DEPTH;
		return used == 0 ? 1 : -EPROTO;
	}
	rc = check(r, s, used,
		   s->step == 0 ? sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) : 0);
	if (rc < 0)
		return rc;
	if (s->step == 0) {
		struct fuse_entry_out e;
		struct fuse_open_out o;

		memcpy(&e, s->out + sizeof(struct fuse_out_header), sizeof(e));
		memcpy(&o, s->out + sizeof(struct fuse_out_header) + sizeof(e), sizeof(o));
		s->nodeid = e.nodeid;
		s->fh = o.fh;
	}
	s->step++;
	return 0;
}

/* --- OPENDIR + READDIRPLUS until the end + RELEASEDIR of a 10k-entry directory --- */

static int rdp_setup(struct vb_run *r)
{
	return lookup_dir(r, "dir10k", &r->dir_node, NULL);
}

static void rdp_next(struct vb_run *r, struct vb_slot *s, struct vb_req *q)
{
	if (s->step == 0) {
		struct fuse_open_in *in = args(s);

		*in = (struct fuse_open_in){.flags = O_RDONLY | O_DIRECTORY};
		*q = (struct vb_req){.opcode = FUSE_OPENDIR,
				     .nodeid = r->dir_node,
				     .arg_len = sizeof(*in),
				     .reply_len = sizeof(struct fuse_open_out)};
	} else if (s->step == 1) {
		struct fuse_read_in *in = args(s);

		*in = (struct fuse_read_in){.fh = s->fh, .offset = s->off, .size = VB_RDP_BUF};
		*q = (struct vb_req){.opcode = FUSE_READDIRPLUS,
				     .nodeid = r->dir_node,
				     .arg_len = sizeof(*in),
				     .reply_len = VB_RDP_BUF,
				     .reply_in_data = true};
	} else {
		struct fuse_release_in *in = args(s);

		*in = (struct fuse_release_in){.fh = s->fh};
		*q = (struct vb_req){
		    .opcode = FUSE_RELEASEDIR, .nodeid = r->dir_node, .arg_len = sizeof(*in)};
	}
}

/* Walk one READDIRPLUS reply: count entries and remember where the next one starts. */
static int rdp_parse(struct vb_run *r, struct vb_slot *s, uint32_t len)
{
	uint32_t pos = 0;

	while (len - pos >= FUSE_NAME_OFFSET_DIRENTPLUS) {
		struct fuse_direntplus d;
		size_t sz;

		memcpy(&d, s->data + pos, sizeof(d));
		sz = FUSE_DIRENTPLUS_SIZE(&d);
		if (sz > len - pos)
			return -EPROTO;
		s->off = d.dirent.off;
		s->seq++;
		r->units++;
		pos += (uint32_t)sz;
	}
	return pos == len ? 0 : -EPROTO;
}

static int rdp_done(struct vb_run *r, struct vb_slot *s, uint32_t used)
{
	int rc = check(r, s, used,
		       s->step == 0   ? sizeof(struct fuse_open_out)
		       : s->step == 1 ? ANY_LEN
				      : 0);

	if (rc < 0)
		return rc;
	if (s->step == 0) {
		memcpy(&s->fh, s->out + sizeof(struct fuse_out_header), sizeof(s->fh));
		s->off = 0;
		s->seq = 0;
		s->step = 1;
		return 0;
	}
	if (s->step == 2)
		return 1;
	if (used == sizeof(struct fuse_out_header)) {
		if (s->seq < VB_DIR_FILES) {
			fprintf(stderr,
				"vufs-bench: readdirplus listed %llu entries, expected %u\n",
				(unsigned long long)s->seq, VB_DIR_FILES);
			return -EPROTO;
		}
		s->step = 2;
		return 0;
	}
	return rdp_parse(r, s, used - sizeof(struct fuse_out_header));
}

/* --- READ / WRITE on the data file, and WRITE 4 KiB + FSYNC --- */

static int io_setup(struct vb_run *r)
{
	int rc = lookup_dir(r, VB_DATA_FILE, &r->data_node, &r->file_size);

	if (rc < 0)
		return rc;
	if (r->file_size < VB_BIG) {
		fprintf(stderr, "vufs-bench: %s is only %llu bytes\n", VB_DATA_FILE,
			(unsigned long long)r->file_size);
		return -EINVAL;
	}
	r->cursor = 0;
	rc = fe_open(r->fe, r->data_node, O_RDWR, false, &r->data_fh);
	return rc == FE_ETRANSPORT ? -EPROTO : rc;
}

static void io_teardown(struct vb_run *r)
{
	fe_release(r->fe, r->data_node, r->data_fh, false);
	fe_forget(r->fe, r->data_node, 1, true);
}

/* The next offset of a data workload, the same sequence for every target. */
static uint64_t next_off(struct vb_run *r, uint32_t io)
{
	uint64_t blocks = r->file_size / io, off;

	if (r->w->random)
		return vb_rand(r) % blocks * io;
	off = r->cursor;
	r->cursor = (r->cursor + io) % (blocks * io);
	return off;
}

static void rw_req(struct vb_run *r, struct vb_slot *s, struct vb_req *q, bool write, uint32_t io)
{
	uint64_t off = next_off(r, io);

	if (write) {
		struct fuse_write_in *in = args(s);

		*in = (struct fuse_write_in){
		    .fh = r->data_fh, .offset = off, .size = io, .flags = O_RDWR};
		*q = (struct vb_req){.opcode = FUSE_WRITE,
				     .nodeid = r->data_node,
				     .arg_len = sizeof(*in),
				     .payload_len = io,
				     .reply_len = sizeof(struct fuse_write_out)};
		return;
	}
	struct fuse_read_in *in = args(s);

	*in = (struct fuse_read_in){.fh = r->data_fh, .offset = off, .size = io, .flags = O_RDWR};
	*q = (struct vb_req){.opcode = FUSE_READ,
			     .nodeid = r->data_node,
			     .arg_len = sizeof(*in),
			     .reply_len = io,
			     .reply_in_data = true};
}

static void io_next(struct vb_run *r, struct vb_slot *s, struct vb_req *q)
{
	rw_req(r, s, q, r->w->write, r->w->io_size);
}

static int write_check(struct vb_run *r, struct vb_slot *s, uint32_t used, uint32_t io)
{
	struct fuse_write_out wo;
	int rc = check(r, s, used, sizeof(wo));

	if (rc < 0)
		return rc;
	memcpy(&wo, s->out + sizeof(struct fuse_out_header), sizeof(wo));
	return wo.size == io ? 0 : -EIO;
}

static int io_done(struct vb_run *r, struct vb_slot *s, uint32_t used)
{
	int rc =
	    r->w->write ? write_check(r, s, used, r->w->io_size) : check(r, s, used, r->w->io_size);

	return rc < 0 ? rc : 1;
}

static void fsync_next(struct vb_run *r, struct vb_slot *s, struct vb_req *q)
{
	struct fuse_fsync_in *in = args(s);

	if (s->step == 0) {
		rw_req(r, s, q, true, 4096);
		return;
	}
	*in = (struct fuse_fsync_in){.fh = r->data_fh};
	*q = (struct vb_req){.opcode = FUSE_FSYNC, .nodeid = r->data_node, .arg_len = sizeof(*in)};
}

static int fsync_done(struct vb_run *r, struct vb_slot *s, uint32_t used)
{
	int rc = s->step == 0 ? write_check(r, s, used, 4096) : check(r, s, used, 0);

	if (rc < 0)
		return rc;
	return s->step++ == 1;
}

#define IO(n, sz, rnd, wr)                                                                         \
	{                                                                                          \
		.name = n, .setup = io_setup, .next = io_next, .done = io_done,                    \
		.teardown = io_teardown, .host_op = vb_host_io, .io_size = sz, .random = rnd,      \
		.write = wr                                                                        \
	}

static const struct vb_work works[] = {
    {.name = "lookup",
     .setup = lookup_setup,
     .next = lookup_next,
     .done = lookup_done,
     .host_op = vb_host_lookup},
    {.name = "create",
     .setup = create_setup,
     .next = create_next,
     .done = create_done,
     .host_op = vb_host_create},
    {.name = "readdirplus",
     .setup = rdp_setup,
     .next = rdp_next,
     .done = rdp_done,
     .host_op = vb_host_readdirplus,
     .abort_step = 2,
     .per_unit = true},
    IO("read-seq-4k", 4096, false, false),
    IO("read-rand-4k", 4096, true, false),
    IO("write-seq-4k", 4096, false, true),
    IO("write-rand-4k", 4096, true, true),
    IO("read-seq-1m", VB_BIG, false, false),
    IO("read-rand-1m", VB_BIG, true, false),
    IO("write-seq-1m", VB_BIG, false, true),
    IO("write-rand-1m", VB_BIG, true, true),
    {.name = "fsync",
     .setup = io_setup,
     .next = fsync_next,
     .done = fsync_done,
     .teardown = io_teardown,
     .host_op = vb_host_fsync,
     .io_size = 4096,
     .random = true,
     .write = true},
};

const struct vb_work *vb_work_find(const char *name)
{
	for (size_t i = 0; i < sizeof(works) / sizeof(works[0]); i++)
		if (!strcmp(works[i].name, name))
			return &works[i];
	return NULL;
}

const char *vb_work_names(void)
{
	return "lookup create readdirplus read-seq-4k read-rand-4k write-seq-4k write-rand-4k "
	       "read-seq-1m read-rand-1m write-seq-1m write-rand-1m fsync";
}
