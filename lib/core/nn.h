/* Transformer kernels shared by the image and text encoders: layer norm, softmax, activations,
 * linear layers (through cs_gemm) and multi-head attention. Internal. All loops are plain,
 * call-free and vectorisable; reductions use several partial sums. */
#ifndef CS_NN_H
#define CS_NN_H

#include "core/context.h"

#include <stddef.h>

/* y = LayerNorm(x) * w + b per row of n values; x rows have stride ldx, y rows stride ldy
 * (x == y allowed with equal strides). Rows run on ctx's threads when there are enough of them
 * (ctx may be NULL: one thread); so do the other row kernels below. */
void cs_nn_layer_norm(const cs_context *ctx, const float *x, int ldx, float *y, int ldy,
                      size_t rows, int n, const float *w, const float *b, float eps);

/* x += x_bias (each row, written back), then y = LayerNorm(x) * w + b, in one sweep per row.
 * x_bias may be NULL. y must not overlap x. */
void cs_nn_bias_layer_norm(const cs_context *ctx, float *x, int ldx, const float *x_bias,
                           float *y, int ldy, size_t rows, int n, const float *w, const float *b,
                           float eps);

/* In-place softmax of each of `rows` rows of n values (row stride ld). */
void cs_nn_softmax_rows(const cs_context *ctx, float *x, size_t rows, int n, int ld);

/* Adds b[j] to every row (b may be NULL), then applies act (-1: none, else a cs_activation) in
 * place. */
void cs_nn_bias_act(const cs_context *ctx, float *y, size_t rows, int n, int ld, const float *b,
                    int act);

/* Linear layer: y[rows, out] (= or +=) x[rows, in] W^T + b. W: [out, in] row-major.
 * accumulate nonzero adds to y (residual connection). b may be NULL. */
void cs_nn_linear(cs_context *ctx, const float *x, int ldx, int rows, int in, const float *w, const float *b,
                  int out, float *y, int ldy, int accumulate);

/* Multi-head attention of one sequence, before the output projection.
 * qkv: [n_tok, 3*width] with row stride ld_qkv (q, k, v blocks of `width` columns, heads of
 * width/heads columns inside each). Computes query rows q_begin .. q_begin+n_query-1 into out
 * rows 0 .. n_query-1 (row stride ld_out) as the concatenation of the heads.
 * kind: CS_ATTN_QK (softmax(q k^T/sqrt(d)) v) or CS_ATTN_VV (softmax(v v^T/sqrt(d)) v).
 * causal: query row i sees keys 0..i only.
 * Returns CS_OK, CS_ERR_OUT_OF_MEMORY or CS_ERR_UNSUPPORTED (other kinds). */
cs_status cs_nn_attention(cs_context *ctx, const float *qkv, int ld_qkv, int n_tok, int width,
                          int heads, cs_attention_kind kind, int causal, int q_begin,
                          int n_query, float *out, int ld_out);

/* out[n, d] (= or += when accumulate) softmax(alpha a a^T) b, softmax over each row: the
 * symmetric scores as one triangle (core/gram.h) and the lower blocks used from their
 * transpose (n up to 512, see cs_gram_worth: the plain full product). a: [n, k] (row stride lda), b: [n, d] (row stride ldb), out row stride ldo.
 * Uses the SCORES, SYM_G and SYM scratch slots. Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_nn_sym_attention(cs_context *ctx, const float *a, int lda, int n, int k,
                              float alpha, const float *b, int ldb, int d, float *out, int ldo,
                              int accumulate);

/* Pre-LN MLP residual: x += fc2(act(fc1(ln_2(x)))) for `rows` rows of x (row stride ldx) with
 * the block's weights (width, mlp_dim). Uses the LN and HID scratch slots.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_nn_mlp_residual(cs_context *ctx, const cs_block_weights *blk, float *x, int ldx,
                             int rows, int width, int mlp_dim, int act, float eps);

/* Output projection and MLP residual of a pre-LN block, the out_proj bias added in the same
 * sweep as ln_2: x += att W_out^T + b_out, then x += fc2(act(fc1(ln_2(x)))). att: [rows, width]
 * (row stride ld_att). Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_nn_out_mlp_residual(cs_context *ctx, const cs_block_weights *blk, const float *att,
                                 int ld_att, float *x, int ldx, int rows, int width, int mlp_dim,
                                 int act, float eps);

/* Checks an attention kind: CS_OK for the implemented ones, CS_ERR_UNSUPPORTED for the reserved
 * ones, CS_ERR_INVALID_ARGUMENT for values outside the enum (with a message). */
cs_status cs_nn_check_kind(cs_attention_kind kind);

#endif
