/* xattr name mapping: the documented examples, the grammar's corners, every parse error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/limits.h>
#include <cmocka.h>

#include "stderr_capture.h"
#include "fs/xattrmap.h"

static char errbuf[4096];

/* Parse with stderr captured into errbuf, to check what the user is told. */
static int parse(const char *spec, struct xattrmap **m)
{
	int saved;
	FILE *f = stderr_capture_begin(&saved);
	int r = xattrmap_parse(spec, m);

	stderr_capture_end(f, saved, errbuf, sizeof(errbuf));
	return r;
}

static struct xattrmap *must_parse(const char *spec)
{
	struct xattrmap *m = NULL;
	int r = parse(spec, &m);
	if (r != 0)
		fail_msg("parse of '%s' failed (%d): %s", spec, r, errbuf);
	assert_non_null(m);
	assert_string_equal(errbuf, "");
	return m;
}

static void must_fail(const char *spec, const char *msg_part)
{
	struct xattrmap *m = (struct xattrmap *)(uintptr_t)0x1;
	assert_int_equal(parse(spec, &m), -EINVAL);
	assert_ptr_equal(m, (struct xattrmap *)(uintptr_t)0x1); /* untouched on failure */
	if (!strstr(errbuf, msg_part))
		fail_msg("error for '%s' lacks '%s': %s", spec, msg_part, errbuf);
	assert_non_null(strchr(errbuf, '\n'));
	assert_ptr_equal(strchr(errbuf, '\n'), errbuf + strlen(errbuf) - 1); /* one line */
}

/* Host name for a guest name, or "EPERM" / "ENOTSUP" / "ERANGE". */
static const char *host(const struct xattrmap *m, const char *name)
{
	static char buf[XATTR_NAME_MAX + 1];
	int r = xattrmap_to_host(m, name, buf, sizeof(buf));
	switch (r) {
	case 0: return buf;
	case -EPERM: return "EPERM";
	case -ENOTSUP: return "ENOTSUP";
	case -ERANGE: return "ERANGE";
	}
	return "?";
}

/* Host list given as "a|b|c" (each name NUL-terminated), guest view returned the same way. */
static const char *guest_list(const struct xattrmap *m, const char *bars)
{
	static char out[1024];
	char in[1024];
	size_t len = strlen(bars);
	int r;

	assert_true(len < sizeof(in));
	memcpy(in, bars, len);
	for (size_t i = 0; i < len; i++)
		in[i] = in[i] == '|' ? '\0' : in[i];
	int need = xattrmap_list_to_guest(m, in, len, NULL, 0);
	assert_true(need >= 0);
	memset(out, 'X', sizeof(out));
	r = xattrmap_list_to_guest(m, in, len, out, sizeof(out) - 1);
	assert_int_equal(r, need);
	assert_int_equal(out[r], 'X'); /* nothing written past the length */
	for (int i = 0; i < r; i++)
		out[i] = out[i] == '\0' ? '|' : out[i];
	out[r] = '\0';
	return out;
}

/* Example 1 of the documentation, long and short form. */
static void check_prefix_all(const struct xattrmap *m)
{
	assert_string_equal(host(m, "trusted.overlay.opaque"),
			    "user.virtiofs.trusted.overlay.opaque");
	assert_string_equal(host(m, "user.foo"), "user.virtiofs.user.foo");
	assert_string_equal(host(m, "security.selinux"), "user.virtiofs.security.selinux");
	/* Already prefixed guest names nest: the guest cannot reach the host's own names. */
	assert_string_equal(host(m, "user.virtiofs.x"), "user.virtiofs.user.virtiofs.x");
	assert_string_equal(guest_list(m, "user.virtiofs.a|security.selinux|"
					 "user.virtiofs.trusted.b|user.host|"),
			    "a|trusted.b|");
	assert_string_equal(xattrmap_capability_name(m), "user.virtiofs.security.capability");
}

