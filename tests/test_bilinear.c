/* cs_resize_bilinear: torch F.interpolate(mode="bilinear", align_corners=False) on small cases
 * worked out by hand, plus bad inputs. (The goldens check it again through the maps.) */
#include "testutil.h"

#include <math.h>
#include <string.h>

/* Double-precision model of the align_corners=False rule, for non-dyadic ratios. */
static void axis_ref(int in, int out, int i, int *i0, int *i1, double *l1)
{
    double src = (double)in / out * (i + 0.5) - 0.5;
    if (in == out) src = i;
    if (src < 0) src = 0;
    int lo = (int)floor(src);
    if (lo > in - 1) lo = in - 1;
    *i0 = lo;
    *i1 = lo < in - 1 ? lo + 1 : lo;
    *l1 = src - lo;
    if (*l1 > 1) *l1 = 1;
}

START_TEST(upsample_2x2_to_4x4)
{
    /* torch.nn.functional.interpolate(torch.tensor([[[[0.,1.],[2.,3.]]]]), (4,4),
     * mode="bilinear", align_corners=False): source positions -0.25 (clamped to 0), 0.25, 0.75,
     * 1.25 (clamped to the last row/column). */
    const float src[4] = {0, 1, 2, 3};
    const float fx[4] = {0.0f, 0.25f, 0.75f, 1.0f};
    float dst[16];
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, dst, 4, 4, 16), CS_OK);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            ck_assert_float_eq_tol(dst[y * 4 + x], fx[x] + 2.0f * fx[y], 1e-7f);
    ck_assert_float_eq(dst[5], 0.75f);  /* 0.25 + 2 * 0.25 */
    ck_assert_float_eq(dst[10], 2.25f); /* 0.75 + 2 * 0.75 */
}
END_TEST

START_TEST(same_size_is_identity)
{
    float src[5 * 7 * 3], dst[5 * 7 * 3];
    for (int i = 0; i < 5 * 7 * 3; i++) src[i] = sinf((float)i * 0.37f) * 10.0f;
    ck_assert_int_eq(cs_resize_bilinear(src, 5, 7, 3, dst, 5, 7, 5 * 7 * 3), CS_OK);
    ck_assert_int_eq(memcmp(src, dst, sizeof src), 0);
}
END_TEST

START_TEST(downsample_4_to_2_averages_blocks)
{
    /* scale 2: source positions 0.5 and 2.5, so each output is the mean of a 2x2 block. */
    float src[16];
    for (int i = 0; i < 16; i++) src[i] = (float)((i * 7) % 11);
    float dst[4];
    ck_assert_int_eq(cs_resize_bilinear(src, 4, 4, 1, dst, 2, 2, 4), CS_OK);
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            float m = (src[(2 * y) * 4 + 2 * x] + src[(2 * y) * 4 + 2 * x + 1] +
                       src[(2 * y + 1) * 4 + 2 * x] + src[(2 * y + 1) * 4 + 2 * x + 1]) / 4.0f;
            ck_assert_float_eq(dst[y * 2 + x], m);
        }
}
END_TEST

START_TEST(odd_ratios_and_interleaved_channels)
{
    /* 3x5 -> 7x2 (up in one axis, down in the other) with 2 channels: channel 1 = 3 * channel 0
     * - 1, so the interleaving must keep channels apart. */
    const int sh = 3, sw = 5, dh = 7, dw = 2;
    float src[3 * 5 * 2], dst[7 * 2 * 2];
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) {
            float v = (float)(y * y) - 0.5f * (float)x + 0.125f * (float)(x * y);
            src[(y * sw + x) * 2] = v;
            src[(y * sw + x) * 2 + 1] = 3.0f * v - 1.0f;
        }
    ck_assert_int_eq(cs_resize_bilinear(src, sh, sw, 2, dst, dh, dw, sizeof dst / sizeof *dst),
                     CS_OK);
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        double ly;
        axis_ref(sh, dh, y, &y0, &y1, &ly);
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            double lx;
            axis_ref(sw, dw, x, &x0, &x1, &lx);
            for (int c = 0; c < 2; c++) {
                double a = src[(y0 * sw + x0) * 2 + c], b = src[(y0 * sw + x1) * 2 + c];
                double d = src[(y1 * sw + x0) * 2 + c], e = src[(y1 * sw + x1) * 2 + c];
                double want = ((1 - lx) * a + lx * b) * (1 - ly) + ((1 - lx) * d + lx * e) * ly;
                ck_assert_double_eq_tol(dst[(y * dw + x) * 2 + c], want, 1e-5);
            }
        }
    }
}
END_TEST

START_TEST(to_one_pixel_and_from_one_pixel)
{
    /* 1x1 -> 3x3 replicates; 4x4 -> 1x1 samples position 1.5 (mean of the centre block). */
    const float one = 4.5f;
    float big[9];
    ck_assert_int_eq(cs_resize_bilinear(&one, 1, 1, 1, big, 3, 3, 9), CS_OK);
    for (int i = 0; i < 9; i++) ck_assert_float_eq(big[i], 4.5f);
    float src[16], out;
    for (int i = 0; i < 16; i++) src[i] = (float)i;
    ck_assert_int_eq(cs_resize_bilinear(src, 4, 4, 1, &out, 1, 1, 1), CS_OK);
    ck_assert_float_eq(out, (5.0f + 6.0f + 9.0f + 10.0f) / 4.0f);
}
END_TEST

START_TEST(bad_inputs)
{
    float src[4] = {0}, dst[16];
    for (int i = 0; i < 16; i++) dst[i] = -7.0f;
    ck_assert_int_eq(cs_resize_bilinear(NULL, 2, 2, 1, dst, 4, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, NULL, 4, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 0, 2, 1, dst, 4, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, -1, 1, dst, 4, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 0, dst, 4, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, dst, 0, 4, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, dst, 4, -3, 16), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, dst, 4, 4, 15), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert(strlen(cs_last_error()) > 0);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 1, dst, 0x7fffffff, 0x7fffffff, 16),
                     sizeof(size_t) > 4 ? CS_ERR_BUFFER_TOO_SMALL : CS_ERR_TOO_LARGE);
    ck_assert_int_eq(cs_resize_bilinear(src, 2, 2, 0x7fffffff, dst, 0x7fffffff, 0x7fffffff, 16),
                     CS_ERR_TOO_LARGE);
    for (int i = 0; i < 16; i++) ck_assert_float_eq(dst[i], -7.0f); /* nothing written */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bilinear");
    TCase *tc = tcase_create("resize");
    tcase_add_test(tc, upsample_2x2_to_4x4);
    tcase_add_test(tc, same_size_is_identity);
    tcase_add_test(tc, downsample_4_to_2_averages_blocks);
    tcase_add_test(tc, odd_ratios_and_interleaved_channels);
    tcase_add_test(tc, to_one_pixel_and_from_one_pixel);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
