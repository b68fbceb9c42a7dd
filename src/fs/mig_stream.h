/*
 * The passthrough's migration state as the Rust virtiofsd 1.13 sends it through vhost-user's
 * SET_DEVICE_STATE_FD: its `serialized::PassthroughFs` enum in the postcard wire format
 * (util/postcard.h), nothing before or after it. The layout, field by field, is in
 * docs/migration.md. This module only turns bytes into a checked struct mig_state and back; how
 * the passthrough fills it and applies it is elsewhere.
 */
#ifndef VFSD_FS_MIG_STREAM_H
#define VFSD_FS_MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Variant numbers on the wire (declaration order of the Rust enums). */
enum mig_version {
	MIG_V1 = 0, /* PassthroughFs::V1(PassthroughFsV1) */
	MIG_V2 = 1, /* PassthroughFs::V2(PassthroughFsV2): V1 plus the mount-id -> path map */
};

enum mig_loc {
	MIG_LOC_ROOT = 0,	 /* InodeLocation::RootNode: the destination opens its own root */
	MIG_LOC_PATH = 1,	 /* Path { parent, filename }: one component under the parent */
	MIG_LOC_INVALID = 2,	 /* Invalid: the source lost this inode */
	MIG_LOC_FULL_PATH = 3,	 /* FullPath { filename }: relative to the shared directory */
	MIG_LOC_FILE_HANDLE = 4, /* FileHandle { handle } */
};

#define MIG_HANDLE_SZ 128u /* MAX_HANDLE_SZ: a longer file handle is refused */
#define MIG_NAME_MAX 255u
#define MIG_PATH_MAX 4095u
#define MIG_ROOT_ID 1u /* FUSE_ROOT_ID */
#define MIG_MOUNTS_MAX 256u
/* Open flags a handle's source never carries (the Rust source strips them: reopening with them
 * would create or truncate the file again). */
#define MIG_HANDLE_BAD_FLAGS (00100 | 00200 | 01000) /* O_CREAT | O_EXCL | O_TRUNC */

/* SerializableFileHandle { mnt_id: u64, handle_type: i32, handle: Vec<u8> }, malloc()ed to
 * its length (mig_fh_new): a state costs what it carries, not MIG_HANDLE_SZ per inode. */
struct mig_fh {
	uint64_t mnt_id; /* the source's mount id: only a key into mig_state.mounts */
	int32_t type;
	uint32_t len; /* at most MIG_HANDLE_SZ */
	uint8_t bytes[];
};

/* NULL when out of memory; len at most MIG_HANDLE_SZ. */
struct mig_fh *mig_fh_new(uint64_t mnt_id, int32_t type, const void *bytes, uint32_t len);

/* Inode { id: u64, refcount: u64, location: InodeLocation, file_handle: Option<...> } */
struct mig_inode {
	uint64_t id;
	/* The Rust daemon's refcount: the guest's lookups, plus one for every other inode whose
	 * location is a Path under this one (the destination drops that one when it has opened
	 * the child). The root starts at 2 there. */
	uint64_t refcount;
	enum mig_loc loc;
	uint64_t parent;   /* MIG_LOC_PATH */
	char *name;	   /* MIG_LOC_PATH (one component), MIG_LOC_FULL_PATH (relative path) */
	struct mig_fh *fh; /* MIG_LOC_FILE_HANDLE (never NULL then) */
	/* --migration-verify-handles: compare, do not open; NULL: none. fh, check_fh and name are
	 * freed by mig_state_free. */
	struct mig_fh *check_fh;
};

/* Handle { id: u64, inode: u64, source: HandleSource::OpenInode { flags: i32 } } */
struct mig_handle {
	uint64_t id;
	uint64_t inode;
	int32_t flags; /* open(2) flags, O_CREAT/O_EXCL/O_TRUNC removed */
};

/* NegotiatedOpts, in wire order */
struct mig_opts {
	bool writeback;
	bool announce_submounts;
	bool posix_acl;
	bool sup_group_extension;
};

/* One entry of V2's mount_paths: HashMap<u64, String> */
struct mig_mount {
	uint64_t mnt_id;
	char *path; /* "." or a relative path inside the shared directory */
};

/*
 * Ours only, after the Rust value: the FUSE session negotiated at INIT (which the Rust stream
 * does not carry), so a destination of ours resumes with the guest's protocol minor and flags.
 * The Rust daemon's reader ignores it (postcard's from_bytes does not look past the value).
 * Bytes: the 10 bytes of MIG_FUSE_MAGIC, varint(u32) minor, varint(u64) flags.
 */
#define MIG_FUSE_MAGIC "vfsdc-fuse"
#define MIG_FUSE_MAGIC_LEN 10u

struct mig_fuse {
	bool present;
	uint32_t minor;
	uint64_t flags; /* INIT flags, flags2 in the upper word */
};

struct mig_state {
	enum mig_version version;
	struct mig_inode *inodes;
	size_t ninodes;
	uint64_t next_inode; /* the source's next free inode id */
	struct mig_handle *handles;
	size_t nhandles;
	uint64_t next_handle;
	struct mig_opts opts;
	struct mig_mount *mounts; /* V2 only (none in V1) */
	size_t nmounts;
	struct mig_fuse fuse;
};

struct mig_limits {
	size_t max_inodes;
	size_t max_handles;
	size_t max_mounts;
};

/* What the passthrough's tables can hold: 2^24 inodes and handles, 256 mounts. */
extern const struct mig_limits mig_default_limits;

/*
 * Decode and check a whole stream (trailing bytes are refused). On failure: -EBADMSG (malformed
 * or nonsense) or -ENOMEM, *out untouched, and why[] says what and where ("inode 7: parent 9
 * is not in the stream", "offset 12: truncated").
 */
int mig_state_decode(const void *buf, size_t len, const struct mig_limits *lim,
		     struct mig_state *out, char *why, size_t whylen);
/*
 * The consistency rules the decoder applies after parsing, on their own (an encoder's caller
 * may check what it built): ids, root, parents, cycles, refcounts, names, handles.
 */
int mig_state_check(const struct mig_state *s, char *why, size_t whylen);
/* -EINVAL for a name that is not UTF-8 (the Rust daemon can not carry it either), -EMSGSIZE
 * above max bytes, -ENOMEM. *buf is malloc()ed. */
int mig_state_encode(const struct mig_state *s, size_t max, uint8_t **buf, size_t *len);
void mig_state_free(struct mig_state *s);

#endif
