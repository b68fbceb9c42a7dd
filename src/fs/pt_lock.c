/*
 * Locks on the host file, so that guests and host processes see each other's locks.
 *
 * POSIX record locks belong to a lock owner (the guest's files_struct), not to an open file:
 * each (inode, owner) pair that locks gets an open file description of its own (a GETLK
 * alone keeps none) and the locks are OFD locks on it (F_OFD_SETLK...). They conflict with
 * every other OFD and with classic POSIX locks of host processes, never with the same owner's
 * own locks, and closing the description releases them all, which is what FLUSH (the owner
 * closed a descriptor of the file) needs.
 *
 * flock() locks belong to an open file: they are taken on the handle's own fd.
 *
 * Every description held here counts against the guest's fd limit, and the table is bounded
 * (PT_LOCK_MAX): past it a lock request gets ENOLCK.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "log.h"
#include "fs/pt_internal.h"

#define PT_LOCK_BUCKETS 256u
#define PT_LOCK_MAX 4096u

struct pt_ofd {
	struct pt_ofd *next;
	uint64_t ino;
	uint64_t owner;
	int fd;
	unsigned refs; /* 1 for the table while listed, plus one per user */
	/* Of the last lock request (under the table lock): an OFD lock's owner is one open
	 * file, so its locks go with that handle's RELEASE; pid answers GETLK. */
	uint64_t fh;
	uint32_t pid;
};

struct pt_locks {
	pthread_mutex_t lock; /* guards buckets, count and refs */
	struct pt_ofd *buckets[PT_LOCK_BUCKETS];
	unsigned count;
};

int pt_locks_new(struct pt_locks **out)
{
	struct pt_locks *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

static unsigned bucket_of(uint64_t ino, uint64_t owner)
{
	uint64_t h = (ino ^ (owner * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;

	return (unsigned)(h >> 56) % PT_LOCK_BUCKETS;
}

static void ofd_put(struct pt_fs *fs, struct pt_ofd *o)
{
	struct pt_locks *l = fs->locks;
	bool last;

	pthread_mutex_lock(&l->lock);
	last = --o->refs == 0;
	pthread_mutex_unlock(&l->lock);
	if (!last)
		return;
	close(o->fd); /* releases every lock the owner held through it */
	pt_fd_unreserve(fs);
	free(o);
}

/* Unlink o from its bucket; the caller drops the table's reference. */
static void unlink_locked(struct pt_locks *l, struct pt_ofd *o)
{
	struct pt_ofd **pp = &l->buckets[bucket_of(o->ino, o->owner)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			l->count--;
			return;
		}
	}
}

static struct pt_ofd *find_locked(struct pt_locks *l, uint64_t ino, uint64_t owner)
{
	struct pt_ofd *o = l->buckets[bucket_of(ino, owner)];

	while (o && (o->ino != ino || o->owner != owner))
		o = o->next;
	return o;
}

/* A new description of the inode for locking. Never a device node or FIFO (CVE-2020-35517). */
static int open_for_lock(struct pt_fs *fs, uint64_t ino, bool write)
{
	struct pt_inode *in;
	int r, fd;

	r = pt_inode_get(fs, ino, &in);
	if (r < 0)
		return r;
	if (S_ISDIR(in->type)) {
		fd = pt_proc_open(fs, in->fd, O_RDONLY | O_DIRECTORY);
	} else if (!S_ISREG(in->type)) {
		fd = -ENOLCK;
	} else {
		/* Read-write serves both lock types; the guest already checked its own open
		 * mode. A file the daemon may not write gets the mode this lock needs. */
		fd = pt_proc_open(fs, in->fd, fs->opts.readonly ? O_RDONLY : O_RDWR);
		if (fd == -EACCES || fd == -EPERM || fd == -ETXTBSY || fd == -EROFS)
			fd = pt_proc_open(fs, in->fd, write ? O_WRONLY : O_RDONLY);
	}
	pt_inode_put(fs, in);
	return fd;
}

/* The owner's description of ino, made on first use unless !create (then -ENOENT). */
static int ofd_get(struct pt_fs *fs, uint64_t ino, uint64_t owner, bool write, bool create,
		   struct pt_ofd **out)
{
	struct pt_locks *l = fs->locks;
	struct pt_ofd *o, *n;
	int fd;

	pthread_mutex_lock(&l->lock);
	o = find_locked(l, ino, owner);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&l->lock);
	if (o || !create) {
		*out = o;
		return o ? 0 : -ENOENT;
	}
	if (pt_fd_reserve(fs) < 0)
		return -ENOLCK;
	fd = open_for_lock(fs, ino, write);
	n = fd >= 0 ? calloc(1, sizeof(*n)) : NULL;
	if (!n) {
		if (fd >= 0)
			close(fd);
		pt_fd_unreserve(fs);
		return fd < 0 ? fd : -ENOMEM;
	}
	*n = (struct pt_ofd){.ino = ino, .owner = owner, .fd = fd, .refs = 2};
	pthread_mutex_lock(&l->lock);
	o = find_locked(l, ino, owner); /* made by another request meanwhile? */
	if (o) {
		o->refs++;
	} else if (l->count < PT_LOCK_MAX) {
		n->next = l->buckets[bucket_of(ino, owner)];
		l->buckets[bucket_of(ino, owner)] = n;
		l->count++;
		o = n;
		n = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	if (n) {
		pt_fd_close(fs, n->fd);
		free(n);
	}
	if (!o) {
		log_warn_rl("lock table full (%u owner descriptions): ENOLCK", PT_LOCK_MAX);
		return -ENOLCK;
	}
	*out = o;
	return 0;
}

/* Which owner of ino (other than owner) holds the conflicting lock fl? Its pid, else 0 (a host
 * process, or no way to tell). Asking from the holder's own description does not see the lock
 * itself. */
static uint32_t holder_pid(struct pt_fs *fs, uint64_t ino, uint64_t owner, const struct flock *fl)
{
	struct pt_locks *l = fs->locks;
	uint32_t pid = 0;

	pthread_mutex_lock(&l->lock);
	for (unsigned b = 0; b < PT_LOCK_BUCKETS && !pid; b++) {
		for (struct pt_ofd *o = l->buckets[b]; o && !pid; o = o->next) {
			struct flock q = *fl;

			if (o->ino != ino || o->owner == owner)
				continue;
			q.l_type = F_WRLCK;
			q.l_pid = 0;
			if (fcntl(o->fd, F_OFD_GETLK, &q) == 0 &&
			    (q.l_type == F_UNLCK || q.l_start != fl->l_start ||
			     q.l_len != fl->l_len))
				pid = o->pid;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return pid;
}

static void to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl)); /* l_pid must be 0 for OFD locks */
	fl->l_type = (short)lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)lk->start;
	fl->l_len = lk->end == INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1);
}

