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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memfd_offset),
	    cmocka_unit_test(test_bad_regions),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_map_iov),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
