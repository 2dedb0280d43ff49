/* On-disk cache of prompt ensembles, one small file per (model identity, class name). */
#include "cli_job.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "CSTF1\n"

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Identity of a file or folder: real path, size and modification time. */
static uint64_t identity(uint64_t h, const char *path)
{
    if (!path) return fnv1a(h, "-", 1);
    char real[PATH_MAX];
    const char *p = realpath(path, real) ? real : path;
    h = fnv1a(h, p, strlen(p) + 1);
    struct stat sb;
    if (stat(p, &sb) == 0) {
        int64_t v[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                        (int64_t)sb.st_mtim.tv_nsec};
        h = fnv1a(h, v, sizeof v);
    }
    return h;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int cache_dir(char *buf, size_t cap, uint64_t model_id)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/clipsurgery/%016llx", xdg, (unsigned long long)model_id);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/clipsurgery/%016llx", home, (unsigned long long)model_id);
    else
        return -1;
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int cli_text_cache_parse(const void *data, size_t size, const char *name, int dim, float *out)
{
    const unsigned char *p = data;
    size_t len = strlen(name);
    uint32_t d, l;
    if (dim < 0 || len > UINT32_MAX || size < 14 || memcmp(p, CACHE_MAGIC, 6) != 0) return -1;
    memcpy(&d, p + 6, 4);
    memcpy(&l, p + 10, 4);
    if (d != (uint32_t)dim || l != (uint32_t)len) return -1;
    /* exactly the name and dim floats after the 14-byte head: no trailing bytes */
    if ((size - 14) / sizeof(float) < (size_t)dim ||
        size - 14 - sizeof(float) * (size_t)dim != len ||
        memcmp(p + 14, name, len) != 0)
        return -1;
    memcpy(out, p + 14 + len, sizeof(float) * (size_t)dim);
    /* a damaged entry (NaN, infinity, trailing bytes) is recomputed, never used */
    for (int i = 0; i < dim; i++)
        if (!isfinite(out[i])) return -1;
    return 0;
}

static int read_entry(const char *file, const char *name, int dim, float *out)
{
    FILE *f = fopen(file, "rb");
    if (!f) return -1;
    /* a valid entry has exactly this size; one byte more is read to see trailing bytes */
    size_t want = 14 + strlen(name) + sizeof(float) * (size_t)(dim > 0 ? dim : 0);
    unsigned char *buf = malloc(want + 1);
    size_t got = buf ? fread(buf, 1, want + 1, f) : 0;
    fclose(f);
    int rc = buf ? cli_text_cache_parse(buf, got, name, dim, out) : -1;
    free(buf);
    return rc;
}

static void write_entry(const char *file, const char *name, int dim, const float *v)
{
    char tmp[PATH_MAX + 128];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", file, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    uint32_t d = (uint32_t)dim, len = (uint32_t)strlen(name);
    int ok = fwrite(CACHE_MAGIC, 1, 6, f) == 6 && fwrite(&d, 4, 1, f) == 1 &&
             fwrite(&len, 4, 1, f) == 1 && fwrite(name, 1, len, f) == len &&
             fwrite(v, sizeof(float), (size_t)dim, f) == (size_t)dim;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, file) != 0) remove(tmp);
}

int cli_cached_ensemble(const char *cmd, cs_context *ctx, const char *model_path, const char *vocab,
                        unsigned precision_flags,
                        int use_cache, const char *const *names, int n, int dim, float *out)
{
    char dir[PATH_MAX];
    /* the library version is part of the key: a release may change templates or arithmetic */
    unsigned version = cs_version();
    /* so are the GEMM engine and the precision: their products differ in the last bits */
    const char *engine = cs_gemm_engine();
    uint64_t id = fnv1a(14695981039346656037ull, &version, sizeof version);
    id = fnv1a(fnv1a(id, &precision_flags, sizeof precision_flags), engine, strlen(engine));
    id = identity(identity(id, model_path), vocab);
    if (use_cache && (cache_dir(dir, sizeof dir, id) != 0 || mkdirs(dir) != 0)) use_cache = 0;
    /* which names are missing */
    const char **missing = malloc(sizeof *missing * (size_t)(n > 0 ? n : 1));
    int *slot = malloc(sizeof *slot * (size_t)(n > 0 ? n : 1));
    if (!missing || !slot) {
        free(missing);
        free(slot);
        fprintf(stderr, "clipsurgery %s: out of memory\n", cmd);
        return CLI_RUNTIME;
    }
    int n_missing = 0;
    char file[PATH_MAX + 64];
    for (int i = 0; i < n; i++) {
        if (use_cache) {
            uint64_t h = fnv1a(14695981039346656037ull, names[i], strlen(names[i]));
            snprintf(file, sizeof file, "%s/%016llx.f32", dir, (unsigned long long)h);
            if (read_entry(file, names[i], dim, out + (size_t)i * dim) == 0) continue;
        }
        missing[n_missing] = names[i];
        slot[n_missing++] = i;
    }
    int rc = CLI_OK;
    if (n_missing > 0) {
        float *fresh = malloc(sizeof(float) * (size_t)n_missing * (size_t)dim);
        cs_status s = fresh ? cs_prompt_ensemble(ctx, missing, n_missing, fresh,
                                                 (size_t)n_missing * (size_t)dim)
                            : CS_ERR_OUT_OF_MEMORY;
        if (s != CS_OK) {
            rc = cli_status_error(cmd, "prompt ensemble", s);
        } else {
            for (int j = 0; j < n_missing; j++) {
                memcpy(out + (size_t)slot[j] * dim, fresh + (size_t)j * dim,
                       sizeof(float) * (size_t)dim);
                if (use_cache) {
                    uint64_t h = fnv1a(14695981039346656037ull, missing[j], strlen(missing[j]));
                    snprintf(file, sizeof file, "%s/%016llx.f32", dir, (unsigned long long)h);
                    write_entry(file, missing[j], dim, fresh + (size_t)j * dim);
                }
            }
        }
        free(fresh);
    }
    free(missing);
    free(slot);
    return rc;
}
