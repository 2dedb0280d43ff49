/* Feature surgery and similarities against the reference goldens (tiny model), plus the
 * degenerate single-text case and bad inputs. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "golden/tiny-golden.safetensors"
#define TOL 1e-4

typedef struct fixture {
    cs_safetensors *st;
    float *feats;  /* normalised per token */
    float *texts;  /* [12, 64] */
    float *redundant;
    size_t n_feats;
} fixture;

static void load(fixture *f, const char *features_name, size_t expect)
{
    f->st = tu_open_golden(GOLDEN);
    f->feats = tu_golden_f32(f->st, features_name, &f->n_feats);
    ck_assert_uint_eq(f->n_feats, expect);
    cs_l2_normalize(f->feats, f->n_feats / 64, 64);
    size_t n;
    f->texts = tu_golden_f32(f->st, "text.ensemble", &n);
    ck_assert_uint_eq(n, 12 * 64);
    f->redundant = tu_golden_f32(f->st, "text.redundant", &n);
    ck_assert_uint_eq(n, 64);
}

static void unload(fixture *f)
{
    free(f->feats);
    free(f->texts);
    free(f->redundant);
    cs_st_close(f->st);
}

static void expect_golden(const fixture *f, const char *name, const float *got, size_t n)
{
    size_t gn;
    float *want = tu_golden_f32(f->st, name, &gn);
    ck_assert_uint_eq(gn, n);
    double d = tu_max_abs_diff(got, want, n);
    printf("  %s: max abs error %.3g\n", name, d);
    ck_assert_msg(d <= TOL, "%s: max abs error %g > %g", name, d, TOL);
    free(want);
}

START_TEST(raw_similarity_matches_golden)
{
    fixture f;
    load(&f, "raw.image_features", 2 * 17 * 64);
    float out[2 * 17 * 12];
    ck_assert_int_eq(cs_similarity(f.feats, 2, 17, f.texts, 12, 64, out, 2 * 17 * 12), CS_OK);
    expect_golden(&f, "raw.similarity", out, 2 * 17 * 12);
    unload(&f);
}
END_TEST

START_TEST(label_set_matches_golden)
{
    fixture f;
    load(&f, "cs.image_features", 2 * 17 * 64);
    float out[2 * 17 * 12];
    ck_assert_int_eq(
        cs_feature_surgery_label_set(f.feats, 2, 17, f.texts, 12, 64, out, 2 * 17 * 12), CS_OK);
    expect_golden(&f, "surgery.similarity", out, 2 * 17 * 12);
    unload(&f);
}
END_TEST

START_TEST(label_set_96_matches_golden)
{
    fixture f;
    load(&f, "cs96.image_features", 37 * 64);
    float out[37 * 12];
    ck_assert_int_eq(cs_feature_surgery_label_set(f.feats, 1, 37, f.texts, 12, 64, out, 37 * 12),
                     CS_OK);
    expect_golden(&f, "surgery96.similarity", out, 37 * 12);
    unload(&f);
}
END_TEST

START_TEST(empty_text_matches_golden)
{
    fixture f;
    load(&f, "cs.image_features", 2 * 17 * 64);
    float out[2 * 17 * 12];
    ck_assert_int_eq(cs_feature_surgery_empty_text(f.feats, 2, 17, f.texts, 12, f.redundant, 64,
                                                   out, 2 * 17 * 12),
                     CS_OK);
    expect_golden(&f, "surgery.similarity_redundant", out, 2 * 17 * 12);
    unload(&f);
}
END_TEST

START_TEST(batch_equals_one_at_a_time)
{
    fixture f;
    load(&f, "cs.image_features", 2 * 17 * 64);
    float both[2 * 17 * 12], one[17 * 12];
    ck_assert_int_eq(
        cs_feature_surgery_label_set(f.feats, 2, 17, f.texts, 12, 64, both, 2 * 17 * 12), CS_OK);
    ck_assert_int_eq(
        cs_feature_surgery_label_set(f.feats + 17 * 64, 1, 17, f.texts, 12, 64, one, 17 * 12),
        CS_OK);
    ck_assert(tu_max_abs_diff(both + 17 * 12, one, 17 * 12) <= 1e-6);
    unload(&f);
}
END_TEST

