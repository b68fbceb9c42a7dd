/* Number parsing for option values, shared by the layers that read them (fs, sandbox). */
#ifndef VFSD_UTIL_PARSE_H
#define VFSD_UTIL_PARSE_H

#include <stdint.h>

/*
 * A decimal number at *p, at most UINT32_MAX: digits only (no sign, no blanks, no base prefix).
 * Returns 0, *out and *p moved past the digits; or -EINVAL with both untouched. What follows the
 * digits is the caller's to check.
 */
int util_parse_u32(const char **p, uint32_t *out);

#endif
