/* The mmseg test pipeline (../shared/docs/METHODS.md 7): mmcv Resize with keep_ratio (rescale to
 * fit scale=(long_side, short_side)), cv2.resize INTER_LINEAR on the 8-bit pixels, and mmseg's
 * SegDataPreProcessor normalisation with its constants (CLIP's mean/std x 255, rounded).
 *
 * cv2 INTER_LINEAR on uint8 (imgproc/resize.cpp), per axis: src = (float)((o + 0.5) * n/m - 0.5),
 * i = floor(src), t = src - i; i < 0 gives i = 0, t = 0; i >= n - 1 gives i = n - 1, t = 0;
 * weights saturate_cast<short>((1 - t) * 2048) and (t * 2048) (round half to even). The
 * horizontal pass is exact in int; the vertical pass follows cv2's vectorised code
 * (VResizeLinearVec_32s8u): ((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16), then (+ 2) >> 2,
 * saturated to 0..255. An exact 2x reduction on both axes is INTER_AREA in cv2 (its is_area_fast
 * rule): (a + b + c + d + 2) >> 2. */
#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float mmseg_mean[3] = {122.771f, 116.746f, 104.094f};
static const float mmseg_std[3] = {68.501f, 66.632f, 70.323f};

/* taps and fixed-point weights of one axis */
static void linear_axis(int n, int m, int *idx, short *w0, short *w1)
{
    double scale = (double)n / (double)m;
    for (int o = 0; o < m; o++) {
        float f = (float)((o + 0.5) * scale - 0.5);
        int i = (int)floorf(f);
        f -= (float)i;
        if (i < 0) {
            i = 0;
            f = 0.0f;
        }
        if (i >= n - 1) {
            i = n - 1;
            f = 0.0f;
        }
        idx[o] = i;
        w0[o] = (short)lrintf((1.0f - f) * 2048.0f);
        w1[o] = (short)lrintf(f * 2048.0f);
    }
}

