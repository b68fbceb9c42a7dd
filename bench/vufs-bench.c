/*
 * vufs-bench: drive a virtio-fs vhost-user daemon from the host with the fake frontend (memfd
 * guest RAM, a 1024-entry request queue with EVENT_IDX and indirect descriptors), N requests in
 * flight, or do the same operations directly on the host (the ceiling).
 *
 *   vufs-bench prepare DIR [--file-mb N]
 *   vufs-bench run --share DIR --target LABEL,PATH|host[,DAEMON ARGS] ... [--fs LABEL]
 *              [--secs S] [--reps N] [--depths 1,16,64] [--works a,b,...] [--queues 1,2]
 *   vufs-bench mem --share DIR --target LABEL,PATH[,DAEMON ARGS] ... [--files N]
 *
 * Every target (a daemon, or "host": the same operations as plain system calls) is started once;
 * then each (workload, depth) cell runs on each target in turn. One tab-separated line per cell:
 *   fs target work depth ops secs ops/s req/s MB/s p50_us p99_us cpu_us/op queues sleeps/op
 *   kicks/op calls/op
 * cpu_us/op is the daemon's utime+stime (its process tree) over the cell, per operation;
 * sleeps/op its threads' voluntary context switches (each a wake-up later) per operation;
 * kicks/op and calls/op the frontend's kicks (a VM exit each in a real guest) and wake-ups by a
 * call notification (an interrupt each), per operation.
 * With --queues 1,2 each cell also runs with 2 request queues, each driven by its own thread
 * at the given depth (a second instance of the daemon, started with 2 request queues).
 */
#include <pthread.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe_ops.h"
#include "vb.h"

#define VB_SLOTS_OFF (40ull << 20) /* after the fake frontend's own request buffers */

#define VB_MAX_TARGETS 6
#define VB_MAX_QUEUES 3

struct target {
	char label[32], path[256], args[256];
	struct vb_run r;
	/* Several request queues: one run per queue over a second daemon (mq_fe). */
	struct fe *mq_fe;
	struct vb_run mq[VB_MAX_QUEUES];
	unsigned mq_n;
	bool mq_failed;
};

struct args {
	const char *share, *fs, *works;
	char depths[64];
	double secs;
	unsigned reps;
	uint64_t file_mb;
	unsigned ntargets;
	unsigned max_queues; /* largest of --queues */
	bool queues[VB_MAX_QUEUES + 1];
	unsigned files; /* mem: inodes to look up */
	struct target *t;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: vufs-bench prepare DIR [--file-mb N]\n"
		"       vufs-bench run --share DIR --target LABEL,PATH|host[,DAEMON ARGS] ...\n"
		"                  [--fs LABEL] [--secs S] [--reps N] [--depths 1,16,64] "
		"[--works a,b] [--queues 1,2]\n"
		"       vufs-bench mem --share DIR --target LABEL,PATH[,DAEMON ARGS] ... "
		"[--files N]\n"
		"workloads: %s\n",
		vb_work_names());
}

