/*
 * A map from guest ids the tables did not make (adopted from a migration source) to their slot
 * index: open addressing with linear probing, at most half full, deletion by backward shift (no
 * tombstones). The ids are chosen by the source, so the hash is keyed with random numbers drawn
 * when the map first allocates: without the key no set of ids can be made to share a probe run.
 * Not locked: it lives inside a table and is used under that table's lock.
 */
#ifndef VFSD_FS_PT_IDHASH_H
#define VFSD_FS_PT_IDHASH_H

#include <stdbool.h>
#include <stdint.h>

struct pt_idhash {
	uint64_t *keys;
	int32_t *vals; /* -1: empty */
	uint32_t cap;  /* 0 or a power of two */
	uint32_t count;
	uint64_t mul, add; /* the key: mul odd */
};

/* 0, or -ENOMEM; -EEXIST if the id is there already (the map is unchanged). */
int pt_idhash_put(struct pt_idhash *h, uint64_t id, int32_t val);
/* The slot index of id, or -1. */
int32_t pt_idhash_get(const struct pt_idhash *h, uint64_t id);
void pt_idhash_del(struct pt_idhash *h, uint64_t id);
void pt_idhash_fini(struct pt_idhash *h);

#endif
