/* INIT: version check and flag negotiation (the gate itself is in server.c). */
#include "fuse/internal.h"
#include "fuse/ext.h"

#include <errno.h>
#include <string.h>

#include "log.h"

/* Every line here is rate-limited per call site: a guest can send INIT as often as it likes (each
 * one restarts the session), and each must not cost the host a log line. */

/* What this server can offer, before looking at what the guest offered. */
uint64_t fuse_supported_flags(const struct fuse_server_opts *o)
{
	uint64_t f = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_HAS_IOCTL_DIR |
		     FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
		     FUSE_SUBMOUNTS | FUSE_INIT_EXT | FUSE_CREATE_SUPP_GROUP | FUSE_ALLOW_IDMAP;

	if (o->readdirplus)
		f |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	if (o->writeback)
		f |= FUSE_WRITEBACK_CACHE;
	if (o->killpriv_v2)
		f |= FUSE_HANDLE_KILLPRIV_V2;
	if (o->posix_acl)
		f |= FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;
	if (o->security_label)
		f |= FUSE_SECURITY_CTX;
	if (o->allow_mmap)
		f |= FUSE_DIRECT_IO_ALLOW_MMAP;
	if (o->posix_locks)
		f |= FUSE_POSIX_LOCKS;
	if (o->flock_locks)
		f |= FUSE_FLOCK_LOCKS;
	return f;
}

/* Options the user asked for that cannot work without the guest's cooperation. */
static int check_required(const struct fuse_server_opts *o, uint64_t offered)
{
	const uint64_t acl = FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT;

	if (o->posix_acl && (offered & acl) != acl) {
		log_error_rl("INIT: --posix-acl needs POSIX_ACL, DONT_MASK and SETXATTR_EXT, which "
			  "the guest did not offer (flags 0x%llx)",
			  (unsigned long long)offered);
		return -EPROTO;
	}
	if (o->security_label && !(offered & FUSE_SECURITY_CTX)) {
		log_error_rl("INIT: --security-label needs SECURITY_CTX, which the guest did not "
			  "offer");
		return -EPROTO;
	}
	return 0;
}

/* Agree on flags with the guest and the backend. Called with srv->lock held. */
static int negotiate(struct fuse_server *srv, const struct fuse_init_in *in, size_t inlen,
		     uint64_t *agreed)
{
	uint64_t offered = in->flags;
	uint64_t want;
	int r;

	if ((offered & FUSE_INIT_EXT) && inlen >= offsetof(struct fuse_init_in, flags2) + 4)
		offered |= (uint64_t)in->flags2 << 32;
	r = check_required(&srv->opts, offered);
	if (r < 0)
		return r;
	want = fuse_supported_flags(&srv->opts) & offered;
	if (srv->ops->init) {
		/* The backend sees everything the guest offered and may add from it. */
		struct fs_conn conn = {
		    .proto_minor = in->minor,
		    .flags = offered,
		    .max_write = FUSE_MAX_WRITE,
		};
		r = srv->ops->init(srv->fs, &conn, &want);
		if (r < 0) {
			log_error_rl("INIT: the filesystem refused the connection: %s", strerror(-r));
			return r;
		}
	}
	want &= offered;
	if (!(want & FUSE_INIT_EXT))
		want &= 0xffffffffULL;
	*agreed = want;
	return 0;
}

static void fill_init_out(struct fuse_init_out *out, const struct fuse_init_in *in, uint64_t flags)
{
	memset(out, 0, sizeof(*out));
	out->major = FUSE_OUR_MAJOR;
	out->minor = FUSE_OUR_MINOR;
	out->max_readahead = in->max_readahead;
	out->flags = (uint32_t)flags;
	out->flags2 = (uint32_t)(flags >> 32);
	out->max_background = 65535;
	out->congestion_threshold = 49149;
	out->max_write = FUSE_MAX_WRITE;
	out->time_gran = 1;
	if (flags & FUSE_MAX_PAGES)
		out->max_pages = FUSE_MAX_PAGES_VAL;
}

int fuse_do_init(struct fuse_req *req)
{
	struct fuse_server *srv = req->srv;
	/* The table takes the 16 bytes of kernels before 7.36; newer ones send more. */
	size_t inlen = fuse_in_arg_more(req, sizeof(struct fuse_init_in));
	const struct fuse_init_in *in = &req->in_arg.init;
	struct fuse_init_out *out = &req->out_arg.init;
	uint64_t flags = 0;
	int r;

	log_info_rl("INIT: guest FUSE %u.%u, flags 0x%x", in->major, in->minor, in->flags);
	if (in->major > FUSE_OUR_MAJOR) {
		/* Tell the guest our major; it may retry INIT with it. */
		out->major = FUSE_OUR_MAJOR;
		out->minor = FUSE_OUR_MINOR;
		return fuse_reply(req, out, sizeof(*out), NULL, 0);
	}
	if (in->major < FUSE_OUR_MAJOR || in->minor < FUSE_MIN_MINOR) {
		log_error_rl("INIT: guest FUSE %u.%u unsupported (need %u.%u or later)", in->major,
			  in->minor, FUSE_OUR_MAJOR, FUSE_MIN_MINOR);
		return -EPROTO;
	}
	pthread_mutex_lock(&srv->lock);
	if (atomic_load(&srv->phase) == FUSE_PHASE_READY) {
		/* The guest rebooted (the device was restarted without a DESTROY): its old inodes
		 * and handles are gone with its old kernel, so start a new session. */
		log_info_rl("INIT on an initialised session: the guest restarted, dropping its state");
		fuse_server_reset_locked(srv);
	}
	r = negotiate(srv, in, inlen, &flags);
	if (r == 0) {
		srv->flags = flags;
		srv->minor = in->minor;
		atomic_store_explicit(&srv->phase, FUSE_PHASE_READY, memory_order_release);
	}
	pthread_mutex_unlock(&srv->lock);
	if (r < 0)
		return r;
	log_info_rl("INIT: agreed FUSE %u.%u, flags 0x%llx", FUSE_OUR_MAJOR,
		 in->minor < FUSE_OUR_MINOR ? in->minor : FUSE_OUR_MINOR, (unsigned long long)flags);
	fill_init_out(out, in, flags);
	return fuse_reply(req, out, sizeof(*out), NULL, 0);
}
