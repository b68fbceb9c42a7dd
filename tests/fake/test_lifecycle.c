/* Fake frontend: many requests in flight, thread pool, device stop/resume and restart,
 * FUSE DESTROY and a new INIT. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)
#define NINFLIGHT 200

static void inflight(struct fe *fe)
{
	struct fuse_getattr_in g = { 0 };
	struct iovec a[] = { IOV(&g, sizeof(g)) };
	uint64_t uniq[NINFLIGHT], gpa[NINFLIGHT];
	const size_t cap = OUT_HDR + sizeof(struct fuse_attr_out);

	for (int i = 0; i < NINFLIGHT; i++)
		assert_int_equal(fe_fuse_post(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, cap, NULL,
					      &uniq[i], &gpa[i]),
				 0);
	for (int i = 0; i < NINFLIGHT; i++) {
		uint32_t id, len;
		int r = fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len);

		if (r < 0)
			fail_msg("completion %d of %d: %d", i, NINFLIGHT, r);
		assert_int_equal(len, cap);
	}
	for (int i = 0; i < NINFLIGHT; i++) {
		struct fuse_out_header *h = fe_gpa_ptr(fe, gpa[i], cap);

		assert_int_equal(h->unique, uniq[i]);
		assert_int_equal(h->error, 0);
		assert_int_equal(h->len, cap);
	}
}

static void test_inflight(void **state)
{
	inflight(*state);
	inflight(*state);
}

static void test_thread_pool(void **state)
{
	struct fe_opts o = { .daemon_args = "--thread-pool-size=4" };
	void *st = NULL;
	struct fe *fe;

	(void)state;
	assert_int_equal(fe_test_start(&st, &o, true), 0);
	fe = st;
	if (fe->legacy) /* it has no such option; its default is a pool anyway */
		skip();
	for (int i = 0; i < 5; i++)
		inflight(fe);
	assert_int_equal(fe_teardown_checked(&st), 0);
}

static void make_file(struct fe *fe, const char *name)
{
	struct fuse_entry_out e;
	uint64_t fh;

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, name, O_RDWR | O_CREAT, S_IFREG | 0644, &e,
				   &fh),
			 0);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

/* What QEMU does on "stop" then "cont": GET_VRING_BASE on each queue, then the same set-up
 * with the returned base. The FUSE session goes on. */
static void test_stop_cont(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;

	make_file(fe, "f");
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++) {
		uint32_t base;

		assert_int_equal(fe_vu_get_vring_base(fe, q, &base), 0);
		assert_int_equal(base, fe->vq[q].avail_idx);
	}
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_start(fe, q), 0);
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_enable(fe, q, true), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "f", &e), 0);
	make_file(fe, "g");
}

/* A guest reboot: queues stopped, then a new driver sets them up from index 0 and sends a
 * new INIT, which must be accepted. */
static void test_device_restart(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fuse_init_out out;

	make_file(fe, "f");
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++) {
		uint32_t base;

		assert_int_equal(fe_vu_get_vring_base(fe, q, &base), 0);
		fe_vq_reset(fe, q);
	}
	assert_int_equal(fe_vu_set_u64(fe, FE_VU_SET_FEATURES, fe->acked_features, NULL, 0), 0);
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_start(fe, q), 0);
	for (unsigned q = 0; q < FE_NUM_QUEUES; q++)
		assert_int_equal(fe_vq_enable(fe, q, true), 0);
	assert_int_equal(fe_init(fe, &out), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "f", &e), 0);
}

static void test_destroy_reinit(void **state)
{
	struct fe *fe = *state;
	struct fe_reply r;
	struct fuse_init_out out;
	struct fuse_attr_out a;

	make_file(fe, "f");
	assert_int_equal(fe_check_reply(fe_fuse_req(fe, FUSE_DESTROY, 0, NULL, 0, 64, NULL, &r),
					&r, 0),
			 0);
	fe_reply_free(&r);
	assert_int_equal(fe_init(fe, &out), 0);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	make_file(fe, "g");
}

/* A second frontend on the socket while one is served: refused at once (ECONNREFUSED), not
 * left waiting for replies that never come; the first one is still served. */
static void test_second_frontend_refused(void **state)
{
	struct fe *fe = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fuse_attr_out attr;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fe->sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &attr), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_inflight),
		cmocka_unit_test(test_thread_pool),
		FE_T(test_stop_cont),
		FE_T(test_device_restart),
		FE_T(test_destroy_reinit),
		FE_T(test_second_frontend_refused),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-lifecycle", tests, NULL, NULL);
}
