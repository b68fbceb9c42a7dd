/* Fake frontend: file data and directory operations, checked against the host. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fe_test.h"

#define IOV(p, n) ((struct iovec){ .iov_base = (void *)(p), .iov_len = (n) })
#define OUT_HDR sizeof(struct fuse_out_header)

static void host_write(struct fe *fe, const char *rel, const void *data, size_t len)
{
	char p[256];
	int fd = open(fe_share_path(fe, rel, p, sizeof(p)), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void *host_read(struct fe *fe, const char *rel, size_t *len)
{
	char p[256];
	struct stat st;
	int fd = open(fe_share_path(fe, rel, p, sizeof(p)), O_RDONLY);
	void *buf;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static int simple_op(struct fe *fe, uint32_t op, uint64_t node, const void *in, size_t len)
{
	struct iovec a[] = { IOV(in, len) };
	struct fe_reply r;
	int rc = fe_check_reply(fe_fuse_req(fe, op, node, a, 1, 256, NULL, &r), &r, 0);

	fe_reply_free(&r);
	return rc;
}

static void test_open_read_write(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fuse_flush_in fl = { 0 };
	struct fuse_fsync_in fs = { 0 };
	char buf[64];
	uint64_t fh;
	uint32_t n;
	size_t len;
	char *data;

	host_write(fe, "f", "hello world", 11);
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "f", &e), 0);
	assert_int_equal(fe_open(fe, e.nodeid, O_RDWR, false, &fh), 0);
	assert_int_equal(fe_read(fe, e.nodeid, fh, 0, buf, sizeof(buf), NULL, &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_int_equal(fe_read(fe, e.nodeid, fh, 6, buf, 3, NULL, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "wor", 3);
	assert_int_equal(fe_read(fe, e.nodeid, fh, 100, buf, 10, NULL, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fe_write(fe, e.nodeid, fh, 6, "WORLD!", 6, NULL, &n), 0);
	assert_int_equal(n, 6);
	fl.fh = fh;
	assert_int_equal(simple_op(fe, FUSE_FLUSH, e.nodeid, &fl, sizeof(fl)), 0);
	fs.fh = fh;
	assert_int_equal(simple_op(fe, FUSE_FSYNC, e.nodeid, &fs, sizeof(fs)), 0);
	fs.fsync_flags = 1; /* datasync */
	assert_int_equal(simple_op(fe, FUSE_FSYNC, e.nodeid, &fs, sizeof(fs)), 0);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	data = host_read(fe, "f", &len);
	assert_int_equal(len, 12);
	assert_memory_equal(data, "hello WORLD!", 12);
	free(data);
	/* Read-only handle refuses writes. */
	assert_int_equal(fe_open(fe, e.nodeid, O_RDONLY, false, &fh), 0);
	assert_int_equal(fe_write(fe, e.nodeid, fh, 0, "x", 1, NULL, &n), -EBADF);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

