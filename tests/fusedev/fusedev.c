/*
 * virtiofsd-fusedev: serve the FUSE server and the passthrough backend over /dev/fuse, so the
 * whole request path above the virtqueue can be tested on the host with real file operations.
 *
 *   virtiofsd-fusedev <shared_dir> <mountpoint> [--cache=auto|always|never|metadata]
 *       [--threads=N] [--no-readdirplus] [--writeback] [--xattr] [--allow-direct-io]
 *       [--readonly] [--killpriv-v2] [--debug]
 *
 * Mounts <mountpoint> (fstype fuse.virtiofsd-c, allow_other, default_permissions), serves
 * until it is unmounted or SIGINT/SIGTERM arrives (then it unmounts lazily itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/fuse.h>

#include "fs/fs.h"
#include "fs/idmap.h"
#include "fs/xattrmap.h"
#include "fs/passthrough.h"
#include "fuse/server.h"
#include "log.h"

/* A max_write WRITE (1 MiB) plus headers fits; the kernel refuses smaller read buffers. */
#define IN_BUF_SIZE ((1u << 20) + 4096)
#define OUT_BUF_SIZE ((1u << 20) + 4096)
#define MAX_THREADS 64

struct fusedev {
	int fd;
	struct fuse_server *srv;
	const char *mountpoint;
};

struct fusedev_args {
	const char *shared;
	const char *mountpoint;
	struct fs_passthrough_opts pt;
	struct fuse_server_opts srv;
	unsigned threads;
	bool debug;
	struct xattrmap *xattrmap;
	struct idmap uid_map, gid_map;
};

/* xattr, ACL, label and id translation options: 1 taken, 0 not one of them, <0 bad value. */
static int parse_xattr_opt(struct fusedev_args *a, const char *s)
{
	if (strncmp(s, "--xattrmap=", 11) == 0) {
		if (a->xattrmap || xattrmap_parse(s + 11, &a->xattrmap) < 0)
			return -EINVAL;
		a->pt.xattrmap = a->xattrmap;
	} else if (strcmp(s, "--posix-acl") == 0) {
		a->srv.posix_acl = true;
	} else if (strcmp(s, "--security-label") == 0) {
		a->srv.security_label = true;
	} else if (strncmp(s, "--translate-uid=", 16) == 0) {
		if (idmap_add(&a->uid_map, s + 16) < 0)
			return -EINVAL;
		a->pt.uid_map = &a->uid_map;
		return 1;
	} else if (strncmp(s, "--translate-gid=", 16) == 0) {
		if (idmap_add(&a->gid_map, s + 16) < 0)
			return -EINVAL;
		a->pt.gid_map = &a->gid_map;
		return 1;
	} else {
		return 0;
	}
	a->srv.xattr = a->pt.xattr = true; /* as the daemon: each of these implies --xattr */
	return 1;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s <shared_dir> <mountpoint> [--cache=auto|always|never|metadata]\n"
		"       [--threads=N] [--no-readdirplus] [--writeback] [--xattr]\n"
		"       [--allow-direct-io] [--readonly] [--killpriv-v2] [--debug]\n"
		"       [--posix-lock] [--flock] [--allow-mmap]\n"
		"       [--inode-file-handles=never|prefer|mandatory]\n"
		"       [--xattrmap=MAP] [--posix-acl] [--security-label]\n"
		"       [--translate-uid=TYPE:A:B:N] [--translate-gid=TYPE:A:B:N]\n",
		prog);
}