static void test_doc_example1(void **state)
{
	struct xattrmap *m = must_parse(":prefix:all::user.virtiofs.::bad:all:::");
	check_prefix_all(m);
	xattrmap_free(m);
	m = must_parse(":map::user.virtiofs.:");
	check_prefix_all(m);
	xattrmap_free(m);
}

/* Example 2 of the documentation, long and short form. */
static void check_prefix_trusted(const struct xattrmap *m)
{
	assert_string_equal(host(m, "trusted.overlay.opaque"),
			    "user.virtiofs.trusted.overlay.opaque");
	assert_string_equal(host(m, "user.virtiofs.trusted.x"), "EPERM");
	assert_string_equal(host(m, "user.virtiofs."), "EPERM");
	assert_string_equal(host(m, "user.foo"), "user.foo");
	assert_string_equal(host(m, "security.selinux"), "security.selinux");
	assert_string_equal(guest_list(m, "user.virtiofs.trusted.a|trusted.hostonly|user.c|"
					 "security.d|"),
			    "trusted.a|user.c|security.d|");
	assert_null(xattrmap_capability_name(m));
}

static void test_doc_example2(void **state)
{
	struct xattrmap *m = must_parse("/prefix/all/trusted./user.virtiofs./\n"
					"            /bad/server//trusted./\n"
					"            /bad/client/user.virtiofs.//\n"
					"            /ok/all///");
	check_prefix_trusted(m);
	xattrmap_free(m);
	m = must_parse("/map/trusted./user.virtiofs./");
	check_prefix_trusted(m);
	xattrmap_free(m);
}

/* Example 3: hide security. both ways. */
static void test_doc_example3(void **state)
{
	struct xattrmap *m = must_parse("/bad/all/security./security./\n            /ok/all///");
	assert_string_equal(host(m, "security.selinux"), "EPERM");
	assert_string_equal(host(m, "security.capability"), "EPERM");
	assert_string_equal(host(m, "user.a"), "user.a");
	assert_string_equal(guest_list(m, "security.selinux|user.a|trusted.b|"),
			    "user.a|trusted.b|");
	assert_null(xattrmap_capability_name(m));
	xattrmap_free(m);
}

/* The rule table of the documentation, each rule completed into a full map. */
static void test_doc_rule_table(void **state)
{
	struct xattrmap *m = must_parse(":prefix:client:trusted.:user.virtiofs.: :bad:all:::");
	assert_string_equal(host(m, "trusted.a"), "user.virtiofs.trusted.a");
	assert_string_equal(host(m, "user.a"), "EPERM");
	/* client scope only: the host list is not stripped, and the catch-all hides it all */
	assert_string_equal(guest_list(m, "user.virtiofs.trusted.a|user.a|"), "");
	xattrmap_free(m);

	m = must_parse(":prefix:server::user.virtiofs.: :ok:all:::");
	assert_string_equal(host(m, "trusted.a"), "trusted.a"); /* server scope: no prepend */
	assert_string_equal(guest_list(m, "user.virtiofs.x|user.y|"), "x|user.y|");
	xattrmap_free(m);

	m = must_parse(":prefix:all:trusted.:user.virtiofs.: :ok:all:::");
	assert_string_equal(host(m, "trusted.a"), "user.virtiofs.trusted.a");
	assert_string_equal(host(m, "user.a"), "user.a");
	assert_string_equal(guest_list(m, "user.virtiofs.trusted.a|user.b|"), "trusted.a|user.b|");
	xattrmap_free(m);

	m = must_parse(":ok:client:user.:: :ok:server::security.: :bad:all:::");
	assert_string_equal(host(m, "user.a"), "user.a");
	assert_string_equal(host(m, "security.a"), "EPERM");
	assert_string_equal(guest_list(m, "user.a|security.b|trusted.c|"), "security.b|");
	xattrmap_free(m);

	m = must_parse(":bad:server::security.: :ok:all:::");
	assert_string_equal(host(m, "security.a"), "security.a"); /* server only */
	assert_string_equal(guest_list(m, "security.a|user.b|"), "user.b|");
	assert_null(xattrmap_capability_name(m));
	xattrmap_free(m);
}

