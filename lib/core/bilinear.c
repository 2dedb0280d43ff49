/* Bilinear resize of float planes as torch F.interpolate(mode="bilinear", align_corners=False)
 * without antialias (ATen UpSample.h / UpSampleKernel.cpp arithmetic, in float32):
 *   scale = (float)in / (float)out
 *   src   = scale * (dst + 0.5f) - 0.5f, clamped below at 0
 *   i0    = min(floor(src), in - 1), l1 = clamp(src - i0, 0, 1), l0 = 1 - l1,
 *   i1    = i0 + (i0 < in - 1)
 * and an axis whose size does not change is copied (l0 = 1, l1 = 0).
 * A value is t0 * lh0 + t1 * lh1 with t_r = x[r][i0] * lw0 + x[r][i1] * lw1 (width first, the
 * order of ATen's generic kernel). */
#include "core/bilinear.h"
#include "core/common.h"

#include <math.h>

void cs_bilinear_axis(int in, int out, int index, int *i0, int *i1, float *l0, float *l1)
{
    if (in == out) {
        *i0 = index;
        *i1 = index;
        *l0 = 1.0f;
        *l1 = 0.0f;
        return;
    }
    const float scale = (float)in / (float)out;
    float src = scale * ((float)index + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int lo = (int)floorf(src);
    if (lo > in - 1) lo = in - 1;
    float lambda = src - (float)lo;
    if (lambda < 0.0f) lambda = 0.0f;
    if (lambda > 1.0f) lambda = 1.0f;
    *i0 = lo;
    *i1 = lo < in - 1 ? lo + 1 : lo;
    *l1 = lambda;
    *l0 = 1.0f - lambda;
}

CS_API cs_status cs_resize_bilinear(const float *src, int src_h, int src_w, int channels,
                                    float *dst, int dst_h, int dst_w, size_t dst_capacity)
{
    cs_clear_error();
    if (!src || !dst) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_resize_bilinear: NULL buffer");
    if (src_h <= 0 || src_w <= 0 || channels <= 0 || dst_h <= 0 || dst_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_resize_bilinear: sizes must be positive (src %dx%d, dst %dx%d, "
                       "channels %d)", src_h, src_w, dst_h, dst_w, channels);
    size_t need, src_n;
    if (!cs_mul_size((size_t)dst_h, (size_t)dst_w, &need) ||
        !cs_mul_size(need, (size_t)channels, &need) ||
        !cs_mul_size((size_t)src_h, (size_t)src_w, &src_n) ||
        !cs_mul_size(src_n, (size_t)channels, &src_n))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_resize_bilinear: element count overflows");
    if (dst_capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL,
                       "cs_resize_bilinear: capacity %zu floats, %zu needed", dst_capacity, need);

    const size_t c = (size_t)channels;
    const size_t row = (size_t)src_w * c;
    for (int oy = 0; oy < dst_h; oy++) {
        int y0, y1;
        float ly0, ly1;
        cs_bilinear_axis(src_h, dst_h, oy, &y0, &y1, &ly0, &ly1);
        const float *r0 = src + (size_t)y0 * row;
        const float *r1 = src + (size_t)y1 * row;
        float *out = dst + (size_t)oy * dst_w * c;
        for (int ox = 0; ox < dst_w; ox++) {
            int x0, x1;
            float lx0, lx1;
            cs_bilinear_axis(src_w, dst_w, ox, &x0, &x1, &lx0, &lx1);
            const float *a = r0 + (size_t)x0 * c, *b = r0 + (size_t)x1 * c;
            const float *d = r1 + (size_t)x0 * c, *e = r1 + (size_t)x1 * c;
            for (size_t k = 0; k < c; k++) {
                float t0 = a[k] * lx0;
                t0 += b[k] * lx1;
                float t1 = d[k] * lx0;
                t1 += e[k] * lx1;
                float v = t0 * ly0;
                v += t1 * ly1;
                out[k] = v;
            }
            out += c;
        }
    }
    return CS_OK;
}
