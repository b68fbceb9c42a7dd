/* Shared between the sandbox's files; not for other layers. */
#ifndef VFSD_SANDBOX_INTERNAL_H
#define VFSD_SANDBOX_INTERNAL_H

#include <sys/types.h>

#include "sandbox/sandbox.h"

/* namespace.c: the whole namespace mode (the caller of sb_enter has checked the options). */
int sb_enter_namespace(const struct sb_opts *o, const char *real_dir, struct sb_env *env);

/* idmap.c: run in a helper forked before unshare(CLONE_NEWUSER): write target's id maps, with
 * newuidmap/newgidmap for explicit maps, directly for the default one-id maps. 0 or -errno,
 * with a line on stderr naming what failed. */
int sb_idmap_write(pid_t target, const struct sb_opts *o, uid_t outer_uid, gid_t outer_gid);

/* caps.c: empty every set; for the namespace mode's waiting parent, which needs none. */
void sb_caps_drop_all(void);

#endif
