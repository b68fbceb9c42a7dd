/*
 * The postcard wire format (the Rust `postcard` crate, v1; spec/src/wire-format.md of that
 * project), as far as the migration stream needs it:
 *
 *   u8, i8          one raw byte
 *   bool            one byte, 0x00 or 0x01 (anything else is an error)
 *   u16, u32, u64   LEB128 varint: 7 data bits a byte, least significant first, bit 7 set on
 *                   every byte but the last; at most ceil(bits / 7) bytes (3, 5, 10), and the
 *                   last byte may not carry bits above the type's width. A padded form
 *                   (0x80 0x00 for 0) within that length is accepted, as postcard does.
 *   i16, i32, i64   zigzag (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...), then the unsigned varint
 *   usize           varint(u64) (the peers are 64-bit)
 *   option          0x00 (None) or 0x01 followed by the value
 *   enum variant    varint(u32) discriminant (declaration order from 0), then its fields
 *   seq, map        varint(usize) element count, then the elements (map: key, value pairs)
 *   string, bytes   varint(usize) byte count, then the bytes (a string must be UTF-8)
 *   struct, tuple   the fields in declaration order, nothing else (no names, no count)
 *
 * Decoding reads through a bounded cursor that never reads past its buffer; every failure is
 * -EBADMSG with a static reason and the offset it happened at. Encoding appends to a growing
 * buffer bounded by a maximum size; errors are sticky and reported by pc_enc_finish().
 */
#ifndef VFSD_UTIL_POSTCARD_H
#define VFSD_UTIL_POSTCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pc_dec {
	const uint8_t *buf;
	size_t len;
	size_t off;
	const char *err; /* the first failure's reason (static), NULL while none */
	size_t err_off;	 /* where it happened */
};

void pc_dec_init(struct pc_dec *d, const void *buf, size_t len);
size_t pc_dec_left(const struct pc_dec *d);
/* Records a failure (the first one wins) and returns -EBADMSG: for the caller's own checks. */
int pc_dec_fail(struct pc_dec *d, const char *why);

int pc_get_u8(struct pc_dec *d, uint8_t *v);
int pc_get_bool(struct pc_dec *d, bool *v);
int pc_get_u16(struct pc_dec *d, uint16_t *v);
int pc_get_u32(struct pc_dec *d, uint32_t *v);
int pc_get_u64(struct pc_dec *d, uint64_t *v);
int pc_get_i32(struct pc_dec *d, int32_t *v);
int pc_get_i64(struct pc_dec *d, int64_t *v);
int pc_get_option(struct pc_dec *d, bool *some);
int pc_get_variant(struct pc_dec *d, uint32_t *tag);
/*
 * A seq/map count, at most max, and such that count elements of at least min_size encoded
 * bytes each fit in what is left: a forged count cannot make the caller allocate more than the
 * input could describe.
 */
int pc_get_count(struct pc_dec *d, size_t min_size, size_t max, size_t *n);
/* A byte array of at most max bytes; *p points into the buffer (not copied). */
int pc_get_bytes(struct pc_dec *d, size_t max, const uint8_t **p, size_t *n);
/* A string of at most max bytes, valid UTF-8 (strict: no overlong forms, no surrogates, nothing
 * above U+10FFFF); *s points into the buffer and is not NUL-terminated. */
int pc_get_str(struct pc_dec *d, size_t max, const char **s, size_t *n);

bool pc_utf8_valid(const uint8_t *p, size_t n);

struct pc_enc {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t max; /* the encoded size may not exceed this: -EMSGSIZE */
	int err;    /* sticky: 0, -ENOMEM, -EMSGSIZE or -EINVAL */
};

void pc_enc_init(struct pc_enc *e, size_t max);
void pc_put_u8(struct pc_enc *e, uint8_t v);
void pc_put_bool(struct pc_enc *e, bool v);
void pc_put_u64(struct pc_enc *e, uint64_t v); /* also u16, u32, usize: the same varint */
void pc_put_i32(struct pc_enc *e, int32_t v);
void pc_put_i64(struct pc_enc *e, int64_t v);
void pc_put_option(struct pc_enc *e, bool some);
void pc_put_variant(struct pc_enc *e, uint32_t tag);
void pc_put_bytes(struct pc_enc *e, const void *p, size_t n);
/* A string that is not valid UTF-8 is -EINVAL (postcard's peers could not read it). */
void pc_put_str(struct pc_enc *e, const char *s, size_t n);
/* 0 with the buffer handed over (free() it), or the sticky error with the buffer freed. */
int pc_enc_finish(struct pc_enc *e, uint8_t **buf, size_t *len);
void pc_enc_free(struct pc_enc *e);

#endif
