/*
 * Fake frontend, escape through privileges rather than names, in each sandbox mode (argv[1]):
 * - device nodes and FIFOs in the share, made by the host or by the guest: OPEN, CREATE and a
 *   truncating SETATTR must refuse them (CVE-2020-35517: the host's devices are never reached);
 * - a setgid directory and a file created in it by guest uid 1000 gid 1000: the daemon's
 *   supplementary groups (the test gives the daemon's parent 0 and 4242) must not make the file
 *   SGID nor let the guest user create where only those groups may (CVE-2022-0358), and the
 *   groups one request brings (FUSE_CREATE_SUPP_GROUP) are gone for the next one;
 * - security.capability (or its --xattrmap name) on a root-owned file written or truncated by a
 *   non-owner: the capability must be gone on the host (CVE-2021-20263). Needs --xattr: a daemon
 *   without xattr support FAILS this test (it is not skipped).
 * Host canaries next to the share are checked after each test (tests/escape/canary.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "canary.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))
#define GUEST_UID 1000
#define GUEST_GID 1000
#define EXTRA_GID 4242
#define CAP_MAP "--xattrmap=:map:security.:user.virtiofs.:"
#define CAP_MAPPED "user.virtiofs.security.capability"
#define ESC_CREATE_SUPP_GROUP (1ULL << 34) /* FUSE 7.38, not in every UAPI header */
#define ESC_EXT_GROUPS 32

static char mode_args[64];
static const char *const tried[] = { "gnull", "gzero", "gfifo", "gblk", "esc-n" };

static int start_with(void **state, const char *extra)
{
	char args[256];
	struct fe_opts o = { .daemon_args = args };

	snprintf(args, sizeof(args), "%s %s", mode_args, extra);
	if (fe_test_start(state, &o, true) == 0)
		return 0;
	if (*state && fe_log_contains(*state, "not implemented"))
		fprintf(stderr, "FAIL: this daemon has no xattr support (%s): the "
				"security.capability test cannot pass until it lands\n",
			extra);
	return -1;
}

static int setup(void **state)
{
	return start_with(state, "");
}

static int setup_xattr(void **state)
{
	return start_with(state, "--xattr");
}

static int setup_xattrmap(void **state)
{
	return start_with(state, "--xattr " CAP_MAP);
}

static void refused(int r, const char *what, const char *name)
{
	if (r == 0)
		fail_msg("%s of %s was allowed", what, name);
	if (r == FE_ETRANSPORT)
		fail_msg("%s of %s: no well-formed reply (did the daemon block on it?)", what, name);
}

/* Every way to get an open file on a node must refuse it. */
static void no_open(struct fe *fe, const char *name)
{
	static const uint32_t flags[] = { O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK,
					  O_WRONLY | O_NONBLOCK | O_TRUNC };
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 0 };
	struct iovec a[] = { ESC_IOV(&sa, sizeof(sa)) };
	struct fuse_entry_out e;
	struct fe_reply r;
	uint64_t fh;

	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, name, &e), 0);
	for (size_t i = 0; i < N_ELEM(flags); i++)
		refused(fe_open(fe, e.nodeid, flags[i], false, &fh), "OPEN", name);
	refused(fe_open(fe, e.nodeid, O_RDONLY, true, &fh), "OPENDIR", name);
	refused(fe_create(fe, FUSE_ROOT_ID, name, O_CREAT | O_RDWR, S_IFREG | 0644, &e, &fh),
		"CREATE (no O_EXCL)", name);
	refused(fe_create(fe, FUSE_ROOT_ID, name, O_CREAT | O_WRONLY | O_NONBLOCK, S_IFREG | 0644,
			  &e, &fh),
		"CREATE (no O_EXCL, O_NONBLOCK)", name);
	assert_int_equal(fe_fuse_req(fe, FUSE_SETATTR, e.nodeid, a, 1, 256, NULL, &r), 0);
	refused(fe_check_reply(0, &r, -1), "SETATTR size 0", name);
	fe_reply_free(&r);
}

