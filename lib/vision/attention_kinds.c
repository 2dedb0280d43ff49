/* Attention kinds of the dense methods (../shared/docs/METHODS.md 1-5), per head of d channels
 * with s = 1/sqrt(d), softmax over the key axis:
 *  - CS_ATTN_IDENTITY (MaskCLIP): out = v, no head split, no attention;
 *  - CS_ATTN_QQ (ClearCLIP): softmax(s q q^T) v;
 *  - CS_ATTN_QQ_KK (SCLIP): (softmax(s q q^T) + softmax(s k k^T)) v, a plain sum (rows sum to 2);
 *  - CS_ATTN_KK_GAUSSIAN (NACLIP): softmax(s k k^T + Omega) v;
 *  - CS_ATTN_SELF_SELF (GEM SelfSelfAttention): for z in v, k, q: z = z/max(||z||, 1e-12), then
 *    `iterations` times z = softmax(beta z z^T) z and renormalise, then O_z = softmax(beta z z^T) v
 *    with the raw v; out = (O_v + O_k + O_q) / 3;
 *  - CS_ATTN_QK and CS_ATTN_VV: cs_nn_attention.
 * Every product goes through cs_gemm. */
#include "vision/attention_kinds.h"

#include "core/common.h"
#include "core/gemm.h"
#include "core/nn.h"

#include <math.h>
#include <string.h>

void cs_attn_gaussian_bias(int gh, int gw, float sigma, float *out)
{
    int n = gh * gw, t = 1 + n;
    memset(out, 0, sizeof(float) * (size_t)t * (size_t)t);
    double inv = 1.0 / (2.0 * (double)sigma * (double)sigma);
    for (int p = 0; p < n; p++) {
        int i = p / gw, j = p % gw;
        float *row = out + (size_t)(1 + p) * t + 1;
        for (int q = 0; q < n; q++) {
            int di = i - q / gw, dj = j - q % gw;
            row[q] = (float)exp(-(double)(di * di + dj * dj) * inv);
        }
    }
}

float cs_attn_gem_inv_temp(const float *ln, int rows, int width, int heads)
{
    double sum = 0.0;
    for (int r = 0; r < rows; r++) {
        const float *x = ln + (size_t)r * width;
        double s2 = 0.0;
        for (int k = 0; k < width; k++) s2 += (double)x[k] * x[k];
        sum += sqrt(s2);
    }
    float mean = (float)(sum / rows);
    return mean * (1.0f / sqrtf((float)(width / heads)));
}

/* scores [n, n] = alpha * a a^T + bias, then softmax per row (the bias makes them non-symmetric
 * in general, so the full product) */
static void scores_softmax_bias(cs_context *ctx, const float *a, int lda, int n, int d,
                                float alpha, const float *bias, float *s)
{
    cs_gemm(ctx, 0, 1, n, n, d, alpha, a, lda, a, lda, 0.0f, s, n);
    for (size_t i = 0; i < (size_t)n * n; i++) s[i] += bias[i];
    cs_nn_softmax_rows(ctx, s, (size_t)n, n, n);
}

/* rows of z [n, d] (stride ldz) normalised into dst [n, d] */
static void normalize_rows(const float *z, int ldz, int n, int d, float *dst)
{
    for (int r = 0; r < n; r++) {
        const float *x = z + (size_t)r * ldz;
        float *y = dst + (size_t)r * d;
        float s2 = 0.0f;
        for (int k = 0; k < d; k++) s2 += x[k] * x[k];
        float nrm = sqrtf(s2);
        if (nrm < 1e-12f) nrm = 1e-12f;
        for (int k = 0; k < d; k++) y[k] = x[k] / nrm;
    }
}

