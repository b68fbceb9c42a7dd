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
#include "fs/pt_mig.h"
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

static int save_state(void *opaque, uint8_t **buf, size_t *len, char *why, size_t whylen)
{
	return fuse_server_state_save(opaque, buf, len, why, whylen);
}

static int load_state(void *opaque, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	return fuse_server_state_load(opaque, buf, len, why, whylen);
}

static void reset_server(void *opaque)
{
	fuse_server_reset(opaque);
}

/* No "separate-options" (docs/status.md): libvirt 9.0 ignores it, and a libvirt that reads it
 * then passes long options and refuses <lock posix/flock>, which ours serves through -o.
 * "migrate-precopy": the device state moves with the VM (docs/migration.md). */
static void print_capabilities(void)
{
	printf("{\n  \"type\": \"fs\",\n  \"features\": [\n    \"migrate-precopy\"\n  ]\n}\n");
}

static void sandbox_opts(const struct config *cfg, struct sb_opts *so, struct sb_caps_opts *co)
{
	*so = (struct sb_opts){
		.mode = cfg->sandbox,
		.shared_dir = cfg->shared_dir,
		.uid_maps = cfg->uid_maps,
		.n_uid_maps = cfg->n_uid_maps,
		.gid_maps = cfg->gid_maps,
		.n_gid_maps = cfg->n_gid_maps,
	};
	*co = (struct sb_caps_opts){
		.modcaps = cfg->modcaps,
		/* refined once the filesystem knows whether handles work (fs_passthrough_new) */
		.file_handles = cfg->inode_file_handles != INODE_HANDLES_NEVER,
	};
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
				.handle_async = handle_request_async, .cancel = cancel_deferred,
				.state_save = save_state, .state_load = load_state };
	struct vu_opts vo = { .thread_pool_size = cfg->thread_pool_size, .tag = cfg->tag,
				.poll_us = cfg->poll_us };
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
		.inode_file_handles = cfg->inode_file_handles,
		.mountinfo_fd = env->mountinfo_fd,
		.thread_pool_size = cfg->thread_pool_size,
	};
	return fs_passthrough_new(&fo, fs);
}

/* --migration-*: what mig_save sends and how mig_load treats what it cannot open. */
static void set_migration(const struct config *cfg, void *fs)
{
	struct fs_mig_opts mo = {
		.mode = cfg->migration_mode == MIGRATION_FILE_HANDLES ? FS_MIG_FILE_HANDLES
								      : FS_MIG_FIND_PATHS,
		.on_error = cfg->migration_on_error == MIGRATION_ON_ERROR_GUEST_ERROR
				    ? FS_MIG_GUEST_ERROR
				    : FS_MIG_ABORT,
		.verify_handles = cfg->migration_verify_handles,
	};

	fs_passthrough_set_migration(fs, &mo);
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
 * 1 when that is done (cfg freed), 0 to go on, minus the exit status after a bad command line
 * (2 for a usage error, 1 for a refusal after parsing, as the Rust daemon). */
static int read_options(int argc, char **argv, struct config *cfg)
{
	int r = config_parse(cfg, argc, argv);

	if (r < 0)
		return -config_exit_status(r);
	if (cfg->help)
		config_print_help(argv[0]);
	else if (cfg->version)
		printf("virtiofsd-c %s\ncommand line compatible with virtiofsd %s\n",
		       VIRTIOFSD_VERSION, VIRTIOFSD_RUST_COMPAT);
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
	if (sb_check(sbo) < 0 || sb_caps_check(co) < 0) {
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
		return r < 0 ? -r : 0;
	if (check_options(&cfg, &sbo, &co) < 0)
		return 1;
	if (sb_close_inherited(cfg.fd) < 0)
		return 1;
	log_setup(cfg.log_level, cfg.syslog, getenv("RUST_LOG"));
	config_log_warnings(&cfg);
	signal(SIGPIPE, SIG_IGN);
	r = sb_set_rlimit_nofile(cfg.rlimit_nofile_set, cfg.rlimit_nofile);
	if (r == 0)
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
	set_migration(&cfg, fs);
	/* DAC_READ_SEARCH (open_by_handle_at) stays only if handles are really in use, or a
	 * migration destination in file-handles mode will open the source's. */
	co.file_handles = fs_passthrough_uses_handles(fs) ||
			  cfg.migration_mode == MIGRATION_FILE_HANDLES;
	r = new_server(&cfg, fs, &srv);
	if (r < 0)
		goto out;
	/* Everything is open; no thread runs yet. */
	r = sb_drop_caps(&co);
	if (r == 0)
		r = sb_seccomp_install(cfg.seccomp, cfg.syslog);
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
