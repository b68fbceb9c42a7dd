/* Guest memory region table and address translation. Every range check is overflow-safe. */
#include "virtio/gmem.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

void gmem_init(struct gmem *m)
{
	m->nregions = 0;
}

/* Index of the region whose gpa is the largest one <= gpa, or -1. */
static int find_gpa_floor(const struct gmem *m, uint64_t gpa)
{
	int lo = 0, hi = (int)m->nregions - 1, best = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (m->regions[mid].gpa <= gpa) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

/* A region whose file the frontend truncated (a SIGBUS caught in it) is no longer used. */
static bool region_lost(const struct gmem_region *r)
{
	if (!gmem_guard_faulted(r->guard))
		return false;
	log_error_rl("guest memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
		     ": the frontend truncated its file after giving it to us; requests using "
		     "it fail",
		     r->gpa, r->size);
	return true;
}

static const struct gmem_region *find_gpa(const struct gmem *m, uint64_t gpa)
{
	int i = find_gpa_floor(m, gpa);

	if (i < 0 || gpa - m->regions[i].gpa >= m->regions[i].size || region_lost(&m->regions[i]))
		return NULL;
	return &m->regions[i];
}

static int insert_region(struct gmem *m, const struct gmem_region *r)
{
	int i;

	if (r->size == 0 || r->size > SIZE_MAX || r->size - 1 > UINT64_MAX - r->gpa ||
	    r->size - 1 > UINT64_MAX - r->uva)
		return -EINVAL;
	if (m->nregions >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	i = find_gpa_floor(m, r->gpa);
	/* The previous region must end before us and the next one start after our end. */
	if (i >= 0 && r->gpa - m->regions[i].gpa < m->regions[i].size)
		return -EINVAL;
	if (i + 1 < (int)m->nregions && m->regions[i + 1].gpa - r->gpa < r->size)
		return -EINVAL;
	memmove(&m->regions[i + 2], &m->regions[i + 1],
		(m->nregions - (unsigned)(i + 1)) * sizeof(m->regions[0]));
	m->regions[i + 1] = *r;
	m->nregions++;
	return 0;
}

int gmem_add_host(struct gmem *m, void *host, uint64_t gpa, uint64_t size, uint64_t uva)
{
	struct gmem_region r = {
	    .gpa = gpa,
	    .size = size,
	    .uva = uva,
	    .host = host,
	    .map_base = NULL,
	    .map_len = 0,
	    .guard = -1,
	};

	return insert_region(m, &r);
}

/* mmap offsets must be aligned to the backing's page size: huge pages for hugetlbfs, whose
 * st_blksize says how large they are. Other file systems put their preferred I/O size there
 * (NFS 1 MiB, ZFS 128 KiB, CephFS 4 MiB), which is no page size: their mappings are only
 * aligned to the system's pages, and so are the pages the SIGBUS guard may replace. */
static uint64_t map_alignment(int fd)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct statfs sf;
	struct stat st;

	if (fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC && fstat(fd, &st) == 0 &&
	    st.st_blksize > 0 && (uint64_t)st.st_blksize > page &&
	    (uint64_t)st.st_blksize <= (1ull << 30) &&
	    ((uint64_t)st.st_blksize & ((uint64_t)st.st_blksize - 1)) == 0)
		return (uint64_t)st.st_blksize;
	return page;
}

int gmem_add(struct gmem *m, int fd, uint64_t gpa, uint64_t size, uint64_t uva,
	     uint64_t mmap_offset)
{
	uint64_t align = map_alignment(fd);
	uint64_t map_off = mmap_offset & ~(align - 1);
	uint64_t delta = mmap_offset - map_off;
	struct gmem_region r = {.gpa = gpa, .size = size, .uva = uva, .guard = -1};
	void *p;
	int ret;

	if (size == 0 || size > SIZE_MAX - delta || size > (uint64_t)INT64_MAX ||
	    mmap_offset > (uint64_t)INT64_MAX - size) {
		log_error("guest memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			  " mmap_offset 0x%" PRIx64 ": bad size or offset",
			  gpa, size, mmap_offset);
		return -EINVAL;
	}
	/* A region past the end of its file would turn a guest access there into SIGBUS. */
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    mmap_offset + size > (uint64_t)st.st_size) {
		log_error("guest memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			  " mmap_offset 0x%" PRIx64 " is larger than its file (0x%" PRIx64
			  " bytes)",
			  gpa, size, mmap_offset, (uint64_t)st.st_size);
		return -EINVAL;
	}
	r.map_len = (size_t)(size + delta);
	p = mmap(NULL, r.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		 (off_t)map_off);
	if (p == MAP_FAILED) {
		ret = -errno;
		log_error("mmap of guest memory region gpa 0x%" PRIx64 " size 0x%" PRIx64
			  " failed: %s",
			  gpa, size, strerror(-ret));
		return ret;
	}
	r.map_base = p;
	r.host = (uint8_t *)p + delta;
	r.guard = gmem_guard_add(p, r.map_len, align);
	ret = insert_region(m, &r);
	if (ret < 0) {
		log_error("guest memory region gpa 0x%" PRIx64 " size 0x%" PRIx64 " refused: %s",
			  gpa, size, ret == -ENOSPC ? "too many regions" : "overlaps or overflows");
		gmem_guard_remove(r.guard);
		munmap(p, r.map_len);
	}
	return ret;
}

static void unmap_region(struct gmem_region *r)
{
	gmem_guard_remove(r->guard);
	if (r->map_base)
		munmap(r->map_base, r->map_len);
}

int gmem_remove(struct gmem *m, uint64_t gpa, uint64_t size)
{
	int i = find_gpa_floor(m, gpa);

	if (i < 0 || m->regions[i].gpa != gpa || m->regions[i].size != size)
		return -ENOENT;
	unmap_region(&m->regions[i]);
	memmove(&m->regions[i], &m->regions[i + 1],
		(m->nregions - (unsigned)i - 1) * sizeof(m->regions[0]));
	m->nregions--;
	return 0;
}

void gmem_clear(struct gmem *m)
{
	for (unsigned i = 0; i < m->nregions; i++)
		unmap_region(&m->regions[i]);
	m->nregions = 0;
}

void *gmem_gpa_to_host(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = find_gpa(m, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

void *gmem_uva_to_host(const struct gmem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (uva >= r->uva && uva - r->uva < r->size && len <= r->size - (uva - r->uva))
			return region_lost(r) ? NULL : r->host + (uva - r->uva);
	}
	return NULL;
}

int gmem_host_to_gpa(const struct gmem *m, const void *host, uint64_t len, uint64_t *gpa)
{
	uintptr_t h = (uintptr_t)host;

	for (unsigned i = 0; i < m->nregions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uintptr_t base = (uintptr_t)r->host;

		if (h >= base && h - base < r->size && len <= r->size - (h - base)) {
			*gpa = r->gpa + (h - base);
			return 0;
		}
	}
	return -EFAULT;
}

int gmem_map_iov(const struct gmem *m, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned *cnt,
		 unsigned max)
{
	unsigned n = *cnt;

	/* A range that wraps past the top of the address space is never valid. */
	if (len > 0 && len - 1 > UINT64_MAX - gpa)
		return -EFAULT;
	while (len > 0) {
		const struct gmem_region *r = find_gpa(m, gpa);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (n >= max)
			return -ENOBUFS;
		off = gpa - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		iov[n].iov_base = r->host + off;
		iov[n].iov_len = (size_t)chunk;
		n++;
		len -= chunk;
		gpa += chunk; /* wraps only when len is now 0 (checked above) */
	}
	*cnt = n;
	return 0;
}
