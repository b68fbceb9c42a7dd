/*
 * Consistency of a migration state, whoever sent it: what would make the destination adopt ids
 * that collide, walk out of the shared directory, loop over parents, or drop a parent's last
 * reference while its children still need it. A source is another host's daemon; what it sends
 * is checked like guest input. Not checked: where the inode of a FileHandle entry lies (a handle
 * names any inode of its file system); the passthrough opens such entries only when it was
 * started with --migration-mode=file-handles, and refuses the state otherwise (pt_mig_load.c).
 */
#include "fs/mig_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct id_ix {
	uint64_t id;
	size_t i;
};

static int cmp_id(const void *a, const void *b)
{
	const struct id_ix *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorted (id, index) pairs; the first duplicate id is reported in *dup. */
static struct id_ix *sort_ids(size_t n, uint64_t (*id_of)(const void *, size_t), const void *arr,
			      bool *has_dup, uint64_t *dup)
{
	struct id_ix *ix = malloc((n ? n : 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ix[i] = (struct id_ix){id_of(arr, i), i};
	qsort(ix, n, sizeof(*ix), cmp_id);
	*has_dup = false;
	for (size_t i = 1; i < n; i++)
		if (ix[i].id == ix[i - 1].id) {
			*has_dup = true;
			*dup = ix[i].id;
			break;
		}
	return ix;
}

static const struct id_ix *find_id(const struct id_ix *ix, size_t n, uint64_t id)
{
	struct id_ix key = {id, 0};

	return bsearch(&key, ix, n, sizeof(*ix), cmp_id);
}

static uint64_t inode_id(const void *arr, size_t i)
{
	return ((const struct mig_inode *)arr)[i].id;
}

static uint64_t handle_id(const void *arr, size_t i)
{
	return ((const struct mig_handle *)arr)[i].id;
}

static uint64_t mount_id(const void *arr, size_t i)
{
	return ((const struct mig_mount *)arr)[i].mnt_id;
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* One path component: non-empty, no '/', not "." or "..", at most MIG_NAME_MAX bytes. */
static bool component_ok(const char *s, size_t n)
{
	if (n == 0 || n > MIG_NAME_MAX || memchr(s, '/', n))
		return false;
	return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

/* A path relative to the shared directory: components joined by single '/', none of them "."
 * or ".."; or "." alone when dot_ok. */
static bool relpath_ok(const char *p, bool dot_ok)
{
	size_t len = strlen(p);

	if (len > MIG_PATH_MAX)
		return false;
	if (dot_ok && strcmp(p, ".") == 0)
		return true;
	if (len == 0)
		return false;
	for (const char *c = p;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (!component_ok(c, n))
			return false;
		if (!slash)
			return true;
		c = slash + 1;
	}
}

/* Each inode's location on its own: root rules, names, parents present. */
static int check_location(const struct mig_state *s, const struct id_ix *ix, size_t i,
			  uint64_t *children, char *why, size_t whylen)
{
	const struct mig_inode *in = &s->inodes[i];
	const struct id_ix *p;

	if (in->id == MIG_ROOT_ID && in->loc != MIG_LOC_ROOT)
		return fail(why, whylen, "inode 1 (the root) has a location other than RootNode");
	switch (in->loc) {
	case MIG_LOC_ROOT:
		if (in->id != MIG_ROOT_ID)
			return fail(why, whylen, "inode %" PRIu64 " claims to be the root", in->id);
		break;
	case MIG_LOC_PATH:
		if (!in->name || !component_ok(in->name, strlen(in->name)))
			return fail(why, whylen,
				    "inode %" PRIu64 ": name is not one path component (empty, "
				    "'/', '.', '..' or longer than 255 bytes)",
				    in->id);
		if (in->parent == in->id)
			return fail(why, whylen, "inode %" PRIu64 " is its own parent", in->id);
		p = find_id(ix, s->ninodes, in->parent);
		if (!p)
			return fail(why, whylen,
				    "inode %" PRIu64 ": parent %" PRIu64 " is not in the state",
				    in->id, in->parent);
		children[p->i]++;
		break;
	case MIG_LOC_FULL_PATH:
		if (!in->name || !relpath_ok(in->name, false))
			return fail(why, whylen,
				    "inode %" PRIu64 ": full path is not a relative "
				    "path inside the shared directory",
				    in->id);
		break;
	case MIG_LOC_FILE_HANDLE:
		if (!in->fh)
			return fail(why, whylen,
				    "inode %" PRIu64 ": a file handle location without a handle",
				    in->id);
		break;
	case MIG_LOC_INVALID:
		break;
	default:
		return fail(why, whylen, "inode %" PRIu64 ": unknown location", in->id);
	}
	return 0;
}

/*
 * Parent chains end at a node that is not a Path (the root, a full path, a handle): each node
 * has one parent, so walking a chain while marking it finds a cycle the first time it meets its
 * own mark; a chain that meets an older walk's mark is known to end.
 */
static int check_cycles(const struct mig_state *s, const struct id_ix *ix, char *why, size_t whylen)
{
	enum { NEW, WALKING, DONE };
	uint8_t *st = calloc(s->ninodes ? s->ninodes : 1, 1);
	int r = 0;

	if (!st)
		return -ENOMEM;
	for (size_t i = 0; i < s->ninodes && r == 0; i++) {
		size_t cur = i;

		while (st[cur] == NEW && s->inodes[cur].loc == MIG_LOC_PATH) {
			st[cur] = WALKING;
			cur = find_id(ix, s->ninodes, s->inodes[cur].parent)->i;
		}
		if (st[cur] == WALKING)
			r = fail(why, whylen, "inode %" PRIu64 ": its parents form a cycle",
				 s->inodes[cur].id);
		for (cur = i; st[cur] == WALKING;
		     cur = find_id(ix, s->ninodes, s->inodes[cur].parent)->i)
			st[cur] = DONE;
		st[cur] = DONE;
	}
	free(st);
	return r;
}

static int check_inodes(const struct mig_state *s, const struct id_ix *ix, char *why, size_t whylen)
{
	uint64_t *children = calloc(s->ninodes ? s->ninodes : 1, sizeof(*children));
	int r = 0;

	if (!children)
		return -ENOMEM;
	if (s->ninodes && !find_id(ix, s->ninodes, MIG_ROOT_ID))
		r = fail(why, whylen, "inodes but no root node (inode 1)");
	for (size_t i = 0; i < s->ninodes && r == 0; i++) {
		const struct mig_inode *in = &s->inodes[i];

		if (in->id == 0)
			r = fail(why, whylen, "inode id 0 (no inode has it)");
		else if (in->id >= s->next_inode)
			r = fail(why, whylen, "inode %" PRIu64 " not below next_inode %" PRIu64,
				 in->id, s->next_inode);
		else
			r = check_location(s, ix, i, children, why, whylen);
	}
	/* Every Path child holds one of its parent's references (the destination drops it once
	 * the child is open): fewer references than children would free the parent early. No
	 * reference at all (a Rust source drops an inode at 0) would leave one that neither the
	 * guest nor a child holds, adopted with its fd and never forgotten. */
	for (size_t i = 0; i < s->ninodes && r == 0; i++)
		if (s->inodes[i].refcount < children[i])
			r = fail(why, whylen,
				 "inode %" PRIu64 ": refcount %" PRIu64 " below its %" PRIu64
				 " children in the state",
				 s->inodes[i].id, s->inodes[i].refcount, children[i]);
		else if (s->inodes[i].refcount == 0 && s->inodes[i].id != MIG_ROOT_ID)
			r = fail(why, whylen,
				 "inode %" PRIu64 ": refcount 0 (neither the guest nor any inode "
				 "in the state holds it)",
				 s->inodes[i].id);
	free(children);
	return r ? r : check_cycles(s, ix, why, whylen);
}

static int check_handles(const struct mig_state *s, const struct id_ix *inodes, char *why,
			 size_t whylen)
{
	bool dup;
	uint64_t dup_id = 0;
	struct id_ix *ix = sort_ids(s->nhandles, handle_id, s->handles, &dup, &dup_id);
	int r = 0;

	if (!ix)
		return -ENOMEM;
	if (dup)
		r = fail(why, whylen, "handle %" PRIu64 " appears twice", dup_id);
	for (size_t i = 0; i < s->nhandles && r == 0; i++) {
		const struct mig_handle *h = &s->handles[i];

		if (h->id >= s->next_handle)
			r = fail(why, whylen, "handle %" PRIu64 " not below next_handle %" PRIu64,
				 h->id, s->next_handle);
		else if (!find_id(inodes, s->ninodes, h->inode))
			r = fail(why, whylen,
				 "handle %" PRIu64 ": inode %" PRIu64 " is not in the state", h->id,
				 h->inode);
		else if (h->flags & MIG_HANDLE_BAD_FLAGS)
			r = fail(why, whylen,
				 "handle %" PRIu64 ": open flags 0x%x would create "
				 "or truncate",
				 h->id, (unsigned)h->flags);
	}
	free(ix);
	return r;
}

static int check_mounts(const struct mig_state *s, char *why, size_t whylen)
{
	bool dup;
	uint64_t dup_id = 0;
	struct id_ix *ix;
	int r = 0;

	if (s->version == MIG_V1 && s->nmounts)
		return fail(why, whylen, "a V1 state carries no mount paths");
	ix = sort_ids(s->nmounts, mount_id, s->mounts, &dup, &dup_id);
	if (!ix)
		return -ENOMEM;
	if (dup)
		r = fail(why, whylen, "mount id %" PRIu64 " appears twice", dup_id);
	for (size_t i = 0; i < s->nmounts && r == 0; i++)
		if (!s->mounts[i].path || !relpath_ok(s->mounts[i].path, true))
			r = fail(why, whylen,
				 "mount id %" PRIu64 ": path is not \".\" or a "
				 "relative path inside the shared directory",
				 s->mounts[i].mnt_id);
	free(ix);
	return r;
}

int mig_state_check(const struct mig_state *s, char *why, size_t whylen)
{
	bool dup;
	uint64_t dup_id = 0;
	struct id_ix *ix;
	int r;

	if (s->version != MIG_V1 && s->version != MIG_V2)
		return fail(why, whylen, "unknown state version %u", (unsigned)s->version);
	ix = sort_ids(s->ninodes, inode_id, s->inodes, &dup, &dup_id);
	if (!ix)
		return -ENOMEM;
	if (dup)
		r = fail(why, whylen, "inode %" PRIu64 " appears twice", dup_id);
	else
		r = check_inodes(s, ix, why, whylen);
	if (r == 0)
		r = check_handles(s, ix, why, whylen);
	if (r == 0)
		r = check_mounts(s, why, whylen);
	free(ix);
	return r;
}
