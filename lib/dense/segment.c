/* Open-vocabulary segmentation: per pixel argmax over texts of the bilinearly upsampled raw
 * similarity (REFERENCE 5). Interpolates on the fly, so no [out_h, out_w, T] temporary. */
#include "core/bilinear.h"
#include "core/common.h"

CS_API cs_status cs_segment(const float *similarity, int grid_h, int grid_w, int n_texts,
                            int out_h, int out_w, uint8_t *labels, size_t capacity)
{
    cs_clear_error();
    if (!similarity || !labels) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_segment: NULL buffer");
    if (grid_h <= 0 || grid_w <= 0 || n_texts <= 0 || out_h <= 0 || out_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_segment: sizes must be positive (grid %dx%d, %d texts, out %dx%d)",
                       grid_h, grid_w, n_texts, out_h, out_w);
    if (n_texts > 256)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_segment: %d texts do not fit 8-bit labels",
                       n_texts);
    size_t cells, need;
    if (!cs_mul_size((size_t)grid_h, (size_t)grid_w, &cells) ||
        !cs_mul_size(cells, (size_t)n_texts, &cells) ||
        !cs_mul_size((size_t)out_h, (size_t)out_w, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_segment: element count overflows");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_segment: capacity %zu bytes, %zu needed",
                       capacity, need);

    const size_t T = (size_t)n_texts;
    const float *s = similarity + T; /* skip the class token */
    const size_t row = (size_t)grid_w * T;
    for (int oy = 0; oy < out_h; oy++) {
        int y0, y1;
        float ly0, ly1;
        cs_bilinear_axis(grid_h, out_h, oy, &y0, &y1, &ly0, &ly1);
        const float *r0 = s + (size_t)y0 * row, *r1 = s + (size_t)y1 * row;
        uint8_t *out = labels + (size_t)oy * out_w;
        for (int ox = 0; ox < out_w; ox++) {
            int x0, x1;
            float lx0, lx1;
            cs_bilinear_axis(grid_w, out_w, ox, &x0, &x1, &lx0, &lx1);
            const float *a = r0 + (size_t)x0 * T, *b = r0 + (size_t)x1 * T;
            const float *d = r1 + (size_t)x0 * T, *e = r1 + (size_t)x1 * T;
            size_t best = 0;
            float best_v = 0.0f;
            for (size_t t = 0; t < T; t++) {
                float t0 = a[t] * lx0;
                t0 += b[t] * lx1;
                float t1 = d[t] * lx0;
                t1 += e[t] * lx1;
                float v = t0 * ly0;
                v += t1 * ly1;
                if (t == 0 || v > best_v) {
                    best = t;
                    best_v = v;
                }
            }
            out[ox] = (uint8_t)best;
        }
    }
    return CS_OK;
}
