/* READDIR output records and the one-component name rule shared by every backend. */
#include "fs/fs.h"

#include <errno.h>
#include <string.h>

/* Longest directory entry name the guest can be sent (NAME_MAX). */
#define DIRBUF_NAME_MAX 255

/* Reserve reclen bytes at the end of db, or NULL when they do not fit. */
static char *dirbuf_reserve(struct fs_dirbuf *db, size_t reclen)
{
	char *p;

	if (db->len > db->size || reclen > db->size - db->len)
		return NULL;
	p = db->buf + db->len;
	/* Zero the whole record first: the alignment padding goes to the guest too. */
	memset(p, 0, reclen);
	return p;
}

static void dirent_fill(char *p, const char *name, size_t namelen, uint64_t ino, uint32_t type,
			uint64_t off)
{
	struct fuse_dirent d;

	memset(&d, 0, sizeof(d));
	d.ino = ino;
	d.off = off;
	d.namelen = (uint32_t)namelen;
	d.type = type;
	memcpy(p, &d, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, name, namelen);
}

int fs_dirbuf_add(struct fs_dirbuf *db, const char *name, size_t namelen, uint64_t ino,
		  uint32_t type, uint64_t off)
{
	size_t reclen;
	char *p;

	if (namelen == 0 || namelen > DIRBUF_NAME_MAX)
		return -EINVAL;
	reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
	p = dirbuf_reserve(db, reclen);
	if (!p)
		return -ENOSPC;
	dirent_fill(p, name, namelen, ino, type, off);
	db->len += reclen;
	return 0;
}

int fs_dirbuf_add_plus(struct fs_dirbuf *db, const char *name, size_t namelen, uint32_t type,
		       uint64_t off, const struct fuse_entry_out *e)
{
	size_t reclen;
	char *p;

	if (namelen == 0 || namelen > DIRBUF_NAME_MAX || !e)
		return -EINVAL;
	reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
	p = dirbuf_reserve(db, reclen);
	if (!p)
		return -ENOSPC;
	memcpy(p, e, sizeof(*e));
	dirent_fill(p + offsetof(struct fuse_direntplus, dirent), name, namelen, e->attr.ino, type,
		    off);
	db->len += reclen;
	return 0;
}

bool fs_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, DIRBUF_NAME_MAX + 1);
	if (n == 0 || n > DIRBUF_NAME_MAX)
		return false;
	if (memchr(name, '/', n))
		return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}
