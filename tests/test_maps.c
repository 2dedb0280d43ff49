/* Similarity maps, segmentation and multi-label scores against the reference goldens, plus
 * constructed cases and bad inputs. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "golden/tiny-golden.safetensors"
#define TOL 1e-4

static void check_maps(const char *sim_name, int batch, int side, const char *map_name, int oh,
                       int ow)
{
    cs_safetensors *st = tu_open_golden(GOLDEN);
    size_t ns, nm;
    float *sim = tu_golden_f32(st, sim_name, &ns);
    float *want = tu_golden_f32(st, map_name, &nm);
    const size_t n_tokens = 1 + (size_t)side * side, per = (size_t)oh * ow * 12;
    ck_assert_uint_eq(ns, (size_t)batch * n_tokens * 12);
    ck_assert_uint_eq(nm, (size_t)batch * per);
    float *got = malloc(nm * sizeof *got);
    ck_assert_ptr_nonnull(got);
    for (int b = 0; b < batch; b++)
        ck_assert_int_eq(cs_similarity_maps(sim + (size_t)b * n_tokens * 12, side, side, 12, oh,
                                            ow, got + (size_t)b * per, per),
                         CS_OK);
    double d = tu_max_abs_diff(got, want, nm);
    printf("  %s: max abs error %.3g\n", map_name, d);
    ck_assert_msg(d <= TOL, "%s: max abs error %g", map_name, d);
    float lo = got[0], hi = got[0];
    for (size_t i = 0; i < nm; i++) {
        if (got[i] < lo) lo = got[i];
        if (got[i] > hi) hi = got[i];
    }
    ck_assert(lo >= 0.0f && hi <= 1.0f);
    free(sim);
    free(want);
    free(got);
    cs_st_close(st);
}

START_TEST(maps_75x100_match_golden)
{
    check_maps("surgery.similarity", 2, 4, "surgery.map_75x100", 75, 100);
}
END_TEST

START_TEST(maps_300x451_match_golden)
{
    check_maps("surgery96.similarity", 1, 6, "surgery96.map_300x451", 300, 451);
}
END_TEST

START_TEST(constant_column_gives_zero_map)
{
    /* 2x2 grid, 2 texts: text 0 varies, text 1 is constant (the reference would give NaN). */
    const float sim[5 * 2] = {9, 9, 0, 0.5f, 1, 0.5f, 2, 0.5f, 4, 0.5f};
    float maps[3 * 3 * 2];
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 2, 3, 3, maps, 18), CS_OK);
    for (int i = 0; i < 9; i++) {
        ck_assert(!isnan(maps[2 * i + 1]));
        ck_assert_float_eq(maps[2 * i + 1], 0.0f);
    }
    /* text 0: min-max gives {0, .25, .5, 1}; output corner (0,0) samples cell (0,0) exactly. */
    ck_assert_float_eq(maps[0], 0.0f);
    ck_assert_float_eq(maps[(2 * 3 + 2) * 2], 1.0f);
    /* same size output: the min-maxed grid itself */
    float same[2 * 2 * 2];
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 2, 2, 2, same, 8), CS_OK);
    ck_assert_float_eq(same[0], 0.0f);
    ck_assert_float_eq(same[2], 0.25f);
    ck_assert_float_eq(same[4], 0.5f);
    ck_assert_float_eq(same[6], 1.0f);
}
END_TEST

START_TEST(maps_bad_inputs)
{
    float sim[5] = {0}, maps[16];
    ck_assert_int_eq(cs_similarity_maps(NULL, 2, 2, 1, 4, 4, maps, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 1, 4, 4, NULL, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 0, 2, 1, 4, 4, maps, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, -2, 1, 4, 4, maps, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 0, 4, 4, maps, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 1, 0, 4, maps, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 1, 4, 4, maps, 15), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_similarity_maps(sim, 2, 2, 0x7fffffff, 0x7fffffff, 0x7fffffff, maps, 16),
                     CS_ERR_TOO_LARGE);
}
END_TEST

/* ---- segmentation ---- */

