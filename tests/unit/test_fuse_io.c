/* FUSE server data paths: READ and WRITE over many small iovecs, the WRITE payload bounded by
 * len, READDIR buffer bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_fuse_mock.h"

#define HDR sizeof(struct fuse_in_header)
#define OHDR sizeof(struct fuse_out_header)

/* Cut buf into iovecs of the given lengths (cycled); returns the count. */
static unsigned cut(uint8_t *p, size_t len, const size_t *lens, unsigned nlens, struct iovec *iov,
		    unsigned max)
{
	unsigned n = 0;

	for (size_t off = 0; off < len && n < max; n++) {
		size_t l = lens[n % nlens];

		if (l > len - off)
			l = len - off;
		iov[n].iov_base = p + off;
		iov[n].iov_len = l;
		off += l;
	}
	return n;
}

static void test_read_split(void **state)
{
	static const size_t lens[] = {3, 10, 1, 7, 0, 20};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_read_in ri = {.fh = 1, .offset = 1000, .size = 100};
	uint8_t req[128], outb[256], canary[64];
	struct iovec in = {req, 0}, out[64];
	struct fuse_out_header oh;
	unsigned cnt;
	size_t n;

	in.iov_len = mk_req(req, FUSE_READ, 9, 4, &ri, sizeof(ri));
	memset(outb, 0xee, sizeof(outb));
	cnt = cut(outb, 200, lens, 6, out, 64);
	n = fuse_server_handle(srv, &in, 1, out, cnt);
	assert_int_equal(n, OHDR + 100);
	assert_int_equal(m.io_size, 100);
	assert_true(m.io_iovcnt > 10);
	memcpy(&oh, outb, sizeof(oh));
	assert_int_equal(oh.len, OHDR + 100);
	assert_int_equal(oh.error, 0);
	assert_int_equal(oh.unique, 9);
	for (int i = 0; i < 100; i++)
		assert_int_equal(outb[OHDR + i], (uint8_t)(1000 + i));
	/* Nothing beyond the requested size was touched. */
	memset(canary, 0xee, sizeof(canary));
	assert_memory_equal(outb + OHDR + 100, canary, 56);

	/* A request larger than the out buffer is clipped to it. */
	ri.size = 1u << 20;
	in.iov_len = mk_req(req, FUSE_READ, 10, 4, &ri, sizeof(ri));
	memset(outb, 0xee, sizeof(outb));
	cnt = cut(outb, 50, lens, 6, out, 64);
	n = fuse_server_handle(srv, &in, 1, out, cnt);
	assert_int_equal(n, 50);
	assert_int_equal(m.io_size, 50 - OHDR);
	assert_memory_equal(outb + 50, canary, 64);

	/* The header itself split across iovecs, reading zero bytes. */
	ri.size = 0;
	in.iov_len = mk_req(req, FUSE_READ, 11, 4, &ri, sizeof(ri));
	cnt = cut(outb, 100, lens, 6, out, 64);
	n = fuse_server_handle(srv, &in, 1, out, cnt);
	assert_int_equal(n, OHDR);
	assert_int_equal(m.io_size, 0);
	fuse_server_free(srv);
}

