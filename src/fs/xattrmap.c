/*
 * xattr name mapping. A map is an ordered list of rules; the first rule whose scope covers the
 * direction and whose prefix matches the name decides. Client names (from the guest) are matched
 * against `key`, server names (from the host's listxattr) against `prepend`.
 *
 * The parser is stricter than the Rust daemon in two places, both where Rust fails later at run
 * time instead: a map that leaves some name without a rule is refused up front, and a separator
 * must be a printable ASCII character.
 */
#include "fs/xattrmap.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

#include "log.h"

/* A sane bound for a command-line map; each guest xattr request walks the list. */
#define XM_MAX_RULES 1024

enum xm_type {
	XM_PREFIX,
	XM_OK,
	XM_BAD,
	XM_UNSUPPORTED,
};

enum {
	XM_CLIENT = 1,
	XM_SERVER = 2,
	XM_ALL = XM_CLIENT | XM_SERVER,
};

struct xm_rule {
	enum xm_type type;
	unsigned scope;
	char *key; /* matched against guest names */
	size_t key_len;
	char *prepend; /* prepended to guest names; matched against and stripped from host names */
	size_t prepend_len;
};

struct xattrmap {
	struct xm_rule *rules;
	size_t n;
	char cap_name[XATTR_NAME_MAX + 1]; /* empty: security.capability is not remapped */
};

struct xm_parser {
	const char *p; /* next unread character */
	unsigned rule_no; /* 1-based, for messages */
	char sep;
};

struct xm_name {
	const char *s;
	size_t len;
};

static const struct {
	const char *name;
	enum xm_type type;
} type_names[] = {
	{ "prefix", XM_PREFIX },
	{ "ok", XM_OK },
	{ "bad", XM_BAD },
	{ "unsupported", XM_UNSUPPORTED },
};

