/* The one GEMM wrapper: every matrix product of the library goes through cs_gemm. It counts the
 * FLOPs on the context, and picks the precision: f32 goes to the build's engine
 * (gemm_engine.h: OpenBLAS by default, oneDNN with make GEMM=onednn); bf16 (a model loaded
 * with CS_MODEL_PRECISION_BF16) runs every product with a weight operand on the engine's bf16
 * product: the weight from its copy made at load, the activation rounded to bfloat16. */
#include "core/gemm.h"

#include "core/bf16.h"
#include "core/gemm_engine.h"

#include <cblas.h>
#include <stddef.h>
#include <stdint.h>

typedef struct round_job {
    const float *x;
    uint16_t *d;
    size_t ld, cols;
} round_job;

static void round_rows(void *arg, size_t begin, size_t end)
{
    const round_job *j = arg;
    cs_bf16_from_f32(j->x + begin * j->ld, j->ld, end - begin, j->cols, j->d + begin * j->cols);
}

/* The bf16 operand for op(X) stored [rows, cols] with stride ld: `weight` (the model's copy,
 * same stride) when non-NULL, else a rounded packed copy in scratch slot `slot` (then
 * *ld_out = cols). NULL when out of scratch memory. */
static const uint16_t *bf16_operand(cs_context *ctx, int slot, const uint16_t *weight,
                                    const float *x, int ld, int rows, int cols, int *ld_out)
{
    if (weight) {
        *ld_out = ld;
        return weight;
    }
    size_t n = (size_t)rows * (size_t)cols;
    uint16_t *d = (uint16_t *)cs_ctx_buf(ctx, slot, n / 2 + 1);
    if (!d) return NULL;
    /* rows split over the context's threads from 2^18 values per thread */
    round_job job = {x, d, (size_t)ld, (size_t)cols};
    cs_parallel_for(ctx, (size_t)rows, ((size_t)1 << 18) / (size_t)cols + 1, round_rows, &job);
    *ld_out = cols;
    return d;
}

/* A bf16 product when one operand is a model weight (linear layers, convolutions,
 * projections). Products of two activations (attention scores and values, K = the head width)
 * stay f32: measured on oneDNN with AMX, bf16 is not faster there (173 vs 196 GFLOP/s at
 * 1025 x 1025 x 64, bench_gemm) and f32 keeps the softmax inputs exact. Returns 0 when done,
 * nonzero when the caller should compute in f32. */
static int gemm_bf16(cs_context *ctx, int ta, int tb, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc)
{
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n, la, lb;
    const cs_bf16_table *t = ctx->model->bf16;
    const uint16_t *wa = cs_bf16_table_find(t, a, (size_t)lda, (size_t)ra, (size_t)ca);
    const uint16_t *wb = cs_bf16_table_find(t, b, (size_t)ldb, (size_t)rb, (size_t)cb);
    if (!wa && !wb) return -1;
    const uint16_t *a16 = bf16_operand(ctx, CS_BUF_BF16_A, wa, a, lda, ra, ca, &la);
    if (!a16) return -1;
    const uint16_t *b16 = bf16_operand(ctx, CS_BUF_BF16_B, wb, b, ldb, rb, cb, &lb);
    if (!b16) return -1;
    return cs_engine_gemm_bf16(ctx->engine, ta, tb, m, n, k, alpha, a16, la, b16, lb, beta, c,
                               ldc);
}

void cs_gemm(cs_context *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
        return;
    }
    if (ctx) {
        ctx->flops += 2.0 * (double)m * (double)n * (double)k;
        if (ctx->precision == CS_PRECISION_BF16 &&
            gemm_bf16(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0)
            return;
    }
    cs_engine_sgemm(ctx ? ctx->engine : NULL, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                    beta, c, ldc);
}

void cs_gemm_blas(cs_context *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (ctx && m > 0 && n > 0 && k > 0) ctx->flops += 2.0 * (double)m * (double)n * (double)k;
    cs_gemm(NULL, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int cs_gemm_nests(void)
{
    int par = openblas_get_parallel(); /* 0 serial, 1 pthreads, 2 OpenMP */
    return cs_parallel_nests() && (par == 0 || par == 2);
}
