/*
 * Fake frontend: notifications and kicks under races, with the daemon's polling on or off
 * (argument: the --poll-us value). A driver with a lazy used_event (as Linux's) re-arms its
 * callbacks while the daemon pushes replies, and the daemon re-arms its kicks while the driver
 * publishes requests after random short pauses; every reply must come with the notification
 * EVENT_IDX promised (fe_vq_wait fails with -EPROTO when used->idx moved without one, or times
 * out when a kick was lost). Then two request queues, each driven from its own thread, look up,
 * stat and forget the same files at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fe_test.h"

#define NT_SLOTS 40
#define NT_SLOT_SIZE 4096u
#define NT_WAIT_MS 3000 /* a lost notification or kick shows as a timeout */
#define NT_FILES 8

static const char *poll_arg = "--poll-us=0";

struct nt_slot {
	uint64_t gpa; /* in: header + args at 0; out: header + reply at NT_SLOT_SIZE / 2 */
	uint8_t *p;
	int step; /* 0 LOOKUP, 1 GETATTR, 2 FORGET */
	uint64_t unique, nodeid;
	unsigned file;
};

struct nt_drv {
	struct fe *fe;
	unsigned q, depth, ops_wanted, ops_done;
	unsigned max_pause_ns;
	uint64_t rng, unique;
	struct nt_slot slot[NT_SLOTS];
	uint8_t head_slot[4096];
	char err[160];
};

