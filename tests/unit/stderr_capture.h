/* For unit tests that check what the user is told: stderr written into a temporary file while a
 * call runs, then read back into a buffer. Include after <cmocka.h>. */
#ifndef VFSD_TEST_STDERR_CAPTURE_H
#define VFSD_TEST_STDERR_CAPTURE_H

#include <stdio.h>
#include <unistd.h>

/* Points stderr at a new temporary file; *saved keeps the old one for stderr_capture_end(). */
static inline FILE *stderr_capture_begin(int *saved)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	*saved = dup(STDERR_FILENO);
	assert_true(*saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	return f;
}

/* Puts stderr back and leaves what was written meanwhile in buf, NUL-terminated. */
static inline void stderr_capture_end(FILE *f, int saved, char *buf, size_t size)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

#endif
