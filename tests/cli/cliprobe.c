/*
 * What a command line does, seen from the frontend: start the daemon with an exact argv (the
 * fake frontend's "@SHARE@" and "@SOCK@" placeholders), negotiate like QEMU, send the INIT a
 * Linux 6.x guest sends, and report what the options changed: the INIT flags granted, the
 * entry and attribute timeouts, the OPEN flags, whether xattrs and writes work. Works for any
 * virtio-fs daemon (ours, the Rust one), so tests/cli/run.sh can compare them line by line.
 *
 * Usage: cliprobe [--fd N] [--cwd-share] [--env K=V] [--log FILE] -- PROGRAM ARGS...
 * Output: key=value lines; "start=refused status=N" when the daemon exits before serving.
 * Exit status 0 when the report is complete (whatever it says), 1 on a probe failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fe_ops.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)
#define BIT(n) (1ull << (n))

/* Bits newer than the build host's <linux/fuse.h> may know. */
static const struct {
	uint64_t bit;
	const char *name;
} init_names[] = {
	{ BIT(0), "ASYNC_READ" },	    { BIT(1), "POSIX_LOCKS" },
	{ BIT(3), "ATOMIC_O_TRUNC" },	    { BIT(4), "EXPORT_SUPPORT" },
	{ BIT(5), "BIG_WRITES" },	    { BIT(6), "DONT_MASK" },
	{ BIT(7), "SPLICE_WRITE" },	    { BIT(8), "SPLICE_MOVE" },
	{ BIT(9), "SPLICE_READ" },	    { BIT(10), "FLOCK_LOCKS" },
	{ BIT(11), "HAS_IOCTL_DIR" },	    { BIT(12), "AUTO_INVAL_DATA" },
	{ BIT(13), "DO_READDIRPLUS" },	    { BIT(14), "READDIRPLUS_AUTO" },
	{ BIT(15), "ASYNC_DIO" },	    { BIT(16), "WRITEBACK_CACHE" },
	{ BIT(17), "NO_OPEN_SUPPORT" },	    { BIT(18), "PARALLEL_DIROPS" },
	{ BIT(19), "HANDLE_KILLPRIV" },	    { BIT(20), "POSIX_ACL" },
	{ BIT(21), "ABORT_ERROR" },	    { BIT(22), "MAX_PAGES" },
	{ BIT(23), "CACHE_SYMLINKS" },	    { BIT(24), "NO_OPENDIR_SUPPORT" },
	{ BIT(25), "EXPLICIT_INVAL_DATA" }, { BIT(26), "MAP_ALIGNMENT" },
	{ BIT(27), "SUBMOUNTS" },	    { BIT(28), "HANDLE_KILLPRIV_V2" },
	{ BIT(29), "SETXATTR_EXT" },	    { BIT(30), "INIT_EXT" },
	{ BIT(32), "SECURITY_CTX" },	    { BIT(33), "HAS_INODE_DAX" },
	{ BIT(34), "CREATE_SUPP_GROUP" },   { BIT(35), "HAS_EXPIRE_ONLY" },
	{ BIT(36), "DIRECT_IO_ALLOW_MMAP" }, { BIT(37), "PASSTHROUGH" },
	{ BIT(38), "NO_EXPORT_SUPPORT" },   { BIT(39), "HAS_RESEND" },
	{ BIT(40), "ALLOW_IDMAP" },
};

/* What Linux 6.12's virtiofs driver offers (fs/fuse/inode.c fuse_send_init, no DAX). */
static uint64_t guest_offer(void)
{
	uint64_t all = 0;

	for (size_t i = 0; i < sizeof(init_names) / sizeof(init_names[0]); i++)
		all |= init_names[i].bit;
	return all & ~(BIT(26) | BIT(33) | BIT(37)); /* DAX alignment, DAX, passthrough */
}

static void print_flags(const char *key, uint64_t f)
{
	printf("%s=", key);
	for (size_t i = 0; i < sizeof(init_names) / sizeof(init_names[0]); i++)
		if (f & init_names[i].bit)
			printf("%s ", init_names[i].name);
	printf("\n");
}

static const char *err_name(int e)
{
	static char buf[16];

	switch (-e) {
	case 0: return "0";
	case ENOSYS: return "ENOSYS";
	case ENODATA: return "ENODATA";
	case EROFS: return "EROFS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	}
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static int probe_init(struct fe *fe, uint64_t *granted)
{
	uint64_t offer = guest_offer();
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 << 10,
		.flags = (uint32_t)offer,
		.flags2 = (uint32_t)(offer >> 32),
	};
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fuse_init_out out = { 0 };
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_INIT, 0, a, 1, OUT_HDR + sizeof(out), NULL, &r);

	rc = fe_check_reply(rc, &r, -1);
	if (rc == 0)
		memcpy(&out, r.data, r.data_len < sizeof(out) ? r.data_len : sizeof(out));
	fe_reply_free(&r);
	if (rc < 0) {
		printf("init=%s\n", err_name(rc));
		return rc;
	}
	uint64_t got = out.flags;
	if (got & FUSE_INIT_EXT)
		got |= (uint64_t)out.flags2 << 32;
	print_flags("init", got);
	*granted = got;
	return 0;
}

