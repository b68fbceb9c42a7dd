/*
 * Fake frontend: the device config space (--tag, VHOST_USER_PROTOCOL_F_CONFIG). The bytes are
 * checked against struct virtio_fs_config as linux/virtio_fs.h lays it out: tag[36] padded with
 * NULs (none when it is 36 bytes long), then num_request_queues as a little-endian u32.
 * Bad offsets and sizes get the zero-length reply vhost-user.rst prescribes for an error, and
 * the connection stays usable; SET_CONFIG is refused (the space is read-only).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fe_test.h"

#define TAG "fake-tag"
#define TAG36 "abcdefghijklmnopqrstuvwxyz0123456789"
#define CFG_LEN 40 /* sizeof(struct virtio_fs_config) */

#define CASE(s) fprintf(stderr, "case: %s\n", (s))

static int start_tagged(void **state, const char *args, bool ack)
{
	struct fe_opts o = { .daemon_args = args, .ack_config = ack };

	return fe_test_start(state, &o, false);
}

static int setup_tag(void **state) { return start_tagged(state, "--tag=" TAG, true); }
static int setup_tag36(void **state) { return start_tagged(state, "--tag=" TAG36, true); }
static int setup_tag_noack(void **state) { return start_tagged(state, "--tag=" TAG, false); }
static int setup_notag(void **state) { return start_tagged(state, NULL, true); }

/* The 40 bytes the daemon must serve for tag. */
static void expected_config(const char *tag, uint8_t out[CFG_LEN])
{
	memset(out, 0, CFG_LEN);
	memcpy(out, tag, strlen(tag));
	out[36] = 1; /* one request queue, little-endian */
}

static void alive(struct fe *fe)
{
	uint64_t f;

	assert_true(fe_alive(fe));
	assert_int_equal(fe_vu_get_u64(fe, FE_VU_GET_FEATURES, &f), 0);
}

/* GET_CONFIG [off, off + size) and compare with want (NULL: all zeros). */
static void expect_bytes(struct fe *fe, uint32_t off, uint32_t size, const uint8_t *want)
{
	uint8_t buf[12 + 256];
	const struct fe_vu_config *c = (const void *)buf;
	int r = fe_vu_get_config(fe, off, size, buf, sizeof(buf));

	fprintf(stderr, "case: GET_CONFIG offset %u size %u\n", off, size);
	assert_int_equal(r, 12 + (int)size);
	assert_int_equal(c->offset, off);
	assert_int_equal(c->size, size);
	for (uint32_t i = 0; i < size; i++) {
		uint8_t w = want ? want[i] : 0;

		if (c->region[i] != w)
			fail_msg("byte %u of the reply (config offset %u) is %#x, expected %#x", i,
				 off + i, c->region[i], w);
	}
}

static void expect_refused_get(struct fe *fe, uint32_t off, uint32_t size)
{
	uint8_t buf[12 + 512];
	int r = fe_vu_get_config(fe, off, size, buf, sizeof(buf));

	fprintf(stderr, "case: GET_CONFIG offset %u size %u refused\n", off, size);
	assert_int_equal(r, 0);
	alive(fe);
}

static void test_whole_config(void **state)
{
	struct fe *fe = *state;
	uint8_t want[CFG_LEN];

	assert_true(fe->dev_protocol & (1ull << FE_VU_PF_CONFIG));
	expected_config(TAG, want);
	expect_bytes(fe, 0, CFG_LEN, want);
	assert_true(fe_log_clean(fe) == 0);
}

static void test_partial_reads(void **state)
{
	struct fe *fe = *state;
	uint8_t want[CFG_LEN];

	expected_config(TAG, want);
	expect_bytes(fe, 36, 4, want + 36); /* num_request_queues alone */
	expect_bytes(fe, 0, 4, want);
	expect_bytes(fe, 4, 36, want + 4);
	expect_bytes(fe, 39, 1, want + 39);
	expect_bytes(fe, 0, 1, want);
}

/* Past struct virtio_fs_config (fields of later spec versions): zeros, up to 256 bytes. */
static void test_beyond_struct_reads_zero(void **state)
{
	struct fe *fe = *state;
	uint8_t want[256] = { 0 };

	expected_config(TAG, want);
	expect_bytes(fe, 40, 4, NULL);
	expect_bytes(fe, 0, 256, want);
	expect_bytes(fe, 252, 4, NULL);
}