static void test_host_device_nodes(void **state)
{
	struct fe *fe = *state;
	struct canary c;
	char p[256];

	canary_plant(fe, &c);
	assert_int_equal(mkfifo(fe_share_path(fe, "hfifo", p, sizeof(p)), 0666), 0);
	assert_int_equal(symlink("/dev/zero", fe_share_path(fe, "hlink", p, sizeof(p))), 0);
	no_open(fe, "hfifo");
	no_open(fe, "hlink");
	if (geteuid() == 0) {
		assert_int_equal(mknod(fe_share_path(fe, "hnull", p, sizeof(p)), S_IFCHR | 0666,
				       makedev(1, 3)), 0);
		assert_int_equal(mknod(fe_share_path(fe, "hzero", p, sizeof(p)), S_IFCHR | 0666,
				       makedev(1, 5)), 0);
		no_open(fe, "hnull");
		no_open(fe, "hzero");
	}
	canary_check(fe, &c, tried, N_ELEM(tried));
}

static void test_guest_device_nodes(void **state)
{
	struct fe *fe = *state;
	static const struct {
		const char *name;
		uint32_t mode, rdev;
	} nodes[] = {
		/* rdev as the guest kernel encodes it (new_encode_dev: major << 8 | minor). */
		{ "gnull", S_IFCHR | 0666, 1 << 8 | 3 },
		{ "gzero", S_IFCHR | 0666, 1 << 8 | 5 },
		{ "gblk", S_IFBLK | 0666, 7 << 8 | 0 },
		{ "gfifo", S_IFIFO | 0666, 0 },
	};
	struct fuse_entry_out e;
	struct canary c;
	int made = 0;

	canary_plant(fe, &c);
	for (size_t i = 0; i < N_ELEM(nodes); i++) {
		/* Creating may be refused (no CAP_MKNOD, a nodev mount); opening always is. */
		if (fe_mknod(fe, FUSE_ROOT_ID, nodes[i].name, nodes[i].mode, nodes[i].rdev, &e))
			continue;
		made++;
		no_open(fe, nodes[i].name);
	}
	assert_true(made >= 1); /* the FIFO at least */
	canary_check(fe, &c, tried, N_ELEM(tried));
}

/* Raw requests as guest uid 1000 gid 1000. */
static int create_as(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
		     uint64_t *fh)
{
	struct fuse_create_in in = { .flags = O_CREAT | O_EXCL | O_RDWR, .mode = mode };
	struct iovec a[] = { ESC_IOV(&in, sizeof(in)), ESC_NAME(name) };
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	int r = esc_req_as(fe, FUSE_CREATE, parent, GUEST_UID, GUEST_GID, a, 2, &out, sizeof(out));

	if (r == 0)
		*fh = out.o.fh;
	return r;
}

static int mknod_as(struct fe *fe, uint64_t parent, const char *name, uint32_t mode)
{
	struct fuse_mknod_in in = { .mode = mode };
	struct iovec a[] = { ESC_IOV(&in, sizeof(in)), ESC_NAME(name) };
	struct fuse_entry_out e;

	return esc_req_as(fe, FUSE_MKNOD, parent, GUEST_UID, GUEST_GID, a, 2, &e, sizeof(e));
}

static int mkdir_as(struct fe *fe, uint64_t parent, const char *name, uint32_t mode)
{
	struct fuse_mkdir_in in = { .mode = mode };
	struct iovec a[] = { ESC_IOV(&in, sizeof(in)), ESC_NAME(name) };
	struct fuse_entry_out e;

	return esc_req_as(fe, FUSE_MKDIR, parent, GUEST_UID, GUEST_GID, a, 2, &e, sizeof(e));
}

static void host_dir(struct fe *fe, const char *rel, gid_t gid, mode_t mode)
{
	char p[256];

	assert_int_equal(mkdir(fe_share_path(fe, rel, p, sizeof(p)), 0700), 0);
	assert_int_equal(chown(p, 0, gid), 0);
	assert_int_equal(chmod(p, mode), 0);
}

