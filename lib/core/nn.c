/* Transformer kernels: layer norm, softmax, QuickGELU/GELU, linear layers over cs_gemm, and
 * multi-head attention (original q-k, v-v surgery attention, causal text attention). */
#include "core/nn.h"

#include "core/common.h"
#include "core/gemm.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define LANES 8

/* Sum of n floats with LANES partial sums (vectorisable without reassociation flags). */
static inline float sum_f(const float *x, int n)
{
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

static inline float sum_sq_dev(const float *x, int n, float mean)
{
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - mean;
            acc[j] += d * d;
        }
    float s = 0.0f;
    for (; i < n; i++) {
        float d = x[i] - mean;
        s += d * d;
    }
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

void cs_nn_layer_norm(const float *x, int ldx, float *y, int ldy, size_t rows, int n,
                      const float *w, const float *b, float eps)
{
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * (size_t)ldx;
        float *yr = y + r * (size_t)ldy;
        float mean = sum_f(xr, n) / (float)n;
        float var = sum_sq_dev(xr, n, mean) / (float)n;
        float rstd = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < n; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
    }
}

/* exp by range reduction x = n ln2 + r, |r| <= ln2/2, and a degree-6 polynomial for e^r
 * (Cephes expf coefficients); 2^n built in the exponent bits. No calls: vectorises. */
