/*
 * Fake frontend: faults under load (issue 11). Guest memory changes (SET_MEM_TABLE re-sending
 * the same regions, REM_MEM_REG + ADD_MEM_REG of the rings' region) while both queues serve
 * batches; hostile fds (a call fd that is a full pipe, a kick fd that hangs up). Each in the
 * inline and the thread-pool mode; the memory changes and the stops, resets and disconnects
 * also with two request queues, each loaded by its own thread (mf_loader.h). Afterwards the
 * daemon serves on, its fd and mapping counts are back where they were, and it exits cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)
#define GA_CAP (OUT_HDR + sizeof(struct fuse_attr_out))

#include "mf_loader.h" /* uses GA_CAP */

/* Lines of path that contain needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* The daemon's open fds and guest memory mappings (memfd ones; its other mappings vary with
 * malloc's arenas, which worker threads make as they first allocate). */
static void resources(struct fe *fe, int *fds, int *maps)
{
	char p[64];

	*fds = fe_proc_fds(fe->pid);
	assert_true(*fds > 0);
	snprintf(p, sizeof(p), "/proc/%d/maps", (int)fe->pid);
	*maps = count_lines(p, "/memfd:");
	assert_true(*maps > 0);
}

/* The counts come back to fds0 and maps0 within 10 s (a cancelled lock waiter's thread lets
 * go of its lock description when it is reaped, a moment after its reply). */
static void back_to(struct fe *fe, int fds0, int maps0)
{
	int fds, maps;

	/* 10 s, not less: under ThreadSanitizer on a loaded machine the reaping takes seconds. */
	for (int i = 0; i < 200; i++) {
		resources(fe, &fds, &maps);
		if (fds == fds0 && maps == maps0)
			return;
		usleep(50 * 1000);
	}
	fe_proc_fds_print(fe->pid);
	if (fe_log_contains(fe, "ThreadSanitizer"))
		fprintf(stderr, "the daemon reported a data race: see %s\n", fe->log_path);
	fail_msg("fds %d -> %d, guest mappings %d -> %d", fds0, fds, maps0, maps);
}

static struct fe *start_mq(void **state, const char *args, unsigned req_queues)
{
	struct fe_opts o = { .daemon_args = args, .req_queues = req_queues };

	assert_int_equal(fe_test_start(state, &o, true), 0);
	assert_int_equal(((struct fe *)*state)->nqueues, 1 + req_queues);
	return *state;
}

static struct fe *start(void **state, const char *args)
{
	return start_mq(state, args, 1);
}

struct batch {
	unsigned n[FE_MAX_QUEUES];
	uint64_t unique[FE_MAX_QUEUES][64], gpa[FE_MAX_QUEUES][64];
};

/* Post n GETATTRs on each of the first nq queues, without waiting (none on the others). */
static void post_batch_on(struct fe *fe, struct batch *b, unsigned n, unsigned nq)
{
	struct fuse_getattr_in g = { 0 };
	struct iovec a[] = { IOV(&g, sizeof(g)) };

	assert_true(n <= 64);
	memset(b->n, 0, sizeof(b->n));
	for (unsigned q = 0; q < nq; q++) {
		struct fe_req_opts o = { .hiprio = q == FE_HIPRIO_Q, .queue = q };

		b->n[q] = n;
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(fe_fuse_post(fe, FUSE_GETATTR, FUSE_ROOT_ID, a, 1, GA_CAP,
						      &o, &b->unique[q][i], &b->gpa[q][i]),
					 0);
	}
}

/* Post n GETATTRs on every queue, without waiting. */
static void post_batch(struct fe *fe, struct batch *b, unsigned n)
{
	post_batch_on(fe, b, n, fe->nqueues);
}

/* Every request of the batch completes with a well-formed successful reply. */
static void wait_batch(struct fe *fe, const struct batch *b)
{
	for (unsigned q = 0; q < fe->nqueues; q++) {
		for (unsigned i = 0; i < b->n[q]; i++) {
			uint32_t id, len;
			int r = fe_vq_wait(fe, q, FE_TIMEOUT_MS, &id, &len);

			if (r < 0)
				fail_msg("queue %u: completion %u of %u: %d", q, i, b->n[q], r);
			assert_int_equal(len, GA_CAP);
		}
		for (unsigned i = 0; i < b->n[q]; i++) {
			struct fuse_out_header *h = fe_gpa_ptr(fe, b->gpa[q][i], GA_CAP);

			assert_int_equal(h->unique, b->unique[q][i]);
			assert_int_equal(h->error, 0);
		}
	}
}

