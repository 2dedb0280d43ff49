/* PAMR, sliding-window inference, mmseg preprocessing and SCLIP's postprocess against the dense
 * goldens (../shared/docs/METHODS.md 6-7): pamr.out, pamr.out_d124, slide.image, slide.logits,
 * slide.pred outside slide.pred_ambiguous; argument rules. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const char *const GOLDEN = "golden/dense-golden.safetensors";

static void check_pamr(const char *name, int iters, const int *dil, int nd)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    size_t ni, nm, no;
    float *img = tu_golden_f32(g, "pamr.in_image", &ni);
    float *mask = tu_golden_f32(g, "pamr.in_mask", &nm);
    float *want = tu_golden_f32(g, name, &no);
    int H = 96, W = 128, C = (int)(nm / (size_t)(H * W));
    ck_assert_int_eq(ni, (size_t)3 * H * W);
    float *got = malloc(sizeof(float) * no);
    ck_assert_int_eq(cs_pamr(img, H, W, mask, C, H, W, dil, nd, iters, got, no), CS_OK);
    double err = tu_max_abs_diff(got, want, no);
    printf("%s: max abs error %.3g\n", name, err);
    ck_assert_msg(err <= TOL, "%s error %g", name, err);
    ck_assert_int_eq(cs_pamr(img, H, W, mask, C, H, W, dil, nd, iters, got, no - 1),
                     CS_ERR_BUFFER_TOO_SMALL);
    free(got);
    free(want);
    free(mask);
    free(img);
    cs_st_close(g);
}

START_TEST(pamr_matches_golden)
{
    static const int d816[2] = {8, 16}, d124[3] = {1, 2, 4};
    check_pamr("pamr.out", 10, d816, 2);
    check_pamr("pamr.out_d124", 3, d124, 3);
}
END_TEST

START_TEST(pamr_arguments_and_resize)
{
    float img[3 * 4 * 4] = {0}, mask[2 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, out[2 * 4 * 4];
    int d[1] = {1}, bad[1] = {0};
    ck_assert_int_eq(cs_pamr(img, 4, 4, mask, 2, 2, 2, d, 1, 0, out, 32), CS_OK);
    /* 0 iterations: the align_corners=True resize of the mask; corners are exact */
    ck_assert(out[0] == 1.0f && out[3] == 2.0f && out[12] == 3.0f && out[15] == 4.0f);
    ck_assert(fabsf(out[1] - (1.0f + 1.0f / 3.0f)) < 1e-6f);
    ck_assert_int_eq(cs_pamr(img, 4, 4, mask, 2, 2, 2, bad, 1, 1, out, 32),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_pamr(img, 4, 4, mask, 2, 2, 2, d, 0, 1, out, 32), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_pamr(img, 4, 4, mask, 2, 2, 2, d, 1, -1, out, 32),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_pamr(NULL, 4, 4, mask, 2, 2, 2, d, 1, 1, out, 32),
                     CS_ERR_INVALID_ARGUMENT);
    /* a flat image gives uniform weights: constant mask stays constant */
    float cm[1 * 4 * 4], co[16];
    for (int i = 0; i < 16; i++) cm[i] = 0.25f;
    ck_assert_int_eq(cs_pamr(img, 4, 4, cm, 1, 4, 4, d, 1, 5, co, 16), CS_OK);
    for (int i = 0; i < 16; i++) ck_assert(fabsf(co[i] - 0.25f) < 1e-6f);
}
END_TEST

START_TEST(mmseg_preprocess_matches_slide_image)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    size_t n;
    float *want = tu_golden_f32(g, "slide.image", &n);
    char *path = tu_fixture("images/chelsea.png");
    cs_image *im = NULL;
    ck_assert_int_eq(cs_image_decode_file(path, NULL, &im), CS_OK);
    int h = 0, w = 0;
    ck_assert_int_eq(cs_mmseg_size(im->width, im->height, 96, 2048, &h, &w), CS_OK);
    ck_assert_int_eq(h, 96);
    ck_assert_int_eq(w, 144);
    float *got = malloc(sizeof(float) * n);
    ck_assert_int_eq(cs_image_preprocess_mmseg(im, 96, 2048, got, n, &h, &w), CS_OK);
    ck_assert_int_eq((size_t)3 * h * w, n);
    double err = tu_max_abs_diff(got, want, n);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) diff += fabsf(got[i] - want[i]) > 1e-6f;
    printf("slide.image from chelsea.png: max abs error %.3g, %zu of %zu values differ\n", err,
           diff, n);
    ck_assert_msg(err <= TOL, "mmseg preprocess error %g", err);
    ck_assert_int_eq(cs_image_preprocess_mmseg(im, 96, 2048, got, n - 1, &h, &w),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_mmseg_size(0, 10, 96, 2048, &h, &w), CS_ERR_INVALID_ARGUMENT);
    /* mmcv's rule: the long side bounds too */
    ck_assert_int_eq(cs_mmseg_size(1000, 100, 96, 500, &h, &w), CS_OK);
    ck_assert_int_eq(w, 500);
    ck_assert_int_eq(h, 50);
    /* an exact 2x reduction is cv2's INTER_AREA average */
    uint8_t px[2 * 2 * 3] = {10, 20, 30, 11, 21, 31, 12, 22, 32, 13, 23, 33}, o[3];
    cs_image small = {2, 2, 6, px};
    ck_assert_int_eq(cs_image_resize_cv2_linear(&small, 1, 1, o, 3), CS_OK);
    ck_assert_int_eq(o[0], (10 + 11 + 12 + 13 + 2) >> 2);
    free(got);
    free(want);
    free(path);
    cs_image_free(im);
    cs_st_close(g);
}
END_TEST

