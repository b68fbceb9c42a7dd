/*
 * FUSE protocol definitions newer than the installed <linux/fuse.h>.
 *
 * Debian 12's kernel headers stop at protocol 7.38; FUSE_STATX and its structures came with
 * 7.39 (Linux 6.6). The layout below follows the kernel's include/uapi/linux/fuse.h of 7.39.
 * Each block is used only when the installed header lacks it, so a newer header wins.
 *
 * Below every layer (src/uapi/): the filesystem contract and the FUSE server both use these
 * structures, and neither may include the other's headers for them.
 */
#ifndef VFSD_UAPI_FUSE_COMPAT_H
#define VFSD_UAPI_FUSE_COMPAT_H

#include <stdint.h>
#include <linux/fuse.h>

#if FUSE_KERNEL_MINOR_VERSION < 39
#define FUSE_STATX 52

struct fuse_sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t __reserved;
};

struct fuse_statx {
	uint32_t mask;
	uint32_t blksize;
	uint64_t attributes;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint16_t mode;
	uint16_t __spare0[1];
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t attributes_mask;
	struct fuse_sx_time atime;
	struct fuse_sx_time btime;
	struct fuse_sx_time ctime;
	struct fuse_sx_time mtime;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t __spare2[14];
};

struct fuse_statx_in {
	uint32_t getattr_flags;
	uint32_t reserved;
	uint64_t fh;
	uint32_t sx_flags;
	uint32_t sx_mask;
};

struct fuse_statx_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct fuse_statx stat;
};
#endif

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif

/* 7.40 (Linux 6.12): the server copes with idmapped mounts of the guest. */
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP (1ULL << 40)
#endif

/* The wire layout is fixed by the protocol: catch a mistake at build time. */
_Static_assert(sizeof(struct fuse_statx) == 256, "fuse_statx is 256 bytes on the wire");
_Static_assert(sizeof(struct fuse_statx_in) == 24, "fuse_statx_in is 24 bytes on the wire");
_Static_assert(sizeof(struct fuse_statx_out) == 288, "fuse_statx_out is 288 bytes on the wire");

#endif
