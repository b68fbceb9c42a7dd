/*
 * The passthrough handle table: open files and directories, under ids made like the inode
 * table's (index + generation, see pt_inode.c) or adopted from a migration source.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/pt_internal.h"

int pt_htable_init(struct pt_htable *t)
{
	*t = (struct pt_htable){ .hwm = 1, .free_head = -1 };
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

static int handle_alloc(struct pt_htable *t, struct pt_handle **out)
{
	struct pt_handle *h;
	int r;

	if (t->free_head >= 0) {
		h = t->slots[t->free_head];
		t->free_head = h->free_next;
		h->gen = pt_gen_free_of(&t->adopted, h->idx, h->gen);
		*out = h;
		return 0;
	}
	r = pt_grow_slots((void ***)&t->slots, &t->cap, t->hwm);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->idx = t->hwm;
	h->gen = pt_gen_free_of(&t->adopted, h->idx, 1);
	pthread_mutex_init(&h->dir_lock, NULL);
	t->slots[t->hwm++] = h;
	*out = h;
	return 0;
}

static void handle_free(struct pt_fs *fs, struct pt_handle *h)
{
	pt_fd_close(fs, h->fd);
	h->fd = -1;
	if (h->adopted)
		pt_idhash_del(&fs->handles.adopted, h->adopted_id);
	h->adopted = false;
	h->in_use = false;
	h->gen = pt_next_gen(h->gen);
	h->free_next = fs->handles.free_head;
	fs->handles.free_head = (int32_t)h->idx;
}

uint64_t pt_handle_id(const struct pt_handle *h)
{
	return h->adopted ? h->adopted_id : (uint64_t)h->gen << 32 | h->idx;
}

/* Called with the lock held: a newly taken entry holds fd for inode ino. */
static void handle_fill(struct pt_handle *h, int fd, uint64_t ino)
{
	h->fd = fd;
	h->ino = ino;
	h->refs = 0;
	h->in_use = true;
	h->released = false;
	h->dir_pos = 0;
}

int pt_handle_add(struct pt_fs *fs, uint64_t ino, int fd, uint64_t *fh)
{
	struct pt_htable *t = &fs->handles;
	struct pt_handle *h;
	int r;

	pthread_mutex_lock(&t->lock);
	r = handle_alloc(t, &h);
	if (r < 0) {
		pthread_mutex_unlock(&t->lock);
		pt_fd_close(fs, fd);
		return r == -ENFILE ? -EMFILE : r;
	}
	handle_fill(h, fd, ino);
	*fh = pt_handle_id(h);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static struct pt_handle *handle_find(struct pt_htable *t, uint64_t fh);

int pt_handle_adopt(struct pt_fs *fs, uint64_t id, int fd, uint64_t ino)
{
	struct pt_htable *t = &fs->handles;
	struct pt_handle *h = NULL;
	int r;

	pthread_mutex_lock(&t->lock);
	r = handle_find(t, id) ? -EEXIST : handle_alloc(t, &h);
	if (r == 0 && (r = pt_idhash_put(&t->adopted, id, (int32_t)h->idx)) < 0) {
		h->free_next = t->free_head;
		t->free_head = (int32_t)h->idx;
	}
	if (r < 0) {
		pthread_mutex_unlock(&t->lock);
		pt_fd_close(fs, fd);
		return r;
	}
	handle_fill(h, fd, ino);
	h->adopted = true;
	h->adopted_id = id;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static struct pt_handle *handle_find(struct pt_htable *t, uint64_t fh)
{
	uint32_t idx = (uint32_t)fh;
	struct pt_handle *h = NULL;
	int32_t s;

	if (idx != 0 && idx < t->hwm) {
		h = t->slots[idx];
		if (!h->in_use || h->adopted || h->gen != (uint32_t)(fh >> 32))
			h = NULL;
	}
	if (!h && (s = pt_idhash_get(&t->adopted, fh)) >= 0)
		h = t->slots[s];
	if (!h || h->released)
		return NULL;
	return h;
}

int pt_handle_get(struct pt_fs *fs, uint64_t ino, uint64_t fh, struct pt_handle **out)
{
	struct pt_htable *t = &fs->handles;
	struct pt_handle *h;

	pthread_mutex_lock(&t->lock);
	h = handle_find(t, fh);
	if (h && h->ino != ino)
		h = NULL; /* another inode's open file: never act on it */
	if (h)
		h->refs++;
	pthread_mutex_unlock(&t->lock);
	if (!h)
		return -EBADF;
	*out = h;
	return 0;
}

void pt_handle_put(struct pt_fs *fs, struct pt_handle *h)
{
	struct pt_htable *t = &fs->handles;

	if (!h)
		return;
	pthread_mutex_lock(&t->lock);
	h->refs--;
	if (h->refs == 0 && h->released)
		handle_free(fs, h);
	pthread_mutex_unlock(&t->lock);
}

int pt_handle_release(struct pt_fs *fs, uint64_t fh)
{
	struct pt_htable *t = &fs->handles;
	struct pt_handle *h;

	pthread_mutex_lock(&t->lock);
	h = handle_find(t, fh);
	if (h) {
		h->released = true;
		if (h->refs == 0)
			handle_free(fs, h);
	}
	pthread_mutex_unlock(&t->lock);
	return h ? 0 : -EBADF;
}

void pt_handle_release_all(struct pt_fs *fs)
{
	struct pt_htable *t = &fs->handles;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 1; i < t->hwm; i++) {
		struct pt_handle *h = t->slots[i];

		if (!h->in_use || h->released)
			continue;
		h->released = true;
		if (h->refs == 0)
			handle_free(fs, h);
	}
	pthread_mutex_unlock(&t->lock);
}

void pt_htable_fini(struct pt_fs *fs)
{
	struct pt_htable *t = &fs->handles;

	for (uint32_t i = 1; i < t->hwm; i++) {
		if (t->slots[i]->in_use) {
			pt_fd_close(fs, t->slots[i]->fd);
		}
		pthread_mutex_destroy(&t->slots[i]->dir_lock);
		free(t->slots[i]);
	}
	free(t->slots);
	pt_idhash_fini(&t->adopted);
	pthread_mutex_destroy(&t->lock);
}
