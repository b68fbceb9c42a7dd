/* READDIR/READDIRPLUS record encoding for the entries a backend hands to the sink. */
#include "fuse/dirent.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/fuse.h>

#include "log.h"

/* Longest directory entry name the guest can be sent (NAME_MAX). */
#define DIRENT_NAME_MAX 255

/* Reserve reclen bytes at the end of db, or NULL when they do not fit. */
static char *dirbuf_reserve(struct fuse_dirbuf *db, size_t reclen)
{
	char *p;

	if (db->len > db->size || reclen > db->size - db->len)
		return NULL;
	p = db->buf + db->len;
	/* Zero the whole record first: the alignment padding goes to the guest too. */
	memset(p, 0, reclen);
	return p;
}

static void dirent_fill(char *p, const struct fs_dirent *d, uint64_t ino)
{
	struct fuse_dirent rec;

	memset(&rec, 0, sizeof(rec));
	rec.ino = ino;
	rec.off = d->off;
	rec.namelen = (uint32_t)d->namelen;
	rec.type = d->type;
	memcpy(p, &rec, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, d->name, d->namelen);
}

int fuse_dirbuf_add(struct fuse_dirbuf *db, const struct fs_dirent *d)
{
	size_t head = db->plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	size_t reclen;
	char *p;

	if (d->namelen == 0 || d->namelen > DIRENT_NAME_MAX || (db->plus && !d->entry))
		return -EINVAL;
	reclen = FUSE_DIRENT_ALIGN(head + d->namelen);
	p = dirbuf_reserve(db, reclen);
	if (!p)
		return -ENOSPC;
	if (db->plus) {
		memcpy(p, d->entry, sizeof(*d->entry));
		/* The record's ino is the attributes' one, as LOOKUP would show it. */
		dirent_fill(p + offsetof(struct fuse_direntplus, dirent), d, d->entry->attr.ino);
	} else {
		dirent_fill(p, d, d->ino);
	}
	db->len += reclen;
	return 0;
}

static bool dirbuf_sink_add(struct fs_dir_sink *sink, const struct fs_dirent *d)
{
	struct fuse_dirbuf *db = (struct fuse_dirbuf *)((char *)sink -
							offsetof(struct fuse_dirbuf, sink));
	int r = fuse_dirbuf_add(db, d);

	if (r == -EINVAL) {
		log_error_rl("READDIR: the filesystem handed a malformed entry (name of %zu bytes)",
			     d->namelen);
		db->err = -EIO;
	}
	return r == 0;
}

void fuse_dirbuf_init(struct fuse_dirbuf *db, char *buf, size_t size, bool plus)
{
	memset(db, 0, sizeof(*db));
	db->sink.add = dirbuf_sink_add;
	db->sink.size = size;
	db->buf = buf;
	db->size = size;
	db->plus = plus;
}
