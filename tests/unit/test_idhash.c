/* The adopted-id map (src/fs/pt_idhash.c): insert, look up, delete with backward shift, grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>

#include "fs/pt_idhash.h"

static void test_basic(void **state)
{
	struct pt_idhash h = {0};

	assert_int_equal(pt_idhash_get(&h, 0), -1);   /* empty, never allocated */
	pt_idhash_del(&h, 7);			      /* harmless */
	assert_int_equal(pt_idhash_put(&h, 0, 3), 0); /* id 0 is an id like any other */
	assert_int_equal(pt_idhash_put(&h, UINT64_MAX, 4), 0);
	assert_int_equal(pt_idhash_put(&h, 0, 5), -EEXIST);
	assert_int_equal(pt_idhash_put(&h, 9, -1), -EINVAL);
	assert_int_equal(pt_idhash_get(&h, 0), 3);
	assert_int_equal(pt_idhash_get(&h, UINT64_MAX), 4);
	pt_idhash_del(&h, 0);
	assert_int_equal(pt_idhash_get(&h, 0), -1);
	assert_int_equal(pt_idhash_get(&h, UINT64_MAX), 4);
	assert_int_equal(h.count, 1);
	pt_idhash_fini(&h);
}

/* Many ids, half of them deleted in a scattered order: every survivor is still found (a
 * deletion that broke a probe run would lose the entries behind it), and grow keeps them. */
static void test_runs_survive_deletes(void **state)
{
	enum { N = 20000 };
	struct pt_idhash h = {0};
	uint64_t *ids = malloc(N * sizeof(*ids));

	assert_non_null(ids);
	srand(7);
	for (int i = 0; i < N; i++) {
		/* Rust-like small ids, ours (generation << 32 | index), and random ones */
		ids[i] = i % 3 == 0 ? (uint64_t)i + 2
			 : i % 3 == 1
			     ? (uint64_t)(i % 5 + 1) << 32 | i
			     : ((uint64_t)rand() << 31) ^ (uint64_t)rand() ^ ((uint64_t)i << 48);
		assert_int_equal(pt_idhash_put(&h, ids[i], i), 0);
	}
	assert_int_equal(h.count, N);
	assert_true(h.cap >= 2 * N);
	for (int i = 0; i < N; i += 2)
		pt_idhash_del(&h, ids[(i * 7919) % N & ~1]);
	for (int i = 0; i < N; i++)
		assert_int_equal(pt_idhash_get(&h, ids[i]), i % 2 ? i : -1);
	assert_int_equal(h.count, N / 2);
	/* slots freed by deletion are reused */
	for (int i = 0; i < N; i += 2)
		assert_int_equal(pt_idhash_put(&h, ids[i], i), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pt_idhash_get(&h, ids[i]), i);
	free(ids);
	pt_idhash_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_runs_survive_deletes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
