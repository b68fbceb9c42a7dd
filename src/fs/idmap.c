/*
 * UID/GID translation tables. Each direction is a sorted array of disjoint source ranges, so a
 * lookup on the request path is a binary search with no allocation and no lock.
 */
#include "fs/idmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util/parse.h"

/* Bounds the command line, and the work per lookup. */
#define IDMAP_MAX_ENTRIES 1024
#define ID_SPACE (UINT64_C(1) << 32)

enum idmap_kind {
	IDMAP_RANGE, /* 1:1 */
	IDMAP_SQUASH, /* n:1 */
	IDMAP_FORBID, /* refused */
};

enum {
	DIR_G2H = 1,
	DIR_H2G = 2,
};

struct idmap_type {
	const char *name;
	enum idmap_kind kind;
	unsigned dirs;
	unsigned nums; /* numbers after the type */
	const char *usage;
};

static const struct idmap_type idmap_types[] = {
	{ "guest", IDMAP_RANGE, DIR_G2H, 3, "guest:<guest>:<host>:<count>" },
	{ "host", IDMAP_RANGE, DIR_H2G, 3, "host:<host>:<guest>:<count>" },
	{ "squash-guest", IDMAP_SQUASH, DIR_G2H, 3, "squash-guest:<guest>:<host>:<count>" },
	{ "squash-host", IDMAP_SQUASH, DIR_H2G, 3, "squash-host:<host>:<guest>:<count>" },
	{ "forbid-guest", IDMAP_FORBID, DIR_G2H, 2, "forbid-guest:<guest>:<count>" },
	{ "map", IDMAP_RANGE, DIR_G2H | DIR_H2G, 3, "map:<guest>:<host>:<count>" },
};

void idmap_init(struct idmap *m, const char *what)
{
	memset(m, 0, sizeof(*m));
	m->what = what;
}

void idmap_free(struct idmap *m)
{
	free(m->g2h);
	free(m->h2g);
	m->g2h = m->h2g = NULL;
	m->n_g2h = m->n_h2g = 0;
}

bool idmap_is_empty(const struct idmap *m)
{
	return m->n_g2h == 0 && m->n_h2g == 0;
}

static const char *what(const struct idmap *m)
{
	return m->what ? m->what : "id map";
}

static const struct idmap_type *parse_type(const char *spec, const char **rest)
{
	const char *colon = strchr(spec, ':');

	if (!colon)
		return NULL;
	for (size_t i = 0; i < sizeof(idmap_types) / sizeof(idmap_types[0]); i++) {
		const char *n = idmap_types[i].name;
		if (strlen(n) == (size_t)(colon - spec) && memcmp(spec, n, strlen(n)) == 0) {
			*rest = colon + 1;
			return &idmap_types[i];
		}
	}
	return NULL;
}

static int parse_numbers(const struct idmap *m, const char *spec, const struct idmap_type *t,
			 const char *p, uint32_t v[3])
{
	for (unsigned i = 0; i < t->nums; i++) {
		bool last = i + 1 == t->nums;

		if (util_parse_u32(&p, &v[i]) < 0 || *p != (last ? '\0' : ':')) {
			log_error("%s=%s: expected %s, with decimal numbers up to %" PRIu32,
				  what(m), spec, t->usage, UINT32_MAX);
			return -EINVAL;
		}
		if (!last)
			p++;
	}
	return 0;
}

/* Fill the entries this spec adds: e[0] guest-to-host, e[1] host-to-guest. */
static int build_entries(const struct idmap *m, const char *spec, const struct idmap_type *t,
			 const uint32_t v[3], struct idmap_entry e[2])
{
	uint32_t a = v[0], b = t->nums == 3 ? v[1] : 0, count = v[t->nums - 1];

	if (count == 0) {
		log_error("%s=%s: the count must be at least 1", what(m), spec);
		return -EINVAL;
	}
	uint32_t start = (uint64_t)a + count > ID_SPACE ? a : b;
	if ((uint64_t)a + count > ID_SPACE ||
	    (t->kind == IDMAP_RANGE && (uint64_t)b + count > ID_SPACE)) {
		log_error("%s=%s: the range [%" PRIu32 ", %" PRIu64 ") ends past the largest id "
			  "%" PRIu32,
			  what(m), spec, start, (uint64_t)start + count, UINT32_MAX);
		return -EINVAL;
	}
	memset(e, 0, 2 * sizeof(e[0]));
	e[0] = (struct idmap_entry){ .from = a, .to = b, .count = count, .kind = (uint8_t)t->kind };
	/* For host-side types the first number is the host id; map's reverse swaps the pair. */
	e[1] = e[0];
	if (t->dirs == (DIR_G2H | DIR_H2G)) {
		e[1].from = b;
		e[1].to = a;
	}
	if (t->nums == 3)
		snprintf(e[0].spec, sizeof(e[0].spec), "%s:%" PRIu32 ":%" PRIu32 ":%" PRIu32,
			 t->name, a, b, count);
	else
		snprintf(e[0].spec, sizeof(e[0].spec), "%s:%" PRIu32 ":%" PRIu32, t->name, a,
			 count);
	memcpy(e[1].spec, e[0].spec, sizeof(e[0].spec));
	return 0;
}

