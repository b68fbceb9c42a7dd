/* The request engine: slots in guest RAM, chains built as the guest kernel builds them (one
 * indirect table per request, payload split in pages), N requests kept in flight, timing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vb.h"

#define VB_SLOT_SIZE (VB_BIG + (64u << 10))
#define VB_OUT_OFF (4u << 10)
#define VB_TBL_OFF (8u << 10)
#define VB_DATA_OFF (64u << 10)
#define VB_TBL_MAX ((VB_DATA_OFF - VB_TBL_OFF) / sizeof(struct vring_desc))
#define VB_PAGE 4096u
#define VB_MAX_SAMPLES (1u << 21)


uint64_t vb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap, and the same offsets for every target given the same seed. */
uint64_t vb_rand(struct vb_run *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 2685821657736338717ull;
}

int vb_slots_init(struct vb_run *r, uint64_t first_gpa)
{
	for (unsigned i = 0; i < VB_MAX_DEPTH; i++) {
		struct vb_slot *s = &r->slots[i];
		uint64_t base = first_gpa + (uint64_t)i * VB_SLOT_SIZE;
		uint8_t *p = fe_gpa_ptr(r->fe, base, VB_SLOT_SIZE);

		if (!p)
			return -ENOMEM;
		*s = (struct vb_slot){.idx = i,
				      .in = p,
				      .out = p + VB_OUT_OFF,
				      .data = p + VB_DATA_OFF,
				      .in_gpa = base,
				      .out_gpa = base + VB_OUT_OFF,
				      .data_gpa = base + VB_DATA_OFF,
				      .tbl_gpa = base + VB_TBL_OFF,
				      .tbl = (struct vring_desc *)(p + VB_TBL_OFF)};
		memset(s->data, 0x5a, VB_BIG);
	}
	return 0;
}

uint64_t vb_slots_size(void)
{
	return (uint64_t)VB_MAX_DEPTH * VB_SLOT_SIZE;
}

uint64_t vb_mem_needed(uint64_t first_off)
{
	uint64_t end = first_off + vb_slots_size();

	return (end + (2ull << 20) - 1) & ~((2ull << 20) - 1);
}

static unsigned add_seg(struct vring_desc *t, unsigned n, uint64_t gpa, uint32_t len, bool wr)
{
	t[n] = (struct vring_desc){.addr = gpa, .len = len, .flags = wr ? VRING_DESC_F_WRITE : 0};
	return n + 1;
}

/* A guest's payload is a list of pages, one descriptor each. */
static unsigned add_pages(struct vring_desc *t, unsigned n, uint64_t gpa, uint32_t len, bool wr)
{
	for (uint32_t off = 0; off < len; off += VB_PAGE)
		n = add_seg(t, n, gpa + off, len - off < VB_PAGE ? len - off : VB_PAGE, wr);
	return n;
}

static unsigned build_table(struct vb_slot *s, const struct vb_req *q)
{
	struct vring_desc *t = s->tbl;
	unsigned n = 0;

	n = add_seg(t, n, s->in_gpa, sizeof(struct fuse_in_header), false);
	if (q->arg_len)
		n = add_seg(t, n, s->in_gpa + sizeof(struct fuse_in_header), q->arg_len, false);
	n = add_pages(t, n, s->data_gpa, q->payload_len, false);
	if (q->opcode != FUSE_FORGET) {
		n = add_seg(t, n, s->out_gpa, sizeof(struct fuse_out_header), true);
		if (q->reply_in_data)
			n = add_pages(t, n, s->data_gpa, q->reply_len, true);
		else if (q->reply_len)
			n = add_seg(t, n, s->out_gpa + sizeof(struct fuse_out_header), q->reply_len,
				    true);
	}
	for (unsigned i = 0; i + 1 < n; i++) {
		t[i].flags |= VRING_DESC_F_NEXT;
		t[i].next = i + 1;
	}
	return n;
}