/* README "SELinux Support": the guest's labels live in trusted.virtiofs. on the host. */
static void test_selinux_map(void **state)
{
	struct xattrmap *m = must_parse(":map:security.selinux:trusted.virtiofs.:");
	assert_string_equal(host(m, "security.selinux"), "trusted.virtiofs.security.selinux");
	assert_string_equal(host(m, "trusted.virtiofs.security.selinux"), "EPERM");
	assert_string_equal(host(m, "trusted.virtiofs.other"), "EPERM");
	assert_string_equal(host(m, "security.capability"), "security.capability");
	assert_string_equal(host(m, "user.x"), "user.x");
	assert_string_equal(guest_list(m, "trusted.virtiofs.security.selinux|security.selinux|"
					 "security.capability|user.x|"),
			    "security.selinux|security.capability|user.x|");
	assert_null(xattrmap_capability_name(m)); /* not remapped: the kernel still clears it */
	xattrmap_free(m);
}

static void test_unsupported(void **state)
{
	struct xattrmap *m = must_parse(":unsupported:all:system.posix_acl:system.posix_acl: "
					":ok:all:::");
	assert_string_equal(host(m, "system.posix_acl_access"), "ENOTSUP");
	assert_string_equal(host(m, "system.posix_acl_default"), "ENOTSUP");
	assert_string_equal(host(m, "system.other"), "system.other");
	assert_string_equal(guest_list(m, "system.posix_acl_access|user.a|"), "user.a|");
	xattrmap_free(m);
}

static void test_first_match_wins(void **state)
{
	struct xattrmap *m = must_parse(":ok:all:user.keep:user.keep: :prefix:all::user.vfs.: "
					":bad:all:::");
	assert_string_equal(host(m, "user.keep.a"), "user.keep.a");
	assert_string_equal(host(m, "user.other"), "user.vfs.user.other");
	assert_string_equal(guest_list(m, "user.keep.a|user.vfs.b|c|"), "user.keep.a|b|");
	xattrmap_free(m);
}

static void test_separators_and_blanks(void **state)
{
	struct xattrmap *m;

	m = must_parse("|prefix|all|trusted.|user.virtiofs.||ok|all|||");
	assert_string_equal(host(m, "trusted.a"), "user.virtiofs.trusted.a");
	xattrmap_free(m);
	/* Each rule chooses its own separator; ':' may appear inside a field of a '/' rule. */
	m = must_parse(" \t\n/prefix/all/trusted:/user:v./\r\n\v\f,ok,all,,,\n\n");
	assert_string_equal(host(m, "trusted:x"), "user:v.trusted:x");
	assert_string_equal(host(m, "user.x"), "user.x");
	assert_string_equal(guest_list(m, "user:v.trusted:x|y|"), "trusted:x|y|");
	xattrmap_free(m);
	m = must_parse("#map#security.#user.s.#");
	assert_string_equal(host(m, "security.capability"), "user.s.security.capability");
	assert_string_equal(xattrmap_capability_name(m), "user.s.security.capability");
	xattrmap_free(m);
	/* rules may also follow each other with no blank at all */
	m = must_parse(":bad:client:trusted.::/ok/all///");
	assert_string_equal(host(m, "trusted.a"), "EPERM");
	xattrmap_free(m);
}