static inline float exp_poly(float x)
{
    if (x != x) return x; /* NaN stays NaN (and never reaches the float-to-int conversion) */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float fn = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5 * 2^23 */
    fn -= 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Vector versions (GCC/Clang vector extensions: 8 floats, split into SSE halves on a baseline
 * x86-64 build; the AVX2 clone below uses whole registers). */
#if defined(__GNUC__) && !defined(__clang__)
/* The helpers below are static and always inlined: no vector crosses a real call boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float vf8 __attribute__((vector_size(32)));
typedef int32_t vi8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) vf8 vload(const float *p)
{
    vf8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void vstore(float *p, vf8 v) { memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) vf8 vsel(vi8 m, vf8 a, vf8 b) { return (vf8)(((vi8)a & m) | ((vi8)b & ~m)); }

static inline __attribute__((always_inline)) vf8 vexp(vf8 x)
{
    const vf8 zero = {0};
    x = vsel(x < zero - 87.0f, zero - 87.0f, x);
    x = vsel(x > zero + 88.0f, zero + 88.0f, x);
    vf8 fn = x * 1.44269504088896341f + 12582912.0f;
    fn = fn - 12582912.0f;
    vf8 r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    vf8 p = zero + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    vi8 bits = (__builtin_convertvector(fn, vi8) + 127) << 23;
    return p * (vf8)bits;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CS_CLONES
#endif

CS_CLONES static void softmax_row(float *x, int n)
{
    int i = 0;
    float m = x[0];
    if (n >= 8) {
        vf8 vm = vload(x);
        for (i = 8; i + 8 <= n; i += 8) {
            vf8 v = vload(x + i);
            vm = vsel(v > vm, v, vm);
        }
        for (int j = 0; j < 8; j++) m = vm[j] > m ? vm[j] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    vf8 vs = {0};
    for (i = 0; i + 8 <= n; i += 8) {
        vf8 e = vexp(vload(x + i) - m);
        vstore(x + i, e);
        vs += e;
    }
    float s = 0.0f;
    for (; i < n; i++) {
        x[i] = exp_poly(x[i] - m);
        s += x[i];
    }
    for (int j = 0; j < 8; j++) s += vs[j];
    float inv = 1.0f / s;
    for (i = 0; i + 8 <= n; i += 8) vstore(x + i, vload(x + i) * inv);
    for (; i < n; i++) x[i] *= inv;
}

CS_CLONES static void bias_act_row(float *y, int n, const float *b, int act)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        vf8 v = vload(y + i);
        if (b) v += vload(b + i);
        if (act == CS_ACT_QUICK_GELU) v = v / (1.0f + vexp(v * -1.702f));
        vstore(y + i, v);
    }
    for (; i < n; i++) {
        float v = y[i] + (b ? b[i] : 0.0f);
        if (act == CS_ACT_QUICK_GELU) v = v / (1.0f + exp_poly(-1.702f * v));
        y[i] = v;
    }
    if (act == CS_ACT_GELU)
        for (i = 0; i < n; i++) y[i] = 0.5f * y[i] * (1.0f + erff(y[i] * 0.70710678118654752f));
}

void cs_nn_softmax_rows(float *x, size_t rows, int n, int ld)
{
    for (size_t r = 0; r < rows; r++) softmax_row(x + r * (size_t)ld, n);
}

void cs_nn_bias_act(float *y, size_t rows, int n, int ld, const float *b, int act)
{
    for (size_t r = 0; r < rows; r++) bias_act_row(y + r * (size_t)ld, n, b, act);
}

void cs_nn_linear(cs_context *ctx, const float *x, int ldx, int rows, int in, const float *w, const float *b,
                  int out, float *y, int ldy, int accumulate)
{
    if (rows <= 0) return;
    cs_gemm(ctx, 0, 1, rows, out, in, 1.0f, x, ldx, w, in, accumulate ? 1.0f : 0.0f, y, ldy);
    if (b) cs_nn_bias_act(y, (size_t)rows, out, ldy, b, -1);
}

cs_status cs_nn_check_kind(cs_attention_kind kind)
{
    switch (kind) {
    case CS_ATTN_QK:
    case CS_ATTN_VV:
        return CS_OK;
    case CS_ATTN_IDENTITY:
    case CS_ATTN_QQ_KK:
    case CS_ATTN_QQ:
    case CS_ATTN_KK_GAUSSIAN:
    case CS_ATTN_SELF_SELF:
        return cs_fail(CS_ERR_UNSUPPORTED,
                       "attention kind %d is not available in the dual path of cs_surgery_apply "
                       "(the dense-method calls, cs_method_apply, compute it)",
                       (int)kind);
    }
    return cs_fail(CS_ERR_INVALID_ARGUMENT, "attention kind %d is not a cs_attention_kind",
                   (int)kind);
}

typedef struct softmax_job {
    float *s;
    int n_query, n_keys, q_begin, causal;
} softmax_job;

/* rows of a [group, n_query, n_keys] score block */
static void softmax_range(void *arg, size_t begin, size_t end)
{
    const softmax_job *j = arg;
    for (size_t r = begin; r < end; r++) {
        float *row = j->s + r * (size_t)j->n_keys;
        if (j->causal) {
            int valid = j->q_begin + (int)(r % (size_t)j->n_query) + 1;
            softmax_row(row, valid);
            for (int i = valid; i < j->n_keys; i++) row[i] = 0.0f;
        } else {
            softmax_row(row, j->n_keys);
        }
    }
}

/* Scores of several heads are computed together so the softmax of a whole group runs as one
 * parallel loop (few thread start-ups per block). */
#define CS_SCORE_GROUP_FLOATS ((size_t)4 << 20)
#define CS_PARALLEL_MIN_FLOATS ((size_t)1 << 20)

cs_status cs_nn_attention(cs_context *ctx, const float *qkv, int ld_qkv, int n_tok, int width,
                          int heads, cs_attention_kind kind, int causal, int q_begin,
                          int n_query, float *out, int ld_out)
{
    cs_status st = cs_nn_check_kind(kind);
    if (st != CS_OK) return st;
    if (n_query <= 0) return CS_OK;
    int d = width / heads;
    /* With a causal mask keys after the last query row never matter. */
    int n_keys = causal ? q_begin + n_query : n_tok;
    size_t per_head;
    if (!cs_mul_size((size_t)n_query, (size_t)n_keys, &per_head))
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
    int group = (int)(CS_SCORE_GROUP_FLOATS / per_head);
    if (group < 1) group = 1;
    if (group > heads) group = heads;
    float *s = cs_ctx_buf(ctx, CS_BUF_SCORES, per_head * (size_t)group);
    if (!s) return CS_ERR_OUT_OF_MEMORY;
    float scale = 1.0f / sqrtf((float)d);
    for (int h0 = 0; h0 < heads; h0 += group) {
        int h1 = h0 + group < heads ? h0 + group : heads;
        for (int h = h0; h < h1; h++) {
            const float *q = qkv + (size_t)h * d;
            const float *k = qkv + (size_t)width + (size_t)h * d;
            if (kind == CS_ATTN_VV) {
                q = qkv + 2 * (size_t)width + (size_t)h * d;
                k = q;
            }
            cs_gemm(ctx, 0, 1, n_query, n_keys, d, scale, q + (size_t)q_begin * ld_qkv, ld_qkv, k,
                    ld_qkv, 0.0f, s + (size_t)(h - h0) * per_head, n_keys);
        }
        softmax_job job = {s, n_query, n_keys, q_begin, causal};
        size_t rows = (size_t)(h1 - h0) * (size_t)n_query;
        if (rows * (size_t)n_keys >= CS_PARALLEL_MIN_FLOATS)
            cs_parallel_for(ctx, rows, 1 + (size_t)65536 / (size_t)n_keys, softmax_range, &job);
        else
            softmax_range(&job, 0, rows);
        for (int h = h0; h < h1; h++) {
            const float *v = qkv + 2 * (size_t)width + (size_t)h * d;
            cs_gemm(ctx, 0, 0, n_query, d, n_keys, 1.0f, s + (size_t)(h - h0) * per_head, n_keys, v,
                    ld_qkv, 0.0f, out + (size_t)h * d, ld_out);
        }
    }
    return CS_OK;
}

cs_status cs_nn_mlp_residual(cs_context *ctx, const cs_block_weights *blk, float *x, int ldx,
                             int rows, int width, int mlp_dim, int act, float eps)
{
    if (rows <= 0) return CS_OK;
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * (size_t)width);
    float *h = cs_ctx_buf(ctx, CS_BUF_HID, (size_t)rows * (size_t)mlp_dim);
    if (!a || !h) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_layer_norm(x, ldx, a, width, (size_t)rows, width, blk->ln_2_w, blk->ln_2_b, eps);
    cs_gemm(ctx, 0, 1, rows, mlp_dim, width, 1.0f, a, width, blk->fc_w, width, 0.0f, h, mlp_dim);
    cs_nn_bias_act(h, (size_t)rows, mlp_dim, mlp_dim, blk->fc_b, act);
    cs_nn_linear(ctx, h, mlp_dim, rows, mlp_dim, blk->proj_w, blk->proj_b, width, x, ldx, 1);
    return CS_OK;
}