static int submit(struct vb_run *r, struct vb_slot *s)
{
	struct fuse_in_header *h = (struct fuse_in_header *)s->in;
	struct vb_req q = {0};
	unsigned n;
	int d;

	r->w->next(r, s, &q);
	if (q.arg_len > VB_OUT_OFF - sizeof(*h) || q.payload_len > VB_BIG ||
	    q.reply_len > (q.reply_in_data ? VB_BIG : VB_OUT_OFF - sizeof(struct fuse_out_header)))
		return -EINVAL;
	r->unique += 2;
	/* The caller's ids: looked up once, a guest kernel does not make system calls for them. */
	if (!r->ids_known) {
		r->uid = getuid();
		r->gid = getgid();
		r->pid = getpid();
		r->ids_known = true;
	}
	*h = (struct fuse_in_header){.len = sizeof(*h) + q.arg_len + q.payload_len,
				     .opcode = q.opcode,
				     .unique = r->unique,
				     .nodeid = q.nodeid,
				     .uid = r->uid,
				     .gid = r->gid,
				     .pid = (uint32_t)r->pid};
	n = build_table(s, &q);
	if (n > VB_TBL_MAX)
		return -E2BIG;
	d = fe_vq_get_desc(r->fe, r->q);
	if (d < 0)
		return d;
	r->fe->vq[r->q].desc[d] = (struct vring_desc){.addr = s->tbl_gpa,
							  .len = n * sizeof(struct vring_desc),
							  .flags = VRING_DESC_F_INDIRECT};
	r->head_slot[d] = (uint16_t)s->idx;
	s->busy = true;
	s->req_start_ns = vb_now_ns();
	return fe_vq_publish(r->fe, r->q, d);
}

static void record(struct vb_run *r, uint64_t ns)
{
	if (r->nsamples < VB_MAX_SAMPLES)
		r->samples[r->nsamples++] = ns;
}

