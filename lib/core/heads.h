/* Multi-head attention with the heads side by side on the context's threads (heads.c), each
 * head's products serial on its thread, and in bf16 precision the attention products in
 * bfloat16. Internal; cs_nn_attention (nn.c) dispatches here. */
#ifndef CS_HEADS_H
#define CS_HEADS_H

#include "core/context.h"

/* Whether cs_nn_attention runs its heads here: when they can run side by side (two threads, two
 * heads, and products that nest: core/gemm.h cs_gemm_nests), and always in bf16 precision (the
 * bf16 attention products live here; without nesting the heads then run in turn). */
int cs_heads_wanted(const cs_context *ctx, int heads);

/* softmax(q k^T / sqrt(d)) v per head (vv: q = k = v, the v-v attention), same contract as
 * cs_nn_attention: qkv [n_tok, 3*width] (row stride ld_qkv), query rows q_begin ..
 * q_begin + n_query - 1 into out rows 0 .. n_query - 1 (row stride ld_out); causal: query row i
 * sees keys 0..i. Per head, tiles of query rows: all of them up to 512, else 256 (the score
 * tile, 1 MB at 1025 keys, stays in L2 from one product to the next). Products go to the BLAS
 * (f32) or, in bf16 precision, to the engine's bf16 product (q, k, v and the probabilities
 * rounded to bfloat16, f32 accumulation; f32 where the engine refuses a shape). Counts ctx's
 * FLOPs. Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_heads_attention(cs_context *ctx, const float *qkv, int ld_qkv, int n_tok, int width,
                             int heads, int vv, int causal, int q_begin, int n_query, float *out,
                             int ld_out);

#endif
