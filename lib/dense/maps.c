/* Similarity maps and multi-label scores (REFERENCE 5; clip.py get_similarity_map). */
#include "core/common.h"
#include "core/gemm.h"

#include <math.h>
#include <stdlib.h>

CS_API cs_status cs_similarity_maps(const float *similarity, int grid_h, int grid_w,
                                    int n_texts, int out_h, int out_w, float *maps,
                                    size_t capacity)
{
    cs_clear_error();
    if (!similarity || !maps) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_similarity_maps: NULL buffer");
    if (grid_h <= 0 || grid_w <= 0 || n_texts <= 0 || out_h <= 0 || out_w <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_similarity_maps: sizes must be positive (grid %dx%d, %d texts, "
                       "out %dx%d)", grid_h, grid_w, n_texts, out_h, out_w);
    size_t cells, grid_n, need;
    if (!cs_mul_size((size_t)grid_h, (size_t)grid_w, &cells) ||
        !cs_mul_size(cells, (size_t)n_texts, &grid_n) ||
        !cs_mul_size((size_t)out_h, (size_t)out_w, &need) ||
        !cs_mul_size(need, (size_t)n_texts, &need))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_similarity_maps: element count overflows");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_similarity_maps: capacity %zu floats, %zu needed",
                       capacity, need);
    float *grid = cs_alloc_array(grid_n, sizeof *grid);
    if (!grid) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_similarity_maps: %zu floats", grid_n);

    const size_t T = (size_t)n_texts;
    const float *s = similarity + T; /* skip the class token */
    for (size_t t = 0; t < T; t++) {
        float lo = s[t], hi = s[t];
        for (size_t i = 1; i < cells; i++) {
            const float v = s[i * T + t];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        const float range = hi - lo;
        for (size_t i = 0; i < cells; i++)
            grid[i * T + t] = range > 0.0f ? (s[i * T + t] - lo) / range : 0.0f;
    }
    cs_status st = cs_resize_bilinear(grid, grid_h, grid_w, n_texts, maps, out_h, out_w, capacity);
    free(grid);
    return st;
}

CS_API cs_status cs_class_probabilities(const float *image_features, int batch, int n_tokens,
                                        const float *text_features, int n_texts, int dim,
                                        float scale, float *probs, size_t capacity)
{
    cs_clear_error();
    if (!image_features || !text_features || !probs)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_class_probabilities: NULL buffer");
    if (batch <= 0 || n_tokens <= 0 || n_texts <= 0 || dim <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_class_probabilities: sizes must be positive (batch %d, n_tokens %d, "
                       "n_texts %d, dim %d)", batch, n_tokens, n_texts, dim);
    if (!isfinite(scale))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_class_probabilities: scale is not finite");
    size_t need, stride;
    if (!cs_mul_size((size_t)batch, (size_t)n_texts, &need) ||
        !cs_mul_size((size_t)n_tokens, (size_t)dim, &stride) || stride > (size_t)INT32_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "cs_class_probabilities: sizes overflow");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_class_probabilities: capacity %zu floats, "
                       "%zu needed", capacity, need);
    float *tnorm = cs_alloc_array((size_t)n_texts, sizeof *tnorm);
    if (!tnorm) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_class_probabilities: %d floats", n_texts);
    for (int t = 0; t < n_texts; t++) {
        double ss = 0.0;
        const float *g = text_features + (size_t)t * dim;
        for (int i = 0; i < dim; i++) ss += (double)g[i] * g[i];
        tnorm[t] = (float)sqrt(ss);
    }
    /* Class tokens are rows of stride n_tokens * dim: one product for the whole batch. */
    cs_gemm(NULL, 0, 1, batch, n_texts, dim, 1.0f, image_features, (int)stride, text_features, dim,
            0.0f, probs, n_texts);
    for (int b = 0; b < batch; b++) {
        const float *c = image_features + (size_t)b * stride;
        double ss = 0.0;
        for (int i = 0; i < dim; i++) ss += (double)c[i] * c[i];
        const double cn = sqrt(ss);
        float *p = probs + (size_t)b * n_texts;
        double mx = -INFINITY;
        for (int t = 0; t < n_texts; t++) {
            const double den = cn * (double)tnorm[t];
            const double logit = den > 0.0 ? (double)scale * (double)p[t] / den : 0.0;
            p[t] = (float)logit;
            if (logit > mx) mx = logit;
        }
        double sum = 0.0;
        for (int t = 0; t < n_texts; t++) sum += exp((double)p[t] - mx);
        for (int t = 0; t < n_texts; t++) p[t] = (float)(exp((double)p[t] - mx) / sum);
    }
    free(tnorm);
    return CS_OK;
}

CS_API cs_status cs_similarity_peaks(const float *similarity, int batch, int n_tokens,
                                     int n_texts, float *peaks, size_t capacity)
{
    cs_clear_error();
    if (!similarity || !peaks) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_similarity_peaks: NULL buffer");
    if (batch <= 0 || n_tokens < 2 || n_texts <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "cs_similarity_peaks: need batch > 0, n_tokens >= 2, n_texts > 0 (got %d, "
                       "%d, %d)", batch, n_tokens, n_texts);
    size_t need, per;
    if (!cs_mul_size((size_t)batch, (size_t)n_texts, &need) ||
        !cs_mul_size((size_t)n_tokens, (size_t)n_texts, &per) ||
        !cs_mul_size(per, (size_t)batch, &per))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_similarity_peaks: sizes overflow");
    if (capacity < need)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_similarity_peaks: capacity %zu floats, %zu "
                       "needed", capacity, need);
    const size_t T = (size_t)n_texts, N = (size_t)n_tokens;
    for (size_t b = 0; b < (size_t)batch; b++) {
        const float *s = similarity + b * N * T;
        for (size_t t = 0; t < T; t++) {
            float mx = s[T + t];
            for (size_t n = 2; n < N; n++)
                if (s[n * T + t] > mx) mx = s[n * T + t];
            peaks[b * T + t] = mx;
        }
    }
    return CS_OK;
}