/* LABEL,PATH[,ARGS]: PATH "host" is the host ceiling; ARGS are space-separated daemon options. */
static int parse_target(struct args *a, const char *spec)
{
	struct target *t = &a->t[a->ntargets];
	const char *c1 = strchr(spec, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	size_t plen = c2 ? (size_t)(c2 - c1 - 1) : c1 ? strlen(c1 + 1) : 0;

	if (a->ntargets == VB_MAX_TARGETS || !c1 || (size_t)(c1 - spec) >= sizeof(t->label) ||
	    plen >= sizeof(t->path) || (c2 && strlen(c2 + 1) >= sizeof(t->args)))
		return -EINVAL;
	memcpy(t->label, spec, (size_t)(c1 - spec));
	memcpy(t->path, c1 + 1, plen);
	if (c2)
		snprintf(t->args, sizeof(t->args), "%s", c2 + 1);
	a->ntargets++;
	return 0;
}

/* --queues 1,2: the request queue counts each cell runs with. */
static int parse_queues(struct args *a, const char *list)
{
	char buf[32], *save = NULL;

	memset(a->queues, 0, sizeof(a->queues));
	a->max_queues = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int n = atoi(t);

		if (n < 1 || n > VB_MAX_QUEUES)
			return -EINVAL;
		a->queues[n] = true;
		if ((unsigned)n > a->max_queues)
			a->max_queues = (unsigned)n;
	}
	return a->max_queues ? 0 : -EINVAL;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {{"share", required_argument, NULL, 's'},
					     {"target", required_argument, NULL, 't'},
					     {"fs", required_argument, NULL, 'f'},
					     {"secs", required_argument, NULL, 'S'},
					     {"depths", required_argument, NULL, 'D'},
					     {"works", required_argument, NULL, 'w'},
					     {"file-mb", required_argument, NULL, 'm'},
					     {"reps", required_argument, NULL, 'r'},
					     {"queues", required_argument, NULL, 'q'},
					     {"files", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	static struct target targets[VB_MAX_TARGETS];
	int c;

	*a = (struct args){.secs = 1.0,
			   .reps = 1,
			   .file_mb = 256,
			   .fs = "-",
			   .works = vb_work_names(),
			   .t = targets};
	snprintf(a->depths, sizeof(a->depths), "1,16,64");
	a->queues[1] = true;
	a->max_queues = 1;
	a->files = 100000;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->share = optarg;
			break;
		case 't':
			if (parse_target(a, optarg) < 0)
				return -EINVAL;
			break;
		case 'f':
			a->fs = optarg;
			break;
		case 'S':
			a->secs = atof(optarg);
			break;
		case 'D':
			snprintf(a->depths, sizeof(a->depths), "%s", optarg);
			break;
		case 'w':
			a->works = optarg;
			break;
		case 'm':
			a->file_mb = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			a->reps = (unsigned)atoi(optarg);
			break;
		case 'q':
			if (parse_queues(a, optarg) < 0)
				return -EINVAL;
			break;
		case 'n':
			a->files = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			return -EINVAL;
		}
	}
	return a->secs > 0 && a->secs < 600 && a->reps >= 1 && a->reps <= 20 ? 0 : -EINVAL;
}

static void print_row(const struct args *a, const struct target *t, const struct vb_work *w,
		      unsigned depth, unsigned queues, const struct vb_stats *st)
{
	double secs = st->elapsed_ns / 1e9;
	char cpu[32] = "-", reqs[32] = "-", sleeps[32] = "-", kc[64] = "-\t-";

	if (st->cpu_known && st->ops) {
		snprintf(cpu, sizeof(cpu), "%.2f", (double)st->cpu_us / (double)st->ops);
		snprintf(sleeps, sizeof(sleeps), "%.2f", (double)st->sleeps / (double)st->ops);
	}
	if (st->ops && st->cpu_known)
		snprintf(kc, sizeof(kc), "%.2f\t%.2f", (double)st->kicks / (double)st->ops,
			 (double)st->calls / (double)st->ops);
	if (st->reqs)
		snprintf(reqs, sizeof(reqs), "%.0f", st->reqs / secs);
	printf("%s\t%s\t%s\t%u\t%llu\t%.3f\t%.0f\t%s\t%.1f\t%.1f\t%.1f\t%s\t%u\t%s\t%s\n", a->fs,
	       t->label, w->name, depth, (unsigned long long)st->ops, secs, st->ops / secs, reqs,
	       st->bytes / secs / 1e6, st->p50_us, st->p99_us, cpu, queues, sleeps, kc);
	fflush(stdout);
}

/* Start t's daemon with nq request queues and INIT it; runs[i] drives queue 1 + i. */
static int start_daemon(const struct args *a, struct target *t, struct fe **fe,
			struct vb_run *runs, unsigned nq)
{
	struct fe_opts o = {.queue_size = 1024,
			    .one_region = true,
			    .mem_size = vb_mem_needed(VB_SLOTS_OFF + (nq - 1) * vb_slots_size()),
			    .share_dir = a->share,
			    .daemon_args = t->args,
			    .lazy_used_event = true,
			    .req_queues = nq,
			    /* see what a daemon that offers fewer queues does with more */
			    .ignore_queue_num = true};
	struct fuse_init_out init;
	int rc;

