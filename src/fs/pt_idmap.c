/*
 * --translate-uid/--translate-gid in the passthrough backend: guest ids become host ids in the
 * credentials we create with and in chown; host owners become guest ids in every attribute we
 * return. Without a map (NULL or empty) ids pass unchanged.
 */
#include <errno.h>

#include "fs/idmap.h"
#include "fs/pt_ext.h"

static int to_host(const struct idmap *m, uint32_t guest, uint32_t *host)
{
	if (!m) {
		*host = guest;
		return 0;
	}
	return idmap_guest_to_host(m, guest, host);
}

int pt_uid_to_host(const struct pt_fs *fs, uint32_t guest, uint32_t *host)
{
	return to_host(fs->opts.uid_map, guest, host);
}

int pt_gid_to_host(const struct pt_fs *fs, uint32_t guest, uint32_t *host)
{
	return to_host(fs->opts.gid_map, guest, host);
}

void pt_attr_to_guest(const struct pt_fs *fs, struct fuse_attr *a)
{
	if (fs->opts.uid_map)
		a->uid = idmap_host_to_guest(fs->opts.uid_map, a->uid);
	if (fs->opts.gid_map)
		a->gid = idmap_host_to_guest(fs->opts.gid_map, a->gid);
}