static void rem_add_region0(struct fe *fe)
{
	struct fe_vu_single_region m = { .region = fe->regions[0] };

	assert_int_equal(fe_vu_set(fe, FE_VU_REM_MEM_REG, &m, sizeof(m), NULL, 0), 0);
	assert_int_equal(fe_vu_set(fe, FE_VU_ADD_MEM_REG, &m, sizeof(m), &fe->mem_fd, 1), 0);
}

static void same_table(struct fe *fe)
{
	struct fe_vu_mem_table t = { .nregions = fe->nregions };
	int fds[2] = { fe->mem_fd, fe->mem_fd };

	memcpy(t.regions, fe->regions, sizeof(fe->regions[0]) * fe->nregions);
	assert_int_equal(fe_vu_set(fe, FE_VU_SET_MEM_TABLE, &t,
				   8 + sizeof(t.regions[0]) * fe->nregions, fds, fe->nregions),
			 0);
}

/*
 * Item 1 of issue 11: the notify decision read the ring without the memory lock, so a memory
 * change while a queue worked through a batch read an unmapped (or NULL) ring: SIGSEGV. Both
 * queues serve batches while the frontend removes and re-adds the rings' region, or re-sends
 * the same table, as a frontend does on every memory hotplug.
 */
static void mem_changes_under_load(void **state, const char *args)
{
	struct fe *fe = start(state, args);
	struct fuse_attr_out a;
	struct batch b;
	int fds0, maps0;

	/* Warm up first: each worker's first requests make its malloc arena. */
	for (int i = 0; i < 3; i++) {
		post_batch(fe, &b, 48);
		wait_batch(fe, &b);
	}
	resources(fe, &fds0, &maps0);
	for (int round = 0; round < 400; round++) {
		post_batch(fe, &b, 48);
		if (round % 2)
			same_table(fe);
		else
			rem_add_region0(fe);
		wait_batch(fe, &b);
	}
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	back_to(fe, fds0, maps0);
}

/* The same with two request queues, each loaded by its own thread, while this thread changes
 * the memory table over and over. */
static void mem_changes_mq(void **state, const char *args)
{
	struct fe *fe = start_mq(state, args, 2);
	struct fuse_attr_out a;
	struct loaders ls;
	struct batch b;
	int fds0, maps0;
	unsigned changes = 0;

	for (int i = 0; i < 3; i++) {
		post_batch(fe, &b, 48);
		wait_batch(fe, &b);
	}
	resources(fe, &fds0, &maps0);
	loaders_start(fe, &ls, 48, 200, false);
	while (!loaders_done(fe, &ls)) {
		if (changes++ % 2)
			same_table(fe);
		else
			rem_add_region0(fe);
	}
	loaders_join(fe, &ls);
	if (changes < 100)
		fail_msg("only %u memory changes while the queues were loaded", changes);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	back_to(fe, fds0, maps0);
}

static void test_mem_changes_inline(void **state)
{
	mem_changes_under_load(state, "");
}

static void test_mem_changes_pool(void **state)
{
	mem_changes_under_load(state, "--thread-pool-size=4");
}

static void test_mem_changes_mq_inline(void **state)
{
	mem_changes_mq(state, "");
}

static void test_mem_changes_mq_pool(void **state)
{
	mem_changes_mq(state, "--thread-pool-size=4");
}

/* used->idx of queue q moves past from within timeout_ms (no notification needed). */
static bool used_moves(struct fe *fe, unsigned q, uint16_t from, int timeout_ms)
{
	for (int i = 0; i < timeout_ms; i++) {
		if (__atomic_load_n(&fe->vq[q].used->idx, __ATOMIC_ACQUIRE) != from)
			return true;
		usleep(1000);
	}
	return false;
}

static int set_vring_fd(struct fe *fe, uint32_t req, unsigned q, int fd)
{
	uint64_t v = q;

	return fe_vu_set(fe, req, &v, sizeof(v), &fd, 1);
}

