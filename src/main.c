/*
 * Start-up order only: options, logging, the open-file limit, the socket (its path is outside
 * the share), the sandbox, the filesystem and the FUSE server, capabilities and seccomp, then
 * serve one frontend until it disconnects. The one place that may exit().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "fs/fs.h"
#include "fs/passthrough.h"
#include "fuse/server.h"
#include "sandbox/sandbox.h"
#include "vhost/vhost.h"

static size_t handle_request(void *opaque, const struct iovec *in, unsigned in_cnt,
			     const struct iovec *out, unsigned out_cnt)
{
	return fuse_server_handle(opaque, in, in_cnt, out, out_cnt);
}

static size_t handle_request_async(void *opaque, const struct iovec *in, unsigned in_cnt,
				   const struct iovec *out, unsigned out_cnt,
				   void (*complete)(void *ctx, uint32_t id, const void *reply,
						    size_t len),
				   void *ctx, uint32_t id)
{
	struct fuse_async a = { .complete = complete, .ctx = ctx, .id = id };
	size_t len = fuse_server_handle_async(opaque, in, in_cnt, out, out_cnt, &a);

	return len == FUSE_DEFERRED ? VU_DEFERRED : len;
}

static void cancel_deferred(void *opaque, void *ctx)
{
	fuse_server_cancel(opaque, ctx);
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

/* config.c accepted the word; "fallback" is the reference's old name of prefer. */
static enum inode_file_handles handles_mode(const char *s)
{
	if (s && strcmp(s, "never") == 0)
		return INODE_HANDLES_NEVER;
	if (s && strcmp(s, "mandatory") == 0)
		return INODE_HANDLES_MANDATORY;
	return INODE_HANDLES_PREFER;
}

static void sandbox_opts(const struct config *cfg, struct sb_opts *so, struct sb_caps_opts *co)
{
	static const enum sb_mode modes[] = {
		[SANDBOX_NAMESPACE] = SB_MODE_NAMESPACE,
		[SANDBOX_CHROOT] = SB_MODE_CHROOT,
		[SANDBOX_NONE] = SB_MODE_NONE,
	};

	*so = (struct sb_opts){
		.mode = modes[cfg->sandbox],
		.shared_dir = cfg->shared_dir,
		.uid_maps = cfg->uid_maps,
		.n_uid_maps = cfg->n_uid_maps,
		.gid_maps = cfg->gid_maps,
		.n_gid_maps = cfg->n_gid_maps,
	};
	*co = (struct sb_caps_opts){
		.modcaps = cfg->modcaps,
		/* refined once the filesystem knows whether handles work (fs_passthrough_new) */
		.file_handles = handles_mode(cfg->inode_file_handles) != INODE_HANDLES_NEVER,
	};
}

static enum sb_seccomp seccomp_action(enum seccomp_mode m)
{
	switch (m) {
	case SECCOMP_MODE_NONE:
		return SB_SECCOMP_NONE;
	case SECCOMP_MODE_LOG:
		return SB_SECCOMP_LOG;
	case SECCOMP_MODE_TRAP:
		return SB_SECCOMP_TRAP;
	case SECCOMP_MODE_KILL:
	default:
		return SB_SECCOMP_KILL;
	}
}

static int listen_socket(const struct config *cfg, struct vu_listener *l)
{
	if (cfg->socket_path)
		return vu_listen_path(cfg->socket_path, cfg->socket_group, l);
	return vu_listen_fd(cfg->fd, l);
}

/* After chroot or pivot_root the socket's path names something inside the share (or nothing):
 * never unlink it then. A stale socket is replaced by the next daemon. */
static void close_listener(struct vu_listener *l, bool sandboxed)
{
	if (sandboxed) {
		free(l->socket_path);
		free(l->pid_path);
		l->socket_path = l->pid_path = NULL;
	}
	vu_listener_close(l);
}

static int serve(struct vu_listener *l, const struct config *cfg, struct fuse_server *srv)
{
	struct vu_handler h = { .handle = handle_request, .reset = reset_server, .opaque = srv,
				.handle_async = handle_request_async, .cancel = cancel_deferred };
	struct vu_opts vo = { .thread_pool_size = cfg->thread_pool_size, .tag = cfg->tag };
	int r;

	log_info("Waiting for vhost-user socket connection...");
	int conn = vu_accept(l);
	if (conn < 0)
		return conn;
	log_info("Client connected, servicing requests");
	r = vu_serve(conn, &h, &vo);
	if (r == 0)
		log_info("Client disconnected, shutting down");
	return r;
}