static void test_create(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	char p[256];
	struct stat st;
	uint64_t fh;
	uint32_t n;

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT, S_IFREG | 0640, &e,
				   &fh),
			 0);
	assert_true(S_ISREG(e.attr.mode));
	assert_int_equal(fe_write(fe, e.nodeid, fh, 0, "abc", 3, NULL, &n), 0);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	assert_int_equal(stat(fe_share_path(fe, "new", p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "new", O_RDWR | O_CREAT | O_EXCL,
				   S_IFREG | 0640, &e, &fh),
			 -EEXIST);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

static void big_write(struct fe *fe, uint32_t len, const struct fe_req_opts *o)
{
	struct fuse_entry_out e;
	uint8_t *buf = malloc(len), *back = malloc(len);
	uint64_t fh;
	uint32_t n;
	size_t hlen;
	uint8_t *host;

	assert_non_null(buf);
	assert_non_null(back);
	fill(buf, len, len);
	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "big", O_RDWR | O_CREAT, S_IFREG | 0644, &e,
				   &fh),
			 0);
	assert_int_equal(fe_write(fe, e.nodeid, fh, 0, buf, len, o, &n), 0);
	assert_int_equal(n, len);
	host = host_read(fe, "big", &hlen);
	assert_int_equal(hlen, len);
	assert_memory_equal(host, buf, len);
	free(host);
	assert_int_equal(fe_read(fe, e.nodeid, fh, 0, back, len, o, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(back, buf, len);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
	free(buf);
	free(back);
}

static uint32_t big_len(struct fe *fe)
{
	return fe->max_write && fe->max_write < (1u << 20) ? fe->max_write : 1u << 20;
}

static void test_write_1m_split(void **state)
{
	struct fe_req_opts o = { .seg_max = 4096 };

	big_write(*state, big_len(*state), &o);
}

static void test_write_1m_indirect(void **state)
{
	struct fe_req_opts o = { .seg_max = 4096, .indirect = true };

	big_write(*state, big_len(*state), &o);
}

static void test_write_cross_regions(void **state)
{
	struct fe_req_opts o = { .cross = true };

	big_write(*state, big_len(*state), &o);
}

static void test_write_cross_split(void **state)
{
	struct fe_req_opts o = { .cross = true, .seg_max = 1000 };

	big_write(*state, 256 << 10, &o);
}

struct dir_seen {
	int a, b, c, dot, dotdot, other;
	uint64_t last_off;
	uint64_t nodes[16];
	int nnodes;
};

static void note_name(struct dir_seen *s, const char *name, size_t len)
{
	if (len == 1 && name[0] == 'a')
		s->a++;
	else if (len == 1 && name[0] == 'b')
		s->b++;
	else if (len == 1 && name[0] == 'c')
		s->c++;
	else if (len == 1 && name[0] == '.')
		s->dot++;
	else if (len == 2 && !memcmp(name, "..", 2))
		s->dotdot++;
	else
		s->other++;
}

/* Walk a READDIR(PLUS) reply; returns the number of entries. */
static int parse_dir(const uint8_t *p, size_t len, bool plus, struct dir_seen *s)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		const struct fuse_dirent *d;
		size_t ent;

		if (plus) {
			const struct fuse_direntplus *dp = (const void *)(p + pos);

			assert_true(len - pos >= FUSE_NAME_OFFSET_DIRENTPLUS);
			if (dp->entry_out.nodeid && s->nnodes < 16)
				s->nodes[s->nnodes++] = dp->entry_out.nodeid;
			d = &dp->dirent;
			ent = FUSE_DIRENTPLUS_SIZE(dp);
		} else {
			d = (const void *)(p + pos);
			assert_true(len - pos >= FUSE_NAME_OFFSET);
			ent = FUSE_DIRENT_SIZE(d);
		}
		assert_true(d->namelen > 0 && d->namelen <= 255);
		assert_true(ent <= len - pos);
		note_name(s, d->name, d->namelen);
		s->last_off = d->off;
		pos += ent;
		n++;
	}
	return n;
}

static void read_whole_dir(struct fe *fe, uint64_t node, uint64_t fh, bool plus,
			   struct dir_seen *s)
{
	uint64_t off = 0;

	for (int rounds = 0; rounds < 100; rounds++) {
		struct fuse_read_in in = { .fh = fh, .offset = off, .size = 200 };
		struct iovec a[] = { IOV(&in, sizeof(in)) };
		struct fe_reply r;
		int rc = fe_fuse_req(fe, plus ? FUSE_READDIRPLUS : FUSE_READDIR, node, a, 1,
				     OUT_HDR + 200, NULL, &r);

		assert_int_equal(fe_check_reply(rc, &r, -1), 0);
		assert_true(r.data_len <= 200);
		if (!r.data_len) {
			fe_reply_free(&r);
			return;
		}
		assert_true(parse_dir(r.data, r.data_len, plus, s) > 0);
		off = s->last_off;
		fe_reply_free(&r);
	}
	fail_msg("directory listing did not end");
}

static void dir_test(struct fe *fe, bool plus)
{
	struct fuse_entry_out d;
	struct fuse_fsync_in fs = { 0 };
	struct dir_seen s = { 0 };
	uint64_t fh;

	assert_int_equal(fe_mkdir(fe, FUSE_ROOT_ID, "dir", 0755, &d), 0);
	host_write(fe, "dir/a", "1", 1);
	host_write(fe, "dir/b", "2", 1);
	host_write(fe, "dir/c", "3", 1);
	assert_int_equal(fe_open(fe, d.nodeid, O_RDONLY | O_DIRECTORY, true, &fh), 0);
	read_whole_dir(fe, d.nodeid, fh, plus, &s);
	assert_int_equal(s.a, 1);
	assert_int_equal(s.b, 1);
	assert_int_equal(s.c, 1);
	assert_int_equal(s.other, 0);
	assert_true(s.dot <= 1 && s.dotdot <= 1);
	fs.fh = fh;
	assert_int_equal(simple_op(fe, FUSE_FSYNCDIR, d.nodeid, &fs, sizeof(fs)), 0);
	assert_int_equal(fe_release(fe, d.nodeid, fh, true), 0);
	if (plus)
		for (int i = 0; i < s.nnodes; i++)
			assert_int_equal(fe_forget(fe, s.nodes[i], 1, true), 0);
}