/*
 * Item 6a: a call fd that blocks (a pipe nobody reads, full) hung the queue thread in
 * notify_locked() with the queue lock and the memory lock held: the reply never reached the
 * used ring's consumer, and GET_VRING_BASE (which stops the queue) hung the frontend too.
 */
static void call_fd_full_pipe(void **state, const char *args)
{
	struct fe *fe = start(state, args);
	struct fuse_attr_out a;
	struct batch b;
	int p[2], fds0, maps0;
	uint32_t base;
	char junk[4096] = { 0 };

	post_batch(fe, &b, 4);
	wait_batch(fe, &b);
	resources(fe, &fds0, &maps0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	/* Blocking again: what a careless frontend would pass. */
	assert_int_equal(fcntl(p[1], F_SETFL, 0), 0);
	assert_int_equal(set_vring_fd(fe, FE_VU_SET_VRING_CALL, FE_REQ_Q, p[1]), 0);
	for (int i = 0; i < 3; i++) {
		uint16_t from = fe->vq[FE_REQ_Q].used->idx;
		struct fuse_getattr_in g = { 0 };
		struct iovec ga[] = { IOV(&g, sizeof(g)) };
		uint64_t u, gpa;

		assert_int_equal(fe_fuse_post(fe, FUSE_GETATTR, FUSE_ROOT_ID, ga, 1, GA_CAP, NULL,
					      &u, &gpa),
				 0);
		if (!used_moves(fe, FE_REQ_Q, from, FE_TIMEOUT_MS))
			fail_msg("request %d not completed with a full pipe as call fd", i);
	}
	/* The queue can still be stopped (GET_VRING_BASE answers), and restarted with a proper
	 * call fd: the completions are then consumed as usual. */
	assert_int_equal(fe_vu_get_vring_base(fe, FE_REQ_Q, &base), 0);
	assert_int_equal(set_vring_fd(fe, FE_VU_SET_VRING_CALL, FE_REQ_Q, fe->vq[FE_REQ_Q].call_fd),
			 0);
	assert_int_equal(fe_vq_start(fe, FE_REQ_Q), 0);
	assert_int_equal(fe_vq_enable(fe, FE_REQ_Q, true), 0);
	for (int i = 0; i < 3; i++) {
		uint32_t id, len;

		assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len), 0);
	}
	close(p[0]);
	close(p[1]);
	assert_true(fe_log_contains(fe, "signalling the call fd failed"));
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	back_to(fe, fds0, maps0);
}

static void test_call_fd_pipe_inline(void **state)
{
	call_fd_full_pipe(state, "");
}

static void test_call_fd_pipe_pool(void **state)
{
	call_fd_full_pipe(state, "--thread-pool-size=4");
}

/* Seconds of CPU the daemon has used (user + system). */
static double cpu_seconds(struct fe *fe)
{
	char p[64], buf[1024], *s;
	unsigned long ut, st;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)fe->pid);
	f = fopen(p, "re");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	s = strrchr(buf, ')');
	assert_non_null(s);
	/* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime stime */
	assert_int_equal(sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st),
			 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Item 6b: a kick fd that reports POLLHUP (a pipe whose writer closed) made the queue thread
 * spin at 100 % CPU. Now the queue stops with a log line, costs nothing, and a new kick fd
 * starts it again.
 */
static void test_kick_fd_hangup(void **state)
{
	struct fe *fe = start(state, "");
	struct fuse_attr_out a;
	int p[2];
	double t0, t1;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(set_vring_fd(fe, FE_VU_SET_VRING_KICK, FE_REQ_Q, p[0]), 0);
	close(p[0]);
	close(p[1]); /* the queue thread's poll now sees POLLHUP */
	usleep(100 * 1000);
	t0 = cpu_seconds(fe);
	usleep(1000 * 1000);
	t1 = cpu_seconds(fe);
	if (t1 - t0 > 0.2)
		fail_msg("the daemon used %.2f s of CPU in 1 s with a hung-up kick fd", t1 - t0);
	assert_true(fe_log_contains(fe, "queue 1: the kick fd hung up; the queue stops"));
	assert_true(fe_alive(fe));
	assert_int_equal(set_vring_fd(fe, FE_VU_SET_VRING_KICK, FE_REQ_Q, fe->vq[FE_REQ_Q].kick_fd),
			 0);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
}