START_TEST(single_text_is_degenerate_zero)
{
    fixture f;
    load(&f, "cs.image_features", 2 * 17 * 64);
    float out[2 * 17];
    for (int i = 0; i < 2 * 17; i++) out[i] = 5.0f;
    ck_assert_int_eq(cs_feature_surgery_label_set(f.feats, 2, 17, f.texts, 1, 64, out, 2 * 17),
                     CS_ERR_DEGENERATE);
    ck_assert(strlen(cs_last_error()) > 0);
    for (int i = 0; i < 2 * 17; i++) ck_assert_float_eq(out[i], 0.0f);
    /* The empty-text form is fine with one text and equals column 0 of the 12-text result. */
    float all[2 * 17 * 12];
    ck_assert_int_eq(cs_feature_surgery_empty_text(f.feats, 2, 17, f.texts, 1, f.redundant, 64,
                                                   out, 2 * 17), CS_OK);
    ck_assert_int_eq(cs_feature_surgery_empty_text(f.feats, 2, 17, f.texts, 12, f.redundant, 64,
                                                   all, 2 * 17 * 12), CS_OK);
    for (int i = 0; i < 2 * 17; i++) ck_assert_float_eq_tol(out[i], all[i * 12], 1e-6f);
    unload(&f);
}
END_TEST

START_TEST(l2_normalize_rows)
{
    float x[6] = {3, 4, 0, 0, 0, 0};
    cs_l2_normalize(x, 2, 3);
    ck_assert_float_eq_tol(x[0], 0.6f, 1e-7f);
    ck_assert_float_eq_tol(x[1], 0.8f, 1e-7f);
    ck_assert_float_eq(x[2], 0.0f);
    for (int i = 3; i < 6; i++) ck_assert_float_eq(x[i], 0.0f); /* zero row stays zero */
    cs_l2_normalize(NULL, 2, 3); /* no crash */
}
END_TEST

START_TEST(bad_inputs)
{
    float f[2 * 4] = {1, 0, 0, 1, 1, 1, 0, 0}, g[2 * 4] = {1, 0, 0, 0, 0, 1, 0, 0}, r[4] = {0};
    float out[4];
    for (int i = 0; i < 4; i++) out[i] = -3.0f;
    ck_assert_int_eq(cs_similarity(NULL, 1, 2, g, 2, 4, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, 2, NULL, 2, 4, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, 2, g, 2, 4, NULL, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 0, 2, g, 2, 4, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, -2, g, 2, 4, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, 2, g, 0, 4, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, 2, g, 2, 0, out, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity(f, 1, 2, g, 2, 4, out, 3), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_similarity(f, 0x7fffffff, 0x7fffffff, g, 0x7fffffff, 4, out, 4),
                     CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_feature_surgery_label_set(f, 1, 2, g, 2, 4, out, 3),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_feature_surgery_label_set(f, 1, 2, NULL, 2, 4, out, 4),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_feature_surgery_label_set(f, 1, 2, g, 1, 4, out, 1),
                     CS_ERR_BUFFER_TOO_SMALL); /* capacity checked before the T == 1 rule */
    ck_assert_int_eq(cs_feature_surgery_empty_text(f, 1, 2, g, 2, NULL, 4, out, 4),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_feature_surgery_empty_text(f, 1, 2, g, 2, r, 4, out, 3),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_feature_surgery_empty_text(f, 1, 2, g, 2, r, -1, out, 4),
                     CS_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(out[i], -3.0f); /* nothing written */
    /* and a valid small call works: S = F G^T */
    ck_assert_int_eq(cs_similarity(f, 1, 2, g, 2, 4, out, 4), CS_OK);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], 0.0f);
    ck_assert_float_eq(out[2], 1.0f);
    ck_assert_float_eq(out[3], 1.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("feature_surgery");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, raw_similarity_matches_golden);
    tcase_add_test(tc, label_set_matches_golden);
    tcase_add_test(tc, label_set_96_matches_golden);
    tcase_add_test(tc, empty_text_matches_golden);
    tcase_add_test(tc, batch_equals_one_at_a_time);
    tcase_add_test(tc, single_text_is_degenerate_zero);
    tcase_add_test(tc, l2_normalize_rows);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
