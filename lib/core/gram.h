/* Symmetric products a a^T (Gram matrices) through cs_gemm, one triangle only. Internal. */
#ifndef CS_GRAM_H
#define CS_GRAM_H

#include "core/context.h"

/* Rows per block row for an n x n product: 128 up to 512 rows, else 256 (fewer, larger
 * products where the rows are many). Block row b holds rows [b*B, min(n, b*B + B)). */
static inline int cs_gram_block(int n) { return n <= 512 ? 128 : 256; }

/* Whether the symmetric attention (nn.c) takes the one-triangle path for n tokens: from 513
 * on. Below, measured no faster with OpenBLAS on ViT-B/16 shapes (197 tokens: 2.0-2.5 ms per
 * 12-head attention either way), and the full product keeps the results bit-identical to the
 * plain path (documented example outputs stay exact). */
static inline int cs_gram_worth(int n) { return n > 512; }

/* The upper block rows of s[n, n] (row stride lds) = alpha * a a^T, a: [n, k] row-major (row
 * stride lda): each block row (cs_gram_block(n) rows) from its first row's column to the last column, one cs_gemm per
 * block row (cs_context_flops counts cs_gram_flops(n, k)). Entries left of a block row's first
 * row are not written; the lower blocks are their transpose. s must not overlap a. */
void cs_gram_upper(cs_context *ctx, int n, int k, float alpha, const float *a, int lda, float *s,
                   int lds);

/* 2*k * sum over block rows of rows*(n - first row): the FLOPs cs_gram_upper counts. */
double cs_gram_flops(int n, int k);

#endif
