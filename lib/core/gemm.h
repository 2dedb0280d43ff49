/* The one GEMM wrapper (gemm.c). Not installed. */
#ifndef CS_GEMM_H
#define CS_GEMM_H

/* The one GEMM wrapper (row-major):
 *   C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C
 * trans_a/trans_b nonzero: the operand is stored transposed (A as [k,m], B as [n,k]).
 * Weights are stored [out, in], so a linear layer is cs_gemm(0, 1, ...). lda/ldb/ldc are row
 * strides in elements. */
void cs_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc);

#endif