/*
 * F_OFD_GETLK for owner: through its description if it has one (its own locks are no
 * conflict), else through one made for this test alone and closed at once. An owner that only
 * asks holds no lock, so it keeps no host fd and no table slot (a guest asking as many owners
 * as it likes would otherwise pin a description each, up to ENOLCK for every new owner).
 */
static int test_lock(struct pt_fs *fs, uint64_t ino, uint64_t owner, struct flock *fl)
{
	struct pt_ofd *o;
	int fd, r;

	if (ofd_get(fs, ino, owner, false, false, &o) == 0) {
		r = fcntl(o->fd, F_OFD_GETLK, fl) < 0 ? -errno : 0;
		ofd_put(fs, o);
		return r;
	}
	if (pt_fd_reserve(fs) < 0)
		return -ENOLCK;
	fd = open_for_lock(fs, ino, false);
	if (fd < 0) {
		pt_fd_unreserve(fs);
		return fd;
	}
	r = fcntl(fd, F_OFD_GETLK, fl) < 0 ? -errno : 0;
	pt_fd_close(fs, fd);
	return r;
}

int pt_getlk(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct fuse_file_lock *lk, struct fuse_file_lock *out)
{
	struct pt_fs *fs = fsp;
	struct flock fl;
	int r;

	to_flock(lk, &fl);
	r = test_lock(fs, ino, owner, &fl);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	out->type = (uint32_t)fl.l_type;
	if (fl.l_type == F_UNLCK)
		return 0;
	if (fl.l_start < 0 || fl.l_len < 0)
		return -EIO;
	out->start = (uint64_t)fl.l_start;
	out->end = fl.l_len == 0 ? INT64_MAX : (uint64_t)fl.l_start + (uint64_t)fl.l_len - 1;
	/* The host's l_pid (a host pid, or -1 for an OFD lock) means nothing in the guest;
	 * a lock of another guest owner has the pid of the guest process that took it. */
	out->pid = holder_pid(fs, ino, owner, &fl);
	return 0;
}

