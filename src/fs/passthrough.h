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

/* --inode-file-handles: zero is the default, prefer (as the newest reference). */
enum inode_file_handles {
	INODE_HANDLES_PREFER,    /* handles where the host allows, O_PATH fds elsewhere */
	INODE_HANDLES_NEVER,     /* one O_PATH fd per inode */
	INODE_HANDLES_MANDATORY, /* handles or refuse to start */
};

struct fs_ops;
struct idmap;
struct xattrmap;

struct fs_passthrough_opts {
	const char *root_dir;    /* the shared directory (host path, or "/" after a sandbox pivot) */
	int proc_self_fd;        /* O_PATH fd of /proc/self/fd, or -1: the backend opens it */
	enum cache_mode cache;
	bool allow_direct_io;
	bool announce_submounts;
	bool readonly;
	bool xattr;
	bool preserve_noatime;
	const struct xattrmap *xattrmap; /* --xattrmap rules, or NULL (borrowed, read-only) */
	const struct idmap *uid_map;     /* --translate-uid, or NULL (borrowed, read-only) */
	const struct idmap *gid_map;     /* --translate-gid, or NULL */
	enum inode_file_handles inode_file_handles;
	int mountinfo_fd;          /* /proc/self/mountinfo as the backend sees mounts, or <= 0:
				    * the backend opens it (borrowed, not closed) */
	unsigned thread_pool_size; /* sizes the fd reserve kept from the guest */
};

extern const struct fs_ops fs_passthrough_ops;

/* Returns 0 and the backend's private data in *fs, or a negative errno (logged). */
int fs_passthrough_new(const struct fs_passthrough_opts *opts, void **fs);
void fs_passthrough_free(void *fs);
/* Whether inodes are kept as file handles (then CAP_DAC_READ_SEARCH must stay). */
bool fs_passthrough_uses_handles(const void *fs);

#endif
