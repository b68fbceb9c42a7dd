/*
 * The passthrough inode table (the handle table is pt_handle.c). The guest sees ids made of a table index (low 32
 * bits) and a generation (high 32 bits), never host pointers: a stale or forged id fails the
 * generation check instead of reaching a freed or reused entry.
 *
 * An entry's fd stays open while the guest holds lookups (inodes) or has not released it
 * (handles), and while a request in flight holds a reference (refs), so a FORGET or RELEASE
 * racing a request never closes an fd that request is using.
 *
 * An inode kept as a file handle (pt_fh.c) has no fd of its own: pt_inode_get() opens one from
 * the handle, and when the last request leaves it the fd waits in a small LRU cache, so the
 * guest's inodes cost memory, not fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/pt_internal.h"

/* Indexes are int32 in the free and hash chains; this also bounds the slot array. */
#define PT_MAX_SLOTS (1u << 24)
#define PT_MIN_SLOTS 64u
/* Idle fds of handle inodes kept open: a request that follows a lookup finds its fd. */
#define PT_FD_CACHE 64u


void pt_fd_unreserve(struct pt_fs *fs)
{
	atomic_fetch_sub(&fs->nfds, 1);
}

void pt_fd_close(struct pt_fs *fs, int fd)
{
	close(fd);
	pt_fd_unreserve(fs);
}

uint32_t pt_next_gen(uint32_t gen)
{
	gen++;
	return gen ? gen : 1; /* generation 0 is the root's alone */
}

