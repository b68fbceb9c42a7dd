/*
 * In-daemon UID/GID translation (--translate-uid / --translate-gid of the Rust virtiofsd 1.13):
 *   guest:<guest>:<host>:<count>         guest ids [guest, guest+count) -> host ids, 1:1
 *   host:<host>:<guest>:<count>          host ids -> guest ids, 1:1 (attributes we return)
 *   squash-guest:<guest>:<host>:<count>  the guest range -> the one host id
 *   squash-host:<host>:<guest>:<count>   the host range -> the one guest id
 *   forbid-guest:<guest>:<count>         requests with these guest ids fail with EPERM
 *   map:<guest>:<host>:<count>           guest and host, both directions
 * Each direction is independent; an id no entry covers passes through unchanged. Source ranges
 * of one direction must not overlap.
 *
 * One struct idmap per id kind (uids, gids). Built at start-up, then read-only: lookups need no
 * lock.
 */
#ifndef VFSD_FS_IDMAP_H
#define VFSD_FS_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct idmap_entry {
	uint32_t from; /* first source id */
	uint32_t to; /* first target id, or the squash target */
	uint64_t count; /* ids in the source range, at least 1 */
	uint8_t kind; /* enum idmap_kind in idmap.c */
	char spec[48]; /* canonical option value, for messages */
};

struct idmap {
	const char *what; /* option name for messages, e.g. "--translate-uid" */
	struct idmap_entry *g2h; /* sorted by from, disjoint */
	size_t n_g2h;
	struct idmap_entry *h2g; /* sorted by from, disjoint */
	size_t n_h2g;
};

/* An empty map (everything passes unchanged). what is kept, not copied. */
void idmap_init(struct idmap *m, const char *what);
void idmap_free(struct idmap *m);
bool idmap_is_empty(const struct idmap *m);

/*
 * Add one option value. Returns 0, or -EINVAL after logging one line naming the option (and, for
 * an overlap, the earlier option it collides with), or -ENOMEM. On error m is unchanged.
 */
int idmap_add(struct idmap *m, const char *spec);

/*
 * Translate a guest id (request credentials, chown, a new file's owner) to the host. Returns 0
 * and *host, or -EPERM if a forbid-guest entry covers it or the result would be (uint32_t)-1,
 * which setresuid() and chown() read as "leave unchanged" (that would keep the daemon's own id).
 */
int idmap_guest_to_host(const struct idmap *m, uint32_t guest, uint32_t *host);

/* Translate a host id (stat results) to what the guest sees. Never fails. */
uint32_t idmap_host_to_guest(const struct idmap *m, uint32_t host);

#endif
