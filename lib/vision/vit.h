/* Internal hooks of the ViT image encoder (vit.c) for other compositions of its blocks
 * (vision/methods.c). Not installed. Token matrices are [rows, width] row-major. */
#ifndef CS_VIT_H
#define CS_VIT_H

#include "core/context.h"

/* Grid cells above this are refused (scores alone would need n^2 floats per head). */
#define CS_MAX_GRID_CELLS 65536

/* CS_OK when ctx has a model with a usable ViT image encoder, else CS_ERR_INVALID_ARGUMENT. */
cs_status cs_vit_check_ctx(const cs_context *ctx);
/* Checks an input size (positive, multiple of the patch, grid cap) and gives the grid. */
cs_status cs_vit_check_size(const cs_model *m, int height, int width, int *gh, int *gw);
/* Embeds `batch` images [3, H, W] into x [batch * (1 + gh*gw), width] with the positional table
 * pos [1 + gh*gw, width], then ln_pre. Uses the UNFOLD slot. */
cs_status cs_vit_embed_batch(cs_context *ctx, const float *pixels, int batch, int height,
                             int width, int gh, int gw, const float *pos, float *x);
/* ln_1 of `rows` rows of x into the LN slot and the packed q|k|v projection (biases included)
 * into the QKV slot, returned in *qkv_out ([rows, 3*width]). */
cs_status cs_vit_ln_qkv(cs_context *ctx, const cs_block_weights *blk, const float *x, int rows,
                        float **qkv_out);
/* One standard pre-LN block in place on n_seq sequences of t tokens stored contiguously. */
cs_status cs_vit_block_plain(cs_context *ctx, int block, float *x, int n_seq, int t);
/* ln_post and projection of `rows` rows into features [rows, embed_dim]. */
cs_status cs_vit_project(cs_context *ctx, const float *x, int rows, float *features);

#endif
