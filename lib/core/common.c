/* Error reporting (thread-local), status strings, version, checked allocation, file reading. */
#include "core/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Thread-local message: the conventions allow per-thread detail; no global buffer is shared. */
static _Thread_local char tls_message[1024];

cs_status cs_fail(cs_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    return status;
}

void cs_clear_error(void) { tls_message[0] = '\0'; }

CS_API const char *cs_last_error(void) { return tls_message; }

CS_API const char *cs_status_string(cs_status status)
{
    switch (status) {
    case CS_OK: return "ok";
    case CS_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CS_ERR_OUT_OF_MEMORY: return "out of memory";
    case CS_ERR_IO: return "input/output error";
    case CS_ERR_FORMAT: return "malformed file";
    case CS_ERR_UNSUPPORTED: return "unsupported";
    case CS_ERR_MISSING_TENSOR: return "missing tensor";
    case CS_ERR_SHAPE: return "shape mismatch";
    case CS_ERR_TOO_LARGE: return "too large";
    case CS_ERR_TEXT_TOO_LONG: return "text too long for the context";
    case CS_ERR_NO_VOCABULARY: return "no vocabulary";
    case CS_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case CS_ERR_DEGENERATE: return "degenerate input";
    case CS_ERR_CORRUPT_DATA: return "corrupt data";
    case CS_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

#define CS_STR2(x) #x
#define CS_STR(x) CS_STR2(x)

CS_API unsigned cs_version(void) { return CS_VERSION_NUMBER; }

CS_API const char *cs_version_string(void)
{
    return CS_STR(CS_VERSION_MAJOR) "." CS_STR(CS_VERSION_MINOR) "." CS_STR(CS_VERSION_PATCH);
}

void *cs_alloc_array(size_t n, size_t elem)
{
    size_t bytes;
    if (n == 0 || elem == 0 || !cs_mul_size(n, elem, &bytes)) return NULL;
    return malloc(bytes);
}

void *cs_calloc_array(size_t n, size_t elem)
{
    if (n == 0 || elem == 0) return NULL;
    return calloc(n, elem);
}

cs_status cs_output_target(const char *path, char **target)
{
    struct stat sb;
    char *t = NULL;
    if (lstat(path, &sb) != 0) {
        if (errno != ENOENT) return cs_fail(CS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        t = strdup(path);
    } else if (S_ISLNK(sb.st_mode)) {
        t = realpath(path, NULL);
        if (!t) return cs_fail(CS_ERR_IO, "cannot write %s: a symlink to nowhere (%s)", path, strerror(errno));
        if (stat(t, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            cs_status s = cs_fail(CS_ERR_IO, "refusing to write %s: it links to %s, which is not a regular file", path, t);
            free(t);
            return s;
        }
    } else if (S_ISDIR(sb.st_mode)) {
        return cs_fail(CS_ERR_IO, "cannot write %s: %s", path, strerror(EISDIR));
    } else if (!S_ISREG(sb.st_mode)) {
        return cs_fail(CS_ERR_IO, "refusing to write %s: it exists and is not a regular file (a device, FIFO or socket)", path);
    } else {
        t = strdup(path);
    }
    if (!t) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
    *target = t;
    return CS_OK;
}

int cs_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

cs_status cs_read_file(const char *path, size_t max_size, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cs_fail(CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return cs_fail(CS_ERR_IO, "%s is not a regular file", path);
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return cs_fail(CS_ERR_IO, "cannot seek %s", path);
    }
    long len = ftell(f);
    if (len < 0) {
        fclose(f);
        return cs_fail(CS_ERR_IO, "cannot size %s", path);
    }
    if ((unsigned long)len > max_size) {
        fclose(f);
        return cs_fail(CS_ERR_TOO_LARGE, "%s is %ld bytes, over the limit of %zu", path, len,
                       max_size);
    }
    rewind(f);
    char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cannot allocate %ld bytes for %s", len, path);
    }
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return cs_fail(CS_ERR_IO, "cannot read %s", path);
    }
    fclose(f);
    buf[len] = '\0';
    *data = buf;
    *size = (size_t)len;
    return CS_OK;
}
