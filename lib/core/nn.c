/* Transformer kernels: layer norm, softmax, QuickGELU/GELU, linear layers over cs_gemm, and
 * multi-head attention (original q-k, v-v surgery attention, causal text attention). */
#include "core/nn.h"

#include "core/common.h"
#include "core/exp_kernels.h"
#include "core/gemm.h"
#include "core/gram.h"
#include "core/heads.h"

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

/* Floats of elementwise work given to one thread at least: light passes (layer norm, bias) and
 * passes with an exp per value. A thread start costs tens of microseconds when the cores are
 * free, but a whole time slice when another process holds the other core (measured on the
 * shared 2-core machine: 224 px encodes 0.05-0.15 s slower with 2^15-2^17 floats per thread), so
 * only the large passes of big images (1025 tokens: QuickGELU over 1025 x 3072, the qkv bias,
 * softmax of the score blocks) are split. */
#define CS_EW_MIN_FLOATS ((size_t)1 << 20)
#define CS_EW_MIN_FLOATS_EXP ((size_t)1 << 19)

static size_t min_rows(size_t per_thread, int n)
{
    return n > 0 ? (per_thread + (size_t)n - 1) / (size_t)n : 1;
}

/* One row: optionally x += pre_bias first (written back), then y = LayerNorm(x) * w + b. */
static void layer_norm_row(float *xr, float *yr, int n, const float *pre_bias, const float *w,
                           const float *b, float eps)
{
    if (pre_bias)
        for (int i = 0; i < n; i++) xr[i] += pre_bias[i];
    float mean = sum_f(xr, n) / (float)n;
    float var = sum_sq_dev(xr, n, mean) / (float)n;
    float rstd = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
}

typedef struct ln_job {
    float *x, *y;
    int ldx, ldy, n;
    const float *pre_bias, *w, *b;
    float eps;
} ln_job;

static void ln_range(void *arg, size_t begin, size_t end)
{
    const ln_job *j = arg;
    for (size_t r = begin; r < end; r++)
        layer_norm_row(j->x + r * (size_t)j->ldx, j->y + r * (size_t)j->ldy, j->n, j->pre_bias,
                       j->w, j->b, j->eps);
}

void cs_nn_layer_norm(const cs_context *ctx, const float *x, int ldx, float *y, int ldy,
                      size_t rows, int n, const float *w, const float *b, float eps)
{
    /* x is only read (no pre-bias) */
    ln_job job = {(float *)(uintptr_t)x, y, ldx, ldy, n, NULL, w, b, eps};
    cs_parallel_for(ctx, rows, min_rows(CS_EW_MIN_FLOATS, n), ln_range, &job);
}

void cs_nn_bias_layer_norm(const cs_context *ctx, float *x, int ldx, const float *x_bias,
                           float *y, int ldy, size_t rows, int n, const float *w, const float *b,
                           float eps)
{
    ln_job job = {x, y, ldx, ldy, n, x_bias, w, b, eps};
    cs_parallel_for(ctx, rows, min_rows(CS_EW_MIN_FLOATS, n), ln_range, &job);
}

/* out (=, or += when accumulate) P b for the exponentials of sym_softmax and the row sums z:
 * per block row, its stored part times the matching rows of b, plus the transposed g blocks
 * above it times the rows of b before it; every row divided by z. b: [n, d] (row stride ldb). */
