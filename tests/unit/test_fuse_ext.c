/* The FUSE request extension parser (src/fuse/ext.c): well-formed areas and every way to lie. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fuse/ext.h"

struct area {
	uint64_t q[8192]; /* 8-byte aligned, 64 KiB */
	size_t len;
};

static uint8_t *at(struct area *a)
{
	return (uint8_t *)a->q + a->len;
}

static void put_hdr(struct area *a, uint32_t size, uint32_t type)
{
	struct fuse_ext_header h = {.size = size, .type = type};

	memcpy(at(a), &h, sizeof(h));
}

/* One context record: nr contexts claimed, one described; vsize_claim overrides the size. */
static void put_secctx(struct area *a, uint32_t nr, const char *name, const void *v, uint32_t vlen,
		       uint32_t vsize_claim)
{
	struct fuse_secctx c = {.size = vsize_claim};
	size_t nlen = strlen(name) + 1, body = nr ? sizeof(c) + nlen + vlen : 0;
	uint32_t size = (uint32_t)FUSE_REC_ALIGN(8 + body);
	uint8_t *p = at(a);

	memset(p, 0, size);
	put_hdr(a, size, nr);
	if (nr) {
		memcpy(p + 8, &c, sizeof(c));
		memcpy(p + 16, name, nlen);
		memcpy(p + 16 + nlen, v, vlen);
	}
	a->len += size;
}

static void put_groups(struct area *a, const uint32_t *g, uint32_t n, uint32_t claim)
{
	uint32_t size = (uint32_t)FUSE_REC_ALIGN(12 + 4 * n);
	uint8_t *p = at(a);

	memset(p, 0, size);
	put_hdr(a, size, FUSE_EXT_TYPE_GROUPS);
	memcpy(p + 8, &claim, 4);
	memcpy(p + 12, g, 4 * n);
	a->len += size;
}

static int parse(struct area *a, struct fuse_ext *e)
{
	memset(e, 0x5a, sizeof(*e));
	return fuse_ext_parse(a->q, a->len, e);
}

static void test_empty_and_framing(void **state)
{
	static struct area a;
	struct fuse_ext e;

	a.len = 0;
	assert_int_equal(parse(&a, &e), 0);
	assert_false(e.has_secctx);
	assert_false(e.has_groups);
	/* Not a multiple of 8, not aligned. */
	assert_int_equal(fuse_ext_parse(a.q, 4, &e), -EINVAL);
	assert_int_equal(fuse_ext_parse((uint8_t *)a.q + 4, 8, &e), -EINVAL);
	/* Records: shorter than a header, not a multiple of 8, past the area. */
	const uint32_t sizes[] = {0, 4, 12, 24, 0xfffffff8u};

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		a.len = 0;
		put_hdr(&a, sizes[i], 40);
		a.len = 16;
		assert_int_equal(parse(&a, &e), -EINVAL);
	}
	/* Unknown types are skipped, however many. */
	a.len = 0;
	for (int i = 0; i < 100; i++) {
		put_hdr(&a, 8, 33 + (uint32_t)i);
		a.len += 8;
	}
	assert_int_equal(parse(&a, &e), 0);
	assert_false(e.has_secctx || e.has_groups);
}

static void test_secctx(void **state)
{
	static struct area a;
	struct fuse_ext e;

	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "system_u:object_r:x:s0", 22, 22);
	assert_int_equal(parse(&a, &e), 0);
	assert_true(e.has_secctx);
	assert_string_equal(e.secctx.name, "security.selinux");
	assert_int_equal(e.secctx.size, 22);
	assert_memory_equal(e.secctx.value, "system_u:object_r:x:s0", 22);
	/* nr_secctx 0: a header, no context. */
	a.len = 0;
	put_secctx(&a, 0, "", NULL, 0, 0);
	assert_int_equal(parse(&a, &e), 0);
	assert_false(e.has_secctx);
	/* An empty value is a value. */
	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "", 0, 0);
	assert_int_equal(parse(&a, &e), 0);
	assert_int_equal(e.secctx.size, 0);
}

static void test_secctx_bad(void **state)
{
	static struct area a;
	static char longname[300];
	struct fuse_ext e;

	/* The value's size runs past the record, or past XATTR_SIZE_MAX. */
	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "abc", 3, 100);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "abc", 3, 65537);
	assert_int_equal(parse(&a, &e), -EINVAL);
	/* An empty name, a name with no NUL in the record, a name over 255 bytes, a name outside
	 * security.*, the bare prefix. */
	a.len = 0;
	put_secctx(&a, 1, "", "abc", 3, 3);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "", 0, 0);
	memset((uint8_t *)a.q + 16, 'n', a.len - 16);
	assert_int_equal(parse(&a, &e), -EINVAL);
	memcpy(longname, "security.", 9);
	memset(longname + 9, 'l', 260);
	a.len = 0;
	put_secctx(&a, 1, longname, "v", 1, 1);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_secctx(&a, 1, "user.x", "v", 1, 1);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_secctx(&a, 1, "security.", "v", 1, 1);
	assert_int_equal(parse(&a, &e), -EINVAL);
	/* Only the label names an LSM sends: not file capabilities, integrity data, another
	 * security.* name, or a longer name with a label name as its prefix. */
	static const char *const refused[] = { "security.capability", "security.ima",
					       "security.evm", "security.x",
					       "security.selinuxx", "security.SMACK64EXEC",
					       "security.smack64", "security.selinu" };

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		a.len = 0;
		put_secctx(&a, 1, refused[i], "v", 1, 1);
		if (parse(&a, &e) != -EINVAL)
			fail_msg("security context name %s accepted", refused[i]);
	}
	a.len = 0;
	put_secctx(&a, 1, "security.SMACK64", "v", 1, 1);
	assert_int_equal(parse(&a, &e), 0);
	assert_string_equal(e.secctx.name, "security.SMACK64");
	/* More than one context in a record; two records. */
	a.len = 0;
	put_secctx(&a, 2, "security.selinux", "v", 1, 1);
	assert_int_equal(parse(&a, &e), -EOPNOTSUPP);
	a.len = 0;
	put_secctx(&a, 1, "security.selinux", "v", 1, 1);
	put_secctx(&a, 0, "", NULL, 0, 0);
	assert_int_equal(parse(&a, &e), -EINVAL);
	/* A record too short for the fuse_secctx it claims. */
	a.len = 0;
	put_hdr(&a, 8, 1);
	a.len = 8;
	assert_int_equal(parse(&a, &e), -EINVAL);
}

