/*
 * Randomised robustness: mutated and random requests, cut into random iovecs, against the
 * recording mock. Whatever the input, the reply stays inside the out iovecs, echoes the
 * unique, carries a valid errno, and the sanitizers see no bad access. Deterministic seed;
 * FUSE_RANDOM_SEED / FUSE_RANDOM_ITERS override.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "test_fuse_mock.h"

#define HDR sizeof(struct fuse_in_header)
#define OHDR sizeof(struct fuse_out_header)
#define MAXIOV 8

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: small, good enough to spread the cases. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

/* Arguments: random bytes, with NULs sprinkled so names terminate now and then. */
static size_t random_args(uint8_t *a, size_t max)
{
	size_t len = rnd_below(4) == 0 ? rnd_below((uint32_t)max) : rnd_below(160);

	for (size_t i = 0; i < len; i++) {
		uint32_t k = rnd_below(10);

		a[i] = k < 3 ? 0 : k < 6 ? (uint8_t)('a' + rnd_below(26)) : (uint8_t)rnd();
	}
	/* Small sizes in the usual size fields keep READ/WRITE/XATTR paths reachable. */
	if (len >= 24 && rnd_below(2))
		memcpy(a + 16, &(uint32_t){rnd_below(600)}, 4);
	if (len >= 4 && rnd_below(3) == 0)
		memcpy(a, &(uint32_t){rnd_below(600)}, 4);
	return len;
}

/* Cut [p, p+len) into up to MAXIOV iovecs of random lengths (some empty). */
static unsigned random_cut(uint8_t *p, size_t len, struct iovec *iov)
{
	unsigned n = 0;
	size_t off = 0;

	while (n < MAXIOV - 1 && off < len && rnd_below(3)) {
		size_t l = rnd_below((uint32_t)(len - off + 1));

		iov[n].iov_base = p + off;
		iov[n++].iov_len = l;
		off += l;
	}
	iov[n].iov_base = p + off;
	iov[n++].iov_len = len - off;
	return n;
}

static uint32_t random_opcode(void)
{
	switch (rnd_below(10)) {
	case 0:
		return rnd();
	case 1:
		return rnd_below(64);
	default:
		return 1 + rnd_below(FUSE_SYNCFS);
	}
}

static void one_request(struct fuse_server *srv, uint8_t *req, uint8_t *outb, size_t outmax)
{
	struct iovec in[MAXIOV], out[MAXIOV];
	struct fuse_in_header h;
	struct fuse_out_header oh;
	uint32_t opcode = random_opcode();
	uint64_t unique = ((uint64_t)rnd() << 32) | rnd();
	size_t arglen = random_args(req + HDR, 4096);
	size_t len = mk_req(req, opcode, unique, 1 + rnd_below(5), NULL, 0) + arglen;
	size_t outlen, n;
	unsigned in_cnt, out_cnt;

	memcpy(&h, req, sizeof(h));
	h.len = (uint32_t)len;
	if (rnd_below(8) == 0)
		h.len = rnd_below(8) ? (uint32_t)(len + rnd_below(64)) - 32 : rnd();
	if (rnd_below(10) == 0)
		h.total_extlen = (uint16_t)rnd_below(6);
	memcpy(req, &h, sizeof(h));
	if (rnd_below(20) == 0)
		len = rnd_below(HDR + 1); /* truncated header */
	outlen = rnd_below(3) ? rnd_below(400) : rnd_below((uint32_t)outmax + 1);
	memset(outb, 0x5a, outlen + 64 < outmax ? outlen + 64 : outmax);
	in_cnt = random_cut(req, len, in);
	out_cnt = random_cut(outb, outlen, out);
	n = fuse_server_handle(srv, in, in_cnt, out, out_cnt);
	assert_true(n <= outlen);
	/* Nothing past the out iovecs (a guard zone after them is enough). */
	for (size_t i = outlen; i < outmax && i < outlen + 64; i++)
		assert_int_equal(outb[i], 0x5a);
	if (n == 0)
		return;
	assert_true(n >= OHDR);
	memcpy(&oh, outb, sizeof(oh));
	assert_int_equal(oh.len, n);
	assert_true(oh.error <= 0 && oh.error >= -4095);
	if (len >= HDR)
		assert_int_equal(oh.unique, unique);
	if (oh.error)
		assert_int_equal(n, OHDR);
}

static void test_random_requests(void **state)
{
	const char *s = getenv("FUSE_RANDOM_SEED"), *it = getenv("FUSE_RANDOM_ITERS");
	unsigned long iters = it ? strtoul(it, NULL, 0) : 200000;
	const size_t outmax = 8192;
	uint8_t *req = calloc(1, HDR + 8192), *outb = malloc(outmax);
	struct fuse_server_opts o = {.readdirplus = true, .xattr = true};
	struct mock_fs m;
	struct fuse_server *srv = mk_server(&m, &o);

	log_init(LOG_LVL_ERROR, false); /* hostile input logs a warning per request */
	rng_state = s ? strtoull(s, NULL, 0) : 0x9e3779b97f4a7c15ULL;
	if (rng_state == 0)
		rng_state = 1;
	for (unsigned long i = 0; i < iters; i++) {
		one_request(srv, req, outb, outmax);
		/* Random DESTROYs leave the session uninitialised now and then; re-INIT. */
		if (rnd_below(50) == 0)
			do_init(srv, 7, 38, rnd() | ((uint64_t)rnd() << 32), NULL);
	}
	/* The mutations must still let a good share through to the backend, READ/WRITE included. */
	if (getenv("FUSE_RANDOM_VERBOSE"))
		for (int i = 0; i < M_NOPS; i++)
			fprintf(stderr, "op %d: %d calls\n", i, m.calls[i]);
	assert_true((unsigned long)m.total_calls > iters / 20);
	assert_true(m.calls[M_READ] > 0 && m.calls[M_WRITE] > 0 && m.calls[M_READDIR] > 0);
	free(req);
	free(outb);
	fuse_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_requests),
	};
	return cmocka_run_group_tests_name("fuse_random", tests, NULL, NULL);
}