cs_status cs_attn_kind_run(cs_context *ctx, const cs_attn_opts *o, const float *qkv, int ld_qkv,
                           int n_tok, int width, int heads, float *out, int ld_out)
{
    cs_attention_kind kind = o->kind;
    if (kind == CS_ATTN_QK || kind == CS_ATTN_VV)
        return cs_nn_attention(ctx, qkv, ld_qkv, n_tok, width, heads, kind, 0, 0, n_tok, out,
                               ld_out);
    if (kind == CS_ATTN_IDENTITY) {
        for (int r = 0; r < n_tok; r++)
            memcpy(out + (size_t)r * ld_out, qkv + (size_t)r * ld_qkv + 2 * (size_t)width,
                   sizeof(float) * (size_t)width);
        return CS_OK;
    }
    if (kind != CS_ATTN_QQ && kind != CS_ATTN_QQ_KK && kind != CS_ATTN_KK_GAUSSIAN &&
        kind != CS_ATTN_SELF_SELF)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention kind %d is not a cs_attention_kind",
                       (int)kind);
    if (kind == CS_ATTN_KK_GAUSSIAN && !o->bias)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "k-k Gaussian attention needs its bias");
    int d = width / heads;
    float scale = 1.0f / sqrtf((float)d);
    float *s = NULL;
    if (kind == CS_ATTN_KK_GAUSSIAN) {
        size_t nn;
        if (!cs_mul_size((size_t)n_tok, (size_t)n_tok, &nn))
            return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
        if (!(s = cs_ctx_buf(ctx, CS_BUF_SCORES, nn))) return CS_ERR_OUT_OF_MEMORY;
    }
    cs_status st = CS_OK;
    for (int h = 0; h < heads && st == CS_OK; h++) {
        const float *q = qkv + (size_t)h * d;
        const float *k = q + width;
        const float *v = q + 2 * (size_t)width;
        float *oh = out + (size_t)h * d;
        if (kind == CS_ATTN_KK_GAUSSIAN) {
            scores_softmax_bias(ctx, k, ld_qkv, n_tok, d, scale, o->bias, s);
            cs_gemm(ctx, 0, 0, n_tok, d, n_tok, 1.0f, s, n_tok, v, ld_qkv, 0.0f, oh, ld_out);
        } else if (kind == CS_ATTN_QQ) {
            st = cs_nn_sym_attention(ctx, q, ld_qkv, n_tok, d, scale, v, ld_qkv, d, oh, ld_out, 0);
        } else if (kind == CS_ATTN_QQ_KK) {
            st = cs_nn_sym_attention(ctx, q, ld_qkv, n_tok, d, scale, v, ld_qkv, d, oh, ld_out, 0);
            if (st == CS_OK)
                st = cs_nn_sym_attention(ctx, k, ld_qkv, n_tok, d, scale, v, ld_qkv, d, oh,
                                         ld_out, 1);
        } else { /* CS_ATTN_SELF_SELF */
            float *z = cs_ctx_buf(ctx, CS_BUF_ZBUF, (size_t)3 * n_tok * d);
            if (!z) return CS_ERR_OUT_OF_MEMORY;
            float *z2 = z + (size_t)n_tok * d, *acc = z2 + (size_t)n_tok * d;
            const float *src[3] = {v, k, q};
            float beta = o->inv_temp;
            for (int b = 0; b < 3 && st == CS_OK; b++) {
                normalize_rows(src[b], ld_qkv, n_tok, d, z);
                for (int it = 0; it < o->iterations && st == CS_OK; it++) {
                    st = cs_nn_sym_attention(ctx, z, d, n_tok, d, beta, z, d, d, z2, d, 0);
                    normalize_rows(z2, d, n_tok, d, z);
                }
                if (st == CS_OK)
                    st = cs_nn_sym_attention(ctx, z, d, n_tok, d, beta, v, ld_qkv, d, acc, d,
                                             b > 0);
            }
            if (st != CS_OK) return st;
            for (int r = 0; r < n_tok; r++)
                for (int c = 0; c < d; c++)
                    oh[(size_t)r * ld_out + c] = acc[(size_t)r * d + c] / 3.0f;
        }
    }
    return st;
}