static const struct {
	const char *name;
	unsigned scope;
} scope_names[] = {
	{ "client", XM_CLIENT },
	{ "server", XM_SERVER },
	{ "all", XM_ALL },
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static const char *skip_blank(const char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

static bool tok_eq(struct xm_name t, const char *s)
{
	return t.len == strlen(s) && memcmp(t.s, s, t.len) == 0;
}

/* Read one field, up to and past the rule's separator. */
static int next_field(struct xm_parser *ps, const char *what, struct xm_name *out)
{
	const char *end = strchr(ps->p, ps->sep);

	if (!end) {
		log_error("xattrmap rule %u: incomplete rule: no closing '%c' after the %s field "
			  "(expected %ctype%cscope%ckey%cprepend%c)",
			  ps->rule_no, ps->sep, what, ps->sep, ps->sep, ps->sep, ps->sep, ps->sep);
		return -EINVAL;
	}
	out->s = ps->p;
	out->len = (size_t)(end - ps->p);
	ps->p = end + 1;
	return 0;
}

static int add_rule(struct xattrmap *m, unsigned rule_no, enum xm_type type, unsigned scope,
		    struct xm_name key, struct xm_name prepend)
{
	if (m->n >= XM_MAX_RULES) {
		log_error("xattrmap rule %u: too many rules (at most %d)", rule_no, XM_MAX_RULES);
		return -EINVAL;
	}
	struct xm_rule *rules = realloc(m->rules, (m->n + 1) * sizeof(*rules));
	if (!rules)
		return -ENOMEM;
	m->rules = rules;
	struct xm_rule *r = &rules[m->n];
	r->type = type;
	r->scope = scope;
	r->key = strndup(key.s, key.len);
	r->prepend = strndup(prepend.s, prepend.len);
	if (!r->key || !r->prepend) {
		free(r->key);
		free(r->prepend);
		return -ENOMEM;
	}
	r->key_len = key.len;
	r->prepend_len = prepend.len;
	m->n++;
	return 0;
}

static int check_names(const struct xm_parser *ps, struct xm_name key, struct xm_name prepend)
{
	if (key.len > XATTR_NAME_MAX || prepend.len > XATTR_NAME_MAX) {
		log_error("xattrmap rule %u: %s is longer than %d bytes", ps->rule_no,
			  key.len > XATTR_NAME_MAX ? "key" : "prepend", XATTR_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/*
 * `map:key:prepend` is shorthand for the rules the documentation gives: prefix everything (or
 * `key`) with `prepend`; then either hide every other host name (empty key), or refuse guest
 * names that already carry `prepend` and hide unprefixed `key` names on the host, and let the
 * rest through unchanged.
 */
static int expand_map(struct xattrmap *m, const struct xm_parser *ps, struct xm_name key,
		      struct xm_name prepend)
{
	const struct xm_name empty = { "", 0 };
	int r;

	if (*skip_blank(ps->p)) {
		log_error("xattrmap rule %u: 'map' must be the last rule, and there may be only "
			  "one",
			  ps->rule_no);
		return -EINVAL;
	}
	r = add_rule(m, ps->rule_no, XM_PREFIX, XM_ALL, key, prepend);
	if (r < 0)
		return r;
	if (key.len == 0)
		return add_rule(m, ps->rule_no, XM_BAD, XM_ALL, empty, empty);
	/* Client side matches the key field, server side the prepend field: swapped on purpose. */
	r = add_rule(m, ps->rule_no, XM_BAD, XM_ALL, prepend, key);
	if (r < 0)
		return r;
	return add_rule(m, ps->rule_no, XM_OK, XM_ALL, empty, empty);
}

static int lookup_type(const struct xm_parser *ps, struct xm_name t, enum xm_type *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (tok_eq(t, type_names[i].name)) {
			*out = type_names[i].type;
			return 0;
		}
	}
	log_error("xattrmap rule %u: unknown type '%.*s' (expected prefix, ok, bad, unsupported "
		  "or map)",
		  ps->rule_no, (int)(t.len > 64 ? 64 : t.len), t.s);
	return -EINVAL;
}

static int lookup_scope(const struct xm_parser *ps, struct xm_name t, unsigned *out)
{
	for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
		if (tok_eq(t, scope_names[i].name)) {
			*out = scope_names[i].scope;
			return 0;
		}
	}
	log_error("xattrmap rule %u: unknown scope '%.*s' (expected client, server or all)",
		  ps->rule_no, (int)(t.len > 64 ? 64 : t.len), t.s);
	return -EINVAL;
}

static int parse_rule(struct xattrmap *m, struct xm_parser *ps)
{
	struct xm_name type, scope, key, prepend;
	enum xm_type t = XM_OK;
	unsigned sc = 0;
	int r;

	ps->sep = *ps->p++;
	if ((unsigned char)ps->sep < 0x21 || (unsigned char)ps->sep > 0x7e) {
		log_error("xattrmap rule %u: the separator (first character of a rule) must be a "
			  "printable ASCII character, not byte 0x%02x",
			  ps->rule_no, (unsigned char)ps->sep);
		return -EINVAL;
	}
	r = next_field(ps, "type", &type);
	if (r < 0)
		return r;
	if (tok_eq(type, "map")) {
		r = next_field(ps, "key", &key);
		if (r == 0)
			r = next_field(ps, "prepend", &prepend);
		if (r == 0)
			r = check_names(ps, key, prepend);
		return r < 0 ? r : expand_map(m, ps, key, prepend);
	}
	r = lookup_type(ps, type, &t);
	if (r == 0)
		r = next_field(ps, "scope", &scope);
	if (r == 0)
		r = lookup_scope(ps, scope, &sc);
	if (r == 0)
		r = next_field(ps, "key", &key);
	if (r == 0)
		r = next_field(ps, "prepend", &prepend);
	if (r == 0)
		r = check_names(ps, key, prepend);
	return r < 0 ? r : add_rule(m, ps->rule_no, t, sc, key, prepend);
}

/* Every name must meet some rule in both directions, or a guest request has no answer. */
static int check_catch_all(const struct xattrmap *m)
{
	bool client = false, server = false;

	for (size_t i = 0; i < m->n; i++) {
		const struct xm_rule *r = &m->rules[i];
		client |= (r->scope & XM_CLIENT) && r->key_len == 0;
		server |= (r->scope & XM_SERVER) && r->prepend_len == 0;
	}
	if (!client)
		log_error("xattrmap: no catch-all rule for names from the guest: add a final rule "
			  "with scope client or all and an empty key, e.g. ':ok:all:::' or "
			  "':bad:all:::'");
	else if (!server)
		log_error("xattrmap: no catch-all rule for names from the host: add a final rule "
			  "with scope server or all and an empty prepend, e.g. ':ok:all:::' or "
			  "':bad:all:::'");
	return client && server ? 0 : -EINVAL;
}

static void find_capability_name(struct xattrmap *m)
{
	static const char cap[] = "security.capability";
	char buf[XATTR_NAME_MAX + 1];

	m->cap_name[0] = '\0';
	if (xattrmap_to_host(m, cap, buf, sizeof(buf)) == 0 && strcmp(buf, cap) != 0)
		memcpy(m->cap_name, buf, sizeof(buf));
}

int xattrmap_parse(const char *spec, struct xattrmap **out)
{
	struct xm_parser ps = { .p = spec, .rule_no = 0 };
	struct xattrmap *m = calloc(1, sizeof(*m));
	int r = 0;

	if (!m)
		return -ENOMEM;
	for (ps.p = skip_blank(ps.p); *ps.p && r == 0; ps.p = skip_blank(ps.p)) {
		ps.rule_no++;
		r = parse_rule(m, &ps);
	}
	if (r < 0)
		goto out_free;
	if (m->n == 0) {
		log_error("xattrmap: the map is empty: give at least one rule, e.g. "
			  "':map::user.virtiofs.:'");
		r = -EINVAL;
		goto out_free;
	}
	r = check_catch_all(m);
	if (r < 0)
		goto out_free;
	find_capability_name(m);
	*out = m;
	return 0;
out_free:
	xattrmap_free(m);
	return r;
}

void xattrmap_free(struct xattrmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->rules[i].key);
		free(m->rules[i].prepend);
	}
	free(m->rules);
	free(m);
}

static const struct xm_rule *find_rule(const struct xattrmap *m, unsigned scope, const char *name,
				       size_t len)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct xm_rule *r = &m->rules[i];
		const char *pfx = scope == XM_CLIENT ? r->key : r->prepend;
		size_t plen = scope == XM_CLIENT ? r->key_len : r->prepend_len;

		if ((r->scope & scope) && len >= plen && memcmp(name, pfx, plen) == 0)
			return r;
	}
	return NULL;
}