static uint64_t nt_rand(struct nt_drv *d)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return d->rng;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A pause of 0 to max ns, busy (a sleep would always be longer than the daemon's window). */
static void pause_ns(struct nt_drv *d)
{
	uint64_t end;

	if (!d->max_pause_ns)
		return;
	end = mono_ns() + nt_rand(d) % d->max_pause_ns;
	while (mono_ns() < end)
		;
}

/* Allocated before any driver thread runs: fe_alloc is not thread-safe. */
static int nt_init(struct nt_drv *d, struct fe *fe, unsigned q, unsigned depth, unsigned ops)
{
	memset(d, 0, sizeof(*d));
	d->fe = fe;
	d->q = q;
	d->depth = depth;
	d->ops_wanted = ops;
	d->rng = 0x2545f4914f6cdd1dull * (q + 1);
	d->unique = (uint64_t)q << 48;
	for (unsigned i = 0; i < depth; i++) {
		d->slot[i].gpa = fe_alloc(fe, NT_SLOT_SIZE, false);
		d->slot[i].p = d->slot[i].gpa ? fe_gpa_ptr(fe, d->slot[i].gpa, NT_SLOT_SIZE) : NULL;
		if (!d->slot[i].p)
			return -ENOMEM;
	}
	return 0;
}

static int nt_submit(struct nt_drv *d, unsigned si)
{
	struct nt_slot *s = &d->slot[si];
	struct fuse_in_header *h = (struct fuse_in_header *)s->p;
	uint8_t *args = s->p + sizeof(*h);
	uint32_t arg_len, reply_len;
	struct fe_seg seg[2];
	uint16_t head;
	int r;

	if (s->step == 0) {
		s->file = (unsigned)(nt_rand(d) % NT_FILES);
		arg_len = (uint32_t)snprintf((char *)args, 16, "f%u", s->file) + 1;
		reply_len = sizeof(struct fuse_entry_out);
	} else if (s->step == 1) {
		memset(args, 0, sizeof(struct fuse_getattr_in));
		arg_len = sizeof(struct fuse_getattr_in);
		reply_len = sizeof(struct fuse_attr_out);
	} else {
		*(struct fuse_forget_in *)args = (struct fuse_forget_in){.nlookup = 1};
		arg_len = sizeof(struct fuse_forget_in);
		reply_len = 0;
	}
	s->unique = d->unique += 2;
	*h = (struct fuse_in_header){.len = sizeof(*h) + arg_len,
				     .opcode = s->step == 0	 ? FUSE_LOOKUP
					       : s->step == 1 ? FUSE_GETATTR
							      : FUSE_FORGET,
				     .unique = s->unique,
				     .nodeid = s->step == 0 ? FUSE_ROOT_ID : s->nodeid};
	seg[0] = (struct fe_seg){.gpa = s->gpa, .len = h->len};
	seg[1] = (struct fe_seg){.gpa = s->gpa + NT_SLOT_SIZE / 2,
				 .len = sizeof(struct fuse_out_header) + reply_len,
				 .writable = true};
	r = fe_vq_add_chain(d->fe, d->q, seg, s->step == 2 ? 1 : 2, false, &head);
	if (r < 0)
		return r;
	d->head_slot[head] = (uint8_t)si;
	return fe_vq_publish(d->fe, d->q, head);
}

/* Check one reply and move its slot on; 1 when an operation (LOOKUP, GETATTR, FORGET) ended. */
static int nt_complete(struct nt_drv *d, struct nt_slot *s, uint32_t len)
{
	const struct fuse_out_header *oh = (const void *)(s->p + NT_SLOT_SIZE / 2);
	const void *body = oh + 1;

	if (s->step == 2) {
		s->step = 0;
		return len == 0 ? 1 : -EPROTO;
	}
	if (len < sizeof(*oh) || oh->len != len || oh->unique != s->unique || oh->error) {
		snprintf(d->err, sizeof(d->err), "queue %u step %d: reply len %u/%u unique %llx/%llx "
			 "error %d", d->q, s->step, len, oh->len, (unsigned long long)oh->unique,
			 (unsigned long long)s->unique, oh->error);
		return -EPROTO;
	}
	if (s->step == 0) {
		const struct fuse_entry_out *e = body;

		s->nodeid = e->nodeid;
	} else {
		const struct fuse_attr_out *a = body;

		if (!S_ISREG(a->attr.mode) || a->attr.size != s->file) {
			snprintf(d->err, sizeof(d->err), "queue %u: GETATTR of f%u: mode %o size %llu",
				 d->q, s->file, a->attr.mode, (unsigned long long)a->attr.size);
			return -EPROTO;
		}
	}
	s->step++;
	return 0;
}

static void *nt_run(void *arg)
{
	struct nt_drv *d = arg;
	int r = 0;

	for (unsigned i = 0; i < d->depth && r == 0; i++)
		r = nt_submit(d, i);
	while (r == 0 && d->ops_done < d->ops_wanted) {
		uint32_t id, len;

		r = fe_vq_wait(d->fe, d->q, NT_WAIT_MS, &id, &len);
		if (r < 0) {
			snprintf(d->err, sizeof(d->err), "queue %u: wait after %u operations: %s",
				 d->q, d->ops_done, strerror(-r));
			break;
		}
		if (id >= d->fe->vq[d->q].num || d->head_slot[id] >= d->depth) {
			snprintf(d->err, sizeof(d->err), "queue %u: used id %u unknown", d->q, id);
			r = -EPROTO;
			break;
		}
		r = nt_complete(d, &d->slot[d->head_slot[id]], len);
		if (r < 0)
			break;
		d->ops_done += (unsigned)r;
		pause_ns(d);
		r = nt_submit(d, d->head_slot[id]);
	}
	/* Take what is still in flight, so the daemon is idle when the test ends. */
	while (r == 0 && d->fe->vq[d->q].inflight) {
		uint32_t id, len;

		r = fe_vq_wait(d->fe, d->q, NT_WAIT_MS, &id, &len);
	}
	if (r < 0 && !d->err[0])
		snprintf(d->err, sizeof(d->err), "queue %u: %s", d->q, strerror(-r));
	return (void *)(intptr_t)r;
}

static int start(void **state, unsigned req_queues)
{
	struct fe_opts o = {.lazy_used_event = true, .req_queues = req_queues,
			    .daemon_args = poll_arg};
	int r = fe_test_start(state, &o, true);
	struct fe *fe = *state;
	char path[256];

	for (unsigned i = 0; r == 0 && i < NT_FILES; i++) {
		char name[16];
		FILE *f;

		snprintf(name, sizeof(name), "f%u", i);
		f = fopen(fe_share_path(fe, name, path, sizeof(path)), "w");
		if (!f)
			return -1;
		/* file i has i bytes: GETATTR shows which inode answered */
		for (unsigned b = 0; b < i; b++)
			fputc('x', f);
		fclose(f);
	}
	return r;
}

static int setup_one(void **state)
{
	return start(state, 1);
}

static int setup_two(void **state)
{
	return start(state, 2);
}

static void run_drivers(struct fe *fe, struct nt_drv *d, unsigned n)
{
	pthread_t t[FE_MAX_QUEUES];

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, nt_run, &d[i]), 0);
	for (unsigned i = 0; i < n; i++) {
		void *ret;

		assert_int_equal(pthread_join(t[i], &ret), 0);
		if (ret)
			fprintf(stderr, "test_notify: %s\n", d[i].err);
		assert_null(ret);
		assert_int_equal(d[i].ops_done, d[i].ops_wanted);
	}
	assert_true(fe_alive(fe));
}

