/* Reply encoding: every byte goes through iov_copy_to, bounded by the out iovecs. */
#include "fuse/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

size_t fuse_reply_room(const struct fuse_req *req)
{
	size_t hdr = sizeof(struct fuse_out_header);

	return req->out_cap > hdr ? req->out_cap - hdr : 0;
}

static void put_header(struct fuse_req *req, size_t payload, int error)
{
	struct fuse_out_header oh;

	memset(&oh, 0, sizeof(oh));
	oh.len = (uint32_t)(sizeof(oh) + payload);
	oh.error = error;
	oh.unique = req->in.unique;
	iov_copy_to(req->out, req->out_cnt, 0, &oh, sizeof(oh));
	req->reply_len = sizeof(oh) + payload;
}

void fuse_reply_err(struct fuse_req *req, int err)
{
	if (err >= 0 || err < -4095)
		err = -EIO;
	if (req->out_cap < sizeof(struct fuse_out_header)) {
		log_warn_rl("FUSE opcode %u unique=%llu: no room for the error reply %d, dropped",
			    req->in.opcode, (unsigned long long)req->in.unique, err);
		req->reply_len = 0;
		return;
	}
	log_debug("FUSE opcode %u unique=%llu: error %d", req->in.opcode,
		  (unsigned long long)req->in.unique, err);
	put_header(req, 0, err);
}

void fuse_reply_hdr(struct fuse_req *req, size_t payload)
{
	put_header(req, payload, 0);
}

int fuse_reply(struct fuse_req *req, const void *a, size_t alen, const void *b, size_t blen)
{
	size_t hdr = sizeof(struct fuse_out_header);

	if (alen > fuse_reply_room(req) || blen > fuse_reply_room(req) - alen) {
		log_warn_rl("FUSE opcode %u unique=%llu: %zu-byte reply does not fit in %zu bytes",
			    req->in.opcode, (unsigned long long)req->in.unique, hdr + alen + blen,
			    req->out_cap);
		return -EIO;
	}
	if (alen)
		iov_copy_to(req->out, req->out_cnt, hdr, a, alen);
	if (blen)
		iov_copy_to(req->out, req->out_cnt, hdr + alen, b, blen);
	put_header(req, alen + blen, 0);
	return 0;
}

int fuse_reply_status(struct fuse_req *req, int r)
{
	if (r < 0)
		return r;
	return fuse_reply(req, NULL, 0, NULL, 0);
}

int fuse_iov_get(struct fuse_iov_tmp *t, const struct iovec *src, unsigned cnt, size_t off,
		 size_t len)
{
	struct iovec *dst = t->small;
	int r;

	t->heap = NULL;
	if (cnt > sizeof(t->small) / sizeof(t->small[0])) {
		t->heap = calloc(cnt, sizeof(*t->heap));
		if (!t->heap)
			return -ENOMEM;
		dst = t->heap;
	}
	r = iov_slice(src, cnt, off, len, dst, cnt, &t->v);
	if (r < 0)
		fuse_iov_put(t);
	return r;
}

void fuse_iov_put(struct fuse_iov_tmp *t)
{
	free(t->heap);
	t->heap = NULL;
}