START_TEST(segment_constructed)
{
    /* 2x2 grid, 3 texts: text 0 wins the left column, text 2 the right column, text 1 never.
     * Upsampled to 2x4, columns 0-1 come from the left cells, 2-3 from the right: in between
     * (x = 1, 2) the blend still favours the nearer side. */
    const float sim[5 * 3] = {
        0, 0, 0,          /* class token, ignored */
        1.0f, 0.2f, 0.0f, /* (0,0) */
        0.0f, 0.2f, 1.0f, /* (0,1) */
        1.0f, 0.2f, 0.0f, /* (1,0) */
        0.0f, 0.2f, 1.0f, /* (1,1) */
    };
    uint8_t lab[2 * 4];
    memset(lab, 99, sizeof lab);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 3, 2, 4, lab, 8), CS_OK);
    const uint8_t want[8] = {0, 0, 2, 2, 0, 0, 2, 2};
    for (int i = 0; i < 8; i++) ck_assert_int_eq(lab[i], want[i]);
    /* ties go to the lower index */
    const float tie[2 * 2] = {0, 0, 0.5f, 0.5f};
    uint8_t one;
    ck_assert_int_eq(cs_segment(tie, 1, 1, 2, 1, 1, &one, 1), CS_OK);
    ck_assert_int_eq(one, 0);
}
END_TEST

START_TEST(segment_agrees_with_golden_map_argmax)
{
    /* Min-max per text changes the argmax, so compare against the upsampled RAW similarity,
     * rebuilt from the golden label-set similarity with cs_resize_bilinear; and check that the
     * argmax is stable wherever the margin is not tiny. */
    cs_safetensors *st = tu_open_golden(GOLDEN);
    size_t ns;
    float *sim = tu_golden_f32(st, "surgery96.similarity", &ns);
    ck_assert_uint_eq(ns, 37 * 12);
    const int oh = 300, ow = 451;
    uint8_t *lab = malloc((size_t)oh * ow);
    float *up = malloc((size_t)oh * ow * 12 * sizeof *up);
    ck_assert(lab && up);
    ck_assert_int_eq(cs_segment(sim, 6, 6, 12, oh, ow, lab, (size_t)oh * ow), CS_OK);
    ck_assert_int_eq(cs_resize_bilinear(sim + 12, 6, 6, 12, up, oh, ow, (size_t)oh * ow * 12),
                     CS_OK);
    size_t checked = 0, seen[12] = {0};
    for (size_t p = 0; p < (size_t)oh * ow; p++) {
        const float *v = up + p * 12;
        int best = 0;
        for (int t = 1; t < 12; t++)
            if (v[t] > v[best]) best = t;
        float second = -INFINITY;
        for (int t = 0; t < 12; t++)
            if (t != best && v[t] > second) second = v[t];
        seen[lab[p]]++;
        if (v[best] - second < 1e-5f) continue;
        ck_assert_int_eq(lab[p], best);
        checked++;
    }
    ck_assert_uint_gt(checked, (size_t)oh * ow * 9 / 10);
    int distinct = 0;
    for (int t = 0; t < 12; t++) distinct += seen[t] > 0;
    ck_assert_int_gt(distinct, 1); /* a non-trivial labelling */
    /* At the grid's own size the label is the per-cell arg-max of the golden similarity. */
    uint8_t cell_lab[36];
    ck_assert_int_eq(cs_segment(sim, 6, 6, 12, 6, 6, cell_lab, 36), CS_OK);
    for (int c = 0; c < 36; c++) {
        const float *v = sim + (size_t)(1 + c) * 12;
        int best = 0;
        for (int t = 1; t < 12; t++)
            if (v[t] > v[best]) best = t;
        ck_assert_int_eq(cell_lab[c], best);
    }
    free(lab);
    free(up);
    free(sim);
    cs_st_close(st);
}
END_TEST