/* Take one completion; start the slot's next request unless the cell is over. */
static int complete_one(struct vb_run *r, uint64_t deadline, struct vb_stats *st)
{
	uint32_t id, len;
	struct vb_slot *s;
	uint64_t now;
	int rc = fe_vq_wait(r->fe, r->q, FE_TIMEOUT_MS * 4, &id, &len);

	if (rc < 0)
		return rc;
	if (id >= r->fe->vq[r->q].num || r->head_slot[id] >= r->depth)
		return -EPROTO;
	s = &r->slots[r->head_slot[id]];
	s->busy = false;
	st->reqs++;
	rc = r->w->done(r, s, len);
	if (rc < 0)
		return rc;
	now = vb_now_ns();
	if (r->w->per_unit)
		record(r, now - s->req_start_ns);
	if (rc == 0 && now >= deadline && r->w->abort_step && s->step < r->w->abort_step) {
		s->step = r->w->abort_step;
		s->aborted = true;
	}
	if (rc == 1) {
		if (!s->aborted && !r->w->per_unit) {
			record(r, now - s->op_start_ns);
			st->ops++;
			st->bytes += r->w->io_size;
		}
		s->step = 0;
		s->aborted = false;
		if (now >= deadline)
			return 0;
		s->op_start_ns = now;
	}
	return submit(r, s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void vb_percentiles(uint64_t *samples, size_t n, struct vb_stats *st)
{
	qsort(samples, n, sizeof(samples[0]), cmp_u64);
	if (n) {
		st->p50_us = samples[n / 2] / 1000.0;
		st->p99_us = samples[(uint64_t)n * 99 / 100] / 1000.0;
	}
}

static int samples_alloc(struct vb_run *r)
{
	if (!r->samples)
		r->samples = malloc(VB_MAX_SAMPLES * sizeof(*r->samples));
	r->nsamples = 0;
	return r->samples ? 0 : -ENOMEM;
}

static bool any_busy(const struct vb_run *r)
{
	for (unsigned i = 0; i < r->depth; i++)
		if (r->slots[i].busy)
			return true;
	return false;
}

int vb_run_cell(struct vb_run *r, double secs, struct vb_stats *st)
{
	uint64_t t0, cpu0 = 0, cpu1 = 0, deadline;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (samples_alloc(r) < 0)
		return -ENOMEM;
	r->units = 0;
	st->cpu_known = !r->no_cpu && vb_cpu_us(r->fe->pid, &cpu0) == 0;
	st->sleeps = r->no_cpu ? 0 : vb_sleeps(r->fe->pid);
	st->kicks = r->fe->vq[r->q].kicks;
	st->calls = r->fe->vq[r->q].calls;
	t0 = vb_now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	for (unsigned i = 0; i < r->depth && rc == 0; i++) {
		r->slots[i].step = 0;
		r->slots[i].aborted = false;
		r->slots[i].op_start_ns = vb_now_ns();
		rc = submit(r, &r->slots[i]);
	}
	while (rc == 0 && any_busy(r))
		rc = complete_one(r, deadline, st);
	st->elapsed_ns = vb_now_ns() - t0;
	if (r->w->per_unit)
		st->ops = r->units;
	if (st->cpu_known)
		st->sleeps = vb_sleeps(r->fe->pid) - st->sleeps;
	st->kicks = r->fe->vq[r->q].kicks - st->kicks;
	st->calls = r->fe->vq[r->q].calls - st->calls;
	if (st->cpu_known && vb_cpu_us(r->fe->pid, &cpu1) == 0)
		st->cpu_us = cpu1 - cpu0;
	else
		st->cpu_known = false;
	if (!r->keep_samples)
		vb_percentiles(r->samples, r->nsamples, st);
	return rc;
}

int vb_host_cell(struct vb_run *r, double secs, struct vb_stats *st)
{
	uint64_t t0 = vb_now_ns(), deadline = t0 + (uint64_t)(secs * 1e9), now = t0;

	memset(st, 0, sizeof(*st));
	if (samples_alloc(r) < 0)
		return -ENOMEM;
	r->units = 0;
	while (now < deadline) {
		uint64_t start = now;
		int rc = r->w->host_op(r);

		if (rc < 0)
			return rc;
		now = vb_now_ns();
		record(r, now - start);
		st->ops++;
		st->bytes += r->w->io_size;
	}
	st->elapsed_ns = now - t0;
	if (r->w->per_unit)
		st->ops = r->units;
	vb_percentiles(r->samples, r->nsamples, st);
	return 0;
}

/* utime + stime of pid, from /proc/PID/stat, and its ppid. */
static int proc_stat(pid_t pid, uint64_t *ticks, pid_t *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	int pp, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut,
			 &st) != 3)
		return -EIO;
	*ticks = ut + st;
	*ppid = pp;
	return 0;
}

/* The legacy daemon runs its sandboxed work in a child: count the whole tree (two levels). */
static uint64_t children_ticks(pid_t parent, int levels)
{
	DIR *d = levels > 0 ? opendir("/proc") : NULL;
	struct dirent *de;
	uint64_t sum = 0;

	while (d && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name), pp;
		uint64_t t;

		if (pid > 0 && proc_stat(pid, &t, &pp) == 0 && pp == parent)
			sum += t + children_ticks(pid, levels - 1);
	}
	if (d)
		closedir(d);
	return sum;
}

/* voluntary_ctxt_switches of every thread of pid: how often the daemon went to sleep. */
static uint64_t task_sleeps(pid_t pid)
{
	char path[320], line[128];
	struct dirent *de;
	uint64_t sum = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		unsigned long long v;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, de->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1)
				sum += v;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return sum;
}

uint64_t vb_sleeps(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	uint64_t sum = task_sleeps(pid);

	/* and the legacy daemon's sandboxed child */
	while (d && (de = readdir(d))) {
		pid_t c = atoi(de->d_name), pp;
		uint64_t t;

		if (c > 0 && proc_stat(c, &t, &pp) == 0 && pp == pid)
			sum += task_sleeps(c);
	}
	if (d)
		closedir(d);
	return sum;
}

int vb_cpu_us(pid_t pid, uint64_t *out)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t t;
	pid_t pp;
	int rc = proc_stat(pid, &t, &pp);

	if (rc < 0 || hz <= 0)
		return rc < 0 ? rc : -EINVAL;
	t += children_ticks(pid, 2);
	*out = t * 1000000ull / (uint64_t)hz;
	return 0;
}