int xattrmap_to_host(const struct xattrmap *m, const char *guest_name, char *buf, size_t size)
{
	size_t len = strnlen(guest_name, XATTR_NAME_MAX + 1);
	const char *pre = "";
	size_t plen = 0;

	if (len == 0 || len > XATTR_NAME_MAX)
		return -ERANGE;
	if (m) {
		const struct xm_rule *r = find_rule(m, XM_CLIENT, guest_name, len);
		/* !r cannot happen: the parser insists on a catch-all */
		if (!r || r->type == XM_BAD)
			return -EPERM;
		if (r->type == XM_UNSUPPORTED)
			return -ENOTSUP;
		if (r->type == XM_PREFIX) {
			pre = r->prepend;
			plen = r->prepend_len;
		}
	}
	if (plen + len > XATTR_NAME_MAX)
		return -ERANGE;
	if (plen + len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, pre, plen);
	memcpy(buf + plen, guest_name, len + 1);
	return 0;
}

/* Whether the guest may see host name; *strip is how many leading bytes it loses. */
static bool guest_sees(const struct xattrmap *m, const char *name, size_t len, size_t *strip)
{
	*strip = 0;
	if (!m)
		return true;
	const struct xm_rule *r = find_rule(m, XM_SERVER, name, len);
	if (!r)
		return false;
	if (r->type == XM_PREFIX)
		*strip = r->prepend_len;
	return r->type == XM_PREFIX || r->type == XM_OK;
}

/* One pass over the host list; writes only when out is not NULL. Returns the output length. */
static size_t list_pass(const struct xattrmap *m, const char *list, size_t len, char *out)
{
	size_t pos = 0, total = 0, strip;

	while (pos < len) {
		const char *name = list + pos;
		size_t n = strnlen(name, len - pos);

		pos += n + 1; /* an unterminated last name ends the list as well */
		if (n == 0 || !guest_sees(m, name, n, &strip) || n == strip)
			continue;
		if (out) {
			/* memmove: out may be the host list itself, and never runs ahead of it */
			memmove(out + total, name + strip, n - strip);
			out[total + n - strip] = '\0';
		}
		total += n - strip + 1;
	}
	return total;
}

int xattrmap_list_to_guest(const struct xattrmap *m, const char *host_list, size_t len, char *out,
			   size_t outsize)
{
	if (len >= INT_MAX)
		return -E2BIG;
	size_t total = list_pass(m, host_list, len, NULL);
	if (outsize == 0)
		return (int)total;
	if (total > outsize)
		return -ERANGE;
	list_pass(m, host_list, len, out);
	return (int)total;
}

const char *xattrmap_capability_name(const struct xattrmap *m)
{
	return m && m->cap_name[0] ? m->cap_name : NULL;
}
