/*
 * The passthrough's migration state (docs/migration.md): what it holds for the guest, as the
 * stream of fs/mig_stream.h, and back. Options with the Rust virtiofsd's meanings.
 */
#ifndef VFSD_FS_PT_MIG_H
#define VFSD_FS_PT_MIG_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/mig_stream.h"

enum fs_mig_mode {
	FS_MIG_FIND_PATHS,   /* each inode as its path (from /proc/self/fd) */
	FS_MIG_FILE_HANDLES, /* each inode as its file handle: same filesystem on both sides,
			      * CAP_DAC_READ_SEARCH on the destination */
};

enum fs_mig_on_error {
	FS_MIG_ABORT,	    /* an inode or handle the destination cannot open fails the load */
	FS_MIG_GUEST_ERROR, /* it stays known, and every use of it fails with EIO */
};

struct fs_mig_opts {
	enum fs_mig_mode mode;
	enum fs_mig_on_error on_error;
	bool verify_handles; /* find-paths: send each inode's file handle; the destination
			      * compares it with what it found under the path */
};

/* The options of the fs_ops entries (mig_save, mig_load); default: find-paths, abort. */
void fs_passthrough_set_migration(void *fs, const struct fs_mig_opts *o);

/*
 * Fills *out (mig_state_free() it) with every inode the guest holds and every open handle.
 * An inode that cannot be described (unlinked in find-paths mode, a path outside the share, a
 * name that is not UTF-8) is sent as Invalid, logged with its id; the destination decides.
 * Returns 0 or -ENOMEM; why[] gets a summary ("3 inodes sent as invalid").
 */
int fs_passthrough_mig_save(void *fs, const struct fs_mig_opts *o, struct mig_state *out, char *why,
			    size_t whylen);

/*
 * Replaces every inode and handle with those of a checked state (mig_state_decode), under the
 * source's ids. -EIO with why[] naming the first inode or handle that failed (abort mode:
 * nothing is kept but the root), -EINVAL when the state asks for something this destination
 * was not started with (announce-submounts; file handles without file-handles mode).
 */
int fs_passthrough_mig_load(void *fs, const struct fs_mig_opts *o, const struct mig_state *s,
			    char *why, size_t whylen);

#endif
