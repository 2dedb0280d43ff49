/* OpenCV COLORMAP_JET table, the reference overlay arithmetic, and PNG writing round trips. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Octave jet(256), the base map OpenCV interpolates from (piecewise linear, units of 1/255). */
static double jet_base(int ch, int i)
{
    if (ch == 2) return jet_base(0, 255 - i);
    if (ch == 0) {
        if (i < 96) return 0.0;
        if (i < 160) return (4.0 * i - 382.5) / 255.0;
        if (i < 224) return 1.0;
        return (1147.5 - 4.0 * i) / 255.0;
    }
    if (i < 32) return 0.0;
    if (i < 96) return (4.0 * i - 127.5) / 255.0;
    if (i < 160) return 1.0;
    if (i < 224) return (892.5 - 4.0 * i) / 255.0;
    return 0.0;
}

/* OpenCV's float32 pipeline: linspace, interp1 with binary search, convertTo(CV_8U, 255) with
 * round-half-even. */
static int opencv_jet(int ch, int i)
{
    float x[256], y[256];
    float step = 1.0f / 255.0f;
    for (int k = 0; k < 256; k++) {
        x[k] = 0.0f + (float)k * step;
        y[k] = (float)jet_base(ch, k);
    }
    float xi = x[i];
    int lo = 0, hi = 255;
    if (xi < x[lo]) hi = 1;
    if (xi > x[hi]) lo = hi - 1;
    while (hi - lo > 1) {
        int c = lo + ((hi - lo) >> 1);
        if (xi > x[c]) lo = c;
        else hi = c;
    }
    volatile float d = (xi - x[lo]) * (y[hi] - y[lo]);
    volatile float v = y[lo] + d / (x[hi] - x[lo]);
    volatile float s = v * 255.0f;
    int r = (int)nearbyintf(s);
    return r < 0 ? 0 : r > 255 ? 255 : r;
}

START_TEST(jet_table_matches_opencv)
{
    const uint8_t *t = cs_colormap_jet();
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 256; i++)
        for (int c = 0; c < 3; c++)
            ck_assert_msg(t[3 * i + c] == opencv_jet(c, i), "JET[%d][%d] = %d, OpenCV gives %d", i,
                          c, t[3 * i + c], opencv_jet(c, i));
    /* known entries (RGB): cv2.applyColorMap gives BGR (128,0,0) for 0 and (0,0,128) for 255 */
    const uint8_t e0[3] = {0, 0, 128}, e255[3] = {128, 0, 0}, e32[3] = {0, 0, 255},
                  e96[3] = {2, 255, 254}, e224[3] = {255, 0, 0};
    ck_assert_int_eq(memcmp(t, e0, 3), 0);
    ck_assert_int_eq(memcmp(t + 3 * 255, e255, 3), 0);
    ck_assert_int_eq(memcmp(t + 3 * 32, e32, 3), 0);
    ck_assert_int_eq(memcmp(t + 3 * 96, e96, 3), 0);
    ck_assert_int_eq(memcmp(t + 3 * 223, e224, 3), 0);
}
END_TEST

