/* Gram matrices a a^T: the scores of the v-v (surgery), q-q, k-k and self-self attentions are
 * symmetric before the softmax, so only the block rows' upper part is multiplied; the softmax
 * and the product with the values read the lower blocks from their transpose (nn.c). */
#include "core/gram.h"

#include "core/gemm.h"

void cs_gram_upper(cs_context *ctx, int n, int k, float alpha, const float *a, int lda, float *s,
                   int lds)
{
    int bs = cs_gram_block(n);
    for (int i0 = 0; i0 < n; i0 += bs) {
        int m = n - i0 < bs ? n - i0 : bs;
        const float *ai = a + (size_t)i0 * lda;
        cs_gemm(ctx, 0, 1, m, n - i0, k, alpha, ai, lda, ai, lda, 0.0f,
                s + (size_t)i0 * lds + i0, lds);
    }
}

double cs_gram_flops(int n, int k)
{
    double f = 0.0;
    int bs = cs_gram_block(n);
    for (int i0 = 0; i0 < n; i0 += bs) {
        int m = n - i0 < bs ? n - i0 : bs;
        f += 2.0 * (double)m * (double)(n - i0) * (double)k;
    }
    return f;
}
