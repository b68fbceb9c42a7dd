/* The passthrough filesystem: serves a host directory through struct fs_ops. */
#ifndef VFSD_FS_PASSTHROUGH_H
#define VFSD_FS_PASSTHROUGH_H

#include <stdbool.h>

enum cache_mode {
	CACHE_AUTO,
	CACHE_ALWAYS,
	CACHE_NEVER,
	CACHE_METADATA,
};

struct fs_ops;

struct fs_passthrough_opts {
	const char *root_dir;    /* the shared directory (host path, or "/" after a sandbox pivot) */
	int proc_self_fd;        /* O_PATH fd of /proc/self/fd, or -1: the backend opens it */
	enum cache_mode cache;
	bool allow_direct_io;
	bool announce_submounts;
	bool readonly;
	bool xattr;
	bool preserve_noatime;
};

extern const struct fs_ops fs_passthrough_ops;

/* Returns 0 and the backend's private data in *fs, or a negative errno (logged). */
int fs_passthrough_new(const struct fs_passthrough_opts *opts, void **fs);
void fs_passthrough_free(void *fs);

#endif