static int set_flock(struct pt_fs *fs, uint64_t ino, uint64_t fh, uint32_t type, bool sleep)
{
	struct pt_handle *h;
	int op, r;

	op = type == F_UNLCK ? LOCK_UN : type == F_RDLCK ? LOCK_SH : LOCK_EX;
	if (!sleep)
		op |= LOCK_NB;
	r = pt_handle_get(fs, ino, fh, &h);
	if (r < 0)
		return r;
	r = flock(h->fd, op) < 0 ? -errno : 0;
	pt_handle_put(fs, h);
	return r;
}

int pt_setlk(void *fsp, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
	     const struct fuse_file_lock *lk, bool is_flock, bool sleep)
{
	struct pt_fs *fs = fsp;
	struct pt_ofd *o;
	struct flock fl;
	int r;

	if (is_flock)
		return set_flock(fs, ino, fh, lk->type, sleep);
	/* Nothing to unlock for an owner that never locked this file. */
	r = ofd_get(fs, ino, owner, lk->type == F_WRLCK, lk->type != F_UNLCK, &o);
	if (r == -ENOENT && lk->type == F_UNLCK)
		return 0;
	if (r < 0)
		return r;
	if (lk->type != F_UNLCK) {
		pthread_mutex_lock(&fs->locks->lock);
		o->fh = fh;
		o->pid = c->pid;
		pthread_mutex_unlock(&fs->locks->lock);
	}
	to_flock(lk, &fl);
	r = fcntl(o->fd, sleep ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0 ? -errno : 0;
	ofd_put(fs, o);
	if (r == -EACCES)
		r = -EAGAIN; /* POSIX allows either for a conflict; the guest expects EAGAIN */
	return r;
}

/* FLUSH: the owner closed a descriptor of ino, which drops all its record locks on it. */
void pt_locks_flush(struct pt_fs *fs, uint64_t ino, uint64_t owner)
{
	struct pt_locks *l = fs->locks;
	struct pt_ofd *o;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	o = find_locked(l, ino, owner);
	if (o)
		unlink_locked(l, o);
	pthread_mutex_unlock(&l->lock);
	if (o)
		ofd_put(fs, o);
}

/* Every description locked last through fh, unlinked from the table in one pass (one pass for
 * each would make a RELEASE of 4096 owners' locks quadratic), chained on ->next. */
static struct pt_ofd *take_by_fh(struct pt_locks *l, uint64_t fh)
{
	struct pt_ofd *taken = NULL;

	pthread_mutex_lock(&l->lock);
	for (unsigned b = 0; b < PT_LOCK_BUCKETS && l->count; b++) {
		struct pt_ofd **pp = &l->buckets[b];

		while (*pp) {
			struct pt_ofd *o = *pp;

			if (o->fh != fh) {
				pp = &o->next;
				continue;
			}
			*pp = o->next;
			l->count--;
			o->next = taken;
			taken = o;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return taken;
}

/*
 * RELEASE: the guest's open file is gone. Its flock goes (FUSE_RELEASE_FLOCK_UNLOCK), and so
 * do the record locks taken through it that FLUSH left: those are OFD locks of the guest
 * (their owner is the open file, which FLUSH does not name); a process's POSIX locks were
 * dropped by the FLUSH of its last close already.
 */
void pt_locks_release(struct pt_fs *fs, uint64_t ino, uint64_t fh, uint32_t release_flags)
{
	struct pt_ofd *o;

	if (release_flags & FUSE_RELEASE_FLOCK_UNLOCK)
		set_flock(fs, ino, fh, F_UNLCK, false);
	for (o = fs->locks ? take_by_fh(fs->locks, fh) : NULL; o;) {
		struct pt_ofd *next = o->next;

		ofd_put(fs, o);
		o = next;
	}
}

/* DESTROY or reset: every owner's locks go. A description still in use by a waiting SETLKW
 * is closed when that request lets go of it. */
void pt_locks_clear(struct pt_fs *fs)
{
	struct pt_locks *l = fs->locks;

	if (!l)
		return;
	for (unsigned b = 0; b < PT_LOCK_BUCKETS; b++) {
		for (;;) {
			struct pt_ofd *o;

			pthread_mutex_lock(&l->lock);
			o = l->buckets[b];
			if (o)
				unlink_locked(l, o);
			pthread_mutex_unlock(&l->lock);
			if (!o)
				break;
			ofd_put(fs, o);
		}
	}
}

void pt_locks_free(struct pt_fs *fs)
{
	if (!fs->locks)
		return;
	pt_locks_clear(fs);
	pthread_mutex_destroy(&fs->locks->lock);
	free(fs->locks);
	fs->locks = NULL;
}
