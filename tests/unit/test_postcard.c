/*
 * The postcard codec against byte strings derived by hand from the wire format's specification
 * (postcard v1, spec/src/wire-format.md): LEB128 varints (7 bits a byte, least significant
 * first, bit 7 = more follows), zigzag for signed, one byte for bool and option tags,
 * length-prefixed strings and byte arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/postcard.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Encode with f, compare with the expected bytes. */
#define ENC_EQ(stmt, ...)                                                                        \
	do {                                                                                     \
		struct pc_enc e_;                                                                \
		uint8_t *b_;                                                                     \
		size_t n_;                                                                       \
		const uint8_t want_[] = { __VA_ARGS__ };                                         \
		pc_enc_init(&e_, 1024);                                                          \
		{                                                                                \
			struct pc_enc *e = &e_;                                                  \
			stmt;                                                                    \
		}                                                                                \
		assert_int_equal(pc_enc_finish(&e_, &b_, &n_), 0);                               \
		assert_int_equal(n_, sizeof(want_));                                             \
		assert_memory_equal(b_, want_, sizeof(want_));                                   \
		free(b_);                                                                        \
	} while (0)

static uint64_t dec_u64_ok(const uint8_t *p, size_t n)
{
	struct pc_dec d;
	uint64_t v = 12345;

	pc_dec_init(&d, p, n);
	assert_int_equal(pc_get_u64(&d, &v), 0);
	assert_int_equal(pc_dec_left(&d), 0);
	return v;
}

static const char *dec_fail_reason(int (*get)(struct pc_dec *, void *), const uint8_t *p,
				   size_t n)
{
	static struct pc_dec d;
	uint64_t sink = 0;

	pc_dec_init(&d, p, n);
	assert_int_equal(get(&d, &sink), -EBADMSG);
	assert_non_null(d.err);
	return d.err;
}

static int get_u16(struct pc_dec *d, void *v)
{
	return pc_get_u16(d, v);
}
static int get_u32(struct pc_dec *d, void *v)
{
	return pc_get_u32(d, v);
}
static int get_u64(struct pc_dec *d, void *v)
{
	return pc_get_u64(d, v);
}
static int get_bool(struct pc_dec *d, void *v)
{
	return pc_get_bool(d, v);
}
static int get_option(struct pc_dec *d, void *v)
{
	return pc_get_option(d, v);
}

static void test_varint_encode(void **state)
{
	ENC_EQ(pc_put_u64(e, 0), 0x00);
	ENC_EQ(pc_put_u64(e, 127), 0x7f);	    /* fits 7 bits: one byte */
	ENC_EQ(pc_put_u64(e, 128), 0x80, 0x01);     /* 0 | more, then 128 >> 7 = 1 */
	ENC_EQ(pc_put_u64(e, 300), 0xac, 0x02);     /* 300 = 2*128 + 44: 0x2c|0x80, 0x02 */
	ENC_EQ(pc_put_u64(e, 16383), 0xff, 0x7f);   /* 14 bits all set */
	ENC_EQ(pc_put_u64(e, 16384), 0x80, 0x80, 0x01); /* 2^14: two empty groups, then 1 */
	ENC_EQ(pc_put_u64(e, 65535), 0xff, 0xff, 0x03); /* u16::MAX: 7+7 bits, then 0b11 */
	/* u32::MAX: four full groups (28 bits), then the top 4 bits 0x0f */
	ENC_EQ(pc_put_u64(e, UINT32_MAX), 0xff, 0xff, 0xff, 0xff, 0x0f);
	/* u64::MAX: nine full groups (63 bits), then the last bit */
	ENC_EQ(pc_put_u64(e, UINT64_MAX), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x01);
}

static void test_varint_decode(void **state)
{
	assert_int_equal(dec_u64_ok(BYTES(0x00)), 0);
	assert_int_equal(dec_u64_ok(BYTES(0xac, 0x02)), 300);
	assert_int_equal(dec_u64_ok(BYTES(0x80, 0x80, 0x01)), 16384);
	assert_true(dec_u64_ok(BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)) ==
		    UINT64_MAX);
	/* Padded (not canonical) but within the type's length: accepted, as postcard does. */
	assert_int_equal(dec_u64_ok(BYTES(0x80, 0x00)), 0);
	assert_int_equal(dec_u64_ok(BYTES(0xac, 0x82, 0x80, 0x00)), 300);
}