static int probe_getxattr(struct fe *fe, uint64_t node)
{
	struct fuse_getxattr_in in = { .size = 64 };
	static const char name[] = "user.cliprobe";
	struct iovec a[] = { IOV(&in, sizeof(in)), IOV(name, sizeof(name)) };
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_GETXATTR, node, a, 2, OUT_HDR + 64, NULL, &r);

	rc = fe_check_reply(rc, &r, -1);
	fe_reply_free(&r);
	return rc;
}

/* MKDIR as Linux sends it: once SECURITY_CTX is granted, every create carries a security
 * context extension (an empty one when no LSM labels the file). */
static int probe_mkdir(struct fe *fe, bool secctx)
{
	struct {
		struct fuse_mkdir_in in;
		char name[8];
	} __attribute__((packed)) args = { .in = { .mode = 040755 }, .name = "newdir" };
	struct fuse_secctx_header ext = { .size = sizeof(ext), .nr_secctx = 0 };
	size_t alen = sizeof(args.in) + strlen(args.name) + 1;
	size_t elen = secctx ? sizeof(ext) : 0;
	/* The extension follows the name directly; total_extlen tells where it starts. */
	struct fuse_in_header h = {
		.len = (uint32_t)(sizeof(h) + alen + elen),
		.opcode = FUSE_MKDIR,
		.unique = 0x1000,
		.nodeid = FUSE_ROOT_ID,
		.total_extlen = (uint16_t)(elen / 8),
	};
	struct iovec in[] = { IOV(&h, sizeof(h)), IOV(&args, alen), IOV(&ext, elen) };
	struct fe_reply r;
	int rc = fe_fuse_raw(fe, in, elen ? 3 : 2, OUT_HDR + sizeof(struct fuse_entry_out), NULL, &r);

	rc = fe_check_reply(rc, &r, sizeof(struct fuse_entry_out));
	fe_reply_free(&r);
	return rc;
}

static void probe_files(struct fe *fe, bool secctx)
{
	struct fuse_entry_out e;
	int rc = fe_lookup(fe, FUSE_ROOT_ID, "file", &e);

	if (rc < 0) {
		printf("lookup=%s\n", err_name(rc));
		return;
	}
	printf("entry_valid=%llu\nattr_valid=%llu\nowner=%u:%u\n",
	       (unsigned long long)e.entry_valid, (unsigned long long)e.attr_valid, e.attr.uid,
	       e.attr.gid);

	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct iovec a[] = { IOV(&oi, sizeof(oi)) };
	struct fe_reply r;
	rc = fe_fuse_req(fe, FUSE_OPEN, e.nodeid, a, 1, OUT_HDR + sizeof(struct fuse_open_out),
			 NULL, &r);
	rc = fe_check_reply(rc, &r, sizeof(struct fuse_open_out));
	if (rc == 0) {
		const struct fuse_open_out *oo = (const void *)r.data;
		printf("open=%s%s\n", oo->open_flags & FOPEN_DIRECT_IO ? "DIRECT_IO " : "",
		       oo->open_flags & FOPEN_KEEP_CACHE ? "KEEP_CACHE" : "");
	} else {
		printf("open=%s\n", err_name(rc));
	}
	fe_reply_free(&r);
	printf("getxattr=%s\n", err_name(probe_getxattr(fe, e.nodeid)));
	printf("mkdir=%s\n", err_name(probe_mkdir(fe, secctx)));
}

static void copy_log(struct fe *fe, const char *to)
{
	char buf[4096];
	ssize_t n;
	int in = open(fe->log_path, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

static void print_exit(struct fe *fe)
{
	if (WIFEXITED(fe->status))
		printf("status=%d\n", WEXITSTATUS(fe->status));
	else
		printf("status=signal%d\n", WTERMSIG(fe->status));
}

int main(int argc, char **argv)
{
	struct fe_opts o = { .listen_fd = -1 };
	const char *log = NULL;
	struct fe *fe = NULL;
	int i = 1, r;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc)
			o.listen_fd = atoi(argv[++i]);
		else if (strcmp(argv[i], "--cwd-share") == 0)
			o.chdir_share = true;
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
			log = argv[++i];
		else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc)
			putenv(argv[++i]); /* K=V for the daemon (RUST_LOG) */
		else
			return fprintf(stderr, "cliprobe: unknown option %s\n", argv[i]), 1;
	}
	if (i + 1 >= argc)
		return fprintf(stderr, "usage: cliprobe [--fd N] [--cwd-share] [--log F] -- "
				       "PROGRAM ARGS...\n"), 1;
	o.argv = argv + i + 1;
	r = fe_start(&fe, &o);
	if (fe && fe->pid > 0 && r < 0 && fe_wait_exit(fe, FE_TIMEOUT_MS) == 0) {
		printf("start=refused\n");
		print_exit(fe);
		if (log)
			copy_log(fe, log);
		fe_destroy(fe);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "cliprobe: start failed: %s\n", strerror(-r));
		if (fe)
			fe_dump_log(fe);
		fe_destroy(fe);
		return 1;
	}
	/* The share the probe looks at: one file, owned by whoever runs the probe. */
	char path[160];
	int fd = open(fe_share_path(fe, "file", path, sizeof(path)), O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	printf("start=ok\n");
	uint64_t granted = 0;
	if (probe_init(fe, &granted) == 0)
		probe_files(fe, granted & BIT(32));
	r = fe_disconnect(fe, FE_TIMEOUT_MS);
	if (r == 0)
		print_exit(fe);
	else
		printf("status=still-running\n");
	if (log)
		copy_log(fe, log);
	fe_destroy(fe);
	return 0;
}
