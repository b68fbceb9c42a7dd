/* The bounds-checked cursor and READDIR record encoding (the iovec helpers: test_iov.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fs/fs.h"
#include "fuse/cursor.h"
#include "fuse/dirent.h"

static void test_cur_read_take(void **state)
{
	const uint8_t buf[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	struct fuse_cursor c;
	uint32_t v;
	const uint8_t *p;

	fuse_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(fuse_cur_read(&c, &v, 4), 0);
	assert_memory_equal(&v, buf, 4);
	assert_int_equal(fuse_cur_remaining(&c), 6);
	p = fuse_cur_take(&c, 6);
	assert_non_null(p);
	assert_int_equal(p[0], 5);
	assert_int_equal(fuse_cur_remaining(&c), 0);
	assert_null(fuse_cur_take(&c, 1));
	assert_int_equal(fuse_cur_read(&c, &v, 1), -EINVAL);
	assert_non_null(fuse_cur_take(&c, 0));

	/* A failed take consumes nothing. */
	fuse_cur_init(&c, buf, 3);
	assert_int_equal(fuse_cur_read(&c, &v, 4), -EINVAL);
	assert_int_equal(fuse_cur_remaining(&c), 3);
	/* Sizes that would overflow pos + n. */
	assert_null(fuse_cur_take(&c, SIZE_MAX));
	assert_int_equal(fuse_cur_remaining(&c), 3);
}

static void test_cur_str(void **state)
{
	char buf[600];
	struct fuse_cursor c;
	const char *s;

	memcpy(buf, "abc\0de\0f", 8);
	fuse_cur_init(&c, buf, 8);
	assert_int_equal(fuse_cur_name(&c, &s), 0);
	assert_string_equal(s, "abc");
	assert_int_equal(fuse_cur_name(&c, &s), 0);
	assert_string_equal(s, "de");
	/* "f" is not terminated inside the request. */
	assert_int_equal(fuse_cur_name(&c, &s), -EINVAL);
	assert_int_equal(fuse_cur_remaining(&c), 1);

	/* Empty cursor, empty string. */
	fuse_cur_init(&c, buf, 0);
	assert_int_equal(fuse_cur_name(&c, &s), -EINVAL);
	fuse_cur_init(&c, "", 1);
	assert_int_equal(fuse_cur_name(&c, &s), 0);
	assert_string_equal(s, "");

	/* 255 bytes is a name, 256 is too long. */
	memset(buf, 'x', sizeof(buf));
	buf[255] = '\0';
	fuse_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(fuse_cur_name(&c, &s), 0);
	assert_int_equal(strlen(s), 255);
	memset(buf, 'x', sizeof(buf));
	buf[256] = '\0';
	fuse_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(fuse_cur_name(&c, &s), -ENAMETOOLONG);
	assert_int_equal(fuse_cur_remaining(&c), sizeof(buf));
	/* Unterminated and long: EINVAL wins (there is no string at all). */
	memset(buf, 'x', sizeof(buf));
	fuse_cur_init(&c, buf, sizeof(buf));
	assert_int_equal(fuse_cur_name(&c, &s), -EINVAL);
	/* A custom bound. */
	fuse_cur_init(&c, "12345", 6);
	assert_int_equal(fuse_cur_str(&c, 4, &s), -ENAMETOOLONG);
	assert_int_equal(fuse_cur_str(&c, 5, &s), 0);
}

static int add(struct fuse_dirbuf *db, const char *name, uint64_t ino, uint32_t type,
	       uint64_t off, const struct fuse_entry_out *e)
{
	const struct fs_dirent d = {.name = name,
				    .namelen = strlen(name),
				    .type = type,
				    .ino = ino,
				    .off = off,
				    .entry = e};

	return fuse_dirbuf_add(db, &d);
}

