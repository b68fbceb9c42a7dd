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

/* The longest run of occupied slots (cyclic): no probe is longer. */
static uint32_t longest_run(const struct pt_idhash *h)
{
	uint32_t best = 0, run = 0, start = 0;

	while (start < h->cap && h->vals[start] >= 0) /* a run that wraps: count it once */
		start++;
	for (uint32_t k = 1; k <= h->cap; k++) {
		uint32_t i = (start + k) & (h->cap - 1);

		run = h->vals[i] >= 0 ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* The inverse of an odd number modulo 2^64 (Newton: each step doubles the correct bits). */
static uint64_t inverse_of(uint64_t m)
{
	uint64_t x = m; /* m * m = 1 mod 8: 3 bits */

	for (int i = 0; i < 5; i++)
		x *= 2 - m * x;
	return x;
}

/*
 * A source chooses the ids. Three sets that collide under fixed hashes: k times the inverse of
 * the golden-ratio multiplier the map once used (id * 0x9e37... = k: bits 32 up all 0, so one
 * slot at every size), k << 40 (equal low bits: one slot for any multiplier that keeps the
 * middle bits of the product) and plain 2..N+1 (Rust's own). Every run stays short.
 */
static void test_chosen_ids(void **state)
{
	enum { N = 10000, RUN_MAX = 256 };
	const uint64_t old_mul = 0x9e3779b97f4a7c15ull, inv = inverse_of(old_mul);

	assert_true(old_mul * inv == 1);
	for (int set = 0; set < 3; set++) {
		struct pt_idhash h = {0};

		for (uint64_t k = 1; k <= N; k++) {
			uint64_t id = set == 0 ? k * inv : set == 1 ? k << 40 : k + 1;

			assert_int_equal(pt_idhash_put(&h, id, (int32_t)k), 0);
		}
		if (longest_run(&h) > RUN_MAX)
			fail_msg("ids of set %d: a probe run of %u slots (of %u)", set,
				 longest_run(&h), h.cap);
		for (uint64_t k = 1; k <= N; k++) {
			uint64_t id = set == 0 ? k * inv : set == 1 ? k << 40 : k + 1;

			assert_int_equal(pt_idhash_get(&h, id), (int32_t)k);
		}
		pt_idhash_fini(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_runs_survive_deletes),
	    cmocka_unit_test(test_chosen_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