/* A READ with more out iovecs than the on-stack slice holds. */
static void test_read_many_iovecs(void **state)
{
	static const size_t one[] = {1};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_read_in ri = {.size = 4096};
	uint8_t req[128];
	uint8_t *outb = malloc(5000);
	struct iovec in = {req, 0};
	struct iovec *out = calloc(5000, sizeof(*out));
	unsigned cnt;

	in.iov_len = mk_req(req, FUSE_READ, 12, 4, &ri, sizeof(ri));
	cnt = cut(outb, 5000, one, 1, out, 5000);
	assert_int_equal(fuse_server_handle(srv, &in, 1, out, cnt), OHDR + 4096);
	assert_int_equal(m.io_iovcnt, 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(outb[OHDR + i], (uint8_t)i);
	free(out);
	free(outb);
	fuse_server_free(srv);
}

static void test_write_split(void **state)
{
	static const size_t lens[] = {5, 17, 1, 0, 33};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_write_in wi = {.fh = 3, .offset = 7, .size = 300};
	uint8_t payload[300], req[1024], outb[64];
	struct iovec in[256], out = {outb, sizeof(outb)};
	struct fuse_write_out wo;
	unsigned cnt;
	size_t len, n;

	for (int i = 0; i < 300; i++)
		payload[i] = (uint8_t)(i * 7);
	len = mk_req2(req, FUSE_WRITE, 20, 4, &wi, sizeof(wi), payload, sizeof(payload));
	/* Header, write_in and payload all cut across small iovecs. */
	cnt = cut(req, len, lens, 5, in, 256);
	n = fuse_server_handle(srv, in, cnt, &out, 1);
	assert_int_equal(reply_error(outb, n, 20), 0);
	assert_int_equal(m.calls[M_WRITE], 1);
	assert_int_equal(m.io_size, 300);
	assert_int_equal(m.wlen, 300);
	assert_memory_equal(m.wbuf, payload, 300);
	memcpy(&wo, outb + OHDR, sizeof(wo));
	assert_int_equal(wo.size, 300);

	/* The payload is passed in place, not copied. */
	struct iovec one[2] = {{req, HDR + sizeof(wi)}, {payload, 300}};
	len = mk_req(req, FUSE_WRITE, 21, 4, &wi, sizeof(wi));
	((struct fuse_in_header *)req)->len = (uint32_t)(len + 300);
	n = fuse_server_handle(srv, one, 2, &out, 1);
	assert_int_equal(reply_error(outb, n, 21), 0);
	assert_int_equal(m.io_iovcnt, 1);

	/* size larger than the payload present: EINVAL, no call. */
	wi.size = 301;
	len = mk_req2(req, FUSE_WRITE, 22, 4, &wi, sizeof(wi), payload, sizeof(payload));
	cnt = cut(req, len, lens, 5, in, 256);
	n = fuse_server_handle(srv, in, cnt, &out, 1);
	assert_int_equal(reply_error(outb, n, 22), -EINVAL);
	/* Payload longer than size is fine (only size bytes written). */
	wi.size = 10;
	len = mk_req2(req, FUSE_WRITE, 23, 4, &wi, sizeof(wi), payload, sizeof(payload));
	n = fuse_server_handle(srv, (struct iovec[]){{req, len}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 23), 0);
	assert_int_equal(m.wlen, 10);
	assert_int_equal(m.calls[M_WRITE], 3);

	/* Size over max_write, in a request at the size limit. */
	size_t big = (1u << 20) + 4096;
	uint8_t *bigreq = calloc(1, big);
	wi.size = (1u << 20) + 1;
	mk_req(bigreq, FUSE_WRITE, 24, 4, &wi, sizeof(wi));
	((struct fuse_in_header *)bigreq)->len = (uint32_t)big;
	n = fuse_server_handle(srv, (struct iovec[]){{bigreq, big}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 24), -EINVAL);
	wi.size = 1u << 20;
	mk_req(bigreq, FUSE_WRITE, 25, 4, &wi, sizeof(wi));
	((struct fuse_in_header *)bigreq)->len = (uint32_t)big;
	n = fuse_server_handle(srv, (struct iovec[]){{bigreq, big}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 25), 0);
	assert_int_equal(m.io_size, 1u << 20);
	free(bigreq);
	fuse_server_free(srv);
}

/*
 * The WRITE payload is what len says, not what the chain holds: a size past len is refused even
 * when the buffer goes on (guest bytes after the request are not its payload), and the backend's
 * view is exactly size bytes.
 */
static void test_write_size_past_len(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_write_in wi = {.fh = 3, .size = 300};
	uint8_t payload[300], req[1024], outb[64];
	struct iovec out = {outb, sizeof(outb)};
	size_t len, n;

	for (int i = 0; i < 300; i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	/* 300 payload bytes in the buffer, but len carries only 10 of them. */
	len = mk_req2(req, FUSE_WRITE, 40, 4, &wi, sizeof(wi), payload, sizeof(payload));
	((struct fuse_in_header *)req)->len = (uint32_t)(HDR + sizeof(wi) + 10);
	n = fuse_server_handle(srv, (struct iovec[]){{req, len}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 40), -EINVAL);
	wi.size = 11;
	mk_req2(req, FUSE_WRITE, 41, 4, &wi, sizeof(wi), payload, sizeof(payload));
	((struct fuse_in_header *)req)->len = (uint32_t)(HDR + sizeof(wi) + 10);
	n = fuse_server_handle(srv, (struct iovec[]){{req, len}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 41), -EINVAL);
	assert_int_equal(m.calls[M_WRITE], 0);
	/* size = the 10 bytes len carries: written, exactly those. */
	wi.size = 10;
	mk_req2(req, FUSE_WRITE, 42, 4, &wi, sizeof(wi), payload, sizeof(payload));
	((struct fuse_in_header *)req)->len = (uint32_t)(HDR + sizeof(wi) + 10);
	n = fuse_server_handle(srv, (struct iovec[]){{req, len}}, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 42), 0);
	assert_int_equal(m.calls[M_WRITE], 1);
	assert_int_equal(m.io_size, 10);
	assert_int_equal(m.wlen, 10);
	assert_memory_equal(m.wbuf, payload, 10);
	fuse_server_free(srv);
}

static void check_dirents(const uint8_t *p, size_t len, bool plus, int expect)
{
	size_t off = 0;
	int i = 0;

	while (off < len) {
		struct fuse_dirent d;
		size_t base = plus ? offsetof(struct fuse_direntplus, dirent) : 0;
		char name[32];

		memcpy(&d, p + off + base, sizeof(d));
		snprintf(name, sizeof(name), "entry%d", i);
		assert_int_equal(d.namelen, strlen(name));
		assert_memory_equal(p + off + base + FUSE_NAME_OFFSET, name, d.namelen);
		assert_int_equal(d.off, (uint64_t)i + 1);
		assert_int_equal(d.ino, 100 + (uint64_t)i);
		off += FUSE_DIRENT_ALIGN(base + FUSE_NAME_OFFSET + d.namelen);
		i++;
	}
	assert_int_equal(off, len);
	assert_int_equal(i, expect);
}

static void test_readdir_bounds(void **state)
{
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, NULL);
	struct fuse_read_in ri = {.fh = 9, .size = 4096};
	uint8_t req[128];
	size_t outlen = 3u << 20;
	uint8_t *outb = malloc(outlen);
	struct iovec in = {req, 0}, out = {outb, outlen};
	size_t n;

	in.iov_len = mk_req(req, FUSE_READDIR, 30, 1, &ri, sizeof(ri));
	n = fuse_server_handle(srv, &in, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 30), 0);
	assert_int_equal(m.dir_size, 4096);
	assert_true(n - OHDR <= 4096);
	check_dirents(outb + OHDR, n - OHDR, false, m.dir_added);

	/* A guest asking for more than max_pages pages gets at most 1 MiB. */
	ri.size = UINT32_MAX;
	in.iov_len = mk_req(req, FUSE_READDIRPLUS, 31, 1, &ri, sizeof(ri));
	n = fuse_server_handle(srv, &in, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 31), 0);
	assert_int_equal(m.dir_size, 256 * 4096);
	assert_true(n - OHDR <= 256 * 4096);
	check_dirents(outb + OHDR, n - OHDR, true, m.dir_added);

	/* ... and never more than the out buffer holds. */
	m.dir_entries = 0;
	out.iov_len = OHDR + 100;
	in.iov_len = mk_req(req, FUSE_READDIR, 32, 1, &ri, sizeof(ri));
	n = fuse_server_handle(srv, &in, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 32), 0);
	assert_int_equal(m.dir_size, 100);
	assert_true(n <= OHDR + 100);
	check_dirents(outb + OHDR, n - OHDR, false, m.dir_added);

	/* A small directory: exactly its entries. */
	m.dir_entries = 3;
	out.iov_len = outlen;
	ri.size = 4096;
	in.iov_len = mk_req(req, FUSE_READDIR, 33, 1, &ri, sizeof(ri));
	n = fuse_server_handle(srv, &in, 1, &out, 1);
	assert_int_equal(reply_error(outb, n, 33), 0);
	check_dirents(outb + OHDR, n - OHDR, false, 3);
	free(outb);
	fuse_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_split),
	    cmocka_unit_test(test_read_many_iovecs),
	    cmocka_unit_test(test_write_split),
	    cmocka_unit_test(test_write_size_past_len),
	    cmocka_unit_test(test_readdir_bounds),
	};
	return cmocka_run_group_tests_name("fuse_io", tests, NULL, NULL);
}
