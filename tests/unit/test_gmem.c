/* Guest memory table: mapping region fds with offsets, overlap and limit checks, translation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>

#include "virtio/gmem.h"

static int make_memfd(size_t size)
{
	int fd = memfd_create("gmem-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void test_memfd_offset(void **state)
{
	struct gmem *m = malloc(sizeof(*m));
	int fd = make_memfd(0x20000);
	uint8_t *p;

	gmem_init(m);
	assert_int_equal(pwrite(fd, "XY", 2, 0x10000), 2);
	assert_int_equal(pwrite(fd, "ZW", 2, 0x10100), 2);
	/* Region starts 0x10000 into the fd; a non-page-aligned offset works too. */
	assert_int_equal(gmem_add(m, fd, 0x40000, 0x8000, 0x7000000000, 0x10000), 0);
	assert_int_equal(gmem_add(m, fd, 0x50000, 0x100, 0x7000100000, 0x10100), 0);
	close(fd);
	p = gmem_gpa_to_host(m, 0x40000, 2);
	assert_non_null(p);
	assert_memory_equal(p, "XY", 2);
	p = gmem_gpa_to_host(m, 0x50000, 2);
	assert_non_null(p);
	assert_memory_equal(p, "ZW", 2);
	p = gmem_uva_to_host(m, 0x7000000000, 0x8000);
	assert_non_null(p);
	assert_memory_equal(p, "XY", 2);
	assert_null(gmem_uva_to_host(m, 0x7000000000, 0x8001));
	assert_null(gmem_gpa_to_host(m, 0x47fff, 2));
	assert_non_null(gmem_gpa_to_host(m, 0x47fff, 1));
	assert_int_equal(gmem_remove(m, 0x40000, 0x1000), -ENOENT);
	assert_int_equal(gmem_remove(m, 0x40000, 0x8000), 0);
	assert_null(gmem_gpa_to_host(m, 0x40000, 1));
	assert_non_null(gmem_gpa_to_host(m, 0x50000, 1));
	gmem_clear(m);
	assert_int_equal(m->nregions, 0);
	free(m);
}

