/* FUSE requests over the request queue: lay out buffers in guest RAM, chain, post, wait. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "frontend.h"

struct seg_list {
	struct fe_seg *v;
	unsigned n, cap;
};

static int seg_add(struct seg_list *l, uint64_t gpa, uint64_t len, bool writable, unsigned max)
{
	while (len) {
		uint64_t take = max && len > max ? max : len;

		if (l->n == l->cap) {
			unsigned cap = l->cap ? l->cap * 2 : 16;
			struct fe_seg *v = realloc(l->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n++] = (struct fe_seg){ .gpa = gpa, .len = take, .writable = writable };
		gpa += take;
		len -= take;
	}
	return 0;
}

static unsigned pick_queue(const struct fe_req_opts *o)
{
	if (o && o->hiprio)
		return FE_HIPRIO_Q;
	return o && o->queue ? o->queue : FE_REQ_Q;
}

static bool all_idle(struct fe *fe)
{
	for (unsigned q = 0; q < fe->nqueues; q++)
		if (fe->vq[q].inflight)
			return false;
	return true;
}

/* Copy the readable part into one block of guest RAM followed by the reply space, and describe
 * both as descriptors the way the kernel's virtio-fs driver does (one per argument). */
static int lay_out(struct fe *fe, const struct iovec *in, unsigned nin, size_t reply_cap,
		   const struct fe_req_opts *o, struct seg_list *l, uint64_t *reply_gpa)
{
	unsigned max = o ? o->seg_max : 0;
	uint64_t total = reply_cap, gpa, pos;
	uint8_t *p;
	int r = 0;

	for (unsigned i = 0; i < nin; i++)
		total += in[i].iov_len;
	gpa = fe_alloc(fe, total + 64, o && o->cross);
	p = gpa ? fe_gpa_ptr(fe, gpa, total) : NULL;
	if (!p)
		return -ENOMEM;
	pos = gpa;
	for (unsigned i = 0; i < nin && r == 0; i++) {
		if (!in[i].iov_len)
			continue;
		memcpy(p, in[i].iov_base, in[i].iov_len);
		p += in[i].iov_len;
		if (!(o && o->one_in_desc))
			r = seg_add(l, pos, in[i].iov_len, false, max);
		pos += in[i].iov_len;
	}
	if (r == 0 && o && o->one_in_desc && pos > gpa)
		r = seg_add(l, gpa, pos - gpa, false, max);
	*reply_gpa = pos;
	memset(p, 0xa5, reply_cap);
	if (r == 0 && reply_cap)
		r = seg_add(l, pos, reply_cap < 16 ? reply_cap : 16, true, max);
	if (r == 0 && reply_cap > 16)
		r = seg_add(l, pos + 16, reply_cap - 16, true, max);
	return r;
}

static int post_raw(struct fe *fe, const struct iovec *in, unsigned nin, size_t reply_cap,
		    const struct fe_req_opts *o, uint16_t *head, uint64_t *reply_gpa)
{
	struct seg_list l = { 0 };
	unsigned q = pick_queue(o);
	int r;

	if (all_idle(fe))
		fe_alloc_reset(fe);
	r = lay_out(fe, in, nin, reply_cap, o, &l, reply_gpa);
	if (r == 0)
		r = fe_vq_add_chain(fe, q, l.v, l.n, o && o->indirect, head);
	if (r == 0)
		r = fe_vq_publish(fe, q, *head);
	free(l.v);
	return r;
}

static int collect(struct fe *fe, unsigned q, uint16_t head, uint64_t reply_gpa,
		   size_t reply_cap, int timeout_ms, struct fe_reply *r)
{
	uint32_t id, len;
	struct fuse_out_header oh;
	int rc = fe_vq_wait(fe, q, timeout_ms, &id, &len);

	if (rc < 0) {
		fprintf(stderr, "fake frontend: no completion on queue %u: %s\n", q,
			strerror(-rc));
		return rc;
	}
	if (id != head) {
		fprintf(stderr, "fake frontend: completion for head %u, expected %u\n", id, head);
		return -EPROTO;
	}
	r->used_len = len;
	if (len > reply_cap) {
		fprintf(stderr, "fake frontend: used len %u > writable space %zu\n", len,
			reply_cap);
		return -EPROTO;
	}
	r->raw = malloc(reply_cap + 1);
	if (!r->raw)
		return -ENOMEM;
	memcpy(r->raw, fe_gpa_ptr(fe, reply_gpa, reply_cap), reply_cap);
	if (len >= sizeof(oh)) {
		memcpy(&oh, r->raw, sizeof(oh));
		r->error = oh.error;
		r->out_len = oh.len;
		r->unique = oh.unique;
		r->data = r->raw + sizeof(oh);
		r->data_len = len - sizeof(oh);
	}
	return 0;
}

int fe_fuse_raw(struct fe *fe, const struct iovec *in, unsigned nin, size_t reply_cap,
		const struct fe_req_opts *o, struct fe_reply *r)
{
	uint64_t reply_gpa;
	uint16_t head;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = post_raw(fe, in, nin, reply_cap, o, &head, &reply_gpa);
	if (rc < 0) {
		fprintf(stderr, "fake frontend: cannot post request: %s\n", strerror(-rc));
		return rc;
	}
	return collect(fe, pick_queue(o), head, reply_gpa, reply_cap,
		       o && o->timeout_ms ? o->timeout_ms : FE_TIMEOUT_MS, r);
}

static unsigned build_req(struct fe *fe, struct fuse_in_header *h, uint32_t opcode,
			  uint64_t nodeid, const struct iovec *args, unsigned nargs,
			  const struct fe_req_opts *o, struct iovec *iov)
{
	uint32_t len = sizeof(*h);

	for (unsigned i = 0; i < nargs; i++) {
		iov[i + 1] = args[i];
		len += args[i].iov_len;
	}
	fe->unique += 2;
	*h = (struct fuse_in_header){
		.len = o && o->len_override ? o->len_override : len,
		.opcode = opcode,
		.unique = o && o->unique ? o->unique : fe->unique,
		.nodeid = nodeid,
		.uid = getuid(),
		.gid = getgid(),
		.pid = getpid(),
	};
	iov[0] = (struct iovec){ .iov_base = h, .iov_len = sizeof(*h) };
	return nargs + 1;
}

int fe_fuse_req(struct fe *fe, uint32_t opcode, uint64_t nodeid, const struct iovec *args,
		unsigned nargs, size_t reply_cap, const struct fe_req_opts *o, struct fe_reply *r)
{
	struct fuse_in_header h;
	struct iovec iov[9];
	unsigned n;

	if (nargs > 8)
		return -EINVAL;
	n = build_req(fe, &h, opcode, nodeid, args, nargs, o, iov);
	return fe_fuse_raw(fe, iov, n, reply_cap, o, r);
}

int fe_fuse_post(struct fe *fe, uint32_t opcode, uint64_t nodeid, const struct iovec *args,
		 unsigned nargs, size_t reply_cap, const struct fe_req_opts *o, uint64_t *unique,
		 uint64_t *reply_gpa)
{
	struct fuse_in_header h;
	struct iovec iov[9];
	uint16_t head;
	unsigned n;

	if (nargs > 8)
		return -EINVAL;
	n = build_req(fe, &h, opcode, nodeid, args, nargs, o, iov);
	*unique = h.unique;
	return post_raw(fe, iov, n, reply_cap, o, &head, reply_gpa);
}

void fe_reply_free(struct fe_reply *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}
