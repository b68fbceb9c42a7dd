/* Passthrough backend internals shared by its source files (not a public interface). */
#ifndef VFSD_FS_PT_INTERNAL_H
#define VFSD_FS_PT_INTERNAL_H

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/fs.h"
#include "fs/passthrough.h"
#include "fs/pt_idhash.h"
#include "fs/pt_mig.h"

/* Host identity of an inode: a bind mount of the same file is another inode (its mount id). */
struct pt_key {
	uint64_t dev;
	uint64_t ino;
	uint64_t mnt_id;
};

struct file_handle;

/* A file handle as name_to_handle_at() returns it, of any size. */
union pt_fh_buf {
	struct file_handle fh;
	char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

/* Handle bytes kept inside the inode entry (ext4 8, tmpfs 12, xfs 8 to 16, btrfs 20); a longer
 * handle lives on the heap and the entry keeps its pointer. */
#define PT_FH_INLINE 20

/* One entry of the inode table: 104 bytes, in chunks (no allocation of its own), its handle
 * inline, its links as table indexes (0: none). */
struct pt_inode {
	struct pt_key key;
	uint64_t nlookup; /* the guest's references (LOOKUP and friends minus FORGET) */
	/* O_PATH | O_NOFOLLOW, owned. With a file handle, opened from it on demand: valid while
	 * the caller holds a ref (pt_inode_get), else -1 or an idle cached fd. */
	int fd;
	int mount_fd; /* with a handle: an fd on the inode's mount, for open_by_handle_at */
	uint32_t idx;
	uint32_t gen;
	uint32_t refs; /* requests in flight using fd */
	int32_t hnext; /* hash chain while in use (not when broken), free list while not */
	uint32_t lru_prev, lru_next; /* idle fds of handle inodes, under inodes.lock */
	uint16_t type; /* S_IFMT bits: never change for a host inode */
	/* Changed under inodes.lock while requests hold the entry: */
	bool in_lru : 1;
	bool fd_unbudgeted : 1; /* fd opened past the guest's budget: closed when refs drops to 0 */
	bool in_use : 1;
	bool adopted : 1; /* its guest id came from a migration source: adopted_id, not idx/gen */
	bool broken : 1;  /* adopted, but the destination could not open it: every use fails */
	/* Fixed while the entry is in use, read without the lock by a request holding it
	 * (pt_fh_open, LOOKUP of ".."): a byte of their own, since writing a bit field rewrites
	 * its neighbours. */
	bool : 0;
	bool pinned : 1; /* the root: never released */
	bool has_fh : 1; /* no handle: fd is held for the inode's whole life */
	bool fh_heap : 1; /* the handle is longer than PT_FH_INLINE: fh_store holds its pointer */
	/* struct file_handle (handle_bytes, handle_type, f_handle[]), or a pointer to one */
	unsigned char fh_store[sizeof(struct file_handle) + PT_FH_INLINE] __attribute__((aligned(4)));
	uint64_t adopted_id; /* with adopted: the guest's id for it */
};

/* Entries come in chunks of 1 << PT_CHUNK_SHIFT, never moved or freed before the table. */
#define PT_CHUNK_SHIFT 10

struct pt_itable {
	pthread_mutex_t lock;
	struct pt_inode **chunks; /* entry i: chunks[i >> PT_CHUNK_SHIFT][i & mask]; 0 unused */
	uint32_t nchunks;
	uint32_t hwm; /* entries [1, hwm) have been used at least once */
	uint32_t count;
	int32_t free_head;
	int32_t *buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t lru_head, lru_tail; /* idle fds of handle inodes, oldest first (0: none) */
	uint32_t lru_count;
	struct pt_idhash adopted; /* adopted guest id -> slot */
};

/* Entry i (1 <= i < hwm) of the table; under its lock. */
static inline struct pt_inode *pt_inode_at(const struct pt_itable *t, uint32_t i)
{
	return &t->chunks[i >> PT_CHUNK_SHIFT][i & ((1u << PT_CHUNK_SHIFT) - 1)];
}

/* Mounts seen by handle inodes: mount id -> an open fd on it (pt_fh.c). */
struct pt_mount {
	int mnt_id;
	int fd;           /* -1 when handles are not usable on this mount */
	bool unsupported; /* name_to_handle_at/open_by_handle_at refused: O_PATH fds here */
	int err;          /* why (negative errno), for the start-up probe's message */
};

struct pt_mounts {
	pthread_mutex_t lock;
	struct pt_mount *m;
	uint32_t count;
	uint32_t cap;
};

/* Fields ordered by size: no padding holes (88 bytes). */
struct pt_handle {
	uint64_t ino; /* the guest id of its inode: requests must name it (migration sends it) */
	uint64_t adopted_id;
	int fd; /* a real open file or directory, owned */
	uint32_t idx;
	uint32_t gen;
	uint32_t refs;
	int32_t free_next;
	bool in_use;
	bool released; /* RELEASE seen; fd closed when the last in-flight user leaves */
	bool adopted; /* id from a migration source: adopted_id */
	pthread_mutex_t dir_lock; /* serializes getdents/lseek on a directory handle */
	int64_t dir_pos;          /* host offset the directory fd is at, -1 unknown */
};

struct pt_htable {
	pthread_mutex_t lock;
	struct pt_handle **slots;
	uint32_t cap;
	uint32_t hwm;
	int32_t free_head;
	struct pt_idhash adopted; /* adopted handle id -> slot */
};

struct pt_fs {
	struct fs_passthrough_opts opts;
	int proc_fd; /* O_PATH of /proc/self/fd */
	bool own_proc_fd;
	bool switch_creds; /* the daemon is root: it can act as the caller when creating */
	uid_t euid;
	gid_t egid;
	/* writeback, submounts and fd_limit are set by INIT while other queues serve requests. */
	atomic_bool writeback; /* negotiated FUSE_WRITEBACK_CACHE */
	atomic_bool submounts; /* negotiated FUSE_SUBMOUNTS and asked for */
	_Atomic uint64_t conn_flags; /* the INIT flags agreed with the guest (migration sends some) */
	uint64_t timeout; /* entry/attr validity, seconds */
	struct pt_itable inodes; /* every access under inodes.lock; fds used outside it hold refs */
	struct pt_htable handles; /* every access under handles.lock; same refs rule */
	struct pt_locks *locks; /* lock owners' open file descriptions (pt_lock.c) */
	atomic_long nfds; /* fds held for the guest (inodes + handles), bounded by fd_limit */
	atomic_long fd_limit;
	bool use_handles; /* inode file handles: decided at start-up (pt_fh_setup) */
	int mountinfo_fd;
	bool own_mountinfo_fd;
	struct pt_mounts mounts;
	struct fs_mig_opts mig; /* --migration-*: set before the guest connects */
};

#define PT_ROOT_IDX 1u

/* pt_inode.c: the inode table, and what the handle table (pt_handle.c) shares with it. */
uint32_t pt_next_gen(uint32_t gen);
int pt_grow_slots(void ***slots, uint32_t *cap, uint32_t hwm);
uint32_t pt_gen_free_of(const struct pt_idhash *adopted, uint32_t idx, uint32_t gen);
int pt_itable_init(struct pt_itable *t);
void pt_itable_fini(struct pt_fs *fs);
int pt_fd_reserve(struct pt_fs *fs);
void pt_fd_unreserve(struct pt_fs *fs);
/* close(fd) of an fd counted in the budget, and the budget back. */
void pt_fd_close(struct pt_fs *fs, int fd);
/* Takes ownership of fd and its reservation. *id gets the guest id, nlookup counted. */
int pt_inode_insert(struct pt_fs *fs, int fd, const struct pt_key *key, mode_t type, bool root,
		    uint64_t *id);
/* The entry of the inode open as fd (not taken), kept by its file handle alone; 1 when this
 * inode's mount has no handles (insert an O_PATH fd instead). */
int pt_inode_insert_fh(struct pt_fs *fs, int fd, const struct pt_key *key, mode_t type,
		       uint64_t *id);
int pt_inode_get(struct pt_fs *fs, uint64_t id, struct pt_inode **out);
void pt_inode_put(struct pt_fs *fs, struct pt_inode *ino);
void pt_inode_forget(struct pt_fs *fs, uint64_t id, uint64_t n);
void pt_inode_count_lookup(struct pt_fs *fs, struct pt_inode *ino);
/* A known inode by identity, counted; -ENOENT if not in the table. */
int pt_inode_find_known(struct pt_fs *fs, const struct pt_key *key, const struct file_handle *fh,
			uint64_t *id);
void pt_inode_forget_all(struct pt_fs *fs);
uint64_t pt_inode_id(const struct pt_inode *in);
/* Migration: an entry under a guest id another daemon made (fd as in pt_inode_insert; fd -1:
 * a broken entry whose every use fails with -EIO). -EEXIST if the id is taken. */
int pt_inode_adopt(struct pt_fs *fs, uint64_t id, int fd, const struct pt_key *key, mode_t type,
		   uint64_t nlookup);

int pt_htable_init(struct pt_htable *t);
void pt_htable_fini(struct pt_fs *fs);
/* Takes ownership of fd (already reserved); ino is the guest id of its inode. */
int pt_handle_add(struct pt_fs *fs, uint64_t ino, int fd, uint64_t *fh);
/* Migration: a handle under an id another daemon made (fd owned and reserved). */
int pt_handle_adopt(struct pt_fs *fs, uint64_t id, int fd, uint64_t ino);
uint64_t pt_handle_id(const struct pt_handle *h);
/* The handle fh, if it is open for inode ino (as the Rust daemon checks); -EBADF otherwise. */
int pt_handle_get(struct pt_fs *fs, uint64_t ino, uint64_t fh, struct pt_handle **out);
void pt_handle_put(struct pt_fs *fs, struct pt_handle *h);
int pt_handle_release(struct pt_fs *fs, uint64_t fh);
void pt_handle_release_all(struct pt_fs *fs);

/* pt_fh.c: inode file handles (--inode-file-handles). */
int pt_fh_setup(struct pt_fs *fs, int root_fd, const char *dir);
void pt_fh_fini(struct pt_fs *fs);
/* 1 with the handle in *b and its mount's fd; 0 when this inode's mount cannot use handles and
 * O_PATH fds serve instead; or a negative errno. */
int pt_fh_of_fd(struct pt_fs *fs, int fd, mode_t type, union pt_fh_buf *b, int *mount_fd);
bool pt_fh_equal(const struct file_handle *a, const struct file_handle *b);
int pt_fh_open(const struct pt_inode *in, int flags);
/* The mount point of mnt_id from mountinfo, malloc()ed, or NULL. */
char *pt_fh_mount_point(struct pt_fs *fs, int mnt_id);
/* The entry's handle, NULL if it has none. */
const struct file_handle *pt_inode_fh(const struct pt_inode *in);

/* pt_creds.c: act as the caller while creating a file. */
struct pt_creds {
	bool ids;
	bool mask;
	mode_t old_umask;
};
int pt_creds_enter(struct pt_fs *fs, const struct fs_ctx *c, uint32_t umask, struct pt_creds *s);
void pt_creds_leave(struct pt_fs *fs, struct pt_creds *s);

/* pt_proc.c: an fd's file through /proc/self/fd (fs->proc_fd) */
#define PT_PROC_NAME 16
/* fd's name inside /proc/self/fd, in buf (returned). */
char *pt_proc_path(char buf[PT_PROC_NAME], int fd);
/* Reopens an O_PATH fd with real open flags (no path walk). */
int pt_proc_open(struct pt_fs *fs, int fd, int flags);
/* Gives fd's file the name in dirfd (linkat, by the magic link when AT_EMPTY_PATH is refused). */
int pt_proc_link(struct pt_fs *fs, int fd, int dirfd, const char *name);

/* passthrough.c */
int pt_lookup_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		 struct fuse_entry_out *out);
/* The same for a name just created here (always a new inode: no statx-first fast path). */
int pt_lookup_new_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		     struct fuse_entry_out *out);
/* READDIRPLUS: statx (and the handle) first, an fd opened only for a new inode. */
int pt_lookup_plus_at(struct pt_fs *fs, struct pt_inode *parent, const char *name,
		      struct fuse_entry_out *out);
