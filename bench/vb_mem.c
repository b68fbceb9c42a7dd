/* Memory per cached inode and per open file: a daemon's RssAnon (/proc/PID/status) after start-up,
 * after LOOKUP of N files that the guest keeps (no FORGET), and after OPEN of some of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_ops.h"
#include "vb.h"

#define VB_MANY_DIR "many"

/* RssAnon of pid, bytes; 0 when unknown. */
static uint64_t rss_anon(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* share/many/m000000 ... (n files, made once). */
static int make_many(const char *share, unsigned n)
{
	char path[512], name[32];
	struct stat st;
	int dfd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", share, VB_MANY_DIR);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		int fd;

		snprintf(name, sizeof(name), "m%06u", i);
		if (fstatat(dfd, name, &st, 0) == 0)
			continue;
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = -errno;
		else
			close(fd);
	}
	close(dfd);
	return rc;
}

static int lookup_all(struct fe *fe, uint64_t dir, unsigned n, uint64_t *ids)
{
	struct fuse_entry_out e;
	char name[32];

	for (unsigned i = 0; i < n; i++) {
		int rc;

		snprintf(name, sizeof(name), "m%06u", i);
		rc = fe_lookup(fe, dir, name, &e);
		if (rc != 0) {
			fprintf(stderr, "vufs-bench: mem: LOOKUP %s: %d\n", name, rc);
			return rc == FE_ETRANSPORT ? -EPROTO : rc;
		}
		ids[i] = e.nodeid;
	}
	return 0;
}

static int open_some(struct fe *fe, const uint64_t *ids, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t fh;
		int rc = fe_open(fe, ids[i], O_RDONLY, false, &fh);

		if (rc != 0) {
			fprintf(stderr, "vufs-bench: mem: OPEN of file %u: %d\n", i, rc);
			return rc == FE_ETRANSPORT ? -EPROTO : rc;
		}
	}
	return 0;
}

/* One row: mem LABEL inodes N bytes/inode open M bytes/open rss_start */
int vb_mem_target(const char *share, const char *label, const char *path, const char *args,
		  unsigned n, unsigned nopen)
{
	struct fe_opts o = {.queue_size = 1024, .share_dir = share, .daemon_args = args};
	uint64_t *ids = calloc(n, sizeof(*ids)), r0, r1, r2, dir;
	struct fuse_entry_out e;
	struct fuse_init_out init;
	struct fe *fe = NULL;
	int rc = ids ? make_many(share, n) : -ENOMEM;

	if (rc == 0) {
		setenv("VIRTIOFSD", path, 1);
		rc = fe_start(&fe, &o);
	}
	if (rc == 0)
		rc = fe_init(fe, &init) == 0 ? 0 : -EPROTO;
	if (rc == 0)
		rc = fe_lookup(fe, FUSE_ROOT_ID, VB_MANY_DIR, &e) == 0 ? 0 : -EPROTO;
	if (rc == 0) {
		dir = e.nodeid;
		r0 = rss_anon(fe->pid);
		rc = lookup_all(fe, dir, n, ids);
	}
	if (rc == 0) {
		r1 = rss_anon(fe->pid);
		rc = open_some(fe, ids, nopen < n ? nopen : n);
	}
	if (rc == 0) {
		r2 = rss_anon(fe->pid);
		printf("mem\t%s\tinodes\t%u\t%.0f\topen\t%u\t%.0f\t%llu\n", label, n,
		       ((double)r1 - (double)r0) / n, nopen, ((double)r2 - (double)r1) / nopen,
		       (unsigned long long)r0);
		fflush(stdout);
	} else {
		fprintf(stderr, "vufs-bench: mem: %s failed: %s\n", label, strerror(-rc));
		if (fe)
			fe_dump_log(fe);
	}
	if (fe)
		fe_destroy(fe);
	free(ids);
	return rc;
}
