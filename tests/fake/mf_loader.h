/*
 * fake-memfault's loaders (included by test_memfault.c only): one thread per request queue
 * posts GETATTR batches on its own queue and checks every reply, in request slots allocated
 * before the threads start (the frontend's allocator is not thread-safe; each thread touches
 * only its own queue's ring).
 */
#ifndef MF_LOADER_H
#define MF_LOADER_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fe_test.h"

#ifndef GA_CAP
#error "define GA_CAP (a GETATTR reply's size) before including mf_loader.h"
#endif

#define LD_SLOT 512 /* request, then the reply at LD_SLOT / 2 */

struct loader {
	struct fe *fe;
	unsigned q, n, rounds;
	bool post_only; /* post one batch and return, leaving it in flight */
	uint64_t gpa[64], unique[64], next_unique;
	int done;
	char err[160];
};

static void loader_init(struct fe *fe, struct loader *l, unsigned q, unsigned n, unsigned rounds)
{
	memset(l, 0, sizeof(*l));
	*l = (struct loader){ .fe = fe, .q = q, .n = n, .rounds = rounds,
			      .next_unique = (uint64_t)q << 48 };
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++) {
		l->gpa[i] = fe_alloc(fe, LD_SLOT, false);
		assert_non_null(l->gpa[i] ? fe_gpa_ptr(fe, l->gpa[i], LD_SLOT) : NULL);
	}
}

static int loader_post(struct loader *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		struct fuse_in_header *h = fe_gpa_ptr(l->fe, l->gpa[i], LD_SLOT);
		struct fe_seg seg[2];
		uint16_t head;
		int r;

		l->unique[i] = l->next_unique += 2;
		*h = (struct fuse_in_header){ .len = sizeof(*h) + sizeof(struct fuse_getattr_in),
					      .opcode = FUSE_GETATTR, .unique = l->unique[i],
					      .nodeid = FUSE_ROOT_ID };
		memset(h + 1, 0, sizeof(struct fuse_getattr_in));
		memset((uint8_t *)h + LD_SLOT / 2, 0xa5, GA_CAP);
		seg[0] = (struct fe_seg){ .gpa = l->gpa[i], .len = h->len };
		seg[1] = (struct fe_seg){ .gpa = l->gpa[i] + LD_SLOT / 2, .len = GA_CAP,
					  .writable = true };
		r = fe_vq_add_chain(l->fe, l->q, seg, 2, false, &head);
		if (r == 0)
			r = fe_vq_publish(l->fe, l->q, head);
		if (r < 0) {
			snprintf(l->err, sizeof(l->err), "queue %u: post %u: %s", l->q, i,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Every request of the last batch has its well-formed successful reply (n completions taken
 * from the used ring first unless taken). */
static int loader_check(struct loader *l, bool take)
{
	for (unsigned i = 0; take && i < l->n; i++) {
		uint32_t id, len;
		int r = fe_vq_wait(l->fe, l->q, FE_TIMEOUT_MS, &id, &len);

		if (r < 0 || len != GA_CAP) {
			snprintf(l->err, sizeof(l->err), "queue %u: completion %u of %u: %d len %u",
				 l->q, i, l->n, r, r < 0 ? 0 : len);
			return r < 0 ? r : -EPROTO;
		}
	}
	for (unsigned i = 0; i < l->n; i++) {
		struct fuse_out_header *h = fe_gpa_ptr(l->fe, l->gpa[i] + LD_SLOT / 2, GA_CAP);

		if (h->unique != l->unique[i] || h->error != 0 || h->len != GA_CAP) {
			snprintf(l->err, sizeof(l->err), "queue %u: reply %u: unique %llx/%llx "
				 "error %d len %u", l->q, i, (unsigned long long)h->unique,
				 (unsigned long long)l->unique[i], h->error, h->len);
			return -EPROTO;
		}
	}
	return 0;
}

static void *loader_run(void *arg)
{
	struct loader *l = arg;
	int r = 0;

	for (unsigned round = 0; r == 0 && round < l->rounds; round++) {
		r = loader_post(l);
		if (r == 0 && !l->post_only)
			r = loader_check(l, true);
	}
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return (void *)(intptr_t)r;
}

struct loaders {
	struct loader l[FE_MAX_QUEUES];
	pthread_t t[FE_MAX_QUEUES];
};

/* One loader thread per request queue. */
static void loaders_start(struct fe *fe, struct loaders *ls, unsigned n, unsigned rounds,
			  bool post_only)
{
	for (unsigned q = FE_REQ_Q; q < fe->nqueues; q++) {
		struct loader *l = &ls->l[q];

		loader_init(fe, l, q, n, rounds);
		l->post_only = post_only;
	}
	for (unsigned q = FE_REQ_Q; q < fe->nqueues; q++) {
		assert_int_equal(pthread_create(&ls->t[q], NULL, loader_run, &ls->l[q]), 0);
	}
}

static bool loaders_done(struct fe *fe, struct loaders *ls)
{
	for (unsigned q = FE_REQ_Q; q < fe->nqueues; q++)
		if (!__atomic_load_n(&ls->l[q].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

static void loaders_join(struct fe *fe, struct loaders *ls)
{
	bool ok = true;

	for (unsigned q = FE_REQ_Q; q < fe->nqueues; q++) {
		void *ret;

		assert_int_equal(pthread_join(ls->t[q], &ret), 0);
		if (ret) {
			fprintf(stderr, "fake-memfault: %s\n", ls->l[q].err);
			ok = false;
		}
	}
	assert_true(ok);
}

#endif