/* The entry of a file just created and open as fd (not taken), kept by its handle: no O_PATH
 * fd. 1 when the mount has no handles, with the file's statx in *stx (pt_entry_from_fd_stat of
 * an O_PATH fd of the same file then). */
int pt_entry_of_open_fd(struct pt_fs *fs, struct pt_inode *parent, int fd, struct statx *stx,
			struct fuse_entry_out *out);
/* The entry of the inode fd (an O_PATH fd, taken, with one reservation) opens: a new table
 * entry, or a lookup more of the one that has it. */
int pt_entry_from_fd(struct pt_fs *fs, struct pt_inode *parent, int fd,
		     struct fuse_entry_out *out);
/* The same with the inode's statx already made (of another fd of the same file). */
int pt_entry_from_fd_stat(struct pt_fs *fs, struct pt_inode *parent, int fd,
			  const struct statx *stx, struct fuse_entry_out *out);
int pt_stat(int fd, struct statx *stx);
void pt_key_of(const struct statx *stx, struct pt_key *k);
void pt_fill_attr(const struct statx *stx, struct fuse_attr *attr);

/* pt_dirops.c */
int pt_mknod(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	     uint32_t rdev, uint32_t umask, struct fuse_entry_out *out);
int pt_mkdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	     uint32_t umask, struct fuse_entry_out *out);
int pt_symlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
	       const char *target, struct fuse_entry_out *out);
