/* Attention heads side by side (heads.h). */
#include "core/heads.h"

#include "core/bf16.h"
#include "core/common.h"
#include "core/exp_kernels.h"
#include "core/gemm.h"
#include "core/gemm_engine.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Query rows per tile: the whole query block up to 512 rows (bit-identical products to the
 * heads-in-turn path of nn.c), else 256. */
static int head_tile(int n_query) { return n_query <= 512 ? n_query : 256; }

/* Keys a tile of query rows [r0, r0 + m) needs: all, or with a causal mask up to its last
 * row's position. */
static int tile_keys(int causal, int q_begin, int r0, int m, int n_keys)
{
    return causal ? q_begin + r0 + m : n_keys;
}

typedef struct heads_job {
    cs_context *ctx;
    const float *qkv;
    float *out, *scores;
    uint16_t *h16;       /* bf16 scratch, NULL in f32 */
    size_t slot, slot16; /* per thread: floats of scores (+ row sums), bf16 values */
    float scale;
    int ld_qkv, width, d, vv, causal, q_begin, n_query, n_keys, ld_out, tile;
} heads_job;

/* f32: softmax of the score tile s [m, nk] in place, then out = P v */
static void tile_softmax_product_f32(const heads_job *j, float *s, int r0, int m, int nk,
                                     const float *v, float *o)
{
    for (int i = 0; i < m; i++) {
        float *row = s + (size_t)i * nk;
        int valid = j->causal ? j->q_begin + r0 + i + 1 : nk;
        cs_row_softmax(row, valid);
        for (int c = valid; c < nk; c++) row[c] = 0.0f;
    }
    cs_gemm(NULL, 0, 0, m, j->d, nk, 1.0f, s, nk, v, j->ld_qkv, 0.0f, o, j->ld_out);
}

/* bf16: the tile's probabilities rounded into p16 [m, nkp] (nkp = nk rounded up to even: the
 * engine's bf16 kernels want an even inner dimension; the extra column is 0), o = P v16 / row
 * sums. v16 holds at least nkp rows. Returns 0, or -1 when the engine refuses the product (o
 * untouched, s still the scores). */
static int tile_softmax_product_bf16(const heads_job *j, struct cs_engine_state *st,
                                     const float *s, float *sums, uint16_t *p16,
                                     const uint16_t *v16, int r0, int m, int nk, float *o)
{
    int nkp = nk + (nk & 1);
    for (int i = 0; i < m; i++) {
        int valid = j->causal ? j->q_begin + r0 + i + 1 : nk;
        sums[i] = cs_row_softmax_exp_bf16(s + (size_t)i * nk, valid, p16 + (size_t)i * nkp, nkp);
    }
    if (cs_engine_gemm_bf16(st, 0, 0, m, j->d, nkp, 1.0f, p16, nkp, v16, j->d, 0.0f, o,
                            j->ld_out) != 0)
        return -1;
    for (int i = 0; i < m; i++) {
        float inv = 1.0f / sums[i], *orow = o + (size_t)i * j->ld_out;
        for (int c = 0; c < j->d; c++) orow[c] *= inv;
    }
    return 0;
}

/* heads [begin, end) on one thread */
static void heads_range(void *arg, size_t begin, size_t end, int thread)
{
    const heads_job *j = arg;
    float *s = j->scores + (size_t)thread * j->slot;
    float *sums = s + (size_t)j->tile * j->n_keys;
    int d = j->d, ld = j->ld_qkv;
    /* bf16: v16 [kpad, d] (a zero row past the keys when their count is odd), k16 [n_keys, d]
     * (= v16 for v-v), q16 [tile, d], p16 [tile, kpad] */
    int kpad = j->n_keys + (j->n_keys & 1);
    uint16_t *v16 = NULL, *k16 = NULL, *q16 = NULL, *p16 = NULL;
    struct cs_engine_state *st = NULL;
    if (j->h16) {
        v16 = j->h16 + (size_t)thread * j->slot16;
        k16 = v16 + (size_t)kpad * d;
        q16 = k16 + (size_t)kpad * d;
        p16 = q16 + (size_t)j->tile * d;
        st = cs_ctx_engine(j->ctx, thread);
    }
    for (size_t h = begin; h < end; h++) {
        const float *q = j->qkv + h * (size_t)d;
        const float *k = q + j->width;
        const float *v = q + 2 * (size_t)j->width;
        if (j->vv) q = k = v;
        if (v16) {
            cs_bf16_from_f32(v, (size_t)ld, (size_t)j->n_keys, (size_t)d, v16);
            if (kpad > j->n_keys) memset(v16 + (size_t)j->n_keys * d, 0, sizeof(uint16_t) * d);
            if (!j->vv) cs_bf16_from_f32(k, (size_t)ld, (size_t)j->n_keys, (size_t)d, k16);
        }
        for (int r0 = 0; r0 < j->n_query; r0 += j->tile) {
            int m = j->n_query - r0 < j->tile ? j->n_query - r0 : j->tile;
            int nk = tile_keys(j->causal, j->q_begin, r0, m, j->n_keys);
            const float *qt = q + (size_t)(j->q_begin + r0) * ld;
            float *o = j->out + (size_t)r0 * j->ld_out + h * (size_t)d;
            if (v16) {
                const uint16_t *kk = j->vv ? v16 : k16, *qq;
                if (j->vv) {
                    qq = v16 + (size_t)(j->q_begin + r0) * d;
                } else {
                    cs_bf16_from_f32(qt, (size_t)ld, (size_t)m, (size_t)d, q16);
                    qq = q16;
                }
                if (cs_engine_gemm_bf16(st, 0, 1, m, nk, d, j->scale, qq, d, kk, d, 0.0f, s,
                                        nk) == 0 &&
                    tile_softmax_product_bf16(j, st, s, sums, p16, v16, r0, m, nk, o) == 0)
                    continue;
                /* the engine refused a shape: this tile in f32 */
            }
            cs_gemm(NULL, 0, 1, m, nk, d, j->scale, qt, ld, k, ld, 0.0f, s, nk);
            tile_softmax_product_f32(j, s, r0, m, nk, v, o);
        }
    }
}

