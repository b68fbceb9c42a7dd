/*
 * Fake frontend: hostile vhost-user messages and hostile virtqueues. The daemon may refuse a
 * message (non-zero REPLY_ACK), or close the connection and exit without a signal, logging
 * why; when it closes, the next case of a test gets a new daemon (never a silent skip). A bad
 * ring stops that queue with a log line naming the fault and without a used element; after a
 * queue reset it serves again. It never crashes, never hangs, never accepts a message it
 * cannot honour. Not meant for the legacy daemon.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define REFUSE_WAIT_MS 2000

static const char *cur_case = "";
#define CASE(s) (cur_case = (s))

/* The connection is usable: a GET_FEATURES round trip works. */
static void vhost_alive(struct fe *fe)
{
	uint64_t f;

	assert_true(fe_alive(fe));
	assert_int_equal(fe_vu_get_u64(fe, FE_VU_GET_FEATURES, &f), 0);
	assert_int_equal(f, fe->dev_features);
}

/* Either the daemon closed the connection and exited cleanly after logging, or it replied
 * with a non-zero ack and still serves. A zero ack, silence, or a signal fails the test. */
static void expect_refused(struct fe *fe, uint32_t req)
{
	struct fe_vu_hdr h;
	uint64_t v = 0;
	int r = fe_vu_recv(fe, &h, &v, sizeof(v), REFUSE_WAIT_MS);

	if (r == -ECONNRESET || r == -EPIPE) {
		assert_int_equal(fe_wait_exit(fe, FE_TIMEOUT_MS), 0);
		if (WIFSIGNALED(fe->status))
			fail_msg("daemon killed by signal %d after request %u",
				 WTERMSIG(fe->status), req);
		assert_true(WIFEXITED(fe->status));
		assert_int_equal(fe_log_clean(fe), 0);
		if (fe_count_entries(fe->tmp) < 0 || !fe_log_contains(fe, "\n"))
			fail_msg("no log line for the refused request %u", req);
		return;
	}
	if (r == -ETIMEDOUT)
		fail_msg("no reply and no close after malformed request %u (%s)", req, cur_case);
	assert_true(r >= 0);
	assert_int_equal(h.request, req);
	assert_int_equal(h.size, 8);
	if (v == 0)
		fail_msg("malformed request %u was acknowledged as a success (%s)", req, cur_case);
	vhost_alive(fe);
}

static void send_bad(struct fe *fe, uint32_t req, const void *p, uint32_t size, const int *fds,
		     unsigned nfds)
{
	int r = fe_vu_send(fe, req, FE_VU_FLAG_NEED_REPLY, p, size, fds, nfds);

	/* The daemon may already have closed the connection: then expect_refused sees it. */
	assert_true(r == 0 || r == -EPIPE || r == -ECONNRESET);
	expect_refused(fe, req);
}

static int start_connected(void **state)
{
	struct fe_opts o = { .no_negotiate = true };
	struct fe *fe;
	int r = fe_test_start(state, &o, false);

	if (r < 0)
		return r;
	fe = *state;
	/* Up to the point where REPLY_ACK is on, so refusals can be seen as acks. */
	if (fe_vu_get_u64(fe, FE_VU_GET_FEATURES, &fe->dev_features) < 0 ||
	    fe_vu_get_u64(fe, FE_VU_GET_PROTOCOL_FEATURES, &fe->dev_protocol) < 0)
		return -1;
	fe->acked_protocol = fe->dev_protocol & (1ull << FE_VU_PF_REPLY_ACK);
	if (fe_vu_send(fe, FE_VU_SET_PROTOCOL_FEATURES, 0, &fe->acked_protocol, 8, NULL, 0) < 0 ||
	    fe_vu_set(fe, FE_VU_SET_OWNER, NULL, 0, NULL, 0) < 0)
		return -1;
	return 0;
}

#define FE_T_CONN(fn) cmocka_unit_test_setup_teardown(fn, start_connected, fe_teardown_checked)

/* The daemon may have closed the connection on the last case (a clean exit, checked by
 * expect_refused): the next case runs against a new one, set up as the test's was. */
static struct fe *next_case(void **state)
{
	struct fe *fe = *state;

	if (fe_alive(fe))
		return fe;
	assert_int_equal(fe_teardown_checked(state), 0);
	assert_int_equal(start_connected(state), 0);
	return *state;
}

