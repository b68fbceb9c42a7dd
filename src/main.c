/*
 * Start-up order only: options, logging, limits, the filesystem, the FUSE server, the socket,
 * then serve one frontend until it disconnects. The one place that may exit().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "fs/fs.h"
#include "fs/passthrough.h"
#include "fuse/server.h"
#include "vhost/vhost.h"

static size_t handle_request(void *opaque, const struct iovec *in, unsigned in_cnt,
			     const struct iovec *out, unsigned out_cnt)
{
	return fuse_server_handle(opaque, in, in_cnt, out, out_cnt);
}

static void reset_server(void *opaque)
{
	fuse_server_reset(opaque);
}

static void print_capabilities(void)
{
	printf("{\n  \"type\": \"fs\"\n}\n");
}

/* Options that parse (so command lines written for the Rust daemon are understood) but whose
 * feature this build does not have yet: refuse with a clear line rather than ignore them. */
static int refuse_unimplemented(const struct config *cfg)
{
	const char *what = NULL;

	if (cfg->sandbox == SANDBOX_NAMESPACE)
		what = "--sandbox=namespace (the default) is not implemented yet; "
		       "use --sandbox=none";
	else if (cfg->sandbox == SANDBOX_CHROOT)
		what = "--sandbox=chroot is not implemented yet; use --sandbox=none";
	else if (cfg->xattr || cfg->xattrmap)
		what = "--xattr/--xattrmap are not implemented yet";
	else if (cfg->posix_acl)
		what = "--posix-acl is not implemented yet";
	else if (cfg->security_label)
		what = "--security-label is not implemented yet";
	else if (cfg->modcaps)
		what = "--modcaps is not implemented yet";
	else if (cfg->killpriv_v2)
		what = "--killpriv-v2 is not implemented yet";
	else if (cfg->allow_mmap)
		what = "--allow-mmap is not implemented yet";
	else if (!idmap_is_empty(&cfg->translate_uid) || !idmap_is_empty(&cfg->translate_gid))
		what = "--translate-uid/--translate-gid are not implemented yet";
	if (!what)
		return 0;
	fprintf(stderr, "virtiofsd: %s\n", what);
	return -ENOTSUP;
}

static int check_required(const struct config *cfg)
{
	if (!cfg->shared_dir) {
		fprintf(stderr, "virtiofsd: missing --shared-dir (or -o source=)\n");
		return -EINVAL;
	}
	if (!cfg->socket_path && cfg->fd < 0) {
		fprintf(stderr, "virtiofsd: missing --socket-path or --fd\n");
		return -EINVAL;
	}
	if (cfg->socket_path && cfg->fd >= 0) {
		fprintf(stderr, "virtiofsd: --socket-path and --fd cannot be used together\n");
		return -EINVAL;
	}
	return 0;
}

/* Default as the Rust daemon: min(1000000, fs.nr_open); 0 leaves the limit as it is. */
static void set_rlimit_nofile(const struct config *cfg)
{
	uint64_t want = cfg->rlimit_nofile;
	struct rlimit rl;

	if (cfg->rlimit_nofile_set && want == 0)
		return;
	if (!cfg->rlimit_nofile_set) {
		unsigned long nr_open = 1048576;
		FILE *f = fopen("/proc/sys/fs/nr_open", "re");
		if (f) {
			if (fscanf(f, "%lu", &nr_open) != 1)
				nr_open = 1048576;
			fclose(f);
		}
		want = nr_open < 1000000 ? nr_open : 1000000;
	}
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot set the open file limit to %llu: %s", (unsigned long long)want,
			 strerror(errno));
}

static int serve(const struct config *cfg, struct fuse_server *srv)
{
	struct vu_listener l;
	struct vu_handler h = { .handle = handle_request, .reset = reset_server, .opaque = srv };
	struct vu_opts vo = { .thread_pool_size = cfg->thread_pool_size };
	int r;

	if (cfg->socket_path)
		r = vu_listen_path(cfg->socket_path, cfg->socket_group, &l);
	else
		r = vu_listen_fd(cfg->fd, &l);
	if (r < 0)
		return r;
	log_info("Waiting for vhost-user socket connection...");
	int conn = vu_accept(&l);
	if (conn < 0) {
		r = conn;
		goto out_close;
	}
	log_info("Client connected, servicing requests");
	r = vu_serve(conn, &h, &vo);
	if (r == 0)
		log_info("Client disconnected, shutting down");
out_close:
	vu_listener_close(&l);
	return r;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fuse_server *srv = NULL;
	void *fs = NULL;
	int r;

	if (argc < 2) {
		config_print_help(argv[0]);
		return 0;
	}
	if (config_parse(&cfg, argc, argv) < 0)
		return 1;
	if (cfg.help || cfg.version || cfg.print_capabilities) {
		if (cfg.help)
			config_print_help(argv[0]);
		else if (cfg.version)
			printf("virtiofsd %s\n", VIRTIOFSD_VERSION);
		else
			print_capabilities();
		config_free(&cfg);
		return 0;
	}
	if (check_required(&cfg) < 0 || refuse_unimplemented(&cfg) < 0) {
		config_free(&cfg);
		return 1;
	}
	log_init(cfg.log_level, cfg.syslog);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.seccomp != SECCOMP_MODE_NONE)
		log_warn("no seccomp filter in this version: running without one");
	set_rlimit_nofile(&cfg);

	struct fs_passthrough_opts fo = {
		.root_dir = cfg.shared_dir,
		.proc_self_fd = -1,
		.cache = cfg.cache,
		.allow_direct_io = cfg.allow_direct_io,
		.announce_submounts = cfg.announce_submounts,
		.readonly = cfg.readonly,
		.xattr = cfg.xattr,
		.preserve_noatime = cfg.preserve_noatime,
	};
	r = fs_passthrough_new(&fo, &fs);
	if (r < 0)
		goto out;
	struct fuse_server_opts so = {
		.readdirplus = cfg.readdirplus,
		.writeback = cfg.writeback,
		.killpriv_v2 = cfg.killpriv_v2,
		.posix_acl = cfg.posix_acl,
		.security_label = cfg.security_label,
		.allow_mmap = cfg.allow_mmap,
		.xattr = cfg.xattr,
	};
	r = fuse_server_new(&fs_passthrough_ops, fs, &so, &srv);
	if (r < 0) {
		log_error("cannot create the FUSE server: %s", strerror(-r));
		goto out;
	}
	r = serve(&cfg, srv);
out:
	if (srv)
		fuse_server_free(srv);
	if (fs)
		fs_passthrough_free(fs);
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}