static int host_ofd_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static int guest_setlk(struct fe *fe, uint32_t op, uint64_t node, uint64_t fh, uint32_t type,
		       uint64_t *unique, uint64_t *gpa)
{
	struct fuse_lk_in in = { .fh = fh, .owner = 0x1111,
				 .lk = { .start = 0, .end = 99, .type = type, .pid = 1 } };
	struct iovec a[] = { IOV(&in, sizeof(in)) };

	return fe_fuse_post(fe, op, node, a, 1, OUT_HDR, NULL, unique, gpa);
}

/*
 * Item 2: a lock wait granted while the frontend has removed the rings' memory. The reply
 * was dropped: the guest process blocked forever, a ring slot leaked, and the host lock stayed
 * held. Now it is kept and delivered when the memory is back; the guest then holds the lock,
 * and its unlock frees it for the host.
 */
static void lock_granted_while_unmapped(void **state, const char *args, bool stop)
{
	struct fe *fe = start(state, args);
	struct fe_vu_single_region m = { .region = fe->regions[0] };
	struct fuse_entry_out e;
	struct fuse_out_header *h;
	uint64_t fh, u, gpa, u2, gpa2;
	uint32_t id, len;
	char path[160];
	int hfd;

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, S_IFREG | 0644, &e, &fh),
			 0);
	hfd = open(fe_share_path(fe, "f", path, sizeof(path)), O_RDWR | O_CLOEXEC);
	assert_true(hfd >= 0);
	assert_int_equal(host_ofd_lock(hfd, F_WRLCK), 0);
	assert_int_equal(guest_setlk(fe, FUSE_SETLKW, e.nodeid, fh, F_WRLCK, &u, &gpa), 0);
	assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, 200, &id, &len), -ETIMEDOUT); /* waiting */
	assert_int_equal(fe_vu_set(fe, FE_VU_REM_MEM_REG, &m, sizeof(m), NULL, 0), 0);
	assert_int_equal(host_ofd_lock(hfd, F_UNLCK), 0); /* granted now, ring unmapped */
	usleep(300 * 1000);
	if (stop) {
		/* The queue stops (GET_VRING_BASE) while unmapped: the reply waits for the
		 * restart, which follows the memory's return. */
		uint32_t base;

		assert_int_equal(fe_vu_get_vring_base(fe, FE_REQ_Q, &base), 0);
		assert_int_equal(base, fe->vq[FE_REQ_Q].avail_idx);
		assert_true(fe_log_contains(fe, "stopped with its ring unmapped"));
	}
	assert_int_equal(fe_vu_set(fe, FE_VU_ADD_MEM_REG, &m, sizeof(m), &fe->mem_fd, 1), 0);
	if (stop) {
		assert_int_equal(fe_vq_start(fe, FE_REQ_Q), 0);
		assert_int_equal(fe_vq_enable(fe, FE_REQ_Q, true), 0);
	}
	if (fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len) != 0)
		fail_msg("the lock granted while the ring was unmapped was never replied to");
	h = fe_gpa_ptr(fe, gpa, OUT_HDR);
	assert_int_equal(h->unique, u);
	assert_int_equal(h->error, 0);
	assert_true(fe_log_contains(fe, "deferred replies delivered"));
	/* The guest holds it; its unlock frees it for the host. */
	assert_int_equal(host_ofd_lock(hfd, F_WRLCK), -EAGAIN);
	assert_int_equal(guest_setlk(fe, FUSE_SETLK, e.nodeid, fh, F_UNLCK, &u2, &gpa2), 0);
	assert_int_equal(fe_vq_wait(fe, FE_REQ_Q, FE_TIMEOUT_MS, &id, &len), 0);
	h = fe_gpa_ptr(fe, gpa2, OUT_HDR);
	assert_int_equal(h->error, 0);
	assert_int_equal(host_ofd_lock(hfd, F_WRLCK), 0);
	close(hfd);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

static void test_lock_granted_unmapped_inline(void **state)
{
	lock_granted_while_unmapped(state, "--posix-lock", false);
}