	setenv("VIRTIOFSD", t->path, 1);
	rc = fe_start(fe, &o);
	if (rc < 0) {
		fprintf(stderr, "vufs-bench: cannot start %s with %u request queue(s): %s\n",
			t->path, nq, strerror(-rc));
		return rc;
	}
	rc = fe_init(*fe, &init);
	if (rc != 0) {
		fprintf(stderr, "vufs-bench: INIT of %s failed (%d)\n", t->label, rc);
		return -EPROTO;
	}
	for (unsigned i = 0; i < nq && rc == 0; i++) {
		runs[i].fe = *fe;
		runs[i].q = FE_REQ_Q + i;
		runs[i].share = a->share;
		runs[i].unique = (1ull << 40) + ((uint64_t)i << 36);
		rc = vb_slots_init(&runs[i], FE_GPA_BASE + VB_SLOTS_OFF + i * vb_slots_size());
	}
	return rc;
}

static void stop_target(struct target *t, bool failed)
{
	if (t->mq_fe) {
		fe_destroy(t->mq_fe);
		t->mq_fe = NULL;
	}
	for (unsigned i = 0; i < VB_MAX_QUEUES; i++) {
		free(t->mq[i].samples);
		t->mq[i].samples = NULL;
	}
	if (t->r.fe) {
		if (failed)
			fe_dump_log(t->r.fe);
		fe_destroy(t->r.fe);
		t->r.fe = NULL;
	} else {
		vb_host_close(&t->r);
	}
	free(t->r.samples);
	t->r.samples = NULL;
}

/* One cell: a short untimed warm-up (wakes idle CPUs, fills caches), then the measure, best of
 * --reps (other work on a shared machine only ever makes a run slower). */
static int cell(const struct args *a, struct target *t, unsigned depth)
{
	struct vb_run *r = &t->r;
	struct vb_stats st, best = {0};
	int rc = 0;

	r->depth = depth;
	for (unsigned i = 0; i <= a->reps && rc == 0; i++) {
		r->rng = 0x9e3779b97f4a7c15ull + depth + i;
		r->cursor = 0;
		rc = r->fe ? vb_run_cell(r, i ? a->secs : a->secs / 5, &st)
			   : vb_host_cell(r, i ? a->secs : a->secs / 5, &st);
		if (rc == 0 && i > 0 &&
		    (!best.elapsed_ns || st.ops * best.elapsed_ns > best.ops * st.elapsed_ns))
			best = st;
	}
	if (rc == 0)
		print_row(a, t, r->w, depth, 1, &best);
	else
		fprintf(stderr, "vufs-bench: %s on %s at depth %u: %s\n", r->w->name, t->label,
			depth, strerror(-rc));
	return rc;
}

struct mq_job {
	struct vb_run *r;
	double secs;
	struct vb_stats st;
	int rc;
};

static void *mq_thread(void *arg)
{
	struct mq_job *j = arg;

	j->rc = vb_run_cell(j->r, j->secs, &j->st);
	return NULL;
}

/* One pass of nq runs at once, one thread each; the daemon's CPU over the whole pass. */
static int mq_pass(struct target *t, unsigned nq, double secs, struct vb_stats *st)
{
	static uint64_t merged[1u << 21];
	struct mq_job j[VB_MAX_QUEUES];
	pthread_t th[VB_MAX_QUEUES];
	uint64_t cpu0 = 0, cpu1 = 0;
	size_t n = 0;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->cpu_known = vb_cpu_us(t->mq_fe->pid, &cpu0) == 0;
	st->sleeps = vb_sleeps(t->mq_fe->pid);
	for (unsigned i = 0; i < nq; i++) {
		j[i] = (struct mq_job){.r = &t->mq[i], .secs = secs};
		t->mq[i].no_cpu = t->mq[i].keep_samples = true;
		if (pthread_create(&th[i], NULL, mq_thread, &j[i]) != 0)
			return -EAGAIN; /* the threads already started time out on their own */
	}
	for (unsigned i = 0; i < nq; i++) {
		pthread_join(th[i], NULL);
		rc = rc ? rc : j[i].rc;
		st->ops += j[i].st.ops;
		st->reqs += j[i].st.reqs;
		st->kicks += j[i].st.kicks;
		st->calls += j[i].st.calls;
		st->bytes += j[i].st.bytes;
		if (j[i].st.elapsed_ns > st->elapsed_ns)
			st->elapsed_ns = j[i].st.elapsed_ns;
		for (size_t k = 0; k < t->mq[i].nsamples && n < sizeof(merged) / 8; k++)
			merged[n++] = t->mq[i].samples[k];
	}
	st->sleeps = vb_sleeps(t->mq_fe->pid) - st->sleeps;
	if (st->cpu_known && vb_cpu_us(t->mq_fe->pid, &cpu1) == 0)
		st->cpu_us = cpu1 - cpu0;
	else
		st->cpu_known = false;
	vb_percentiles(merged, n, st);
	return rc;
}

