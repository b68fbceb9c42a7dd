/*
 * The scratch tree of the passthrough fuzz target (fuzz_fuse_pt.c): a small shared directory
 * rebuilt before every input, canaries beside it, and the checks that run after the session.
 */
#ifndef VFSD_FUZZ_PT_H
#define VFSD_FUZZ_PT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

/* Guest names (FUSE names, symlink targets): the ones starting "vfz" mark what the guest made;
 * none of them may ever appear outside the share. */
extern const char *const pt_names[];
extern const unsigned pt_names_n;

/* Once per process: the layout (on a private tmpfs where the process may mount one), the
 * canaries, the baseline of what exists outside. Aborts when it cannot be made. */
void pt_scratch_init(void);
/* The share as the guest finds it at the start of every input (contents removed and made
 * again, the share's own mode, owner and xattrs reset). */
void pt_scratch_reset(void);
const char *pt_scratch_share(void);
/* After a session: aborts, saying what, if a canary or anything outside the share changed. */
void pt_scratch_check(void);

/* The session of one input (fuzz_fuse_pt.c): the server, the node ids and handles it
 * returned, the request being built. */
#define PT_MAX_IDS 64
#define PT_REQ_MAX (64 * 1024)

struct pt_ids {
	uint64_t v[PT_MAX_IDS];
	unsigned n, next;
};

struct fuse_server;

struct pt_sess {
	struct fuse_server *srv;
	struct pt_ids nodes, fhs;
	uint64_t unique;
	uint8_t req[PT_REQ_MAX];
	size_t len; /* bytes of req built so far */
};

/* One operation record (fuzz_pt_ops.c): decode it, build the request, serve it. */
void pt_one_op(struct pt_sess *s, struct fz *f);

/* Request building (fuzz_fuse_pt.c). */
uint64_t pt_pick(const struct pt_ids *t, struct fz *f, unsigned sel);
void pt_begin(struct pt_sess *s, uint32_t opcode, uint64_t nodeid, unsigned cred);
void pt_put(struct pt_sess *s, const void *p, size_t n);
#define PT_PUT(s, v) pt_put((s), &(v), sizeof(v))
void pt_put_name(struct pt_sess *s, struct fz *f, unsigned sel);
void pt_put_xattr_name(struct pt_sess *s, struct fz *f, unsigned sel);
size_t pt_put_xattr_value(struct pt_sess *s, struct fz *f, unsigned sel);
void pt_put_ext(struct pt_sess *s, struct fz *f, unsigned which);
/* Serve the request built, with room bytes for the reply (two pieces when split); learn the
 * node ids and handles of a successful reply. */
void pt_send(struct pt_sess *s, size_t room, bool split);

#endif