static void sym_product(cs_context *ctx, float *s, float *g, int n, int lds, const float *z,
                        const float *b, int ldb, int d, float *out, int ldo, int accumulate)
{
    const int bs = cs_gram_block(n);
    if (accumulate) {
        /* normalise the exponentials first, then add the products: P_ji = s[j][i] / z_j and
         * P_ij = g[j][i] / z_i */
        for (int j = 0; j < n; j++) {
            float *row = s + (size_t)j * lds, *grow = g + (size_t)j * lds;
            int i0 = j / bs * bs;
            int ib = i0 + bs < n ? i0 + bs : n;
            float inv = 1.0f / z[j];
            for (int i = i0; i < n; i++) row[i] *= inv;
            for (int i = ib; i < n; i++) grow[i] /= z[i];
        }
    }
    float beta = accumulate ? 1.0f : 0.0f;
    for (int r0 = 0; r0 < n; r0 += bs) {
        int m = n - r0 < bs ? n - r0 : bs;
        float *o = out + (size_t)r0 * ldo;
        cs_gemm(ctx, 0, 0, m, d, n - r0, 1.0f, s + (size_t)r0 * lds + r0, lds,
                b + (size_t)r0 * ldb, ldb, beta, o, ldo);
        if (r0 > 0)
            cs_gemm(ctx, 1, 0, m, d, r0, 1.0f, g + r0, lds, b, ldb, 1.0f, o, ldo);
    }
    if (!accumulate)
        for (int i = 0; i < n; i++) {
            float inv = 1.0f / z[i];
            float *o = out + (size_t)i * ldo;
            for (int c = 0; c < d; c++) o[c] *= inv;
        }
}

cs_status cs_nn_sym_attention(cs_context *ctx, const float *a, int lda, int n, int k,
                              float alpha, const float *b, int ldb, int d, float *out, int ldo,
                              int accumulate)
{
    if (n <= 0) return CS_OK;
    size_t nn;
    if (!cs_mul_size((size_t)n, (size_t)n, &nn))
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
    float *s = cs_ctx_buf(ctx, CS_BUF_SCORES, nn);
    if (!s) return CS_ERR_OUT_OF_MEMORY;
    if (!cs_gram_worth(n)) { /* small: the full product (core/gram.h) */
        cs_gemm(ctx, 0, 1, n, n, k, alpha, a, lda, a, lda, 0.0f, s, n);
        cs_nn_softmax_rows(ctx, s, (size_t)n, n, n);
        cs_gemm(ctx, 0, 0, n, d, n, 1.0f, s, n, b, ldb, accumulate ? 1.0f : 0.0f, out, ldo);
        return CS_OK;
    }
    float *g = cs_ctx_buf(ctx, CS_BUF_SYM_G, nn);
    float *vec = cs_ctx_buf(ctx, CS_BUF_SYM, (size_t)3 * n);
    if (!s || !g || !vec) return CS_ERR_OUT_OF_MEMORY;
    cs_gram_upper(ctx, n, k, alpha, a, lda, s, n);
    cs_sym_softmax(s, g, n, n, vec, vec + n, vec + 2 * (size_t)n);
    sym_product(ctx, s, g, n, n, vec + n, b, ldb, d, out, ldo, accumulate);
    return CS_OK;
}

typedef struct sym_job {
    float *s, *g, *vec;
    size_t per_head;
    int n;
} sym_job;

/* heads [begin, end) of a group */
static void sym_softmax_range(void *arg, size_t begin, size_t end)
{
    const sym_job *j = arg;
    for (size_t h = begin; h < end; h++) {
        float *v = j->vec + h * 3 * (size_t)j->n;
        cs_sym_softmax(j->s + h * j->per_head, j->g + h * j->per_head, j->n, j->n, v,
                    v + j->n, v + 2 * (size_t)j->n);
    }
}

typedef struct rows_job {
    float *x;
    int n, ld, act;
    const float *b;
} rows_job;

static void softmax_rows_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    for (size_t r = begin; r < end; r++) cs_row_softmax(j->x + r * (size_t)j->ld, j->n);
}

static void bias_act_range(void *arg, size_t begin, size_t end)
{
    const rows_job *j = arg;
    for (size_t r = begin; r < end; r++) cs_row_bias_act(j->x + r * (size_t)j->ld, j->n, j->b, j->act);
}

void cs_nn_softmax_rows(const cs_context *ctx, float *x, size_t rows, int n, int ld)
{
    rows_job job = {x, n, ld, -1, NULL};
    cs_parallel_for(ctx, rows, min_rows(CS_EW_MIN_FLOATS_EXP, n), softmax_rows_range, &job);
}