/* A Groups: line with no group in /proc/PID/status, for the daemon and its children. */
static void no_groups(pid_t pid)
{
	char path[64], line[256], kids[256] = { 0 };
	FILE *f;
	bool seen = false;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Groups:", 7) == 0) {
			seen = true;
			if (strspn(line + 7, " \t\n") != strlen(line + 7))
				fail_msg("daemon process %d keeps supplementary groups: %s", (int)pid,
					 line);
		}
	fclose(f);
	assert_true(seen);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	if (f && fgets(kids, sizeof(kids), f)) {
		char *save = NULL;

		for (char *t = strtok_r(kids, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
			no_groups(atoi(t));
	}
	if (f)
		fclose(f);
}

static void not_sgid(struct fe *fe, const char *rel, gid_t want_gid)
{
	char p[256];
	struct stat st;

	assert_int_equal(lstat(fe_share_path(fe, rel, p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_uid, GUEST_UID);
	assert_int_equal(st.st_gid, want_gid); /* inherited from the setgid directory */
	if (st.st_mode & S_ISGID)
		fail_msg("%s made by guest uid %d gid %d is set-group-ID with group %u (mode %o)", p,
			 GUEST_UID, GUEST_GID, st.st_gid, st.st_mode);
}

static void test_setgid_dir(void **state)
{
	struct fe *fe = *state;
	static const gid_t gids[] = { 0, EXTRA_GID };
	struct fuse_entry_out e;
	struct canary c;
	uint64_t fh;
	char p[256];

	if (geteuid() != 0)
		skip(); /* setgid directories of other groups and per-request ids need root */
	canary_plant(fe, &c);
	for (size_t i = 0; i < N_ELEM(gids); i++) {
		char d[16], f[32];

		snprintf(d, sizeof(d), "sg%u", gids[i]);
		host_dir(fe, d, gids[i], 02777);
		assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, d, &e), 0);
		assert_int_equal(create_as(fe, e.nodeid, "created", S_IFREG | 02755, &fh), 0);
		snprintf(f, sizeof(f), "%s/created", d);
		not_sgid(fe, f, gids[i]);
		assert_int_equal(mknod_as(fe, e.nodeid, "made", S_IFREG | 02755), 0);
		snprintf(f, sizeof(f), "%s/made", d);
		not_sgid(fe, f, gids[i]);
	}
	/* Only the daemon's dropped groups could write here. */
	host_dir(fe, "grp", EXTRA_GID, 0070);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "grp", &e), 0);
	assert_int_equal(create_as(fe, e.nodeid, "esc-n", S_IFREG | 0644, &fh), -EACCES);
	assert_int_equal(mknod_as(fe, e.nodeid, "esc-n", S_IFREG | 0644), -EACCES);
	assert_int_equal(mkdir_as(fe, e.nodeid, "esc-n", 0755), -EACCES);
	assert_int_equal(esc_count(fe_share_path(fe, "grp", p, sizeof(p))), 0);
	no_groups(fe->pid);
	canary_check(fe, &c, tried, N_ELEM(tried));
}

/* INIT asking for FUSE_CREATE_SUPP_GROUP, so that a create may carry the caller's groups. */
static int setup_groups(void **state)
{
	struct fuse_init_in in = {
		.major = FUSE_KERNEL_VERSION,
		.minor = FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 128 << 10,
		.flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DONT_MASK | FUSE_INIT_EXT,
		.flags2 = (uint32_t)(ESC_CREATE_SUPP_GROUP >> 32),
	};
	struct iovec a[] = { ESC_IOV(&in, sizeof(in)) };
	struct fuse_init_out out;
	struct fe_opts o = { .daemon_args = mode_args };
	struct fe *fe;

	if (fe_test_start(state, &o, false) < 0)
		return -1;
	fe = *state;
	if (esc_req_as(fe, FUSE_INIT, 0, 0, 0, a, 1, NULL, 0) != 0)
		return -1;
	(void)out;
	return 0;
}