static int parse_cache(const char *v, enum cache_mode *m)
{
	static const char *const names[] = {
	    [CACHE_AUTO] = "auto",
	    [CACHE_ALWAYS] = "always",
	    [CACHE_NEVER] = "never",
	    [CACHE_METADATA] = "metadata",
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(v, names[i]) == 0) {
			*m = (enum cache_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_handles(const char *v, enum inode_file_handles *m)
{
	if (strcmp(v, "never") == 0)
		*m = INODE_HANDLES_NEVER;
	else if (strcmp(v, "prefer") == 0 || strcmp(v, "fallback") == 0)
		*m = INODE_HANDLES_PREFER;
	else if (strcmp(v, "mandatory") == 0)
		*m = INODE_HANDLES_MANDATORY;
	else
		return -EINVAL;
	return 0;
}

static int parse_opt(struct fusedev_args *a, const char *s)
{
	char *end;
	int r = parse_xattr_opt(a, s);

	if (r != 0)
		return r < 0 ? r : 0;

	if (strncmp(s, "--cache=", 8) == 0)
		return parse_cache(s + 8, &a->pt.cache);
	if (strncmp(s, "--inode-file-handles=", 21) == 0)
		return parse_handles(s + 21, &a->pt.inode_file_handles);
	if (strncmp(s, "--threads=", 10) == 0) {
		unsigned long n = strtoul(s + 10, &end, 10);

		if (*end || n == 0 || n > MAX_THREADS)
			return -EINVAL;
		a->threads = (unsigned)n;
	} else if (strcmp(s, "--no-readdirplus") == 0) {
		a->srv.readdirplus = false;
	} else if (strcmp(s, "--writeback") == 0) {
		a->srv.writeback = true;
	} else if (strcmp(s, "--xattr") == 0) {
		a->srv.xattr = a->pt.xattr = true;
	} else if (strcmp(s, "--allow-direct-io") == 0) {
		a->pt.allow_direct_io = true;
	} else if (strcmp(s, "--readonly") == 0) {
		a->pt.readonly = true;
	} else if (strcmp(s, "--killpriv-v2") == 0) {
		a->srv.killpriv_v2 = true;
	} else if (strcmp(s, "--posix-lock") == 0) {
		a->srv.posix_locks = true;
	} else if (strcmp(s, "--flock") == 0) {
		a->srv.flock_locks = true;
	} else if (strcmp(s, "--allow-mmap") == 0) {
		a->srv.allow_mmap = true;
	} else if (strcmp(s, "--debug") == 0) {
		a->debug = true;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct fusedev_args *a)
{
	int pos = 0;

	memset(a, 0, sizeof(*a));
	a->pt.proc_self_fd = -1;
	a->pt.cache = CACHE_AUTO;
	a->pt.announce_submounts = true;
	a->srv.readdirplus = true;
	a->threads = 4;
	idmap_init(&a->uid_map, "--translate-uid");
	idmap_init(&a->gid_map, "--translate-gid");
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (pos == 0)
				a->shared = argv[i];
			else if (pos == 1)
				a->mountpoint = argv[i];
			else
				return -EINVAL;
			pos++;
		} else if (parse_opt(a, argv[i]) < 0) {
			fprintf(stderr, "virtiofsd-fusedev: bad option '%s'\n", argv[i]);
			return -EINVAL;
		}
	}
	if (pos != 2)
		return -EINVAL;
	/* As the daemon does: no READDIRPLUS when nothing may be cached. */
	if (a->pt.cache == CACHE_NEVER)
		a->srv.readdirplus = false;
	a->pt.root_dir = a->shared;
	a->pt.thread_pool_size = a->threads;
	return 0;
}

static int fusedev_mount(struct fusedev *d)
{
	char opts[128];
	int r;

	d->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		r = -errno;
		log_error("open /dev/fuse: %s", strerror(-r));
		return r;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other",
		 d->fd);
	if (mount("virtiofsd-c", d->mountpoint, "fuse.virtiofsd-c", MS_NOSUID | MS_NODEV, opts) <
	    0) {
		r = -errno;
		log_error("mount fuse on %s: %s", d->mountpoint, strerror(-r));
		close(d->fd);
		d->fd = -1;
		return r;
	}
	return 0;
}

/* A lock wait finished in its own thread: its reply goes straight to the kernel. */
static void fusedev_complete(void *ctx, uint32_t id, const void *reply, size_t len)
{
	struct fusedev *d = ctx;

	(void)id;
	/* ENOENT: interrupted and forgotten by the kernel; ENODEV: unmounted meanwhile. */
	if (write(d->fd, reply, len) < 0 && errno != ENOENT && errno != ENODEV)
		log_warn("write /dev/fuse (deferred reply, %zu bytes): %s", len, strerror(errno));
}

/* One request at a time: read it whole, serve it, write the reply (a lock wait replies
 * later, from its own thread). */
static void *worker(void *arg)
{
	struct fusedev *d = arg;
	char *in = malloc(IN_BUF_SIZE), *out = malloc(OUT_BUF_SIZE);

	if (!in || !out) {
		log_error("fusedev worker: out of memory for request buffers");
		goto out_free;
	}
	for (;;) {
		ssize_t n = read(d->fd, in, IN_BUF_SIZE);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno != ENODEV) /* ENODEV: unmounted, the normal end */
				log_error("read /dev/fuse: %s", strerror(errno));
			break;
		}
		struct iovec iv = {.iov_base = in, .iov_len = (size_t)n};
		struct iovec ov = {.iov_base = out, .iov_len = OUT_BUF_SIZE};
		struct fuse_async as = {.complete = fusedev_complete, .ctx = d};
		size_t len = fuse_server_handle_async(d->srv, &iv, 1, &ov, 1, &as);

		if (len == FUSE_DEFERRED)
			continue;

		/* ENOENT: the request was interrupted and the kernel forgot it. */
		if (len > 0 && write(d->fd, out, len) < 0 && errno != ENOENT)
			log_warn("write /dev/fuse (%zu bytes): %s", len, strerror(errno));
	}
