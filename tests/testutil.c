#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The fixtures folder as an absolute path (realpath of CS_FIXTURES, default ../shared/fixtures),
 * so a path given to a test survives a symlink into another folder or a change of directory. */
char *tu_fixture(const char *rel)
{
    const char *env = getenv("CS_FIXTURES");
    if (!env || !*env) env = "../shared/fixtures";
    struct stat sb;
    if (stat(env, &sb) != 0 || !S_ISDIR(sb.st_mode))
        ck_abort_msg("fixtures folder %s is missing: set CS_FIXTURES to ../shared/fixtures", env);
    char resolved[PATH_MAX];
    if (!realpath(env, resolved)) ck_abort_msg("cannot resolve the fixtures folder %s", env);
    const char *root = resolved;
    size_t len = strlen(root) + 1 + strlen(rel) + 1;
    char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    snprintf(p, len, "%s/%s", root, rel);
    return p;
}

cs_safetensors *tu_open_golden(const char *rel)
{
    char *path = tu_fixture(rel);
    cs_safetensors *st = NULL;
    cs_status s = cs_st_open(path, &st);
    ck_assert_msg(s == CS_OK, "cannot open %s: %s", path, cs_last_error());
    free(path);
    return st;
}

float *tu_golden_f32(const cs_safetensors *st, const char *name, size_t *n)
{
    const cs_st_tensor *t = cs_st_find(st, name);
    ck_assert_msg(t != NULL, "golden tensor %s missing", name);
    float *out = malloc(t->n_elements * sizeof(float) + 1);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(cs_st_to_f32(t, out), CS_OK);
    if (n) *n = t->n_elements;
    return out;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
