/* Helpers shared by the fuzz targets (header only; each target is one translation unit):
 * the fixtures folder and one temporary folder per process for targets that must hand the code
 * under test a real file. */
#ifndef CS_FUZZ_UTIL_H
#define CS_FUZZ_UTIL_H

#include "clipsurgery.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* $CS_FIXTURES (default ../shared/fixtures) as an absolute path; exits when it is missing. */
static inline const char *fz_fixtures(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        const char *fx = getenv("CS_FIXTURES");
        if (!fx || !*fx) fx = "../shared/fixtures";
        if (!realpath(fx, path)) {
            fprintf(stderr, "fuzz: fixtures folder %s is missing (set CS_FIXTURES)\n", fx);
            exit(1);
        }
    }
    return path;
}

/* A fixture file's absolute path (static buffer per call); exits when it is missing. */
static inline const char *fz_fixture(const char *rel)
{
    static char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", fz_fixtures(), rel);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "fuzz: fixture %s is missing\n", path);
        exit(1);
    }
    return path;
}

/* With CS_FUZZ_VERBOSE set, prints each status and message on stderr (to see what a corpus
 * reaches: CS_FUZZ_VERBOSE=1 build/fuzz/fuzz_x corpus/FILE ...). Returns s. */
static inline cs_status fz_verbose(cs_status s)
{
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("CS_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "status %d %s: %s\n", (int)s, cs_status_string(s), cs_last_error());
    return s;
}

#define FZ_MAX_FILES 8
static char fz_dir[PATH_MAX];
static char fz_files[FZ_MAX_FILES][PATH_MAX + 64];
static int fz_n_files;

static inline void fz_cleanup(void)
{
    for (int i = 0; i < fz_n_files; i++) unlink(fz_files[i]);
    if (fz_dir[0]) rmdir(fz_dir);
}

/* The process's temporary folder (created on the first call, removed at exit): under /dev/shm
 * when it is writable (no disk traffic), else $TMPDIR, else /tmp. */
static inline const char *fz_tmpdir(const char *tag)
{
    if (fz_dir[0]) return fz_dir;
    const char *base = "/dev/shm";
    if (access(base, W_OK) != 0) {
        base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
    }
    snprintf(fz_dir, sizeof fz_dir, "%s/cs_fuzz_%s_XXXXXX", base, tag);
    if (!mkdtemp(fz_dir)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    atexit(fz_cleanup);
    return fz_dir;
}

/* Path of file `name` in the temporary folder; it is removed at exit. */
static inline const char *fz_tmpfile(const char *tag, const char *name)
{
    const char *dir = fz_tmpdir(tag);
    for (int i = 0; i < fz_n_files; i++) {
        const char *slash = strrchr(fz_files[i], '/');
        if (strcmp(slash + 1, name) == 0) return fz_files[i];
    }
    if (fz_n_files == FZ_MAX_FILES) {
        fprintf(stderr, "fuzz: too many temporary files\n");
        exit(1);
    }
    snprintf(fz_files[fz_n_files], sizeof fz_files[0], "%s/%s", dir, name);
    return fz_files[fz_n_files++];
}

/* Writes (replaces) a file with the given pieces; exits on an I/O error (disk full is not a
 * finding). */
static inline void fz_write(const char *path, const void *a, size_t na, const void *b, size_t nb,
                     const void *c, size_t nc)
{
    FILE *f = fopen(path, "wb");
    int ok = f && (!na || fwrite(a, 1, na, f) == na) && (!nb || fwrite(b, 1, nb, f) == nb) &&
             (!nc || fwrite(c, 1, nc, f) == nc);
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
        perror(path);
        exit(1);
    }
}

#endif
