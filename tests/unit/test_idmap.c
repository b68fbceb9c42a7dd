/* UID/GID translation: every type, both directions, overlaps, bad values, the edges of 32 bits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "stderr_capture.h"
#include "fs/idmap.h"

static char errbuf[4096];

/* idmap_add with stderr captured into errbuf. */
static int add(struct idmap *m, const char *spec)
{
	int saved;
	FILE *f = stderr_capture_begin(&saved);
	int r = idmap_add(m, spec);

	stderr_capture_end(f, saved, errbuf, sizeof(errbuf));
	return r;
}

static void must_add(struct idmap *m, const char *spec)
{
	if (add(m, spec) != 0)
		fail_msg("'%s' refused: %s", spec, errbuf);
	assert_string_equal(errbuf, "");
}

static void must_refuse(struct idmap *m, const char *spec, const char *msg_part)
{
	size_t g = m->n_g2h, h = m->n_h2g;

	assert_int_equal(add(m, spec), -EINVAL);
	if (!strstr(errbuf, msg_part))
		fail_msg("error for '%s' lacks '%s': %s", spec, msg_part, errbuf);
	assert_ptr_equal(strchr(errbuf, '\n'), errbuf + strlen(errbuf) - 1); /* one line */
	assert_int_equal(m->n_g2h, g); /* unchanged */
	assert_int_equal(m->n_h2g, h);
}

/* Guest to host as a number, or -1 for EPERM. */
static int64_t g2h(const struct idmap *m, uint32_t id)
{
	uint32_t h = 0xdeadbeef;
	int r = idmap_guest_to_host(m, id, &h);
	if (r == -EPERM) {
		assert_int_equal(h, 0xdeadbeef); /* not written on failure */
		return -1;
	}
	assert_int_equal(r, 0);
	return h;
}

static void test_empty(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	assert_true(idmap_is_empty(&m));
	assert_int_equal(g2h(&m, 0), 0);
	assert_int_equal(g2h(&m, 1000), 1000);
	assert_int_equal(g2h(&m, UINT32_MAX - 1), UINT32_MAX - 1);
	/* (uid_t)-1 means "unchanged" to setresuid: never handed out. */
	assert_int_equal(g2h(&m, UINT32_MAX), -1);
	assert_int_equal(idmap_host_to_guest(&m, 0), 0);
	assert_int_equal(idmap_host_to_guest(&m, UINT32_MAX), UINT32_MAX);
	idmap_free(&m);
	idmap_free(&m); /* twice is harmless */
}

static void test_guest(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_add(&m, "guest:1000:2000:10");
	assert_false(idmap_is_empty(&m));
	assert_int_equal(g2h(&m, 999), 999);
	assert_int_equal(g2h(&m, 1000), 2000);
	assert_int_equal(g2h(&m, 1009), 2009);
	assert_int_equal(g2h(&m, 1010), 1010);
	/* one direction only */
	assert_int_equal(idmap_host_to_guest(&m, 2000), 2000);
	assert_int_equal(idmap_host_to_guest(&m, 1000), 1000);
	idmap_free(&m);
}

static void test_host(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-gid");
	must_add(&m, "host:2000:1000:10");
	assert_int_equal(idmap_host_to_guest(&m, 1999), 1999);
	assert_int_equal(idmap_host_to_guest(&m, 2000), 1000);
	assert_int_equal(idmap_host_to_guest(&m, 2009), 1009);
	assert_int_equal(idmap_host_to_guest(&m, 2010), 2010);
	assert_int_equal(g2h(&m, 1000), 1000);
	assert_int_equal(g2h(&m, 2000), 2000);
	idmap_free(&m);
}

static void test_squash(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_add(&m, "squash-guest:0:1000:1000");
	must_add(&m, "squash-host:0:65534:1000");
	assert_int_equal(g2h(&m, 0), 1000);
	assert_int_equal(g2h(&m, 999), 1000);
	assert_int_equal(g2h(&m, 1000), 1000);
	assert_int_equal(g2h(&m, 1001), 1001);
	assert_int_equal(idmap_host_to_guest(&m, 0), 65534);
	assert_int_equal(idmap_host_to_guest(&m, 999), 65534);
	assert_int_equal(idmap_host_to_guest(&m, 1000), 1000);
	idmap_free(&m);

	/* The usual unprivileged set-up: everyone is the host user, who is root in the guest. */
	idmap_init(&m, "--translate-uid");
	must_add(&m, "squash-guest:0:501:4294967295");
	must_add(&m, "host:501:0:1");
	assert_int_equal(g2h(&m, 0), 501);
	assert_int_equal(g2h(&m, UINT32_MAX - 1), 501);
	assert_int_equal(g2h(&m, UINT32_MAX), -1);
	assert_int_equal(idmap_host_to_guest(&m, 501), 0);
	assert_int_equal(idmap_host_to_guest(&m, 0), 0);
	idmap_free(&m);
}

