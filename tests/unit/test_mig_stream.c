/*
 * The migration state stream against byte strings written by hand from the Rust virtiofsd
 * 1.13's structures (src/passthrough/device_state/serialized.rs there) and the postcard wire
 * format: enum variant = varint(u32) in declaration order, struct = its fields in order,
 * Vec/HashMap = varint count then elements, String/Vec<u8> = varint length then bytes,
 * Option = 0x00 | 0x01 value, bool = one byte, u64 = varint, i32 = zigzag varint.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mig_stream.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif
#ifdef HEAP_ASAN
/* The sanitizer runtime's count (gcc ships no header for it). */
size_t __sanitizer_get_current_allocated_bytes(void);
/* The bytes malloc() has handed out and not taken back. */
static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
#include <malloc.h>
static size_t heap_in_use(void)
{
	struct mallinfo2 m = mallinfo2();

	return m.uordblks + m.hblkhd;
}
#endif

/* V2 with the root alone: what an idle mounted share sends. */
static const uint8_t root_only_v2[] = {
	0x01,			/* PassthroughFs::V2 */
	0x01,			/* v1.inodes: 1 element */
	0x01, 0x02, 0x00, 0x00, /* id 1, refcount 2, InodeLocation::RootNode, file_handle None */
	0x02,			/* next_inode 2 */
	0x00,			/* handles: none */
	0x00,			/* next_handle 0 */
	0x00, 0x00, 0x00, 0x00, /* writeback, announce_submounts, posix_acl, sup_group_ext */
	0x00,			/* mount_paths: empty map */
};

/*
 * V2 with a tree: root <- "d" (inode 2) <- "f" (inode 3, with a verify-handles file handle),
 * a file-handles inode 300, two open handles, a mount path.
 */
static const uint8_t tree_v2[] = {
	0x01, /* V2 */
	0x04, /* 4 inodes */
	/* root: id 1, refcount 3 (the Rust root's 2 + one for child "d"), RootNode, None */
	0x01, 0x03, 0x00, 0x00,
	/* id 2, refcount 2 (one lookup + child "f"), Path { parent 1, filename "d" }, None */
	0x02, 0x02, 0x01, 0x01, 0x01, 'd', 0x00,
	/* id 3, refcount 1, Path { parent 2, "f" }, Some(SerializableFileHandle {
	 * mnt_id 29 (0x1d), handle_type 1 (zigzag 2), handle: 8 bytes }) */
	0x03, 0x01, 0x01, 0x02, 0x01, 'f', 0x01, 0x1d, 0x02, 0x08, 0x11, 0x22, 0x33, 0x44,
	0x55, 0x66, 0x77, 0x88,
	/* id 300 (0xac 0x02), refcount 1, FileHandle { handle: { mnt_id 29, handle_type 0x81
	 * (zigzag 0x102 = 2 * 128 + 2: 0x82 0x02), 4 bytes } }, None */
	0xac, 0x02, 0x01, 0x04, 0x1d, 0x82, 0x02, 0x04, 0xde, 0xad, 0xbe, 0xef, 0x00,
	/* next_inode 301 = 2 * 128 + 45: 0xad 0x02 */
	0xad, 0x02,
	0x02, /* 2 handles */
	/* id 0, inode 3, HandleSource::OpenInode { flags O_RDWR|O_APPEND = 0x402, zigzag 0x804
	 * = 16 * 128 + 4: 0x84 0x10 } */
	0x00, 0x03, 0x00, 0x84, 0x10,
	/* id 5, inode 300, OpenInode { O_RDONLY|O_DIRECTORY = 0x10000, zigzag 0x20000 = 2^17:
	 * 0x80 0x80 0x08 } */
	0x05, 0xac, 0x02, 0x00, 0x80, 0x80, 0x08,
	0x06,			/* next_handle 6 */
	0x01, 0x00, 0x01, 0x01, /* writeback, no submounts, posix_acl, sup_group_extension */
	0x01,			/* mount_paths: 1 entry */
	0x1d, 0x01, '.',	/* 29 -> "." */
};

static char why[256];

static int decode(const uint8_t *b, size_t n, struct mig_state *s)
{
	why[0] = 0;
	return mig_state_decode(b, n, NULL, s, why, sizeof(why));
}

