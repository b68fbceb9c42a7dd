/*
 * RUST_LOG, as the Rust daemon's env_logger (0.8) reads it: comma-separated directives
 * "[target][=level]", then an optional "/regex" that a message must match. A bare level is the
 * default for every target; a bare target means all its messages; the most specific directive
 * for a target wins; with directives but none for us, nothing is printed; no directive at all
 * means errors only. Our lines all come from the target "virtiofsd": a directive for one of the
 * Rust daemon's submodules ("virtiofsd::passthrough=debug") applies to every line, since ours
 * are not split by module.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {
	[LOG_LVL_OFF] = "off",	   [LOG_LVL_ERROR] = "error", [LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",   [LOG_LVL_DEBUG] = "debug", [LOG_LVL_TRACE] = "trace",
};

static int level_of(const char *s, size_t n, enum log_level *out)
{
	for (int l = LOG_LVL_OFF; l <= LOG_LVL_TRACE; l++) {
		if (strlen(names[l]) == n && strncasecmp(names[l], s, n) == 0) {
			*out = (enum log_level)l;
			return 0;
		}
	}
	return -1;
}

struct spec_state {
	bool any;		 /* at least one directive */
	size_t best_len;	 /* length of the most specific name matching "virtiofsd" */
	bool matched;		 /* some directive matched "virtiofsd" */
	enum log_level base;	 /* its level */
	enum log_level sub;	 /* highest level given to a "virtiofsd::" submodule */
};

static void directive(struct spec_state *st, const char *name, size_t nlen, enum log_level lvl)
{
	static const char target[] = "virtiofsd";

	st->any = true;
	if (nlen > strlen(target) && strncmp(name, "virtiofsd::", 11) == 0) {
		if (lvl > st->sub)
			st->sub = lvl;
		return;
	}
	if (nlen > strlen(target) || strncmp(target, name, nlen) != 0)
		return; /* another target: a dependency's module, nothing of ours */
	if (!st->matched || nlen >= st->best_len) {
		st->matched = true;
		st->best_len = nlen;
		st->base = lvl;
	}
}

static void one_part(struct spec_state *st, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	enum log_level lvl;

	if (!eq) {
		if (level_of(s, n, &lvl) == 0)
			directive(st, "", 0, lvl); /* a bare level: every target */
		else
			directive(st, s, n, LOG_LVL_TRACE);
		return;
	}
	const char *v = eq + 1, *end = s + n;
	if (memchr(v, '=', (size_t)(end - v))) {
		fprintf(stderr, "warning: invalid logging spec '%.*s', ignoring it\n", (int)n, s);
		return;
	}
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (v == end)
		directive(st, s, (size_t)(eq - s), LOG_LVL_TRACE);
	else if (level_of(v, (size_t)(end - v), &lvl) == 0)
		directive(st, s, (size_t)(eq - s), lvl);
	else
		fprintf(stderr, "warning: invalid logging spec '%.*s', ignoring it\n",
			(int)(end - v), v);
}

enum log_level log_spec_level(const char *spec, char **filter)
{
	struct spec_state st = { .base = LOG_LVL_OFF, .sub = LOG_LVL_OFF };
	const char *slash = strchr(spec, '/');
	size_t mods_len = slash ? (size_t)(slash - spec) : strlen(spec);

	*filter = NULL;
	if (slash && strchr(slash + 1, '/')) {
		fprintf(stderr, "warning: invalid logging spec '%s', ignoring it (too many '/'s)\n",
			spec);
		return LOG_LVL_ERROR;
	}
	for (size_t i = 0; i < mods_len;) {
		size_t n = strcspn(spec + i, ",");
		if (n > mods_len - i)
			n = mods_len - i;
		if (n)
			one_part(&st, spec + i, n);
		i += n + 1;
	}
	if (slash)
		*filter = strdup(slash + 1);
	if (!st.any)
		return LOG_LVL_ERROR;
	return st.sub > st.base ? st.sub : st.base;
}
