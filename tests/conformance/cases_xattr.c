/*
 * Extended attributes (user.*, trusted.*, security.*: round trips, size queries, ERANGE,
 * ENODATA, XATTR_CREATE/REPLACE, permissions) and POSIX ACLs written as raw
 * system.posix_acl_access / system.posix_acl_default values.
 */
#include "posix.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/xattr.h>

#define U1 1000
#define U2 1001
#define G1 1000
#define G2 1001

/* Is name (NUL-terminated) in a listxattr buffer? */
static bool in_list(const char *list, ssize_t len, const char *name)
{
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1)
		if (strcmp(list + off, name) == 0)
			return true;
	return false;
}

static int xattr_round_trip(const char *path)
{
	char buf[64], list[1024];
	ssize_t n, ln;

	TRY(setxattr(path, "user.cf.a", "value1", 6, 0));
	TRY(n = getxattr(path, "user.cf.a", NULL, 0));
	CHECK(n == 6, "size query gave %ld, want 6", (long)n);
	TRY(n = getxattr(path, "user.cf.a", buf, sizeof(buf)));
	CHECK(n == 6 && memcmp(buf, "value1", 6) == 0, "value %.*s", (int)n, buf);
	EXPECT_ERR(getxattr(path, "user.cf.a", buf, 3), ERANGE);
	EXPECT_ERR(getxattr(path, "user.cf.missing", buf, sizeof(buf)), ENODATA);
	EXPECT_ERR(setxattr(path, "user.cf.a", "v2", 2, XATTR_CREATE), EEXIST);
	EXPECT_ERR(setxattr(path, "user.cf.b", "v2", 2, XATTR_REPLACE), ENODATA);
	TRY(setxattr(path, "user.cf.a", "v2", 2, XATTR_REPLACE));
	TRY(setxattr(path, "user.cf.b", "", 0, XATTR_CREATE));
	TRY(n = getxattr(path, "user.cf.b", buf, sizeof(buf)));
	CHECK(n == 0, "empty value has size %ld", (long)n);
	TRY(ln = listxattr(path, NULL, 0));
	CHECK(ln >= 20, "list size query %ld", (long)ln);
	TRY(ln = listxattr(path, list, sizeof(list)));
	CHECK(in_list(list, ln, "user.cf.a") && in_list(list, ln, "user.cf.b"),
	      "listxattr misses user.cf.a or user.cf.b");
	EXPECT_ERR(listxattr(path, list, 5), ERANGE);
	TRY(removexattr(path, "user.cf.a"));
	EXPECT_ERR(getxattr(path, "user.cf.a", buf, sizeof(buf)), ENODATA);
	EXPECT_ERR(removexattr(path, "user.cf.a"), ENODATA);
	TRY(ln = listxattr(path, list, sizeof(list)));
	CHECK(!in_list(list, ln, "user.cf.a"), "removed name still listed");
	return 0;
}

static int c_xattr_user(void)
{
	char *big = malloc(4000), *rd = malloc(4000);
	ssize_t n;

	CHECK(big && rd, "malloc");
	TRY(cf_write_file("f", "x", 1, 0644));
	if (xattr_round_trip("f") < 0)
		return -1;
	TRY(mkdir("d", 0755));
	if (xattr_round_trip("d") < 0)
		return -1;
	for (int i = 0; i < 4000; i++)
		big[i] = (char)(i * 31);
	TRY(setxattr("f", "user.cf.big", big, 4000, 0));
	TRY(n = getxattr("f", "user.cf.big", rd, 4000));
	CHECK(n == 4000 && memcmp(big, rd, 4000) == 0, "4000-byte value round trip");
	/* user.* is for regular files and dirs only */
	TRY(symlink("f", "l"));
	EXPECT_ERR(lsetxattr("l", "user.cf.a", "v", 1, 0), EPERM);
	/* through an fd */
	int fd;

	TRY(fd = open("f", O_RDONLY));
	TRY(fsetxattr(fd, "user.cf.fd", "fdv", 3, 0));
	TRY(n = fgetxattr(fd, "user.cf.fd", rd, 16));
	CHECK(n == 3 && memcmp(rd, "fdv", 3) == 0, "fgetxattr");
	close(fd);
	free(big);
	free(rd);
	return 0;
}