/* whether the heads can run side by side: two threads, two heads, products that nest */
static int side_by_side(const cs_context *ctx, int heads)
{
    return ctx->n_threads > 1 && heads > 1 && cs_gemm_nests();
}

int cs_heads_wanted(const cs_context *ctx, int heads)
{
    if (!ctx || heads < 1) return 0;
    return ctx->precision == CS_PRECISION_BF16 || side_by_side(ctx, heads);
}

cs_status cs_heads_attention(cs_context *ctx, const float *qkv, int ld_qkv, int n_tok, int width,
                             int heads, int vv, int causal, int q_begin, int n_query, float *out,
                             int ld_out)
{
    int d = width / heads;
    int n_keys = causal ? q_begin + n_query : n_tok;
    int tile = head_tile(n_query);
    int bf16 = ctx->precision == CS_PRECISION_BF16;
    int nt = side_by_side(ctx, heads) ? ctx->n_threads : 1;
    if (nt > heads) nt = heads;
    /* each thread's products on its own engine state (bf16 only: the f32 products go to the
     * BLAS without one) */
    if (bf16 && nt > 1 && cs_ctx_thread_engines(ctx, nt) != 0) nt = 1;
    size_t slot, total;
    if (!cs_mul_size((size_t)tile, (size_t)n_keys, &slot) || (slot += (size_t)tile) < (size_t)tile ||
        !cs_mul_size(slot, (size_t)nt, &total))
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
    float *s = cs_ctx_buf(ctx, CS_BUF_SCORES, total);
    if (!s) return CS_ERR_OUT_OF_MEMORY;
    heads_job job = {ctx,    qkv,     out,     s,      NULL,   slot, 0, 1.0f / sqrtf((float)d),
                     ld_qkv, width,   d,       vv,     causal, q_begin, n_query, n_keys,
                     ld_out, tile};
    if (bf16) {
        /* v16 and k16 [kpad, d], q16 [tile, d], p16 [tile, kpad] */
        size_t kpad = (size_t)n_keys + ((size_t)n_keys & 1), per, all;
        if (!cs_mul_size(2 * kpad + (size_t)tile, (size_t)d, &per) ||
            !cs_mul_size((size_t)tile, kpad, &all) || (per += all) < all ||
            !cs_mul_size(per, (size_t)nt, &all))
            return cs_fail(CS_ERR_OUT_OF_MEMORY, "attention scores overflow");
        float *h16 = cs_ctx_buf(ctx, CS_BUF_ATT16, all / 2 + 1);
        if (!h16) return CS_ERR_OUT_OF_MEMORY;
        job.h16 = (uint16_t *)h16;
        job.slot16 = per;
    }
    cs_parallel_for_t(nt > 1 ? ctx : NULL, (size_t)heads, 1, heads_range, &job);
    /* the products ran without the context: count them here */
    for (int r0 = 0; r0 < n_query; r0 += tile) {
        int m = n_query - r0 < tile ? n_query - r0 : tile;
        int nk = tile_keys(causal, q_begin, r0, m, n_keys);
        ctx->flops += (double)heads * 4.0 * (double)m * (double)nk * (double)d;
    }
    return CS_OK;
}
