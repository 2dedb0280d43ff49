/* SCLIP's postprocess_result for one image: logits bilinearly resized (align_corners false) to
 * the output size, softmax over the texts of logit_scale * logits, the first maximum, and the
 * background threshold (probability below it gives label 0). */
#include "core/bilinear.h"
#include "core/common.h"

#include <math.h>
#include <stdlib.h>

CS_API cs_status cs_logits_to_labels(const float *logits, int n_texts, int height, int width,
                                     int out_h, int out_w, float logit_scale,
                                     float bg_threshold, uint8_t *labels, size_t capacity)
{
    cs_clear_error();
    if (!logits || !labels) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_logits_to_labels: NULL");
    if (n_texts <= 0 || height <= 0 || width <= 0 || out_h <= 0 || out_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_logits_to_labels: sizes must be positive");
    if (n_texts > 256)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_logits_to_labels: %d texts (at most 256)",
                       n_texts);
    if (!isfinite(logit_scale) || !isfinite(bg_threshold))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "logit_scale and bg_threshold must be finite");
    size_t hw, ohw;
    if (!cs_mul_size((size_t)height, (size_t)width, &hw) ||
        !cs_mul_size((size_t)out_h, (size_t)out_w, &ohw) || hw > SIZE_MAX / 256)
        return cs_fail(CS_ERR_TOO_LARGE, "cs_logits_to_labels: sizes overflow");
    if (capacity < ohw)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "labels need %zu bytes, capacity is %zu", ohw,
                       capacity);
    float v[256];
    for (int oy = 0; oy < out_h; oy++) {
        int y0, y1;
        float ly0, ly1;
        cs_bilinear_axis(height, out_h, oy, &y0, &y1, &ly0, &ly1);
        for (int ox = 0; ox < out_w; ox++) {
            int x0, x1;
            float lx0, lx1;
            cs_bilinear_axis(width, out_w, ox, &x0, &x1, &lx0, &lx1);
            float mx = -INFINITY;
            for (int k = 0; k < n_texts; k++) {
                const float *l = logits + (size_t)k * hw;
                float t0 = l[(size_t)y0 * width + x0] * lx0;
                t0 += l[(size_t)y0 * width + x1] * lx1;
                float t1 = l[(size_t)y1 * width + x0] * lx0;
                t1 += l[(size_t)y1 * width + x1] * lx1;
                float u = t0 * ly0;
                u += t1 * ly1;
                v[k] = u * logit_scale;
                if (v[k] > mx) mx = v[k];
            }
            float s = 0.0f;
            for (int k = 0; k < n_texts; k++) {
                v[k] = expf(v[k] - mx);
                s += v[k];
            }
            int best = 0;
            for (int k = 0; k < n_texts; k++) {
                v[k] /= s;
                if (v[k] > v[best]) best = k;
            }
            if (v[best] < bg_threshold) best = 0;
            labels[(size_t)oy * out_w + ox] = (uint8_t)best;
        }
    }
    return CS_OK;
}
