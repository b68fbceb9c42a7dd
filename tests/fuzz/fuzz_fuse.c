/*
 * Fuzz target: the FUSE server's request decoder over the recording mock backend of the unit
 * tests (no host file system touched). Input, see README.md:
 *   u8 server options, u8 mode (bit 7: no INIT first; bits 0-5: errno the backend answers),
 *   then records: u8 iovec counts (low nibble: in, high nibble: out), u16 reply room,
 *   u16 request length, the request bytes; cut into iovecs at seeded random points.
 * Every iovec is its own allocation, so ASan sees a read or write past any of them. Requests
 * go through fuse_server_handle_async(), so SETLKW takes the deferred path.
 */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "log.h"
#include "../unit/test_fuse_mock.h"

#define MAXIOV 8
#define MAX_RECORDS 64

/* The mock has no lock calls: these check what fs.h promises the backend (a lock range the
 * server has already validated) and answer at once, so SETLKW goes through the deferred
 * path (src/fuse/async.c) and back. */
static void check_lock(const struct fuse_file_lock *lk)
{
	if ((lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK) ||
	    lk->start > lk->end || lk->end > INT64_MAX)
		abort();
}

static int fz_getlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct fuse_file_lock *lk, struct fuse_file_lock *out)
{
	check_lock(lk);
	*out = *lk;
	out->type = F_UNLCK;
	return 0;
}

static int fz_setlk(void *fs, const struct fs_ctx *c, uint64_t ino, uint64_t fh, uint64_t owner,
		    const struct fuse_file_lock *lk, bool flock, bool sleep)
{
	if (!flock)
		check_lock(lk);
	/* Owner bit 1: a conflict, so SETLKW starts a waiter; bit 0: the wait is interrupted. */
	if (!sleep)
		return owner & 2 ? -EAGAIN : 0;
	if (!(owner & 1))
		return 0;
	/* A wait that only a signal ends, as fcntl(F_OFD_SETLKW) on a held lock: the server's
	 * cancel interrupts it (returning at once made its waiter thread spin until then). */
	poll(NULL, 0, 1000);
	return -EINTR;
}

static struct fs_ops fz_ops;

/* A deferred reply: the whole reply, at most the room the request had. */
static void fz_complete(void *ctx, uint32_t id, const void *reply, size_t len)
{
	struct fuse_out_header oh;

	if (len > id || len < sizeof(oh))
		abort();
	memcpy(&oh, reply, sizeof(oh));
	if (oh.len != len || oh.error > 0 || oh.error < -4095)
		abort();
}

static void fuzz_init(struct fuse_server *srv)
{
	struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 131072};
	char buf[256], out[256];
	size_t n;

	in.flags = ~0u;
	in.flags2 = ~0u;
	n = mk_req(buf, FUSE_INIT, 1, 0, &in, sizeof(in));
	run1(srv, buf, n, out, sizeof(out));
}

/* Cut len bytes into cnt pieces at seeded points; each piece its own malloc. */
static void cut(const uint8_t *src, size_t len, unsigned cnt, uint64_t *seed, struct iovec *iov)
{
	size_t off = 0;

	for (unsigned i = 0; i < cnt; i++) {
		size_t rest = len - off;
		size_t k = i + 1 == cnt ? rest : (rest ? fz_rand(seed) % (rest + 1) : 0);

		iov[i].iov_len = k;
		iov[i].iov_base = malloc(k ? k : 1);
		if (src && k)
			memcpy(iov[i].iov_base, src + off, k);
		off += k;
	}
}

static void check_reply(const struct iovec *out, unsigned cnt, size_t room, size_t n)
{
	struct fuse_out_header oh;
	uint8_t *p = (uint8_t *)&oh;
	size_t got = 0;

	if (n > room)
		abort();
	if (n == 0)
		return;
	for (unsigned i = 0; i < cnt && got < sizeof(oh); i++)
		for (size_t k = 0; k < out[i].iov_len && got < sizeof(oh); k++)
			p[got++] = ((uint8_t *)out[i].iov_base)[k];
	/* A reply always carries a whole header whose len is what was written, and an errno. */
	if (got < sizeof(oh) || oh.len != n || oh.error > 0 || oh.error < -4095)
		abort();
}

static void one_record(struct fuse_server *srv, struct fz *f)
{
	unsigned counts = (unsigned)fz_take(f, 1);
	unsigned nin = (counts & 7) + 1, nout = ((counts >> 4) & 7) + 1;
	size_t room = (size_t)fz_take(f, 2) + 16, len = (size_t)fz_take(f, 2);
	uint64_t seed = (counts << 16 | len) ^ 0x9e3779b97f4a7c15ull;
	struct iovec in[MAXIOV], out[MAXIOV];
	size_t n;

	if (len > f->left)
		len = f->left;
	cut(f->p, len, nin, &seed, in);
	f->p += len;
	f->left -= len;
	cut(NULL, room, nout, &seed, out);
	/* The completion checks a deferred reply against the room, passed as the id. */
	struct fuse_async a = {.complete = fz_complete, .ctx = srv, .id = (uint32_t)room};

	n = fuse_server_handle_async(srv, in, nin, out, nout, &a);
	if (n != FUSE_DEFERRED)
		check_reply(out, nout, room, n);
	for (unsigned i = 0; i < nin; i++)
		free(in[i].iov_base);
	for (unsigned i = 0; i < nout; i++)
		free(out[i].iov_base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	unsigned o = (unsigned)fz_take(&f, 1), mode = (unsigned)fz_take(&f, 1);
	struct fuse_server_opts opts = {
	    .readdirplus = o & 1, .writeback = o & 2, .killpriv_v2 = o & 4,
	    .posix_acl = o & 8, .security_label = o & 16, .xattr = o & 32,
	    .posix_locks = o & 64, .flock_locks = o & 128,
	};
	static struct mock_fs m;
	struct fuse_server *srv = NULL;

	log_init(LOG_LVL_OFF, false);
	memset(&m, 0, sizeof(m));
	m.result = -(int)(mode & 0x3f);
	fz_ops = mock_ops;
	fz_ops.getlk = fz_getlk;
	fz_ops.setlk = fz_setlk;
	if (fuse_server_new(&fz_ops, &m, &opts, &srv) < 0)
		return 0;
	if (!(mode & 0x80))
		fuzz_init(srv);
	for (unsigned i = 0; i < MAX_RECORDS && f.left > 0; i++)
		one_record(srv, &f);
	fuse_server_cancel(srv, NULL);
	fuse_server_free(srv);
	return 0;
}
