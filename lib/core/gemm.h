/* The one GEMM wrapper (gemm.c). Not installed. */
#ifndef CS_GEMM_H
#define CS_GEMM_H

#include "core/context.h"

#include <stddef.h>

/* The one GEMM wrapper (row-major):
 *   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C
 * trans_a/trans_b nonzero: the operand is stored transposed (A as [k,m], B as [n,k]).
 * Weights are stored [out, in], so a linear layer is cs_gemm(ctx, 0, 1, ...). lda/ldb/ldc are
 * row strides in elements.
 * ctx (may be NULL: f32 on the build's engine, nothing counted) selects the engine state and
 * the precision of the context's model (CS_PRECISION_BF16: operands rounded to bfloat16, f32
 * accumulation and output, model weights taken from their bf16 copies made at load), and
 * counts 2*m*n*k into ctx->flops. Never fails: where the bf16 path cannot get scratch memory
 * it computes in f32. */
void cs_gemm(cs_context *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* `batch` products of one shape: C_i = alpha * op(A_i) op(B_i) + beta * C_i with X_i = X + i *
 * stride_x elements (e.g. the heads of an attention, stride = head width). One engine call for
 * all (oneDNN: one batched matmul). Same precision, counting and fallbacks as cs_gemm. */
void cs_gemm_batch(cs_context *ctx, int batch, int trans_a, int trans_b, int m, int n, int k,
                   float alpha, const float *a, int lda, size_t stride_a, const float *b, int ldb,
                   size_t stride_b, float beta, float *c, int ldc, size_t stride_c);

#endif