static void test_bad_regions(void **state)
{
	struct gmem *m = malloc(sizeof(*m));
	static uint8_t buf[0x3000];

	gmem_init(m);
	assert_int_equal(gmem_add_host(m, buf, 0x1000, 0x1000, 0), 0);
	assert_int_equal(gmem_add_host(m, buf, 0x1000, 0x1000, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, 0x800, 0x1000, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, 0x1fff, 0x10, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, 0x0, 0x1001, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, 0x0, 0x1000, 0), 0);
	assert_int_equal(gmem_add_host(m, buf, 0x2000, 0x1000, 0), 0);
	assert_int_equal(gmem_add_host(m, buf, 0x5000, 0, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, UINT64_MAX - 0xff, 0x1000, 0), -EINVAL);
	assert_int_equal(gmem_add_host(m, buf, 0x10000, 0x1000, UINT64_MAX - 0x10), -EINVAL);
	assert_int_equal(m->nregions, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(m->regions[i].gpa, 0x1000ull * i);
	/* A bad fd is refused, with nothing added. */
	assert_true(gmem_add(m, -1, 0x100000, 0x1000, 0, 0) < 0);
	assert_int_equal(gmem_add(m, -1, 0x100000, 0x1000, 0, UINT64_MAX - 10), -EINVAL);
	assert_int_equal(m->nregions, 3);
	free(m);
}

static void test_limit(void **state)
{
	struct gmem *m = malloc(sizeof(*m));
	static uint8_t buf[0x10];

	gmem_init(m);
	for (unsigned i = 0; i < GMEM_MAX_REGIONS; i++)
		assert_int_equal(gmem_add_host(m, buf, 0x10ull * (GMEM_MAX_REGIONS - i), 0x10, 0),
				 0);
	assert_int_equal(gmem_add_host(m, buf, 0x100000, 0x10, 0), -ENOSPC);
	for (unsigned i = 1; i < GMEM_MAX_REGIONS; i++)
		assert_true(m->regions[i - 1].gpa < m->regions[i].gpa);
	assert_non_null(gmem_gpa_to_host(m, 0x10 * 300 + 5, 1));
	free(m);
}

static void test_map_iov(void **state)
{
	struct gmem *m = malloc(sizeof(*m));
	static uint8_t a[0x100], b[0x100], c[0x100];
	struct iovec iov[4];
	unsigned n = 0;

	gmem_init(m);
	assert_int_equal(gmem_add_host(m, a, 0x0, 0x100, 0), 0);
	assert_int_equal(gmem_add_host(m, b, 0x100, 0x100, 0), 0);
	assert_int_equal(gmem_add_host(m, c, 0x200, 0x100, 0), 0);
	assert_int_equal(gmem_map_iov(m, 0x80, 0x200, iov, &n, 4), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(iov[0].iov_base, a + 0x80);
	assert_int_equal(iov[0].iov_len, 0x80);
	assert_ptr_equal(iov[1].iov_base, b);
	assert_int_equal(iov[1].iov_len, 0x100);
	assert_ptr_equal(iov[2].iov_base, c);
	assert_int_equal(iov[2].iov_len, 0x80);
	/* Not enough room: nothing is counted. */
	assert_int_equal(gmem_map_iov(m, 0x80, 0x200, iov, &n, 4), -ENOBUFS);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(gmem_map_iov(m, 0x280, 0x81, iov, &n, 4), -EFAULT);
	assert_int_equal(gmem_map_iov(m, UINT64_MAX, 2, iov, &n, 4), -EFAULT);
	assert_int_equal(gmem_map_iov(m, 0x300, 0, iov, &n, 4), 0);
	assert_int_equal(n, 0);
	free(m);
}

/*
 * The SIGBUS guard replaces a lost page of a truncated region, never memory beside it: a
 * mapping whose file system reports a large st_blksize (NFS: 1 MiB) is aligned to 4 KiB only,
 * and a 1 MiB "page" around the fault would cover its neighbours. Two 64 KiB memfd mappings in
 * a reservation filled with a sentinel, one not 1 MiB-aligned, one 1 MiB-aligned but shorter
 * than 1 MiB, both guarded as if their pages were 1 MiB: after the file is truncated and a
 * byte of each is read (SIGBUS, recovered), the sentinel around them is intact.
 */
static void test_guard_patches_inside(void **state)
{
	const size_t mib = 1u << 20, len = 0x10000;
	size_t rsv_len = 6 * mib;
	uint8_t *rsv = mmap(NULL, rsv_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	uintptr_t mib_up;

	(void)state;
	assert_true(rsv != MAP_FAILED);
	memset(rsv, 0xa5, rsv_len);
	mib_up = ((uintptr_t)rsv + mib - 1) & ~(uintptr_t)(mib - 1);
	uint8_t *bases[2] = {(uint8_t *)mib_up + mib + len, (uint8_t *)mib_up + 3 * mib};

	for (unsigned k = 0; k < 2; k++) {
		uint8_t *base = bases[k];
		int fd = make_memfd(len), slot;
		volatile uint8_t *v = base;

		assert_true(mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
			    base);
		memset(base, 0x11, len);
		slot = gmem_guard_add(base, len, mib);
		assert_true(slot >= 0);
		assert_false(gmem_guard_faulted(slot));
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(v[0x8000], 0); /* SIGBUS, recovered on a zero page */
		assert_true(gmem_guard_faulted(slot));
		gmem_guard_remove(slot);
		close(fd);
		for (size_t i = 0; i < rsv_len; i++) {
			uint8_t *p = rsv + i;

			if (p >= bases[0] && p < bases[0] + len)
				continue;
			if (p >= bases[1] && p < bases[1] + len)
				continue;
			if (*p != 0xa5)
				fail_msg("mapping %u: byte %zd from its start changed (0x%02x)", k,
					 (ssize_t)(p - base), *p);
		}
	}
	munmap(rsv, rsv_len);
}

int main(void)
{
	/* The guard test first: its handler is installed once per process, at the first guarded
	 * mapping, and cmocka restores the SIGBUS disposition it found after each test. */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guard_patches_inside),
	    cmocka_unit_test(test_memfd_offset),
	    cmocka_unit_test(test_bad_regions),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_map_iov),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
