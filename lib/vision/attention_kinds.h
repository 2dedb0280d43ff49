/* Attention kinds of the training-free dense methods as kernels (attention_kinds.c). Internal.
 * Each works on one sequence's packed q|k|v rows and writes the concatenated head outputs
 * before out_proj. */
#ifndef CS_ATTENTION_KINDS_H
#define CS_ATTENTION_KINDS_H

#include "core/context.h"

typedef struct cs_attn_opts {
    cs_attention_kind kind;
    const float *bias; /* CS_ATTN_KK_GAUSSIAN: [n_tok, n_tok] added after the scaling */
    int iterations;    /* CS_ATTN_SELF_SELF: self-self iterations */
    float inv_temp;    /* CS_ATTN_SELF_SELF: inverse temperature (already resolved) */
} cs_attn_opts;

/* qkv: [n_tok, 3*width] (row stride ld_qkv); out: [n_tok, width] (row stride ld_out).
 * Returns CS_OK, CS_ERR_OUT_OF_MEMORY, CS_ERR_INVALID_ARGUMENT (KK_GAUSSIAN without a bias,
 * unknown kind). */
cs_status cs_attn_kind_run(cs_context *ctx, const cs_attn_opts *o, const float *qkv, int ld_qkv,
                           int n_tok, int width, int heads, float *out, int ld_out);

/* GEM's per-image inverse temperature: (1/sqrt(width/heads)) * mean over the rows of the L2 norm
 * of ln (ln_1 output rows, [rows, width] contiguous). */
float cs_attn_gem_inv_temp(const float *ln, int rows, int width, int heads);

/* NACLIP's Omega for a gh x gw grid into out [1 + gh*gw, 1 + gh*gw] (sigma > 0). */
void cs_attn_gaussian_bias(int gh, int gw, float sigma, float *out);

#endif