static void reencode_equal(const struct mig_state *s, const uint8_t *b, size_t n)
{
	uint8_t *out;
	size_t len;

	assert_int_equal(mig_state_encode(s, 1 << 20, &out, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, b, n);
	free(out);
}

static void test_root_only(void **state)
{
	struct mig_state s;
	uint8_t v1[sizeof(root_only_v2) - 1];

	assert_int_equal(decode(root_only_v2, sizeof(root_only_v2), &s), 0);
	assert_int_equal(s.version, MIG_V2);
	assert_int_equal(s.ninodes, 1);
	assert_int_equal(s.inodes[0].id, 1);
	assert_int_equal(s.inodes[0].refcount, 2);
	assert_int_equal(s.inodes[0].loc, MIG_LOC_ROOT);
	assert_null(s.inodes[0].check_fh);
	assert_null(s.inodes[0].fh);
	assert_int_equal(s.next_inode, 2);
	assert_int_equal(s.nhandles, 0);
	assert_int_equal(s.nmounts, 0);
	reencode_equal(&s, root_only_v2, sizeof(root_only_v2));
	mig_state_free(&s);

	/* V1: variant 0 and no mount_paths map at the end */
	memcpy(v1, root_only_v2, sizeof(v1));
	v1[0] = 0x00;
	assert_int_equal(decode(v1, sizeof(v1), &s), 0);
	assert_int_equal(s.version, MIG_V1);
	assert_int_equal(s.ninodes, 1);
	reencode_equal(&s, v1, sizeof(v1));
	mig_state_free(&s);
}

static void test_tree(void **state)
{
	struct mig_state s;
	const struct mig_inode *in;

	assert_int_equal(decode(tree_v2, sizeof(tree_v2), &s), 0);
	assert_int_equal(s.ninodes, 4);
	in = &s.inodes[1];
	assert_int_equal(in->id, 2);
	assert_int_equal(in->loc, MIG_LOC_PATH);
	assert_int_equal(in->parent, 1);
	assert_string_equal(in->name, "d");
	in = &s.inodes[2];
	assert_int_equal(in->parent, 2);
	assert_string_equal(in->name, "f");
	assert_non_null(in->check_fh);
	assert_int_equal(in->check_fh->mnt_id, 29);
	assert_int_equal(in->check_fh->type, 1);
	assert_int_equal(in->check_fh->len, 8);
	assert_memory_equal(in->check_fh->bytes, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	in = &s.inodes[3];
	assert_int_equal(in->id, 300);
	assert_int_equal(in->loc, MIG_LOC_FILE_HANDLE);
	assert_int_equal(in->fh->type, 0x81);
	assert_int_equal(in->fh->len, 4);
	assert_memory_equal(in->fh->bytes, "\xde\xad\xbe\xef", 4);
	assert_int_equal(s.next_inode, 301);
	assert_int_equal(s.nhandles, 2);
	assert_int_equal(s.handles[0].id, 0);
	assert_int_equal(s.handles[0].inode, 3);
	assert_int_equal(s.handles[0].flags, 0x402);
	assert_int_equal(s.handles[1].id, 5);
	assert_int_equal(s.handles[1].inode, 300);
	assert_int_equal(s.handles[1].flags, 0x10000);
	assert_int_equal(s.next_handle, 6);
	assert_true(s.opts.writeback);
	assert_false(s.opts.announce_submounts);
	assert_true(s.opts.posix_acl);
	assert_true(s.opts.sup_group_extension);
	assert_int_equal(s.nmounts, 1);
	assert_int_equal(s.mounts[0].mnt_id, 29);
	assert_string_equal(s.mounts[0].path, ".");
	reencode_equal(&s, tree_v2, sizeof(tree_v2));
	mig_state_free(&s);
}

static void expect_refusal(const uint8_t *b, size_t n, const char *reason)
{
	struct mig_state s = { .ninodes = 777 };

	assert_int_equal(decode(b, n, &s), -EBADMSG);
	assert_int_equal(s.ninodes, 777); /* untouched */
	if (!strstr(why, reason))
		fail_msg("reason \"%s\" does not contain \"%s\"", why, reason);
}

static void test_truncated_everywhere(void **state)
{
	for (size_t n = 0; n < sizeof(tree_v2); n++)
		expect_refusal(tree_v2, n, n ? "truncated" : "empty state");
	expect_refusal(root_only_v2, sizeof(root_only_v2) - 1, "offset 13 of 13: truncated");
}

/* Change one byte of a valid stream, expect a reason. */
static void mutate(const uint8_t *orig, size_t n, size_t at, uint8_t v, const char *reason)
{
	uint8_t b[256];

	assert_true(n <= sizeof(b) && at < n);
	memcpy(b, orig, n);
	b[at] = v;
	expect_refusal(b, n, reason);
}

static void test_wire_refusals(void **state)
{
	const size_t n = sizeof(root_only_v2);
	uint8_t b[64];

	mutate(root_only_v2, n, 0, 0x02, "offset 0 of 14: unknown state version");
	mutate(root_only_v2, n, 4, 0x05, "offset 4 of 14: unknown inode location variant");
	mutate(root_only_v2, n, 5, 0x02, "option tag is neither");
	mutate(root_only_v2, n, 9, 0x02, "bool is neither");
	/* inodes count 0x70 = 112 elements of >= 4 bytes in 12 bytes */
	mutate(root_only_v2, n, 1, 0x70, "element count larger than the remaining bytes");
	/* trailing byte */
	memcpy(b, root_only_v2, n);
	b[n] = 0x00;
	expect_refusal(b, n + 1, "offset 14 of 15: trailing bytes");
	/* handle source variant 1 (only OpenInode = 0 exists): byte 49 of tree_v2 (2 header
	 * bytes, inodes of 4 + 7 + 18 + 13, next_inode 2, count 1, handle id and inode 2) */
	mutate(tree_v2, sizeof(tree_v2), 49, 0x01, "unknown handle source variant");
	/* id as an 11-byte varint */
	{
		const uint8_t longid[] = { 0x01, 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80,
					   0x80, 0x80, 0x80, 0x80, 0x00, 0x02, 0x00, 0x00,
					   0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
		expect_refusal(longid, sizeof(longid), "varint longer than its type allows");
	}
	/* a file handle of 129 bytes (MAX_HANDLE_SZ is 128): length 0x81 0x01 */
	{
		uint8_t big[200] = { 0x01, 0x02, 0x01, 0x02, 0x00, 0x00,
				     0x02, 0x01, 0x04, 0x00, 0x00, 0x81, 0x01 };
		expect_refusal(big, 13 + 129 + 8, "offset 11 of 150: length above the limit");
	}
}

/* A state that encodes fine and that the decoder must refuse for its meaning. */
static struct mig_inode nodes[8];
static struct mig_handle handles[4];
static struct mig_mount mounts[2];

static struct mig_state base(void)
{
	memset(nodes, 0, sizeof(nodes));
	memset(handles, 0, sizeof(handles));
	nodes[0] = (struct mig_inode){ .id = 1, .refcount = 3, .loc = MIG_LOC_ROOT };
	nodes[1] = (struct mig_inode){ .id = 2, .refcount = 2, .loc = MIG_LOC_PATH, .parent = 1,
				       .name = "dir" };
	nodes[2] = (struct mig_inode){ .id = 3, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 2,
				       .name = "file" };
	handles[0] = (struct mig_handle){ .id = 0, .inode = 3, .flags = 2 };
	mounts[0] = (struct mig_mount){ .mnt_id = 7, .path = "." };
	mounts[1] = (struct mig_mount){ .mnt_id = 8, .path = "sub/mnt" };
	return (struct mig_state){ .version = MIG_V2, .inodes = nodes, .ninodes = 3,
				   .next_inode = 4, .handles = handles, .nhandles = 1,
				   .next_handle = 1, .mounts = mounts, .nmounts = 2 };
}

static void refuse_state(const struct mig_state *s, const char *reason)
{
	uint8_t *b;
	size_t n;

	assert_int_equal(mig_state_encode(s, 1 << 20, &b, &n), 0);
	expect_refusal(b, n, reason);
	free(b);
}

static void test_base_is_valid(void **state)
{
	struct mig_state s = base(), d;
	uint8_t *b;
	size_t n;

	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
	assert_int_equal(mig_state_encode(&s, 1 << 20, &b, &n), 0);
	assert_int_equal(decode(b, n, &d), 0);
	assert_int_equal(d.ninodes, 3);
	assert_string_equal(d.inodes[2].name, "file");
	assert_string_equal(d.mounts[1].path, "sub/mnt");
	free(b);
	mig_state_free(&d);
	/* encoder bound */
	assert_int_equal(mig_state_encode(&s, 10, &b, &n), -EMSGSIZE);
	/* an id 0 handle, a full path, an invalid inode are all fine */
	s = base();
	nodes[3] = (struct mig_inode){ .id = 3000000000ull, .refcount = 1,
				       .loc = MIG_LOC_FULL_PATH, .name = "a/b/c" };
	nodes[4] = (struct mig_inode){ .id = 5, .refcount = 1, .loc = MIG_LOC_INVALID };
	s.ninodes = 5;
	s.next_inode = 3000000001ull;
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
	/* one a parent holds: its guest count may be 0 */
	nodes[4] = (struct mig_inode){ .id = 5, .refcount = 1, .loc = MIG_LOC_FULL_PATH,
				       .name = "x" };
	nodes[5] = (struct mig_inode){ .id = 6, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 5,
				       .name = "y" };
	s.ninodes = 6;
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
}

static void test_names(void **state)
{
	const char *bad[] = { "a/b", "..", ".", "", "/etc" };
	struct mig_state s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = base();
		nodes[2].name = (char *)bad[i];
		refuse_state(&s, "inode 3: name is not one path component");
	}
	s = base();
	nodes[2].name = "\xff";
	{
		uint8_t *b;
		size_t n;

		assert_int_equal(mig_state_encode(&s, 1 << 20, &b, &n), -EINVAL);
	}
	/* a NUL inside a name, by hand: Path { parent 1, "a\0b" } */
	{
		const uint8_t nul[] = { 0x01, 0x02, 0x01, 0x03, 0x00, 0x00, 0x02, 0x01,
					0x01, 0x01, 0x03, 'a', 0x00, 'b', 0x00, 0x03,
					0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
		expect_refusal(nul, sizeof(nul), "name contains a NUL byte");
	}
	const char *badpath[] = { "../x", "/abs", "a//b", "a/./b", "a/", "." };
	for (size_t i = 0; i < sizeof(badpath) / sizeof(badpath[0]); i++) {
		s = base();
		nodes[2].loc = MIG_LOC_FULL_PATH;
		nodes[2].name = (char *)badpath[i];
		nodes[1].refcount = 1;
		refuse_state(&s, "inode 3: full path is not a relative path");
		s = base();
		if (strcmp(badpath[i], ".") == 0)
			continue; /* "." is the shared directory itself: a valid mount path */
		mounts[1].path = (char *)badpath[i];
		refuse_state(&s, "mount id 8: path is not");
	}
}

static void test_ids(void **state)
{
	struct mig_state s = base();

	nodes[2].id = 2;
	refuse_state(&s, "inode 2 appears twice");
	s = base();
	nodes[2].id = 0;
	refuse_state(&s, "inode id 0");
	s = base();
	nodes[2].id = 4;
	handles[0].inode = 4;
	refuse_state(&s, "inode 4 not below next_inode 4");
	s = base();
	s.inodes = nodes + 1;
	s.ninodes = 2;
	refuse_state(&s, "inodes but no root node");
	s = base();
	nodes[0].loc = MIG_LOC_INVALID;
	refuse_state(&s, "inode 1 (the root) has a location other than RootNode");
	s = base();
	nodes[2].loc = MIG_LOC_ROOT;
	refuse_state(&s, "inode 3 claims to be the root");
	/* no inodes at all, no handles: a share never mounted */
	s = base();
	s.ninodes = 0;
	s.nhandles = 0;
	assert_int_equal(mig_state_check(&s, why, sizeof(why)), 0);
}

static void test_parents(void **state)
{
	struct mig_state s = base();

	nodes[2].parent = 9;
	refuse_state(&s, "inode 3: parent 9 is not in the state");
	s = base();
	nodes[2].parent = 3;
	refuse_state(&s, "inode 3 is its own parent");
	/* 2 -> 3 -> 2, hanging off nothing */
	s = base();
	nodes[1].parent = 3;
	nodes[2].refcount = 1;
	nodes[0].refcount = 2;
	refuse_state(&s, "its parents form a cycle");
	/* a longer cycle reached from a chain that ends well: 4 -> 5 -> 6 -> 4, 7 -> 4 */
	s = base();
	nodes[3] = (struct mig_inode){ .id = 4, .refcount = 2, .loc = MIG_LOC_PATH, .parent = 5,
				       .name = "x" };
	nodes[4] = (struct mig_inode){ .id = 5, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 6,
				       .name = "y" };
	nodes[5] = (struct mig_inode){ .id = 6, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 4,
				       .name = "z" };
	nodes[6] = (struct mig_inode){ .id = 7, .refcount = 1, .loc = MIG_LOC_PATH, .parent = 4,
				       .name = "w" };
	s.ninodes = 7;
	s.next_inode = 8;
	refuse_state(&s, "its parents form a cycle");
	/* refcount below the children that hold it */
	s = base();
	nodes[1].refcount = 0;
	refuse_state(&s, "inode 2: refcount 0 below its 1 children");
	s = base();
	nodes[0].refcount = 0;
	refuse_state(&s, "inode 1: refcount 0 below its 1 children");
	/* no reference at all: a leaf that neither the guest nor a child holds */
	s = base();
	nodes[2].refcount = 0;
	refuse_state(&s, "inode 3: refcount 0 (neither the guest nor any inode in the state");
	s = base();
	nodes[3] = (struct mig_inode){ .id = 4, .refcount = 0, .loc = MIG_LOC_INVALID };
	s.ninodes = 4;
	s.next_inode = 5;
	refuse_state(&s, "inode 4: refcount 0");
}

static void test_handles(void **state)
{
	struct mig_state s = base();

	handles[1] = handles[0];
	s.nhandles = 2;
	s.next_handle = 5;
	refuse_state(&s, "handle 0 appears twice");
	s = base();
	handles[0].id = 1;
	refuse_state(&s, "handle 1 not below next_handle 1");
	s = base();
	handles[0].inode = 42;
	refuse_state(&s, "handle 0: inode 42 is not in the state");
	s = base();
	handles[0].flags = 01002; /* O_RDWR | O_TRUNC */
	refuse_state(&s, "handle 0: open flags 0x202 would create or truncate");
	s = base();
	mounts[1].mnt_id = 7;
	refuse_state(&s, "mount id 7 appears twice");
}

static void test_limits(void **state)
{
	struct mig_limits lim = { .max_inodes = 2, .max_handles = 2, .max_mounts = 2 };
	struct mig_state s;

	why[0] = 0;
	assert_int_equal(mig_state_decode(tree_v2, sizeof(tree_v2), &lim, &s, why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "offset 1 of "));
	assert_non_null(strstr(why, "element count above the limit"));
	lim.max_inodes = 4;
	assert_int_equal(mig_state_decode(tree_v2, sizeof(tree_v2), &lim, &s, why, sizeof(why)),
			 0);
	mig_state_free(&s);
}

/*
 * What a decoded state costs is bounded by what its bytes carry: the source chooses the counts,
 * and a stream of the smallest inodes (an Invalid one is 4 to 6 bytes, a file handle of no
 * bytes 7 to 9) must not make the destination allocate hundreds of bytes each (it did: every
 * inode held two 128-byte handle buffers, 336 bytes, so 64 MiB of stream asked for 5.6 GB).
 */
static void test_decoded_size(void **state)
{
	const size_t n = 1u << 17;
	struct mig_state s = {.version = MIG_V2, .next_inode = 2 * n + 2};
	struct mig_mount mnt = {.mnt_id = 9, .path = (char *)"."};
	size_t len, before, cost;
	uint8_t *b;

	(void)state;
	s.inodes = calloc(2 * n + 1, sizeof(*s.inodes));
	assert_non_null(s.inodes);
	s.inodes[0] = (struct mig_inode){.id = 1, .refcount = 2, .loc = MIG_LOC_ROOT};
	for (size_t i = 1; i <= 2 * n; i++) {
		s.inodes[i] = (struct mig_inode){.id = i + 1, .refcount = 1, .loc = MIG_LOC_INVALID};
		if (i > n) {
			s.inodes[i].loc = MIG_LOC_FILE_HANDLE;
			s.inodes[i].fh = mig_fh_new(9, 0, "", 0);
			assert_non_null(s.inodes[i].fh);
		}
	}
	s.ninodes = 2 * n + 1;
	s.mounts = &mnt;
	s.nmounts = 1;
	assert_int_equal(mig_state_encode(&s, 1u << 26, &b, &len), 0);
	s.mounts = NULL;
	s.nmounts = 0;
	mig_state_free(&s);

	before = heap_in_use();
	assert_int_equal(decode(b, len, &s), 0);
	cost = heap_in_use() - before;
	assert_int_equal(s.ninodes, 2 * n + 1);
	print_message("# %zu inodes in %zu bytes of stream: %zu bytes decoded (%.1f per byte)\n",
		      s.ninodes, len, cost, (double)cost / (double)len);
	assert_true(cost <= 16 * len);
	mig_state_free(&s);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_only),     cmocka_unit_test(test_tree),
		cmocka_unit_test(test_truncated_everywhere), cmocka_unit_test(test_wire_refusals),
		cmocka_unit_test(test_base_is_valid), cmocka_unit_test(test_names),
		cmocka_unit_test(test_ids),	      cmocka_unit_test(test_parents),
		cmocka_unit_test(test_handles),	      cmocka_unit_test(test_limits),
		cmocka_unit_test(test_decoded_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