/* Depth 1: every request waits for the daemon to go idle, re-arm and (maybe) poll; the pauses
 * put the next publish before, during and after that. */
static void test_depth1_rearm(void **state)
{
	struct fe *fe = *state;
	struct nt_drv d;

	assert_int_equal(nt_init(&d, fe, FE_REQ_Q, 1, 1500), 0);
	d.max_pause_ns = 80000;
	run_drivers(fe, &d, 1);
}

/* Several in flight: the driver re-arms used_event while the daemon is pushing. */
static void test_depth8_push_vs_rearm(void **state)
{
	struct fe *fe = *state;
	struct nt_drv d;

	assert_int_equal(nt_init(&d, fe, FE_REQ_Q, 8, 3000), 0);
	d.max_pause_ns = 20000;
	run_drivers(fe, &d, 1);
}

/* Deeper than the daemon's signal hold-back (16 chains still in the ring): held signals must
 * still come, before the ring runs dry or after the hold's time bound. */
static void test_depth32_held_signals(void **state)
{
	struct fe *fe = *state;
	struct nt_drv d;

	assert_int_equal(nt_init(&d, fe, FE_REQ_Q, 32, 4000), 0);
	d.max_pause_ns = 5000;
	run_drivers(fe, &d, 1);
}

/* Two request queues, one thread each, the same files from both. */
static void test_two_queues(void **state)
{
	struct fe *fe = *state;
	struct nt_drv d[2];

	assert_int_equal(fe->nqueues, 3);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(nt_init(&d[i], fe, FE_REQ_Q + i, 4, 2000), 0);
		d[i].max_pause_ns = i ? 10000 : 0;
	}
	run_drivers(fe, d, 2);
}

/* 100 GETATTRs at depth 1, 3 ms apart, with a 10 ms polling ceiling: how many of them the
 * frontend had to kick the queue for (EVENT_IDX: a polling queue thread leaves its kicks off). */
static uint64_t kicks_of_sparse_requests(const char *args)
{
	struct fe_opts o = { .daemon_args = args };
	struct fuse_attr_out a;
	uint64_t kicks0, kicks;
	void *st = NULL;
	struct fe *fe;

	assert_int_equal(fe_test_start(&st, &o, true), 0);
	fe = st;
	kicks0 = fe->vq[FE_REQ_Q].kicks;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
		usleep(3000);
	}
	kicks = fe->vq[FE_REQ_Q].kicks - kicks0;
	assert_int_equal(fe_teardown_checked(&st), 0);
	return kicks;
}

/* A queue served by a worker pool does not poll after its ring runs dry: its thread would take
 * the CPU the worker and the guest need (bench, --thread-pool-size=1: 3.7x fewer lookups at
 * depth 16 with polling). So every sparse request needs a kick. Served inline, the same queue
 * polls through the 3 ms gaps (its window grows to 4.5 ms) and needs almost none: the control
 * that shows the count sees polling (a gap stretched past 10 ms by a busy machine costs a kick). */
static void test_pool_does_not_poll(void **state)
{
	uint64_t inline_kicks, pool_kicks;

	(void)state;
	inline_kicks = kicks_of_sparse_requests("--poll-us=10000");
	pool_kicks = kicks_of_sparse_requests("--poll-us=10000 --thread-pool-size=1");
	fprintf(stderr, "kicks for 100 sparse requests: inline %llu, pool %llu\n",
		(unsigned long long)inline_kicks, (unsigned long long)pool_kicks);
	assert_true(inline_kicks <= 50);
	assert_true(pool_kicks >= 95);
}

int main(int argc, char **argv)
{
	static char arg[64];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_depth1_rearm, setup_one, fe_teardown_checked),
		cmocka_unit_test_setup_teardown(test_depth8_push_vs_rearm, setup_one,
						fe_teardown_checked),
		cmocka_unit_test_setup_teardown(test_depth32_held_signals, setup_one,
						fe_teardown_checked),
		cmocka_unit_test_setup_teardown(test_two_queues, setup_two, fe_teardown_checked),
		cmocka_unit_test(test_pool_does_not_poll),
	};

	if (argc > 1) {
		snprintf(arg, sizeof(arg), "--poll-us=%s", argv[1]);
		poll_arg = arg;
	}
	fprintf(stderr, "test_notify: daemon with %s\n", poll_arg);
	fe_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
