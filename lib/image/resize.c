/* 8-bit RGB resize reproducing PIL's Image.resize(size, BICUBIC) exactly (REFERENCE section 1,
 * step 2): Pillow's convolution resampler (libImaging/Resample.c) re-derived here.
 *  - Separable: a horizontal pass then a vertical pass; a pass whose size is unchanged is skipped
 *    (the whole-image box (0, 0, w, h) is used).
 *  - Kernel: cubic convolution with a = -0.5, support 2. When downscaling the support widens by
 *    the scale (in/out) and the kernel argument shrinks by it (antialiasing).
 *  - Per output index i: centre = (i + 0.5) * scale; the taps run from
 *    trunc(centre - support + 0.5) (at least 0) to trunc(centre + support + 0.5) (at most the
 *    input size); weight of tap j = K((j - centre + 0.5) / filterscale), normalised to sum 1,
 *    all in double.
 *  - Weights become fixed point with 22 fractional bits, rounded half away from zero; each
 *    output is (2^21 + sum w_j * v_j) >> 22 (arithmetic shift) clamped to 0..255, in int.
 *  - The horizontal pass produces 8-bit values (rounded and clamped) that feed the vertical one.
 */
#include "image/image.h"

#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CS_RS_PRECISION 22 /* PIL: 32 - 8 - 2 bits */

static double cubic_kernel(double x)
{
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

typedef struct taps {
    int ksize;     /* coefficients per output */
    int *first;    /* [out] first input index */
    int *count;    /* [out] number of taps */
    int32_t *w;    /* [out * ksize] fixed-point weights */
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static cs_status taps_make(int in_size, int out_size, taps *t)
{
    memset(t, 0, sizeof *t);
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    double ks = ceil(support) * 2.0 + 1.0;
    if (ks > (double)in_size + 2.0) ks = (double)in_size + 2.0; /* taps never exceed the input */
    t->ksize = (int)ks;
    size_t nw;
    double *k = cs_alloc_array((size_t)t->ksize, sizeof *k);
    t->first = cs_alloc_array((size_t)out_size, sizeof *t->first);
    t->count = cs_alloc_array((size_t)out_size, sizeof *t->count);
    if (cs_mul_size((size_t)out_size, (size_t)t->ksize, &nw))
        t->w = cs_calloc_array(nw, sizeof *t->w);
    if (!k || !t->first || !t->count || !t->w) {
        free(k);
        taps_free(t);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "resize: cannot allocate filter taps");
    }
    for (int i = 0; i < out_size; i++) {
        double centre = (i + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int lo = (int)(centre - support + 0.5);
        if (lo < 0) lo = 0;
        int hi = (int)(centre + support + 0.5);
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        if (n > t->ksize) n = t->ksize; /* cannot happen; keeps indexing inside the row */
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            k[j] = cubic_kernel((j + lo - centre + 0.5) * ss);
            sum += k[j];
        }
        int32_t *w = t->w + (size_t)i * t->ksize;
        for (int j = 0; j < n; j++) {
            double v = sum != 0.0 ? k[j] / sum : k[j];
            double f = v * (double)(1 << CS_RS_PRECISION);
            w[j] = (int32_t)(v < 0 ? f - 0.5 : f + 0.5);
        }
        t->first[i] = lo;
        t->count[i] = n;
    }
    free(k);
    return CS_OK;
}

static inline uint8_t fixed_to_u8(int32_t acc)
{
    int32_t v = acc >> CS_RS_PRECISION; /* arithmetic shift, as PIL's lookup index */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over rows [y0, y0 + rows) of src into dst (rows x out_w, stride 3*out_w). */
static void pass_h(const uint8_t *src, size_t sstride, int y0, int rows, const taps *t, int out_w,
                   uint8_t *dst)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *in = src + (size_t)(y0 + y) * sstride;
        uint8_t *out = dst + (size_t)y * 3 * (size_t)out_w;
        for (int x = 0; x < out_w; x++) {
            const int32_t *w = t->w + (size_t)x * t->ksize;
            const uint8_t *p = in + (size_t)t->first[x] * 3;
            int32_t a0 = 1 << (CS_RS_PRECISION - 1), a1 = a0, a2 = a0;
            for (int j = 0; j < t->count[x]; j++) {
                a0 += p[3 * j + 0] * w[j];
                a1 += p[3 * j + 1] * w[j];
                a2 += p[3 * j + 2] * w[j];
            }
            out[3 * x + 0] = fixed_to_u8(a0);
            out[3 * x + 1] = fixed_to_u8(a1);
            out[3 * x + 2] = fixed_to_u8(a2);
        }
    }
}