static void test_lock_granted_unmapped_stopped(void **state)
{
	lock_granted_while_unmapped(state, "--posix-lock", true);
}

static void test_lock_granted_unmapped_pool(void **state)
{
	lock_granted_while_unmapped(state, "--posix-lock --thread-pool-size=4", false);
}

#define VU_RESET_DEVICE 34 /* VHOST_USER_RESET_DEVICE */
#define NWAITERS 3

enum stop_kind { STOP_GET_VRING_BASE, STOP_RESET_DEVICE, STOP_DISCONNECT };

/* A fresh driver on both queues after a stop (as after "cont") or a reset (as after a guest
 * reboot: features again and a new INIT). */
static void restart_queues(struct fe *fe, bool reset)
{
	struct fuse_init_out io;

	for (unsigned q = 0; q < fe->nqueues; q++)
		if (reset)
			fe_vq_reset(fe, q);
	if (reset)
		assert_int_equal(fe_vu_set_u64(fe, FE_VU_SET_FEATURES, fe->acked_features, NULL, 0),
				 0);
	for (unsigned q = 0; q < fe->nqueues; q++)
		assert_int_equal(fe_vq_start(fe, q), 0);
	for (unsigned q = 0; q < fe->nqueues; q++)
		assert_int_equal(fe_vq_enable(fe, q, true), 0);
	if (reset)
		assert_int_equal(fe_init(fe, &io), 0);
}

/* The replies of a stop under load, before the frontend posts again (its allocator starts over
 * once every queue is idle): the lock waits cancelled with an error, every GETATTR answered. */
static void check_replies(struct fe *fe, const struct batch *b, const uint64_t *u,
			  const uint64_t *g, struct loaders *ls)
{
	for (int i = 0; i < NWAITERS; i++) {
		struct fuse_out_header *h = fe_gpa_ptr(fe, g[i], OUT_HDR);

		assert_int_equal(h->unique, u[i]);
		assert_true(h->error < 0);
	}
	for (unsigned q = FE_REQ_Q; ls && q < fe->nqueues; q++)
		if (loader_check(&ls->l[q], false) < 0)
			fail_msg("%s", ls->l[q].err);
	for (unsigned q = 0; q < fe->nqueues; q++)
		for (unsigned i = 0; i < b->n[q]; i++) {
			struct fuse_out_header *h = fe_gpa_ptr(fe, b->gpa[q][i], GA_CAP);

			if (h->unique != b->unique[q][i] || h->error != 0)
				fail_msg("queue %u: request %u: reply unique %llu error %d", q, i,
					 (unsigned long long)h->unique, h->error);
		}
}

/*
 * GET_VRING_BASE, RESET_DEVICE or a disconnect while both queues have requests in flight and
 * lock waits are pending: every request the device took is answered before the stop returns
 * (the waits cancelled with an error), those it left in the ring after the restart (resumed at
 * the base GET_VRING_BASE returned), no host lock is left held, and the daemon serves on after the
 * restart with its fds and guest mappings back where they were; a disconnect makes it exit
 * cleanly with a log line.
 */
