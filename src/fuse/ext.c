/* Request extensions: the security context and supplementary groups of creating requests. */
#include "fuse/ext.h"
#include "fuse/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

#include "log.h"

/*
 * The names SECURITY_CTX can carry: the guest kernel sends the xattr name its LSM returns from
 * security_dentry_init_security(), the file's label attribute. Any other security.* name is a
 * guest choosing what we write under a name that means something else to the host
 * (security.capability: file capabilities; security.ima/evm: integrity data), with no --xattr
 * needed: refused. An LSM not listed here gets EINVAL on create with --security-label.
 */
static const char *const lsm_label_names[] = {
	"security.selinux", /* SELinux */
	"security.SMACK64", /* Smack */
};

static bool lsm_label_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(lsm_label_names) / sizeof(lsm_label_names[0]); i++)
		if (strlen(lsm_label_names[i]) == len && memcmp(lsm_label_names[i], name, len) == 0)
			return true;
	return false;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The one context of a record: fuse_secctx, NUL-terminated name, value. */
static int secctx_entry(const uint8_t *p, size_t len, struct fs_secctx *out)
{
	struct fuse_secctx fc;
	const uint8_t *name = p + sizeof(fc), *nul;
	size_t namelen;

	if (len < sizeof(fc) + 2)
		return -EINVAL;
	memcpy(&fc, p, sizeof(fc));
	nul = memchr(name, '\0', len - sizeof(fc));
	if (!nul)
		return -EINVAL;
	namelen = (size_t)(nul - name);
	if (namelen == 0 || namelen > XATTR_NAME_MAX)
		return -EINVAL;
	if (!lsm_label_name((const char *)name, namelen))
		return -EINVAL;
	if (fc.size > XATTR_SIZE_MAX || fc.size > len - sizeof(fc) - namelen - 1)
		return -EINVAL;
	out->name = (const char *)name;
	out->value = nul + 1;
	out->size = fc.size;
	return 0;
}

int fuse_secctx_parse(const void *buf, size_t len, struct fs_secctx *out, bool *present,
		      size_t *used)
{
	const uint8_t *p = buf;
	struct fuse_secctx_header h;
	struct fs_secctx sc;
	int r;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, p, sizeof(h));
	if (h.size < sizeof(h) || h.size > len || h.size % 8 != 0)
		return -EINVAL;
	if (h.nr_secctx > 1) {
		log_debug("FUSE security context with %u labels: only one is supported",
			  h.nr_secctx);
		return h.nr_secctx > FUSE_MAX_NR_SECCTX ? -EINVAL : -EOPNOTSUPP;
	}
	*used = h.size;
	if (h.nr_secctx == 0) {
		*present = false;
		return 0;
	}
	r = secctx_entry(p + sizeof(h), h.size - sizeof(h), &sc);
	if (r < 0)
		return r;
	*out = sc;
	*present = true;
	return 0;
}

static int groups_record(const uint8_t *p, size_t size, struct fuse_ext *out)
{
	const size_t hdr = sizeof(struct fuse_ext_header);
	uint32_t nr;

	if (out->has_groups || size < hdr + sizeof(uint32_t))
		return -EINVAL;
	nr = get_u32(p + hdr);
	if (nr > FUSE_EXT_GROUPS_MAX || nr > (size - hdr - sizeof(uint32_t)) / sizeof(uint32_t))
		return -EINVAL;
	out->has_groups = true;
	out->ngroups = nr;
	out->groups = nr ? (const uint32_t *)(const void *)(p + hdr + sizeof(uint32_t)) : NULL;
	return 0;
}

int fuse_ext_parse(const void *buf, size_t len, struct fuse_ext *out)
{
	const uint8_t *p = buf;
	struct fuse_ext_header h;
	struct fuse_ext e;
	size_t used;
	bool present;
	int r;

	memset(&e, 0, sizeof(e));
	if (len % 8 != 0 || ((uintptr_t)buf & 7) != 0)
		return -EINVAL;
	while (len > 0) {
		if (len < sizeof(h))
			return -EINVAL;
		memcpy(&h, p, sizeof(h));
		if (h.size < sizeof(h) || h.size % 8 != 0 || h.size > len)
			return -EINVAL;
		if (h.type <= FUSE_MAX_NR_SECCTX) {
			if (e.has_secctx)
				return -EINVAL;
			r = fuse_secctx_parse(p, h.size, &e.secctx, &present, &used);
			if (r < 0)
				return r;
			e.has_secctx = present;
		} else if (h.type == FUSE_EXT_TYPE_GROUPS) {
			r = groups_record(p, h.size, &e);
			if (r < 0)
				return r;
		}
		/* Other types are newer than us: skipped, as the kernel only adds optional ones. */
		p += h.size;
		len -= h.size;
	}
	*out = e;
	return 0;
}

int fuse_ext_load(struct fuse_req *req, bool payload, struct fuse_ext_area *a)
{
	size_t len = (size_t)req->in.total_extlen * 8;
	size_t off = sizeof(req->in) + req->arglen;
	void *buf = a->small;
	int r;

	a->heap = NULL;
	memset(&a->ext, 0, sizeof(a->ext));
	if (len == 0 || payload)
		return 0;
	if (len > sizeof(a->small)) {
		a->heap = malloc(len); /* malloc's alignment suits the 8-byte records */
		if (!a->heap)
			return -ENOMEM;
		buf = a->heap;
	}
	/* check_header() put the area inside len, and len inside the transport's buffer. */
	if (iov_copy_from(req->in_iov, req->in_cnt, off, buf, len) != len)
		return -EINVAL;
	r = fuse_ext_parse(buf, len, &a->ext);
	if (r < 0) {
		log_debug("FUSE opcode %u unique=%llu: malformed extension area (%zu bytes): %s",
			  req->in.opcode, (unsigned long long)req->in.unique, len, strerror(-r));
		return r;
	}
	/* The kernel sends a context only when INIT agreed FUSE_SECURITY_CTX (--security-label):
	 * one without it is a guest choosing a host label the administrator did not allow. */
	if (a->ext.has_secctx && !(req->srv->flags & FUSE_SECURITY_CTX)) {
		log_debug("FUSE opcode %u unique=%llu: a security context, but the session did not "
			  "agree FUSE_SECURITY_CTX (--security-label): refused",
			  req->in.opcode, (unsigned long long)req->in.unique);
		return -EINVAL;
	}
	if (a->ext.has_secctx)
		req->ctx.secctx = &a->ext.secctx;
	if (a->ext.has_groups) {
		req->ctx.groups = a->ext.groups;
		req->ctx.ngroups = a->ext.ngroups;
	}
	return 0;
}

void fuse_ext_release(struct fuse_ext_area *a)
{
	free(a->heap);
	a->heap = NULL;
}

int fuse_ext_trailing_secctx(struct fuse_req *req, struct fs_secctx *store)
{
	size_t left = fuse_cur_remaining(&req->args), used;
	const void *p;
	bool present;
	int r;

	if (req->ctx.secctx || !(req->srv->flags & FUSE_SECURITY_CTX) || req->srv->minor >= 38 ||
	    left == 0)
		return 0;
	p = fuse_cur_take(&req->args, left);
	r = fuse_secctx_parse(p, left, store, &present, &used);
	if (r < 0) {
		log_debug("FUSE opcode %u unique=%llu: malformed security context: %s",
			  req->in.opcode, (unsigned long long)req->in.unique, strerror(-r));
		return r;
	}
	if (present)
		req->ctx.secctx = store;
	return 0;
}
