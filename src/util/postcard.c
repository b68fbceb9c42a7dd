/* The postcard wire format: bounded decoder and size-capped encoder (format in postcard.h). */
#include "util/postcard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pc_dec_init(struct pc_dec *d, const void *buf, size_t len)
{
	*d = (struct pc_dec){.buf = buf, .len = len};
}

size_t pc_dec_left(const struct pc_dec *d)
{
	return d->len - d->off;
}

int pc_dec_fail(struct pc_dec *d, const char *why)
{
	if (!d->err) {
		d->err = why;
		d->err_off = d->off;
	}
	return -EBADMSG;
}

int pc_get_u8(struct pc_dec *d, uint8_t *v)
{
	if (d->err)
		return -EBADMSG;
	if (pc_dec_left(d) < 1)
		return pc_dec_fail(d, "truncated");
	*v = d->buf[d->off++];
	return 0;
}

/* A byte that must be 0x00 or 0x01 (a bool, an Option's tag); what names it in the error. */
static int get_01(struct pc_dec *d, const char *what, bool *v)
{
	uint8_t b;
	int r = pc_get_u8(d, &b);

	if (r < 0)
		return r;
	if (b > 1) {
		d->off--;
		return pc_dec_fail(d, what);
	}
	*v = b;
	return 0;
}

int pc_get_bool(struct pc_dec *d, bool *v)
{
	return get_01(d, "bool is neither 0x00 nor 0x01", v);
}

/*
 * An unsigned varint of a type `bits` wide: at most ceil(bits / 7) bytes, and the last of them
 * holds only the bits that are left of the type (64: 1 bit, 32: 4, 16: 2).
 */
static int get_varint(struct pc_dec *d, unsigned bits, uint64_t *v)
{
	unsigned maxb = (bits + 6) / 7, last_bits = bits - 7 * (maxb - 1);
	size_t start = d->off;
	uint64_t val = 0;

	if (d->err)
		return -EBADMSG;
	for (unsigned i = 0; i < maxb; i++) {
		uint8_t b;

		if (d->off >= d->len) {
			d->off = start;
			return pc_dec_fail(d, "truncated");
		}
		b = d->buf[d->off++];
		if (i == maxb - 1 && (b & 0x7f) >> last_bits) {
			d->off = start;
			return pc_dec_fail(d, "varint exceeds its type's range");
		}
		val |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = val;
			return 0;
		}
	}
	d->off = start;
	return pc_dec_fail(d, "varint longer than its type allows");
}

int pc_get_u16(struct pc_dec *d, uint16_t *v)
{
	uint64_t x = 0;
	int r = get_varint(d, 16, &x);

	if (r == 0)
		*v = (uint16_t)x;
	return r;
}

int pc_get_u32(struct pc_dec *d, uint32_t *v)
{
	uint64_t x = 0;
	int r = get_varint(d, 32, &x);

	if (r == 0)
		*v = (uint32_t)x;
	return r;
}

int pc_get_u64(struct pc_dec *d, uint64_t *v)
{
	return get_varint(d, 64, v);
}

/* Zigzag: the sign in bit 0, the magnitude above it (u >> 1, complemented when negative). */
int pc_get_i32(struct pc_dec *d, int32_t *v)
{
	uint32_t u;
	int r = pc_get_u32(d, &u);

	if (r == 0)
		*v = (int32_t)((u >> 1) ^ (0u - (u & 1)));
	return r;
}

int pc_get_i64(struct pc_dec *d, int64_t *v)
{
	uint64_t u;
	int r = pc_get_u64(d, &u);

	if (r == 0)
		*v = (int64_t)((u >> 1) ^ (0ull - (u & 1)));
	return r;
}

int pc_get_option(struct pc_dec *d, bool *some)
{
	return get_01(d, "option tag is neither 0x00 nor 0x01", some);
}

int pc_get_variant(struct pc_dec *d, uint32_t *tag)
{
	return pc_get_u32(d, tag);
}