static void stop_under_load(void **state, const char *args, enum stop_kind kind,
			    unsigned req_queues)
{
	struct fe *fe = start_mq(state, args, req_queues);
	bool mq = req_queues > 1;
	struct fuse_entry_out e;
	struct fuse_attr_out a;
	struct loaders ls;
	struct batch b;
	uint64_t fh, u[NWAITERS], g[NWAITERS];
	uint16_t start[FE_MAX_QUEUES], base[FE_MAX_QUEUES];
	char path[160];
	int hfd, hfd2, fds0, maps0;

	post_batch(fe, &b, 8);
	wait_batch(fe, &b);
	/* Counted before the guest's file exists: a reset drops it with the session, the other
	 * kinds have the guest forget it at the end. */
	resources(fe, &fds0, &maps0);
	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "f", O_RDWR | O_CREAT, S_IFREG | 0644, &e, &fh),
			 0);
	hfd = open(fe_share_path(fe, "f", path, sizeof(path)), O_RDWR | O_CLOEXEC);
	hfd2 = open(path, O_RDWR | O_CLOEXEC);
	assert_true(hfd >= 0 && hfd2 >= 0);
	assert_int_equal(host_ofd_lock(hfd, F_WRLCK), 0);
	for (unsigned q = 0; q < fe->nqueues; q++)
		start[q] = base[q] = fe->vq[q].avail_idx; /* everything before was answered */
	for (int i = 0; i < NWAITERS; i++) {
		struct fuse_lk_in in = { .fh = fh, .owner = 0x1000 + (uint64_t)i,
					 .lk = { .start = 0, .end = 99, .type = F_WRLCK, .pid = 1 } };
		struct iovec la[] = { IOV(&in, sizeof(in)) };

		assert_int_equal(fe_fuse_post(fe, FUSE_SETLKW, e.nodeid, la, 1, OUT_HDR, NULL, &u[i],
					      &g[i]),
				 0);
	}
	/* The waits are pending (taken from the ring) before the load comes: a SETLKW left in the
	 * ring at GET_VRING_BASE would be served after the restart, and wait for the lock again. */
	assert_int_equal(fe_vq_wait_popped(fe, FE_REQ_Q, FE_TIMEOUT_MS), 0);
	if (mq) {
		/* hiprio from here, each request queue from its own thread at the same time */
		post_batch_on(fe, &b, 48, 1);
		loaders_start(fe, &ls, 48, 1, true);
		loaders_join(fe, &ls);
	} else {
		post_batch(fe, &b, 48);
	}
	usleep(50 * 1000);
	if (kind == STOP_DISCONNECT) {
		assert_int_equal(fe_disconnect(fe, FE_TIMEOUT_MS), 0);
		assert_true(WIFEXITED(fe->status));
		assert_int_equal(WEXITSTATUS(fe->status), 0);
		assert_true(fe_log_contains(fe, "vhost-user: frontend disconnected"));
		assert_int_equal(host_ofd_lock(hfd2, F_WRLCK), -EAGAIN); /* the host's own */
		assert_int_equal(host_ofd_lock(hfd, F_UNLCK), 0);
		assert_int_equal(host_ofd_lock(hfd2, F_WRLCK), 0); /* nothing of the guest's left */
		close(hfd);
		close(hfd2);
		return;
	}
	if (kind == STOP_RESET_DEVICE) {
		/* A reset drops what is still in the rings (a rebooting guest has forgotten it):
		 * wait until the device took every chain, some of which are still being served. */
		for (unsigned q = 0; q < fe->nqueues; q++) {
			assert_int_equal(fe_vq_wait_popped(fe, q, FE_TIMEOUT_MS), 0);
			base[q] = fe->vq[q].avail_idx;
		}
		assert_int_equal(fe_vu_set(fe, VU_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	} else {
		/* The device may stop before it has taken every chain (a slow queue thread, under
		 * TSan say): those past the base it returns are served after the restart. */
		for (unsigned q = 0; q < fe->nqueues; q++) {
			uint32_t b32;
			uint16_t popped, published = (uint16_t)(fe->vq[q].avail_idx - start[q]);

			assert_int_equal(fe_vu_get_vring_base(fe, q, &b32), 0);
			base[q] = (uint16_t)b32;
			popped = (uint16_t)(base[q] - start[q]);
			if (b32 > 0xffff || popped > published ||
			    (q == FE_REQ_Q && popped < NWAITERS))
				fail_msg("queue %u: GET_VRING_BASE %u, chains published from %u to %u "
					 "(%u lock waits taken before)", q, b32, start[q],
					 fe->vq[q].avail_idx, q == FE_REQ_Q ? NWAITERS : 0);
		}
	}
	/* Everything the device took was answered before the stop returned: the used rings hold
	 * exactly that. */
	for (unsigned q = 0; q < fe->nqueues; q++) {
		unsigned want = (uint16_t)(base[q] - start[q]);
		uint16_t got = (uint16_t)(fe->vq[q].used->idx - fe->vq[q].last_used);

		if (got != want)
			fail_msg("queue %u: %u completions in the used ring at the stop, want %u", q,
				 got, want);
		for (unsigned i = 0; i < want; i++) {
			uint32_t id, len;

			assert_int_equal(fe_vq_wait(fe, q, FE_TIMEOUT_MS, &id, &len), 0);
		}
	}
	/* No guest lock was granted: once the host lets go, anyone can lock. */
	assert_int_equal(host_ofd_lock(hfd, F_UNLCK), 0);
	assert_int_equal(host_ofd_lock(hfd2, F_WRLCK), 0);
	assert_int_equal(host_ofd_lock(hfd2, F_UNLCK), 0);
	/* (the restart after a reset posts an INIT, in the replies' memory) */
	if (kind == STOP_RESET_DEVICE)
		check_replies(fe, &b, u, g, mq ? &ls : NULL);
	restart_queues(fe, kind == STOP_RESET_DEVICE);
	/* The chains left in the rings at GET_VRING_BASE are served now, as after "cont" or on
	 * the migration target (a kick in case the device waits for one). */
	for (unsigned q = 0; q < fe->nqueues; q++) {
		unsigned left = (uint16_t)(fe->vq[q].avail_idx - base[q]);

		if (kind == STOP_RESET_DEVICE || !left)
			continue;
		fprintf(stderr, "queue %u: %u chains left in the ring at the stop, served after the "
			"restart\n", q, left);
		assert_int_equal(fe_vq_kick(fe, q), 0);
		for (unsigned i = 0; i < left; i++) {
			uint32_t id, len;

			if (fe_vq_wait(fe, q, FE_TIMEOUT_MS, &id, &len) < 0)
				fail_msg("queue %u: %u of the %u chains left at the stop answered "
					 "after the restart", q, i, left);
		}
	}
	if (kind != STOP_RESET_DEVICE)
		check_replies(fe, &b, u, g, mq ? &ls : NULL);
	assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0);
	close(hfd);
	close(hfd2);
	if (kind == STOP_RESET_DEVICE) {
		/* The reset closed the backend channel; a frontend sends a new one. */
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(fe_vu_set(fe, FE_VU_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1), 0);
		close(sv[1]);
		close(fe->backend_fd);
		fe->backend_fd = sv[0];
	} else {
		/* The session goes on: the guest closes and forgets the file, and with them go its
		 * fds and the lock owners' open file descriptions. */
		assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
		assert_int_equal(fe_forget(fe, e.nodeid, 1, false), 0);
		assert_int_equal(fe_getattr(fe, FUSE_ROOT_ID, &a), 0); /* FORGET has no reply */
	}
	back_to(fe, fds0, maps0);
}

