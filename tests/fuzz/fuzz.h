/* Shared by the fuzz targets: the libFuzzer entry point and a small input reader. */
#ifndef VFSD_FUZZ_H
#define VFSD_FUZZ_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Consume bytes from the input; past the end, reads give zeros. */
struct fz {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fz_take(struct fz *f, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && f->left > 0; i++, f->p++, f->left--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

/* xorshift: deterministic cut points from a seed taken out of the input. */
static inline uint32_t fz_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)*s;
}

/* Open descriptors of the process, to check that an input leaves none behind. */
static inline int fz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#endif