static void test_varint_refusals(void **state)
{
	/* u16 is at most 3 bytes, the third holding 2 bits (16 - 14) */
	struct pc_dec d;
	uint16_t v16;

	pc_dec_init(&d, BYTES(0xff, 0xff, 0x03));
	assert_int_equal(pc_get_u16(&d, &v16), 0);
	assert_int_equal(v16, 65535);
	assert_string_equal(dec_fail_reason(get_u16, BYTES(0xff, 0xff, 0x07)),
			    "varint exceeds its type's range"); /* 131071 > u16::MAX */
	assert_string_equal(dec_fail_reason(get_u16, BYTES(0x80, 0x80, 0x80, 0x00)),
			    "varint longer than its type allows");
	/* u32: 5 bytes, the fifth holding 4 bits */
	assert_string_equal(dec_fail_reason(get_u32, BYTES(0xff, 0xff, 0xff, 0xff, 0x1f)),
			    "varint exceeds its type's range");
	assert_string_equal(dec_fail_reason(get_u32, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00)),
			    "varint longer than its type allows");
	/* u64: 10 bytes, the tenth holding 1 bit */
	assert_string_equal(dec_fail_reason(get_u64, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
							    0xff, 0xff, 0xff, 0x02)),
			    "varint exceeds its type's range");
	assert_string_equal(dec_fail_reason(get_u64, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
							    0x80, 0x80, 0x80, 0x80, 0x00)),
			    "varint longer than its type allows");
	/* the continuation bit promises a byte that is not there */
	assert_string_equal(dec_fail_reason(get_u64, BYTES(0x80)), "truncated");
	assert_string_equal(dec_fail_reason(get_u64, NULL, 0), "truncated");
}

