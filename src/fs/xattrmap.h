/*
 * xattr name mapping (--xattrmap), the grammar of the Rust virtiofsd's doc/xattr-mapping.md:
 * rules `<sep>type<sep>scope<sep>key<sep>prepend<sep>`, the last of which may be the shorthand
 * `<sep>map<sep>key<sep>prepend<sep>`.
 * Pure string work: no I/O, no locking needed (a parsed map is read-only and may be shared).
 */
#ifndef VFSD_FS_XATTRMAP_H
#define VFSD_FS_XATTRMAP_H

#include <stddef.h>

struct xattrmap;

/*
 * Parse a map. Returns 0 and a new map in *out, or -EINVAL after logging one line that names the
 * rule and the reason (or -ENOMEM). A map must cover every name in both directions: some client
 * rule with an empty key and some server rule with an empty prepend (or a `map` rule).
 */
int xattrmap_parse(const char *spec, struct xattrmap **out);
void xattrmap_free(struct xattrmap *m);

/*
 * Map a name from the guest (getxattr, setxattr, removexattr, a security context) to the host
 * name, written NUL-terminated to buf. m may be NULL (no mapping: the name is copied).
 * Returns 0; -EPERM (a `bad` rule); -ENOTSUP (an `unsupported` rule); -ERANGE if the guest name is
 * empty or a name is longer than XATTR_NAME_MAX (what the kernel answers); -ENAMETOOLONG if the
 * result does not fit in size bytes (a caller bug: XATTR_NAME_MAX + 1 always suffices).
 */
int xattrmap_to_host(const struct xattrmap *m, const char *guest_name, char *buf, size_t size);

/*
 * Rewrite a host listxattr result (len bytes of NUL-terminated names) for the guest: names the
 * map hides are dropped, prefixes stripped. Returns the length of the new list. With outsize 0
 * only the length is computed (out may be NULL), as for a listxattr size probe; otherwise the
 * list is written to out, or -ERANGE if it does not fit. m may be NULL (names copied as they
 * are). Empty names, and names that map to an empty name, are dropped.
 */
int xattrmap_list_to_guest(const struct xattrmap *m, const char *host_list, size_t len, char *out,
			   size_t outsize);

/*
 * The host name under which the guest's security.capability is stored, or NULL if the map leaves
 * it as is (or refuses it, or m is NULL). When not NULL, the host kernel no longer clears file
 * capabilities on write, truncate and chown: the daemon must remove this name itself then
 * (CVE-2021-20263).
 */
const char *xattrmap_capability_name(const struct xattrmap *m);

#endif