/* CREATE as guest uid 1000 gid 1000 carrying the supplementary group list groups[n]. */
static int create_with_groups(struct fe *fe, uint64_t parent, const char *name, uint32_t mode,
			      const uint32_t *groups, uint32_t n)
{
	struct fuse_create_in in = { .flags = O_CREAT | O_EXCL | O_RDWR, .mode = mode };
	struct {
		struct fuse_in_header h;
		struct fuse_create_in c;
		char name[64];
	} req;
	/* fuse_ext_header, nr_groups, the groups, padded to 8 bytes */
	uint32_t ext[2 + 1 + 4] = { 0 };
	size_t name_len = strlen(name) + 1, args = sizeof(in) + name_len, pad = (8 - args % 8) % 8;
	size_t ext_len = (12 + 4 * n + 7) / 8 * 8;
	struct iovec iov[3];
	struct fe_reply r;
	int rc;

	assert_true(n <= 4 && name_len + pad <= sizeof(req.name));
	memset(&req, 0, sizeof(req));
	memcpy(&req.c, &in, sizeof(in));
	memcpy(req.name, name, name_len);
	ext[0] = (uint32_t)ext_len;
	ext[1] = ESC_EXT_GROUPS;
	ext[2] = n;
	memcpy(&ext[3], groups, 4 * n);
	fe->unique += 2;
	req.h = (struct fuse_in_header){ .opcode = FUSE_CREATE, .nodeid = parent, .uid = GUEST_UID,
					 .gid = GUEST_GID, .pid = (uint32_t)getpid(),
					 .unique = fe->unique,
					 .total_extlen = (uint16_t)(ext_len / 8) };
	/* The arguments end 8-byte aligned, as the kernel lays them out before the extensions. */
	req.h.len = (uint32_t)(sizeof(req.h) + args + pad + ext_len);
	iov[0] = ESC_IOV(&req, sizeof(req.h) + args + pad);
	iov[1] = ESC_IOV(ext, ext_len);
	rc = fe_fuse_raw(fe, iov, 2, 512, NULL, &r);
	rc = fe_check_reply(rc, &r, -1);
	fe_reply_free(&r);
	return rc;
}

/* Groups a request brings are the request's only: the next request on the same thread runs
 * without them (a leak would grant every later guest user the groups of an earlier one). */
static void test_request_groups_do_not_leak(void **state)
{
	struct fe *fe = *state;
	static const uint32_t g4242[] = { EXTRA_GID };
	struct fuse_entry_out sg, grp;
	struct canary c;
	uint64_t fh;
	char p[256];

	if (geteuid() != 0)
		skip();
	canary_plant(fe, &c);
	host_dir(fe, "sg4242", EXTRA_GID, 02777);
	host_dir(fe, "grp", EXTRA_GID, 0070);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "sg4242", &sg), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "grp", &grp), 0);
	for (int round = 0; round < 3; round++) {
		char n[16];

		/* A member of 4242 (by the request's word) may create in grp... */
		snprintf(n, sizeof(n), "member%d", round);
		assert_int_equal(create_with_groups(fe, grp.nodeid, n, S_IFREG | 0644, g4242, 1), 0);
		/* ...the next request, without groups, may not, nor make a set-group-ID file. */
		assert_int_equal(create_as(fe, grp.nodeid, "esc-n", S_IFREG | 0644, &fh), -EACCES);
		snprintf(n, sizeof(n), "plain%d", round);
		assert_int_equal(create_as(fe, sg.nodeid, n, S_IFREG | 02755, &fh), 0);
		snprintf(p, sizeof(p), "sg4242/%s", n);
		not_sgid(fe, p, EXTRA_GID);
	}
	no_groups(fe->pid);
	canary_check(fe, &c, tried, N_ELEM(tried));
}

/* A version 2 file capability granting cap_net_raw, effective. */
static void cap_blob(struct vfs_cap_data *v)
{
	memset(v, 0, sizeof(*v));
	v->magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	v->data[0].permitted = 1u << CAP_NET_RAW;
}

static int setxattr_req(struct fe *fe, uint64_t node, const char *name, const void *val,
			uint32_t len)
{
	/* Without FUSE_SETXATTR_EXT the request carries the 8-byte form. */
	struct fuse_setxattr_in in = { .size = len };
	struct iovec a[] = { ESC_IOV(&in, FUSE_COMPAT_SETXATTR_IN_SIZE), ESC_NAME(name),
			     ESC_IOV(val, len) };

	return esc_req_as(fe, FUSE_SETXATTR, node, 0, 0, a, 3, NULL, 0);
}

static bool host_has(const char *path, const char *name)
{
	return lgetxattr(path, name, NULL, 0) >= 0;
}

