/* Row kernels with an exponential: softmax, the symmetric softmax of v-v attention, and bias +
 * QuickGELU/GELU. Internal. One vector body (GCC/Clang vector extensions, 16 floats) compiled
 * for AVX-512F, AVX2 and the baseline ISA; the CPU picks the clone at load time. */
#ifndef CS_EXP_KERNELS_H
#define CS_EXP_KERNELS_H

#include <stdint.h>

/* In-place softmax of one row of n values (n >= 1). */
void cs_row_softmax(float *x, int n);

/* The exponentials of a softmax without the normalisation: x[i] = exp(x[i] - max(x)); returns
 * their sum (the caller divides, e.g. the rows of a later product). n >= 1. */
float cs_row_softmax_exp(float *x, int n);

/* The same exponentials rounded to bfloat16 (round to nearest even, core/bf16.h) into
 * dst[0..n), dst[n..n_pad) set to 0; x is left as it was. Returns the sum of the unrounded
 * exponentials. n >= 1, n_pad >= n. */
float cs_row_softmax_exp_bf16(const float *x, int n, uint16_t *dst, int n_pad);

/* y[i] = act(y[i] + b[i]) for one row of n values; b may be NULL; act -1 (none),
 * CS_ACT_QUICK_GELU or CS_ACT_GELU. */
void cs_row_bias_act(float *y, int n, const float *b, int act);

/* Softmax of a symmetric score matrix stored as its upper block rows (core/gram.h): row j of
 * s holds columns [i0(j), n) with i0(j) its block row's first row; the lower blocks are never
 * stored. For every row i the shift m_i is the maximum of its stored part and of stored column
 * i (the rest of the full row i, by symmetry). Rewrites, per stored row j and column i:
 *   s[j][i] = exp(S_ji - m_j)                       (P_ji before normalisation)
 *   g[j][i] = exp(S_ji - m_i)  for i in later block rows (P_ij of the lower block, transposed)
 * and z[i] = the full row sum of P_i. m, z, cm: n floats each (cm is scratch). */
void cs_sym_softmax(float *s, float *g, int n, int lds, float *m, float *z, float *cm);

#endif