static void test_vring_base_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_GET_VRING_BASE, 1);
}

static void test_vring_base_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_GET_VRING_BASE, 1);
}

static void test_vring_base_mq_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_GET_VRING_BASE, 2);
}

static void test_vring_base_mq_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_GET_VRING_BASE, 2);
}

static void test_reset_device_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_RESET_DEVICE, 1);
}

static void test_reset_device_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_RESET_DEVICE, 1);
}

static void test_reset_device_mq_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_RESET_DEVICE, 2);
}

static void test_reset_device_mq_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_RESET_DEVICE, 2);
}

static void test_disconnect_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_DISCONNECT, 1);
}

static void test_disconnect_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_DISCONNECT, 1);
}

static void test_disconnect_mq_inline(void **state)
{
	stop_under_load(state, "--posix-lock", STOP_DISCONNECT, 2);
}

static void test_disconnect_mq_pool(void **state)
{
	stop_under_load(state, "--posix-lock --thread-pool-size=4", STOP_DISCONNECT, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_mem_changes_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_mem_changes_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_mem_changes_mq_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_mem_changes_mq_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_call_fd_pipe_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_call_fd_pipe_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_kick_fd_hangup, fe_teardown_checked),
		cmocka_unit_test_teardown(test_lock_granted_unmapped_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_lock_granted_unmapped_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_lock_granted_unmapped_stopped, fe_teardown_checked),
		cmocka_unit_test_teardown(test_vring_base_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_vring_base_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_vring_base_mq_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_vring_base_mq_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_reset_device_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_reset_device_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_reset_device_mq_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_reset_device_mq_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_disconnect_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_disconnect_pool, fe_teardown_checked),
		cmocka_unit_test_teardown(test_disconnect_mq_inline, fe_teardown_checked),
		cmocka_unit_test_teardown(test_disconnect_mq_pool, fe_teardown_checked),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-memfault", tests, NULL, NULL);
}