/* A cell with nq request queues, each at depth, best of --reps after a warm-up. */
static int mq_cell(const struct args *a, struct target *t, unsigned depth, unsigned nq)
{
	struct vb_stats st, best = {0};
	int rc = 0;

	for (unsigned q = 0; q < nq; q++)
		t->mq[q].depth = depth;
	for (unsigned i = 0; i <= a->reps && rc == 0; i++) {
		for (unsigned q = 0; q < nq; q++) {
			t->mq[q].rng = 0x9e3779b97f4a7c15ull + depth + i + 7919 * q;
			t->mq[q].cursor = 0;
		}
		rc = mq_pass(t, nq, i ? a->secs : a->secs / 5, &st);
		if (rc == 0 && i > 0 &&
		    (!best.elapsed_ns || st.ops * best.elapsed_ns > best.ops * st.elapsed_ns))
			best = st;
	}
	if (rc == 0)
		print_row(a, t, t->mq[0].w, depth, nq, &best);
	else
		fprintf(stderr, "vufs-bench: %s on %s at depth %u with %u queues: %s\n",
			t->mq[0].w->name, t->label, depth, nq, strerror(-rc));
	return rc;
}

/* The second instance of t's daemon, with nq request queues, set up for workload w. A daemon
 * that cannot serve them (the legacy one exits when a second request queue starts) gets a
 * note and no cells; 1 when usable. */
static int mq_prepare(const struct args *a, struct target *t, const struct vb_work *w,
		      unsigned nq)
{
	int rc;

	if (t->mq_failed)
		return 0;
	if (!t->mq_fe) {
		rc = start_daemon(a, t, &t->mq_fe, t->mq, nq);
		if (rc < 0) {
			/* a daemon that dies over it needs a moment to be seen gone */
			bool alive = t->mq_fe && fe_wait_exit(t->mq_fe, 500) < 0;
			unsigned long long offered = t->mq_fe ? t->mq_fe->queue_num : 0;

			printf("# %s\t%s\t%u request queues: the daemon offers %llu queues "
			       "(GET_QUEUE_NUM) and %s when more are set up (%s)\n",
			       a->fs, t->label, nq, offered,
			       alive ? "refuses them" : "exits", strerror(-rc));
			fflush(stdout);
			if (t->mq_fe)
				fe_destroy(t->mq_fe);
			t->mq_fe = NULL;
			t->mq_failed = true;
			return 0;
		}
		t->mq_n = nq;
	}
	for (unsigned q = 0; q < nq; q++) {
		t->mq[q].w = w;
		rc = w->setup(&t->mq[q]);
		if (rc < 0)
			return rc;
	}
	return 1;
}

static bool usable(const struct args *a, struct target *t)
{
	const struct vb_work *w = t->r.w;

	if (t->r.fe && w->write && w->io_size > t->r.fe->max_write) {
		printf("# %s\t%s\t%s: skipped, max_write %u\n", a->fs, t->label, w->name,
		       t->r.fe->max_write);
		return false;
	}
	return true;
}

/* One workload: every depth, every target in turn (so that a busy moment of this shared machine
 * hits them alike). */
