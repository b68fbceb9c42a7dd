/* The migration state stream: postcard bytes <-> struct mig_state (layout in mig_stream.h). */
#include "fs/mig_stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/postcard.h"

const struct mig_limits mig_default_limits = {
    .max_inodes = 1u << 24,
    .max_handles = 1u << 24,
    .max_mounts = MIG_MOUNTS_MAX,
};

/* Smallest encodings, so a forged count is refused before it is allocated: an inode is at least
 * id, refcount, location tag and option tag (1 byte each); a handle id, inode, source tag and
 * flags; a mount entry a key and a string length. */
#define MIN_INODE_BYTES 4
#define MIN_HANDLE_BYTES 4
#define MIN_MOUNT_BYTES 2

struct mig_fh *mig_fh_new(uint64_t mnt_id, int32_t type, const void *bytes, uint32_t len)
{
	struct mig_fh *fh = malloc(sizeof(*fh) + len);

	if (!fh)
		return NULL;
	*fh = (struct mig_fh){.mnt_id = mnt_id, .type = type, .len = len};
	if (len)
		memcpy(fh->bytes, bytes, len);
	return fh;
}

static int dec_fh(struct pc_dec *d, struct mig_fh **out)
{
	const uint8_t *p;
	uint64_t mnt_id;
	int32_t type;
	size_t n;
	int r;

	if ((r = pc_get_u64(d, &mnt_id)) < 0 || (r = pc_get_i32(d, &type)) < 0 ||
	    (r = pc_get_bytes(d, MIG_HANDLE_SZ, &p, &n)) < 0)
		return r;
	*out = mig_fh_new(mnt_id, type, p, (uint32_t)n);
	return *out ? 0 : -ENOMEM;
}

/* A string into a fresh NUL-terminated copy; a NUL inside could not be a file name. */
static int dec_cstr(struct pc_dec *d, size_t max, char **out)
{
	const char *s;
	size_t n;
	int r = pc_get_str(d, max, &s, &n);

	if (r < 0)
		return r;
	if (memchr(s, 0, n))
		return pc_dec_fail(d, "name contains a NUL byte");
	*out = strndup(s, n);
	return *out ? 0 : -ENOMEM;
}

/* A variant tag this daemon does not know: reported at the tag's own offset. */
static int bad_tag(struct pc_dec *d, size_t tag_off, const char *why)
{
	d->off = tag_off;
	return pc_dec_fail(d, why);
}

static int dec_location(struct pc_dec *d, struct mig_inode *in)
{
	size_t tag_off = d->off;
	uint32_t tag;
	int r = pc_get_variant(d, &tag);

	if (r < 0)
		return r;
	in->loc = (enum mig_loc)tag;
	switch (tag) {
	case MIG_LOC_ROOT:
	case MIG_LOC_INVALID:
		return 0;
	case MIG_LOC_PATH:
		if ((r = pc_get_u64(d, &in->parent)) < 0)
			return r;
		return dec_cstr(d, MIG_NAME_MAX, &in->name);
	case MIG_LOC_FULL_PATH:
		return dec_cstr(d, MIG_PATH_MAX, &in->name);
	case MIG_LOC_FILE_HANDLE:
		return dec_fh(d, &in->fh);
	default:
		return bad_tag(d, tag_off, "unknown inode location variant");
	}
}

static int dec_inode(struct pc_dec *d, struct mig_inode *in)
{
	bool has_check;
	int r;

	if ((r = pc_get_u64(d, &in->id)) < 0 || (r = pc_get_u64(d, &in->refcount)) < 0 ||
	    (r = dec_location(d, in)) < 0)
		return r;
	if ((r = pc_get_option(d, &has_check)) < 0)
		return r;
	return has_check ? dec_fh(d, &in->check_fh) : 0;
}