/* Grows a slot pointer array to hold one more index. Returns 0 or -ENFILE/-ENOMEM. */
int pt_grow_slots(void ***slots, uint32_t *cap, uint32_t hwm)
{
	uint32_t ncap;
	void **n;

	if (hwm < *cap)
		return 0;
	if (*cap >= PT_MAX_SLOTS)
		return -ENFILE;
	ncap = *cap ? *cap * 2 : PT_MIN_SLOTS;
	n = realloc(*slots, ncap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	*slots = n;
	*cap = ncap;
	return 0;
}

#define PT_CHUNK (1u << PT_CHUNK_SHIFT)

_Static_assert(sizeof(struct pt_inode) <= 104, "an inode entry grew past 104 bytes");

static struct pt_inode *slot(const struct pt_itable *t, uint32_t i)
{
	return pt_inode_at(t, i);
}

const struct file_handle *pt_inode_fh(const struct pt_inode *in)
{
	struct file_handle *heap;

	if (!in->has_fh)
		return NULL;
	if (!in->fh_heap)
		return (const struct file_handle *)in->fh_store;
	memcpy(&heap, in->fh_store, sizeof(heap));
	return heap;
}

/* Keep the handle in the entry (inline, or on the heap when it is long). */
static int fh_store(struct pt_inode *in, const struct file_handle *fh)
{
	size_t size = sizeof(*fh) + fh->handle_bytes;
	struct file_handle *heap;

	in->has_fh = true;
	in->fh_heap = size > sizeof(in->fh_store);
	if (!in->fh_heap) {
		memcpy(in->fh_store, fh, size);
		return 0;
	}
	heap = malloc(size);
	if (!heap) {
		in->has_fh = in->fh_heap = false;
		return -ENOMEM;
	}
	memcpy(heap, fh, size);
	memcpy(in->fh_store, &heap, sizeof(heap));
	return 0;
}

static void fh_drop(struct pt_inode *in)
{
	if (in->has_fh && in->fh_heap)
		free((void *)pt_inode_fh(in));
	in->has_fh = in->fh_heap = false;
}

static uint32_t key_hash(const struct pt_key *k)
{
	uint64_t h = k->ino * 0x9e3779b97f4a7c15ull;

	h ^= (k->dev + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
	h ^= k->mnt_id * 0x94d049bb133111ebull;
	h ^= h >> 29;
	return (uint32_t)h;
}

/* With handles on both sides, the handle tells a reused inode number from the old inode (whose
 * entry no fd keeps alive); an entry without a handle holds its inode open, so the key is
 * enough. */
static bool key_eq(const struct pt_inode *in, const struct pt_key *b, const struct file_handle *fh)
{
	const struct pt_key *a = &in->key;

	if (a->dev != b->dev || a->ino != b->ino || a->mnt_id != b->mnt_id)
		return false;
	return !in->has_fh || !fh || pt_fh_equal(pt_inode_fh(in), fh);
}

int pt_itable_init(struct pt_itable *t)
{
	*t = (struct pt_itable){ .hwm = 1, .free_head = -1, .nbuckets = 256 };
	t->buckets = malloc(t->nbuckets * sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->nbuckets; i++)
		t->buckets[i] = -1;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

static void hash_insert(struct pt_itable *t, struct pt_inode *in)
{
	uint32_t b = key_hash(&in->key) & (t->nbuckets - 1);

	in->hnext = t->buckets[b];
	t->buckets[b] = (int32_t)in->idx;
}

static void hash_remove(struct pt_itable *t, struct pt_inode *in)
{
	int32_t *p = &t->buckets[key_hash(&in->key) & (t->nbuckets - 1)];

	while (*p >= 0) {
		if (*p == (int32_t)in->idx) {
			*p = in->hnext;
			return;
		}
		p = &slot(t, (uint32_t)*p)->hnext;
	}
}

/* Keeps chains short; a failed allocation only costs speed. */
static void hash_maybe_grow(struct pt_itable *t)
{
	uint32_t nb = t->nbuckets * 2;
	int32_t *n;

	if (t->count < t->nbuckets || nb > PT_MAX_SLOTS)
		return;
	n = malloc(nb * sizeof(*n));
	if (!n)
		return;
	free(t->buckets);
	t->buckets = n;
	t->nbuckets = nb;
	for (uint32_t i = 0; i < nb; i++)
		n[i] = -1;
	for (uint32_t i = 1; i < t->hwm; i++)
		if (slot(t, i)->in_use && !slot(t, i)->broken)
			hash_insert(t, slot(t, i));
}

static struct pt_inode *hash_find(struct pt_itable *t, const struct pt_key *key,
				  const struct file_handle *fh)
{
	int32_t i = t->buckets[key_hash(key) & (t->nbuckets - 1)];

	while (i >= 0) {
		struct pt_inode *in = slot(t, (uint32_t)i);

		if (key_eq(in, key, fh))
			return in;
		i = in->hnext;
	}
	return NULL;
}

/* After a migration, ids of our own making skip those an adopted entry holds. */
uint32_t pt_gen_free_of(const struct pt_idhash *adopted, uint32_t idx, uint32_t gen)
{
	while (adopted->count && pt_idhash_get(adopted, (uint64_t)gen << 32 | idx) >= 0)
		gen = pt_next_gen(gen);
	return gen;
}

static int inode_alloc(struct pt_itable *t, struct pt_inode **out)
{
	struct pt_inode *in;

	if (t->free_head >= 0) {
		in = slot(t, (uint32_t)t->free_head);
		t->free_head = in->hnext;
		in->gen = pt_gen_free_of(&t->adopted, in->idx, in->gen);
		*out = in;
		return 0;
	}
	if (t->hwm >= PT_MAX_SLOTS)
		return -ENFILE;
	if ((t->hwm >> PT_CHUNK_SHIFT) == t->nchunks) {
		struct pt_inode **n = realloc(t->chunks, (t->nchunks + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->chunks = n;
		n[t->nchunks] = calloc(PT_CHUNK, sizeof(**n));
		if (!n[t->nchunks])
			return -ENOMEM;
		t->nchunks++;
	}
	in = slot(t, t->hwm);
	in->idx = t->hwm++;
	in->gen = pt_gen_free_of(&t->adopted, in->idx, 1);
	*out = in;
	return 0;
}

static void lru_unlink(struct pt_itable *t, struct pt_inode *in)
{
	if (!in->in_lru)
		return;
	if (in->lru_prev)
		slot(t, in->lru_prev)->lru_next = in->lru_next;
	else
		t->lru_head = in->lru_next;
	if (in->lru_next)
		slot(t, in->lru_next)->lru_prev = in->lru_prev;
	else
		t->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = 0;
	in->in_lru = false;
	t->lru_count--;
}

/* Called with the lock held when a handle inode's fd falls idle; the oldest idle fd goes. */
static void lru_push(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_itable *t = &fs->inodes;
	struct pt_inode *old;

	in->lru_prev = t->lru_tail;
	in->lru_next = 0;
	if (t->lru_tail)
		slot(t, t->lru_tail)->lru_next = in->idx;
	else
		t->lru_head = in->idx;
	t->lru_tail = in->idx;
	in->in_lru = true;
	t->lru_count++;
	if (t->lru_count <= PT_FD_CACHE)
		return;
	old = slot(t, t->lru_head);
	lru_unlink(t, old);
	close(old->fd);
	old->fd = -1;
	pt_fd_unreserve(fs);
}

/* An idle cached fd gives way when the guest's fd budget is spent. Returns false if none. */
static bool lru_evict_oldest(struct pt_fs *fs)
{
	struct pt_itable *t = &fs->inodes;
	struct pt_inode *old;

	pthread_mutex_lock(&t->lock);
	old = t->lru_head ? slot(t, t->lru_head) : NULL;
	if (old) {
		lru_unlink(t, old);
		close(old->fd);
		old->fd = -1;
		pt_fd_unreserve(fs);
	}
	pthread_mutex_unlock(&t->lock);
	return old != NULL;
}

/* Never called with inodes.lock held (it may take it to shrink the cache). */
int pt_fd_reserve(struct pt_fs *fs)
{
	for (;;) {
		if (atomic_fetch_add(&fs->nfds, 1) + 1 <= fs->fd_limit)
			return 0;
		atomic_fetch_sub(&fs->nfds, 1);
		if (!lru_evict_oldest(fs))
			return -ENFILE;
	}
}

static void inode_close_fd(struct pt_fs *fs, struct pt_inode *in)
{
	lru_unlink(&fs->inodes, in);
	if (in->fd >= 0) {
		close(in->fd);
		if (!in->fd_unbudgeted)
			pt_fd_unreserve(fs);
	}
	in->fd = -1;
	in->fd_unbudgeted = false;
	fh_drop(in);
}

/* Called with the lock held: a request's own fd (outside the budget) goes when it leaves. */
static void inode_close_fd_only(struct pt_inode *in)
{
	close(in->fd);
	in->fd = -1;
	in->fd_unbudgeted = false;
}

/* Called with the lock held, when neither the guest nor a request uses the inode any more. */
static void inode_free(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_itable *t = &fs->inodes;

	if (!in->broken)
		hash_remove(t, in);
	if (in->adopted)
		pt_idhash_del(&t->adopted, in->adopted_id);
	in->adopted = in->broken = false;
	inode_close_fd(fs, in);
	in->in_use = false;
	in->gen = pt_next_gen(in->gen);
	in->hnext = t->free_head;
	t->free_head = (int32_t)in->idx;
	t->count--;
}

uint64_t pt_inode_id(const struct pt_inode *in)
{
	return in->adopted ? in->adopted_id : (uint64_t)in->gen << 32 | in->idx;
}

/* Called with the lock held: a lookup's fd for an entry that has one already is closed, and
 * one for a handle inode without an fd becomes its (cached) fd. */
static void adopt_or_drop_fd(struct pt_fs *fs, struct pt_inode *in, int fd)
{
	if (in->has_fh && in->fd < 0) {
		in->fd = fd;
		if (in->refs == 0)
			lru_push(fs, in);
		return;
	}
	pt_fd_close(fs, fd);
}

/* Called with the lock held: an entry taken for an insert or adoption that failed goes back. */
static void inode_unalloc(struct pt_itable *t, struct pt_inode *in)
{
	in->hnext = t->free_head;
	t->free_head = (int32_t)in->idx;
}

/* Called with the lock held: a filled entry is counted, found by its key unless broken, and
 * its fd, when a file handle can reopen it, joins the fd cache. */
static void inode_publish(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_itable *t = &fs->inodes;

	t->count++;
	if (!in->broken) {
		hash_insert(t, in);
		hash_maybe_grow(t);
	}
	if (in->has_fh && in->fd >= 0)
		lru_push(fs, in);
}

/* fd (owned, reserved) may be -1 for an entry kept by its handle alone. */
static int insert(struct pt_fs *fs, int fd, const struct pt_key *key, mode_t type, bool root,
		  const struct file_handle *fh, int mount_fd, uint64_t *id)
{
	struct pt_itable *t = &fs->inodes;
	struct pt_inode *in;
	int r;

	pthread_mutex_lock(&t->lock);
	in = hash_find(t, key, fh);
	if (in) {
		in->nlookup++;
		*id = pt_inode_id(in);
		if (fd >= 0)
			adopt_or_drop_fd(fs, in, fd);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	r = inode_alloc(t, &in);
	if (r == 0 && fh) {
		r = fh_store(in, fh);
		if (r < 0)
			inode_unalloc(t, in);
	}
	if (r < 0) {
		pthread_mutex_unlock(&t->lock);
		goto out_drop_fd;
	}
	in->fd = fd;
	in->mount_fd = mount_fd;
	in->key = *key;
	in->type = type & S_IFMT;
	in->nlookup = 1;
	in->refs = 0;
	in->in_use = true;
	in->pinned = root;
	if (root)
		in->gen = 0;
	inode_publish(fs, in);
	*id = pt_inode_id(in);
	pthread_mutex_unlock(&t->lock);
	return 0;

out_drop_fd:
	if (fd >= 0)
		pt_fd_close(fs, fd);
	return r;
}

static struct pt_inode *inode_find(struct pt_itable *t, uint64_t id, bool live);

/* Called with the lock held: a free entry becomes the adopted id's (fh NULL: no handle). */
static int adopt_entry(struct pt_itable *t, uint64_t id, int fd, const struct file_handle *fh,
		       int mount_fd, mode_t type, uint64_t nlookup, struct pt_inode **out)
{
	struct pt_inode *in;
	int r = inode_find(t, id, false) ? -EEXIST : inode_alloc(t, &in);

	if (r < 0)
		return r;
	*in = (struct pt_inode){ .fd = fd, .mount_fd = mount_fd, .idx = in->idx, .gen = in->gen,
				 .type = (uint16_t)(type & S_IFMT), .nlookup = nlookup,
				 .in_use = true, .adopted = true, .broken = fd < 0,
				 .adopted_id = id };
	if (fh && (r = fh_store(in, fh)) < 0)
		goto out_unalloc;
	if ((r = pt_idhash_put(&t->adopted, id, (int32_t)in->idx)) < 0) {
		fh_drop(in);
		goto out_unalloc;
	}
	*out = in;
	return 0;

out_unalloc:
	in->in_use = in->adopted = in->broken = false;
	inode_unalloc(t, in);
	return r;
}

int pt_inode_adopt(struct pt_fs *fs, uint64_t id, int fd, const struct pt_key *key, mode_t type,
		   uint64_t nlookup)
{
	struct pt_itable *t = &fs->inodes;
	union pt_fh_buf b;
	struct pt_inode *in = NULL;
	int mount_fd = -1, r = 0;

	if (fd >= 0 && (r = pt_fh_of_fd(fs, fd, type & S_IFMT, &b, &mount_fd)) < 0)
		goto out_drop_fd;
	pthread_mutex_lock(&t->lock);
	r = adopt_entry(t, id, fd, r > 0 ? &b.fh : NULL, mount_fd, type, nlookup, &in);
	if (r < 0) {
		pthread_mutex_unlock(&t->lock);
		goto out_drop_fd;
	}
	if (key)
		in->key = *key;
	inode_publish(fs, in);
	pthread_mutex_unlock(&t->lock);
	return 0;

out_drop_fd:
	if (fd >= 0)
		pt_fd_close(fs, fd);
	return r;
}

int pt_inode_insert(struct pt_fs *fs, int fd, const struct pt_key *key, mode_t type, bool root,
		    uint64_t *id)
{
	union pt_fh_buf b;
	int mount_fd = -1, r = 0;

	if (!root) {
		r = pt_fh_of_fd(fs, fd, type & S_IFMT, &b, &mount_fd);
		if (r < 0) {
			pt_fd_close(fs, fd);
			return r;
		}
	}
	return insert(fs, fd, key, type, root, r ? &b.fh : NULL, mount_fd, id);
}

int pt_inode_insert_fh(struct pt_fs *fs, int fd, const struct pt_key *key, mode_t type,
		       uint64_t *id)
{
	union pt_fh_buf b;
	int mount_fd = -1, r = pt_fh_of_fd(fs, fd, type & S_IFMT, &b, &mount_fd);

	if (r <= 0)
		return r < 0 ? r : 1;
	return insert(fs, -1, key, type, false, &b.fh, mount_fd, id);
}

/*
 * The entry of a host inode seen by name (statx and, with handles, name_to_handle_at of the
 * name, no fd), counted as a lookup. Stricter than key_eq: an entry kept as a handle matches
 * only the same handle, since no fd keeps its inode alive and its number may have been reused;
 * an entry without one holds its inode open, so the key alone names it. Returns -ENOENT when
 * the inode is not in the table (the caller opens it and inserts it from the fd).
 */
int pt_inode_find_known(struct pt_fs *fs, const struct pt_key *key, const struct file_handle *fh,
			uint64_t *id)
{
	struct pt_itable *t = &fs->inodes;
	int32_t i;
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	for (i = t->buckets[key_hash(key) & (t->nbuckets - 1)]; i >= 0;
	     i = slot(t, (uint32_t)i)->hnext) {
		struct pt_inode *in = slot(t, (uint32_t)i);
		const struct pt_key *a = &in->key;

		if (a->dev != key->dev || a->ino != key->ino || a->mnt_id != key->mnt_id)
			continue;
		if (in->has_fh && (!fh || !pt_fh_equal(pt_inode_fh(in), fh)))
			continue;
		in->nlookup++;
		*id = pt_inode_id(in);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Looks up a guest id; with live=false a forgotten entry still held by a request matches. */
static struct pt_inode *inode_find(struct pt_itable *t, uint64_t id, bool live)
{
	uint32_t idx = (uint32_t)id;
	struct pt_inode *in = NULL;
	int32_t s;

	if (idx != 0 && idx < t->hwm) {
		in = slot(t, idx);
		if (!in->in_use || in->adopted || in->gen != (uint32_t)(id >> 32))
			in = NULL;
	}
	if (!in && (s = pt_idhash_get(&t->adopted, id)) >= 0)
		in = slot(t, (uint32_t)s);
	if (!in)
		return NULL;
	if (live && in->nlookup == 0 && !in->pinned)
		return NULL;
	return in;
}

/* A handle inode without an fd: open one outside the lock (the caller's ref keeps the entry);
 * of two racing openers, the second closes its own. */
static int inode_reopen(struct pt_fs *fs, struct pt_inode *in)
{
	/* With the guest's budget spent on open files, the fd is one of the request's own (the
	 * reserve covers those): closed when the request leaves, never cached. */
	bool budgeted = pt_fd_reserve(fs) == 0;
	int fd = pt_fh_open(in, O_PATH);

	if (fd < 0) {
		if (budgeted)
			pt_fd_unreserve(fs);
		return fd;
	}
	pthread_mutex_lock(&fs->inodes.lock);
	if (in->fd < 0) {
		in->fd = fd;
		in->fd_unbudgeted = !budgeted;
		fd = -1;
	}
	pthread_mutex_unlock(&fs->inodes.lock);
	if (fd >= 0) {
		close(fd);
		if (budgeted)
			pt_fd_unreserve(fs);
	}
	return 0;
}

int pt_inode_get(struct pt_fs *fs, uint64_t id, struct pt_inode **out)
{
	struct pt_itable *t = &fs->inodes;
	struct pt_inode *in;
	bool need_fd = false;
	int r;

	pthread_mutex_lock(&t->lock);
	in = inode_find(t, id, true);
	if (in && in->broken) {
		pthread_mutex_unlock(&t->lock);
		return -EIO; /* lost in a migration (--migration-on-error=guest-error) */
	}
	if (in) {
		in->refs++;
		lru_unlink(t, in);
		need_fd = in->fd < 0;
	}
	pthread_mutex_unlock(&t->lock);
	if (!in)
		return -EBADF;
	if (need_fd) {
		r = inode_reopen(fs, in);
		if (r < 0) {
			pt_inode_put(fs, in);
			return r;
		}
	}
	*out = in;
	return 0;
}

void pt_inode_put(struct pt_fs *fs, struct pt_inode *in)
{
	struct pt_itable *t = &fs->inodes;

	if (!in)
		return;
	pthread_mutex_lock(&t->lock);
	in->refs--;
	if (in->refs == 0 && in->nlookup == 0 && !in->pinned)
		inode_free(fs, in);
	else if (in->refs == 0 && in->has_fh && in->fd_unbudgeted)
		inode_close_fd_only(in);
	else if (in->refs == 0 && in->has_fh && in->fd >= 0)
		lru_push(fs, in);
	pthread_mutex_unlock(&t->lock);
}

void pt_inode_count_lookup(struct pt_fs *fs, struct pt_inode *in)
{
	pthread_mutex_lock(&fs->inodes.lock);
	in->nlookup++;
	pthread_mutex_unlock(&fs->inodes.lock);
}

void pt_inode_forget(struct pt_fs *fs, uint64_t id, uint64_t n)
{
	struct pt_itable *t = &fs->inodes;
	struct pt_inode *in;

	pthread_mutex_lock(&t->lock);
	in = inode_find(t, id, true);
	if (in && !in->pinned) {
		in->nlookup -= n < in->nlookup ? n : in->nlookup;
		if (in->nlookup == 0 && in->refs == 0)
			inode_free(fs, in);
	}
	pthread_mutex_unlock(&t->lock);
}

void pt_inode_forget_all(struct pt_fs *fs)
{
	struct pt_itable *t = &fs->inodes;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 1; i < t->hwm; i++) {
		struct pt_inode *in = slot(t, i);

		if (!in->in_use || in->pinned)
			continue;
		in->nlookup = 0;
		if (in->refs == 0)
			inode_free(fs, in);
	}
	pthread_mutex_unlock(&t->lock);
}

void pt_itable_fini(struct pt_fs *fs)
{
	struct pt_itable *t = &fs->inodes;

	for (uint32_t i = 1; i < t->hwm; i++)
		if (slot(t, i)->in_use)
			inode_close_fd(fs, slot(t, i));
	for (uint32_t c = 0; c < t->nchunks; c++)
		free(t->chunks[c]);
	free(t->chunks);
	free(t->buckets);
	pt_idhash_fini(&t->adopted);
	pthread_mutex_destroy(&t->lock);
}