/* The passthrough filesystem over what the sandbox left us (root, /proc/self/fd, mountinfo). */
static int open_filesystem(const struct config *cfg, const struct sb_env *env, void **fs)
{
	struct fs_passthrough_opts fo = {
		.root_dir = env->root_dir,
		.proc_self_fd = env->proc_self_fd,
		.cache = cfg->cache,
		.allow_direct_io = cfg->allow_direct_io,
		.announce_submounts = cfg->announce_submounts,
		.readonly = cfg->readonly,
		.xattr = cfg->xattr,
		.preserve_noatime = cfg->preserve_noatime,
		.xattrmap = cfg->xattr_rules,
		.uid_map = idmap_is_empty(&cfg->translate_uid) ? NULL : &cfg->translate_uid,
		.gid_map = idmap_is_empty(&cfg->translate_gid) ? NULL : &cfg->translate_gid,
		.inode_file_handles = handles_mode(cfg->inode_file_handles),
		.mountinfo_fd = env->mountinfo_fd,
		.thread_pool_size = cfg->thread_pool_size,
	};

	if (cfg->inode_file_handles && strcmp(cfg->inode_file_handles, "fallback") == 0)
		log_warn("--inode-file-handles=fallback is deprecated: use prefer");
	return fs_passthrough_new(&fo, fs);
}

static int new_server(const struct config *cfg, void *fs, struct fuse_server **srv)
{
	struct fuse_server_opts so = {
		.readdirplus = cfg->readdirplus,
		.writeback = cfg->writeback,
		.killpriv_v2 = cfg->killpriv_v2,
		.posix_acl = cfg->posix_acl,
		.security_label = cfg->security_label,
		.allow_mmap = cfg->allow_mmap,
		.posix_locks = cfg->posix_lock,
		.flock_locks = cfg->flock,
		.xattr = cfg->xattr,
	};
	int r = fuse_server_new(&fs_passthrough_ops, fs, &so, srv);

	if (r < 0)
		log_error("cannot create the FUSE server: %s", strerror(-r));
	return r;
}

/* The command line, and what it asks that needs no serving (help, version, capabilities):
 * 1 when that is done (cfg freed), 0 to go on, negative after a bad command line. */
static int read_options(int argc, char **argv, struct config *cfg)
{
	if (argc < 2) {
		config_print_help(argv[0]);
		return 1;
	}
	if (config_parse(cfg, argc, argv) < 0)
		return -EINVAL;
	if (cfg->help)
		config_print_help(argv[0]);
	else if (cfg->version)
		printf("virtiofsd %s\n", VIRTIOFSD_VERSION);
	else if (cfg->print_capabilities)
		print_capabilities();
	else
		return 0;
	config_free(cfg);
	return 1;
}

/* Every check that needs no resource, before anything is opened (cfg freed on failure). */
static int check_options(struct config *cfg, struct sb_opts *sbo, struct sb_caps_opts *co)
{
	sandbox_opts(cfg, sbo, co);
	if (check_required(cfg) < 0 || refuse_unimplemented(cfg) < 0 || sb_check(sbo) < 0 ||
	    sb_caps_check(co) < 0) {
		config_free(cfg);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct fuse_server *srv = NULL;
	struct sb_opts sbo;
	struct sb_caps_opts co;
	struct sb_env env = { .root_dir = NULL, .proc_self_fd = -1, .mountinfo_fd = -1 };
	struct vu_listener l;
	bool listening = false;
	void *fs = NULL;
	int r;

	r = read_options(argc, argv, &cfg);
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (check_options(&cfg, &sbo, &co) < 0)
		return 1;
	log_init(cfg.log_level, cfg.syslog);
	signal(SIGPIPE, SIG_IGN);
	sb_set_rlimit_nofile(cfg.rlimit_nofile_set, cfg.rlimit_nofile); /* a failure only warns */
	r = listen_socket(&cfg, &l);
	if (r < 0)
		goto out;
	listening = true;
	r = sb_enter(&sbo, &env); /* in namespace mode, returns in a child; the parent waits */
	if (r < 0)
		goto out;

	r = open_filesystem(&cfg, &env, &fs);
	if (r < 0)
		goto out;
	/* DAC_READ_SEARCH (open_by_handle_at) stays only if handles are really in use. */
	co.file_handles = fs_passthrough_uses_handles(fs);
	r = new_server(&cfg, fs, &srv);
	if (r < 0)
		goto out;
	/* Everything is open; no thread runs yet. */
	r = sb_drop_caps(&co);
	if (r == 0)
		r = sb_seccomp_install(seccomp_action(cfg.seccomp), cfg.syslog);
	if (r == 0)
		r = serve(&l, &cfg, srv);
out:
	if (srv)
		fuse_server_free(srv);
	if (fs)
		fs_passthrough_free(fs);
	if (listening)
		close_listener(&l, sbo.mode != SB_MODE_NONE);
	sb_env_free(&env);
	config_free(&cfg);
	return r < 0 ? 1 : 0;
}