static void test_forbid(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_add(&m, "forbid-guest:0:1");
	must_add(&m, "forbid-guest:100:50");
	assert_int_equal(g2h(&m, 0), -1);
	assert_int_equal(g2h(&m, 1), 1);
	assert_int_equal(g2h(&m, 99), 99);
	assert_int_equal(g2h(&m, 100), -1);
	assert_int_equal(g2h(&m, 149), -1);
	assert_int_equal(g2h(&m, 150), 150);
	assert_int_equal(m.n_h2g, 0);
	assert_int_equal(idmap_host_to_guest(&m, 0), 0); /* the host side is not forbidden */
	idmap_free(&m);
}

static void test_map(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_add(&m, "map:0:100000:65536");
	assert_int_equal(g2h(&m, 0), 100000);
	assert_int_equal(g2h(&m, 65535), 165535);
	assert_int_equal(g2h(&m, 65536), 65536);
	assert_int_equal(idmap_host_to_guest(&m, 100000), 0);
	assert_int_equal(idmap_host_to_guest(&m, 165535), 65535);
	assert_int_equal(idmap_host_to_guest(&m, 99999), 99999);
	assert_int_equal(idmap_host_to_guest(&m, 0), 0);
	idmap_free(&m);
}

/* The Incus report (virtiofsd#198): only ids 1000 and 2000 allowed, written with counts. */
static void test_allow_list(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-gid");
	must_add(&m, "forbid-guest:0:1000");
	must_add(&m, "map:1000:1000:1");
	must_add(&m, "forbid-guest:1001:999");
	must_add(&m, "map:2000:2000:1");
	must_add(&m, "forbid-guest:2001:4294965295"); /* up to and including 4294967295 */
	for (uint32_t id = 0; id < 3000; id++)
		assert_int_equal(g2h(&m, id), id == 1000 || id == 2000 ? (int64_t)id : -1);
	assert_int_equal(g2h(&m, UINT32_MAX), -1);
	idmap_free(&m);

	/* Written as if the second number were an end: refused, naming both options. */
	idmap_init(&m, "--translate-gid");
	must_add(&m, "forbid-guest:0:999");
	must_add(&m, "map:1000:1000:1");
	must_add(&m, "map:2000:2000:1");
	must_refuse(&m, "forbid-guest:1001:1999",
		    "--translate-gid=forbid-guest:1001:1999: its guest ids [1001, 3000) overlap "
		    "those of the earlier --translate-gid=map:2000:2000:1");
	idmap_free(&m);
}

static void test_overlaps(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_add(&m, "guest:10:100:10"); /* guest [10, 20) */
	must_refuse(&m, "guest:19:0:1",
		    "overlap those of the earlier --translate-uid=guest:10:100:10");
	must_refuse(&m, "squash-guest:0:0:11", "guest ids [0, 11)");
	must_refuse(&m, "forbid-guest:5:100", "guest:10:100:10");
	must_refuse(&m, "map:15:5000:1", "guest ids");
	must_add(&m, "guest:20:0:1"); /* adjacent: fine */
	must_add(&m, "guest:9:0:1");
	/* The other direction has its own sources. */
	must_add(&m, "host:10:100:10");
	must_refuse(&m, "squash-host:19:1:5", "its host ids [19, 24) overlap those of the earlier "
					      "--translate-uid=host:10:100:10");
	/* map needs both directions free; a clash on either leaves the map as it was. */
	must_refuse(&m, "map:1000:15:1", "host ids [15, 16)");
	assert_int_equal(g2h(&m, 1000), 1000);
	must_refuse(&m, "map:12:5000:1", "guest ids [12, 13)");
	assert_int_equal(idmap_host_to_guest(&m, 5000), 5000);
	must_add(&m, "map:1000:5000:1");
	/* An identical duplicate overlaps too. */
	must_refuse(&m, "map:1000:5000:1", "map:1000:5000:1");
	idmap_free(&m);
}

static void test_bad_specs(void **state)
{
	static const char *const bad[] = {
		"", "guest", "guest:", "guest:1", "guest:1:2", "guest:1:2:", "guest:1:2:3:",
		"guest:1:2:3:4", "guest::2:3", "guest:-1:2:3", "guest:+1:2:3", "guest: 1:2:3",
		"guest:1:2:3 ", "guest:0x10:2:3", "guest:1:2:3x", "guest:4294967296:0:1",
		"guest:1:99999999999999999999:1", "forbid-guest:1", "forbid-guest:1:2:3",
		"forbid-guest::2", "bogus:1:2:3", "Guest:1:2:3", "squash:1:2:3", ":1:2:3",
		"guest;1;2;3", "map:1:2", "squash-host:1:2",
	};
	struct idmap m;

	idmap_init(&m, "--translate-uid");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (add(&m, bad[i]) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		if (!strstr(errbuf, "--translate-uid=") || !strstr(errbuf, bad[i]))
			fail_msg("error for '%s' does not name it: %s", bad[i], errbuf);
	}
	assert_true(idmap_is_empty(&m));
	must_refuse(&m, "bogus:1:2:3", "type guest, host, squash-guest, squash-host, map");
	must_refuse(&m, "guest:1:2", "expected guest:<guest>:<host>:<count>");
	must_refuse(&m, "forbid-guest:1:2:3", "expected forbid-guest:<guest>:<count>");
	idmap_free(&m);
}