int pc_get_count(struct pc_dec *d, size_t min_size, size_t max, size_t *n)
{
	size_t start = d->off;
	uint64_t c;
	int r = pc_get_u64(d, &c);

	if (r < 0)
		return r;
	if (c > max) {
		d->off = start;
		return pc_dec_fail(d, "element count above the limit");
	}
	if (min_size && c > pc_dec_left(d) / min_size) {
		d->off = start;
		return pc_dec_fail(
		    d, "truncated (element count larger than the remaining bytes can hold)");
	}
	*n = (size_t)c;
	return 0;
}

int pc_get_bytes(struct pc_dec *d, size_t max, const uint8_t **p, size_t *n)
{
	size_t start = d->off;
	uint64_t c;
	int r = pc_get_u64(d, &c);

	if (r < 0)
		return r;
	if (c > pc_dec_left(d)) {
		d->off = start;
		return pc_dec_fail(d, "truncated (length beyond the end)");
	}
	if (c > max) {
		d->off = start;
		return pc_dec_fail(d, "length above the limit");
	}
	*p = d->buf + d->off;
	*n = (size_t)c;
	d->off += (size_t)c;
	return 0;
}

int pc_get_str(struct pc_dec *d, size_t max, const char **s, size_t *n)
{
	size_t start = d->off;
	const uint8_t *p;
	size_t len;
	int r = pc_get_bytes(d, max, &p, &len);

	if (r < 0)
		return r;
	if (!pc_utf8_valid(p, len)) {
		d->off = start;
		return pc_dec_fail(d, "string is not valid UTF-8");
	}
	*s = (const char *)p;
	*n = len;
	return 0;
}

/* One sequence starting at p[0] (a lead byte >= 0x80): its length, or 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, size_t left)
{
	uint8_t c = p[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0; /* overlong 3-byte */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong 4-byte */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool pc_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

void pc_enc_init(struct pc_enc *e, size_t max)
{
	*e = (struct pc_enc){.max = max};
}

static void put_raw(struct pc_enc *e, const void *p, size_t n)
{
	if (e->err || !n)
		return;
	if (n > e->max - e->len) {
		e->err = -EMSGSIZE;
		return;
	}
	if (n > e->cap - e->len) {
		size_t ncap = e->cap ? e->cap : 256;
		uint8_t *nb;

		while (ncap - e->len < n)
			ncap = ncap > e->max / 2 ? e->max : ncap * 2;
		nb = realloc(e->buf, ncap);
		if (!nb) {
			e->err = -ENOMEM;
			return;
		}
		e->buf = nb;
		e->cap = ncap;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

void pc_put_u8(struct pc_enc *e, uint8_t v)
{
	put_raw(e, &v, 1);
}

void pc_put_bool(struct pc_enc *e, bool v)
{
	pc_put_u8(e, v ? 1 : 0);
}

void pc_put_u64(struct pc_enc *e, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	put_raw(e, b, n);
}

void pc_put_i32(struct pc_enc *e, int32_t v)
{
	uint32_t u = (uint32_t)v;

	pc_put_u64(e, (u << 1) ^ (0u - (u >> 31)));
}

void pc_put_i64(struct pc_enc *e, int64_t v)
{
	uint64_t u = (uint64_t)v;

	pc_put_u64(e, (u << 1) ^ (0ull - (u >> 63)));
}

void pc_put_option(struct pc_enc *e, bool some)
{
	pc_put_u8(e, some ? 1 : 0);
}

void pc_put_variant(struct pc_enc *e, uint32_t tag)
{
	pc_put_u64(e, tag);
}

void pc_put_bytes(struct pc_enc *e, const void *p, size_t n)
{
	pc_put_u64(e, n);
	put_raw(e, p, n);
}

void pc_put_str(struct pc_enc *e, const char *s, size_t n)
{
	if (!e->err && !pc_utf8_valid((const uint8_t *)s, n)) {
		e->err = -EINVAL;
		return;
	}
	pc_put_bytes(e, s, n);
}

int pc_enc_finish(struct pc_enc *e, uint8_t **buf, size_t *len)
{
	int r = e->err;

	if (r < 0) {
		pc_enc_free(e);
		return r;
	}
	*buf = e->buf;
	*len = e->len;
	e->buf = NULL;
	e->len = e->cap = 0;
	return 0;
}

void pc_enc_free(struct pc_enc *e)
{
	free(e->buf);
	e->buf = NULL;
	e->len = e->cap = 0;
}