out_free:
	free(in);
	free(out);
	return NULL;
}

static void *signal_thread(void *arg)
{
	struct fusedev *d = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigwait(&set, &sig) == 0) {
		log_info("signal %d: unmounting %s", sig, d->mountpoint);
		if (umount2(d->mountpoint, MNT_DETACH) < 0)
			log_error("umount %s: %s", d->mountpoint, strerror(errno));
	}
	return NULL;
}

static int serve(struct fusedev *d, unsigned nthreads)
{
	pthread_t th[MAX_THREADS], sig_th;
	unsigned started = 0;
	sigset_t set;
	int r = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	r = -pthread_create(&sig_th, NULL, signal_thread, d);
	if (r < 0)
		return r;
	pthread_detach(sig_th);
	for (; started < nthreads; started++) {
		r = -pthread_create(&th[started], NULL, worker, d);
		if (r < 0) {
			log_error("fusedev: starting worker %u: %s", started, strerror(-r));
			umount2(d->mountpoint, MNT_DETACH);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return r;
}

int main(int argc, char **argv)
{
	struct fusedev_args a;
	struct fusedev d = {.fd = -1};
	void *fs = NULL;
	int r;

	if (parse_args(argc, argv, &a) < 0) {
		usage(argv[0]);
		return 2;
	}
	log_init(a.debug ? LOG_LVL_DEBUG : LOG_LVL_INFO, false);
	d.mountpoint = a.mountpoint;
	r = fs_passthrough_new(&a.pt, &fs);
	if (r < 0)
		return 1;
	r = fuse_server_new(&fs_passthrough_ops, fs, &a.srv, &d.srv);
	if (r < 0) {
		log_error("fuse server: %s", strerror(-r));
		goto out_fs;
	}
	r = fusedev_mount(&d);
	if (r < 0)
		goto out_srv;
	log_info("serving %s on %s with %u threads, inode file handles %s", a.shared,
		 a.mountpoint, a.threads, fs_passthrough_uses_handles(fs) ? "in use" : "not used");
	/* The test script reads this to tell a missing feature from a broken one. */
	if (a.srv.xattr && !fs_passthrough_ops.getxattr)
		log_info("xattr: the backend has no xattr ops, xattr requests get ENOSYS");
	r = serve(&d, a.threads);
	fuse_server_cancel(d.srv, NULL); /* lock waits write their replies to d.fd */
	close(d.fd);
	fuse_server_reset(d.srv);
out_srv:
	fuse_server_free(d.srv);
out_fs:
	fs_passthrough_free(fs);
	xattrmap_free(a.xattrmap);
	idmap_free(&a.uid_map);
	idmap_free(&a.gid_map);
	return r < 0 ? 1 : 0;
}