static int dec_handle(struct pc_dec *d, struct mig_handle *h)
{
	size_t tag_off;
	uint32_t tag;
	int r;

	if ((r = pc_get_u64(d, &h->id)) < 0 || (r = pc_get_u64(d, &h->inode)) < 0)
		return r;
	tag_off = d->off;
	if ((r = pc_get_variant(d, &tag)) < 0)
		return r;
	if (tag != 0) /* HandleSource::OpenInode is the only variant */
		return bad_tag(d, tag_off, "unknown handle source variant");
	return pc_get_i32(d, &h->flags);
}

static int dec_v1(struct pc_dec *d, const struct mig_limits *lim, struct mig_state *s)
{
	bool *o[] = {&s->opts.writeback, &s->opts.announce_submounts, &s->opts.posix_acl,
		     &s->opts.sup_group_extension};
	size_t n;
	int r = pc_get_count(d, MIN_INODE_BYTES, lim->max_inodes, &n);

	if (r < 0)
		return r;
	s->inodes = calloc(n ? n : 1, sizeof(*s->inodes));
	if (!s->inodes)
		return -ENOMEM;
	for (; s->ninodes < n; s->ninodes++)
		if ((r = dec_inode(d, &s->inodes[s->ninodes])) < 0) {
			s->ninodes++; /* so its name is freed */
			return r;
		}
	if ((r = pc_get_u64(d, &s->next_inode)) < 0)
		return r;
	if ((r = pc_get_count(d, MIN_HANDLE_BYTES, lim->max_handles, &n)) < 0)
		return r;
	s->handles = calloc(n ? n : 1, sizeof(*s->handles));
	if (!s->handles)
		return -ENOMEM;
	for (; s->nhandles < n; s->nhandles++)
		if ((r = dec_handle(d, &s->handles[s->nhandles])) < 0)
			return r;
	if ((r = pc_get_u64(d, &s->next_handle)) < 0)
		return r;
	for (size_t i = 0; i < sizeof(o) / sizeof(o[0]); i++)
		if ((r = pc_get_bool(d, o[i])) < 0)
			return r;
	return 0;
}

static int dec_mounts(struct pc_dec *d, const struct mig_limits *lim, struct mig_state *s)
{
	size_t n;
	int r = pc_get_count(d, MIN_MOUNT_BYTES, lim->max_mounts, &n);

	if (r < 0)
		return r;
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return -ENOMEM;
	for (; s->nmounts < n; s->nmounts++) {
		struct mig_mount *m = &s->mounts[s->nmounts];

		if ((r = pc_get_u64(d, &m->mnt_id)) < 0)
			return r;
		if ((r = dec_cstr(d, MIG_PATH_MAX, &m->path)) < 0)
			return r;
	}
	return 0;
}

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int dec_all(struct pc_dec *d, const struct mig_limits *lim, struct mig_state *s)
{
	uint32_t version;
	int r = pc_get_variant(d, &version);

	if (r < 0)
		return r;
	if (version != MIG_V1 && version != MIG_V2)
		return bad_tag(d, 0, "unknown state version (this daemon reads V1 and V2)");
	s->version = (enum mig_version)version;
	if ((r = dec_v1(d, lim, s)) < 0)
		return r;
	if (version == MIG_V2 && (r = dec_mounts(d, lim, s)) < 0)
		return r;
	if (pc_dec_left(d) >= MIG_FUSE_MAGIC_LEN &&
	    memcmp(d->buf + d->off, MIG_FUSE_MAGIC, MIG_FUSE_MAGIC_LEN) == 0) {
		d->off += MIG_FUSE_MAGIC_LEN;
		if ((r = pc_get_u32(d, &s->fuse.minor)) < 0 ||
		    (r = pc_get_u64(d, &s->fuse.flags)) < 0)
			return r;
		s->fuse.present = true;
	}
	if (pc_dec_left(d))
		return pc_dec_fail(d, "trailing bytes after the state");
	return 0;
}

int mig_state_decode(const void *buf, size_t len, const struct mig_limits *lim,
		     struct mig_state *out, char *why, size_t whylen)
{
	struct mig_state s = {0};
	struct pc_dec d;
	int r;