static void test_boundaries(void **state)
{
	struct idmap m;
	idmap_init(&m, "--translate-uid");
	must_refuse(&m, "guest:0:0:0", "count must be at least 1");
	must_refuse(&m, "forbid-guest:5:0", "count must be at least 1");
	must_refuse(&m, "squash-host:5:0:0", "count must be at least 1");
	/* Source ranges may end exactly at 2^32, not past it. */
	must_refuse(&m, "guest:4294967295:0:2", "[4294967295, 4294967297) ends past");
	must_refuse(&m, "forbid-guest:2:4294967295", "[2, 4294967297) ends past");
	must_add(&m, "forbid-guest:4294967295:1"); /* [2^32 - 1, 2^32) */
	assert_int_equal(g2h(&m, UINT32_MAX), -1);
	idmap_free(&m);
	idmap_init(&m, "--translate-uid");
	/* So may 1:1 targets; a squash target is one id and cannot overflow. */
	must_refuse(&m, "guest:0:4294967295:2", "[4294967295, 4294967297) ends past");
	must_refuse(&m, "map:0:2:4294967295", "[2, 4294967297) ends past");
	must_add(&m, "squash-guest:10:4294967294:4294967286"); /* [10, 2^32) */
	assert_int_equal(g2h(&m, UINT32_MAX), 4294967294u);
	assert_int_equal(g2h(&m, 10), 4294967294u);
	assert_int_equal(g2h(&m, 9), 9);
	must_add(&m, "guest:0:4294967294:1");
	assert_int_equal(g2h(&m, 0), 4294967294u);
	must_add(&m, "guest:1:4294967295:1"); /* parses, but the result is never handed out */
	assert_int_equal(g2h(&m, 1), -1);
	must_add(&m, "map:2:0:8");
	assert_int_equal(g2h(&m, 2), 0);
	assert_int_equal(idmap_host_to_guest(&m, 0), 2);
	idmap_free(&m);

	idmap_init(&m, "--translate-uid");
	must_add(&m, "map:1:0:4294967295"); /* the largest range */
	assert_int_equal(g2h(&m, 0), 0);
	assert_int_equal(g2h(&m, 1), 0);
	assert_int_equal(g2h(&m, UINT32_MAX), UINT32_MAX - 1);
	assert_int_equal(idmap_host_to_guest(&m, 0), 1);
	assert_int_equal(idmap_host_to_guest(&m, UINT32_MAX - 1), UINT32_MAX);
	assert_int_equal(idmap_host_to_guest(&m, UINT32_MAX), UINT32_MAX);
	must_refuse(&m, "forbid-guest:4294967295:1", "overlap");
	must_add(&m, "forbid-guest:0:1");
	must_add(&m, "host:4294967295:7:1");
	assert_int_equal(idmap_host_to_guest(&m, UINT32_MAX), 7);
	assert_int_equal(g2h(&m, 0), -1);
	idmap_free(&m);
}

/* Many entries added out of order: lookups stay exact; the table has a limit. */
static void test_many(void **state)
{
	struct idmap m;
	char spec[64];
	int r = 0, added = 0;

	idmap_init(&m, "--translate-uid");
	for (int i = 2000; i >= 0 && r == 0; i--) {
		snprintf(spec, sizeof(spec), "%s:%d:%d:2", i % 2 ? "guest" : "map", i * 10,
			 1000000 + i * 10);
		r = add(&m, spec);
		added += r == 0;
	}
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(errbuf, "too many entries"));
	assert_int_equal(added, 1024);
	for (int i = 2000; i > 2000 - added; i--) {
		assert_int_equal(g2h(&m, (uint32_t)i * 10), 1000000 + i * 10);
		assert_int_equal(g2h(&m, (uint32_t)i * 10 + 1), 1000000 + i * 10 + 1);
		assert_int_equal(g2h(&m, (uint32_t)i * 10 + 2), i * 10 + 2);
		assert_int_equal(idmap_host_to_guest(&m, 1000000 + (uint32_t)i * 10),
				 i % 2 ? 1000000 + i * 10 : i * 10);
	}
	for (size_t i = 1; i < m.n_g2h; i++)
		assert_true(m.g2h[i - 1].from < m.g2h[i].from);
	idmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	   cmocka_unit_test(test_guest),
		cmocka_unit_test(test_host),	   cmocka_unit_test(test_squash),
		cmocka_unit_test(test_forbid),	   cmocka_unit_test(test_map),
		cmocka_unit_test(test_allow_list), cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_bad_specs),  cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
