/*
 * Live migration of a FUSE session (docs/migration.md): the backend describes its inodes and
 * handles (fs_ops.mig_save / mig_load), this adds the session negotiated at INIT, and the
 * whole is the Rust virtiofsd's stream (fs/mig_stream.h) plus our FUSE block, which the Rust
 * daemon ignores.
 *
 * From a Rust source there is no FUSE block: the destination takes the session a current guest
 * would have agreed with this daemon (our newest minor, every flag we offer), narrowed by the
 * four options the Rust stream carries.
 */
#include "fuse/internal.h"
#include "fuse/ext.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/mig_stream.h"
#include "log.h"

#define FUSE_STATE_MAX (1u << 30)

static void set_why(char *why, size_t whylen, const char *what, int r)
{
	snprintf(why, whylen, "%s: %s", what, strerror(-r));
}

int fuse_server_state_save(struct fuse_server *srv, uint8_t **buf, size_t *len, char *why,
			   size_t whylen)
{
	struct mig_state s = {.version = MIG_V2, .next_inode = 2, .next_handle = 0};
	int r = 0;

	if (!srv->ops->mig_save) {
		snprintf(why, whylen, "this filesystem cannot migrate");
		return -ENOTSUP;
	}
	pthread_mutex_lock(&srv->lock);
	if (atomic_load(&srv->phase) == FUSE_PHASE_READY) {
		r = srv->ops->mig_save(srv->fs, &s, why, whylen);
		s.fuse =
		    (struct mig_fuse){.present = true, .minor = srv->minor, .flags = srv->flags};
	} else {
		/* Not mounted: no inodes at all, as the Rust daemon sends then. */
		snprintf(why, whylen, "no FUSE session (the guest has not mounted)");
	}
	pthread_mutex_unlock(&srv->lock);
	if (r == 0) {
		r = mig_state_encode(&s, FUSE_STATE_MAX, buf, len);
		if (r < 0)
			set_why(why, whylen, "encoding the state", r);
	}
	mig_state_free(&s);
	return r;
}

/* What the source negotiated that this daemon was not started to offer. */
static const char *opts_refused(const struct fuse_server *srv, const struct mig_state *s)
{
	if (s->opts.writeback && !srv->opts.writeback)
		return "the source caches writes (writeback), this daemon was started without "
		       "--writeback";
	if (s->opts.posix_acl && !srv->opts.posix_acl)
		return "the source has POSIX ACLs on, this daemon was started without --posix-acl";
	return NULL;
}

/* The session a Rust source's guest most likely has with us: all we offer, narrowed by the
 * options its stream carries. */
static uint64_t assumed_flags(const struct fuse_server *srv, const struct mig_state *s)
{
	uint64_t f = fuse_supported_flags(&srv->opts);

	if (!s->opts.writeback)
		f &= ~(uint64_t)FUSE_WRITEBACK_CACHE;
	if (!s->opts.posix_acl)
		f &= ~(uint64_t)(FUSE_POSIX_ACL | FUSE_DONT_MASK | FUSE_SETXATTR_EXT);
	if (!s->opts.announce_submounts)
		f &= ~(uint64_t)FUSE_SUBMOUNTS;
	if (!s->opts.sup_group_extension)
		f &= ~(uint64_t)FUSE_CREATE_SUPP_GROUP;
	return f;
}

/*
 * The source's session, kept to what this daemon offers: a flag it was not started to offer
 * (POSIX_LOCKS without --posix-lock, SECURITY_CTX without --security-label) would enable what
 * its user left off. The options a guest cannot do without were refused before (opts_refused).
 */
static uint64_t session_flags(const struct fuse_server *srv, uint64_t flags)
{
	uint64_t dropped = flags & ~fuse_supported_flags(&srv->opts);

	if (dropped)
		log_warn(
		    "migration: the source's FUSE session has flags 0x%llx this daemon does not "
		    "offer with its options (locks need --posix-lock or --flock, security "
		    "contexts --security-label): they are off here",
		    (unsigned long long)dropped);
	return flags & ~dropped;
}

static int load_locked(struct fuse_server *srv, const struct mig_state *s, char *why, size_t whylen)
{
	int r;

	if (s->ninodes == 0) {
		/* The source's guest had not mounted: back to waiting for INIT. */
		fuse_server_reset_locked(srv);
		snprintf(why, whylen, "no FUSE session (the source's guest had not mounted)");
		return 0;
	}
	r = srv->ops->mig_load(srv->fs, s, why, whylen);
	if (r < 0) {
		fuse_server_reset_locked(srv); /* the backend kept nothing: nor does the session */
		return r;
	}
	srv->minor = s->fuse.present ? s->fuse.minor : FUSE_OUR_MINOR;
	srv->flags = s->fuse.present ? session_flags(srv, s->fuse.flags) : assumed_flags(srv, s);
	atomic_store_explicit(&srv->phase, FUSE_PHASE_READY, memory_order_release);
	snprintf(why, whylen, "%zu inodes, %zu handles", s->ninodes, s->nhandles);
	log_info("migration: FUSE session resumed (7.%u, flags 0x%llx%s), %zu inodes, %zu handles",
		 srv->minor, (unsigned long long)srv->flags,
		 s->fuse.present ? "" : ", assumed: the source sent none", s->ninodes, s->nhandles);
	return 0;
}

int fuse_server_state_load(struct fuse_server *srv, const uint8_t *buf, size_t len, char *why,
			   size_t whylen)
{
	struct mig_state s;
	const char *refused;
	int r;

	if (!srv->ops->mig_load) {
		snprintf(why, whylen, "this filesystem cannot migrate");
		return -ENOTSUP;
	}
	r = mig_state_decode(buf, len, NULL, &s, why, whylen);
	if (r < 0)
		return r;
	refused = opts_refused(srv, &s);
	if (!refused && s.fuse.present &&
	    s.fuse.minor < FUSE_MIN_MINOR) { /* the guest's minor: above ours is fine (7.41) */
		snprintf(
		    why, whylen,
		    "the source's FUSE session has protocol 7.%u, this daemon needs 7.%u or newer",
		    s.fuse.minor, FUSE_MIN_MINOR);
		mig_state_free(&s);
		return -EINVAL;
	}
	if (refused) {
		snprintf(why, whylen, "%s", refused);
		mig_state_free(&s);
		return -EINVAL;
	}
	/* Lock waits of a session this one replaces end first (a fresh destination has none). */
	fuse_server_cancel(srv, NULL);
	pthread_mutex_lock(&srv->lock);
	r = load_locked(srv, &s, why, whylen);
	pthread_mutex_unlock(&srv->lock);
	mig_state_free(&s);
	return r;
}