static const struct idmap_entry *find_overlap(const struct idmap_entry *v, size_t n,
					      const struct idmap_entry *e)
{
	for (size_t i = 0; i < n; i++) {
		if ((uint64_t)e->from < v[i].from + v[i].count &&
		    (uint64_t)v[i].from < e->from + e->count)
			return &v[i];
	}
	return NULL;
}

static int check_overlap(const struct idmap *m, const struct idmap_entry *v, size_t n,
			 const struct idmap_entry *e, const char *side)
{
	const struct idmap_entry *o = find_overlap(v, n, e);

	if (!o)
		return 0;
	log_error("%s=%s: its %s ids [%" PRIu32 ", %" PRIu64 ") overlap those of the earlier %s=%s",
		  what(m), e->spec, side, e->from, e->from + e->count, what(m), o->spec);
	return -EINVAL;
}

/* The array must have room for one more; it stays sorted by from. */
static void insert_sorted(struct idmap_entry *v, size_t *n, const struct idmap_entry *e)
{
	size_t i = *n;

	while (i > 0 && v[i - 1].from > e->from)
		i--;
	memmove(&v[i + 1], &v[i], (*n - i) * sizeof(*v));
	v[i] = *e;
	(*n)++;
}

static int reserve(struct idmap_entry **v, size_t n)
{
	struct idmap_entry *nv = realloc(*v, (n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

int idmap_add(struct idmap *m, const char *spec)
{
	const struct idmap_type *t;
	struct idmap_entry e[2];
	uint32_t v[3] = { 0 };
	const char *rest = NULL;
	bool g2h, h2g;

	t = parse_type(spec, &rest);
	if (!t) {
		log_error("%s=%s: expected <type>:<a>:<b>:<count> with type guest, host, "
			  "squash-guest, squash-host, map, or forbid-guest:<guest>:<count>",
			  what(m), spec);
		return -EINVAL;
	}
	if (parse_numbers(m, spec, t, rest, v) < 0 || build_entries(m, spec, t, v, e) < 0)
		return -EINVAL;
	g2h = t->dirs & DIR_G2H;
	h2g = t->dirs & DIR_H2G;
	if ((g2h && m->n_g2h >= IDMAP_MAX_ENTRIES) || (h2g && m->n_h2g >= IDMAP_MAX_ENTRIES)) {
		log_error("%s=%s: too many entries (at most %d)", what(m), spec, IDMAP_MAX_ENTRIES);
		return -EINVAL;
	}
	if ((g2h && check_overlap(m, m->g2h, m->n_g2h, &e[0], "guest") < 0) ||
	    (h2g && check_overlap(m, m->h2g, m->n_h2g, &e[1], "host") < 0))
		return -EINVAL;
	/* Reserve both before inserting either, so a failure leaves m as it was. */
	if ((g2h && reserve(&m->g2h, m->n_g2h) < 0) || (h2g && reserve(&m->h2g, m->n_h2g) < 0))
		return -ENOMEM;
	if (g2h)
		insert_sorted(m->g2h, &m->n_g2h, &e[0]);
	if (h2g)
		insert_sorted(m->h2g, &m->n_h2g, &e[1]);
	return 0;
}

/* The entry whose range holds id, or NULL. */
static const struct idmap_entry *lookup(const struct idmap_entry *v, size_t n, uint32_t id)
{
	size_t lo = 0, hi = n;

	/* Find the first entry starting above id; the one before it is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].from <= id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || (uint64_t)id >= v[lo - 1].from + v[lo - 1].count)
		return NULL;
	return &v[lo - 1];
}

static uint32_t apply(const struct idmap_entry *e, uint32_t id)
{
	if (!e)
		return id;
	if (e->kind == IDMAP_SQUASH)
		return e->to;
	return e->to + (id - e->from); /* in range: checked when the entry was added */
}

int idmap_guest_to_host(const struct idmap *m, uint32_t guest, uint32_t *host)
{
	const struct idmap_entry *e = lookup(m->g2h, m->n_g2h, guest);
	uint32_t h;

	if (e && e->kind == IDMAP_FORBID)
		return -EPERM;
	h = apply(e, guest);
	if (h == UINT32_MAX)
		return -EPERM;
	*host = h;
	return 0;
}

uint32_t idmap_host_to_guest(const struct idmap *m, uint32_t host)
{
	return apply(lookup(m->h2g, m->n_h2g, host), host);
}