static void give_cap(struct fe *fe, uint64_t node, const char *path, const char *host_name)
{
	struct vfs_cap_data v;
	int r;

	cap_blob(&v);
	r = setxattr_req(fe, node, "security.capability", &v, XATTR_CAPS_SZ_2);
	if (r)
		fail_msg("SETXATTR security.capability as guest root: %d (%s): xattr support is "
			 "needed for this test",
			 r, strerror(-r));
	if (!host_has(path, host_name))
		fail_msg("the host shows no %s on %s after SETXATTR", host_name, path);
	if (strcmp(host_name, "security.capability") && host_has(path, "security.capability"))
		fail_msg("the guest set the host's own security.capability on %s under %s", path,
			 CAP_MAP);
}

static void no_cap_left(const char *path, const char *host_name, const char *after)
{
	if (host_has(path, host_name))
		fail_msg("%s on %s survived %s by a non-owner (CVE-2021-20263)", host_name, path,
			 after);
	if (host_has(path, "security.capability"))
		fail_msg("security.capability on %s after %s", path, after);
}

static void cap_killed(struct fe *fe, const char *host_name)
{
	struct fuse_open_in oin = { .flags = O_WRONLY };
	struct iovec oa[] = { ESC_IOV(&oin, sizeof(oin)) };
	struct fuse_setattr_in sa = { .valid = FATTR_SIZE, .size = 1 };
	struct iovec sargs[] = { ESC_IOV(&sa, sizeof(sa)) };
	struct fuse_attr_out ao;
	struct fuse_open_out oo;
	struct fuse_write_in win = { .size = 1 };
	struct fuse_write_out wo;
	struct fuse_entry_out e;
	struct canary c;
	char p[256];

	canary_plant(fe, &c);
	esc_put_file(fe_share_path(fe, "capf", p, sizeof(p)), "data", 0666);
	assert_int_equal(chown(p, 0, 0), 0);
	assert_int_equal(chmod(p, 0666), 0);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "capf", &e), 0);
	/* A write by guest uid 1000 (no kill flag: a hostile guest sends none). */
	give_cap(fe, e.nodeid, p, host_name);
	assert_int_equal(esc_req_as(fe, FUSE_OPEN, e.nodeid, GUEST_UID, GUEST_GID, oa, 1, &oo,
				    sizeof(oo)), 0);
	win.fh = oo.fh;
	{
		struct iovec wa[] = { ESC_IOV(&win, sizeof(win)), ESC_IOV("x", 1) };

		assert_int_equal(esc_req_as(fe, FUSE_WRITE, e.nodeid, GUEST_UID, GUEST_GID, wa, 2,
					    &wo, sizeof(wo)), 0);
	}
	no_cap_left(p, host_name, "a write");
	/* A truncate by guest uid 1000. */
	give_cap(fe, e.nodeid, p, host_name);
	assert_int_equal(esc_req_as(fe, FUSE_SETATTR, e.nodeid, GUEST_UID, GUEST_GID, sargs, 1,
				    &ao, sizeof(ao)), 0);
	no_cap_left(p, host_name, "a truncate");
	canary_check(fe, &c, tried, N_ELEM(tried));
}

static void test_capability_xattr(void **state)
{
	cap_killed(*state, "security.capability");
}

static void test_capability_xattrmap(void **state)
{
	cap_killed(*state, CAP_MAPPED);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, fe_teardown_checked)
		T(test_host_device_nodes, setup),
		T(test_guest_device_nodes, setup),
		T(test_setgid_dir, setup),
		T(test_request_groups_do_not_leak, setup_groups),
		T(test_capability_xattr, setup_xattr),
		T(test_capability_xattrmap, setup_xattrmap),
#undef T
	};
	static const gid_t groups[] = { 0, EXTRA_GID };
	char name[64];

	esc_mode_args(argc, argv, mode_args, sizeof(mode_args));
	if (argc > 1 && strcmp(argv[1], "chroot") == 0 && geteuid() != 0) {
		printf("SKIP: --sandbox=chroot needs root\n");
		return 77;
	}
	/* The daemon inherits these; it must drop them before serving. */
	if (geteuid() == 0 && setgroups(N_ELEM(groups), groups) < 0) {
		perror("setgroups");
		return 1;
	}
	snprintf(name, sizeof(name), "fake-escape-priv%s%s", argc > 1 ? "-" : "",
		 argc > 1 ? argv[1] : "");
	fe_test_filter();
	return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