/* Vertical pass: src rows are indexed from row_offset (first row held in src). */
static void pass_v(const uint8_t *src, size_t sstride, int row_offset, const taps *t, int width,
                   int out_h, uint8_t *dst)
{
    size_t dstride = 3 * (size_t)width;
    for (int y = 0; y < out_h; y++) {
        const int32_t *w = t->w + (size_t)y * t->ksize;
        const uint8_t *base = src + (size_t)(t->first[y] - row_offset) * sstride;
        uint8_t *out = dst + (size_t)y * dstride;
        for (size_t c = 0; c < dstride; c++) {
            int32_t acc = 1 << (CS_RS_PRECISION - 1);
            for (int j = 0; j < t->count[y]; j++) acc += base[(size_t)j * sstride + c] * w[j];
            out[c] = fixed_to_u8(acc);
        }
    }
}

CS_API cs_status cs_image_resize_bicubic(const cs_image *image, int out_w, int out_h,
                                         uint8_t *out, size_t capacity)
{
    cs_clear_error();
    if (!image || !image->data || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "resize: image, its data or out is NULL");
    int in_w = image->width, in_h = image->height;
    if (in_w <= 0 || in_h <= 0 || image->stride / 3 < (size_t)in_w)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "resize: bad input image %dx%d stride %zu", in_w,
                       in_h, image->stride);
    if (out_w <= 0 || out_h <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "resize: bad output size %dx%d", out_w, out_h);
    size_t orow, need;
    if (!cs_mul_size((size_t)out_w, 3, &orow) || !cs_mul_size(orow, (size_t)out_h, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "resize: output %dx%d overflows", out_w, out_h);
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "resize: output needs %zu bytes, capacity %zu",
                       need, capacity);
    int need_h = out_w != in_w, need_v = out_h != in_h;
    if (!need_h && !need_v) {
        for (int y = 0; y < in_h; y++)
            memcpy(out + (size_t)y * orow, image->data + (size_t)y * image->stride, orow);
        return CS_OK;
    }
    taps tv = {0}, th = {0};
    cs_status s;
    if (need_v && (s = taps_make(in_h, out_h, &tv)) != CS_OK) return s;
    if (!need_h) {
        pass_v(image->data, image->stride, 0, &tv, in_w, out_h, out);
        taps_free(&tv);
        return CS_OK;
    }
    if ((s = taps_make(in_w, out_w, &th)) != CS_OK) {
        taps_free(&tv);
        return s;
    }
    if (!need_v) {
        pass_h(image->data, image->stride, 0, in_h, &th, out_w, out);
        taps_free(&th);
        return CS_OK;
    }
    /* rows the vertical pass reads: from the first tap of output 0 to the last of the last */
    int y_first = tv.first[0];
    int y_last = tv.first[out_h - 1] + tv.count[out_h - 1];
    uint8_t *tmp = cs_alloc_array((size_t)(y_last - y_first), orow);
    if (!tmp) {
        taps_free(&tv);
        taps_free(&th);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "resize: cannot allocate %d intermediate rows",
                       y_last - y_first);
    }
    pass_h(image->data, image->stride, y_first, y_last - y_first, &th, out_w, tmp);
    pass_v(tmp, orow, y_first, &tv, out_w, out_h, out);
    free(tmp);
    taps_free(&tv);
    taps_free(&th);
    return CS_OK;
}