static int c_xattr_perm(void)
{
	char buf[16];
	ssize_t n;
	int e;

	TRY(cf_mkfile("f", 0644, 0, 0));
	TRY(setxattr("f", "user.cf.a", "v", 1, 0));
	AS_USER(U1, G1, (n = getxattr("f", "user.cf.a", buf, sizeof(buf)), e = errno));
	CHECK(n == 1, "getxattr with read permission: %s", cf_errname(e));
	AS_USER(U1, G1, (n = setxattr("f", "user.cf.b", "v", 1, 0), e = errno));
	CHECK(n < 0 && e == EACCES, "setxattr without write permission: %ld/%s", (long)n,
	      cf_errname(e));
	TRY(chmod("f", 0600));
	AS_USER(U1, G1, (n = getxattr("f", "user.cf.a", buf, sizeof(buf)), e = errno));
	CHECK(n < 0 && e == EACCES, "getxattr without read permission: %ld/%s", (long)n,
	      cf_errname(e));
	/* trusted.*: root only; hidden from others */
	TRY(setxattr("f", "trusted.cf", "t", 1, 0));
	TRY(n = getxattr("f", "trusted.cf", buf, sizeof(buf)));
	CHECK(n == 1 && buf[0] == 't', "trusted.cf value");
	TRY(chmod("f", 0666));
	AS_USER(U1, G1, (n = setxattr("f", "trusted.cf2", "t", 1, 0), e = errno));
	CHECK(n < 0 && e == EPERM, "unprivileged trusted.* set: %ld/%s", (long)n, cf_errname(e));
	AS_USER(U1, G1, (n = getxattr("f", "trusted.cf", buf, sizeof(buf)), e = errno));
	CHECK(n < 0 && e == ENODATA, "unprivileged trusted.* get: %ld/%s", (long)n, cf_errname(e));
	return 0;
}

static int c_xattr_security(void)
{
	char buf[16];
	ssize_t n;

	TRY(cf_write_file("f", "x", 1, 0644));
	TRY(setxattr("f", "security.cf", "label", 5, 0));
	TRY(n = getxattr("f", "security.cf", buf, sizeof(buf)));
	CHECK(n == 5 && memcmp(buf, "label", 5) == 0, "security.cf value");
	TRY(removexattr("f", "security.cf"));
	EXPECT_ERR(getxattr("f", "security.cf", buf, sizeof(buf)), ENODATA);
	return 0;
}

/* Left on the share for the harness: with --xattrmap it reads the host-side (mapped) name. */
static int c_xattr_map_marker(void)
{
	char p[4200], buf[32];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/cf-xattrmap-marker", cf.dir);
	TRY(cf_write_file(p, "m", 1, 0644));
	TRY(setxattr(p, "user.cf.mapped", "mapped-value", 12, 0));
	TRY(n = getxattr(p, "user.cf.mapped", buf, sizeof(buf)));
	CHECK(n == 12 && memcmp(buf, "mapped-value", 12) == 0, "marker value");
	return 0;
}

/* ---- POSIX ACLs, in the kernel's xattr format (version 2, sorted entries) ------------------ */

#define ACL_VERSION 2
#define T_USER_OBJ 0x01
#define T_USER 0x02
#define T_GROUP_OBJ 0x04
#define T_GROUP 0x08
#define T_MASK 0x10
#define T_OTHER 0x20
#define NO_ID 0xffffffffu

struct acl_ent {
	uint16_t tag, perm;
	uint32_t id;
};

struct acl_buf {
	uint32_t version;
	struct acl_ent e[8];
};

/* Builds the value; entries must be given in tag order. Returns its size. */
static size_t acl_make(struct acl_buf *b, const struct acl_ent *e, int n)
{
	b->version = ACL_VERSION; /* little-endian host: the on-wire format is le */
	for (int i = 0; i < n; i++)
		b->e[i] = e[i];
	return sizeof(uint32_t) + (size_t)n * sizeof(struct acl_ent);
}

