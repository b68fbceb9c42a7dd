/*
 * READDIR and READDIRPLUS records: the FUSE server's sink for the entries a backend hands
 * over (struct fs_dir_sink), encoding fuse_dirent / fuse_direntplus into a reply buffer.
 */
#ifndef VFSD_FUSE_DIRENT_H
#define VFSD_FUSE_DIRENT_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/fs.h"

struct fuse_dirbuf {
	struct fs_dir_sink sink; /* what the backend gets */
	char *buf;
	size_t size; /* capacity (the guest's requested size, bounded) */
	size_t len;  /* bytes used */
	bool plus;   /* READDIRPLUS records */
	int err;     /* -EIO once the backend handed a malformed entry */
};

void fuse_dirbuf_init(struct fuse_dirbuf *db, char *buf, size_t size, bool plus);
/* Append one record. Returns 0, -ENOSPC when it does not fit, or -EINVAL for a malformed
 * entry (empty or over-long name, READDIRPLUS without the entry); nothing is added then. */
int fuse_dirbuf_add(struct fuse_dirbuf *db, const struct fs_dirent *d);

#endif