void cs_nn_bias_act(const cs_context *ctx, float *y, size_t rows, int n, int ld, const float *b,
                    int act)
{
    rows_job job = {y, n, ld, act, b};
    size_t per = act < 0 ? CS_EW_MIN_FLOATS : CS_EW_MIN_FLOATS_EXP;
    cs_parallel_for(ctx, rows, min_rows(per, n), bias_act_range, &job);
}

void cs_nn_linear(cs_context *ctx, const float *x, int ldx, int rows, int in, const float *w, const float *b,
                  int out, float *y, int ldy, int accumulate)
{
    if (rows <= 0) return;
    cs_gemm(ctx, 0, 1, rows, out, in, 1.0f, x, ldx, w, in, accumulate ? 1.0f : 0.0f, y, ldy);
    if (b) cs_nn_bias_act(ctx, y, (size_t)rows, out, ldy, b, -1);
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
            cs_row_softmax(row, valid);
            for (int i = valid; i < j->n_keys; i++) row[i] = 0.0f;
        } else {
            cs_row_softmax(row, j->n_keys);
        }
    }
}

/* Scores of several heads are computed together so the softmax of a whole group runs as one
 * parallel loop (few thread start-ups per block). */
#define CS_SCORE_GROUP_FLOATS ((size_t)4 << 20)

/* softmax(v v^T / sqrt(d)) v of every token, per head: the scores are symmetric, so one
 * triangle is multiplied (cs_gram_upper) and the lower blocks are used from their transpose
 * (sym_softmax, sym_product): no n x n matrix is ever mirrored. Heads are grouped as in
 * cs_nn_attention; the softmax of a group runs over the heads on the context's threads. */
static cs_status attention_vv_sym(cs_context *ctx, const float *qkv, int ld_qkv, int n, int width,
                                  int heads, float *out, int ld_out)
{
    int d = width / heads;
    size_t per_head;
    if (!cs_mul_size((size_t)n, (size_t)n, &per_head))
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
    int group = (int)(CS_SCORE_GROUP_FLOATS / per_head);
    if (group < 1) group = 1;
    if (group > heads) group = heads;
    float *s = cs_ctx_buf(ctx, CS_BUF_SCORES, per_head * (size_t)group);
    float *g = cs_ctx_buf(ctx, CS_BUF_SYM_G, per_head * (size_t)group);
    float *vec = cs_ctx_buf(ctx, CS_BUF_SYM, (size_t)3 * n * (size_t)group);
    if (!s || !g || !vec) return CS_ERR_OUT_OF_MEMORY;
    float scale = 1.0f / sqrtf((float)d);
    for (int h0 = 0; h0 < heads; h0 += group) {
        int h1 = h0 + group < heads ? h0 + group : heads;
        for (int h = h0; h < h1; h++)
            cs_gram_upper(ctx, n, d, scale, qkv + 2 * (size_t)width + (size_t)h * d, ld_qkv,
                          s + (size_t)(h - h0) * per_head, n);
        sym_job job = {s, g, vec, per_head, n};
        size_t work = (size_t)(h1 - h0) * per_head;
        if (work >= CS_EW_MIN_FLOATS_EXP * 2)
            cs_parallel_for(ctx, (size_t)(h1 - h0), 1, sym_softmax_range, &job);
        else
            sym_softmax_range(&job, 0, (size_t)(h1 - h0));
        for (int h = h0; h < h1; h++) {
            size_t o = (size_t)(h - h0);
            sym_product(ctx, s + o * per_head, g + o * per_head, n, n, vec + o * 3 * n + n,
                        qkv + 2 * (size_t)width + (size_t)h * d, ld_qkv, d, out + (size_t)h * d,
                        ld_out, 0);
        }
    }
    return CS_OK;
}