static int c_acl_access(void)
{
	static const struct acl_ent ents[] = {
	    {T_USER_OBJ, 6, NO_ID}, {T_USER, 6, U2},	 {T_GROUP_OBJ, 4, NO_ID},
	    {T_MASK, 6, NO_ID},	    {T_OTHER, 0, NO_ID},
	};
	struct acl_buf b, rd;
	struct stat st;
	size_t len = acl_make(&b, ents, 5);
	ssize_t n;
	int fd, e;

	TRY(cf_mkfile("f", 0600, 0, 0));
	TRY(setxattr("f", "system.posix_acl_access", &b, len, 0));
	TRY(stat("f", &st));
	CHECK((st.st_mode & 0777) == 0660, "mode %o after the ACL, want 0660 (group = mask)",
	      st.st_mode & 0777);
	TRY(n = getxattr("f", "system.posix_acl_access", &rd, sizeof(rd)));
	CHECK((size_t)n == len && rd.e[1].tag == T_USER && rd.e[1].id == U2,
	      "ACL read back: %ld bytes", (long)n);
	AS_USER(U2, G2, (fd = open("f", O_RDWR), e = errno));
	CHECK(fd >= 0, "the ACL's named user cannot open O_RDWR: %s", cf_errname(e));
	close(fd);
	AS_USER(U1, G1, (fd = open("f", O_RDONLY), e = errno));
	CHECK(fd < 0 && e == EACCES, "another user opened the file: %d/%s", fd, cf_errname(e));
	/* chmod rewrites the mask: g-w takes write away from the named user */
	TRY(chmod("f", 0640));
	AS_USER(U2, G2, (fd = open("f", O_RDWR), e = errno));
	CHECK(fd < 0 && e == EACCES, "mask r-- still lets the named user write: %d/%s", fd,
	      cf_errname(e));
	TRY(n = getxattr("f", "system.posix_acl_access", &rd, sizeof(rd)));
	CHECK(n >= (ssize_t)len && rd.e[3].tag == T_MASK && rd.e[3].perm == 4,
	      "mask after chmod 0640: perm %d", rd.e[3].perm);
	/* a malformed ACL is refused */
	b.version = 1; /* Linux answers EOPNOTSUPP for an unknown version, EINVAL is POSIX-ish */
	EXPECT_ERR2(setxattr("f", "system.posix_acl_access", &b, len, 0), EOPNOTSUPP, EINVAL);
	return 0;
}

static int c_acl_default(void)
{
	static const struct acl_ent ents[] = {
	    {T_USER_OBJ, 7, NO_ID}, {T_USER, 7, U2},	 {T_GROUP_OBJ, 5, NO_ID},
	    {T_MASK, 7, NO_ID},	    {T_OTHER, 0, NO_ID},
	};
	struct acl_buf b;
	struct stat st;
	size_t len = acl_make(&b, ents, 5);
	ssize_t n;
	int fd, e;

	TRY(mkdir("d", 0755));
	TRY(setxattr("d", "system.posix_acl_default", &b, len, 0));
	umask(077); /* a default ACL replaces the umask */
	TRY(fd = open("d/f", O_WRONLY | O_CREAT, 0664));
	close(fd);
	TRY(stat("d/f", &st));
	CHECK((st.st_mode & 0777) == 0660, "mode %o, want 0660 (default ACL, umask ignored)",
	      st.st_mode & 0777);
	TRY(n = getxattr("d/f", "system.posix_acl_access", NULL, 0));
	CHECK(n == (ssize_t)len, "inherited access ACL has %ld bytes", (long)n);
	AS_USER(U2, G2, (fd = open("d/f", O_RDWR), e = errno));
	CHECK(fd >= 0, "the default ACL's named user cannot open the new file: %s", cf_errname(e));
	close(fd);
	TRY(mkdir("d/sub", 0777));
	TRY(n = getxattr("d/sub", "system.posix_acl_default", NULL, 0));
	CHECK(n == (ssize_t)len, "subdir did not inherit the default ACL (%ld)", (long)n);
	return 0;
}

const struct cf_case cf_cases_xattr[] = {
    {"xattr_user", c_xattr_user, CF_RW},
    {"xattr_perm_trusted", c_xattr_perm, CF_RW},
    {"xattr_security", c_xattr_security, CF_RW},
    {"xattr_map_marker", c_xattr_map_marker, CF_RW},
    {"acl_access", c_acl_access, CF_RW},
    {"acl_default", c_acl_default, CF_RW},
    {NULL, NULL, 0},
};
