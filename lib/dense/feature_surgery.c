/* Feature surgery and similarities (REFERENCE 4; clip.py clip_feature_surgery of the official
 * code). Every matrix product goes through cs_gemm(NULL, ). */
#include "core/common.h"
#include "core/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

CS_API void cs_l2_normalize(float *x, size_t rows, size_t dim)
{
    if (!x) return;
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * dim;
        double ss = 0.0;
        for (size_t i = 0; i < dim; i++) ss += (double)v[i] * v[i];
        if (ss <= 0.0) continue; /* a zero row stays zero */
        const float norm = (float)sqrt(ss); /* x / x.norm() as the reference */
        for (size_t i = 0; i < dim; i++) v[i] /= norm;
    }
}

/* Shared validation of (features, batch, n_tokens, texts, n_texts, dim, out, capacity).
 * On success *need holds batch * n_tokens * n_texts. */
static cs_status check_args(const char *fn, const float *image_features, int batch, int n_tokens,
                            const float *text_features, int n_texts, int dim,
                            const float *similarity, size_t capacity, size_t *need)
{
    if (!image_features || !text_features || !similarity)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "%s: NULL buffer", fn);
    if (batch <= 0 || n_tokens <= 0 || n_texts <= 0 || dim <= 0)
        return cs_fail(CS_ERR_INVALID_ARGUMENT,
                       "%s: sizes must be positive (batch %d, n_tokens %d, n_texts %d, dim %d)",
                       fn, batch, n_tokens, n_texts, dim);
    size_t n;
    if (!cs_mul_size((size_t)batch, (size_t)n_tokens, &n) ||
        !cs_mul_size(n, (size_t)n_texts, &n))
        return cs_fail(CS_ERR_TOO_LARGE, "%s: output element count overflows", fn);
    if (capacity < n)
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "%s: capacity %zu floats, %zu needed", fn,
                       capacity, n);
    *need = n;
    return CS_OK;
}

/* S_b = F_b G^T for every image of the batch. */
static void similarity_products(const float *image_features, int batch, int n_tokens,
                                const float *text_features, int n_texts, int dim,
                                float *similarity)
{
    const size_t in_stride = (size_t)n_tokens * (size_t)dim;
    const size_t out_stride = (size_t)n_tokens * (size_t)n_texts;
    for (int b = 0; b < batch; b++)
        cs_gemm(NULL, 0, 1, n_tokens, n_texts, dim, 1.0f, image_features + (size_t)b * in_stride, dim,
                text_features, dim, 0.0f, similarity + (size_t)b * out_stride, n_texts);
}

CS_API cs_status cs_similarity(const float *image_features, int batch, int n_tokens,
                               const float *text_features, int n_texts, int dim,
                               float *similarity, size_t capacity)
{
    cs_clear_error();
    size_t need;
    cs_status st = check_args("cs_similarity", image_features, batch, n_tokens, text_features,
                              n_texts, dim, similarity, capacity, &need);
    if (st != CS_OK) return st;
    similarity_products(image_features, batch, n_tokens, text_features, n_texts, dim, similarity);
    return CS_OK;
}

CS_API cs_status cs_feature_surgery_label_set(const float *image_features, int batch,
                                              int n_tokens, const float *text_features,
                                              int n_texts, int dim, float *similarity,
                                              size_t capacity)
{
    cs_clear_error();
    size_t need;
    cs_status st = check_args("cs_feature_surgery_label_set", image_features, batch, n_tokens,
                              text_features, n_texts, dim, similarity, capacity, &need);
    if (st != CS_OK) return st;
    if (n_texts == 1) {
        /* One text: the weighted feature equals its own mean, so the reference gives 0. */
        memset(similarity, 0, need * sizeof *similarity);
        return cs_fail(CS_ERR_DEGENERATE,
                       "cs_feature_surgery_label_set: a single text gives identically zero "
                       "similarity; use cs_feature_surgery_empty_text");
    }
    similarity_products(image_features, batch, n_tokens, text_features, n_texts, dim, similarity);
    /* Per image (the reference's current clip.py, one image at a time), from the class token:
     *   p = softmax_t(2 s[0,t]); w = p / mean_t(p)   (= T * p);
     *   S[n,t] = w_t s[n,t] - mean_t'(w_t' s[n,t']).
     * This equals the reference's channel sum of (F_n * G_t * w_t - mean_t'(F_n * G_t' * w_t')).
     * Row 0 is read for the weights before it is overwritten. */
    const size_t T = (size_t)n_texts;
    const size_t N = (size_t)n_tokens;
    double w[256];
    double *wp = T <= 256 ? w : cs_alloc_array(T, sizeof *wp);
    if (!wp) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_feature_surgery_label_set: %zu weights", T);
    for (size_t b = 0; b < (size_t)batch; b++) {
        float *img = similarity + b * N * T;
        double mx = 2.0 * (double)img[0];
        for (size_t t = 1; t < T; t++)
            if (2.0 * (double)img[t] > mx) mx = 2.0 * (double)img[t];
        double esum = 0.0;
        for (size_t t = 0; t < T; t++) esum += exp(2.0 * (double)img[t] - mx);
        for (size_t t = 0; t < T; t++) wp[t] = (double)T * exp(2.0 * (double)img[t] - mx) / esum;
        for (size_t n = 0; n < N; n++) {
            float *s = img + n * T;
            double usum = 0.0;
            for (size_t t = 0; t < T; t++) usum += wp[t] * (double)s[t];
            const double umean = usum / (double)T;
            for (size_t t = 0; t < T; t++) s[t] = (float)(wp[t] * (double)s[t] - umean);
        }
    }
    if (wp != w) free(wp);
    return CS_OK;
}

CS_API cs_status cs_feature_surgery_empty_text(const float *image_features, int batch,
                                               int n_tokens, const float *text_features,
                                               int n_texts, const float *redundant, int dim,
                                               float *similarity, size_t capacity)
{
    cs_clear_error();
    size_t need;
    cs_status st = check_args("cs_feature_surgery_empty_text", image_features, batch, n_tokens,
                              text_features, n_texts, dim, similarity, capacity, &need);
    if (st != CS_OK) return st;
    if (!redundant)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_feature_surgery_empty_text: NULL redundant");
    size_t gn;
    if (!cs_mul_size((size_t)n_texts, (size_t)dim, &gn))
        return cs_fail(CS_ERR_TOO_LARGE, "cs_feature_surgery_empty_text: text size overflows");
    float *g = cs_alloc_array(gn, sizeof *g);
    if (!g) return cs_fail(CS_ERR_OUT_OF_MEMORY, "cs_feature_surgery_empty_text: %zu floats", gn);
    for (int t = 0; t < n_texts; t++)
        for (int i = 0; i < dim; i++)
            g[(size_t)t * dim + i] = text_features[(size_t)t * dim + i] - redundant[i];
    similarity_products(image_features, batch, n_tokens, g, n_texts, dim, similarity);
    free(g);
    return CS_OK;
}