static void test_groups(void **state)
{
	static struct area a;
	const uint32_t g[3] = {10, 20, 30};
	struct fuse_ext e;

	a.len = 0;
	put_groups(&a, g, 3, 3);
	put_secctx(&a, 1, "security.selinux", "v", 1, 1);
	assert_int_equal(parse(&a, &e), 0);
	assert_true(e.has_groups && e.has_secctx);
	assert_int_equal(e.ngroups, 3);
	assert_int_equal(e.groups[2], 30);
	assert_int_equal((uintptr_t)e.groups % 4, 0);
	/* Fewer claimed than carried is fine; none at all too. */
	a.len = 0;
	put_groups(&a, g, 3, 1);
	assert_int_equal(parse(&a, &e), 0);
	assert_int_equal(e.ngroups, 1);
	a.len = 0;
	put_groups(&a, g, 0, 0);
	assert_int_equal(parse(&a, &e), 0);
	assert_true(e.has_groups);
	assert_int_equal(e.ngroups, 0);
	/* More claimed than the record carries (3 fit in the padding of 2: claim 4); a huge
	 * claim; a record without the count; two group records. */
	a.len = 0;
	put_groups(&a, g, 2, 4);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_groups(&a, g, 1, 0xffffffffu);
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_hdr(&a, 8, FUSE_EXT_TYPE_GROUPS);
	a.len = 8;
	assert_int_equal(parse(&a, &e), -EINVAL);
	a.len = 0;
	put_groups(&a, g, 1, 1);
	put_groups(&a, g, 1, 1);
	assert_int_equal(parse(&a, &e), -EINVAL);
	/* The most the kernel allows, and one more. */
	static struct area big;
	static uint32_t many[FUSE_EXT_GROUPS_MAX + 1];

	memset(&big, 0, sizeof(big));
	uint32_t n = (sizeof(big.q) - 16) / 4;

	big.len = 0;
	put_groups(&big, many, n, n);
	assert_int_equal(parse(&big, &e), 0);
	assert_int_equal(e.ngroups, n);
}

/* The 7.36/7.37 form: the record is the request's last argument, at any alignment. */
static void test_trailing(void **state)
{
	static struct area a;
	struct fs_secctx sc;
	bool present;
	size_t used;

	a.len = 1;
	put_secctx(&a, 1, "security.selinux", "lbl", 3, 3);
	assert_int_equal(fuse_secctx_parse((uint8_t *)a.q + 1, a.len - 1, &sc, &present, &used), 0);
	assert_true(present);
	assert_int_equal(used, a.len - 1);
	assert_memory_equal(sc.value, "lbl", 3);
	/* Shorter than its header says; an nr beyond FUSE_MAX_NR_SECCTX. */
	assert_int_equal(fuse_secctx_parse((uint8_t *)a.q + 1, a.len - 9, &sc, &present, &used),
			 -EINVAL);
	a.len = 0;
	put_hdr(&a, 8, 40);
	assert_int_equal(fuse_secctx_parse(a.q, 8, &sc, &present, &used), -EINVAL);
	assert_int_equal(fuse_secctx_parse(a.q, 4, &sc, &present, &used), -EINVAL);
}

/* Random areas: never a crash or a read outside the area (ASan), and what is returned lies
 * inside it. */
static void test_random(void **state)
{
	static struct area a;
	struct fuse_ext e;

	srand(12345);
	for (int it = 0; it < 200000; it++) {
		size_t n = (size_t)(rand() % 8) * 8;
		uint8_t *p = (uint8_t *)a.q;

		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)rand();
		/* Plausible headers often, so the parser goes deep. */
		if (n >= 8 && rand() % 2) {
			uint32_t sz = (uint32_t)(8 * (1 + rand() % (int)(n / 8)));
			uint32_t ty = (uint32_t)(rand() % 3 == 0 ? 32 : rand() % 3);

			memcpy(p, &sz, 4);
			memcpy(p + 4, &ty, 4);
		}
		a.len = n;
		if (fuse_ext_parse(a.q, n, &e) == 0) {
			if (e.has_secctx) {
				assert_true((const uint8_t *)e.secctx.value >= p);
				assert_true((const uint8_t *)e.secctx.value + e.secctx.size <=
					    p + n);
			}
			if (e.has_groups && e.ngroups)
				assert_true((const uint8_t *)(e.groups + e.ngroups) <= p + n);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_framing), cmocka_unit_test(test_secctx),
	    cmocka_unit_test(test_secctx_bad),	      cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_trailing),	      cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests_name("fuse_ext", tests, NULL, NULL);
}
