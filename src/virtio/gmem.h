/*
 * Guest memory: the region table the frontend gives us (SET_MEM_TABLE, ADD/REM_MEM_REG) and the
 * translation of guest-physical and frontend-virtual addresses into our own mappings.
 *
 * Not thread-safe by itself: the vhost layer changes the table only while queue threads are
 * excluded (write side of its memory lock); lookups run under the read side.
 */
#ifndef VFSD_VIRTIO_GMEM_H
#define VFSD_VIRTIO_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GMEM_MAX_REGIONS 509

struct gmem_region {
	uint64_t gpa; /* guest-physical start */
	uint64_t size;
	uint64_t uva;	/* start in the frontend's address space */
	uint8_t *host;	/* start in ours */
	void *map_base; /* what munmap needs */
	size_t map_len;
	int guard; /* gmem_guard slot of the mapping, -1 if none */
};

struct gmem {
	unsigned nregions;
	struct gmem_region regions[GMEM_MAX_REGIONS]; /* sorted by gpa, no overlap */
};

void gmem_init(struct gmem *m);
/* Map size bytes of fd from mmap_offset as the guest range [gpa, gpa+size). fd is not closed.
 * -EINVAL on empty/overflowing/overlapping ranges, -ENOSPC when the table is full. */
int gmem_add(struct gmem *m, int fd, uint64_t gpa, uint64_t size, uint64_t uva,
	     uint64_t mmap_offset);
/* Add an already mapped host range (tests, and the same checks as gmem_add). */
int gmem_add_host(struct gmem *m, void *host, uint64_t gpa, uint64_t size, uint64_t uva);
/* Unmap the region with this guest address and size; -ENOENT if there is none. */
int gmem_remove(struct gmem *m, uint64_t gpa, uint64_t size);
void gmem_clear(struct gmem *m);

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL. */
void *gmem_gpa_to_host(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Host pointer for the frontend virtual range [uva, uva+len) inside one region, else NULL. */
void *gmem_uva_to_host(const struct gmem *m, uint64_t uva, uint64_t len);
/* The guest address of the host range [host, host+len) inside one region (an iovec that
 * gmem_map_iov made); -EFAULT if it is not. For dirty logging of what we wrote. */
int gmem_host_to_gpa(const struct gmem *m, const void *host, uint64_t len, uint64_t *gpa);
/*
 * Append iovecs covering [gpa, gpa+len), split at region boundaries, to iov[*cnt..max).
 * -EFAULT if any byte is outside every region, -ENOBUFS if more than max iovecs would be needed.
 * *cnt is advanced only on success. len 0 appends nothing.
 */
int gmem_map_iov(const struct gmem *m, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned *cnt,
		 unsigned max);

/*
 * Recovery from a frontend that truncates guest RAM after mapping it (gmem_guard.c): a SIGBUS
 * in a guarded mapping gets a zero page and marks the slot; translations into it then fail.
 * gmem_guard_add returns the slot, or -1 (not guarded: no handler, or the table is full).
 */
int gmem_guard_add(void *base, size_t len, uint64_t align);
void gmem_guard_remove(int slot);
bool gmem_guard_faulted(int slot);

#endif