static void test_bad_bounds(void **state)
{
	struct fe *fe = *state;

	CASE("size 0");
	expect_refused_get(fe, 0, 0);
	CASE("size past 256");
	expect_refused_get(fe, 0, 257);
	CASE("offset + size past 256");
	expect_refused_get(fe, 253, 4);
	CASE("offset wrapping around");
	expect_refused_get(fe, 0xffffffffu, 4);
	CASE("offset past 256");
	expect_refused_get(fe, 300, 1);
}

/* The payload must be the 12-byte header plus exactly size bytes. */
static void test_bad_payloads(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_hdr h;
	uint8_t buf[64] = { 0 };
	struct fe_vu_config *c = (void *)buf;

	c->offset = 0;
	c->size = 4;
	/* size says 4, 8 bytes follow */
	assert_int_equal(fe_vu_send(fe, FE_VU_GET_CONFIG, 0, buf, 12 + 8, NULL, 0), 0);
	assert_int_equal(fe_vu_recv(fe, &h, buf, sizeof(buf), FE_TIMEOUT_MS), 0);
	assert_int_equal(h.request, FE_VU_GET_CONFIG);
	alive(fe);
	/* shorter than the header */
	assert_int_equal(fe_vu_send(fe, FE_VU_GET_CONFIG, 0, buf, 8, NULL, 0), 0);
	assert_int_equal(fe_vu_recv(fe, &h, buf, sizeof(buf), FE_TIMEOUT_MS), 0);
	alive(fe);
	assert_true(fe_log_contains(fe, "GET_CONFIG refused: payload size does not match"));
	assert_true(fe_log_contains(fe, "GET_CONFIG refused: payload shorter"));
}

static void test_set_config_refused(void **state)
{
	struct fe *fe = *state;
	uint8_t buf[12 + 4] = { 0 }, want[CFG_LEN];
	struct fe_vu_config *c = (void *)buf;
	struct fe_vu_hdr h;
	uint64_t ack = 0;

	c->offset = 0;
	c->size = 4;
	memcpy(c->region, "evil", 4);
	assert_int_equal(fe_vu_send(fe, FE_VU_SET_CONFIG, FE_VU_FLAG_NEED_REPLY, buf, sizeof(buf),
				    NULL, 0), 0);
	assert_int_equal(fe_vu_recv(fe, &h, &ack, sizeof(ack), FE_TIMEOUT_MS), 8);
	assert_int_equal(h.request, FE_VU_SET_CONFIG);
	assert_int_not_equal(ack, 0);
	expected_config(TAG, want);
	expect_bytes(fe, 0, CFG_LEN, want);
	assert_true(fe_log_contains(fe, "SET_CONFIG refused: the virtio-fs config space is read-only"));
}

/* 36 bytes fill tag[] with no NUL. */
static void test_tag_of_36_bytes(void **state)
{
	struct fe *fe = *state;
	uint8_t want[CFG_LEN];

	expected_config(TAG36, want);
	expect_bytes(fe, 0, CFG_LEN, want);
}

/* Without --tag, CONFIG is not offered and GET_CONFIG is refused. */
static void test_no_tag_no_config(void **state)
{
	struct fe *fe = *state;

	assert_false(fe->dev_protocol & (1ull << FE_VU_PF_CONFIG));
	expect_refused_get(fe, 0, CFG_LEN);
	assert_true(fe_log_contains(fe, "no config space without --tag"));
}

/* Offered but not acked (QEMU 7.2's vhost-user-fs-pci): refused too. */
static void test_not_negotiated(void **state)
{
	struct fe *fe = *state;

	assert_true(fe->dev_protocol & (1ull << FE_VU_PF_CONFIG));
	assert_false(fe->acked_protocol & (1ull << FE_VU_PF_CONFIG));
	expect_refused_get(fe, 0, CFG_LEN);
	assert_true(fe_log_contains(fe, "CONFIG was not negotiated"));
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, fe_teardown_checked)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_whole_config, setup_tag),
		T(test_partial_reads, setup_tag),
		T(test_beyond_struct_reads_zero, setup_tag),
		T(test_bad_bounds, setup_tag),
		T(test_bad_payloads, setup_tag),
		T(test_set_config_refused, setup_tag),
		T(test_tag_of_36_bytes, setup_tag36),
		T(test_no_tag_no_config, setup_notag),
		T(test_not_negotiated, setup_tag_noack),
	};

	return cmocka_run_group_tests_name("fake frontend: device config space (--tag)", tests,
					   NULL, NULL);
}