static void test_zigzag(void **state)
{
	struct pc_dec d;
	int32_t v;
	int64_t w;

	ENC_EQ(pc_put_i32(e, 0), 0x00);
	ENC_EQ(pc_put_i32(e, -1), 0x01);	 /* zigzag 1 */
	ENC_EQ(pc_put_i32(e, 1), 0x02);		 /* zigzag 2 */
	ENC_EQ(pc_put_i32(e, -64), 0x7f);	 /* zigzag 127 */
	ENC_EQ(pc_put_i32(e, 64), 0x80, 0x01); /* zigzag 128 */
	ENC_EQ(pc_put_i32(e, -65), 0x81, 0x01); /* zigzag 129 */
	/* i32::MAX -> 0xfffffffe, i32::MIN -> 0xffffffff */
	ENC_EQ(pc_put_i32(e, INT32_MAX), 0xfe, 0xff, 0xff, 0xff, 0x0f);
	ENC_EQ(pc_put_i32(e, INT32_MIN), 0xff, 0xff, 0xff, 0xff, 0x0f);
	/* O_RDWR | O_APPEND = 0x402 -> zigzag 0x804 = 16 * 128 + 4 */
	ENC_EQ(pc_put_i32(e, 0x402), 0x84, 0x10);
	ENC_EQ(pc_put_i64(e, INT64_MIN), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	       0x01);

	pc_dec_init(&d, BYTES(0xff, 0xff, 0xff, 0xff, 0x0f, 0x81, 0x01, 0x84, 0x10));
	assert_int_equal(pc_get_i32(&d, &v), 0);
	assert_true(v == INT32_MIN);
	assert_int_equal(pc_get_i32(&d, &v), 0);
	assert_int_equal(v, -65);
	assert_int_equal(pc_get_i32(&d, &v), 0);
	assert_int_equal(v, 0x402);
	pc_dec_init(&d, BYTES(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
	assert_int_equal(pc_get_i64(&d, &w), 0);
	assert_true(w == INT64_MAX);
}

static void test_bool_option_variant(void **state)
{
	struct pc_dec d;
	bool b;
	uint32_t tag;

	ENC_EQ((pc_put_bool(e, true), pc_put_bool(e, false)), 0x01, 0x00);
	ENC_EQ((pc_put_option(e, true), pc_put_option(e, false)), 0x01, 0x00);
	ENC_EQ(pc_put_variant(e, 4), 0x04);
	pc_dec_init(&d, BYTES(0x01, 0x00, 0x01, 0x04));
	assert_int_equal(pc_get_bool(&d, &b), 0);
	assert_true(b);
	assert_int_equal(pc_get_bool(&d, &b), 0);
	assert_false(b);
	assert_int_equal(pc_get_option(&d, &b), 0);
	assert_true(b);
	assert_int_equal(pc_get_variant(&d, &tag), 0);
	assert_int_equal(tag, 4);
	assert_string_equal(dec_fail_reason(get_bool, BYTES(0x02)),
			    "bool is neither 0x00 nor 0x01");
	assert_string_equal(dec_fail_reason(get_option, BYTES(0xff)),
			    "option tag is neither 0x00 nor 0x01");
}

static void test_strings(void **state)
{
	struct pc_dec d;
	const char *s;
	size_t n;

	ENC_EQ(pc_put_str(e, "hi", 2), 0x02, 'h', 'i');
	ENC_EQ(pc_put_str(e, "", 0), 0x00);
	ENC_EQ(pc_put_bytes(e, "\x00\xff", 2), 0x02, 0x00, 0xff);
	/* valid UTF-8 of each length: é (c3 a9), € (e2 82 ac), U+1F600 (f0 9f 98 80) */
	pc_dec_init(&d, BYTES(0x09, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80));
	assert_int_equal(pc_get_str(&d, 255, &s, &n), 0);
	assert_int_equal(n, 9);
	assert_memory_equal(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);

	const struct {
		uint8_t b[6];
		size_t n;
	} bad[] = {
		{ { 0x02, 0xc0, 0x80 }, 3 },	   /* overlong NUL */
		{ { 0x03, 0xe0, 0x80, 0x80 }, 4 }, /* overlong 3-byte form */
		{ { 0x03, 0xed, 0xa0, 0x80 }, 4 }, /* U+D800, a surrogate */
		{ { 0x04, 0xf4, 0x90, 0x80, 0x80 }, 5 }, /* U+110000 */
		{ { 0x01, 0x80 }, 2 },		   /* a lone continuation byte */
		{ { 0x02, 0xc3, 0x28 }, 3 },	   /* lead byte without its continuation */
		{ { 0x01, 0xff }, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pc_dec_init(&d, bad[i].b, bad[i].n);
		assert_int_equal(pc_get_str(&d, 255, &s, &n), -EBADMSG);
		assert_string_equal(d.err, "string is not valid UTF-8");
		assert_int_equal(d.err_off, 0);
	}
	/* length past the end, length over the caller's bound */
	pc_dec_init(&d, BYTES(0x03, 'a', 'b'));
	assert_int_equal(pc_get_str(&d, 255, &s, &n), -EBADMSG);
	assert_string_equal(d.err, "truncated (length beyond the end)");
	pc_dec_init(&d, BYTES(0x03, 'a', 'b', 'c'));
	assert_int_equal(pc_get_str(&d, 2, &s, &n), -EBADMSG);
	assert_string_equal(d.err, "length above the limit");
}

static void test_count(void **state)
{
	struct pc_dec d;
	size_t n;

	/* 3 elements of >= 2 bytes need 6 bytes after the count */
	pc_dec_init(&d, BYTES(0x03, 1, 2, 3, 4, 5, 6));
	assert_int_equal(pc_get_count(&d, 2, 10, &n), 0);
	assert_int_equal(n, 3);
	pc_dec_init(&d, BYTES(0x03, 1, 2, 3, 4, 5));
	assert_int_equal(pc_get_count(&d, 2, 10, &n), -EBADMSG);
	assert_string_equal(d.err, "truncated (element count larger than the remaining bytes can hold)");
	pc_dec_init(&d, BYTES(0x0b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
	assert_int_equal(pc_get_count(&d, 1, 10, &n), -EBADMSG);
	assert_string_equal(d.err, "element count above the limit");
	/* 2^32 - 1 elements announced in five bytes */
	pc_dec_init(&d, BYTES(0xff, 0xff, 0xff, 0xff, 0x0f, 0x00));
	assert_int_equal(pc_get_count(&d, 1, SIZE_MAX, &n), -EBADMSG);
}

static void test_sticky_errors(void **state)
{
	struct pc_dec d;
	struct pc_enc e;
	uint8_t u;
	uint8_t *b;
	size_t n;

	/* the first failure stays, later reads fail too */
	pc_dec_init(&d, BYTES(0x02, 0x00));
	assert_int_equal(pc_get_option(&d, &(bool){ 0 }), -EBADMSG);
	assert_int_equal(pc_get_u8(&d, &u), -EBADMSG);
	assert_string_equal(d.err, "option tag is neither 0x00 nor 0x01");
	assert_int_equal(d.err_off, 0);

	pc_enc_init(&e, 4);
	pc_put_str(&e, "abc", 3); /* 4 bytes: fits exactly */
	assert_int_equal(e.err, 0);
	pc_put_u8(&e, 0);
	assert_int_equal(pc_enc_finish(&e, &b, &n), -EMSGSIZE);
	pc_enc_init(&e, 64);
	pc_put_str(&e, "\xff", 1);
	pc_put_u8(&e, 1);
	assert_int_equal(pc_enc_finish(&e, &b, &n), -EINVAL);
	/* growth past the first allocation */
	pc_enc_init(&e, 1 << 20);
	for (int i = 0; i < 5000; i++)
		pc_put_u64(&e, 300);
	assert_int_equal(pc_enc_finish(&e, &b, &n), 0);
	assert_int_equal(n, 10000);
	assert_int_equal(b[9998], 0xac);
	assert_int_equal(b[9999], 0x02);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_encode),  cmocka_unit_test(test_varint_decode),
		cmocka_unit_test(test_varint_refusals), cmocka_unit_test(test_zigzag),
		cmocka_unit_test(test_bool_option_variant), cmocka_unit_test(test_strings),
		cmocka_unit_test(test_count),	       cmocka_unit_test(test_sticky_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