START_TEST(overlay_arithmetic)
{
    uint8_t px[3 * 3] = {100, 150, 200, 100, 150, 200, 100, 150, 200};
    cs_image img = {3, 1, 9, px};
    /* [H, W, T] map with T = 2; text 1 is selected with an offset of 1 */
    const float map[6] = {9.f, 0.0f, 9.f, 1.0f, 9.f, 0.5f};
    uint8_t out[9];
    ck_assert_int_eq(cs_overlay_jet(&img, map + 1, 2, out, sizeof out), CS_OK);
    /* m8 = 0 -> JET (0,0,128): trunc(40 + 0, 60 + 0, 80 + 76.8) */
    const uint8_t want0[3] = {40, 60, 156};
    /* m8 = 255 -> (128,0,0): trunc(40 + 76.8, 60, 80) */
    const uint8_t want1[3] = {116, 60, 80};
    ck_assert_int_eq(memcmp(out, want0, 3), 0);
    ck_assert_int_eq(memcmp(out + 3, want1, 3), 0);
    /* m8 = trunc(127.5) = 127 -> JET[127]; checked against the formula in double */
    const uint8_t *j = cs_colormap_jet() + 3 * 127;
    for (int c = 0; c < 3; c++)
        ck_assert_int_eq(out[6 + c], (int)((double)px[c] * 0.4 + (double)j[c] * 0.6));
    /* 0.4 * 5 + 0.6 * 5 in double is exactly 5 after truncation */
    uint8_t five[3] = {5, 5, 5};
    cs_image i5 = {1, 1, 3, five};
    float m = 0.0f;
    ck_assert_int_eq(cs_overlay_jet(&i5, &m, 1, out, 3), CS_OK);
    ck_assert_int_eq(out[0], (int)(5 * 0.4 + 0 * 0.6));
    /* NaN and out-of-range maps are clamped, not undefined */
    float bad[3] = {NAN, -3.0f, 7.0f};
    ck_assert_int_eq(cs_overlay_jet(&img, bad, 1, out, 9), CS_OK);
    ck_assert_int_eq(memcmp(out, want0, 3), 0);
    ck_assert_int_eq(memcmp(out + 3, want0, 3), 0);
    ck_assert_int_eq(memcmp(out + 6, want1, 3), 0);
    /* rules */
    ck_assert_int_eq(cs_overlay_jet(&img, map, 2, out, 8), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(cs_overlay_jet(&img, map, 0, out, 9), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_overlay_jet(NULL, map, 1, out, 9), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_overlay_jet(&img, NULL, 1, out, 9), CS_ERR_INVALID_ARGUMENT);
}
END_TEST

static char *tmp_path(const char *name)
{
    char *p = malloc(512);
    snprintf(p, 512, "/tmp/cs_test_colormap_%ld_%s", (long)getpid(), name);
    return p;
}

START_TEST(png_write_round_trips)
{
    enum { W = 13, H = 7 };
    uint8_t rgb[H][W * 3 + 5], gray[H][W + 3];
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W * 3; x++) rgb[y][x] = (uint8_t)(y * 31 + x * 7);
        for (int x = 0; x < W; x++) gray[y][x] = (uint8_t)((y * W + x) % 4);
    }
    const uint8_t pal[4 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    char *p = tmp_path("rgb.png");
    cs_image *img;
    /* RGB with a padded stride */
    ck_assert_int_eq(cs_png_write(p, &rgb[0][0], W, H, sizeof rgb[0], 3, NULL, 0), CS_OK);
    ck_assert_int_eq(cs_image_decode_file(p, NULL, &img), CS_OK);
    ck_assert_int_eq(img->width, W);
    ck_assert_int_eq(img->height, H);
    for (int y = 0; y < H; y++)
        ck_assert_int_eq(memcmp(img->data + (size_t)y * img->stride, rgb[y], W * 3), 0);
    cs_image_free(img);
    /* gray */
    ck_assert_int_eq(cs_png_write(p, &gray[0][0], W, H, sizeof gray[0], 1, NULL, 0), CS_OK);
    ck_assert_int_eq(cs_image_decode_file(p, NULL, &img), CS_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                ck_assert_int_eq(img->data[(size_t)y * img->stride + 3 * x + c], gray[y][x]);
    cs_image_free(img);
    /* palette */
    ck_assert_int_eq(cs_png_write(p, &gray[0][0], W, H, sizeof gray[0], 1, pal, 4), CS_OK);
    ck_assert_int_eq(cs_image_decode_file(p, NULL, &img), CS_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            ck_assert_int_eq(memcmp(img->data + (size_t)y * img->stride + 3 * x,
                                    pal + 3 * gray[y][x], 3),
                             0);
    cs_image_free(img);
    remove(p);
    /* rules */
    ck_assert_int_eq(cs_png_write(p, &gray[0][0], W, H, sizeof gray[0], 1, pal, 3),
                     CS_ERR_INVALID_ARGUMENT); /* index 3 outside a 3-entry palette */
    ck_assert_int_eq(cs_png_write(p, &gray[0][0], W, H, sizeof gray[0], 2, NULL, 0),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_png_write(p, &gray[0][0], 0, H, sizeof gray[0], 1, NULL, 0),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_png_write(p, &rgb[0][0], W, H, W * 3 - 1, 3, NULL, 0),
                     CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_png_write("/nonexistent-dir/x.png", &gray[0][0], W, H, sizeof gray[0], 1,
                                  NULL, 0),
                     CS_ERR_IO);
    ck_assert_int_ne(access(p, F_OK), 0);
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("colormap");
    TCase *tc = tcase_create("colormap");
    tcase_add_test(tc, jet_table_matches_opencv);
    tcase_add_test(tc, overlay_arithmetic);
    tcase_add_test(tc, png_write_round_trips);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
