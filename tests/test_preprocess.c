/* Preprocessing parity with the reference (PIL bicubic + CLIP normalisation) and the resize's
 * argument rules. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const float clip_std_min = 0.26130258f;

static cs_image *decode_image_stem(const char *stem)
{
    const char *exts[] = {".png", ".jpg", ".jpeg"};
    for (size_t e = 0; e < 3; e++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s%s", stem, exts[e]);
        char *path = tu_fixture(rel);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            cs_image *img = NULL;
            cs_status s = cs_image_decode_file(path, NULL, &img);
            ck_assert_msg(s == CS_OK, "%s: %s", path, cs_last_error());
            free(path);
            return img;
        }
        free(path);
    }
    ck_abort_msg("no image file for %s", stem);
    return NULL;
}

START_TEST(pre224_matches_reference)
{
    cs_safetensors *g = tu_open_golden("golden/preprocess.safetensors");
    const size_t n = 3 * 224 * 224;
    float *out = malloc(n * sizeof *out);
    size_t total = 0, exact = 0;
    int images = 0;
    const double one_level = 1.0 / 255.0 / clip_std_min + 1e-5;
    for (size_t i = 0; i < g->n_tensors; i++) {
        const char *name = g->tensors[i].name;
        if (strncmp(name, "pre224.", 7) != 0) continue;
        size_t gn;
        float *ref = tu_golden_f32(g, name, &gn);
        ck_assert_uint_eq(gn, n);
        cs_image *img = decode_image_stem(name + 7);
        ck_assert_int_eq(cs_image_preprocess(img, 224, out, n), CS_OK);
        size_t ex = 0;
        for (size_t k = 0; k < n; k++)
            if (fabs((double)out[k] - (double)ref[k]) <= 1e-6) ex++;
        double md = tu_max_abs_diff(out, ref, n);
        fprintf(stderr, "%s: %dx%d, max diff %.3g, exact %.4f%%\n", name, img->width,
                img->height, md, 100.0 * (double)ex / (double)n);
        ck_assert_msg(md <= one_level, "%s: max diff %g over one level", name, md);
        total += n;
        exact += ex;
        images++;
        cs_image_free(img);
        free(ref);
    }
    double frac = (double)exact / (double)total;
    fprintf(stderr, "preprocess: %d images, %.4f%% of values exact\n", images, 100.0 * frac);
    ck_assert_int_ge(images, 8);
    ck_assert_msg(frac >= 0.99, "only %.4f%% exact", 100.0 * frac);
    free(out);
    cs_st_close(g);
}
END_TEST

/* The normalisation of a constant image is (v/255 - mean)/std in float32 at any size. */
START_TEST(constant_image_any_size)
{
    const int sizes[][2] = {{1, 1}, {3, 500}, {500, 3}, {224, 224}, {1000, 7}};
    for (size_t k = 0; k < 5; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        uint8_t *px = malloc((size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++) {
            px[3 * i] = 10;
            px[3 * i + 1] = 128;
            px[3 * i + 2] = 250;
        }
        cs_image img = {w, h, (size_t)w * 3, px};
        const int S = 17;
        float out[3 * 17 * 17];
        ck_assert_int_eq(cs_image_preprocess(&img, S, out, 3 * S * S), CS_OK);
        const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
        const float sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
        const int v[3] = {10, 128, 250};
        for (int c = 0; c < 3; c++) {
            float want = ((float)v[c] / 255.0f - mean[c]) / sd[c];
            for (int i = 0; i < S * S; i++) ck_assert_float_eq(out[c * S * S + i], want);
        }
        free(px);
    }
}
END_TEST

/* Hand-computed PIL arithmetic for a 4 -> 2 horizontal downscale of [0, 255, 0, 255]:
 * scale 2, support 4; output i has centre 2i + 1, taps 0..3 (clipped to the row), weights
 * K((j - centre + 0.5) / 2) normalised, 22-bit fixed point rounded half away from zero,
 * (2^21 + sum) >> 22 clamped. */
static int hand_pil(const uint8_t *row, int i)
{
    double k[4], sum = 0;
    for (int j = 0; j < 4; j++) {
        double a = fabs((j - (2.0 * i + 1.0) + 0.5) / 2.0);
        k[j] = a < 1 ? 1.5 * a * a * a - 2.5 * a * a + 1
                     : a < 2 ? -0.5 * (a * a * a - 5 * a * a + 8 * a - 4) : 0.0;
        sum += k[j];
    }
    long acc = 1 << 21;
    for (int j = 0; j < 4; j++) {
        double f = k[j] / sum * (1 << 22);
        acc += row[j] * (long)(f < 0 ? f - 0.5 : f + 0.5);
    }
    long v = acc >> 22;
    return v < 0 ? 0 : v > 255 ? 255 : (int)v;
}

START_TEST(resize_matches_hand_computed_pil)
{
    uint8_t px[4 * 3];
    const uint8_t row[4] = {0, 255, 0, 255};
    for (int x = 0; x < 4; x++) px[3 * x] = px[3 * x + 1] = px[3 * x + 2] = row[x];
    cs_image img = {4, 1, 12, px};
    uint8_t out[6];
    ck_assert_int_eq(cs_image_resize_bicubic(&img, 2, 1, out, sizeof out), CS_OK);
    for (int i = 0; i < 2; i++)
        for (int c = 0; c < 3; c++) ck_assert_int_eq(out[3 * i + c], hand_pil(row, i));
    ck_assert_int_ne(out[0], out[3]); /* the two outputs differ: not a flat average */
}
END_TEST

START_TEST(bad_arguments)
{
    uint8_t px[12] = {0};
    cs_image img = {2, 2, 6, px};
    float out[3 * 4 * 4];
    uint8_t o8[64];
    ck_assert_int_eq(cs_image_preprocess(NULL, 4, out, 48), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_preprocess(&img, 0, out, 48), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_preprocess(&img, 4, out, 47), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_image_preprocess(&img, 4, NULL, 48), CS_ERR_INVALID_ARGUMENT);
    cs_image bad = {2, 2, 5, px}; /* stride < 3 * width */
    ck_assert_int_eq(cs_image_preprocess(&bad, 4, out, 48), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_resize_bicubic(&img, 0, 4, o8, 64), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_image_resize_bicubic(&img, 4, 4, o8, 47), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_image_resize_bicubic(&img, 2, 2, o8, 12), CS_OK); /* identity copy */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("preprocess");
    TCase *tc = tcase_create("preprocess");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pre224_matches_reference);
    tcase_add_test(tc, constant_image_any_size);
    tcase_add_test(tc, resize_matches_hand_computed_pil);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