static int run_work(const struct args *a, const struct vb_work *w)
{
	char depths[64], *save = NULL;
	bool ok[VB_MAX_TARGETS], mq_ok[VB_MAX_TARGETS] = {false};
	unsigned nq = a->max_queues;
	int rc = 0;

	for (unsigned i = 0; i < a->ntargets && rc == 0; i++) {
		struct target *t = &a->t[i];

		t->r.w = w;
		ok[i] = usable(a, t);
		if (ok[i] && t->r.fe)
			rc = w->setup(&t->r);
		if (rc == 0 && ok[i] && t->r.fe && nq > 1) {
			rc = mq_prepare(a, t, w, nq);
			mq_ok[i] = rc == 1;
			rc = rc < 0 ? rc : 0;
		}
	}
	snprintf(depths, sizeof(depths), "%s", a->depths);
	for (char *d = strtok_r(depths, ",", &save); d && rc == 0; d = strtok_r(NULL, ",", &save)) {
		int depth = atoi(d);

		if (depth < 1 || depth > VB_MAX_DEPTH)
			return -EINVAL;
		for (unsigned i = 0; i < a->ntargets && rc == 0; i++)
			/* The host ceiling is one synchronous thread; for 1 MiB I/O it runs at
			 * each depth too, cycling through as many buffers as are in flight. */
			if (ok[i] && a->queues[1] &&
			    (a->t[i].r.fe || depth == 1 || w->io_size == VB_BIG))
				rc = cell(a, &a->t[i], (unsigned)depth);
		for (unsigned i = 0; i < a->ntargets && rc == 0; i++)
			if (mq_ok[i])
				rc = mq_cell(a, &a->t[i], (unsigned)depth, nq);
	}
	for (unsigned i = 0; i < a->ntargets && rc == 0; i++)
		if (ok[i] && a->t[i].r.fe && w->teardown) {
			w->teardown(&a->t[i].r);
			for (unsigned q = 0; mq_ok[i] && q < nq; q++)
				w->teardown(&a->t[i].mq[q]);
		}
	return rc;
}

/* An idle guest must cost no CPU (queue threads poll only briefly after a request): each
 * daemon's CPU time over a quiet second, after its last cell. */
static void idle_cpu(const struct args *a)
{
	uint64_t c0[VB_MAX_TARGETS] = {0}, c1[VB_MAX_TARGETS] = {0};
	bool ok[VB_MAX_TARGETS] = {false};

	for (unsigned i = 0; i < a->ntargets; i++)
		ok[i] = a->t[i].r.fe && vb_cpu_us(a->t[i].r.fe->pid, &c0[i]) == 0;
	sleep(1);
	for (unsigned i = 0; i < a->ntargets; i++)
		if (ok[i] && vb_cpu_us(a->t[i].r.fe->pid, &c1[i]) == 0)
			printf("# %s\t%s\tidle: %.1f ms of CPU in 1 s without requests\n", a->fs,
			       a->t[i].label, (double)(c1[i] - c0[i]) / 1000.0);
	fflush(stdout);
}

static int run(const struct args *a)
{
	char works[512], *save = NULL;
	unsigned started = 0;
	int rc = 0;

	if (!a->share || !a->ntargets) {
		usage();
		return -EINVAL;
	}
	for (; started < a->ntargets && rc == 0; started++) {
		struct target *t = &a->t[started];

		t->r.share = a->share;
		rc = strcmp(t->path, "host") ? start_daemon(a, t, &t->r.fe, &t->r, 1)
					     : vb_host_open(&t->r);
	}
	snprintf(works, sizeof(works), "%s", a->works);
	for (char *w = strtok_r(works, ", ", &save); w && rc == 0;
	     w = strtok_r(NULL, ", ", &save)) {
		const struct vb_work *work = vb_work_find(w);

		if (!work) {
			fprintf(stderr, "vufs-bench: unknown workload %s\n", w);
			rc = -EINVAL;
			break;
		}
		rc = run_work(a, work);
	}
	if (rc == 0)
		idle_cpu(a);
	for (unsigned i = 0; i < started; i++)
		stop_target(&a->t[i], rc < 0);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a;
	int rc;

	if (argc < 2) {
		usage();
		return 2;
	}
	optind = 2;
	if (parse_args(argc, argv, &a) < 0) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "prepare")) {
		if (optind >= argc) {
			usage();
			return 2;
		}
		rc = vb_prepare(argv[optind], a.file_mb);
		if (rc < 0)
			fprintf(stderr, "vufs-bench: prepare %s: %s\n", argv[optind],
				strerror(-rc));
		return rc < 0;
	}
	if (!strcmp(argv[1], "mem")) {
		rc = a.share && a.ntargets && a.files ? 0 : -EINVAL;
		for (unsigned i = 0; i < a.ntargets && rc == 0; i++)
			rc = vb_mem_target(a.share, a.t[i].label, a.t[i].path, a.t[i].args, a.files,
					   a.files / 10 ? a.files / 10 : 1);
		if (rc == -EINVAL)
			usage();
		return rc < 0;
	}
	if (strcmp(argv[1], "run")) {
		usage();
		return 2;
	}
	return run(&a) < 0;
}
