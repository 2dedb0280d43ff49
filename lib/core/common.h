/* Internal helpers shared by every module: error reporting, checked size arithmetic, file
 * reading. The GEMM wrapper is core/gemm.h. Not installed. */
#ifndef CS_COMMON_H
#define CS_COMMON_H

#include "clipsurgery.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CS_PRINTF(a, b)
#endif

/* Binds `impl` to `name@version` in the shared library: the implementation that binaries linked
 * against an older release keep calling (ELF symbol versioning, abi/README.md). Used when a
 * params struct grows: the old node's _default() must write only the old, shorter struct.
 * `impl` stays hidden under its own name (the version script's local: *). */
#if defined(__ELF__) && defined(__GNUC__)
#define CS_COMPAT_SYMBOL(impl, name, version) __asm__(".symver " #impl "," #name "@" #version)
#else
#define CS_COMPAT_SYMBOL(impl, name, version)
#endif

/* Records a detailed message for the calling thread and returns `status`, so a failing path is
 * `return cs_fail(CS_ERR_FORMAT, "header length %zu past end of file", n);`. */
cs_status cs_fail(cs_status status, const char *fmt, ...) CS_PRINTF(2, 3);
/* Clears the calling thread's message (every public entry point may call it first). */
void cs_clear_error(void);

/* Checked size arithmetic: return 0 and leave *out untouched on overflow. */
static inline int cs_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}
static inline int cs_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* Allocation of n elements of `elem` bytes with overflow check; NULL on failure or n == 0. */
void *cs_alloc_array(size_t n, size_t elem);
void *cs_calloc_array(size_t n, size_t elem);

/* Where an output file may be written by "temporary file + rename": `path` itself when it does not
 * exist or is a regular file; the file a symlink finally points to (so the link is kept and its
 * target replaced); CS_ERR_IO for a dangling link or a target that is not a regular file (a
 * device, FIFO, socket or folder is never replaced by a regular file). *target: malloc'd. */
cs_status cs_output_target(const char *path, char **target);

/* Number of online cores (>= 1). */
int cs_online_cores(void);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience; *size excludes the
 * NUL). Refuses files larger than max_size with CS_ERR_TOO_LARGE. */
cs_status cs_read_file(const char *path, size_t max_size, char **data, size_t *size);

#endif