static void test_parse_errors(void **state)
{
	must_fail("", "empty");
	must_fail(" \n\t ", "empty");
	must_fail(":prefix:client:trusted.:user.virtiofs.:",
		  "no catch-all rule for names from the guest");
	must_fail(":prefix:all::user.virtiofs.:", "no catch-all rule for names from the host");
	must_fail(":ok:client:::", "from the host");
	must_fail(":ok:server:::", "from the guest");
	must_fail(":ok:all::: :bogus:all:::", "rule 2: unknown type 'bogus'");
	must_fail(":OK:all:::", "unknown type 'OK'");
	must_fail(":ok:everywhere:::", "rule 1: unknown scope 'everywhere'");
	must_fail(":ok:all:::x", "rule 2: incomplete rule");
	must_fail(":map::user.virtiofs.: :ok:all:::", "rule 1: 'map' must be the last rule");
	must_fail(":map:a.:b.::map:c.:d.:", "rule 1: 'map' must be the last rule");
	must_fail(":prefix:client:hi",
		  "rule 1: incomplete rule: no closing ':' after the key field");
	must_fail(":ok:all::", "after the prepend field");
	must_fail(":ok:all:", "after the key field");
	must_fail(":ok", "after the type field");
	must_fail(":", "after the type field");
	must_fail(":map:", "after the key field");
	must_fail(":map::", "after the prepend field");
	must_fail(":ok:all::: /ok/all//", "rule 2: incomplete rule");
	must_fail("\x01ok\x01all\x01\x01\x01", "separator");
	must_fail("\xc3\xa9ok\xc3\xa9" "all\xc3\xa9\xc3\xa9\xc3\xa9", "byte 0xc3");
	/* A mismatched separator leaves the rule unterminated. */
	must_fail(":ok/all/::", "unknown type 'ok/all/'");

	char big[600];
	snprintf(big, sizeof(big), ":prefix:all::%0300d: :bad:all:::", 0);
	must_fail(big, "rule 1: prepend is longer than 255 bytes");
	snprintf(big, sizeof(big), ":bad:client:%0300d:: :ok:all:::", 0);
	must_fail(big, "rule 1: key is longer than 255 bytes");
}