static void test_readdir(void **state)
{
	dir_test(*state, false);
}

static void test_readdirplus(void **state)
{
	dir_test(*state, true);
}

static void test_fallocate(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	struct fuse_fallocate_in in = { .offset = 0, .length = 1 << 20 };
	char p[256];
	struct stat st;
	uint64_t fh;

	assert_int_equal(fe_create(fe, FUSE_ROOT_ID, "fa", O_RDWR | O_CREAT, S_IFREG | 0644, &e,
				   &fh),
			 0);
	in.fh = fh;
	assert_int_equal(simple_op(fe, FUSE_FALLOCATE, e.nodeid, &in, sizeof(in)), 0);
	assert_int_equal(stat(fe_share_path(fe, "fa", p, sizeof(p)), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	in = (struct fuse_fallocate_in){ .fh = fh, .offset = 1 << 20, .length = 1 << 20,
					 .mode = FALLOC_FL_KEEP_SIZE };
	assert_int_equal(simple_op(fe, FUSE_FALLOCATE, e.nodeid, &in, sizeof(in)), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

static int64_t fe_lseek_op(struct fe *fe, uint64_t node, uint64_t fh, uint64_t off, int whence)
{
	struct fuse_lseek_in in = { .fh = fh, .offset = off, .whence = whence };
	struct iovec a[] = { IOV(&in, sizeof(in)) };
	struct fuse_lseek_out out;
	struct fe_reply r;
	int rc = fe_fuse_req(fe, FUSE_LSEEK, node, a, 1, 256, NULL, &r);

	rc = fe_check_reply(rc, &r, sizeof(out));
	if (rc == 0)
		memcpy(&out, r.data, sizeof(out));
	fe_reply_free(&r);
	return rc ? rc : (int64_t)out.offset;
}

static void test_lseek(void **state)
{
	struct fe *fe = *state;
	struct fuse_entry_out e;
	char p[256], blk[4096];
	uint64_t fh;
	int fd;

	memset(blk, 'x', sizeof(blk));
	fd = open(fe_share_path(fe, "sparse", p, sizeof(p)), O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, blk, sizeof(blk), 0), sizeof(blk));
	assert_int_equal(pwrite(fd, blk, sizeof(blk), 4 << 20), sizeof(blk));
	assert_int_equal(fe_lookup(fe, FUSE_ROOT_ID, "sparse", &e), 0);
	assert_int_equal(fe_open(fe, e.nodeid, O_RDONLY, false, &fh), 0);
	/* Whatever the host filesystem reports for holes, the daemon must report the same. */
	assert_int_equal(fe_lseek_op(fe, e.nodeid, fh, 0, SEEK_DATA), lseek(fd, 0, SEEK_DATA));
	assert_int_equal(fe_lseek_op(fe, e.nodeid, fh, 0, SEEK_HOLE), lseek(fd, 0, SEEK_HOLE));
	assert_int_equal(fe_lseek_op(fe, e.nodeid, fh, 8192, SEEK_DATA),
			 lseek(fd, 8192, SEEK_DATA));
	assert_int_equal(fe_lseek_op(fe, e.nodeid, fh, 100 << 20, SEEK_DATA), -ENXIO);
	close(fd);
	assert_int_equal(fe_release(fe, e.nodeid, fh, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FE_T(test_open_read_write), FE_T(test_create), FE_T(test_write_1m_split),
		FE_T(test_write_1m_indirect), FE_T(test_write_cross_regions),
		FE_T(test_write_cross_split), FE_T(test_readdir), FE_T(test_readdirplus),
		FE_T(test_fallocate), FE_T(test_lseek),
	};

	fe_test_filter();
	return cmocka_run_group_tests_name("fake-io", tests, NULL, NULL);
}