START_TEST(segment_bad_inputs)
{
    float sim[5 * 2] = {0};
    uint8_t lab[16];
    ck_assert_int_eq(cs_segment(NULL, 2, 2, 2, 4, 4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 2, 4, 4, NULL, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 0, 2, 2, 4, 4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 0, 4, 4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 257, 4, 4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 2, 4, -4, lab, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_segment(sim, 2, 2, 2, 4, 4, lab, 15), CS_ERR_BUFFER_TOO_SMALL);
}
END_TEST

/* ---- multi-label scores ---- */

START_TEST(class_probabilities_match_golden)
{
    cs_safetensors *st = tu_open_golden(GOLDEN);
    size_t n;
    float *raw = tu_golden_f32(st, "raw.image_features", &n);
    ck_assert_uint_eq(n, 2 * 17 * 64);
    float *cs = tu_golden_f32(st, "cs.image_features", &n);
    float *texts = tu_golden_f32(st, "text.ensemble", &n);
    ck_assert_uint_eq(n, 12 * 64);
    float *want = tu_golden_f32(st, "raw.cls_probs", &n);
    ck_assert_uint_eq(n, 24);
    float got[24];
    ck_assert_int_eq(cs_class_probabilities(raw, 2, 17, texts, 12, 64, 100.0f, got, 24), CS_OK);
    double d = tu_max_abs_diff(got, want, 24);
    printf("  raw.cls_probs: max abs error %.3g\n", d);
    ck_assert(d <= TOL);
    for (int b = 0; b < 2; b++) {
        double sum = 0;
        for (int t = 0; t < 12; t++) sum += got[b * 12 + t];
        ck_assert_double_eq_tol(sum, 1.0, 1e-5);
    }
    /* the surgery encoder keeps the original class token: same probabilities */
    ck_assert_int_eq(cs_class_probabilities(cs, 2, 17, texts, 12, 64, 100.0f, got, 24), CS_OK);
    ck_assert(tu_max_abs_diff(got, want, 24) <= TOL);
    free(raw);
    free(cs);
    free(texts);
    free(want);
    cs_st_close(st);
}
END_TEST

START_TEST(class_probabilities_constructed_and_bad_inputs)
{
    /* cls = (2, 0) (not normalised), texts (1,0) and (0,3): cosines 1 and 0, scale 1:
     * softmax(1, 0) = (e/(e+1), 1/(e+1)). */
    const float img[2 * 2] = {2, 0, 7, 7};
    const float txt[2 * 2] = {1, 0, 0, 3};
    float p[2];
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, txt, 2, 2, 1.0f, p, 2), CS_OK);
    ck_assert_double_eq_tol(p[0], exp(1.0) / (exp(1.0) + 1.0), 1e-6);
    ck_assert_double_eq_tol(p[1], 1.0 / (exp(1.0) + 1.0), 1e-6);
    ck_assert_int_eq(cs_class_probabilities(NULL, 1, 2, txt, 2, 2, 1.0f, p, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, NULL, 2, 2, 1.0f, p, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, txt, 2, 2, 1.0f, NULL, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 0, 2, txt, 2, 2, 1.0f, p, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, txt, 2, 0, 1.0f, p, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, txt, 2, 2, NAN, p, 2),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_class_probabilities(img, 1, 2, txt, 2, 2, 1.0f, p, 1),
                     CS_ERR_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(similarity_peaks_constructed_and_bad_inputs)
{
    /* batch 2, 3 tokens, 2 texts; the class-token row holds the largest values and must be
     * skipped. */
    const float sim[2 * 3 * 2] = {100, 100, 1, -5, 3, -4, 100, 100, -1, 2, -2, 0.5f};
    float pk[4];
    ck_assert_int_eq(cs_similarity_peaks(sim, 2, 3, 2, pk, 4), CS_OK);
    ck_assert_float_eq(pk[0], 3.0f);
    ck_assert_float_eq(pk[1], -4.0f);
    ck_assert_float_eq(pk[2], -1.0f);
    ck_assert_float_eq(pk[3], 2.0f);
    ck_assert_int_eq(cs_similarity_peaks(NULL, 2, 3, 2, pk, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_peaks(sim, 2, 1, 2, pk, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_peaks(sim, 0, 3, 2, pk, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_peaks(sim, 2, 3, 2, NULL, 4), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_similarity_peaks(sim, 2, 3, 2, pk, 3), CS_ERR_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(similarity_peaks_golden_maps_peak)
{
    /* On the golden label-set similarity: the peak is the column max over the image tokens. */
    cs_safetensors *st = tu_open_golden(GOLDEN);
    size_t n;
    float *sim = tu_golden_f32(st, "surgery.similarity", &n);
    float pk[24];
    ck_assert_int_eq(cs_similarity_peaks(sim, 2, 17, 12, pk, 24), CS_OK);
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < 12; t++) {
            float mx = -INFINITY;
            for (int i = 1; i < 17; i++) mx = fmaxf(mx, sim[(b * 17 + i) * 12 + t]);
            ck_assert_float_eq(pk[b * 12 + t], mx);
        }
    free(sim);
    cs_st_close(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("maps");
    TCase *tc = tcase_create("maps");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, maps_75x100_match_golden);
    tcase_add_test(tc, maps_300x451_match_golden);
    tcase_add_test(tc, constant_column_gives_zero_map);
    tcase_add_test(tc, maps_bad_inputs);
    tcase_add_test(tc, segment_constructed);
    tcase_add_test(tc, segment_agrees_with_golden_map_argmax);
    tcase_add_test(tc, segment_bad_inputs);
    tcase_add_test(tc, class_probabilities_match_golden);
    tcase_add_test(tc, class_probabilities_constructed_and_bad_inputs);
    tcase_add_test(tc, similarity_peaks_constructed_and_bad_inputs);
    tcase_add_test(tc, similarity_peaks_golden_maps_peak);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
