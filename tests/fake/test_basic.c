/* Fake frontend: negotiation, FUSE INIT, clean exit on disconnect, transport variants. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "fe_test.h"

static void check_init(struct fe *fe)
{
	struct fuse_init_out out;

	assert_int_equal(fe_init(fe, &out), 0);
	assert_int_equal(out.major, 7);
	assert_true(out.minor >= 27);
	assert_true(out.max_write >= 4096);
}

static void check_root(struct fe *fe)
{
	struct fuse_attr_out a;

	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	assert_true(S_ISDIR(a.attr.mode));
}

static void test_negotiate_init_exit(void **state)
{
	struct fe *fe = *state;

	assert_true(fe->acked_features & (1ull << VIRTIO_F_VERSION_1));
	assert_true(fe->acked_protocol & (1ull << FE_VU_PF_REPLY_ACK));
	check_init(fe);
	check_root(fe);
	assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
	assert_int_equal(WEXITSTATUS(fe->status), 0);
}

static void test_exit_without_init(void **state)
{
	struct fe *fe = *state;

	assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
	assert_int_equal(WEXITSTATUS(fe->status), 0);
}

static void run_variant(const struct fe_opts *opts, const struct fe_req_opts *ro)
{
	void *st = NULL;
	struct fe *fe;
	struct fuse_entry_out e;
	uint64_t fh;
	char buf[8192], back[8192];
	uint32_t n;

	assert_int_equal(fe_test_start(&st, opts, true), 0);
	fe = st;
	check_root(fe);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "f", O_RDWR, 0644, &e, &fh), 0);
	assert_int_equal(fe_write(fe, e.nodeid, fh, 0, buf, sizeof(buf), ro, &n), 0);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(fe_read(fe, e.nodeid, fh, 0, back, sizeof(back), ro, &n), 0);
	assert_int_equal(n, sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
	assert_int_equal(WEXITSTATUS(fe->status), 0);
	assert_int_equal(fe_teardown_checked(&st), 0);
}

static void test_set_mem_table(void **state)
{
	struct fe_opts o = { .set_mem_table = true };

	(void)state;
	run_variant(&o, NULL);
}

static void test_one_region(void **state)
{
	struct fe_opts o = { .one_region = true };

	(void)state;
	run_variant(&o, NULL);
}

static void test_small_queue(void **state)
{
	struct fe_opts o = { .queue_size = 16 };

	(void)state;
	run_variant(&o, NULL);
}

static void test_always_kick(void **state)
{
	struct fe_opts o = { .always_kick = true };

	(void)state;
	run_variant(&o, NULL);
}

static void test_indirect(void **state)
{
	struct fe_req_opts ro = { .indirect = true, .seg_max = 512 };

	(void)state;
	run_variant(NULL, &ro);
}

static void test_tiny_segments(void **state)
{
	struct fe_req_opts ro = { .seg_max = 16 };

	(void)state;
	run_variant(NULL, &ro);
}

static void test_cross_regions(void **state)
{
	struct fe_req_opts ro = { .cross = true };

	(void)state;
	run_variant(NULL, &ro);
}

static void test_many_requests(void **state)
{
	struct fe *fe = *state;

	/* Several times round a 1024-entry ring, so the indexes wrap. */
	for (int i = 0; i < 70000; i++) {
		struct fuse_attr_out a;

		if (fe_getattr(fe, FUSE_ROOT_ID, &a) != 0)
			fail_msg("GETATTR %d failed", i);
	}
}

static void test_hiprio_forget(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;

	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "d", 0755, &e), 0);
	assert_int_equal(fe_forget(fe, e.nodeid, 1, true), 0);
	check_root(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T_NOINIT(test_negotiate_init_exit),
		FE_T_NOINIT(test_exit_without_init),
		cmocka_unit_test(test_set_mem_table),
		cmocka_unit_test(test_one_region),
		cmocka_unit_test(test_small_queue),
		cmocka_unit_test(test_always_kick),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_tiny_segments),
		cmocka_unit_test(test_cross_regions),
		FE_T(test_many_requests),
		FE_T(test_hiprio_forget),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-basic", tests, NULL, NULL);
}