static void test_to_host_bounds(void **state)
{
	struct xattrmap *m = must_parse(":map::user.virtiofs.:");
	char name[XATTR_NAME_MAX + 2];
	char buf[XATTR_NAME_MAX + 1];
	size_t plen = strlen("user.virtiofs.");

	assert_int_equal(xattrmap_to_host(m, "", buf, sizeof(buf)), -ERANGE);
	/* The longest name that still fits once prefixed. */
	memset(name, 'a', XATTR_NAME_MAX - plen);
	name[XATTR_NAME_MAX - plen] = '\0';
	assert_int_equal(xattrmap_to_host(m, name, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), XATTR_NAME_MAX);
	/* One more byte: the host name would be too long for the kernel. */
	strcat(name, "a");
	assert_int_equal(xattrmap_to_host(m, name, buf, sizeof(buf)), -ERANGE);
	/* A caller buffer one byte short. */
	assert_int_equal(xattrmap_to_host(m, "x", buf, plen + 1), -ENAMETOOLONG);
	assert_int_equal(xattrmap_to_host(m, "x", buf, plen + 2), 0);
	assert_string_equal(buf, "user.virtiofs.x");
	assert_int_equal(xattrmap_to_host(m, "x", buf, 0), -ENAMETOOLONG);
	xattrmap_free(m);

	/* No map: names pass as they are, still bounded. */
	memset(name, 'b', XATTR_NAME_MAX);
	name[XATTR_NAME_MAX] = '\0';
	assert_int_equal(xattrmap_to_host(NULL, name, buf, sizeof(buf)), 0);
	assert_string_equal(buf, name);
	name[XATTR_NAME_MAX] = 'b';
	name[XATTR_NAME_MAX + 1] = '\0';
	assert_int_equal(xattrmap_to_host(NULL, name, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(xattrmap_to_host(NULL, "", buf, sizeof(buf)), -ERANGE);
	assert_null(xattrmap_capability_name(NULL));
}

static void test_list_bounds(void **state)
{
	struct xattrmap *m = must_parse(":map::user.virtiofs.:");
	char in[] = "user.virtiofs.ab\0hidden\0user.virtiofs.\0\0user.virtiofs.c";
	size_t len = sizeof(in) - 1; /* the last name is unterminated */
	char out[16];

	/* Empty names, names mapping to empty, and hidden names are dropped. */
	assert_int_equal(xattrmap_list_to_guest(m, in, len, NULL, 0), 5);
	memset(out, 'X', sizeof(out));
	assert_int_equal(xattrmap_list_to_guest(m, in, len, out, 5), 5);
	assert_memory_equal(out, "ab\0c\0", 5);
	assert_int_equal(out[5], 'X');
	/* One byte short: refused, nothing promised about out, nothing written past it. */
	memset(out, 'X', sizeof(out));
	assert_int_equal(xattrmap_list_to_guest(m, in, len, out, 4), -ERANGE);
	assert_int_equal(out[4], 'X');
	/* In place, as the passthrough may do with its listxattr buffer. */
	assert_int_equal(xattrmap_list_to_guest(m, in, len, in, len), 5);
	assert_memory_equal(in, "ab\0c\0", 5);
	/* Empty input. */
	assert_int_equal(xattrmap_list_to_guest(m, "", 0, out, sizeof(out)), 0);
	assert_int_equal(xattrmap_list_to_guest(m, NULL, 0, NULL, 0), 0);
	/* Everything hidden. */
	assert_int_equal(xattrmap_list_to_guest(m, "a\0b\0", 4, out, sizeof(out)), 0);
	xattrmap_free(m);

	/* No map: copied, with the unterminated tail terminated. */
	assert_int_equal(xattrmap_list_to_guest(NULL, "a\0\0bc", 5, NULL, 0), 5);
	assert_int_equal(xattrmap_list_to_guest(NULL, "a\0\0bc", 5, out, 5), 5);
	assert_memory_equal(out, "a\0bc\0", 5);
	/* The unterminated tail needs one byte more than the input: no overflow of an in-place
	 * buffer of exactly the input's size. */
	char tight[3] = { 'a', '\0', 'b' };
	assert_int_equal(xattrmap_list_to_guest(NULL, tight, 3, tight, 3), -ERANGE);
}

/* A long list: many names, mixed visibility, exact sizing. */
static void test_list_many(void **state)
{
	struct xattrmap *m = must_parse("/map/trusted./user.virtiofs./");
	size_t cap = 65536, len = 0, want = 0;
	char *in = malloc(cap), *out = malloc(cap);
	assert_non_null(in);
	assert_non_null(out);
	for (int i = 0; len + 64 < cap; i++) {
		int n = snprintf(in + len, cap - len, i % 3 == 0 ? "user.virtiofs.trusted.%d" :
					      i % 3 == 1 ? "trusted.%d" : "user.%d", i);
		if (i % 3 == 0)
			want += (size_t)n - strlen("user.virtiofs.") + 1;
		else if (i % 3 == 2)
			want += (size_t)n + 1;
		len += (size_t)n + 1;
	}
	assert_int_equal(xattrmap_list_to_guest(m, in, len, NULL, 0), (int)want);
	assert_int_equal(xattrmap_list_to_guest(m, in, len, out, want), (int)want);
	assert_int_equal(xattrmap_list_to_guest(m, in, len, out, want - 1), -ERANGE);
	assert_memory_equal(out, "trusted.0\0user.2\0", 17);
	free(in);
	free(out);
	xattrmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_example1),
		cmocka_unit_test(test_doc_example2),
		cmocka_unit_test(test_doc_example3),
		cmocka_unit_test(test_doc_rule_table),
		cmocka_unit_test(test_selinux_map),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_separators_and_blanks),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_to_host_bounds),
		cmocka_unit_test(test_list_bounds),
		cmocka_unit_test(test_list_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