cs_status cs_nn_attention(cs_context *ctx, const float *qkv, int ld_qkv, int n_tok, int width,
                          int heads, cs_attention_kind kind, int causal, int q_begin,
                          int n_query, float *out, int ld_out)
{
    cs_status st = cs_nn_check_kind(kind);
    if (st != CS_OK) return st;
    if (n_query <= 0) return CS_OK;
    int d = width / heads;
    /* heads side by side (every kind, v-v too: the tiled full product on both cores measured
     * faster than the one-triangle path with its heads in turn: 16 against 22 ms per 12-head
     * v-v attention over 1025 tokens) */
    if (cs_heads_wanted(ctx, heads))
        return cs_heads_attention(ctx, qkv, ld_qkv, n_tok, width, heads, kind == CS_ATTN_VV,
                                  causal, q_begin, n_query, out, ld_out);
    /* heads in turn, each product on all threads; v-v of every token: symmetric scores, one
     * triangle (core/gram.h cs_gram_worth) */
    if (kind == CS_ATTN_VV && !causal && q_begin == 0 && n_query == n_tok &&
        cs_gram_worth(n_tok))
        return attention_vv_sym(ctx, qkv, ld_qkv, n_tok, width, heads, out, ld_out);
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
            float *sh = s + (size_t)(h - h0) * per_head;
            if (kind == CS_ATTN_VV) {
                q = qkv + 2 * (size_t)width + (size_t)h * d;
                k = q;
            }
            cs_gemm_blas(ctx, 0, 1, n_query, n_keys, d, scale, q + (size_t)q_begin * ld_qkv,
                         ld_qkv, k, ld_qkv, 0.0f, sh, n_keys);
        }
        softmax_job job = {s, n_query, n_keys, q_begin, causal};
        size_t rows = (size_t)(h1 - h0) * (size_t)n_query;
        cs_parallel_for(ctx, rows, min_rows(CS_EW_MIN_FLOATS_EXP, n_keys), softmax_range, &job);
        for (int h = h0; h < h1; h++) {
            const float *v = qkv + 2 * (size_t)width + (size_t)h * d;
            cs_gemm_blas(ctx, 0, 0, n_query, d, n_keys, 1.0f, s + (size_t)(h - h0) * per_head,
                         n_keys, v, ld_qkv, 0.0f, out + (size_t)h * d, ld_out);
        }
    }
    return CS_OK;
}

static cs_status mlp_residual(cs_context *ctx, const cs_block_weights *blk, float *x, int ldx,
                              const float *x_bias, int rows, int width, int mlp_dim, int act,
                              float eps)
{
    if (rows <= 0) return CS_OK;
    float *a = cs_ctx_buf(ctx, CS_BUF_LN, (size_t)rows * (size_t)width);
    float *h = cs_ctx_buf(ctx, CS_BUF_HID, (size_t)rows * (size_t)mlp_dim);
    if (!a || !h) return CS_ERR_OUT_OF_MEMORY;
    cs_nn_bias_layer_norm(ctx, x, ldx, x_bias, a, width, (size_t)rows, width, blk->ln_2_w,
                          blk->ln_2_b, eps);
    cs_gemm(ctx, 0, 1, rows, mlp_dim, width, 1.0f, a, width, blk->fc_w, width, 0.0f, h, mlp_dim);
    cs_nn_bias_act(ctx, h, (size_t)rows, mlp_dim, mlp_dim, blk->fc_b, act);
    cs_nn_linear(ctx, h, mlp_dim, rows, mlp_dim, blk->proj_w, blk->proj_b, width, x, ldx, 1);
    return CS_OK;
}

cs_status cs_nn_mlp_residual(cs_context *ctx, const cs_block_weights *blk, float *x, int ldx,
                             int rows, int width, int mlp_dim, int act, float eps)
{
    return mlp_residual(ctx, blk, x, ldx, NULL, rows, width, mlp_dim, act, eps);
}

cs_status cs_nn_out_mlp_residual(cs_context *ctx, const cs_block_weights *blk, const float *att,
                                 int ld_att, float *x, int ldx, int rows, int width, int mlp_dim,
                                 int act, float eps)
{
    if (rows <= 0) return CS_OK;
    cs_gemm(ctx, 0, 1, rows, width, width, 1.0f, att, ld_att, blk->out_w, width, 1.0f, x, ldx);
    return mlp_residual(ctx, blk, x, ldx, blk->out_b, rows, width, mlp_dim, act, eps);
}