START_TEST(slide_logits_and_pred_match_golden)
{
    cs_safetensors *g = tu_open_golden(GOLDEN);
    size_t ni, nl, nt;
    float *img = tu_golden_f32(g, "slide.image", &ni);
    float *want = tu_golden_f32(g, "slide.logits", &nl);
    float *text = tu_golden_f32(g, "text.ensemble", &nt);
    char *mp = tu_fixture("golden/tiny-openai-f32.safetensors");
    cs_model *m = NULL;
    ck_assert_int_eq(cs_model_load(mp, NULL, &m), CS_OK);
    cs_context *ctx = NULL;
    ck_assert_int_eq(cs_context_create(m, NULL, &ctx), CS_OK);
    int e = cs_model_embed_dim(m), C = (int)(nt / (size_t)e), H = 96, W = 144;
    ck_assert_int_eq(nl, (size_t)C * H * W);
    cs_method_params p;
    cs_method_params_default(&p, CS_METHOD_SCLIP);
    float *got = malloc(sizeof(float) * nl);
    cs_status s = cs_slide_logits(ctx, &p, img, H, W, 64, 32, text, C, got, nl);
    ck_assert_msg(s == CS_OK, "slide: %s", cs_last_error());
    double err = tu_max_abs_diff(got, want, nl);
    printf("slide.logits: max abs error %.3g\n", err);
    ck_assert_msg(err <= TOL, "slide.logits error %g", err);
    /* labels at the original size, outside the ambiguous pixels */
    const cs_st_tensor *tp = cs_st_find(g, "slide.pred");
    ck_assert_ptr_nonnull(tp);
    int H0 = (int)tp->shape[0], W0 = (int)tp->shape[1];
    ck_assert_int_eq(tp->dtype, CS_DT_I32);
    int32_t *pred = malloc(tp->nbytes);
    memcpy(pred, tp->data, tp->nbytes);
    const cs_st_tensor *ta = cs_st_find(g, "slide.pred_ambiguous");
    ck_assert_ptr_nonnull(ta);
    ck_assert_int_eq(ta->nbytes, (size_t)H0 * W0);
    const uint8_t *amb = ta->data;
    uint8_t *lab = malloc((size_t)H0 * W0);
    for (int which = 0; which < 2; which++) {
        ck_assert_int_eq(cs_logits_to_labels(which ? got : want, C, H, W, H0, W0, 40.0f, 0.0f, lab,
                                             (size_t)H0 * W0),
                         CS_OK);
        size_t bad = 0, n_amb = 0;
        for (size_t i = 0; i < (size_t)H0 * W0; i++) {
            n_amb += amb[i] != 0;
            if (!amb[i] && lab[i] != pred[i]) bad++;
        }
        printf("slide.pred from %s logits: %zu mismatches outside %zu ambiguous pixels\n",
               which ? "our" : "the golden", bad, n_amb);
        ck_assert_int_eq(bad, 0);
    }
    /* a background threshold above every probability gives label 0 everywhere */
    ck_assert_int_eq(cs_logits_to_labels(got, C, H, W, H0, W0, 40.0f, 1.01f, lab, (size_t)H0 * W0),
                     CS_OK);
    for (size_t i = 0; i < (size_t)H0 * W0; i++) ck_assert_int_eq(lab[i], 0);
    ck_assert_int_eq(cs_slide_logits(ctx, &p, img, H, W, 8, 32, text, C, got, nl),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_slide_logits(ctx, &p, img, H, W, 64, 65, text, C, got, nl),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_slide_logits(ctx, &p, img, H, W, 64, 32, text, C, got, nl - 1),
                     CS_ERR_BUFFER_TOO_SMALL);
    /* one window covering the image equals cs_method_logits */
    float *one = malloc(sizeof(float) * nl);
    ck_assert_int_eq(cs_slide_logits(ctx, &p, img, H, W, 144, 144, text, C, got, nl), CS_OK);
    ck_assert_int_eq(cs_method_logits(ctx, &p, img, H, W, text, C, one, nl), CS_OK);
    ck_assert(tu_max_abs_diff(got, one, nl) == 0.0);
    /* a side that is not a multiple of the patch: the remainder is not encoded */
    ck_assert_int_eq(cs_method_logits(ctx, &p, img, H, W - 5, text, C, one, nl), CS_OK);
    ck_assert_int_eq(cs_method_logits(ctx, &p, img, 10, W, text, C, one, nl), CS_ERR_SHAPE);
    free(one);
    free(pred);
    free(lab);
    free(got);
    free(want);
    free(text);
    free(img);
    free(mp);
    cs_context_free(ctx);
    cs_model_free(m);
    cs_st_close(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dense_methods");
    TCase *tc = tcase_create("golden");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pamr_matches_golden);
    tcase_add_test(tc, pamr_arguments_and_resize);
    tcase_add_test(tc, mmseg_preprocess_matches_slide_image);
    tcase_add_test(tc, slide_logits_and_pred_match_golden);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
