/* The one GEMM wrapper (gemm.c). Not installed. */
#ifndef CS_GEMM_H
#define CS_GEMM_H

#include "core/context.h"

/* The one GEMM wrapper (row-major):
 *   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C
 * trans_a/trans_b nonzero: the operand is stored transposed (A as [k,m], B as [n,k]).
 * Weights are stored [out, in], so a linear layer is cs_gemm(ctx, 0, 1, ...). lda/ldb/ldc are
 * row strides in elements.
 * ctx (may be NULL: f32 on the build's engine, nothing counted) selects the engine state and
 * the precision of the context's model, and counts 2*m*n*k into ctx->flops. CS_PRECISION_BF16:
 * a product with an operand inside a model weight matrix takes that weight's bf16 copy made at
 * load, rounds the other operand to bfloat16, and accumulates and writes f32; a product of two
 * activations (attention) stays f32. Never fails: where the bf16 path cannot get scratch memory
 * or the engine refuses, it computes in f32. */
void cs_gemm(cs_context *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* cs_gemm in f32 through the BLAS itself, never an engine's own kernels (and never bf16): the
 * attention products of cs_nn_attention, so that its heads give the same bits whether they run
 * in turn (this call) or side by side (cs_gemm(NULL, ...), also the BLAS). Counts ctx's FLOPs
 * when ctx is not NULL. */
void cs_gemm_blas(cs_context *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c,
                  int ldc);

/* 1 when cs_gemm(NULL, ...) may be called from inside the chunks of cs_parallel_for_t and
 * then runs serially on the chunk's thread: the loops run on OpenMP threads and the loaded
 * OpenBLAS is its OpenMP (or serial) build (openblas_get_parallel). With OpenBLAS's pthread build
 * concurrent products would queue on its one thread pool: callers run them one at a time. */
int cs_gemm_nests(void);

#endif