CS_API cs_status cs_image_resize_cv2_linear(const cs_image *image, int out_w, int out_h,
                                            uint8_t *out, size_t capacity)
{
    cs_clear_error();
    if (!image || !image->data || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cv2 resize: image, its data or out is NULL");
    int W0 = image->width, H0 = image->height;
    if (W0 <= 0 || H0 <= 0 || out_w <= 0 || out_h <= 0 || out_w > 65536 || out_h > 65536 ||
        image->stride < (size_t)W0 * 3)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cv2 resize: bad sizes %dx%d -> %dx%d", W0, H0,
                       out_w, out_h);
    size_t need;
    if (!cs_mul_size((size_t)out_w * 3, (size_t)out_h, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "cv2 resize: output too large");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cv2 resize: needs %zu bytes, capacity %zu", need,
                       capacity);
    const uint8_t *src = image->data;
    size_t ss = image->stride;
    if (W0 == 2 * out_w && H0 == 2 * out_h) {
        for (int y = 0; y < out_h; y++) {
            const uint8_t *r0 = src + (size_t)(2 * y) * ss, *r1 = r0 + ss;
            uint8_t *o = out + (size_t)y * out_w * 3;
            for (int x = 0; x < out_w; x++)
                for (int c = 0; c < 3; c++) {
                    size_t a = (size_t)(2 * x) * 3 + c;
                    o[3 * x + c] = (uint8_t)((r0[a] + r0[a + 3] + r1[a] + r1[a + 3] + 2) >> 2);
                }
        }
        return CS_OK;
    }
    int *xi = malloc(sizeof(int) * (size_t)out_w), *yi = malloc(sizeof(int) * (size_t)out_h);
    short *xa = malloc(sizeof(short) * 2 * (size_t)out_w);
    short *ya = malloc(sizeof(short) * 2 * (size_t)out_h);
    int *rows = malloc(sizeof(int) * 2 * 3 * (size_t)out_w);
    if (!xi || !yi || !xa || !ya || !rows) {
        free(xi);
        free(yi);
        free(xa);
        free(ya);
        free(rows);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "cv2 resize: out of memory");
    }
    linear_axis(W0, out_w, xi, xa, xa + out_w);
    linear_axis(H0, out_h, yi, ya, ya + out_h);
    for (int y = 0; y < out_h; y++) {
        int sy[2] = {yi[y], yi[y] + 1 < H0 ? yi[y] + 1 : yi[y]};
        for (int r = 0; r < 2; r++) {
            const uint8_t *s = src + (size_t)sy[r] * ss;
            int *d = rows + (size_t)r * 3 * out_w;
            for (int x = 0; x < out_w; x++) {
                int x0 = xi[x], x1 = x0 + 1 < W0 ? x0 + 1 : x0;
                for (int c = 0; c < 3; c++)
                    d[3 * x + c] = s[3 * x0 + c] * xa[x] + s[3 * x1 + c] * xa[out_w + x];
            }
        }
        int b0 = ya[y], b1 = ya[out_h + y];
        uint8_t *o = out + (size_t)y * out_w * 3;
        for (int i = 0; i < 3 * out_w; i++) {
            int v0 = ((rows[i] >> 4) * b0) >> 16;
            int v1 = ((rows[3 * out_w + i] >> 4) * b1) >> 16;
            int v = (v0 + v1 + 2) >> 2;
            o[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
    }
    free(xi);
    free(yi);
    free(xa);
    free(ya);
    free(rows);
    return CS_OK;
}

CS_API cs_status cs_mmseg_size(int width, int height, int short_side, int long_side, int *out_h,
                               int *out_w)
{
    cs_clear_error();
    if (!out_h || !out_w) return cs_fail(CS_ERR_INVALID_ARGUMENT, "mmseg size: NULL output");
    if (width <= 0 || height <= 0 || short_side <= 0 || long_side <= 0 || width > 65536 ||
        height > 65536 || short_side > 65536 || long_side > 65536)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "mmseg size: sides must be in 1..65536");
    double lo = short_side < long_side ? short_side : long_side;
    double hi = short_side < long_side ? long_side : short_side;
    double mx = width > height ? width : height, mn = width > height ? height : width;
    double f = hi / mx < lo / mn ? hi / mx : lo / mn;
    double w = (double)width * f + 0.5, h = (double)height * f + 0.5;
    if (w >= 65537.0 || h >= 65537.0 || w * h > (double)(1u << 28))
        return cs_fail(CS_ERR_TOO_LARGE, "mmseg size: result over 2^28 pixels");
    int W = (int)w, H = (int)h;
    if (W < 1) W = 1;
    if (H < 1) H = 1;
    *out_w = W;
    *out_h = H;
    return CS_OK;
}

CS_API cs_status cs_image_preprocess_mmseg(const cs_image *image, int short_side, int long_side,
                                           float *out, size_t capacity, int *out_h, int *out_w)
{
    cs_clear_error();
    if (!image || !image->data || !out || !out_h || !out_w)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "mmseg preprocess: NULL argument");
    int H, W;
    cs_status st = cs_mmseg_size(image->width, image->height, short_side, long_side, &H, &W);
    if (st != CS_OK) return st;
    *out_h = H;
    *out_w = W;
    size_t plane = (size_t)H * W;
    if (capacity < 3 * plane)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "mmseg preprocess: needs %zu floats, capacity %zu",
                       3 * plane, capacity);
    uint8_t *rgb = cs_alloc_array(3 * plane, 1);
    if (!rgb) return cs_fail(CS_ERR_OUT_OF_MEMORY, "mmseg preprocess: out of memory");
    if (H == image->height && W == image->width) {
        for (int y = 0; y < H; y++)
            memcpy(rgb + (size_t)y * W * 3, image->data + (size_t)y * image->stride, (size_t)W * 3);
    } else if ((st = cs_image_resize_cv2_linear(image, W, H, rgb, 3 * plane)) != CS_OK) {
        free(rgb);
        return st;
    }
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++)
            out[(size_t)c * plane + i] = ((float)rgb[3 * i + c] - mmseg_mean[c]) / mmseg_std[c];
    free(rgb);
    return CS_OK;
}