int pt_unlink(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name);
int pt_rmdir(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name);
int pt_rename(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, uint32_t flags);
int pt_link(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t newparent,
	    const char *newname, struct fuse_entry_out *out);
int pt_create(void *fs, const struct fs_ctx *c, uint64_t parent, const char *name, uint32_t mode,
	      uint32_t flags, uint32_t umask, struct fuse_entry_out *entry,
	      struct fuse_open_out *open);

/* pt_fileops.c */
int pt_open_flags(struct pt_fs *fs, uint32_t guest_flags, int *host_flags);
void pt_fill_open(struct pt_fs *fs, bool dir, uint64_t fh, struct fuse_open_out *out);
int pt_kill_suidgid(struct pt_fs *fs, int fd, bool opath);
/* A real open of the inode (never a device node, FIFO or socket: CVE-2020-35517). */
int pt_open_inode(struct pt_fs *fs, struct pt_inode *in, int hflags);
int pt_open(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
	    struct fuse_open_out *out);
int pt_read(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	    uint32_t flags, struct iov_view *dst);
int pt_write(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	     uint32_t write_flags, uint32_t flags, struct iov_view *src);
int pt_release(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags,
	       uint32_t release_flags, uint64_t lock_owner);
int pt_fsync(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, bool datasync);
int pt_flush(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t lock_owner);
int pt_opendir(void *fs, const struct fs_ctx *c, uint64_t ino, uint32_t flags,
	       struct fuse_open_out *out);