static void test_unknown_request(void **state)
{
	struct fe *fe = *state;
	uint64_t v = 0;

	send_bad(fe, 999, &v, sizeof(v), NULL, 0);
	fe = next_case(state);
	send_bad(fe, 0, NULL, 0, NULL, 0);
}

static void test_wrong_size(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_vring_state st = { .index = 0, .num = 256 };

	send_bad(fe, FE_VU_SET_VRING_NUM, &st, 4, NULL, 0);
	fe = next_case(state);
	send_bad(fe, FE_VU_SET_FEATURES, &st, 4, NULL, 0);
	fe = next_case(state);
	send_bad(fe, FE_VU_SET_VRING_ADDR, &st, sizeof(st), NULL, 0);
}

static void test_huge_size(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_hdr h = { .request = FE_VU_SET_VRING_NUM,
			       .flags = FE_VU_VERSION | FE_VU_FLAG_NEED_REPLY,
			       .size = 0x7fffffff };

	assert_int_equal(fe_vu_send_raw(fe, &h, sizeof(h), NULL, 0), 0);
	/* The daemon must not wait for 2 GiB: it refuses the header at once, closes the
	 * connection with a log line and exits cleanly. */
	struct fe_vu_hdr rh;
	uint64_t v;
	int r = fe_vu_recv(fe, &rh, &v, sizeof(v), REFUSE_WAIT_MS);

	assert_int_equal(r, -ECONNRESET);
	assert_int_equal(fe_wait_exit(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
	assert_true(fe_log_contains(fe, "vhost-user: bad message header (request 8, flags 0x9, "
					"size 2147483647): closing the connection"));
}

static void test_truncated_then_close(void **state)
{
	struct fe *fe = *state;
	uint8_t half[5] = { FE_VU_SET_VRING_NUM, 0, 0, 0, 1 };

	assert_int_equal(fe_vu_send_raw(fe, half, sizeof(half), NULL, 0), 0);
	assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
	assert_true(WIFEXITED(fe->status));
}

static void test_too_many_fds(void **state)
{
	struct fe *fe = *state;
	int fds[12];

	for (unsigned i = 0; i < 12; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	/* An fd where none is expected, two where one is, more than the protocol's maximum. */
	send_bad(fe, FE_VU_SET_VRING_NUM, &(struct fe_vu_vring_state){ 0, 64 }, 8, fds, 1);
	fe = next_case(state);
	send_bad(fe, FE_VU_SET_VRING_CALL, &(uint64_t){ 0 }, 8, fds, 2);
	fe = next_case(state);
	send_bad(fe, FE_VU_SET_VRING_KICK, &(uint64_t){ 0 }, 8, fds, 12);
	for (unsigned i = 0; i < 12; i++)
		close(fds[i]);
}

static void test_missing_fd(void **state)
{
	struct fe *fe = *state;

	send_bad(fe, FE_VU_SET_VRING_KICK, &(uint64_t){ 0 }, 8, NULL, 0);
}

static void test_queue_index_out_of_range(void **state)
{
	struct fe *fe = *state;
	uint32_t idx[] = { 200, 0xff, 0xffffffff };
	int efd = eventfd(0, EFD_CLOEXEC);

	for (size_t i = 0; i < 3; i++) {
		struct fe_vu_vring_state st = { .index = idx[i], .num = 64 };
		struct fe_vu_vring_addr a = { .index = idx[i] };

		fe = next_case(state);
		send_bad(fe, FE_VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
		fe = next_case(state);
		send_bad(fe, FE_VU_SET_VRING_BASE, &st, sizeof(st), NULL, 0);
		fe = next_case(state);
		send_bad(fe, FE_VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
		fe = next_case(state);
		send_bad(fe, FE_VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
		if (idx[i] <= 0xff) {
			fe = next_case(state);
			send_bad(fe, FE_VU_SET_VRING_CALL, &(uint64_t){ idx[i] }, 8, &efd, 1);
		}
	}
	close(efd);
}

static void test_bad_vring_num(void **state)
{
	struct fe *fe = *state;
	uint32_t nums[] = { 0, 3, 65536, 0x80000000 };

	for (size_t i = 0; i < 4; i++) {
		struct fe_vu_vring_state st = { .index = 1, .num = nums[i] };

		fe = next_case(state);
		send_bad(fe, FE_VU_SET_VRING_NUM, &st, sizeof(st), NULL, 0);
	}
}

static void send_bad_table(void **state, const char *what, struct fe_vu_mem_table *t,
			   unsigned nfds)
{
	struct fe *fe = next_case(state);
	int fds[2] = { fe->mem_fd, fe->mem_fd };

	CASE(what);
	for (unsigned i = 0; i < t->nregions && i < 2; i++)
		t->regions[i].userspace_addr = fe->regions[0].userspace_addr;
	/* "9 regions" claims more than the payload carries: the payload is 8 of them at most. */
	unsigned carried = t->nregions < FE_VU_MAX_REGIONS ? t->nregions : FE_VU_MAX_REGIONS;

	send_bad(fe, FE_VU_SET_MEM_TABLE, t, 8 + sizeof(t->regions[0]) * carried, fds, nfds);
}

static void test_bad_mem_table(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_mem_table t = { .nregions = 9 };

	send_bad_table(state, "9 regions", &t, 1);
	/* Two regions announced, one fd sent. */
	t.nregions = 2;
	t.regions[0] = fe->regions[0];
	t.regions[1] = fe->regions[0];
	t.regions[1].guest_phys_addr += FE_MEM_SIZE;
	send_bad_table(state, "2 regions, 1 fd", &t, 1);
	/* A region larger than the file, and one whose size wraps the address space. */
	t.nregions = 1;
	t.regions[0].memory_size = FE_MEM_SIZE * 4;
	send_bad_table(state, "region larger than the file", &t, 1);
	t.regions[0].memory_size = 4096;
	t.regions[0].guest_phys_addr = ~0ull - 100;
	send_bad_table(state, "region wrapping the guest address space", &t, 1);
}

static void test_bad_add_mem_reg(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_single_region m = { .region = fe->regions[0] };

	/* No fd, then a zero-sized region. */
	CASE("ADD_MEM_REG without fd");
	send_bad(fe, FE_VU_ADD_MEM_REG, &m, sizeof(m), NULL, 0);
	fe = next_case(state);
	m.region = fe->regions[0];
	m.region.memory_size = 0;
	CASE("ADD_MEM_REG of size 0");
	send_bad(fe, FE_VU_ADD_MEM_REG, &m, sizeof(m), &fe->mem_fd, 1);
}

/* ---- hostile rings: negotiated daemon, FUSE INIT done ---- */

/* Lines of the daemon log that contain needle. */
static int log_count(struct fe *fe, const char *needle)
{
	FILE *f = fopen(fe->log_path, "re");
	char line[2048];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* A new driver for the request queue (what the guest does after a device reset), then a
 * request that must be served. */
static void restart_req_queue(struct fe *fe)
{
	struct fuse_attr_out a;
	uint32_t base;

	assert_int_equal(fe_vu_get_vring_base(fe, FE_REQ_Q, &base), 0);
	fe_vq_reset(fe, FE_REQ_Q);
	fe_alloc_reset(fe);
	assert_int_equal(fe_vq_start(fe, FE_REQ_Q), 0);
	assert_int_equal(fe_vq_enable(fe, FE_REQ_Q, true), 0);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

/*
 * After a bad chain or ring index: no used element, the daemon alive with its socket
 * answering, one more "guest broke the ring (why)" line in its log (seen is the count before),
 * and the queue serving again once the driver resets it.
 */
static void ring_refused(struct fe *fe, const char *why, int seen)
{
	char needle[160];
	uint32_t id, len = 0;
	int r = fe_vq_wait(fe, FE_REQ_Q, 500, &id, &len);

	if (r != -ETIMEDOUT)
		fail_msg("bad ring (%s): completion %d (used len %u), expected none", why, r, len);
	vhost_alive(fe);
	snprintf(needle, sizeof(needle), "guest broke the ring (%s)", why);
	if (log_count(fe, needle) != seen + 1) {
		fe_dump_log(fe);
		fail_msg("expected one more log line \"%s\" (had %d)", needle, seen);
	}
	restart_req_queue(fe);
}

static int broke_count(struct fe *fe, const char *why)
{
	char needle[160];

	snprintf(needle, sizeof(needle), "guest broke the ring (%s)", why);
	return log_count(fe, needle);
}
static uint64_t scratch(struct fe *fe, uint32_t len)
{
	uint64_t g = fe_alloc(fe, len, false);
	struct fuse_in_header *h = fe_gpa_ptr(fe, g, len);

	*h = (struct fuse_in_header){ .len = sizeof(*h) + sizeof(struct fuse_getattr_in),
				      .opcode = FUSE_GETATTR, .unique = 4242,
				      .nodeid = FUSE_ROOT_ID };
	return g;
}

static void post_segs(struct fe *fe, const struct fe_seg *s, unsigned n, bool indirect,
		      const char *why)
{
	int seen = broke_count(fe, why);
	uint16_t head;

	assert_int_equal(fe_vq_add_chain(fe, FE_REQ_Q, s, n, indirect, &head), 0);
	assert_int_equal(fe_vq_publish(fe, FE_REQ_Q, head), 0);
	ring_refused(fe, why, seen);
}

#define OUTSIDE "buffer outside guest memory"


/* Each case below takes a fresh scratch buffer: the queue restart's GETATTR reuses memory. */
static void test_desc_outside_memory(void **state)
{
	struct fe *fe = *state;
	uint64_t g = scratch(fe, 4096);
	struct fe_seg s[2] = { { g, 56, false }, { 0x1000, 4096, true } };

	post_segs(fe, s, 2, false, OUTSIDE);
	g = scratch(fe, 4096);
	s[0].gpa = g;
	s[1].gpa = FE_GPA_BASE + FE_MEM_SIZE - 8; /* starts inside, ends outside */
	post_segs(fe, s, 2, false, OUTSIDE);
	g = scratch(fe, 4096);
	s[0].gpa = ~0ull - 16; /* wraps */
	s[1].gpa = g + 1024;
	post_segs(fe, s, 2, false, OUTSIDE);
}

static void test_desc_huge_lengths(void **state)
{
	struct fe *fe = *state;
	uint64_t g = scratch(fe, 4096);
	struct fe_seg s[3] = { { g, 56, false }, { g + 1024, 0xffffffff, true },
			       { g + 2048, 0xffffffff, true } };

	/* 4 GiB from inside guest RAM: outside it long before the lengths add up. */
	post_segs(fe, s, 3, false, OUTSIDE);
	/* Lengths that add up past 32 bits inside guest RAM: 129 descriptors naming the same
	 * 32 MiB (the second region). */
	enum { N = 130 };
	static struct fe_seg big[N];

	g = scratch(fe, 4096);
	big[0] = (struct fe_seg){ g, 56, false };
	for (unsigned i = 1; i < N; i++)
		big[i] = (struct fe_seg){ FE_GPA_BASE + FE_MEM_SIZE / 2, FE_MEM_SIZE / 2, true };
	post_segs(fe, big, N, false, "chain length overflows 32 bits");
}

static void test_write_before_read(void **state)
{
	struct fe *fe = *state;
	uint64_t g = scratch(fe, 4096);
	struct fe_seg s[3] = { { g + 1024, 256, true }, { g, 56, false }, { g + 2048, 256, true } };

	post_segs(fe, s, 3, false, "readable descriptor after a writable one");
}

#define LOOP "descriptor loop or chain too long"

/* Publish head (descriptors written by hand) and expect the queue to stop for why. */
static void publish_bad(struct fe *fe, int head, const char *why)
{
	int seen = broke_count(fe, why);

	assert_int_equal(fe_vq_publish(fe, FE_REQ_Q, (uint16_t)head), 0);
	ring_refused(fe, why, seen);
}

static void test_desc_loop(void **state)
{
	struct fe *fe = *state;
	struct fe_vq *vq = &fe->vq[FE_REQ_Q];
	uint64_t g = scratch(fe, 4096);
	int a = fe_vq_get_desc(fe, FE_REQ_Q), b = fe_vq_get_desc(fe, FE_REQ_Q);

	/* Two readable descriptors naming each other (with b writable, the order check would
	 * stop it first). */
	vq->desc[a] = (struct vring_desc){ g, 56, VRING_DESC_F_NEXT, b };
	vq->desc[b] = (struct vring_desc){ g + 1024, 256, VRING_DESC_F_NEXT, a };
	publish_bad(fe, a, LOOP);
	/* A descriptor chained to itself, and a next index past the ring. */
	g = scratch(fe, 4096);
	a = fe_vq_get_desc(fe, FE_REQ_Q);
	vq->desc[a] = (struct vring_desc){ g, 56, VRING_DESC_F_NEXT, a };
	publish_bad(fe, a, LOOP);
	g = scratch(fe, 4096);
	a = fe_vq_get_desc(fe, FE_REQ_Q);
	vq->desc[a] = (struct vring_desc){ g, 56, VRING_DESC_F_NEXT, 60000 };
	publish_bad(fe, a, "next index out of range");
}

static void test_bad_indirect(void **state)
{
	struct fe *fe = *state;
	struct fe_vq *vq = &fe->vq[FE_REQ_Q];
	/* table length per case: a loop inside the table, empty, not a multiple of 16, (last)
	 * an indirect descriptor inside the table, and far larger than the ring allows */
	static const uint32_t lens[] = { 32, 0, 17, 16, 16 * 65536 };
	static const char *const why[] = { LOOP, "indirect table of bad size",
					   "indirect table of bad size", "nested indirect table",
					   "indirect table of bad size" };

	for (unsigned i = 0; i < 5; i++) {
		uint64_t g = scratch(fe, 8192), t = g + 4096;
		struct vring_desc *tab = fe_gpa_ptr(fe, t, 4096);
		int d = fe_vq_get_desc(fe, FE_REQ_Q);

		tab[0] = (struct vring_desc){ g, 56, VRING_DESC_F_NEXT, 1 };
		tab[1] = (struct vring_desc){ g + 1024, 256,
					      VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0 };
		if (i == 3)
			tab[0] = (struct vring_desc){ t, 32, VRING_DESC_F_INDIRECT, 0 };
		vq->desc[d] = (struct vring_desc){ i == 4 ? FE_GPA_BASE : t, lens[i],
						   VRING_DESC_F_INDIRECT, 0 };
		publish_bad(fe, d, why[i]);
	}
}

static void test_avail_idx_jump(void **state)
{
	struct fe *fe = *state;
	struct fe_vq *vq = &fe->vq[FE_REQ_Q];
	const char *why = "avail index moved by more than the ring size";
	int seen = broke_count(fe, why);

	assert_int_equal(fe_vq_set_avail_idx(fe, FE_REQ_Q, vq->avail_idx + vq->num + 7), 0);
	ring_refused(fe, why, seen);
}

static void test_head_out_of_range(void **state)
{
	struct fe *fe = *state;
	struct fe_vq *vq = &fe->vq[FE_REQ_Q];
	const char *why = "head index out of range";
	int seen = broke_count(fe, why);

	vq->avail->ring[vq->avail_idx % vq->num] = 60000;
	assert_int_equal(fe_vq_set_avail_idx(fe, FE_REQ_Q, vq->avail_idx + 1), 0);
	ring_refused(fe, why, seen);
}

static void test_kick_unstarted_queue_ops(void **state)
{
	struct fe *fe = *state;
	struct fe_vu_vring_state st = { .index = FE_REQ_Q, .num = 0 };

	/* Disable the request queue, kick it anyway, then re-enable and use it. */
	assert_int_equal(fe_vu_set(fe, FE_VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	assert_int_equal(fe_vq_kick(fe, FE_REQ_Q), 0);
	st.num = 1;
	assert_int_equal(fe_vu_set(fe, FE_VU_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
	struct fuse_attr_out a;

	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

/* RESET_DEVICE (QEMU 10 sends one while it sets the connection up) leaves the backend request
 * channel open: the frontend never sends it again on this connection. */
static void test_reset_keeps_backend_channel(void **state)
{
	struct fe *fe = *state;
	struct pollfd p;

	assert_true(fe->backend_fd >= 0);
	assert_int_equal(fe_vu_set(fe, FE_VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	p = (struct pollfd){ .fd = fe->backend_fd, .events = POLLIN };
	/* Neither a message nor a hang-up on it. */
	assert_int_equal(poll(&p, 1, 300), 0);
	vhost_alive(fe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T_CONN(test_unknown_request),
		FE_T_CONN(test_wrong_size),
		FE_T_CONN(test_huge_size),
		FE_T_CONN(test_truncated_then_close),
		FE_T_CONN(test_too_many_fds),
		FE_T_CONN(test_missing_fd),
		FE_T_CONN(test_queue_index_out_of_range),
		FE_T_CONN(test_bad_vring_num),
		FE_T_CONN(test_bad_mem_table),
		FE_T_CONN(test_bad_add_mem_reg),
		FE_T(test_desc_outside_memory),
		FE_T(test_desc_huge_lengths),
		FE_T(test_write_before_read),
		FE_T(test_desc_loop),
		FE_T(test_bad_indirect),
		FE_T(test_avail_idx_jump),
		FE_T(test_head_out_of_range),
		FE_T(test_kick_unstarted_queue_ops),
		FE_T(test_reset_keeps_backend_channel),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-transport", tests, NULL, NULL);
}
