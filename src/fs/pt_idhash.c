/* Adopted guest id -> slot index (see pt_idhash.h). */
#include "fs/pt_idhash.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <sys/random.h>

#define IDHASH_MIN 64u
#define IDHASH_MAX (1u << 26) /* twice the tables' 2^24 slots, and some */

/*
 * A keyed affine map, then the splitmix64 finalizer, whose top bits index the table: the
 * affine step alone would keep an arithmetic progression of ids one (the source can choose
 * them so), which strides over the table in clumps for some keys; the finalizer scatters
 * neighbours. Without the key the source cannot aim at a slot.
 */
static uint32_t slot_of(const struct pt_idhash *h, uint64_t id)
{
	uint64_t x = id * h->mul + h->add;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	return (uint32_t)(x >> (64 - __builtin_ctz(h->cap)));
}

/* getrandom fails only before the kernel's pool is ready (early boot): the clock then, which a
 * source on another host cannot read. */
static void new_key(struct pt_idhash *h)
{
	uint64_t k[2];

	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		k[0] = (uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^ (uintptr_t)h;
		k[1] = k[0] * 0x9e3779b97f4a7c15ull;
	}
	h->mul = k[0] | 1;
	h->add = k[1];
}

static void insert_raw(struct pt_idhash *h, uint64_t id, int32_t val)
{
	uint32_t i = slot_of(h, id);

	while (h->vals[i] >= 0)
		i = (i + 1) & (h->cap - 1);
	h->keys[i] = id;
	h->vals[i] = val;
	h->count++;
}

static int grow(struct pt_idhash *h)
{
	struct pt_idhash n = {
	    .cap = h->cap ? h->cap * 2 : IDHASH_MIN, .mul = h->mul, .add = h->add};

	if (n.cap > IDHASH_MAX)
		return -ENOMEM;
	if (!h->cap)
		new_key(&n);
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	if (!n.keys || !n.vals) {
		free(n.keys);
		free(n.vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n.cap; i++)
		n.vals[i] = -1;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->vals[i] >= 0)
			insert_raw(&n, h->keys[i], h->vals[i]);
	pt_idhash_fini(h);
	*h = n;
	return 0;
}

int32_t pt_idhash_get(const struct pt_idhash *h, uint64_t id)
{
	if (!h->count)
		return -1;
	for (uint32_t i = slot_of(h, id); h->vals[i] >= 0; i = (i + 1) & (h->cap - 1))
		if (h->keys[i] == id)
			return h->vals[i];
	return -1;
}

int pt_idhash_put(struct pt_idhash *h, uint64_t id, int32_t val)
{
	int r;

	if (val < 0)
		return -EINVAL;
	if (pt_idhash_get(h, id) >= 0)
		return -EEXIST;
	if ((h->count + 1) * 2 > h->cap && (r = grow(h)) < 0)
		return r;
	insert_raw(h, id, val);
	return 0;
}

/* Backward shift: each following entry of the run moves into the hole if its home slot does
 * not lie (cyclically) between the hole and itself. */
void pt_idhash_del(struct pt_idhash *h, uint64_t id)
{
	uint32_t mask = h->cap - 1, i, j;

	if (!h->count)
		return;
	for (i = slot_of(h, id); h->vals[i] >= 0; i = (i + 1) & mask)
		if (h->keys[i] == id)
			break;
	if (h->vals[i] < 0)
		return;
	h->vals[i] = -1;
	h->count--;
	for (j = (i + 1) & mask; h->vals[j] >= 0; j = (j + 1) & mask) {
		uint32_t home = slot_of(h, h->keys[j]);

		if (((j - home) & mask) >= ((j - i) & mask)) {
			h->keys[i] = h->keys[j];
			h->vals[i] = h->vals[j];
			h->vals[j] = -1;
			i = j;
		}
	}
}

void pt_idhash_fini(struct pt_idhash *h)
{
	free(h->keys);
	free(h->vals);
	*h = (struct pt_idhash){0};
}