int pt_readdir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	       bool plus, struct fs_dir_sink *sink);
int pt_releasedir(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t flags);
int pt_fallocate(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint32_t mode,
		 uint64_t offset, uint64_t length);
int pt_lseek(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t offset,
	     uint32_t whence, uint64_t *out_offset);
int pt_copy_file_range(void *fs, const struct fs_ctx *c, uint64_t ino_in, uint64_t fh_in,
		       uint64_t off_in, uint64_t ino_out, uint64_t fh_out, uint64_t off_out,
		       uint64_t len, uint64_t flags);
int pt_syncfs(void *fs, const struct fs_ctx *c, uint64_t ino);

/* pt_lock.c: POSIX record locks (one OFD per owner) and flock */
struct pt_locks;
int pt_locks_new(struct pt_locks **out);
void pt_locks_free(struct pt_fs *fs);
void pt_locks_clear(struct pt_fs *fs);
void pt_locks_flush(struct pt_fs *fs, uint64_t ino, uint64_t owner);
void pt_locks_release(struct pt_fs *fs, uint64_t ino, uint64_t fh, uint32_t release_flags);
int pt_getlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct fuse_file_lock *lk, struct fuse_file_lock *out);
int pt_setlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct fuse_file_lock *lk, bool is_flock, bool sleep);

/* pt_mig_load.c: the fs_ops entries, with fs->mig */
int pt_mig_save(void *fs, struct mig_state *out, char *why, size_t whylen);
int pt_mig_load(void *fs, const struct mig_state *s, char *why, size_t whylen);

/* pt_attr.c */
int pt_getattr(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
	       struct fuse_attr_out *out);
int pt_setattr(void *fs, const struct fs_ctx *c, uint64_t ino, const struct fs_setattr *a,
	       struct fuse_attr_out *out);
int pt_statx(void *fs, const struct fs_ctx *c, uint64_t ino, const uint64_t *fh,
	     uint32_t sx_flags, uint32_t sx_mask, struct fuse_statx_out *out);

/* pt_dirops.c: O_TMPFILE, an unnamed file opened (as CREATE answers) */
int pt_tmpfile(void *fs, const struct fs_ctx *c, uint64_t parent, uint32_t mode, uint32_t flags,
	       uint32_t umask, struct fuse_entry_out *entry, struct fuse_open_out *open);

#endif
