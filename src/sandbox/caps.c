/*
 * Capabilities, as root (or as uid 0 of the daemon's own user namespace): keep only what the
 * passthrough filesystem uses when it acts for the guest, adjusted by --modcaps.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cap-ng.h>
#include <linux/capability.h>

#include "log.h"
#include "sandbox/internal.h"

#define BIT(c) (UINT64_C(1) << (c))

static const uint64_t base_caps = BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) |
				  BIT(CAP_FSETID) | BIT(CAP_SETGID) | BIT(CAP_SETUID) |
				  BIT(CAP_MKNOD) | BIT(CAP_SETFCAP);

/* Per-request credentials need SETUID/SETGID; open_by_handle_at needs DAC_READ_SEARCH. */
static uint64_t needed_caps(const struct sb_caps_opts *o)
{
	return BIT(CAP_SETUID) | BIT(CAP_SETGID) | (o->file_handles ? BIT(CAP_DAC_READ_SEARCH) : 0);
}

static int lookup_cap(const char *name, size_t len)
{
	char buf[32];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[len] = '\0';
	int c = capng_name_to_capability(buf);
	return c >= 0 && c < 64 ? c : -1;
}

/* The final set: base (+ DAC_READ_SEARCH with file handles), then --modcaps in order. */
static int compute_caps(const struct sb_caps_opts *o, uint64_t *out)
{
	uint64_t caps = base_caps | needed_caps(o);
	const char *p = o->modcaps;

	while (p && *p) {
		size_t len = strcspn(p, ":");
		char sign = *p;
		int c = len > 1 ? lookup_cap(p + 1, len - 1) : -1;

		if (sign != '+' && sign != '-') {
			fprintf(stderr, "virtiofsd: invalid --modcaps item '%.*s': expected "
					"+name or -name (e.g. +sys_admin:-mknod)\n", (int)len, p);
			return -EINVAL;
		}
		if (c < 0) {
			fprintf(stderr, "virtiofsd: invalid --modcaps item '%.*s': unknown "
					"capability name (use names without CAP_, e.g. sys_admin)\n",
				(int)len, p);
			return -EINVAL;
		}
		if (sign == '-' && (needed_caps(o) & BIT(c))) {
			fprintf(stderr, "virtiofsd: --modcaps cannot remove %.*s: the daemon needs it "
					"with these options\n", (int)len - 1, p + 1);
			return -EINVAL;
		}
		caps = sign == '+' ? caps | BIT(c) : caps & ~BIT(c);
		p += len;
		if (*p == ':')
			p++;
	}
	*out = caps;
	return 0;
}

int sb_caps_check(const struct sb_caps_opts *o)
{
	uint64_t caps;
	return compute_caps(o, &caps);
}

int sb_drop_caps(const struct sb_caps_opts *o)
{
	uint64_t caps;
	int r = compute_caps(o, &caps);

	if (r < 0)
		return r;
	/* Not root, and no capabilities to narrow: as a plain user. (In a user namespace
	 * whose map leaves the caller's own uid, the daemon is not root but holds the
	 * namespace's capabilities: those are narrowed as root's are.) */
	capng_get_caps_process();
	if (geteuid() != 0 && capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE) {
		if (o->modcaps)
			log_warn("--modcaps ignored: not running as root, no capabilities to keep");
		return 0;
	}
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOTH);
	for (int c = 0; c < 64; c++) {
		if (!(caps & BIT(c)))
			continue;
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned)c) < 0) {
			log_error("sandbox: capability %s is not known to this kernel",
				  capng_capability_to_name((unsigned)c));
			return -EINVAL;
		}
	}
	r = capng_apply(CAPNG_SELECT_BOTH);
	if (r < 0) {
		log_error("sandbox: applying the capability sets failed (libcap-ng error %d)", r);
		return -EPERM;
	}
	return 0;
}

void sb_caps_drop_all(void)
{
	capng_get_caps_process();
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		log_warn("sandbox: the waiting parent could not drop its capabilities");
}