static void test_dirbuf(void **state)
{
	char buf[64];
	struct fuse_dirbuf db;
	struct fuse_dirent d;

	fuse_dirbuf_init(&db, buf, sizeof(buf), false);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(add(&db, "abc", 5, 4, 1, NULL), 0);
	assert_int_equal(db.len, 32); /* 24 + 3 rounded up to 8 */
	memcpy(&d, buf, sizeof(d));
	assert_int_equal(d.ino, 5);
	assert_int_equal(d.off, 1);
	assert_int_equal(d.namelen, 3);
	assert_int_equal(d.type, 4);
	assert_memory_equal(buf + 24, "abc\0\0\0\0\0", 8); /* padding zeroed */
	assert_int_equal(add(&db, "0123456789", 6, 8, 2, NULL), -ENOSPC);
	assert_int_equal(db.len, 32);
	assert_int_equal(add(&db, "01234567", 6, 8, 2, NULL), 0);
	assert_int_equal(db.len, 64);
	assert_int_equal(add(&db, "x", 6, 8, 3, NULL), -ENOSPC);
	assert_int_equal(add(&db, "", 6, 8, 3, NULL), -EINVAL);

	char big[512];
	struct fuse_entry_out e;
	struct fuse_direntplus dp;
	memset(&e, 0, sizeof(e));
	e.nodeid = 77;
	e.attr.ino = 1234;
	fuse_dirbuf_init(&db, big, sizeof(big), true);
	assert_int_equal(add(&db, "name", 0, 8, 9, &e), 0);
	assert_int_equal(db.len, FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 4));
	memcpy(&dp, big, sizeof(dp));
	assert_int_equal(dp.entry_out.nodeid, 77);
	assert_int_equal(dp.dirent.ino, 1234);
	assert_int_equal(dp.dirent.off, 9);
	assert_int_equal(dp.dirent.namelen, 4);
	assert_memory_equal(big + FUSE_NAME_OFFSET_DIRENTPLUS, "name", 4);
	/* READDIRPLUS without the entry is a backend bug. */
	assert_int_equal(add(&db, "name", 0, 8, 9, NULL), -EINVAL);
	db.size = db.len + 100;
	assert_int_equal(add(&db, "name", 0, 8, 9, &e), -ENOSPC);
	/* A corrupt len never lets a record through. */
	db.plus = false;
	db.len = db.size + 1;
	assert_int_equal(add(&db, "a", 1, 1, 1, NULL), -ENOSPC);
}

/* The sink the backend sees: false when full; a malformed entry also marks the reply EIO. */
static void test_dirbuf_sink(void **state)
{
	char buf[40];
	struct fuse_dirbuf db;
	const struct fs_dirent ok = {.name = "abc", .namelen = 3, .ino = 1, .off = 1};
	const struct fs_dirent bad = {.name = "", .namelen = 0, .ino = 1, .off = 1};

	fuse_dirbuf_init(&db, buf, sizeof(buf), false);
	assert_int_equal(db.sink.size, sizeof(buf));
	assert_true(db.sink.add(&db.sink, &ok));
	assert_false(db.sink.add(&db.sink, &ok));
	assert_int_equal(db.err, 0);
	assert_false(db.sink.add(&db.sink, &bad));
	assert_int_equal(db.err, -EIO);
	assert_int_equal(db.len, 32);
}

static void test_name_check(void **state)
{
	char longname[300];

	assert_int_equal(fs_name_check("a"), 0);
	assert_int_equal(fs_name_check("..."), 0);
	assert_int_equal(fs_name_check(".hidden"), 0);
	assert_int_equal(fs_name_check(""), -EINVAL);
	assert_int_equal(fs_name_check("."), -EINVAL);
	assert_int_equal(fs_name_check(".."), -EINVAL);
	assert_int_equal(fs_name_check("a/b"), -EINVAL);
	assert_int_equal(fs_name_check("/"), -EINVAL);
	assert_int_equal(fs_name_check(NULL), -EINVAL);
	memset(longname, 'y', sizeof(longname));
	longname[255] = '\0';
	assert_int_equal(fs_name_check(longname), 0);
	longname[255] = 'y';
	longname[256] = '\0';
	assert_int_equal(fs_name_check(longname), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cur_read_take), cmocka_unit_test(test_cur_str),
	    cmocka_unit_test(test_dirbuf),	  cmocka_unit_test(test_dirbuf_sink),
	    cmocka_unit_test(test_name_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