	pc_dec_init(&d, buf, len);
	r = dec_all(&d, lim ? lim : &mig_default_limits, &s);
	if (r == -EBADMSG) {
		if (d.err_off == 0 && d.err && len == 0)
			set_why(why, whylen, "empty state");
		else
			set_why(why, whylen, "offset %zu of %zu: %s", d.err_off, len,
				d.err ? d.err : "malformed");
	} else if (r < 0) {
		set_why(why, whylen, "%s", strerror(-r));
	} else {
		r = mig_state_check(&s, why, whylen);
	}
	if (r < 0) {
		mig_state_free(&s);
		return r;
	}
	*out = s;
	return 0;
}

void mig_state_free(struct mig_state *s)
{
	for (size_t i = 0; i < s->ninodes; i++) {
		free(s->inodes[i].name);
		free(s->inodes[i].fh);
		free(s->inodes[i].check_fh);
	}
	for (size_t i = 0; i < s->nmounts; i++)
		free(s->mounts[i].path);
	free(s->inodes);
	free(s->handles);
	free(s->mounts);
	*s = (struct mig_state){0};
}

static void enc_fh(struct pc_enc *e, const struct mig_fh *fh)
{
	if (!fh) {
		e->err = e->err ? e->err : -EINVAL;
		return;
	}
	pc_put_u64(e, fh->mnt_id);
	pc_put_i32(e, fh->type);
	pc_put_bytes(e, fh->bytes, fh->len <= MIG_HANDLE_SZ ? fh->len : MIG_HANDLE_SZ);
}

static void enc_inode(struct pc_enc *e, const struct mig_inode *in)
{
	pc_put_u64(e, in->id);
	pc_put_u64(e, in->refcount);
	pc_put_variant(e, in->loc);
	switch (in->loc) {
	case MIG_LOC_PATH:
		pc_put_u64(e, in->parent);
		/* fall through */
	case MIG_LOC_FULL_PATH:
		if (!in->name) {
			e->err = e->err ? e->err : -EINVAL;
			return;
		}
		pc_put_str(e, in->name, strlen(in->name));
		break;
	case MIG_LOC_FILE_HANDLE:
		enc_fh(e, in->fh);
		break;
	default:
		break;
	}
	pc_put_option(e, in->check_fh != NULL);
	if (in->check_fh)
		enc_fh(e, in->check_fh);
}

int mig_state_encode(const struct mig_state *s, size_t max, uint8_t **buf, size_t *len)
{
	struct pc_enc e;

	pc_enc_init(&e, max);
	pc_put_variant(&e, s->version);
	pc_put_u64(&e, s->ninodes);
	for (size_t i = 0; i < s->ninodes; i++)
		enc_inode(&e, &s->inodes[i]);
	pc_put_u64(&e, s->next_inode);
	pc_put_u64(&e, s->nhandles);
	for (size_t i = 0; i < s->nhandles; i++) {
		pc_put_u64(&e, s->handles[i].id);
		pc_put_u64(&e, s->handles[i].inode);
		pc_put_variant(&e, 0); /* HandleSource::OpenInode */
		pc_put_i32(&e, s->handles[i].flags);
	}
	pc_put_u64(&e, s->next_handle);
	pc_put_bool(&e, s->opts.writeback);
	pc_put_bool(&e, s->opts.announce_submounts);
	pc_put_bool(&e, s->opts.posix_acl);
	pc_put_bool(&e, s->opts.sup_group_extension);
	if (s->version == MIG_V2) {
		pc_put_u64(&e, s->nmounts);
		for (size_t i = 0; i < s->nmounts; i++) {
			pc_put_u64(&e, s->mounts[i].mnt_id);
			pc_put_str(&e, s->mounts[i].path, strlen(s->mounts[i].path));
		}
	}
	if (s->fuse.present) {
		for (size_t i = 0; i < MIG_FUSE_MAGIC_LEN; i++)
			pc_put_u8(&e, (uint8_t)MIG_FUSE_MAGIC[i]);
		pc_put_u64(&e, s->fuse.minor);
		pc_put_u64(&e, s->fuse.flags);
	}
	return pc_enc_finish(&e, buf, len);
}
